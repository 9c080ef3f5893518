/*
 * wasm_pool: requests to a sandboxed pool of wasm workers (wasm_pool.h).
 * Each worker has its own stream socket; a request holds its worker from
 * send to answer, so frames never interleave.  The control channel is a
 * SOCK_SEQPACKET socket: one message per datagram, fds by SCM_RIGHTS.
 */
#include "provider/wasm_pool.h"

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
#include "provider/wasm_compile.h"
#include "provider/wasm_wire.h"

/* With no deadline, a request still waits at most this long for a free
 * worker. */
#define QUEUE_WAIT_MAX_MS 30000

struct worker {
	int fd;
	int busy;
	int dead;
};

struct wasm_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic unsigned refs;
	int ctl;
	int closed;                /* no new requests */
	int broken;                /* a worker's stream is out of step */
	uint64_t seq;
	struct wasm_pool_stats st;
	unsigned n;
	struct worker w[];
};

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

int wasm_pool_control_pair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return err_set(ERR_IO, "socketpair: %s", strerror(errno));
	return 0;
}

static int send_ctl(int ctl, uint32_t op, uint32_t slot, int fd)
{
	struct wasm_ctl_msg m = { op, slot };
	struct iovec iov = { &m, sizeof(m) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr mh;

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
		if (sendmsg(ctl, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(m))
			return 0;
		if (errno != EINTR)
			return err_set(ERR_IO, "wasm pool control: %s",
			    strerror(errno));
	}
}

int wasm_pool_new(int ctl_fd, unsigned workers, struct wasm_pool **out)
{
	struct wasm_pool *p;
	pthread_condattr_t ca;
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
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&p->refs, 1);
	p->ctl = ctl_fd;
	p->n = workers;
	p->st.workers = workers;
	for (i = 0; i < workers; i++)
		p->w[i].fd = -1;
	for (i = 0; i < workers; i++) {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
			rc = err_set(ERR_IO, "socketpair: %s", strerror(errno));
			goto fail;
		}
		rc = send_ctl(ctl_fd, WASM_CTL_ADD, i, sp[1]);
		close(sp[1]);
		p->w[i].fd = sp[0];
		if (rc < 0)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	wasm_pool_free(p);
	return rc;
}

struct wasm_pool *wasm_pool_ref(struct wasm_pool *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

void wasm_pool_free(struct wasm_pool *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].fd >= 0)
			close(p->w[i].fd);
	if (p->ctl >= 0)
		close(p->ctl);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Under mu.  The supervisor reads EOF on the control socket and ends. */
static void shut_locked(struct wasm_pool *p)
{
	p->closed = 1;
	if (p->ctl >= 0)
		shutdown(p->ctl, SHUT_RDWR);
	pthread_cond_broadcast(&p->cv);
}

void wasm_pool_close(struct wasm_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	shut_locked(p);
	pthread_mutex_unlock(&p->mu);
}

int wasm_pool_alive(struct wasm_pool *p)
{
	pthread_mutex_lock(&p->mu);
	int alive = !p->closed && !p->broken;
	pthread_mutex_unlock(&p->mu);
	return alive;
}

void wasm_pool_stats(struct wasm_pool *p, struct wasm_pool_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->st;
	pthread_mutex_unlock(&p->mu);
}

