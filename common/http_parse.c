/*
 * http_parse: HTTP/1.1 request heads and chunked bodies (RFC 9112 §2-7),
 * parsed in place (see http_parse.h).
 */
#include <string.h>
#include <strings.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/http_parse.h"

/* tchar (RFC 9110 §5.6.2): the characters of a token. */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field value's characters: VCHAR, obs-text, SP and HTAB. */
static int
is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

ssize_t
http_head_end(const char *buf, size_t len, size_t *scan)
{
	size_t i;

	for (i = *scan; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\0') {
			err_set(ERR_INVAL, "request head: NUL byte at %zu", i);
			return -400;
		}
		if (c == '\r') {
			if (i + 1 == len)
				break; /* look at it again with its next byte */
			if (buf[i + 1] != '\n') {
				err_set(ERR_INVAL,
				    "request head: CR without LF at %zu", i);
				return -400;
			}
			continue;
		}
		if (c != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r') {
			err_set(ERR_INVAL, "request head: LF without CR at %zu",
			    i);
			return -400;
		}
		if (i >= 3 && buf[i - 2] == '\n') {
			*scan = i + 1;
			return (ssize_t)(i + 1);
		}
	}
	*scan = i;
	return 0;
}

/* Percent-decode s in place (and '+' as a space when plus); a NUL or a
 * malformed escape is refused. */
static int
decode(char *s, int plus, const char *what)
{
	char *w = s;
	const char *r = s;

	while (*r) {
		if (*r == '%') {
			int hi = hex_digit((unsigned char)r[1]), lo;
			lo = hi < 0 ? -1 : hex_digit((unsigned char)r[2]);
			if (lo < 0)
				return err_set(ERR_INVAL,
				    "%s: '%%' not followed by two hex digits",
				    what);
			if (hi == 0 && lo == 0)
				return err_set(ERR_INVAL,
				    "%s: %%00 is not allowed", what);
			*w++ = (char)(hi * 16 + lo);
			r += 3;
		} else if (*r == '+' && plus) {
			*w++ = ' ';
			r++;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return 0;
}

/* Split the query q (NUL-terminated, in place) into h->args. */
static int
parse_query(char *q, struct http_head *h)
{
	char *p = q, *amp, *eq;

	while (p && *p) {
		if ((amp = strchr(p, '&')) != NULL)
			*amp++ = '\0';
		if (*p == '\0') { /* "a&&b" */
			p = amp;
			continue;
		}
		if (h->nargs == HTTP_MAX_ARGS) {
			err_set(ERR_LIMIT,
			    "request target: more than %d query arguments",
			    HTTP_MAX_ARGS);
			return -414;
		}
		if ((eq = strchr(p, '=')) != NULL)
			*eq++ = '\0';
		if (decode(p, 1, "query argument") < 0 ||
		    (eq && decode(eq, 1, "query argument") < 0))
			return -400;
		h->args[h->nargs].name = p;
		h->args[h->nargs].value = eq;
		h->nargs++;
		p = amp;
	}
	return 0;
}

/* The request-target (RFC 9112 §3.2): origin-form, absolute-form (its
 * authority kept in h->authority: the Host field must agree with it) or
 * "*" for OPTIONS. */
static int
parse_target(char *t, struct http_head *h)
{
	char *q;
	size_t i;

	for (i = 0; t[i]; i++)
		if ((unsigned char)t[i] <= 0x20 ||
		    (unsigned char)t[i] >= 0x7f || t[i] == '#') {
			err_set(ERR_INVAL,
			    "request target: byte 0x%02x at %zu is not allowed",
			    (unsigned char)t[i], i);
			return -400;
		}
	if (strcmp(t, "*") == 0) {
		if (strcmp(h->method, "OPTIONS") != 0) {
			err_set(ERR_INVAL,
			    "request target: '*' is only for OPTIONS");
			return -400;
		}
		h->path = t;
		return 0;
	}
	if (strncasecmp(t, "http://", 7) == 0 ||
	    strncasecmp(t, "https://", 8) == 0) {
		char *a = strstr(t, "://") + 3;
		size_t n = strcspn(a, "/?");
		if (n == 0 || n >= sizeof(h->authority)) {
			err_set(ERR_INVAL, "request target: %s authority",
			    n ? "too long an" : "no");
			return -400;
		}
		memcpy(h->authority, a, n);
		h->authority[n] = '\0';
		if (a[n] == '/') {
			t = a + n;
		} else { /* "http://host" or "http://host?q": path "/" */
			memmove(a + 1, a + n, strlen(a + n) + 1);
			a[0] = '/';
			t = a;
		}
	} else if (t[0] != '/') {
		err_set(ERR_INVAL,
		    "request target: expected '/', an absolute URL or '*'");
		return -400;
	}
	if ((q = strchr(t, '?')) != NULL)
		*q++ = '\0';
	if (decode(t, 0, "request path") < 0)
		return -400;
	h->path = t;
	return q ? parse_query(q, h) : 0;
}

static int
parse_request_line(char *line, struct http_head *h)
{
	char *sp1, *sp2, *v;
	size_t n;

	for (n = 0; is_tchar((unsigned char)line[n]); n++)
		;
	if (n == 0 || line[n] != ' ') {
		err_set(ERR_INVAL,
		    "request line: expected METHOD SP TARGET SP HTTP/1.x");
		return -400;
	}
	if (n > HTTP_MAX_METHOD) {
		err_set(ERR_LIMIT, "request line: method longer than %d bytes",
		    HTTP_MAX_METHOD);
		return -501;
	}
	sp1 = line + n;
	*sp1 = '\0';
	h->method = line;
	if ((sp2 = strchr(sp1 + 1, ' ')) == NULL || sp2 == sp1 + 1) {
		err_set(ERR_INVAL,
		    "request line: expected METHOD SP TARGET SP HTTP/1.x");
		return -400;
	}
	*sp2 = '\0';
	v = sp2 + 1;
	if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9' || v[8] != '\0') {
		err_set(ERR_INVAL,
		    "request line: version \"%.16s\" is not "
		    "HTTP/<digit>.<digit>",
		    v);
		return -400;
	}
	if (v[5] != '1') {
		err_set(ERR_REJECT,
		    "request line: %s is not supported (HTTP/1.x)", v);
		return -505;
	}
	h->minor = v[7] == '0' ? 0 : 1;
	return parse_target(sp1 + 1, h);
}

/* Is the comma-separated list value made of token (without case)? */
static int
list_has(const char *value, const char *token)
{
	size_t n = strlen(token);
	const char *p = value;

	while (*p) {
		const char *e;
		size_t len;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = p + strcspn(p, ",");
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(p, token, n) == 0)
			return 1;
		p = e;
	}
	return 0;
}

