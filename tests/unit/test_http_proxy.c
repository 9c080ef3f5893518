/*
 * Unit tests for forwarding in the HTTP server's loop (http_upstream,
 * common/http_server.c) against a raw upstream on loopback: keep-alive
 * reuse, bodies streamed both ways (Content-Length, chunked, to the
 * close), bounded memory with a client that does not read, 502/504,
 * the per-group bound and its wait list, WebSocket splicing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http.h"
#include "common/http_parse.h"
#include "common/util.h"

/* ---- the upstream: a thread per connection, answers by path ---------- */

static uint16_t up_port;
static int up_listen = -1;
static atomic_int up_accepted;
static atomic_int up_open;
/* Requests to /die that reached the upstream, by method */
static atomic_int up_die_get, up_die_post, up_die_other;

static int
recv_some(int fd, char *buf, size_t cap, size_t *have)
{
	ssize_t n = recv(fd, buf + *have, cap - *have, 0);

	if (n <= 0)
		return -1;
	*have += (size_t)n;
	return 0;
}

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Read the body of a request (Content-Length or chunked) whose first
 * bytes are buf[0..have); returns its length and sum, -1 on error;
 * *have keeps the bytes after it. */
static long long
read_body(int fd, struct http_head *h, char *buf, size_t cap, size_t *have,
    unsigned *sum)
{
	long long total = 0;
	struct http_chunked ch;

	*sum = 0;
	memset(&ch, 0, sizeof(ch));
	ch.max = UINT64_MAX / 2;
	if (h->content_length > 0) {
		long long left = h->content_length;
		for (;;) {
			size_t take =
			    *have < (size_t)left ? *have : (size_t)left;
			for (size_t i = 0; i < take; i++)
				*sum = *sum * 31 + (unsigned char)buf[i];
			memmove(buf, buf + take, *have - take);
			*have -= take;
			left -= (long long)take;
			total += (long long)take;
			if (left == 0)
				return total;
			if (recv_some(fd, buf, cap, have) < 0)
				return -1;
		}
	}
	if (!h->chunked)
		return 0;
	for (;;) {
		size_t data;
		ssize_t used = http_chunked_decode(&ch, buf, *have, &data);
		if (used < 0)
			return -1;
		for (size_t i = 0; i < data; i++)
			*sum = *sum * 31 + (unsigned char)buf[i];
		total += (long long)data;
		memmove(buf, buf + used, *have - (size_t)used);
		*have -= (size_t)used;
		if (ch.done)
			return total;
		if (recv_some(fd, buf, cap, have) < 0)
			return -1;
	}
}

static const char *
arg_of(const struct http_head *h, const char *k)
{
	for (size_t i = 0; i < h->nargs; i++)
		if (strcmp(h->args[i].name, k) == 0 && h->args[i].value)
			return h->args[i].value;
	return "0";
}

