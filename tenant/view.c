/*
 * view: the tenant's reads after deploy.  The market's orders and leases
 * are joined here, and the provider's lease status turned into service
 * URLs, so the command line only renders (docs/tenant.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tenant/view.h"

bool
tenant_is_id(const char *s, char kind)
{
	return s && s[0] == kind && s[1] == '-' && s[2] &&
	    strspn(s + 2, "0123456789") == strlen(s + 2);
}

int
tenant_resolve_lease(struct tenant_client *c, const char *id, char *lease,
    size_t cap)
{
	json_t *ord = NULL;
	char path[96];
	const char *l;
	int rc;

	if (tenant_is_id(id, 'l')) {
		snprintf(lease, cap, "%s", id);
		return 0;
	}
	if (!tenant_is_id(id, 'o'))
		return err_set(ERR_INVAL,
		    "\"%s\" is neither a lease (l-N) nor "
		    "an order (o-N)",
		    id);
	snprintf(path, sizeof(path), "/v1/orders/%s", id);
	if ((rc = tenant_market_get(c, path, &ord)) != 0)
		return rc;
	l = json_string_value(json_object_get(ord, "lease"));
	if (l == NULL)
		rc = err_set(ERR_NOTFOUND, "order %s has no lease (status %s)",
		    id, json_string_value(json_object_get(ord, "status")));
	else
		snprintf(lease, cap, "%s", l);
	json_decref(ord);
	return rc;
}

int
tenant_escrow_by_denom(const json_t *orders, json_t **out)
{
	json_t *v;
	size_t i;

	if ((*out = json_object()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_array_foreach(orders, i, v)
	{
		const char *d = json_string_value(json_object_get(v, "denom"));
		json_int_t e = json_integer_value(json_object_get(v, "escrow"));
		if (d == NULL || e <= 0)
			continue;
		json_object_set_new(*out, d,
		    json_integer(
		        e + json_integer_value(json_object_get(*out, d))));
	}
	return 0;
}

int
tenant_balance(struct tenant_client *c, json_t **out)
{
	json_t *acct = NULL, *orders = NULL, *escrow = NULL;
	char path[256];
	int rc;

	*out = NULL;
	snprintf(path, sizeof(path), "/v1/accounts/%s", c->address);
	/* A market answers every key, known or not, with its balances:
	 * anything else (a 404, another server's JSON) is not a market. */
	if ((rc = tenant_market_get(c, path, &acct)) != 0)
		return err_prefix(rc == ERR_NOTFOUND ? ERR_IO : rc,
		    "%s does not answer as a Lodge market", c->market);
	if (!json_is_object(json_object_get(acct, "balances")) ||
	    !json_is_string(json_object_get(acct, "key")) ||
	    strcmp(json_string_value(json_object_get(acct, "key")),
	        c->address) != 0) {
		json_decref(acct);
		return err_set(ERR_IO,
		    "%s does not answer as a Lodge market: GET %s "
		    "has no balances of %s",
		    c->market, path, c->address);
	}
	snprintf(path, sizeof(path), "/v1/orders?tenant=%s", c->address);
	if (tenant_market_get(c, path, &orders) != 0)
		err_clear();
	rc = tenant_escrow_by_denom(orders, &escrow);
	json_decref(orders);
	if (rc == 0 && json_object_set_new(acct, "escrow", escrow) != 0)
		rc = err_set(ERR_NOMEM, "out of memory");
	if (rc) {
		json_decref(acct);
		return rc;
	}
	*out = acct;
	return 0;
}

/* The last lease of leases whose id is lid (borrowed), or NULL. */
static const json_t *
lease_of(const json_t *leases, const char *lid)
{
	const json_t *lease = NULL;
	json_t *l;
	size_t j;

	if (lid == NULL)
		return NULL;
	json_array_foreach(leases, j, l)
	{
		const char *id = json_string_value(json_object_get(l, "id"));
		if (id && strcmp(id, lid) == 0)
			lease = l;
	}
	return lease;
}

