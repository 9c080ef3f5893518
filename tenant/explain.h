/*
 * explain: why an order did not match, computed by the tenant from the
 * market's asks (GET /v1/providers) with the matching rules of
 * docs/state.md ("Matching"): online, denomination, attributes,
 * runtimes, free capacity, then the price for one epoch of full use.
 */
#ifndef LODGE_TENANT_EXPLAIN_H
#define LODGE_TENANT_EXPLAIN_H

#include <stdint.h>
#include <jansson.h>

/* The resources an order needs in all: Σ count × each resource. */
struct tenant_need {
	uint64_t cpu_millis;
	uint64_t memory_bytes;
	uint64_t storage_bytes;
	uint64_t gpu_units;
};

/* Sum the "resources" of an order body.  ERR_INVAL on a malformed body,
 * ERR_RANGE on overflow. */
int tenant_order_need(const json_t *order, struct tenant_need *out);

/* The price of an ask ("price" object of provider.advertise) for one
 * epoch of full use of need, docs/state.md's formula:
 * floor(E·(p_cpu·cpu_millis·10^6 + p_mem·memory + p_sto·storage)/10^15).
 * ERR_RANGE when it does not fit in int64 (such an ask never fits). */
int tenant_ask_price(const json_t *price, const struct tenant_need *need,
    int64_t epoch_ms, int64_t *out);

/* A one-line reason why no provider in providers (GET /v1/providers)
 * fits the order body (as posted: attributes, resources, denom,
 * max_price, runtimes), e.g. "no provider has the attributes asked
 * (region=mars)" or "the cheapest fitting ask is 5000 uakt/epoch
 * (ed25519:...), above the bid of 100".  *out is malloc'd (caller
 * frees).  Returns 0 or ERR_NOMEM. */
int tenant_explain_nomatch(const json_t *order, const json_t *providers,
    int64_t epoch_ms, char **out);

#endif