/* Framing and connection semantics from the fields (RFC 9112 §6, §9). */
static int
head_semantics(struct http_head *h)
{
	const char *v = "";
	int hosts = 0, tes = 0;
	size_t i;

	h->content_length = -1;
	h->keep_alive = h->minor >= 1;
	for (i = 0; i < h->nfields; i++) {
		const char *k = h->fields[i].name;
		v = h->fields[i].value;
		if (strcasecmp(k, "Content-Length") == 0) {
			int64_t n = 0;
			const char *p = v;
			if (*p == '\0')
				goto bad_length;
			for (; *p; p++) {
				if (*p < '0' || *p > '9')
					goto bad_length;
				if (n > (INT64_MAX - 9) / 10) {
					err_set(ERR_LIMIT,
					    "Content-Length %.24s is too large",
					    v);
					return -413;
				}
				n = n * 10 + (*p - '0');
			}
			if (h->content_length >= 0 && h->content_length != n) {
				err_set(ERR_INVAL,
				    "two different Content-Length fields");
				return -400;
			}
			h->content_length = n;
		} else if (strcasecmp(k, "Transfer-Encoding") == 0) {
			if (tes++ || strcasecmp(v, "chunked") != 0) {
				err_set(ERR_REJECT,
				    "Transfer-Encoding \"%.40s\": only a "
				    "single "
				    "\"chunked\" is supported",
				    v);
				return -501;
			}
			h->chunked = 1;
		} else if (strcasecmp(k, "Host") == 0) {
			hosts++;
			/* RFC 9112 §3.2.2 has a server take the target's
			 * authority over Host; refusing a request whose two
			 * differ keeps a proxy in front (which follows the
			 * target) and the gateway (which routes by Host)
			 * from serving one lease's answer as another's */
			if (h->authority[0] &&
			    strcasecmp(v, h->authority) != 0) {
				err_set(ERR_INVAL,
				    "the request target names host %.100s, "
				    "the Host field %.100s",
				    h->authority, v);
				return -400;
			}
		} else if (strcasecmp(k, "Connection") == 0) {
			if (list_has(v, "close"))
				h->keep_alive = 0;
			else if (list_has(v, "keep-alive"))
				h->keep_alive = 1;
		} else if (strcasecmp(k, "Expect") == 0) {
			if (strcasecmp(v, "100-continue") != 0) {
				err_set(ERR_REJECT,
				    "Expect \"%.40s\": only 100-continue is "
				    "supported",
				    v);
				return -417;
			}
			h->expect_continue = h->minor >= 1;
		}
	}
	if (h->chunked && h->content_length >= 0) {
		err_set(ERR_INVAL,
		    "both Transfer-Encoding and Content-Length (RFC 9112 "
		    "§6.3)");
		return -400;
	}
	if (h->chunked && h->minor == 0) {
		err_set(ERR_INVAL, "Transfer-Encoding in an HTTP/1.0 request");
		return -400;
	}
	if (hosts > 1 || (hosts == 0 && h->minor >= 1)) {
		err_set(ERR_INVAL,
		    "an HTTP/1.1 request needs one Host field, "
		    "it has %d",
		    hosts);
		return -400;
	}
	return 0;
bad_length:
	err_set(ERR_INVAL, "Content-Length \"%.24s\" is not a number", v);
	return -400;
}

