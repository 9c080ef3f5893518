/*
 * update: `tenant update`, a running deployment moved to a new SDL file
 * on the same leases (tenant/update.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/util.h"
#include "ledger/state.h"
#include "tenant/manage.h"
#include "tenant/update.h"
#include "tenant/view.h"

#define UPDATE_TIMEOUT_MS 120000
#define UPDATE_POLL_MS 100

static void
tell(tenant_update_fn fn, void *ctx, const char *lease, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(ctx, lease, buf);
}

static void
nap(void)
{
	struct timespec ts = { 0, UPDATE_POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/* The group of groups whose placement is the order body's, or NULL. */
static json_t *
group_for(const json_t *groups, const json_t *order_body)
{
	const json_t *want = json_object_get(order_body, "placement");
	json_t *g;
	size_t i;

	json_array_foreach(groups, i, g)
	{
		const json_t *pl = json_object_get(g, "placement");
		if ((want == NULL && pl == NULL) ||
		    (want && pl && json_equal(want, pl)))
			return g;
	}
	return NULL;
}

/* A service of placement that a provider cannot replace in place: an
 * OCI image, or a wasm+file module (named by path, paired with the
 * lease's first uploads).  0 or ERR_REJECT. */
static int
replaceable(const json_t *manifest, const char *placement)
{
	const json_t *dep = json_object_get(manifest, "deployment");
	const char *name, *rt, *kind;
	json_t *svc;

	json_object_foreach(json_object_get(manifest, "services"), name, svc)
	{
		if (placement &&
		    json_object_get(json_object_get(dep, name), placement) ==
		        NULL)
			continue;
		rt = json_string_value(json_object_get(svc, "runtime"));
		kind = json_string_value(
		    json_object_get(json_object_get(svc, "image"), "kind"));
		if ((rt && strcmp(rt, "oci") == 0) ||
		    (kind && strcmp(kind, "wasm+file") == 0))
			return err_set(ERR_REJECT,
			    "service %s runs %s: providers replace process "
			    "and wasm+https replicas in place, not %s; close "
			    "the deployment and deploy the new file",
			    name,
			    rt && strcmp(rt, "oci") == 0 ? "an OCI image" :
			                                   "a wasm+file module",
			    rt && strcmp(rt, "oci") == 0 ? "images" :
			                                   "wasm+file modules");
	}
	return 0;
}

/* One lease of the plan: checked against the market's order and lease
 * before anything is signed.  *row gets {"order","lease","provider",
 * "group"}. */
