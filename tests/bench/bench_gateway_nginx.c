/*
 * bench_gateway_nginx: the provider's gateway (gateway_forward in the
 * provider's HTTP server, as the daemon runs it) next to what an operator
 * would put there instead: nginx as a reverse proxy with a keep-alive
 * upstream pool, both in front of the same upstream (an epoll server
 * here answering at once, the worst case for a proxy; nginx keeps up to
 * 1,024 idle upstream connections and listens with the same backlog as
 * the gateway, 4,096, so neither churns connections), loaded by wrk at
 * 32, 256 and 1,000 keep-alive connections, gateway and nginx alternated,
 * medians of rounds.  Prints req/s and p99 as ratios to nginx's (goals:
 * >= 0.9x req/s, <= 1.5x p99) and each one's socket errors (resets) and
 * non-2xx answers (goal: none).  The same gateway with one event loop
 * (http_server_config.loops = 1) runs in the same rotation: its req/s is
 * printed, and the default's (one loop per core) as a ratio to it.
 * First, 10,000 idle keep-alive connections (each one request, then
 * silent, from 40 loopback addresses, opened by a child process with
 * descriptors of its own) are held by each gateway (so that both are in
 * the same state for the rotation): its RSS growth per connection, and
 * a second request on every one of them after a pause (goal: all
 * answered, no reset).  Needs nginx and wrk (make deps).
 * Usage: bench_gateway_nginx SCRATCH_DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http.h"
#include "common/util.h"
#include "provider/gateway.h"
#include "tests/bench/benchgw.h"
#include "tests/bench/benchlib.h"

#define ROUNDS 3
#define SECONDS 3
#define IDLE_CONNS 10000
#define IDLE_PER_ADDR 250

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 13\r\n\r\nhello, lodge\n";

/* A listening socket on 127.0.0.1 (port 0: any). */
static int
listen_on(uint16_t port, uint16_t *bound)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		close(fd);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}

/* The upstream: one epoll thread, a fixed answer per request head. */
struct uconn {
	int fd;
	size_t have;
	char buf[4096];
};

/* Out of epoll before the close: a fork (wrk's popen, nginx) may hold a
 * copy of the socket for a moment, which would keep it registered and
 * its events coming with c freed. */
static void
drop(int ep, struct uconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void *
upstream(void *arg)
{
	int ls = (int)(intptr_t)arg, ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL },
	                   evs[256];

	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			struct uconn *c = evs[i].data.ptr;
			if (c == NULL) {
				int fd, one = 1;
				while (
				    (fd = accept4(ls, NULL, NULL,
				         SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					if ((c = calloc(1, sizeof(*c))) ==
					    NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					struct epoll_event e = { .events =
						                     EPOLLIN,
						.data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				}
				continue;
			}
			ssize_t r = recv(c->fd, c->buf + c->have,
			    sizeof(c->buf) - 1 - c->have, 0);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				drop(ep, c);
				continue;
			}
			c->have += (size_t)r;
			c->buf[c->have] = '\0';
			char *end;
			int bad = 0;
			while ((end = strstr(c->buf, "\r\n\r\n")) != NULL) {
				size_t used = (size_t)(end - c->buf) + 4;
				if (send(c->fd, reply, sizeof(reply) - 1,
				        MSG_NOSIGNAL) != sizeof(reply) - 1)
					bad = 1;
				memmove(c->buf, c->buf + used, c->have - used);
				c->have -= used;
				c->buf[c->have] = '\0';
			}
			if (bad || c->have >= sizeof(c->buf) - 1)
				drop(ep, c);
		}
	}
	return NULL;
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

/* The child's side of the idle phase: IDLE_CONNS connections from
 * 127.0.0.2, .3, ... each with one request; "1" on out when they are
 * open, then (after a byte on in) one more request on each; the counts
 * on out. */
static void
idle_clients(uint16_t port, int in, int out)
{
	static const char q[] = "GET /l/l-1/web/ HTTP/1.1\r\nHost: x\r\n\r\n";
	static int fds[IDLE_CONNS];
	struct rlimit rl = { IDLE_CONNS + 256, IDLE_CONNS + 256 };
	unsigned opened = 0, failed = 0, ok2 = 0, failed2 = 0;
	char go, msg[128];

	(void)setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < IDLE_CONNS; i++) {
		struct sockaddr_in sa;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
		    one = 1;
		fds[i] = -1;
		if (fd < 0) {
			failed++;
			continue;
		}
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr =
		    htonl(0x7f000002u + (uint32_t)(i / IDLE_PER_ADDR));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			failed++;
			continue;
		}
		sa.sin_port = htons(port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    bench_http_exchange(fd, q, sizeof(q) - 1) != 200) {
			close(fd);
			failed++;
			continue;
		}
		fds[i] = fd;
		opened++;
	}
	(void)!write(out, "1", 1);
	if (read(in, &go, 1) != 1)
		_exit(1);
	for (int i = 0; i < IDLE_CONNS; i++) {
		if (fds[i] < 0)
			continue;
		if (bench_http_exchange(fds[i], q, sizeof(q) - 1) == 200)
			ok2++;
		else
			failed2++;
		close(fds[i]);
	}
	snprintf(msg, sizeof(msg), "%u %u %u %u", opened, failed, ok2, failed2);
	(void)!write(out, msg, strlen(msg));
	_exit(0);
}

