/*
 * benchlib: percentiles, a raw keep-alive HTTP/1.1 client and a
 * closed-loop load of client threads, shared by the benchmarks.
 */
#include "tests/bench/benchlib.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void
bench_sort_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t
bench_pct(const uint64_t *sorted, size_t n, unsigned q)
{
	return n ? sorted[n * q / 100 < n ? n * q / 100 : n - 1] : 0;
}

int
bench_connect(uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
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

int
bench_http_exchange(int fd, const char *req, size_t len)
{
	char buf[4096], *end = NULL, *cl;
	size_t have = 0, need = 0;
	int status = -1;
	ssize_t r;

	if (util_send_all(fd, req, len) < 0)
		return -1;
	for (;;) {
		if (end == NULL && have >= sizeof(buf) - 1)
			return -1;
		r = recv(fd, buf + (end ? 0 : have),
		    end ? sizeof(buf) : sizeof(buf) - 1 - have, 0);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		if (end == NULL) {
			buf[have] = '\0';
			if ((end = strstr(buf, "\r\n\r\n")) == NULL)
				continue;
			cl = strcasestr(buf, "content-length:");
			status = atoi(buf + 9);
			need = (size_t)(end - buf) + 4 +
			    (cl ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (have >= need)
			return status;
	}
}

struct client {
	const struct bench_load *l;
	int c;
	int64_t deadline_ns;
	uint64_t *lat;
	size_t n, errors;
};

static void *
client_run(void *arg)
{
	struct client *c = arg;
	const struct bench_load *l = c->l;
	int fd = bench_connect(l->port);

	for (size_t i = 0; i < l->per_client; i++) {
		uint64_t t0 = util_mono_ns();
		const char *req;
		size_t len;

		if (c->deadline_ns && (int64_t)t0 >= c->deadline_ns)
			break;
		req = l->request(l->ctx, c->c, i, &len);
		if (fd < 0 ||
		    bench_http_exchange(fd, req, len) != l->want_status) {
			c->errors++;
			if (fd >= 0)
				close(fd);
			fd = bench_connect(l->port);
			continue;
		}
		c->lat[c->n++] = util_mono_ns() - t0;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

int
bench_load_run(const struct bench_load *l, struct bench_result *r)
{
	struct client *c = calloc((size_t)l->clients, sizeof(*c));
	pthread_t *t = calloc((size_t)l->clients, sizeof(*t));
	uint64_t start = util_mono_ns();
	int i, started = 0, rc = -1;

	memset(r, 0, sizeof(*r));
	if (c == NULL || t == NULL ||
	    (r->lat = calloc((size_t)l->clients * l->per_client + 1,
	         sizeof(uint64_t))) == NULL)
		goto out;
	for (i = 0; i < l->clients; i++) {
		c[i].l = l;
		c[i].c = i;
		c[i].deadline_ns = l->seconds > 0 ?
		    (int64_t)start + (int64_t)(l->seconds * 1e9) :
		    0;
		c[i].lat = r->lat + (size_t)i * l->per_client;
		if (pthread_create(&t[i], NULL, client_run, &c[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	r->seconds = (double)(util_mono_ns() - start) / 1e9;
	/* pack each client's answers together, then sort */
	for (i = 0; i < started; i++) {
		memmove(r->lat + r->n, c[i].lat, c[i].n * sizeof(uint64_t));
		r->n += c[i].n;
		r->errors += c[i].errors;
	}
	bench_sort_u64(r->lat, r->n);
	rc = started == l->clients ? 0 : -1;
out:
	free(c);
	free(t);
	return rc;
}

void
bench_result_free(struct bench_result *r)
{
	free(r->lat);
	memset(r, 0, sizeof(*r));
}

int
bench_wrk_available(void)
{
	return system("command -v wrk >/dev/null 2>&1") == 0;
}

/* "1.23ms", "456.78us", "2.00s" in microseconds. */
static double
wrk_time_us(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (strncmp(end, "us", 2) == 0)
		return v;
	if (strncmp(end, "ms", 2) == 0)
		return v * 1e3;
	if (strncmp(end, "s", 1) == 0)
		return v * 1e6;
	if (strncmp(end, "m", 1) == 0)
		return v * 60e6;
	return v;
}

int
bench_wrk_run(const char *url, int conns, double seconds, struct bench_wrk *out)
{
	char cmd[1024], line[512];
	unsigned long c = 0, r = 0, w = 0, t = 0;
	int threads = conns < 2 ? 1 : 2, got = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(cmd, sizeof(cmd),
	    "wrk -t%d -c%d -d%.0fs --timeout 10s --latency '%s' 2>&1", threads,
	    conns, seconds < 1 ? 1 : seconds, url);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");
		if (strncmp(p, "50%", 3) == 0)
			out->p50_us = wrk_time_us(p + 3 + strspn(p + 3, " \t"));
		else if (strncmp(p, "99%", 3) == 0)
			out->p99_us = wrk_time_us(p + 3 + strspn(p + 3, " \t"));
		else if (sscanf(p, "%lu requests in", &out->requests) == 1)
			;
		else if (sscanf(p,
		             "Socket errors: connect %lu, read %lu, write %lu, "
		             "timeout %lu",
		             &c, &r, &w, &t) == 4) {
			out->sock_errors = c + r + w + t;
			out->resets = r;
		} else if (sscanf(p, "Non-2xx or 3xx responses: %lu",
		               &out->non2xx) == 1)
			;
		else if (sscanf(p, "Requests/sec: %lf", &out->rps) == 1)
			got = 1;
	}
	if (pclose(f) != 0 || !got)
		return -1;
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
