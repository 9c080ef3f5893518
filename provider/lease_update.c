/*
 * lease_update: a tenant's update of a running lease (POST
 * /v1/leases/<l>/update, checked against the ledger's lease.update) and
 * its rollout, one replica at a time, from the main loop; and the accept
 * host names' claims and routes (provider/lease_update.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "provider/accept.h"
#include "provider/lease_update.h"

/* Stop/start per replica: a replica's sandbox, cgroup and logs are named
 * by its service and number, so its successor takes its place once it
 * has stopped (docs/provider.md). */
enum rollout_phase { RO_NEXT, RO_STOPPING, RO_STARTING };

struct lease_rollout {
	struct lease *next; /* the new manifest's replicas; after each
	                       swap it holds the replaced ones.  NULL: a
	                       rollout resumed after a restart, whose
	                       replicas are the new manifest's already and
	                       are restarted in place */
	char hash[65];
	size_t i; /* the replica being replaced */
	size_t replaced;
	enum rollout_phase phase;
	int64_t since_ms; /* of RO_STARTING */
	struct lease_stopping st;
	int stopped_ok; /* the old replica's stop went through */
	int grace_ms;
	pthread_t thread;
	int threaded;
	atomic_int done;
};

int
lease_update_same_resources(const struct lease *cur, const struct lease *nx)
{
	size_t i;

	if (cur->nrep != nx->nrep)
		return err_set(ERR_REJECT,
		    "resources changed: %zu replicas, the lease runs %zu "
		    "(count is fixed for the lease; deploy anew to change "
		    "it)",
		    nx->nrep, cur->nrep);
	for (i = 0; i < cur->nrep; i++) {
		const struct lease_replica *a = &cur->rep[i], *b = &nx->rep[i];
		const char *what = NULL;
		unsigned long long was = 0, now = 0;
		if (strcmp(a->service, b->service) != 0)
			return err_set(ERR_REJECT,
			    "resources changed: service %s in place of %s "
			    "(the services are fixed for the lease)",
			    b->service, a->service);
		if (a->cpu_millis != b->cpu_millis)
			what = "cpu_millis", was = a->cpu_millis,
			now = b->cpu_millis;
		else if (a->memory_bytes != b->memory_bytes)
			what = "memory_bytes", was = a->memory_bytes,
			now = b->memory_bytes;
		else if (a->storage_bytes != b->storage_bytes)
			what = "storage_bytes", was = a->storage_bytes,
			now = b->storage_bytes;
		else if (a->gpu_units != b->gpu_units)
			what = "gpu_units", was = a->gpu_units,
			now = b->gpu_units;
		if (what)
			return err_set(ERR_REJECT,
			    "resources changed: service %s %s %llu, the lease "
			    "runs %llu (fixed for the lease; deploy anew to "
			    "change it)",
			    a->service, what, now, was);
	}
	return 0;
}

