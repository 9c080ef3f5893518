/*
 * Benchmark program (tests/bench/bench_wasm_mix.sh): a bit of everything,
 * as an ordinary program mixes it.  Records are generated, sorted with an
 * own quicksort taking its comparator as a function pointer, hashed
 * through a table of hash functions into buckets, and summarised in
 * floating point (means, variances, a least-squares fit).  Argument:
 * rounds.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item {
	uint32_t key;
	char name[12];
	double x, y;
};

typedef int (*cmp_fn)(const struct item *, const struct item *);
typedef uint32_t (*hash_fn)(const void *, size_t);

static int
by_key(const struct item *a, const struct item *b)
{
	return a->key < b->key ? -1 : a->key > b->key;
}

static int
by_name(const struct item *a, const struct item *b)
{
	return memcmp(a->name, b->name, sizeof(a->name));
}

static int
by_x(const struct item *a, const struct item *b)
{
	return a->x < b->x ? -1 : a->x > b->x;
}

static void
sort(struct item *v, long lo, long hi, cmp_fn cmp)
{
	while (hi - lo > 12) {
		struct item p = v[lo + (hi - lo) / 2], t;
		long i = lo, j = hi;
		while (i <= j) {
			while (cmp(&v[i], &p) < 0)
				i++;
			while (cmp(&p, &v[j]) < 0)
				j--;
			if (i <= j) {
				t = v[i];
				v[i++] = v[j];
				v[j--] = t;
			}
		}
		if (j - lo < hi - i) {
			sort(v, lo, j, cmp);
			lo = i;
		} else {
			sort(v, i, hi, cmp);
			hi = j;
		}
	}
	for (long i = lo + 1; i <= hi; i++) {
		struct item t = v[i];
		long j = i - 1;
		while (j >= lo && cmp(&v[j], &t) > 0) {
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = t;
	}
}

static uint32_t
fnv(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint32_t h = 2166136261u;
	while (n--)
		h = (h ^ *s++) * 16777619u;
	return h;
}

static uint32_t
sdbm(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint32_t h = 0;
	while (n--)
		h = *s++ + (h << 6) + (h << 16) - h;
	return h;
}

static uint32_t
mix32(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint32_t h = 0x811c9dc5u;
	for (size_t i = 0; i < n; i++) {
		h += s[i];
		h ^= h >> 7;
		h *= 0x2c1b3c6du;
	}
	return h ^ (h >> 16);
}

static const cmp_fn cmps[] = { by_key, by_name, by_x };
static const hash_fn hashes[] = { fnv, sdbm, mix32 };
static uint32_t seed = 99;

static uint32_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 24;
	enum { N = 150000, BUCKETS = 4096 };
	struct item *v = malloc(N * sizeof(*v));
	uint32_t *buckets = malloc(BUCKETS * sizeof(*buckets));
	double fit = 0, spread = 0;
	uint32_t check = 0;
	if (!v || !buckets)
		return 1;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < N; i++) {
			v[i].key = rnd();
			for (int k = 0; k < 11; k++)
				v[i].name[k] = (char)('a' + rnd() % 26);
			v[i].name[11] = 0;
			v[i].x = (double)(rnd() % 100000) / 1000.0;
			v[i].y = 3.0 * v[i].x + (double)(rnd() % 1000) / 100.0;
		}
		sort(v, 0, N - 1, cmps[r % 3]);
		memset(buckets, 0, BUCKETS * sizeof(*buckets));
		for (int i = 0; i < N; i++) {
			hash_fn h = hashes[(i + r) % 3];
			buckets[h(v[i].name, sizeof(v[i].name)) % BUCKETS]++;
		}
		double sx = 0, sy = 0, sxx = 0, sxy = 0, bm = 0, bv = 0;
		for (int i = 0; i < N; i++) {
			sx += v[i].x;
			sy += v[i].y;
			sxx += v[i].x * v[i].x;
			sxy += v[i].x * v[i].y;
		}
		fit += (N * sxy - sx * sy) / (N * sxx - sx * sx);
		for (int b = 0; b < BUCKETS; b++)
			bm += buckets[b];
		bm /= BUCKETS;
		for (int b = 0; b < BUCKETS; b++)
			bv += (buckets[b] - bm) * (buckets[b] - bm);
		spread += sqrt(bv / BUCKETS);
		check += v[N / 2].key ^ v[0].key;
	}
	printf("mix %d rounds: slope %.6f spread %.6f check %u\n", rounds,
	    fit / rounds, spread / rounds, check);
	free(v);
	free(buckets);
	return 0;
}
