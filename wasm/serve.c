/*
 * wasm_serve: supervisor and workers of a sandboxed wasm HTTP function
 * (wasm/serve.h).  The supervisor never runs tenant code; it only forks,
 * reaps and relays deaths.  Workers are forked from it after the module
 * is loaded, so a replacement starts in well under a millisecond.
 */
#include "wasm/serve.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "wasm/wagi.h"
#include "wasm/wire.h"

/* Deep wasm recursion (call depth 4000) needs a deep native stack. */
#define WORKER_STACK (256u << 20)

struct slot {
	int fd; /* -1: unused */
	pid_t pid; /* 0: no worker */
	_Atomic uint64_t *cur; /* in the shared page: see struct worker */
};

/* ---- the worker ---- */

struct worker {
	int fd;
	_Atomic uint64_t *cur; /* seq of the request running, 0 idle;
	                              shared with the supervisor */
	const struct wasm_program *p;
	const struct wasm_serve_opts *o;
	int status;
};

static int
read_full(int fd, uint8_t *b, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t k = read(fd, b + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return got == 0 && k == 0 ? 1 : -1;
		got += (size_t)k;
	}
	return 0;
}

/* One request: 0 answered, 1 the gateway closed the socket, < 0 broken
 * (the worker exits and the supervisor reports it). */
static int
serve_one(struct worker *w)
{
	uint8_t h[WASM_WIRE_HEADER], *pl = NULL, *frame = NULL;
	uint32_t type, len;
	size_t flen;
	struct wasm_wire_request rq;
	struct wasm_buf out = { 0 };
	struct wasm_outcome oc;
	struct wasm_usage u;
	int rc = read_full(w->fd, h, sizeof(h));

	if (rc)
		return rc > 0 ? 1 : -1;
	if (wasm_wire_header(h, &type, &len) < 0 || type != WASM_WIRE_REQUEST)
		return -2;
	if (!(pl = malloc(len ? len : 1)))
		return -3;
	if (read_full(w->fd, pl, len) != 0) {
		free(pl);
		return -1;
	}
	if (wasm_wire_request_decode(pl, len, &rq) < 0) {
		free(pl);
		return -2;
	}
	rq.q.env = w->o->env;
	atomic_store(w->cur, rq.seq);
	rc = wasm_wagi_run(w->p, &rq.q, &rq.limits, w->o->data_dir,
	    w->o->stderr_fd, &out, &oc, &u);
	if (rc < 0) {
		/* An internal failure answers 500 with its message. */
		memset(&oc, 0, sizeof(oc));
		memset(&u, 0, sizeof(u));
		oc.trap = WASM_TRAP_HOST;
		oc.exit_code = WASM_TRAP_EXIT_CODE;
		snprintf(oc.message, sizeof(oc.message), "worker: %s",
		    err_msg());
		wasm_buf_free(&out);
	}
	rc = wasm_wire_reply_encode(rq.seq, &oc, &u, out.data, out.len, &frame,
	    &flen);
	wasm_wire_request_clear(&rq);
	free(pl);
	wasm_buf_free(&out);
	if (rc < 0)
		return -3;
	rc = util_send_all(w->fd, frame, flen);
	free(frame);
	atomic_store(w->cur, 0);
	return rc < 0 ? -1 : 0;
}

static void *
worker_thread(void *arg)
{
	struct worker *w = arg;
	int rc;
	while ((rc = serve_one(w)) == 0)
		;
	w->status = rc > 0 ? 0 : -rc;
	return NULL;
}

__attribute__((noreturn)) static void
worker_main(int fd, _Atomic uint64_t *cur, const struct wasm_program *p,
    const struct wasm_serve_opts *o)
{
	struct worker w = { fd, cur, p, o, 0 };
	pthread_attr_t a;
	pthread_t t;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, WORKER_STACK);
	if (pthread_create(&t, &a, worker_thread, &w) != 0)
		worker_thread(&w);
	else
		pthread_join(t, NULL);
	_exit(w.status);
}

/* ---- the supervisor ---- */

static int
spawn(struct slot *s, size_t n, size_t i, int ctl, int sfd, const sigset_t *old,
    const struct wasm_program *p, const struct wasm_serve_opts *o)
{
	atomic_store(s[i].cur, 0);
	pid_t pid = fork();
	if (pid < 0)
		return err_set(ERR_IO, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(ctl);
		close(sfd);
		for (size_t k = 0; k < n; k++)
			if (k != i && s[k].fd >= 0)
				close(s[k].fd);
		sigprocmask(SIG_SETMASK, old, NULL);
		worker_main(s[i].fd, s[i].cur, p, o);
	}
	s[i].pid = pid;
	return 0;
}

