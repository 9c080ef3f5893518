/*
 * explain: the tenant's account of a failed match, and the cheapest ask
 * that fits now.  It re-runs the market's fit test (docs/state.md,
 * "Matching"; ledger/state_match.c) on the public asks and reports the
 * first rule that stopped the closest providers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/capability.h"
#include "common/err.h"
#include "tenant/explain.h"

static int
get_u64(const json_t *o, const char *k, uint64_t *out)
{
	json_t *v = json_object_get(o, k);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_set(ERR_INVAL, "%s: not a non-negative integer", k);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int
tenant_order_need(const json_t *order, struct tenant_need *out)
{
	const json_t *rs = json_object_get(order, "resources");
	json_t *r;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_array(rs))
		return err_set(ERR_INVAL, "order: resources is not an array");
	json_array_foreach(rs, i, r)
	{
		uint64_t n, cpu, mem, sto, gpu, t;
		if (get_u64(r, "count", &n) || get_u64(r, "cpu_millis", &cpu) ||
		    get_u64(r, "memory_bytes", &mem) ||
		    get_u64(r, "storage_bytes", &sto) ||
		    get_u64(r, "gpu_units", &gpu))
			return err_prefix(ERR_INVAL, "order: resources[%zu]",
			    i);
		if (__builtin_mul_overflow(n, cpu, &t) ||
		    __builtin_add_overflow(out->cpu_millis, t,
		        &out->cpu_millis) ||
		    __builtin_mul_overflow(n, mem, &t) ||
		    __builtin_add_overflow(out->memory_bytes, t,
		        &out->memory_bytes) ||
		    __builtin_mul_overflow(n, sto, &t) ||
		    __builtin_add_overflow(out->storage_bytes, t,
		        &out->storage_bytes) ||
		    __builtin_mul_overflow(n, gpu, &t) ||
		    __builtin_add_overflow(out->gpu_units, t, &out->gpu_units))
			return err_set(ERR_RANGE, "order: resources overflow");
	}
	return 0;
}

int
tenant_ask_price(const json_t *price, const struct tenant_need *need,
    int64_t epoch_ms, int64_t *out)
{
	uint64_t pc, pm, ps;
	unsigned __int128 sum, v;

	*out = 0;
	if (get_u64(price, "cpu_ms", &pc) || get_u64(price, "mem_mb_s", &pm) ||
	    get_u64(price, "storage_mb_s", &ps) || epoch_ms < 0)
		return err_set(ERR_INVAL, "ask price: malformed");
	/* components <= 2^40 and quantities <= 2^50: each product < 2^110 */
	if (pc > (1ull << 40) || pm > (1ull << 40) || ps > (1ull << 40) ||
	    need->cpu_millis > (1ull << 50) ||
	    need->memory_bytes > (1ull << 50) ||
	    need->storage_bytes > (1ull << 50))
		return err_set(ERR_RANGE, "ask price: out of range");
	sum = (unsigned __int128)pc * need->cpu_millis * 1000000u +
	    (unsigned __int128)pm * need->memory_bytes +
	    (unsigned __int128)ps * need->storage_bytes;
	/* E * sum may overflow 128 bits only for absurd epochs */
	if (epoch_ms > 0 && sum > ((unsigned __int128)-1) / (uint64_t)epoch_ms)
		return err_set(ERR_RANGE, "ask price: overflow");
	v = sum * (uint64_t)epoch_ms / 1000000000000000ull;
	if (v > INT64_MAX)
		return err_set(ERR_RANGE, "ask price: overflow");
	*out = (int64_t)v;
	return 0;
}

/* Does the ask's attribute object hold every k:v of want? On a miss,
 * the first missing pair goes to miss. */
static int
attrs_hold(const json_t *have, const json_t *want, char *miss, size_t cap)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)want, k, v)
	{
		const char *h = json_string_value(json_object_get(have, k));
		const char *w = json_string_value(v);
		if (h == NULL || w == NULL || strcmp(h, w) != 0) {
			snprintf(miss, cap, "%s=%s", k, w ? w : "?");
			return 0;
		}
	}
	return 1;
}

