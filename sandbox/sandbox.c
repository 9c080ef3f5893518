/*
 * sandbox: the process sandbox (see sandbox.h and docs/sandbox.md).
 * Kernel interfaces: clone(2) namespaces, pivot_root(2), mount(2),
 * capabilities(7), prctl(2) PR_SET_NO_NEW_PRIVS, seccomp(2), cgroups(7).
 *
 * The parent half runs in the provider; the child half (child_main and
 * below) runs between clone() and execve() in a copy of a possibly
 * multithreaded process, so it makes system calls only: no malloc, no
 * stdio, no locks.  Everything it needs is prepared in struct child_args.
 *
 * The sandbox does not need the process that started it: its init copies
 * the workload's output into the capture files itself and writes the
 * workload's exit status to a file, so a provider that exits (or is
 * killed) leaves it running, and a later one adopts it (sandbox_adopt).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp_policy.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif

#define LOG_MAX_DEFAULT (1u << 20)
#define ERRBUF 512
/* Layer fds passed to the child per message (SCM_MAX_FD is 253). */
#define FD_BATCH 250

/* Signals init forwards to the workload. */
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1,
	SIGUSR2 };

struct sandbox {
	pid_t pid; /* init, pid 1 inside */
	int pidfd;
	int netns_fd;
	int userns_fd;
	int status_fd; /* init writes the workload's wait status here */
	struct cgroup *cg;
	char *why_not;
	uint64_t start_ns;
	uint64_t end_ns;
	int exited;
	int status;
	int adopted; /* started by an earlier process: not our child */
	uint64_t start_ticks; /* of init, /proc/PID/stat (pid reuse) */
	struct rusage ru;
	struct cgroup_usage final;
};

/* Everything the child needs, prepared by the parent. */
struct child_args {
	const struct sandbox_spec *spec;
	const struct sock_fprog *prog;
	int userns;
	int rlimit_fallback; /* no cgroup: limits as rlimits */
	int fd_in, fd_out, fd_err; /* workload stdio */
	int sync_r, err_w, status_w;
	int cap_r[2]; /* capture pipes' read ends (init relays them), -1 */
	int cap_file[2]; /* the capture files, -1 */
	uint64_t log_max; /* cap of each capture file */
	uid_t uid;
	gid_t gid;
	const char *root; /* staging dir */
	const char *workdir;
	const char *const *env;
	const char *path; /* PATH for the argv[0] search */
	char passwd[256];
	char group[128];
	const char *hosts; /* /etc/hosts: localhost and hosts_extra */
	char hostname[65];
	char tmp_opts[64];
	char data_opts[128];
	char shm_opts[64];
	/* An image's root (spec->image): */
	int image;
	size_t n_layers; /* layer mounts the go-ahead brings */
	const char *overlay_opts; /* lowerdir=l/N-1:...:l/0,upperdir=... */
	char upper_opts[64];
	const char (*vol_opts)[64]; /* one tmpfs option string per volume */
	uint64_t caps; /* kept by an image's root: sandbox_image_caps */
	size_t n_mount_fds; /* spec->mounts the parent mounts (not tmpfs):
	                       their fds follow the layers' */
};

/* Docker's default capabilities (moby's oci/caps/defaults.go). */
static const int image_caps[] = { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID,
	CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP,
	CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,
	CAP_AUDIT_WRITE };

static const char *const default_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
	"HOME=/tmp", "LANG=C.UTF-8", NULL };

/* ======================================================================
 * Pure helpers
 * ==================================================================== */

void
sandbox_spec_init(struct sandbox_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->stdin_fd = spec->stdout_fd = spec->stderr_fd = -1;
	spec->data_bytes = SANDBOX_DATA_DEFAULT;
	spec->tmp_bytes = SANDBOX_TMP_DEFAULT;
	spec->cgroup.mode = CGROUP_AUTO;
	spec->cgroup_parent = "lodge";
}

int
sandbox_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

const char *
sandbox_metering_name(enum sandbox_metering m)
{
	return cgroup_mode_name((enum cgroup_mode)m);
}

void
sandbox_format_usage(const struct sandbox_usage *u, char *buf, size_t len)
{
	snprintf(buf, len,
	    "usage: cpu_ms=%" PRIu64 " wall_ms=%" PRIu64
	    " mem_peak_bytes=%" PRIu64 " oom=%d pids_peak=%" PRIu64
	    " metering=%s",
	    u->cpu_ms, u->wall_ms, u->mem_peak_bytes, u->oom_kills ? 1 : 0,
	    u->pids_peak, sandbox_metering_name(u->metering));
}

uint64_t
sandbox_image_caps(void)
{
	uint64_t m = 0;
	size_t i;

	for (i = 0; i < sizeof(image_caps) / sizeof(image_caps[0]); i++)
		m |= 1ull << image_caps[i];
	return m;
}

int
sandbox_image_supported(char *why, size_t cap)
{
	struct utsname u;
	unsigned major = 0, minor = 0;
	char buf[4096];
	ssize_t n;
	int fd;

	if (why != NULL && cap > 0)
		why[0] = '\0';
	if (geteuid() != 0) {
		if (why != NULL)
			snprintf(why, cap,
			    "images need root (a range of ids for the user "
			    "namespace, idmapped mounts)");
		return 0;
	}
	/* overlayfs on idmapped layers: Linux 5.19 */
	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2 ||
	    major < 5 || (major == 5 && minor < 19)) {
		if (why != NULL)
			snprintf(why, cap,
			    "images need Linux >= 5.19 (overlayfs on "
			    "idmapped mounts); this is %s",
			    u.release);
		return 0;
	}
	n = -1;
	if ((fd = open("/proc/filesystems", O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0 || (buf[n] = '\0', strstr(buf, "\toverlay\n") == NULL)) {
		if (why != NULL)
			snprintf(why, cap,
			    "images need overlayfs (modprobe overlay)");
		return 0;
	}
	return 1;
}

int
sandbox_parse_size(const char *s, const char *what, uint64_t *out)
{
	static const struct {
		const char *sfx;
		uint64_t mul;
	} units[] = {
		{ "", 1 },
		{ "B", 1 },
		{ "k", 1ull << 10 },
		{ "K", 1ull << 10 },
		{ "m", 1ull << 20 },
		{ "g", 1ull << 30 },
		{ "t", 1ull << 40 },
		{ "Ki", 1ull << 10 },
		{ "KiB", 1ull << 10 },
		{ "M", 1ull << 20 },
		{ "Mi", 1ull << 20 },
		{ "MiB", 1ull << 20 },
		{ "G", 1ull << 30 },
		{ "Gi", 1ull << 30 },
		{ "GiB", 1ull << 30 },
		{ "T", 1ull << 40 },
		{ "Ti", 1ull << 40 },
		{ "TiB", 1ull << 40 },
		{ "kB", 1000ull },
		{ "KB", 1000ull },
		{ "MB", 1000000ull },
		{ "GB", 1000000000ull },
		{ "TB", 1000000000000ull },
	};
	uint64_t v = 0, r;
	const char *p = s;
	size_t i;

	if (s == NULL || *s < '0' || *s > '9')
		return err_set(ERR_INVAL,
		    "%s: \"%s\" is not a size (like "
		    "512M, 1Gi or 1048576)",
		    what, s ? s : "");
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return err_set(ERR_RANGE, "%s: \"%s\" is too large",
			    what, s);
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].sfx) != 0)
			continue;
		if (__builtin_mul_overflow(v, units[i].mul, &r))
			return err_set(ERR_RANGE, "%s: \"%s\" is too large",
			    what, s);
		*out = r;
		return 0;
	}
	return err_set(ERR_INVAL,
	    "%s: \"%s\": unknown unit \"%s\" (expected "
	    "k, M, G, T, Ki, Mi, Gi, Ti, kB, MB, GB or none)",
	    what, s, p);
}

int
sandbox_parse_uid(const char *s, const char *what, uid_t *out)
{
	uint64_t v;
	int rc;

	if ((rc = util_parse_u64(s, what, &v)) < 0)
		return rc;
	if (v == 0 || v > 0xfffffffeu)
		return err_set(ERR_RANGE, "%s: %s is not a non-root uid", what,
		    s);
	*out = (uid_t)v;
	return 0;
}

int
sandbox_parse_cpu(const char *s, const char *what, uint64_t *millis)
{
	uint64_t whole = 0, frac = 0, scale = 1000, v;
	const char *p = s;
	int digits = 0;

	if (s == NULL || *s < '0' || *s > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(whole, 10, &whole) ||
		    __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
			goto range;
	}
	if (*p == 'm' && p[1] == '\0') {
		*millis = whole;
		return 0;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (digits >= 3)
				return err_set(ERR_INVAL,
				    "%s: \"%s\": at most "
				    "three decimals (a millicpu)",
				    what, s);
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
		if (digits == 0)
			goto bad;
	}
	if (*p != '\0')
		goto bad;
	if (__builtin_mul_overflow(whole, 1000, &v) ||
	    __builtin_add_overflow(v, frac, &v))
		goto range;
	*millis = v;
	return 0;
bad:
	return err_set(ERR_INVAL,
	    "%s: \"%s\" is not a CPU amount (like 1, "
	    "0.5 or 250m)",
	    what, s ? s : "");
range:
	return err_set(ERR_RANGE, "%s: \"%s\" is too large", what, s);
}

/* ======================================================================
 * Child half: runs after clone(), system calls only.
 * ==================================================================== */

static size_t
c_strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

