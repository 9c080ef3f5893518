/*
* pool: requests to a sandboxed pool of wasm workers (wasm/pool.h).
 * Each worker has its own stream socket; a request holds its worker from
 * send to answer, so frames never interleave.  The control channel is a
 * SOCK_SEQPACKET socket: one message per datagram, fds by SCM_RIGHTS.
 */
#include "wasm/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "wasm/compile.h"
#include "wasm/guard.h"
#include "wasm/wire.h"

/* With no deadline, a request still waits at most this long for a free
 * worker. */
#define QUEUE_WAIT_MAX_MS 30000

/* How long a control message may wait for room (the supervisor reads
 * them as they come; at start it may still be loading the module). */
#define CTL_SEND_MS 10000

struct worker {
	int fd; /* our end of its socket; -1: none */
	int busy; /* held by a request (which alone may
	                              touch fd) */
};

/* A request waiting for a worker, on its own thread's stack.  release()
 * hands a freed worker straight to the oldest waiter (slot set under mu)
 * and wakes that thread alone: one wake-up per request whatever the
 * number waiting, and first come, first served. */
struct waiter {
	pthread_cond_t cv;
	int slot; /* -1 until handed one */
	struct waiter *next;
};

struct wasm_pool {
	pthread_mutex_t mu;
	struct waiter *head, *tail; /* FIFO of waiting requests */
	_Atomic unsigned refs;
	int ctl;
	int closed; /* no new requests */
	int broken; /* the supervisor stopped answering */
	uint64_t seq;
	struct wasm_pool_stats st;
	unsigned n;
	struct worker w[];
};

static uint64_t
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

int
wasm_pool_control_pair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return err_set(ERR_IO, "socketpair: %s", strerror(errno));
	return 0;
}

/* 0 once ready, 1 at the deadline, -1 on error. */
static int
wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ms();
		int timeout = now >= deadline ? 0 :
		    deadline - now > 86400000 ? 86400000 :
		                                (int)(deadline - now);
		struct pollfd pf = { fd, ev, 0 };
		int n = poll(&pf, 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 1;
		return 0;
	}
}

/* One control message, waiting at most CTL_SEND_MS for room. */
static int
send_ctl(int ctl, uint32_t op, uint32_t slot, uint64_t seq, int fd)
{
	struct wasm_ctl_msg m = { op, slot, seq };
	struct iovec iov = { &m, sizeof(m) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr mh;
	uint64_t deadline = now_ms() + CTL_SEND_MS;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	for (;;) {
		if (sendmsg(ctl, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)sizeof(m))
			return 0;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(ctl, POLLOUT, deadline) == 0)
			continue;
		return err_set(ERR_IO, "wasm pool control: %s",
		    errno == EAGAIN || errno == EWOULDBLOCK ?
		        "the supervisor is not reading" :
		        strerror(errno));
	}
}

/* A new socket for slot k, its other end to the supervisor (which starts
 * a worker on it).  The old one, if any, is closed. */