/* The host of pd's API URL, for accept_check_name. */
static void
api_host(const struct pd *pd, char *out, size_t cap)
{
	const char *p = strstr(pd->api_url, "://");
	size_t n;

	p = p ? p + 3 : pd->api_url;
	n = *p == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

int
pd_accept_check(struct pd *pd, const struct lease *self, const struct lease *nx,
    int locked)
{
	char host[256];
	json_t *claims = NULL;
	int rc;

	api_host(pd, host, sizeof(host));
	if ((rc = accept_claims(nx, pd->cfg.domain, host, &claims)) < 0)
		return rc;
	if (json_array_size(claims) > 0) {
		if (!locked)
			pthread_mutex_lock(&pd->mu);
		rc = accept_conflict(pd->leases, self, claims);
		if (!locked)
			pthread_mutex_unlock(&pd->mu);
	}
	json_decref(claims);
	return rc;
}

int
pd_accept_route(struct pd *pd, const char *host, const char *path,
    struct gateway_route *rt)
{
	char low[ACCEPT_NAME_MAX + 1];
	int r;

	/* addresses and the provider's own names: no lock, no walk */
	if (!accept_host_of(host, low, sizeof(low)) ||
	    accept_host_unclaimable(low, pd->cfg.domain))
		return 0;
	pthread_mutex_lock(&pd->mu);
	r = accept_route(pd->leases, host, path, rt);
	pthread_mutex_unlock(&pd->mu);
	return r;
}

json_t *
pd_update_status(const struct lease *l)
{
	const struct lease_rollout *ro = l->rollout;

	if (ro == NULL)
		return NULL;
	return json_pack("{s:s,s:s,s:I,s:I}", "manifest_hash", ro->hash,
	    "state", "rolling", "replaced", (json_int_t)ro->replaced,
	    "replicas", (json_int_t)l->nrep);
}

/* DATA/leases/ID/rollout.json: the rollout's manifest and the first
 * replica not yet replaced, for a restart to resume from (removed when
 * it ends).  Best effort: a lost file leaves replicas on the old
 * manifest until they restart, as before. */
static void
rollout_path(const struct pd *pd, const struct lease *l, char *buf, size_t cap)
{
	snprintf(buf, cap, "%.3800s/leases/%.32s/rollout.json", pd->data,
	    l->id);
}

static void
rollout_save(const struct pd *pd, const struct lease *l,
    const struct lease_rollout *ro)
{
	char path[PATH_MAX], *text;

	rollout_path(pd, l, path, sizeof(path));
	if (ro == NULL) {
		(void)unlink(path);
		return;
	}
	if (asprintf(&text, "{\"manifest_hash\":\"%s\",\"next\":%zu}\n",
	        ro->hash, ro->i) < 0)
		return;
	if (util_write_file(path, text, strlen(text), 0600) < 0)
		log_warn("lease %s: %s", l->id, err_msg());
	free(text);
}

void
pd_update_resume(struct pd *pd, struct lease *l)
{
	char path[PATH_MAX];
	struct lease_rollout *ro;
	json_error_t je;
	json_t *j;
	const char *h;
	json_int_t next;

	rollout_path(pd, l, path, sizeof(path));
	if ((j = json_load_file(path, 0, &je)) == NULL)
		return;
	h = json_string_value(json_object_get(j, "manifest_hash"));
	next = json_integer_value(json_object_get(j, "next"));
	if (l->status != LEASE_RUNNING || h == NULL ||
	    strcmp(h, l->manifest_hash) != 0 || next < 0 ||
	    (size_t)next >= l->nrep || l->rollout != NULL ||
	    (ro = calloc(1, sizeof(*ro))) == NULL) {
		json_decref(j);
		(void)unlink(path);
		return;
	}
	snprintf(ro->hash, sizeof(ro->hash), "%s", h);
	ro->i = ro->replaced = (size_t)next;
	ro->phase = RO_NEXT;
	ro->grace_ms = (int)pd->cfg.stop_grace_ms;
	json_decref(j);
	pthread_mutex_lock(&pd->mu);
	l->rollout = ro;
	pthread_mutex_unlock(&pd->mu);
	log_info("lease %s: resuming its update to manifest %.12s…: replicas "
	         "%zu to %zu restart on it",
	    l->id, ro->hash, ro->i + 1, l->nrep);
}

static void
rollout_free(struct lease_rollout *ro)
{
	if (ro == NULL)
		return;
	lease_free(ro->next);
	free(ro);
}

/* The tenant's signature over the whole request; 0 or resp filled. */
static int
authorize_update(struct pd *pd, struct lease *l, const struct http_request *req,
    struct http_response *resp)
{
	uint8_t signer[KEY_PUB_LEN];
	char *target = NULL;
	int rc;

	if (gateway_target(req, req->path, &target) < 0) {
		http_respond_error(resp, 500, "%s", err_msg());
		return -1;
	}
	rc = reqsig_verify(pd->rc, http_header(req, REQSIG_HEADER), req->method,
	    target, req->body, req->body_len, util_now_ms(), signer);
	free(target);
	if (rc < 0) {
		http_respond_error(resp, 401, "%s", err_msg());
		return -1;
	}
	if (memcmp(signer, l->tenant, KEY_PUB_LEN) != 0) {
		http_respond_error(resp, 403,
		    "lease %s: only its tenant may update it", l->id);
		return -1;
	}
	return 0;
}

/* Can l take an update now (under the lock)?  NULL, or why not. */
static const char *
not_updatable(const struct lease *l)
{
	size_t i;

	if (l->status == LEASE_CLOSED || l->pending_close[0])
		return "is closed or closing";
	if (l->status != LEASE_RUNNING || !l->started_posted)
		return "has not started yet: its manifest is still being "
		       "delivered";
	if (l->pause != LEASE_PAUSE_NONE)
		return "is paused (its escrow ran dry): top it up first";
	if (l->rollout)
		return "is being updated already: wait for that update to "
		       "finish";
	for (i = 0; i < l->nrep; i++)
		if (!lease_replica_running(&l->rep[i]) && !l->rep[i].done)
			return "has a replica that is not running (starting, "
			       "preparing or restarting): update once every "
			       "replica runs";
	return NULL;
}

void
pd_post_update(struct pd *pd, const char *id, const struct http_request *req,
    struct http_response *resp)
{
	struct lease *l, *nx = NULL;
	struct lease_rollout *ro = NULL;
	json_t *m = NULL, *ml = NULL, *om;
	const char *why, *ledger_hash, *st;
	char got[65], path[PATH_MAX + 64], *canon = NULL;
	size_t clen, i;
	int rc;

	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, id);
	pthread_mutex_unlock(&pd->mu);
	if (l == NULL) {
		http_respond_error(resp, 404, "no lease %s on this provider",
		    id);
		return;
	}
	if (authorize_update(pd, l, req, resp) < 0)
		return;
	pthread_mutex_lock(&pd->mu);
	why = not_updatable(l);
	pthread_mutex_unlock(&pd->mu);
	if (why) {
		http_respond_error(resp, 409, "lease %s %s", id, why);
		return;
	}
	/* The ledger says which manifest the tenant moved the lease to. */
	snprintf(path, sizeof(path), "/v1/leases/%s", id);
	if ((rc = pd_market_get(pd, path, &ml)) < 0) {
		http_respond_error(resp, 503,
		    "lease %s: the market cannot be asked for the manifest "
		    "hash it recorded: %s",
		    id, err_msg());
		return;
	}
	ledger_hash = json_string_value(json_object_get(ml, "manifest_hash"));
	st = json_string_value(json_object_get(ml, "status"));
	reqsig_sha256_hex(req->body, req->body_len, got);
	if (st == NULL || strcmp(st, "active") != 0) {
		http_respond_error(resp, 409, "lease %s is %s in the ledger",
		    id, st ? st : "unknown");
		goto out;
	}
	if (ledger_hash == NULL || strcmp(ledger_hash, got) != 0) {
		http_respond_error(resp, 409,
		    "lease %s: this manifest's sha256 %s is not the manifest "
		    "hash the ledger records for the lease (%s): sign a "
		    "lease.update for it first (`tenant update`), and send "
		    "its canonical JSON bytes",
		    id, got, ledger_hash ? ledger_hash : "none");
		goto out;
	}
	if (strcmp(got, l->manifest_hash) == 0) {
		http_respond_error(resp, 409,
		    "lease %s runs manifest %s already", id, got);
		goto out;
	}
	if ((rc = cjson_parse(req->body, req->body_len, &m)) < 0) {
		http_respond_error(resp, 400, "manifest: %s", err_msg());
		goto out;
	}
	if ((rc = lease_new(l->id, l->order, l->tenant_text, got, l->placement,
	         &nx)) < 0) {
		http_respond_error(resp, 500, "%s", err_msg());
		goto out;
	}
	pthread_mutex_lock(&pd->mu);
	memcpy(nx->scope, l->scope, sizeof(nx->scope));
	memcpy(nx->blobs, l->blobs, sizeof(nx->blobs));
	nx->nblobs = l->nblobs;
	pthread_mutex_unlock(&pd->mu);
	if ((rc = lease_set_manifest(nx, m)) < 0) {
		http_respond_error(resp, rc == ERR_REJECT ? 422 : 400,
		    "manifest: %s", err_msg());
		goto out;
	}
	for (i = 0; i < nx->nrep && !nx->rep[i].oci; i++)
		;
	if (i < nx->nrep) {
		http_respond_error(resp, 422,
		    "lease %s: service %s runs an OCI image: this provider "
		    "replaces process and WebAssembly replicas in place, not "
		    "images; close the deployment and deploy the new file",
		    id, nx->rep[i].service);
		goto out;
	}
	for (i = 0; i < nx->nrep &&
	     !(nx->rep[i].wasm &&
	         strcmp(nx->rep[i].wasm_kind, "wasm+file") == 0);
	     i++)
		;
	if (i < nx->nrep) {
		http_respond_error(resp, 422,
		    "lease %s: service %s runs a wasm+file module, which the "
		    "manifest names by its path, not its hash, and which "
		    "pairs with the lease's first uploads: an update cannot "
		    "say which module to run; use wasm+https (with its "
		    "sha256), or close the deployment and deploy the new file",
		    id, nx->rep[i].service);
		goto out;
	}
	pthread_mutex_lock(&pd->mu);
	rc = lease_update_same_resources(l, nx);
	pthread_mutex_unlock(&pd->mu);
	if (rc < 0 || (rc = pd_prepare_artifacts(pd, nx)) < 0 ||
	    (rc = pd_accept_check(pd, l, nx, 0)) < 0) {
		http_respond_error(resp, rc == ERR_REJECT ? 422 : 500,
		    "update refused: %s", err_msg());
		goto out;
	}
	if ((ro = calloc(1, sizeof(*ro))) == NULL) {
		http_respond_error(resp, 500, "out of memory");
		goto out;
	}
	snprintf(ro->hash, sizeof(ro->hash), "%s", got);
	ro->grace_ms = (int)pd->cfg.stop_grace_ms;
	ro->phase = RO_NEXT;
	/* Installed under the lock once more checked: nothing changed
	 * before this point. */
	pthread_mutex_lock(&pd->mu);
	why = not_updatable(l);
	if (why == NULL && pd_accept_check(pd, l, nx, 1) < 0)
		why = err_msg();
	if (why == NULL) {
		snprintf(path, sizeof(path), "%s/leases/%s/manifest.json",
		    pd->data, id);
		if (cjson_dump(m, &canon, &clen) < 0 ||
		    util_write_file(path, canon, clen, 0600) < 0)
			why = err_msg();
	}
	if (why == NULL) {
		om = l->manifest;
		l->manifest = nx->manifest;
		nx->manifest = om;
		snprintf(l->manifest_hash, sizeof(l->manifest_hash), "%s", got);
		ro->next = nx;
		nx = NULL;
		l->rollout = ro;
		rollout_save(pd, l, ro);
		ro = NULL;
		pd->dirty = 1;
	}
	pthread_mutex_unlock(&pd->mu);
	if (why) {
		http_respond_error(resp, 409, "lease %s: %s", id, why);
		goto out;
	}
	log_info("lease %s: update to manifest %.12s… accepted; replacing "
	         "its %zu replicas one at a time",
	    id, got, l->nrep);
	pd_wake(pd);
	http_respond(resp, 202,
	    json_dumps(json_pack("{s:s,s:s}", "status", "updating",
	                   "manifest_hash", got),
	        JSON_COMPACT | JSON_SORT_KEYS));
out:
	free(canon);
	rollout_free(ro);
	lease_free(nx);
	json_decref(m);
	json_decref(ml);
}

