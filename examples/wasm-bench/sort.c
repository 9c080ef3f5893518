/*
 * Benchmark program (tests/bench/bench_wasm_mix.sh): sorting with its own
 * quicksort.  A recursive quicksort (median of three, insertion sort below
 * 16 elements), instantiated for integers and records, takes its
 * comparator as a function pointer (chosen per round, so it stays an
 * indirect call); prints a checksum.  Argument: rounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct rec {
	uint32_t key;
	uint32_t id;
	double weight;
};

/* quicksort_T(v, n, cmp): sorts n elements of type T with cmp(a, b) < 0
 * when a goes first. */
#define QUICKSORT(name, T)                                                  \
	static void name(T *v, size_t n, int (*cmp)(const T *, const T *))  \
	{                                                                   \
		while (n >= 16) {                                           \
			T *lo = v, *mid = v + n / 2, *hi = v + n - 1, p, t; \
			if (cmp(mid, lo) < 0) {                             \
				t = *mid, *mid = *lo, *lo = t;              \
			}                                                   \
			if (cmp(hi, mid) < 0) {                             \
				t = *hi, *hi = *mid, *mid = t;              \
				if (cmp(mid, lo) < 0) {                     \
					t = *mid, *mid = *lo, *lo = t;      \
				}                                           \
			}                                                   \
			p = *mid;                                           \
			size_t i = 0, j = n - 1;                            \
			for (;;) {                                          \
				while (cmp(&v[i], &p) < 0)                  \
					i++;                                \
				while (cmp(&p, &v[j]) < 0)                  \
					j--;                                \
				if (i >= j)                                 \
					break;                              \
				t = v[i], v[i] = v[j], v[j] = t;            \
				i++;                                        \
				j--;                                        \
			}                                                   \
			name(v, j + 1, cmp);                                \
			v += j + 1;                                         \
			n -= j + 1;                                         \
		}                                                           \
		for (size_t i = 1; i < n; i++) {                            \
			T t = v[i];                                         \
			size_t j = i;                                       \
			for (; j > 0 && cmp(&t, &v[j - 1]) < 0; j--)        \
				v[j] = v[j - 1];                            \
			v[j] = t;                                           \
		}                                                           \
	}

QUICKSORT(sort_u32, uint32_t)
QUICKSORT(sort_rec, struct rec)

static int
up_u32(const uint32_t *x, const uint32_t *y)
{
	return *x < *y ? -1 : *x > *y;
}

static int
down_u32(const uint32_t *x, const uint32_t *y)
{
	return *x > *y ? -1 : *x < *y;
}

static int
by_key_id(const struct rec *x, const struct rec *y)
{
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
by_weight(const struct rec *x, const struct rec *y)
{
	if (x->weight != y->weight)
		return x->weight < y->weight ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int (*const u32_order[])(const uint32_t *, const uint32_t *) = { up_u32,
	down_u32 };
static int (*const rec_order[])(const struct rec *,
    const struct rec *) = { by_key_id, by_weight };

static uint32_t seed = 12345;

static uint32_t
rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 4;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 6;
	enum { N = 300000 };
	uint32_t *v = malloc(N * sizeof(*v));
	struct rec *r = malloc(N * sizeof(*r));
	uint64_t sum = 0;
	if (!v || !r)
		return 1;
	for (int k = 0; k < rounds; k++) {
		for (int i = 0; i < N; i++)
			v[i] = rnd();
		sort_u32(v, N, u32_order[k % 2]);
		for (int i = 0; i < N; i++) {
			r[i].key = rnd() % 5000;
			r[i].id = (uint32_t)i;
			r[i].weight = (double)(r[i].key % 777) / 7.0;
		}
		sort_rec(r, N, rec_order[k % 2]);
		for (int i = 1; i < N; i++)
			if (u32_order[k % 2](&v[i - 1], &v[i]) > 0 ||
			    rec_order[k % 2](&r[i - 1], &r[i]) > 0)
				return 2;
		sum += v[N / 3] + r[N / 2].id + r[N - 1].key;
	}
	printf("sorted %d rounds: %llu\n", rounds, (unsigned long long)sum);
	free(v);
	free(r);
	return 0;
}
