/*
 * http: the HTTP/1.1 server (http_server.c: an epoll thread per core,
 * each with its share of the connections, a pool of worker threads
 * running handlers) and the client
 * (libcurl) every Lodge daemon and tool uses.  The server gives each
 * request a total deadline for its head and its body, caps connections in
 * all and per client address, and bytes of buffered bodies in all and per
 * address, so slow or hostile clients cannot stall the others.  Handlers
 * answer either a whole body or a stream (Server-Sent Events, logs); a
 * hook may look at a request's head before its body is read, to refuse it
 * or to take the body chunk by chunk instead of buffered; a route may
 * have the loop itself forward a request to an upstream server (a reverse
 * proxy: bodies streamed, upstream connections pooled, WebSocket).
 */
#ifndef LODGE_HTTP_H
#define LODGE_HTTP_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct http_server;
struct tls_server;

struct http_request {
	const char *method;
	const char *path; /* percent-decoded, without the query string */
	const char *body; /* NUL-terminated; "" when none (and in a hook) */
	size_t body_len;
	int64_t content_length; /* declared; -1 when chunked or none */
	const char *peer; /* client address, text */
	int tls; /* it came over TLS (the server's tls set) */
	void *conn; /* opaque; for http_query, http_header and _each */
};

/*
 * A stream: fn is called again and again from the stream's own thread
 * and may block for a while (it should return within a few seconds,
 * writing a keep-alive if nothing happened).  It writes at most max bytes
 * into buf and returns how many; 0 is allowed (nothing yet), -1 ends the
 * stream.  free_fn(ctx) is called once when the stream ends or the client
 * goes.  Beyond the server's max_streams the client gets 503.
 */
typedef ssize_t (*http_stream_fn)(void *ctx, char *buf, size_t max);

struct http_response {
	int status;
	const char *content_type; /* default application/json; read before
	                             the handler's thread handles another
	                             request */
	char *body; /* malloc'd; the server frees it */
	size_t body_len;
	http_stream_fn stream; /* instead of body, when set */
	void *stream_ctx;
	void (*stream_free)(void *ctx);
	char extra_headers[512]; /* "Name: value\r\n..." lines, optional */
};

typedef void (*http_handler)(void *ctx, const struct http_request *req,
    struct http_response *resp);

/*
 * Where a hooked request's body goes instead of a buffer.  write gets the
 * body in order, chunk by chunk (from a worker thread, one call at a
 * time); it returns 0, or fills resp and returns -1 (the rest of the body
 * is not read, the connection closes after resp).  done is called after
 * the last byte (req->body_len is then the body's length) and fills resp.
 * free is called once at the end in every case: after done, after a
 * failed write, when the client goes or misses its deadline.
 */
struct http_body_sink {
	int (*write)(void *ctx, const char *data, size_t len,
	    struct http_response *resp);
	void (*done)(void *ctx, const struct http_request *req,
	    struct http_response *resp);
	void (*free)(void *ctx);
	void *ctx;
};

enum http_head_action {
	HTTP_HEAD_BUFFER, /* read the body into memory, then the handler */
	HTTP_HEAD_REFUSE, /* answer resp now; the body is never read */
	HTTP_HEAD_SINK, /* give the body to *sink as it comes */
};

/* Called from a worker thread when a hooked request's head is complete,
 * before any byte of its body is read (req->body is "", content_length
 * is what the client declared).  ctx is the server's handler context. */
typedef enum http_head_action (*http_head_fn)(void *ctx,
    const struct http_request *req, struct http_response *resp,
    struct http_body_sink *sink);

struct http_hook {
	const char *method; /* NULL: any */
	const char *prefix; /* of the path; NULL ends a list of hooks */
	http_head_fn head;
	uint64_t max_body; /* this route's body limit; 0: the server's */
};

/*
 * Forwarding in the loop (a reverse proxy's requests, provider/gateway.h):
 * a route hook, called from the loop thread for each request head, may
 * take a request to forward it to an upstream HTTP/1.1 server without a
 * worker thread.  The loop writes the head the hook built, streams the
 * body (Content-Length or chunked) through a bounded buffer, and streams
 * the upstream's answer back (its framing rewritten as the client can
 * take it, hop-by-hop fields dropped), reading from one side only as fast
 * as the other takes.  Upstream connections are pooled per key and
 * reused; at most max_per_group are in use per group (requests beyond
 * wait, first come first served, until one is free or the deadline).
 * After an answer 101 to an upgrade request the loop splices bytes both
 * ways until either side closes or nothing moves for idle_ms.
 */