/* The field lines from line up to the final CRLF at end - 2, each ending
 * in CRLF: NUL-terminated in place into fields[*n]. */
static int
parse_fields(char *line, char *end, struct http_field *fields, size_t *n)
{
	char *eol;

	for (; line < end - 2; line = eol + 2) {
		char *colon, *v, *ve;
		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		*eol = '\0';
		if (*line == ' ' || *line == '\t') {
			err_set(ERR_INVAL, "field %zu: folded line (obs-fold)",
			    *n + 1);
			return -400;
		}
		for (colon = line; is_tchar((unsigned char)*colon); colon++)
			;
		if (colon == line || *colon != ':') {
			err_set(ERR_INVAL,
			    "field %zu: expected NAME: VALUE (no space before "
			    "the colon)",
			    *n + 1);
			return -400;
		}
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (ve = v; *ve; ve++)
			if (!is_value_char((unsigned char)*ve)) {
				err_set(ERR_INVAL,
				    "field %s: control byte 0x%02x in its "
				    "value",
				    line, (unsigned char)*ve);
				return -400;
			}
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		*ve = '\0';
		if (*n == HTTP_MAX_FIELDS) {
			err_set(ERR_LIMIT, "more than %d header fields",
			    HTTP_MAX_FIELDS);
			return -431;
		}
		fields[*n].name = line;
		fields[*n].value = v;
		(*n)++;
	}
	return 0;
}

int
http_parse_head(char *buf, size_t len, struct http_head *h)
{
	char *end = buf + len, *eol;
	int rc;

	memset(h, 0, sizeof(*h));
	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0 ||
	    memchr(buf, '\0', len) != NULL) {
		err_set(ERR_INVAL, "request head: not ending in CRLF CRLF");
		return -400;
	}
	/* Every line ends in CRLF (the last one at end - 2), so memmem
	 * always finds one; NULs end the lines for the rest. */
	eol = memmem(buf, len, "\r\n", 2);
	*eol = '\0';
	if ((rc = parse_request_line(buf, h)) < 0)
		return rc;
	if ((rc = parse_fields(eol + 2, end, h->fields, &h->nfields)) < 0)
		return rc;
	return head_semantics(h);
}

