/*
 * http_server: the HTTP/1.1 server of http.h.  A few threads (struct
 * loop, one per core by default) each run an epoll loop over their share
 * of the connections: the first accepts and gives each new connection to
 * the loop with the fewest, which owns it for its whole life; a loop
 * reads and parses requests (http_parse.h), keeps their deadlines and
 * writes the responses, never blocking.  What the loops share is small
 * and locked briefly: the per-address table and the list of connections
 * in accept order (acc_mu, at accept and close only), the upstream
 * groups' slots (grp_mu, once at the start and once at the end of a
 * forwarded request), the counters (atomic).  A pool of worker threads
 * runs head hooks, body sinks and handlers, which may block; each stream
 * has a thread of its own.  A connection belongs to one thread at a
 * time: its loop hands it to a worker through the job queue and takes it
 * back through its done queue (an eventfd wakes the loop), so its state
 * needs no lock.  A request the route hook forwards never leaves its
 * loop: its upstream connection (pooled per loop, edge-triggered in the
 * same epoll) and both bodies are driven there (struct proxy).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http.h"
#include "common/http_parse.h"
#include "common/tls.h"
#include "common/util.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#define READ_CHUNK 65536 /* bytes read per call; a body's buffer */
#define READ_PER_WAKEUP (4 * READ_CHUNK) /* fairness between clients */
#define INLINE_BODY 16384 /* bodies up to this go out with the head */
#define LINGER_MS 2000 /* discarding an unread body before close */
#define LINGER_BYTES (8u << 20)
#define SWEEP_MS 200 /* how often deadlines are looked at */
#define ACCEPT_BATCH 256
#define STREAM_CHUNK 16384
#define STREAM_STACK (512 * 1024)
#define IP_BUCKETS 4096
#define PX_BUF 65536 /* bytes a forwarded request buffers each way */
#define PX_HEAD_MAX 65536 /* bytes of an upstream's response head */
#define UP_BUCKETS 256
#define UP_IDLE_MS 30000 /* an idle upstream connection is closed */
#define UP_MAX_DEFAULT 64 /* upstream connections in use per group */
#define LOOPS_MAX 4 /* event-loop threads, by default one per core */
/* A released slot may pass over the group's first waiter for this long,
 * for one among this many (pick_waiter). */
#define GRANT_FIFO_MS 100
#define GRANT_SCAN 64

/* ---- connection I/O ---------------------------------------------------
 * Every byte goes through c->io, so a TLS layer (issue 16) can give a
 * connection SSL_read/SSL_write over the same nonblocking socket.  They
 * return bytes (> 0), 0 at the peer's end, or one of these; the AGAIN
 * codes say which readiness to wait for (TLS may need to write to read). */
enum { IO_AGAIN_READ = -1, IO_AGAIN_WRITE = -2, IO_ERROR = -3 };

struct conn;

struct http_io {
	ssize_t (*read)(struct conn *c, void *buf, size_t len);
	ssize_t (*write)(struct conn *c, const void *buf, size_t len);
	void (*shutdown)(struct conn *c); /* no more writes from us */
	void (*close)(struct conn *c); /* the layer's state; not the fd */
	int (*pending)(struct conn *c); /* bytes read from the socket and
	                                   not yet returned by read */
};

enum conn_state {
	C_HEAD, /* loop: reading a request head */
	C_HOOK, /* worker: the head hook runs */
	C_ROUTE, /* worker: the route hook runs, free to block */
	C_BODY, /* loop: reading the body */
	C_SINK, /* worker: a piece of body goes to the sink */
	C_WORK, /* worker: the handler runs */
	C_WRITE, /* loop: writing the response */
	C_STREAM, /* its stream thread owns it */
	C_STREAM_DONE, /* stream over: the loop closes it */
	C_LINGER, /* loop: answered; discarding the rest, then close */
	C_PROXY, /* loop: forwarded to an upstream (struct proxy) */
};

enum job { J_HOOK, J_SINK, J_HANDLE, J_ROUTE };

/*
 * A handler's connection comes back to the loop one of two ways.  The
 * common one (whole response written, connection kept, nothing pending):
 * the worker turns handoff from H_WORKER to H_BACK and is done; the loop
 * takes it when its next event comes (it was armed at dispatch) or at a
 * sweep.  If an event came first, the loop turned handoff to H_PENDING
 * and forgot it; then the worker's exchange fails and it uses the done
 * queue, which wakes the loop.  One compare-and-swap each way, no window.
 */
enum { H_WORKER, H_BACK, H_PENDING };

/* Per client address (IPv4, or IPv6 /64): connections and bytes of
 * buffered bodies. */
struct ipslot {
	struct ipslot *next;
	uint8_t key[9];
	unsigned conns;
	atomic_uint_least64_t inflight; /* a worker's fast path releases */
};

struct loop;

struct conn {
	struct http_server *s;
	struct loop *l; /* the loop that owns it, for its whole life */
	int fd;
	const struct http_io *io;
	void *io_ctx; /* the TLS layer's SSL, once the first byte came */
	int kicked; /* in the loop's list of connections whose layer
	               holds bytes that no epoll event will announce */
	struct ipslot *ip;
	char peer[INET6_ADDRSTRLEN];
	enum conn_state state;
	enum job job;
	uint32_t events; /* what epoll waits for, when armed */
	int registered, armed; /* with epoll; EPOLLONESHOT disarms */
	int read_wants_write; /* io->read said IO_AGAIN_WRITE */
	int closed;
	int busy; /* a worker's or a stream's now (loop's view) */
	atomic_int handoff; /* H_*: how a busy connection comes back */
	int arm_back; /* armed at dispatch: the worker may give it back */
	int rd_eof; /* the client shut its side */
	int idle; /* C_HEAD, no byte of the request yet */
	uint64_t deadline; /* ms (util_mono), 0: none */

	char *in; /* bytes read, not yet consumed */
	size_t in_len, in_cap, scan;

	/* The current request. */
	char *head_mem;
	struct http_head *head;
	struct http_request req;
	const struct http_hook *hook;
	uint64_t body_max;
	uint64_t body_left; /* with Content-Length */
	int chunked;
	struct http_chunked ch;
	char *body;
	size_t body_len, body_cap;
	uint64_t reserved; /* counted in ip->inflight and s->inflight */
	struct http_body_sink sink;
	int sinking; /* sink set, its free not yet called */
	size_t sink_len, sink_used; /* in[0..sink_len) data; sink_used
	                               bytes of in consumed with it */
	int sink_last;
	int keep; /* keep the connection after this response */
	int body_unread; /* the client may still send body bytes */
	int continue_sent;

	/* The response. */
	char *out;
	size_t out_len, out_off;
	char *out_body;
	size_t out_body_len, out_body_off;
	http_stream_fn stream;
	void *stream_ctx;
	void (*stream_free)(void *);

	struct proxy *px; /* C_PROXY: the forwarding's state */
	struct http_upstream *routed; /* C_ROUTE: what the route said */
	int route_rc;

	struct conn *prev, *next; /* the loop's connections, oldest first */
	struct conn *qnext; /* job, done or graveyard queue */
	int fresh; /* accepted by another loop, not yet taken up */

	/* Under s->acc_mu: every connection, oldest first (eviction). */
	struct conn *gprev, *gnext;
	struct conn *enext; /* the owner's eviction requests */
	int evict_pending;
	atomic_int head_wait; /* waiting for a request head: a hint for
	                         eviction, which the owner checks */
};

/* ---- forwarding (loop thread only) --------------------------------------
 * An upstream connection: in use by one forwarded request (c), or idle in
 * its pool for reuse.  Registered edge-triggered once, for reading and
 * writing; can_read/can_write remember readiness not used up yet. */
struct upconn {
	struct http_server *s;
	struct loop *l;
	struct uppool *pool;
	int fd;
	int can_read, can_write;
	int hup; /* the upstream's end was seen: read to it */
	int connecting;
	int closed;
	struct conn *c; /* NULL: idle */
	struct upconn *prev, *next; /* the pool's idle list, newest first */
	uint64_t since; /* idle since, ms */
	struct upconn *gnext; /* graveyard */
};

/* The connections to one upstream (one key). */
struct uppool {
	struct uppool *next;
	uint64_t key;
	struct upconn *idle;
	unsigned nidle, nopen;
};

/* One group's (a tenant's) upstream connections in use, and the requests
 * waiting for one, first come first served, across the loops (under
 * s->grp_mu). */
struct upgroup {
	struct upgroup *next;
	uint64_t group;
	unsigned busy, max, nwait;
	unsigned lbusy[LOOPS_MAX]; /* of busy, held by each loop's requests */
	struct conn *wait_head, *wait_tail;
};

enum { PX_NONE, PX_LEN, PX_CHUNKED, PX_CLOSE };

enum { GS_NONE, GS_WAIT, GS_READY };

struct proxy {
	struct http_upstream up;
	struct upgroup *g;
	struct upconn *u;
	int has_slot, waiting, tries, reused; /* the owner loop's view */
	int gs; /* GS_*, under s->grp_mu: in the group's wait list, or
	           given a slot and in the owner's ready list */
	uint64_t wait_since; /* ms, set before it joins the wait list */
	struct conn *wnext; /* the group's wait list; the ready list */
	int c_readable, c_writable; /* the client, as far as known */
	/* client -> upstream */
	char *rq;
	size_t rq_len, rq_off, rq_cap;
	uint64_t body_left;
	int body_chunked, body_done, body_started;
	struct http_chunked bch;
	/* upstream -> client */
	char *rs;
	size_t rs_len, rs_cap, rs_scan;
	int head_done, status, mode, rechunk, resp_done, up_keep, up_eof;
	uint64_t resp_left;
	struct http_chunked ch;
	char *cb;
	size_t cb_len, cb_off, cb_cap;
	int answered, upgraded;
	int up_spoke; /* a byte of the upstream's answer came (a 1xx too) */
	/* the body as framed to the upstream so far, kept to be sent again
	 * (an idempotent request; up to PX_BUF bytes, else dropped) */
	char *rp;
	size_t rp_len, rp_cap;
	int rp_keep;
	unsigned ctx_fds; /* up.fds, counted in s->nctx_fds */
	uint64_t out_bytes, in_bytes;
};

/* One event-loop thread and what only it touches (but for the queues
 * named). */
struct loop {
	struct http_server *s;
	unsigned idx;
	pthread_t t;
	int epfd, wakefd;
	unsigned nkicked; /* connections with kicked set */
	atomic_uint nconns; /* owned now (the acceptor's choice) */
	struct conn *first, *last;
	struct conn *graveyard;
	char scratch[READ_CHUNK];
	struct conn *done_head, *done_tail; /* under s->mu */
	struct uppool *pools[UP_BUCKETS];
	struct upconn *up_graveyard;
	/* Under s->grp_mu: requests given a slot by another's release. */
	struct conn *ready_head, *ready_tail;
	atomic_uint nready;
	/* Under s->acc_mu: connections another loop's accept evicts. */
	struct conn *evict_head;
	atomic_uint nevict;
};

struct http_server {
	http_handler handler;
	void *ctx;
	const struct http_hook *hooks;
	struct tls_server *tls;
	size_t max_body, max_head, body_min_rate;
	unsigned max_conns, max_conns_per_ip, max_streams, nworkers;
	uint64_t idle_ms, head_ms, body_ms, write_ms;
	uint64_t max_inflight, max_inflight_per_ip;
	uint16_t port;

	int lfd, reserve_fd; /* the first loop's */
	struct loop *loops;
	unsigned nloops, nloops_started, next_loop;
	struct worker *workers;
	unsigned nstarted;
	atomic_int stopping;

	/* Per address, and all connections oldest first: at accept and
	 * close only. */
	pthread_mutex_t acc_mu;
	struct conn *gfirst, *glast;
	struct ipslot *ips[IP_BUCKETS];
	uint32_t ip_seed;

	pthread_mutex_t mu; /* guards the queues and nstreams */
	pthread_cond_t streams_cv;
	struct conn *job_head, *job_tail; /* when no worker is idle */
	struct worker *idle; /* the last to go idle first: its cache is warm */
	unsigned nstreams; /* open (the cap) */
	unsigned nstream_threads; /* running, until their last step */

	atomic_uint nconns;
	atomic_uint_least64_t inflight, accepted, refused, evicted, timeouts,
	    requests;

	/* Forwarding: the pools are each loop's; the groups shared. */
	http_route_fn route;
	unsigned max_waiting;
	pthread_mutex_t grp_mu;
	struct upgroup *groups[UP_BUCKETS];
	atomic_uint nforwarding, nwaiting, nup, nup_idle;
	atomic_uint_least64_t up_connects, up_reuses, upgrades;
	/* The descriptor budget (http.h): client and upstream sockets and
	 * the forwarded requests' http_upstream.fds, at most max_fds. */
	unsigned max_fds;
	atomic_uint nctx_fds;
	int accept_paused; /* out of descriptors: listener off till a sweep */
};

struct worker {
	struct http_server *s;
	pthread_t t;
	pthread_cond_t cv;
	struct conn *job; /* given directly, under s->mu */
	struct worker *next_idle;
	int is_idle;
};

/* Markers in epoll_event.data.ptr. */
static char listen_mark, wake_mark;

static uint64_t
now_ms(void)
{
	return util_mono_ns() / 1000000u;
}

/* ---- plain sockets ---------------------------------------------------- */

static ssize_t
plain_read(struct conn *c, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(c->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN_READ :
	                                                 IO_ERROR;
}

static ssize_t
plain_write(struct conn *c, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN_WRITE :
	                                                 IO_ERROR;
}

static void
plain_shutdown(struct conn *c)
{
	(void)shutdown(c->fd, SHUT_WR);
}

static void
plain_close(struct conn *c)
{
	(void)c;
}

static int
plain_pending(struct conn *c)
{
	(void)c;
	return 0;
}

static const struct http_io plain_io = { plain_read, plain_write,
	plain_shutdown, plain_close, plain_pending };

/* ---- TLS ----------------------------------------------------------------
 * The same nonblocking socket through SSL_read/SSL_write; the handshake
 * runs inside the first reads, under the request head's deadline, so a
 * client slow to shake hands is closed like one slow to send its head. */

/* What an SSL call that did not succeed means for the loop. */
static ssize_t
tls_again(SSL *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return IO_AGAIN_READ;
	case SSL_ERROR_WANT_WRITE:
		return IO_AGAIN_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return 0; /* close_notify: the client's end */
	default:
		ERR_clear_error();
		return IO_ERROR;
	}
}

/* The first bytes on a TLS port are a handshake record (22); a plain
 * HTTP request gets a plain answer saying so (as nginx's 497), anything
 * else is closed.  Returns 1 to go on with TLS, or an IO_* code / 0. */
