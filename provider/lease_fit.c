/*
 * lease_fit: the manifest's replicas summed against the order's
 * resources (see lease_fit.h); sums saturate instead of wrapping.
 */
#include <stdint.h>

#include "common/err.h"
#include "provider/lease_fit.h"

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t
mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* A non-negative integer member of o, or -1. */
static int64_t
member(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	return (int64_t)json_integer_value(v);
}

int
lease_fits_order(const struct lease *l, const json_t *resources)
{
	static const char *const what[] = { "replicas", "cpu_millis",
		"memory_bytes", "storage_bytes", "gpu_units" };
	uint64_t want[5] = { 0 }, have[5] = { 0 };
	const json_t *r;
	size_t i, k;

	if (!json_is_array(resources) || json_array_size(resources) == 0)
		return err_set(ERR_REJECT,
		    "the order has no resources to check the manifest "
		    "against");
	json_array_foreach(resources, i, r)
	{
		int64_t n = member(r, "count"),
		        v[4] = { member(r, "cpu_millis"),
			        member(r, "memory_bytes"),
			        member(r, "storage_bytes"),
			        member(r, "gpu_units") };
		/* gpu_units is optional in an order (the ledger's rule):
		 * absent is none, anything else must be a count */
		if (v[3] < 0 && json_object_get(r, "gpu_units") == NULL)
			v[3] = 0;
		if (n < 0 || v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
			return err_set(ERR_REJECT,
			    "the order's resources[%zu]: expected count, "
			    "cpu_millis, memory_bytes and storage_bytes (and "
			    "gpu_units, if any, a count)",
			    i);
		have[0] = add_sat(have[0], (uint64_t)n);
		for (k = 0; k < 4; k++)
			have[k + 1] = add_sat(have[k + 1],
			    mul_sat((uint64_t)n, (uint64_t)v[k]));
	}
	want[0] = l->nrep;
	for (i = 0; i < l->nrep; i++) {
		want[1] = add_sat(want[1], l->rep[i].cpu_millis);
		want[2] = add_sat(want[2], l->rep[i].memory_bytes);
		want[3] = add_sat(want[3], l->rep[i].storage_bytes);
		want[4] = add_sat(want[4], l->rep[i].gpu_units);
	}
	for (k = 0; k < 5; k++)
		if (want[k] > have[k])
			return err_set(ERR_REJECT,
			    "manifest: its replicas ask %llu %s in all, its "
			    "order %llu (what the market matched, reserved "
			    "and bills)",
			    (unsigned long long)want[k], what[k],
			    (unsigned long long)have[k]);
	return 0;
}
