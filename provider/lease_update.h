/*
 * lease_update: `tenant update` on the provider's side, and the glue of
 * accept host names (provider/accept.h) to the daemon.  POST
 * /v1/leases/<l>/update takes a new manifest from the lease's tenant
 * when its hash is the one the ledger recorded by the tenant's
 * lease.update and its replicas need the same resources; the main loop
 * then replaces the replicas one at a time (docs/provider.md).
 */
#ifndef LODGE_PROVIDER_LEASE_UPDATE_H
#define LODGE_PROVIDER_LEASE_UPDATE_H

#include <jansson.h>

#include "provider/daemon_internal.h"
#include "provider/gateway.h"

/* How long the rollout waits for a new replica to run before it goes on
 * to the next one (it keeps restarting with backoff as any replica). */
#define LEASE_UPDATE_START_WAIT_MS 60000

/* Do the replicas of next need what those of cur hold: the same
 * services, replica for replica, with the same cpu, memory, storage and GPUs?
 * 0, or ERR_REJECT naming the first difference. */
int lease_update_same_resources(const struct lease *cur,
    const struct lease *next);

/* POST /v1/leases/<id>/update: the tenant-signed canonical manifest whose
 * sha256 is the lease's manifest_hash in the ledger (a lease.update),
 * for a running lease whose replicas all run.  401/403 bad or foreign
 * signature; 409 a hash that is not the ledger's (an old or replayed
 * update, a manifest that does not match), a closed lease, an update in
 * progress; 422 changed resources, a runtime that cannot be updated in
 * place, a host name refused.  202 once the rollout is set (nothing of
 * the lease changed before). */
void pd_post_update(struct pd *pd, const char *id,
    const struct http_request *req, struct http_response *resp);

/* Main loop: move l's rollout on a step (take a replica, finish its stop
 * and put the new one in its place, see that it runs).  Without the
 * lock. */
void pd_update_tick(struct pd *pd, struct lease *l, int64_t now);

/* After a restart (load_state, once l's sandboxes are adopted): an
 * update the last process was rolling out goes on from the first replica
 * it had not replaced (DATA/leases/ID/rollout.json), restarting the
 * adopted ones that still run the old manifest. */
void pd_update_resume(struct pd *pd, struct lease *l);

/* {"manifest_hash","state":"rolling","replaced","replicas"} while l has a
 * rollout, else NULL.  Under the lock. */
json_t *pd_update_status(const struct lease *l);

/* The accept host names of next (a manifest being set on lease self):
 * checked, and free of other live leases' claims (under the lock when
 * locked, else it takes it).  0 or ERR_REJECT. */
int pd_accept_check(struct pd *pd, const struct lease *self,
    const struct lease *next, int locked);

/* A request whose Host a running lease accepts: 1 with rt filled.
 * Takes the lock. */
int pd_accept_route(struct pd *pd, const char *host, const char *path,
    struct gateway_route *rt);

/* GET market+path as JSON (daemon.c). */
int pd_market_get(struct pd *pd, const char *path, json_t **out);

#endif