/* The gateway (srv, in this process) holding IDLE_CONNS idle keep-alive
 * connections: RSS before and with them, then a request on each. */
static void
idle_phase(struct http_server *srv, const char *who)
{
	struct http_server_stats st;
	int to[2], from[2];
	unsigned opened = 0, failed = 0, ok2 = 0, failed2 = 0;
	long before, held;
	char c, msg[128] = "";
	ssize_t n;
	pid_t pid;

	if (pipe(to) < 0 || pipe(from) < 0)
		return;
	before = rss_kb();
	if ((pid = fork()) == 0) {
		close(to[1]);
		close(from[0]);
		idle_clients(http_server_port(srv), to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	if (pid < 0 || read(from[0], &c, 1) != 1) {
		printf("idle connections: the client failed\n");
		return;
	}
	sleep(3); /* idle */
	held = rss_kb();
	http_server_stats(srv, &st);
	(void)!write(to[1], "g", 1);
	n = read(from[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	sscanf(msg, "%u %u %u %u", &opened, &failed, &ok2, &failed2);
	waitpid(pid, NULL, 0);
	close(to[1]);
	close(from[0]);
	printf("%s: %u idle keep-alive connections held (%u failed to open; "
	       "server: %u open): RSS %ld -> %ld KiB, %.1f KiB per "
	       "connection; after 3 s idle, a request on each: %u answered, "
	       "%u failed or reset (goal: none)\n",
	    who, opened, failed, st.conns, before, held,
	    opened ? (double)(held - before) / opened : 0.0, ok2, failed2);
	fflush(stdout);
}

/* nginx in the foreground on port, proxying to the upstream with a
 * keep-alive pool; its pid, or -1. */
static pid_t
start_nginx(const char *dir, uint16_t port)
{
	char conf[700], text[8192];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	snprintf(text, sizeof(text),
	    "daemon off;\nworker_processes auto;\n"
	    "worker_rlimit_nofile 16384;\npid %s/nginx.pid;\n"
	    "error_log %s/nginx-error.log warn;\n"
	    "events { worker_connections 8192; }\n"
	    "http {\n access_log off;\n"
	    " client_body_temp_path %s/body;\n proxy_temp_path %s/proxy;\n"
	    " fastcgi_temp_path %s/fcgi;\n uwsgi_temp_path %s/uwsgi;\n"
	    " scgi_temp_path %s/scgi;\n keepalive_requests 100000000;\n"
	    " upstream up { server 127.0.0.1:%u; keepalive 1024; }\n"
	    " server {\n  listen 127.0.0.1:%u backlog=4096;\n"
	    "  location / { proxy_pass http://up; proxy_http_version 1.1; "
	    "proxy_set_header Connection \"\"; }\n }\n}\n",
	    dir, dir, dir, dir, dir, dir, dir, benchgw_upstream_port, port);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fputs(text, f);
	fclose(f);
	if ((pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* not outliving the bench */
		/* Debian's is in /usr/sbin, often not on a user's PATH. */
		execl("/usr/sbin/nginx", "nginx", "-q", "-p", dir, "-c", conf,
		    (char *)NULL);
		execlp("nginx", "nginx", "-q", "-p", dir, "-c", conf,
		    (char *)NULL);
		_exit(127);
	}
	/* Up once it answers. */
	for (int i = 0; i < 100; i++) {
		int fd = bench_connect(port);
		if (fd >= 0) {
			static const char q[] =
			    "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
			int st = bench_http_exchange(fd, q, sizeof(q) - 1);
			close(fd);
			if (st == 200)
				return pid;
		}
		usleep(50000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

int
main(int argc, char **argv)
{
	static const int conns[] = { 32, 256, 1000 };
	enum {
		NC = sizeof(conns) / sizeof(conns[0]),
		GW = 0,
		NG = 1,
		G1 = 2,
		NW = 3
	};
	static const char *const names[NW] = { "gateway", "nginx",
		"gateway, 1 loop" };
	double rps[NW][NC][ROUNDS], p99[NW][NC][ROUNDS];
	unsigned long errs[NW][NC] = { { 0 } }, resets[NW][NC] = { { 0 } },
	              bad[NW][NC] = { { 0 } };
	struct http_server_config hc;
	struct http_server *srv, *srv1;
	char dir[600], url[NW][128];
	uint16_t nport = 0;
	pthread_t ut;
	pid_t ng;
	int ls, fd, r, k, j;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_gateway_nginx SCRATCH_DIR\n");
		return 2;
	}
	if (!bench_wrk_available() ||
	    system("command -v nginx >/dev/null 2>&1 || "
	           "test -x /usr/sbin/nginx") != 0) {
		printf("bench_gateway_nginx: skipped (needs nginx and wrk: "
		       "make deps)\n");
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/gateway-nginx", argv[1]);
	if (util_mkdirs(dir, 0755) < 0) {
		fprintf(stderr, "bench_gateway_nginx: %s\n", err_msg());
		return 1;
	}
	if ((ls = listen_on(0, &benchgw_upstream_port)) < 0) {
		perror("bench_gateway_nginx: upstream");
		return 1;
	}
	fcntl(ls, F_SETFL, O_NONBLOCK); /* accepted until EAGAIN */
	pthread_create(&ut, NULL, upstream, (void *)(intptr_t)ls);
	pthread_detach(ut);
	http_server_config_default(&hc);
	hc.host = "127.0.0.1";
	hc.port = 0;
	{ /* room for the idle phase's connections (root may raise it) */
		struct rlimit rl = { 65536, 65536 };
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	hc.max_conns = 16384; /* at most the descriptors allow */
	hc.max_conns_per_ip = 4096;
	hc.route = benchgw_route;
	if (http_server_start(&hc, benchgw_handler, NULL, &srv) < 0) {
		fprintf(stderr, "bench_gateway_nginx: server: %s\n", err_msg());
		return 1;
	}
	hc.loops = 1;
	if (http_server_start(&hc, benchgw_handler, NULL, &srv1) < 0) {
		fprintf(stderr, "bench_gateway_nginx: server: %s\n", err_msg());
		return 1;
	}
	/* A free port for nginx. */
	if ((fd = listen_on(0, &nport)) < 0)
		return 1;
	close(fd);
	if ((ng = start_nginx(dir, nport)) < 0) {
		printf("bench_gateway_nginx: skipped (nginx did not start; "
		       "%s/nginx-error.log)\n",
		    dir);
		http_server_free(srv);
		http_server_free(srv1);
		return 0;
	}
	/* Both gateways: one that held 10,000 connections was measured
	 * 0.8x of an identical fresh one at 1,000 connections afterwards. */
	idle_phase(srv, "gateway");
	idle_phase(srv1, "gateway, 1 loop");
	snprintf(url[GW], sizeof(url[GW]), "http://127.0.0.1:%u/l/l-1/web/",
	    http_server_port(srv));
	snprintf(url[NG], sizeof(url[NG]), "http://127.0.0.1:%u/l/l-1/web/",
	    nport);
	snprintf(url[G1], sizeof(url[G1]), "http://127.0.0.1:%u/l/l-1/web/",
	    http_server_port(srv1));
	for (r = 0; r < ROUNDS; r++)
		for (k = 0; k < NC; k++)
			for (j = 0; j < NW; j++) {
				/* the order rotated each round */
				int who = (j + r) % NW;
				struct bench_wrk w;
				if (bench_wrk_run(url[who], conns[k], SECONDS,
				        &w) < 0) {
					printf("wrk failed (%s, %d "
					       "connections)\n",
					    names[who], conns[k]);
					w.rps = w.p99_us = 0;
				}
				printf("  %s, %d connections: %.0f req/s, p99 "
				       "%.2f ms\n",
				    names[who], conns[k], w.rps,
				    w.p99_us / 1e3);
				fflush(stdout);
				rps[who][k][r] = w.rps;
				p99[who][k][r] = w.p99_us;
				errs[who][k] += w.sock_errors;
				resets[who][k] += w.resets;
				bad[who][k] += w.non2xx;
			}
	for (k = 0; k < NC; k++) {
		double g = bench_median(rps[GW][k], ROUNDS),
		       n = bench_median(rps[NG][k], ROUNDS),
		       gp = bench_median(p99[GW][k], ROUNDS),
		       np = bench_median(p99[NG][k], ROUNDS),
		       g1 = bench_median(rps[G1][k], ROUNDS);
		printf("%4d connections: gateway %7.0f req/s p99 %7.2f ms | "
		       "nginx %7.0f req/s p99 %7.2f ms | req/s %.2fx (goal >= "
		       "0.9), p99 %.1fx (goal <= 1.5)\n",
		    conns[k], g, gp / 1e3, n, np / 1e3, n > 0 ? g / n : 0,
		    np > 0 ? gp / np : 0);
		printf("     socket errors (resets): gateway %lu (%lu), nginx "
		       "%lu (%lu); non-2xx: gateway %lu, nginx %lu (goal: "
		       "none)\n",
		    errs[GW][k], resets[GW][k], errs[NG][k], resets[NG][k],
		    bad[GW][k], bad[NG][k]);
		printf("     gateway with 1 event loop: %.0f req/s (%.2fx "
		       "nginx); the default's req/s %.2fx of it; its socket "
		       "errors %lu, non-2xx %lu\n",
		    g1, n > 0 ? g1 / n : 0, g1 > 0 ? g / g1 : 0, errs[G1][k],
		    bad[G1][k]);
	}
	{
		double la[3] = { 0, 0, 0 };
		(void)!getloadavg(la, 3);
		printf("gateway (%u event loops) vs nginx (keep-alive "
		       "upstream pool), upstream answering at once: medians "
		       "of %d rounds of %d s, wrk -t2; load average %.1f "
		       "%.1f %.1f\n",
		    http_server_loops(srv), ROUNDS, SECONDS, la[0], la[1],
		    la[2]);
	}
	kill(ng, SIGQUIT);
	waitpid(ng, NULL, 0);
	http_server_free(srv);
	http_server_free(srv1);
	return 0;
}
