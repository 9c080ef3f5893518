/*
 * bench_gateway: requests per second and p99 latency of the provider's
 * gateway (provider/gateway.c inside the provider's HTTP server) next to
 * hitting the same upstream directly, with the same keep-alive clients in
 * the same run.  The upstream is a small keep-alive HTTP server here, in
 * the provider's own network namespace (the netns hop costs one setns at
 * connect time only, and connections are reused).  Goal: >= 0.6 of direct.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/http.h"
#include "common/util.h"
#include "provider/gateway.h"

#define CLIENTS 4
#define SECONDS 2
#define MAX_SAMPLES 2000000

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 13\r\n\r\nhello, lodge\n";
static uint16_t upstream_port;

static void *
serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	size_t have = 0;
	ssize_t r;
	char *end;

	for (;;) {
		r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = '\0';
		while ((end = strstr(buf, "\r\n\r\n")) != NULL) {
			size_t used = (size_t)(end - buf) + 4;
			/* "/work": a service that spends 200 us per request
			 * (a database call, a template), as real ones do. */
			if (strstr(buf, " /work") != NULL) {
				struct timespec ts = { 0, 200000 };
				nanosleep(&ts, NULL);
			}
			if (send(fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL) <
			    0)
				goto out;
			memmove(buf, buf + used, have - used);
			have -= used;
			buf[have] = '\0';
		}
		if (have >= sizeof(buf) - 1)
			break;
	}
out:
	close(fd);
	return NULL;
}

static void *
upstream(void *arg)
{
	int ls = (int)(intptr_t)arg, fd, one = 1;
	pthread_t t;

	for (;;) {
		if ((fd = accept(ls, NULL, NULL)) < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, NULL, serve_conn,
		        (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

static void
handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct gateway_route rt;
	uint64_t egress;
	char *target;

	(void)ctx;
	if (gateway_route_parse(http_header(req, "Host"), req->path,
	        "bench.localhost", &rt) != 1 ||
	    gateway_target(req, rt.path, &target) < 0) {
		http_respond_error(resp, 404, "no route");
		return;
	}
	gateway_forward(req, -1, -1, 1, upstream_port, target, resp, &egress);
	free(target);
}

struct client {
	uint16_t port;
	const char *path;
	int64_t deadline_ns;
	uint64_t *lat; /* ns per request */
	size_t n, cap;
	int errors;
};

static int
connect_to(uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request and its whole response (Content-Length framed). */
static int
one_request(int fd, const char *req, size_t len)
{
	char buf[4096], *h, *cl;
	size_t have = 0, need;
	ssize_t r;

	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	for (;;) {
		r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if ((h = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(buf, "content-length:");
		need = (size_t)(h - buf) + 4 +
		    (cl ? strtoul(cl + 15, NULL, 10) : 0);
		if (have >= need)
			return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
	}
}

static void *
client_run(void *arg)
{
	struct client *c = arg;
	char req[256];
	int fd = connect_to(c->port), n;

	n = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: bench\r\n"
	    "\r\n",
	    c->path);
	while (fd >= 0 && (int64_t)util_mono_ns() < c->deadline_ns &&
	    c->n < c->cap) {
		uint64_t t0 = util_mono_ns();
		if (one_request(fd, req, (size_t)n) < 0) {
			c->errors++;
			close(fd);
			fd = connect_to(c->port);
			continue;
		}
		c->lat[c->n++] = util_mono_ns() - t0;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
measure(const char *name, uint16_t port, const char *path, double *rps,
    double *p99_us)
{
	struct client c[CLIENTS];
	pthread_t t[CLIENTS];
	uint64_t *all;
	size_t total = 0, i, k;
	int errors = 0;
	int64_t start = (int64_t)util_mono_ns();

	for (i = 0; i < CLIENTS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].port = port;
		c[i].path = path;
		c[i].deadline_ns = start + (int64_t)SECONDS * 1000000000;
		c[i].cap = MAX_SAMPLES / CLIENTS;
		c[i].lat = malloc(c[i].cap * sizeof(uint64_t));
		pthread_create(&t[i], NULL, client_run, &c[i]);
	}
	for (i = 0; i < CLIENTS; i++) {
		pthread_join(t[i], NULL);
		total += c[i].n;
		errors += c[i].errors;
	}
	all = malloc((total + 1) * sizeof(uint64_t));
	for (i = 0, k = 0; i < CLIENTS; i++) {
		memcpy(all + k, c[i].lat, c[i].n * sizeof(uint64_t));
		k += c[i].n;
		free(c[i].lat);
	}
	qsort(all, total, sizeof(uint64_t), cmp_u64);
	*rps =
	    (double)total / ((double)(util_mono_ns() - (uint64_t)start) / 1e9);
	*p99_us = total ? (double)all[total * 99 / 100] / 1000.0 : 0;
	printf("%-8s %9.0f req/s  p50 %7.1f us  p99 %7.1f us  (%d clients, "
	       "%zu requests, %d errors)\n",
	    name, *rps, total ? (double)all[total / 2] / 1000.0 : 0, *p99_us,
	    CLIENTS, total, errors);
	free(all);
}

int
main(int argc, char **argv)
{
	struct http_server_config hc;
	struct http_server *srv;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	pthread_t ut;
	double drps, dp99, grps, gp99;
	int ls, one = 1;

	(void)argc;
	(void)argv;
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 128) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
		perror("bench_gateway: upstream");
		return 1;
	}
	upstream_port = ntohs(sa.sin_port);
	pthread_create(&ut, NULL, upstream, (void *)(intptr_t)ls);
	pthread_detach(ut);
	http_server_config_default(&hc);
	hc.host = "127.0.0.1";
	hc.port = 0;
	hc.max_conns = 256;
	hc.max_conns_per_ip = 256;
	if (http_server_start(&hc, handler, NULL, &srv) < 0) {
		fprintf(stderr, "bench_gateway: server failed\n");
		return 1;
	}
	printf("-- upstream answering at once (worst case for a proxy)\n");
	measure("direct", upstream_port, "/", &drps, &dp99);
	measure("gateway", http_server_port(srv), "/l/l-1/web/", &grps, &gp99);
	printf("gateway/direct: %.2f of the requests per second, p99 %.1fx\n",
	    grps / drps, dp99 > 0 ? gp99 / dp99 : 0);
	printf("-- upstream spending 200 us per request\n");
	measure("direct", upstream_port, "/work", &drps, &dp99);
	measure("gateway", http_server_port(srv), "/l/l-1/web/work", &grps,
	    &gp99);
	printf("gateway/direct: %.2f of the requests per second (goal >= "
	       "0.60), p99 %.1fx\n",
	    grps / drps, dp99 > 0 ? gp99 / dp99 : 0);
	http_server_free(srv);
	return 0;
}
