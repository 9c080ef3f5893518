/*
 * gateway: a small HTTP/1.1 reverse proxy for lease services.  Each
 * worker thread of the HTTP server keeps its own upstream connection
 * (thread-local, closed by a key destructor when the thread ends), so
 * requests cost one upstream connect per worker, not one per request.
 * Connecting inside a lease: setns(CLONE_NEWNET) of this thread into the
 * lease's namespace, socket(), setns() back; the socket stays in the
 * lease's namespace and reaches its 127.0.0.1.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http_parse.h"
#include "common/util.h"
#include "provider/gateway.h"
#include "wasm/pool.h"

struct upstream {
	int fd;
	uint64_t key;
	uint16_t port;
	int own_netns; /* this thread's netns, to return to */
};

static pthread_key_t tls_key;
static __thread char ctype_tls[128];
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void
tls_free(void *p)
{
	struct upstream *u = p;

	if (u->fd >= 0)
		close(u->fd);
	if (u->own_netns >= 0)
		close(u->own_netns);
	free(u);
}

static void
tls_init(void)
{
	(void)pthread_key_create(&tls_key, tls_free);
}

static struct upstream *
tls_get(void)
{
	struct upstream *u;

	pthread_once(&tls_once, tls_init);
	if ((u = pthread_getspecific(tls_key)) != NULL)
		return u;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->fd = u->own_netns = -1;
	pthread_setspecific(tls_key, u);
	return u;
}

static int
lower_eq(const char *a, const char *b, size_t n)
{
	return strncasecmp(a, b, n) == 0;
}

static int
valid_id(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		        s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return 1;
}

/* out emptied; not the whole of its path buffer (8 KiB, per request). */
static void
route_clear(struct gateway_route *out)
{
	memset(out->lease, 0, sizeof(out->lease));
	memset(out->service, 0, sizeof(out->service));
	out->path[0] = '\0';
	out->by_host = 0;
	out->port = 0;
}

/* "<lease>-<service>.<domain>[.][:port]": 1 and out filled, or 0. */
static int
route_by_host(const char *host, const char *path, const char *domain,
    struct gateway_route *out)
{
	const char *p, *dot;
	size_t n, dl;

	route_clear(out);
	if (host == NULL || domain == NULL || *domain == '\0')
		return 0;
	/* lease ids are "l-<n>" */
	dl = strlen(domain);
	n = strcspn(host, ":");
	if (n > 0 && host[n - 1] == '.') /* the root's dot: the same name */
		n--;
	if (n <= dl + 1 || host[n - dl - 1] != '.' ||
	    !lower_eq(host + n - dl, domain, dl))
		return 0;
	n -= dl + 1; /* the label before the domain */
	if (n < 4 || !lower_eq(host, "l-", 2))
		return 0;
	p = host + 2;
	while (p < host + n && *p >= '0' && *p <= '9')
		p++;
	if (p == host + 2 || p >= host + n || *p != '-')
		return 0;
	dot = p + 1;
	if ((size_t)(p - host) >= sizeof(out->lease) ||
	    (size_t)(host + n - dot) >= sizeof(out->service) ||
	    !valid_id(dot, (size_t)(host + n - dot)))
		return 0;
	if (path && strlen(path) > GATEWAY_MAX_TARGET)
		return err_set(ERR_LIMIT,
		    "gateway: request target longer than %u bytes",
		    GATEWAY_MAX_TARGET);
	memcpy(out->lease, host, (size_t)(p - host));
	out->lease[0] = 'l';
	/* host names have no case; service names are lower case (SDL) */
	for (size_t i = 0; i < (size_t)(host + n - dot); i++)
		out->service[i] = (char)tolower((unsigned char)dot[i]);
	snprintf(out->path, sizeof(out->path), "%s", path ? path : "/");
	out->by_host = 1;
	return 1;
}

int
gateway_route_parse(const char *host, const char *path, const char *domain,
    struct gateway_route *out)
{
	const char *p, *q;
	size_t n;

	/* A lease's own host name routes to that lease whatever the path:
	 * "/l/<other lease>/..." under it would serve another tenant's
	 * service from this lease's origin (its cookies, its scripts). */
	int r = route_by_host(host, path, domain, out);