static void *
rollout_stopper(void *arg)
{
	struct lease_rollout *ro = arg;

	lease_stop_run(&ro->st, ro->grace_ms);
	atomic_store(&ro->done, 1);
	return NULL;
}

/* Put the new replica i in place of the stopped one (under the lock):
 * the lease's CPU of the old one stays counted. */
static void
swap_in(struct lease *l, struct lease_rollout *ro, int64_t now)
{
	struct lease_replica old = l->rep[ro->i];

	if (ro->next == NULL) {
		/* resumed: the replica is the new manifest's already */
		l->rep[ro->i].next_start_ms = 0;
		l->rep[ro->i].cleaned = ro->stopped_ok;
		ro->phase = RO_STARTING;
		ro->since_ms = now;
		return;
	}
	l->rep[ro->i] = ro->next->rep[ro->i];
	ro->next->rep[ro->i] = old;
	l->rep[ro->i].cpu_ms_done = old.cpu_ms_done;
	l->rep[ro->i].next_start_ms = 0;
	/* a stop that went through emptied its cgroup: nothing to clean
	 * before the new one starts under the same name */
	l->rep[ro->i].cleaned = ro->stopped_ok;
	ro->next->rep[ro->i].cpu_ms_done = 0;
	ro->phase = RO_STARTING;
	ro->since_ms = now;
}