struct http_upstream {
	char *head; /* malloc'd: request line and fields, each ending in
	               CRLF, without framing fields and the empty line;
	               the server frees it */
	uint64_t key; /* the upstream's identity: the pool it reuses */
	uint64_t group; /* whose (e.g. a tenant): the fairness unit */
	unsigned max_per_group; /* upstream connections in use; 0: 64 */
	int upgrade; /* an Upgrade request: a 101 switches to splicing */
	unsigned timeout_ms; /* no progress for this long: 504 (or close
	                        once answering); 0: 60000 */
	unsigned idle_ms; /* an upgraded connection with nothing moving
	                     either way for this long is closed; 0: 300000 */
	/* A new non-blocking socket to the upstream, its connect started
	 * (EINPROGRESS is fine), or -errno.  Called from the loop thread:
	 * it must not block. */
	int (*connect)(void *ctx);
	/* Called once from the loop thread when the exchange ends: the
	 * status the client got (0: none, the client or the upstream went
	 * first), whether the server made the answer itself (unreachable
	 * 502, timed out 504, too many waiting 503), the bytes sent to the
	 * client (head and body, or spliced) and received from it. */
	void (*done)(void *ctx, int status, int by_server, uint64_t out,
	    uint64_t in);
	void (*free)(void *ctx); /* after done, or when never started */
	void *ctx;
	unsigned fds; /* descriptors ctx holds until free (e.g. namespaces
	                 to connect in): counted in the server's budget */
};

/* Called for each request head: 1 with *up filled: the server forwards
 * the request; 0: handled as usual (hooks, handler).  First from the loop
 * thread with may_block 0: it must not block, and returns -1 when it
 * would (a lock held elsewhere): it is then called again from a worker
 * thread with may_block 1, and the request goes back to the loop. */
typedef int (*http_route_fn)(void *ctx, const struct http_request *req,
    int may_block, struct http_upstream *up);

/* Descriptors: the server holds at most RLIMIT_NOFILE (its soft limit
 * raised to the hard one) less a reserve for the rest of the process
 * (an eighth, 64 to 4096): client sockets, upstream sockets (a forwarded
 * request's client connection and its upstream connection are two) and
 * the routes' http_upstream.fds.  At the budget an idle upstream
 * connection is closed, else the client connection that has waited
 * longest for a request head; with none, a new connection is answered
 * 503 and closed, and a request that needs a new upstream connection
 * 503 (so is one whose upstream connect fails with EMFILE or ENFILE).
 * Out of descriptors with no spare left, the listener rests until the
 * next sweep (200 ms) instead of spinning. */

/* Limits, with http_server_config_default's values. */
struct http_server_config {
	const char *host; /* "127.0.0.1" */
	uint16_t port; /* 0: any free port */
	size_t max_body; /* 1 MiB; a larger buffered body gets 413 */
	unsigned max_conns; /* 8192 in all; at most RLIMIT_NOFILE less a
	                       reserve (the soft limit is raised to the hard
	                       one); at the cap, the connection that has
	                       waited longest for a request head is closed */
	unsigned max_conns_per_ip; /* 256; per IPv4 address or IPv6 /64;
	                              beyond, closed at once with 503 */
	unsigned idle_timeout_s; /* 30: keep-alive connections with no new
	                            request are closed */
	unsigned head_timeout_ms; /* 10000: a request head must be complete
	                             this long after its first byte (or the
	                             connection's accept); 408 */
	unsigned body_timeout_ms; /* 10000: a body must be complete within
	                             this plus its length at body_min_rate
	                             (max_body for chunked); 408 */
	size_t body_min_rate; /* 65536 bytes/s, see body_timeout_ms */
	unsigned write_timeout_s; /* 30: a client that reads nothing of its
	                             response for this long is closed */
	size_t max_head; /* 16384 bytes of request line and fields; 431 */
	size_t max_inflight; /* 256 MiB of buffered bodies in all; 503 */
	size_t max_inflight_per_ip; /* 64 MiB (at least max_body); 503 */
	unsigned workers; /* 64 threads running handlers and hooks */
	unsigned max_streams; /* 512 streams (a thread each); 503 beyond */
	const struct http_hook *hooks; /* NULL, or a list ended by a NULL
	                                  prefix; the first match is used */
	http_route_fn route; /* NULL, or forwarding in the loop (above) */
	unsigned max_waiting_per_group; /* 1024 requests waiting for an
	                                   upstream connection; 503 beyond */
	unsigned loops; /* event-loop threads sharing the connections (the
	                   first accepts, each connection stays with the
	                   loop it is given); 0: LODGE_HTTP_LOOPS, else one
	                   per online CPU; at most 4 */
	struct tls_server *tls; /* NULL: plain HTTP; else every connection
	                           speaks TLS (common/tls.h), the handshake
	                           within head_timeout_ms; borrowed, it
	                           must outlive the server */
};

void http_server_config_default(struct http_server_config *c);
/* Bind (SO_REUSEADDR, never SO_REUSEPORT: an address in use is an error
 * naming it) and start serving; the caller owns *out. */
int http_server_start(const struct http_server_config *c, http_handler h,
    void *ctx, struct http_server **out);
