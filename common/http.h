/*
 * http: the HTTP server (libmicrohttpd, one thread per connection) and
 * client (libcurl) every Lodge daemon and tool uses.  The server caps
 * request bodies, connections (in all and per client address) and idle
 * time, so a slow or malicious client cannot stall the others.  Handlers
 * answer either a whole body or a stream (Server-Sent Events, logs).
 */
#ifndef LODGE_HTTP_H
#define LODGE_HTTP_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct http_server;

struct http_request {
	const char *method;
	const char *path; /* without the query string */
	const char *body; /* NUL-terminated; "" when none */
	size_t body_len;
	const char *peer; /* client address, text */
	void *conn; /* opaque; for http_query / http_header */
};

/*
 * A stream: fn is called again and again from the connection's own
 * thread and may block for a while (it should return within a few
 * seconds, writing a keep-alive if nothing happened).  It writes at most
 * max bytes into buf and returns how many; 0 is allowed (nothing yet),
 * -1 ends the stream.  free_fn(ctx) is called once when the client goes.
 */
typedef ssize_t (*http_stream_fn)(void *ctx, char *buf, size_t max);

struct http_response {
	int status;
	const char *content_type; /* default application/json */
	char *body; /* malloc'd; the server frees it */
	size_t body_len;
	http_stream_fn stream; /* instead of body, when set */
	void *stream_ctx;
	void (*stream_free)(void *ctx);
	char extra_headers[256]; /* "Name: value\r\n..." lines, optional */
};

typedef void (*http_handler)(void *ctx, const struct http_request *req,
    struct http_response *resp);

struct http_server_config {
	const char *host; /* "127.0.0.1" */
	uint16_t port; /* 0: any free port */
	size_t max_body; /* bytes; larger bodies get 413 */
	unsigned max_conns; /* all connections */
	unsigned max_conns_per_ip;
	unsigned idle_timeout_s; /* idle connections are closed */
};

void http_server_config_default(struct http_server_config *c);
/* Bind and start serving; the caller owns *out. */
int http_server_start(const struct http_server_config *c, http_handler h,
    void *ctx, struct http_server **out);
uint16_t http_server_port(const struct http_server *s);
/* Stop accepting, close connections, free. */
void http_server_free(struct http_server *s);

/* A query argument or header of the request being handled (or NULL). */
const char *http_query(const struct http_request *r, const char *key);
const char *http_header(const struct http_request *r, const char *name);

/* Fill resp with JSON text (taking ownership of body) or an error body
 * {"error": msg}. */
void http_respond(struct http_response *resp, int status, char *body);
void http_respond_error(struct http_response *resp, int status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Split "HOST:PORT" (IPv4, [IPv6] or name). */
int http_parse_listen(const char *s, char *host, size_t hostlen,
    uint16_t *port);

/* ---- client ---------------------------------------------------------- */

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
