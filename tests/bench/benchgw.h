/*
 * benchgw: the provider's gateway as the gateway benchmarks put it in an
 * HTTP server: Host routes of bench.localhost forwarded to one upstream
 * port, both in a worker (handler) and in the server's loop (route).
 */
#ifndef LODGE_TESTS_BENCH_BENCHGW_H
#define LODGE_TESTS_BENCH_BENCHGW_H

#include <stdint.h>

#include "common/http.h"

/* The upstream's port on 127.0.0.1, set before the server starts. */
extern uint16_t benchgw_upstream_port;

/* An http_handler: a routed request forwarded by gateway_forward (404
 * when its Host names no route). */
void benchgw_handler(void *ctx, const struct http_request *req,
    struct http_response *resp);
/* An http_server_config route, the daemon's way (api_route_upstream):
 * forwarded in the server's loop, one tenant's connections capped at
 * GATEWAY_MAX_PER_TENANT.  1 with up filled in, 0 for the handler. */
int benchgw_route(void *ctx, const struct http_request *req, int may_block,
    struct http_upstream *up);

#endif
