/*
 * quote: what the market would do with a deployment before anything is
 * posted (POST /v1/quote, docs/tenant.md "Quotes"): per placement group
 * the providers that fit, the winner and its price, and why the others
 * do not fit, computed by the market's own matching predicate.
 */
#ifndef LODGE_TENANT_QUOTE_H
#define LODGE_TENANT_QUOTE_H

#include <stdint.h>
#include <jansson.h>

#include "sdl/sdl.h"
#include "tenant/client.h"

/* Quote file's placement groups as tenant deploy would post them (the
 * same order bodies; deposit per order, 0: max_price x
 * TENANT_DEFAULT_DEPOSIT_EPOCHS, as deploy).  SDL errors go to errs
 * (ERR_INVAL, *sdl_bad set).  *out is the market's answer (ledger/state.h,
 * state_quote), caller-owned.  Returns 0 or a negative ERR_*. */
int tenant_quote(struct tenant_client *c, const char *file, int64_t deposit,
    struct sdl_errors *errs, int *sdl_bad, json_t **out);

/* The market's quote (state_quote) of orders, an array of order.create
 * bodies as they would be posted, for this tenant; *out caller-owned. */
int tenant_quote_orders(struct tenant_client *c, const json_t *orders,
    json_t **out);

/* Why order (an order.create body) would not match now, by the market's
 * own predicate (POST /v1/quote): one line counting the first failing
 * rule of each provider, "the market's own rules: cpu 2, reputation 1"
 * (*out malloc'd; "" when it would match).  Returns 0 or ERR_*. */
int tenant_quote_why(struct tenant_client *c, const json_t *order, char **out);

/* "1.234567 uakt" style: micro-units v as whole units and a fraction,
 * with the denomination without its leading 'u' when it has one ("12
 * uakt" -> "0.000012 akt").  buf of at least 64 bytes. */
const char *tenant_human_amount(int64_t v, const char *denom, char *buf,
    size_t cap);

#endif
