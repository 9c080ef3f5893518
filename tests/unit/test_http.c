/*
 * Unit tests for common/http_parse (request heads, chunked bodies: every
 * malformed form we refuse, the limits) and common/http_server driven by
 * raw sockets on loopback: keep-alive, pipelining, HTTP/1.0, deadlines,
 * caps, hooks and sinks, streams, a port already taken.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http.h"
#include "common/http_parse.h"
#include "common/util.h"

/* ---- parser ---------------------------------------------------------- */

/* Find the head in text and parse it; returns the parse result (0 or
 * minus a status), or 1 when the head is not complete. */
static int
parse(const char *text, struct http_head *h, char **keep)
{
	size_t len = strlen(text), scan = 0;
	char *buf = strdup(text);
	ssize_t end;
	int rc;

	assert_non_null(buf);
	end = http_head_end(buf, len, &scan);
	if (end < 0) {
		free(buf);
		return (int)end;
	}
	if (end == 0) {
		free(buf);
		return 1;
	}
	rc = http_parse_head(buf, (size_t)end, h);
	if (keep)
		*keep = buf;
	else
		free(buf);
	return rc;
}

static void
test_head_end_found_one_byte_at_a_time(void **state)
{
	const char *req = "GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
	size_t scan = 0, i;
	ssize_t end = 0;

	(void)state;
	for (i = 1; i <= strlen(req) && end == 0; i++)
		end = http_head_end(req, i, &scan);
	assert_int_equal(end, strlen(req) - 4);
	assert_int_equal(i - 1, strlen(req) - 4);
}

static void
test_head_end_refuses_bare_lf_cr_and_nul(void **state)
{
	size_t scan = 0;

	(void)state;
	assert_int_equal(http_head_end("GET / HTTP/1.1\n\n", 16, &scan), -400);
	scan = 0;
	assert_int_equal(http_head_end("GET / HTTP/1.1\rX", 16, &scan), -400);
	scan = 0;
	assert_int_equal(http_head_end("GET /\0 HTTP/1.1", 15, &scan), -400);
	scan = 0;
	/* a CR at the end waits for its LF */
	assert_int_equal(http_head_end("GET / HTTP/1.1\r", 15, &scan), 0);
	assert_int_equal(
	    http_head_end("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &scan), 27);
}

static void
test_parse_simple_get(void **state)
{
	struct http_head h;
	char *mem = NULL;

	(void)state;
	assert_int_equal(parse("GET /v1/info HTTP/1.1\r\nHost: x\r\n"
	                       "X-Thing:   padded value \t\r\n\r\n",
	                     &h, &mem),
	    0);
	assert_string_equal(h.method, "GET");
	assert_string_equal(h.path, "/v1/info");
	assert_int_equal(h.minor, 1);
	assert_int_equal(h.nfields, 2);
	assert_string_equal(http_head_field(&h, "x-thing"), "padded value");
	assert_string_equal(http_head_field(&h, "HOST"), "x");
	assert_null(http_head_field(&h, "Content-Length"));
	assert_int_equal(h.content_length, -1);
	assert_int_equal(h.chunked, 0);
	assert_int_equal(h.keep_alive, 1);
	free(mem);
}

static void
test_parse_decodes_path_and_query(void **state)
{
	struct http_head h;
	char *mem = NULL;

	(void)state;
	assert_int_equal(parse("GET /a%20b/%41?x=1&y=a+b%2B&&z&w= HTTP/1.1\r\n"
	                       "Host: x\r\n\r\n",
	                     &h, &mem),
	    0);
	assert_string_equal(h.path, "/a b/A");
	assert_int_equal(h.nargs, 4);
	assert_string_equal(h.args[0].name, "x");
	assert_string_equal(h.args[0].value, "1");
	assert_string_equal(h.args[1].value, "a b+");
	assert_string_equal(h.args[2].name, "z");
	assert_null(h.args[2].value);
	assert_string_equal(h.args[3].value, "");
	free(mem);
}

static void
test_parse_absolute_form_and_asterisk(void **state)
{
	struct http_head h;
	char *mem = NULL;

	(void)state;
	assert_int_equal(parse("GET http://example.com:8/x/y?q=1 HTTP/1.1\r\n"
	                       "Host: example.com:8\r\n\r\n",
	                     &h, &mem),
	    0);
	assert_string_equal(h.path, "/x/y");
	assert_string_equal(h.args[0].value, "1");
	free(mem);
	assert_int_equal(parse("GET HTTP://example.com?q=2 HTTP/1.1\r\n"
	                       "Host: EXAMPLE.com\r\n\r\n",
	                     &h, &mem),
	    0);
	assert_string_equal(h.path, "/");
	assert_string_equal(h.args[0].value, "2");
	assert_string_equal(h.authority, "example.com");
	free(mem);
	/* a target naming one lease's host, a Host naming another's: the
	 * gateway routes by Host, a proxy or cache in front by the target;
	 * refused so they cannot disagree */
	assert_int_equal(parse("GET http://l-5-web.lodge.test/ HTTP/1.1\r\n"
	                       "Host: l-3-web.lodge.test\r\n\r\n",
	                     &h, &mem),
	    -400);
	assert_non_null(strstr(err_msg(), "names host l-5-web.lodge.test"));
	free(mem);
	assert_int_equal(parse("GET http://l-5-web.lodge.test:80/ HTTP/1.1\r\n"
	                       "Host: l-5-web.lodge.test\r\n\r\n",
	                     &h, &mem),
	    -400);
	free(mem);
	assert_int_equal(
	    parse("OPTIONS * HTTP/1.1\r\nHost: e\r\n\r\n", &h, &mem), 0);
	assert_string_equal(h.path, "*");
	free(mem);
}

static void
test_parse_connection_semantics(void **state)
{
	struct http_head h;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h, NULL), 0);
	assert_int_equal(h.keep_alive, 0);
	assert_int_equal(h.minor, 0);
	assert_int_equal(
	    parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h, NULL),
	    0);
	assert_int_equal(h.keep_alive, 1);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n"
	                       "Connection: upgrade, close\r\n\r\n",
	                     &h, NULL),
	    0);
	assert_int_equal(h.keep_alive, 0);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n"
	                       "Expect: 100-Continue\r\n\r\n",
	                     &h, NULL),
	    0);
	assert_int_equal(h.expect_continue, 1);
	/* a later minor version is HTTP/1.1 */
	assert_int_equal(parse("GET / HTTP/1.7\r\nHost: a\r\n\r\n", &h, NULL),
	    0);
	assert_int_equal(h.minor, 1);
}