static int
runtimes_hold(const json_t *have, const json_t *want, char *miss, size_t cap)
{
	json_t *w, *h;
	size_t i, j;

	json_array_foreach((json_t *)want, i, w)
	{
		int found = 0;
		json_array_foreach((json_t *)have, j,
		    h) if (json_is_string(h) && json_is_string(w) &&
		    strcmp(json_string_value(h), json_string_value(w)) == 0)
		    found = 1;
		if (!found) {
			snprintf(miss, cap, "%s",
			    json_is_string(w) ? json_string_value(w) : "?");
			return 0;
		}
	}
	return 1;
}

void
tenant_capability_text(const char *c, char *buf, size_t cap)
{
	if (strncmp(c, "storage/", 8) == 0)
		snprintf(buf, cap, "the storage class %s", c + 8);
	else if (strcmp(c, "gpu") == 0)
		snprintf(buf, cap, "GPUs");
	else if (strcmp(c, "ip") == 0)
		snprintf(buf, cap, "IP endpoints");
	else if (capability_from_name(c) >= 0) /* deployment networks */
		snprintf(buf, cap, "%s",
		    capability_what(capability_from_name(c)));
	else
		snprintf(buf, cap, "the capability %s", c);
}

int
tenant_missing_capability(const json_t *order, const json_t *providers,
    char *miss, size_t cap)
{
	const json_t *want = json_object_get(order, "capabilities");
	char m[256];
	json_t *w, *p;
	size_t i, j;

	json_array_foreach((json_t *)want, i, w)
	{
		json_t *one = json_pack("[O]", w);
		int offered = 0;
		json_array_foreach((json_t *)providers, j, p)
		{
			const json_t *ask = json_object_get(p, "ask");
			if (ask && one &&
			    runtimes_hold(json_object_get(ask, "capabilities"),
			        one, m, sizeof(m)))
				offered = 1;
		}
		json_decref(one);
		if (!offered) {
			snprintf(miss, cap, "%s",
			    json_is_string(w) ? json_string_value(w) : "?");
			return 1;
		}
	}
	return 0;
}

static uint64_t
free_of(const json_t *p, const char *k)
{
	uint64_t cap, used, pend;

	get_u64(json_object_get(p, "capacity"), k, &cap);
	get_u64(json_object_get(p, "used"), k, &used);
	get_u64(json_object_get(p, "pending"), k, &pend);
	err_clear();
	return cap > used + pend ? cap - used - pend : 0;
}

/* Does p hold a current attestation by auditor whose attributes contain
 * every k:v of the order's (want)?  state_match.c's rule: one
 * attestation per auditor, the latest; {} revoked it. */
static int
attested(const json_t *p, const json_t *auditor, const json_t *want)
{
	const json_t *att = json_object_get(p, "attested_by");
	const char *k = json_string_value(auditor);
	char miss[256];
	json_t *a;
	size_t i;

	if (k == NULL)
		return 0;
	json_array_foreach((json_t *)att, i, a)
	{
		const char *by =
		    json_string_value(json_object_get(a, "auditor"));
		if (by == NULL || strcmp(by, k) != 0)
			continue;
		return want == NULL ||
		    attrs_hold(json_object_get(a, "attributes"), want, miss,
		        sizeof(miss));
	}
	return 0;
}

/* The order's signedBy: every auditor of all_of, and one of any_of when
 * it is not empty, attests p.  On a miss, an auditor missing goes to
 * miss. */
static int
signed_hold(const json_t *p, const json_t *order, char *miss, size_t cap)
{
	const json_t *sb = json_object_get(order, "signed_by");
	const json_t *want = json_object_get(order, "attributes");
	const json_t *all = json_object_get(sb, "all_of");
	const json_t *any = json_object_get(sb, "any_of");
	json_t *k;
	size_t i;

	json_array_foreach((json_t *)all, i, k)
	{
		if (!attested(p, k, want)) {
			snprintf(miss, cap, "%s",
			    json_is_string(k) ? json_string_value(k) : "?");
			return 0;
		}
	}
	if (json_array_size(any) == 0)
		return 1;
	json_array_foreach((json_t *)any, i, k)
	{
		if (attested(p, k, want))
			return 1;
	}
	snprintf(miss, cap, "one of %s%s",
	    json_string_value(json_array_get(any, 0)) ?
	        json_string_value(json_array_get(any, 0)) :
	        "?",
	    json_array_size(any) > 1 ? ", ..." : "");
	return 0;
}

