/*
 * replay: the market's configuration as the ledger's first entry, and the
 * replay of a whole ledger into the state machine.  Leaf 0 is a
 * "market.genesis" envelope signed by the market key:
 *   {"version":2,"treasury":KEY,"take_rate_ppm":N,"epoch_ms":N,
 *    "skew_ms":N,"offline_grace_ms":N,"denoms":[D...],
 *    "usage_skew_ms":N,"fees":{"default":N,"kinds":{KIND:N}},
 *    "bond":{"per_cpu":N,"per_gib":N},"manifest_window_ms":N,
 *    "min_lease_epochs":N}
 * so an auditor holding only the ledger knows every rule's parameters; the
 * market key is the genesis signer.  Every later leaf goes to state_apply.
 * Version 1 (before fees, bonds, usage bounds and manifest proofs) and
 * unknown versions are refused with a message saying so.
 */
#ifndef LODGE_LEDGER_REPLAY_H
#define LODGE_LEDGER_REPLAY_H

#include <stdint.h>
#include <jansson.h>

#include "common/envelope.h"
#include "common/key.h"
#include "ledger/state.h"
#include "ledger/store.h"

#define REPLAY_GENESIS_KIND "market.genesis"
#define REPLAY_GENESIS_VERSION 2

/* The genesis body for c (market key aside: it is the signer). */
int replay_genesis_body(const struct state_config *c, json_t **out);
/* Read a genesis envelope into c (defaults first, then the body; the
 * market key is the signer).  Ranges are checked by state_new. */
int replay_genesis_config(const struct envelope *e, struct state_config *c);

/* A parsed leaf: the envelope and the sequencer's index and time. */
struct replay_leaf {
	struct envelope *e;
	uint64_t index;
	int64_t time;
};
/* Parse exact leaf bytes (as stored); the caller frees out->e. */
int replay_parse_leaf(const char *data, size_t len, struct replay_leaf *out);

/* Replay every leaf of s into a new state; ERR_REJECT (or another code)
 * names the first index the rules refuse.  Derived entries still pending
 * at the end (state_pending_count) are the caller's: the market appends
 * them (a crash can fall between a cause and its derivation), an auditor
 * reports them.  With check set, invariants
 * are checked after every leaf.  The caller owns *out. */
int replay_store(struct store *s, int check, struct state **out,
    struct state_config *cfg);

/* Apply one more leaf in the order of the ledger: index 0 must be the
 * genesis (configures and creates *st); later ones go to state_apply. */
int replay_leaf(struct state **st, struct state_config *cfg, int check,
    const struct replay_leaf *l);

#endif
