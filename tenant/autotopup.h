/*
 * autotopup: a lease's standing top-up (`tenant topup --auto`), the
 * tenant-signed lease.autotopup entry the market's state machine applies
 * at each billing (docs/state.md, "Standing top-ups"), and its line for
 * people in `tenant status`.
 */
#ifndef LODGE_TENANT_AUTOTOPUP_H
#define LODGE_TENANT_AUTOTOPUP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "tenant/client.h"

/* The largest --below the ledger takes (epochs). */
#define TENANT_AUTOTOPUP_MAX_EPOCHS (INT64_C(1) << 32)

/*
 * Sign lease.autotopup for the lease of id (tenant_resolve_lease: l-N,
 * or o-N's lease): amount (micro-units, > 0) moves from the tenant's
 * balance into the escrow at each billing that leaves it paying fewer
 * than below epochs (1..TENANT_AUTOTOPUP_MAX_EPOCHS); amount 0 cancels
 * the one in force.  *lease_out (caller owns) is the lease as the market
 * shows it after.  ERR_INVAL for a bad amount or below; the market's
 * refusal otherwise (another key's lease, a closed lease, ...).
 */
int tenant_autotopup(struct tenant_client *c, const char *id, int64_t amount,
    int64_t below, json_t **lease_out);

/*
 * The standing top-up of lease (a market lease view) for people, in buf:
 * "30000 uakt ... when the escrow pays fewer than 8 epochs; 2 made
 * (...), 0 short" or "off (cancelled at ledger index N); ...".  NULL
 * (buf untouched) when the lease never had one.  denom may be NULL.
 */
const char *tenant_autotopup_describe(const json_t *lease, const char *denom,
    char *buf, size_t cap);

#endif