static ssize_t
tls_sniff(struct conn *c)
{
	static const char msg[] =
	    "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: application/json\r\nContent-Length: 95\r\n"
	    "Connection: close\r\n\r\n"
	    "{\"error\":\"plain HTTP sent to a TLS port: use https:// "
	    "(this server does not speak plain HTTP)\"}";
	unsigned char b;
	ssize_t n;

	do
		n = recv(c->fd, &b, 1, MSG_PEEK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN_READ :
		                                                 IO_ERROR;
	if (n == 0)
		return 0;
	if (b == 22)
		return 1;
	if (b >= 'A' && b <= 'Z') {
		char drop[4096];
		(void)!send(c->fd, msg, sizeof(msg) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		/* What the request sent already is read, so that the close
		 * is not a reset that destroys the answer in flight. */
		for (int i = 0; i < 16 &&
		     recv(c->fd, drop, sizeof(drop), MSG_DONTWAIT) > 0;
		     i++)
			;
		(void)shutdown(c->fd, SHUT_WR);
	}
	return IO_ERROR;
}

static ssize_t
tls_read(struct conn *c, void *buf, size_t len)
{
	SSL *ssl = c->io_ctx;
	size_t got = 0;

	if (ssl == NULL) {
		ssize_t r = tls_sniff(c);
		if (r != 1)
			return r;
		if ((ssl = tls_server_ssl(c->s->tls, c->fd)) == NULL) {
			ERR_clear_error();
			return IO_ERROR;
		}
		c->io_ctx = ssl;
	}
	/* Up to len bytes, record after record until the socket is empty:
	 * less than len means SSL holds none and wants the socket
	 * (conn_read relies on it), and records that came together (a
	 * head and its body) are taken in one wake-up. */
	while (got < len) {
		size_t n = 0;
		int r;
		ERR_clear_error();
		r = SSL_read_ex(ssl, (char *)buf + got, len - got, &n);
		if (r == 1) {
			got += n;
			continue;
		}
		if (got > 0)
			break;
		return tls_again(ssl, r);
	}
	return (ssize_t)got;
}

static ssize_t
tls_write(struct conn *c, const void *buf, size_t len)
{
	SSL *ssl = c->io_ctx;
	size_t n = 0;
	int r;

	if (ssl == NULL)
		return IO_ERROR; /* nothing is answered before a handshake */
	ERR_clear_error();
	r = SSL_write_ex(ssl, buf, len, &n);
	if (r == 1)
		return (ssize_t)n;
	r = (int)tls_again(ssl, r);
	return r == 0 ? IO_ERROR : r;
}

static void
tls_shutdown(struct conn *c)
{
	if (c->io_ctx && SSL_is_init_finished((SSL *)c->io_ctx)) {
		ERR_clear_error();
		(void)SSL_shutdown(c->io_ctx); /* close_notify, best effort */
		ERR_clear_error();
	}
	(void)shutdown(c->fd, SHUT_WR);
}

static void
tls_close(struct conn *c)
{
	SSL_free(c->io_ctx);
	c->io_ctx = NULL;
}

static int
tls_pending(struct conn *c)
{
	return c->io_ctx && SSL_pending((SSL *)c->io_ctx) > 0;
}

static const struct http_io tls_io = { tls_read, tls_write, tls_shutdown,
	tls_close, tls_pending };

/* ---- configuration ---------------------------------------------------- */

void
http_server_config_default(struct http_server_config *c)
{
	memset(c, 0, sizeof(*c));
	c->host = "127.0.0.1";
	c->max_body = 1024 * 1024;
	c->max_conns = 8192;
	c->max_conns_per_ip = 256;
	c->idle_timeout_s = 30;
	c->head_timeout_ms = 10000;
	c->body_timeout_ms = 10000;
	c->body_min_rate = 65536;
	c->write_timeout_s = 30;
	c->max_head = 16384;
	c->max_inflight = 256u << 20;
	c->max_inflight_per_ip = 64u << 20;
	c->workers = 64;
	c->max_streams = 512;
}

/* ---- per-address accounting (under s->acc_mu) -------------------------- */

static void
ip_key(const struct sockaddr_storage *ss, uint8_t key[9])
{
	memset(key, 0, 9);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			key[0] = 4;
			memcpy(key + 1, s6->sin6_addr.s6_addr + 12, 4);
		} else { /* one client, one /64 */
			key[0] = 6;
			memcpy(key + 1, s6->sin6_addr.s6_addr, 8);
		}
	}
}

static unsigned
ip_bucket(const struct http_server *s, const uint8_t key[9])
{
	uint32_t h = 2166136261u ^ s->ip_seed;

	for (int i = 0; i < 9; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % IP_BUCKETS;
}

static struct ipslot *
ip_get(struct http_server *s, const uint8_t key[9])
{
	unsigned b = ip_bucket(s, key);
	struct ipslot *p;

	for (p = s->ips[b]; p; p = p->next)
		if (memcmp(p->key, key, 9) == 0)
			return p;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	memcpy(p->key, key, 9);
	p->next = s->ips[b];
	s->ips[b] = p;
	return p;
}

static void
ip_put(struct http_server *s, struct ipslot *ip)
{
	struct ipslot **pp;

	if (ip->conns > 0 || atomic_load(&ip->inflight) > 0)
		return;
	for (pp = &s->ips[ip_bucket(s, ip->key)]; *pp; pp = &(*pp)->next)
		if (*pp == ip) {
			*pp = ip->next;
			free(ip);
			return;
		}
}

static int
reserve(struct conn *c, uint64_t n)
{
	struct http_server *s = c->s;

	if (atomic_load(&c->ip->inflight) + n > s->max_inflight_per_ip ||
	    atomic_load(&s->inflight) + n > s->max_inflight)
		return -1;
	atomic_fetch_add(&c->ip->inflight, n);
	atomic_fetch_add(&s->inflight, n);
	c->reserved += n;
	return 0;
}

static void
release(struct conn *c)
{
	atomic_fetch_sub(&c->ip->inflight, c->reserved);
	atomic_fetch_sub(&c->s->inflight, c->reserved);
	c->reserved = 0;
}

/* ---- queues ----------------------------------------------------------- */

static void want(struct conn *c, uint32_t ev);

/* Hand c to a worker (loop thread). */
static void
dispatch(struct conn *c, enum conn_state st, enum job j)
{
	struct http_server *s = c->s;

	/* A handler's connection stays armed for the client's next
	 * request (see H_BACK); the others wait unarmed. */
	want(c, j == J_HANDLE ? EPOLLIN : 0);
	c->arm_back = c->armed;
	atomic_store(&c->handoff, H_WORKER);
	c->busy = 1;
	c->state = st;
	c->job = j;
	c->qnext = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->idle) {
		struct worker *w = s->idle;
		s->idle = w->next_idle;
		w->is_idle = 0;
		w->job = c;
		pthread_cond_signal(&w->cv);
	} else {
		if (s->job_tail)
			s->job_tail->qnext = c;
		else
			s->job_head = c;
		s->job_tail = c;
	}
	pthread_mutex_unlock(&s->mu);
}

/* Give c back to its loop (from a worker or a stream thread, or from
 * the accepting loop for a new connection). */
static void
push_done(struct conn *c)
{
	struct http_server *s = c->s;
	struct loop *l = c->l;
	uint64_t one = 1;
	int wake;

	c->qnext = NULL;
	pthread_mutex_lock(&s->mu);
	wake = l->done_head == NULL;
	if (l->done_tail)
		l->done_tail->qnext = c;
	else
		l->done_head = c;
	l->done_tail = c;
	pthread_mutex_unlock(&s->mu);
	if (wake)
		(void)!write(l->wakefd, &one, sizeof(one));
}

/* Wake loop l (from another thread) to look at its queues. */
static void
loop_wake(struct loop *l)
{
	uint64_t one = 1;

	(void)!write(l->wakefd, &one, sizeof(one));
}

/* ---- epoll interest (loop thread) ------------------------------------- */

/* Connections are registered EPOLLONESHOT: an event disarms them, so a
 * connection handed to a worker needs no epoll_ctl, and the loop re-arms
 * it (one call) when it wants to hear from it again. */
static void
want(struct conn *c, uint32_t ev)
{
	struct epoll_event e;

	/* Bytes the TLS layer holds make no epoll event: the loop looks at
	 * this connection again after the current batch. */
	if ((ev & EPOLLIN) && !c->kicked && c->io->pending(c)) {
		c->kicked = 1;
		c->l->nkicked++;
	}
	if (c->armed && ev == c->events)
		return;
	if (ev == 0) {
		/* Out of epoll altogether: no event may come for a
		 * connection a worker has (see claim). */
		if (c->armed &&
		    epoll_ctl(c->l->epfd, EPOLL_CTL_DEL, c->fd, NULL) == 0)
			c->registered = 0;
		c->armed = 0;
		return;
	}
	memset(&e, 0, sizeof(e));
	e.events = ev | EPOLLONESHOT;
	e.data.ptr = c;
	if (epoll_ctl(c->l->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	        c->fd, &e) < 0)
		return;
	c->registered = 1;
	c->armed = ev != 0;
	c->events = ev;
}

/* ---- responses -------------------------------------------------------- */

static const char *
reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Status";
	}
}

/* Copy the well-formed lines of a handler's extra headers, leaving out
 * those the server writes itself. */
