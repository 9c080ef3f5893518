/*
 * daemon: the provider's main loop.  Threads: the libmicrohttpd threads
 * (API and gateway, api.c), one follower of the market's event stream,
 * one per closing lease while its sandboxes stop, and this loop, which
 * starts and reaps sandboxes, runs the preparation jobs (fetches, clones,
 * compiles: child processes, provider/job.h) and posts lease.started /
 * lease.usage / lease.close, heartbeats and advertisements.  Nothing here
 * waits for a tenant's work.  Sandboxes outlive the daemon: a restart
 * re-adopts them.
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
#include "common/tls.h"
#include "common/util.h"
#include "provider/daemon.h"
#include "provider/artifact.h"
#include "provider/daemon_internal.h"
#include "provider/lease_update.h"
#include "provider/events.h"
#include "provider/follow.h"
#include "provider/job.h"
#include "provider/lease_vol.h"
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

int
pd_market_get(struct pd *pd, const char *path, json_t **out)
{
	return market_get(pd, path, out);
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
	char *dir = NULL;
	struct stat st;
	size_t i;
	int rc, trusted;

	if ((rc = lease_set_pids(l, pd->cfg.pids_per_cpu, pd->cfg.pids_max)) <
	        0 ||
	    (rc = lease_resolve_wasm_blobs(l)) < 0)
		return rc;
	/* Volumes: only the storage classes advertised (issue 15). */
	{
		json_t *caps = config_capabilities_json(&pd->cfg);
		rc = caps ? lease_vol_check(l, caps) :
		            err_set(ERR_NOMEM, "out of memory");
		json_decref(caps);
		if (rc < 0)
			return rc;
	}
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
		const char *url, *commit;
		if (r->wasm) {
			/* wasm+file: the tenant's blob, checked by its hash at
			 * upload; wasm+https: only where it may come from. */
			if (strcmp(r->wasm_kind, "wasm+file") == 0) {
				if (r->wasm_path == NULL &&
				    (rc = artifact_blob_path(&pd->cache,
				         r->wasm_sha256, &r->wasm_path)) < 0)
					return err_prefix(rc, "service %s",
					    r->service);
			} else if ((rc = netpolicy_check_url(&pd->policy,
			                r->wasm_url, &trusted)) < 0)
				return err_prefix(rc, "service %s", r->service);
			continue;
		}
		if (r->oci)
			continue;
		if (r->image == NULL || strcmp(r->image, "host") == 0 ||
		    r->app_dir)
			continue;
		if ((img = json_loads(r->image, 0, &je)) == NULL)
			return err_set(ERR_INVAL, "image of %s", r->name);
		url = json_string_value(json_object_get(img, "url"));
		commit = json_string_value(json_object_get(img, "commit"));
		rc = url && commit ?
		    netpolicy_check_url(&pd->policy, url, &trusted) :
		    err_set(ERR_INVAL,
		        "service %s: git image without url "
		        "and commit",
		        r->service);
		/* A commit checked out before needs no job. */
		if (rc == 0 && strlen(commit) == 40 &&
		    asprintf(&dir, "%s/git/%s", pd->cache.dir, commit) >= 0) {
			if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
				r->app_dir = dir;
				dir = NULL;
			}
			free(dir);
			dir = NULL;
		}
		json_decref(img);
		if (rc < 0)
			return err_prefix(rc, "service %s", r->service);
	}
	/* Its capabilities, its network and forwarded ports. */
	return pd_net_lease(pd, l);
}

/* Sandbox names start with 8 characters of this provider's key, so two
 * providers on one host (tests, several owners) never share a cgroup. */
static void
pd_scope(struct pd *pd, struct lease *l)
{
	snprintf(l->scope, sizeof(l->scope), "p%.8s-", pd->key_text + 8);
}