static void *
up_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	size_t cap = 1 << 20, have = 0;
	char *buf = malloc(cap), *hb = malloc(65536), out[512];
	struct http_head *h = malloc(sizeof(*h));
	int nreq = 0;

	for (;;) {
		ssize_t end;
		size_t scan = 0;
		unsigned sum;
		long long blen;
		while ((end = http_head_end(buf, have, &scan)) == 0)
			if (recv_some(fd, buf, cap, &have) < 0)
				goto out;
		if (end < 0)
			goto out;
		memcpy(hb, buf, (size_t)end);
		memmove(buf, buf + end, have - (size_t)end);
		have -= (size_t)end;
		if (http_parse_head(hb, (size_t)end, h) < 0)
			goto out;
		if ((blen = read_body(fd, h, buf, cap, &have, &sum)) < 0)
			goto out;
		nreq++;
		if (strcmp(h->path, "/slow") == 0) {
			static const char r[] = "HTTP/1.1 200 OK\r\n"
			                        "Content-Length: 4\r\n\r\n"
			                        "slow";
			usleep(300000);
			send_all(fd, r, sizeof(r) - 1);
			continue;
		}
		if (strcmp(h->path, "/die") == 0) {
			/* counted (acted on), then on a kept connection
			 * closed without an answer; on a new one answered
			 * with the body it got */
			char r[160];
			snprintf(r, sizeof(r),
			    "HTTP/1.1 200 OK\r\nContent-Length: 35\r\n\r\n"
			    "survived body=%06lld sum=%010u",
			    blen, sum);
			atomic_fetch_add(strcmp(h->method, "GET") == 0 ?
			        &up_die_get :
			        strcmp(h->method, "POST") == 0 ? &up_die_post :
			                                         &up_die_other,
			    1);
			if (nreq > 1)
				goto out;
			send_all(fd, r, strlen(r));
			continue;
		}
		if (strcmp(h->path, "/hang") == 0) {
			char b[256];
			while (recv(fd, b, sizeof(b), 0) > 0)
				;
			goto out;
		}
		if (strcmp(h->path, "/chunked") == 0) {
			static const char r[] =
			    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "Keep-Alive: timeout=5\r\nX-Up: 1\r\n\r\n"
			    "6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\n"
			    "Trailer-X: 1\r\n\r\n";
			send_all(fd, r, sizeof(r) - 1);
			continue;
		}
		if (strcmp(h->path, "/empty") == 0) {
			static const char r[] = "HTTP/1.1 200 OK\r\n"
			                        "Content-Length: 0\r\n\r\n";
			send_all(fd, r, sizeof(r) - 1);
			continue;
		}
		if (strcmp(h->path, "/once") == 0) {
			/* keep-alive said, then closed a moment later */
			static const char r[] = "HTTP/1.1 200 OK\r\n"
			                        "Content-Length: 4\r\n\r\nonce";
			send_all(fd, r, sizeof(r) - 1);
			usleep(20000);
			goto out;
		}
		if (strcmp(h->path, "/close") == 0) {
			static const char r[] = "HTTP/1.1 200 OK\r\n"
			                        "Connection: close\r\n\r\n"
			                        "until the end";
			send_all(fd, r, sizeof(r) - 1);
			goto out;
		}
		if (strcmp(h->path, "/big") == 0) {
			size_t n = (size_t)atoll(arg_of(h, "n")), sent = 0;
			char *chunk = malloc(65536);
			memset(chunk, 'b', 65536);
			snprintf(out, sizeof(out),
			    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
			    n);
			send_all(fd, out, strlen(out));
			while (sent < n) {
				size_t k = n - sent < 65536 ? n - sent : 65536;
				ssize_t w = send(fd, chunk, k, MSG_NOSIGNAL);
				if (w <= 0)
					break;
				sent += (size_t)w;
			}
			free(chunk);
			continue;
		}
		if (strcmp(h->path, "/ws") == 0 ||
		    strcmp(h->path, "/wsflood") == 0) {
			static const char r[] =
			    "HTTP/1.1 101 Switching Protocols\r\n"
			    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			    "Sec-WebSocket-Accept: x\r\n\r\n";
			char b[4096];
			ssize_t n;
			send_all(fd, r, sizeof(r) - 1);
			if (have)
				send_all(fd, buf, have);
			if (strcmp(h->path, "/wsflood") == 0) {
				memset(b, 'f', sizeof(b));
				while (send(fd, b, sizeof(b), MSG_NOSIGNAL) > 0)
					;
				goto out;
			}
			while ((n = recv(fd, b, sizeof(b), 0)) > 0)
				send_all(fd, b, (size_t)n);
			goto out;
		}
		snprintf(out, sizeof(out),
		    "path=%s method=%s body=%lld sum=%u host=%s upgrade=%s",
		    h->path, h->method, blen, sum,
		    http_head_field(h, "Host") ? http_head_field(h, "Host") :
		                                 "-",
		    http_head_field(h, "Upgrade") ?
		        http_head_field(h, "Upgrade") :
		        "-");
		{
			char head[256];
			snprintf(head, sizeof(head),
			    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			    "Content-Type: text/plain\r\nX-Up: 1\r\n"
			    "Connection: keep-alive, X-Hop\r\nX-Hop: no\r\n"
			    "\r\n",
			    strlen(out));
			send_all(fd, head, strlen(head));
			send_all(fd, out, strlen(out));
		}
	}
out:
	free(buf);
	free(hb);
	free(h);
	close(fd);
	atomic_fetch_sub(&up_open, 1);
	return NULL;
}

