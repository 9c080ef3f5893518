/*
 * Unit tests for the gateway at its edge (provider/gateway.c): the
 * client's own forwarding fields dropped and the gateway's written (over
 * plain HTTP and TLS), request targets carried whole up to
 * GATEWAY_MAX_TARGET and refused past it, and gateway_forward sending a
 * request again on a new connection only when it is safe to repeat.
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
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http.h"
#include "common/http_parse.h"
#include "common/key.h"
#include "common/tls.h"
#include "provider/gateway.h"

/* ---- a raw upstream: /die is counted, then on a kept connection closed
 * unanswered (on a new one answered); the rest answered "ok" ---------- */

static uint16_t up_port;
static atomic_int die_get, die_post;

static void *
up_conn(void *arg)
{
	int fd = (int)(intptr_t)arg, nreq = 0;
	char buf[65536];
	size_t have = 0;
	struct http_head *h = malloc(sizeof(*h));

	for (;;) {
		size_t scan = 0;
		ssize_t end, n;
		long long cl;
		while ((end = http_head_end(buf, have, &scan)) == 0) {
			if ((n = recv(fd, buf + have, sizeof(buf) - have, 0)) <=
			    0)
				goto out;
			have += (size_t)n;
		}
		if (end < 0 || http_parse_head(buf, (size_t)end, h) < 0)
			goto out;
		cl = h->content_length > 0 ? h->content_length : 0;
		while (have < (size_t)end + (size_t)cl) {
			if ((n = recv(fd, buf + have, sizeof(buf) - have, 0)) <=
			    0)
				goto out;
			have += (size_t)n;
		}
		nreq++;
		if (strcmp(h->path, "/die") == 0) {
			atomic_fetch_add(strcmp(h->method, "POST") == 0 ?
			        &die_post :
			        &die_get,
			    1);
			if (nreq > 1)
				goto out;
		}
		memmove(buf, buf + end + cl, have - (size_t)end - (size_t)cl);
		have -= (size_t)end + (size_t)cl;
		(void)!send(fd,
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40,
		    MSG_NOSIGNAL);
	}
out:
	free(h);
	close(fd);
	return NULL;
}

static void *
up_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		pthread_t t;
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
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
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	up_port = ntohs(sa.sin_port);
	pthread_create(&t, NULL, up_main, (void *)(intptr_t)lfd);
	pthread_detach(t);
	return 0;
}

/* ---- the server: /head answers the head gateway_upstream_head builds
 * (414 when it refuses the target), the rest is gateway_forward -------- */

static void
handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	char *head = NULL;
	uint64_t egress;
	int upgrade;

	(void)ctx;
	if (strncmp(req->path, "/head", 5) == 0) {
		int rc = gateway_upstream_head(req, req->path, &upgrade, &head);
		if (rc == ERR_LIMIT) {
			http_respond_error(resp, 414, "%s", err_msg());
			return;
		}
		assert_int_equal(rc, 0);
		resp->status = 200;
		resp->content_type = "text/plain";
		resp->body = head;
		resp->body_len = strlen(head);
		return;
	}
	gateway_forward(req, -1, -1, 1, up_port, req->path, resp, &egress);
}

static struct http_server *
start(struct tls_server *tls)
{
	struct http_server_config c;
	struct http_server *s;

	http_server_config_default(&c);
	c.port = 0;
	c.workers = 1; /* one thread: one kept upstream connection */
	c.tls = tls;
	assert_int_equal(http_server_start(&c, handler, NULL, &s), 0);
	return s;
}

static void
fetch(const char *method, const char *url, const char *const *hdr,
    struct http_result *r)
{
	assert_int_equal(http_fetch(method, url, hdr, NULL, 0, 5000, r), 0);
}

/* ---- tests ------------------------------------------------------------ */

static const char *const spoof[] = { "X-Forwarded-For: 6.6.6.6",
	"X-Real-IP: 6.6.6.6", "Forwarded: for=6.6.6.6;proto=https",
	"X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example",
	"x-forwarded-for: 7.7.7.7", "X-App: kept", NULL };

static void
test_forwarding_fields_are_the_gateways(void **state)
{
	struct http_server *s = start(NULL);
	struct http_result r;
	char url[128];

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/head",
	    http_server_port(s));
	/* abuses it: a client's own copies, which a service would trust */
	fetch("GET", url, spoof, &r);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "6.6.6.6"));
	assert_null(strstr(r.body, "7.7.7.7"));
	assert_null(strstr(r.body, "evil.example"));
	assert_null(strstr(r.body, "https"));
	/* uses it: the peer the gateway saw, plain HTTP */
	assert_non_null(strstr(r.body, "\r\nX-App: kept\r\n"));
	assert_non_null(strstr(r.body, "\r\nX-Forwarded-For: 127.0.0.1\r\n"));
	assert_non_null(strstr(r.body, "\r\nX-Real-IP: 127.0.0.1\r\n"));
	assert_non_null(strstr(r.body, "\r\nX-Forwarded-Proto: http\r\n"));
	assert_non_null(
	    strstr(r.body, "\r\nForwarded: for=127.0.0.1;proto=http\r\n"));
	http_result_clear(&r);
	http_server_free(s);
}

