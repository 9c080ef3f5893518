/*
 * explain: the tenant's account of a failed match.  It re-runs the
 * market's fit test (docs/state.md, "Matching") on the public asks and
 * reports the first rule that stopped the closest providers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The rules, in the order the closest providers fail them. */
enum stage {
	ST_OFFLINE,
	ST_DENOM,
	ST_ATTRS,
	ST_RUNTIME,
	ST_CAPACITY,
	ST_PRICE,
	ST_FITS
};

int
tenant_explain_nomatch(const json_t *order, const json_t *providers,
    int64_t epoch_ms, char **out)
{
	const char *denom = json_string_value(json_object_get(order, "denom"));
	const json_t *want = json_object_get(order, "attributes");
	const json_t *rts = json_object_get(order, "runtimes");
	json_int_t bid =
	    json_integer_value(json_object_get(order, "max_price"));
	struct tenant_need need;
	enum stage best = ST_OFFLINE;
	char attr_miss[256] = "", rt_miss[256] = "", cheapest_key[64] = "";
	int64_t cheapest = -1;
	int nprov = 0, n;
	json_t *p;
	size_t i;

	*out = NULL;
	if (tenant_order_need(order, &need) != 0)
		memset(&need, 0, sizeof(need));
	err_clear();
	json_array_foreach((json_t *)providers, i, p)
	{
		const json_t *ask = json_object_get(p, "ask");
		const json_t *price = json_object_get(ask, "price");
		const char *pd =
		    json_string_value(json_object_get(price, "denom"));
		enum stage st;
		char miss[256];
		int64_t pr;

		if (ask == NULL)
			continue;
		nprov++;
		if (!json_is_true(json_object_get(p, "online")) ||
		    json_is_true(json_object_get(p, "withdrawn")))
			st = ST_OFFLINE;
		else if (denom && (pd == NULL || strcmp(pd, denom) != 0))
			st = ST_DENOM;
		else if (want &&
		    !attrs_hold(json_object_get(ask, "attributes"), want, miss,
		        sizeof(miss))) {
			st = ST_ATTRS;
			if (!attr_miss[0])
				snprintf(attr_miss, sizeof(attr_miss), "%s",
				    miss);
		} else if (rts &&
		    !runtimes_hold(json_object_get(ask, "runtimes"), rts, miss,
		        sizeof(miss))) {
			st = ST_RUNTIME;
			if (!rt_miss[0])
				snprintf(rt_miss, sizeof(rt_miss), "%s", miss);
		} else if (free_of(p, "cpu_millis") < need.cpu_millis ||
		    free_of(p, "memory_bytes") < need.memory_bytes ||
		    free_of(p, "storage_bytes") < need.storage_bytes ||
		    free_of(p, "gpu_units") < need.gpu_units)
			st = ST_CAPACITY;
		else if (tenant_ask_price(price, &need, epoch_ms, &pr) != 0) {
			err_clear();
			st = ST_PRICE;
		} else if (pr > bid) {
			st = ST_PRICE;
			if (cheapest < 0 || pr < cheapest) {
				const char *k = json_string_value(
				    json_object_get(p, "key"));
				cheapest = pr;
				snprintf(cheapest_key, sizeof(cheapest_key),
				    "%s", k ? k : "?");
			}
		} else
			st = ST_FITS;
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
		case ST_RUNTIME:
			n = asprintf(out,
			    "no provider with the attributes asked "
			    "offers the %s runtime",
			    rt_miss);
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
