/*
 * update: `tenant update DEPLOYMENT FILE`, Akash's deployment update.  The
 * new file must keep what each lease was matched and priced on (its
 * order: placement, resources, count, price, runtimes; ledger/state.h
 * state_update_check, checked here for every lease before anything is
 * signed); then, per lease, the tenant signs lease.update with the new
 * manifest hash, sends the manifest to the provider (POST
 * /v1/leases/<l>/update) and waits while it replaces the replicas.  The
 * lease, its provider and its escrow stay (docs/tenant.md).
 */
#ifndef LODGE_TENANT_UPDATE_H
#define LODGE_TENANT_UPDATE_H

#include <stdint.h>
#include <jansson.h>

#include "sdl/sdl.h"
#include "tenant/client.h"
#include "tenant/config.h"

/* Told as each lease moves on: text is one line for people. */
typedef void (
    *tenant_update_fn)(void *ctx, const char *lease, const char *text);

/*
 * Update deployment id (o-N, or l-N: that lease only) to the SDL file
 * file.  SDL findings go to errs.  Refused before anything is signed
 * (ERR_REJECT, the reason): an order whose lease is not active, a
 * placement the file adds or drops, a changed order (the message names
 * the field), a service run from an OCI image or a wasm+file module
 * (providers do not replace those in place), a manifest the leases run
 * already.  timeout_ms (0: two
 * minutes) bounds the wait for each provider's rollout.  *result (caller
 * owns, also on failure when not NULL): {"deployment","manifest_hash",
 * "leases":[{"lease","order","provider","index","status"}]}.  The
 * deployment's local record gets the new file and manifest.
 */
int tenant_update(struct tenant_client *c, const struct tenant_paths *p,
    const char *id, const char *file, int64_t timeout_ms,
    struct sdl_errors *errs, tenant_update_fn fn, void *ctx, json_t **result);

#endif