int
http_parse_status(char *buf, size_t len, struct http_status_head *h)
{
	char *end = buf + len, *eol, *p;
	size_t i;
	int rc, tes = 0;

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0 ||
	    memchr(buf, '\0', len) != NULL)
		return err_set(ERR_INVAL,
		    "response head: not ending in CRLF CRLF");
	eol = memmem(buf, len, "\r\n", 2);
	*eol = '\0';
	/* "HTTP/1.x SP 3DIGIT SP reason" (RFC 9112 §4; the reason may be
	 * empty, its SP missing) */
	if (strncmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' || buf[7] > '9' ||
	    buf[8] != ' ' || buf[9] < '1' || buf[9] > '9' || buf[10] < '0' ||
	    buf[10] > '9' || buf[11] < '0' || buf[11] > '9' ||
	    (buf[12] != ' ' && buf[12] != '\0'))
		return err_set(ERR_INVAL,
		    "response head: expected HTTP/1.x NNN REASON, got "
		    "\"%.40s\"",
		    buf);
	h->minor = buf[7] == '0' ? 0 : 1;
	h->status =
	    (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	h->reason = buf[12] ? buf + 13 : "";
	for (p = (char *)h->reason; *p; p++)
		if (!is_value_char((unsigned char)*p))
			return err_set(ERR_INVAL,
			    "response head: control byte in the reason");
	if ((rc = parse_fields(eol + 2, end, h->fields, &h->nfields)) < 0)
		return err_set(ERR_INVAL, "response head: %s", err_msg());
	h->keep_alive = h->minor >= 1;
	for (i = 0; i < h->nfields; i++) {
		const char *k = h->fields[i].name, *v = h->fields[i].value;
		if (strcasecmp(k, "Content-Length") == 0) {
			int64_t n = 0;
			if (*v == '\0')
				return err_set(ERR_INVAL,
				    "response head: empty Content-Length");
			for (p = (char *)v; *p; p++) {
				if (*p < '0' || *p > '9' ||
				    n > (INT64_MAX - 9) / 10)
					return err_set(ERR_INVAL,
					    "response head: Content-Length "
					    "\"%.24s\"",
					    v);
				n = n * 10 + (*p - '0');
			}
			if (h->content_length >= 0 && h->content_length != n)
				return err_set(ERR_INVAL,
				    "response head: two different "
				    "Content-Length fields");
			h->content_length = n;
		} else if (strcasecmp(k, "Transfer-Encoding") == 0) {
			/* chunked last: chunked framing; else (or chunked
			 * twice) the body runs to the close */
			const char *last = strrchr(v, ',');
			last = last ? last + 1 : v;
			while (*last == ' ' || *last == '\t')
				last++;
			h->has_te = 1;
			h->chunked =
			    tes++ == 0 && strcasecmp(last, "chunked") == 0;
		} else if (strcasecmp(k, "Connection") == 0) {
			if (list_has(v, "close"))
				h->keep_alive = 0;
			else if (list_has(v, "keep-alive"))
				h->keep_alive = 1;
			if (list_has(v, "upgrade"))
				h->upgrade = 1;
		}
	}
	if (h->has_te) { /* RFC 9112 §6.3: Transfer-Encoding wins, and the
	                   connection cannot be trusted after */
		h->content_length = -1;
		if (!h->chunked)
			h->keep_alive = 0;
	}
	return 0;
}

const char *
http_head_field(const struct http_head *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nfields; i++)
		if (strcasecmp(h->fields[i].name, name) == 0)
			return h->fields[i].value;
	return NULL;
}

/* ---- chunked transfer coding (RFC 9112 §7.1) ---- */

enum {
	CH_SIZE, /* first hex digit of a chunk size */
	CH_SIZE_MORE, /* more hex digits, BWS, ';' or CR */
	CH_SIZE_WS, /* BWS after the size: more of it, ';' or CR */
	CH_EXT, /* chunk extensions, skipped up to CR */
	CH_SIZE_LF, /* LF after a size line */
	CH_DATA,
	CH_DATA_CR, /* CRLF after a chunk's data */
	CH_DATA_LF,
	CH_TRAILER_START, /* a trailer field or the final CRLF */
	CH_TRAILER_NAME, /* a trailer field's name up to ':' */
	CH_TRAILER, /* its value, skipped up to CR */
	CH_TRAILER_LF,
	CH_END_LF, /* LF of the final CRLF */
	CH_DONE,
};

static ssize_t
chunk_bad(const char *what, size_t at)
{
	err_set(ERR_INVAL, "chunked body: %s at byte %zu", what, at);
	return -400;
}

