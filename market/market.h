/*
 * market: the sequencer and its state.  It owns the ledger store, the
 * state machine and the market key; it verifies submitted envelopes,
 * applies them, appends them durably (group commit) together with the
 * entries the rules derive from them, signs checkpoints, and serves the
 * HTTP API (api.c).  The daemon (main.c) only parses arguments.
 */
#ifndef LODGE_MARKET_H
#define LODGE_MARKET_H

#include <stdint.h>
#include <jansson.h>

#include "ledger/state.h"

struct market;

struct market_options {
	const char *data_dir;
	const char *listen; /* "127.0.0.1:8080" */
	const char *origin; /* ledger origin, first start only */
	int64_t epoch_ms; /* 0: default (first start only) */
	int64_t take_rate_ppm; /* < 0: default (first start only) */
	int64_t offline_grace_ms; /* < 0: default */
	int64_t checkpoint_ms; /* how often to sign checkpoints */
	const char *denoms; /* "uakt,uact": the denominations settled,
	                              first start only; NULL: uakt */
	int check_invariants; /* full invariant walk after every
	                              * apply (O(state)); tests turn it on */
};

void market_options_default(struct market_options *o);

/* Open (creating on first start) the market in o->data_dir: ledger.db,
 * market.key, treasury.key, market.json.  On restart the state is
 * rebuilt by replaying the ledger.  *created tells a first start. */
int market_open(const struct market_options *o, struct market **out,
    int *created);
/* Serve HTTP on o->listen and run the ticker (expiries, checkpoints). */
int market_start(struct market *m);
/* The port actually bound (when the listen port was 0). */
uint16_t market_port(const struct market *m);
/* Stop serving and free everything.  Accepts NULL; leaves the error state
 * (err.h) as it found it. */
void market_free(struct market *m);

/* Public identity, for printing: market and treasury keys, verifier
 * key of the ledger.  Borrowed strings. */
const char *market_key_text(const struct market *m);
const char *market_treasury_text(const struct market *m);
const char *market_vkey(const struct market *m);

/*
 * Submit one envelope (JSON text).  On success *index is its ledger index
 * and it is durable.  Errors: ERR_INVAL (400), ERR_SIG (401),
 * ERR_CONFLICT (409, replayed nonce), ERR_REJECT (422), others (500);
 * err_msg() says why.  *id (may be NULL) receives the id the entry created.
 */
int market_submit(struct market *m, const char *body, size_t len,
    uint64_t *index, int64_t *time, char id[STATE_ID_LEN]);

/* The HTTP status for a market_submit error code. */
int market_status_for(int code);

#endif
