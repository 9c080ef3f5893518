/*
 * enter: one more process in a running sandbox (see enter.h).  The
 * identity is not rebuilt from a spec: it is read from the workload as
 * the kernel shows it (/proc/PID/status, its rlimits), so the process
 * gets what the workload has and nothing more.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "sandbox/enter.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp_policy.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#define CGROUP2_MAGIC 0x63677270
#define ENTER_GROUPS_MAX 64
#define ENTER_ENV_MAX (256u << 10)
#define ENTER_DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The workload's identity, as its /proc/PID/status says. */
struct ident {
	uid_t uid;
	gid_t gid;
	gid_t groups[ENTER_GROUPS_MAX];
	int ngroups;
	uint64_t inh, prm, eff, bnd;
};

/* The rlimits copied from the workload. */
static const int enter_limits[] = { RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU,
	RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_LOCKS, RLIMIT_MEMLOCK,
	RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_RSS,
	RLIMIT_RTPRIO, RLIMIT_SIGPENDING, RLIMIT_STACK };
#define ENTER_NLIMITS (sizeof(enter_limits) / sizeof(enter_limits[0]))

static volatile sig_atomic_t enter_child;

static void
forward(int sig)
{
	if (enter_child > 0)
		kill(enter_child, sig);
}

/* The whole of a small file into buf (NUL-terminated); its length. */
static ssize_t
slurp(const char *path, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

static int
parse_status(const char *text, struct ident *id)
{
	const char *p;
	unsigned long long v;
	char *end;
	int have = 0;

	memset(id, 0, sizeof(*id));
	if ((p = strstr(text, "\nUid:")) && sscanf(p + 5, "%*u %llu", &v) == 1)
		id->uid = (uid_t)v, have |= 1;
	if ((p = strstr(text, "\nGid:")) && sscanf(p + 5, "%*u %llu", &v) == 1)
		id->gid = (gid_t)v, have |= 2;
	if ((p = strstr(text, "\nCapInh:")) && sscanf(p + 8, "%llx", &v) == 1)
		id->inh = v, have |= 4;
	if ((p = strstr(text, "\nCapPrm:")) && sscanf(p + 8, "%llx", &v) == 1)
		id->prm = v, have |= 8;
	if ((p = strstr(text, "\nCapEff:")) && sscanf(p + 8, "%llx", &v) == 1)
		id->eff = v, have |= 16;
	if ((p = strstr(text, "\nCapBnd:")) && sscanf(p + 8, "%llx", &v) == 1)
		id->bnd = v, have |= 32;
	if ((p = strstr(text, "\nGroups:")) != NULL) {
		p += 8;
		while (*p != '\n' && *p != '\0' &&
		    id->ngroups < ENTER_GROUPS_MAX) {
			v = strtoull(p, &end, 10);
			if (end == p)
				break;
			id->groups[id->ngroups++] = (gid_t)v;
			p = end;
		}
	}
	return have == 63 ? 0 :
	                    err_set(ERR_IO,
	                        "/proc/PID/status: no ids or "
	                        "capabilities");
}

/* The first child of pid: its workload. */
static pid_t
first_child(pid_t pid)
{
	char path[96], buf[256];
	long c;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)pid,
	    (long)pid);
	if (slurp(path, buf, sizeof(buf)) <= 0 || sscanf(buf, "%ld", &c) != 1)
		return -1;
	return (pid_t)c;
}