static void
test_parse_framing(void **state)
{
	struct http_head h;

	(void)state;
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\n"
	                       "Content-Length: 12\r\n\r\n",
	                     &h, NULL),
	    0);
	assert_int_equal(h.content_length, 12);
	/* the same length twice is one length */
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3"
	                       "\r\ncontent-length: 3\r\n\r\n",
	                     &h, NULL),
	    0);
	assert_int_equal(h.content_length, 3);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\n"
	                       "Transfer-Encoding: Chunked\r\n\r\n",
	                     &h, NULL),
	    0);
	assert_int_equal(h.chunked, 1);
	assert_int_equal(h.content_length, -1);
}

struct bad {
	const char *req;
	int status;
};

static void
test_parse_refuses_every_malformed_head(void **state)
{
	static const struct bad bad[] = {
		{ "GET / HTTP/1.1\r\n\r\n", -400 }, /* no Host */
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400 },
		{ "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ " GET / HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", -400 },
		{ "GET /\r\nHost: a\r\n\r\n", -400 }, /* HTTP/0.9 */
		{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505 },
		{ "GET / HTTP/0.9\r\nHost: a\r\n\r\n", -505 },
		{ "GET / HTTP/1.x\r\nHost: a\r\n\r\n", -400 },
		{ "GET / HTTP/11\r\nHost: a\r\n\r\n", -400 },
		{ "GET / FTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GETGETGETGETGETGETGETGETGETGETGET / HTTP/1.1\r\nHost: a\r\n"
		  "\r\n",
		    -501 },
		{ "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /a\x80 HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /%4 HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /?a=%00 HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /?a=%g1 HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /#frag HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET * HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\n Host: a\r\n\r\n", -400 }, /* obs-fold */
		{ "GET / HTTP/1.1\r\nHost: a\r\n\tmore\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nH(st: a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
		  "Content-Length: 2\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\n"
		  "Content-Length: 99999999999999999999\r\n\r\n",
		    -413 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
		  "gzip\r\n\r\n",
		    -501 },
		{ "POST / HTTP/1.1\r\nHost: a\r\n"
		  "Transfer-Encoding: gzip, chunked\r\n\r\n",
		    -501 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n",
		    -501 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		  "Content-Length: 5\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		    -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n",
		    -417 },
	};
	struct http_head h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].req, &h, NULL);
		if (rc != bad[i].status)
			fail_msg("request %zu (%.40s...): got %d, expected %d "
			         "(%s)",
			    i, bad[i].req, rc, bad[i].status, err_msg());
		assert_true(err_msg()[0] != '\0');
	}
}