/* An idle worker, or -1 (closed, or none free before deadline). */
static int acquire(struct wasm_pool *p, uint64_t deadline)
{
	int slot = -1;
	pthread_mutex_lock(&p->mu);
	while (!p->closed && !p->broken) {
		unsigned i, alive = 0;
		for (i = 0; i < p->n; i++) {
			if (p->w[i].dead)
				continue;
			alive++;
			if (!p->w[i].busy)
				break;
		}
		if (i < p->n) {
			p->w[i].busy = 1;
			slot = (int)i;
			break;
		}
		if (alive == 0)
			break;
		uint64_t now = now_ms();
		if (now >= deadline)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (deadline - now) % 1000 *
		    1000000;
		ts.tv_sec += (time_t)((deadline - now) / 1000 + ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	if (slot >= 0)
		p->st.requests++;
	pthread_mutex_unlock(&p->mu);
	return slot;
}

/* Give the worker back; a stream out of step breaks the whole pool. */
static void release(struct wasm_pool *p, int slot, int broken)
{
	pthread_mutex_lock(&p->mu);
	p->w[slot].busy = 0;
	if (broken) {
		p->w[slot].dead = 1;
		p->broken = 1;
		shut_locked(p);
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* 0 once ready, 1 at the deadline, -1 on error. */
static int wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ms();
		int timeout = now >= deadline ? 0 :
		    deadline - now > 86400000 ? 86400000 : (int)(deadline - now);
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

static int write_all(int fd, const uint8_t *b, size_t len, uint64_t deadline)
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

/* 0 read, 1 deadline with nothing read yet, -1 error/EOF/partial. */
static int read_all(int fd, uint8_t *b, size_t len, uint64_t deadline)
{
	size_t got = 0;
	while (got < len) {
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

/* One frame: 0 with *type and *payload (owned by the caller), 1 at the
 * deadline before a byte came, -1 when the stream is broken.  Once a
 * header is in, the rest may take until tail_deadline. */
static int read_frame(int fd, uint64_t deadline, uint64_t tail_deadline,
    uint32_t *type, uint8_t **payload, uint32_t *len)
{
	uint8_t h[WASM_WIRE_HEADER];
	int rc = read_all(fd, h, 1, deadline);
	if (rc)
		return rc;
	if (read_all(fd, h + 1, sizeof(h) - 1, tail_deadline) != 0 ||
	    wasm_wire_header(h, type, len) < 0)
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

static const char *signal_cause(int sig)
{
	switch (sig) {
	case SIGKILL: return "killed (out of memory or CPU time)";
	case SIGSYS: return "stopped by the seccomp policy";
	case SIGSEGV: return "crashed (segmentation fault)";
	case SIGXCPU: return "out of CPU time";
	default: return "killed by a signal";
	}
}

/* Frames left from a worker that died while idle (DIED with a seq that
 * is not ours) are read and counted; anything else out of place breaks
 * the stream.  Returns 0, or -1 when broken. */
static int drain_stale(struct wasm_pool *p, int fd)
{
	for (;;) {
		uint8_t h[WASM_WIRE_DIED_FRAME];
		uint32_t type, len;
		int32_t st;
		uint64_t seq;
		ssize_t k = recv(fd, h, WASM_WIRE_HEADER, MSG_DONTWAIT |
		    MSG_PEEK);
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (k < 0 && errno == EINTR)
			continue;
		if (k != WASM_WIRE_HEADER ||
		    wasm_wire_header(h, &type, &len) < 0 ||
		    type != WASM_WIRE_DIED ||
		    recv(fd, h, sizeof(h), MSG_DONTWAIT) != (ssize_t)sizeof(h) ||
		    wasm_wire_died_decode(h + WASM_WIRE_HEADER, len, &st,
		    &seq) < 0)
			return -1;
		pthread_mutex_lock(&p->mu);
		p->st.worker_deaths++;
		pthread_mutex_unlock(&p->mu);
	}
}

/* The answer to request seq: 0 with a REPLY (*pl, owned by the caller),
 * 2 when its worker died (*status), 1 at the deadline, -1 broken.  A DIED
 * frame for another request (the worker died idle; its replacement then
 * took ours) is counted and skipped. */
static int await_reply(struct wasm_pool *p, int fd, uint64_t seq,
    uint64_t deadline, uint8_t **pl, uint32_t *plen, int32_t *status)
{
	for (;;) {
		uint32_t type;
		uint64_t dseq;
		int rc = read_frame(fd, deadline, deadline +
		    WASM_POOL_KILL_WAIT_MS, &type, pl, plen);
		if (rc)
			return rc;
		if (type == WASM_WIRE_REPLY)
			return 0;
		rc = type == WASM_WIRE_DIED ? wasm_wire_died_decode(*pl, *plen,
		    status, &dseq) : -1;
		free(*pl);
		*pl = NULL;
		if (rc < 0)
			return -1;
		pthread_mutex_lock(&p->mu);
		p->st.worker_deaths++;
		pthread_mutex_unlock(&p->mu);
		if (dseq == seq)
			return 2;
	}
}

/* After a kill: frames until the supervisor says that worker died.  0
 * when it did, -1 when the stream or the supervisor failed. */
static int await_death(int fd)
{
	uint64_t until = now_ms() + WASM_POOL_KILL_WAIT_MS;
	for (;;) {
		uint32_t type, len;
		uint8_t *pl = NULL;
		if (read_frame(fd, until, until, &type, &pl, &len) != 0)
			return -1;
		free(pl);
		if (type == WASM_WIRE_DIED)
			return 0;
		if (type != WASM_WIRE_REPLY)
			return -1;
	}
}

static int fail_resp(struct wasm_wagi_response *resp, int status,
    const char *msg)
{
	struct wasm_outcome oc;
	memset(&oc, 0, sizeof(oc));
	oc.trap = WASM_TRAP_HOST;
	oc.timed_out = status == 504;
	oc.out_of_fuel = status == 503;
	snprintf(oc.message, sizeof(oc.message), "%s", msg);
	return wasm_wagi_respond(&oc, NULL, 0, resp);
}

int wasm_pool_invoke(struct wasm_pool *p, const struct wasm_wagi_request *req,
    const struct wasm_run_limits *l, struct wasm_wagi_response *resp,
    struct wasm_usage *u)
{
	uint64_t t0 = now_ms(), deadline, budget_fuel;
	uint8_t *frame = NULL, *pl = NULL;
	size_t flen;
	uint32_t plen;
	int32_t st = 0;
	int slot, rc, broken = 0;
	struct wasm_wire_reply rep;
	char msg[128];

	memset(resp, 0, sizeof(*resp));
	memset(u, 0, sizeof(*u));
	u->requests = 1;
	u->bytes_in = req->body_len;
	budget_fuel = l->fuel >= 0 ? (uint64_t)l->fuel : 0;
	deadline = t0 + (l->wall_ms ? l->wall_ms : QUEUE_WAIT_MAX_MS);
	if ((slot = acquire(p, deadline)) < 0) {
		rc = fail_resp(resp, 503, wasm_pool_alive(p) ?
		    "function busy: no free worker before the deadline" :
		    "function is not running (restarting)");
		goto out;
	}
	pthread_mutex_lock(&p->mu);
	uint64_t seq = ++p->seq;
	pthread_mutex_unlock(&p->mu);
	int fd = p->w[slot].fd;
	if ((rc = wasm_wire_request_encode(seq, req, l, &frame, &flen)) < 0) {
		release(p, slot, 0);
		if (rc == ERR_NOMEM)
			goto out;
		snprintf(msg, sizeof(msg), "%s", err_msg());
		rc = fail_resp(resp, 500, msg);
		goto out;
	}
	deadline = now_ms() + (l->wall_ms ? l->wall_ms : UINT32_MAX);
	if (drain_stale(p, fd) < 0 || write_all(fd, frame, flen, deadline) < 0) {
		release(p, slot, 1);
		rc = fail_resp(resp, 503, "function worker is gone "
		    "(restarting)");
		goto out;
	}
	rc = await_reply(p, fd, seq, deadline, &pl, &plen, &st);
	if (rc == 1) {
		/* Past the deadline: the supervisor kills the worker, says so
		 * and starts another on the same socket. */
		if (send_ctl(p->ctl, WASM_CTL_KILL, (uint32_t)slot, -1) < 0 ||
		    await_death(fd) < 0)
			broken = 1;
		pthread_mutex_lock(&p->mu);
		p->st.deadline_kills++;
		pthread_mutex_unlock(&p->mu);
		release(p, slot, broken);
		u->fuel = budget_fuel;
		snprintf(msg, sizeof(msg), "function deadline of %llu ms "
		    "exceeded", (unsigned long long)l->wall_ms);
		rc = fail_resp(resp, 504, msg);
		goto out;
	}
	if (rc < 0) {
		release(p, slot, 1);
		rc = fail_resp(resp, 503, "function worker is gone "
		    "(restarting)");
		goto out;
	}
	if (rc == 2) {
		release(p, slot, 0);
		u->fuel = budget_fuel;
		if (WIFSIGNALED(st))
			snprintf(msg, sizeof(msg), "function worker %s "
			    "(signal %d)", signal_cause(WTERMSIG(st)),
			    WTERMSIG(st));
		else
			snprintf(msg, sizeof(msg), "function worker exited "
			    "with status %d", WEXITSTATUS(st));
		rc = fail_resp(resp, 500, msg);
		goto out;
	}
	if (wasm_wire_reply_decode(pl, plen, &rep) < 0 || rep.seq != seq) {
		release(p, slot, 1);
		rc = fail_resp(resp, 500, "function worker answered out of "
		    "step (restarting)");
		goto out;
	}
	release(p, slot, 0);
	*u = rep.u;
	u->requests = 1;
	u->bytes_in = req->body_len;
	if (rep.oc.out_of_fuel && budget_fuel)
		u->fuel = budget_fuel;
	rc = wasm_wagi_respond(&rep.oc, rep.out, rep.out_len, resp);
out:
	u->wall_ms = now_ms() - t0;
	free(frame);
	free(pl);
	return rc;
}

/* ---- the app dir ---- */

/* dir/provider: a hard link to bin (a copy across file systems), replaced
 * atomically so a rebuilt provider is picked up. */
static int link_binary(const char *bin, const char *dir)
{
	char self[PATH_MAX], tmp[PATH_MAX + 32], dst[PATH_MAX + 16];
	char *data = NULL;
	size_t len;
	ssize_t n;
	int rc;

	if (!bin) {
		if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
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

int wasm_app_prepare(const char *module_path, const char *root,
    const char *provider_bin, char **app_dir)
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
	if ((rc = wasm_program_load((const uint8_t *)data, len, &o,
	    &prog)) < 0) {
		err_prefix(rc, "wasm module %.12s", hex);
		goto out;
	}
	start = prog->start_export;
	if (prog->so_path)
		(void)chmod(prog->so_path, 0644);
	wasm_program_free(prog);
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
