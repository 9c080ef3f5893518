/*
 * job: a preparation step in a child process (see job.h).  fork() here
 * happens in a multithreaded daemon, so the child makes async-signal-safe
 * calls only (prctl, setpgid, dup2, setrlimit, read, execv) before it
 * execs; everything it needs is opened by the parent first.  It waits for
 * a byte from the parent, sent once it is in its cgroup, so nothing it
 * does escapes the limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "provider/job.h"

struct job {
	pid_t pid;
	int out_fd, err_fd; /* read ends, non-blocking; -1 at EOF */
	struct cgroup *cg;
	int64_t deadline_ms; /* 0: none */
	int64_t timeout_ms;
	int done, status, timed_out;
	char out[4096];
	size_t nout;
	char err[8192];
	size_t nerr;
};

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child, between fork and exec: async-signal-safe calls only. */
__attribute__((noreturn)) static void
child(const struct job_spec *s, int devnull, int out_w, int err_w, int sync_r,
    pid_t parent, int rlimit_as)
{
	struct rlimit rl;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	if (dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		_exit(127);
	if (s->cpu_seconds) {
		rl.rlim_cur = (rlim_t)s->cpu_seconds;
		rl.rlim_max = (rlim_t)s->cpu_seconds + 5;
		setrlimit(RLIMIT_CPU, &rl);
	}
	if (rlimit_as && s->memory_bytes) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)s->memory_bytes;
		setrlimit(RLIMIT_AS, &rl);
	}
	/* Go on once the parent has put us in the cgroup. */
	if (read(sync_r, &c, 1) != 1)
		_exit(127);
	execv(s->argv[0], (char *const *)s->argv);
	_exit(127);
}

int
job_start(const struct job_spec *s, struct job **out)
{
	struct cgroup_limits lim;
	struct job *j;
	int out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	int sync_p[2] = { -1, -1 }, devnull = -1, rc, rlimit_as;
	pid_t parent = getpid();

	*out = NULL;
	if (s->argv == NULL || s->argv[0] == NULL || s->argv[0][0] != '/')
		return err_set(ERR_INVAL,
		    "job: argv[0] must be an absolute "
		    "path");
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	j->pid = -1;
	j->out_fd = j->err_fd = -1;
	lim.cpu_millis = s->cpu_millis;
	lim.memory_bytes = s->memory_bytes;
	lim.pids_max = s->pids_max;
	if ((rc = cgroup_new(&s->cgroup,
	         s->cgroup_parent ? s->cgroup_parent : "lodge", s->name, &lim,
	         &j->cg, NULL)) < 0) {
		err_prefix(rc, "job %s: cgroup", s->name);
		goto fail;
	}
	rlimit_as = cgroup_mode(j->cg) == CGROUP_NONE;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
	    pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
	    pipe2(sync_p, O_CLOEXEC) < 0) {
		rc = err_set(ERR_IO, "job %s: pipe: %s", s->name,
		    strerror(errno));
		goto fail;
	}
	if ((j->pid = fork()) < 0) {
		rc = err_set(ERR_IO, "job %s: fork: %s", s->name,
		    strerror(errno));
		goto fail;
	}
	if (j->pid == 0)
		child(s, devnull, out_p[1], err_p[1], sync_p[0], parent,
		    rlimit_as);
	/* Its own group too (whichever of us gets there first), so that a
	 * kill reaches what it started even without a cgroup. */
	setpgid(j->pid, j->pid);
	close_fd(&devnull);
	close_fd(&out_p[1]);
	close_fd(&err_p[1]);
	close_fd(&sync_p[0]);
	if (cgroup_mode(j->cg) != CGROUP_NONE &&
	    (rc = cgroup_attach(j->cg, j->pid)) < 0) {
		err_prefix(rc, "job %s", s->name);
		goto fail;
	}
	if (write(sync_p[1], "g", 1) != 1) {
		rc = err_set(ERR_IO, "job %s: releasing the child: %s", s->name,
		    strerror(errno));
		goto fail;
	}
	close_fd(&sync_p[1]);
	j->out_fd = out_p[0];
	j->err_fd = err_p[0];
	fcntl(j->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(j->err_fd, F_SETFL, O_NONBLOCK);
	j->timeout_ms = s->timeout_ms;
	j->deadline_ms = s->timeout_ms > 0 ? now_ms() + s->timeout_ms : 0;
	*out = j;
	return 0;
fail:
	close_fd(&devnull);
	close_fd(&out_p[0]);
	close_fd(&out_p[1]);
	close_fd(&err_p[0]);
	close_fd(&err_p[1]);
	close_fd(&sync_p[0]);
	close_fd(&sync_p[1]);
	job_free(j);
	return rc;
}

