/*
 * bench_wasm: the wasm sandbox side by side with its baselines, in one run:
 *  1. compute (n-body, examples/wasm-job): native cc -O2 vs the pipeline
 *     (wasm32-wasi -> wasm2c -> cc -O2), fuel on and off (goal <= 1.3x);
 *  2. a fresh-instance invocation of a small function, in process: the
 *     WAGI example (instantiate, run _start with CGI env, parse, free),
 *     and an empty function, p50/p99 (goal <= 50 us);
 *  3. HTTP: requests/s of the provider's HTTP server answering a fixed
 *     response, next to it answering with the WAGI function (fresh
 *     instance per request) in process, and through the gateway's path
 *     (gateway_wasm -> wasm_pool -> `provider wasm serve` workers in a
 *     process sandbox, as the daemon runs it), 4 keep-alive clients
 *     (goal >= 10,000 req/s);
 *  4. the same sandboxed WAGI path at 32, 256 and 1,000 keep-alive
 *     connections (wrk), req/s as ratios to 32 (goal >= 0.8 at 1,000),
 *     p99 and connection resets; medians of rounds in rotated order.
 * Usage: bench_wasm SCRATCH_DIR [scale] (needs clang for wasm32-wasi and
 * wabt; "scale": only part 4).
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http.h"
#include "common/util.h"
#include "provider/gateway.h"
#include "sandbox/sandbox.h"
#include "tests/bench/benchlib.h"
#include "wasm/pool.h"
#include "wasm/run.h"
#include "wasm/wagi.h"

#define NBODY_STEPS "3000000"
#define INVOCATIONS 20000
#define CLIENTS 4
#define SECONDS 2
#define MAX_SAMPLES 2000000

static char dir[512];

static int
sh(const char *fmt, const char *a)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), fmt, a, a, a, a);
	return system(cmd);
}

static struct wasm_program *
load(const char *path, int fuel)
{
	char *buf;
	size_t len;
	struct wasm_load_opts o;
	struct wasm_program *p = NULL;
	static char cache[600];
	wasm_load_opts_init(&o);
	snprintf(cache, sizeof(cache), "%s/wasm-cache", dir);
	o.compile.cache_dir = cache;
	o.compile.fuel = fuel;
	if (util_read_file(path, 64 << 20, &buf, &len) < 0 ||
	    wasm_program_load((uint8_t *)buf, len, &o, &p) < 0) {
		fprintf(stderr, "bench_wasm: %s: %s\n", path, err_msg());
		exit(1);
	}
	free(buf);
	return p;
}

/* ---- 1. compute ---- */