static size_t
extra_lines(const char *extra, char *out, size_t cap)
{
	static const char *const own[] = { "content-length",
		"transfer-encoding", "connection", "content-type", "date",
		NULL };
	const char *p = extra;
	size_t n = 0;

	while (*p) {
		size_t len = strcspn(p, "\r\n"), k = 0, i;
		int ok = 1;
		while (k < len && p[k] != ':' && p[k] > 0x20 && p[k] < 0x7f)
			k++;
		if (k == 0 || k == len || p[k] != ':')
			ok = 0;
		for (i = 0; ok && own[i]; i++)
			if (strlen(own[i]) == k &&
			    strncasecmp(p, own[i], k) == 0)
				ok = 0;
		for (i = k + 1; ok && i < len; i++)
			if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
				ok = 0;
		if (ok && n + len + 2 < cap) {
			memcpy(out + n, p, len);
			memcpy(out + n + len, "\r\n", 2);
			n += len + 2;
		}
		p += len;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	out[n] = '\0';
	return n;
}

static int
is_head_request(const struct conn *c)
{
	return c->head && strcmp(c->head->method, "HEAD") == 0;
}

/*
 * Serialise resp into c->out (and c->out_body), taking resp->body.  With
 * stream set: the head of a chunked (HTTP/1.1) or close-delimited (1.0)
 * body.  Returns 0, or -1 out of memory (then the connection just closes).
 */
static int
build(struct conn *c, struct http_response *resp, int stream)
{
	char date[64], extra[sizeof(resp->extra_headers) + 2];
	const char *ctype =
	    resp->content_type ? resp->content_type : "application/json";
	int status = resp->status, no_body, n;
	size_t cap, blen = resp->body ? resp->body_len : 0;
	struct tm tm;
	time_t t = time(NULL);

	if (status < 200 || status > 999)
		status = 500;
	no_body = status == 204 || status == 304;
	if (strpbrk(ctype, "\r\n"))
		ctype = "application/octet-stream";
	if (atomic_load(&c->s->stopping) || stream)
		c->keep = 0;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	extra_lines(resp->extra_headers, extra, sizeof(extra));
	cap = 256 + strlen(ctype) + strlen(extra) +
	    (blen <= INLINE_BODY ? blen : 0);
	free(c->out);
	c->out_off = c->out_len = 0;
	if ((c->out = malloc(cap)) == NULL) {
		free(resp->body);
		resp->body = NULL;
		return -1;
	}
	n = snprintf(c->out, cap, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
	    reason(status), date);
	if (!no_body)
		n += snprintf(c->out + n, cap - (size_t)n,
		    "Content-Type: %s\r\n", ctype);
	if (stream) {
		n += snprintf(c->out + n, cap - (size_t)n, "%s",
		    c->head->minor >= 1 ? "Cache-Control: no-cache\r\n"
		                          "Transfer-Encoding: chunked\r\n" :
		                          "Cache-Control: no-cache\r\n");
	} else if (!no_body) {
		n += snprintf(c->out + n, cap - (size_t)n,
		    "Content-Length: %zu\r\n", blen);
	}
	if (!c->keep)
		n += snprintf(c->out + n, cap - (size_t)n,
		    "Connection: close\r\n");
	else if (c->head && c->head->minor == 0)
		n += snprintf(c->out + n, cap - (size_t)n,
		    "Connection: keep-alive\r\n");
	n += snprintf(c->out + n, cap - (size_t)n, "%s\r\n", extra);
	c->out_len = (size_t)n;
	if (no_body || is_head_request(c) || blen == 0) {
		free(resp->body);
	} else if (blen <= INLINE_BODY) {
		memcpy(c->out + c->out_len, resp->body, blen);
		c->out_len += blen;
		free(resp->body);
	} else {
		c->out_body = resp->body;
		c->out_body_len = blen;
		c->out_body_off = 0;
	}
	resp->body = NULL;
	return 0;
}

/* A response the server makes itself: {"error": msg}. */
static int
build_error(struct conn *c, int status, const char *msg)
{
	struct http_response r;

	memset(&r, 0, sizeof(r));
	http_respond_error(&r, status, "%s", msg);
	return build(c, &r, 0);
}

/* Write what can be written now.  Returns 1 all written, 0 to be
 * continued, -1 the client is gone. */
static int
flush(struct conn *c)
{
	for (;;) {
		const char *p;
		size_t len;
		ssize_t n;

		if (c->out_off < c->out_len) {
			p = c->out + c->out_off;
			len = c->out_len - c->out_off;
		} else if (c->out_body && c->out_body_off < c->out_body_len) {
			p = c->out_body + c->out_body_off;
			len = c->out_body_len - c->out_body_off;
		} else {
			return 1;
		}
		n = c->io->write(c, p, len);
		if (n == IO_AGAIN_WRITE || n == IO_AGAIN_READ)
			return 0;
		if (n <= 0)
			return -1;
		if (c->out_off < c->out_len)
			c->out_off += (size_t)n;
		else
			c->out_body_off += (size_t)n;
	}
}

static void
free_output(struct conn *c)
{
	free(c->out);
	free(c->out_body);
	c->out = c->out_body = NULL;
	c->out_len = c->out_off = c->out_body_len = c->out_body_off = 0;
}

/* ---- connections (loop thread) ---------------------------------------- */

static void
end_sink(struct conn *c)
{
	if (c->sinking) {
		c->sinking = 0;
		if (c->sink.free)
			c->sink.free(c->sink.ctx);
	}
}

static void
end_request(struct conn *c)
{
	end_sink(c);
	release(c);
	free(c->head_mem);
	free(c->head);
	free(c->body);
	c->head_mem = NULL;
	c->head = NULL;
	c->body = NULL;
	c->body_len = c->body_cap = 0;
	c->hook = NULL;
	c->chunked = 0;
	c->body_unread = 0;
	c->continue_sent = 0;
	memset(&c->req, 0, sizeof(c->req));
}

static void proxy_close(struct conn *c);

/* c leaves the shared accounting: its address, the list in accept order,
 * an eviction asked of its loop, the counts. */
static void
conn_unaccount(struct conn *c)
{
	struct http_server *s = c->s;
	struct loop *l = c->l;

	pthread_mutex_lock(&s->acc_mu);
	if (c->gprev)
		c->gprev->gnext = c->gnext;
	else
		s->gfirst = c->gnext;
	if (c->gnext)
		c->gnext->gprev = c->gprev;
	else
		s->glast = c->gprev;
	if (c->evict_pending) {
		struct conn **pp;
		for (pp = &l->evict_head; *pp; pp = &(*pp)->enext)
			if (*pp == c) {
				*pp = c->enext;
				break;
			}
		c->evict_pending = 0;
		atomic_fetch_sub(&l->nevict, 1);
	}
	c->ip->conns--;
	ip_put(s, c->ip);
	pthread_mutex_unlock(&s->acc_mu);
	atomic_fetch_sub(&l->nconns, 1);
	atomic_fetch_sub(&s->nconns, 1);
}

static void
conn_close(struct conn *c)
{
	struct loop *l = c->l;

	if (c->closed)
		return;
	if (c->px)
		proxy_close(c);
	if (c->routed) { /* a route's answer never taken (the server stops) */
		free(c->routed->head);
		if (c->routed->free)
			c->routed->free(c->routed->ctx);
		free(c->routed);
		c->routed = NULL;
	}
	c->closed = 1;
	atomic_store(&c->head_wait, 0);
	if (c->kicked) {
		c->kicked = 0;
		l->nkicked--;
	}
	end_request(c);
	free_output(c);
	if (c->registered)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->io->close(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->first = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->last = c->prev;
	conn_unaccount(c);
	close(c->fd);
	free(c->in);
	c->in = NULL;
	/* Freed after the current batch of events, which may name it. */
	c->qnext = l->graveyard;
	l->graveyard = c;
}

/* Answer with one best-effort write, then close: for clients that missed
 * a deadline, whose cooperation is not waited for. */
static void
conn_abort(struct conn *c, int status, const char *msg)
{
	if (status && build_error(c, status, msg) == 0)
		(void)flush(c);
	conn_close(c);
}

static void head_progress(struct conn *c);
static void body_progress(struct conn *c);
static void write_progress(struct conn *c);
static void proxy_start(struct conn *c, struct http_upstream *up);
static void not_routed(struct conn *c);

/* Start writing c->out; once written the connection goes on (keep-alive),
 * lingers or closes. */
static void
start_write(struct conn *c)
{
	atomic_store_explicit(&c->head_wait, 0, memory_order_relaxed);
	c->state = C_WRITE;
	c->deadline = now_ms() + c->s->write_ms;
	write_progress(c);
}

/* Answer an error the server found itself; the connection closes after. */
static void
fail(struct conn *c, int status, const char *msg)
{
	c->keep = 0;
	c->body_unread = 1; /* whatever follows is not read: linger */
	if (build_error(c, status, msg) < 0) {
		conn_close(c);
		return;
	}
	start_write(c);
}

static void
linger(struct conn *c)
{
	c->io->shutdown(c);
	c->state = C_LINGER;
	c->deadline = now_ms() + LINGER_MS;
	c->body_left = LINGER_BYTES;
	c->in_len = 0;
	want(c, EPOLLIN);
}

static void
next_request(struct conn *c)
{
	struct http_server *s = c->s;
	int unread = c->body_unread;

	free_output(c);
	end_request(c);
	atomic_fetch_add(&s->requests, 1);
	if (!c->keep || c->rd_eof) {
		/* Bytes of a body never read would turn the close into a
		 * reset that can destroy the response before the client
		 * reads it: read and drop them for a while first. */
		if (unread && !c->rd_eof)
			linger(c);
		else
			conn_close(c);
		return;
	}
	c->state = C_HEAD;
	atomic_store_explicit(&c->head_wait, 1, memory_order_relaxed);
	c->idle = 1;
	c->scan = 0;
	c->deadline = now_ms() + s->idle_ms;
	if (c->in_len == 0 && c->in_cap > 4096) { /* idle: give it back */
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	head_progress(c);
}

static void
write_progress(struct conn *c)
{
	int rc = flush(c);

	if (rc < 0) {
		conn_close(c);
		return;
	}
	if (rc == 0) {
		c->deadline = now_ms() + c->s->write_ms; /* progress made */
		want(c, EPOLLOUT);
		return;
	}
	if (c->state == C_WRITE)
		next_request(c);
	else /* the 100 Continue of C_BODY is out */
		want(c, EPOLLIN);
}

/* Read what is there into c->in (up to limit bytes in all).  Returns 1 on
 * new bytes, 0 none, -1 the client is gone. */
static int
conn_read(struct conn *c, size_t limit)
{
	size_t got = 0, room;

	c->read_wants_write = 0;
	while (got < READ_PER_WAKEUP && c->in_len < limit) {
		ssize_t n;
		if (c->in_len == c->in_cap) {
			size_t nc = c->in_cap ? c->in_cap * 2 : 1024;
			char *p;
			if (nc > limit)
				nc = limit;
			if ((p = realloc(c->in, nc)) == NULL)
				return -1;
			c->in = p;
			c->in_cap = nc;
		}
		room = c->in_cap - c->in_len;
		n = c->io->read(c, c->in + c->in_len, room);
		if (n == IO_AGAIN_READ)
			break;
		if (n == IO_AGAIN_WRITE) {
			c->read_wants_write = 1;
			break;
		}
		if (n == 0) {
			c->rd_eof = 1;
			break;
		}
		if (n < 0)
			return -1;
		c->in_len += (size_t)n;
		got += (size_t)n;
		/* Less than asked for: the socket is drained, and another
		 * read would only say so (a TLS layer, with bytes of its own
		 * buffered, must report them as readable). */
		if ((size_t)n < room)
			break;
	}
	return got > 0;
}

static void
consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

static const struct http_hook *
find_hook(const struct http_server *s, const char *method, const char *path)
{
	const struct http_hook *h;

	for (h = s->hooks; h && h->prefix; h++)
		if ((h->method == NULL || strcmp(h->method, method) == 0) &&
		    strncmp(path, h->prefix, strlen(h->prefix)) == 0)
			return h;
	return NULL;
}

static int
has_body(const struct conn *c)
{
	return c->chunked || c->head->content_length > 0;
}

/* The head is in (and the hook, if any, said buffer or sink): read the
 * body, or go to the handler at once. */
static void
begin_body(struct conn *c)
{
	struct http_server *s = c->s;
	uint64_t len;

	if (!has_body(c)) {
		c->body_unread = 0;
		if (c->sinking) {
			c->sink_len = c->sink_used = 0;
			c->sink_last = 1;
			dispatch(c, C_SINK, J_SINK);
		} else {
			c->req.body = "";
			dispatch(c, C_WORK, J_HANDLE);
		}
		return;
	}
	len = c->chunked ? c->body_max : (uint64_t)c->head->content_length;
	if (!c->sinking && !c->chunked && reserve(c, len) < 0) {
		fail(c, 503,
		    "too many bytes of request bodies in flight from this "
		    "address or in all; try again later");
		return;
	}
	c->state = C_BODY;
	c->deadline = now_ms() + s->body_ms + len * 1000 / s->body_min_rate;
	if (c->head->expect_continue && !c->continue_sent) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		c->continue_sent = 1;
		if ((c->out = strdup(cont)) == NULL) {
			conn_close(c);
			return;
		}
		c->out_len = sizeof(cont) - 1;
		c->out_off = 0;
		if (flush(c) < 0) {
			conn_close(c);
			return;
		}
		if (c->out_off == c->out_len)
			free_output(c);
	}
	body_progress(c);
}

/* A complete head of head_len bytes is at the front of c->in. */
static void
start_request(struct conn *c, size_t head_len)
{
	struct http_server *s = c->s;
	int rc;

	atomic_store_explicit(&c->head_wait, 0, memory_order_relaxed);
	c->head_mem = malloc(head_len + 1);
	c->head = malloc(sizeof(*c->head));
	if (c->head_mem == NULL || c->head == NULL) {
		conn_close(c);
		return;
	}
	memcpy(c->head_mem, c->in, head_len);
	c->head_mem[head_len] = '\0';
	consume(c, head_len);
	c->scan = 0;
	if ((rc = http_parse_head(c->head_mem, head_len, c->head)) < 0) {
		/* What follows cannot be framed: close after the answer. */
		free(c->head);
		c->head = NULL;
		fail(c, -rc, err_msg());
		return;
	}
	c->keep = c->head->keep_alive;
	c->chunked = c->head->chunked;
	c->body_left =
	    c->head->content_length > 0 ? (uint64_t)c->head->content_length : 0;
	c->req.method = c->head->method;
	c->req.path = c->head->path;
	c->req.body = "";
	c->req.body_len = 0;
	c->req.content_length = c->head->content_length;
	c->req.peer = c->peer;
	c->req.tls = s->tls != NULL;
	c->req.conn = c->head;
	c->body_unread = has_body(c);
	if (s->route) {
		struct http_upstream up;
		memset(&up, 0, sizeof(up));
		rc = s->route(s->ctx, &c->req, 0, &up);
		if (rc == 1) {
			proxy_start(c, &up);
			return;
		}
		if (rc < 0) { /* it would block: again from a worker */
			dispatch(c, C_ROUTE, J_ROUTE);
			return;
		}
	}
	not_routed(c);
}

/* The route did not take the request: hooks, body, handler. */
static void
not_routed(struct conn *c)
{
	struct http_server *s = c->s;

	c->hook = find_hook(s, c->head->method, c->head->path);
	c->body_max =
	    c->hook && c->hook->max_body ? c->hook->max_body : s->max_body;
	memset(&c->ch, 0, sizeof(c->ch));
	c->ch.max = c->body_max;
	if (!c->chunked && c->head->content_length >= 0 &&
	    (uint64_t)c->head->content_length > c->body_max) {
		char msg[96];
		snprintf(msg, sizeof(msg),
		    "request body larger than %llu bytes",
		    (unsigned long long)c->body_max);
		fail(c, 413, msg);
		return;
	}
	if (c->hook) {
		dispatch(c, C_HOOK, J_HOOK);
		return;
	}
	begin_body(c);
}

static void
head_progress(struct conn *c)
{
	struct http_server *s = c->s;
	ssize_t end;
	size_t skip = 0;

	/* RFC 9112 §2.2: empty lines before a request line are ignored. */
	while (skip + 1 < c->in_len && c->in[skip] == '\r' &&
	    c->in[skip + 1] == '\n')
		skip += 2;
	if (skip)
		consume(c, skip);
	if (c->in_len > 0 && c->idle) {
		c->idle = 0;
		c->deadline = now_ms() + s->head_ms;
	}
	end = http_head_end(c->in, c->in_len, &c->scan);
	if (end < 0) {
		fail(c, (int)-end, err_msg());
		return;
	}
	if (end > 0) {
		start_request(c, (size_t)end);
		return;
	}
	if (c->in_len >= s->max_head) {
		char msg[96];
		snprintf(msg, sizeof(msg), "request head larger than %zu bytes",
		    s->max_head);
		fail(c, 431, msg);
		return;
	}
	if (c->rd_eof) {
		conn_close(c);
		return;
	}
	want(c, c->read_wants_write ? EPOLLOUT : EPOLLIN);
}

static void
body_progress(struct conn *c)
{
	size_t data, used;
	int last;

	if (c->in_len > 0) {
		if (c->chunked) {
			ssize_t r = http_chunked_decode(&c->ch, c->in,
			    c->in_len, &data);
			if (r < 0) {
				fail(c, (int)-r, err_msg());
				return;
			}
			used = (size_t)r;
		} else {
			data = c->in_len < c->body_left ? c->in_len :
			                                  (size_t)c->body_left;
			used = data;
			c->body_left -= data;
		}
		last = c->chunked ? c->ch.done : c->body_left == 0;
		if (last)
			c->body_unread = 0;
		if (c->sinking) {
			if (data > 0 || last) {
				c->sink_len = data;
				c->sink_used = used;
				c->sink_last = last;
				dispatch(c, C_SINK, J_SINK);
				return;
			}
			consume(c, used);
		} else {
			if (c->body_len + data + 1 > c->body_cap) {
				size_t nc = (c->body_len + data + 1) * 2;
				char *p;
				if (!c->chunked &&
				    nc > (size_t)c->head->content_length + 1)
					nc =
					    (size_t)c->head->content_length + 1;
				if (c->chunked &&
				    reserve(c, nc - c->body_cap) < 0) {
					fail(c, 503,
					    "too many bytes of request bodies "
					    "in flight from this address or "
					    "in all; try again later");
					return;
				}
				if ((p = realloc(c->body, nc)) == NULL) {
					conn_close(c);
					return;
				}
				c->body = p;
				c->body_cap = nc;
			}
			memcpy(c->body + c->body_len, c->in, data);
			c->body_len += data;
			c->body[c->body_len] = '\0';
			consume(c, used);
			if (last) {
				c->req.body = c->body ? c->body : "";
				c->req.body_len = c->body_len;
				dispatch(c, C_WORK, J_HANDLE);
				return;
			}
		}
	}
	if (c->rd_eof) {
		conn_close(c);
		return;
	}
	want(c,
	    (c->read_wants_write || c->out_off < c->out_len ? EPOLLOUT : 0) |
	        EPOLLIN);
}

static void
linger_progress(struct conn *c)
{
	for (;;) {
		ssize_t n =
		    c->io->read(c, c->l->scratch, sizeof(c->l->scratch));
		if (n == IO_AGAIN_READ || n == IO_AGAIN_WRITE)
			return;
		if (n <= 0 || (uint64_t)n >= c->body_left) {
			conn_close(c);
			return;
		}
		c->body_left -= (uint64_t)n;
	}
}

/* ---- forwarding in the loop (http_upstream) ----------------------------
 * A forwarded request's bytes go through three bounded buffers: rq (to
 * the upstream: the head, then the body as it comes), rs (read from the
 * upstream, not yet looked at) and cb (to the client).  A side is read
 * only while the buffer it fills has room, so a slow client holds up the
 * upstream and a slow upstream the client, never memory. */

static void proxy_pump(struct conn *c);
static void proxy_fail(struct conn *c, int status, const char *msg);

static unsigned
up_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (unsigned)(k % UP_BUCKETS);
}

static struct uppool *
pool_get(struct loop *l, uint64_t key)
{
	struct uppool *p;
	unsigned b = up_hash(key);

	for (p = l->pools[b]; p; p = p->next)
		if (p->key == key)
			return p;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->key = key;
	p->next = l->pools[b];
	l->pools[b] = p;
	return p;
}

static void
pool_put(struct loop *l, struct uppool *p)
{
	struct uppool **pp;

	if (p->nopen > 0)
		return;
	for (pp = &l->pools[up_hash(p->key)]; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			free(p);
			return;
		}
}

/* Under s->grp_mu. */
static struct upgroup *
group_get(struct http_server *s, uint64_t group)
{
	struct upgroup *g;
	unsigned b = up_hash(group);

	for (g = s->groups[b]; g; g = g->next)
		if (g->group == group)
			return g;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->group = group;
	g->next = s->groups[b];
	s->groups[b] = g;
	return g;
}

static void
group_put(struct http_server *s, struct upgroup *g)
{
	struct upgroup **pp;

	if (g->busy > 0 || g->nwait > 0)
		return;
	for (pp = &s->groups[up_hash(g->group)]; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			free(g);
			return;
		}
}

static void
idle_unlink(struct upconn *u)
{
	struct uppool *p = u->pool;

	if (u->prev)
		u->prev->next = u->next;
	else
		p->idle = u->next;
	if (u->next)
		u->next->prev = u->prev;
	u->prev = u->next = NULL;
	p->nidle--;
	atomic_fetch_sub(&u->s->nup_idle, 1);
}

/* Close an upstream connection (idle or not); freed after the batch. */
static void
up_close(struct upconn *u)
{
	struct http_server *s = u->s;
	struct loop *l = u->l;

	if (u->closed)
		return;
	u->closed = 1;
	if (u->c == NULL)
		idle_unlink(u);
	u->c = NULL;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, u->fd, NULL);
	close(u->fd);
	u->fd = -1;
	u->pool->nopen--;
	pool_put(l, u->pool);
	atomic_fetch_sub(&s->nup, 1);
	u->gnext = l->up_graveyard;
	l->up_graveyard = u;
}

