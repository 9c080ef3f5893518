/*
 * daemon: the provider's main loop.  Threads: the libmicrohttpd threads
 * (API and gateway, api.c), one follower of the market's event stream, and
 * this loop, which alone starts, reaps and stops sandboxes (a sandbox's
 * die-with-parent signal is tied to the thread that started it) and posts
 * lease.started / lease.usage / lease.close, heartbeats and advertisements.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/http.h"
#include "common/log.h"
#include "common/util.h"
#include "provider/daemon.h"
#include "provider/artifact.h"
#include "provider/daemon_internal.h"
#include "provider/follow.h"
#include "wasm/pool.h"

#define LOOP_MS 100
#define HEARTBEAT_MS PROVIDER_HEARTBEAT_MS
#define PRUNE_EVERY_MS 3600000
/* Unused wasm app dirs (a module, its .so) are kept this long, so a
 * tenant who redeploys does not wait for a compile again:
 * LODGE_WASM_APP_KEEP_S overrides it. */
#define WASM_APP_KEEP_S 86400

int
provider_post_entry(const char *market, const struct key *k, const char *kind,
    json_t *body, long *status, char **reply)
{
	static const char *const hdrs[] = { "Content-Type: application/json",
		NULL };
	struct envelope *e = NULL;
	struct http_result r = { 0 };
	char url[600], *canon = NULL;
	size_t len;
	int rc;

	*status = 0;
	if (reply)
		*reply = NULL;
	if ((rc = envelope_sign(k, kind, body, NULL, -1, &e)) < 0 ||
	    (rc = envelope_dump(e, &canon, &len)) < 0)
		goto out;
	snprintf(url, sizeof(url), "%s/v1/entries", market);
	if ((rc = http_fetch("POST", url, hdrs, canon, len, 10000, &r)) < 0)
		goto out;
	*status = r.status;
	if (reply) {
		*reply = r.body;
		r.body = NULL;
	}
out:
	http_result_clear(&r);
	free(canon);
	envelope_free(e);
	return rc;
}

/* GET market+path as JSON. */
static int
market_get(struct pd *pd, const char *path, json_t **out)
{
	struct http_result r = { 0 };
	char url[700];
	json_error_t je;
	int rc;

	*out = NULL;
	snprintf(url, sizeof(url), "%s%s", pd->cfg.market, path);
	if ((rc = http_fetch("GET", url, NULL, NULL, 0, 10000, &r)) < 0)
		return rc;
	if (r.status != 200) {
		rc = err_set(r.status == 404 ? ERR_NOTFOUND : ERR_IO,
		    "GET %s: HTTP %ld", url, r.status);
		goto out;
	}
	if ((*out = json_loadb(r.body, r.body_len, 0, &je)) == NULL)
		rc = err_set(ERR_INVAL, "GET %s: %s", url, je.text);
out:
	http_result_clear(&r);
	return rc;
}

/* Post one entry; *reply (malloc'd, may be NULL) gets the market's
 * answer.  0 on 201; ERR_REJECT when the rules refused it (422); ERR_IO
 * otherwise: unreachable, rate-limited, or this key cannot pay the fee
 * (402: the owner is told to fund the key), all worth a retry later. */
static int
post_reply(struct pd *pd, const char *kind, json_t *body, const char *what,
    char **reply)
{
	long status;
	int rc;

	rc = provider_post_entry(pd->cfg.market, pd->key, kind, body, &status,
	    reply);
	if (rc < 0) {
		log_warn("%s: %s", what, err_msg());
	} else if (status == 402) {
		log_warn("%s: fund the key %s: %s (`provider bond` says how "
		         "much: `market deposit` from the treasury, or an "
		         "account.transfer from a funded key)",
		    what, pd->key_text, *reply ? *reply : "");
		rc = ERR_IO;
	} else if (status != 201) {
		log_warn("%s: market answered %ld %s", what, status,
		    *reply ? *reply : "");
		rc = status == 422 ? ERR_REJECT : ERR_IO;
	} else
		log_debug("%s: posted", what);
	return rc;
}

static int
post(struct pd *pd, const char *kind, json_t *body, const char *what)
{
	char *reply = NULL;
	int rc;

	rc = post_reply(pd, kind, body, what, &reply);
	free(reply);
	return rc;
}

