/*
 * autotopup: the standing top-up of a lease, signed and described (see
 * autotopup.h).
 */
#include <stdio.h>

#include "common/err.h"
#include "common/units.h"
#include "tenant/autotopup.h"
#include "tenant/view.h"

int
tenant_autotopup(struct tenant_client *c, const char *id, int64_t amount,
    int64_t below, json_t **lease_out)
{
	char lease[32], path[96];
	json_t *body;
	int rc;

	*lease_out = NULL;
	if (amount < 0)
		return err_set(ERR_INVAL,
		    "--auto: %lld is not a positive amount of micro-units",
		    (long long)amount);
	if (amount > 0 && (below < 1 || below > TENANT_AUTOTOPUP_MAX_EPOCHS))
		return err_set(ERR_INVAL,
		    "--below: %lld epochs is out of range (1-%lld)",
		    (long long)below, (long long)TENANT_AUTOTOPUP_MAX_EPOCHS);
	if ((rc = tenant_resolve_lease(c, id, lease, sizeof(lease))) != 0)
		return rc;
	body = amount > 0 ?
	    json_pack("{s:s,s:I,s:I}", "lease", lease, "amount",
	        (json_int_t)amount, "below_epochs", (json_int_t)below) :
	    json_pack("{s:s,s:b}", "lease", lease, "off", 1);
	if (body == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	rc = tenant_market_submit(c, "lease.autotopup", body, NULL, NULL, 0);
	json_decref(body);
	if (rc != 0)
		return err_prefix(rc, "lease.autotopup %s", lease);
	snprintf(path, sizeof(path), "/v1/leases/%s", lease);
	return tenant_market_get(c, path, lease_out);
}

static long long
num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

const char *
tenant_autotopup_describe(const json_t *lease, const char *denom, char *buf,
    size_t cap)
{
	const json_t *a = json_object_get(lease, "auto_topup");
	char amt[96], moved[96];

	if (!json_is_object(a))
		return NULL;
	units_fmt_amount(num(a, "moved"), denom, moved, sizeof(moved));
	if (json_is_true(json_object_get(a, "on"))) {
		units_fmt_amount(num(a, "amount"), denom, amt, sizeof(amt));
		snprintf(buf, cap,
		    "%s when the escrow pays fewer than %lld epochs "
		    "(set at ledger index %lld); %lld made (%s), %lld short",
		    amt, num(a, "below_epochs"), num(a, "index"),
		    num(a, "applied"), moved, num(a, "shortfalls"));
	} else
		snprintf(buf, cap,
		    "off (cancelled at ledger index %lld); %lld made (%s), "
		    "%lld short",
		    num(a, "index"), num(a, "applied"), moved,
		    num(a, "shortfalls"));
	return buf;
}
