/*
 * money: a lease's money as the market has it, for people (see money.h).
 */
#include <stdio.h>

#include "common/err.h"
#include "common/units.h"
#include "tenant/explain.h"
#include "tenant/money.h"

int
tenant_market_epoch_ms(struct tenant_client *c, int64_t *out)
{
	struct tenant_rules r;
	json_t *info = NULL;
	int rc;

	if ((rc = tenant_market_get(c, "/v1/info", &info)) == 0 &&
	    (rc = tenant_rules_from_info(info, &r)) == 0)
		*out = r.epoch_ms;
	json_decref(info);
	return rc;
}

int
tenant_market_pause_grace_ms(struct tenant_client *c, int64_t *out)
{
	json_t *info = NULL;
	int rc;

	*out = 0;
	if ((rc = tenant_market_get(c, "/v1/info", &info)) == 0 &&
	    json_is_integer(json_object_get(info, "pause_grace_ms")))
		*out =
		    json_integer_value(json_object_get(info, "pause_grace_ms"));
	json_decref(info);
	return rc;
}

int
tenant_lease_money(struct tenant_client *c, const json_t *lease,
    int64_t epoch_ms, json_t **out)
{
	const char *order = json_string_value(json_object_get(lease, "order"));
	const char *denom = NULL;
	json_t *o = NULL;
	char path[128];

	if (order != NULL) {
		snprintf(path, sizeof(path), "/v1/orders/%.64s", order);
		if (tenant_market_get(c, path, &o) == 0)
			denom = json_string_value(json_object_get(o, "denom"));
		else
			err_clear(); /* the default denomination then */
	}
	*out = tenant_money_json(
	    json_integer_value(json_object_get(lease, "price")),
	    json_integer_value(json_object_get(lease, "escrow")), denom,
	    epoch_ms);
	json_decref(o);
	return *out ? 0 : err_set(ERR_NOMEM, "out of memory");
}

json_t *
tenant_money_json(int64_t per_epoch, int64_t escrow, const char *denom,
    int64_t epoch_ms)
{
	int64_t hour = units_rate_per(per_epoch, epoch_ms, 3600000);
	int64_t month = units_rate_per(per_epoch, epoch_ms, UNITS_MONTH_MS);
	int64_t lasts = units_lasts_ms(escrow, per_epoch, epoch_ms);
	char he[96], hh[96], hm[96], hx[96], hl[32];

	if (denom == NULL)
		denom = "uakt";
	units_fmt_amount(per_epoch, denom, he, sizeof(he));
	units_fmt_amount(hour, denom, hh, sizeof(hh));
	units_fmt_amount(month, denom, hm, sizeof(hm));
	units_fmt_amount(escrow, denom, hx, sizeof(hx));
	units_fmt_duration(lasts, hl, sizeof(hl));
	return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:s,s:s,s:s,s:s,"
	                 "s:s}}",
	    "denom", denom, "epoch_ms", (json_int_t)epoch_ms, "per_epoch",
	    (json_int_t)per_epoch, "per_hour", (json_int_t)hour, "per_month",
	    (json_int_t)month, "escrow", (json_int_t)escrow, "lasts_ms",
	    (json_int_t)lasts, "human", "per_epoch", he, "per_hour", hh,
	    "per_month", hm, "escrow", hx, "lasts", hl);
}
