/*
 * bench_sandbox: sandbox start latency, request -> the workload's first
 * instruction (its execve has succeeded: sandbox_start returns when the
 * close-on-exec report pipe closes), p50/p99 over N starts, next to plain
 * fork+execve of the same program measured the same way.  Needs root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/sandbox.h"
#include "tests/bench/benchlib.h"

#define N 200

/* fork + execve, timed until the exec closes a CLOEXEC pipe. */
static uint64_t
plain_once(const char *path)
{
	char *const argv[] = { (char *)path, NULL };
	char *const envp[] = { NULL };
	uint64_t t0 = util_mono_ns(), t1;
	int p[2], st;
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		execve(path, argv, envp);
		_exit(127);
	}
	close(p[1]);
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		;
	t1 = util_mono_ns();
	close(p[0]);
	waitpid(pid, &st, 0);
	return t1 - t0;
}

static uint64_t
sandbox_once(const char *path, int i)
{
	const char *argv[] = { path, NULL };
	struct sandbox_spec spec;
	struct sandbox *sb = NULL;
	char name[64];
	uint64_t t0, t1;
	int exited = 0, st;

	sandbox_spec_init(&spec);
	snprintf(name, sizeof(name), "bench-%ld-%d", (long)getpid(), i);
	spec.name = name;
	spec.argv = argv;
	spec.memory_bytes = 64u << 20;
	spec.pids_max = 64;
	spec.cpu_millis = 1000;
	t0 = util_mono_ns();
	if (sandbox_start(&spec, &sb) < 0) {
		fprintf(stderr, "bench_sandbox: %s\n", err_msg());
		exit(1);
	}
	t1 = util_mono_ns();
	while (!exited)
		if (sandbox_wait(sb, -1, &exited, &st) < 0)
			break;
	sandbox_free(sb);
	return t1 - t0;
}

static void
report(const char *what, uint64_t *v, double *p50_out)
{
	double p50, p99;

	bench_sort_u64(v, N);
	p50 = (double)bench_pct(v, N, 50) / 1e6;
	p99 = (double)bench_pct(v, N, 99) / 1e6;
	printf("%-28s n=%d p50=%.3f ms p99=%.3f ms\n", what, N, p50, p99);
	*p50_out = p50;
}

int
main(void)
{
	static uint64_t plain[N], sand[N];
	const char *path = "/bin/true";
	double p_plain, p_sand;
	int i;

	if (geteuid() != 0) {
		printf("bench_sandbox: skipped (needs root)\n");
		return 0;
	}
	for (i = 0; i < N; i++) {
		plain[i] = plain_once(path);
		sand[i] = sandbox_once(path, i);
	}
	report("plain fork+exec", plain, &p_plain);
	report("sandbox start (cgroup, ns)", sand, &p_sand);
	printf(
	    "sandbox/plain p50 ratio: %.1fx (goal: sandbox p50 <= 5 ms: %s)\n",
	    p_sand / p_plain, p_sand <= 5.0 ? "met" : "missed");
	return 0;
}