/* The ls row of one order; NULL when it lacks a field. */
static json_t *
ls_row(const json_t *ord, const json_t *leases, const struct tenant_paths *p)
{
	const char *id = json_string_value(json_object_get(ord, "id"));
	const char *st = json_string_value(json_object_get(ord, "status"));
	const json_t *lease =
	    lease_of(leases, json_string_value(json_object_get(ord, "lease")));
	json_t *rec = NULL, *row;
	const char *dep = id;

	if (tenant_record_find_order(p, id, &rec) == 0)
		dep = json_string_value(json_object_get(rec, "id"));
	else
		err_clear();
	row = json_pack("{s:s,s:s,s:s,s:O,s:O,s:O,s:O,s:O}", "deployment",
	    dep ? dep : id, "order", id, "status", st ? st : "?", "lease",
	    json_object_get(ord, "lease"), "reason",
	    json_object_get(ord, "reason"), "escrow",
	    json_object_get(ord, "escrow"), "max_price",
	    json_object_get(ord, "max_price"), "denom",
	    json_object_get(ord, "denom"));
	json_decref(rec);
	if (row && lease) {
		/* the lease is closer to the money than its order */
		json_object_set(row, "lease_status",
		    json_object_get(lease, "status"));
		json_object_set(row, "provider",
		    json_object_get(lease, "provider"));
		json_object_set(row, "price", json_object_get(lease, "price"));
		json_object_set(row, "charged",
		    json_object_get(lease, "charged"));
		json_object_set(row, "escrow",
		    json_object_get(lease, "escrow"));
		if (json_object_get(lease, "paid_until") != NULL)
			json_object_set(row, "paid_until",
			    json_object_get(lease, "paid_until"));
		if (json_is_string(json_object_get(lease, "reason")))
			json_object_set(row, "reason",
			    json_object_get(lease, "reason"));
		/* paused: when the grace ends (docs/state.md "Pause") */
		if (json_is_integer(json_object_get(lease, "grace_until")))
			json_object_set(row, "grace_until",
			    json_object_get(lease, "grace_until"));
	}
	return row;
}

