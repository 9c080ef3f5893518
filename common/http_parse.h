/*
 * http_parse: the request side of HTTP/1.1 (RFC 9112) for the server in
 * http_server.c: where a request head ends, the head parsed in place
 * (request line, header fields, framing), and the chunked transfer coding
 * of a request body decoded in place.  Pure: no I/O, no allocation; the
 * fuzz harness tests/fuzz/fuzz_http.c drives it with arbitrary bytes.
 *
 * Strict where leniency lets two parsers disagree (request smuggling):
 * lines end in CRLF only, no whitespace before a field's colon, no line
 * folding, one Content-Length value, Transfer-Encoding "chunked" alone and
 * never with Content-Length or in HTTP/1.0.
 */
#ifndef LODGE_HTTP_PARSE_H
#define LODGE_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_FIELDS 100 /* header fields per request; 431 beyond */
#define HTTP_MAX_ARGS 100 /* query arguments per request; 414 beyond */
#define HTTP_MAX_METHOD 31 /* bytes of a method name */
#define HTTP_MAX_CHUNK_LINE 4096 /* bytes of a chunk-size line (with ext) */
#define HTTP_MAX_TRAILERS 8192 /* bytes of trailer fields; 431 beyond */

struct http_field {
	const char *name; /* as sent (compare without case) */
	const char *value; /* OWS trimmed; NULL: an argument without '=' */
};

/* One parsed request head; every string points into the buffer given to
 * http_parse_head and lives as long as it. */
struct http_head {
	const char *method;
	const char *path; /* percent-decoded, without the query */
	int minor; /* HTTP/1.<minor>: 0 or 1 (1.2 and up count as 1) */
	struct http_field fields[HTTP_MAX_FIELDS];
	size_t nfields;
	struct http_field args[HTTP_MAX_ARGS]; /* decoded ('+', %XX) */
	size_t nargs;
	/* From the fields: */
	int64_t content_length; /* -1 when absent */
	int chunked; /* Transfer-Encoding: chunked */
	int keep_alive; /* the client may send another request after */
	int expect_continue; /* Expect: 100-continue */
	/* An absolute-form target's authority ("host[:port]"), or "": the
	 * Host field must then name the same (without case), else 400, so
	 * what routes by Host and what reads the target agree. */
	char authority[256];
};

/*
 * Look for the end of a request head (the empty line) in buf[0..len);
 * *scan (0 at first) remembers how far earlier calls looked, so bytes
 * arriving one at a time are each looked at once.  Returns the head's
 * length with its empty line (> 0), 0 when it is not complete yet, or -400
 * for a bare CR or LF or a NUL byte (err_msg() says where).
 */
ssize_t http_head_end(const char *buf, size_t len, size_t *scan);

/*
 * Parse a complete head buf[0..len) (as found by http_head_end) in place:
 * NULs are written into buf and h points into it.  Returns 0, or minus the
 * HTTP status to answer, with err_msg() naming what was wrong: 400
 * malformed, 413 a Content-Length too large to represent, 414 too many
 * query arguments, 417 an Expect other than 100-continue, 431 too many
 * fields, 501 a transfer coding other than chunked, 505 a version other
 * than HTTP/1.x.
 */
int http_parse_head(char *buf, size_t len, struct http_head *h);

/* One parsed response head (an upstream's answer to the server's
 * forwarding); strings point into the buffer given to http_parse_status. */
struct http_status_head {
	int minor; /* HTTP/1.<minor>: 0 or 1 */
	int status; /* 100-999 */
	const char *reason;
	struct http_field fields[HTTP_MAX_FIELDS];
	size_t nfields;
	int64_t content_length; /* -1: absent (or overridden by chunked) */
	int chunked; /* Transfer-Encoding ending in chunked */
	int has_te; /* any Transfer-Encoding: without chunked last, the
	               body runs to the connection's close */
	int keep_alive; /* the connection may carry another request */
	int upgrade; /* Connection lists "upgrade" */
};

/*
 * Parse a complete response head buf[0..len) (ending in its empty line,
 * as found by http_head_end) in place, as http_parse_head does a
 * request's.  Returns 0, or ERR_INVAL with err_msg() saying what was
 * malformed (status line, a field, Content-Length).
 */
int http_parse_status(char *buf, size_t len, struct http_status_head *h);

/* The first field named name (without case), or NULL. */
const char *http_head_field(const struct http_head *h, const char *name);

/* State of a chunked body being decoded: zero it, then set max. */
struct http_chunked {
	uint64_t max; /* data bytes allowed in all; 413 beyond */
	uint64_t total; /* data bytes decoded so far */
	uint64_t left; /* data bytes left in the current chunk */
	size_t line; /* bytes of the current size or trailer line */
	size_t trailers; /* bytes of trailer fields so far */
	unsigned digits; /* hex digits of the current size */
	int state;
	int done; /* the last chunk and the trailers are in */
};

/*
 * Decode buf[0..len), the next bytes of a chunked body, in place: the data
 * bytes they hold are moved to the front of buf and *out says how many.
 * Returns the number of bytes of buf consumed: all of them, unless the
 * body ended inside buf (c->done is then set and the rest belongs to the
 * next request); or minus the HTTP status to answer (400 malformed, 413
 * more than c->max bytes of data, 431 trailers too long), err_msg() saying
 * why.
 */
ssize_t http_chunked_decode(struct http_chunked *c, char *buf, size_t len,
    size_t *out);

/* Is method idempotent (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, PUT, DELETE,
 * TRACE; case-sensitive, as methods are), so that a proxy may send the
 * request again when the connection it went out on failed before any
 * answer came?  1 or 0.  Pure. */
int http_method_idempotent(const char *method);

#endif
