/*
 * deploy: one SDL file to running services.  Orders go to the market
 * (order.create with escrow, docs/state.md); the manifest goes straight to
 * each winning provider, signed (DESIGN.md "One flow, end to end").  The
 * market is polled, not followed: on loopback a 25 ms poll costs nothing
 * and keeps the state machine a simple loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/reqsig.h"
#include "common/units.h"
#include "common/util.h"
#include "tenant/deploy.h"
#include "tenant/explain.h"
#include "tenant/view.h"
#include "tenant/quote.h"

#define MANIFEST_RETRY_MS 15000 /* provider may lag the ledger */
#define PROBE_MS 10000 /* first answer through the gateway */
#define PROBE_FIRST_MS 50
#define PROBE_MAX_WAIT_MS 1000
#define RESTARTS_FATAL 3
#define BLOB_MAX (64u << 20) /* the provider's body limit */

struct run {
	struct tenant_client *c;
	tenant_progress_fn fn;
	void *ctx;
	struct tenant_rules rules; /* the market's, from /v1/info */
	const char *denom;
};

static void
say(struct run *r, enum tenant_step step, bool done, const char *order,
    const char *lease, const char *fmt, ...)
{
	struct tenant_progress p = { step, done, order, lease, NULL };
	char text[1024];
	va_list ap;

	if (r->fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	p.text = text;
	r->fn(r->ctx, &p);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* "ed25519:abcdefgh…" for progress lines: enough to tell keys apart. */
static const char *
short_key(const char *k, char *buf, size_t cap)
{
	snprintf(buf, cap, "%.20s…", k ? k : "?");
	return buf;
}

static int
set_str(json_t *o, const char *k, const char *v)
{
	if (json_object_set_new(o, k, json_string(v ? v : "")) != 0)
		return err_set(ERR_NOMEM, "out of memory");
	return 0;
}

/* Wait until the order is matched; *lease gets the lease id.  When the
 * TTL passes first, explain why (ERR_NOTFOUND). */
static int
wait_match(struct run *r, const char *order, const json_t *body, char *lease,
    size_t cap)
{
	char path[64];
	bool said = false;
	int64_t expires = 0;
	int rc;

	snprintf(path, sizeof(path), "/v1/orders/%s", order);
	for (;;) {
		json_t *o = NULL, *ps = NULL;
		const char *st, *l, *reason;
		char *why = NULL;
		bool closed;

		if ((rc = tenant_market_get(r->c, path, &o)) != 0)
			return rc;
		st = json_string_value(json_object_get(o, "status"));
		l = json_string_value(json_object_get(o, "lease"));
		reason = json_string_value(json_object_get(o, "reason"));
		expires = json_integer_value(json_object_get(o, "expires"));
		if (l && st && strcmp(st, "matched") == 0) {
			snprintf(lease, cap, "%s", l);
			json_decref(o);
			return 0;
		}
		if (st && strcmp(st, "closed") == 0 &&
		    (reason == NULL || strcmp(reason, "order_expired") != 0)) {
			rc = err_set(ERR_REJECT,
			    "order %s was closed (%s) "
			    "before it matched",
			    order, reason ? reason : "?");
			json_decref(o);
			return rc;
		}
		closed = st && strcmp(st, "closed") == 0;
		json_decref(o); /* st, l and reason die with it */
		if (closed || (expires > 0 && util_now_ms() > expires + 2000)) {
			if ((rc = tenant_market_get(r->c, "/v1/providers",
			         &ps)) != 0)
				return rc;
			char *mwhy = NULL;
			rc = tenant_explain_nomatch(body, ps, &r->rules, &why);
			json_decref(ps);
			if (rc)
				return rc;
			/* the market's own predicate also knows bid policies
			 * and minimum records (a market without quotes: no
			 * more said) */
			if (tenant_quote_why(r->c, body, &mwhy) != 0)
				err_clear();
			rc = err_set(ERR_NOTFOUND,
			    "order %s: nothing matched "
			    "before its TTL: %s%s%s%s",
			    order, why, mwhy && *mwhy ? " (" : "",
			    mwhy ? mwhy : "", mwhy && *mwhy ? ")" : "");
			free(why);
			free(mwhy);
			return rc;
		}
		if (!said) {
			say(r, TENANT_STEP_MATCHED, false, order, NULL,
			    "waiting for a provider to match %s…", order);
			said = true;
		}
		sleep_ms(TENANT_POLL_MS);
	}
}

/* Describe the match: provider, price and why it won. */
static int
show_match(struct run *r, const char *order, const char *lease, json_int_t bid,
    json_t *entry)
{
	json_t *l = NULL, *story = NULL;
	char path[96], kb[64], month[64], hour[64];
	const char *prov;
	json_int_t price, fitting;
	int rc;

	snprintf(path, sizeof(path), "/v1/leases/%s", lease);
	if ((rc = tenant_market_get(r->c, path, &l)) != 0)
		return rc;
	prov = json_string_value(json_object_get(l, "provider"));
	price = json_integer_value(json_object_get(l, "price"));
	snprintf(path, sizeof(path), "/v1/leases/%s/story", lease);
	if (tenant_market_get(r->c, path, &story) != 0)
		err_clear(); /* the story is a nicety */
	fitting = json_integer_value(
	    json_object_get(json_object_get(story, "match"), "fitting"));
	if (set_str(entry, "lease", lease) ||
	    set_str(entry, "provider", prov) ||
	    json_object_set_new(entry, "price", json_integer(price))) {
		rc = ERR_NOMEM;
		goto out;
	}
	units_fmt_tokens(
	    units_rate_per(price, r->rules.epoch_ms, UNITS_MONTH_MS), r->denom,
	    month, sizeof(month));
	units_fmt_tokens(units_rate_per(price, r->rules.epoch_ms, 3600000),
	    r->denom, hour, sizeof(hour));
	say(r, TENANT_STEP_MATCHED, true, order, lease,
	    "%s → lease %s on %s at %lld %s/epoch, %s/hour, %s/month "
	    "(cheapest of %lld fitting ask%s; bid %lld)",
	    order, lease, short_key(prov, kb, sizeof(kb)), (long long)price,
	    r->denom, hour, month, (long long)(fitting ? fitting : 1),
	    fitting == 1 ? "" : "s", (long long)bid);
out:
	json_decref(l);
	json_decref(story);
	return rc;
}

/* One signed request to the provider, retried while it has not yet seen
 * the lease in the ledger (404) or is briefly unavailable (503). */
static int
provider_send(struct run *r, const char *api, const char *method,
    const char *path, const char *ctype, const void *body, size_t len,
    const char *what, const char *lease)
{
	int64_t until = util_now_ms() + MANIFEST_RETRY_MS;
	char ebuf[512];
	int rc;

	for (;;) {
		struct http_result res;
		rc = tenant_provider_call(r->c, api, method, path, ctype, body,
		    len, 0, &res);
		if (rc == 0 && res.status >= 200 && res.status < 300) {
			http_result_clear(&res);
			return 0;
		}
		if (rc == 0 && res.status != 404 && res.status != 503) {
			rc = err_set(ERR_REJECT,
			    "the provider refused the "
			    "%s for %s (HTTP %ld): %s",
			    what, lease, res.status,
			    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
			http_result_clear(&res);
			return rc;
		}
		if (rc == 0) {
			rc = err_set(ERR_IO,
			    "the provider does not know lease "
			    "%s yet (HTTP %ld): %s",
			    lease, res.status,
			    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
			http_result_clear(&res);
		}
		if (util_now_ms() > until)
			return rc;
		err_clear();
		sleep_ms(TENANT_POLL_MS * 2);
	}
}

/* A wasm+file path as written: absolute, relative to the working
 * directory, or else relative to the SDL file's directory. */
static int
blob_path(const char *sdl_file, const char *p, char *out, size_t cap)
{
	const char *slash = strrchr(sdl_file, '/');

	if (p[0] == '/' || access(p, R_OK) == 0 || slash == NULL) {
		snprintf(out, cap, "%s", p);
		return 0;
	}
	if ((size_t)snprintf(out, cap, "%.*s/%s", (int)(slash - sdl_file),
	        sdl_file, p) >= cap)
		return err_set(ERR_LIMIT, "path too long: %s", p);
	return 0;
}

/* Upload the module of every wasm+file service of the placement as a
 * content-addressed blob (PUT .../blobs/<sha256>), before the manifest
 * that needs it. */
static int
send_blobs(struct run *r, const char *sdl_file, const json_t *manifest,
    const char *placement, const char *api, const char *lease, size_t *nblobs,
    size_t *bytes)
{
	const json_t *svcs = json_object_get(manifest, "services");
	const json_t *dep = json_object_get(manifest, "deployment");
	const char *name;
	json_t *svc;
	int rc;

	*nblobs = *bytes = 0;
	json_object_foreach((json_t *)svcs, name, svc)
	{
		const json_t *img = json_object_get(svc, "image");
		const char *kind =
		    json_string_value(json_object_get(img, "kind"));
		const char *url =
		    json_string_value(json_object_get(img, "url"));
		char path[4096], rpath[160], hex[65], *data = NULL;
		size_t len;

		if (placement &&
		    json_object_get(json_object_get(dep, name), placement) ==
		        NULL)
			continue;
		if (kind == NULL || strcmp(kind, "wasm+file") != 0 || !url)
			continue;
		if ((rc = blob_path(sdl_file, url, path, sizeof(path))) != 0 ||
		    (rc = util_read_file(path, BLOB_MAX, &data, &len)) != 0)
			return err_prefix(rc, "service %s", name);
		reqsig_sha256_hex(data, len, hex);
		snprintf(rpath, sizeof(rpath), "/v1/leases/%s/blobs/%s", lease,
		    hex);
		rc = provider_send(r, api, "PUT", rpath, "application/wasm",
		    data, len, "blob", lease);
		free(data);
		if (rc)
			return rc;
		(*nblobs)++;
		*bytes += len;
	}
	return 0;
}

/* "12.3 MB" (decimal units, as registries show sizes). */
static void
human(uint64_t b, char *buf, size_t cap)
{
	if (b >= 1000000)
		snprintf(buf, cap, "%.1f MB", (double)b / 1e6);
	else if (b >= 1000)
		snprintf(buf, cap, "%.1f kB", (double)b / 1e3);
	else
		snprintf(buf, cap, "%llu B", (unsigned long long)b);
}

/* The images the provider pulls for the lease (its status' "images"):
 * bytes / total while pulling, the digest once pulled (said once per
 * service, remembered in seen).  ERR_REJECT when a pull failed. */
static int
show_images(struct run *r, const char *lease, const json_t *images,
    json_t *seen)
{
	const char *svc, *st, *ref, *dig;
	char done[32], total[32];
	json_t *im;

	json_object_foreach((json_t *)images, svc, im)
	{
		st = json_string_value(json_object_get(im, "state"));
		ref = json_string_value(json_object_get(im, "reference"));
		dig = json_string_value(json_object_get(im, "digest"));
		human((uint64_t)json_integer_value(json_object_get(im, "done")),
		    done, sizeof(done));
		human(
		    (uint64_t)json_integer_value(json_object_get(im, "total")),
		    total, sizeof(total));
		if (st == NULL || ref == NULL)
			continue;
		if (strcmp(st, "failed") == 0)
			return err_set(ERR_REJECT,
			    "lease %s: image %s of %s: %s", lease, ref, svc,
			    json_string_value(json_object_get(im, "error")) ?
			        json_string_value(
			            json_object_get(im, "error")) :
			        "pull failed");
		if (strcmp(st, "ready") == 0 && dig != NULL &&
		    json_object_get(seen, svc) == NULL) {
			json_object_set_new(seen, svc, json_true());
			say(r, TENANT_STEP_FETCHED, true, NULL, lease,
			    "image %s: %s %s (%s)", svc, ref, dig, total);
		} else if (strcmp(st, "ready") != 0 &&
		    json_integer_value(json_object_get(im, "total")) == 0)
			say(r, TENANT_STEP_FETCHED, false, NULL, lease,
			    "pulling %s for %s: resolving…", ref, svc);
		else if (strcmp(st, "ready") != 0)
			say(r, TENANT_STEP_FETCHED, false, NULL, lease,
			    "pulling %s for %s: %s / %s", ref, svc, done,
			    total);
	}
	return 0;
}

/* Poll the provider's status until every replica runs; *ports gets its
 * forwarded ports then (tenant_forwarded_ports; NULL: none). */
static int
wait_running(struct run *r, const char *api, const char *lease,
    int64_t timeout_ms, json_t **ports)
{
	int64_t until = util_now_ms() + timeout_ms;
	char path[96], ebuf[512];
	const char *why = "no status yet";
	char whybuf[512];
	json_t *seen = json_object();
	int rc;

	snprintf(path, sizeof(path), "/v1/leases/%s/status", lease);
	for (;;) {
		struct http_result res;
		json_t *s = NULL, *reps, *rep;
		size_t i, nrun = 0, nrep;
		const char *st;

		rc = tenant_provider_call(r->c, api, "GET", path, NULL, NULL, 0,
		    0, &res);
		if (rc == 0 && res.status == 200)
			s = json_loadb(res.body, res.body_len, 0, NULL);
		else if (rc == 0) {
			snprintf(whybuf, sizeof(whybuf), "status HTTP %ld: %s",
			    res.status,
			    tenant_error_text(res.body, ebuf, sizeof(ebuf)));
			why = whybuf;
		} else
			err_clear();
		http_result_clear(&res);
		if ((rc = show_images(r, lease, json_object_get(s, "images"),
		         seen)) != 0) {
			json_decref(s);
			json_decref(seen);
			return rc;
		}
		st = json_string_value(json_object_get(s, "status"));
		reps = json_object_get(s, "replicas");
		nrep = json_array_size(reps);
		json_array_foreach(reps, i, rep)
		{
			const char *rs =
			    json_string_value(json_object_get(rep, "state"));
			json_int_t restarts = json_integer_value(
			    json_object_get(rep, "restarts"));
			if (rs && strcmp(rs, "running") == 0)
				nrun++;
			else if (restarts >= RESTARTS_FATAL) {
				const char *le = json_string_value(
				    json_object_get(rep, "last_error"));
				rc = err_set(ERR_REJECT,
				    "lease %s: service %s "
				    "keeps failing (exit %lld, %lld restarts)"
				    "%s%s",
				    lease,
				    json_string_value(
				        json_object_get(rep, "service")),
				    (long long)json_integer_value(
				        json_object_get(rep, "last_exit")),
				    (long long)restarts,
				    le && le[0] ? ": " : "", le ? le : "");
				json_decref(s);
				json_decref(seen);
				return rc;
			}
		}
		if (st && strcmp(st, "closed") == 0) {
			const char *cr = json_string_value(
			    json_object_get(s, "close_reason"));
			const char *cd = json_string_value(
			    json_object_get(s, "close_detail"));
			const char *le = NULL;
			/* why, when a replica says (an image that could not
			 * be pulled) */
			json_array_foreach(reps, i, rep) if (le == NULL)
			{
				le = json_string_value(
				    json_object_get(rep, "last_error"));
				if (le != NULL && le[0] == '\0')
					le = NULL;
			}
			/* the provider's close detail first */
			if (cd != NULL && cd[0] != '\0')
				le = cd;
			rc = err_set(ERR_REJECT,
			    "lease %s was closed on the "
			    "provider (%s)%s%s",
			    lease, cr && cr[0] ? cr : "?", le ? ": " : "",
			    le ? le : "");
			json_decref(s);
			json_decref(seen);
			return rc;
		}
		if (st && strcmp(st, "running") == 0 && nrep > 0 &&
		    nrun == nrep) {
			*ports = tenant_forwarded_ports(s, api);
			json_decref(s);
			json_decref(seen);
			return 0;
		}
		if (st) {
			snprintf(whybuf, sizeof(whybuf),
			    "provider status %s, "
			    "%zu of %zu replicas running",
			    st, nrun, nrep);
			why = whybuf;
		}
		json_decref(s);
		if (util_now_ms() > until) {
			json_decref(seen);
			return err_set(ERR_REJECT,
			    "lease %s did not run within "
			    "%lld s (%s)",
			    lease, (long long)(timeout_ms / 1000), why);
		}
		sleep_ms(TENANT_POLL_MS);
	}
}

/* First answer through the gateway that is not a gateway error.  The
 * wait between tries doubles from PROBE_FIRST_MS to PROBE_MAX_WAIT_MS: a
 * service that takes seconds to listen costs a dozen requests, not
 * hundreds (those the gateway answers itself are not billed either). */
static long
probe(const char *url)
{
	int64_t until = util_now_ms() + PROBE_MS;
	long wait = PROBE_FIRST_MS;

	for (;;) {
		struct http_result res;
		long st = 0;
		if (http_fetch("GET", url, NULL, NULL, 0, 2000, &res) == 0) {
			st = res.status;
			http_result_clear(&res);
			if (st != 502 && st != 503 && st != 504)
				return st;
		}
		err_clear();
		if (util_now_ms() + wait > until)
			return st;
		sleep_ms(wait);
		wait =
		    wait * 2 > PROBE_MAX_WAIT_MS ? PROBE_MAX_WAIT_MS : wait * 2;
	}
}

/* Does the manifest give the services of placement any artifact to
 * fetch (anything but a host image)? */
static bool
has_artifacts(const json_t *manifest, const char *placement)
{
	const json_t *svcs = json_object_get(manifest, "services");
	const json_t *dep = json_object_get(manifest, "deployment");
	const char *name;
	json_t *svc;

	json_object_foreach((json_t *)svcs, name, svc)
	{
		const char *kind = json_string_value(
		    json_object_get(json_object_get(svc, "image"), "kind"));
		if (placement &&
		    json_object_get(json_object_get(dep, name), placement) ==
		        NULL)
			continue;
		if (kind == NULL || strcmp(kind, "host") != 0)
			return true;
	}
	return false;
}

/* URLs of the services of placement that expose a global port. */
static int
service_urls(struct run *r, const json_t *manifest, const char *placement,
    const char *api, const char *order, const char *lease, json_t *entry)
{
	const json_t *svcs = json_object_get(manifest, "services");
	const json_t *dep = json_object_get(manifest, "deployment");
	json_t *urls = json_object();
	const char *name;
	json_t *svc;

	if (urls == NULL || json_object_set_new(entry, "services", urls))
		return err_set(ERR_NOMEM, "out of memory");
	json_object_foreach((json_t *)svcs, name, svc)
	{
		json_t *ex;
		size_t i;
		bool global = false;
		char url[1024];
		long st;

		if (placement &&
		    json_object_get(json_object_get(dep, name), placement) ==
		        NULL)
			continue;
		json_array_foreach(json_object_get(svc, "expose"), i,
		    ex) if (json_is_true(json_object_get(ex, "global")))
		    global = true;
		if (!global)
			continue;
		snprintf(url, sizeof(url), "%s/l/%s/%s/", api, lease, name);
		if (json_object_set_new(urls, name, json_string(url)))
			return err_set(ERR_NOMEM, "out of memory");
		st = probe(url);
		if (st > 0)
			say(r, TENANT_STEP_URL, true, order, lease,
			    "%s: %s "
			    "(answers HTTP %ld)",
			    name, url, st);
		else
			say(r, TENANT_STEP_URL, true, order, lease,
			    "%s: %s "
			    "(no answer yet)",
			    name, url);
	}
	return 0;
}

/* The manifest could not be delivered (rc, err_msg() says why): close
 * the lease manifest_not_delivered, so the provider cannot bill it and
 * the whole escrow comes back, and say so (entry's "status" becomes
 * "closed").  Returns ERR_REJECT (the
 * provider could not take the deployment: TENANT_FAIL_PROVIDER) with the
 * message extended; ERR_NOMEM stays itself. */
static int
undelivered(struct run *r, const char *lease, const char *where, int rc,
    json_t *entry)
{
	char why[ERR_MSG_SIZE], closed[ERR_MSG_SIZE];
	json_t *body;
	int crc;

	snprintf(why, sizeof(why), "%s", err_msg());
	body = json_pack("{s:s,s:s}", "lease", lease, "reason",
	    "manifest_not_delivered");
	crc = body ?
	    tenant_market_submit(r->c, "lease.close", body, NULL, NULL, 0) :
	    err_set(ERR_NOMEM, "out of memory");
	json_decref(body);
	if (crc == 0 && set_str(entry, "status", "closed") == 0)
		snprintf(closed, sizeof(closed),
		    "lease %s is closed manifest_not_delivered: nothing is "
		    "charged and its escrow is back in your balance",
		    lease);
	else
		snprintf(closed, sizeof(closed),
		    "closing lease %s as manifest_not_delivered failed: %s",
		    lease, err_msg());
	return err_set(rc == ERR_NOMEM ? rc : ERR_REJECT,
	    "the manifest could not be delivered to %s: %s; %s", where, why,
	    closed);
}

/* Everything after the match for one order. */
static int
bring_up(struct run *r, const struct tenant_deploy_opts *o,
    const json_t *manifest, const char *mtext, size_t mlen, const char *mhash,
    const char *placement, const char *order, const char *lease, json_t *entry)
{
	const char *prov =
	    json_string_value(json_object_get(entry, "provider"));
	char *api = NULL, path[96];
	json_t *ports = NULL;
	size_t nblobs, blob_bytes;
	int rc;

	if ((rc = tenant_provider_url(r->c, prov, &api)) != 0)
		return undelivered(r, lease, prov, rc, entry);
	if ((rc = set_str(entry, "api_url", api)) != 0)
		goto out;
	say(r, TENANT_STEP_MANIFEST, false, order, lease,
	    "sending the "
	    "manifest to %s…",
	    api);
	snprintf(path, sizeof(path), "/v1/leases/%s/manifest", lease);
	if ((rc = send_blobs(r, o->file, manifest, placement, api, lease,
	         &nblobs, &blob_bytes)) != 0 ||
	    (rc = provider_send(r, api, "POST", path, "application/json", mtext,
	         mlen, "manifest", lease)) != 0) {
		rc = undelivered(r, lease, api, rc, entry);
		goto out;
	}
	if (nblobs)
		say(r, TENANT_STEP_MANIFEST, true, order, lease,
		    "sent to %s "
		    "(sha256 %.12s…, %zu bytes) with %zu blob%s (%zu bytes)",
		    api, mhash, mlen, nblobs, nblobs == 1 ? "" : "s",
		    blob_bytes);
	else
		say(r, TENANT_STEP_MANIFEST, true, order, lease,
		    "sent to %s "
		    "(sha256 %.12s…, %zu bytes); no blobs to send",
		    api, mhash, mlen);
	say(r, TENANT_STEP_FETCHED, false, order, lease,
	    "waiting for %s to "
	    "start…",
	    lease);
	if ((rc = wait_running(r, api, lease,
	         o->run_timeout_ms > 0 ? o->run_timeout_ms :
	                                 TENANT_DEFAULT_RUN_TIMEOUT_MS,
	         &ports)) != 0)
		goto out;
	if (has_artifacts(manifest, placement))
		say(r, TENANT_STEP_FETCHED, true, order, lease,
		    "artifacts "
		    "fetched and checked");
	else
		say(r, TENANT_STEP_FETCHED, true, order, lease,
		    "no artifacts "
		    "to fetch (host userland)");
	say(r, TENANT_STEP_RUNNING, true, order, lease,
	    "%s: every replica "
	    "running",
	    lease);
	(void)set_str(entry, "status", "running");
	rc = service_urls(r, manifest, placement, api, order, lease, entry);
	/* Akash's forwarded_ports: host:port → service:port/proto */
	if (rc == 0 && ports != NULL) {
		json_t *p;
		size_t i;
		json_array_foreach(ports, i, p)
		{
			say(r, TENANT_STEP_URL, true, order, lease,
			    "%s (forwarded port)",
			    json_string_value(json_object_get(p, "text")));
		}
		if (json_object_set(entry, "forwarded_ports", ports) != 0)
			rc = err_set(ERR_NOMEM, "out of memory");
	}
out:
	json_decref(ports);
	free(api);
	return rc;
}

/* Add v to the amount of denom d in need (an object of integers). */
static int
need_add(json_t *need, const char *d, int64_t v)
{
	int64_t have = json_integer_value(json_object_get(need, d)), sum;

	if (__builtin_add_overflow(have, v, &sum))
		return err_set(ERR_RANGE, "the deposits overflow int64");
	if (json_object_set_new(need, d, json_integer(sum)) != 0)
		return err_set(ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * Before any order is posted, the money traps (issue 12, case 7): a
 * deposit no provider takes now (the market's quote) though one would
 * with more escrow: the least deposit that would do is named (the
 * minimum lease, the market's or the ask's policy's, x its price; the
 * market would hold the order unmatched), and a
 * balance that cannot pay the deposits and fees.  Each
 * refusal names the amount needed.  explicit: the deposit came from
 * --deposit.
 */
static int
preflight(struct run *r, const json_t *groups, const json_t *info,
    bool explicit)
{
	const char *fee_denom = json_string_value(
	    json_array_get(json_object_get(info, "denoms"), 0));
	int64_t fee = tenant_fee_of(info, "order.create");
	json_t *acct = NULL, *need = json_object(), *g, *v;
	json_t *q = NULL, *qin = NULL, *qun = NULL, *ps = NULL;
	char path[160], key[64], hint[512];
	const char *d;
	size_t i;
	int rc;

	if (need == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	/* the market's own quote (bid policies, minimum records and the
	 * earlier groups' reservations included): with the deposits as
	 * given, and for a group nobody takes, with its escrow unbounded,
	 * whose fitting asks say the least deposit that would do */
	if ((rc = tenant_quote_orders(r->c, groups, &q)) != 0)
		goto out;
	if ((rc = tenant_market_get(r->c, "/v1/providers", &ps)) != 0)
		goto out;
	/* what no provider offers can never match (issue 15) */
	json_array_foreach(groups, i, g)
	{
		char miss[128], text[200];
		if (!tenant_missing_capability(g, ps, miss, sizeof(miss)))
			continue;
		tenant_capability_text(miss, text, sizeof(text));
		rc = err_set(ERR_REJECT,
		    "placement %s needs %s (capability %s), which no provider "
		    "on this market offers: the order could never match, so "
		    "none was posted and nothing was spent",
		    json_string_value(json_object_get(g, "placement")) ?
		        json_string_value(json_object_get(g, "placement")) :
		        "?",
		    text, miss);
		goto out;
	}
	if ((qin = json_deep_copy(groups)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(qin, i, g)
	    json_object_set_new(g, "deposit", json_integer(INT64_MAX));
	json_array_foreach(groups, i, g)
	{
		int64_t dep = json_integer_value(json_object_get(g, "deposit"));
		int64_t price = 0, min = INT64_MAX, epochs = 0;
		const char *gd = json_string_value(json_object_get(g, "denom"));
		json_t *qg = json_array_get(json_object_get(q, "groups"), i);
		json_t *f;
		size_t k;

		if ((rc = need_add(need, gd ? gd : "", dep)) != 0 ||
		    (rc = need_add(need, fee_denom ? fee_denom : "", fee)) != 0)
			goto out;
		if (json_is_string(json_object_get(qg, "winner")))
			continue; /* this deposit is taken */
		if (qun == NULL &&
		    (rc = tenant_quote_orders(r->c, qin, &qun)) != 0)
			goto out;
		qg = json_array_get(json_object_get(qun, "groups"), i);
		json_array_foreach(json_object_get(qg, "fitting"), k, f)
		{
			int64_t p =
			    json_integer_value(json_object_get(f, "price"));
			int64_t e = json_integer_value(
			    json_object_get(f, "min_lease_epochs"));
			int64_t m;
			if (__builtin_mul_overflow(p, e, &m))
				m = INT64_MAX;
			if (m < min || epochs == 0) {
				min = m;
				price = p;
				epochs = e;
				snprintf(key, sizeof(key), "%s",
				    json_string_value(
				        json_object_get(f, "provider")));
			}
		}
		if (epochs == 0)
			continue; /* nothing fits now: the order waits */
		if (dep >= min)
			continue;
		rc = err_set(ERR_REJECT,
		    "%s %lld %s is below the minimum lease at the cheapest "
		    "provider that fits now (%s: %lld %s/epoch x %lld epochs "
		    "= %lld %s): give --deposit %lld or more.  --deposit "
		    "moves that much from your balance into the order's "
		    "escrow; the provider is paid from it at the agreed price "
		    "and what is not spent comes back when it closes",
		    explicit ? "--deposit" : "the default deposit",
		    (long long)dep, gd ? gd : "", key, (long long)price,
		    gd ? gd : "", (long long)epochs, (long long)min,
		    gd ? gd : "", (long long)min);
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/accounts/%s", r->c->address);
	if ((rc = tenant_market_get(r->c, path, &acct)) != 0)
		goto out;
	json_object_foreach(need, d, v)
	{
		int64_t want = json_integer_value(v);
		int64_t have = json_integer_value(
		    json_object_get(json_object_get(acct, "balances"), d));
		if (have >= want)
			continue;
		rc = err_set(ERR_REJECT,
		    "your balance is %lld %s; this deployment needs %lld %s "
		    "(the escrow of its order%s, which --deposit sets: it "
		    "moves from your balance into the order and what is not "
		    "spent comes back on close; and %lld of fees per order). "
		    "%s",
		    (long long)have, d, (long long)want, d,
		    json_array_size(groups) == 1 ? "" : "s", (long long)fee,
		    tenant_fund_hint(r->c, hint, sizeof(hint)));
		goto out;
	}
out:
	json_decref(ps);
	json_decref(q);
	json_decref(qun);
	json_decref(qin);
	json_decref(acct);
	json_decref(need);
	return rc;
}

static int
default_deposit(const json_t *group, int64_t *out)
{
	json_int_t mp = json_integer_value(json_object_get(group, "max_price"));
	int64_t d;

	if (mp <= 0)
		return err_set(ERR_INVAL, "order without a positive max_price");
	if (__builtin_mul_overflow((int64_t)mp,
	        (int64_t)TENANT_DEFAULT_DEPOSIT_EPOCHS, &d))
		return err_set(ERR_RANGE,
		    "default deposit overflows; give "
		    "--deposit");
	*out = d;
	return 0;
}

int
tenant_deploy(struct tenant_client *c, const struct tenant_paths *paths,
    const struct tenant_deploy_opts *o, tenant_progress_fn fn, void *ctx,
    struct sdl_errors *errs, enum tenant_failure *failure, json_t **result)
{
	struct run r = { c, fn, ctx, { 0, 0 }, "" };
	struct sdl_deployment *d = NULL;
	json_t *manifest = NULL, *groups = NULL, *info = NULL, *res = NULL;
	json_t *orders, *rec = NULL, *ids, *g;
	char *mtext = NULL, hex[65], dep_h[64];
	uint8_t h[32];
	size_t mlen, i;
	int64_t ttl = o->ttl_ms > 0 ? o->ttl_ms : TENANT_DEFAULT_TTL_MS;
	int rc;

	*failure = TENANT_FAIL_OTHER;
	if (result)
		*result = NULL;
	res = json_pack("{s:s,s:[]}", "deployment", "", "orders");
	rec = json_pack("{s:s,s:s,s:[],s:I}", "file", o->file, "market",
	    c->market, "orders", "created", (json_int_t)util_now_ms());
	if (res == NULL || rec == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	orders = json_object_get(res, "orders");
	ids = json_object_get(rec, "orders");

	if ((rc = sdl_parse_file(o->file, &d, errs)) != 0) {
		if (rc == ERR_INVAL)
			*failure = TENANT_FAIL_SDL;
		goto out;
	}
	if ((rc = sdl_manifest_json(d, &manifest)) != 0 ||
	    (rc = sdl_manifest_hash(d, h)) != 0 ||
	    (rc = sdl_orders_json(d, &groups)) != 0 ||
	    (rc = cjson_dump(manifest, &mtext, &mlen)) != 0) {
		*failure = TENANT_FAIL_SDL;
		goto out;
	}
	hex_encode(h, 32, hex);
	say(&r, TENANT_STEP_VALIDATED, true, NULL, NULL,
	    "%s: %zu "
	    "service%s in %zu placement group%s",
	    o->file, d->nservices, d->nservices == 1 ? "" : "s",
	    json_array_size(groups), json_array_size(groups) == 1 ? "" : "s");
	if ((rc = tenant_market_get(c, "/v1/info", &info)) != 0 ||
	    (rc = tenant_rules_from_info(info, &r.rules)) != 0)
		goto out;
	/* each order's escrow, checked before anything is spent */
	json_array_foreach(groups, i, g)
	{
		int64_t dep = o->deposit;

		if (dep <= 0 && (rc = default_deposit(g, &dep)) != 0)
			goto out;
		if (json_object_set_new(g, "deposit", json_integer(dep)) ||
		    json_object_set_new(g, "ttl_ms", json_integer(ttl))) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((rc = preflight(&r, groups, info, o->deposit > 0)) != 0)
		goto out;

	/* post every order first: matching happens at once on the market */
	json_array_foreach(groups, i, g)
	{
		json_t *entry;
		char id[32];
		int64_t dep = json_integer_value(json_object_get(g, "deposit"));

		r.denom = json_string_value(json_object_get(g, "denom"));
		if (r.denom == NULL)
			r.denom = "";
		rc = tenant_market_submit(c, "order.create", g, NULL, id,
		    sizeof(id));
		if (rc == 0 && id[0] == '\0')
			rc = err_set(ERR_IO, "the market gave no order id");
		if (rc)
			goto out;
		entry = json_pack("{s:s,s:s,s:O,s:I}", "order", id, "placement",
		    json_string_value(json_object_get(g, "placement")) ?
		        json_string_value(json_object_get(g, "placement")) :
		        "",
		    "bid", json_object_get(g, "max_price"), "deposit",
		    (json_int_t)dep);
		if (entry == NULL || json_array_append_new(orders, entry) ||
		    json_array_append_new(ids, json_string(id))) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
		if (i == 0) {
			set_str(res, "deployment", id);
			set_str(rec, "id", id);
		}
		units_fmt_tokens(dep, r.denom, dep_h, sizeof(dep_h));
		say(&r, TENANT_STEP_POSTED, true, id, NULL,
		    "order %s: "
		    "bid up to %lld %s/epoch, escrow %s (%lld %s), ttl %lld s",
		    id,
		    (long long)json_integer_value(
		        json_object_get(g, "max_price")),
		    r.denom, dep_h, (long long)dep, r.denom,
		    (long long)(ttl / 1000));
	}
	if (json_object_set(rec, "manifest", manifest) ||
	    json_object_set_new(rec, "manifest_hash", json_string(hex))) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if (o->no_wait) {
		rc = 0;
		*failure = TENANT_FAIL_NONE;
		goto out;
	}

	json_array_foreach(groups, i, g)
	{
		json_t *entry = json_array_get(orders, i);
		const char *order =
		    json_string_value(json_object_get(entry, "order"));
		const char *placement =
		    json_string_value(json_object_get(g, "placement"));
		char lease[32];

		if ((rc = wait_match(&r, order, g, lease, sizeof(lease)))) {
			if (rc == ERR_NOTFOUND)
				*failure = TENANT_FAIL_NOMATCH;
			set_str(res, "failed_step", "match");
			goto out;
		}
		if ((rc = show_match(&r, order, lease,
		         json_integer_value(json_object_get(g, "max_price")),
		         entry)) != 0)
			goto out;
		if ((rc = bring_up(&r, o, manifest, mtext, mlen, hex, placement,
		         order, lease, entry)) != 0) {
			if (rc == ERR_REJECT)
				*failure = TENANT_FAIL_PROVIDER;
			set_str(res, "failed_step", "run");
			goto out;
		}
	}
	*failure = TENANT_FAIL_NONE;
out:
	/* the record is written whenever an order exists, so that `tenant
	 * close` finds every order of a half-done deployment */
	if (rec && json_array_size(json_object_get(rec, "orders")) > 0) {
		int src = tenant_record_save(paths, rec);
		if (src && rc == 0)
			rc = src;
	}
	if (rc && res) {
		/* not set_str: a failure here must not replace the message */
		json_t *why = json_string(err_msg());
		json_object_set_new(res, "reason",
		    why ? why : json_string("(message not UTF-8)"));
	}
	if (result && res)
		*result = json_incref(res);
	json_decref(res);
	json_decref(rec);
	json_decref(info);
	json_decref(groups);
	json_decref(manifest);
	free(mtext);
	sdl_deployment_free(d);
	return rc;
}