int
tenant_ls_rows(const json_t *orders, const json_t *leases,
    const struct tenant_paths *p, bool all, json_t **out)
{
	json_t *ord, *row;
	size_t i;

	if ((*out = json_array()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_array_foreach(orders, i, ord)
	{
		const char *st =
		    json_string_value(json_object_get(ord, "status"));
		if (!all && st && strcmp(st, "closed") == 0)
			continue;
		if ((row = ls_row(ord, leases, p)) != NULL)
			json_array_append_new(*out, row);
	}
	return 0;
}

int
tenant_ls(struct tenant_client *c, const struct tenant_paths *p, bool all,
    json_t **out)
{
	json_t *orders = NULL, *leases = NULL;
	char path[256];
	int rc;

	*out = NULL;
	snprintf(path, sizeof(path), "/v1/orders?tenant=%s", c->address);
	if ((rc = tenant_market_get(c, path, &orders)) != 0)
		goto done;
	snprintf(path, sizeof(path), "/v1/leases?tenant=%s", c->address);
	if ((rc = tenant_market_get(c, path, &leases)) != 0)
		goto done;
	rc = tenant_ls_rows(orders, leases, p, all, out);
done:
	json_decref(orders);
	json_decref(leases);
	return rc;
}

int
tenant_service_urls(const json_t *status, const char *api, const char *lease,
    json_t **out)
{
	json_t *rep, *ex;
	size_t i, j;

	if ((*out = json_object()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_array_foreach(json_object_get(status, "replicas"), i, rep)
	{
		const char *svc =
		    json_string_value(json_object_get(rep, "service"));
		if (svc == NULL)
			continue;
		json_array_foreach(json_object_get(rep, "expose"), j, ex)
		{
			char url[1024];
			if (!json_is_true(json_object_get(ex, "global")))
				continue;
			snprintf(url, sizeof(url), "%s/l/%s/%s/", api, lease,
			    svc);
			json_object_set_new(*out, svc, json_string(url));
		}
	}
	return 0;
}

/* GET a provider path for lease l (signed); *api gets the provider's API
 * URL (caller frees, also on failure), *out the JSON answer. */
static int
provider_json(struct tenant_client *c, const json_t *l, const char *suffix,
    char **api, json_t **out)
{
	struct http_result res;
	char path[128], ebuf[512];
	const char *id = json_string_value(json_object_get(l, "id"));
	int rc;

	*out = NULL;
	if ((rc = tenant_provider_url(c,
	         json_string_value(json_object_get(l, "provider")), api)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/leases/%s/%s", id, suffix);
	if ((rc = tenant_provider_call(c, *api, "GET", path, NULL, NULL, 0, 0,
	         &res)) != 0)
		return rc;
	if (res.status != 200)
		rc = err_set(res.status == 404 ? ERR_NOTFOUND : ERR_REJECT,
		    "provider: GET %s: HTTP %ld: %s", path, res.status,
		    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
	else if ((*out = json_loadb(res.body, res.body_len, 0, NULL)) == NULL)
		rc = err_set(ERR_IO, "provider: GET %s: not JSON", path);
	http_result_clear(&res);
	return rc;
}

json_t *
tenant_forwarded_ports(const json_t *ps, const char *api)
{
	const json_t *fp = json_object_get(ps, "forwarded_ports"), *e;
	const char *h = api ? strstr(api, "://") : NULL;
	char host[256];
	json_t *arr;
	size_t i, n;

	if (json_array_size(fp) == 0)
		return NULL;
	h = h ? h + 3 : api ? api : "?";
	n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/");
	snprintf(host, sizeof(host), "%.*s", (int)(n < 255 ? n : 255), h);
	if ((arr = json_array()) == NULL)
		return NULL;
	json_array_foreach(fp, i, e)
	{
		const char *svc =
		    json_string_value(json_object_get(e, "service"));
		const char *proto =
		    json_string_value(json_object_get(e, "proto"));
		json_int_t port =
		    json_integer_value(json_object_get(e, "port"));
		json_int_t hp =
		    json_integer_value(json_object_get(e, "host_port"));
		char line[512];
		snprintf(line, sizeof(line), "%s:%lld \u2192 %s:%lld/%s", host,
		    (long long)hp, svc ? svc : "?", (long long)port,
		    proto ? proto : "?");
		json_array_append_new(arr,
		    json_pack("{s:s,s:I,s:s,s:I,s:s,s:s}", "host", host,
		        "host_port", (json_int_t)hp, "service", svc ? svc : "?",
		        "port", (json_int_t)port, "proto", proto ? proto : "?",
		        "text", line));
	}
	return arr;
}

int
tenant_lease_status(struct tenant_client *c, const char *id, char *lease,
    size_t cap, json_t **out)
{
	json_t *l = NULL, *ps = NULL, *urls = NULL;
	char path[96], *api = NULL;
	int rc;

	*out = NULL;
	if ((rc = tenant_resolve_lease(c, id, lease, cap)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/leases/%s", lease);
	if ((rc = tenant_market_get(c, path, &l)) != 0)
		return rc;
	*out = json_pack("{s:O}", "market", l);
	if (provider_json(c, l, "status", &api, &ps) == 0) {
		json_object_set(*out, "provider", ps);
		if (tenant_service_urls(ps, api, lease, &urls) == 0)
			json_object_set(*out, "services", urls);
		json_t *fp = tenant_forwarded_ports(ps, api);
		if (fp != NULL)
			json_object_set_new(*out, "forwarded_ports", fp);
	} else {
		/* the market's view is worth showing without the provider's */
		json_object_set_new(*out, "provider", json_null());
		json_object_set_new(*out, "provider_error",
		    json_string(err_msg()));
		err_clear();
	}
	if (api)
		json_object_set_new(*out, "api_url", json_string(api));
	free(api);
	json_decref(urls);
	json_decref(ps);
	json_decref(l);
	if (*out == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	return 0;
}

int
tenant_lease_logs(struct tenant_client *c, const char *id, bool follow,
    http_chunk_fn fn, void *ctx)
{
	json_t *l = NULL;
	char lease[32], path[128], *api = NULL;
	int rc;

	if ((rc = tenant_resolve_lease(c, id, lease, sizeof(lease))) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/leases/%s", lease);
	if ((rc = tenant_market_get(c, path, &l)) != 0 ||
	    (rc = tenant_provider_url(c,
	         json_string_value(json_object_get(l, "provider")), &api)) != 0)
		goto done;
	snprintf(path, sizeof(path), "/v1/leases/%s/logs%s", lease,
	    follow ? "?follow=1" : "");
	rc = tenant_provider_follow(c, api, path, fn, ctx);
done:
	free(api);
	json_decref(l);
	return rc;
}