static void kill_job_leftovers(const struct lease *l);

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
			/* The sandboxes the last process left running go on:
			 * taken over, not restarted.  A paused lease has
			 * none, unless the last process died while stopping
			 * them: taken over, then stopped again (STEP_PAUSE). */
			if (l->status == LEASE_RUNNING &&
			    (l->pause == LEASE_PAUSE_NONE ||
			        l->saved_sandboxes != NULL)) {
				kill_job_leftovers(l);
				snprintf(l->logs_dir, sizeof(l->logs_dir), "%s",
				    ldir);
				if (lease_adopt(l, ldir, &pd->base,
				        util_now_ms()) > 0 &&
				    l->pause != LEASE_PAUSE_NONE)
					l->pause = LEASE_PAUSE_STOPPING;
				/* Their interfaces, kept when intact (the
				 * network adopted), else made again. */
				if (pd->net != NULL)
					(void)lease_net_reattach(pd->net, l);
				/* an update it was rolling out goes on */
				pd_update_resume(pd, l);
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
		/* paused or resumed while this provider was down */
		if (json_integer_value(json_object_get(j, "paused_ms")) >
		    l->paused_ms)
			l->paused_ms =
			    json_integer_value(json_object_get(j, "paused_ms"));
		if (json_is_string(json_object_get(j, "status"))) {
			const char *st =
			    json_string_value(json_object_get(j, "status"));
			if (strcmp(st, "paused") == 0 &&
			    l->pause == LEASE_PAUSE_NONE) {
				l->pause = LEASE_PAUSE_STOPPING;
				pd->dirty = 1;
			} else if (strcmp(st, "active") == 0 &&
			    l->pause == LEASE_PAUSE_STOPPED) {
				lease_resume(l);
				pd->dirty = 1;
			}
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

/* lease.pause: stop the workload, keep its volumes, ports and network
 * (the main loop stops it: STEP_PAUSE).  lease.resume: start it again,
 * its usage bound told the market's paused_ms.  Only the market's. */
static int
on_lease_pause(struct pd *pd, const struct envelope *e)
{
	const char *id = json_string_value(json_object_get(e->body, "lease"));
	int resume = strcmp(e->kind, "lease.resume") == 0;
	char path[96], ldir[PATH_MAX];
	json_int_t paused_ms = -1;
	struct lease *l;
	json_t *j = NULL;
	int rc;

	if (id == NULL || memcmp(e->signer, pd->market_key, KEY_PUB_LEN) != 0)
		return 0;
	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, id);
	pthread_mutex_unlock(&pd->mu);
	if (l == NULL)
		return 0;
	if (resume) {
		snprintf(path, sizeof(path), "/v1/leases/%.40s", id);
		if ((rc = market_get(pd, path, &j)) < 0) {
			log_warn("lease %s: resume: %s", id, err_msg());
			return rc; /* retried after reconnecting */
		}
		paused_ms = json_integer_value(json_object_get(j, "paused_ms"));
		json_decref(j);
	}
	pthread_mutex_lock(&pd->mu);
	if (l->status == LEASE_CLOSED || l->pending_close[0]) {
		pthread_mutex_unlock(&pd->mu);
		return 0;
	}
	/* the usage bound needs the market's paused_ms, paused here or not */
	if (paused_ms > l->paused_ms) {
		l->paused_ms = paused_ms;
		pd->dirty = 1;
	}
	if (!resume && l->pause == LEASE_PAUSE_NONE) {
		l->pause = LEASE_PAUSE_STOPPING;
		l->resume_after = 0;
		log_info("lease %s: paused (its escrow ran dry): stopping its "
		         "workload, keeping its volumes until a top-up or the "
		         "grace's end",
		    id);
	} else if (resume && l->pause != LEASE_PAUSE_NONE) {
		if (l->pause == LEASE_PAUSE_STOPPING)
			l->resume_after = 1; /* pause_finish resumes it */
		else
			lease_resume(l);
		log_info("lease %s: resumed (topped up): starting it again",
		    id);
	} else {
		pthread_mutex_unlock(&pd->mu);
		return 0;
	}
	pd->dirty = 1;
	pthread_cond_signal(&pd->wake);
	pthread_mutex_unlock(&pd->mu);
	if (resume) {
		lease_dir(pd, id, ldir, sizeof(ldir));
		(void)provider_event(ldir, "lease.resumed", NULL, NULL,
		    PROVIDER_EVENT_NO_EXIT,
		    "resumed: the escrow was topped up; its replicas start "
		    "again");
	}
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
	} else if (strcmp(e->kind, "lease.pause") == 0 ||
	    strcmp(e->kind, "lease.resume") == 0) {
		if ((rc = on_lease_pause(pd, e)) < 0)
			goto out;
	} else if (strcmp(e->kind, "provider.withdraw") == 0 &&
	    strcmp(e->signer_text, pd->key_text) == 0 &&
	    e->time_ms >= pd->start_ms) {
		/* `provider withdraw`: no new leases; those running go on.
		 * One signed before this start (the last run's own, at its
		 * planned exit, or one a restart answers) is over. */
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

/* A lease whose sandboxes are being stopped by a thread of their own: a
 * workload that ignores SIGTERM holds its own close up for the grace
 * period, never the loop (heartbeats, other leases' usage). */
struct closing {
	struct lease *l;
	struct lease_stopping st;
	int grace_ms;
	pthread_t thread;
	int threaded;
	atomic_int done;
	int pause; /* a lease.pause's stop: pause_finish, not a close */
	struct closing *next;
};

static void *
stopper(void *arg)
{
	struct closing *c = arg;

	lease_stop_run(&c->st, c->grace_ms);
	atomic_store(&c->done, 1);
	return NULL;
}

static void prep_cancel(struct pd *pd, const struct lease *l);

/* The first step of a close: its preparation jobs killed, its sandboxes
 * taken and stopped in a thread (close_tick finishes it). */
static void
stop_begin(struct pd *pd, struct lease *l, int pause)
{
	struct closing *c;

	for (c = pd->closing; c; c = c->next)
		if (c->l == l)
			return;
	prep_cancel(pd, l);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_error("lease %s: out of memory stopping it", l->id);
		return;
	}
	c->l = l;
	c->pause = pause;
	c->grace_ms = (int)pd->cfg.stop_grace_ms;
	pthread_mutex_lock(&pd->mu);
	lease_stop_take(l, &c->st);
	pthread_mutex_unlock(&pd->mu);
	if (c->st.n == 0)
		atomic_store(&c->done, 1);
	else if (pthread_create(&c->thread, NULL, stopper, c) == 0)
		c->threaded = 1;
	else
		stopper(c);
	c->next = pd->closing;
	pd->closing = c;
}

static void
close_begin(struct pd *pd, struct lease *l)
{
	stop_begin(pd, l, 0);
}

/* The last step of a pause, once its sandboxes are stopped: their exit
 * codes and CPU into the lease, its egress read; its volumes, network
 * and forwarded ports stay for the resume (or go at the close).  A
 * lease.resume seen meanwhile starts it again at once. */
static void
pause_finish(struct pd *pd, struct lease *l, struct lease_stopping *st)
{
	char ldir[PATH_MAX];
	int resumed;

	pthread_mutex_lock(&pd->mu);
	lease_stop_finish(l, st);
	pthread_mutex_unlock(&pd->mu);
	if (pd->net != NULL)
		lease_net_meter(pd->net, l);
	pthread_mutex_lock(&pd->mu);
	resumed = l->resume_after;
	if (resumed)
		lease_resume(l);
	else if (l->pause == LEASE_PAUSE_STOPPING)
		l->pause = LEASE_PAUSE_STOPPED;
	save_state(pd);
	pthread_mutex_unlock(&pd->mu);
	lease_dir(pd, l->id, ldir, sizeof(ldir));
	if (!resumed)
		(void)provider_event(ldir, "lease.paused", NULL, NULL,
		    PROVIDER_EVENT_NO_EXIT,
		    "paused: the escrow cannot pay the next epoch; the "
		    "workload is stopped, its volumes kept until a top-up "
		    "(tenant topup) or the grace's end");
}

/* The last step of a close, once its sandboxes are stopped: their exit
 * codes and CPU into the lease, a final usage and our own lease.close
 * when it is our decision, the lease closed and saved. */
static void
close_finish(struct pd *pd, struct lease *l, struct lease_stopping *st)
{
	char reason[32], what[64], ldir[PATH_MAX];
	int post_close;
	json_t *body;

	pthread_mutex_lock(&pd->mu);
	lease_stop_finish(l, st);
	snprintf(reason, sizeof(reason), "%s", l->pending_close);
	post_close = l->post_close;
	pthread_mutex_unlock(&pd->mu);
	/* Its last egress bytes counted, then its network removed. */
	if (pd->net != NULL) {
		lease_net_meter(pd->net, l);
		lease_net_down(pd->net, l);
	}
	if (pd->images != NULL)
		image_run_forget(pd->images, l->id);
	{ /* its volumes go with it (the sandboxes are stopped) */
		char ldir[PATH_MAX];
		lease_dir(pd, l->id, ldir, sizeof(ldir));
		if (lease_vol_delete_all(ldir) < 0)
			log_warn("lease %s: deleting its volumes: %s", l->id,
			    err_msg());
	}
	/* The final usage settles what ran; the market refuses usage once it
	 * has closed the lease, so it only goes before our own close. */
	if (post_close && l->started_posted && l->pause == LEASE_PAUSE_NONE)
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
	lease_dir(pd, l->id, ldir, sizeof(ldir));
	(void)provider_event(ldir, "lease.closed", NULL, NULL,
	    PROVIDER_EVENT_NO_EXIT, "closed: %s%s%s", reason,
	    l->close_detail[0] ? ": " : "", l->close_detail);
}

/* Finish the closes whose stops are done (all of them, waiting, when
 * wait is set: the shutdown). */
static void
close_tick(struct pd *pd, int wait)
{
	struct closing **pp = &pd->closing, *c;

	while ((c = *pp) != NULL) {
		if (!wait && !atomic_load(&c->done)) {
			pp = &c->next;
			continue;
		}
		if (c->threaded)
			pthread_join(c->thread, NULL);
		*pp = c->next;
		if (c->pause)
			pause_finish(pd, c->l, &c->st);
		else
			close_finish(pd, c->l, &c->st);
		free(c);
	}
}

/* What the main loop does next for a lease of its tick, decided under
 * the lock: the API and the follower write pending_close and status
 * under it; started_posted is the loop's own. */
enum step {
	STEP_NONE,
	STEP_CLOSE, /* a close is pending */
	STEP_PAUSE, /* lease.pause seen: its replicas to stop */
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
	else if (l->pause == LEASE_PAUSE_STOPPING)
		s = STEP_PAUSE;
	else if (l->pause != LEASE_PAUSE_NONE)
		s = STEP_NONE;
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

/* Sandbox starts in one tick at most: a lease of many replicas, or many
 * leases at once, start over several ticks, with heartbeats and usage
 * between them. */
#define STARTS_PER_TICK 8
#define START_BUDGET_MS 250

/* Start the replicas of l that are due, outside the lock: a sandbox start
 * takes tens of milliseconds and must not stall the API and the gateway.
 * *budget counts the starts this tick may still make. */
static void
start_due(struct pd *pd, struct lease *l, const struct sandbox_spec *base,
    int64_t now, int *budget)
{
	size_t idx[LEASE_MAX_REPLICAS], n, k;
	struct sandbox *sb;
	char ldir[PATH_MAX];

	if (*budget <= 0 || util_now_ms() - now > START_BUDGET_MS)
		return;
	pthread_mutex_lock(&pd->mu);
	n = lease_due(l, now, idx, (size_t)*budget);
	pthread_mutex_unlock(&pd->mu);
	if (n == 0)
		return;
	*budget -= (int)n;
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
		struct lease_net_attach att;
		char *hosts = NULL, *resolv = NULL;

		/* Its deployment network: names, DNS, its interface. */
		if (pd_net_spec(pd, l, idx[k], &spec, &att, &hosts, &resolv) <
		    0) {
			pthread_mutex_lock(&pd->mu);
			lease_spawned(l, idx[k], NULL, err_msg(), now);
			pthread_mutex_unlock(&pd->mu);
			continue;
		}

		/* An HTTP function's workers take their sockets over a
		 * control channel on the sandbox's stdin.  (Its app dir,
		 * like a wasm job's, was made by a preparation job.) */
		if (r->wasm && !r->wasm_job) {
			if (wasm_pool_control_pair(ctl) < 0) {
				free(hosts);
				free(resolv);
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
		free(hosts);
		free(resolv);
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
		/* Its reference on disk soon: a restart adopts it. */
		pd->dirty = 1;
		pthread_mutex_unlock(&pd->mu);
	}
}

/* ---- preparation jobs: fetches, clones, compiles (provider/job.h) ---- */

enum prep_kind { PREP_GIT, PREP_FETCH, PREP_WASM };

static const char *const prep_what[] = { "git clone", "module fetch",
	"wasm compile" };

/* How long a started lease waits before a failed preparation is tried
 * again (a lease not yet started is refused instead). */
#define PREP_RETRY_MS 30000

struct prep {
	struct lease *l;
	size_t rep; /* the replica it was started for */
	enum prep_kind kind;
	char key[160]; /* the artifact: replicas with the same key share it */
	struct job *job;
	int64_t started_ms;
	uint64_t memory_bytes; /* its limit, for the message */
};

/* The step replica r needs next, and the key of its artifact; 0 when it
 * needs none.  Under the lock. */
static int
replica_step(const struct lease_replica *r, enum prep_kind *kind, char *key,
    size_t cap)
{
	json_t *img;
	const char *commit;

	/* Images are pulled by the image runner's thread, not a job. */
	if (r->oci || lease_replica_ready(r))
		return 0;
	if (r->wasm) {
		*kind = r->wasm_path ? PREP_WASM : PREP_FETCH;
		if (*kind == PREP_FETCH)
			snprintf(key, cap, "fetch:%s", r->wasm_sha256);
		else
			snprintf(key, cap, "wasm:%s:%llu", r->wasm_sha256,
			    (unsigned long long)r->memory_bytes);
		return 1;
	}
	if ((img = json_loads(r->image, 0, NULL)) == NULL)
		return 0;
	commit = json_string_value(json_object_get(img, "commit"));
	*kind = PREP_GIT;
	snprintf(key, cap, "git:%s", commit ? commit : "?");
	json_decref(img);
	return 1;
}

static int
prep_running(const struct pd *pd, const struct lease *l, const char *key)
{
	size_t i;

	for (i = 0; i < pd->nprep; i++)
		if (pd->preps[i].l == l && strcmp(pd->preps[i].key, key) == 0)
			return 1;
	return 0;
}

/* Kill the preparation jobs of l (its lease closes). */
static void
prep_cancel(struct pd *pd, const struct lease *l)
{
	size_t i = 0;

	while (i < pd->nprep) {
		if (pd->preps[i].l != l) {
			i++;
			continue;
		}
		log_info("lease %s: %s cancelled (pid %ld)", l->id,
		    prep_what[pd->preps[i].kind],
		    (long)job_pid(pd->preps[i].job));
		job_free(pd->preps[i].job);
		pd->preps[i] = pd->preps[--pd->nprep];
	}
}

/* The cgroup name of the preparation job of replica i of l. */
static void
job_name(const struct lease *l, size_t i, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s-prep%zu", l->scope, l->id, i);
}

/* A provider killed while a job ran leaves its compiler running in the
 * job's cgroup (the job dies with the provider, what it started does
 * not): emptied and removed at start. */
static void
kill_job_leftovers(const struct lease *l)
{
	struct cgroup_config cc = { CGROUP_AUTO, NULL, NULL };
	struct cgroup_limits none = { 0, 0, 0 };
	struct cgroup *cg;
	struct err_saved saved;
	char name[96];
	size_t i;

	err_save(&saved);
	for (i = 0; i < l->nrep; i++) {
		job_name(l, i, name, sizeof(name));
		cg = NULL;
		if (cgroup_new(&cc, "lodge", name, &none, &cg, NULL) == 0 &&
		    cgroup_mode(cg) != CGROUP_NONE)
			(void)cgroup_kill_all(cg, 2000);
		cgroup_free(cg);
	}
	err_restore(&saved);
}

static const char *
str_or(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

/* The argv of the job for replica r's step; the strings are malloc'd
 * into v (NULL-terminated).  Under the lock. */
static int
prep_argv(struct pd *pd, const struct lease_replica *r, enum prep_kind kind,
    char *v[10])
{
	json_t *img = NULL;
	int n = 0, rc = 0;

	memset(v, 0, 10 * sizeof(*v));
	v[n++] = strdup(pd->self);
	v[n++] = strdup("prepare");
	if (kind == PREP_GIT) {
		img = json_loads(r->image, 0, NULL);
		v[n++] = strdup("git");
		v[n++] = strdup("--data");
		v[n++] = strdup(pd->data);
		v[n++] = strdup(str_or(json_object_get(img, "url")));
		v[n++] = strdup(str_or(json_object_get(img, "commit")));
		json_decref(img);
	} else if (kind == PREP_FETCH) {
		v[n++] = strdup("fetch");
		v[n++] = strdup("--data");
		v[n++] = strdup(pd->data);
		v[n++] = strdup(r->wasm_url);
		v[n++] = strdup(r->wasm_sha256);
	} else {
		v[n++] = strdup("wasm");
		v[n++] = strdup("--data");
		v[n++] = strdup(pd->data);
		if (asprintf(&v[n++], "--memory=%llu",
		        (unsigned long long)r->memory_bytes) < 0)
			v[n - 1] = NULL;
		v[n++] = strdup(r->wasm_path);
	}
	while (n-- > 0)
		if (v[n] == NULL)
			rc = err_set(ERR_NOMEM, "out of memory");
	return rc;
}

/* Start the job of replica i of l for step kind (key). */
static void
prep_start(struct pd *pd, struct lease *l, size_t i, enum prep_kind kind,
    const char *key, int64_t now)
{
	struct lease_replica *r = &l->rep[i];
	struct job_spec spec;
	struct prep *p, *np;
	char *argv[10], name[96];
	uint64_t cpus;
	int k, rc;

	if (pd->nprep == pd->capprep) {
		size_t nc = pd->capprep ? pd->capprep * 2 : 8;
		if ((np = realloc(pd->preps, nc * sizeof(*np))) == NULL)
			return;
		pd->preps = np;
		pd->capprep = nc;
	}
	p = &pd->preps[pd->nprep];
	memset(p, 0, sizeof(*p));
	memset(&spec, 0, sizeof(spec));
	/* One job at a time per replica: a name a restart can find. */
	job_name(l, i, name, sizeof(name));
	/* The lease's CPU; its memory, but at least what a C compiler
	 * needs, and never above the provider's cap. */
	spec.cpu_millis = r->cpu_millis;
	spec.memory_bytes = r->memory_bytes;
	if (spec.memory_bytes < PROVIDER_PREPARE_MEMORY_FLOOR)
		spec.memory_bytes = PROVIDER_PREPARE_MEMORY_FLOOR;
	if (spec.memory_bytes > pd->cfg.prepare_memory_bytes)
		spec.memory_bytes = pd->cfg.prepare_memory_bytes;
	spec.pids_max = 256;
	cpus = (r->cpu_millis + 999) / 1000;
	spec.cpu_seconds = (uint64_t)(pd->cfg.prepare_timeout_ms / 1000 + 1) *
	    (cpus ? cpus : 1);
	spec.timeout_ms = pd->cfg.prepare_timeout_ms;
	spec.name = name;
	spec.cgroup.mode = CGROUP_AUTO;
	if ((rc = prep_argv(pd, r, kind, argv)) == 0) {
		spec.argv = (const char *const *)argv;
		rc = job_start(&spec, &p->job);
	}
	for (k = 0; k < 10; k++)
		free(argv[k]);
	if (rc < 0) {
		/* The provider's own trouble (fork, cgroup): try again. */
		log_warn("lease %s: %s: starting the %s: %s", l->id, r->name,
		    prep_what[kind], err_msg());
		r->prep_after_ms = now + 5000;
		return;
	}
	p->l = l;
	p->rep = i;
	p->kind = kind;
	p->started_ms = now;
	p->memory_bytes = spec.memory_bytes;
	snprintf(p->key, sizeof(p->key), "%s", key);
	pd->nprep++;
	log_info("lease %s: %s: %s started (pid %ld, %llu MiB, %llu "
	         "millicores, %lld s)",
	    l->id, r->service, prep_what[kind], (long)job_pid(p->job),
	    (unsigned long long)(spec.memory_bytes >> 20),
	    (unsigned long long)spec.cpu_millis,
	    (long long)(spec.timeout_ms / 1000));
}

/* The last "provider: MESSAGE" line of a job's stderr (what it says to
 * the tenant) into buf; the other lines are logged. */
static void
prep_message(const struct lease *l, const char *err, char *buf, size_t cap)
{
	const char *p = err, *e;
	size_t n;

	buf[0] = '\0';
	while (*p) {
		e = strchr(p, '\n');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n > 10 && strncmp(p, "provider: ", 10) == 0)
			snprintf(buf, cap, "%.*s", (int)(n - 10), p + 10);
		else if (n > 0)
			log_warn("lease %s: prepare: %.*s", l->id, (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
}

/* A job has ended: its result into the lease's replicas, or a refusal
 * (a lease not started yet: manifest_refused, the reason for the
 * tenant) or a retry later (a lease that ran before a restart). */
static void
prep_done(struct pd *pd, struct prep *p, const struct job_result *res,
    int64_t now)
{
	struct lease *l = p->l;
	char msg[512], reason[256], path[PATH_MAX], key[160], *nl;
	enum prep_kind kind;
	size_t i;
	int ok;

	prep_message(l, res->err, msg, sizeof(msg));
	snprintf(path, sizeof(path), "%s", res->out);
	if ((nl = strchr(path, '\n')) != NULL)
		*nl = '\0';
	ok = res->exit_code == 0 && !res->timed_out && path[0] == '/';
	pthread_mutex_lock(&pd->mu);
	if (l->status != LEASE_RUNNING || l->pending_close[0]) {
		pthread_mutex_unlock(&pd->mu);
		return;
	}
	if (ok) {
		for (i = 0; i < l->nrep; i++) {
			struct lease_replica *r = &l->rep[i];
			char *d;
			if (!replica_step(r, &kind, key, sizeof(key)) ||
			    strcmp(key, p->key) != 0 ||
			    (d = strdup(path)) == NULL)
				continue;
			if (kind == PREP_FETCH) {
				free(r->wasm_path);
				r->wasm_path = d;
			} else {
				free(r->app_dir);
				r->app_dir = d;
			}
			r->last_error[0] = '\0';
		}
		pthread_mutex_unlock(&pd->mu);
		log_info("lease %s: %s done in %lld ms (CPU %llu ms, memory "
		         "peak %llu MiB): %s",
		    l->id, prep_what[p->kind], (long long)(now - p->started_ms),
		    (unsigned long long)res->cpu_ms,
		    (unsigned long long)(res->mem_peak_bytes >> 20), path);
		return;
	}
	if (res->timed_out)
		snprintf(reason, sizeof(reason),
		    "service %s: the %s did not finish within %lld s (this "
		    "provider's limit)",
		    l->rep[p->rep].service, prep_what[p->kind],
		    (long long)(pd->cfg.prepare_timeout_ms / 1000));
	else if (res->oom)
		snprintf(reason, sizeof(reason),
		    "service %s: the %s needs more than %llu MiB of memory "
		    "(the "
		    "lease's, at least %llu MiB, at most this provider's %llu "
		    "MiB)",
		    l->rep[p->rep].service, prep_what[p->kind],
		    (unsigned long long)(p->memory_bytes >> 20),
		    (unsigned long long)(PROVIDER_PREPARE_MEMORY_FLOOR >> 20),
		    (unsigned long long)(pd->cfg.prepare_memory_bytes >> 20));
	else
		snprintf(reason, sizeof(reason), "service %.63s: %.180s",
		    l->rep[p->rep].service,
		    msg[0] ? msg : "the preparation failed");
	for (i = 0; i < l->nrep; i++)
		if (replica_step(&l->rep[i], &kind, key, sizeof(key)) &&
		    strcmp(key, p->key) == 0) {
			snprintf(l->rep[i].last_error,
			    sizeof(l->rep[i].last_error), "%s", reason);
			l->rep[i].prep_after_ms = now + PREP_RETRY_MS;
		}
	if (!l->started_posted) {
		snprintf(l->close_detail, sizeof(l->close_detail), "%s",
		    reason);
		pd_request_close(pd, l, "manifest_refused", 1);
	}
	pthread_mutex_unlock(&pd->mu);
	{
		char ldir[PATH_MAX];
		lease_dir(pd, l->id, ldir, sizeof(ldir));
		(void)provider_event(ldir, "prepare.failed",
		    l->rep[p->rep].service, NULL, res->exit_code, "%s: %s",
		    prep_what[p->kind], reason);
	}
	log_warn("lease %s: %s (exit %d%s): %s", l->id, prep_what[p->kind],
	    res->exit_code, res->timed_out ? ", timed out" : "", reason);
}

/* Collect the jobs that ended, then start the steps that are due, as
 * long as fewer than the provider's cap run. */
static void
prep_tick(struct pd *pd, struct lease **work, size_t nt, int64_t now)
{
	struct job_result res;
	enum prep_kind kind;
	char key[160];
	size_t i, k;

	for (i = 0; i < pd->nprep;) {
		if (job_poll(pd->preps[i].job, &res) == 0) {
			i++;
			continue;
		}
		prep_done(pd, &pd->preps[i], &res, now);
		job_free(pd->preps[i].job);
		pd->preps[i] = pd->preps[--pd->nprep];
	}
	for (k = 0; k < nt && pd->nprep < pd->cfg.prepare_jobs; k++) {
		struct lease *l = work[k];
		pthread_mutex_lock(&pd->mu);
		for (i = 0; l->status == LEASE_RUNNING &&
		     !l->pending_close[0] && l->pause == LEASE_PAUSE_NONE &&
		     i < l->nrep && pd->nprep < pd->cfg.prepare_jobs;
		     i++) {
			if (l->rep[i].prep_after_ms > now ||
			    !replica_step(&l->rep[i], &kind, key,
			        sizeof(key)) ||
			    prep_running(pd, l, key))
				continue;
			prep_start(pd, l, i, kind, key, now);
		}
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
withdraw(struct pd *pd)
{
	json_t *body = json_object();

	if (post(pd, "provider.withdraw", body, "provider.withdraw") == 0)
		log_info("ask withdrawn: no new leases until the next start");
	json_decref(body);
}

static void
heartbeat(struct pd *pd)
{
	json_t *body = json_object();

	(void)post(pd, "provider.heartbeat", body, "provider.heartbeat");
	json_decref(body);
}

/* A provider priced in a denomination the market does not settle would
 * never be matched: refuse to start, naming the ones it settles (a market
 * whose /v1/info lists none is not checked). */
static int
check_denom(struct pd *pd, const json_t *info)
{
	const json_t *ds = json_object_get(info, "denoms"), *d;
	char list[512] = "";
	size_t i, n = 0;

	if (!json_is_array(ds) || json_array_size(ds) == 0)
		return 0;
	json_array_foreach(ds, i, d)
	{
		const char *s = json_string_value(d);
		if (s && strcmp(s, pd->cfg.denom) == 0)
			return 0;
		if (s && n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n,
			    "%s%s", n ? ", " : "", s);
	}
	return err_set(ERR_REJECT,
	    "provider.json: price.denom \"%s\" is not settled by the market "
	    "%s, which settles: %s (set it with `provider init --price "
	    "denom=...`)",
	    pd->cfg.denom, pd->cfg.market, list);
}

/* Say at start what the sandboxes can do here: as root, which cgroup
 * mode limits and meters them; without root, what is lost (a probe
 * cgroup tells whether any hierarchy is writable). */
static void
say_sandbox_abilities(struct pd *pd)
{
	struct cgroup_config cc = { CGROUP_AUTO, NULL, NULL };
	struct cgroup_limits lim = { 1000, 64u << 20, 64 };
	struct cgroup *cg = NULL;
	struct err_saved saved;
	enum cgroup_mode mode = CGROUP_NONE;
	char name[64], *why = NULL;

	err_save(&saved);
	snprintf(name, sizeof(name), "p%.8s-probe", pd->key_text + 8);
	if (cgroup_new(&cc, "lodge", name, &lim, &cg, &why) == 0)
		mode = cgroup_mode(cg);
	else
		why = why ? why : strdup(err_msg());
	cgroup_free(cg);
	err_restore(&saved);
	if (geteuid() == 0 && mode != CGROUP_NONE) {
		log_info("sandboxes: limits (CPU, memory, processes) and "
		         "metering by %s",
		    cgroup_mode_name(mode));
	} else if (geteuid() == 0) {
		log_warn("sandboxes: no cgroup hierarchy is writable (%s): CPU "
		         "is not limited, memory is limited by RLIMIT_AS and "
		         "processes by RLIMIT_NPROC, metering is by rusage",
		    why ? why : "?");
	} else if (mode != CGROUP_NONE) {
		log_warn("not running as root (uid %u): sandboxes run in their "
		         "own user namespace (one uid mapped to this user); "
		         "limits and metering by %s (delegated to this user)",
		    (unsigned)geteuid(), cgroup_mode_name(mode));
	} else {
		log_warn("not running as root (uid %u): sandboxes run in their "
		         "own user namespace (one uid mapped to this user) "
		         "and no cgroup is writable (%s): CPU is not limited, "
		         "memory is limited by RLIMIT_AS, processes by "
		         "RLIMIT_NPROC (counted per user namespace), metering "
		         "is by rusage (a replica's CPU time is known only "
		         "when it ends; none for sandboxes re-adopted after a "
		         "restart), and the gateway reaches services through a "
		         "helper process",
		    (unsigned)geteuid(), why ? why : "?");
	}
	free(why);
}

/* TLS 1.3 with the provider key's self-signed certificate for the API;
 * the gateway's public names (*.domain, accept hosts) get the operator's
 * certificates when there are some, TLS 1.2 allowed (README "TLS"). */
static int
setup_tls(struct pd *pd)
{
	const struct provider_config *c = &pd->cfg;
	size_t n = 0;
	int rc;

	if (c->insecure_http || util_insecure_http_env()) {
		log_warn("plain HTTP (--insecure-http): manifests, env values "
		         "and logs cross the network in clear");
		return 0;
	}
	if ((rc = tls_server_new(pd->key, "lodge provider", &pd->tls)) < 0 ||
	    (rc = tls_server_set_public_domain(pd->tls, c->domain)) < 0)
		return err_prefix(rc, "TLS");
	if (c->tls_cert[0] &&
	    (rc = tls_server_add_cert(pd->tls, c->tls_cert, c->tls_key)) < 0)
		return err_prefix(rc, "gateway certificate (--tls-cert)");
	if (c->tls_certs_dir[0] &&
	    (rc = tls_server_add_dir(pd->tls, c->tls_certs_dir, &n)) < 0)
		return err_prefix(rc, "gateway certificates (--tls-certs-dir)");
	if (c->tls_cert[0] == '\0')
		log_warn("gateway: no certificate for *.%s (provider init "
		         "--tls-cert FILE --tls-key FILE): its names get the "
		         "self-signed certificate of the provider key, which "
		         "browsers do not trust",
		    c->domain);
	if (c->tls_certs_dir[0])
		log_info("gateway: %zu certificate(s) for accept hosts from %s",
		    n, c->tls_certs_dir);
	return 0;
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
	pd->start_ms = start_ms;
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
	if ((rc = netpolicy_init(&pd->policy, pd->cfg.fetch_allow)) < 0)
		return rc;
	/* Preparation jobs run this very binary. */
	{
		ssize_t n =
		    readlink("/proc/self/exe", pd->self, sizeof(pd->self) - 1);
		if (n <= 0)
			return err_set(ERR_IO, "/proc/self/exe: %s",
			    strerror(errno));
		pd->self[n] = '\0';
	}
	/* Requests signed before this start could be replays of ones the
	 * last run saw (its nonces are gone): refused (common/reqsig.h). */
	if ((rc = reqsig_cache_new(&pd->rc)) < 0 ||
	    (rc = reqsig_cache_bind(pd->rc, NULL, start_ms)) < 0 ||
	    (rc = setup_images(pd)) < 0 ||
	    (rc = logwatch_init(&pd->watch, data, pd->cfg.market)) < 0)
		return rc;
	if ((rc = config_check(&pd->cfg)) < 0)
		return err_prefix(rc, "%s/provider.json", data);
	{
		int learned = 0;
		if ((rc = config_pin_market(data, &pd->cfg, &learned)) < 0)
			return rc;
		if (learned)
			log_info("market %s: first use, its TLS key is "
			         "remembered in %s/" CONFIG_KNOWN_MARKETS,
			    pd->cfg.market, data);
	}
	if ((rc = market_get(pd, "/v1/info", &info)) < 0)
		return err_prefix(rc, "market %s", pd->cfg.market);
	if ((rc = check_denom(pd, info)) < 0) {
		json_decref(info);
		return rc;
	}
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
	say_sandbox_abilities(pd);
	{ /* loop devices a killed provider's replicas left unused (those
	   * still mounted by a running sandbox stay, for adoption) */
		char vdir[PATH_MAX];
		snprintf(vdir, sizeof(vdir), "%.4000s/leases", pd->data);
		if (volume_cleanup_all(vdir) < 0)
			log_warn("volumes: %s", err_msg());
	}
	sandbox_spec_init(&pd->base);
	pd->base.log_max_bytes = pd->cfg.log_max_bytes;
	if ((rc = pd_net_start(pd)) < 0 || (rc = load_state(pd)) < 0)
		return rc;
	pd_net_sweep(pd);
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
	/* An idle keep-alive connection costs the loop ~1.6 KiB and no
	 * thread (bench_gateway_nginx holds 10,000): the gateway's clients
	 * may be many; the descriptors bound it (http_server_start). */
	hc.max_conns = 16384;
	hc.max_conns_per_ip = 512;
	hc.hooks = api_hooks;
	hc.route = api_route_upstream;
	if ((rc = setup_tls(pd)) < 0)
		return rc;
	hc.tls = pd->tls;
	if ((rc = http_server_start(&hc, api_handle, pd, &pd->http)) < 0)
		return rc;
	if (pd->cfg.api_url[0])
		snprintf(pd->api_url, sizeof(pd->api_url), "%s",
		    pd->cfg.api_url);
	else
		snprintf(pd->api_url, sizeof(pd->api_url), "%s://%s:%u",
		    pd->tls ? "https" : "http", host,
		    http_server_port(pd->http));
	/* An http:// URL in front of a TLS server reaches nobody. */
	if (pd->tls && strncmp(pd->api_url, "http://", 7) == 0)
		return err_set(ERR_INVAL,
		    "api_url %s is plain http:// but the server speaks TLS: "
		    "give an https:// --api-url, or --insecure-http",
		    pd->api_url);
	if (!pd->tls && strncmp(pd->api_url, "https://", 8) == 0)
		log_warn("api_url %s is https:// but the server speaks plain "
		         "HTTP (--insecure-http): only a TLS proxy in front "
		         "makes it reachable",
		    pd->api_url);
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
	pthread_t ft;
	struct lease *l, *next, *head, **work = NULL;
	size_t workcap = 0;
	int64_t now, last, next_usage, next_beat, next_prune;
	int rc, have_ft = 0, running, budget, advertised;

	if (pd == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	pthread_mutex_init(&pd->mu, NULL);
	pthread_cond_init(&pd->wake, NULL);
	if ((rc = setup(pd, data, o)) < 0)
		goto out;
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
			/* paused: nothing starts, nothing is metered; only its
			 * stop and its close are served */
			if (l->pause != LEASE_PAUSE_NONE) {
				if ((l->pause == LEASE_PAUSE_STOPPING ||
				        l->pending_close[0]) &&
				    work_add(&work, &workcap, &nt, l) < 0)
					break;
				continue;
			}
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
		/* Nothing here waits for a tenant's work: fetches, clones and
		 * compiles are jobs, sandbox starts have a budget per tick,
		 * stops run in threads. */
		prep_tick(pd, work, nt, now);
		budget = STARTS_PER_TICK;
		for (i = 0; i < nt; i++)
			start_due(pd, work[i], &pd->base, now, &budget);
		/* tenant updates: replicas replaced one at a time */
		for (i = 0; i < nt; i++)
			pd_update_tick(pd, work[i], now);

		for (i = 0; i < nt; i++) {
			switch (next_step(pd, work[i])) {
			case STEP_CLOSE:
				close_begin(pd, work[i]);
				break;
			case STEP_PAUSE:
				stop_begin(pd, work[i], 1);
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
				if (next_step(pd, work[i]) == STEP_METER) {
					if (pd->net != NULL)
						lease_net_meter(pd->net,
						    work[i]);
					post_usage(pd, work[i], 0);
				}
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
		close_tick(pd, 0);
		pthread_mutex_lock(&pd->mu);
		if (pd->dirty)
			save_state(pd);
		pthread_mutex_unlock(&pd->mu);
	}
	/* A planned exit, a restart most often: first no new leases (the
	 * ask is withdrawn; the next start advertises again), then the
	 * workloads are left running, for the next process to adopt; the
	 * leases stay open in the market. */
	withdraw(pd);
	log_info("shutting down: sandboxes stay running for the next start");
	atomic_store(&pd->stop, 1);
	while (pd->nprep > 0)
		prep_cancel(pd, pd->preps[0].l);
	close_tick(pd, 1);
	/* The follower may still prepend leases: walk from the head as it
	 * is now (leases are never freed while it runs). */
	pthread_mutex_lock(&pd->mu);
	head = pd->leases;
	pthread_mutex_unlock(&pd->mu);
	for (l = head; l; l = l->next) {
		struct lease_stopping st;
		pthread_mutex_lock(&pd->mu);
		running = l->status == LEASE_RUNNING;
		/* wasm functions cannot be adopted: stopped now. */
		if (running)
			lease_stop_take_functions(l, &st);
		pthread_mutex_unlock(&pd->mu);
		if (!running)
			continue;
		lease_stop_run(&st, (int)pd->cfg.stop_grace_ms);
		pthread_mutex_lock(&pd->mu);
		lease_stop_finish(l, &st);
		pthread_mutex_unlock(&pd->mu);
		if (pd->net != NULL)
			lease_net_meter(pd->net, l);
		/* the market refuses the usage of a paused lease */
		if (l->started_posted && l->pause == LEASE_PAUSE_NONE)
			post_usage(pd, l, 1);
	}
	/* Saved with the sandboxes' references, then let go. */
	pthread_mutex_lock(&pd->mu);
	save_state(pd);
	for (l = head; l; l = l->next)
		if (l->status == LEASE_RUNNING)
			lease_release(l);
	pthread_mutex_unlock(&pd->mu);
	rc = 0;
out:
	free(work);
	atomic_store(&pd->stop, 1);
	if (pd->http)
		http_server_free(pd->http);
	/* The networks of running leases stay with their sandboxes, for the
	 * next start to adopt; the others are removed (the API is stopped:
	 * no manifest makes one now). */
	pd_net_stop(pd);
	pd->http = NULL;
	tls_server_free(pd->tls);
	pd->tls = NULL;
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
		netpolicy_clear(&pd->policy);
		free(pd->preps);
		pthread_mutex_destroy(&pd->mu);
		free(pd);
	}
	return rc;
}
