/*
 * lease_fit: a lease's manifest asks no more than its order did.  The
 * market matched, reserved and bills the order's resources; the manifest
 * is only bound to the order by its hash, so a tenant writing both could
 * otherwise ask a tiny order and run a huge manifest on the host.
 */
#ifndef LODGE_PROVIDER_LEASE_FIT_H
#define LODGE_PROVIDER_LEASE_FIT_H

#include <jansson.h>

#include "provider/lease.h"

/* 0 when l's replicas (after lease_set_manifest) ask, in all, no more
 * replicas, cpu_millis, memory_bytes, storage_bytes and gpu_units (absent
 * in an entry: none) than the order's "resources" array (each entry times
 * its "count"); ERR_REJECT naming
 * what is over, and by how much, otherwise (also for a malformed
 * resources array). */
int lease_fits_order(const struct lease *l, const json_t *resources);

#endif
