/*
 * explain: why an order did not match, computed by the tenant from the
 * market's asks (GET /v1/providers) with the matching rules of
 * docs/state.md ("Matching"): online, denomination, attributes, signedBy
 * attestations, runtimes, free capacity, the price for one epoch of full
 * use, then the minimum lease the escrow must pay.
 */
#ifndef LODGE_TENANT_EXPLAIN_H
#define LODGE_TENANT_EXPLAIN_H

#include <stddef.h>
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

/* The market's rules the tenant's checks need, from GET /v1/info. */
struct tenant_rules {
	int64_t epoch_ms;
	int64_t min_lease_epochs; /* escrow >= this x the lease price */
};

/* Read rules from the market's /v1/info.  ERR_INVAL naming the field
 * when it is not a market's answer. */
int tenant_rules_from_info(const json_t *info, struct tenant_rules *out);

/* The fee an entry of kind costs its signer under the market's rules
 * (/v1/info "fees": the kind's own, else the default), in the market's
 * first denomination. */
int64_t tenant_fee_of(const json_t *info, const char *kind);

/* The cheapest ask among providers (GET /v1/providers) that fits the
 * order now by every rule of matching but the escrow's (docs/state.md
 * "Matching": online, denomination, attributes, signedBy attestations,
 * runtimes, free capacity, price at most the bid): its price for one
 * epoch into *price and its provider's key into key (cap bytes).  Ties
 * go to the market's order (older ask, then lower key).  ERR_NOTFOUND
 * when none fits. */
int tenant_cheapest_fit(const json_t *order, const json_t *providers,
    int64_t epoch_ms, int64_t *price, char *key, size_t cap);

/* A one-line reason why no provider in providers (GET /v1/providers)
 * fits the order body (as posted: attributes, signed_by, resources,
 * denom, max_price, runtimes and deposit), by the same rules as
 * matching, e.g. "no provider has the attributes asked (region=mars)",
 * "the cheapest fitting ask is 5000 uakt/epoch (ed25519:...), above the
 * bid of 100" or "... the escrow of 640 pays fewer than 10 epochs of
 * it".  *out is malloc'd (caller frees).  Returns 0 or ERR_NOMEM. */
int tenant_explain_nomatch(const json_t *order, const json_t *providers,
    const struct tenant_rules *rules, char **out);

/* What capability "storage/beta3", "gpu" or "ip" means, for a message:
 * "the storage class beta3", "GPUs", "IP endpoints"; else the name. */
void tenant_capability_text(const char *capability, char *buf, size_t cap);

/* The first capability the order needs ("capabilities": "storage/beta3",
 * "gpu", "ip", ...) that no provider advertising on the market offers
 * (whatever its state: an order needing it could never match), into
 * miss.  1 when there is one, 0 when each is offered somewhere. */
int tenant_missing_capability(const json_t *order, const json_t *providers,
    char *miss, size_t cap);

#endif