static int
c_streq(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static void
c_append(char *buf, size_t *n, size_t cap, const char *s)
{
	while (*s != '\0' && *n + 1 < cap)
		buf[(*n)++] = *s++;
	buf[*n] = '\0';
}

/* Report "what: strerror(errno)" to the parent and exit. */
__attribute__((noreturn)) static void
child_fail(int err_fd, const char *what, const char *arg)
{
	char buf[ERRBUF];
	size_t n = 0;
	int e = errno;

	c_append(buf, &n, sizeof(buf), what);
	if (arg != NULL) {
		c_append(buf, &n, sizeof(buf), " ");
		c_append(buf, &n, sizeof(buf), arg);
	}
	c_append(buf, &n, sizeof(buf), ": ");
	c_append(buf, &n, sizeof(buf),
	    strerrordesc_np(e) ? strerrordesc_np(e) : "unknown error");
	/* Leading byte: was it "not found"? (for ERR_NOTFOUND upstream) */
	char tag = e == ENOENT ? 'N' : 'E';
	if (write(err_fd, &tag, 1) == 1 && write(err_fd, buf, n) < 0)
		_exit(126);
	_exit(127);
}

/* Mount flags of the mount holding path, which a bind inside a user
 * namespace must keep (they are locked). */
static unsigned long
locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* Bind src read-only at dst (relative to the staging root). */
static int
bind_ro(const char *src, const char *dst, int dir, unsigned long extra)
{
	int fd;

	if (dir) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return -1;
	} else {
		if ((fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
			return -1;
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return -1;
	return mount(NULL, dst, NULL,
	    MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | locked_flags(src) |
	        extra,
	    NULL);
}

/* Recreate a top-level symlink (/bin -> usr/bin) or bind the directory. */
static void
link_or_bind(int err_fd, const char *host, const char *dst)
{
	char target[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (lstat(host, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlink(host, target, sizeof(target) - 1)) < 0)
			child_fail(err_fd, "readlink", host);
		target[n] = '\0';
		if (symlink(target, dst) < 0)
			child_fail(err_fd, "symlink", dst);
	} else if (S_ISDIR(st.st_mode)) {
		if (bind_ro(host, dst, 1, MS_NODEV) < 0)
			child_fail(err_fd, "bind", host);
	} else if (S_ISREG(st.st_mode)) {
		if (bind_ro(host, dst, 0, MS_NODEV) < 0)
			child_fail(err_fd, "bind", host);
	}
}

static void
write_small(int err_fd, const char *path, const char *text)
{
	size_t n = c_strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, text, n) != (ssize_t)n)
		child_fail(err_fd, "write", path);
	close(fd);
}

static void
mount_tmpfs(int err_fd, const char *dst, unsigned long flags, const char *opts)
{
	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		child_fail(err_fd, "mkdir", dst);
	if (mount("tmpfs", dst, "tmpfs", flags, opts) < 0)
		child_fail(err_fd, "mount tmpfs", dst);
}

/* spec->mounts inside the root rootfd, in order: a tmpfs mounted here,
 * the others attached from the parent's detached mounts (mfd, in the
 * same order). */
static void
mount_volumes(const struct child_args *a, int err_fd, int rootfd,
    const int *mfd)
{
	const char *step;
	size_t i, j = 0;
	int rc;

	for (i = 0; i < a->spec->n_mounts; i++) {
		const struct sandbox_mount *v = &a->spec->mounts[i];
		if (strcmp(v->m.fstype, "tmpfs") == 0)
			rc =
			    volume_mount_in_root(rootfd, v->path, &v->m, &step);
		else
			rc = volume_attach_in_root(rootfd, v->path, mfd[j++],
			    &step);
		if (rc != 0) {
			errno = -rc;
			child_fail(err_fd,
			    strcmp(step, "exists") == 0 ?
			        "volume: a component is not a directory "
			        "inside the root:" :
			        "volume: mount at",
			    v->path);
		}
	}
	for (j = 0; j < a->n_mount_fds; j++)
		close(mfd[j]);
}

/* dir/name into buf (cap bytes, cut to fit). */
static void
c_join(char *buf, size_t cap, const char *dir, const char *name)
{
	size_t n = 0;

	c_append(buf, &n, cap, dir);
	c_append(buf, &n, cap, "/");
	c_append(buf, &n, cap, name);
}

/* The host-wide knobs of the /proc mounted at dir ("proc", or the staging
 * "m" of an image) masked (/dev/null over them) or made read-only. */
static void
mask_proc(int err_fd, const char *dir)
{
	static const char *const mask[] = { "kcore", "sysrq-trigger",
		"timer_list", "sched_debug", "kallsyms" };
	static const char *const ro[] = { "sys", "irq", "bus", "fs" };
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(mask) / sizeof(mask[0]); i++) {
		c_join(name, sizeof(name), dir, mask[i]);
		if (access(name, F_OK) == 0 &&
		    mount("/dev/null", name, NULL, MS_BIND, NULL) < 0)
			child_fail(err_fd, "mask", name);
	}
	for (i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		c_join(name, sizeof(name), dir, ro[i]);
		if (access(name, F_OK) != 0)
			continue;
		if (mount(name, name, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, name, NULL,
		        MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID |
		            MS_NODEV | MS_NOEXEC,
		        NULL) < 0)
			child_fail(err_fd, "read-only", name);
	}
}

/* A minimal /dev at dir ("dev", or the staging "m" of an image): a
 * tmpfs with the harmless character devices bound from the host, the fd
 * links and a small shm (shm_opts), then made read-only. */
static void
build_dev(int err_fd, const char *dir, const char *shm_opts)
{
	static const char *const nodes[] = { "null", "zero", "full", "random",
		"urandom" };
	static const char *const links[][2] = { { "fd", "/proc/self/fd" },
		{ "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
		{ "stderr", "/proc/self/fd/2" } };
	char host[64], name[64];
	size_t i;
	int fd;

	mount_tmpfs(err_fd, dir, MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		c_join(host, sizeof(host), "/dev", nodes[i]);
		c_join(name, sizeof(name), dir, nodes[i]);
		if ((fd = open(name, O_WRONLY | O_CREAT | O_CLOEXEC, 0666)) < 0)
			child_fail(err_fd, "create", name);
		close(fd);
		if (mount(host, name, NULL, MS_BIND, NULL) < 0)
			child_fail(err_fd, "bind", host);
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		c_join(name, sizeof(name), dir, links[i][0]);
		if (symlink(links[i][1], name) < 0)
			child_fail(err_fd, "symlink", name);
	}
	c_join(name, sizeof(name), dir, "shm");
	mount_tmpfs(err_fd, name, MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_opts);
	if (mount(NULL, dir, NULL,
	        MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
	        NULL) < 0)
		child_fail(err_fd, "read-only", "dev");
}

/* Build the lease root in a tmpfs at a->root, pivot into it. */
static void
setup_root(const struct child_args *a, int err_fd, const int *mfd)
{
	static const char *const top[] = { "usr", "bin", "sbin", "lib", "lib32",
		"lib64", "libx32" };
	static const char *const etc_dirs[] = {
		"/etc/ssl",
		"/etc/ca-certificates",
		"/etc/alternatives",
		"/etc/ld.so.conf.d",
	};
	static const char *const etc_files[] = {
		"/etc/nsswitch.conf",
		"/etc/resolv.conf",
		"/etc/ld.so.cache",
		"/etc/ld.so.conf",
		"/etc/localtime",
		"/etc/host.conf",
		"/etc/mime.types",
		"/etc/protocols",
		"/etc/services",
	};
	char host[PATH_MAX], dst[PATH_MAX];
	size_t i, n;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(err_fd, "make / private", NULL);
	if (mount("lodge", a->root, "tmpfs", MS_NOSUID | MS_NODEV,
	        "mode=0755,size=4m") < 0)
		child_fail(err_fd, "mount root tmpfs on", a->root);
	if (chdir(a->root) < 0)
		child_fail(err_fd, "chdir", a->root);

	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		n = 0;
		c_append(host, &n, sizeof(host), "/");
		c_append(host, &n, sizeof(host), top[i]);
		link_or_bind(err_fd, host, top[i]);
	}

	if (mkdir("etc", 0755) < 0)
		child_fail(err_fd, "mkdir", "etc");
	for (i = 0; i < sizeof(etc_dirs) / sizeof(etc_dirs[0]); i++)
		link_or_bind(err_fd, etc_dirs[i], etc_dirs[i] + 1);
	for (i = 0; i < sizeof(etc_files) / sizeof(etc_files[0]); i++)
		if (a->spec->resolv_conf == NULL ||
		    !c_streq(etc_files[i], "/etc/resolv.conf"))
			link_or_bind(err_fd, etc_files[i], etc_files[i] + 1);
	if (a->spec->resolv_conf != NULL)
		write_small(err_fd, "etc/resolv.conf", a->spec->resolv_conf);
	write_small(err_fd, "etc/passwd", a->passwd);
	write_small(err_fd, "etc/group", a->group);
	write_small(err_fd, "etc/hosts", a->hosts);
	n = 0;
	c_append(dst, &n, sizeof(dst), a->hostname);
	c_append(dst, &n, sizeof(dst), "\n");
	write_small(err_fd, "etc/hostname", dst);

	/* /proc of the new pid namespace, with the host-wide knobs masked. */
	if (mkdir("proc", 0555) < 0)
		child_fail(err_fd, "mkdir", "proc");
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	        NULL) < 0)
		child_fail(err_fd, "mount", "proc");
	mask_proc(err_fd, "proc");

	/* A minimal /dev: the harmless character devices bound from the
	 * host, fd links, a small /dev/shm. */
	build_dev(err_fd, "dev", a->shm_opts);

	mount_tmpfs(err_fd, "tmp", MS_NOSUID | MS_NODEV, a->tmp_opts);
	mount_tmpfs(err_fd, "data", MS_NOSUID | MS_NODEV, a->data_opts);
	if (a->spec->app_dir != NULL &&
	    bind_ro(a->spec->app_dir, "app", 1, MS_NODEV) < 0)
		child_fail(err_fd, "bind app", a->spec->app_dir);
	if (a->spec->n_mounts > 0) {
		int rootfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			child_fail(err_fd, "open", a->root);
		mount_volumes(a, err_fd, rootfd, mfd);
		close(rootfd);
	}

	/* pivot_root(".", ".") stacks the old root under the new one; the
	 * detach then drops it (see pivot_root(2), "NOTES"). */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_fail(err_fd, "pivot_root", a->root);
	if (umount2(".", MNT_DETACH) < 0)
		child_fail(err_fd, "detach old root", NULL);
	if (chdir("/") < 0)
		child_fail(err_fd, "chdir", "/");
	if (mount(NULL, "/", NULL,
	        MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
	        NULL) < 0)
		child_fail(err_fd, "read-only", "/");
}

/* ---- an image's root (spec->image) ---------------------------------- */

/* Decimal of v into buf (at least 21 bytes). */
static void
c_utoa(unsigned long v, char *buf)
{
	char t[24];
	size_t n = 0, i;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = t[n - 1 - i];
	buf[n] = '\0';
}

/* openat2 in the image's root: its symlinks and ".." resolve inside it,
 * never to the host (the root is not pivoted into yet). */
static int
in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = mode;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* mkdir -p path in the image's root (root-owned, 0755, in the writable
 * layer); an O_PATH fd of it. */
static int
in_root_dir(int err_fd, int rootfd, const char *path)
{
	char buf[PATH_MAX], save, *slash;
	const char *name;
	size_t n = 0, i;
	int fd, pfd;

	while (*path == '/')
		path++;
	c_append(buf, &n, sizeof(buf), *path ? path : ".");
	for (i = 0; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		save = buf[i];
		buf[i] = '\0';
		fd = in_root(rootfd, buf, O_PATH | O_DIRECTORY, 0);
		if (fd < 0 && errno == ENOENT) {
			name = buf;
			if ((slash = strrchr(buf, '/')) != NULL) {
				*slash = '\0';
				pfd = in_root(rootfd, buf, O_PATH | O_DIRECTORY,
				    0);
				*slash = '/';
				name = slash + 1;
			} else
				pfd = in_root(rootfd, ".", O_PATH | O_DIRECTORY,
				    0);
			if (pfd < 0)
				child_fail(err_fd, "image: open", buf);
			if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST)
				child_fail(err_fd, "image: mkdir", buf);
			close(pfd);
			fd = in_root(rootfd, buf, O_PATH | O_DIRECTORY, 0);
		}
		if (fd < 0)
			child_fail(err_fd, "image: directory", buf);
		if (save == '\0')
			return fd;
		buf[i] = save;
		close(fd);
	}
	child_fail(err_fd, "image: directory", path);
}