static double
run_native(const char *exe)
{
	uint64_t t0 = util_mono_ns();
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execl(exe, exe, NBODY_STEPS, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return (double)(util_mono_ns() - t0) / 1e6;
}

static double
run_wasm(const struct wasm_program *p, uint64_t *fuel)
{
	const char *argv[] = { "nbody", NBODY_STEPS };
	struct wasm_io io = { .argc = 2,
		.argv = argv,
		.stdin_fd = -1,
		.stdout_fd = -1,
		.stderr_fd = 2 };
	struct wasm_run_limits l = { .fuel = -1 };
	struct wasm_outcome oc;
	struct wasm_usage u;
	uint64_t t0 = util_mono_ns();
	if (wasm_program_run(p, &io, &l, &oc, &u) < 0 || oc.exit_code) {
		fprintf(stderr, "bench_wasm: nbody failed: %s\n", oc.message);
		exit(1);
	}
	*fuel = u.fuel;
	return (double)(util_mono_ns() - t0) / 1e6;
}

static double
best3(double a, double b, double c)
{
	double m = a < b ? a : b;
	return m < c ? m : c;
}

static void
bench_compute(void)
{
	char exe[600], exe2[600], wasm[600];
	uint64_t fuel = 0, f2;
	snprintf(exe, sizeof(exe), "%s/nbody-native", dir);
	snprintf(exe2, sizeof(exe2), "%s/nbody-native-clang", dir);
	snprintf(wasm, sizeof(wasm), "%s/nbody.wasm", dir);
	struct wasm_program *pf = load(wasm, 1), *pn = load(wasm, 0);
	double n = best3(run_native(exe), run_native(exe), run_native(exe));
	double nc = best3(run_native(exe2), run_native(exe2), run_native(exe2));
	double wf =
	    best3(run_wasm(pf, &fuel), run_wasm(pf, &f2), run_wasm(pf, &f2));
	double wn =
	    best3(run_wasm(pn, &f2), run_wasm(pn, &f2), run_wasm(pn, &f2));
	printf("-- compute: n-body %s steps (best of 3)\n", NBODY_STEPS);
	printf("native cc -O2        %8.1f ms  (the baseline: wasm2c output "
	       "is compiled by cc too)\n",
	    n);
	printf("native clang -O2     %8.1f ms  %.2fx cc\n", nc, nc / n);
	printf("wasm, fuel off       %8.1f ms  %.2fx native\n", wn, wn / n);
	printf("wasm, fuel on        %8.1f ms  %.2fx native (goal <= 1.30), "
	       "%.2fx clang, fuel %llu\n",
	    wf, wf / n, wf / nc, (unsigned long long)fuel);
	wasm_program_free(pf);
	wasm_program_free(pn);
}

/* ---- 2. fresh-instance invocations ---- */

static struct wasm_program *hello;

static void
invoke_hello(struct wasm_wagi_response *r)
{
	struct wasm_wagi_header h[] = { { "User-Agent", "bench" } };
	struct wasm_wagi_request q = { .method = "GET",
		.path = "/hello",
		.headers = h,
		.nheaders = 1 };
	struct wasm_run_limits l = { .fuel = 10000000,
		.memory_bytes = 16 << 20 };
	if (wasm_wagi_invoke(hello, &q, &l, r, NULL) < 0 || r->status != 200) {
		fprintf(stderr, "bench_wasm: invoke failed (%d)\n", r->status);
		exit(1);
	}
}

static void
percentiles(const char *name, uint64_t *ns, size_t n)
{
	bench_sort_u64(ns, n);
	printf("%-28s p50 %6.1f us  p99 %6.1f us  (%zu calls)\n", name,
	    (double)bench_pct(ns, n, 50) / 1e3,
	    (double)bench_pct(ns, n, 99) / 1e3, n);
}

static void
bench_invoke(void)
{
	char path[600];
	uint64_t *ns = malloc(INVOCATIONS * sizeof(*ns));
	snprintf(path, sizeof(path), "%s/empty.wasm", dir);
	struct wasm_program *empty = load(path, 1);
	int e = wasm_program_export(empty, "f", 1, WASM_EXT_FUNC);
	struct wasm_run_limits l = { .fuel = 1000 };
	for (int i = 0; i < INVOCATIONS; i++) {
		uint64_t t0 = util_mono_ns();
		struct wasm_instance *in;
		int trap;
		uint64_t res[1];
		wasm_instance_new(empty, NULL, &l, &in, &trap);
		wasm_instance_call(in, (uint32_t)e, NULL, res);
		wasm_instance_free(in);
		ns[i] = util_mono_ns() - t0;
	}
	printf("-- fresh instance per invocation, in process (goal p50 <= "
	       "50 us)\n");
	percentiles("empty function", ns, INVOCATIONS);
	for (int i = 0; i < INVOCATIONS; i++) {
		struct wasm_wagi_response r;
		uint64_t t0 = util_mono_ns();
		invoke_hello(&r);
		ns[i] = util_mono_ns() - t0;
		wasm_wagi_response_free(&r);
	}
	percentiles("WAGI hello (C, wasi-libc)", ns, INVOCATIONS);
	wasm_program_free(empty);
	free(ns);
}

/* ---- 3. HTTP ---- */

static void
fixed_handler(void *ctx, const struct http_request *req,
    struct http_response *resp)
{
	(void)ctx;
	(void)req;
	resp->status = 200;
	resp->content_type = "text/plain";
	resp->body =
	    strdup("hello from wasm: GET /hello (user agent: bench)\n");
	resp->body_len = strlen(resp->body);
}

static void
wagi_handler(void *ctx, const struct http_request *req,
    struct http_response *resp)
{
	struct wasm_wagi_response r;
	(void)ctx;
	(void)req;
	invoke_hello(&r);
	resp->status = r.status;
	resp->content_type = "text/plain";
	resp->body = malloc(r.body_len + 1);
	memcpy(resp->body, r.body, r.body_len);
	resp->body_len = r.body_len;
	wasm_wagi_response_free(&r);
}

/* The daemon's path: gateway_wasm into a pool of sandboxed workers. */
static struct wasm_pool *pool;

static void
pool_handler(void *ctx, const struct http_request *req,
    struct http_response *resp)
{
	struct wasm_run_limits l = { .fuel = 1000000000,
		.memory_bytes = 64u << 20,
		.wall_ms = 10000 };
	struct wasm_usage u;
	uint64_t egress;
	(void)ctx;
	gateway_wasm(req, pool, "", "/hello", &l, resp, &egress, &u);
}

/* Start `bin/provider wasm serve` in a sandbox, as the daemon does. */
static struct sandbox *
start_pool(const char *module)
{
	char root[600], *app = NULL;
	int ctl[2];
	struct sandbox_spec spec;
	struct sandbox *sb = NULL;
	static const char *const argv[] = { "/app/provider", "wasm", "serve",
		"/app/module.wasm", "--memory", "67108864", "--dir", "/data",
		NULL };
	static const char *const env[] = { "PATH=/usr/bin:/bin", "HOME=/tmp",
		"LANG=C.UTF-8", "LODGE_WASM_CACHE=/app/.wasm-cache", NULL };

	snprintf(root, sizeof(root), "%s/app", dir);
	if (access("bin/provider", X_OK) != 0 ||
	    wasm_app_prepare(module, root, "bin/provider", 64u << 20, &app) <
	        0 ||
	    wasm_pool_control_pair(ctl) < 0) {
		printf("sandboxed workers: skipped (%s)\n",
		    app ? err_msg() : "needs bin/provider: make");
		free(app);
		return NULL;
	}
	sandbox_spec_init(&spec);
	spec.argv = argv;
	spec.env = env;
	spec.name = "bench-wasm-pool";
	spec.app_dir = app;
	spec.memory_bytes = 512u << 20;
	spec.stdin_fd = ctl[1];
	spec.stderr_fd = 2;
	spec.die_with_parent = 1;
	if (sandbox_start(&spec, &sb) < 0) {
		printf("sandboxed workers: skipped (sandbox: %s)\n", err_msg());
		close(ctl[0]);
		sb = NULL;
	} else if (wasm_pool_new(ctl[0], 2, &pool) < 0) {
		printf("sandboxed workers: skipped (%s)\n", err_msg());
		sandbox_free(sb);
		sb = NULL;
	}
	close(ctl[1]);
	free(app);
	return sb;
}

/* ---- 4. WAGI at scale ---- */

#define SCALE_ROUNDS 3
#define SCALE_SECONDS 3

static void
bench_scale(const char *name, http_handler h)
{
	static const int conns[] = { 32, 256, 1000 };
	enum { NC = sizeof(conns) / sizeof(conns[0]) };
	double rps[NC][SCALE_ROUNDS], p99[NC][SCALE_ROUNDS], med[NC];
	unsigned long resets[NC] = { 0 }, errs[NC] = { 0 }, bad[NC] = { 0 };
	struct http_server_config hc;
	struct http_server *srv;
	struct wasm_pool_stats st;
	char url[128];
	int r, k;

	if (!bench_wrk_available()) {
		printf("WAGI at 32/256/1000 connections: skipped (needs wrk: "
		       "make deps)\n");
		return;
	}
	http_server_config_default(&hc);
	hc.host = "127.0.0.1";
	hc.port = 0;
	hc.max_conns = 4096;
	hc.max_conns_per_ip = 4096;
	if (http_server_start(&hc, h, NULL, &srv) < 0) {
		fprintf(stderr, "bench_wasm: server: %s\n", err_msg());
		exit(1);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello",
	    http_server_port(srv));
	for (r = 0; r < SCALE_ROUNDS; r++)
		for (int j = 0; j < NC; j++) {
			struct bench_wrk w;
			k = (j + r) % NC; /* each level first once */
			if (bench_wrk_run(url, conns[k], SCALE_SECONDS, &w) <
			    0) {
				printf("WAGI at scale: wrk failed at %d "
				       "connections\n",
				    conns[k]);
				w.rps = w.p99_us = 0;
			}
			rps[k][r] = w.rps;
			p99[k][r] = w.p99_us;
			resets[k] += w.resets;
			errs[k] += w.sock_errors;
			bad[k] += w.non2xx;
		}
	for (k = 0; k < NC; k++)
		med[k] = bench_median(rps[k], SCALE_ROUNDS);
	for (k = 0; k < NC; k++)
		printf("%s, %4d connections: %7.0f req/s (%.2fx of "
		       "32; goal at 1000 >= 0.80), p99 %6.1f ms, %lu socket "
		       "errors (%lu resets), %lu non-2xx\n",
		    name, conns[k], med[k], med[0] > 0 ? med[k] / med[0] : 0,
		    bench_median(p99[k], SCALE_ROUNDS) / 1e3, errs[k],
		    resets[k], bad[k]);
	if (h != pool_handler) {
		http_server_free(srv);
		return;
	}
	wasm_pool_stats(pool, &st);
	printf("WAGI at scale: medians of %d rounds of %d s (wrk -t2), %llu "
	       "requests, %llu worker deaths\n",
	    SCALE_ROUNDS, SCALE_SECONDS, (unsigned long long)st.requests,
	    (unsigned long long)st.worker_deaths);
	http_server_free(srv);
}

static const char *
hello_request(void *ctx, int c, size_t i, size_t *len)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: bench\r\n"
	                          "User-Agent: bench\r\n\r\n";

	(void)ctx;
	(void)c;
	(void)i;
	*len = sizeof(req) - 1;
	return req;
}

