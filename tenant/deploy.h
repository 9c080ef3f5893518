/*
 * deploy: the tenant's deploy state machine.  SDL file -> orders posted
 * with escrow -> matched -> manifest (and blobs) sent to each winning
 * provider -> artifacts fetched -> running -> service URLs through the
 * provider's gateway.  Each step is reported to a progress callback as
 * it happens; the CLI renders it (docs/tenant.md, "Deploy progress").
 */
#ifndef LODGE_TENANT_DEPLOY_H
#define LODGE_TENANT_DEPLOY_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "sdl/sdl.h"
#include "tenant/client.h"
#include "tenant/config.h"

/* Default deposit per order: max_price x this many epochs. */
#define TENANT_DEFAULT_DEPOSIT_EPOCHS 600
#define TENANT_DEFAULT_TTL_MS 60000
#define TENANT_DEFAULT_RUN_TIMEOUT_MS 120000
#define TENANT_POLL_MS 25

enum tenant_step {
	TENANT_STEP_VALIDATED, /* SDL parsed and checked */
	TENANT_STEP_POSTED, /* an order.create was accepted */
	TENANT_STEP_MATCHED, /* a lease was created for an order */
	TENANT_STEP_MANIFEST, /* manifest (and blobs) accepted */
	TENANT_STEP_FETCHED, /* the provider has the artifacts */
	TENANT_STEP_RUNNING, /* every replica of the lease runs */
	TENANT_STEP_URL, /* a service's URL */
	TENANT_STEP_COUNT
};

/* What the callback gets.  done is false for "in progress" notes
 * (waiting for a match, ...), true when the step is complete.  Strings
 * are borrowed for the duration of the call. */
struct tenant_progress {
	enum tenant_step step;
	bool done;
	const char *order; /* "o-N" or NULL */
	const char *lease; /* "l-N" or NULL */
	const char *text; /* one line for people */
};

typedef void (*tenant_progress_fn)(void *ctx, const struct tenant_progress *p);

/* How a deploy failed, for exit codes. */
enum tenant_failure {
	TENANT_FAIL_NONE = 0,
	TENANT_FAIL_OTHER, /* market/network/local error */
	TENANT_FAIL_SDL, /* the file is not valid SDL */
	TENANT_FAIL_NOMATCH, /* nothing matched before the TTL */
	TENANT_FAIL_PROVIDER, /* provider refused or did not run it */
};

struct tenant_deploy_opts {
	const char *file;
	int64_t deposit; /* per order; 0: max_price x 600 epochs */
	int64_t ttl_ms; /* 0: TENANT_DEFAULT_TTL_MS */
	int64_t run_timeout_ms; /* 0: TENANT_DEFAULT_RUN_TIMEOUT_MS */
	bool no_wait; /* stop after posting the orders */
};

/*
 * Deploy opts->file.  SDL errors and warnings go to errs (caller-owned,
 * free with sdl_errors_free; the warnings are there once the step
 * TENANT_STEP_VALIDATED is reported).  On return (success or not) *result, when not NULL,
 * is the deployment so far, caller-owned: {"deployment":"o-N",
 * "orders":[{"order","lease","provider","price","api_url","status"
 * ("running", or "closed" when its manifest could not be delivered and
 * the lease was closed manifest_not_delivered),"deposit",
 * "services":{name:url}}],"failed_step"?,"reason"?}.  Before any order
 * is posted, a deposit below the minimum lease x the price of the
 * provider the market's quote (POST /v1/quote) picks now, or a balance
 * short of the deposits
 * and fees, is refused (ERR_REJECT naming the amount needed).  *failure
 * says how it failed.  Returns 0 or a negative ERR_* with err_msg() set.
 */
int tenant_deploy(struct tenant_client *c, const struct tenant_paths *paths,
    const struct tenant_deploy_opts *opts, tenant_progress_fn fn, void *ctx,
    struct sdl_errors *errs, enum tenant_failure *failure, json_t **result);

#endif