/* The rules, in the order the closest providers fail them. */
enum stage {
	ST_OFFLINE,
	ST_DENOM,
	ST_ATTRS,
	ST_SIGNED,
	ST_RUNTIME,
	ST_CAPABILITY,
	ST_CAPACITY,
	ST_PRICE,
	ST_ESCROW,
	ST_FITS
};

/* How far provider p gets with order: the first rule it fails (or
 * ST_FITS), its price for the order when that was computed (else -1),
 * and what was missing for ST_ATTRS, ST_SIGNED and ST_RUNTIME.
 * min_lease_epochs < 0: the escrow is not looked at. */
static enum stage
fit_of(const json_t *order, const json_t *p, const struct tenant_need *need,
    int64_t epoch_ms, int64_t min_lease_epochs, int64_t *price, char *miss,
    size_t cap)
{
	const char *denom = json_string_value(json_object_get(order, "denom"));
	const json_t *want = json_object_get(order, "attributes");
	const json_t *rts = json_object_get(order, "runtimes");
	const json_t *ask = json_object_get(p, "ask");
	const json_t *pr = json_object_get(ask, "price");
	const char *pd = json_string_value(json_object_get(pr, "denom"));
	json_int_t bid =
	    json_integer_value(json_object_get(order, "max_price"));
	const json_t *dep = json_object_get(order, "deposit");
	unsigned __int128 lease;

	*price = -1;
	if (!json_is_true(json_object_get(p, "online")) ||
	    json_is_true(json_object_get(p, "withdrawn")))
		return ST_OFFLINE;
	if (denom && (pd == NULL || strcmp(pd, denom) != 0))
		return ST_DENOM;
	if (want &&
	    !attrs_hold(json_object_get(ask, "attributes"), want, miss, cap))
		return ST_ATTRS;
	if (!signed_hold(p, order, miss, cap))
		return ST_SIGNED;
	if (rts &&
	    !runtimes_hold(json_object_get(ask, "runtimes"), rts, miss, cap))
		return ST_RUNTIME;
	if (json_object_get(order, "capabilities") &&
	    !runtimes_hold(json_object_get(ask, "capabilities"),
	        json_object_get(order, "capabilities"), miss, cap))
		return ST_CAPABILITY;
	if (free_of(p, "cpu_millis") < need->cpu_millis ||
	    free_of(p, "memory_bytes") < need->memory_bytes ||
	    free_of(p, "storage_bytes") < need->storage_bytes ||
	    free_of(p, "gpu_units") < need->gpu_units)
		return ST_CAPACITY;
	if (tenant_ask_price(pr, need, epoch_ms, price) != 0) {
		err_clear();
		*price = -1;
		return ST_PRICE;
	}
	if (*price > bid)
		return ST_PRICE;
	/* the escrow must pay the minimum lease at this price */
	lease = (unsigned __int128)(uint64_t)*price *
	    (uint64_t)(min_lease_epochs > 0 ? min_lease_epochs : 0);
	if (min_lease_epochs >= 0 && json_is_integer(dep) &&
	    lease > (unsigned __int128)(uint64_t)(json_integer_value(dep) > 0 ?
	                    json_integer_value(dep) :
	                    0))
		return ST_ESCROW;
	return ST_FITS;
}

/* price x epochs, saturated at INT64_MAX. */
static int64_t
min_lease(int64_t price, int64_t epochs)
{
	int64_t v;

	if (__builtin_mul_overflow(price, epochs, &v))
		return INT64_MAX;
	return v;
}

/* Is candidate (price, p) ahead of the best so far in the market's
 * order: cheaper, then the older ask, then the lower key? */
