/*
 * Benchmark program (tests/bench/bench_wasm_mix.sh): memory-heavy loops
 * over about 20 MiB.  A sieve of Eratosthenes (strided stores) and the
 * largest prime gap, a pointer chase around a random cycle (dependent
 * loads), a counting sort (scattered increments and stores), a blocked
 * matrix transpose, and a run-length encoding of a byte stream.
 * Argument: rounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIEVE (4u << 20)
#define CHASE (1u << 20)
#define KEYS (1u << 20)
#define DIM 512

static uint32_t seed = 2463534242u;

static uint32_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed;
}

/* Primes below SIEVE: the count and the largest gap between two. */
static uint64_t
sieve(uint8_t *s)
{
	uint32_t count = 0, last = 2, gap = 0;
	for (uint32_t i = 0; i < SIEVE; i++)
		s[i] = i >= 2;
	for (uint32_t i = 2; i * i < SIEVE; i++)
		if (s[i])
			for (uint32_t j = i * i; j < SIEVE; j += i)
				s[j] = 0;
	for (uint32_t i = 2; i < SIEVE; i++)
		if (s[i]) {
			if (i - last > gap)
				gap = i - last;
			last = i;
			count++;
		}
	return (uint64_t)count << 20 | gap;
}

/* A random cycle through next[] (Sattolo's shuffle), walked around. */
static uint64_t
chase(uint32_t *next)
{
	for (uint32_t i = 0; i < CHASE; i++)
		next[i] = i;
	for (uint32_t i = CHASE - 1; i > 0; i--) {
		uint32_t j = rnd() % i, t = next[i];
		next[i] = next[j];
		next[j] = t;
	}
	uint64_t sum = 0;
	uint32_t p = 0;
	for (uint32_t k = 0; k < 2 * CHASE; k++) {
		p = next[p];
		sum += p;
	}
	return sum;
}

/* Keys sorted by their top 16 bits, stably, through a histogram. */
static uint64_t
counting_sort(const uint32_t *in, uint32_t *out, uint32_t *count)
{
	for (uint32_t b = 0; b <= 65536; b++)
		count[b] = 0;
	for (uint32_t i = 0; i < KEYS; i++)
		count[(in[i] >> 16) + 1]++;
	for (uint32_t b = 1; b <= 65536; b++)
		count[b] += count[b - 1];
	for (uint32_t i = 0; i < KEYS; i++)
		out[count[in[i] >> 16]++] = in[i];
	return out[0] ^ out[KEYS / 2] ^ out[KEYS - 1];
}

static uint64_t
transpose(const uint32_t *a, uint32_t *b)
{
	for (int bi = 0; bi < DIM; bi += 16)
		for (int bj = 0; bj < DIM; bj += 16)
			for (int i = bi; i < bi + 16; i++)
				for (int j = bj; j < bj + 16; j++)
					b[j * DIM + i] = a[i * DIM + j];
	return b[1] + b[DIM * DIM - 2];
}

/* Run-length encoding of a stream of runs of random length. */
static uint64_t
rle(uint8_t *in, uint8_t *out, size_t n)
{
	size_t i = 0, o = 0;
	while (i < n) {
		uint8_t v = (uint8_t)rnd();
		size_t len = 1 + rnd() % 12;
		while (len-- && i < n)
			in[i++] = v;
	}
	for (i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && in[j] == in[i] && j - i < 255)
			j++;
		out[o++] = (uint8_t)(j - i);
		out[o++] = in[i];
		i = j;
	}
	return o;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 6;
	uint8_t *s = malloc(SIEVE);
	uint32_t *next = malloc(CHASE * sizeof(*next));
	uint32_t *keys = malloc(2 * KEYS * sizeof(*keys));
	uint32_t *count = malloc((65536 + 1) * sizeof(*count));
	uint32_t *m = malloc(2 * DIM * DIM * sizeof(*m));
	uint8_t *bytes = malloc(3 * SIEVE);
	uint64_t acc = 0;
	if (!s || !next || !keys || !count || !m || !bytes)
		return 1;
	for (uint32_t i = 0; i < KEYS; i++)
		keys[i] = rnd();
	for (uint32_t i = 0; i < DIM * DIM; i++)
		m[i] = i * 2654435761u;
	for (int r = 0; r < rounds; r++) {
		acc += sieve(s);
		acc += chase(next);
		acc += counting_sort(keys, keys + KEYS, count);
		acc += transpose(m + (r % 2) * DIM * DIM,
		    m + (1 - r % 2) * DIM * DIM);
		acc += rle(bytes, bytes + SIEVE, SIEVE);
	}
	printf("memory %d rounds: %llu\n", rounds, (unsigned long long)acc);
	free(s);
	free(next);
	free(keys);
	free(count);
	free(m);
	free(bytes);
	return 0;
}
