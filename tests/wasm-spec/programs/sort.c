/* Behaviour check: sorting, hashing and formatting (qsort, FNV-1a). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int
main(void)
{
	enum { N = 20000 };
	static uint32_t v[N];
	uint32_t s = 12345;
	for (int i = 0; i < N; i++) {
		s = s * 1103515245u + 12345u;
		v[i] = s >> 8;
	}
	qsort(v, N, sizeof(v[0]), cmp);
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < N; i++) {
		h ^= v[i];
		h *= 1099511628211ull;
	}
	printf("min=%u max=%u median=%u fnv=%016llx\n", v[0], v[N - 1],
	    v[N / 2], (unsigned long long)h);
	char buf[64];
	snprintf(buf, sizeof(buf), "%.3f %e %g", 3.14159265, 1e-7, 2.5e10);
	printf("%s %zu\n", buf, strlen(buf));
	return 0;
}