static int
ahead(int64_t price, const json_t *p, int64_t best_price, const json_t *best)
{
	json_int_t ta, tb;
	const char *ka, *kb;

	if (best == NULL || price != best_price)
		return best == NULL || price < best_price;
	ta = json_integer_value(json_object_get(p, "ask_time"));
	tb = json_integer_value(json_object_get(best, "ask_time"));
	if (ta != tb)
		return ta < tb;
	ka = json_string_value(json_object_get(p, "key"));
	kb = json_string_value(json_object_get(best, "key"));
	return ka && kb && strcmp(ka, kb) < 0;
}

int
tenant_rules_from_info(const json_t *info, struct tenant_rules *out)
{
	const json_t *e = json_object_get(info, "epoch_ms");
	const json_t *m = json_object_get(info, "min_lease_epochs");

	memset(out, 0, sizeof(*out));
	if (!json_is_integer(e) || json_integer_value(e) <= 0)
		return err_set(ERR_INVAL,
		    "market /v1/info: epoch_ms is not a "
		    "positive integer (is it a Lodge market?)");
	if (!json_is_integer(m) || json_integer_value(m) < 0)
		return err_set(ERR_INVAL,
		    "market /v1/info: min_lease_epochs is "
		    "not a non-negative integer (a market before the money "
		    "rules of genesis version 2?)");
	out->epoch_ms = json_integer_value(e);
	out->min_lease_epochs = json_integer_value(m);
	return 0;
}

int64_t
tenant_fee_of(const json_t *info, const char *kind)
{
	const json_t *fees = json_object_get(info, "fees");
	const json_t *k = json_object_get(json_object_get(fees, "kinds"), kind);

	return (int64_t)json_integer_value(
	    k ? k : json_object_get(fees, "default"));
}

int
tenant_cheapest_fit(const json_t *order, const json_t *providers,
    int64_t epoch_ms, int64_t *price, char *key, size_t cap)
{
	const json_t *best = NULL;
	int64_t best_price = -1, pr;
	struct tenant_need need;
	char miss[256];
	json_t *p;
	size_t i;

	*price = -1;
	if (cap)
		key[0] = '\0';
	if (tenant_order_need(order, &need) != 0)
		return err_prefix(ERR_INVAL, "order");
	json_array_foreach((json_t *)providers, i, p)
	{
		if (json_object_get(p, "ask") == NULL ||
		    fit_of(order, p, &need, epoch_ms, -1, &pr, miss,
		        sizeof(miss)) != ST_FITS)
			continue;
		if (ahead(pr, p, best_price, best)) {
			best = p;
			best_price = pr;
		}
	}
	if (best == NULL)
		return err_set(ERR_NOTFOUND, "no provider fits the order now");
	*price = best_price;
	snprintf(key, cap, "%s",
	    json_string_value(json_object_get(best, "key")) ?
	        json_string_value(json_object_get(best, "key")) :
	        "?");
	return 0;
}