static void
up_bury(struct loop *l)
{
	while (l->up_graveyard) {
		struct upconn *u = l->up_graveyard;
		l->up_graveyard = u->gnext;
		free(u);
	}
}

/* Keep u for the next request to its upstream; at most max of the
 * group idle per pool (beyond: closed). */
static void
up_keep(struct upconn *u, unsigned max)
{
	struct uppool *p = u->pool;

	u->c = NULL;
	if (p->nidle >= max || atomic_load(&u->s->stopping)) {
		p->nidle++; /* up_close unlinks an idle one */
		atomic_fetch_add(&u->s->nup_idle, 1);
		u->prev = NULL;
		u->next = p->idle;
		if (p->idle)
			p->idle->prev = u;
		p->idle = u;
		up_close(u);
		return;
	}
	u->since = now_ms();
	u->prev = NULL;
	u->next = p->idle;
	if (p->idle)
		p->idle->prev = u;
	p->idle = u;
	p->nidle++;
	atomic_fetch_add(&u->s->nup_idle, 1);
}

/* Close idle connections kept too long (oldest at the tail). */
static void
up_sweep(struct loop *l, uint64_t now)
{
	for (unsigned b = 0; b < UP_BUCKETS; b++) {
		struct uppool *p, *pn;
		for (p = l->pools[b]; p; p = pn) {
			struct upconn *u, *un;
			pn = p->next;
			for (u = p->idle; u; u = un) {
				un = u->next;
				if (now >= u->since + UP_IDLE_MS)
					up_close(u); /* may free p: last */
			}
		}
	}
}

/* Loop l's upstream connections, its thread gone. */
static void
up_free_all(struct loop *l)
{
	for (unsigned b = 0; b < UP_BUCKETS; b++)
		while (l->pools[b] && l->pools[b]->idle)
			up_close(l->pools[b]->idle);
	up_bury(l);
	for (unsigned b = 0; b < UP_BUCKETS; b++)
		while (l->pools[b]) { /* none: every one was closed */
			struct uppool *p = l->pools[b];
			l->pools[b] = p->next;
			free(p);
		}
}

static void
groups_free_all(struct http_server *s)
{
	for (unsigned b = 0; b < UP_BUCKETS; b++)
		while (s->groups[b]) {
			struct upgroup *g = s->groups[b];
			s->groups[b] = g->next;
			free(g);
		}
}

/* ---- the descriptor budget ---- */

static int evict(struct loop *a);
static int evict_in(struct loop *a, int local_only);

/* Descriptors the server holds now, as the budget counts them. */
static unsigned
fds_in_use(struct http_server *s)
{
	return atomic_load(&s->nconns) + atomic_load(&s->nup) +
	    atomic_load(&s->nctx_fds);
}

/* Close loop l's idle upstream connection unused longest (another
 * loop's pools are its own).  Returns 0, or -1 when none is idle. */
static int
up_shed_idle(struct loop *l)
{
	struct upconn *oldest = NULL;

	for (unsigned b = 0; b < UP_BUCKETS; b++)
		for (struct uppool *p = l->pools[b]; p; p = p->next)
			for (struct upconn *u = p->idle; u; u = u->next)
				if (oldest == NULL || u->since < oldest->since)
					oldest = u;
	if (oldest == NULL)
		return -1;
	up_close(oldest); /* may free its pool */
	return 0;
}

/* Room for n more descriptors within the budget, made if need be by
 * closing loop l's idle upstream connections, then loop l's client
 * connections waiting for a request head, the longest waiting first
 * (another loop's would close later, and a burst would overshoot the
 * budget by every such eviction in flight).  Returns 0, or -1 when there
 * is no room. */
static int
fds_make_room(struct loop *l, unsigned n)
{
	struct http_server *s = l->s;

	while (fds_in_use(s) + n > s->max_fds)
		if (up_shed_idle(l) < 0 && evict_in(l, 1) < 0)
			return -1;
	return 0;
}

/* Out of descriptors, with no spare one to take and close a connection
 * with: the listener, which stays readable, is left alone until the
 * next sweep (accept_resume) rather than spun on. */
static void
accept_pause(struct loop *a)
{
	struct http_server *s = a->s;
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.data.ptr = &listen_mark;
	if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, s->lfd, &e) == 0)
		s->accept_paused = 1;
}

/* At loop l's sweep: the first loop, which accepts, takes its spare
 * descriptor again and listens again. */
static void
accept_resume(struct loop *l)
{
	struct http_server *s = l->s;
	struct epoll_event e;

	if (l != &s->loops[0])
		return;
	if (s->reserve_fd < 0)
		s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (!s->accept_paused)
		return;
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN;
	e.data.ptr = &listen_mark;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->lfd, &e) == 0)
		s->accept_paused = 0;
}

/* ---- buffers ---- */

static int
px_add(char **b, size_t *len, size_t *cap, const char *p, size_t n)
{
	if (*len + n > *cap) {
		size_t nc = *cap ? *cap : 1024;
		char *q;
		while (nc < *len + n)
			nc *= 2;
		if ((q = realloc(*b, nc)) == NULL)
			return -1;
		*b = q;
		*cap = nc;
	}
	memcpy(*b + *len, p, n);
	*len += n;
	return 0;
}

static int
cb_add(struct proxy *px, const char *p, size_t n)
{
	if (px->cb_off > 0 && px->cb_off == px->cb_len)
		px->cb_off = px->cb_len = 0;
	return px_add(&px->cb, &px->cb_len, &px->cb_cap, p, n);
}

static int
rq_add(struct proxy *px, const char *p, size_t n)
{
	if (px->rq_off > 0 && px->rq_off == px->rq_len)
		px->rq_off = px->rq_len = 0;
	return px_add(&px->rq, &px->rq_len, &px->rq_cap, p, n);
}

/* Data for the client, framed as a chunk when re-chunking. */
static int
cb_data(struct proxy *px, const char *p, size_t n)
{
	char size[24];

	if (n == 0)
		return 0;
	if (!px->rechunk)
		return cb_add(px, p, n);
	snprintf(size, sizeof(size), "%zx\r\n", n);
	return cb_add(px, size, strlen(size)) < 0 || cb_add(px, p, n) < 0 ||
	        cb_add(px, "\r\n", 2) < 0 ?
	    -1 :
	    0;
}

/* ---- upstream connections ---- */

/* Which waiter of g a slot released in loop l goes to (under grp_mu;
 * g has waiters): l's own first waiter (taken up at once, no wake-up of
 * another loop, which may wait milliseconds for a busy core), unless l
 * holds more of g's slots than another loop with a waiter by more than
 * a sixteenth of g's bound: that loop's first waiter then, so the loops
 * keep even shares of a busy group.  Only among the first GRANT_SCAN
 * waiters; once the group's first waiter has waited GRANT_FIFO_MS, it
 * goes first (FIFO within a loop, bounded across).  *prevp: the one
 * before it in the list (NULL: the first). */
static struct conn *
pick_waiter(struct upgroup *g, struct loop *l, struct conn **prevp)
{
	struct conn *w = g->wait_head, *prev = NULL, *mine = NULL,
	            *other = NULL, *mine_prev = NULL, *other_prev = NULL;
	int n = 0;

	*prevp = NULL;
	if (now_ms() >= w->px->wait_since + GRANT_FIFO_MS)
		return w;
	for (; w && n < GRANT_SCAN; prev = w, w = w->px->wnext, n++) {
		if (w->l == l) {
			if (mine == NULL) {
				mine = w;
				mine_prev = prev;
			}
		} else if (other == NULL ||
		    g->lbusy[w->l->idx] < g->lbusy[other->l->idx]) {
			other = w;
			other_prev = prev;
		}
	}
	if (mine &&
	    (other == NULL ||
	        g->lbusy[l->idx] <= g->lbusy[other->l->idx] + g->max / 16)) {
		*prevp = mine_prev;
		return mine;
	}
	if (other) {
		*prevp = other_prev;
		return other;
	}
	return g->wait_head;
}

static void
proxy_release_slot(struct conn *c)
{
	struct proxy *px = c->px;
	struct http_server *s = c->s;
	struct loop *l = c->l, *wl = NULL;
	struct upgroup *g = px->g;
	int slot = px->has_slot;

	if (g == NULL)
		return;
	px->has_slot = 0;
	px->waiting = 0;
	pthread_mutex_lock(&s->grp_mu);
	if (px->gs == GS_WAIT) { /* unlink from the wait list */
		struct conn **pp, *prev = NULL;
		for (pp = &g->wait_head; *pp;
		     prev = *pp, pp = &(*pp)->px->wnext)
			if (*pp == c) {
				*pp = px->wnext;
				if (g->wait_tail == c)
					g->wait_tail = prev;
				break;
			}
		g->nwait--;
		atomic_fetch_sub(&s->nwaiting, 1);
	} else if (px->gs == GS_READY) { /* given a slot, not taken up */
		struct conn **pp, *prev = NULL;
		for (pp = &l->ready_head; *pp;
		     prev = *pp, pp = &(*pp)->px->wnext)
			if (*pp == c) {
				*pp = px->wnext;
				if (l->ready_tail == c)
					l->ready_tail = prev;
				break;
			}
		atomic_fetch_sub(&l->nready, 1);
		slot = 1;
	}
	px->gs = GS_NONE;
	px->wnext = NULL;
	if (slot) {
		g->lbusy[l->idx]--;
		if (g->wait_head) {
			/* the slot goes to a waiter (pick_waiter), taken up
			 * by its loop after this batch (proxy_ready) */
			struct conn *prev, *w = pick_waiter(g, l, &prev);
			if (prev)
				prev->px->wnext = w->px->wnext;
			else
				g->wait_head = w->px->wnext;
			if (g->wait_tail == w)
				g->wait_tail = prev;
			g->nwait--;
			atomic_fetch_sub(&s->nwaiting, 1);
			w->px->gs = GS_READY;
			w->px->wnext = NULL;
			wl = w->l;
			g->lbusy[wl->idx]++;
			if (wl->ready_tail)
				wl->ready_tail->px->wnext = w;
			else
				wl->ready_head = w;
			wl->ready_tail = w;
			atomic_fetch_add(&wl->nready, 1);
		} else {
			g->busy--;
		}
	}
	px->g = NULL;
	group_put(s, g);
	pthread_mutex_unlock(&s->grp_mu);
	if (wl && wl != l)
		loop_wake(wl);
}

/* Put c's request on an upstream connection: a kept one of its pool,
 * else a new one.  Returns 0, or -1 (answered 502). */
static int
proxy_connect(struct conn *c, int fresh)
{
	struct http_server *s = c->s;
	struct loop *l = c->l;
	struct proxy *px = c->px;
	struct uppool *p;
	struct upconn *u;
	struct epoll_event e;
	int fd;

	/* A new connection is one more descriptor: within the budget, or
	 * 503 (looked at before the pool is taken: making room may close
	 * idle connections and free their pool). */
	for (p = l->pools[up_hash(px->up.key)]; p; p = p->next)
		if (p->key == px->up.key)
			break;
	if ((fresh || p == NULL || p->idle == NULL) &&
	    fds_make_room(l, 1) < 0) {
		proxy_fail(c, 503,
		    "gateway: out of file descriptors for a connection to "
		    "the upstream; try again later");
		return -1;
	}
	if ((p = pool_get(l, px->up.key)) == NULL) {
		proxy_fail(c, 500, "out of memory");
		return -1;
	}
	if (!fresh && p->idle) {
		u = p->idle;
		idle_unlink(u);
		u->c = c;
		u->can_write = 1;
		px->u = u;
		px->reused = 1;
		atomic_fetch_add(&s->up_reuses, 1);
		return 0;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		pool_put(l, p);
		proxy_fail(c, 500, "out of memory");
		return -1;
	}
	if ((fd = px->up.connect(px->up.ctx)) < 0) {
		char msg[160];
		free(u);
		pool_put(l, p);
		snprintf(msg, sizeof(msg), "gateway: upstream: %s%s",
		    strerror(-fd),
		    fd == -EMFILE || fd == -ENFILE ? "; try again later" : "");
		/* out of descriptors is the server's state, not the
		 * upstream's: 503 */
		proxy_fail(c, fd == -EMFILE || fd == -ENFILE ? 503 : 502, msg);
		return -1;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	u->s = s;
	u->l = l;
	u->pool = p;
	u->fd = fd;
	u->c = c;
	u->connecting = 1;
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	e.data.ptr = (void *)((uintptr_t)u | 1);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		close(fd);
		free(u);
		pool_put(l, p);
		proxy_fail(c, 502,
		    "gateway: upstream: cannot watch its socket");
		return -1;
	}
	p->nopen++;
	atomic_fetch_add(&s->nup, 1);
	atomic_fetch_add(&s->up_connects, 1);
	px->u = u;
	px->reused = 0;
	return 0;
}