struct lease *
pd_find_lease(struct pd *pd, const char *id)
{
	struct lease *l;

	for (l = pd->leases; l; l = l->next)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

void
pd_request_close(struct pd *pd, struct lease *l, const char *reason,
    int post_close)
{
	if (l->status == LEASE_CLOSED || l->pending_close[0])
		return;
	snprintf(l->pending_close, sizeof(l->pending_close), "%s", reason);
	l->post_close = post_close;
	pd->dirty = 1;
}

/* ---- persistence: DATA/state.json ---- */

static int
save_state(struct pd *pd)
{
	json_t *j = json_object(), *arr = json_array(), *lj;
	struct lease *l;
	char path[PATH_MAX + 16], *text;
	int rc;

	if (j == NULL || arr == NULL) {
		json_decref(j);
		json_decref(arr);
		return err_set(ERR_NOMEM, "out of memory");
	}
	json_object_set_new(j, "next_index",
	    json_integer((json_int_t)pd->next_index));
	for (l = pd->leases; l; l = l->next)
		if (lease_to_json(l, &lj) == 0)
			json_array_append_new(arr, lj);
	json_object_set_new(j, "leases", arr);
	text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(j);
	if (text == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	snprintf(path, sizeof(path), "%s/state.json", pd->data);
	rc = util_write_file(path, text, strlen(text), 0600);
	free(text);
	pd->dirty = 0;
	return rc;
}

static void
lease_dir(struct pd *pd, const char *id, char *buf, size_t cap)
{
	snprintf(buf, cap, "%.3800s/leases/%.32s", pd->data, id);
}

int
pd_prepare_artifacts(struct pd *pd, struct lease *l)
{
	size_t i;
	int rc;

	if ((rc = lease_resolve_wasm_blobs(l)) < 0)
		return rc;
	/* ---- images (provider/image_run.h): pulled off the loop ---- */
	for (i = 0; i < l->nrep && !l->rep[i].oci; i++)
		;
	if (i < l->nrep && pd->images == NULL) {
		char why[256];
		sandbox_image_supported(why, sizeof(why));
		return err_set(ERR_REJECT,
		    "manifest: service %s needs the \"oci\" runtime, which "
		    "this provider does not offer: %s",
		    l->rep[i].service, why[0] ? why : "no image cache");
	}
	if (i < l->nrep && (rc = image_run_queue(pd->images, l)) < 0)
		return rc;
	/* ---- */
	for (i = 0; i < l->nrep; i++) {
		struct lease_replica *r = &l->rep[i];
		json_t *img;
		json_error_t je;
		if (r->wasm && r->wasm_path == NULL) {
			/* wasm+file: the tenant's blob, already checked by its
			 * hash; wasm+https: fetched and checked now. */
			if (strcmp(r->wasm_kind, "wasm+file") == 0)
				rc = artifact_blob_path(&pd->cache,
				    r->wasm_sha256, &r->wasm_path);
			else
				rc = artifact_fetch_url(&pd->cache, r->wasm_url,
				    r->wasm_sha256, &r->wasm_path);
			if (rc < 0)
				return err_prefix(rc, "service %s", r->service);
			continue;
		}
		if (r->wasm || r->oci)
			continue;
		if (r->image == NULL || strcmp(r->image, "host") == 0 ||
		    r->app_dir)
			continue;
		if ((img = json_loads(r->image, 0, &je)) == NULL)
			return err_set(ERR_INVAL, "image of %s", r->name);
		rc = artifact_git(&pd->cache,
		    json_string_value(json_object_get(img, "url")),
		    json_string_value(json_object_get(img, "commit")),
		    &r->app_dir);
		json_decref(img);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Sandbox names start with 8 characters of this provider's key, so two
 * providers on one host (tests, several owners) never share a cgroup. */
static void
pd_scope(struct pd *pd, struct lease *l)
{
	snprintf(l->scope, sizeof(l->scope), "p%.8s-", pd->key_text + 8);
}

static int
load_state(struct pd *pd)
{
	char path[PATH_MAX + 64], ldir[PATH_MAX];
	json_t *j, *arr, *lj, *m;
	json_error_t je;
	struct lease *l, **tail = &pd->leases;
	size_t i;

	snprintf(path, sizeof(path), "%s/state.json", pd->data);
	if (access(path, F_OK) != 0)
		return 0;
	if ((j = json_load_file(path, 0, &je)) == NULL)
		return err_set(ERR_CORRUPT, "%s:%d: %s", path, je.line,
		    je.text);
	pd->next_index =
	    (uint64_t)json_integer_value(json_object_get(j, "next_index"));
	arr = json_object_get(j, "leases");
	json_array_foreach(arr, i, lj)
	{
		if (lease_from_json(lj, &l) < 0) {
			log_warn("%s: lease %zu: %s", path, i, err_msg());
			continue;
		}
		pd_scope(pd, l);
		if (l->status != LEASE_CLOSED) {
			lease_dir(pd, l->id, ldir, sizeof(ldir));
			snprintf(path, sizeof(path), "%s/manifest.json", ldir);
			if ((m = json_load_file(path, 0, &je)) != NULL) {
				if (lease_set_manifest(l, m) < 0 ||
				    pd_prepare_artifacts(pd, l) < 0)
					log_warn("lease %s: saved manifest: %s",
					    l->id, err_msg());
				json_decref(m);
			}
		}
		*tail = l;
		tail = &l->next;
	}
	json_decref(j);
	return 0;
}

/* After a restart: take the market's view of each lease (its reported
 * usage never goes backwards; a lease closed meanwhile is stopped). */
static void
reconcile(struct pd *pd)
{
	struct lease *l;
	char path[128];
	json_t *j, *u;
	int i;

	for (l = pd->leases; l; l = l->next) {
		if (l->status == LEASE_CLOSED)
			continue;
		snprintf(path, sizeof(path), "/v1/leases/%s", l->id);
		if (market_get(pd, path, &j) < 0) {
			log_warn("reconcile %s: %s", l->id, err_msg());
			continue;
		}
		u = json_object_get(j, "usage");
		for (i = 0; i < USAGE_COUNT; i++) {
			json_int_t v = json_integer_value(
			    json_object_get(u, lease_counter_name(i)));
			if (v > 0 && (uint64_t)v > l->reported[i])
				l->reported[i] = (uint64_t)v;
			if (l->reported[i] > l->base[i])
				l->base[i] = l->reported[i];
		}
		if (json_integer_value(json_object_get(j, "started")) > 0) {
			l->started_posted = 1;
			l->started_at_ms =
			    json_integer_value(json_object_get(j, "started"));
		}
		if (strcmp(json_string_value(json_object_get(j, "status")) ?
		            json_string_value(json_object_get(j, "status")) :
		            "",
		        "closed") == 0) {
			const char *r =
			    json_string_value(json_object_get(j, "reason"));
			pd_request_close(pd, l, r ? r : "closed", 0);
		}
		json_decref(j);
	}
}

void
pd_wake(struct pd *pd)
{
	pthread_mutex_lock(&pd->mu);
	pthread_cond_signal(&pd->wake);
	pthread_mutex_unlock(&pd->mu);
}

static void
wake_loop(void *ctx)
{
	pd_wake(ctx);
}

/* The "oci" runtime, when this host can run images: its cache under
 * DATA/cache/images, pulls in image_run's worker. */
static int
setup_images(struct pd *pd)
{
	struct image_run_config ic;
	struct image_mirror *m = NULL;
	const char **ins = NULL;
	char cache[PATH_MAX + 32], leases[PATH_MAX + 32], why[256];
	char **mtext = NULL;
	size_t nm = json_array_size(pd->cfg.registry_mirrors), i;
	size_t ni = json_array_size(pd->cfg.insecure_registries);
	int rc = 0;

	if (!sandbox_image_supported(why, sizeof(why))) {
		log_info("no \"oci\" runtime: %s", why);
		return 0;
	}
	memset(&ic, 0, sizeof(ic));
	snprintf(cache, sizeof(cache), "%s/cache/images", pd->data);
	snprintf(leases, sizeof(leases), "%s/leases", pd->data);
	if ((nm &&
	        ((m = calloc(nm, sizeof(*m))) == NULL ||
	            (mtext = calloc(nm, sizeof(*mtext))) == NULL)) ||
	    (ni && (ins = calloc(ni, sizeof(*ins))) == NULL)) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < nm; i++) {
		if ((mtext[i] = strdup(json_string_value(json_array_get(
		         pd->cfg.registry_mirrors, i)))) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = image_run_parse_mirror(mtext[i], &m[i])) < 0)
			goto out;
	}
	for (i = 0; i < ni; i++)
		ins[i] = json_string_value(
		    json_array_get(pd->cfg.insecure_registries, i));
	ic.cache_dir = cache;
	ic.leases_dir = leases;
	ic.cache_max_bytes = pd->cfg.image_cache_max_bytes;
	ic.id_base = pd->cfg.image_id_base;
	ic.mirrors = m;
	ic.n_mirrors = nm;
	ic.insecure = ins;
	ic.n_insecure = ni;
	ic.wake = wake_loop;
	ic.wake_ctx = pd;
	rc = image_runner_new(&ic, &pd->images);
out:
	for (i = 0; mtext != NULL && i < nm; i++)
		free(mtext[i]);
	free(mtext);
	free(m);
	free(ins);
	return rc;
}

/* ---- the event stream ---- */

static uint64_t
next_index(void *ctx)
{
	struct pd *pd = ctx;
	uint64_t n;

	pthread_mutex_lock(&pd->mu);
	n = pd->next_index;
	pthread_mutex_unlock(&pd->mu);
	return n;
}

static int
on_lease_create(struct pd *pd, const struct envelope *e, uint64_t index)
{
	char id[32], path[64];
	const char *order, *tenant, *hash, *placement;
	json_t *o = NULL;
	struct lease *l;
	int rc;

	if (memcmp(e->signer, pd->market_key, KEY_PUB_LEN) != 0)
		return 0; /* only the market creates leases */
	snprintf(id, sizeof(id), "l-%llu", (unsigned long long)index);
	if (!logwatch_accepting(&pd->watch)) { /* logwatch.h */
		log_error("lease %s: not taken: the market's checkpoints do "
		          "not verify (see the alarm above)",
		    id);
		return 0;
	}
	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, id);
	pthread_mutex_unlock(&pd->mu);
	if (l)
		return 0;
	if (cjson_get_str(e->body, "order", "lease.create.order", &order) < 0)
		return 0;
	snprintf(path, sizeof(path), "/v1/orders/%s", order);
	if ((rc = market_get(pd, path, &o)) < 0) {
		log_warn("lease %s: %s", id, err_msg());
		return rc; /* retried after reconnecting */
	}
	tenant = json_string_value(json_object_get(o, "tenant"));
	hash = json_string_value(
	    json_object_get(json_object_get(o, "body"), "manifest_hash"));
	placement = json_string_value(
	    json_object_get(json_object_get(o, "body"), "placement"));
	if ((rc = lease_new(id, order, tenant, hash, placement ? placement : "",
	         &l)) < 0) {
		log_warn("lease %s: %s", id, err_msg());
		json_decref(o);
		return 0;
	}
	json_decref(o);
	pd_scope(pd, l);
	pthread_mutex_lock(&pd->mu);
	l->next = pd->leases;
	pd->leases = l;
	pd->dirty = 1;
	pthread_mutex_unlock(&pd->mu);
	log_info("lease %s: created for order %s by %s; waiting for its "
	         "manifest",
	    id, l->order, l->tenant_text);
	return 0;
}

static int
on_leaf(void *ctx, const json_t *leaf)
{
	struct pd *pd = ctx;
	struct envelope *e = NULL;
	json_int_t index = json_integer_value(json_object_get(leaf, "index"));
	const char *s;
	struct lease *l;
	int rc = 0;

	if (index < 0 || (uint64_t)index < next_index(pd))
		return 0;
	if (envelope_from_json(json_incref(json_object_get(leaf, "entry")),
	        &e) < 0) {
		log_warn("event %lld: %s", (long long)index, err_msg());
		goto done;
	}
	if (strcmp(e->kind, "lease.create") == 0) {
		s = json_string_value(json_object_get(e->body, "provider"));
		if (s && strcmp(s, pd->key_text) == 0 &&
		    (rc = on_lease_create(pd, e, (uint64_t)index)) < 0)
			goto out;
	} else if (strcmp(e->kind, "lease.close") == 0) {
		s = json_string_value(json_object_get(e->body, "lease"));
		pthread_mutex_lock(&pd->mu);
		if (s && (l = pd_find_lease(pd, s)) != NULL) {
			const char *r = json_string_value(
			    json_object_get(e->body, "reason"));
			log_info("lease %s: closed (%s)", s, r ? r : "?");
			pd_request_close(pd, l, r ? r : "closed", 0);
		}
		pthread_mutex_unlock(&pd->mu);
	} else if (strcmp(e->kind, "provider.withdraw") == 0 &&
	    strcmp(e->signer_text, pd->key_text) == 0) {
		/* `provider withdraw`: no new leases; those running go on. */
		pthread_mutex_lock(&pd->mu);
		if (!pd->withdrawn)
			log_info("withdrawn from the market: no new leases; "
			         "restart to advertise again");
		pd->withdrawn = 1;
		pthread_mutex_unlock(&pd->mu);
	} else if (strcmp(e->kind, "provider.offline") == 0) {
		s = json_string_value(json_object_get(e->body, "provider"));
		if (s && strcmp(s, pd->key_text) == 0) {
			pthread_mutex_lock(&pd->mu);
			pd->readvertise = 1;
			pthread_mutex_unlock(&pd->mu);
		}
	}
done:
	pthread_mutex_lock(&pd->mu);
	if ((uint64_t)index + 1 > pd->next_index) {
		pd->next_index = (uint64_t)index + 1;
		pd->dirty = 1;
	}
	pthread_mutex_unlock(&pd->mu);
out:
	envelope_free(e);
	return rc;
}

/* A checkpoint in the stream: verified and proved consistent with the
 * last one (logwatch.h). */
static int
on_checkpoint(void *ctx, const json_t *cp)
{
	struct pd *pd = ctx;

	return logwatch_seen(&pd->watch, cp);
}

static void *
follow_thread(void *arg)
{
	struct pd *pd = arg;

	follow_run(pd->cfg.market, next_index, on_leaf, on_checkpoint, pd,
	    &pd->stop);
	return NULL;
}

/* ---- the main loop ---- */

static void
post_usage(struct pd *pd, struct lease *l, int force)
{
	uint64_t now[USAGE_COUNT];
	json_t *u, *body;
	char what[64];
	int i, changed = 0;

	pthread_mutex_lock(&pd->mu);
	lease_usage_report(l, util_now_ms(), now);
	for (i = 0; i < USAGE_COUNT; i++)
		if (now[i] != l->reported[i])
			changed = 1;
	/* Persist first: what is on disk is never below what was sent. */
	if (changed || force)
		save_state(pd);
	pthread_mutex_unlock(&pd->mu);
	if (!changed)
		return;
	u = json_object();
	for (i = 0; i < USAGE_COUNT; i++)
		json_object_set_new(u, lease_counter_name(i),
		    json_integer((json_int_t)now[i]));
	pthread_mutex_lock(&pd->mu);
	body = json_pack("{s:s,s:o,s:s}", "lease", l->id, "usage", u,
	    "metering", l->metering[0] ? l->metering : "rusage");
	pthread_mutex_unlock(&pd->mu);
	snprintf(what, sizeof(what), "lease.usage %s", l->id);
	if (post(pd, "lease.usage", body, what) == 0) {
		pthread_mutex_lock(&pd->mu);
		memcpy(l->reported, now, sizeof(now));
		pd->dirty = 1;
		pthread_mutex_unlock(&pd->mu);
	}
	json_decref(body);
}

/* Stop the lease's sandboxes outside the lock (the grace period must not
 * block the gateway); see lease_stop_take. */
static void
stop_sandboxes(struct pd *pd, struct lease *l)
{
	struct lease_stopping st;

	pthread_mutex_lock(&pd->mu);
	lease_stop_take(l, &st);
	pthread_mutex_unlock(&pd->mu);
	lease_stop_run(&st, (int)pd->cfg.stop_grace_ms);
	pthread_mutex_lock(&pd->mu);
	lease_stop_finish(l, &st);
	pthread_mutex_unlock(&pd->mu);
}

static void
close_lease(struct pd *pd, struct lease *l)
{
	char reason[32], what[64];
	int post_close;
	json_t *body;

	pthread_mutex_lock(&pd->mu);
	snprintf(reason, sizeof(reason), "%s", l->pending_close);
	post_close = l->post_close;
	pthread_mutex_unlock(&pd->mu);
	stop_sandboxes(pd, l);
	if (pd->images != NULL)
		image_run_forget(pd->images, l->id);
	/* The final usage settles what ran; the market refuses usage once it
	 * has closed the lease, so it only goes before our own close. */
	if (post_close && l->started_posted)
		post_usage(pd, l, 1);
	if (post_close) {
		body = json_pack("{s:s,s:s}", "lease", l->id, "reason", reason);
		snprintf(what, sizeof(what), "lease.close %s", l->id);
		(void)post(pd, "lease.close", body, what);
		json_decref(body);
	}
	pthread_mutex_lock(&pd->mu);
	l->status = LEASE_CLOSED;
	snprintf(l->close_reason, sizeof(l->close_reason), "%s", reason);
	l->pending_close[0] = '\0';
	save_state(pd);
	pthread_mutex_unlock(&pd->mu);
}

/* What the main loop does next for a lease of its tick, decided under
 * the lock: the API and the follower write pending_close and status
 * under it; started_posted is the loop's own. */
enum step {
	STEP_NONE,
	STEP_CLOSE, /* a close is pending */
	STEP_POST_STARTED, /* running, lease.started not yet posted */
	STEP_METER, /* running and started: usage is due each epoch */
};

static enum step
next_step(struct pd *pd, struct lease *l)
{
	enum step s = STEP_NONE;

	pthread_mutex_lock(&pd->mu);
	if (l->pending_close[0])
		s = STEP_CLOSE;
	else if (!l->started_posted && l->nrep &&
	    (lease_replica_running(&l->rep[0]) || l->rep[0].done))
		s = STEP_POST_STARTED;
	else if (l->status == LEASE_RUNNING && l->started_posted)
		s = STEP_METER;
	pthread_mutex_unlock(&pd->mu);
	return s;
}

/* After lease.started was refused (422): the market's view decides.
 * Started already (our earlier post got in, its answer was lost): note
 * it.  Closed: stop it (the follower tells the reason too).  Still
 * waiting for its start: the market refused the tenant's proof, so the
 * lease cannot be billed: close it manifest_refused. */
static void
started_refused(struct pd *pd, struct lease *l, const char *reply)
{
	char path[64];
	const char *st;
	json_t *j = NULL;

	snprintf(path, sizeof(path), "/v1/leases/%s", l->id);
	if (market_get(pd, path, &j) < 0) {
		log_warn("lease %s: %s", l->id, err_msg());
		return; /* retried */
	}
	st = json_string_value(json_object_get(j, "status"));
	pthread_mutex_lock(&pd->mu);
	if (st && strcmp(st, "active") == 0) {
		l->started_posted = 1;
		l->started_at_ms =
		    json_integer_value(json_object_get(j, "started"));
	} else if (st && strcmp(st, "closed") == 0) {
		const char *r = json_string_value(json_object_get(j, "reason"));
		pd_request_close(pd, l, r ? r : "closed", 0);
	} else {
		log_warn("lease %s: the market refused its manifest-delivery "
		         "proof (%s): closing it manifest_refused",
		    l->id, reply ? reply : "?");
		pd_request_close(pd, l, "manifest_refused", 1);
	}
	pd->dirty = 1;
	pthread_mutex_unlock(&pd->mu);
	json_decref(j);
}

/* lease.started with the tenant's manifest request as the proof that the
 * manifest was delivered (docs/state.md); billing counts from the
 * sequencer time the market answers with. */
static void
post_started(struct pd *pd, struct lease *l, int64_t now)
{
	json_t *b, *ans, *im;
	char *reply = NULL;
	int rc;

	pthread_mutex_lock(&pd->mu);
	if (now < l->started_retry_ms) {
		pthread_mutex_unlock(&pd->mu);
		return;
	}
	b = l->manifest_request ? json_pack("{s:s,s:O}", "lease", l->id,
	                              "manifest_request", l->manifest_request) :
	                          NULL;
	pthread_mutex_unlock(&pd->mu);
	/* An auditor learns the exact image each service runs. */
	if (b != NULL && pd->images != NULL &&
	    (im = image_run_digests(pd->images, l->id)) != NULL)
		json_object_set_new(b, "images", im);
	if (b == NULL) {
		/* Nothing proves the delivery (a lease saved before proofs
		 * were kept): it cannot be billed. */
		log_warn("lease %s: no manifest-delivery proof kept: closing "
		         "it provider_closed",
		    l->id);
		pthread_mutex_lock(&pd->mu);
		pd_request_close(pd, l, "provider_closed", 1);
		pthread_mutex_unlock(&pd->mu);
		return;
	}
	rc = post_reply(pd, "lease.started", b, "lease.started", &reply);
	json_decref(b);
	if (rc == 0) {
		ans = reply ? json_loads(reply, 0, NULL) : NULL;
		pthread_mutex_lock(&pd->mu);
		l->started_posted = 1;
		l->started_at_ms =
		    json_integer_value(json_object_get(ans, "time"));
		if (l->started_at_ms <= 0)
			l->started_at_ms = now;
		pd->dirty = 1;
		pthread_mutex_unlock(&pd->mu);
		json_decref(ans);
		log_info("lease %s: started", l->id);
	} else if (rc == ERR_REJECT) {
		started_refused(pd, l, reply);
	}
	/* Unreachable, rate-limited or unfunded: again in a while. */
	pthread_mutex_lock(&pd->mu);
	l->started_retry_ms = now + (pd->epoch_ms > 1000 ? pd->epoch_ms : 1000);
	pthread_mutex_unlock(&pd->mu);
	free(reply);
}

/* Start the replicas of l that are due, outside the lock: a sandbox start
 * takes tens of milliseconds and must not stall the API and the gateway. */
static void
start_due(struct pd *pd, struct lease *l, const struct sandbox_spec *base,
    int64_t now)
{
	size_t idx[LEASE_MAX_REPLICAS], n, k;
	struct sandbox *sb;
	char ldir[PATH_MAX];

	pthread_mutex_lock(&pd->mu);
	n = lease_due(l, now, idx, sizeof(idx) / sizeof(idx[0]));
	pthread_mutex_unlock(&pd->mu);
	if (n == 0)
		return;
	lease_dir(pd, l->id, ldir, sizeof(ldir));
	(void)util_mkdirs(ldir, 0750);
	pthread_mutex_lock(&pd->mu);
	snprintf(l->logs_dir, sizeof(l->logs_dir), "%s", ldir);
	pthread_mutex_unlock(&pd->mu);
	for (k = 0; k < n; k++) {
		struct lease_replica *r = &l->rep[idx[k]];
		struct sandbox_spec spec = *base;
		struct wasm_pool *pool = NULL;
		int ctl[2] = { -1, -1 };

		if (r->wasm) {
			/* Module, compiled .so and provider binary in an app
			 * dir, so the sandboxed `wasm run|serve` only
			 * dlopens. */
			char adir[PATH_MAX + 16], *app = NULL;
			snprintf(adir, sizeof(adir), "%s/cache/wasm-app",
			    pd->data);
			if (lease_wasm_app_prepare(l, idx[k], adir, &app) < 0) {
				pthread_mutex_lock(&pd->mu);
				lease_spawned(l, idx[k], NULL, err_msg(), now);
				pthread_mutex_unlock(&pd->mu);
				continue;
			}
			pthread_mutex_lock(&pd->mu);
			free(r->app_dir);
			r->app_dir = app;
			pthread_mutex_unlock(&pd->mu);
		}
		/* An HTTP function's workers take their sockets over a
		 * control channel on the sandbox's stdin. */
		if (r->wasm && !r->wasm_job) {
			if (wasm_pool_control_pair(ctl) < 0) {
				pthread_mutex_lock(&pd->mu);
				lease_spawned(l, idx[k], NULL, err_msg(), now);
				pthread_mutex_unlock(&pd->mu);
				continue;
			}
			spec.stdin_fd = ctl[1];
		}
		sb = NULL;
		if (lease_spawn(l, idx[k], ldir, &spec, &sb) < 0)
			sb = NULL;
		if (ctl[1] >= 0)
			close(ctl[1]);
		char why[256];
		snprintf(why, sizeof(why), "%s", err_msg());
		if (ctl[0] >= 0) {
			if (sb != NULL &&
			    wasm_pool_new(ctl[0], lease_wasm_workers(r),
			        &pool) < 0) {
				snprintf(why, sizeof(why), "%s", err_msg());
				sandbox_free(sb);
				sb = NULL;
			} else if (sb == NULL) {
				close(ctl[0]);
			}
		}
		pthread_mutex_lock(&pd->mu);
		lease_spawned(l, idx[k], sb, sb ? NULL : why, now);
		r->pool = pool;
		pthread_mutex_unlock(&pd->mu);
	}
}

/* Remove the wasm app dirs (DATA/cache/wasm-app/SHA256) no lease here
 * uses and none prepared within the keep time: the compile cache is not
 * allowed to grow without end. */
static void
prune_wasm_apps(struct pd *pd)
{
	char root[PATH_MAX + 32], path[PATH_MAX + 320];
	int64_t keep =
	    util_env_i64("LODGE_WASM_APP_KEEP_S", 0, WASM_APP_KEEP_S);
	struct dirent *de;
	struct lease *l;
	struct stat st;
	size_t i, removed = 0;
	DIR *d;

	snprintf(root, sizeof(root), "%s/cache/wasm-app", pd->data);
	if ((d = opendir(root)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int used = 0;
		if (!artifact_is_sha256(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, de->d_name);
		pthread_mutex_lock(&pd->mu);
		for (l = pd->leases; l && !used; l = l->next)
			for (i = 0; l->status != LEASE_CLOSED && i < l->nrep;
			     i++)
				if (l->rep[i].app_dir &&
				    strcmp(l->rep[i].app_dir, path) == 0)
					used = 1;
		pthread_mutex_unlock(&pd->mu);
		if (used || stat(path, &st) < 0 ||
		    (int64_t)(time(NULL) - st.st_mtime) < keep)
			continue;
		util_rm_tree(path);
		removed++;
	}
	closedir(d);
	if (removed)
		log_info("removed %zu unused wasm app dirs from %s", removed,
		    root);
}

/* 0 when the market took the ask.  A refusal (no funds for the bond or
 * the fee) is logged with what to do; the main loop tries again at each
 * heartbeat until it is taken.  A provider that withdrew does not
 * advertise again until it is restarted. */
static int
advertise(struct pd *pd)
{
	json_t *body;
	int rc, withdrawn;

	pthread_mutex_lock(&pd->mu);
	withdrawn = pd->withdrawn;
	pthread_mutex_unlock(&pd->mu);
	if (withdrawn)
		return 0;
	if ((rc = config_advertise_body(&pd->cfg, pd->api_url, &body)) < 0) {
		log_error("advertise: %s", err_msg());
		return rc;
	}
	if ((rc = post(pd, "provider.advertise", body, "provider.advertise")) ==
	    0)
		log_info("advertised at %s", pd->api_url);
	else
		log_warn("not advertised: `provider bond` shows the bond "
		         "and fees this key %s must hold; tried again in %d s",
		    pd->key_text, HEARTBEAT_MS / 1000);
	json_decref(body);
	return rc;
}

static void
heartbeat(struct pd *pd)
{
	json_t *body = json_object();

	(void)post(pd, "provider.heartbeat", body, "provider.heartbeat");
	json_decref(body);
}

static int
setup(struct pd *pd, const char *data, const struct provider_overrides *o)
{
	struct http_server_config hc;
	char path[PATH_MAX + 32], host[128], ahost[REQSIG_HOST_MAX];
	int64_t start_ms = util_now_ms();
	json_t *info;
	const char *mk;
	uint16_t port;
	int rc;

	snprintf(pd->data, sizeof(pd->data), "%s", data);
	pd->wasm_fuel = util_env_i64("LODGE_FUEL", 1, LEASE_WASM_FUEL_DEFAULT);
	pd->wasm_deadline_ms = util_env_i64("LODGE_DEADLINE_MS", 1,
	    LEASE_WASM_DEADLINE_MS_DEFAULT);
	config_init(&pd->cfg);
	snprintf(path, sizeof(path), "%s/provider.json", data);
	if ((rc = config_load(path, &pd->cfg)) < 0 ||
	    (rc = config_apply_overrides(&pd->cfg, o)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/provider.key", data);
	if ((rc = key_load(path, &pd->key)) < 0)
		return rc;
	{
		uint8_t pub[KEY_PUB_LEN];
		key_public(pd->key, pub);
		key_pub_to_text(pub, pd->key_text);
	}
	snprintf(path, sizeof(path), "%s/cache", data);
	if ((rc = artifact_cache_init(&pd->cache, path,
	         pd->cfg.artifact_max_bytes)) < 0)
		return rc;
	/* Requests signed before this start could be replays of ones the
	 * last run saw (its nonces are gone): refused (common/reqsig.h). */
	if ((rc = reqsig_cache_new(&pd->rc)) < 0 ||
	    (rc = reqsig_cache_bind(pd->rc, NULL, start_ms)) < 0 ||
	    (rc = setup_images(pd)) < 0 ||
	    (rc = logwatch_init(&pd->watch, data, pd->cfg.market)) < 0)
		return rc;
	if ((rc = market_get(pd, "/v1/info", &info)) < 0)
		return err_prefix(rc, "market %s", pd->cfg.market);
	pd->epoch_ms = json_integer_value(json_object_get(info, "epoch_ms"));
	mk = json_string_value(json_object_get(info, "market_key"));
	if (pd->epoch_ms <= 0 || mk == NULL ||
	    key_pub_from_text(mk, pd->market_key) < 0) {
		json_decref(info);
		return err_set(ERR_INVAL,
		    "market %s: /v1/info lacks epoch_ms "
		    "or market_key",
		    pd->cfg.market);
	}
	json_decref(info);
	if ((rc = load_state(pd)) < 0)
		return rc;
	reconcile(pd);
	if ((rc = http_parse_listen(pd->cfg.listen, host, sizeof(host),
	         &port)) < 0)
		return rc;
	http_server_config_default(&hc);
	hc.host = host;
	hc.port = port;
	hc.max_body = pd->cfg.artifact_max_bytes < (64u << 20) ?
	    pd->cfg.artifact_max_bytes :
	    (64u << 20);
	hc.max_conns = 1024;
	hc.max_conns_per_ip = 512;
	hc.hooks = api_hooks;
	if ((rc = http_server_start(&hc, api_handle, pd, &pd->http)) < 0)
		return rc;
	if (pd->cfg.api_url[0])
		snprintf(pd->api_url, sizeof(pd->api_url), "%s",
		    pd->cfg.api_url);
	else
		snprintf(pd->api_url, sizeof(pd->api_url), "http://%s:%u", host,
		    http_server_port(pd->http));
	/* Signed requests must name the host tenants reach it by. */
	if ((rc = reqsig_url_host(pd->api_url, ahost)) < 0 ||
	    (rc = reqsig_cache_bind(pd->rc, ahost, start_ms)) < 0)
		return err_prefix(rc, "api_url %s", pd->api_url);
	/* Others (tests, the owner) find the actual port here. */
	{
		char text[400];
		int n = snprintf(text, sizeof(text),
		    "{\"api_url\":\"%s\","
		    "\"port\":%u,\"pid\":%ld,\"key\":\"%s\"}\n",
		    pd->api_url, http_server_port(pd->http), (long)getpid(),
		    pd->key_text);
		snprintf(path, sizeof(path), "%s/run.json", data);
		(void)util_write_file(path, text, (size_t)n, 0644);
	}
	log_info("provider %s serving %s (API and gateway), market %s, "
	         "epoch %lld ms",
	    pd->key_text, pd->api_url, pd->cfg.market, (long long)pd->epoch_ms);
	return 0;
}

/* Append l to the tick's work list, growing it as needed: every lease is
 * served each tick, however many there are. */
static int
work_add(struct lease ***work, size_t *cap, size_t *n, struct lease *l)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct lease **nw = realloc(*work, nc * sizeof(*nw));
		if (nw == NULL) {
			log_error("out of memory listing leases");
			return -1;
		}
		*work = nw;
		*cap = nc;
	}
	(*work)[(*n)++] = l;
	return 0;
}

int
provider_daemon_run(const char *data, volatile sig_atomic_t *stop)
{
	return provider_daemon_run_opts(data, NULL, stop);
}

int
provider_daemon_run_opts(const char *data, const struct provider_overrides *o,
    volatile sig_atomic_t *stop)
{
	struct pd *pd = calloc(1, sizeof(*pd));
	struct sandbox_spec base;
	pthread_t ft;
	struct lease *l, *next, **work = NULL;
	size_t workcap = 0;
	int64_t now, last, next_usage, next_beat, next_prune;
	int rc, have_ft = 0, running, advertised;

	if (pd == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	pthread_mutex_init(&pd->mu, NULL);
	pthread_cond_init(&pd->wake, NULL);
	if ((rc = setup(pd, data, o)) < 0)
		goto out;
	sandbox_spec_init(&base);
	base.log_max_bytes = pd->cfg.log_max_bytes;
	advertised = advertise(pd) == 0;
	if (pthread_create(&ft, NULL, follow_thread, pd) == 0)
		have_ft = 1;
	last = util_now_ms();
	next_usage = last + pd->epoch_ms;
	next_beat = last + HEARTBEAT_MS;
	prune_wasm_apps(pd);
	next_prune = last + PRUNE_EVERY_MS;
	while (!*stop) {
		struct timespec ts;
		size_t nt = 0, i;

		/* A tick, or earlier when woken (pd_wake). */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += LOOP_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&pd->mu);
		pthread_cond_timedwait(&pd->wake, &pd->mu, &ts);
		now = util_now_ms();
		for (l = pd->leases; l; l = l->next) {
			if (l->status != LEASE_RUNNING)
				continue;
			/* images pulled (or not) since the last tick */
			if (pd->images != NULL && !l->pending_close[0] &&
			    image_run_attach(pd->images, l) < 0) {
				log_warn("lease %s: %s", l->id, err_msg());
				pd_request_close(pd, l, "manifest_refused", 1);
			}
			lease_reap(l, now);
			lease_add_time(l, now - last);
			if (work_add(&work, &workcap, &nt, l) < 0)
				break;
		}
		if (pd->readvertise) {
			pd->readvertise = 0;
			next_beat = 0;
		}
		/* Waiting leases that must close (refused manifests). */
		for (l = pd->leases; l; l = l->next)
			if (l->status == LEASE_WAITING && l->pending_close[0] &&
			    work_add(&work, &workcap, &nt, l) < 0)
				break;
		pthread_mutex_unlock(&pd->mu);
		last = now;
		for (i = 0; i < nt; i++)
			start_due(pd, work[i], &base, now);

		for (i = 0; i < nt; i++) {
			switch (next_step(pd, work[i])) {
			case STEP_CLOSE:
				close_lease(pd, work[i]);
				break;
			case STEP_POST_STARTED:
				post_started(pd, work[i], now);
				break;
			default:
				break;
			}
		}
		if (now >= next_usage) {
			next_usage = now + pd->epoch_ms;
			for (i = 0; i < nt; i++)
				if (next_step(pd, work[i]) == STEP_METER)
					post_usage(pd, work[i], 0);
		}
		if (now >= next_prune) {
			prune_wasm_apps(pd);
			next_prune = now + PRUNE_EVERY_MS;
		}
		if (now >= next_beat) {
			if (next_beat == 0 || !advertised)
				advertised = advertise(pd) == 0;
			else
				heartbeat(pd);
			next_beat = now + HEARTBEAT_MS;
		}
		pthread_mutex_lock(&pd->mu);
		if (pd->dirty)
			save_state(pd);
		pthread_mutex_unlock(&pd->mu);
	}
	log_info("shutting down: stopping sandboxes");
	atomic_store(&pd->stop, 1);
	/* The follower may still prepend leases: walk from the head as it
	 * is now (leases are never freed while it runs). */
	pthread_mutex_lock(&pd->mu);
	l = pd->leases;
	pthread_mutex_unlock(&pd->mu);
	for (; l; l = l->next) {
		pthread_mutex_lock(&pd->mu);
		running = l->status == LEASE_RUNNING;
		pthread_mutex_unlock(&pd->mu);
		if (!running)
			continue;
		stop_sandboxes(pd, l);
		if (l->started_posted)
			post_usage(pd, l, 1);
	}
	pthread_mutex_lock(&pd->mu);
	save_state(pd);
	pthread_mutex_unlock(&pd->mu);
	rc = 0;
out:
	free(work);
	atomic_store(&pd->stop, 1);
	if (pd->http)
		http_server_free(pd->http);
	image_runner_free(pd->images);
	pd->images = NULL;
	if (have_ft) {
		/* The follower's transfer sees pd->stop within a second,
		 * also while the stream is silent.  Should it hang past a few
		 * seconds (a connect in progress), the process is exiting
		 * anyway: leave it running and its memory with it. */
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 3;
		if (pthread_timedjoin_np(ft, NULL, &dl) == 0)
			have_ft = 0;
		else
			pthread_detach(ft);
	}
	if (!have_ft) {
		for (l = pd->leases; l; l = next) {
			next = l->next;
			lease_free(l);
		}
		reqsig_cache_free(pd->rc);
		logwatch_clear(&pd->watch);
		key_free(pd->key);
		config_clear(&pd->cfg);
		pthread_mutex_destroy(&pd->mu);
		free(pd);
	}
	return rc;
}
