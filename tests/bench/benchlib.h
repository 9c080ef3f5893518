/*
 * benchlib: what the benchmarks share: sorted latencies and their
 * percentiles, a minimal keep-alive HTTP/1.1 client over a raw socket (the
 * load generator shares the two cores with what it measures, so it should
 * cost as little as possible), and a closed-loop load of client threads.
 */
#ifndef LODGE_TESTS_BENCH_BENCHLIB_H
#define LODGE_TESTS_BENCH_BENCHLIB_H

#include <stddef.h>
#include <stdint.h>

/* Sort v[0..n) ascending. */
void bench_sort_u64(uint64_t *v, size_t n);
/* The q-th percentile (0..100) of sorted v[0..n): v[n * q / 100]; 0 when
 * n is 0. */
uint64_t bench_pct(const uint64_t *sorted, size_t n, unsigned q);

/* A TCP connection to 127.0.0.1:port with TCP_NODELAY, or -1. */
int bench_connect(uint16_t port);
/* Send req (len bytes) on fd and read one Content-Length framed answer
 * (its head at most 4 KiB).  Returns its HTTP status, or -1 when the
 * connection failed or the answer could not be read. */
int bench_http_exchange(int fd, const char *req, size_t len);

/* A closed loop: `clients` threads, each on its own keep-alive
 * connection, sends requests one after another (reconnecting after an
 * error) until `seconds` pass or it has sent `per_client`. */
struct bench_load {
	uint16_t port;
	int clients;
	double seconds; /* 0: no time limit */
	size_t per_client; /* requests each at most */
	int want_status; /* any other answer is an error */
	/* the i-th request of client c, and its length (borrowed) */
	const char *(*request)(void *ctx, int c, size_t i, size_t *len);
	void *ctx;
};

struct bench_result {
	uint64_t *lat; /* ns per answered request, sorted; owned */
	size_t n; /* answered requests (want_status) */
	size_t errors; /* other answers and failed connections */
	double seconds; /* wall time of the whole load */
};

/* Run the load; r gets the latencies (free with bench_result_free).
 * Returns 0, or -1 when memory or threads ran out. */
int bench_load_run(const struct bench_load *l, struct bench_result *r);
void bench_result_free(struct bench_result *r);

#endif

/* One run of wrk (Debian's wrk, an event-driven load generator: two
 * threads whatever the connection count, so 1,000 connections cost the
 * machine what 32 do) against url with `conns` keep-alive connections
 * for `seconds`. */
struct bench_wrk {
	double rps; /* answered requests per second */
	double p50_us, p99_us; /* latency percentiles (wrk --latency) */
	unsigned long requests; /* answered */
	unsigned long sock_errors; /* connect + read + write + timeout */
	unsigned long resets; /* read errors: connections reset or cut */
	unsigned long non2xx; /* answers other than 2xx/3xx */
};

/* 1 when wrk is installed, else 0. */
int bench_wrk_available(void);

/* Run wrk; 0 with *out filled, -1 when wrk could not run or its output
 * had no Requests/sec line. */
int bench_wrk_run(const char *url, int conns, double seconds,
    struct bench_wrk *out);

/* The median of v[0..n) (v is reordered). */
double bench_median(double *v, size_t n);