static void
test_parse_limits_fields_and_arguments(void **state)
{
	char req[16384];
	struct http_head h;
	size_t n;
	int i;

	(void)state;
	n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
	for (i = 0; i < HTTP_MAX_FIELDS; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-%d: v\r\n",
		    i);
	snprintf(req + n, sizeof(req) - n, "Host: a\r\n\r\n");
	assert_int_equal(parse(req, &h, NULL), -431);
	n = (size_t)snprintf(req, sizeof(req), "GET /?");
	for (i = 0; i <= HTTP_MAX_ARGS; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "a%d=1&", i);
	snprintf(req + n, sizeof(req) - n, " HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(parse(req, &h, NULL), -414);
}

/* ---- chunked --------------------------------------------------------- */

static const char chunked_body[] = "5\r\nhello\r\n6;name=val;x\r\n world\r\n"
                                   "1 \t;e\r\n!\r\n0\r\nTrailer: t\r\n"
                                   "Another: u\r\n\r\nNEXT";

static void
test_chunked_decodes_in_place(void **state)
{
	struct http_chunked c;
	char buf[sizeof(chunked_body)];
	size_t out = 0;
	ssize_t used;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.max = 1000;
	memcpy(buf, chunked_body, sizeof(buf));
	used = http_chunked_decode(&c, buf, sizeof(chunked_body) - 1, &out);
	assert_int_equal(used, sizeof(chunked_body) - 1 - 4);
	assert_int_equal(c.done, 1);
	assert_int_equal(out, 12);
	assert_memory_equal(buf, "hello world!", 12);
	assert_int_equal(c.total, 12);
}

static void
test_chunked_decodes_one_byte_at_a_time(void **state)
{
	struct http_chunked c;
	char data[64], b;
	size_t have = 0, out, i;
	ssize_t used;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.max = 1000;
	for (i = 0; i < sizeof(chunked_body) - 1 && !c.done; i++) {
		b = chunked_body[i];
		used = http_chunked_decode(&c, &b, 1, &out);
		assert_int_equal(used, 1);
		if (out)
			data[have++] = b;
	}
	assert_int_equal(c.done, 1);
	assert_int_equal(i, sizeof(chunked_body) - 1 - 4);
	assert_int_equal(have, 12);
	assert_memory_equal(data, "hello world!", 12);
}

static ssize_t
chunked_status(const char *body, uint64_t max)
{
	struct http_chunked c;
	char *buf = strdup(body);
	size_t out;
	ssize_t r;

	assert_non_null(buf);
	memset(&c, 0, sizeof(c));
	c.max = max;
	r = http_chunked_decode(&c, buf, strlen(body), &out);
	free(buf);
	return r < 0 ? r : c.done;
}

static void
test_chunked_refuses_malformed_and_too_large(void **state)
{
	char trailers[2 * HTTP_MAX_TRAILERS + 64];
	size_t n;

	(void)state;
	assert_int_equal(chunked_status("0\r\n\r\n", 10), 1);
	assert_int_equal(chunked_status("g\r\n", 10), -400);
	assert_int_equal(chunked_status("\r\n", 10), -400);
	assert_int_equal(chunked_status("5\nhello", 10), -400);
	assert_int_equal(chunked_status("5\r\nhelloX\r\n", 10), -400);
	assert_int_equal(chunked_status("5\r\nhello\rX", 10), -400);
	assert_int_equal(chunked_status("5 6\r\n", 10), -400);
	assert_int_equal(chunked_status("-5\r\n", 10), -400);
	assert_int_equal(chunked_status("5;\x01\r\n", 10), -400);
	assert_int_equal(chunked_status("0\r\nbad trailer\r\n", 10), -400);
	assert_int_equal(chunked_status("0\r\n\r\r", 10), -400);
	assert_int_equal(chunked_status("1000000000000000\r\n", 10), -413);
	assert_int_equal(chunked_status("b\r\n", 10), -413);
	assert_int_equal(chunked_status("5\r\nhello\r\n6\r\n", 10), -413);
	n = (size_t)snprintf(trailers, sizeof(trailers), "0\r\n");
	while (n < 2 * HTTP_MAX_TRAILERS)
		n += (size_t)snprintf(trailers + n, sizeof(trailers) - n,
		    "X: aaaaaaaaaa\r\n");
	assert_int_equal(chunked_status(trailers, 10), -431);
}

/* ---- server ---------------------------------------------------------- */

static int g_streams_freed;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

struct stream_ctx {
	int left;
};

static ssize_t
test_stream(void *ctx, char *buf, size_t max)
{
	struct stream_ctx *s = ctx;
	struct timespec ts = { 0, 20 * 1000000L };

	(void)max;
	if (s->left < 0) { /* forever, until the client goes */
		nanosleep(&ts, NULL);
		return 0;
	}
	if (s->left == 0)
		return -1;
	s->left--;
	memcpy(buf, "tick\n", 5);
	return 5;
}

static void
test_stream_free(void *ctx)
{
	pthread_mutex_lock(&g_mu);
	g_streams_freed++;
	pthread_mutex_unlock(&g_mu);
	free(ctx);
}

static int
count_kv(void *ctx, const char *k, const char *v)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%s=%s;", k, v ? v : "(null)");
	return 0;
}

