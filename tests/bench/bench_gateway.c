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
#include "tests/bench/benchgw.h"
#include "tests/bench/benchlib.h"

#define CLIENTS 4
#define SECONDS 2
#define MAX_SAMPLES 2000000

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 13\r\n\r\nhello, lodge\n";

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

/* The GET request for a path, built once per measure. */
static const char *
get_request(void *ctx, int c, size_t i, size_t *len)
{
	const char *req = ctx;

	(void)c;
	(void)i;
	*len = strlen(req);
	return req;
}

static void
measure(const char *name, uint16_t port, const char *path, double *rps,
    double *p99_us)
{
	char req[256];
	struct bench_load l = { .port = port,
		.clients = CLIENTS,
		.seconds = SECONDS,
		.per_client = MAX_SAMPLES / CLIENTS,
		.want_status = 200,
		.request = get_request,
		.ctx = req };
	struct bench_result r;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n",
	    path);
	if (bench_load_run(&l, &r) < 0) {
		fprintf(stderr, "bench_gateway: out of memory or threads\n");
		exit(1);
	}
	*rps = (double)r.n / r.seconds;
	*p99_us = (double)bench_pct(r.lat, r.n, 99) / 1000.0;
	printf("%-8s %9.0f req/s  p50 %7.1f us  p99 %7.1f us  (%d clients, "
	       "%zu requests, %zu errors)\n",
	    name, *rps, (double)bench_pct(r.lat, r.n, 50) / 1000.0, *p99_us,
	    CLIENTS, r.n, r.errors);
	bench_result_free(&r);
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
	benchgw_upstream_port = ntohs(sa.sin_port);
	pthread_create(&ut, NULL, upstream, (void *)(intptr_t)ls);
	pthread_detach(ut);
	http_server_config_default(&hc);
	hc.host = "127.0.0.1";
	hc.port = 0;
	hc.max_conns = 256;
	hc.max_conns_per_ip = 256;
	hc.route = benchgw_route;
	if (http_server_start(&hc, benchgw_handler, NULL, &srv) < 0) {
		fprintf(stderr, "bench_gateway: server failed\n");
		return 1;
	}
	printf("-- upstream answering at once (worst case for a proxy)\n");
	measure("direct", benchgw_upstream_port, "/", &drps, &dp99);
	measure("gateway", http_server_port(srv), "/l/l-1/web/", &grps, &gp99);
	printf("gateway/direct: %.2f of the requests per second, p99 %.1fx\n",
	    grps / drps, dp99 > 0 ? gp99 / dp99 : 0);
	printf("-- upstream spending 200 us per request\n");
	measure("direct", benchgw_upstream_port, "/work", &drps, &dp99);
	measure("gateway", http_server_port(srv), "/l/l-1/web/work", &grps,
	    &gp99);
	printf("gateway/direct: %.2f of the requests per second (goal >= "
	       "0.60), p99 %.1fx\n",
	    grps / drps, dp99 > 0 ? gp99 / dp99 : 0);
	http_server_free(srv);
	return 0;
}
