/*
 * benchgw: the provider's gateway as the gateway benchmarks put it in an
 * HTTP server (see benchgw.h).
 */
#include "tests/bench/benchgw.h"

#include <stdlib.h>

#include "provider/gateway.h"

uint16_t benchgw_upstream_port;

void
benchgw_handler(void *ctx, const struct http_request *req,
    struct http_response *resp)
{
	struct gateway_route rt;
	uint64_t egress;
	char *target;

	(void)ctx;
	if (gateway_route_parse(http_header(req, "Host"), req->path,
	        "bench.localhost", &rt) != 1 ||
	    gateway_target(req, rt.path, &target) < 0) {
		http_respond_error(resp, 404, "no route");
		return;
	}
	gateway_forward(req, -1, -1, 1, benchgw_upstream_port, target, resp,
	    &egress);
	free(target);
}

/* The daemon's way (api_route_upstream): forwarded in the server's loop,
 * one tenant's connections capped at GATEWAY_MAX_PER_TENANT. */
static int
fwd_connect(void *ctx)
{
	(void)ctx;
	return gateway_connect(-1, -1, benchgw_upstream_port);
}

int
benchgw_route(void *ctx, const struct http_request *req, int may_block,
    struct http_upstream *up)
{
	struct gateway_route rt;
	char *target;
	int upgrade;

	(void)ctx;
	(void)may_block;
	if (gateway_route_parse(http_header(req, "Host"), req->path,
	        "bench.localhost", &rt) != 1 ||
	    gateway_target(req, rt.path, &target) < 0)
		return 0;
	if (gateway_upstream_head(req, target, &upgrade, &up->head) < 0) {
		free(target);
		return 0;
	}
	free(target);
	up->key = 1;
	up->group = 1;
	up->max_per_group = GATEWAY_MAX_PER_TENANT;
	up->upgrade = upgrade;
	up->connect = fwd_connect;
	return 1;
}
