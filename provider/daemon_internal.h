/*
 * daemon_internal: the daemon's shared state, for daemon.c and api.c.
 */
#ifndef LODGE_PROVIDER_DAEMON_INTERNAL_H
#define LODGE_PROVIDER_DAEMON_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/http.h"
#include "common/key.h"
#include "common/reqsig.h"
#include "provider/artifact.h"
#include "provider/config.h"
#include "provider/image_run.h"
#include "provider/lease.h"
#include "provider/lease_net.h"
#include "provider/logwatch.h"
#include "provider/netpolicy.h"

struct prep;
struct closing;

struct pd {
	char data[PATH_MAX];
	struct provider_config cfg;
	struct key *key;
	char key_text[KEY_TEXT_SIZE];
	uint8_t market_key[KEY_PUB_LEN];
	int64_t epoch_ms;
	char api_url[256];
	int64_t wasm_fuel; /* per-request limits of wasm functions: */
	int64_t wasm_deadline_ms; /* LODGE_FUEL, LODGE_DEADLINE_MS, read
	                                once at start (lease.h's defaults) */
	struct netpolicy policy; /* where tenants' artifacts may come from */
	struct sandbox_spec base; /* what every sandbox shares */
	char self[PATH_MAX]; /* this binary, run by preparation jobs */
	/* The main loop's own (no lock): */
	struct prep *preps; /* preparation jobs running */
	size_t nprep, capprep;
	struct closing *closing; /* leases whose sandboxes are stopping */
	int64_t start_ms; /* when this process started (wall clock) */

	pthread_mutex_t mu; /* guards everything below */
	struct lease *leases; /* never freed while running */
	uint64_t next_index; /* next ledger index to handle */
	int dirty; /* state.json needs writing */
	int readvertise;
	int withdrawn; /* provider.withdraw seen: no more advertising */

	struct http_server *http;
	struct tls_server *tls; /* NULL: plain HTTP (--insecure-http) */
	struct reqsig_cache *rc;
	struct artifact_cache cache;
	struct image_runner *images; /* the "oci" runtime, or NULL */
	pthread_cond_t wake; /* (with mu) the loop's tick ends early */
	atomic_int stop; /* set by the main loop; read by the follower
	                    and the log streams (no lock) */
	struct logwatch watch; /* the market's checkpoints (follower) */
	struct net *net; /* deployment networks, or NULL (off) */
	char net_scope[16]; /* their names' scope: this provider's */
};

/* The HTTP handler: /v1/... API and the gateway; and the hooks that check
 * requests with a body from their head (http_server_config.hooks). */
void api_handle(void *ctx, const struct http_request *req,
    struct http_response *resp);
extern const struct http_hook api_hooks[];
/* The gateway's requests to a lease's services, forwarded in the HTTP
 * server's loop (http_server_config.route); wasm functions and answers
 * the gateway makes itself (404, 503) go to api_handle. */
int api_route_upstream(void *ctx, const struct http_request *req, int may_block,
    struct http_upstream *up);

/* Lease by id (under pd->mu). */
struct lease *pd_find_lease(struct pd *pd, const char *id);

/* Check a lease's replicas against this provider (process limits, where
 * its artifacts may be fetched from: ERR_REJECT for a refused URL) and
 * take what is at hand (uploaded blobs, checkouts already cached); what
 * takes time (fetches, clones, compiles) is left to the main loop's
 * preparation jobs, so this never waits on the network.  l is not yet
 * shared (no lock needed). */
int pd_prepare_artifacts(struct pd *pd, struct lease *l);

/* Wake the main loop before its next tick (a manifest accepted, a pull
 * done), so a replica starts at once.  Without the lock. */
void pd_wake(struct pd *pd);

/* Ask the main loop to stop l with reason (under pd->mu); post_close:
 * also sign lease.close (the provider's own decision). */
void pd_request_close(struct pd *pd, struct lease *l, const char *reason,
    int post_close);

/* ---- deployment networks (provider/daemon_net.c) ---- */

/* At start, before any lease is loaded: with --net on, make pd->net
 * (what the last process of this key left stays, for the leases that
 * adopt it); without root or ip/nft, run without networks (logged; no
 * capability advertised).  A bad network config is fatal. */
int pd_net_start(struct pd *pd);

/* Once the leases are loaded (their networks adopted or made): remove
 * the networks of this key's scope that no lease holds (net_cleanup_
 * stale: leases closed, or gone, while no provider ran). */
void pd_net_sweep(struct pd *pd);

/* A lease's manifest is set (l not yet shared, or under the lock at
 * load): refuse it (ERR_REJECT naming the capability) when it needs what
 * this provider does not offer; else plan its forwarded ports and make
 * its network when networks are on. */
int pd_net_lease(struct pd *pd, struct lease *l);

/* The spec of replica i's start: /etc/hosts names, resolv.conf and the
 * net_setup callback (with *att as its argument); *hosts and *resolv
 * are malloc'd (free after the start).  Nothing when l has no network. */
int pd_net_spec(struct pd *pd, const struct lease *l, size_t i,
    struct sandbox_spec *spec, struct lease_net_attach *att, char **hosts,
    char **resolv);

/* At the daemon's exit: the networks of running leases (whose sandboxes
 * stay, for the next process to adopt) left in the kernel, the others
 * removed, pd->net freed. */
void pd_net_stop(struct pd *pd);

#endif