/* The request head with its framing, into rq (again, for a retry). */
static int
proxy_head(struct conn *c)
{
	struct proxy *px = c->px;
	char fr[64];

	px->rq_len = px->rq_off = 0;
	if (px->up.upgrade && !has_body(c))
		fr[0] = '\0';
	else if (c->chunked)
		snprintf(fr, sizeof(fr), "Transfer-Encoding: chunked\r\n");
	else
		snprintf(fr, sizeof(fr), "Content-Length: %llu\r\n",
		    (unsigned long long)(c->head->content_length > 0 ?
		            c->head->content_length :
		            0));
	return rq_add(px, px->up.head, strlen(px->up.head)) < 0 ||
	        rq_add(px, fr, strlen(fr)) < 0 || rq_add(px, "\r\n", 2) < 0 ?
	    -1 :
	    0;
}

/* Given a slot: a connection, and on. */
static void
proxy_go(struct conn *c)
{
	if (proxy_connect(c, 0) < 0)
		return;
	proxy_pump(c);
}

/* Loop l's requests given a slot by another's release (of any loop). */
static void
proxy_ready(struct loop *l)
{
	struct http_server *s = l->s;

	while (atomic_load(&l->nready) > 0) {
		struct conn *c;
		pthread_mutex_lock(&s->grp_mu);
		if ((c = l->ready_head) != NULL) {
			l->ready_head = c->px->wnext;
			if (l->ready_head == NULL)
				l->ready_tail = NULL;
			c->px->wnext = NULL;
			c->px->gs = GS_NONE;
			atomic_fetch_sub(&l->nready, 1);
		}
		pthread_mutex_unlock(&s->grp_mu);
		if (c == NULL)
			return;
		c->px->waiting = 0;
		c->px->has_slot = 1;
		proxy_go(c);
	}
}

static void
proxy_start(struct conn *c, struct http_upstream *up)
{
	struct http_server *s = c->s;
	struct proxy *px = calloc(1, sizeof(*px));
	struct upgroup *g;

	if (px == NULL) {
		free(up->head);
		if (up->free)
			up->free(up->ctx);
		conn_close(c);
		return;
	}
	px->up = *up;
	px->ctx_fds = up->fds;
	atomic_fetch_add(&s->nctx_fds, px->ctx_fds);
	/* a body is framed and forwarded as one; never spliced */
	if (has_body(c))
		px->up.upgrade = 0;
	c->px = px;
	c->state = C_PROXY;
	atomic_fetch_add(&s->nforwarding, 1);
	if (px->up.timeout_ms == 0)
		px->up.timeout_ms = 60000;
	if (px->up.idle_ms == 0)
		px->up.idle_ms = 300000;
	if (px->up.max_per_group == 0)
		px->up.max_per_group = UP_MAX_DEFAULT;
	c->deadline = now_ms() + px->up.timeout_ms;
	px->body_chunked = c->chunked;
	px->body_left =
	    c->head->content_length > 0 ? (uint64_t)c->head->content_length : 0;
	px->body_done = !has_body(c);
	px->rp_keep = !px->body_done && http_method_idempotent(c->req.method);
	px->bch.max = UINT64_MAX / 2;
	px->ch.max = UINT64_MAX / 2;
	px->c_writable = 1;
	px->c_readable = c->in_len > 0;
	if (px->up.head == NULL || proxy_head(c) < 0) {
		proxy_fail(c, 500, "out of memory");
		return;
	}
	if (c->head->expect_continue && !px->body_done) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (cb_add(px, cont, sizeof(cont) - 1) < 0) {
			proxy_fail(c, 500, "out of memory");
			return;
		}
	}
	pthread_mutex_lock(&s->grp_mu);
	if ((g = group_get(s, px->up.group)) == NULL) {
		pthread_mutex_unlock(&s->grp_mu);
		proxy_fail(c, 500, "out of memory");
		return;
	}
	px->g = g;
	g->max = px->up.max_per_group;
	if (g->busy < g->max) {
		g->busy++;
		g->lbusy[c->l->idx]++;
		pthread_mutex_unlock(&s->grp_mu);
		px->has_slot = 1;
		proxy_go(c);
		return;
	}
	if (g->nwait >= s->max_waiting) {
		pthread_mutex_unlock(&s->grp_mu);
		proxy_fail(c, 503,
		    "gateway: too many requests waiting for this service; "
		    "try again later");
		return;
	}
	px->gs = GS_WAIT;
	px->wnext = NULL;
	px->wait_since = now_ms();
	if (g->wait_tail)
		g->wait_tail->px->wnext = c;
	else
		g->wait_head = c;
	g->wait_tail = c;
	g->nwait++;
	atomic_fetch_add(&s->nwaiting, 1);
	pthread_mutex_unlock(&s->grp_mu);
	px->waiting = 1;
	want(c, 0);
}

/* The exchange is over: the upstream connection kept or closed, the
 * slot given on, done called, the state freed. */
static void
proxy_end(struct conn *c, int keep_upstream, int status, int by_server)
{
	struct proxy *px = c->px;
	struct http_server *s = c->s;

	if (px->u) {
		if (keep_upstream)
			up_keep(px->u, px->up.max_per_group);
		else
			up_close(px->u);
		px->u = NULL;
	}
	proxy_release_slot(c);
	if (px->up.done)
		px->up.done(px->up.ctx, status, by_server, px->out_bytes,
		    px->in_bytes);
	if (px->up.free)
		px->up.free(px->up.ctx);
	atomic_fetch_sub(&s->nctx_fds, px->ctx_fds);
	free(px->up.head);
	free(px->rp);
	free(px->rq);
	free(px->rs);
	free(px->cb);
	free(px);
	c->px = NULL;
	atomic_fetch_sub(&s->nforwarding, 1);
}

/* The connection is closing under a forwarded request. */
static void
proxy_close(struct conn *c)
{
	struct proxy *px = c->px;

	proxy_end(c, 0, px->answered ? px->status : 0, 0);
}

/* The server answers itself (nothing was sent yet), or closes. */
static void
proxy_fail(struct conn *c, int status, const char *msg)
{
	struct proxy *px = c->px;
	int body_done = px->body_done;

	if (px->answered) {
		conn_close(c);
		return;
	}
	proxy_end(c, 0, status, 1);
	c->state = C_WRITE;
	c->body_unread = !body_done;
	if (!body_done)
		c->keep = 0;
	if (build_error(c, status, msg) < 0) {
		conn_close(c);
		return;
	}
	start_write(c);
}

/* From the sweep: a request waiting for its answer (or for a
 * connection) longer than a sweep has its client watched for a close,
 * which is not done at once for every request (an epoll_ctl each). */
static void
proxy_watch(struct conn *c)
{
	struct proxy *px = c->px;

	if (px->upgraded || c->armed || c->rd_eof ||
	    !(px->waiting || (px->body_done && !px->answered)))
		return;
	want(c, EPOLLRDHUP);
}

static void
proxy_timeout(struct conn *c)
{
	struct proxy *px = c->px;

	if (px->upgraded || px->answered) {
		conn_close(c);
		return;
	}
	proxy_fail(c, 504,
	    px->waiting ? "gateway: no connection to the upstream free "
	                  "in time (too many requests to this tenant's "
	                  "services at once)" :
	                  "gateway: the upstream did not answer in time");
}

/* The upstream connection failed or closed before the answer was
 * complete. */
static void
proxy_up_failed(struct conn *c, const char *why)
{
	struct proxy *px = c->px;
	char msg[160];

	/* A kept connection the upstream closed meanwhile: once more on a
	 * new one, but only a request that is safe to repeat (RFC 9110
	 * §9.2.2: the upstream may have acted on it before it closed), when
	 * no byte of the answer came and all of the request's body taken so
	 * far is kept to send again (rp, up to PX_BUF).  A POST or PATCH
	 * gets 502, never a second execution. */
	if (px->reused && !px->head_done && px->rs_len == 0 && !px->up_spoke &&
	    (!px->body_started || px->rp_keep) &&
	    http_method_idempotent(c->req.method) && px->tries++ == 0) {
		up_close(px->u);
		px->u = NULL;
		px->up_eof = 0;
		px->rs_len = px->rs_scan = 0;
		if (proxy_head(c) < 0 ||
		    (px->rp_len > 0 && rq_add(px, px->rp, px->rp_len) < 0)) {
			proxy_fail(c, 500, "out of memory");
			return;
		}
		if (proxy_connect(c, 1) == 0)
			proxy_pump(c);
		return;
	}
	snprintf(msg, sizeof(msg), "gateway: upstream: %s", why);
	proxy_fail(c, 502, msg);
}

