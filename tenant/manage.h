/*
 * manage: the tenant's changes to a deployment once posted: more escrow
 * for each of its orders (deployment.deposit) and closing it (lease.close
 * then order.close; the market refunds the escrow left), docs/tenant.md.
 */
#ifndef LODGE_TENANT_MANAGE_H
#define LODGE_TENANT_MANAGE_H

#include <stdint.h>
#include <jansson.h>

#include "tenant/client.h"
#include "tenant/config.h"

/* The orders of id: a deployment (o-N: the orders of its local record,
 * or o-N alone without one) or a lease (l-N: its order, from the
 * market).  A new array of strings in *out (caller owns).  ERR_INVAL
 * for another id. */
int tenant_deployment_orders(struct tenant_client *c,
    const struct tenant_paths *p, const char *id, json_t **out);

/* What a topup or close did to one order, told as it happens.  Borrowed
 * for the duration of the call. */
struct tenant_change {
	const char *order; /* "o-N" */
	int rc; /* 0: done, see row; < 0: a step failed, err_msg() says why */
	const json_t *row; /* rc == 0: the order's row in *rows */
	const char *denom; /* rc == 0: the order's denomination */
};

typedef void (*tenant_change_fn)(void *ctx, const struct tenant_change *ch);

/*
 * Add amount (micro-units) to the escrow of each order of id
 * (tenant_deployment_orders), in order, stopping at the first refusal.
 * *rows (caller owns, also on failure) gets {"order","added","escrow"}
 * per order done, escrow as the market shows it after; an order that
 * cannot be read back has no row.  An order whose lease was paused
 * before its deposit adds "lease", "lease_status" (after), "resumed"
 * (the deposit resumed it) and, still paused, "price" and "grace_until"
 * (to resume, the escrow must pay a whole epoch at the price past the
 * time the lease had run).  fn (may be NULL) hears of each row.
 */
int tenant_topup(struct tenant_client *c, const struct tenant_paths *p,
    const char *id, int64_t amount, tenant_change_fn fn, void *ctx,
    json_t **rows);

/*
 * Close id: a lease (l-N, lease.close, then its order) or a deployment
 * (o-N, each of its orders).  For each order, its lease is closed first
 * (the entry providers follow to stop the workload), then the order,
 * unless the market shows them closed already.  *rows (caller owns) gets
 * {"order","lease","status","reason","refund","charged"?} per order the
 * market shows closed after (an order that is not, its close refused,
 * is a failed step with no row).  A failure before the orders (the id, the
 * l-N's lease.close) is returned with *rows NULL and fn not called;
 * after that, a failing step is told to fn and the close goes on, and
 * the first such code is returned.
 */
int tenant_close(struct tenant_client *c, const struct tenant_paths *p,
    const char *id, tenant_change_fn fn, void *ctx, json_t **rows);

#endif