/* Retire the worker of slot i (the gateway has given up its socket). */
static void
retire(struct slot *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

/* One control message: 0 handled, 1 the provider closed it, < 0 error. */
static int
control(int ctl, struct slot *s, size_t n, int sfd, const sigset_t *old,
    const struct wasm_program *p, const struct wasm_serve_opts *o)
{
	struct wasm_ctl_msg m;
	struct iovec iov = { &m, sizeof(m) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr mh;
	int fd = -1;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = c.buf;
	mh.msg_controllen = sizeof(c.buf);
	ssize_t k = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (k < 0)
		return errno == EINTR || errno == EAGAIN ?
		    0 :
		    err_set(ERR_IO, "control socket: %s", strerror(errno));
	if (k == 0)
		return 1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
	     cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (k != (ssize_t)sizeof(m) || (mh.msg_flags & MSG_CTRUNC) ||
	    m.slot >= n || (m.op == WASM_CTL_ADD) != (fd >= 0)) {
		if (fd >= 0)
			close(fd);
		return err_set(ERR_INVAL, "control socket: bad message");
	}
	if (m.op == WASM_CTL_ADD) {
		retire(&s[m.slot]);
		s[m.slot].fd = fd;
		return spawn(s, n, m.slot, ctl, sfd, old, p, o);
	}
	if (m.op == WASM_CTL_KILL) {
		if (s[m.slot].pid > 0 &&
		    (m.seq == 0 || atomic_load(s[m.slot].cur) == m.seq))
			kill(s[m.slot].pid, SIGKILL);
		return 0;
	}
	return err_set(ERR_INVAL, "control socket: bad message (op %u)", m.op);
}

/* Reap workers: each death is told on its socket (DIED, with the request
 * it was running), which is then closed; the gateway starts the next
 * worker of that slot on a new socket. */
static void
reap(struct slot *s, size_t n)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		size_t i;
		for (i = 0; i < n && s[i].pid != pid; i++)
			;
		if (i == n)
			continue;
		s[i].pid = 0;
		uint8_t frame[WASM_WIRE_DIED_FRAME];
		wasm_wire_died_encode(st, atomic_load(s[i].cur), frame);
		(void)send(s[i].fd, frame, sizeof(frame),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		close(s[i].fd);
		s[i].fd = -1;
	}
}

int
wasm_serve_run(int ctl, const struct wasm_program *p,
    const struct wasm_serve_opts *o)
{
	struct slot s[WASM_POOL_MAX_WORKERS];
	const size_t n = WASM_POOL_MAX_WORKERS;
	sigset_t set, old;
	socklen_t tl = sizeof(int);
	int sfd, type = 0, rc = 0;
	_Atomic uint64_t *cur;

	if (getsockopt(ctl, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    type != SOCK_SEQPACKET)
		return err_set(ERR_INVAL,
		    "fd %d is not the provider's control socket (a "
		    "SOCK_SEQPACKET socket)",
		    ctl);
	if (p->start_export < 0)
		return err_set(ERR_NOTFOUND, "the module exports no _start");
	cur = mmap(NULL, n * sizeof(*cur), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cur == MAP_FAILED)
		return err_set(ERR_IO, "mmap: %s", strerror(errno));
	for (size_t i = 0; i < n; i++) {
		s[i].fd = -1;
		s[i].pid = 0;
		s[i].cur = &cur[i];
		atomic_init(&cur[i], 0);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0) {
		munmap(cur, n * sizeof(*cur));
		return err_set(ERR_IO, "sigprocmask: %s", strerror(errno));
	}
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		rc = err_set(ERR_IO, "signalfd: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd pf[2] = { { ctl, POLLIN, 0 },
			{ sfd, POLLIN, 0 } };
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = err_set(ERR_IO, "poll: %s", strerror(errno));
			break;
		}
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			int stop = 0;
			while (
			    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				if (si.ssi_signo != SIGCHLD &&
				    si.ssi_signo != SIGPIPE)
					stop = 1;
			if (stop)
				break;
			reap(s, n);
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			rc = control(ctl, s, n, sfd, &old, p, o);
			if (rc == 1) {
				rc = 0;
				break;
			}
			if (rc < 0)
				break;
		}
	}
	/* The provider is gone or asked us to stop: so are the workers. */
	for (size_t i = 0; i < n; i++)
		if (s[i].pid > 0)
			kill(s[i].pid, SIGKILL);
	for (size_t i = 0; i < n; i++) {
		if (s[i].pid > 0)
			while (waitpid(s[i].pid, NULL, 0) < 0 && errno == EINTR)
				;
		if (s[i].fd >= 0)
			close(s[i].fd);
	}
	close(sfd);
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	munmap(cur, n * sizeof(*cur));
	return rc;
}