/* A regular file at path in the image's root, created (empty) when
 * missing: an O_PATH fd to mount over. */
static int
in_root_file(int err_fd, int rootfd, const char *path)
{
	struct stat st;
	int fd;

	if ((fd = in_root(rootfd, path, O_PATH, 0)) < 0 && errno == ENOENT) {
		if ((fd = in_root(rootfd, path, O_WRONLY | O_CREAT | O_NOCTTY,
		         0644)) < 0)
			child_fail(err_fd, "image: create", path);
		close(fd);
		fd = in_root(rootfd, path, O_PATH, 0);
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		child_fail(err_fd, "image: open", path);
	if (!S_ISREG(st.st_mode)) {
		errno = EISDIR;
		child_fail(err_fd, "image: not a regular file:", path);
	}
	return fd;
}

/* Move the mount staged at "m" (cwd: the staging dir) onto target, an
 * O_PATH fd in the image's root; target is closed. */
static void
attach_staged(int err_fd, int target, const char *what)
{
	if (syscall(SYS_move_mount, AT_FDCWD, "m", target, "",
	        MOVE_MOUNT_T_EMPTY_PATH) < 0)
		child_fail(err_fd, "image: mount", what);
	close(target);
}

/* Bind src (a host or staging path) over target (closed). */
static void
bind_over(int err_fd, const char *src, int target, const char *what)
{
	int m = (int)syscall(SYS_open_tree, AT_FDCWD, src,
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

	if (m < 0)
		child_fail(err_fd, "image: bind", src);
	if (syscall(SYS_move_mount, m, "", target, "",
	        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		child_fail(err_fd, "image: bind over", what);
	close(m);
	close(target);
}

/* The image's root: the layer mounts (idmapped by the parent, fds lfd)
 * attached in the staging tmpfs, overlayfs over them with a tmpfs as its
 * writable layer, then /proc, /dev, /tmp, the volumes and the /etc files
 * mounted into it through fds opened inside it, and pivot_root. */
static void
setup_root_image(const struct child_args *a, int err_fd, const int *lfd)
{
	char name[64], host[PATH_MAX];
	size_t i, n;
	int rootfd;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(err_fd, "make / private", NULL);
	if (mount("lodge", a->root, "tmpfs", MS_NOSUID | MS_NODEV,
	        "mode=0755,size=4m") < 0)
		child_fail(err_fd, "mount staging tmpfs on", a->root);
	if (chdir(a->root) < 0)
		child_fail(err_fd, "chdir", a->root);
	if (mkdir("l", 0700) < 0)
		child_fail(err_fd, "mkdir", "l");
	for (i = 0; i < a->n_layers; i++) {
		n = 0;
		c_append(name, &n, sizeof(name), "l/");
		c_utoa(i, name + n);
		if (mkdir(name, 0700) < 0 ||
		    syscall(SYS_move_mount, lfd[i], "", AT_FDCWD, name,
		        MOVE_MOUNT_F_EMPTY_PATH) < 0)
			child_fail(err_fd, "image: attach layer", name);
		close(lfd[i]);
	}
	mount_tmpfs(err_fd, "rw", MS_NOSUID | MS_NODEV, a->upper_opts);
	if (mkdir("rw/upper", 0755) < 0 || mkdir("rw/work", 0700) < 0 ||
	    mkdir("root", 0755) < 0 || mkdir("m", 0755) < 0)
		child_fail(err_fd, "mkdir", "rw/upper");
	if (mount("overlay", "root", "overlay", MS_NOSUID | MS_NODEV,
	        a->overlay_opts) < 0)
		child_fail(err_fd, "image: mount overlay", NULL);
	if ((rootfd = open("root", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		child_fail(err_fd, "open", "root");

	/* /proc of the new pid namespace, host-wide knobs masked. */
	if (mount("proc", "m", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
	    0)
		child_fail(err_fd, "mount", "proc");
	mask_proc(err_fd, "m");
	attach_staged(err_fd, in_root_dir(err_fd, rootfd, "proc"), "/proc");

	/* A minimal /dev, as the process sandbox's. */
	build_dev(err_fd, "m", a->shm_opts);
	attach_staged(err_fd, in_root_dir(err_fd, rootfd, "dev"), "/dev");

	mount_tmpfs(err_fd, "m", MS_NOSUID | MS_NODEV, a->tmp_opts);
	attach_staged(err_fd, in_root_dir(err_fd, rootfd, "tmp"), "/tmp");
	for (i = 0; i < a->spec->image->n_volumes; i++) {
		mount_tmpfs(err_fd, "m", MS_NOSUID | MS_NODEV, a->vol_opts[i]);
		attach_staged(err_fd,
		    in_root_dir(err_fd, rootfd,
		        a->spec->image->volumes[i].path),
		    a->spec->image->volumes[i].path);
	}

	/* /etc/hosts and /etc/hostname written here, /etc/resolv.conf the
	 * host's, each bound over the image's own. */
	write_small(err_fd, "hosts", a->hosts);
	if (a->spec->resolv_conf != NULL)
		write_small(err_fd, "resolv.conf", a->spec->resolv_conf);
	n = 0;
	c_append(host, &n, sizeof(host), a->hostname);
	c_append(host, &n, sizeof(host), "\n");
	write_small(err_fd, "hostname", host);
	close(in_root_dir(err_fd, rootfd, "etc"));
	bind_over(err_fd, "hosts", in_root_file(err_fd, rootfd, "etc/hosts"),
	    "/etc/hosts");
	bind_over(err_fd, "hostname",
	    in_root_file(err_fd, rootfd, "etc/hostname"), "/etc/hostname");
	if (a->spec->resolv_conf != NULL)
		bind_over(err_fd, "resolv.conf",
		    in_root_file(err_fd, rootfd, "etc/resolv.conf"),
		    "/etc/resolv.conf");
	else if (access("/etc/resolv.conf", R_OK) == 0)
		bind_over(err_fd, "/etc/resolv.conf",
		    in_root_file(err_fd, rootfd, "etc/resolv.conf"),
		    "/etc/resolv.conf");
	/* Docker creates the WorkingDir an image names. */
	close(in_root_dir(err_fd, rootfd, a->workdir));
	mount_volumes(a, err_fd, rootfd, lfd + a->n_layers);

	if (fchdir(rootfd) < 0)
		child_fail(err_fd, "chdir", "image root");
	close(rootfd);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_fail(err_fd, "pivot_root", "image root");
	if (umount2(".", MNT_DETACH) < 0)
		child_fail(err_fd, "detach old root", NULL);
	if (chdir("/") < 0)
		child_fail(err_fd, "chdir", "/");
}

/* The go-ahead byte, and with an image the layer mounts (SCM_RIGHTS, in
 * batches of FD_BATCH).  0, or -1 when the parent gave up. */
static int
recv_go(const struct child_args *a, int *lfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FD_BATCH)];
		struct cmsghdr align;
	} u;
	struct cmsghdr *cm;
	struct msghdr m;
	struct iovec io;
	size_t got = 0, k;
	char c;

	do {
		memset(&m, 0, sizeof(m));
		io.iov_base = &c;
		io.iov_len = 1;
		m.msg_iov = &io;
		m.msg_iovlen = 1;
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		if (recvmsg(3, &m, MSG_CMSG_CLOEXEC) != 1 ||
		    (m.msg_flags & MSG_CTRUNC))
			return -1;
		for (cm = CMSG_FIRSTHDR(&m); cm != NULL;
		     cm = CMSG_NXTHDR(&m, cm)) {
			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS)
				continue;
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (k > a->n_layers + a->n_mount_fds - got)
				return -1;
			memcpy(lfd + got, CMSG_DATA(cm), k * sizeof(int));
			got += k;
		}
	} while (got < a->n_layers + a->n_mount_fds);
	return 0;
}

static void
loopback_up(int err_fd)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		child_fail(err_fd, "socket", NULL);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		child_fail(err_fd, "SIOCGIFFLAGS", "lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		child_fail(err_fd, "SIOCSIFFLAGS", "lo");
	close(s);
}

static void
lower_rlimit(int err_fd, int res, rlim_t cur, rlim_t max)
{
	struct rlimit rl;

	/* Only ever lower: raising needs CAP_SYS_RESOURCE, which a provider
	 * in a container may not have. */
	if (getrlimit(res, &rl) < 0)
		child_fail(err_fd, "getrlimit", NULL);
	if (rl.rlim_max > max)
		rl.rlim_max = max;
	if (rl.rlim_cur > cur)
		rl.rlim_cur = cur;
	if (rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(res, &rl) < 0)
		child_fail(err_fd, "setrlimit", NULL);
}

static void
set_rlimits(const struct child_args *a, int err_fd)
{
	static const struct {
		int res;
		rlim_t cur, max;
	} lims[] = {
		{ RLIMIT_CORE, 0, 0 },
		{ RLIMIT_NOFILE, 4096, 4096 },
		{ RLIMIT_MEMLOCK, 8u << 20, 8u << 20 },
		{ RLIMIT_MSGQUEUE, 1u << 20, 1u << 20 },
		{ RLIMIT_RTPRIO, 0, 0 },
		{ RLIMIT_NICE, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(lims) / sizeof(lims[0]); i++)
		lower_rlimit(err_fd, lims[i].res, lims[i].cur, lims[i].max);
	if (!a->rlimit_fallback)
		return;
	if (a->spec->memory_bytes != 0)
		lower_rlimit(err_fd, RLIMIT_AS, a->spec->memory_bytes,
		    a->spec->memory_bytes);
	if (a->spec->pids_max != 0)
		lower_rlimit(err_fd, RLIMIT_NPROC, a->spec->pids_max,
		    a->spec->pids_max);
}

/* Become the unprivileged uid with no capabilities at all, no way to gain
 * any (no_new_privs), and the seccomp filter.  An image's root keeps the
 * container default capabilities (sandbox_image_caps), in its user
 * namespace only; an image's other users get none. */
static void
drop_privileges(const struct child_args *a, int err_fd)
{
	struct __user_cap_header_struct hdr = { .version =
		                                    _LINUX_CAPABILITY_VERSION_3,
		.pid = 0 };
	struct __user_cap_data_struct data[2];
	int cap;

	/* The bounding set needs CAP_SETPCAP, so before the uid change. */
	for (cap = 0; cap <= 63; cap++)
		if (!(a->image && (a->caps >> cap & 1)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			child_fail(err_fd, "drop bounding capability", NULL);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		child_fail(err_fd, "clear ambient capabilities", NULL);
	/* Raw system calls, not glibc's set*id(): in this clone() child glibc
	 * still believes the provider's threads exist and would broadcast the
	 * change to them (__nptl_setxid), waiting forever on a thread that
	 * was being created at clone time.  Here there is one thread. */
	if ((!a->userns || a->image) && syscall(SYS_setgroups, 0, NULL) < 0)
		child_fail(err_fd, "setgroups", NULL);
	if (syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0)
		child_fail(err_fd, "setresgid", NULL);
	if (syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0)
		child_fail(err_fd, "setresuid", NULL);
	/* A credential change clears the parent-death signal (prctl(2)):
	 * set it again, or a provider killed with SIGKILL leaves its
	 * sandboxes running unsupervised. */
	if (a->spec->die_with_parent)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	memset(data, 0, sizeof(data));
	if (a->image && a->uid == 0) {
		data[0].permitted = data[0].effective = (uint32_t)a->caps;
		data[1].permitted = data[1].effective =
		    (uint32_t)(a->caps >> 32);
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		child_fail(err_fd, "capset", NULL);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		child_fail(err_fd, "PR_SET_DUMPABLE", NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(err_fd, "PR_SET_NO_NEW_PRIVS", NULL);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, a->prog, 0, 0) < 0)
		child_fail(err_fd, "seccomp", NULL);
}

/* execve argv[0], searching the workload's PATH when it has no '/'. */
__attribute__((noreturn)) static void
exec_workload(const struct child_args *a, int err_fd)
{
	char *const *argv = (char *const *)a->spec->argv;
	char *const *envp = (char *const *)a->env;
	const char *cmd = argv[0], *p = a->path;
	char buf[PATH_MAX];
	int saw_eacces = 0;
	size_t n;

	if (strchr(cmd, '/') != NULL) {
		execve(cmd, argv, envp);
		child_fail(err_fd, "exec", cmd);
	}
	while (*p != '\0') {
		n = 0;
		while (*p != '\0' && *p != ':' && n + 1 < sizeof(buf))
			buf[n++] = *p++;
		if (*p == ':')
			p++;
		if (n == 0)
			buf[n++] = '.';
		buf[n] = '\0';
		c_append(buf, &n, sizeof(buf), "/");
		c_append(buf, &n, sizeof(buf), cmd);
		execve(buf, argv, envp);
		if (errno == EACCES)
			saw_eacces = 1;
	}
	errno = saw_eacces ? EACCES : ENOENT;
	child_fail(err_fd, "exec", cmd);
}

static int
exit_code_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

/* Fixed fds in the child (child_main): stdio, go-ahead, report, status,
 * then each captured stream's pipe and file. */
#define FD_CAP_R(i) (6 + 2 * (i))
#define FD_CAP_FILE(i) (7 + 2 * (i))
#define FD_COUNT 10

/* Copy what the workload wrote on stream i's pipe into its file, up to
 * the cap, then one note that the rest was dropped.  0 at end of file. */
static int
relay_once(const struct child_args *a, int i, uint64_t *total, int *noted)
{
	static const char note[] = "\n[lodge: output truncated]\n";
	static char buf[16384];
	ssize_t n, w;
	size_t take, off;

	n = read(FD_CAP_R(i), buf, sizeof(buf));
	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0)
		return 0;
	if (*total < a->log_max) {
		take = (size_t)n;
		if ((uint64_t)take > a->log_max - *total)
			take = (size_t)(a->log_max - *total);
		for (off = 0; off < take; off += (size_t)w)
			if ((w = write(FD_CAP_FILE(i), buf + off,
			         take - off)) <= 0)
				break;
	}
	*total += (uint64_t)n;
	if (*total > a->log_max && !*noted) {
		*noted = 1;
		if (write(FD_CAP_FILE(i), note, sizeof(note) - 1) < 0)
			return 1;
	}
	return 1;
}

/* pid 1: fork the workload, forward signals, copy its output into the
 * capture files, reap everything, and when the workload ends kill the
 * rest and report its status. */
__attribute__((noreturn)) static void
init_loop(const struct child_args *a, const sigset_t *set, sigset_t *old)
{
	struct signalfd_siginfo si;
	struct pollfd pf[3];
	uint64_t total[2] = { 0, 0 };
	int noted[2] = { 0, 0 }, open_[2], sfd, np, k, ended = 0;
	pid_t wl, p;
	int st, wl_status = 0, i;
	size_t n;

	if ((sfd = signalfd(-1, set, SFD_CLOEXEC)) < 0)
		child_fail(4, "signalfd", NULL);
	wl = fork();
	if (wl < 0)
		child_fail(4, "fork workload", NULL);
	if (wl == 0) {
		sigprocmask(SIG_SETMASK, old, NULL);
		close(5);
		if (chdir(a->workdir) < 0)
			child_fail(4, "chdir", a->workdir);
		exec_workload(a, 4);
	}
	close(4);
	/* The workload (and what it starts) holds the write ends now: the
	 * pipes end when the last of them does. */
	for (i = 0; i < 2; i++) {
		open_[i] = a->cap_r[i] >= 0;
		if (open_[i])
			close(1 + i);
	}
	for (;;) {
		np = 0;
		pf[np].fd = sfd;
		pf[np++].events = POLLIN;
		for (i = 0; i < 2; i++)
			if (open_[i]) {
				pf[np].fd = FD_CAP_R(i);
				pf[np++].events = POLLIN;
			}
		if (!ended && poll(pf, (nfds_t)np, -1) < 0)
			continue;
		for (k = 1; !ended && k < np; k++) {
			i = pf[k].fd == FD_CAP_R(0) ? 0 : 1;
			if ((pf[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !relay_once(a, i, &total[i], &noted[i])) {
				open_[i] = 0;
				close(FD_CAP_R(i));
			}
		}
		if (!ended && !(pf[0].revents & POLLIN))
			continue;
		if (!ended && read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (!ended && si.ssi_signo != SIGCHLD) {
			kill(wl, (int)si.ssi_signo);
			continue;
		}
		while (!ended && (p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == wl) {
				wl_status = st;
				ended = 1;
			}
		if (!ended)
			continue;
		/* The workload is the lease: what it left behind goes
		 * with it; then the rest of its output, to the end. */
		kill(-1, SIGKILL);
		while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
			;
		for (i = 0; i < 2; i++)
			while (
			    open_[i] && relay_once(a, i, &total[i], &noted[i]))
				;
		n = 0;
		while (n < sizeof(wl_status)) {
			ssize_t w = write(5, (char *)&wl_status + n,
			    sizeof(wl_status) - n);
			if (w <= 0)
				break;
			n += (size_t)w;
		}
		_exit(exit_code_of(wl_status));
	}
}

__attribute__((noreturn)) static void
child_main(const struct child_args *a)
{
	int src[FD_COUNT], tmp[FD_COUNT], i, sig;
	int lfd[SANDBOX_LAYERS_MAX + SANDBOX_MOUNTS_MAX];
	sigset_t set, old;
	char c;

	if (a->spec->die_with_parent)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Move what we keep to 0..9 and close everything else the provider
	 * had open (keys, databases, sockets). */
	src[0] = a->fd_in;
	src[1] = a->fd_out;
	src[2] = a->fd_err;
	src[3] = a->sync_r;
	src[4] = a->err_w;
	src[5] = a->status_w;
	for (i = 0; i < 2; i++) {
		src[FD_CAP_R(i)] = a->cap_r[i];
		src[FD_CAP_FILE(i)] = a->cap_file[i];
	}
	for (i = 0; i < FD_COUNT; i++)
		if ((tmp[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD, 100) : -1) <
		        0 &&
		    src[i] >= 0)
			child_fail(a->err_w, "dup", NULL);
	for (i = 0; i < FD_COUNT; i++) {
		if (tmp[i] < 0)
			close(i);
		else if (dup2(tmp[i], i) < 0)
			child_fail(a->err_w, "dup2", NULL);
	}
	if (syscall(SYS_close_range, FD_COUNT, ~0U, 0) < 0)
		for (i = FD_COUNT; i < 65536; i++)
			close(i);
	/* Nothing past stdio reaches the workload's exec. */
	for (i = 3; i < FD_COUNT; i++)
		if (src[i] >= 0)
			fcntl(i, F_SETFD, FD_CLOEXEC);

	if (a->image || a->n_mount_fds ? recv_go(a, lfd) < 0 :
	                                 read(3, &c, 1) != 1)
		_exit(1); /* the parent gave up on us */
	close(3);
	/* Root of the image's user namespace (the parent wrote its maps):
	 * what it creates belongs to the image's root, id_base on the host. */
	if (a->image &&
	    (syscall(SYS_setresgid, 0, 0, 0) < 0 ||
	        syscall(SYS_setresuid, 0, 0, 0) < 0))
		child_fail(4, "become root of the user namespace", NULL);
	if (a->image && a->spec->die_with_parent)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

	if (unshare(CLONE_NEWCGROUP) < 0)
		child_fail(4, "unshare cgroup namespace", NULL);
	if (sethostname(a->hostname, c_strlen(a->hostname)) < 0)
		child_fail(4, "sethostname", NULL);
	loopback_up(4);
	if (a->image)
		setup_root_image(a, 4, lfd);
	else
		setup_root(a, 4, lfd);
	set_rlimits(a, 4);
	prctl(PR_SET_NAME, "lodge-init", 0, 0, 0);

	/* Reset what the provider set (ignored signals survive exec) and
	 * block what init waits for. */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (i = 0; i < (int)(sizeof(forwarded) / sizeof(forwarded[0])); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	sigdelset(&old, SIGCHLD);
	for (i = 0; i < (int)(sizeof(forwarded) / sizeof(forwarded[0])); i++)
		sigdelset(&old, forwarded[i]);

	drop_privileges(a, 4);
	init_loop(a, &set, &old);
}

/* ======================================================================
 * Parent half
 * ==================================================================== */

int
sandbox_parse_proc_stat(const char *text, char *comm, size_t len,
    uint64_t *start_ticks)
{
	const char *open_ = strchr(text, '('), *close_ = strrchr(text, ')');
	const char *p;
	unsigned long long v;
	int field;

	if (open_ == NULL || close_ == NULL || close_ < open_)
		return err_set(ERR_INVAL, "/proc/PID/stat: no (comm)");
	if (comm != NULL && len > 0)
		snprintf(comm, len, "%.*s", (int)(close_ - open_ - 1),
		    open_ + 1);
	/* After "(comm)" come field 3 (state) onwards; starttime is 22. */
	p = close_ + 1;
	for (field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		if (*p == '\0')
			return err_set(ERR_INVAL, "/proc/PID/stat: short");
	}
	if (sscanf(p, " %llu", &v) != 1)
		return err_set(ERR_INVAL, "/proc/PID/stat: no start time");
	*start_ticks = (uint64_t)v;
	return 0;
}

/* pid's command name and start time (clock ticks after boot). */
static int
proc_stat(pid_t pid, char *comm, size_t len, uint64_t *start_ticks)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(ERR_NOTFOUND, "%s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return err_set(ERR_NOTFOUND, "%s: unreadable", path);
	buf[n] = '\0';
	return sandbox_parse_proc_stat(buf, comm, len, start_ticks);
}

static int
write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	size_t len = strlen(text);
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return err_set(ERR_IO, "%s: %s", path, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len) {
		int e = errno;
		close(fd);
		return err_set(ERR_IO, "%s: writing \"%s\": %s", path, text,
		    strerror(e));
	}
	close(fd);
	return 0;
}

/* An image's part of the spec (sandbox_image's contract). */
static int
check_image(const struct sandbox_spec *spec)
{
	const struct sandbox_image *im = spec->image;
	uint64_t count = im->id_count ? im->id_count : SANDBOX_IDS_DEFAULT;
	const char *p;
	size_t i;

	if (spec->app_dir != NULL)
		return err_set(ERR_INVAL, "sandbox: an image has no app dir");
	if (im->n_layers == 0 || im->n_layers > SANDBOX_LAYERS_MAX ||
	    im->layers == NULL)
		return err_set(ERR_INVAL,
		    "sandbox image: %zu layers (expected 1 to %d)",
		    im->n_layers, SANDBOX_LAYERS_MAX);
	for (i = 0; i < im->n_layers; i++)
		if (im->layers[i] == NULL || im->layers[i][0] != '/')
			return err_set(ERR_INVAL,
			    "sandbox image: layer %zu is not an absolute "
			    "path",
			    i);
	if (im->id_base == 0 || (uint64_t)im->id_base + count > 0xffffffffull)
		return err_set(ERR_INVAL,
		    "sandbox image: ids %u..+%llu are not a range of "
		    "unprivileged host ids",
		    (unsigned)im->id_base, (unsigned long long)count);
	if (im->uid >= count || im->gid >= count)
		return err_set(ERR_INVAL,
		    "sandbox image: user %u:%u is outside the %llu ids "
		    "mapped",
		    (unsigned)im->uid, (unsigned)im->gid,
		    (unsigned long long)count);
	if (im->n_volumes > SANDBOX_VOLUMES_MAX)
		return err_set(ERR_INVAL, "sandbox image: more than %d volumes",
		    SANDBOX_VOLUMES_MAX);
	for (i = 0; i < im->n_volumes; i++) {
		p = im->volumes[i].path;
		if (p == NULL || p[0] != '/' || p[1] == '\0' ||
		    strlen(p) >= 1024 || strstr(p, "/../") != NULL ||
		    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0) ||
		    im->volumes[i].bytes == 0)
			return err_set(ERR_INVAL,
			    "sandbox image: volume %zu \"%s\": expected an "
			    "absolute path other than / without .. and a size",
			    i, p ? p : "");
	}
	if (geteuid() != 0)
		return err_set(ERR_REJECT,
		    "sandbox: images need root (a range of ids for the user "
		    "namespace, idmapped mounts)");
	return 0;
}

static int
check_spec(const struct sandbox_spec *spec)
{
	const char *p;
	size_t i;

	if (spec->argv == NULL || spec->argv[0] == NULL ||
	    spec->argv[0][0] == '\0')
		return err_set(ERR_INVAL, "sandbox: no command to run");
	if (spec->name == NULL || spec->name[0] == '\0' ||
	    strlen(spec->name) > 64)
		return err_set(ERR_INVAL,
		    "sandbox: name must be 1-64 "
		    "characters");
	for (p = spec->name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		        *p == '.'))
			return err_set(ERR_INVAL,
			    "sandbox name \"%s\": "
			    "character %ld is not one of [A-Za-z0-9._-]",
			    spec->name, (long)(p - spec->name) + 1);
	if (spec->name[0] == '.')
		return err_set(ERR_INVAL,
		    "sandbox name \"%s\": must not "
		    "start with '.'",
		    spec->name);
	if (spec->workdir != NULL && spec->workdir[0] != '/')
		return err_set(ERR_INVAL,
		    "sandbox workdir \"%s\": must be "
		    "absolute",
		    spec->workdir);
	if (spec->app_dir != NULL) {
		struct stat st;
		if (stat(spec->app_dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return err_set(ERR_NOTFOUND,
			    "sandbox app dir \"%s\": "
			    "not a directory",
			    spec->app_dir);
	}
	if (spec->tmp_bytes == 0 || spec->data_bytes == 0)
		return err_set(ERR_INVAL,
		    "sandbox: /tmp and /data need a "
		    "size");
	for (i = 0; spec->env != NULL && spec->env[i] != NULL; i++)
		if (strchr(spec->env[i], '=') == NULL)
			return err_set(ERR_INVAL,
			    "sandbox env[%zu] \"%s\": "
			    "expected NAME=value",
			    i, spec->env[i]);
	if (spec->n_mounts > SANDBOX_MOUNTS_MAX ||
	    (spec->n_mounts > 0 && spec->mounts == NULL))
		return err_set(ERR_INVAL, "sandbox: more than %d volumes",
		    SANDBOX_MOUNTS_MAX);
	for (i = 0; i < spec->n_mounts; i++) {
		const struct sandbox_mount *v = &spec->mounts[i];
		if (v->m.fstype == NULL || v->m.source == NULL)
			return err_set(ERR_INVAL,
			    "sandbox: volume %zu: no file system", i);
		if (volume_check_path(v->path, "sandbox volume") != 0)
			return ERR_INVAL;
	}
	if (spec->image != NULL)
		return check_image(spec);
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A start in progress: the sandbox being built, what its child gets, and
 * the parent's ends of the pipes between them.  Every fd here is -1 or
 * owned by the start (start_close); the child's copies go with clone(). */
struct start {
	const struct sandbox_spec *spec;
	struct sandbox *sb;
	struct child_args a;
	char run_dir[PATH_MAX];
	int devnull;
	int cap_w[2]; /* write ends of the capture pipes (stdout, stderr) */
	int cap_r[2]; /* their read ends, for init */
	int cap_file[2]; /* the capture files, for init */
	int sync_p[2]; /* parent writes a byte: the child may go on */
	int err_p[2]; /* child's report: empty when the workload exec'd */
	int st_p[2]; /* init writes the workload's wait status */
	char *hosts; /* the child's /etc/hosts text, malloc'd */
	int *layer_fds; /* an image's layers, idmapped (detached mounts) */
	size_t n_layer_fds;
	char *overlay_opts; /* the child's, malloc'd */
	char (*vol_opts)[64];
	int mount_fds[SANDBOX_MOUNTS_MAX]; /* spec->mounts made here
	                                      (detached), for the child */
	size_t n_mount_fds;
};

static void
start_close(struct start *s)
{
	int i;

	size_t k;

	for (i = 0; i < 2; i++) {
		close_fd(&s->cap_w[i]);
		close_fd(&s->cap_r[i]);
		close_fd(&s->cap_file[i]);
		close_fd(&s->sync_p[i]);
		close_fd(&s->err_p[i]);
		close_fd(&s->st_p[i]);
	}
	close_fd(&s->devnull);
	free(s->hosts);
	s->hosts = NULL;
	for (k = 0; k < s->n_layer_fds; k++)
		close_fd(&s->layer_fds[k]);
	free(s->layer_fds);
	s->layer_fds = NULL;
	s->n_layer_fds = 0;
	free(s->overlay_opts);
	s->overlay_opts = NULL;
	free(s->vol_opts);
	s->vol_opts = NULL;
	for (k = 0; k < s->n_mount_fds; k++)
		close_fd(&s->mount_fds[k]);
	s->n_mount_fds = 0;
}

/* The sandbox object, with nothing acquired yet. */
static int
start_new_sandbox(struct start *s)
{
	struct sandbox *sb;
	int i;

	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return err_set(ERR_NOMEM, "sandbox: out of memory");
	sb->pid = -1;
	sb->pidfd = sb->netns_fd = sb->userns_fd = sb->status_fd = -1;
	for (i = 0; i < 2; i++)
		s->a.cap_r[i] = s->a.cap_file[i] = -1;
	s->sb = sb;
	return 0;
}

/* An image's: its user namespace, user, overlay and tmpfs options.  The
 * overlay names its layers relative to the staging dir (l/0 ...), which
 * keeps 500 of them within the option page. */
static int
start_image_args(struct start *s)
{
	const struct sandbox_image *im = s->spec->image;
	struct child_args *a = &s->a;
	size_t i, len = 64 + im->n_layers * 8;
	int n;

	a->image = 1;
	a->userns = 1;
	a->uid = im->uid;
	a->gid = im->gid;
	a->caps = sandbox_image_caps();
	a->n_layers = im->n_layers;
	a->workdir = s->spec->workdir ? s->spec->workdir : "/";
	if ((s->overlay_opts = malloc(len)) == NULL)
		return err_set(ERR_NOMEM, "sandbox: out of memory");
	n = snprintf(s->overlay_opts, len, "lowerdir=");
	for (i = im->n_layers; i-- > 0;)
		n += snprintf(s->overlay_opts + n, len - (size_t)n, "l/%zu%s",
		    i, i ? ":" : "");
	snprintf(s->overlay_opts + n, len - (size_t)n,
	    ",upperdir=rw/upper,workdir=rw/work,userxattr");
	a->overlay_opts = s->overlay_opts;
	snprintf(a->upper_opts, sizeof(a->upper_opts),
	    "mode=0755,size=%" PRIu64,
	    im->upper_bytes ? im->upper_bytes : SANDBOX_DATA_DEFAULT);
	if (im->n_volumes > 0) {
		if ((s->vol_opts = calloc(im->n_volumes,
		         sizeof(*s->vol_opts))) == NULL)
			return err_set(ERR_NOMEM, "sandbox: out of memory");
		for (i = 0; i < im->n_volumes; i++)
			snprintf(s->vol_opts[i], sizeof(s->vol_opts[i]),
			    "mode=0755,size=%" PRIu64, im->volumes[i].bytes);
	}
	a->vol_opts = (const char(*)[64])s->vol_opts;
	return 0;
}

/* Everything the child needs, as text and numbers, since after clone()
 * it can no longer format or allocate: the ids, the environment and its
 * PATH, /etc/passwd and /etc/group, the tmpfs options, the seccomp
 * filter. */
static int
start_child_args(struct start *s)
{
	const struct sandbox_spec *spec = s->spec;
	struct child_args *a = &s->a;
	size_t k;
	int rc;

	a->spec = spec;
	if ((rc = seccomp_policy_get(&a->prog)) < 0)
		return err_prefix(rc, "sandbox: seccomp policy");
	a->userns = geteuid() != 0;
	a->uid = spec->uid ? spec->uid : SANDBOX_UID_DEFAULT;
	a->gid = spec->gid ? spec->gid : SANDBOX_UID_DEFAULT;
	a->env = spec->env ? spec->env : default_env;
	a->path = "/usr/local/bin:/usr/bin:/bin";
	for (k = 0; a->env[k] != NULL; k++)
		if (strncmp(a->env[k], "PATH=", 5) == 0)
			a->path = a->env[k] + 5;
	a->workdir = spec->workdir ? spec->workdir :
	    spec->app_dir          ? "/app" :
	                             "/";
	snprintf(a->hostname, sizeof(a->hostname), "%s", spec->name);
	snprintf(a->passwd, sizeof(a->passwd),
	    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
	    "lodge:x:%u:%u:lodge:/tmp:/usr/sbin/nologin\n",
	    (unsigned)a->uid, (unsigned)a->gid);
	snprintf(a->group, sizeof(a->group), "root:x:0:\nlodge:x:%u:\n",
	    (unsigned)a->gid);
	if (asprintf(&s->hosts,
	        "127.0.0.1\tlocalhost\n"
	        "::1\tlocalhost ip6-localhost ip6-loopback\n%s",
	        spec->hosts_extra ? spec->hosts_extra : "") < 0) {
		s->hosts = NULL;
		return err_set(ERR_NOMEM, "sandbox: out of memory");
	}
	a->hosts = s->hosts;
	snprintf(a->tmp_opts, sizeof(a->tmp_opts), "mode=1777,size=%" PRIu64,
	    spec->tmp_bytes);
	snprintf(a->shm_opts, sizeof(a->shm_opts), "mode=1777,size=%" PRIu64,
	    spec->tmp_bytes < (16u << 20) ? spec->tmp_bytes :
	                                    (uint64_t)(16u << 20));
	snprintf(a->data_opts, sizeof(a->data_opts),
	    "mode=0755,uid=%u,gid=%u,size=%" PRIu64, (unsigned)a->uid,
	    (unsigned)a->gid, spec->data_bytes);
	for (k = 0; k < spec->n_mounts; k++)
		if (strcmp(spec->mounts[k].m.fstype, "tmpfs") != 0)
			a->n_mount_fds++;
	if (spec->image != NULL)
		return start_image_args(s);
	return 0;
}

/* The empty host directory the child stages its root in (inside its own
 * mount namespace, so nothing shows on the host). */
static int
start_staging_dir(struct start *s)
{
	int rc;

	if (s->spec->run_dir != NULL)
		snprintf(s->run_dir, sizeof(s->run_dir), "%s",
		    s->spec->run_dir);
	else if (s->a.image)
		snprintf(s->run_dir, sizeof(s->run_dir), "/run/lodge/image");
	else if (!s->a.userns)
		snprintf(s->run_dir, sizeof(s->run_dir), "/run/lodge/sandbox");
	else
		snprintf(s->run_dir, sizeof(s->run_dir), "%s/lodge-sandbox-%u",
		    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		    (unsigned)geteuid());
	if ((rc = util_mkdirs(s->run_dir, 0700)) < 0)
		return err_prefix(rc, "sandbox: staging dir");
	/* An image's child is root of its own user namespace only: host
	 * root's 0700 dirs on the way would stop it (search only). */
	if (s->a.image && s->spec->run_dir == NULL &&
	    (chmod("/run/lodge", 0711) < 0 || chmod(s->run_dir, 0711) < 0))
		return err_set(ERR_IO, "sandbox: staging dir %s: %s",
		    s->run_dir, strerror(errno));
	s->a.root = s->run_dir;
	return 0;
}

/* The cgroup with the limits written, in the mode the spec asks for. */
static int
start_cgroup(struct start *s)
{
	const struct sandbox_spec *spec = s->spec;
	struct cgroup_limits lim;
	int rc;

	lim.cpu_millis = spec->cpu_millis;
	lim.memory_bytes = spec->memory_bytes;
	lim.pids_max = spec->pids_max;
	if ((rc = cgroup_new(&spec->cgroup,
	         spec->cgroup_parent ? spec->cgroup_parent : "lodge",
	         spec->name, &lim, &s->sb->cg, &s->sb->why_not)) < 0)
		return err_prefix(rc, "sandbox: cgroup");
	/* Without a cgroup the limits are best effort (docs/sandbox.md):
	 * memory as RLIMIT_AS, pids as RLIMIT_NPROC, CPU not at all; the
	 * usage line says metering=rusage. */
	s->a.rlimit_fallback = cgroup_mode(s->sb->cg) == CGROUP_NONE;
	return 0;
}

/* Capture stream i into path: the file and the pipe that the sandbox's
 * init copies into it (so the copy goes on whoever the parent is). */
static int
open_capture(struct start *s, int i, const char *path)
{
	int p[2];

	if ((s->cap_file[i] = open(path,
	         O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640)) <
	    0)
		return err_set(ERR_IO, "sandbox: capture %s: %s", path,
		    strerror(errno));
	if (pipe2(p, O_CLOEXEC) < 0)
		return err_set(ERR_IO, "sandbox: capture %s: pipe: %s", path,
		    strerror(errno));
	s->cap_r[i] = p[0];
	s->cap_w[i] = p[1];
	s->a.cap_r[i] = p[0];
	s->a.cap_file[i] = s->cap_file[i];
	return 0;
}

/* The workload's stdin, stdout and stderr: the caller's fds, /dev/null,
 * or pipes to the capture files. */
static int
start_stdio(struct start *s)
{
	const struct sandbox_spec *spec = s->spec;
	int rc;

	if ((s->devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return err_set(ERR_IO, "sandbox: /dev/null: %s",
		    strerror(errno));
	s->a.fd_in = spec->stdin_fd >= 0 ? spec->stdin_fd : s->devnull;
	s->a.fd_out = spec->stdout_fd >= 0 ? spec->stdout_fd : s->devnull;
	s->a.fd_err = spec->stderr_fd >= 0 ? spec->stderr_fd : s->devnull;
	s->a.log_max =
	    spec->log_max_bytes ? spec->log_max_bytes : LOG_MAX_DEFAULT;
	if (spec->stdout_path != NULL) {
		if ((rc = open_capture(s, 0, spec->stdout_path)) < 0)
			return rc;
		s->a.fd_out = s->cap_w[0];
	}
	if (spec->stderr_path != NULL) {
		if ((rc = open_capture(s, 1, spec->stderr_path)) < 0)
			return rc;
		s->a.fd_err = s->cap_w[1];
	}
	return 0;
}

/* The pipes between parent and child: go-ahead, report, exit status (a
 * file at status_path when given, which a later process can read). */
static int
start_pipes(struct start *s)
{
	const char *sp = s->spec->status_path;

	/* A socket, so the go-ahead can carry an image's layer mounts. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->sync_p) < 0 ||
	    pipe2(s->err_p, O_CLOEXEC) < 0)
		return err_set(ERR_IO, "sandbox: pipe: %s", strerror(errno));
	if (sp == NULL && pipe2(s->st_p, O_CLOEXEC) < 0)
		return err_set(ERR_IO, "sandbox: pipe: %s", strerror(errno));
	if (sp != NULL &&
	    ((s->st_p[1] = open(sp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	          0600)) < 0 ||
	        (s->st_p[0] = open(sp, O_RDONLY | O_CLOEXEC)) < 0))
		return err_set(ERR_IO, "sandbox: status file %s: %s", sp,
		    strerror(errno));
	s->a.sync_r = s->sync_p[0];
	s->a.err_w = s->err_p[1];
	s->a.status_w = s->st_p[1];
	return 0;
}

/* Clone the child into its new namespaces.  It waits for the go-ahead;
 * the parent keeps only its own ends of the pipes. */
static int
start_clone(struct start *s)
{
	struct sandbox *sb = s->sb;
	int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
	    CLONE_NEWNET;

	if (s->a.userns)
		flags |= CLONE_NEWUSER;
	sb->start_ns = util_mono_ns();
	/* fork()-like clone: no new stack, the child runs on a copy. */
	sb->pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD,
	    NULL, NULL, NULL, NULL);
	if (sb->pid < 0)
		return err_set(ERR_IO, "sandbox: clone: %s", strerror(errno));
	if (sb->pid == 0)
		child_main(&s->a);
	close_fd(&s->sync_p[0]);
	close_fd(&s->err_p[1]);
	close_fd(&s->st_p[1]);
	close_fd(&s->cap_w[0]);
	close_fd(&s->cap_w[1]);
	close_fd(&s->cap_r[0]);
	close_fd(&s->cap_r[1]);
	close_fd(&s->cap_file[0]);
	close_fd(&s->cap_file[1]);
	close_fd(&s->devnull);
	sb->status_fd = s->st_p[0];
	s->st_p[0] = -1;
	(void)proc_stat(sb->pid, NULL, 0, &sb->start_ticks);
	return 0;
}

/* Without root: map the sandbox uid and gid to the provider's own (the
 * one mapping an unprivileged process may write). */
static int
start_id_maps(struct start *s)
{
	char map[64];
	int rc;

	if (!s->a.userns)
		return 0;
	if (s->a.image) {
		/* Root writes the whole range (/etc/subuid-style): ids
		 * 0..count-1 inside are base.. on the host. */
		snprintf(map, sizeof(map), "0 %u %u\n",
		    (unsigned)s->spec->image->id_base,
		    (unsigned)(s->spec->image->id_count ?
		            s->spec->image->id_count :
		            SANDBOX_IDS_DEFAULT));
		if ((rc = write_proc(s->sb->pid, "uid_map", map)) < 0 ||
		    (rc = write_proc(s->sb->pid, "gid_map", map)) < 0)
			return err_prefix(rc, "sandbox: user namespace");
		return 0;
	}
	if ((rc = write_proc(s->sb->pid, "setgroups", "deny")) < 0)
		return err_prefix(rc, "sandbox: user namespace");
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)s->a.uid,
	    (unsigned)geteuid());
	if ((rc = write_proc(s->sb->pid, "uid_map", map)) < 0)
		return err_prefix(rc, "sandbox: user namespace");
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)s->a.gid,
	    (unsigned)getegid());
	if ((rc = write_proc(s->sb->pid, "gid_map", map)) < 0)
		return err_prefix(rc, "sandbox: user namespace");
	return 0;
}

/* An image's layers as detached mounts idmapped to the child's user
 * namespace: a file the layer's root owns is the namespace's root (the
 * host's id_base), and one cached copy of a layer serves every lease,
 * whatever its range.  They go to the child with the go-ahead. */
static int
start_layers(struct start *s)
{
	const struct sandbox_image *im = s->spec->image;
	struct mount_attr attr;
	char path[64];
	int ufd, rc = 0;
	size_t i;

	if (!s->a.image)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/ns/user", (long)s->sb->pid);
	if ((ufd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(ERR_IO, "sandbox: %s: %s", path,
		    strerror(errno));
	if ((s->layer_fds = calloc(im->n_layers, sizeof(int))) == NULL) {
		close(ufd);
		return err_set(ERR_NOMEM, "sandbox: out of memory");
	}
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY |
	    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	attr.userns_fd = (uint64_t)ufd;
	for (i = 0; i < im->n_layers; i++) {
		int fd = (int)syscall(SYS_open_tree, AT_FDCWD, im->layers[i],
		    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (fd < 0) {
			rc = err_set(ERR_IO, "sandbox: layer %s: %s",
			    im->layers[i], strerror(errno));
			break;
		}
		s->layer_fds[s->n_layer_fds++] = fd;
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr,
		        sizeof(attr)) < 0) {
			rc = err_set(ERR_IO,
			    "sandbox: idmapped mount of layer %s: %s (its "
			    "file system must support idmapped mounts)",
			    im->layers[i], strerror(errno));
			break;
		}
	}
	close(ufd);
	return rc;
}

/* The volumes the child may not mount itself (spec->mounts other than
 * tmpfs: ext4 from a loop device) as detached mounts, idmapped into an
 * image's user namespace.  They go to the child with the go-ahead. */
static int
start_mounts(struct start *s)
{
	const struct sandbox_spec *spec = s->spec;
	char path[64];
	size_t i;
	int ufd = -1, rc = 0;

	if (s->a.n_mount_fds == 0)
		return 0;
	if (s->a.image) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/user",
		    (long)s->sb->pid);
		if ((ufd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return err_set(ERR_IO, "sandbox: %s: %s", path,
			    strerror(errno));
	}
	for (i = 0; i < spec->n_mounts && rc == 0; i++) {
		if (strcmp(spec->mounts[i].m.fstype, "tmpfs") == 0)
			continue;
		rc = volume_fsmount(&spec->mounts[i].m, ufd,
		    &s->mount_fds[s->n_mount_fds]);
		if (rc == 0)
			s->n_mount_fds++;
		else
			rc = err_prefix(rc, "sandbox: volume at %s",
			    spec->mounts[i].path);
	}
	if (ufd >= 0)
		close(ufd);
	return rc;
}

/* Into the cgroup before anything runs, so all of it is counted. */
static int
start_attach(struct start *s)
{
	int rc;

	if (cgroup_mode(s->sb->cg) == CGROUP_NONE)
		return 0;
	if ((rc = cgroup_attach(s->sb->cg, s->sb->pid)) < 0)
		return err_prefix(rc, "sandbox: cgroup attach");
	return 0;
}

/* The namespaces' fds, while the child still waits: once it runs it is
 * non-dumpable and its /proc/PID/ns is root's only, which a provider
 * without root could then not open.  Best effort: a sandbox without them
 * runs, only the gateway cannot reach into it. */
static int
start_ns_fds(struct start *s)
{
	struct sandbox *sb = s->sb;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/ns/net", (long)sb->pid);
	sb->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	/* Root reaches an image's network namespace from its own. */
	if (s->a.userns && !s->a.image) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/user",
		    (long)sb->pid);
		sb->userns_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	return 0;
}

/* The deployment network's interface, while the child still waits: it
 * exists before the workload's first instruction. */
static int
start_net(struct start *s)
{
	int rc;

	if (s->spec->net_setup == NULL)
		return 0;
	if (s->sb->netns_fd < 0)
		return err_set(ERR_IO,
		    "sandbox: network setup: no handle on the network "
		    "namespace");
	if ((rc = s->spec->net_setup(s->spec->net_arg, s->sb->netns_fd)) < 0)
		return err_prefix(rc, "sandbox: network setup");
	return 0;
}

/* Read the child's report: empty means the workload exec'd. */
static int
read_report(int fd)
{
	char buf[ERRBUF + 1];
	size_t n = 0;
	ssize_t r;

	while (n < ERRBUF) {
		r = read(fd, buf + n, ERRBUF - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (n == 0)
		return 0;
	buf[n] = '\0';
	return err_set(buf[0] == 'N' ? ERR_NOTFOUND : ERR_IO, "sandbox: %s",
	    buf + 1);
}

/* Let the child go on, and wait until the workload has exec'd or the
 * child has said which step failed. */
/* The go-ahead: one byte, and an image's layer mounts (SCM_RIGHTS) in
 * batches of FD_BATCH, a byte each. */
static int
send_go(int sock, const int *fds, size_t n)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FD_BATCH)];
		struct cmsghdr align;
	} u;
	struct cmsghdr *cm;
	struct msghdr m;
	struct iovec io;
	size_t off = 0, k;
	char c = 'g';

	do {
		k = n - off > FD_BATCH ? FD_BATCH : n - off;
		memset(&m, 0, sizeof(m));
		memset(&u, 0, sizeof(u));
		io.iov_base = &c;
		io.iov_len = 1;
		m.msg_iov = &io;
		m.msg_iovlen = 1;
		if (k > 0) {
			m.msg_control = u.buf;
			m.msg_controllen = CMSG_SPACE(sizeof(int) * k);
			cm = CMSG_FIRSTHDR(&m);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * k);
			memcpy(CMSG_DATA(cm), fds + off, sizeof(int) * k);
		}
		if (sendmsg(sock, &m, MSG_NOSIGNAL) != 1)
			return -1;
		off += k;
		c = 'f';
	} while (off < n);
	return 0;
}

static int
start_release(struct start *s)
{
	int rc, *fds = s->layer_fds;
	size_t n = s->n_layer_fds;

	if (s->n_mount_fds > 0) { /* the layers', then the volumes' */
		if ((fds = calloc(n + s->n_mount_fds, sizeof(int))) == NULL)
			return err_set(ERR_NOMEM, "sandbox: out of memory");
		if (n > 0)
			memcpy(fds, s->layer_fds, n * sizeof(int));
		memcpy(fds + n, s->mount_fds, s->n_mount_fds * sizeof(int));
		n += s->n_mount_fds;
	}
	rc = send_go(s->sync_p[1], fds, n);
	if (fds != s->layer_fds)
		free(fds);
	if (rc < 0)
		return err_set(ERR_IO, "sandbox: releasing the child: %s",
		    strerror(errno));
	close_fd(&s->sync_p[1]);
	if ((rc = read_report(s->err_p[0])) < 0)
		return rc;
	close_fd(&s->err_p[0]);
	return 0;
}

/* sandbox_start's phases, in order; each names its step in its message. */
static int (*const start_phases[])(struct start *) = {
	start_new_sandbox, /* the object, nothing acquired */
	start_child_args, /* the child's text, ids and filter */
	start_staging_dir, /* where the root is staged */
	start_cgroup, /* limits written */
	start_stdio, /* /dev/null, capture files */
	start_pipes, /* go-ahead, report, status */
	start_clone, /* the child, waiting in its namespaces */
	start_id_maps, /* without root or with an image: its ids */
	start_layers, /* an image's layers, idmapped */
	start_mounts, /* volumes the child may not mount */
	start_attach, /* into the cgroup */
	start_ns_fds, /* for the gateway */
	start_net, /* its deployment network's interface */
	start_release, /* go: exec'd, or the step that failed */
};

int
sandbox_start(const struct sandbox_spec *spec, struct sandbox **out)
{
	struct start s;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = check_spec(spec)) < 0)
		return rc;
	memset(&s, 0, sizeof(s));
	s.spec = spec;
	s.devnull = s.cap_w[0] = s.cap_w[1] = -1;
	s.cap_r[0] = s.cap_r[1] = s.cap_file[0] = s.cap_file[1] = -1;
	s.sync_p[0] = s.sync_p[1] = s.err_p[0] = s.err_p[1] = -1;
	s.st_p[0] = s.st_p[1] = -1;
	for (i = 0; i < sizeof(start_phases) / sizeof(start_phases[0]); i++)
		if ((rc = start_phases[i](&s)) < 0)
			goto fail;
	/* Without a pidfd, sandbox_wait polls wait4 instead. */
	s.sb->pidfd = (int)syscall(SYS_pidfd_open, s.sb->pid, 0);
	start_close(&s);
	*out = s.sb;
	return 0;
fail:
	start_close(&s);
	sandbox_free(s.sb); /* kills the child; keeps this failure's message */
	return rc;
}

/* Init has ended: the workload's status (what init reported, else
 * init's own) and the final counters. */
static void
reaped(struct sandbox *sb, int init_status)
{
	int wl;
	ssize_t n;

	sb->end_ns = util_mono_ns();
	sb->exited = 1;
	sb->status = init_status;
	n = pread(sb->status_fd, &wl, sizeof(wl), 0);
	if (n < 0 && errno == ESPIPE)
		n = read(sb->status_fd, &wl, sizeof(wl));
	if (n == (ssize_t)sizeof(wl))
		sb->status = wl;
	close_fd(&sb->status_fd);
	if (sb->cg != NULL)
		cgroup_read_usage(sb->cg, &sb->final);
}

int
sandbox_wait(struct sandbox *sb, int timeout_ms, int *exited, int *status)
{
	struct pollfd pfd;
	int st, r;
	pid_t p;

	*exited = 0;
	if (!sb->exited && sb->adopted) {
		/* Not our child: its end shows on the pidfd, its status in
		 * the status file (none: it was killed). */
		pfd.fd = sb->pidfd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			return 0;
		if (r < 0)
			return err_set(ERR_IO, "poll: %s", strerror(errno));
		if (r == 0)
			return 0;
		reaped(sb, SIGKILL);
	}
	if (!sb->exited) {
		if (sb->pidfd >= 0 && timeout_ms != -1) {
			pfd.fd = sb->pidfd;
			pfd.events = POLLIN;
			r = poll(&pfd, 1, timeout_ms);
			if (r < 0 && errno == EINTR)
				return 0;
			if (r < 0)
				return err_set(ERR_IO, "poll: %s",
				    strerror(errno));
			if (r == 0)
				return 0;
		}
		p = wait4(sb->pid, &st, timeout_ms == -1 ? 0 : WNOHANG,
		    &sb->ru);
		if (p < 0 && errno == EINTR)
			return 0;
		if (p < 0)
			return err_set(ERR_IO, "wait4 %ld: %s", (long)sb->pid,
			    strerror(errno));
		if (p == 0)
			return 0;
		reaped(sb, st);
	}
	*exited = 1;
	if (status != NULL)
		*status = sb->status;
	return 0;
}

int
sandbox_wait_forwarding(struct sandbox *sb, volatile sig_atomic_t *pending,
    int *status)
{
	int exited = 0, sig, rc;

	while (!exited) {
		if ((sig = *pending) != 0) {
			*pending = 0;
			(void)sandbox_signal(sb, sig);
		}
		/* A signal interrupts the wait (it returns with exited 0),
		 * so it is forwarded at once; 200 ms bounds the delay when
		 * it lands just before the wait begins. */
		if ((rc = sandbox_wait(sb, 200, &exited, status)) < 0)
			return rc;
	}
	return 0;
}

int
sandbox_signal(struct sandbox *sb, int sig)
{
	if (sb->exited)
		return 0;
	/* An adopted init is reached through its pidfd: its pid may have
	 * been reused by the time a stale one would be signalled. */
	if (sb->adopted) {
		if (syscall(SYS_pidfd_send_signal, sb->pidfd, sig, NULL, 0) <
		        0 &&
		    errno != ESRCH)
			return err_set(ERR_IO, "pidfd_send_signal %ld: %s",
			    (long)sb->pid, strerror(errno));
		return 0;
	}
	if (kill(sb->pid, sig) < 0 && errno != ESRCH)
		return err_set(ERR_IO, "kill %ld: %s", (long)sb->pid,
		    strerror(errno));
	return 0;
}

int
sandbox_stop(struct sandbox *sb, int grace_ms, int *status)
{
	uint64_t deadline = util_mono_ns() + (uint64_t)grace_ms * 1000000u;
	int exited = 0, st = 0, rc;

	if (!sb->exited && grace_ms > 0) {
		(void)sandbox_signal(sb, SIGTERM);
		while (!exited) {
			uint64_t now = util_mono_ns();
			if (now >= deadline)
				break;
			rc = sandbox_wait(sb,
			    (int)((deadline - now) / 1000000u) + 1, &exited,
			    &st);
			if (rc < 0)
				return rc;
		}
	}
	if (!sb->exited) {
		/* SIGKILL to pid 1 ends the whole pid namespace. */
		(void)sandbox_signal(sb, SIGKILL);
		if (sb->cg != NULL && cgroup_kill_all(sb->cg, 2000) < 0)
			return err_prefix(ERR_IO, "sandbox stop");
		while (!exited)
			if ((rc = sandbox_wait(sb, -1, &exited, &st)) < 0)
				return rc;
	}
	if (status != NULL)
		*status = sb->status;
	return 0;
}

enum sandbox_metering
sandbox_metering(const struct sandbox *sb)
{
	return (enum sandbox_metering)(
	    sb->cg ? cgroup_mode(sb->cg) : CGROUP_NONE);
}

int
sandbox_usage(struct sandbox *sb, struct sandbox_usage *out)
{
	struct cgroup_usage cu;
	enum cgroup_mode mode = sb->cg ? cgroup_mode(sb->cg) : CGROUP_NONE;
	uint64_t end = sb->exited ? sb->end_ns : util_mono_ns();

	memset(out, 0, sizeof(*out));
	out->metering = (enum sandbox_metering)mode;
	out->wall_ms = (end - sb->start_ns) / 1000000u;
	if (mode != CGROUP_NONE) {
		if (sb->exited)
			cu = sb->final;
		else
			cgroup_read_usage(sb->cg, &cu);
		out->cpu_ms = cu.cpu_usec / 1000u;
		out->mem_peak_bytes = cu.mem_peak_bytes;
		out->oom_kills = cu.oom_kills;
		out->pids_peak = cu.pids_peak;
	} else if (sb->exited) {
		/* wait4() on init counts init and every descendant it reaped,
		 * which is all of them. */
		out->cpu_ms = (uint64_t)sb->ru.ru_utime.tv_sec * 1000u +
		    (uint64_t)sb->ru.ru_utime.tv_usec / 1000u +
		    (uint64_t)sb->ru.ru_stime.tv_sec * 1000u +
		    (uint64_t)sb->ru.ru_stime.tv_usec / 1000u;
		out->mem_peak_bytes = (uint64_t)sb->ru.ru_maxrss * 1024u;
	}
	return 0;
}

pid_t
sandbox_pid(const struct sandbox *sb)
{
	return sb->pid;
}

int
sandbox_netns_fd(const struct sandbox *sb)
{
	return sb->netns_fd;
}

int
sandbox_userns_fd(const struct sandbox *sb)
{
	return sb->userns_fd;
}

const char *
sandbox_metering_note(const struct sandbox *sb)
{
	return sb->why_not ? sb->why_not : "";
}

int
sandbox_ref(const struct sandbox *sb, struct sandbox_ref *out)
{
	if (sb->exited || sb->start_ticks == 0)
		return err_set(ERR_NOTFOUND, "sandbox %ld: not running",
		    (long)sb->pid);
	out->pid = sb->pid;
	out->start_ticks = sb->start_ticks;
	return 0;
}

/* Is pid a member of the cgroup whose path ends in "/name"? */
static int
in_cgroup(pid_t pid, const char *name)
{
	char path[64], buf[4096], want[96], *line, *save = NULL;
	ssize_t n;
	size_t wl;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	snprintf(want, sizeof(want), "/%s", name);
	wl = strlen(want);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strlen(line) >= wl &&
		    strcmp(line + strlen(line) - wl, want) == 0)
			return 1;
	return 0;
}

/* A child of pid (its first one found in /proc), or -1. */
static pid_t
child_of(pid_t pid)
{
	char path[64], buf[512], *p;
	struct dirent *de;
	long ppid, c;
	ssize_t n;
	DIR *d;
	int fd;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if ((c = strtol(de->d_name, &p, 10)) <= 0 || *p != '\0')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", c);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) state ppid ..." */
		if ((p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == pid) {
			closedir(d);
			return (pid_t)c;
		}
	}
	closedir(d);
	return -1;
}

/* The namespaces of an adopted sandbox.  Its init is not ours to look
 * into without root (non-dumpable, its memory of the provider's user
 * namespace); its child, the workload, is (exec made it dumpable, in
 * the sandbox's user namespace), and shares its namespaces (setns and
 * unshare are denied inside). */
static void
adopt_ns_fds(struct sandbox *sb)
{
	char path[64];
	pid_t p = sb->pid;
	int i;

	for (i = 0; i < 2 && p > 0; i++) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", (long)p);
		sb->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (geteuid() != 0) {
			snprintf(path, sizeof(path), "/proc/%ld/ns/user",
			    (long)p);
			sb->userns_fd = open(path, O_RDONLY | O_CLOEXEC);
		}
		if (sb->netns_fd >= 0 && (geteuid() == 0 || sb->userns_fd >= 0))
			return;
		close_fd(&sb->netns_fd);
		close_fd(&sb->userns_fd);
		p = child_of(sb->pid);
	}
}

int
sandbox_adopt(const struct sandbox_spec *spec, const struct sandbox_ref *ref,
    struct sandbox **out)
{
	struct cgroup_limits lim;
	struct sandbox *sb;
	char comm[32];
	uint64_t ticks, up_ms;
	double up;
	FILE *f;
	int rc;

	*out = NULL;
	if (spec->name == NULL || ref->pid <= 0)
		return err_set(ERR_INVAL, "sandbox adopt: no name or pid");
	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return err_set(ERR_NOMEM, "sandbox: out of memory");
	sb->pid = ref->pid;
	sb->adopted = 1;
	sb->netns_fd = sb->userns_fd = sb->status_fd = -1;
	/* The pidfd first, then the check: if the pid is still that init
	 * after the pidfd is open, the pidfd is that init's. */
	if ((sb->pidfd = (int)syscall(SYS_pidfd_open, ref->pid, 0)) < 0) {
		rc = err_set(ERR_NOTFOUND, "sandbox %s: pid %ld: %s",
		    spec->name, (long)ref->pid, strerror(errno));
		goto fail;
	}
	if (proc_stat(ref->pid, comm, sizeof(comm), &ticks) < 0 ||
	    ticks != ref->start_ticks || strcmp(comm, "lodge-init") != 0) {
		rc = err_set(ERR_NOTFOUND,
		    "sandbox %s: pid %ld is no longer its init", spec->name,
		    (long)ref->pid);
		goto fail;
	}
	sb->start_ticks = ticks;
	lim.cpu_millis = spec->cpu_millis;
	lim.memory_bytes = spec->memory_bytes;
	lim.pids_max = spec->pids_max;
	if ((rc = cgroup_new(&spec->cgroup,
	         spec->cgroup_parent ? spec->cgroup_parent : "lodge",
	         spec->name, &lim, &sb->cg, &sb->why_not)) < 0) {
		err_prefix(rc, "sandbox %s: cgroup", spec->name);
		goto fail;
	}
	if (cgroup_mode(sb->cg) != CGROUP_NONE &&
	    !in_cgroup(ref->pid, spec->name)) {
		rc = err_set(ERR_NOTFOUND,
		    "sandbox %s: pid %ld is not in its cgroup", spec->name,
		    (long)ref->pid);
		goto fail;
	}
	adopt_ns_fds(sb);
	if (spec->status_path)
		sb->status_fd = open(spec->status_path, O_RDONLY | O_CLOEXEC);
	/* Its age, from the boot clock: only wall_ms reads it. */
	sb->start_ns = util_mono_ns();
	if ((f = fopen("/proc/uptime", "r")) != NULL) {
		if (fscanf(f, "%lf", &up) == 1 && up > 0) {
			up_ms = (uint64_t)(up * 1000.0);
			ticks = ticks * 1000u / (uint64_t)sysconf(_SC_CLK_TCK);
			if (up_ms > ticks &&
			    (up_ms - ticks) * 1000000u < sb->start_ns)
				sb->start_ns -= (up_ms - ticks) * 1000000u;
		}
		fclose(f);
	}
	*out = sb;
	return 0;
fail:
	/* Never stop what is not ours: release, not free. */
	sandbox_release(sb);
	return rc;
}

void
sandbox_release(struct sandbox *sb)
{
	if (sb == NULL)
		return;
	close_fd(&sb->pidfd);
	close_fd(&sb->netns_fd);
	close_fd(&sb->userns_fd);
	close_fd(&sb->status_fd);
	cgroup_release(sb->cg);
	free(sb->why_not);
	free(sb);
}

void
sandbox_free(struct sandbox *sb)
{
	struct err_saved saved;

	if (sb == NULL)
		return;
	/* sandbox_start's failures unwind through here: whatever the stop
	 * meets must not replace their message. */
	err_save(&saved);
	if (sb->pid > 0 && !sb->exited)
		(void)sandbox_stop(sb, 0, NULL);
	close_fd(&sb->pidfd);
	close_fd(&sb->netns_fd);
	close_fd(&sb->userns_fd);
	close_fd(&sb->status_fd);
	cgroup_free(sb->cg);
	free(sb->why_not);
	free(sb);
	err_restore(&saved);
}