/* Read what is there on fd into buf (NUL-terminated, cap with the NUL):
 * the first bytes (keep_tail 0) or the last ones. */
static void
drain(int *fd, char *buf, size_t cap, size_t *n, int keep_tail)
{
	char tmp[4096];
	size_t take, drop;
	ssize_t r;

	while (*fd >= 0) {
		r = read(*fd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			close_fd(fd);
			return;
		}
		take = (size_t)r;
		if (keep_tail && take >= cap - 1) {
			memcpy(buf, tmp + take - (cap - 1), cap - 1);
			*n = cap - 1;
			continue;
		}
		if (keep_tail && *n + take > cap - 1) {
			drop = *n + take - (cap - 1);
			memmove(buf, buf + drop, *n - drop);
			*n -= drop;
		} else if (*n + take > cap - 1)
			take = cap - 1 - *n;
		memcpy(buf + *n, tmp, take);
		*n += take;
	}
}

static void
reaped(struct job *j, int status)
{
	j->done = 1;
	j->status = status;
	/* What it started and left behind goes with it. */
	kill(-j->pid, SIGKILL);
	if (j->cg && cgroup_mode(j->cg) != CGROUP_NONE)
		(void)cgroup_kill_all(j->cg, 2000);
}

void
job_kill(struct job *j)
{
	int st;

	if (j == NULL || j->done || j->pid <= 0)
		return;
	kill(-j->pid, SIGKILL);
	kill(j->pid, SIGKILL);
	while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR)
		;
	reaped(j, st);
}

int
job_poll(struct job *j, struct job_result *res)
{
	struct cgroup_usage u;
	pid_t p;
	int st;

	drain(&j->out_fd, j->out, sizeof(j->out), &j->nout, 0);
	drain(&j->err_fd, j->err, sizeof(j->err), &j->nerr, 1);
	if (!j->done) {
		p = waitpid(j->pid, &st, WNOHANG);
		if (p == j->pid)
			reaped(j, st);
		else if (j->deadline_ms && now_ms() >= j->deadline_ms) {
			j->timed_out = 1;
			job_kill(j);
		} else
			return 0;
	}
	/* It has ended and its group is killed: the pipes hold the rest. */
	drain(&j->out_fd, j->out, sizeof(j->out), &j->nout, 0);
	drain(&j->err_fd, j->err, sizeof(j->err), &j->nerr, 1);
	memset(res, 0, sizeof(*res));
	res->exit_code = WIFEXITED(j->status) ? WEXITSTATUS(j->status) :
	    WIFSIGNALED(j->status)            ? 128 + WTERMSIG(j->status) :
	                                        255;
	res->timed_out = j->timed_out;
	if (j->cg && cgroup_mode(j->cg) != CGROUP_NONE &&
	    cgroup_read_usage(j->cg, &u) == 0) {
		res->oom = u.oom_kills > 0;
		res->cpu_ms = u.cpu_usec / 1000;
		res->mem_peak_bytes = u.mem_peak_bytes;
	}
	memcpy(res->out, j->out, j->nout);
	res->out[j->nout] = '\0';
	memcpy(res->err, j->err, j->nerr);
	res->err[j->nerr] = '\0';
	return 1;
}

pid_t
job_pid(const struct job *j)
{
	return j->pid;
}

void
job_free(struct job *j)
{
	struct err_saved saved;

	if (j == NULL)
		return;
	err_save(&saved);
	job_kill(j);
	close_fd(&j->out_fd);
	close_fd(&j->err_fd);
	cgroup_free(j->cg);
	free(j);
	err_restore(&saved);
}
