/*
 * runway: how long a lease's escrow still pays at the agreed price, from
 * the market's "paid_until" (the time from which the market closes it
 * insufficient_funds if nothing is added), for `tenant status` and the
 * warning lines of `tenant ls`.
 */
#ifndef LODGE_TENANT_RUNWAY_H
#define LODGE_TENANT_RUNWAY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Warn when less than this is left. */
#define TENANT_RUNWAY_WARN_MS (INT64_C(3600) * 1000)

/* ms left at now_ms before obj's "paid_until" (a lease view or a `tenant
 * ls` row), 0 when past it; -1 when it has none (not active, or free). */
int64_t tenant_runway_ms(const json_t *obj, int64_t now_ms);

/* ms left at now_ms before obj's "grace_until" (a paused lease's view or
 * `tenant ls` row: when the market closes it insufficient_funds unless a
 * top-up resumes it), 0 when past it; -1 when it is not paused. */
int64_t tenant_grace_ms(const json_t *obj, int64_t now_ms);

/* "2 d 3 h", "2 h 5 min", "4 min 10 s", "40 s" into buf. */
const char *tenant_duration(int64_t ms, char *buf, size_t cap);

#endif
