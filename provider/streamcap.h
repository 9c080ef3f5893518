/*
 * streamcap: how many of the provider's long-lived answers (a lease's
 * logs or events followed) one tenant holds open at once, and how many
 * requests to its leases (the gateway's, exec input) are in progress at
 * once, so that one tenant cannot take every stream or every worker
 * thread the API server has for everyone.
 */
#ifndef LODGE_PROVIDER_STREAMCAP_H
#define LODGE_PROVIDER_STREAMCAP_H

#include <stdint.h>

#include "common/key.h"

/* Streams one tenant (by key) may hold at once, over all its leases. */
#define STREAMCAP_PER_TENANT 16
/* Requests to one tenant's leases in progress at once on the API
 * server's 64 worker threads: wasm functions and exec input (requests to
 * a lease's services are forwarded in the server's loop instead, bounded
 * by GATEWAY_MAX_PER_TENANT connections, provider/gateway.h). */
#define STREAMCAP_BUSY_PER_TENANT 16
/* Tenants holding streams at once (the API server holds 512 streams). */
#define STREAMCAP_TENANTS 512

/* Take one stream for tenant: 0, or ERR_LIMIT (message set) when it
 * holds STREAMCAP_PER_TENANT already.  Thread-safe. */
int streamcap_take(const uint8_t tenant[KEY_PUB_LEN]);

/* Give back one stream taken for tenant. */
void streamcap_give(const uint8_t tenant[KEY_PUB_LEN]);

/* Streams tenant holds now (for tests and status). */
unsigned streamcap_held(const uint8_t tenant[KEY_PUB_LEN]);

/* Take one request in progress for tenant: 0, or ERR_LIMIT (message
 * set) when STREAMCAP_BUSY_PER_TENANT are.  Thread-safe. */
int streamcap_busy_take(const uint8_t tenant[KEY_PUB_LEN]);

/* Give back one request taken for tenant. */
void streamcap_busy_give(const uint8_t tenant[KEY_PUB_LEN]);

/* Requests in progress for tenant now. */
unsigned streamcap_busy_held(const uint8_t tenant[KEY_PUB_LEN]);

#endif