/* Is pid a child of parent (field 4 of its /proc/PID/stat)? */
static int
child_of(pid_t pid, pid_t parent)
{
	char path[96], buf[1024], comm[64];
	const char *p;
	uint64_t ticks;
	long pp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (slurp(path, buf, sizeof(buf)) <= 0 ||
	    sandbox_parse_proc_stat(buf, comm, sizeof(comm), &ticks) < 0 ||
	    (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %ld", &pp) != 1)
		return 0;
	return pp == (long)parent;
}

/* Is line (len bytes) one of ours (the same cgroup)? */
static int
same_as_ours(const char *ours, const char *line, size_t len)
{
	const char *p = ours, *nl;
	size_t n;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		n = nl ? (size_t)(nl - p) : strlen(p);
		if (n == len && memcmp(p, line, len) == 0)
			return 1;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}

/* Move this process into every cgroup of pid (v2, or each v1
 * hierarchy), so what it runs is limited and metered as the workload. */
static int
join_cgroups(pid_t pid)
{
	char path[96], theirs[4096], ours[4096], dir[PATH_MAX], ctrl[128];
	const char *line, *nl, *c1, *c2;
	struct statfs sf;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
	if (slurp(path, theirs, sizeof(theirs)) < 0)
		return err_set(ERR_NOTFOUND, "%s: %s", path, strerror(errno));
	if (slurp("/proc/self/cgroup", ours, sizeof(ours)) < 0)
		ours[0] = '\0';
	for (line = theirs; *line; line = nl ? nl + 1 : line + strlen(line)) {
		nl = strchr(line, '\n');
		n = nl ? (int)(nl - line) : (int)strlen(line);
		c1 = memchr(line, ':', (size_t)n);
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(line + n - c1 - 1)) :
		          NULL;
		if (c2 == NULL || same_as_ours(ours, line, (size_t)n))
			continue;
		/* "/" is no sandbox's; named v1 hierarchies limit nothing */
		if ((line + n - c2 - 1 == 1 && c2[1] == '/') ||
		    strncmp(c1 + 1, "name=", 5) == 0)
			continue;
		snprintf(ctrl, sizeof(ctrl), "%.*s", (int)(c2 - c1 - 1),
		    c1 + 1);
		if (ctrl[0] == '\0')
			snprintf(dir, sizeof(dir), "%s",
			    statfs("/sys/fs/cgroup", &sf) == 0 &&
			            (unsigned long)sf.f_type == CGROUP2_MAGIC ?
			        "/sys/fs/cgroup" :
			        "/sys/fs/cgroup/unified");
		else {
			snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s", ctrl);
			if (access(dir, F_OK) < 0) /* "cpu,cpuacct" as "cpu" */
				snprintf(dir, sizeof(dir),
				    "/sys/fs/cgroup/%.*s",
				    (int)strcspn(ctrl, ","), ctrl);
		}
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir),
		    "%.*s/cgroup.procs", (int)(line + n - c2 - 1), c2 + 1);
		if ((fd = open(dir, O_WRONLY | O_CLOEXEC)) < 0 ||
		    write(fd, "0", 1) != 1) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return err_set(e == ENOENT ? ERR_NOTFOUND : ERR_IO,
			    "joining cgroup %s: %s", dir, strerror(e));
		}
		close(fd);
	}
	return 0;
}

/* The workload's environment (its /proc/PID/environ) with extra over
 * it: a NULL-terminated array in *envp pointing into *block (both the
 * caller's to free). */