void
pd_update_tick(struct pd *pd, struct lease *l, int64_t now)
{
	struct lease_rollout *ro;
	struct lease_replica *r;
	int wake = 0;

	pthread_mutex_lock(&pd->mu);
	/* a pause holds a rollout where it is until the resume (a close
	 * does not) */
	if ((ro = l->rollout) == NULL ||
	    (l->pause != LEASE_PAUSE_NONE && !l->pending_close[0])) {
		pthread_mutex_unlock(&pd->mu);
		return;
	}
	if (ro->phase == RO_STOPPING) {
		if (!atomic_load(&ro->done) && !l->pending_close[0]) {
			pthread_mutex_unlock(&pd->mu);
			return;
		}
		if (ro->threaded) {
			/* done, or the lease closes: its close does not see
			 * this sandbox, so its stop is waited for here (the
			 * grace at most) and its CPU counted */
			pthread_mutex_unlock(&pd->mu);
			pthread_join(ro->thread, NULL);
			pthread_mutex_lock(&pd->mu);
			ro->threaded = 0;
		}
		ro->stopped_ok = ro->st.n == 1 && ro->st.status[0] != -1;
		lease_stop_finish(l, &ro->st);
		if (!l->pending_close[0] && l->status == LEASE_RUNNING) {
			swap_in(l, ro, now);
			wake = 1;
		}
		pd->dirty = 1;
	}
	if (l->pending_close[0] || l->status != LEASE_RUNNING) {
		/* Closing: what was replaced stays, the close stops it all. */
		log_info("lease %s: update stopped by the close after %zu of "
		         "%zu replicas",
		    l->id, ro->replaced, l->nrep);
		l->rollout = NULL;
		rollout_save(pd, l, NULL);
		pthread_mutex_unlock(&pd->mu);
		rollout_free(ro);
		return;
	}
	if (ro->phase == RO_STARTING) {
		r = &l->rep[ro->i];
		if (!lease_replica_running(r) && !r->done && r->restarts < 3 &&
		    now - ro->since_ms < LEASE_UPDATE_START_WAIT_MS) {
			pthread_mutex_unlock(&pd->mu);
			if (wake)
				pd_wake(pd);
			return;
		}
		if (!lease_replica_running(r) && !r->done)
			log_warn("lease %s: %s does not run after its update "
			         "(%s); going on with the next replica",
			    l->id, r->name,
			    r->last_error[0] ? r->last_error : "starting");
		ro->replaced++;
		ro->i++;
		ro->phase = RO_NEXT;
		if (ro->i < l->nrep)
			rollout_save(pd, l, ro);
	}
	if (ro->i == l->nrep) {
		log_info("lease %s: updated to manifest %.12s…: %zu replicas "
		         "replaced",
		    l->id, ro->hash, ro->replaced);
		l->rollout = NULL;
		rollout_save(pd, l, NULL);
		pd->dirty = 1;
		pthread_mutex_unlock(&pd->mu);
		rollout_free(ro);
		return;
	}
	/* RO_NEXT: take replica i away and stop it off the loop. */
	r = &l->rep[ro->i];
	lease_replica_drop_pool(r);
	r->next_start_ms = INT64_MAX;
	ro->st.n = 0;
	ro->stopped_ok = 0;
	if (r->sb == NULL) {
		swap_in(l, ro, now);
		wake = 1;
	} else {
		ro->st.rep[0] = ro->i;
		ro->st.sb[0] = r->sb;
		ro->st.status[0] = -1;
		ro->st.n = 1;
		r->sb = NULL;
		atomic_store(&ro->done, 0);
		ro->phase = RO_STOPPING;
		if (pthread_create(&ro->thread, NULL, rollout_stopper, ro) == 0)
			ro->threaded = 1;
		else
			rollout_stopper(ro); /* no thread: stop it here */
	}
	log_info("lease %s: replacing %s (%zu of %zu)", l->id, r->name,
	    ro->i + 1, l->nrep);
	pd->dirty = 1;
	pthread_mutex_unlock(&pd->mu);
	if (wake)
		pd_wake(pd);
}
