/*
 * bench_sandbox_run: a sandbox start as a whole process, what an operator
 * or a script pays: `provider sandbox run -- /bin/true` (exec to exit)
 * next to `crun run` and `bwrap --unshare-all` of the same root (the
 * host's /usr read-only, /bin and /lib linked into it, /proc, /dev, a
 * /tmp), one of each per round in rotated order.  Prints the medians,
 * the ratios of medians (goals: <= 1.0x crun, <= 1.5x bwrap) and each
 * one's p99/p50 (goal for lodge: <= 3).  Also, for reference,
 * bin/provider-full (every library loaded, as bin/provider was).  Needs
 * root, crun and bwrap (make deps).  crun 1.8 refuses a hybrid host whose
 * cgroup2 has a controller: each run is started in a mount namespace of
 * its own, crun's without the cgroup2 mount, so that both crun and lodge
 * use the cgroup v1 controllers.
 * Usage: bench_sandbox_run SCRATCH_DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/bench/benchlib.h"

#define ROUNDS 100
#define WARMUP 5

enum { LODGE, CRUN, BWRAP, FULL, NTOOLS };
static const char *const tool_name[NTOOLS] = { "provider sandbox run",
	"crun run", "bwrap --unshare-all", "provider-full sandbox run" };

static char bundle[600], crun_root[600];

/* argv[0] run with stdio on /dev/null in a mount namespace of its own
 * (without the cgroup2 mount when hide_v2); the wall time from fork to
 * its exit, or 0 when it failed. */
static uint64_t
run_once(char *const argv[], int hide_v2)
{
	uint64_t t0 = util_mono_ns(), t1;
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return 0;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(126);
		if (hide_v2)
			(void)umount2("/sys/fs/cgroup/unified", MNT_DETACH);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	t1 = util_mono_ns();
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t1 - t0 : 0;
}

static uint64_t
run_tool(int tool, int i)
{
	char id[64];

	switch (tool) {
	case LODGE: {
		char *const argv[] = { "bin/provider", "sandbox", "run", "--",
			"/bin/true", NULL };
		return run_once(argv, 0);
	}
	case FULL: {
		char *const argv[] = { "bin/provider-full", "sandbox", "run",
			"--", "/bin/true", NULL };
		return run_once(argv, 0);
	}
	case CRUN: {
		snprintf(id, sizeof(id), "lodge-bench-%ld-%d", (long)getpid(),
		    i);
		char *const argv[] = { "crun", "--root", crun_root,
			"--cgroup-manager=cgroupfs", "run", "--bundle", bundle,
			id, NULL };
		return run_once(argv, 1);
	}
	default: {
		char *const argv[] = { "bwrap", "--unshare-all",
			"--die-with-parent", "--ro-bind", "/usr", "/usr",
			"--symlink", "usr/bin", "/bin", "--symlink", "usr/lib",
			"/lib", "--symlink", "usr/lib64", "/lib64", "--symlink",
			"usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev",
			"--tmpfs", "/tmp", "/bin/true", NULL };
		return run_once(argv, 0);
	}
	}
}

static int
sh(const char *cmd)
{
	return system(cmd);
}

/* The crun bundle: rootfs with the same links, /usr bound read-only. */
static int
make_bundle(const char *scratch)
{
	char cmd[4096];

	snprintf(bundle, sizeof(bundle), "%s/sandbox-run/bundle", scratch);
	snprintf(crun_root, sizeof(crun_root), "%s/sandbox-run/crun", scratch);
	snprintf(cmd, sizeof(cmd),
	    "set -e; mkdir -p %s/rootfs %s; cd %s; "
	    "for d in usr proc dev sys tmp; do mkdir -p rootfs/$d; done; "
	    "for l in bin lib lib64 sbin; do ln -sfn usr/$l rootfs/$l; done; "
	    "rm -f config.json; crun spec; "
	    "jq '.process.args = [\"/bin/true\"] | .process.terminal = false "
	    "| .root.readonly = true | .mounts += [{\"destination\": \"/usr\", "
	    "\"type\": \"bind\", \"source\": \"/usr\", \"options\": "
	    "[\"rbind\", \"ro\"]}, {\"destination\": \"/tmp\", \"type\": "
	    "\"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"nosuid\", "
	    "\"nodev\"]}]' config.json > c.json && mv c.json config.json",
	    bundle, crun_root, bundle);
	return sh(cmd);
}

static double
ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

int
main(int argc, char **argv)
{
	static uint64_t t[NTOOLS][ROUNDS];
	double p50[NTOOLS], p99[NTOOLS];
	size_t n[NTOOLS] = { 0 };
	unsigned long failed[NTOOLS] = { 0 };
	int r, k, tool;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_sandbox_run SCRATCH_DIR\n");
		return 2;
	}
	if (geteuid() != 0) {
		printf("bench_sandbox_run: skipped (needs root)\n");
		return 0;
	}
	if (access("bin/provider", X_OK) != 0 ||
	    access("bin/provider-full", X_OK) != 0 ||
	    sh("command -v crun >/dev/null && command -v bwrap >/dev/null "
	       "&& command -v jq >/dev/null") != 0) {
		printf("bench_sandbox_run: skipped (needs bin/provider, crun, "
		       "bwrap and jq: make && make deps)\n");
		return 0;
	}
	if (make_bundle(argv[1]) != 0) {
		printf("bench_sandbox_run: skipped (cannot make the crun "
		       "bundle)\n");
		return 0;
	}
	for (r = -WARMUP; r < ROUNDS; r++)
		for (k = 0; k < NTOOLS; k++) {
			tool = (k + (r < 0 ? 0 : r)) % NTOOLS;
			uint64_t v = run_tool(tool, r + WARMUP);
			if (r < 0)
				continue;
			if (v == 0)
				failed[tool]++;
			else
				t[tool][n[tool]++] = v;
		}
	for (tool = 0; tool < NTOOLS; tool++) {
		if (n[tool] == 0) {
			printf("bench_sandbox_run: %s failed every time\n",
			    tool_name[tool]);
			return 1;
		}
		bench_sort_u64(t[tool], n[tool]);
		p50[tool] = ms(bench_pct(t[tool], n[tool], 50));
		p99[tool] = ms(bench_pct(t[tool], n[tool], 99));
		printf("%-26s p50 %6.2f ms  p99 %6.2f ms  p99/p50 %4.1f  (%zu "
		       "runs, %lu failed)\n",
		    tool_name[tool], p50[tool], p99[tool],
		    p99[tool] / p50[tool], n[tool], failed[tool]);
	}
	printf("whole-process sandbox start, /bin/true, rounds in rotated "
	       "order: lodge/crun %.2fx (goal <= 1.0), lodge/bwrap %.2fx "
	       "(goal <= 1.5), lodge p99/p50 %.1f (goal <= 3)\n",
	    p50[LODGE] / p50[CRUN], p50[LODGE] / p50[BWRAP],
	    p99[LODGE] / p50[LODGE]);
	printf("(bin/provider-full, every library loaded: %.2fx crun, %.2fx "
	       "bwrap)\n",
	    p50[FULL] / p50[CRUN], p50[FULL] / p50[BWRAP]);
	return 0;
}