static void
test_forwarded_proto_https_over_tls(void **state)
{
	uint8_t seed[KEY_SEED_LEN], pub[KEY_PUB_LEN];
	struct key *k = NULL;
	struct tls_server *tls = NULL;
	struct http_server *s;
	struct http_result r;
	char origin[64], url[128];

	(void)state;
	memset(seed, 5, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &k), 0);
	assert_int_equal(tls_server_new(k, "lodge test", &tls), 0);
	s = start(tls);
	snprintf(origin, sizeof(origin), "https://127.0.0.1:%u",
	    http_server_port(s));
	snprintf(url, sizeof(url), "%s/head", origin);
	key_public(k, pub);
	assert_int_equal(http_pin(origin, pub), 0);
	fetch("GET", url, spoof, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\r\nX-Forwarded-Proto: https\r\n"));
	assert_non_null(
	    strstr(r.body, "\r\nForwarded: for=127.0.0.1;proto=https\r\n"));
	assert_non_null(strstr(r.body, "\r\nX-Forwarded-For: 127.0.0.1\r\n"));
	assert_null(strstr(r.body, "6.6.6.6"));
	assert_null(strstr(r.body, "proto=http\r\n"));
	http_result_clear(&r);
	http_server_free(s);
	tls_server_free(tls);
	key_free(k);
}

/* A path of n bytes: "/head" and 'a's. */
static char *
long_path(size_t n)
{
	char *p = malloc(n + 1);

	memset(p, 'a', n);
	memcpy(p, "/head", 5);
	p[n] = '\0';
	return p;
}

static void
test_target_whole_up_to_the_limit_414_past_it(void **state)
{
	struct http_server *s = start(NULL);
	struct gateway_route rt;
	struct http_result r;
	char *at = long_path(GATEWAY_MAX_TARGET),
	     *past = long_path(GATEWAY_MAX_TARGET + 1), *url, *l;

	(void)state;
	/* routes: by host and by path, whole at the limit */
	assert_int_equal(
	    gateway_route_parse("l-1-web.example.org", at, "example.org", &rt),
	    1);
	assert_int_equal(strlen(rt.path), GATEWAY_MAX_TARGET);
	assert_int_equal(gateway_route_parse("l-1-web.example.org", past,
	                     "example.org", &rt),
	    ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "8192"));
	assert_true(asprintf(&l, "/l/l-1/web%s", at) > 0);
	assert_int_equal(gateway_route_parse("x", l, "example.org", &rt), 1);
	assert_string_equal(rt.path, at);
	free(l);
	assert_true(asprintf(&l, "/l/l-1/web%s", past) > 0);
	assert_int_equal(gateway_route_parse("x", l, "example.org", &rt),
	    ERR_LIMIT);
	free(l);
	/* forwarded: at the limit whole, past it 414 (never cut) */
	assert_true(asprintf(&url, "http://127.0.0.1:%u%s", http_server_port(s),
	                at) > 0);
	fetch("GET", url, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(strncmp(r.body, "GET ", 4) == 0);
	assert_true(strncmp(r.body + 4, at, GATEWAY_MAX_TARGET) == 0);
	assert_true(
	    strncmp(r.body + 4 + GATEWAY_MAX_TARGET, " HTTP/1.1\r\n", 11) == 0);
	http_result_clear(&r);
	free(url);
	assert_true(asprintf(&url, "http://127.0.0.1:%u%s", http_server_port(s),
	                past) > 0);
	fetch("GET", url, NULL, &r);
	assert_int_equal(r.status, 414);
	http_result_clear(&r);
	free(url);
	/* gateway_forward refuses it too */
	past[1] = 'x';
	assert_true(asprintf(&url, "http://127.0.0.1:%u%s", http_server_port(s),
	                past) > 0);
	fetch("GET", url, NULL, &r);
	assert_int_equal(r.status, 414);
	assert_non_null(strstr(r.body, "longer than 8192"));
	http_result_clear(&r);
	free(url);
	free(at);
	free(past);
	http_server_free(s);
}

static void
test_forward_repeats_only_idempotent(void **state)
{
	struct http_server *s = start(NULL);
	struct http_result r;
	char warm[128], die[128];
	int g0 = atomic_load(&die_get), p0 = atomic_load(&die_post);

	(void)state;
	snprintf(warm, sizeof(warm), "http://127.0.0.1:%u/a",
	    http_server_port(s));
	snprintf(die, sizeof(die), "http://127.0.0.1:%u/die",
	    http_server_port(s));
	/* uses it: a GET on the dying kept connection goes again */
	fetch("GET", warm, NULL, &r);
	assert_int_equal(r.status, 200);
	http_result_clear(&r);
	fetch("GET", die, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	http_result_clear(&r);
	assert_int_equal(atomic_load(&die_get) - g0, 2);
	/* abuses it: a POST is never sent twice */
	fetch("GET", warm, NULL, &r);
	http_result_clear(&r);
	fetch("POST", die, NULL, &r);
	assert_int_equal(r.status, 502);
	http_result_clear(&r);
	usleep(50000);
	assert_int_equal(atomic_load(&die_post) - p0, 1);
	http_server_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forwarding_fields_are_the_gateways),
		cmocka_unit_test(test_forwarded_proto_https_over_tls),
		cmocka_unit_test(test_target_whole_up_to_the_limit_414_past_it),
		cmocka_unit_test(test_forward_repeats_only_idempotent),
	};

	return cmocka_run_group_tests(tests, up_start, NULL);
}