static void
up_event(struct upconn *u, uint32_t ev)
{
	struct conn *c = u->c;

	if (u->closed)
		return;
	if (c == NULL) { /* idle: closed by the upstream, or talking? */
		char b;
		ssize_t n = recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (!(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
			up_close(u);
		return;
	}
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		u->can_read = 1;
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		u->hup = 1;
	if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		u->can_write = 1;
	if (u->connecting && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e != 0) {
			proxy_up_failed(c, strerror(e));
			return;
		}
		u->connecting = 0;
	}
	if (!c->closed && c->px)
		proxy_pump(c);
}

static void
proxy_event(struct conn *c, uint32_t ev)
{
	struct proxy *px = c->px;

	/* The client gone while its answer is awaited (proxy_watch): its
	 * request is dropped, its connection to the upstream closed. */
	if ((ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !px->upgraded &&
	    (px->waiting || (px->body_done && !px->answered))) {
		conn_close(c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		px->c_readable = 1;
	if (ev & (EPOLLOUT | EPOLLERR))
		px->c_writable = 1;
	if (c->read_wants_write && (ev & EPOLLOUT))
		px->c_readable = 1;
	if (px->waiting) /* taken up when given a connection */
		return;
	proxy_pump(c);
}

/* ---- the response head ---- */

/* Is field k one the proxy writes itself or that is hop-by-hop (RFC 9110
 * §7.6.1), or named in the upstream's Connection field conn? */
static int
hop_field(const char *k, const char *conn)
{
	static const char *const hop[] = { "connection", "keep-alive",
		"proxy-connection", "te", "trailer", "transfer-encoding",
		"upgrade", "content-length", "date", NULL };
	size_t kl = strlen(k);

	for (int i = 0; hop[i]; i++)
		if (strcasecmp(k, hop[i]) == 0)
			return 1;
	while (conn && *conn) {
		size_t n;
		while (*conn == ' ' || *conn == ',' || *conn == '\t')
			conn++;
		n = strcspn(conn, ", \t");
		if (n == kl && strncasecmp(conn, k, n) == 0)
			return 1;
		conn += n;
	}
	return 0;
}

/* A complete response head of len bytes is at the front of rs: parse it
 * and write the client's.  Returns 0, 1 (a 1xx skipped: look again), or
 * -1 (answered or closed). */
static int
proxy_response_head(struct conn *c, size_t len)
{
	struct proxy *px = c->px;
	struct http_status_head *h = malloc(sizeof(*h));
	static __thread char date[64];
	static __thread time_t date_t;
	char line[256];
	const char *conn_f, *upg = NULL;
	struct tm tm;
	time_t t = time(NULL);
	int rc = -1, no_body;
	size_t i;

	if (h == NULL) {
		proxy_fail(c, 500, "out of memory");
		return -1;
	}
	if (http_parse_status(px->rs, len, h) < 0) {
		char msg[200];
		snprintf(msg, sizeof(msg), "gateway: upstream: %s", err_msg());
		free(h);
		proxy_fail(c, 502, msg);
		return -1;
	}
	if (h->status < 200 && h->status != 101) {
		/* 100 Continue, 103 Early Hints: not passed on */
		memmove(px->rs, px->rs + len, px->rs_len - len);
		px->rs_len -= len;
		px->rs_scan = 0;
		free(h);
		return 1;
	}
	conn_f = NULL;
	for (i = 0; i < h->nfields; i++)
		if (strcasecmp(h->fields[i].name, "Connection") == 0)
			conn_f = h->fields[i].value;
		else if (strcasecmp(h->fields[i].name, "Upgrade") == 0)
			upg = h->fields[i].value;
	if (h->status == 101 && (!px->up.upgrade || !h->upgrade || !upg)) {
		free(h);
		proxy_fail(c, 502,
		    "gateway: upstream: 101 Switching Protocols to a request "
		    "that did not ask for it (or without Upgrade)");
		return -1;
	}
	px->status = h->status;
	px->up_keep = h->keep_alive;
	no_body = is_head_request(c) || h->status == 204 || h->status == 304 ||
	    h->status == 101;
	if (no_body)
		px->mode = PX_NONE;
	else if (h->chunked)
		px->mode = PX_CHUNKED;
	else if (h->has_te || h->content_length < 0)
		px->mode = PX_CLOSE;
	else
		px->mode = PX_LEN;
	px->resp_left = h->content_length > 0 ? (uint64_t)h->content_length : 0;
	if (px->mode == PX_CLOSE)
		px->up_keep = 0;
	if (atomic_load(&c->s->stopping))
		c->keep = 0;
	px->rechunk = (px->mode == PX_CHUNKED || px->mode == PX_CLOSE) &&
	    c->head->minor >= 1;
	if ((px->mode == PX_CHUNKED || px->mode == PX_CLOSE) && !px->rechunk)
		c->keep = 0; /* an HTTP/1.0 client: the close frames it */
	if (h->status == 101)
		c->keep = 0;
	if (t != date_t) { /* once a second */
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		date_t = t;
	}
	snprintf(line, sizeof(line), "HTTP/1.1 %d %.80s\r\nDate: %s\r\n",
	    h->status, h->reason[0] ? h->reason : reason(h->status), date);
	if (cb_add(px, line, strlen(line)) < 0)
		goto oom;
	for (i = 0; i < h->nfields; i++) {
		const char *k = h->fields[i].name, *v = h->fields[i].value;
		if (hop_field(k, conn_f))
			continue;
		if (cb_add(px, k, strlen(k)) < 0 || cb_add(px, ": ", 2) < 0 ||
		    cb_add(px, v, strlen(v)) < 0 || cb_add(px, "\r\n", 2) < 0)
			goto oom;
	}
	if (h->status == 101)
		snprintf(line, sizeof(line),
		    "Connection: Upgrade\r\nUpgrade: %.100s\r\n", upg);
	else if (px->mode == PX_LEN ||
	    (px->mode == PX_NONE && h->content_length >= 0 && h->status != 204))
		snprintf(line, sizeof(line), "Content-Length: %lld\r\n",
		    (long long)h->content_length);
	else if (px->rechunk)
		snprintf(line, sizeof(line), "Transfer-Encoding: chunked\r\n");
	else
		line[0] = '\0';
	if (cb_add(px, line, strlen(line)) < 0)
		goto oom;
	if (h->status != 101 && !c->keep)
		snprintf(line, sizeof(line), "Connection: close\r\n\r\n");
	else if (h->status != 101 && c->head->minor == 0)
		snprintf(line, sizeof(line), "Connection: keep-alive\r\n\r\n");
	else
		snprintf(line, sizeof(line), "\r\n");
	if (cb_add(px, line, strlen(line)) < 0)
		goto oom;
	memmove(px->rs, px->rs + len, px->rs_len - len);
	px->rs_len -= len;
	px->head_done = px->answered = 1;
	if (h->status == 101) {
		px->upgraded = 1;
		atomic_fetch_add(&c->s->upgrades, 1);
		c->deadline = now_ms() + px->up.idle_ms;
	}
	/* Content-Length: 0 is complete at its head too */
	if ((px->mode == PX_NONE ||
	        (px->mode == PX_LEN && px->resp_left == 0)) &&
	    !px->upgraded)
		px->resp_done = 1;
	rc = 0;
	free(h);
	return rc;
oom:
	free(h);
	proxy_fail(c, 500, "out of memory");
	return -1;
}

/* Body bytes at the front of rs into cb, as the framing says.  Returns
 * 0, or -1 (closed). */
static int
proxy_response_body(struct conn *c)
{
	struct proxy *px = c->px;
	size_t data = 0, used = 0;

	if (px->rs_len == 0)
		return 0;
	if (px->upgraded || px->mode == PX_CLOSE) {
		data = used = px->rs_len;
	} else if (px->mode == PX_LEN) {
		data = used = px->rs_len < px->resp_left ?
		    px->rs_len :
		    (size_t)px->resp_left;
		px->resp_left -= data;
		if (px->resp_left == 0)
			px->resp_done = 1;
	} else if (px->mode == PX_CHUNKED) {
		ssize_t r =
		    http_chunked_decode(&px->ch, px->rs, px->rs_len, &data);
		if (r < 0) {
			conn_close(c); /* answered already: cut */
			return -1;
		}
		used = (size_t)r;
		if (px->ch.done)
			px->resp_done = 1;
	} else { /* PX_NONE: bytes after a bodiless answer */
		px->up_keep = 0;
		px->rs_len = 0;
		return 0;
	}
	if ((px->upgraded ? cb_add(px, px->rs, data) :
	                    cb_data(px, px->rs, data)) < 0) {
		conn_close(c);
		return -1;
	}
	memmove(px->rs, px->rs + used, px->rs_len - used);
	px->rs_len -= used;
	if (px->resp_done && px->rs_len > 0)
		px->up_keep = 0; /* more than the answer: not reused */
	return 0;
}

/* Body bytes (framed) into rq, and into rp while it is kept: on a
 * kept connection, before any retry, up to PX_BUF bytes. */
static int
rq_body_add(struct proxy *px, const char *p, size_t n)
{
	if (px->rp_keep &&
	    (px->rp_len + n > PX_BUF || !px->reused || px->tries > 0)) {
		px->rp_keep = 0; /* not to be sent again */
		free(px->rp);
		px->rp = NULL;
		px->rp_len = px->rp_cap = 0;
	}
	if (px->rp_keep && px_add(&px->rp, &px->rp_len, &px->rp_cap, p, n) < 0)
		return -1;
	return rq_add(px, p, n);
}

/* Request body bytes at the front of c->in into rq.  Returns 1 when
 * some moved, 0 none, -1 out of memory, or minus the status to answer
 * (a malformed chunked body). */
static int
proxy_request_body(struct conn *c)
{
	struct proxy *px = c->px;
	size_t data, used;

	if (c->in_len == 0)
		return 0;
	if (px->upgraded) {
		px->in_bytes += c->in_len;
		if (rq_add(px, c->in, c->in_len) < 0)
			return -1;
		c->in_len = 0;
		return 1;
	}
	if (px->body_done)
		return 0;
	if (px->body_chunked) {
		ssize_t r =
		    http_chunked_decode(&px->bch, c->in, c->in_len, &data);
		if (r < 0)
			return (int)r;
		used = (size_t)r;
		if (data > 0) {
			char size[24];
			snprintf(size, sizeof(size), "%zx\r\n", data);
			if (rq_body_add(px, size, strlen(size)) < 0 ||
			    rq_body_add(px, c->in, data) < 0 ||
			    rq_body_add(px, "\r\n", 2) < 0)
				return -1;
		}
		if (px->bch.done) {
			px->body_done = 1;
			if (rq_body_add(px, "0\r\n\r\n", 5) < 0)
				return -1;
		}
	} else {
		data = used = c->in_len < px->body_left ? c->in_len :
		                                          (size_t)px->body_left;
		if (rq_body_add(px, c->in, data) < 0)
			return -1;
		px->body_left -= data;
		if (px->body_left == 0)
			px->body_done = 1;
	}
	px->in_bytes += data;
	if (used > 0)
		px->body_started = 1;
	consume(c, used);
	if (px->body_done)
		c->body_unread = 0;
	return used > 0;
}

/* Move every byte that can move now; then wait for what is needed. */
static void
proxy_pump(struct conn *c)
{
	struct proxy *px = c->px;
	struct upconn *u;
	int progress, moved = 0;
	uint32_t ev;

	do {
		progress = 0;
		u = px->u;
		/* client -> rq */
		if ((px->upgraded || (!px->body_done && !px->resp_done)) &&
		    px->rq_len - px->rq_off < PX_BUF) {
			if (c->in_len == 0 && px->c_readable && !c->rd_eof) {
				int r = conn_read(c, READ_CHUNK);
				if (r < 0) {
					conn_close(c);
					return;
				}
				if (c->in_len < READ_CHUNK)
					px->c_readable = 0;
			}
			if (c->in_len > 0) {
				int r = proxy_request_body(c);
				if (r < 0) {
					if (r == -1 || px->answered) {
						conn_close(c);
						return;
					}
					proxy_fail(c, -r, err_msg());
					return;
				}
				if (r > 0)
					progress = 1;
			}
			if (c->rd_eof && !px->body_done && !px->upgraded) {
				conn_close(c); /* the body will not come */
				return;
			}
		}
		/* rq -> upstream */
		if (u && !u->connecting && u->can_write &&
		    px->rq_off < px->rq_len) {
			ssize_t n;
			do
				n = send(u->fd, px->rq + px->rq_off,
				    px->rq_len - px->rq_off, MSG_NOSIGNAL);
			while (n < 0 && errno == EINTR);
			if (n > 0) {
				px->rq_off += (size_t)n;
				progress = 1;
			} else if (n < 0 &&
			    (errno == EAGAIN || errno == EWOULDBLOCK)) {
				u->can_write = 0;
			} else {
				proxy_up_failed(c, strerror(errno));
				return;
			}
		}
		/* an upgraded client gone: the upstream is told once its
		 * bytes are out */
		if (px->upgraded && c->rd_eof && c->in_len == 0 && u &&
		    px->rq_off == px->rq_len) {
			conn_close(c);
			return;
		}
		/* upstream -> rs */
		if (u && !u->connecting && u->can_read && !px->up_eof &&
		    !px->resp_done && px->cb_len - px->cb_off < PX_BUF &&
		    (px->rs_len < px->rs_cap || px->rs_cap < PX_HEAD_MAX)) {
			ssize_t n;
			size_t room;
			if (px->rs_len == px->rs_cap) {
				/* 16 KiB, more only for a long head */
				size_t nc = px->rs_cap ? px->rs_cap * 2 : 16384;
				char *p = realloc(px->rs, nc);
				if (p == NULL) {
					proxy_fail(c, 500, "out of memory");
					return;
				}
				px->rs = p;
				px->rs_cap = nc;
			}
			room = px->rs_cap - px->rs_len;
			do
				n = recv(u->fd, px->rs + px->rs_len, room, 0);
			while (n < 0 && errno == EINTR);
			if (n > 0) {
				px->rs_len += (size_t)n;
				px->up_spoke = 1;
				progress = 1;
				/* less than room: drained (its end, when it
				 * came with the bytes, needs one more read) */
				if ((size_t)n < room && !u->hup)
					u->can_read = 0;
			} else if (n == 0) {
				px->up_eof = 1;
				progress = 1;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				u->can_read = 0;
			} else if (!px->head_done) {
				proxy_up_failed(c, strerror(errno));
				return;
			} else {
				px->up_eof = 1; /* a reset after the answer */
				px->up_keep = 0;
				progress = 1;
			}
		}
		/* rs -> cb */
		while (!px->head_done && px->rs_len > 0) {
			ssize_t end =
			    http_head_end(px->rs, px->rs_len, &px->rs_scan);
			int r;
			if (end < 0 ||
			    (end == 0 && px->rs_len >= PX_HEAD_MAX)) {
				proxy_fail(c, 502,
				    "gateway: upstream: malformed or too "
				    "large response head");
				return;
			}
			if (end == 0)
				break;
			if ((r = proxy_response_head(c, (size_t)end)) < 0)
				return;
			progress = 1;
		}
		if (px->head_done && !px->resp_done && px->rs_len > 0 &&
		    px->cb_len - px->cb_off < PX_BUF) {
			if (proxy_response_body(c) < 0)
				return;
			progress = 1;
		}
		if (px->up_eof && px->rs_len == 0 && !px->resp_done) {
			if (!px->head_done) {
				proxy_up_failed(c, "closed before answering");
				return;
			}
			if (px->mode == PX_CLOSE) {
				px->resp_done = 1;
			} else if (!px->upgraded) {
				conn_close(c); /* cut short: so is the client */
				return;
			}
		}
		if (px->resp_done && px->rechunk && px->mode != PX_NONE) {
			/* the last chunk: once */
			if (cb_add(px, "0\r\n\r\n", 5) < 0) {
				conn_close(c);
				return;
			}
			px->rechunk = 0;
			progress = 1;
		}
		/* cb -> client */
		if (px->c_writable && px->cb_off < px->cb_len) {
			ssize_t n = c->io->write(c, px->cb + px->cb_off,
			    px->cb_len - px->cb_off);
			if (n > 0) {
				px->cb_off += (size_t)n;
				px->out_bytes += (uint64_t)n;
				progress = 1;
				if (px->cb_off == px->cb_len)
					px->cb_off = px->cb_len = 0;
			} else if (n == IO_AGAIN_WRITE || n == IO_AGAIN_READ) {
				px->c_writable = 0;
			} else {
				conn_close(c);
				return;
			}
		}
		/* an upgraded upstream gone: the client is told once its
		 * bytes are out */
		if (px->upgraded && px->up_eof && px->rs_len == 0 &&
		    px->cb_off == px->cb_len) {
			conn_close(c);
			return;
		}
		moved |= progress;
	} while (progress);
	if (px->resp_done && px->cb_off == px->cb_len && !px->upgraded) {
		/* answered: the next request, or a close */
		int keep_up = px->up_keep && px->body_done &&
		    px->rq_off == px->rq_len && px->rs_len == 0 && !px->up_eof;
		if (!px->body_done)
			c->keep = 0;
		proxy_end(c, keep_up, px->status, 0);
		c->state = C_WRITE;
		next_request(c);
		return;
	}
	if (moved)
		c->deadline = now_ms() +
		    (px->upgraded ? px->up.idle_ms : px->up.timeout_ms);
	ev = 0;
	if (px->cb_off < px->cb_len && !px->c_writable)
		ev |= EPOLLOUT;
	if ((px->upgraded || !px->body_done) && !px->c_readable &&
	    c->in_len == 0 && !c->rd_eof && px->rq_len - px->rq_off < PX_BUF)
		ev |= c->read_wants_write ? EPOLLOUT : EPOLLIN;
	if (ev)
		want(c, ev); /* else: left as it is (one wake-up at most) */
}

static void
conn_event(struct conn *c, uint32_t ev)
{
	struct http_server *s = c->s;
	int r;

	if (c->closed || c->busy) /* a worker's: re-armed when it is back */
		return;
	c->armed = 0; /* EPOLLONESHOT */
	switch (c->state) {
	case C_HEAD:
		r = conn_read(c, s->max_head);
		if (r < 0 || (ev & EPOLLERR)) {
			conn_close(c);
			return;
		}
		head_progress(c);
		return;
	case C_BODY:
		if ((ev & EPOLLOUT) && c->out_off < c->out_len) {
			int w = flush(c);
			if (w < 0) {
				conn_close(c);
				return;
			}
			if (w == 1)
				free_output(c);
		}
		if (conn_read(c, READ_CHUNK) < 0 || (ev & EPOLLERR)) {
			conn_close(c);
			return;
		}
		body_progress(c);
		return;
	case C_WRITE:
		write_progress(c);
		return;
	case C_LINGER:
		linger_progress(c);
		return;
	case C_PROXY:
		proxy_event(c, ev);
		return;
	default:
		return; /* a worker's or a stream's: not registered */
	}
}

/* A worker or a stream thread gave c back. */
static void
conn_returned(struct conn *c)
{
	atomic_store(&c->handoff, H_WORKER);
	c->busy = 0;
	if (c->job == J_ROUTE) {
		struct http_upstream *up = c->routed;
		c->routed = NULL;
		if (c->route_rc == 1 && up) {
			proxy_start(c, up);
			free(up);
		} else if (up == NULL) {
			conn_close(c); /* out of memory */
		} else {
			free(up);
			not_routed(c);
		}
		return;
	}
	if (c->job == J_SINK) { /* the sink took a piece of c->in */
		consume(c, c->sink_used);
		c->sink_used = c->sink_len = 0;
	}
	switch (c->state) {
	case C_BODY:
		if (c->job == J_SINK)
			body_progress(c);
		else /* the hook said buffer or sink */
			begin_body(c);
		return;
	case C_WRITE:
		start_write(c);
		return;
	case C_HEAD: /* given back after an event came (H_PENDING) */
		head_progress(c);
		return;
	case C_STREAM_DONE:
	default:
		conn_close(c);
		return;
	}
}

/* Is c the loop's?  Takes it back from a worker that gave it back (H_BACK)
 * without the done queue. */
static int
claim(struct conn *c)
{
	int back = H_BACK;

	if (c->busy &&
	    atomic_compare_exchange_strong(&c->handoff, &back, H_WORKER))
		c->busy = 0;
	return !c->busy;
}

/* Make room at the global cap: close the connection that has waited
 * longest for a request head (idle keep-alive or slow) of any loop, the
 * first in accept order: one of loop a's at once, another loop's by that
 * loop (asked and woken: the cap is then over by one for a moment).
 * Returns 0 if one was closed or is being closed. */
static int
evict_in(struct loop *a, int local_only)
{
	struct http_server *s = a->s;
	struct conn *c, *mine = NULL;
	struct loop *other = NULL;

	pthread_mutex_lock(&s->acc_mu);
	for (c = s->gfirst; c; c = c->gnext) {
		if (c->evict_pending ||
		    !atomic_load_explicit(&c->head_wait, memory_order_relaxed))
			continue;
		if (c->l == a) {
			if (!c->fresh && claim(c) && c->state == C_HEAD) {
				mine = c;
				break;
			}
			continue;
		}
		if (local_only)
			continue;
		c->evict_pending = 1;
		c->enext = c->l->evict_head;
		c->l->evict_head = c;
		atomic_fetch_add(&c->l->nevict, 1);
		other = c->l;
		break;
	}
	pthread_mutex_unlock(&s->acc_mu);
	if (mine) {
		atomic_fetch_add(&s->evicted, 1);
		conn_close(mine);
		return 0;
	}
	if (other) {
		loop_wake(other);
		return 0;
	}
	return -1;
}

static int
evict(struct loop *a)
{
	return evict_in(a, 0);
}

/* Evictions another loop's accept asked of loop l (see evict): each
 * still waiting for a head is closed. */
static void
take_evictions(struct loop *l)
{
	struct http_server *s = l->s;
	struct conn *c, *next;

	if (atomic_load(&l->nevict) == 0)
		return;
	pthread_mutex_lock(&s->acc_mu);
	c = l->evict_head;
	l->evict_head = NULL;
	for (next = c; next; next = next->enext)
		next->evict_pending = 0;
	atomic_store(&l->nevict, 0);
	pthread_mutex_unlock(&s->acc_mu);
	for (; c; c = next) {
		next = c->enext;
		if (!c->closed && !c->fresh && claim(c) && c->state == C_HEAD) {
			atomic_fetch_add(&s->evicted, 1);
			conn_close(c);
		}
	}
}

static void
refuse(struct http_server *s, int fd, const char *why)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf),
	    "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n{\"error\":\"%s\"}",
	    strlen(why) + 12, why);
	(void)!send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	atomic_fetch_add(&s->refused, 1);
}

/* The loop for a new connection: the one owning the fewest (ties taken
 * in turn).  The accepting loop's thread only. */
static struct loop *
pick_loop(struct http_server *s)
{
	struct loop *best = &s->loops[s->next_loop++ % s->nloops];

	for (unsigned i = 0; i < s->nloops; i++)
		if (atomic_load(&s->loops[i].nconns) <
		    atomic_load(&best->nconns))
			best = &s->loops[i];
	return best;
}

/* A new connection joins its loop's list and epoll (its loop's thread). */
static void
conn_adopt(struct conn *c)
{
	struct loop *l = c->l;

	c->fresh = 0;
	c->prev = l->last;
	if (l->last)
		l->last->next = c;
	else
		l->first = c;
	l->last = c;
	want(c, EPOLLIN);
	if (!c->armed)
		conn_close(c);
}

static void
unaccount_ip(struct http_server *s, struct ipslot *ip)
{
	pthread_mutex_lock(&s->acc_mu);
	ip->conns--;
	ip_put(s, ip);
	pthread_mutex_unlock(&s->acc_mu);
}

static void
accept_new(struct loop *a)
{
	struct http_server *s = a->s;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		uint8_t key[9];
		struct ipslot *ip;
		struct conn *c;
		int fd, one = 1;

		fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    s->reserve_fd < 0) {
				accept_pause(a);
				return;
			}
			if ((errno == EMFILE || errno == ENFILE) &&
			    s->reserve_fd >= 0) {
				/* Out of descriptors: take the connection
				 * with the spare one and close it, rather
				 * than leave it (and the loop) spinning. */
				close(s->reserve_fd);
				fd = accept(s->lfd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				s->reserve_fd =
				    open("/dev/null", O_RDONLY | O_CLOEXEC);
				atomic_fetch_add(&s->refused, 1);
				continue;
			}
			return;
		}
		atomic_fetch_add(&s->accepted, 1);
		ip_key(&ss, key);
		pthread_mutex_lock(&s->acc_mu);
		if ((ip = ip_get(s, key)) == NULL) {
			pthread_mutex_unlock(&s->acc_mu);
			close(fd);
			continue;
		}
		if (ip->conns >= s->max_conns_per_ip) {
			ip_put(s, ip);
			pthread_mutex_unlock(&s->acc_mu);
			refuse(s, fd, "too many connections from this address");
			continue;
		}
		ip->conns++; /* held from here on, even unlocked */
		pthread_mutex_unlock(&s->acc_mu);
		if (atomic_load(&s->nconns) >= s->max_conns && evict(a) < 0) {
			unaccount_ip(s, ip);
			refuse(s, fd, "too many connections");
			continue;
		}
		/* with the upstream sockets, within the descriptors */
		if (fds_make_room(a, 1) < 0) {
			unaccount_ip(s, ip);
			refuse(s, fd,
			    "too many connections: out of file descriptors");
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			unaccount_ip(s, ip);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->s = s;
		c->l = pick_loop(s);
		c->fd = fd;
		c->io = s->tls ? &tls_io : &plain_io;
		c->ip = ip;
		if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
			    &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer,
			    sizeof(c->peer));
		else
			inet_ntop(AF_INET,
			    &((struct sockaddr_in *)&ss)->sin_addr, c->peer,
			    sizeof(c->peer));
		/* The first request's head is due head_ms after the accept. */
		c->state = C_HEAD;
		c->idle = 1;
		c->deadline = now_ms() + s->head_ms;
		atomic_store(&c->head_wait, 1);
		atomic_fetch_add(&s->nconns, 1);
		atomic_fetch_add(&c->l->nconns, 1);
		pthread_mutex_lock(&s->acc_mu);
		c->gprev = s->glast;
		if (s->glast)
			s->glast->gnext = c;
		else
			s->gfirst = c;
		s->glast = c;
		pthread_mutex_unlock(&s->acc_mu);
		if (c->l == a) {
			conn_adopt(c);
		} else { /* its loop takes it up (take_done) */
			c->fresh = 1;
			push_done(c);
		}
	}
}

