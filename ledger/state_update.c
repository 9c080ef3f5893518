/*
 * state_update: the rule of lease.update on what a new manifest may not
 * change (ledger/state.h, state_update_check), shared by the state
 * machine, `ledger audit` and the tenant's check before it signs.
 */
#include <string.h>

#include "common/err.h"
#include "ledger/state.h"

/* The first member that want (an order's resource) and got differ in,
 * or NULL when they are equal. */
static const char *
resource_diff(const json_t *want, const json_t *got)
{
	static const char *const keys[] = { "service", "profile", "count",
		"cpu_millis", "memory_bytes", "storage_bytes", "gpu_units",
		"price" };
	const char *k;
	json_t *v;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *a = json_object_get(want, keys[i]);
		const json_t *b = json_object_get(got, keys[i]);
		if (!(a == NULL && b == NULL) &&
		    (a == NULL || b == NULL || !json_equal(a, b)))
			return keys[i];
	}
	json_object_foreach((json_t *)got, k, v)
	{
		if (json_object_get(want, k) == NULL)
			return k;
	}
	return NULL;
}

/* Are the members keys[0..n) of ob and b equal (or both absent)? */
static int
same_members(const json_t *ob, const json_t *b, const char *const *keys,
    size_t n, const char *w)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *a = json_object_get(ob, keys[i]);
		const json_t *v = json_object_get(b, keys[i]);
		if ((a == NULL && v == NULL) || (a && v && json_equal(a, v)))
			continue;
		return err_set(ERR_REJECT,
		    "%s.%s: differs from the order's: an update keeps what "
		    "the lease was matched and priced on (placement, "
		    "attributes, auditors, resources, price, runtimes); "
		    "deploy a new deployment to change it",
		    w, keys[i]);
	}
	return 0;
}

int
state_update_check(const json_t *ob, const json_t *b, const char *w)
{
	/* placement first, then resources (their message names the
	 * service and field; max_price follows from them) */
	static const char *const first[] = { "placement" };
	static const char *const same[] = { "attributes", "signed_by", "denom",
		"max_price", "runtimes" };
	const json_t *res, *ores;
	const char *name, *svc;
	size_t i;
	int rc;

	if ((rc = same_members(ob, b, first, 1, w)) < 0)
		return rc;
	res = json_object_get(b, "resources");
	ores = json_object_get(ob, "resources");
	if (!json_is_array(res))
		return err_set(ERR_INVAL, "%s.resources: expected an array", w);
	if (json_array_size(res) != json_array_size(ores))
		return err_set(ERR_REJECT,
		    "%s.resources: %zu services, the order has %zu: an "
		    "update changes neither the services nor their resources",
		    w, json_array_size(res), json_array_size(ores));
	for (i = 0; i < json_array_size(res); i++) {
		const json_t *want = json_array_get(ores, i);
		const json_t *got = json_array_get(res, i);
		if (!json_is_object(got))
			return err_set(ERR_INVAL,
			    "%s.resources[%zu]: expected an object", w, i);
		if ((name = resource_diff(want, got)) == NULL)
			continue;
		svc = json_string_value(json_object_get(want, "service"));
		return err_set(ERR_REJECT,
		    "%s.resources[%zu].%s: differs from the order's (service "
		    "%.64s: %s): cpu, memory, storage, gpu, count and price "
		    "are fixed for the lease; deploy a new deployment to "
		    "change them",
		    w, i, name, svc ? svc : "?", name);
	}
	return same_members(ob, b, same, sizeof(same) / sizeof(same[0]), w);
}