static double
measure(const char *name, http_handler h)
{
	struct http_server_config hc;
	struct http_server *srv;
	struct bench_load l = { .clients = CLIENTS,
		.seconds = SECONDS,
		.per_client = MAX_SAMPLES / CLIENTS,
		.want_status = 200,
		.request = hello_request };
	struct bench_result r;
	double rps;

	http_server_config_default(&hc);
	hc.host = "127.0.0.1";
	hc.port = 0;
	hc.max_conns = 256;
	hc.max_conns_per_ip = 256;
	if (http_server_start(&hc, h, NULL, &srv) < 0) {
		fprintf(stderr, "bench_wasm: server: %s\n", err_msg());
		exit(1);
	}
	l.port = http_server_port(srv);
	if (bench_load_run(&l, &r) < 0) {
		fprintf(stderr, "bench_wasm: out of memory or threads\n");
		exit(1);
	}
	rps = (double)r.n / r.seconds;
	printf("%-16s %9.0f req/s  p50 %7.1f us  p99 %7.1f us  (%d clients, "
	       "%zu errors)\n",
	    name, rps, (double)bench_pct(r.lat, r.n, 50) / 1e3,
	    (double)bench_pct(r.lat, r.n, 99) / 1e3, CLIENTS, r.errors);
	bench_result_free(&r);
	http_server_free(srv);
	return rps;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_wasm SCRATCH_DIR\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/wasm", argv[1]);
	if (sh("mkdir -p %s && clang --target=wasm32-wasi -O2 -o %s/nbody.wasm "
	       "examples/wasm-job/nbody.c",
	        dir) != 0 ||
	    sh("cc -O2 -o %s/nbody-native examples/wasm-job/nbody.c -lm",
	        dir) != 0 ||
	    sh("clang -O2 -o %s/nbody-native-clang examples/wasm-job/nbody.c "
	       "-lm",
	        dir) != 0 ||
	    sh("clang --target=wasm32-wasi -O2 -o %s/hello.wasm "
	       "examples/wasm-http/hello.c",
	        dir) != 0 ||
	    sh("printf '(module (func (export \"f\")))' > %s/empty.wat && "
	       "wat2wasm %s/empty.wat -o %s/empty.wasm",
	        dir) != 0) {
		printf("bench_wasm: skipped (needs clang wasm32-wasi and wabt: "
		       "make deps)\n");
		return 0;
	}
	int scale_only = argc > 2 && strcmp(argv[2], "scale") == 0;
	char path[600];
	snprintf(path, sizeof(path), "%s/hello.wasm", dir);
	hello = load(path, 1);
	double f = 1;
	if (!scale_only) {
		bench_compute();
		bench_invoke();
		printf("-- HTTP, provider HTTP server "
		       "(common/http_server.c), keep-alive\n");
		f = measure("fixed response", fixed_handler);
		double w = measure("WAGI in process", wagi_handler);
		printf("WAGI in process/fixed: %.2f\n", w / f);
	}
	struct sandbox *sb = start_pool(path);
	if (scale_only && getenv("BENCH_SCALE_FIXED"))
		bench_scale("fixed response", fixed_handler);
	if (sb && scale_only)
		bench_scale("WAGI sandboxed", pool_handler);
	else if (sb) {
		double g = measure("WAGI sandboxed", pool_handler);
		struct wasm_pool_stats st;
		wasm_pool_stats(pool, &st);
		printf(
		    "WAGI sandboxed (gateway -> 2 workers in a process "
		    "sandbox)/fixed: %.2f, %.0f req/s (goal >= 10000 req/s); "
		    "%llu requests, %llu worker deaths\n",
		    g / f, g, (unsigned long long)st.requests,
		    (unsigned long long)st.worker_deaths);
		bench_scale("WAGI sandboxed", pool_handler);
	}
	if (sb) {
		wasm_pool_close(pool);
		wasm_pool_free(pool);
		(void)sandbox_stop(sb, 1000, NULL);
		sandbox_free(sb);
	}
	wasm_program_free(hello);
	return 0;
}