static void
sweep(struct loop *l, uint64_t now)
{
	struct http_server *s = l->s;
	struct conn *c, *next;

	for (c = l->first; c; c = next) {
		next = c->next;
		if (!claim(c) || c->deadline == 0)
			continue;
		if (c->state == C_PROXY && now < c->deadline) {
			proxy_watch(c);
			continue;
		}
		if (now < c->deadline)
			continue;
		switch (c->state) {
		case C_HEAD:
			atomic_fetch_add(&s->timeouts, 1);
			if (c->idle) /* nothing asked: just close */
				conn_close(c);
			else
				conn_abort(c, 408,
				    "request head not complete in time");
			break;
		case C_BODY:
			atomic_fetch_add(&s->timeouts, 1);
			conn_abort(c, 408, "request body not complete in time");
			break;
		case C_WRITE:
			atomic_fetch_add(&s->timeouts, 1);
			conn_close(c);
			break;
		case C_LINGER:
			conn_close(c);
			break;
		case C_PROXY:
			atomic_fetch_add(&s->timeouts, 1);
			proxy_timeout(c);
			break;
		default:
			break;
		}
	}
	up_sweep(l, now);
	accept_resume(l);
}

static void
take_done(struct loop *l)
{
	struct http_server *s = l->s;
	struct conn *c, *next;
	uint64_t v;

	(void)!read(l->wakefd, &v, sizeof(v));
	pthread_mutex_lock(&s->mu);
	c = l->done_head;
	l->done_head = l->done_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	for (; c; c = next) {
		next = c->qnext;
		if (c->fresh)
			conn_adopt(c);
		else
			conn_returned(c);
	}
}

/* An event for a connection a worker has (armed at dispatch): take it if
 * the worker gave it back, else leave it H_PENDING for the done queue. */
static void
busy_event(struct conn *c, uint32_t ev)
{
	int w = H_WORKER;

	c->armed = 0; /* EPOLLONESHOT */
	if (atomic_compare_exchange_strong(&c->handoff, &w, H_PENDING))
		return;
	if (w == H_BACK) {
		atomic_store(&c->handoff, H_WORKER);
		c->busy = 0;
		conn_event(c, ev);
	}
}

/* Connections whose TLS layer holds bytes: as if epoll said readable. */
static void
kick(struct loop *l)
{
	struct conn *c, *next;

	for (c = l->first; c && l->nkicked > 0; c = next) {
		next = c->next;
		if (!c->kicked)
			continue;
		c->kicked = 0;
		l->nkicked--;
		if (!c->closed && !c->busy && c->armed && (c->events & EPOLLIN))
			conn_event(c, EPOLLIN);
	}
}

static void *
loop_main(void *arg)
{
	struct loop *l = arg;
	struct http_server *s = l->s;
	struct epoll_event ev[256];
	uint64_t next_sweep = now_ms() + SWEEP_MS;

	while (!atomic_load(&s->stopping)) {
		uint64_t now = now_ms();
		int n, i, timeout;

		timeout = next_sweep > now ? (int)(next_sweep - now) : 0;
		if (l->nkicked > 0)
			timeout = 0;
		n = epoll_wait(l->epfd, ev, 256, timeout);
		for (i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			if (ev[i].data.ptr == &listen_mark)
				accept_new(l);
			else if (ev[i].data.ptr == &wake_mark)
				take_done(l);
			else if ((uintptr_t)ev[i].data.ptr & 1) /* upstream */
				up_event((struct upconn *)((uintptr_t)c - 1),
				    ev[i].events);
			else if (!c->closed && c->busy)
				busy_event(c, ev[i].events);
			else
				conn_event(c, ev[i].events);
		}
		if (l->nkicked > 0)
			kick(l);
		take_evictions(l);
		proxy_ready(l);
		now = now_ms();
		if (now >= next_sweep) {
			sweep(l, now);
			next_sweep = now + SWEEP_MS;
		}
		while (l->graveyard) {
			struct conn *c = l->graveyard;
			l->graveyard = c->qnext;
			free(c);
		}
		up_bury(l);
	}
	return NULL;
}

/* ---- workers ---------------------------------------------------------- */

static void *stream_main(void *arg);

/* The handler answered with a stream: give it a thread (returns 1: the
 * thread owns c from then on, and may be done with it already), or
 * answer 503 (returns 0). */
static int
start_stream(struct conn *c, struct http_response *resp)
{
	struct http_server *s = c->s;
	pthread_attr_t a;
	pthread_t t;
	int counted = 0;

	c->stream = resp->stream;
	c->stream_ctx = resp->stream_ctx;
	c->stream_free = resp->stream_free;
	pthread_mutex_lock(&s->mu);
	if (s->nstreams < s->max_streams && !atomic_load(&s->stopping)) {
		s->nstreams++;
		s->nstream_threads++;
		counted = 1;
	}
	pthread_mutex_unlock(&s->mu);
	if (counted && build(c, resp, 1) == 0) {
		int started;
		c->state = C_STREAM;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, STREAM_STACK);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&t, &a, stream_main, c) == 0;
		pthread_attr_destroy(&a);
		if (started)
			return 1;
	}
	if (counted) {
		pthread_mutex_lock(&s->mu);
		s->nstreams--;
		s->nstream_threads--;
		pthread_cond_broadcast(&s->streams_cv);
		pthread_mutex_unlock(&s->mu);
	}
	if (c->stream_free)
		c->stream_free(c->stream_ctx);
	c->stream = NULL;
	memset(resp, 0, sizeof(*resp));
	if (build_error(c, 503, "too many open streams; try again later") < 0)
		c->keep = 0;
	c->state = C_WRITE;
	return 0;
}

/*
 * The fast way back for the common case (the whole response written, the
 * connection kept and armed, no byte of a next request read yet): what
 * next_request would do, then H_BACK, so the loop is not woken for it.
 * Only fields of c are touched (and atomics): the loop does not look at a
 * busy connection.
 */
static void
give_back(struct conn *c)
{
	struct http_server *s = c->s;
	int w = H_WORKER;

	free_output(c);
	end_request(c);
	atomic_fetch_add(&s->requests, 1);
	c->state = C_HEAD;
	atomic_store_explicit(&c->head_wait, 1, memory_order_relaxed);
	c->idle = 1;
	c->scan = 0;
	c->deadline = now_ms() + s->idle_ms;
	if (c->in_cap > 4096) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	/* After this, c may be the loop's: nothing more touches it. */
	if (!atomic_compare_exchange_strong(&c->handoff, &w, H_BACK))
		push_done(c); /* an event came meanwhile (H_PENDING) */
}

static void
run_job(struct conn *c)
{
	struct http_server *s = c->s;
	struct http_response resp;
	int rc;

	memset(&resp, 0, sizeof(resp));
	resp.status = 200;
	switch (c->job) {
	case J_ROUTE:
		if ((c->routed = calloc(1, sizeof(*c->routed))) != NULL)
			c->route_rc = s->route(s->ctx, &c->req, 1, c->routed);
		push_done(c);
		return;
	case J_HOOK: {
		struct http_body_sink sink;
		enum http_head_action a;
		memset(&sink, 0, sizeof(sink));
		a = c->hook->head(s->ctx, &c->req, &resp, &sink);
		if (a == HTTP_HEAD_REFUSE) {
			c->keep = c->keep && !c->body_unread;
			(void)build(c, &resp, 0);
			c->state = C_WRITE;
			break;
		}
		free(resp.body);
		if (a == HTTP_HEAD_SINK) {
			c->sink = sink;
			c->sinking = 1;
		}
		c->sink_used = 0;
		c->state = C_BODY;
		break;
	}
	case J_SINK:
		rc = c->sink_len ?
		    c->sink.write(c->sink.ctx, c->in, c->sink_len, &resp) :
		    0;
		if (rc < 0) {
			c->keep = 0; /* the rest of the body stays unread */
			(void)build(c, &resp, 0);
			c->state = C_WRITE;
			break;
		}
		c->req.body_len += c->sink_len;
		if (!c->sink_last) {
			c->state = C_BODY;
			break;
		}
		c->sink.done(c->sink.ctx, &c->req, &resp);
		(void)build(c, &resp, 0);
		c->state = C_WRITE;
		break;
	case J_HANDLE:
		s->handler(s->ctx, &c->req, &resp);
		free(c->body); /* the loop releases its reservation */
		c->body = NULL;
		c->req.body = "";
		if (resp.stream) {
			if (start_stream(c, &resp))
				return; /* c is the stream thread's now */
		} else {
			(void)build(c, &resp, 0);
			c->state = C_WRITE;
		}
		break;
	}
	if (c->state == C_WRITE && c->out == NULL) {
		c->state = C_STREAM_DONE; /* out of memory: close */
	} else if (c->state == C_WRITE && flush(c) == 1 && c->arm_back &&
	    c->keep && !c->rd_eof && c->in_len == 0 && !c->io->pending(c) &&
	    !atomic_load(&s->stopping)) {
		give_back(c);
		return;
	}
	push_done(c); /* the loop writes the rest, or goes on */
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct http_server *s = w->s;

	for (;;) {
		struct conn *c;
		pthread_mutex_lock(&s->mu);
		while (w->job == NULL && s->job_head == NULL &&
		    !atomic_load(&s->stopping)) {
			if (!w->is_idle) {
				w->is_idle = 1;
				w->next_idle = s->idle;
				s->idle = w;
			}
			pthread_cond_wait(&w->cv, &s->mu);
		}
		if (atomic_load(&s->stopping)) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		if ((c = w->job) != NULL) {
			w->job = NULL;
		} else {
			c = s->job_head;
			s->job_head = c->qnext;
			if (s->job_head == NULL)
				s->job_tail = NULL;
		}
		pthread_mutex_unlock(&s->mu);
		run_job(c);
	}
}