int
tenant_explain_nomatch(const json_t *order, const json_t *providers,
    const struct tenant_rules *rules, char **out)
{
	const char *denom = json_string_value(json_object_get(order, "denom"));
	json_int_t bid =
	    json_integer_value(json_object_get(order, "max_price"));
	json_int_t dep = json_integer_value(json_object_get(order, "deposit"));
	struct tenant_need need;
	enum stage best = ST_OFFLINE;
	char attr_miss[256] = "", rt_miss[256] = "", sig_miss[256] = "";
	char cap_miss[256] = "", cap_text[300];
	char cheapest_key[64] = "", escrow_key[64] = "";
	int64_t cheapest = -1, escrow_price = -1;
	int nprov = 0, n;
	json_t *p;
	size_t i;

	*out = NULL;
	if (tenant_order_need(order, &need) != 0)
		memset(&need, 0, sizeof(need));
	err_clear();
	json_array_foreach((json_t *)providers, i, p)
	{
		const char *k = json_string_value(json_object_get(p, "key"));
		enum stage st;
		char miss[256] = "";
		int64_t pr;

		if (json_object_get(p, "ask") == NULL)
			continue;
		nprov++;
		st = fit_of(order, p, &need, rules->epoch_ms,
		    rules->min_lease_epochs, &pr, miss, sizeof(miss));
		if (st == ST_ATTRS && !attr_miss[0])
			snprintf(attr_miss, sizeof(attr_miss), "%s", miss);
		if (st == ST_SIGNED && !sig_miss[0])
			snprintf(sig_miss, sizeof(sig_miss), "%s", miss);
		if (st == ST_RUNTIME && !rt_miss[0])
			snprintf(rt_miss, sizeof(rt_miss), "%s", miss);
		if (st == ST_CAPABILITY && !cap_miss[0])
			snprintf(cap_miss, sizeof(cap_miss), "%s", miss);
		if (st == ST_PRICE && pr >= 0 &&
		    (cheapest < 0 || pr < cheapest)) {
			cheapest = pr;
			snprintf(cheapest_key, sizeof(cheapest_key), "%s",
			    k ? k : "?");
		}
		if (st == ST_ESCROW &&
		    (escrow_price < 0 || pr < escrow_price)) {
			escrow_price = pr;
			snprintf(escrow_key, sizeof(escrow_key), "%s",
			    k ? k : "?");
		}
		if (st > best)
			best = st;
	}
	if (nprov == 0)
		n = asprintf(out, "no provider is advertising on this market");
	else
		switch (best) {
		case ST_OFFLINE:
			n = asprintf(out,
			    "no provider is online (%d known, all "
			    "offline or withdrawn)",
			    nprov);
			break;
		case ST_DENOM:
			n = asprintf(out, "no online provider prices in %s",
			    denom ? denom : "?");
			break;
		case ST_ATTRS:
			n = asprintf(out,
			    "no provider has the attributes asked "
			    "(%s)",
			    attr_miss);
			break;
		case ST_SIGNED:
			n = asprintf(out,
			    "no provider with the attributes asked is "
			    "attested as signedBy asks: no current "
			    "provider.attest by %s with the order's attributes",
			    sig_miss);
			break;
		case ST_RUNTIME:
			n = asprintf(out,
			    "no provider with the attributes asked "
			    "offers the %s runtime",
			    rt_miss);
			break;
		case ST_CAPABILITY:
			tenant_capability_text(cap_miss, cap_text,
			    sizeof(cap_text));
			n = asprintf(out,
			    "no provider with the attributes asked offers %s "
			    "(capability %s)",
			    cap_text, cap_miss);
			break;
		case ST_CAPACITY:
			n = asprintf(out,
			    "no provider with the attributes asked has "
			    "the resources free (cpu %llum, memory %llu bytes, "
			    "storage %llu bytes%s)",
			    (unsigned long long)need.cpu_millis,
			    (unsigned long long)need.memory_bytes,
			    (unsigned long long)need.storage_bytes,
			    need.gpu_units ? ", gpu" : "");
			break;
		case ST_PRICE:
			if (cheapest >= 0)
				n = asprintf(out,
				    "the cheapest fitting ask is %lld "
				    "%s/epoch (%s), above the bid of %lld",
				    (long long)cheapest, denom ? denom : "",
				    cheapest_key, (long long)bid);
			else
				n = asprintf(out,
				    "every fitting ask is priced "
				    "beyond range, above the bid of %lld",
				    (long long)bid);
			break;
		case ST_ESCROW:
			n = asprintf(out,
			    "the cheapest fitting ask is %lld %s/epoch (%s), "
			    "but the escrow of %lld pays fewer than the "
			    "minimum lease of %lld epochs (%lld): deposit at "
			    "least that much",
			    (long long)escrow_price, denom ? denom : "",
			    escrow_key, (long long)dep,
			    (long long)rules->min_lease_epochs,
			    (long long)min_lease(escrow_price,
			        rules->min_lease_epochs));
			break;
		default:
			n = asprintf(out,
			    "a provider fits now (it may have come "
			    "online or freed capacity after the order "
			    "expired)");
			break;
		}
	if (n < 0) {
		*out = NULL;
		return err_set(ERR_NOMEM, "out of memory");
	}
	return 0;
}