static int
build_env(pid_t wl, const char *const *extra, char **block, char ***envp)
{
	char path[96], *p, *end;
	size_t n = 0, i, k, cap;
	ssize_t len;

	*envp = NULL;
	if ((*block = malloc(ENTER_ENV_MAX)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)wl);
	if ((len = slurp(path, *block, ENTER_ENV_MAX)) < 0)
		len = 0;
	end = *block + len;
	for (p = *block; p < end; p += strlen(p) + 1)
		n++;
	for (i = 0; extra && extra[i]; i++)
		n++;
	cap = n + 2;
	if ((*envp = calloc(cap, sizeof(**envp))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	n = 0;
	for (p = *block; p < end; p += strlen(p) + 1)
		if (*p)
			(*envp)[n++] = p;
	for (i = 0; extra && extra[i]; i++) {
		size_t kl = strcspn(extra[i], "=");
		for (k = 0; k < n; k++)
			if (strncmp((*envp)[k], extra[i], kl + 1) == 0)
				break;
		(*envp)[k] = (char *)extra[i];
		if (k == n)
			n++;
	}
	(*envp)[n] = NULL;
	return 0;
}

/* In the child: say what failed on fd, then end. */
__attribute__((noreturn)) static void
child_fail(int fd, const char *what, const char *arg)
{
	char msg[512];
	int e = errno, n;

	n = snprintf(msg, sizeof(msg), "%c%s%s%s: %s", e == ENOENT ? 'N' : 'E',
	    what, arg ? " " : "", arg ? arg : "", strerror(e));
	if (n > 0)
		(void)!write(fd, msg,
		    (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(127);
}

__attribute__((noreturn)) static void
child_run(const struct sandbox_enter *e, const struct ident *id,
    const struct rlimit *lim, const int *have_lim, int cwd,
    const struct sock_fprog *prog, char *const *envp, int errfd)
{
	struct __user_cap_header_struct hdr = { .version =
		                                    _LINUX_CAPABILITY_VERSION_3,
		.pid = 0 };
	struct __user_cap_data_struct data[2];
	const char *path = ENTER_DEFAULT_PATH, *p, *cmd = e->argv[0];
	char buf[PATH_MAX];
	struct rlimit cur;
	size_t i, n;
	int cap, sig, saw_eacces = 0;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	if (e->tty && (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0))
		child_fail(errfd, "controlling terminal", NULL);
	if (fchdir(cwd) < 0 && chdir("/") < 0)
		child_fail(errfd, "chdir", NULL);
	close(cwd);
	/* rlimits: the workload's, only ever lower */
	for (i = 0; i < ENTER_NLIMITS; i++) {
		if (!have_lim[i] || getrlimit(enter_limits[i], &cur) < 0)
			continue;
		if (cur.rlim_max > lim[i].rlim_max)
			cur.rlim_max = lim[i].rlim_max;
		if (cur.rlim_cur > lim[i].rlim_cur)
			cur.rlim_cur = lim[i].rlim_cur;
		if (cur.rlim_cur > cur.rlim_max)
			cur.rlim_cur = cur.rlim_max;
		if (setrlimit(enter_limits[i], &cur) < 0)
			child_fail(errfd, "setrlimit", NULL);
	}
	/* the workload's bounding set (before the uid change: CAP_SETPCAP) */
	for (cap = 0; cap <= 63; cap++)
		if (!(id->bnd >> cap & 1) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			child_fail(errfd, "drop bounding capability", NULL);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		child_fail(errfd, "clear ambient capabilities", NULL);
	/* In a user namespace whose setgroups is denied, the workload could
	 * not change its groups either: it has the same as this process. */
	if (setgroups((size_t)id->ngroups, id->groups) < 0 && errno != EPERM)
		child_fail(errfd, "setgroups", NULL);
	if (setresgid(id->gid, id->gid, id->gid) < 0)
		child_fail(errfd, "setresgid", NULL);
	if (setresuid(id->uid, id->uid, id->uid) < 0)
		child_fail(errfd, "setresuid", NULL);
	memset(data, 0, sizeof(data));
	data[0].effective = (uint32_t)id->eff;
	data[1].effective = (uint32_t)(id->eff >> 32);
	data[0].permitted = (uint32_t)id->prm;
	data[1].permitted = (uint32_t)(id->prm >> 32);
	data[0].inheritable = (uint32_t)id->inh;
	data[1].inheritable = (uint32_t)(id->inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		child_fail(errfd, "capset", NULL);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		child_fail(errfd, "PR_SET_DUMPABLE", NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(errfd, "PR_SET_NO_NEW_PRIVS", NULL);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
		child_fail(errfd, "seccomp", NULL);
	/* nothing of the provider's past stdio reaches the command */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (i = 3; i < 1024; i++)
			if ((int)i != errfd)
				close((int)i);
	for (i = 0; envp[i]; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = envp[i] + 5;
	if (strchr(cmd, '/') != NULL) {
		execve(cmd, (char *const *)e->argv, envp);
		child_fail(errfd, "exec", cmd);
	}
	for (p = path; *p != '\0';) {
		n = strcspn(p, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(n ? n : 1),
		    n ? p : ".", cmd);
		p += n + (p[n] == ':');
		execve(buf, (char *const *)e->argv, envp);
		if (errno == EACCES)
			saw_eacces = 1;
	}
	errno = saw_eacces ? EACCES : ENOENT;
	child_fail(errfd, "exec", cmd);
}

int
sandbox_enter_run(pid_t init_pid, const struct sandbox_enter *e, int *status)
{
	static const struct {
		const char *name;
		int type;
	} nss[] = { { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
		{ "net", CLONE_NEWNET }, { "cgroup", CLONE_NEWCGROUP },
		{ "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS } };
	const struct sock_fprog *prog;
	struct rlimit lim[ENTER_NLIMITS];
	int have_lim[ENTER_NLIMITS];
	struct ident id;
	struct stat a, b;
	struct sigaction sa;
	char path[128], comm[64], text[4096], msg[512], *block = NULL;
	char **envp = NULL;
	int nsfd[6], userfd = -1, cwd = -1, pfd[2] = { -1, -1 }, rc, st,
	             wlfd = -1, initfd = -1;
	uint64_t ticks;
	size_t i;
	ssize_t n;
	pid_t wl, child;

	for (i = 0; i < 6; i++)
		nsfd[i] = -1;
	if (e == NULL || e->argv == NULL || e->argv[0] == NULL)
		return err_set(ERR_INVAL, "enter: no command");
	/* held from here: while the init lives, its pid names it alone */
	if ((initfd = (int)syscall(SYS_pidfd_open, init_pid, 0)) < 0)
		return err_set(ERR_NOTFOUND,
		    "pid %ld is not a running sandbox's init", (long)init_pid);
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)init_pid);
	if (slurp(path, text, sizeof(text)) <= 0 ||
	    sandbox_parse_proc_stat(text, comm, sizeof(comm), &ticks) < 0 ||
	    strcmp(comm, "lodge-init") != 0) {
		rc = err_set(ERR_NOTFOUND,
		    "pid %ld is not a running sandbox's init", (long)init_pid);
		goto out;
	}
	if (e->start_ticks != 0 && ticks != e->start_ticks) {
		rc = err_set(ERR_NOTFOUND,
		    "pid %ld is another sandbox's init (started at %llu, not "
		    "%llu): the one asked for has ended",
		    (long)init_pid, (unsigned long long)ticks,
		    (unsigned long long)e->start_ticks);
		goto out;
	}
	if ((rc = seccomp_policy_get(&prog)) < 0)
		goto out;
	/* Not dumpable from here on, and so neither the child until its
	 * exec: between the fork and its seccomp filter it holds every
	 * capability of the workload's user namespace, under the
	 * workload's uid when the provider has no root, and the workload,
	 * seeing it in its pid namespace, could otherwise write its memory
	 * (/proc/PID/mem) and run code there outside the filter. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		rc = err_set(ERR_IO, "PR_SET_DUMPABLE: %s", strerror(errno));
		goto out;
	}
	/* The workload's namespaces are its init's, and they are the ones a
	 * provider without root may open: the init never exec'd, so only
	 * the host's root may look into it; the workload did, in the
	 * sandbox's user namespace, which that provider owns. */
	if ((wl = first_child(init_pid)) <= 0 ||
	    (wlfd = (int)syscall(SYS_pidfd_open, wl, 0)) < 0) {
		rc = err_set(ERR_NOTFOUND,
		    "the sandbox runs no workload now (restarting?)");
		goto out;
	}
	/* held from here: while it is alive, its pid names it alone */
	if (!child_of(wl, init_pid)) {
		rc = err_set(ERR_NOTFOUND,
		    "the sandbox runs no workload now (restarting?)");
		goto out;
	}
	/* every namespace first, while /proc is the host's */
	for (i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/%s", (long)wl,
		    nss[i].name);
		if ((nsfd[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			rc = err_set(ERR_NOTFOUND, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
	}
	snprintf(path, sizeof(path), "/proc/%ld/ns/user", (long)wl);
	if (stat(path, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 &&
	    a.st_ino != b.st_ino &&
	    (userfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = err_set(ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((rc = join_cgroups(wl)) < 0)
		goto out;
	/* in its user namespace, the workload's ids read as it has them */
	if (userfd >= 0 && setns(userfd, CLONE_NEWUSER) < 0) {
		rc = err_set(ERR_IO, "setns user: %s", strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)wl);
	if (slurp(path, text, sizeof(text)) <= 0) {
		rc = err_set(ERR_NOTFOUND, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((rc = parse_status(text, &id)) < 0)
		goto out;
	for (i = 0; i < ENTER_NLIMITS; i++)
		have_lim[i] = prlimit(wl, enter_limits[i], NULL, &lim[i]) == 0;
	if ((rc = build_env(wl, e->env, &block, &envp)) < 0)
		goto out;
	snprintf(path, sizeof(path), "/proc/%ld/cwd", (long)wl);
	if ((cwd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = err_set(ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* everything read above was of that workload: still alive (a dead
	 * one's pid could have been another sandbox's process by now) */
	if (syscall(SYS_pidfd_send_signal, wlfd, 0, NULL, 0) < 0 ||
	    syscall(SYS_pidfd_send_signal, initfd, 0, NULL, 0) < 0) {
		rc = err_set(ERR_NOTFOUND,
		    "the sandbox's workload ended meanwhile (restarting?)");
		goto out;
	}
	for (i = 0; i < 6; i++)
		if (setns(nsfd[i], nss[i].type) < 0) {
			rc = err_set(ERR_IO, "setns %s: %s", nss[i].name,
			    strerror(errno));
			goto out;
		}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = err_set(ERR_IO, "pipe: %s", strerror(errno));
		goto out;
	}
	if ((child = fork()) < 0) {
		rc = err_set(ERR_IO, "fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0) {
		close(pfd[0]);
		child_run(e, &id, lim, have_lim, cwd, prog, envp, pfd[1]);
	}
	close(pfd[1]);
	pfd[1] = -1;
	enter_child = child;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	/* EOF at the exec; a message when the child failed before it */
	while ((n = read(pfd[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
		;
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR) {
			rc = err_set(ERR_IO, "waitpid: %s", strerror(errno));
			goto out;
		}
	if (n > 1) {
		msg[n] = '\0';
		rc = err_set(msg[0] == 'N' ? ERR_NOTFOUND : ERR_IO, "%s",
		    msg + 1);
		goto out;
	}
	*status = st;
	rc = 0;
out:
	for (i = 0; i < 6; i++)
		if (nsfd[i] >= 0)
			close(nsfd[i]);
	if (userfd >= 0)
		close(userfd);
	if (cwd >= 0)
		close(cwd);
	if (wlfd >= 0)
		close(wlfd);
	if (initfd >= 0)
		close(initfd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(envp);
	free(block);
	return rc;
}