/* Wake every worker to see s->stopping (under s->mu). */
static void
wake_workers(struct http_server *s)
{
	for (unsigned i = 0; i < s->nstarted; i++)
		pthread_cond_signal(&s->workers[i].cv);
}

/* ---- streams ---------------------------------------------------------- */

/* Write all of p, waiting up to the write timeout for the client each
 * time it is not ready. */
static int
stream_write(struct conn *c, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = c->io->write(c, p, len);
		if (n == IO_AGAIN_WRITE || n == IO_AGAIN_READ) {
			struct pollfd pf = { c->fd,
				n == IO_AGAIN_WRITE ? POLLOUT : POLLIN, 0 };
			if (atomic_load(&c->s->stopping) ||
			    poll(&pf, 1, (int)c->s->write_ms) <= 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Has the client gone (or sent something it should not have)? */
static int
stream_client_gone(struct conn *c)
{
	char buf[512];
	ssize_t n = c->io->read(c, buf, sizeof(buf));

	return n == 0 || n == IO_ERROR;
}

static void *
stream_main(void *arg)
{
	struct conn *c = arg;
	struct http_server *s = c->s;
	int chunked = c->head->minor >= 1;
	char *buf = malloc(STREAM_CHUNK + 32);

	if (buf == NULL || stream_write(c, c->out, c->out_len) < 0)
		goto out;
	while (!atomic_load(&s->stopping) && !stream_client_gone(c)) {
		ssize_t n = c->stream(c->stream_ctx, buf + 18, STREAM_CHUNK);
		if (n < 0) {
			if (chunked)
				(void)stream_write(c, "0\r\n\r\n", 5);
			break;
		}
		if (n == 0)
			continue;
		if (chunked) {
			/* "<hex>\r\n" right before the data, "\r\n" after */
			char size[18];
			int k =
			    snprintf(size, sizeof(size), "%zx\r\n", (size_t)n);
			memcpy(buf + 18 - k, size, (size_t)k);
			memcpy(buf + 18 + n, "\r\n", 2);
			if (stream_write(c, buf + 18 - k,
			        (size_t)k + (size_t)n + 2) < 0)
				break;
		} else if (stream_write(c, buf + 18, (size_t)n) < 0) {
			break;
		}
	}
out:
	free(buf);
	if (c->stream_free)
		c->stream_free(c->stream_ctx);
	c->stream = NULL;
	c->state = C_STREAM_DONE;
	/* Off the cap before the client can see the end (its loop closes
	 * it), so it may open another at once, whichever loop takes it. */
	pthread_mutex_lock(&s->mu);
	s->nstreams--;
	pthread_mutex_unlock(&s->mu);
	push_done(c);
	pthread_mutex_lock(&s->mu);
	s->nstream_threads--;
	pthread_cond_broadcast(&s->streams_cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- start and stop --------------------------------------------------- */

/* The descriptors this process may open: the soft limit raised to the
 * hard one. */
static unsigned
fd_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = rl;
		want.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY ? 1u << 20 : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	return rl.rlim_cur > 1u << 30 ? 1u << 30 : (unsigned)rl.rlim_cur;
}

static int
listen_on(const struct http_server_config *c, struct http_server *s)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, c->host,
	        &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->port);
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, c->host,
	               &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->port);
		sl = sizeof(*sin6);
	} else {
		return err_set(ERR_INVAL,
		    "listen address '%s': expected an IPv4 or IPv6 address",
		    c->host);
	}
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(ERR_IO, "socket: %s", strerror(errno));
	/* SO_REUSEADDR only (a restart may bind over TIME_WAIT); never
	 * SO_REUSEPORT, which would let two daemons share the port. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		close(fd);
		return err_set(ERR_IO, "cannot listen on %s%s%s:%u: %s%s",
		    ss.ss_family == AF_INET6 ? "[" : "", c->host,
		    ss.ss_family == AF_INET6 ? "]" : "", c->port, strerror(e),
		    e == EADDRINUSE ? " (another process is listening there)" :
		                      "");
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ?
		        ((struct sockaddr_in6 *)&ss)->sin6_port :
		        ((struct sockaddr_in *)&ss)->sin_port);
	s->lfd = fd;
	return 0;
}

/* How many loops: the configured number, else LODGE_HTTP_LOOPS, else one
 * per online CPU; at most LOOPS_MAX. */
static unsigned
loop_count(const struct http_server_config *c)
{
	long n = c->loops;

	if (n == 0)
		n = (long)util_env_i64("LODGE_HTTP_LOOPS", 1, 0);
	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > LOOPS_MAX ? LOOPS_MAX : (unsigned)n;
}

static int
loop_init(struct http_server *s, struct loop *l, unsigned idx)
{
	struct epoll_event e;

	l->s = s;
	l->idx = idx;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return err_set(ERR_IO, "epoll: %s", strerror(errno));
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN;
	e.data.ptr = &wake_mark;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &e) < 0)
		return err_set(ERR_IO, "epoll: %s", strerror(errno));
	if (idx == 0) { /* the first loop accepts for all */
		e.data.ptr = &listen_mark;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->lfd, &e) < 0)
			return err_set(ERR_IO, "epoll: %s", strerror(errno));
	}
	return 0;
}

/* Stop and join the loops started, wake and join the workers. */
static void
stop_threads(struct http_server *s)
{
	unsigned i;

	atomic_store(&s->stopping, 1);
	for (i = 0; i < s->nloops_started; i++)
		loop_wake(&s->loops[i]);
	for (i = 0; i < s->nloops_started; i++)
		pthread_join(s->loops[i].t, NULL);
	if (s->lfd >= 0) { /* stop accepting */
		close(s->lfd);
		s->lfd = -1;
	}
	pthread_mutex_lock(&s->mu);
	wake_workers(s);
	pthread_mutex_unlock(&s->mu);
	for (i = 0; i < s->nstarted; i++)
		pthread_join(s->workers[i].t, NULL);
}

/* Everything left, every thread gone. */
static void
free_all(struct http_server *s)
{
	struct conn *c, *next;
	unsigned i;

	for (i = 0; s->loops && i < s->nloops; i++) {
		struct loop *l = &s->loops[i];
		/* new connections not yet taken up join their list */
		for (c = l->done_head; c; c = next) {
			next = c->qnext;
			if (c->fresh) {
				c->fresh = 0;
				c->prev = l->last;
				if (l->last)
					l->last->next = c;
				else
					l->first = c;
				l->last = c;
			}
		}
		l->done_head = l->done_tail = NULL;
	}
	for (i = 0; s->loops && i < s->nloops; i++)
		for (c = s->loops[i].first; c; c = next) {
			next = c->next;
			conn_close(c);
		}
	for (i = 0; s->loops && i < s->nloops; i++) {
		struct loop *l = &s->loops[i];
		while (l->graveyard) {
			c = l->graveyard;
			l->graveyard = c->qnext;
			free(c);
		}
		up_free_all(l);
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->wakefd >= 0)
			close(l->wakefd);
	}
	groups_free_all(s);
	for (i = 0; i < IP_BUCKETS; i++)
		while (s->ips[i]) {
			struct ipslot *p = s->ips[i];
			s->ips[i] = p->next;
			free(p);
		}
	for (i = 0; s->workers && i < s->nworkers; i++)
		pthread_cond_destroy(&s->workers[i].cv);
	free(s->workers);
	free(s->loops);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->acc_mu);
	pthread_mutex_destroy(&s->grp_mu);
	pthread_cond_destroy(&s->streams_cv);
	free(s);
}

int
http_server_start(const struct http_server_config *c, http_handler h, void *ctx,
    struct http_server **out)
{
	struct http_server *s;
	unsigned budget, reserve_fds, i;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	s->lfd = s->reserve_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->acc_mu, NULL);
	pthread_mutex_init(&s->grp_mu, NULL);
	pthread_cond_init(&s->streams_cv, NULL);
	s->handler = h;
	s->ctx = ctx;
	s->hooks = c->hooks;
	s->tls = c->tls;
	s->route = c->route;
	s->max_waiting =
	    c->max_waiting_per_group ? c->max_waiting_per_group : 1024;
	s->max_body = c->max_body;
	s->max_head = c->max_head ? c->max_head : 16384;
	s->body_min_rate = c->body_min_rate ? c->body_min_rate : 65536;
	s->max_conns_per_ip = c->max_conns_per_ip ? c->max_conns_per_ip : 256;
	s->max_streams = c->max_streams ? c->max_streams : 512;
	s->nworkers = c->workers ? c->workers : 64;
	s->idle_ms =
	    (uint64_t)(c->idle_timeout_s ? c->idle_timeout_s : 30) * 1000;
	s->head_ms = c->head_timeout_ms ? c->head_timeout_ms : 10000;
	s->body_ms = c->body_timeout_ms ? c->body_timeout_ms : 10000;
	s->write_ms =
	    (uint64_t)(c->write_timeout_s ? c->write_timeout_s : 30) * 1000;
	s->max_inflight_per_ip = c->max_inflight_per_ip;
	if (s->max_inflight_per_ip < s->max_body)
		s->max_inflight_per_ip = s->max_body;
	s->max_inflight = c->max_inflight;
	if (s->max_inflight < s->max_inflight_per_ip)
		s->max_inflight = s->max_inflight_per_ip;
	/* Keep descriptors for the rest of the daemon (stores, sandboxes,
	 * upstream sockets, logs). */
	budget = fd_budget();
	reserve_fds = budget / 8 < 64 ? 64 :
	    budget / 8 > 4096         ? 4096 :
	                                budget / 8;
	s->max_conns = c->max_conns ? c->max_conns : 8192;
	if (budget > reserve_fds + 16 && s->max_conns > budget - reserve_fds)
		s->max_conns = budget - reserve_fds;
	/* client and upstream sockets together (http.h) */
	s->max_fds = budget > reserve_fds + 16 ? budget - reserve_fds : 16;
	(void)util_random(&s->ip_seed, sizeof(s->ip_seed));
	s->nloops = loop_count(c);
	if ((s->loops = calloc(s->nloops, sizeof(*s->loops))) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < s->nloops; i++)
		s->loops[i].epfd = s->loops[i].wakefd = -1;
	if ((rc = listen_on(c, s)) < 0)
		goto fail;
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (i = 0; i < s->nloops; i++)
		if ((rc = loop_init(s, &s->loops[i], i)) < 0)
			goto fail;
	if ((s->workers = calloc(s->nworkers, sizeof(*s->workers))) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < s->nworkers; i++) {
		s->workers[i].s = s;
		pthread_cond_init(&s->workers[i].cv, NULL);
	}
	for (i = 0; i < s->nworkers; i++) {
		if (pthread_create(&s->workers[i].t, NULL, worker_main,
		        &s->workers[i]) != 0) {
			rc =
			    err_set(ERR_IO, "cannot start HTTP worker threads");
			goto fail;
		}
		s->nstarted = i + 1;
	}
	for (i = 0; i < s->nloops; i++) {
		if (pthread_create(&s->loops[i].t, NULL, loop_main,
		        &s->loops[i]) != 0) {
			rc = err_set(ERR_IO, "cannot start the HTTP threads");
			goto fail;
		}
		s->nloops_started = i + 1;
	}
	*out = s;
	return 0;
fail:
	stop_threads(s);
	free_all(s);
	return rc;
}

uint16_t
http_server_port(const struct http_server *s)
{
	return s->port;
}

unsigned
http_server_loops(const struct http_server *s)
{
	return s->nloops;
}

void
http_server_stats(struct http_server *s, struct http_server_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->conns = atomic_load(&s->nconns);
	pthread_mutex_lock(&s->mu);
	out->streams = s->nstreams;
	pthread_mutex_unlock(&s->mu);
	out->inflight = atomic_load(&s->inflight);
	out->accepted = atomic_load(&s->accepted);
	out->refused = atomic_load(&s->refused);
	out->evicted = atomic_load(&s->evicted);
	out->timeouts = atomic_load(&s->timeouts);
	out->requests = atomic_load(&s->requests);
	out->forwarding = atomic_load(&s->nforwarding);
	out->waiting = atomic_load(&s->nwaiting);
	out->upstreams = atomic_load(&s->nup);
	out->upstreams_idle = atomic_load(&s->nup_idle);
	out->upstream_connects = atomic_load(&s->up_connects);
	out->upstream_reuses = atomic_load(&s->up_reuses);
	out->upgrades = atomic_load(&s->upgrades);
}

void
http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	stop_threads(s);
	pthread_mutex_lock(&s->mu);
	while (s->nstream_threads > 0)
		pthread_cond_wait(&s->streams_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	/* Every thread is gone: what is left belongs to no one. */
	free_all(s);
}

/* ---- the request's fields and arguments ------------------------------- */

const char *
http_query(const struct http_request *r, const char *key)
{
	const struct http_head *h = r->conn;
	size_t i;

	if (h == NULL)
		return NULL;
	for (i = 0; i < h->nargs; i++)
		if (strcmp(h->args[i].name, key) == 0)
			return h->args[i].value; /* NULL without '=' */
	return NULL;
}

const char *
http_header(const struct http_request *r, const char *name)
{
	return r->conn ? http_head_field(r->conn, name) : NULL;
}

void
http_header_each(const struct http_request *r, http_kv_fn fn, void *ctx)
{
	const struct http_head *h = r->conn;
	size_t i;

	for (i = 0; h && i < h->nfields; i++)
		if (fn(ctx, h->fields[i].name, h->fields[i].value))
			return;
}

void
http_query_each(const struct http_request *r, http_kv_fn fn, void *ctx)
{
	const struct http_head *h = r->conn;
	size_t i;

	for (i = 0; h && i < h->nargs; i++)
		if (fn(ctx, h->args[i].name, h->args[i].value))
			return;
}
