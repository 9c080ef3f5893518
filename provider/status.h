/*
 * status: what `provider status` reports, from the data dir (provider.json,
 * provider.key, state.json) and the market (this provider's account).
 */
#ifndef LODGE_PROVIDER_STATUS_H
#define LODGE_PROVIDER_STATUS_H

#include <jansson.h>

/* {"key","name","market","capacity":{"cpu_millis","memory_bytes",
 * "storage_bytes"} (offered: detected less reserved),"leases":[...] (as
 * state.json has them; null before the daemon's first save),"account"
 * (the market's view of this provider's key; null when the market does
 * not answer within timeout_ms)}.  The caller owns *out.  Errors: those
 * of loading provider.json and provider.key. */
int provider_status_json(const char *data, int timeout_ms, json_t **out);

#endif