uint16_t http_server_port(const struct http_server *s);
/* How many event loops it runs. */
unsigned http_server_loops(const struct http_server *s);
/* Stop accepting, wait for running handlers and streams (a stream ends
 * when its fn next returns), close connections, free. */
void http_server_free(struct http_server *s);

/* Counters, for tests and metrics. */
struct http_server_stats {
	unsigned conns; /* open now */
	unsigned streams; /* open now */
	uint64_t inflight; /* bytes of buffered bodies reserved now */
	uint64_t accepted; /* connections, since start */
	uint64_t refused; /* closed at once: over a cap */
	uint64_t evicted; /* closed to make room at the global cap */
	uint64_t timeouts; /* closed by a deadline */
	uint64_t requests; /* handled (handler or hook answer) */
	unsigned forwarding; /* requests being forwarded now */
	unsigned waiting; /* of those, waiting for an upstream connection */
	unsigned upstreams; /* upstream connections open now */
	unsigned upstreams_idle; /* of those, kept idle for reuse */
	uint64_t upstream_connects; /* since start */
	uint64_t upstream_reuses; /* requests on a kept connection */
	uint64_t upgrades; /* connections spliced after a 101 */
};
void http_server_stats(struct http_server *s, struct http_server_stats *out);

/* A query argument or header of the request being handled (or NULL). */
const char *http_query(const struct http_request *r, const char *key);
const char *http_header(const struct http_request *r, const char *name);

/* Call fn on each header field (name as sent, value trimmed) or query
 * argument (decoded; value NULL without '='), in order, until fn returns
 * non-zero. */
typedef int (*http_kv_fn)(void *ctx, const char *name, const char *value);
void http_header_each(const struct http_request *r, http_kv_fn fn, void *ctx);
void http_query_each(const struct http_request *r, http_kv_fn fn, void *ctx);

/* Fill resp with JSON text (taking ownership of body) or an error body
 * {"error": msg} (bytes of msg that are not UTF-8 become '?'). */
void http_respond(struct http_response *resp, int status, char *body);
void http_respond_error(struct http_response *resp, int status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Split "HOST:PORT" (IPv4, [IPv6] or name). */
int http_parse_listen(const char *s, char *host, size_t hostlen,
    uint16_t *port);

/* ---- client ----------------------------------------------------------
 * https:// URLs: an origin with a pinned key (http_pin) is trusted when,
 * and only when, its certificate's public key is that key (no CA, TLS 1.3);
 * other https:// origins are checked against the system's CAs as usual. */

/* Pin the Ed25519 key of url's origin (scheme://host:port) for every
 * later request of this process; a new pin for the origin replaces the
 * old one. */
int http_pin(const char *url, const uint8_t pub[32]);

/* The Ed25519 key in the certificate an https:// server shows (a TLS
 * handshake, no request, no trust): for learning a key on first use.
 * ERR_IO when it cannot be reached, ERR_INVAL when its key is not
 * Ed25519. */
int http_peer_key(const char *url, long timeout_ms, uint8_t pub[32]);

/* For a caller with a libcurl handle of its own (curl is a CURL *):
 * apply url's pin as http_fetch does; returns 1 when pinned, else 0.
 * After a failed transfer (cc a CURLcode), http_curl_error sets the
 * message (a pin mismatch names both keys, ERR_REJECT; else ERR_IO) and
 * returns the code; call it from the thread that ran the transfer. */
int http_curl_pin(void *curl, const char *url);
int http_curl_error(const char *method, const char *url, int cc);

/* Pin a market's key for url: given (an "ed25519:..." text, may be
 * NULL), else the one known_path remembers for its origin, else the one
 * it shows now, remembered there (*learned = 1; tls_known_check).  The
 * key the server shows is checked against the pin at once: a change is
 * ERR_ALARM naming both keys.  Nothing for an http:// url. */
int http_pin_known(const char *url, const char *given, const char *known_path,
    long timeout_ms, int *learned);

struct http_result {
	long status;
	char *body; /* malloc'd, NUL-terminated */
	size_t body_len;
};

/* One request; headers is a NULL-terminated list of "Name: value".  A
 * transport failure is ERR_IO with a message naming the URL; any HTTP
 * status is success (look at out->status). */
int http_fetch(const char *method, const char *url, const char *const *headers,
    const void *body, size_t body_len, long timeout_ms,
    struct http_result *out);
void http_result_clear(struct http_result *r);

/* Read a streaming response, calling fn with each chunk of body; fn
 * returning non-zero stops, and so does *stop (when not NULL) becoming
 * non-zero, within about a second even while the stream is silent.
 * Returns 0 when the server ended it, 1 when fn or *stop ended it. */
typedef int (*http_chunk_fn)(void *ctx, const char *data, size_t len);
int http_follow(const char *url, const char *const *headers,
    long connect_timeout_ms, http_chunk_fn fn, void *ctx, atomic_int *stop);

#endif