static int
plan_one(struct tenant_client *c, const char *oid, const json_t *groups,
    const json_t *manifest, const char *hex, json_t **row)
{
	json_t *o = NULL, *l = NULL, *g;
	const char *lid, *st, *cur;
	char path[96];
	int rc;

	*row = NULL;
	snprintf(path, sizeof(path), "/v1/orders/%s", oid);
	if ((rc = tenant_market_get(c, path, &o)) != 0)
		return rc;
	lid = json_string_value(json_object_get(o, "lease"));
	if (lid == NULL) {
		rc = err_set(ERR_REJECT,
		    "order %s has no lease (%s): nothing runs to update; "
		    "deploy the file instead",
		    oid,
		    json_string_value(json_object_get(o, "status")) ?
		        json_string_value(json_object_get(o, "status")) :
		        "?");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/leases/%s", lid);
	if ((rc = tenant_market_get(c, path, &l)) != 0)
		goto out;
	st = json_string_value(json_object_get(l, "status"));
	if (st == NULL || strcmp(st, "active") != 0) {
		rc = err_set(ERR_REJECT,
		    "lease %s of order %s is %s: only a running lease is "
		    "updated%s",
		    lid, oid, st ? st : "unknown",
		    st && strcmp(st, "closed") == 0 ?
		        " (deploy the file for a new lease)" :
		        "");
		goto out;
	}
	g = group_for(groups, json_object_get(o, "body"));
	if (g == NULL) {
		const char *pl = json_string_value(
		    json_object_get(json_object_get(o, "body"), "placement"));
		rc = err_set(ERR_REJECT,
		    "the file has no placement %s, which lease %s runs: an "
		    "update keeps the placement groups",
		    pl ? pl : "(none)", lid);
		goto out;
	}
	if ((rc = state_update_check(json_object_get(o, "body"), g,
	         "update")) != 0) {
		err_prefix(rc, "lease %s (order %s)", lid, oid);
		goto out;
	}
	if ((rc = replaceable(manifest,
	         json_string_value(json_object_get(g, "placement")))) != 0) {
		err_prefix(rc, "lease %s", lid);
		goto out;
	}
	cur = json_string_value(json_object_get(l, "manifest_hash"));
	if (cur && strcmp(cur, hex) == 0) {
		rc = err_set(ERR_REJECT,
		    "lease %s runs this manifest already (sha256 %.12s…): "
		    "nothing to update",
		    lid, hex);
		goto out;
	}
	*row = json_pack("{s:s,s:s,s:O,s:O}", "order", oid, "lease", lid,
	    "provider", json_object_get(l, "provider"), "group", g);
	if (*row == NULL)
		rc = err_set(ERR_NOMEM, "out of memory");
out:
	json_decref(o);
	json_decref(l);
	return rc;
}

/* Wait until the provider runs every replica of lid on manifest hex. */
static int
wait_rollout(struct tenant_client *c, const char *api, const char *lid,
    const char *hex, int64_t timeout_ms, tenant_update_fn fn, void *ctx)
{
	int64_t until = util_now_ms() + timeout_ms;
	char path[96], ebuf[512], last[256] = "no status yet";
	json_int_t said = -1;

	snprintf(path, sizeof(path), "/v1/leases/%s/status", lid);
	for (;;) {
		struct http_result res;
		json_t *s = NULL, *rep, *up;
		size_t i, nrun = 0, nrep = 0;
		const char *mh, *st;
		int rc;

		rc = tenant_provider_call(c, api, "GET", path, NULL, NULL, 0, 0,
		    &res);
		if (rc == 0 && res.status == 200)
			s = json_loadb(res.body, res.body_len, 0, NULL);
		else if (rc == 0)
			snprintf(last, sizeof(last), "status HTTP %ld: %s",
			    res.status,
			    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
		else
			err_clear();
		http_result_clear(&res);
		mh = json_string_value(json_object_get(s, "manifest_hash"));
		st = json_string_value(json_object_get(s, "status"));
		up = json_object_get(s, "update");
		json_array_foreach(json_object_get(s, "replicas"), i, rep)
		{
			const char *rs =
			    json_string_value(json_object_get(rep, "state"));
			nrep++;
			if (rs &&
			    (strcmp(rs, "running") == 0 ||
			        strcmp(rs, "completed") == 0))
				nrun++;
		}
		if (up &&
		    json_integer_value(json_object_get(up, "replaced")) !=
		        said) {
			said =
			    json_integer_value(json_object_get(up, "replaced"));
			tell(fn, ctx, lid,
			    "replacing replicas: %lld of %zu done",
			    (long long)said, nrep);
		}
		if (st && strcmp(st, "closed") == 0) {
			json_decref(s);
			return err_set(ERR_REJECT,
			    "lease %s closed during its update", lid);
		}
		if (s && up == NULL && mh && strcmp(mh, hex) == 0 && nrep > 0 &&
		    nrun == nrep) {
			json_decref(s);
			return 0;
		}
		if (s)
			snprintf(last, sizeof(last),
			    "%zu of %zu replicas running%s", nrun, nrep,
			    up ? ", replacing" : "");
		json_decref(s);
		if (util_now_ms() > until)
			return err_set(ERR_REJECT,
			    "lease %s: the provider did not finish the update "
			    "in %lld s (%s)",
			    lid, (long long)(timeout_ms / 1000), last);
		nap();
	}
}

/* Sign lease.update for row's lease, send the manifest, wait. */
static int
update_one(struct tenant_client *c, json_t *row, const char *mtext, size_t mlen,
    const char *hex, int64_t timeout_ms, tenant_update_fn fn, void *ctx)
{
	const char *lid = json_string_value(json_object_get(row, "lease"));
	const char *prov = json_string_value(json_object_get(row, "provider"));
	json_t *body = json_deep_copy(json_object_get(row, "group"));
	struct http_result res;
	char path[96], ebuf[512], *api = NULL;
	uint64_t index = 0;
	int rc;

	if (body == NULL ||
	    json_object_set_new(body, "lease", json_string(lid)) != 0) {
		json_decref(body);
		return err_set(ERR_NOMEM, "out of memory");
	}
	rc = tenant_market_submit(c, "lease.update", body, &index, NULL, 0);
	json_decref(body);
	if (rc != 0)
		return err_prefix(rc, "lease.update %s", lid);
	json_object_set_new(row, "index", json_integer((json_int_t)index));
	json_object_set_new(row, "status", json_string("recorded"));
	tell(fn, ctx, lid,
	    "lease.update recorded at ledger index %llu: manifest sha256 "
	    "%.12s…",
	    (unsigned long long)index, hex);
	if ((rc = tenant_provider_url(c, prov, &api)) != 0)
		return err_prefix(rc, "lease %s", lid);
	snprintf(path, sizeof(path), "/v1/leases/%s/update", lid);
	rc = tenant_provider_call(c, api, "POST", path, "application/json",
	    mtext, mlen, 0, &res);
	if (rc == 0 && res.status != 202)
		rc = err_set(ERR_REJECT,
		    "lease %s: the provider refused the update (HTTP %ld): "
		    "%s; the ledger records the new manifest hash, the lease "
		    "runs the old one: fix the file and update again, or "
		    "close the deployment",
		    lid, res.status,
		    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
	if (rc == 0)
		http_result_clear(&res);
	if (rc != 0) {
		free(api);
		return rc;
	}
	tell(fn, ctx, lid, "manifest sent to %s; replacing its replicas…", api);
	rc = wait_rollout(c, api, lid, hex, timeout_ms, fn, ctx);
	free(api);
	if (rc == 0) {
		json_object_set_new(row, "status", json_string("updated"));
		tell(fn, ctx, lid,
		    "updated: every replica runs the new "
		    "manifest");
	}
	return rc;
}

int
tenant_update(struct tenant_client *c, const struct tenant_paths *p,
    const char *id, const char *file, int64_t timeout_ms,
    struct sdl_errors *errs, tenant_update_fn fn, void *ctx, json_t **result)
{
	struct sdl_deployment *d = NULL;
	json_t *manifest = NULL, *groups = NULL, *ids = NULL, *plan = NULL;
	json_t *res = NULL, *rec = NULL, *v, *row;
	char *mtext = NULL, hex[65];
	uint8_t h[32];
	size_t mlen, i;
	int rc;

	if (result)
		*result = NULL;
	if (timeout_ms <= 0)
		timeout_ms = UPDATE_TIMEOUT_MS;
	if ((rc = sdl_parse_file(file, &d, errs)) != 0)
		goto out;
	if ((rc = sdl_manifest_json(d, &manifest)) != 0 ||
	    (rc = sdl_manifest_hash(d, h)) != 0 ||
	    (rc = sdl_orders_json(d, &groups)) != 0 ||
	    (rc = cjson_dump(manifest, &mtext, &mlen)) != 0)
		goto out;
	hex_encode(h, 32, hex);
	if ((rc = tenant_deployment_orders(c, p, id, &ids)) != 0)
		goto out;
	/* every lease checked before anything is signed */
	if ((plan = json_array()) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(ids, i, v)
	{
		if ((rc = plan_one(c, json_string_value(v), groups, manifest,
		         hex, &row)) != 0)
			goto out;
		json_array_append_new(plan, row);
	}
	if (tenant_is_id(id, 'o') &&
	    json_array_size(plan) < json_array_size(groups)) {
		rc = err_set(ERR_REJECT,
		    "the file has %zu placement groups, deployment %s runs "
		    "%zu: an update keeps the placement groups",
		    json_array_size(groups), id, json_array_size(plan));
		goto out;
	}
	res = json_pack("{s:s,s:s,s:O}", "deployment", id, "manifest_hash", hex,
	    "leases", plan);
	if (res == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(plan, i, row)
	{
		if ((rc = update_one(c, row, mtext, mlen, hex, timeout_ms, fn,
		         ctx)) != 0)
			goto out;
	}
	/* the local record follows the file the leases run now */
	if (tenant_is_id(id, 'o') && tenant_record_load(p, id, &rec) == 0) {
		if (json_object_set_new(rec, "file", json_string(file)) ||
		    json_object_set(rec, "manifest", manifest) ||
		    json_object_set_new(rec, "manifest_hash",
		        json_string(hex)) ||
		    json_object_set_new(rec, "updated",
		        json_integer((json_int_t)util_now_ms())))
			rc = err_set(ERR_NOMEM, "out of memory");
		else
			rc = tenant_record_save(p, rec);
	} else
		err_clear();
out:
	if (plan)
		json_array_foreach(plan, i, row) json_object_del(row, "group");
	if (result && res)
		*result = json_incref(res);
	json_decref(res);
	json_decref(rec);
	json_decref(plan);
	json_decref(ids);
	json_decref(groups);
	json_decref(manifest);
	free(mtext);
	sdl_deployment_free(d);
	return rc;
}