ssize_t
http_chunked_decode(struct http_chunked *c, char *buf, size_t len, size_t *out)
{
	size_t i = 0, w = 0;

	while (i < len && c->state != CH_DONE) {
		unsigned char b = (unsigned char)buf[i];
		int d;

		switch (c->state) {
		case CH_SIZE:
		case CH_SIZE_MORE:
			if ((d = hex_digit(b)) >= 0) {
				if (c->digits++ == 15) {
					err_set(ERR_LIMIT,
					    "chunked body: chunk size of more "
					    "than 15 hex digits");
					return -413;
				}
				c->left = c->left * 16 + (uint64_t)d;
				c->state = CH_SIZE_MORE;
			} else if (c->state == CH_SIZE) {
				return chunk_bad("expected a hex chunk size",
				    i);
			} else if (b == ';') {
				c->state = CH_EXT;
			} else if (b == ' ' || b == '\t') {
				c->state = CH_SIZE_WS;
			} else if (b == '\r') {
				c->state = CH_SIZE_LF;
			} else {
				return chunk_bad("bad byte in a chunk size", i);
			}
			if (++c->line > HTTP_MAX_CHUNK_LINE)
				return chunk_bad("chunk size line too long", i);
			i++;
			break;
		case CH_SIZE_WS:
			if (b == ';')
				c->state = CH_EXT;
			else if (b == '\r')
				c->state = CH_SIZE_LF;
			else if (b != ' ' && b != '\t')
				return chunk_bad("expected ';' or CRLF after a "
				                 "chunk size",
				    i);
			if (++c->line > HTTP_MAX_CHUNK_LINE)
				return chunk_bad("chunk size line too long", i);
			i++;
			break;
		case CH_EXT:
			if (b == '\r')
				c->state = CH_SIZE_LF;
			else if (!is_value_char(b))
				return chunk_bad("control byte in a chunk "
				                 "extension",
				    i);
			if (++c->line > HTTP_MAX_CHUNK_LINE)
				return chunk_bad("chunk size line too long", i);
			i++;
			break;
		case CH_SIZE_LF:
			if (b != '\n')
				return chunk_bad("CR without LF", i);
			i++;
			c->line = 0;
			c->digits = 0;
			if (c->left == 0) {
				c->state = CH_TRAILER_START;
				break;
			}
			if (c->left > c->max - c->total) {
				err_set(ERR_LIMIT,
				    "request body larger than %llu bytes",
				    (unsigned long long)c->max);
				return -413;
			}
			c->state = CH_DATA;
			break;
		case CH_DATA: {
			size_t n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			memmove(buf + w, buf + i, n);
			w += n;
			i += n;
			c->left -= n;
			c->total += n;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (b != '\r')
				return chunk_bad("expected CRLF after chunk "
				                 "data",
				    i);
			c->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (b != '\n')
				return chunk_bad("CR without LF", i);
			c->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER_START:
			if (b == '\r') {
				c->state = CH_END_LF;
				i++;
				break;
			}
			if (!is_tchar(b))
				return chunk_bad("expected a trailer field", i);
			c->state = CH_TRAILER_NAME;
			break;
		case CH_TRAILER_NAME:
			if (b == ':')
				c->state = CH_TRAILER;
			else if (!is_tchar(b))
				return chunk_bad("expected NAME: VALUE in a "
				                 "trailer",
				    i);
			if (++c->trailers > HTTP_MAX_TRAILERS) {
				err_set(ERR_LIMIT,
				    "chunked body: trailers longer than %d "
				    "bytes",
				    HTTP_MAX_TRAILERS);
				return -431;
			}
			i++;
			break;
		case CH_TRAILER:
			if (b == '\r')
				c->state = CH_TRAILER_LF;
			else if (!is_value_char(b))
				return chunk_bad("control byte in a trailer",
				    i);
			if (++c->trailers > HTTP_MAX_TRAILERS) {
				err_set(ERR_LIMIT,
				    "chunked body: trailers longer than %d "
				    "bytes",
				    HTTP_MAX_TRAILERS);
				return -431;
			}
			i++;
			break;
		case CH_TRAILER_LF:
			if (b != '\n')
				return chunk_bad("CR without LF", i);
			c->trailers++;
			c->state = CH_TRAILER_START;
			i++;
			break;
		case CH_END_LF:
			if (b != '\n')
				return chunk_bad("CR without LF", i);
			c->state = CH_DONE;
			c->done = 1;
			i++;
			break;
		}
	}
	*out = w;
	return (ssize_t)i;
}

int
http_method_idempotent(const char *method)
{
	static const char *const idem[] = { "GET", "HEAD", "OPTIONS", "PUT",
		"DELETE", "TRACE", NULL };

	for (int i = 0; method && idem[i]; i++)
		if (strcmp(method, idem[i]) == 0)
			return 1;
	return 0;
}
