/*
 * money: a lease's price, escrow and how long it lasts, from the market
 * (its epoch from /v1/info, the denomination from the lease's order), in
 * the shape tenant_money_json gives, for `tenant status` and
 * `tenant ls`.
 */
#ifndef LODGE_TENANT_MONEY_H
#define LODGE_TENANT_MONEY_H

#include <stdint.h>
#include <jansson.h>

#include "tenant/client.h"

/* A lease's money for `tenant status` and `tenant ls`:
 * {"denom","epoch_ms","per_epoch","per_hour","per_month","escrow",
 * "lasts_ms" (-1: forever),"human":{"per_epoch","per_hour","per_month",
 * "escrow","lasts"}} (the human strings: units_fmt_amount and
 * units_fmt_duration, common/units.h).  NULL
 * when out of memory. */
json_t *tenant_money_json(int64_t per_epoch, int64_t escrow, const char *denom,
    int64_t epoch_ms);

/* The market's epoch in ms (GET /v1/info).  ERR_INVAL when the answer
 * is not a market's, the client's errors otherwise. */
int tenant_market_epoch_ms(struct tenant_client *c, int64_t *out);

/* The market's pause grace (/v1/info "pause_grace_ms": how long a lease
 * whose escrow ran dry stays paused before it closes insufficient_funds;
 * 0 when the market has none, or predates it).  The client's errors. */
int tenant_market_pause_grace_ms(struct tenant_client *c, int64_t *out);

/* tenant_money_json of the market's lease (a GET /v1/leases/<id>
 * answer, borrowed): its price, its order's escrow and denomination (GET
 * /v1/orders/<order>; "uakt" when the order cannot be read), the epoch
 * of epoch_ms.  Caller owns *out.  ERR_NOMEM. */
int tenant_lease_money(struct tenant_client *c, const json_t *lease,
    int64_t epoch_ms, json_t **out);

#endif
