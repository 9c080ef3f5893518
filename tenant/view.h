/*
 * view: what the tenant sees of its account once deployed: balances with
 * the escrow its orders hold, its orders joined with their leases and
 * local records (`tenant ls`), one lease as the market and its provider
 * see it (`tenant status`) and its logs (docs/tenant.md).
 */
#ifndef LODGE_TENANT_VIEW_H
#define LODGE_TENANT_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/http.h"
#include "tenant/client.h"
#include "tenant/config.h"

/* True when s is an id of that kind: kind '-' digits ("o-3", "l-12"). */
bool tenant_is_id(const char *s, char kind);

/* The lease of id: a lease id (l-N) as is, an order's (o-N) lease as the
 * market shows it.  ERR_INVAL for another id, ERR_NOTFOUND when the
 * order has no lease (yet). */
int tenant_resolve_lease(struct tenant_client *c, const char *id, char *lease,
    size_t cap);

/* The escrow held by orders (GET /v1/orders), summed per denomination:
 * a new object {denom: micro-units} (caller owns *out); orders without a
 * denomination or a positive escrow count for nothing.  ERR_NOMEM. */
int tenant_escrow_by_denom(const json_t *orders, json_t **out);

/* The tenant's account (GET /v1/accounts/<key>: a market answers every
 * key, one it has never seen with zero balances) with "escrow" from
 * tenant_escrow_by_denom of its orders (none when they cannot be read):
 * {"key","balances":{denom: n},"escrow":{denom: n}}.  Caller owns *out.
 * ERR_IO when the URL does not answer as a market (no account of this
 * key, a 404, not JSON). */
int tenant_balance(struct tenant_client *c, json_t **out);

/*
 * `tenant ls`: one row per order (closed ones only when all), in the
 * market's order: {"deployment","order","status","lease","reason",
 * "escrow","max_price","denom"} and, when the order's lease is among
 * leases, "lease_status", "provider", "price", "charged", the lease's
 * "escrow" and its "reason" when it has one.  "deployment" is the id of
 * the local record holding the order, else the order's own id.  orders
 * and leases are GET /v1/orders and /v1/leases answers, borrowed.  A new
 * array in *out (caller owns).  ERR_NOMEM.
 */
int tenant_ls_rows(const json_t *orders, const json_t *leases,
    const struct tenant_paths *p, bool all, json_t **out);

/* tenant_ls_rows of the tenant's orders and leases as the market has
 * them now.  Caller owns *out. */
int tenant_ls(struct tenant_client *c, const struct tenant_paths *p, bool all,
    json_t **out);

/* The URL of each globally exposed service of a provider's lease status
 * ({"replicas":[{"service","expose":[{"global":true}]}]}) through the
 * provider's gateway: {service: "<api>/l/<lease>/<service>/"}.  A new
 * object in *out (caller owns).  ERR_NOMEM. */
int tenant_service_urls(const json_t *status, const char *api,
    const char *lease, json_t **out);

/* The forwarded ports of a provider's lease status ("forwarded_ports":
 * a global expose that is not TCP as 80, on a provider with networks)
 * as [{"host","host_port","service","port","proto","text"}], host being
 * the API URL's and text "host:port → service:port/proto" (Akash's
 * forwarded_ports).  A new array, or NULL when there are none. */
json_t *tenant_forwarded_ports(const json_t *status, const char *api);

/*
 * `tenant status`: the lease of id (tenant_resolve_lease; its id goes to
 * lease) as {"market": the market's lease, "provider": the provider's
 * status or null, "services": tenant_service_urls (when the provider
 * answered), "provider_error": why it did not (otherwise), "api_url":
 * the provider's API (when the market knows it)}.  A provider that does
 * not answer is not an error.  Caller owns *out.
 */
int tenant_lease_status(struct tenant_client *c, const char *id, char *lease,
    size_t cap, json_t **out);

/* The logs of the lease of id (tenant_resolve_lease) from its provider,
 * each chunk to fn as it comes; follow keeps the stream open
 * (logs?follow=1). */
int tenant_lease_logs(struct tenant_client *c, const char *id, bool follow,
    http_chunk_fn fn, void *ctx);

#endif