	if (r != 0)
		return r;
	route_clear(out);
	if (path && strncmp(path, "/l/", 3) == 0) {
		p = path + 3;
		if ((q = strchr(p, '/')) == NULL || q - p >= 24 ||
		    !valid_id(p, (size_t)(q - p)))
			return err_set(ERR_INVAL,
			    "gateway: expected "
			    "/l/<lease>/<service>/...");
		memcpy(out->lease, p, (size_t)(q - p));
		p = q + 1;
		q = strchr(p, '/');
		n = q ? (size_t)(q - p) : strlen(p);
		if (n >= sizeof(out->service) || !valid_id(p, n))
			return err_set(ERR_INVAL,
			    "gateway: expected "
			    "/l/<lease>/<service>/...");
		if (q && strlen(q) > GATEWAY_MAX_TARGET)
			return err_set(ERR_LIMIT,
			    "gateway: request target longer than %u bytes",
			    GATEWAY_MAX_TARGET);
		memcpy(out->service, p, n);
		snprintf(out->path, sizeof(out->path), "%s", q ? q : "/");
		return 1;
	}
	return 0;
}

/* ---- target with query ---- */

struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	char *np;
	size_t nc;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		nc = b->cap ? b->cap : 512;
		while (nc < b->len + n + 1)
			nc *= 2;
		if ((np = realloc(b->p, nc)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~' || c == '/' || c == ':') {
			buf_add(b, (const char *)&c, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		buf_add(b, e, 3);
	}
}

struct args_ctx {
	struct buf *b;
	int n;
};

static int
add_arg(void *cls, const char *k, const char *v)
{
	struct args_ctx *a = cls;

	buf_str(a->b, a->n++ ? "&" : "?");
	buf_escaped(a->b, k);
	if (v) {
		buf_str(a->b, "=");
		buf_escaped(a->b, v);
	}
	return 0;
}

int
gateway_target(const struct http_request *req, const char *path, char **out)
{
	struct buf b = { 0 };
	struct args_ctx a = { &b, 0 };

	buf_escaped(&b, path);
	http_query_each(req, add_arg, &a);
	if (b.failed || b.p == NULL) {
		free(b.p);
		return err_set(ERR_NOMEM, "out of memory");
	}
	*out = b.p;
	return 0;
}

/* ---- upstream ---- */

static void
loopback(uint16_t port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* Without root a thread cannot join the lease's network namespace (that
 * takes CAP_SYS_ADMIN over it, which the provider holds only inside the
 * lease's user namespace, and joining a user namespace needs a
 * single-threaded caller).  A forked child does it with system calls only
 * (async-signal-safe after fork in a threaded process), connects, and
 * passes the socket back over a socketpair.  Returns the fd or -errno. */
static int
connect_via_helper(int userns_fd, int netns_fd, uint16_t port, int nonblock)
{
	struct sockaddr_in sa;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov;
	int sp[2], e = 0, fd = -1, status;
	pid_t pid;

	loopback(port, &sa);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	if ((pid = fork()) < 0) {
		e = errno;
		close(sp[0]);
		close(sp[1]);
		return -e;
	}
	if (pid == 0) {
		close(sp[0]);
		if (setns(userns_fd, CLONE_NEWUSER) < 0 ||
		    setns(netns_fd, CLONE_NEWNET) < 0 ||
		    (fd = socket(AF_INET,
		         SOCK_STREAM | SOCK_CLOEXEC |
		             (nonblock ? SOCK_NONBLOCK : 0),
		         0)) < 0 ||
		    (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
		        !(nonblock && errno == EINPROGRESS)))
			e = errno;
		memset(&msg, 0, sizeof(msg));
		memset(&cm, 0, sizeof(cm));
		iov.iov_base = &e;
		iov.iov_len = sizeof(e);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (e == 0) {
			msg.msg_control = cm.buf;
			msg.msg_controllen = sizeof(cm.buf);
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof(int));
		}
		(void)sendmsg(sp[1], &msg, MSG_NOSIGNAL);
		_exit(0);
	}
	close(sp[1]);
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &e;
	iov.iov_len = sizeof(e);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	if (recvmsg(sp[0], &msg, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(e))
		e = e ? e : EPROTO;
	else if (e == 0 && (c = CMSG_FIRSTHDR(&msg)) != NULL &&
	    c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	else if (e == 0)
		e = EPROTO;
	close(sp[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return e ? -e : fd;
}

static int
connect_in(int userns_fd, int netns_fd, uint16_t port, struct upstream *u,
    int nonblock)
{
	struct sockaddr_in sa;
	struct timeval tv = { GATEWAY_TIMEOUT_MS / 1000, 0 };
	int fd, one = 1, e;

	if (userns_fd >= 0) {
		if ((fd = connect_via_helper(userns_fd, netns_fd, port,
		         nonblock)) < 0)
			return fd;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		return fd;
	}
	if (netns_fd >= 0) {
		if (u->own_netns < 0 &&
		    (u->own_netns = open("/proc/thread-self/ns/net",
		         O_RDONLY | O_CLOEXEC)) < 0)
			return -errno;
		if (setns(netns_fd, CLONE_NEWNET) < 0)
			return -errno;
	}
	fd = socket(AF_INET,
	    SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	e = errno;
	if (netns_fd >= 0 && setns(u->own_netns, CLONE_NEWNET) < 0)
		abort(); /* a thread stuck in a lease's netns: never */
	if (fd < 0)
		return -e;
	loopback(port, &sa);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    !(nonblock && errno == EINPROGRESS)) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int
gateway_connect(int userns_fd, int netns_fd, uint16_t port)
{
	struct upstream *u = tls_get();

	if (u == NULL)
		return -ENOMEM;
	return connect_in(userns_fd, netns_fd, port, u, 1);
}

/* Hop-by-hop and framing headers are the proxy's own (RFC 9110 §7.6.1);
 * the request signature is for the provider, not the workload. */
static int
skip_header(const char *k)
{
	static const char *const skip[] = { "connection", "keep-alive",
		"proxy-connection", "transfer-encoding", "te", "trailer",
		"upgrade", "content-length", "host", "x-lodge-signature",
		"proxy-authorization", "expect", NULL };
	size_t i;

	for (i = 0; skip[i]; i++)
		if (strcasecmp(k, skip[i]) == 0)
			return 1;
	return 0;
}

/* Fields naming the client's address or scheme: the gateway is the
 * edge, so a client's own copies are lies a service might trust; they
 * are dropped and the gateway writes its own (forwarded_fields). */
static int
client_forwarding_field(const char *k)
{
	static const char *const f[] = { "x-forwarded-for", "x-forwarded-proto",
		"x-forwarded-host", "x-forwarded-port", "x-real-ip",
		"forwarded", "x-client-ip", "true-client-ip", NULL };
	size_t i;

	for (i = 0; f[i]; i++)
		if (strcasecmp(k, f[i]) == 0)
			return 1;
	return 0;
}

static int
add_header(void *cls, const char *k, const char *v)
{
	struct buf *b = cls;

	if (skip_header(k) || client_forwarding_field(k) ||
	    strpbrk(k, "\r\n") || (v && strpbrk(v, "\r\n")))
		return 0;
	buf_str(b, k);
	buf_str(b, ": ");
	buf_str(b, v ? v : "");
	buf_str(b, "\r\n");
	return 0;
}

struct reply {
	int status;
	char ctype[128];
	char extra[256];
	size_t extra_len;
	struct buf body;
	int keep; /* the connection may be reused */
	int spoke; /* a byte of the answer came (even on failure) */
};

/* Read until the header block ends; rest holds bytes after it. */
static int
read_head(int fd, struct buf *in, size_t *head_len)
{
	char tmp[16384];
	ssize_t r;
	char *end;

	for (;;) {
		if (in->p && (end = strstr(in->p, "\r\n\r\n")) != NULL) {
			*head_len = (size_t)(end - in->p) + 4;
			return 0;
		}
		if (in->len > 65536)
			return -EMSGSIZE;
		r = recv(fd, tmp, sizeof(tmp), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		buf_add(in, tmp, (size_t)r);
		if (in->failed)
			return -ENOMEM;
	}
}

static void
keep_header(struct reply *rp, const char *line, size_t n)
{
	static const char *const keep[] = { "location:", "cache-control:",
		"set-cookie:", "etag:", "last-modified:", "www-authenticate:",
		NULL };
	size_t i;

	for (i = 0; keep[i]; i++) {
		size_t kl = strlen(keep[i]);
		if (n > kl && strncasecmp(line, keep[i], kl) == 0 &&
		    rp->extra_len + n + 2 < sizeof(rp->extra)) {
			memcpy(rp->extra + rp->extra_len, line, n);
			memcpy(rp->extra + rp->extra_len + n, "\r\n", 3);
			rp->extra_len += n + 2;
		}
	}
}

/* Read one response from fd: status line, headers, body framed by
 * Content-Length, chunked encoding or the end of the connection. */
static int
read_reply(int fd, int head_only, struct reply *rp)
{
	struct buf in = { 0 };
	char tmp[16384], *line, *eol, *v;
	size_t head_len = 0, have;
	long long clen = -1;
	int chunked = 0, close_conn = 0, rc, minor = 1;
	ssize_t r;

	rc = read_head(fd, &in, &head_len);
	rp->spoke = in.len > 0;
	if (rc < 0)
		goto out;
	if (sscanf(in.p, "HTTP/1.%d %d", &minor, &rp->status) != 2 ||
	    rp->status < 100 || rp->status > 999) {
		rc = -EPROTO;
		goto out;
	}
	if (minor == 0)
		close_conn = 1;
	line = strstr(in.p, "\r\n") + 2;
	while (line < in.p + head_len - 2) {
		eol = strstr(line, "\r\n");
		*eol = '\0';
		if ((v = strchr(line, ':')) != NULL) {
			size_t kl = (size_t)(v - line);
			v++;
			while (*v == ' ' || *v == '\t')
				v++;
			if (kl == 14 &&
			    strncasecmp(line, "content-length", 14) == 0)
				clen = strtoll(v, NULL, 10);
			else if (kl == 17 &&
			    strncasecmp(line, "transfer-encoding", 17) == 0 &&
			    strcasestr(v, "chunked"))
				chunked = 1;
			else if (kl == 10 &&
			    strncasecmp(line, "connection", 10) == 0) {
				if (strcasestr(v, "close"))
					close_conn = 1;
				else if (strcasestr(v, "keep-alive"))
					close_conn = 0;
			} else if (kl == 12 &&
			    strncasecmp(line, "content-type", 12) == 0)
				snprintf(rp->ctype, sizeof(rp->ctype), "%s", v);
			else
				keep_header(rp, line, (size_t)(eol - line));
		}
		line = eol + 2;
	}
	have = in.len - head_len;
	if (head_only || rp->status == 204 || rp->status == 304 ||
	    rp->status < 200) {
		rp->keep = !close_conn && have == 0;
		rc = 0;
		goto out;
	}
	if (chunked) {
		/* Decode in place from a growing buffer of the rest. */
		struct buf raw = { 0 };
		size_t pos = 0;
		buf_add(&raw, in.p + head_len, have);
		for (;;) {
			char *crlf;
			unsigned long long sz;
			while ((crlf = raw.p ? strstr(raw.p + pos, "\r\n") :
			                       NULL) == NULL) {
				r = recv(fd, tmp, sizeof(tmp), 0);
				if (r <= 0) {
					free(raw.p);
					rc = r == 0 ? -ECONNRESET : -errno;
					goto out;
				}
				buf_add(&raw, tmp, (size_t)r);
			}
			sz = strtoull(raw.p + pos, NULL, 16);
			if (sz > GATEWAY_MAX_RESPONSE ||
			    rp->body.len + sz > GATEWAY_MAX_RESPONSE) {
				free(raw.p);
				rc = -EMSGSIZE;
				goto out;
			}
			pos = (size_t)(crlf - raw.p) + 2;
			/* chunk data plus its CRLF (or the final CRLF) */
			while (raw.len < pos + sz + 2) {
				r = recv(fd, tmp, sizeof(tmp), 0);
				if (r <= 0) {
					free(raw.p);
					rc = r == 0 ? -ECONNRESET : -errno;
					goto out;
				}
				buf_add(&raw, tmp, (size_t)r);
				if (raw.failed) {
					rc = -ENOMEM;
					goto out;
				}
			}
			if (sz == 0)
				break; /* trailers are not supported */
			buf_add(&rp->body, raw.p + pos, sz);
			pos += sz + 2;
		}
		free(raw.p);
		rp->keep = !close_conn;
	} else if (clen >= 0) {
		if (clen > (long long)GATEWAY_MAX_RESPONSE) {
			rc = -EMSGSIZE;
			goto out;
		}
		buf_add(&rp->body, in.p + head_len,
		    have < (size_t)clen ? have : (size_t)clen);
		while (rp->body.len < (size_t)clen) {
			r = recv(fd, tmp,
			    sizeof(tmp) < (size_t)clen - rp->body.len ?
			        sizeof(tmp) :
			        (size_t)clen - rp->body.len,
			    0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = r == 0 ? -ECONNRESET : -errno;
				goto out;
			}
			buf_add(&rp->body, tmp, (size_t)r);
		}
		rp->keep = !close_conn;
	} else {
		buf_add(&rp->body, in.p + head_len, have);
		for (;;) {
			r = recv(fd, tmp, sizeof(tmp), 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				rc = -errno;
				goto out;
			}
			if (r == 0)
				break;
			if (rp->body.len + (size_t)r > GATEWAY_MAX_RESPONSE) {
				rc = -EMSGSIZE;
				goto out;
			}
			buf_add(&rp->body, tmp, (size_t)r);
		}
		rp->keep = 0;
	}
	rc = rp->body.failed ? -ENOMEM : 0;
out:
	free(in.p);
	return rc;
}

/* Does req ask for a protocol switch (RFC 9110 §7.8: a GET with Upgrade,
 * and Connection naming it)? */
static int
wants_upgrade(const struct http_request *req)
{
	const char *up = http_header(req, "Upgrade"),
	           *conn = http_header(req, "Connection");

	return up && *up && !strpbrk(up, "\r\n") && conn &&
	    strcasestr(conn, "upgrade") && strcmp(req->method, "GET") == 0 &&
	    req->content_length <= 0;
}

/* The fields saying who the client is, as the gateway saw it: the peer
 * address of the connection (never what the client wrote) and whether
 * it came over TLS; Forwarded as RFC 7239 writes it (an IPv6 address
 * quoted, in brackets). */
static void
forwarded_fields(struct buf *head, const struct http_request *req)
{
	const char *peer = req->peer && *req->peer &&
	        strspn(req->peer, "0123456789abcdefABCDEF.:") ==
	            strlen(req->peer) ?
	    req->peer :
	    "unknown";
	const char *proto = req->tls ? "https" : "http";
	int v6 = strchr(peer, ':') != NULL;

	buf_str(head, "X-Forwarded-For: ");
	buf_str(head, peer);
	buf_str(head, "\r\nX-Real-IP: ");
	buf_str(head, peer);
	buf_str(head, "\r\nX-Forwarded-Proto: ");
	buf_str(head, proto);
	buf_str(head, "\r\nForwarded: for=");
	buf_str(head, v6 ? "\"[" : "");
	buf_str(head, peer);
	buf_str(head, v6 ? "]\"" : "");
	buf_str(head, ";proto=");
	buf_str(head, proto);
	buf_str(head, "\r\n");
}

/* The start of req's head to the upstream, to path_and_query, on head:
 * its request line, Host, its headers that pass on (not the client's own
 * forwarding fields) and the gateway's forwarding fields. */
static void
head_begin(struct buf *head, const struct http_request *req,
    const char *path_and_query)
{
	const char *host = http_header(req, "Host");

	buf_str(head, req->method);
	buf_str(head, " ");
	buf_str(head, path_and_query);
	buf_str(head, " HTTP/1.1\r\nHost: ");
	buf_str(head, host && !strpbrk(host, "\r\n") ? host : "localhost");
	buf_str(head, "\r\n");
	http_header_each(req, add_header, head);
	forwarded_fields(head, req);
}

int
gateway_upstream_head(const struct http_request *req,
    const char *path_and_query, int *upgrade, char **out)
{
	struct buf head = { 0 };

	*upgrade = wants_upgrade(req);
	if (strlen(path_and_query) > GATEWAY_MAX_TARGET)
		return err_set(ERR_LIMIT,
		    "gateway: request target longer than %u bytes",
		    GATEWAY_MAX_TARGET);
	head_begin(&head, req, path_and_query);
	if (*upgrade) {
		buf_str(&head, "Connection: Upgrade\r\nUpgrade: ");
		buf_str(&head, http_header(req, "Upgrade"));
		buf_str(&head, "\r\n");
	} else {
		buf_str(&head, "Connection: keep-alive\r\n");
	}
	if (head.failed) {
		free(head.p);
		return err_set(ERR_NOMEM, "out of memory");
	}
	*out = head.p;
	return 0;
}

void
gateway_forward(const struct http_request *req, int userns_fd, int netns_fd,
    uint64_t key, uint16_t port, const char *path_and_query,
    struct http_response *resp, uint64_t *egress)
{
	struct upstream *u = tls_get();
	struct buf head = { 0 };
	struct reply rp;
	char num[32];
	int attempt, rc = 0, head_only = strcmp(req->method, "HEAD") == 0;

	*egress = 0;
	if (u == NULL) {
		http_respond_error(resp, 500, "out of memory");
		return;
	}
	if (strlen(path_and_query) > GATEWAY_MAX_TARGET) {
		http_respond_error(resp, 414,
		    "gateway: request target longer than %u bytes",
		    GATEWAY_MAX_TARGET);
		return;
	}
	head_begin(&head, req, path_and_query);
	snprintf(num, sizeof(num), "%zu", req->body_len);
	buf_str(&head, "Content-Length: ");
	buf_str(&head, num);
	buf_str(&head, "\r\nConnection: keep-alive\r\n\r\n");
	buf_add(&head, req->body, req->body_len);
	if (head.failed) {
		free(head.p);
		http_respond_error(resp, 500, "out of memory");
		return;
	}
	/* A kept connection may have been closed by the upstream meanwhile:
	 * then try once more on a fresh one, but only a request safe to
	 * repeat (RFC 9110 §9.2.2) to which no byte of an answer came: the
	 * upstream may have acted on it (a POST gets 502, never a second
	 * execution). */
	for (attempt = 0; attempt < 2; attempt++) {
		int reused = u->fd >= 0 && u->key == key && u->port == port;
		memset(&rp, 0, sizeof(rp));
		if (!reused) {
			if (u->fd >= 0)
				close(u->fd);
			u->fd = connect_in(userns_fd, netns_fd, port, u, 0);
			if (u->fd < 0) {
				rc = u->fd;
				u->fd = -1;
				break;
			}
			u->key = key;
			u->port = port;
		}
		if (util_send_all(u->fd, head.p, head.len) < 0)
			rc = -EPIPE;
		else
			rc = read_reply(u->fd, head_only, &rp);
		if (rc == 0)
			break;
		close(u->fd);
		u->fd = -1;
		free(rp.body.p);
		rp.body.p = NULL;
		if (!reused || rp.spoke || !http_method_idempotent(req->method))
			break;
	}
	free(head.p);
	if (rc < 0) {
		if (rc == -EAGAIN || rc == -ETIMEDOUT)
			http_respond_error(resp, 504,
			    "gateway: upstream port "
			    "%u timed out",
			    port);
		else
			http_respond_error(resp, 502,
			    "gateway: upstream port "
			    "%u: %s",
			    port, strerror(-rc));
		return;
	}
	if (!rp.keep && u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
	}
	resp->status = rp.status;
	resp->body = rp.body.p;
	resp->body_len = rp.body.len;
	/* The content type must outlive this call: the server writes the
	 * response head in this same thread right after the handler
	 * returns. */
	snprintf(ctype_tls, sizeof(ctype_tls), "%s",
	    rp.ctype[0] ? rp.ctype : "application/octet-stream");
	resp->content_type = ctype_tls;
	memcpy(resp->extra_headers, rp.extra, rp.extra_len + 1);
	*egress = rp.body.len + 128 + rp.extra_len;
}

/* ---- wasm HTTP functions ---- */

#define WASM_MAX_HEADERS 64

struct wasm_headers {
	struct wasm_wagi_header h[WASM_MAX_HEADERS];
	size_t n;
};

static int
collect_header(void *cls, const char *k, const char *v)
{
	struct wasm_headers *hs = cls;

	if (hs->n < WASM_MAX_HEADERS - 2 && !skip_header(k) &&
	    !client_forwarding_field(k)) {
		hs->h[hs->n].name = k;
		hs->h[hs->n].value = v ? v : "";
		hs->n++;
	}
	return 0;
}

void
gateway_wasm(const struct http_request *req, struct wasm_pool *pool,
    const char *script_name, const char *path, const struct wasm_run_limits *l,
    struct http_response *resp, uint64_t *egress, struct wasm_usage *u)
{
	struct wasm_headers hs = { .n = 0 };
	struct wasm_wagi_request q;
	struct wasm_wagi_response r;
	const char *host = http_header(req, "Host");
	char server[128], *port, *query = NULL, *body;
	size_t i, xl = 0;

	*egress = 0;
	memset(u, 0, sizeof(*u));
	memset(&q, 0, sizeof(q));
	memset(&r, 0, sizeof(r));
	snprintf(server, sizeof(server), "%s",
	    host && *host ? host : "localhost");
	if ((port = strrchr(server, ':')) != NULL && !strchr(port, ']'))
		*port++ = '\0';
	http_header_each(req, collect_header, &hs);
	/* the gateway's, as for a forwarded request (room kept for them) */
	hs.h[hs.n].name = "X-Forwarded-For";
	hs.h[hs.n++].value = req->peer ? req->peer : "unknown";
	hs.h[hs.n].name = "X-Forwarded-Proto";
	hs.h[hs.n++].value = req->tls ? "https" : "http";
	/* The query string as it came (re-encoded), without its '?'. */
	if (gateway_target(req, "/", &query) < 0) {
		http_respond_error(resp, 500, "%s", err_msg());
		return;
	}
	q.method = req->method;
	q.path = path;
	q.query = query[1] == '?' ? query + 2 : NULL;
	q.script_name = script_name;
	q.server_name = server;
	q.server_port = port;
	q.remote_addr = req->peer;
	q.headers = hs.h;
	q.nheaders = hs.n;
	q.body = (const uint8_t *)req->body;
	q.body_len = req->body_len;
	if (wasm_pool_invoke(pool, &q, l, &r, u) < 0) {
		free(query);
		wasm_wagi_response_free(&r);
		http_respond_error(resp, 500, "gateway: wasm: %s", err_msg());
		return;
	}
	free(query);
	if ((body = malloc(r.body_len + 1)) == NULL) {
		wasm_wagi_response_free(&r);
		http_respond_error(resp, 500, "out of memory");
		return;
	}
	if (r.body_len)
		memcpy(body, r.body, r.body_len);
	body[r.body_len] = '\0';
	snprintf(ctype_tls, sizeof(ctype_tls), "%s", "text/plain");
	resp->extra_headers[0] = '\0';
	for (i = 0; i < r.nheaders; i++) {
		const char *k = r.headers[i].name, *v = r.headers[i].value;
		size_t n;
		if (strcasecmp(k, "content-type") == 0) {
			if (!strpbrk(v, "\r\n"))
				snprintf(ctype_tls, sizeof(ctype_tls), "%s", v);
			continue;
		}
		if (strcasecmp(k, "status") == 0 || skip_header(k) ||
		    strpbrk(k, "\r\n:") || strpbrk(v, "\r\n"))
			continue;
		n = strlen(k) + 2 + strlen(v) + 2;
		if (xl + n >= sizeof(resp->extra_headers))
			continue;
		xl += (size_t)snprintf(resp->extra_headers + xl,
		    sizeof(resp->extra_headers) - xl, "%s: %s\r\n", k, v);
	}
	resp->status = r.status;
	resp->body = body;
	resp->body_len = strcmp(req->method, "HEAD") == 0 ? 0 : r.body_len;
	resp->content_type = ctype_tls;
	*egress = resp->body_len + 128 + xl;
	wasm_wagi_response_free(&r);
}
