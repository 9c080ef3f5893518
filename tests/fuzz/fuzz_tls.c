/*
 * libFuzzer harness: the text tls.h parses, on arbitrary bytes: URL
 * origins and the known-markets file.  Properties: no crash or leak; an
 * origin is a fixed point (its own origin); a key found in a file is the
 * one tls_known_check then accepts without learning.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/err.h"
#include "common/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), o[TLS_ORIGIN_SIZE], o2[TLS_ORIGIN_SIZE];
	char path[64], origin[TLS_ORIGIN_SIZE];
	uint8_t pub[32];
	int fd, learned = 0;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tls_url_origin(s, o) == 0 &&
	    (tls_url_origin(o, o2) != 0 || strcmp(o, o2) != 0))
		abort();
	/* The input as a known-markets file; the origin asked is its first
	 * line's first word. */
	snprintf(origin, sizeof(origin), "%.*s", (int)strcspn(s, " \n"), s);
	if ((fd = memfd_create("known", 0)) >= 0) {
		if (write(fd, data, size) == (ssize_t)size) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			if (tls_known_get(path, origin, pub) == 0 &&
			    (tls_known_check(path, origin, pub, &learned) !=
			            0 ||
			        learned))
				abort();
		}
		close(fd);
	}
	err_clear();
	free(s);
	return 0;
}