static void
handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	char *body, hdrs[512] = "", args[512] = "";

	(void)ctx;
	if (strcmp(req->path, "/stream") == 0 ||
	    strcmp(req->path, "/forever") == 0) {
		struct stream_ctx *s = calloc(1, sizeof(*s));
		s->left = strcmp(req->path, "/stream") == 0 ? 3 : -1;
		resp->stream = test_stream;
		resp->stream_ctx = s;
		resp->stream_free = test_stream_free;
		resp->content_type = "text/plain";
		return;
	}
	if (strcmp(req->path, "/sleep") == 0)
		usleep(200000);
	http_header_each(req, count_kv, hdrs);
	http_query_each(req, count_kv, args);
	if (asprintf(&body,
	        "%s %s len=%zu q=%s x=%s headers=%s args=%s body=%.20s",
	        req->method, req->path, req->body_len,
	        http_query(req, "q") ? http_query(req, "q") : "-",
	        http_header(req, "X-T") ? http_header(req, "X-T") : "-", hdrs,
	        args, req->body) < 0)
		body = NULL;
	http_respond(resp, 200, body);
	resp->content_type = "text/plain";
	snprintf(resp->extra_headers, sizeof(resp->extra_headers),
	    "X-Echo: 1\r\nContent-Length: 999\r\nBad Header\r\n");
}

/* A hook on /h/: refuses without X-Ok (before reading the body), takes
 * the body into a sink with X-Ok: sink, buffers it otherwise. */
struct sink_buf {
	size_t len, calls;
	unsigned sum;
};

static int
sink_write(void *ctx, const char *data, size_t len, struct http_response *r)
{
	struct sink_buf *b = ctx;

	(void)r;
	for (size_t i = 0; i < len; i++)
		b->sum = b->sum * 31 + (unsigned char)data[i];
	b->len += len;
	b->calls++;
	return 0;
}

static void
sink_done(void *ctx, const struct http_request *req, struct http_response *r)
{
	struct sink_buf *b = ctx;
	char *body;

	if (asprintf(&body, "sunk %zu of %zu sum %u", b->len, req->body_len,
	        b->sum) < 0)
		body = NULL;
	http_respond(r, 201, body);
}

static void
sink_free(void *ctx)
{
	free(ctx);
}

static enum http_head_action
hook(void *ctx, const struct http_request *req, struct http_response *resp,
    struct http_body_sink *sink)
{
	const char *ok = http_header(req, "X-Ok");

	(void)ctx;
	if (ok == NULL) {
		http_respond_error(resp, 401, "no X-Ok (declared %lld bytes)",
		    (long long)req->content_length);
		return HTTP_HEAD_REFUSE;
	}
	if (strcmp(ok, "sink") == 0) {
		sink->write = sink_write;
		sink->done = sink_done;
		sink->free = sink_free;
		sink->ctx = calloc(1, sizeof(struct sink_buf));
		return HTTP_HEAD_SINK;
	}
	return HTTP_HEAD_BUFFER;
}

static const struct http_hook hooks[] = {
	{ NULL, "/h/", hook, 64u << 20 },
	{ NULL, NULL, NULL, 0 },
};

struct srv {
	struct http_server *s;
	uint16_t port;
};

static void
start(struct srv *v, void (*tune)(struct http_server_config *))
{
	struct http_server_config c;

	http_server_config_default(&c);
	c.port = 0;
	c.max_body = 4096;
	c.hooks = hooks;
	c.workers = 4;
	if (tune)
		tune(&c);
	if (http_server_start(&c, handler, NULL, &v->s) < 0)
		fail_msg("server: %s", err_msg());
	v->port = http_server_port(v->s);
}

static int
dial_from(uint16_t port, const char *from)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	assert_true(fd >= 0);
	if (from) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		inet_pton(AF_INET, from, &sin.sin_addr);
		assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)),
		    0);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int
dial(uint16_t port)
{
	return dial_from(port, NULL);
}

static void
send_str(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), strlen(s));
}

/* Read until the peer closes or timeout_ms passes with nothing new;
 * returns the bytes (NUL-terminated, malloc'd) and whether it closed. */