static void *
up_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t t;
		int fd = accept(up_listen, NULL, NULL);
		if (fd < 0)
			return NULL;
		atomic_fetch_add(&up_accepted, 1);
		atomic_fetch_add(&up_open, 1);
		pthread_create(&t, NULL, up_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static int
up_start(void **state)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	pthread_t t;
	int one = 1;

	(void)state;
	up_listen = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(up_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(up_listen, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(up_listen, 512) < 0 ||
	    getsockname(up_listen, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	up_port = ntohs(sa.sin_port);
	pthread_create(&t, NULL, up_main, NULL);
	pthread_detach(t);
	return 0;
}

/* ---- the server, its route and what done saw ------------------------- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_done, g_status, g_by_server;
static uint64_t g_out, g_in;
static unsigned g_timeout_ms, g_idle_ms, g_max;

static int
connect_to(uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int
up_connect(void *ctx)
{
	return connect_to((uint16_t)(uintptr_t)ctx);
}

static void
up_done(void *ctx, int status, int by_server, uint64_t out, uint64_t in)
{
	(void)ctx;
	pthread_mutex_lock(&g_mu);
	g_done++;
	g_status = status;
	g_by_server = by_server;
	g_out = out;
	g_in = in;
	pthread_mutex_unlock(&g_mu);
}

/* /down/...: a port nobody listens on; X-Group: the group; the rest to
 * the upstream, with "Upgrade" passed on. */
static int
route(void *ctx, const struct http_request *req, int may_block,
    struct http_upstream *up)
{
	const char *g = http_header(req, "X-Group"),
	           *u = http_header(req, "Upgrade");
	int down = strncmp(req->path, "/down", 5) == 0;
	char *head;

	(void)ctx;
	if (strcmp(req->path, "/local") == 0)
		return 0;
	if (http_header(req, "X-Block") && !may_block)
		return -1; /* again from a worker */
	if (http_header(req, "X-Slow") && may_block)
		usleep(300000);
	if (asprintf(&head, "%s %s%s%s HTTP/1.1\r\nHost: up\r\n%s%s%s",
	        req->method, req->path, http_query(req, "n") ? "?n=" : "",
	        http_query(req, "n") ? http_query(req, "n") : "",
	        u ? "Connection: Upgrade\r\nUpgrade: " :
	            "Connection: "
	            "keep-alive",
	        u ? u : "", "\r\n") < 0)
		return 0;
	up->head = head;
	up->key = down ? 2 : 1;
	up->group = g ? (uint64_t)g[0] : 0;
	up->max_per_group = g_max;
	up->upgrade = u != NULL;
	up->timeout_ms = g_timeout_ms;
	up->idle_ms = g_idle_ms;
	up->connect = up_connect;
	up->done = up_done;
	up->ctx = (void *)(uintptr_t)(down ? 1 : up_port);
	return 1;
}

static void
handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	(void)req;
	http_respond(resp, 200, strdup("{\"local\":true}"));
}

static struct http_server *
start(unsigned max_waiting)
{
	struct http_server_config c;
	struct http_server *s;

	http_server_config_default(&c);
	c.port = 0;
	c.workers = 2;
	c.route = route;
	c.max_waiting_per_group = max_waiting;
	if (http_server_start(&c, handler, NULL, &s) < 0)
		fail_msg("server: %s", err_msg());
	pthread_mutex_lock(&g_mu);
	g_done = 0;
	pthread_mutex_unlock(&g_mu);
	g_timeout_ms = 0;
	g_idle_ms = 0;
	g_max = 0;
	return s;
}

static int
dial(uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Read until the peer closes, want bytes came (0: no bound) or
 * timeout_ms passes with nothing new. */
static char *
read_for(int fd, int timeout_ms, size_t want, size_t *len, int *closed)
{
	size_t cap = 65536;
	char *buf = malloc(cap + 1);

	*len = 0;
	*closed = 0;
	while (want == 0 || *len < want) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		if (*len == cap)
			buf = realloc(buf, (cap *= 2) + 1);
		n = recv(fd, buf + *len, cap - *len, 0);
		if (n <= 0) {
			*closed = 1;
			break;
		}
		*len += (size_t)n;
	}
	buf[*len] = '\0';
	return buf;
}

/* One response's head and body (Content-Length or chunked, decoded) from
 * fd; the body is malloc'd into *body. */
static int
read_response(int fd, char *head, size_t hcap, char **body, size_t *blen)
{
	size_t have = 0, scan = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t end;
	long long cl = -1;
	const char *p;

	*body = NULL;
	*blen = 0;
	while ((end = http_head_end(buf, have, &scan)) == 0) {
		if (have == cap)
			buf = realloc(buf, cap *= 2);
		if (recv_some(fd, buf, cap, &have) < 0) {
			free(buf);
			return -1;
		}
	}
	snprintf(head, hcap, "%.*s", (int)end, buf);
	memmove(buf, buf + end, have - (size_t)end);
	have -= (size_t)end;
	if (strncmp(head, "HTTP/1.1 1", 10) == 0) { /* no body */
		free(buf);
		*body = strdup("");
		return 0;
	}
	if ((p = strcasestr(head, "\r\nContent-Length: ")) != NULL)
		cl = atoll(p + 18);
	if (cl >= 0) {
		while (have < (size_t)cl) {
			if (have == cap)
				buf = realloc(buf, cap *= 2);
			if (recv_some(fd, buf, cap, &have) < 0)
				break;
		}
		*blen = (size_t)cl < have ? (size_t)cl : have;
	} else if (strcasestr(head, "Transfer-Encoding: chunked")) {
		struct http_chunked ch;
		char *out = malloc(1);
		memset(&ch, 0, sizeof(ch));
		ch.max = UINT64_MAX / 2;
		for (;;) {
			size_t data;
			ssize_t used =
			    http_chunked_decode(&ch, buf, have, &data);
			assert_true(used >= 0);
			out = realloc(out, *blen + data + 1);
			memcpy(out + *blen, buf, data);
			*blen += data;
			memmove(buf, buf + used, have - (size_t)used);
			have -= (size_t)used;
			if (ch.done)
				break;
			if (recv_some(fd, buf, cap, &have) < 0)
				break;
		}
		free(buf);
		out[*blen] = '\0';
		*body = out;
		return 0;
	} else { /* to the close */
		for (;;) {
			if (have == cap)
				buf = realloc(buf, cap *= 2);
			if (recv_some(fd, buf, cap, &have) < 0)
				break;
		}
		*blen = have;
	}
	buf = realloc(buf, *blen + 1);
	buf[*blen] = '\0';
	*body = buf;
	return 0;
}

static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

static int
wait_done(int n, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		int d;
		pthread_mutex_lock(&g_mu);
		d = g_done;
		pthread_mutex_unlock(&g_mu);
		if (d >= n)
			return 1;
		usleep(10000);
	}
	return 0;
}

/* ---- tests ------------------------------------------------------------ */

static void
test_proxy_keepalive_reuses_one_upstream(void **state)
{
	struct http_server *s = start(0);
	struct http_server_stats st;
	char head[2048], *body;
	size_t blen;
	int fd, before = atomic_load(&up_accepted);

	(void)state;
	fd = dial(http_server_port(s));
	for (int i = 0; i < 5; i++) {
		send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
		assert_int_equal(
		    read_response(fd, head, sizeof(head), &body, &blen), 0);
		assert_non_null(strstr(head, "HTTP/1.1 200 OK\r\n"));
		assert_non_null(strstr(head, "\r\nX-Up: 1\r\n"));
		assert_non_null(strstr(head, "\r\nDate: "));
		/* hop-by-hop, and what Connection named: not passed on */
		assert_null(strstr(head, "X-Hop"));
		assert_null(strstr(head, "Connection:"));
		assert_non_null(strstr(body, "path=/a method=GET body=0"));
		free(body);
	}
	/* a route that would block is asked again from a worker */
	send_str(fd, "GET /w HTTP/1.1\r\nHost: x\r\nX-Block: 1\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(body, "path=/w method=GET"));
	free(body);
	/* the handler still answers what the route leaves */
	send_str(fd, "GET /local HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_string_equal(body, "{\"local\":true}");
	free(body);
	close(fd);
	assert_int_equal(atomic_load(&up_accepted) - before, 1);
	http_server_stats(s, &st);
	assert_true(st.upstream_reuses >= 5);
	assert_true(wait_done(6, 2000));
	pthread_mutex_lock(&g_mu);
	assert_int_equal(g_status, 200);
	assert_int_equal(g_by_server, 0);
	assert_true(g_out > 100);
	pthread_mutex_unlock(&g_mu);
	http_server_free(s);
}

static void
test_proxy_kept_connection_closed_by_the_upstream(void **state)
{
	struct http_server *s = start(0);
	char head[2048], *body;
	size_t blen;
	int fd, i;

	(void)state;
	fd = dial(http_server_port(s));
	/* closed while idle (noticed, or retried once on a new one when
	 * the request goes out on it first): never a 502 */
	for (i = 0; i < 20; i++) {
		send_str(fd, "GET /once HTTP/1.1\r\nHost: x\r\n\r\n");
		assert_int_equal(
		    read_response(fd, head, sizeof(head), &body, &blen), 0);
		assert_string_equal(body, "once");
		free(body);
		if (i % 2)
			usleep(40000);
		send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
		assert_int_equal(
		    read_response(fd, head, sizeof(head), &body, &blen), 0);
		if (strstr(head, "HTTP/1.1 200 OK") == NULL)
			fail_msg("round %d: %s%s", i, head, body);
		assert_non_null(strstr(body, "path=/a"));
		free(body);
	}
	close(fd);
	http_server_free(s);
}

/* An upstream that acts on a request and then closes the kept
 * connection it came on without answering: a request safe to repeat
 * (GET, DELETE) goes once more on a new connection and is answered; a
 * POST or PATCH is never sent twice, the client gets 502. */
static void
test_proxy_retry_only_idempotent(void **state)
{
	struct http_server *s = start(0);
	char head[2048], *body;
	size_t blen;
	int fd, get0 = atomic_load(&up_die_get),
	        post0 = atomic_load(&up_die_post),
	        other0 = atomic_load(&up_die_other);

	(void)state;
	fd = dial(http_server_port(s));
	/* uses it: a GET on the dying kept connection, then on a new one */
	send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	free(body);
	send_str(fd, "GET /die HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 200 OK"));
	assert_string_equal(body, "survived body=000000 sum=0000000000");
	free(body);
	assert_int_equal(atomic_load(&up_die_get) - get0, 2);
	send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	free(body);
	send_str(fd, "DELETE /die HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_string_equal(body, "survived body=000000 sum=0000000000");
	free(body);
	assert_int_equal(atomic_load(&up_die_other) - other0, 2);
	/* a PUT's body (here and chunked) is kept and sent again whole */
	for (int chunked = 0; chunked < 2; chunked++) {
		unsigned sum = 0;
		char want[64];
		for (const char *p = "hello world"; *p; p++)
			sum = sum * 31 + (unsigned char)*p;
		snprintf(want, sizeof(want), "survived body=000011 sum=%010u",
		    sum);
		send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
		assert_int_equal(
		    read_response(fd, head, sizeof(head), &body, &blen), 0);
		free(body);
		send_str(fd,
		    chunked ? "PUT /die HTTP/1.1\r\nHost: x\r\n"
		              "Transfer-Encoding: chunked\r\n\r\n"
		              "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n" :
		              "PUT /die HTTP/1.1\r\nHost: x\r\n"
		              "Content-Length: 11\r\n\r\nhello world");
		assert_int_equal(
		    read_response(fd, head, sizeof(head), &body, &blen), 0);
		if (strcmp(body, want) != 0)
			fail_msg("PUT (chunked %d): %s%s", chunked, head, body);
		free(body);
		assert_int_equal(atomic_load(&up_die_other) - other0,
		    4 + 2 * chunked);
	}
	other0 += 4;
	/* abuses it: a POST without a body on the dying kept connection */
	send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	free(body);
	send_str(fd,
	    "POST /die HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	if (strstr(head, "HTTP/1.1 502 ") == NULL)
		fail_msg("POST on a dying connection: %s%s", head, body);
	free(body);
	usleep(50000); /* a second one would have come by now */
	assert_int_equal(atomic_load(&up_die_post) - post0, 1);
	close(fd);
	/* and a PATCH with a body */
	fd = dial(http_server_port(s));
	send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	free(body);
	send_str(fd,
	    "PATCH /die HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"
	    "{}");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 502 "));
	free(body);
	usleep(50000);
	assert_int_equal(atomic_load(&up_die_other) - other0, 3);
	close(fd);
	http_server_free(s);
}

/* In the child of test_proxy_fd_budget_counts_upstreams: the fewest of
 * 32 descriptors the rest of the process could open at any time (what
 * the budget keeps in reserve for it), until stop. */
static atomic_int reserve_stop, reserve_min;

static void *
reserve_watch(void *arg)
{
	(void)arg;
	while (!atomic_load(&reserve_stop)) {
		int fds[32], n = 0;
		while (n < 32 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
			n++;
		if (n < atomic_load(&reserve_min))
			atomic_store(&reserve_min, n);
		while (n > 0)
			close(fds[--n]);
		usleep(2000);
	}
	return NULL;
}

/* The descriptor budget counts upstream sockets: a server in a process
 * that may open 160 descriptors (96 for sockets after the reserve), with
 * 150 clients each forwarding a slow request at once, answers each 200
 * or 503 (or closes it unanswered at the accept), never 502 for want of
 * a descriptor; the rest of the process can still open 32 files all the
 * while, and it serves again after.  The server runs in a child (its
 * limit lowered), the clients and the upstream here. */
static void
test_proxy_fd_budget_counts_upstreams(void **state)
{
	enum { N = 150 };
	int pp[2], qq[2], fds[N], n200 = 0, n503 = 0, nshut = 0, nother = 0,
	                          status;
	char head[2048], *body, b = 0;
	uint16_t port = 0;
	size_t blen;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(pipe(qq), 0);
	if ((pid = fork()) == 0) {
		struct rlimit rl = { 160, 160 };
		struct http_server_config c;
		struct http_server *s;
		close(pp[0]);
		close(qq[1]);
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(2);
		http_server_config_default(&c);
		c.port = 0;
		c.workers = 2;
		c.route = route;
		if (http_server_start(&c, handler, NULL, &s) < 0)
			_exit(3);
		pthread_t t;
		port = http_server_port(s);
		atomic_store(&reserve_min, 32);
		pthread_create(&t, NULL, reserve_watch, NULL);
		if (write(pp[1], &port, sizeof(port)) != sizeof(port))
			_exit(4);
		(void)!read(qq[0], &b, 1);
		atomic_store(&reserve_stop, 1);
		pthread_join(t, NULL);
		http_server_free(s);
		_exit(atomic_load(&reserve_min) == 32 ?
		        0 :
		        10 + atomic_load(&reserve_min));
	}
	close(pp[1]);
	close(qq[0]);
	assert_int_equal(read(pp[0], &port, sizeof(port)), sizeof(port));
	for (int i = 0; i < N; i++) {
		fds[i] = dial(port);
		send_str(fds[i], "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	}
	for (int i = 0; i < N; i++) {
		struct timeval tv = { 10, 0 };
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (read_response(fds[i], head, sizeof(head), &body, &blen) <
		    0) {
			nshut++; /* closed unanswered (accept, eviction) */
		} else {
			if (strncmp(head, "HTTP/1.1 200 ", 13) == 0)
				n200++;
			else if (strncmp(head, "HTTP/1.1 503 ", 13) == 0)
				n503++;
			else {
				nother++;
				print_message("# %.40s %s\n", head, body);
			}
			free(body);
		}
		close(fds[i]);
	}
	print_message("# %d answered 200, %d 503, %d closed, %d other\n", n200,
	    n503, nshut, nother);
	assert_int_equal(nother, 0);
	assert_true(n200 >= 20);
	assert_true(n503 + nshut > 0); /* the budget was reached */
	/* and after: served */
	fds[0] = dial(port);
	send_str(fds[0], "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(
	    read_response(fds[0], head, sizeof(head), &body, &blen), 0);
	assert_non_null(strstr(head, "HTTP/1.1 200 "));
	free(body);
	close(fds[0]);
	assert_int_equal(write(qq[1], &b, 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("the server's process could open only %d of 32 "
		         "files at one time (exit %d)",
		    WEXITSTATUS(status) - 10, WEXITSTATUS(status));
	close(pp[0]);
	close(qq[1]);
}

static void
test_proxy_streams_request_bodies(void **state)
{
	struct http_server *s = start(0);
	size_t n = 3u << 20, blen;
	char *data = malloc(n), head[2048], *body, want[128], line[64];
	unsigned sum = 0;
	int fd;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		data[i] = (char)(i * 7);
		sum = sum * 31 + (unsigned char)data[i];
	}
	fd = dial(http_server_port(s));
	/* Content-Length, larger than the server's max_body (1 MiB) */
	snprintf(head, sizeof(head),
	    "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
	send_str(fd, head);
	send_all(fd, data, n);
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	snprintf(want, sizeof(want), "body=%zu sum=%u", n, sum);
	assert_non_null(strstr(body, want));
	free(body);
	/* chunked, with Expect: 100-continue */
	send_str(fd,
	    "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	    "Expect: 100-continue\r\n\r\n");
	for (size_t off = 0; off < n; off += 100000) {
		size_t k = n - off < 100000 ? n - off : 100000;
		snprintf(line, sizeof(line), "%zx\r\n", k);
		send_str(fd, line);
		send_all(fd, data + off, k);
		send_str(fd, "\r\n");
	}
	send_str(fd, "0\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 100 Continue\r\n"));
	free(body);
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(body, want));
	free(body);
	pthread_mutex_lock(&g_mu);
	assert_int_equal(g_in, n);
	pthread_mutex_unlock(&g_mu);
	close(fd);
	free(data);
	http_server_free(s);
}

static void
test_proxy_response_framings(void **state)
{
	struct http_server *s = start(0);
	char head[2048], *body, *all;
	size_t blen, len;
	int fd, closed;

	(void)state;
	fd = dial(http_server_port(s));
	/* chunked upstream: re-chunked, its extensions and trailers gone */
	send_str(fd, "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "Transfer-Encoding: chunked\r\n"));
	assert_null(strstr(head, "Keep-Alive"));
	assert_string_equal(body, "hello world");
	free(body);
	/* to the close: chunked to an HTTP/1.1 client, kept alive */
	send_str(fd, "GET /close HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "Transfer-Encoding: chunked\r\n"));
	assert_string_equal(body, "until the end");
	free(body);
	/* HEAD: the head only */
	send_str(fd, "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n");
	all = read_for(fd, 300, 0, &len, &closed);
	assert_non_null(strstr(all, "Content-Length: "));
	assert_non_null(strstr(all, "\r\n\r\n"));
	assert_string_equal(strstr(all, "\r\n\r\n"), "\r\n\r\n");
	free(all);
	close(fd);
	/* an HTTP/1.0 client: to the close */
	fd = dial(http_server_port(s));
	send_str(fd, "GET /chunked HTTP/1.0\r\n\r\n");
	all = read_for(fd, 2000, 0, &len, &closed);
	assert_true(closed);
	assert_non_null(strstr(all, "Connection: close\r\n"));
	assert_null(strstr(all, "chunked"));
	assert_non_null(strstr(all, "\r\n\r\nhello world"));
	free(all);
	close(fd);
	http_server_free(s);
}

static void
test_proxy_slow_client_bounded_memory(void **state)
{
	struct http_server *s = start(0);
	size_t n = 256u << 20, len = 0;
	char req[128], *buf = malloc(1 << 20);
	long before, during;
	int fd, rcv = 4096;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	/* a small window: the client holds back what it does not read */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	{
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(http_server_port(s));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(
		    connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	before = rss_kb();
	snprintf(req, sizeof(req), "GET /big?n=%zu HTTP/1.1\r\nHost: x\r\n\r\n",
	    n);
	send_str(fd, req);
	sleep(1); /* not reading: the gateway must not take it all */
	during = rss_kb();
	assert_true(during - before < 16 * 1024);
	{ /* then all of it, intact */
		size_t headlen = 0;
		for (;;) {
			struct pollfd p = { fd, POLLIN, 0 };
			ssize_t r;
			if (poll(&p, 1, 2000) <= 0)
				break;
			r = recv(fd, buf, 1 << 20, 0);
			if (r <= 0)
				break;
			if (headlen == 0) {
				char *e = memmem(buf, (size_t)r, "\r\n\r\n", 4);
				assert_non_null(e);
				headlen = (size_t)(e - buf) + 4;
			}
			len += (size_t)r;
			if (len == headlen + n)
				break;
		}
		assert_int_equal(len, headlen + n);
	}
	close(fd);
	free(buf);
	http_server_free(s);
}

static void
test_proxy_unreachable_and_timeout(void **state)
{
	struct http_server *s = start(0);
	char head[2048], *body;
	size_t blen;
	int fd;

	(void)state;
	fd = dial(http_server_port(s));
	send_str(fd, "GET /down HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 502 "));
	assert_non_null(strstr(body, "upstream"));
	free(body);
	assert_true(wait_done(1, 2000));
	pthread_mutex_lock(&g_mu);
	assert_int_equal(g_status, 502);
	assert_int_equal(g_by_server, 1);
	pthread_mutex_unlock(&g_mu);
	/* the connection goes on */
	g_timeout_ms = 300;
	send_str(fd, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 504 "));
	free(body);
	close(fd);
	http_server_free(s);
}

static void
test_proxy_one_group_cannot_starve_another(void **state)
{
	struct http_server *s = start(3);
	struct http_server_stats st;
	char head[2048], *body;
	size_t blen;
	int a[6], b, before = atomic_load(&up_accepted), i;
	uint64_t t0;

	(void)state;
	g_max = 2;
	/* group A: six requests its upstream never answers; two are
	 * forwarded, three wait, the sixth is refused at once */
	for (i = 0; i < 6; i++) {
		/* the sixth after the others are in: the connections are
		 * shared out among the server's loops, which take them in
		 * parallel */
		if (i == 5)
			usleep(100000);
		a[i] = dial(http_server_port(s));
		send_str(a[i],
		    "GET /hang HTTP/1.1\r\nHost: x\r\nX-Group: A\r\n\r\n");
	}
	assert_int_equal(read_response(a[5], head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 503 "));
	free(body);
	usleep(200000);
	http_server_stats(s, &st);
	assert_int_equal(st.waiting, 3);
	assert_int_equal(atomic_load(&up_accepted) - before, 2);
	/* group B is answered at once */
	t0 = util_mono_ns();
	b = dial(http_server_port(s));
	send_str(b, "GET /b HTTP/1.1\r\nHost: x\r\nX-Group: B\r\n\r\n");
	assert_int_equal(read_response(b, head, sizeof(head), &body, &blen), 0);
	assert_non_null(strstr(body, "path=/b"));
	assert_true(util_mono_ns() - t0 < 500000000ull);
	free(body);
	close(b);
	/* a forwarded one goes: the first waiter takes its connection */
	close(a[0]);
	usleep(700000); /* noticed within a sweep or two */
	http_server_stats(s, &st);
	assert_int_equal(st.waiting, 2);
	/* on B's kept connection when the waiter's loop is B's, else on a
	 * new one (each loop pools its own upstream connections) */
	assert_in_range(atomic_load(&up_accepted) - before, 3, 4);
	for (i = 1; i < 6; i++)
		close(a[i]);
	http_server_free(s);
}

static void
test_proxy_websocket_splice(void **state)
{
	struct http_server *s = start(0);
	struct http_server_stats st;
	char head[2048], *body, *got;
	size_t len, blen;
	int fd, closed;
	long before;

	(void)state;
	g_idle_ms = 1000;
	fd = dial(http_server_port(s));
	send_str(fd,
	    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n\r\n");
	got = read_for(fd, 300, 0, &len, &closed);
	assert_non_null(strstr(got, "HTTP/1.1 101 Switching Protocols\r\n"));
	assert_non_null(strstr(got, "Upgrade: websocket\r\n"));
	assert_non_null(strstr(got, "Connection: Upgrade\r\n"));
	assert_non_null(strstr(got, "Sec-WebSocket-Accept: x\r\n"));
	free(got);
	send_str(fd, "ping-1");
	got = read_for(fd, 2000, 6, &len, &closed);
	assert_string_equal(got, "ping-1");
	free(got);
	send_str(fd, "ping-2");
	got = read_for(fd, 2000, 6, &len, &closed);
	assert_string_equal(got, "ping-2");
	free(got);
	http_server_stats(s, &st);
	assert_int_equal(st.upgrades, 1);
	/* nothing moves for idle_ms: closed, metered both ways */
	got = read_for(fd, 4000, 0, &len, &closed);
	assert_true(closed);
	free(got);
	close(fd);
	assert_true(wait_done(1, 2000));
	pthread_mutex_lock(&g_mu);
	assert_int_equal(g_status, 101);
	assert_int_equal(g_in, 12);
	assert_true(g_out > 12);
	pthread_mutex_unlock(&g_mu);

	/* an upgrade the upstream does not take: its answer as it is */
	fd = dial(http_server_port(s));
	send_str(fd,
	    "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(body, "upgrade=websocket"));
	free(body);
	close(fd);

	/* an upstream answering 101 to a plain request: 502 */
	fd = dial(http_server_port(s));
	send_str(fd, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 502 "));
	free(body);
	close(fd);

	/* a client that never reads a flood: bounded, closed when idle */
	pthread_mutex_lock(&g_mu);
	blen = (size_t)g_done;
	pthread_mutex_unlock(&g_mu);
	before = rss_kb();
	fd = dial(http_server_port(s));
	send_str(fd,
	    "GET /wsflood HTTP/1.1\r\nHost: x\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	usleep(700000); /* less than idle_ms */
	assert_true(rss_kb() - before < 16 * 1024);
	/* nothing can move: closed after idle_ms */
	assert_true(wait_done((int)blen + 1, 4000));
	pthread_mutex_lock(&g_mu);
	assert_int_equal(g_status, 101);
	assert_true(g_out < (16u << 20));
	pthread_mutex_unlock(&g_mu);
	close(fd);
	http_server_free(s);
}

/* An answer of Content-Length: 0 is complete at its head: the client's
 * next request on the connection is taken at once (it waited for the
 * timeout, the upstream's slot held meanwhile). */
static void
test_proxy_empty_answer_ends_the_exchange(void **state)
{
	struct http_server *s = start(0);
	char head[2048], *body;
	size_t blen;
	int fd;

	(void)state;
	g_timeout_ms = 3000;
	fd = dial(http_server_port(s));
	send_str(fd, "GET /empty HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(blen, 0);
	free(body);
	assert_true(wait_done(1, 1000));
	send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	{
		struct pollfd p = { fd, POLLIN, 0 };
		assert_int_equal(poll(&p, 1, 1000), 1);
	}
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(body, "path=/a method=GET"));
	free(body);
	close(fd);
	http_server_free(s);
}

/* A route answered from a worker while the server stops: what it gave
 * (the head, the context) is freed with the connection. */
static void
test_proxy_route_done_at_stop_freed(void **state)
{
	struct http_server *s = start(0);
	int fd;

	(void)state;
	fd = dial(http_server_port(s));
	send_str(fd,
	    "GET /a HTTP/1.1\r\nHost: x\r\nX-Block: 1\r\nX-Slow: 1\r\n"
	    "\r\n");
	usleep(100000); /* the worker has it */
	http_server_free(s);
	close(fd);
}

/* An upgrade request with a chunked body goes with its framing: sent
 * without it, the upstream would read the body as the next request on a
 * connection the pool then gives another client. */
static void
test_proxy_upgrade_with_body_is_framed(void **state)
{
	struct http_server *s = start(0);
	char head[2048], *body;
	size_t blen;
	int fd;

	(void)state;
	fd = dial(http_server_port(s));
	send_str(fd,
	    "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n");
	assert_int_equal(read_response(fd, head, sizeof(head), &body, &blen),
	    0);
	assert_non_null(strstr(head, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(body, "body=5 "));
	free(body);
	close(fd);
	http_server_free(s);
}
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_keepalive_reuses_one_upstream),
		cmocka_unit_test(
		    test_proxy_kept_connection_closed_by_the_upstream),
		cmocka_unit_test(test_proxy_retry_only_idempotent),
		cmocka_unit_test(test_proxy_fd_budget_counts_upstreams),
		cmocka_unit_test(test_proxy_streams_request_bodies),
		cmocka_unit_test(test_proxy_response_framings),
		cmocka_unit_test(test_proxy_slow_client_bounded_memory),
		cmocka_unit_test(test_proxy_unreachable_and_timeout),
		cmocka_unit_test(test_proxy_one_group_cannot_starve_another),
		cmocka_unit_test(test_proxy_websocket_splice),
		cmocka_unit_test(test_proxy_upgrade_with_body_is_framed),
		cmocka_unit_test(test_proxy_empty_answer_ends_the_exchange),
		cmocka_unit_test(test_proxy_route_done_at_stop_freed),
	};

	return cmocka_run_group_tests(tests, up_start, NULL);
}
