/*
 * ratelimit: a token bucket per signing key for the market's submissions
 * (issue 12).  A key may submit `rate` entries per second on average and
 * `burst` at once; the market asks before it verifies a signature (peek:
 * nothing is taken, so a forger cannot drain someone else's bucket) and
 * takes a token once the signature verified.  Not part of the ledger's
 * rules: it protects the sequencer, so it lives in the market only.
 */
#ifndef LODGE_MARKET_RATELIMIT_H
#define LODGE_MARKET_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"

struct ratelimit;

/* rate <= 0 turns limiting off (every call answers 0).  max_keys bounds
 * the keys tracked at once: past it, keys whose bucket has refilled are
 * forgotten (a full bucket is what an unknown key gets anyway), and a key
 * that still finds no room is let through untracked.  The caller owns
 * *out. */
int ratelimit_new(double rate, double burst, size_t max_keys,
    struct ratelimit **out);
void ratelimit_free(struct ratelimit *r);

/* 0 when key has a token at now_ms (nothing taken); else the
 * milliseconds until it will have one (> 0).  Thread-safe. */
int64_t ratelimit_peek(struct ratelimit *r, const uint8_t key[KEY_PUB_LEN],
    int64_t now_ms);
/* Take a token: 0 when taken, else the milliseconds until one (nothing
 * taken).  Thread-safe. */
int64_t ratelimit_take(struct ratelimit *r, const uint8_t key[KEY_PUB_LEN],
    int64_t now_ms);
/* Keys tracked now (for metrics and tests). */
size_t ratelimit_keys(struct ratelimit *r);

#endif
