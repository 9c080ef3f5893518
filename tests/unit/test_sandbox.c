/*
 * test_sandbox: the pure parts of the sandbox and its cgroup module: size
 * and CPU parsing, the usage line, cgroup file parsing, and the v2/v1
 * limit writes and usage reads against fake hierarchies in a temp dir
 * (the real v2 controllers are not available on every CI host), and a
 * failed start's message surviving its cleanup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "sandbox/volume.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/tool.h"

static void
test_parse_size_accepts_units(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(sandbox_parse_size("1048576", "x", &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(sandbox_parse_size("64M", "x", &v), 0);
	assert_int_equal(v, 64u << 20);
	assert_int_equal(sandbox_parse_size("1Gi", "x", &v), 0);
	assert_int_equal(v, 1u << 30);
	assert_int_equal(sandbox_parse_size("512k", "x", &v), 0);
	assert_int_equal(v, 512u << 10);
	assert_int_equal(sandbox_parse_size("2MB", "x", &v), 0);
	assert_int_equal(v, 2000000);
	assert_int_equal(sandbox_parse_size("3MiB", "x", &v), 0);
	assert_int_equal(v, 3u << 20);
	/* docker's lower-case units, as `provider wasm run --memory 64m` */
	assert_int_equal(sandbox_parse_size("64m", "x", &v), 0);
	assert_int_equal(v, 64u << 20);
	assert_int_equal(sandbox_parse_size("2g", "x", &v), 0);
	assert_int_equal(v, 2ull << 30);
}

static void
test_parse_uid_and_cgroup_mode(void **state)
{
	enum cgroup_mode m;
	uid_t uid;

	(void)state;
	assert_int_equal(sandbox_parse_uid("1000", "--uid", &uid), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(sandbox_parse_uid("0", "--uid", &uid), ERR_RANGE);
	assert_non_null(strstr(err_msg(), "--uid: 0 is not a non-root uid"));
	assert_int_equal(sandbox_parse_uid("4294967295", "--uid", &uid),
	    ERR_RANGE);
	assert_true(sandbox_parse_uid("12a", "--uid", &uid) < 0);
	assert_int_equal(cgroup_mode_parse("v1", "--cgroup", &m), 0);
	assert_int_equal(m, CGROUP_V1);
	assert_int_equal(cgroup_mode_parse("none", "--cgroup", &m), 0);
	assert_int_equal(m, CGROUP_NONE);
	assert_int_equal(cgroup_mode_parse("auto", "--cgroup", &m), 0);
	assert_int_equal(m, CGROUP_AUTO);
	assert_int_equal(cgroup_mode_parse("v3", "--cgroup", &m), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "--cgroup: \"v3\""));
}

static void
test_parse_size_rejects_garbage_and_overflow(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(sandbox_parse_size("", "--memory", &v), ERR_INVAL);
	assert_int_equal(sandbox_parse_size("-1M", "--memory", &v), ERR_INVAL);
	assert_int_equal(sandbox_parse_size("12Q", "--memory", &v), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "--memory"));
	assert_non_null(strstr(err_msg(), "\"Q\""));
	assert_int_equal(sandbox_parse_size("99999999999999999999", "x", &v),
	    ERR_RANGE);
	assert_int_equal(sandbox_parse_size("99999999999T", "x", &v),
	    ERR_RANGE);
}