static char *
read_all(int fd, int timeout_ms, int *closed)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);

	*closed = 0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		if (len == cap)
			buf = realloc(buf, (cap *= 2) + 1);
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0) {
			*closed = 1;
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
test_server_keepalive_and_pipelining(void **state)
{
	struct srv v;
	char *got;
	int fd, closed;

	(void)state;
	start(&v, NULL);
	fd = dial(v.port);
	/* three requests in one write; answered in order */
	send_str(fd,
	    "GET /one?q=1&flag HTTP/1.1\r\nHost: a\r\nX-T: t1\r\n\r\n"
	    "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "\r\nhello"
	    "GET /sleep HTTP/1.1\r\nHost: a\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_int_equal(closed, 0);
	assert_int_equal(count(got, "HTTP/1.1 200 OK\r\n"), 3);
	assert_non_null(strstr(got, "GET /one len=0 q=1 x=t1"));
	assert_non_null(strstr(got, "args=q=1;flag=(null);"));
	assert_non_null(strstr(got, "headers=Host=a;X-T=t1;"));
	assert_non_null(strstr(got, "POST /two len=5"));
	assert_non_null(strstr(got, "body=hello"));
	assert_true(strstr(got, "/one") < strstr(got, "/two") &&
	    strstr(got, "/two") < strstr(got, "/sleep"));
	/* the handler's extra header passes, its Content-Length does not */
	assert_non_null(strstr(got, "X-Echo: 1\r\n"));
	assert_null(strstr(got, "999"));
	assert_null(strstr(got, "Bad Header"));
	/* still open: one more */
	send_str(fd, "HEAD /four HTTP/1.1\r\nHost: a\r\n\r\n");
	free(got);
	got = read_all(fd, 300, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "Content-Length: "));
	assert_null(strstr(got, "HEAD /four")); /* no body for HEAD */
	free(got);
	send_str(fd,
	    "GET /five HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_int_equal(closed, 1);
	assert_non_null(strstr(got, "Connection: close"));
	free(got);
	close(fd);
	http_server_free(v.s);
}

static void
test_server_http10(void **state)
{
	struct srv v;
	char *got;
	int fd, closed;

	(void)state;
	start(&v, NULL);
	fd = dial(v.port);
	send_str(fd, "GET /old HTTP/1.0\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_int_equal(closed, 1);
	assert_non_null(strstr(got, "GET /old"));
	free(got);
	close(fd);
	fd = dial(v.port);
	send_str(fd, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	got = read_all(fd, 300, &closed);
	assert_int_equal(closed, 0);
	assert_non_null(strstr(got, "Connection: keep-alive\r\n"));
	free(got);
	close(fd);
	http_server_free(v.s);
}

static void
test_server_errors_close_the_connection(void **state)
{
	struct srv v;
	char *got, big[20000];
	int fd, closed;

	(void)state;
	start(&v, NULL);
	fd = dial(v.port);
	send_str(fd, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_int_equal(closed, 1);
	assert_non_null(strstr(got, "HTTP/1.1 400 Bad Request"));
	assert_non_null(strstr(got, "Connection: close"));
	assert_non_null(strstr(got, "Host field"));
	free(got);
	close(fd);
	/* a body over max_body is refused before it is sent */
	fd = dial(v.port);
	send_str(fd,
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 413 "));
	assert_non_null(strstr(got, "larger than 4096"));
	free(got);
	close(fd);
	/* a head over max_head */
	fd = dial(v.port);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	(void)send(fd, big, strlen(big), MSG_NOSIGNAL);
	got = read_all(fd, 1000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 431 "));
	free(got);
	close(fd);
	/* HTTP/2 */
	fd = dial(v.port);
	send_str(fd, "GET / HTTP/2.0\r\nHost: a\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 505 "));
	free(got);
	close(fd);
	http_server_free(v.s);
}

static void
test_server_chunked_body(void **state)
{
	struct srv v;
	char *got;
	int fd, closed;

	(void)state;
	start(&v, NULL);
	fd = dial(v.port);
	send_str(fd,
	    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\nT: 1\r\n\r\n"
	    "GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
	got = read_all(fd, 500, &closed);
	assert_non_null(strstr(got, "POST /c len=7"));
	assert_non_null(strstr(got, "body=abcdefg"));
	assert_non_null(strstr(got, "GET /after"));
	free(got);
	close(fd);
	/* over max_body, chunk by chunk */
	fd = dial(v.port);
	send_str(fd,
	    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n1001\r\n");
	got = read_all(fd, 1000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 413 "));
	free(got);
	close(fd);
	http_server_free(v.s);
}

static void
short_deadlines(struct http_server_config *c)
{
	c->head_timeout_ms = 400;
	c->body_timeout_ms = 400;
	c->body_min_rate = 1u << 30;
	c->idle_timeout_s = 1;
}

static void
test_server_head_deadline_is_total(void **state)
{
	struct srv v;
	const char *req = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaa";
	uint64_t t0 = util_mono_ns();
	char *got;
	int fd, closed = 0, sent = 0;
	struct http_server_stats st;

	(void)state;
	start(&v, short_deadlines);
	fd = dial(v.port);
	/* one byte every 50 ms: never idle, but never complete in time */
	while (req[sent] && !closed) {
		struct pollfd p = { fd, POLLIN, 0 };
		(void)!send(fd, req + sent++, 1, MSG_NOSIGNAL);
		if (poll(&p, 1, 50) > 0)
			break;
	}
	got = read_all(fd, 2000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 408 "));
	assert_int_equal(closed, 1);
	assert_true(util_mono_ns() - t0 < 1500000000ull);
	assert_true(sent < (int)strlen(req));
	free(got);
	close(fd);
	/* an idle connection is closed without a word */
	fd = dial(v.port);
	got = read_all(fd, 2000, &closed);
	assert_int_equal(closed, 1);
	assert_string_equal(got, "");
	free(got);
	close(fd);
	http_server_stats(v.s, &st);
	assert_true(st.timeouts >= 2);
	http_server_free(v.s);
}

static void
test_server_body_deadline(void **state)
{
	struct srv v;
	char *got;
	int fd, closed = 0, i;

	(void)state;
	start(&v, short_deadlines);
	fd = dial(v.port);
	send_str(fd,
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n");
	for (i = 0; i < 20; i++) {
		struct pollfd p = { fd, POLLIN, 0 };
		(void)!send(fd, "x", 1, MSG_NOSIGNAL);
		if (poll(&p, 1, 50) > 0)
			break;
	}
	got = read_all(fd, 2000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 408 "));
	assert_non_null(strstr(got, "body"));
	assert_int_equal(closed, 1);
	free(got);
	close(fd);
	/* after a request, an idle keep-alive connection closes too */
	fd = dial(v.port);
	send_str(fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	got = read_all(fd, 2500, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 200 "));
	assert_int_equal(closed, 1);
	free(got);
	close(fd);
	http_server_free(v.s);
}

static void
cap3(struct http_server_config *c)
{
	c->max_conns_per_ip = 3;
}

static void
test_server_per_address_cap(void **state)
{
	struct srv v;
	int fd[4], other, closed;
	char *got;

	(void)state;
	start(&v, cap3);
	for (int i = 0; i < 4; i++)
		fd[i] = dial(v.port);
	got = read_all(fd[3], 1000, &closed);
	assert_int_equal(closed, 1);
	assert_non_null(strstr(got, "503"));
	assert_non_null(strstr(got, "from this address"));
	free(got);
	/* another address still gets in, and the first three still work */
	other = dial_from(v.port, "127.0.0.2");
	send_str(other, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
	got = read_all(other, 300, &closed);
	assert_non_null(strstr(got, "200 OK"));
	free(got);
	send_str(fd[0], "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
	got = read_all(fd[0], 300, &closed);
	assert_non_null(strstr(got, "200 OK"));
	free(got);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	close(other);
	http_server_free(v.s);
}

static void
cap_total4(struct http_server_config *c)
{
	c->max_conns = 4;
}

static void
test_server_global_cap_evicts_the_longest_waiting(void **state)
{
	struct srv v;
	struct http_server_stats st;
	int fd[5], closed;
	char *got;

	(void)state;
	start(&v, cap_total4);
	for (int i = 0; i < 4; i++)
		fd[i] = dial_from(v.port, i % 2 ? "127.0.0.3" : "127.0.0.4");
	usleep(100000);
	fd[4] = dial(v.port);
	send_str(fd[4], "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
	got = read_all(fd[4], 300, &closed);
	assert_non_null(strstr(got, "200 OK"));
	free(got);
	got = read_all(fd[0], 300, &closed);
	assert_int_equal(closed, 1); /* the oldest waiting one went */
	free(got);
	http_server_stats(v.s, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.conns, 4);
	for (int i = 0; i < 5; i++)
		close(fd[i]);
	http_server_free(v.s);
}

static void
cap_total4_two_loops(struct http_server_config *c)
{
	c->max_conns = 4;
	c->loops = 2;
}

/* The longest waiting is another loop's: the accepting loop (the first)
 * asks it to close it.  Connections go to the loop owning the fewest,
 * ties in turn from the first: fd[0] and fd[2] to the first, fd[1] and
 * fd[3] to the second; fd[0] gone, fd[4] to the first; fd[1], the
 * oldest, is the second's. */
static void
test_server_global_cap_evicts_across_loops(void **state)
{
	struct srv v;
	struct http_server_stats st;
	int fd[6], closed;
	char *got;

	(void)state;
	start(&v, cap_total4_two_loops);
	assert_int_equal(http_server_loops(v.s), 2);
	for (int i = 0; i < 4; i++) {
		fd[i] = dial(v.port);
		usleep(20000);
	}
	close(fd[0]);
	usleep(100000);
	fd[4] = dial(v.port);
	usleep(100000);
	fd[5] = dial(v.port);
	send_str(fd[5], "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
	got = read_all(fd[5], 300, &closed);
	assert_non_null(strstr(got, "200 OK"));
	free(got);
	got = read_all(fd[1], 300, &closed);
	assert_int_equal(closed, 1); /* the oldest waiting one went */
	free(got);
	for (int i = 2; i < 5; i++) { /* the others are still served */
		send_str(fd[i], "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
		got = read_all(fd[i], 300, &closed);
		assert_non_null(strstr(got, "200 OK"));
		free(got);
	}
	http_server_stats(v.s, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.conns, 4);
	for (int i = 1; i < 6; i++)
		close(fd[i]);
	http_server_free(v.s);
}

static void
small_inflight(struct http_server_config *c)
{
	c->max_inflight_per_ip = 4096;
}

/* The server's bytes in flight once they are want, or after 3 s. */
static uint64_t
inflight_becomes(struct srv *v, uint64_t want)
{
	struct http_server_stats st;

	for (int i = 0; i < 150; i++) {
		http_server_stats(v->s, &st);
		if (st.inflight == want)
			break;
		usleep(20000);
	}
	return st.inflight;
}

static void
test_server_inflight_cap(void **state)
{
	struct srv v;
	int a, b, closed;
	char *got;

	(void)state;
	start(&v, small_inflight);
	a = dial(v.port);
	send_str(a,
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3000\r\n\r\n");
	assert_int_equal(inflight_becomes(&v, 3000), 3000);
	b = dial(v.port);
	send_str(b,
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3000\r\n\r\n");
	got = read_all(b, 1000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 503 "));
	assert_non_null(strstr(got, "in flight"));
	free(got);
	close(b);
	close(a);
	assert_int_equal(inflight_becomes(&v, 0), 0);
	http_server_free(v.s);
}

static void
test_server_hook_refuses_before_the_body(void **state)
{
	struct srv v;
	char *got;
	int fd, closed;

	(void)state;
	start(&v, NULL);
	fd = dial(v.port);
	/* 32 MiB declared, none sent: the answer comes anyway */
	send_str(fd,
	    "PUT /h/x HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 33554432\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 401 "));
	assert_non_null(strstr(got, "declared 33554432 bytes"));
	assert_non_null(strstr(got, "Connection: close"));
	free(got);
	close(fd);
	/* over the hook's own limit: 413 before the hook */
	fd = dial(v.port);
	send_str(fd,
	    "PUT /h/x HTTP/1.1\r\nHost: a\r\nX-Ok: sink\r\n"
	    "Content-Length: 99999999999\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 413 "));
	free(got);
	close(fd);
	http_server_free(v.s);
}

static void
test_server_hook_sink_and_continue(void **state)
{
	struct srv v;
	char *got, *body, hdr[256];
	size_t len = 300000, off = 0;
	unsigned sum = 0;
	int fd, closed;

	(void)state;
	start(&v, NULL);
	body = malloc(len);
	for (size_t i = 0; i < len; i++) {
		body[i] = (char)(i * 7);
		sum = sum * 31 + (unsigned char)body[i];
	}
	fd = dial(v.port);
	snprintf(hdr, sizeof(hdr),
	    "PUT /h/blob HTTP/1.1\r\nHost: a\r\nX-Ok: sink\r\n"
	    "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
	    len);
	send_str(fd, hdr);
	got = read_all(fd, 1000, &closed);
	assert_string_equal(got, "HTTP/1.1 100 Continue\r\n\r\n");
	free(got);
	while (off < len) {
		ssize_t n = send(fd, body + off, len - off, MSG_NOSIGNAL);
		assert_true(n > 0);
		off += (size_t)n;
	}
	got = read_all(fd, 1000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 201 "));
	snprintf(hdr, sizeof(hdr), "sunk %zu of %zu sum %u", len, len, sum);
	assert_non_null(strstr(got, hdr));
	free(got);
	/* the connection is kept: a buffered one through the same hook */
	send_str(fd,
	    "POST /h/buf HTTP/1.1\r\nHost: a\r\nX-Ok: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
	got = read_all(fd, 500, &closed);
	if (strstr(got, "POST /h/buf len=3") == NULL)
		fail_msg("got: %s", got);
	free(got);
	/* an empty body still reaches the sink's done */
	send_str(fd,
	    "PUT /h/e HTTP/1.1\r\nHost: a\r\nX-Ok: sink\r\n"
	    "Content-Length: 0\r\n\r\n");
	got = read_all(fd, 500, &closed);
	assert_non_null(strstr(got, "sunk 0 of 0"));
	free(got);
	close(fd);
	free(body);
	http_server_free(v.s);
}

static void
one_stream(struct http_server_config *c)
{
	c->max_streams = 1;
}

/* The server's open streams once they are want, or after 3 s. */
static unsigned
streams_become(struct srv *v, unsigned want)
{
	struct http_server_stats st;

	for (int i = 0; i < 150; i++) {
		http_server_stats(v->s, &st);
		if (st.streams == want)
			break;
		usleep(20000);
	}
	return st.streams;
}

static void
test_server_streams(void **state)
{
	struct srv v;
	char *got;
	int fd, fd2, closed, freed;

	(void)state;
	start(&v, one_stream);
	fd = dial(v.port);
	send_str(fd, "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_non_null(strstr(got, "Transfer-Encoding: chunked"));
	assert_non_null(strstr(got, "Cache-Control: no-cache"));
	assert_int_equal(count(got, "5\r\ntick\n\r\n"), 3);
	assert_non_null(strstr(got, "\r\n0\r\n\r\n"));
	assert_int_equal(closed, 1);
	free(got);
	close(fd);
	/* HTTP/1.0: close-delimited */
	fd = dial(v.port);
	send_str(fd, "GET /stream HTTP/1.0\r\n\r\n");
	got = read_all(fd, 1000, &closed);
	assert_non_null(strstr(got, "\r\n\r\ntick\ntick\ntick\n"));
	assert_int_equal(closed, 1);
	free(got);
	close(fd);
	/* beyond max_streams: 503; a client that goes ends its stream (the
	 * thread of the one above may still be on its way out) */
	assert_int_equal(streams_become(&v, 0), 0);
	fd = dial(v.port);
	send_str(fd, "GET /forever HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(streams_become(&v, 1), 1);
	fd2 = dial(v.port);
	send_str(fd2, "GET /forever HTTP/1.1\r\nHost: a\r\n\r\n");
	got = read_all(fd2, 1000, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 503 "));
	free(got);
	close(fd2);
	pthread_mutex_lock(&g_mu);
	freed = g_streams_freed;
	pthread_mutex_unlock(&g_mu);
	close(fd);
	assert_int_equal(streams_become(&v, 0), 0);
	pthread_mutex_lock(&g_mu);
	assert_int_equal(g_streams_freed, freed + 1);
	pthread_mutex_unlock(&g_mu);
	/* a stream open at shutdown ends with the server */
	fd = dial(v.port);
	send_str(fd, "GET /forever HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(streams_become(&v, 1), 1);
	http_server_free(v.s);
	pthread_mutex_lock(&g_mu);
	assert_int_equal(g_streams_freed, freed + 2);
	pthread_mutex_unlock(&g_mu);
	close(fd);
}

static void
test_server_port_in_use_is_an_error(void **state)
{
	struct http_server_config c;
	struct http_server *s2 = NULL;
	struct srv v;
	char want[64];

	(void)state;
	start(&v, NULL);
	http_server_config_default(&c);
	c.port = v.port;
	assert_int_equal(http_server_start(&c, handler, NULL, &s2), ERR_IO);
	assert_null(s2);
	snprintf(want, sizeof(want), "127.0.0.1:%u", v.port);
	assert_non_null(strstr(err_msg(), want));
	assert_non_null(strstr(err_msg(), "in use"));
	http_server_free(v.s);
}

/* An error quoting a client's bytes that are not UTF-8 (a percent-decoded
 * path, a key cut by %.80s in the middle of a character) is still a JSON
 * body naming what it can, not an empty answer. */
static void
test_error_body_survives_bytes_not_utf8(void **state)
{
	static const char *const bad[] = { "\xff", "ed25519:\xc3", "\xe2\x82",
		"\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80",
		"a\xf0\x9f\x98" };
	struct http_response r;
	json_t *o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&r, 0, sizeof(r));
		http_respond_error(&r, 404, "no provider %s", bad[i]);
		assert_int_equal(r.status, 404);
		assert_non_null(r.body);
		o = json_loads(r.body, 0, NULL);
		assert_non_null(o);
		assert_non_null(
		    strstr(json_string_value(json_object_get(o, "error")),
		        "no provider "));
		assert_non_null(strchr(r.body, '?'));
		json_decref(o);
		free(r.body);
	}
	/* valid UTF-8 is kept as it is */
	memset(&r, 0, sizeof(r));
	http_respond_error(&r, 404, "no provider %s",
	    "\xc3\xa9\xf0\x9f\x98\x80");
	o = json_loads(r.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "error")),
	    "no provider \xc3\xa9\xf0\x9f\x98\x80");
	json_decref(o);
	free(r.body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_body_survives_bytes_not_utf8),
		cmocka_unit_test(test_head_end_found_one_byte_at_a_time),
		cmocka_unit_test(test_head_end_refuses_bare_lf_cr_and_nul),
		cmocka_unit_test(test_parse_simple_get),
		cmocka_unit_test(test_parse_decodes_path_and_query),
		cmocka_unit_test(test_parse_absolute_form_and_asterisk),
		cmocka_unit_test(test_parse_connection_semantics),
		cmocka_unit_test(test_parse_framing),
		cmocka_unit_test(test_parse_refuses_every_malformed_head),
		cmocka_unit_test(test_parse_limits_fields_and_arguments),
		cmocka_unit_test(test_chunked_decodes_in_place),
		cmocka_unit_test(test_chunked_decodes_one_byte_at_a_time),
		cmocka_unit_test(test_chunked_refuses_malformed_and_too_large),
		cmocka_unit_test(test_server_keepalive_and_pipelining),
		cmocka_unit_test(test_server_http10),
		cmocka_unit_test(test_server_errors_close_the_connection),
		cmocka_unit_test(test_server_chunked_body),
		cmocka_unit_test(test_server_head_deadline_is_total),
		cmocka_unit_test(test_server_body_deadline),
		cmocka_unit_test(test_server_per_address_cap),
		cmocka_unit_test(
		    test_server_global_cap_evicts_the_longest_waiting),
		cmocka_unit_test(test_server_global_cap_evicts_across_loops),
		cmocka_unit_test(test_server_inflight_cap),
		cmocka_unit_test(test_server_hook_refuses_before_the_body),
		cmocka_unit_test(test_server_hook_sink_and_continue),
		cmocka_unit_test(test_server_streams),
		cmocka_unit_test(test_server_port_in_use_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
