/*
 * daemon: `provider run`.  Advertises, heartbeats, follows the market's
 * event stream for this provider's leases, takes manifests, runs and
 * meters the sandboxes, reports usage every epoch and serves the API and
 * the gateway on one listen address.  See docs/provider.md.
 */
#ifndef LODGE_PROVIDER_DAEMON_H
#define LODGE_PROVIDER_DAEMON_H

#include <signal.h>
#include <jansson.h>

#include "common/key.h"

/* A provider signs provider.heartbeat this often while idle (the market's
 * offline grace should be several times longer). */
#define PROVIDER_HEARTBEAT_MS 10000

/* Run the daemon from data_dir (provider.json, provider.key) until *stop
 * is set (by a signal handler); then stop the sandboxes, post a last
 * usage and return 0, or a negative code when it could not start. */
int provider_daemon_run(const char *data_dir, volatile sig_atomic_t *stop);

struct provider_overrides;

/* As provider_daemon_run, with the options of `provider run` over the
 * saved config (config.h; NULL: none). */
int provider_daemon_run_opts(const char *data_dir,
    const struct provider_overrides *o, volatile sig_atomic_t *stop);

/* Post one signed envelope to market/v1/entries; *status gets the HTTP
 * status and *reply (may be NULL; malloc'd) the body. */
int provider_post_entry(const char *market, const struct key *k,
    const char *kind, json_t *body, long *status, char **reply);

#endif
