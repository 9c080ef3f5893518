/*
 * manage: topping up and closing a deployment, one signed market entry
 * at a time (docs/state.md: deployment.deposit, lease.close,
 * order.close).  Each order is read back after the change, so what the
 * tenant is shown is what the market holds.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "tenant/manage.h"
#include "tenant/view.h"

int
tenant_deployment_orders(struct tenant_client *c, const struct tenant_paths *p,
    const char *id, json_t **out)
{
	json_t *rec = NULL, *l = NULL;
	char path[96];
	int rc;

	*out = NULL;
	if (tenant_is_id(id, 'o')) {
		if (tenant_record_load(p, id, &rec) == 0) {
			*out = json_incref(json_object_get(rec, "orders"));
			json_decref(rec);
			if (*out)
				return 0;
		}
		err_clear();
		*out = json_pack("[s]", id);
		return 0;
	}
	if (!tenant_is_id(id, 'l'))
		return err_set(ERR_INVAL,
		    "\"%s\" is neither a deployment (o-N) "
		    "nor a lease (l-N)",
		    id);
	snprintf(path, sizeof(path), "/v1/leases/%s", id);
	if ((rc = tenant_market_get(c, path, &l)) != 0)
		return rc;
	*out = json_pack("[O]", json_object_get(l, "order"));
	json_decref(l);
	return *out ? 0 : err_set(ERR_INVAL, "lease %s has no order", id);
}

static void
tell(tenant_change_fn fn, void *ctx, const char *order, int rc,
    const json_t *row, const json_t *ord)
{
	struct tenant_change ch = { order, rc, row,
		json_string_value(json_object_get(ord, "denom")) };

	if (fn)
		fn(ctx, &ch);
}

/* The lease of order oid when the market shows it paused: its id into
 * lid (lid[0] '\0' otherwise, also when it cannot be read). */
static void
paused_lease_of(struct tenant_client *c, const char *oid, char *lid, size_t n)
{
	json_t *ord = NULL, *l = NULL;
	const char *id, *st;
	char path[96];

	lid[0] = '\0';
	snprintf(path, sizeof(path), "/v1/orders/%s", oid);
	if (tenant_market_get(c, path, &ord) == 0 &&
	    (id = json_string_value(json_object_get(ord, "lease"))) != NULL) {
		snprintf(path, sizeof(path), "/v1/leases/%s", id);
		if (tenant_market_get(c, path, &l) == 0 &&
		    (st = json_string_value(json_object_get(l, "status"))) !=
		        NULL &&
		    strcmp(st, "paused") == 0)
			snprintf(lid, n, "%s", id);
	}
	err_clear();
	json_decref(ord);
	json_decref(l);
}

/* What a deposit did to lid, paused before it: row gets "lease",
 * "resumed" and, still paused, "lease_status" "paused", "price" and
 * "grace_until" (the escrow must pay a whole epoch at the price, past
 * the time the lease had run when paused, docs/state.md "Pause"). */
static void
note_resume(struct tenant_client *c, const char *lid, json_t *row)
{
	json_t *l = NULL;
	const char *st;
	char path[96];

	snprintf(path, sizeof(path), "/v1/leases/%s", lid);
	if (tenant_market_get(c, path, &l) != 0 ||
	    (st = json_string_value(json_object_get(l, "status"))) == NULL) {
		err_clear();
		json_decref(l);
		return;
	}
	json_object_set_new(row, "lease", json_string(lid));
	json_object_set_new(row, "lease_status", json_string(st));
	json_object_set_new(row, "resumed",
	    json_boolean(strcmp(st, "active") == 0));
	if (strcmp(st, "paused") == 0) {
		json_object_set(row, "price", json_object_get(l, "price"));
		json_object_set(row, "grace_until",
		    json_object_get(l, "grace_until"));
	}
	json_decref(l);
}

