/*
 * fuzz_http: arbitrary bytes as what a client sends the HTTP server: the
 * head found and parsed (common/http_parse.h), then the body decoded as
 * chunked, once whole and once in pieces, which must agree; and the same
 * head parsed as an upstream's response head (http_parse_status).  Built by
 * `make BUILD=fuzz fuzzers`; seeds in tests/fuzz/corpus/http/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode buf[0..len) in pieces of at most step bytes (step 0: whole);
 * the data goes to out.  Returns the status (< 0) or the bytes used. */
static ssize_t
decode(const char *in, size_t len, size_t step, uint64_t max, char *out,
    size_t *outlen, int *done)
{
	struct http_chunked c;
	char *buf = malloc(len ? len : 1);
	size_t off = 0;

	if (buf == NULL)
		abort();
	memset(&c, 0, sizeof(c));
	c.max = max;
	*outlen = 0;
	while (off < len && !c.done) {
		size_t n = step && len - off > step ? step : len - off, got;
		ssize_t r;
		memcpy(buf, in + off, n);
		r = http_chunked_decode(&c, buf, n, &got);
		if (r < 0) {
			free(buf);
			return r;
		}
		if ((size_t)r > n || got > (size_t)r ||
		    ((size_t)r < n && !c.done))
			abort(); /* all consumed unless the body ended */
		memcpy(out + *outlen, buf, got);
		*outlen += got;
		off += (size_t)r;
	}
	if (c.total != *outlen || c.total > max)
		abort();
	*done = c.done;
	free(buf);
	return (ssize_t)off;
}

static void
check_head(const struct http_head *h)
{
	size_t i;

	if (h->method == NULL || h->method[0] == '\0' || h->path == NULL ||
	    (h->path[0] != '/' && strcmp(h->path, "*") != 0) ||
	    (h->minor != 0 && h->minor != 1) || h->content_length < -1 ||
	    (h->chunked && h->content_length >= 0) ||
	    h->nfields > HTTP_MAX_FIELDS || h->nargs > HTTP_MAX_ARGS)
		abort();
	for (i = 0; i < h->nfields; i++)
		if (h->fields[i].name[0] == '\0' ||
		    strpbrk(h->fields[i].value, "\r\n") != NULL)
			abort();
}

static void
check_status(const struct http_status_head *h)
{
	size_t i;

	if (h->status < 100 || h->status > 999 ||
	    (h->minor != 0 && h->minor != 1) || h->reason == NULL ||
	    h->content_length < -1 || (h->chunked && h->content_length >= 0) ||
	    (h->has_te && h->content_length >= 0) ||
	    (h->has_te && !h->chunked && h->keep_alive) ||
	    h->nfields > HTTP_MAX_FIELDS)
		abort();
	for (i = 0; i < h->nfields; i++)
		if (h->fields[i].name[0] == '\0' ||
		    strpbrk(h->fields[i].value, "\r\n") != NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *out1, *out2;
	struct http_head *h = malloc(sizeof(*h));
	size_t scan = 0, n1, n2, step;
	ssize_t end, r1, r2;
	int d1 = 0, d2 = 0;

	if (buf == NULL || h == NULL)
		abort();
	memcpy(buf, data, size);
	/* Bytes arriving in two reads find the same end as in one. */
	end = http_head_end(buf, size / 2, &scan);
	if (end == 0)
		end = http_head_end(buf, size, &scan);
	{
		size_t scan1 = 0;
		ssize_t once = http_head_end(buf, size, &scan1);
		if (once != end && !(once < 0 && end < 0))
			abort();
	}
	if (end > 0) {
		struct http_status_head *sh = malloc(sizeof(*sh));
		if ((size_t)end > size || sh == NULL)
			abort();
		if (http_parse_head(buf, (size_t)end, h) == 0)
			check_head(h);
		memcpy(buf, data, (size_t)end); /* parsed in place */
		if (http_parse_status(buf, (size_t)end, sh) == 0)
			check_status(sh);
		free(sh);
	}
	/* Whatever follows the head, as a chunked body. */
	if (end < 0)
		end = 0;
	out1 = malloc(size + 1);
	out2 = malloc(size + 1);
	if (out1 == NULL || out2 == NULL)
		abort();
	step = size ? (size_t)data[0] % 7 + 1 : 1;
	r1 = decode((const char *)data + end, size - (size_t)end, 0, 1 << 16,
	    out1, &n1, &d1);
	r2 = decode((const char *)data + end, size - (size_t)end, step, 1 << 16,
	    out2, &n2, &d2);
	if (r1 != r2 ||
	    (r1 >= 0 && (n1 != n2 || d1 != d2 || memcmp(out1, out2, n1) != 0)))
		abort();
	free(out1);
	free(out2);
	free(h);
	free(buf);
	err_clear();
	return 0;
}
