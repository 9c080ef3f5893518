/*
 * Benchmark program (tests/bench/bench_wasm_mix.sh): hashing through
 * function pointers.  An open-addressing table of string keys whose hash
 * function (FNV-1a, djb2, a murmur-style mixer) is chosen per round
 * through a table of pointers; inserts, then looks up hits and misses.
 * Argument: rounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t (*hash_fn)(const char *, size_t);

static uint32_t
fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t
djb2(const char *s, size_t n)
{
	uint32_t h = 5381;
	for (size_t i = 0; i < n; i++)
		h = h * 33 + (uint8_t)s[i];
	return h ^ (h >> 15);
}

static uint32_t
murmurish(const char *s, size_t n)
{
	uint32_t h = 0x9747b28cu ^ (uint32_t)n;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		uint32_t k;
		memcpy(&k, s + i, 4);
		k *= 0xcc9e2d51u;
		k = (k << 15) | (k >> 17);
		k *= 0x1b873593u;
		h ^= k;
		h = (h << 13) | (h >> 19);
		h = h * 5 + 0xe6546b64u;
	}
	for (; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x5bd1e995u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

static const hash_fn hashes[] = { fnv1a, djb2, murmurish };

#define SLOTS (1u << 18)
#define KEYLEN 24

struct slot {
	char key[KEYLEN];
	uint32_t len, value;
};

static struct slot *table;

static size_t
make_key(char *out, uint32_t i)
{
	static const char pre[] = "user:";
	size_t n = sizeof(pre) - 1;
	memcpy(out, pre, n);
	char digits[12];
	size_t d = 0;
	uint32_t x = i * 2654435761u;
	do {
		digits[d++] = (char)('a' + x % 26);
		x /= 26;
	} while (x);
	while (d)
		out[n++] = digits[--d];
	out[n++] = ':';
	out[n++] = (char)('0' + i % 10);
	return n;
}

static struct slot *
find(hash_fn h, const char *k, size_t n)
{
	uint32_t i = h(k, n) & (SLOTS - 1);
	for (;;) {
		struct slot *s = &table[i];
		if (s->len == 0 || (s->len == n && memcmp(s->key, k, n) == 0))
			return s;
		i = (i + 1) & (SLOTS - 1);
	}
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 24;
	uint32_t nkeys = SLOTS / 2;
	uint64_t total = 0;
	char k[KEYLEN];
	table = calloc(SLOTS, sizeof(*table));
	if (!table)
		return 1;
	for (int r = 0; r < rounds; r++) {
		hash_fn h = hashes[r % 3];
		memset(table, 0, SLOTS * sizeof(*table));
		for (uint32_t i = 0; i < nkeys; i++) {
			size_t n = make_key(k, i);
			struct slot *s = find(h, k, n);
			memcpy(s->key, k, n);
			s->len = (uint32_t)n;
			s->value = i;
		}
		for (uint32_t i = 0; i < 2 * nkeys; i++) {
			size_t n = make_key(k, i);
			struct slot *s = find(h, k, n);
			if (s->len)
				total += s->value;
			else
				total += 1;
		}
	}
	printf("hash %d rounds: %llu\n", rounds, (unsigned long long)total);
	free(table);
	return 0;
}