int
tenant_topup(struct tenant_client *c, const struct tenant_paths *p,
    const char *id, int64_t amount, tenant_change_fn fn, void *ctx,
    json_t **rows)
{
	json_t *ids = NULL, *v;
	size_t i;
	int rc;

	if ((*rows = json_array()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((rc = tenant_deployment_orders(c, p, id, &ids)) != 0)
		return rc;
	json_array_foreach(ids, i, v)
	{
		const char *oid = json_string_value(v);
		json_t *body = json_pack("{s:s,s:I}", "order", oid, "amount",
		           (json_int_t)amount),
		       *ord = NULL;
		char path[96], lid[32];

		paused_lease_of(c, oid, lid, sizeof(lid));
		rc = tenant_market_submit(c, "deployment.deposit", body, NULL,
		    NULL, 0);
		json_decref(body);
		if (rc)
			break;
		snprintf(path, sizeof(path), "/v1/orders/%s", oid);
		if (tenant_market_get(c, path, &ord) == 0) {
			json_t *row = json_pack("{s:s,s:I,s:O}", "order", oid,
			    "added", (json_int_t)amount, "escrow",
			    json_object_get(ord, "escrow"));
			if (row) {
				if (lid[0] != '\0')
					note_resume(c, lid, row);
				json_array_append_new(*rows, row);
				tell(fn, ctx, oid, 0, row, ord);
			}
		}
		err_clear();
		json_decref(ord);
	}
	json_decref(ids);
	return rc;
}

/* lease.close (tenant_closed) for the order's lease unless it is closed
 * already. */
static int
close_lease_of(struct tenant_client *c, const json_t *ord)
{
	const char *lid = json_string_value(json_object_get(ord, "lease"));
	json_t *l = NULL, *body;
	char path[96];
	const char *st;
	int rc;

	if (lid == NULL)
		return 0;
	snprintf(path, sizeof(path), "/v1/leases/%s", lid);
	if ((rc = tenant_market_get(c, path, &l)) != 0)
		return rc;
	st = json_string_value(json_object_get(l, "status"));
	if (st && strcmp(st, "closed") != 0) {
		body = json_pack("{s:s,s:s}", "lease", lid, "reason",
		    "tenant_closed");
		rc =
		    tenant_market_submit(c, "lease.close", body, NULL, NULL, 0);
		json_decref(body);
	}
	json_decref(l);
	return rc;
}

/* The close row of ord (order id) as the market shows it now, with what
 * its lease charged; NULL when the order lacks a field. */
static json_t *
close_row(struct tenant_client *c, const char *id, const json_t *ord)
{
	const char *lid = json_string_value(json_object_get(ord, "lease"));
	json_t *row, *l = NULL;
	char path[96];

	row = json_pack("{s:s,s:O,s:O,s:O,s:O}", "order", id, "lease",
	    json_object_get(ord, "lease"), "status",
	    json_object_get(ord, "status"), "reason",
	    json_object_get(ord, "reason"), "refund",
	    json_object_get(ord, "refund"));
	if (row == NULL || lid == NULL)
		return row;
	snprintf(path, sizeof(path), "/v1/leases/%s", lid);
	if (tenant_market_get(c, path, &l) == 0)
		json_object_set(row, "charged", json_object_get(l, "charged"));
	err_clear();
	json_decref(l);
	return row;
}

/* Record a failed step: tell fn, keep the first code in *first. */
static void
step_failed(tenant_change_fn fn, void *ctx, const char *id, int rc, int *first)
{
	tell(fn, ctx, id, rc, NULL, NULL);
	if (*first == 0)
		*first = rc;
}

/* Close order id: its lease, then itself; its row to rows.  Returns the
 * first failing step's code (each told to fn); a step that fails to read
 * the order back ends it. */
static int
close_order(struct tenant_client *c, const char *id, tenant_change_fn fn,
    void *ctx, json_t *rows)
{
	json_t *ord = NULL, *body, *row;
	char path[96];
	const char *st;
	int rc, first = 0;

	snprintf(path, sizeof(path), "/v1/orders/%s", id);
	if ((rc = tenant_market_get(c, path, &ord)) != 0)
		goto unread;
	/* a lease is closed with its own lease.close first: that is the
	 * entry providers follow to stop the workload */
	if ((rc = close_lease_of(c, ord)) != 0)
		step_failed(fn, ctx, id, rc, &first);
	json_decref(ord);
	if ((rc = tenant_market_get(c, path, &ord)) != 0)
		goto unread;
	st = json_string_value(json_object_get(ord, "status"));
	if (st && strcmp(st, "closed") != 0) {
		body = json_pack("{s:s}", "order", id);
		if ((rc = tenant_market_submit(c, "order.close", body, NULL,
		         NULL, 0)) != 0)
			step_failed(fn, ctx, id, rc, &first);
		json_decref(body);
		json_decref(ord);
		if ((rc = tenant_market_get(c, path, &ord)) != 0)
			goto unread;
	}
	/* Only a closed order is reported closed: a refusal (someone
	 * else's deployment) leaves nothing to show but its reason. */
	st = json_string_value(json_object_get(ord, "status"));
	if (st == NULL || strcmp(st, "closed") != 0) {
		if (first == 0)
			step_failed(fn, ctx, id,
			    err_set(ERR_REJECT, "order %s is still %s", id,
			        st ? st : "?"),
			    &first);
	} else if ((row = close_row(c, id, ord)) != NULL) {
		json_array_append_new(rows, row);
		tell(fn, ctx, id, 0, row, ord);
	}
	json_decref(ord);
	return first;
unread:
	step_failed(fn, ctx, id, rc, &first);
	return first;
}

int
tenant_close(struct tenant_client *c, const struct tenant_paths *p,
    const char *id, tenant_change_fn fn, void *ctx, json_t **rows)
{
	json_t *ids = NULL, *v;
	size_t i;
	int rc, first = 0;

	*rows = NULL;
	if (tenant_is_id(id, 'l')) {
		json_t *body = json_pack("{s:s,s:s}", "lease", id, "reason",
		    "tenant_closed");
		rc =
		    tenant_market_submit(c, "lease.close", body, NULL, NULL, 0);
		json_decref(body);
		if (rc)
			return rc;
	}
	if ((rc = tenant_deployment_orders(c, p, id, &ids)) != 0)
		return rc;
	if ((*rows = json_array()) == NULL) {
		json_decref(ids);
		return err_set(ERR_NOMEM, "out of memory");
	}
	json_array_foreach(ids, i, v)
	{
		rc = close_order(c, json_string_value(v), fn, ctx, *rows);
		if (first == 0)
			first = rc;
	}
	json_decref(ids);
	return first;
}
