/*
 * gateway: the provider's HTTP ingress (RFC 9110/9112 reverse proxy).
 * Requests for /l/<lease>/<service>/... or Host <lease>-<service>.<domain>
 * go to a wasm HTTP function (run by a worker in the lease's sandbox,
 * wasm/pool.h), or are forwarded to the service's port on the
 * lease's own loopback, the connection made from inside the lease's
 * network namespace (setns in the calling thread, or a helper without
 * root).  The daemon forwards in the HTTP server's event loop
 * (gateway_upstream_head and gateway_connect for http_upstream,
 * common/http.h: pooled connections, streamed bodies, WebSocket);
 * gateway_forward, a blocking exchange on a worker thread with whole
 * bodies, is what is left for a request the loop did not take.
 */
#ifndef LODGE_PROVIDER_GATEWAY_H
#define LODGE_PROVIDER_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "common/http.h"

#define GATEWAY_MAX_RESPONSE (64u << 20) /* bytes of upstream body */
#define GATEWAY_TIMEOUT_MS 60000
/* Connections to one tenant's services in use at once (forwarded in the
 * server's loop); more requests wait for one, in order. */
#define GATEWAY_MAX_PER_TENANT 256

/* The longest request target (path and query, as sent upstream) the
 * gateway forwards, like nginx's default large_client_header_buffers
 * (8 KiB); a longer one is answered 414 URI Too Long, never cut. */
#define GATEWAY_MAX_TARGET 8192

/* Where the request goes: route parsing gives lease, service and the
 * path to send upstream (starting with '/'). */
struct gateway_route {
	char lease[24];
	char service[64];
	char path[GATEWAY_MAX_TARGET + 1];
	int by_host;
	uint16_t port; /* the expose's port (accept host names); 0: the
	                  service's first global one */
};

/* Match a request to a route: by host "<lease>-<service>.<domain>[.][:port]"
 * (case-insensitive), whatever the path (a lease's origin never serves
 * another lease), else by path "/l/<lease>/<service>[/rest]".
 * Returns 1 when routed, 0 when the request is not for the gateway,
 * ERR_INVAL when it is but malformed, ERR_LIMIT when it is but the path
 * to send upstream is longer than GATEWAY_MAX_TARGET (answer 414).
 * Pure. */
int gateway_route_parse(const char *host, const char *path, const char *domain,
    struct gateway_route *out);

/* Forward req to 127.0.0.1:port inside the network namespace netns_fd (-1:
 * the provider's own, for tests and benches), sending path_and_query as
 * the target.  userns_fd >= 0 (a provider without root): the connection is
 * made by a forked helper that joins that user namespace, then netns_fd,
 * and passes the socket back.  Fills resp (502 when the upstream cannot
 * be reached, 504 on timeout, 414 when path_and_query is longer than
 * GATEWAY_MAX_TARGET); *egress gets the bytes sent back to the client.
 * A connection kept from an earlier request is reused when key (an
 * identity of the upstream, e.g. its netns inode and port) matches; when
 * it fails before any byte of an answer, only a request safe to repeat
 * (http_method_idempotent) goes again on a new one, else 502. */
void gateway_forward(const struct http_request *req, int userns_fd,
    int netns_fd, uint64_t key, uint16_t port, const char *path_and_query,
    struct http_response *resp, uint64_t *egress);

/* For forwarding in the server's loop (common/http.h, http_upstream):
 * the head of req as sent upstream (request line with path_and_query,
 * Host, the end-to-end fields, Connection), each line ending in CRLF,
 * without framing fields or the empty line; *upgrade says whether req
 * asks for a protocol switch (WebSocket), whose Upgrade and Connection
 * fields are then passed on.  The client's own X-Forwarded-*, X-Real-IP,
 * Forwarded (and X-Client-IP, True-Client-IP) are dropped; the gateway
 * writes X-Forwarded-For and X-Real-IP (req->peer), X-Forwarded-Proto
 * (https when req->tls) and Forwarded "for=...;proto=..." (RFC 7239).
 * *out is malloc'd.  ERR_LIMIT when path_and_query is longer than
 * GATEWAY_MAX_TARGET (answer 414). */
int gateway_upstream_head(const struct http_request *req,
    const char *path_and_query, int *upgrade, char **out);

/* A non-blocking socket to 127.0.0.1:port inside netns_fd (through a
 * helper joining userns_fd first when >= 0, as gateway_forward), its
 * connect started; or -errno. */
int gateway_connect(int userns_fd, int netns_fd, uint16_t port);

struct wasm_pool;
struct wasm_run_limits;
struct wasm_usage;

/* Answer req with a fresh instance of the WAGI function served by pool
 * (wasm/pool.h, wasm/wagi.h): path is the path after the route
 * prefix script_name ("" for host routes), l the per-request fuel
 * budget, memory cap and deadline.  The function's status, Content-Type,
 * its other headers (framing and hop-by-hop ones dropped, as far as they
 * fit) and body go into resp; a trap gives 500, fuel exhausted 503, the
 * deadline 504.  *egress gets the bytes sent back, *u the usage. */
void gateway_wasm(const struct http_request *req, struct wasm_pool *pool,
    const char *script_name, const char *path, const struct wasm_run_limits *l,
    struct http_response *resp, uint64_t *egress, struct wasm_usage *u);

/* Rebuild "path?query" of the request from its decoded arguments
 * (percent-encoded again); *out is malloc'd, owned by the caller. */
int gateway_target(const struct http_request *req, const char *path,
    char **out);

#endif