static int
new_socket(struct wasm_pool *p, unsigned k)
{
	int sp[2], rc;
	if (p->w[k].fd >= 0) {
		close(p->w[k].fd);
		p->w[k].fd = -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return err_set(ERR_IO, "socketpair: %s", strerror(errno));
	rc = send_ctl(p->ctl, WASM_CTL_ADD, k, 0, sp[1]);
	close(sp[1]);
	if (rc < 0) {
		close(sp[0]);
		return rc;
	}
	p->w[k].fd = sp[0];
	return 0;
}

int
wasm_pool_new(int ctl_fd, unsigned workers, struct wasm_pool **out)
{
	struct wasm_pool *p;
	unsigned i;
	int rc;

	*out = NULL;
	if (workers < 1 || workers > WASM_POOL_MAX_WORKERS) {
		close(ctl_fd);
		return err_set(ERR_INVAL, "wasm pool: %u workers (1-%u)",
		    workers, WASM_POOL_MAX_WORKERS);
	}
	if (!(p = calloc(1, sizeof(*p) + workers * sizeof(p->w[0])))) {
		close(ctl_fd);
		return err_set(ERR_NOMEM, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	atomic_init(&p->refs, 1);
	p->ctl = ctl_fd;
	p->n = workers;
	p->st.workers = workers;
	for (i = 0; i < workers; i++)
		p->w[i].fd = -1;
	for (i = 0; i < workers; i++)
		if ((rc = new_socket(p, i)) < 0)
			goto fail;
	*out = p;
	return 0;
fail:
	wasm_pool_free(p);
	return rc;
}

struct wasm_pool *
wasm_pool_ref(struct wasm_pool *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

void
wasm_pool_free(struct wasm_pool *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].fd >= 0)
			close(p->w[i].fd);
	if (p->ctl >= 0)
		close(p->ctl);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Under mu.  The supervisor reads EOF on the control socket and ends;
 * every waiter wakes and sees the pool closed. */
static void
shut_locked(struct wasm_pool *p)
{
	p->closed = 1;
	if (p->ctl >= 0)
		shutdown(p->ctl, SHUT_RDWR);
	for (struct waiter *w = p->head; w; w = w->next)
		pthread_cond_signal(&w->cv);
}

void
wasm_pool_close(struct wasm_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	shut_locked(p);
	pthread_mutex_unlock(&p->mu);
}

int
wasm_pool_alive(struct wasm_pool *p)
{
	pthread_mutex_lock(&p->mu);
	int alive = !p->closed && !p->broken;
	pthread_mutex_unlock(&p->mu);
	return alive;
}

void
wasm_pool_stats(struct wasm_pool *p, struct wasm_pool_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->st;
	pthread_mutex_unlock(&p->mu);
}

/* Under mu: w out of the FIFO (it gave up waiting). */
static void
unlink_waiter(struct wasm_pool *p, struct waiter *w)
{
	struct waiter **pp = &p->head, *prev = NULL;

	while (*pp && *pp != w) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = w->next;
	if (p->tail == w)
		p->tail = prev;
}

/* An idle worker (and *seq, the request's number), or -1 (closed, or
 * none free before deadline).  A free worker goes to a new request only
 * when nobody waits; otherwise the request queues behind the others. */
static int
acquire(struct wasm_pool *p, uint64_t deadline, uint64_t *seq)
{
	struct waiter w;
	pthread_condattr_t ca;
	int slot = -1;

	pthread_mutex_lock(&p->mu);
	if (p->closed || p->broken)
		goto out;
	if (p->head == NULL)
		for (unsigned i = 0; i < p->n; i++)
			if (!p->w[i].busy) {
				p->w[i].busy = 1;
				slot = (int)i;
				goto out;
			}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	w.slot = -1;
	w.next = NULL;
	if (p->tail)
		p->tail->next = &w;
	else
		p->head = &w;
	p->tail = &w;
	for (;;) {
		uint64_t now = now_ms();
		if (w.slot >= 0 || p->closed || p->broken || now >= deadline)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns =
		    (uint64_t)ts.tv_nsec + (deadline - now) % 1000 * 1000000;
		ts.tv_sec +=
		    (time_t)((deadline - now) / 1000 + ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&w.cv, &p->mu, &ts);
	}
	/* Handed a worker: release() already took w off the FIFO. */
	if (w.slot >= 0)
		slot = w.slot;
	else
		unlink_waiter(p, &w);
	pthread_cond_destroy(&w.cv);
	/* A worker handed over just as the pool closed goes back. */
	if (slot >= 0 && (p->closed || p->broken)) {
		p->w[slot].busy = 0;
		slot = -1;
	}
out:
	if (slot >= 0) {
		p->st.requests++;
		*seq = ++p->seq;
	}
	pthread_mutex_unlock(&p->mu);
	return slot;
}

/* Give the worker back (to the oldest waiter, if any); a supervisor that
 * stopped answering breaks the whole pool (the daemon then restarts the
 * sandbox). */
static void
release(struct wasm_pool *p, int slot, int broken)
{
	struct waiter *w;

	pthread_mutex_lock(&p->mu);
	p->w[slot].busy = 0;
	if (broken) {
		p->broken = 1;
		shut_locked(p);
	} else if ((w = p->head) != NULL) {
		p->head = w->next;
		if (p->head == NULL)
			p->tail = NULL;
		w->next = NULL;
		p->w[slot].busy = 1;
		w->slot = slot;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

static void
count(struct wasm_pool *p, uint64_t *counter)
{
	pthread_mutex_lock(&p->mu);
	(*counter)++;
	pthread_mutex_unlock(&p->mu);
}

static int
write_all(int fd, const uint8_t *b, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t k = send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			b += k;
			len -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) != 0)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

/* 0 read, 1 deadline with nothing read yet, -1 error/EOF/partial.  The
 * clock is read on every pass, so a peer that keeps writing cannot hold
 * us past the deadline. */
static int
read_all(int fd, uint8_t *b, size_t len, uint64_t deadline)
{
	size_t got = 0;
	while (got < len) {
		if (now_ms() >= deadline)
			return got ? -1 : 1;
		ssize_t k = recv(fd, b + got, len - got, MSG_DONTWAIT);
		if (k > 0) {
			got += (size_t)k;
			continue;
		}
		if (k == 0)
			return -1;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		int w = wait_fd(fd, POLLIN, deadline);
		if (w < 0)
			return -1;
		if (w > 0)
			return got ? -1 : 1;
	}
	return 0;
}

/* One frame from a worker socket: 0 with *type and *payload (owned by the
 * caller), 1 at the deadline before a byte came, -1 when the stream is
 * cut or malformed.  Once a byte is in, the rest may take until
 * tail_deadline.  A REPLY is at most WASM_WIRE_MAX_REPLY. */
static int
read_frame(int fd, uint64_t deadline, uint64_t tail_deadline, uint32_t *type,
    uint8_t **payload, uint32_t *len)
{
	uint8_t h[WASM_WIRE_HEADER];
	int rc = read_all(fd, h, 1, deadline);
	if (rc)
		return rc;
	if (read_all(fd, h + 1, sizeof(h) - 1, tail_deadline) != 0 ||
	    wasm_wire_header(h, type, len) < 0 || *type == WASM_WIRE_REQUEST ||
	    (*type == WASM_WIRE_REPLY && *len > WASM_WIRE_MAX_REPLY) ||
	    (*type == WASM_WIRE_DIED &&
	        *len != WASM_WIRE_DIED_FRAME - WASM_WIRE_HEADER))
		return -1;
	if (!(*payload = malloc(*len ? *len : 1)))
		return -1;
	if (read_all(fd, *payload, *len, tail_deadline) != 0) {
		free(*payload);
		*payload = NULL;
		return -1;
	}
	return 0;
}

/* An idle worker's socket has nothing to read: if it has, the worker died
 * (DIED, then EOF) and the socket is spent. */
static int
spent(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	return fd < 0 || poll(&pf, 1, 0) != 0;
}

static const char *
signal_cause(int sig)
{
	switch (sig) {
	case SIGKILL:
		return "killed (out of memory or CPU time)";
	case SIGSYS:
		return "stopped by the seccomp policy";
	case SIGSEGV:
		return "crashed (segmentation fault)";
	case SIGXCPU:
		return "out of CPU time";
	default:
		return "killed by a signal";
	}
}

static int
fail_resp(struct wasm_wagi_response *resp, int status, const char *msg)
{
	struct wasm_outcome oc;
	memset(&oc, 0, sizeof(oc));
	oc.trap = WASM_TRAP_HOST;
	oc.timed_out = status == 504;
	oc.out_of_fuel = status == 503;
	snprintf(oc.message, sizeof(oc.message), "%s", msg);
	return wasm_wagi_respond(&oc, NULL, 0, resp);
}

/* What became of one request on one worker socket. */
enum outcome {
	O_REPLY, /* *pl holds the REPLY */
	O_DIED, /* its worker died running it (*st) */
	O_NOT_RUN, /* the worker was gone before taking it */
	O_DEADLINE, /* killed at the deadline (or gone then) */
	O_BAD, /* the worker broke the protocol */
	O_DEAF, /* the supervisor does not answer */
};

/* Past the deadline: have the worker killed if it still runs seq, then
 * see what arrives: its REPLY (it finished just then), or DIED/EOF. */
static enum outcome
kill_late(struct wasm_pool *p, int slot, uint64_t seq, uint8_t **pl,
    uint32_t *plen)
{
	uint64_t until = now_ms() + WASM_POOL_KILL_WAIT_MS;
	uint32_t type;
	if (send_ctl(p->ctl, WASM_CTL_KILL, (uint32_t)slot, seq, -1) < 0)
		return O_DEAF;
	int rc = read_frame(p->w[slot].fd, until, until, &type, pl, plen);
	if (rc == 1)
		return O_DEAF;
	if (rc == 0 && type == WASM_WIRE_REPLY)
		return O_REPLY;
	free(*pl);
	*pl = NULL;
	return O_DEADLINE;
}

/* Send the request on slot's socket and wait for its outcome. */
static enum outcome
run_on(struct wasm_pool *p, int slot, uint64_t seq, const uint8_t *frame,
    size_t flen, uint64_t wall_ms, uint8_t **pl, uint32_t *plen, int32_t *st)
{
	int fd = p->w[slot].fd;
	uint64_t deadline = now_ms() + (wall_ms ? wall_ms : UINT32_MAX), dseq;
	uint32_t type;

	if (write_all(fd, frame, flen, deadline) < 0)
		return spent(fd) ? O_NOT_RUN : O_DEADLINE;
	int rc = read_frame(fd, deadline, deadline + WASM_POOL_KILL_WAIT_MS,
	    &type, pl, plen);
	if (rc == 1)
		return kill_late(p, slot, seq, pl, plen);
	if (rc < 0)
		return O_BAD;
	if (type == WASM_WIRE_REPLY)
		return O_REPLY;
	rc = wasm_wire_died_decode(*pl, *plen, st, &dseq);
	free(*pl);
	*pl = NULL;
	if (rc < 0)
		return O_BAD;
	return dseq == seq ? O_DIED : O_NOT_RUN;
}

int
wasm_pool_invoke(struct wasm_pool *p, const struct wasm_wagi_request *req,
    const struct wasm_run_limits *l, struct wasm_wagi_response *resp,
    struct wasm_usage *u)
{
	uint64_t t0 = now_ms(), budget_fuel, seq = 0;
	uint8_t *frame = NULL, *pl = NULL;
	size_t flen;
	uint32_t plen = 0;
	int32_t st = 0;
	int slot, rc, broken = 0, tries = 0;
	enum outcome o;
	struct wasm_wire_reply rep;
	char msg[128];

	memset(resp, 0, sizeof(*resp));
	memset(u, 0, sizeof(*u));
	u->requests = 1;
	u->bytes_in = req->body_len;
	budget_fuel = l->fuel >= 0 ? (uint64_t)l->fuel : 0;
	if ((slot = acquire(p,
	         t0 + (l->wall_ms ? l->wall_ms : QUEUE_WAIT_MAX_MS), &seq)) <
	    0) {
		rc = fail_resp(resp, 503,
		    wasm_pool_alive(p) ?
		        "function busy: no free worker before the deadline" :
		        "function is not running (restarting)");
		goto out;
	}
	if ((rc = wasm_wire_request_encode(seq, req, l, &frame, &flen)) < 0) {
		release(p, slot, 0);
		if (rc == ERR_NOMEM)
			goto out;
		snprintf(msg, sizeof(msg), "%s", err_msg());
		rc = fail_resp(resp, 500, msg);
		goto out;
	}
	for (;;) {
		/* A worker that died while idle left a spent socket; one that
		 * was gone before taking the request, too. */
		if (tries > 0 || spent(p->w[slot].fd)) {
			if (tries == 0 && p->w[slot].fd >= 0)
				count(p, &p->st.worker_deaths);
			if (new_socket(p, (unsigned)slot) < 0) {
				o = O_DEAF;
				break;
			}
		}
		o = run_on(p, slot, seq, frame, flen, l->wall_ms, &pl, &plen,
		    &st);
		/* Not taken by any worker: once more on a fresh one. */
		if (o != O_NOT_RUN || tries++ > 0)
			break;
		count(p, &p->st.worker_deaths);
	}
	if (o == O_REPLY &&
	    (wasm_wire_reply_decode(pl, plen, &rep) < 0 || rep.seq != seq))
		o = O_BAD;
	switch (o) {
	case O_REPLY:
		release(p, slot, 0);
		*u = rep.u;
		u->requests = 1;
		u->bytes_in = req->body_len;
		/* Never more than the budget (nor a reported overflow). */
		if (budget_fuel &&
		    (rep.oc.out_of_fuel || u->fuel > budget_fuel))
			u->fuel = budget_fuel;
		rc = wasm_wagi_respond(&rep.oc, rep.out, rep.out_len, resp);
		goto out;
	case O_DEADLINE:
		count(p, &p->st.deadline_kills);
		snprintf(msg, sizeof(msg),
		    "function deadline of %llu ms "
		    "exceeded",
		    (unsigned long long)l->wall_ms);
		rc = 504;
		break;
	case O_DIED:
	case O_NOT_RUN:
		count(p, &p->st.worker_deaths);
		if (o == O_NOT_RUN)
			snprintf(msg, sizeof(msg),
			    "function worker exited "
			    "twice before taking the request");
		else if (WIFSIGNALED(st))
			snprintf(msg, sizeof(msg),
			    "function worker %s "
			    "(signal %d)",
			    signal_cause(WTERMSIG(st)), WTERMSIG(st));
		else
			snprintf(msg, sizeof(msg),
			    "function worker exited "
			    "with status %d",
			    WEXITSTATUS(st));
		rc = 500;
		break;
	case O_BAD:
		/* Kill whatever it does; its socket is spent either way. */
		count(p, &p->st.worker_deaths);
		if (send_ctl(p->ctl, WASM_CTL_KILL, (uint32_t)slot, 0, -1) < 0)
			broken = 1;
		snprintf(msg, sizeof(msg),
		    "function worker broke the "
		    "protocol (replaced)");
		rc = 500;
		break;
	case O_DEAF:
	default:
		broken = 1;
		snprintf(msg, sizeof(msg),
		    "function supervisor does not "
		    "answer (restarting)");
		rc = 503;
		break;
	}
	/* Whatever happened, the socket is spent: the next request on this
	 * slot starts a fresh worker on a fresh one. */
	if (!broken && new_socket(p, (unsigned)slot) < 0)
		broken = 1;
	release(p, slot, broken);
	u->fuel = budget_fuel;
	rc = fail_resp(resp, rc, msg);
out:
	u->wall_ms = now_ms() - t0;
	free(frame);
	free(pl);
	return rc;
}

/* ---- the app dir ---- */

/* dir/provider: a hard link to bin (a copy across file systems), replaced
 * atomically so a rebuilt provider is picked up. */
static int
link_binary(const char *bin, const char *dir)
{
	char self[PATH_MAX], tmp[PATH_MAX + 32], dst[PATH_MAX + 16];
	char *data = NULL;
	size_t len;
	ssize_t n;
	int rc;

	if (!bin) {
		if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <
		    0)
			return err_set(ERR_IO, "/proc/self/exe: %s",
			    strerror(errno));
		self[n] = '\0';
		bin = self;
	}
	snprintf(tmp, sizeof(tmp), "%s/provider.tmp.%ld", dir, (long)getpid());
	snprintf(dst, sizeof(dst), "%s/provider", dir);
	(void)unlink(tmp);
	if (link(bin, tmp) == 0) {
		if (rename(tmp, dst) < 0) {
			rc = err_set(ERR_IO, "%s: %s", dst, strerror(errno));
			(void)unlink(tmp);
			return rc;
		}
		return 0;
	}
	if ((rc = util_read_file(bin, 256u << 20, &data, &len)) < 0)
		return rc;
	rc = util_write_file(dst, data, len, 0755);
	free(data);
	return rc;
}

int
wasm_app_prepare(const char *module_path, const char *root,
    const char *provider_bin, uint64_t memory_bytes, char **app_dir)
{
	struct wasm_load_opts o;
	struct wasm_program *prog = NULL;
	char hex[65], dir[PATH_MAX], path[PATH_MAX + 32];
	char *data = NULL;
	size_t len;
	int rc, start;

	*app_dir = NULL;
	if ((rc = util_read_file(module_path, 256u << 20, &data, &len)) < 0)
		return rc;
	wasm_sha256_hex(data, len, hex);
	if (snprintf(dir, sizeof(dir), "%s/%s", root, hex) >=
	    (int)sizeof(dir) - 32) {
		free(data);
		return err_set(ERR_LIMIT, "%s: path too long", root);
	}
	snprintf(path, sizeof(path), "%s/.wasm-cache", dir);
	if ((rc = util_mkdirs(path, 0755)) < 0)
		goto out;
	/* Readable by the sandbox's unprivileged uid. */
	if (chmod(dir, 0755) < 0 || chmod(path, 0755) < 0) {
		rc = err_set(ERR_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/module.wasm", dir);
	if (access(path, R_OK) != 0 &&
	    (rc = util_write_file(path, data, len, 0644)) < 0)
		goto out;
	if ((rc = link_binary(provider_bin, dir)) < 0) {
		err_prefix(rc, "provider binary");
		goto out;
	}
	wasm_load_opts_init(&o);
	snprintf(path, sizeof(path), "%s/.wasm-cache", dir);
	o.compile.cache_dir = path;
	/* A module whose declared memory exceeds the lease's cannot run
	 * (the limit is a check, not part of the cache key). */
	if (memory_bytes > 0 &&
	    memory_bytes / 65536 < o.limits.max_memory_pages)
		o.limits.max_memory_pages = (uint32_t)(memory_bytes / 65536);
	/* Both ways of checking bounds: the sandbox may not afford guard
	 * pages (an RLIMIT_AS below the reservation when it has no memory
	 * cgroup) and cannot compile the other on its own. */
	static const int modes[] = { WASM_BOUNDS_EXPLICIT, WASM_BOUNDS_GUARD };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		o.compile.bounds = modes[i];
		if ((rc = wasm_program_load((const uint8_t *)data, len, &o,
		         &prog)) < 0) {
			err_prefix(rc, "wasm module %.12s", hex);
			goto out;
		}
		start = prog->start_export;
		if (prog->so_path)
			(void)chmod(prog->so_path, 0644);
		wasm_program_free(prog);
		prog = NULL;
	}
	if (start < 0) {
		rc = err_set(ERR_REJECT, "wasm module %.12s exports no _start",
		    hex);
		goto out;
	}
	if (!(*app_dir = strdup(dir)))
		rc = err_set(ERR_NOMEM, "out of memory");
out:
	free(data);
	return rc;
}
