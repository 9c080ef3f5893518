/*
 * bench_wasm_mix: WebAssembly compute on mixed C programs
 * (examples/wasm-bench: sorting, hashing, indirect calls, floating point,
 * memory-heavy loops, recursion, and a mix), each run as a whole
 * `provider wasm run` process with fuel (what a wasm job runs) against
 * the native `cc -O2` binary of the same source, in the same run: N
 * alternated pairs per program (native then wasm, wasm then native, ...;
 * wasm with fuel off alongside).  A program's figure is the median of its
 * pairs' ratios of wall time (and of CPU time, user + system of the whole
 * process tree, as a check on a loaded machine); the summary is their
 * geometric mean.  Goal: <= 1.3x with fuel.
 * Usage: bench_wasm_mix SCRATCH_DIR [PROGRAM...] (needs clang for
 * wasm32-wasi and wabt; BENCH_WASM_PAIRS sets N, default 5).
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#define FUEL "1000000000000"
#define MAX_PAIRS 101

static const char *const all_programs[] = { "sort", "hash", "interp", "float",
	"memory", "recurse", "mix", NULL };

static char dir[512], provider[1024];

struct sample {
	double wall, cpu; /* seconds */
};

/* Run argv with stdout to out_path (or /dev/null); 0 if it exited 0. */
static int
run(const char *const *argv, const char *out_path, struct sample *s)
{
	uint64_t t0 = util_mono_ns();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(out_path ? out_path : "/dev/null",
		    O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_WRONLY);
		if (fd < 0 || null < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(null, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0)
		return -1;
	if (s) {
		s->wall = (double)(util_mono_ns() - t0) / 1e9;
		s->cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
same_file(const char *a, const char *b)
{
	char *x = NULL, *y = NULL;
	size_t nx = 0, ny = 0;
	int same = util_read_file(a, 1 << 20, &x, &nx) == 0 &&
	    util_read_file(b, 1 << 20, &y, &ny) == 0 && nx == ny &&
	    memcmp(x, y, nx) == 0;
	free(x);
	free(y);
	return same;
}

/* Build p natively and for wasm32-wasi, compile the module (fuel on and
 * off) into the cache, and check that both print the same. */
static int
build(const char *p)
{
	char cmd[8192], nat[700], wasm[700], o1[700], o2[700];
	snprintf(nat, sizeof(nat), "%s/%s", dir, p);
	snprintf(wasm, sizeof(wasm), "%s/%s.wasm", dir, p);
	snprintf(cmd, sizeof(cmd),
	    "cc -O2 -o %s examples/wasm-bench/%s.c -lm && "
	    "clang --target=wasm32-wasi -O2 -o %s examples/wasm-bench/%s.c "
	    "&& %s wasm compile %s > /dev/null && "
	    "%s wasm compile --no-fuel %s > /dev/null",
	    nat, p, wasm, p, provider, wasm, provider, wasm);
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_wasm_mix: building %s failed\n", p);
		return -1;
	}
	snprintf(o1, sizeof(o1), "%s/%s.native.out", dir, p);
	snprintf(o2, sizeof(o2), "%s/%s.wasm.out", dir, p);
	const char *na[] = { nat, NULL };
	const char *wa[] = { provider, "wasm", "run", "--fuel", FUEL, wasm,
		NULL };
	if (run(na, o1, NULL) < 0 || run(wa, o2, NULL) < 0 ||
	    !same_file(o1, o2)) {
		fprintf(stderr,
		    "bench_wasm_mix: %s: the wasm run failed or printed "
		    "other than native (%s, %s)\n",
		    p, o1, o2);
		return -1;
	}
	return 0;
}

struct figures {
	double nat_wall, fuel_wall, nofuel_wall; /* medians, seconds */
	double fuel, fuel_cpu, nofuel, nofuel_cpu; /* median ratios */
};

static int
measure(const char *p, int pairs, struct figures *f)
{
	char nat[700], wasm[700];
	double nw[MAX_PAIRS], fw[MAX_PAIRS], uw[MAX_PAIRS];
	double rf[MAX_PAIRS], rfc[MAX_PAIRS], ru[MAX_PAIRS], ruc[MAX_PAIRS];
	snprintf(nat, sizeof(nat), "%s/%s", dir, p);
	snprintf(wasm, sizeof(wasm), "%s/%s.wasm", dir, p);
	const char *na[] = { nat, NULL };
	const char *wa[] = { provider, "wasm", "run", "--fuel", FUEL, wasm,
		NULL };
	const char *ua[] = { provider, "wasm", "run", "--no-fuel", wasm, NULL };
	for (int i = 0; i < pairs; i++) {
		struct sample n, w, u;
		int rc;
		/* alternate the order, so that a drift in the machine's load
		 * weighs on both sides */
		if (i % 2 == 0)
			rc = run(na, NULL, &n) | run(wa, NULL, &w) |
			    run(ua, NULL, &u);
		else
			rc = run(ua, NULL, &u) | run(wa, NULL, &w) |
			    run(na, NULL, &n);
		if (rc) {
			fprintf(stderr, "bench_wasm_mix: %s: a run failed\n",
			    p);
			return -1;
		}
		nw[i] = n.wall;
		fw[i] = w.wall;
		uw[i] = u.wall;
		rf[i] = w.wall / n.wall;
		rfc[i] = w.cpu / n.cpu;
		ru[i] = u.wall / n.wall;
		ruc[i] = u.cpu / n.cpu;
	}
	f->nat_wall = median(nw, pairs);
	f->fuel_wall = median(fw, pairs);
	f->nofuel_wall = median(uw, pairs);
	f->fuel = median(rf, pairs);
	f->fuel_cpu = median(rfc, pairs);
	f->nofuel = median(ru, pairs);
	f->nofuel_cpu = median(ruc, pairs);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *env = getenv("BENCH_WASM_PAIRS");
	int pairs = env ? atoi(env) : 5;
	const char *const *progs = all_programs;
	char cache[600], cwd[512];
	double lf = 0, lfc = 0, lu = 0, luc = 0;
	int n = 0;

	if (argc < 2) {
		fprintf(stderr,
		    "usage: bench_wasm_mix SCRATCH_DIR "
		    "[PROGRAM...]\n");
		return 2;
	}
	if (pairs < 1 || pairs > MAX_PAIRS)
		pairs = 5;
	if (argc > 2)
		progs = (const char *const *)argv + 2;
	if (system("command -v clang > /dev/null && command -v wasm2c > "
	           "/dev/null") != 0) {
		printf("bench_wasm_mix: skipped (clang or wasm2c is not "
		       "installed: make deps)\n");
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	snprintf(dir, sizeof(dir), "%s/wasm-mix", argv[1]);
	snprintf(provider, sizeof(provider), "%s/bin/provider", cwd);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	if (util_mkdirs(dir, 0700) < 0 || access(provider, X_OK) != 0) {
		fprintf(stderr, "bench_wasm_mix: %s or %s missing (make)\n",
		    dir, provider);
		return 1;
	}
	setenv("LODGE_WASM_CACHE", cache, 1);
	for (int i = 0; progs[i]; i++)
		if (build(progs[i]) < 0)
			return 1;
	printf("-- WebAssembly (`provider wasm run`, fuel on) vs native cc -O2 "
	       "of the same C, whole processes, median of %d alternated "
	       "pairs\n",
	    pairs);
	printf("%-8s %9s %9s %7s %7s %9s %7s %7s\n", "program", "native",
	    "wasm", "ratio", "cpu", "no-fuel", "ratio", "cpu");
	for (int i = 0; progs[i]; i++) {
		struct figures f;
		if (measure(progs[i], pairs, &f) < 0)
			return 1;
		printf("%-8s %7.0fms %7.0fms %6.2fx %6.2fx %7.0fms %6.2fx "
		       "%6.2fx\n",
		    progs[i], f.nat_wall * 1e3, f.fuel_wall * 1e3, f.fuel,
		    f.fuel_cpu, f.nofuel_wall * 1e3, f.nofuel, f.nofuel_cpu);
		lf += log(f.fuel);
		lfc += log(f.fuel_cpu);
		lu += log(f.nofuel);
		luc += log(f.nofuel_cpu);
		n++;
	}
	printf("geometric mean: fuel on %.2fx native (cpu %.2fx; goal <= "
	       "1.30), fuel off %.2fx (cpu %.2fx)\n",
	    exp(lf / n), exp(lfc / n), exp(lu / n), exp(luc / n));
	return 0;
}