static void
test_parse_cpu_units_and_millis(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(sandbox_parse_cpu("1", "x", &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(sandbox_parse_cpu("0.5", "x", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(sandbox_parse_cpu("2.25", "x", &v), 0);
	assert_int_equal(v, 2250);
	assert_int_equal(sandbox_parse_cpu("250m", "x", &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(sandbox_parse_cpu("0.0001", "x", &v), ERR_INVAL);
	assert_int_equal(sandbox_parse_cpu("1.", "x", &v), ERR_INVAL);
	assert_int_equal(sandbox_parse_cpu(".5", "x", &v), ERR_INVAL);
	assert_int_equal(sandbox_parse_cpu("1x", "x", &v), ERR_INVAL);
}

static void
test_usage_line_format(void **state)
{
	struct sandbox_usage u = { 12, 345, 6789, 1, 4, SANDBOX_METER_CGROUP1 };
	char buf[256];

	(void)state;
	sandbox_format_usage(&u, buf, sizeof(buf));
	assert_string_equal(buf,
	    "usage: cpu_ms=12 wall_ms=345 "
	    "mem_peak_bytes=6789 oom=1 pids_peak=4 metering=cgroup1");
	u.oom_kills = 0;
	u.metering = SANDBOX_METER_RUSAGE;
	sandbox_format_usage(&u, buf, sizeof(buf));
	assert_non_null(strstr(buf, "oom=0 "));
	assert_non_null(strstr(buf, "metering=rusage"));
}

static void
test_exit_code_of_wait_status(void **state)
{
	(void)state;
	assert_int_equal(sandbox_exit_code(7 << 8), 7);
	assert_int_equal(sandbox_exit_code(SIGKILL), 137);
	assert_int_equal(sandbox_exit_code(SIGTERM), 143);
}

static void
test_cgroup_parse_keyed_files(void **state)
{
	const char *cpu_stat = "usage_usec 123456\nuser_usec 100000\n"
	                       "system_usec 23456\n";
	const char *oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
	const char *events = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 2\n"
	                     "oom_group_kill 0\n";
	uint64_t v;

	(void)state;
	assert_int_equal(cgroup_parse_keyed(cpu_stat, "usage_usec", &v), 0);
	assert_int_equal(v, 123456);
	assert_int_equal(cgroup_parse_keyed(oom, "oom_kill", &v), 0);
	assert_int_equal(v, 3);
	/* "oom_kill" must not match "oom_kill_disable" nor "oom" "oom_kill" */
	assert_int_equal(cgroup_parse_keyed(events, "oom_kill", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cgroup_parse_keyed(events, "oom", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cgroup_parse_keyed(events, "nope", &v), ERR_NOTFOUND);
	assert_int_equal(cgroup_parse_value("max\n", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(cgroup_parse_value("67108864\n", &v), 0);
	assert_int_equal(v, 67108864);
	assert_int_equal(cgroup_parse_value("x", &v), ERR_INVAL);
}

/* favordynmods is added to the cgroup2 mount with the options it has:
 * they are read from mountinfo, the last mount at a point winning. */
static void
test_cgroup_mount_superopts_from_mountinfo(void **state)
{
	static const char mi[] =
	    "25 1 0:23 / /sys rw,nosuid - sysfs sysfs rw\n"
	    "31 25 0:27 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs "
	    "ro,mode=755\n"
	    "32 31 0:28 / /sys/fs/cgroup/unified rw,nosuid,nodev shared:10 - "
	    "cgroup2 cgroup2 rw,nsdelegate\n"
	    "33 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
	    "40 32 0:28 / /sys/fs/cgroup/unified rw - cgroup2 none "
	    "rw,nsdelegate,memory_recursiveprot\n"
	    "41 25 0:30 / /sys/fs/cgroup/unifiedx rw - cgroup2 cgroup2 rw";
	char opts[128];

	(void)state;
	assert_int_equal(cgroup_mount_superopts(mi, "/sys/fs/cgroup/unified",
	                     "cgroup2", opts, sizeof(opts)),
	    0);
	assert_string_equal(opts, "rw,nsdelegate,memory_recursiveprot");
	assert_int_equal(cgroup_mount_superopts(mi, "/sys/fs/cgroup/cpu",
	                     "cgroup", opts, sizeof(opts)),
	    0);
	assert_string_equal(opts, "rw,cpu");
	assert_int_equal(cgroup_mount_superopts(mi, "/sys/fs/cgroup", "cgroup2",
	                     opts, sizeof(opts)),
	    ERR_NOTFOUND);
	assert_int_equal(
	    cgroup_mount_superopts(mi, "/sys/fs", "sysfs", opts, sizeof(opts)),
	    ERR_NOTFOUND);
	assert_true(
	    cgroup_has_option("rw,nsdelegate,favordynmods", "favordynmods"));
	assert_true(cgroup_has_option("favordynmods", "favordynmods"));
	assert_false(cgroup_has_option("rw,nofavordynmods", "favordynmods"));
	assert_false(cgroup_has_option("rw,favordynmodsx", "favordynmods"));
	assert_false(cgroup_has_option("", "favordynmods"));
}

static void
test_cgroup_controllers_and_cpu_max(void **state)
{
	char buf[64];

	(void)state;
	assert_true(
	    cgroup_has_controller("cpuset cpu io memory pids\n", "cpu"));
	assert_true(
	    cgroup_has_controller("cpuset cpu io memory pids\n", "pids"));
	assert_false(cgroup_has_controller("cpuset io memory\n", "cpu"));
	assert_false(cgroup_has_controller("hugetlb\n", "memory"));
	cgroup_format_cpu_max(500, buf, sizeof(buf));
	assert_string_equal(buf, "50000 100000");
	cgroup_format_cpu_max(2000, buf, sizeof(buf));
	assert_string_equal(buf, "200000 100000");
	cgroup_format_cpu_max(1, buf, sizeof(buf));
	assert_string_equal(buf, "1000 100000");
	cgroup_format_cpu_max(0, buf, sizeof(buf));
	assert_string_equal(buf, "max 100000");
}

static void
test_cgroup_names_are_checked(void **state)
{
	(void)state;
	assert_int_equal(cgroup_check_name("lodge", "p"), 0);
	assert_int_equal(cgroup_check_name("lodge/leases", "p"), 0);
	assert_int_equal(cgroup_check_name("../etc", "p"), ERR_INVAL);
	assert_int_equal(cgroup_check_name("/abs", "p"), ERR_INVAL);
	assert_int_equal(cgroup_check_name("a b", "p"), ERR_INVAL);
	assert_int_equal(cgroup_check_name("", "p"), ERR_INVAL);
}

/* ---- fake hierarchies ---- */

static char tmpdir[256];

static void
put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
get(const char *rel, char *buf, size_t len)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void
mk(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int
setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sandbox.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown_tmp(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_cgroup_v2_writes_limits_and_reads_usage(void **state)
{
	static const char *const files[] = {
		"cgroup.procs",
		"cpu.max",
		"memory.max",
		"memory.swap.max",
		"pids.max",
		"cgroup.kill",
	};
	struct cgroup_config cfg = { CGROUP_V2, tmpdir, NULL };
	struct cgroup_limits lim = { 1500, 64u << 20, 32 };
	struct cgroup_usage u;
	struct cgroup *cg = NULL;
	char buf[128], rel[128];
	char *why = NULL;
	size_t i;

	(void)state;
	put("cgroup.controllers", "cpuset cpu io memory pids\n");
	put("cgroup.subtree_control", "");
	mk("lodge");
	put("lodge/cgroup.subtree_control", "");
	mk("lodge/lease1");
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(rel, sizeof(rel), "lodge/lease1/%s", files[i]);
		put(rel, "");
	}
	assert_int_equal(cgroup_new(&cfg, "lodge", "lease1", &lim, &cg, &why),
	    0);
	assert_null(why);
	assert_int_equal(cgroup_mode(cg), CGROUP_V2);
	get("cgroup.subtree_control", buf, sizeof(buf));
	assert_string_equal(buf, "+cpu +memory +pids");
	get("lodge/cgroup.subtree_control", buf, sizeof(buf));
	assert_string_equal(buf, "+cpu +memory +pids");
	get("lodge/lease1/cpu.max", buf, sizeof(buf));
	assert_string_equal(buf, "150000 100000");
	get("lodge/lease1/memory.max", buf, sizeof(buf));
	assert_string_equal(buf, "67108864");
	get("lodge/lease1/memory.swap.max", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	get("lodge/lease1/pids.max", buf, sizeof(buf));
	assert_string_equal(buf, "32");

	put("lodge/lease1/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\n");
	put("lodge/lease1/memory.peak", "12345678\n");
	put("lodge/lease1/memory.events",
	    "low 0\nhigh 0\nmax 4\noom 1\n"
	    "oom_kill 1\noom_group_kill 0\n");
	put("lodge/lease1/pids.peak", "17\n");
	assert_int_equal(cgroup_read_usage(cg, &u), 0);
	assert_int_equal(u.cpu_usec, 2500000);
	assert_int_equal(u.mem_peak_bytes, 12345678);
	assert_int_equal(u.oom_kills, 1);
	assert_int_equal(u.pids_peak, 17);
	cgroup_free(cg);
}

static void
test_cgroup_v2_without_controllers_refuses_limits(void **state)
{
	struct cgroup_config cfg = { CGROUP_V2, tmpdir, NULL };
	struct cgroup_limits lim = { 0, 64u << 20, 0 };
	struct cgroup_config autocfg = { CGROUP_AUTO, tmpdir, "/nonexistent" };
	struct cgroup *cg = NULL;
	char *why = NULL;

	(void)state;
	put("cgroup.controllers", "hugetlb\n");
	assert_int_equal(cgroup_new(&cfg, "lodge", "l2", &lim, &cg, NULL),
	    ERR_REJECT);
	assert_null(cg);
	assert_non_null(strstr(err_msg(), "memory controller"));
	/* auto falls through v2 and v1 to rusage, and says why */
	assert_int_equal(cgroup_new(&autocfg, "lodge", "l2", &lim, &cg, &why),
	    0);
	assert_int_equal(cgroup_mode(cg), CGROUP_NONE);
	assert_non_null(why);
	assert_non_null(strstr(why, "v2:"));
	assert_non_null(strstr(why, "v1:"));
	assert_string_equal(cgroup_mode_name(cgroup_mode(cg)), "rusage");
	free(why);
	cgroup_free(cg);
}

static void
test_cgroup_v1_writes_limits_and_reads_usage(void **state)
{
	static const char *const files[] = {
		"cpu/lodge/l1/cgroup.procs",
		"cpu/lodge/l1/cpu.cfs_period_us",
		"cpu/lodge/l1/cpu.cfs_quota_us",
		"cpuacct/lodge/l1/cgroup.procs",
		"memory/lodge/l1/cgroup.procs",
		"memory/lodge/l1/memory.limit_in_bytes",
		"memory/lodge/l1/memory.memsw.limit_in_bytes",
		"memory/lodge/l1/memory.max_usage_in_bytes",
		"pids/lodge/l1/cgroup.procs",
		"pids/lodge/l1/pids.max",
	};
	static const char *const dirs[] = {
		"cpu",
		"cpu/lodge",
		"cpu/lodge/l1",
		"cpuacct",
		"cpuacct/lodge",
		"cpuacct/lodge/l1",
		"memory",
		"memory/lodge",
		"memory/lodge/l1",
		"pids",
		"pids/lodge",
		"pids/lodge/l1",
	};
	struct cgroup_config cfg = { CGROUP_V1, NULL, tmpdir };
	struct cgroup_limits lim = { 500, 32u << 20, 8 };
	struct cgroup_usage u;
	struct cgroup *cg = NULL;
	char buf[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		mk(dirs[i]);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put(files[i], "");
	assert_int_equal(cgroup_new(&cfg, "lodge", "l1", &lim, &cg, NULL), 0);
	assert_int_equal(cgroup_mode(cg), CGROUP_V1);
	get("cpu/lodge/l1/cpu.cfs_period_us", buf, sizeof(buf));
	assert_string_equal(buf, "100000");
	get("cpu/lodge/l1/cpu.cfs_quota_us", buf, sizeof(buf));
	assert_string_equal(buf, "50000");
	get("memory/lodge/l1/memory.limit_in_bytes", buf, sizeof(buf));
	assert_string_equal(buf, "33554432");
	get("memory/lodge/l1/memory.memsw.limit_in_bytes", buf, sizeof(buf));
	assert_string_equal(buf, "33554432");
	get("pids/lodge/l1/pids.max", buf, sizeof(buf));
	assert_string_equal(buf, "8");

	put("cpuacct/lodge/l1/cpuacct.usage", "1500000000\n");
	put("memory/lodge/l1/memory.max_usage_in_bytes", "3000000\n");
	put("memory/lodge/l1/memory.oom_control",
	    "oom_kill_disable 0\n"
	    "under_oom 0\noom_kill 2\n");
	put("pids/lodge/l1/pids.peak", "5\n");
	assert_int_equal(cgroup_read_usage(cg, &u), 0);
	assert_int_equal(u.cpu_usec, 1500000);
	assert_int_equal(u.mem_peak_bytes, 3000000);
	assert_int_equal(u.oom_kills, 2);
	assert_int_equal(u.pids_peak, 5);
	cgroup_free(cg);
}

static void
test_seccomp_policy_compiles(void **state)
{
	const struct sock_fprog *prog = NULL;
	size_t i;
	int mount = 0, ptrace = 0;

	(void)state;
	assert_int_equal(seccomp_policy_get(&prog), 0);
	assert_non_null(prog);
	assert_true(prog->len > 10);
	for (i = 0; seccomp_policy_denied[i] != NULL; i++) {
		mount |= strcmp(seccomp_policy_denied[i], "mount") == 0;
		ptrace |= strcmp(seccomp_policy_denied[i], "ptrace") == 0;
	}
	assert_true(mount && ptrace);
}

static void
test_spec_is_checked(void **state)
{
	struct sandbox_spec spec;
	struct sandbox *sb = NULL;
	const char *argv[] = { "/bin/true", NULL };

	(void)state;
	sandbox_spec_init(&spec);
	spec.name = "ok";
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL); /* no argv */
	spec.argv = argv;
	spec.name = "../x";
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "../x"));
	spec.name = "ok";
	spec.workdir = "relative";
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL);
	spec.workdir = NULL;
	spec.app_dir = "/nonexistent/app";
	assert_int_equal(sandbox_start(&spec, &sb), ERR_NOTFOUND);
	assert_null(sb);
}

/* An image's part of the spec is checked before anything starts. */
static void
test_image_spec_is_checked(void **state)
{
	static const char *const argv[] = { "/bin/sh", NULL };
	const char *layers[] = { "/tmp", "relative" };
	struct sandbox_volume vol = { "/", 1024 };
	struct sandbox_image im;
	struct sandbox_spec spec;
	struct sandbox *sb = NULL;

	(void)state;
	sandbox_spec_init(&spec);
	spec.argv = argv;
	spec.name = "img";
	spec.image = &im;
	memset(&im, 0, sizeof(im));
	im.id_base = 1000000000u;
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL); /* no layer */
	im.layers = layers;
	im.n_layers = 2;
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "layer 1"));
	im.n_layers = 1;
	im.uid = 65536; /* outside the ids mapped */
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL);
	im.uid = 0;
	im.id_base = 0; /* host root is never the image's root */
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL);
	im.id_base = 1000000000u;
	im.volumes = &vol;
	im.n_volumes = 1;
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL);
	vol.path = "/data/../etc";
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL);
	im.n_volumes = 0;
	spec.app_dir = "/tmp";
	assert_int_equal(sandbox_start(&spec, &sb), ERR_INVAL);
	assert_null(sb);
	assert_int_equal(sandbox_image_caps() & (1ull << 21), 0); /* no
	                                                             sys_admin */
	assert_int_not_equal(sandbox_image_caps() & (1ull << 10), 0);
}

/* A root made of a layer with the host's static busybox: the workload
 * is root inside, writes into the writable layer and a volume, and the
 * layer on the host is untouched. */
static void
test_image_root_runs_as_root_of_its_namespace(void **state)
{
	static const char *const argv[] = { "/bin/busybox", "sh", "-c",
		"test \"$(/bin/busybox id -u)\" = 0 && "
		"echo hi > /new && echo v > /vol/f && "
		"test \"$(/bin/busybox cat /etc/hostname)\" = img-run",
		NULL };
	char layer[512], cmd[1200];
	const char *layers[1] = { layer };
	struct sandbox_volume vol = { "/vol", 1 << 20 };
	struct sandbox_image im;
	struct sandbox_spec spec;
	struct sandbox *sb = NULL;
	int status = -1, exited = 0;

	(void)state;
	if (!sandbox_image_supported(NULL, 0) ||
	    system("ldd /bin/busybox 2>&1 | grep -q 'not a dynamic'") != 0)
		skip(); /* needs root, overlayfs and a static busybox */
	snprintf(layer, sizeof(layer), "%s/layer", tmpdir);
	snprintf(cmd, sizeof(cmd),
	    "mkdir -p %s/bin && cp /bin/busybox %s/bin/busybox", layer, layer);
	assert_int_equal(system(cmd), 0);
	sandbox_spec_init(&spec);
	memset(&im, 0, sizeof(im));
	im.layers = layers;
	im.n_layers = 1;
	im.id_base = 1000000000u;
	im.volumes = &vol;
	im.n_volumes = 1;
	spec.argv = argv;
	spec.name = "img-run";
	spec.image = &im;
	spec.cgroup.mode = CGROUP_NONE;
	assert_int_equal(sandbox_start(&spec, &sb), 0);
	assert_int_equal(sandbox_wait(sb, -1, &exited, &status), 0);
	assert_true(exited);
	sandbox_free(sb);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(cmd, sizeof(cmd), "%s/new", layer);
	assert_int_not_equal(access(cmd, F_OK), 0);
}

/* spec.mounts in the process root: a tmpfs mounted by the child and an
 * ext4 image attached from the parent's detached mount, both writable by
 * the workload under the read-only /; a mount path through the root's
 * /bin symlink (merged /usr) lands on the read-only bind and fails the
 * start, naming the volume, with nothing made on the host. */
static void
test_mounts_at_their_paths(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c",
		"echo a > /vol/ram/f && echo b > /vol/disk/f && "
		"test -d /vol/disk/lost+found && ! touch /x 2>/dev/null",
		NULL };
	struct sandbox_mount mounts[2];
	struct volume_spec vs = { NULL, 4u << 20, SANDBOX_UID_DEFAULT,
		SANDBOX_UID_DEFAULT };
	struct volume *v = NULL;
	struct sandbox_spec spec;
	struct sandbox *sb = NULL;
	char img[600], data[64], path[64];
	int status = -1, exited = 0;

	(void)state;
	if (geteuid() != 0 || access("/dev/loop-control", W_OK) != 0 ||
	    access("/bin/sh", X_OK) != 0)
		skip(); /* loop devices and mounts need root */
	snprintf(img, sizeof(img), "%s/vol.img", tmpdir);
	vs.image = img;
	if (volume_open(&vs, &v) != 0)
		skip(); /* no mkfs.ext4 */
	assert_int_equal(volume_tmpfs_args(1u << 20, SANDBOX_UID_DEFAULT,
	                     SANDBOX_UID_DEFAULT, data, sizeof(data),
	                     &mounts[0].m),
	    0);
	mounts[0].path = "/vol/ram";
	volume_mount_args(v, &mounts[1].m);
	mounts[1].path = "/vol/disk";
	sandbox_spec_init(&spec);
	spec.argv = argv;
	spec.name = "mounts";
	spec.cgroup.mode = CGROUP_NONE;
	spec.mounts = mounts;
	spec.n_mounts = 2;
	assert_int_equal(sandbox_start(&spec, &sb), 0);
	assert_int_equal(sandbox_wait(sb, -1, &exited, &status), 0);
	sandbox_free(sb);
	sb = NULL;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	snprintf(path, sizeof(path), "/bin/lodge-mount-%d", (int)getpid());
	mounts[0].path = path;
	spec.n_mounts = 1;
	assert_int_not_equal(sandbox_start(&spec, &sb), 0);
	assert_null(sb);
	assert_non_null(strstr(err_msg(), "volume"));
	assert_non_null(strstr(err_msg(), path));
	snprintf(img, sizeof(img), "/usr%s", path);
	assert_int_not_equal(access(img, F_OK), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	volume_close(v);
	snprintf(img, sizeof(img), "%s/vol.img", tmpdir);
	assert_int_equal(volume_delete(img), 0);
}

/* A start that fails once the child exists unwinds through sandbox_free:
 * a kill, a wait and a last read of the counters.  Here the fake cgroup
 * takes the limits but has no cgroup.procs (the attach fails) and a
 * cpu.stat that does not parse (the counter read fails and swallows
 * it): the caller still reads why the start failed. */
static void
test_failed_start_keeps_its_message_through_cleanup(void **state)
{
	static const char *const argv[] = { "/bin/true", NULL };
	struct sandbox_spec spec;
	struct sandbox *sb = NULL;
	char name[64];

	(void)state;
	if (geteuid() != 0)
		skip(); /* without root the clone needs a user namespace */
	put("cgroup.controllers", "cpu memory pids\n");
	put("cgroup.subtree_control", "");
	mk("lodge");
	put("lodge/cgroup.subtree_control", "");
	snprintf(name, sizeof(name), "unit-unwind-%ld", (long)getpid());
	sandbox_spec_init(&spec);
	spec.name = name;
	spec.argv = argv;
	spec.cgroup.mode = CGROUP_V2;
	spec.cgroup.v2_root = tmpdir;
	spec.die_with_parent = 1;
	{
		char rel[128];
		snprintf(rel, sizeof(rel), "lodge/%s", name);
		mk(rel);
		snprintf(rel, sizeof(rel), "lodge/%s/cpu.stat", name);
		put(rel, "usage_usec lots\n");
	}
	assert_int_equal(sandbox_start(&spec, &sb), ERR_IO);
	assert_null(sb);
	if (strstr(err_msg(), "cgroup.procs") == NULL)
		fail_msg("the start's failure was lost in cleanup: \"%s\"",
		    err_msg());
}

/* The deployment-network hook: called with the child's network
 * namespace before it runs (an address added there is seen by the
 * workload), the extra /etc/hosts lines and the resolv.conf text in
 * place; a hook that fails fails the start with its message. */
static int hook_calls;

static int
net_hook(void *arg, int netns_fd)
{
	const char *ip = arg;
	const char *const add[] = { ip, "address", "add", "10.9.9.9/32", "dev",
		"lo", NULL };

	hook_calls++;
	if (netns_fd < 0)
		return err_set(ERR_INVAL, "no netns fd");
	return tool_run(add, NULL, netns_fd, 5000, NULL);
}

static int
failing_hook(void *arg, int netns_fd)
{
	(void)arg;
	(void)netns_fd;
	return err_set(ERR_IO, "veth refused");
}

static void
test_network_hook_hosts_and_resolv_conf(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c",
		"grep -q '^10.9.0.2	db$' /etc/hosts && "
		"grep -q '^127.0.0.1	localhost$' /etc/hosts && "
		"test \"$(cat /etc/resolv.conf)\" = 'nameserver 192.0.2.53' && "
		"grep -q '10.9.9.9' /proc/net/fib_trie",
		NULL };
	struct sandbox_spec spec;
	struct sandbox *sb = NULL;
	int status = -1, exited = 0;
	char ip[256];

	(void)state;
	if (geteuid() != 0 || tool_find("ip", "iproute2", ip, sizeof(ip)) != 0)
		skip(); /* the hook's ip(8) needs root */
	sandbox_spec_init(&spec);
	spec.argv = argv;
	spec.name = "unit-net-hook";
	spec.cgroup.mode = CGROUP_NONE;
	spec.die_with_parent = 1;
	spec.hosts_extra = "10.9.0.2\tdb\n";
	spec.resolv_conf = "nameserver 192.0.2.53\n";
	spec.net_setup = net_hook;
	spec.net_arg = ip;
	hook_calls = 0;
	if (sandbox_start(&spec, &sb) != 0)
		fail_msg("start: %s", err_msg());
	assert_int_equal(hook_calls, 1);
	assert_int_equal(sandbox_wait(sb, -1, &exited, &status), 0);
	assert_true(exited);
	sandbox_free(sb);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	spec.net_setup = failing_hook;
	assert_int_equal(sandbox_start(&spec, &sb), ERR_IO);
	assert_null(sb);
	assert_non_null(strstr(err_msg(), "network setup: veth refused"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_accepts_units),
		cmocka_unit_test(test_parse_size_rejects_garbage_and_overflow),
		cmocka_unit_test(test_parse_uid_and_cgroup_mode),
		cmocka_unit_test(test_parse_cpu_units_and_millis),
		cmocka_unit_test(test_usage_line_format),
		cmocka_unit_test(test_exit_code_of_wait_status),
		cmocka_unit_test(test_cgroup_parse_keyed_files),
		cmocka_unit_test(test_cgroup_controllers_and_cpu_max),
		cmocka_unit_test(test_cgroup_mount_superopts_from_mountinfo),
		cmocka_unit_test(test_cgroup_names_are_checked),
		cmocka_unit_test_setup_teardown(
		    test_cgroup_v2_writes_limits_and_reads_usage, setup_tmp,
		    teardown_tmp),
		cmocka_unit_test_setup_teardown(
		    test_cgroup_v2_without_controllers_refuses_limits,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(
		    test_cgroup_v1_writes_limits_and_reads_usage, setup_tmp,
		    teardown_tmp),
		cmocka_unit_test(test_seccomp_policy_compiles),
		cmocka_unit_test(test_spec_is_checked),
		cmocka_unit_test(test_image_spec_is_checked),
		cmocka_unit_test_setup_teardown(
		    test_image_root_runs_as_root_of_its_namespace, setup_tmp,
		    teardown_tmp),
		cmocka_unit_test_setup_teardown(test_mounts_at_their_paths,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(
		    test_failed_start_keeps_its_message_through_cleanup,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test(test_network_hook_hosts_and_resolv_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
