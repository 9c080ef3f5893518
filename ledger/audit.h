/*
 * audit: replay a whole ledger the way the market ran it and check every
 * part of it: each leaf canonical and signed (verify.h), the Merkle tree
 * against the signed checkpoint, and each entry through the state machine
 * with the genesis rules (replay.h), invariants checked after every one.
 * A market that favoured a provider (a lease.create the matching rule did
 * not produce), charged above the agreed price or minted money is caught
 * here, at the first index where the rules disagree; so is usage past its
 * physical bound, a lease billed without a manifest-delivery proof, an
 * entry whose signer could not pay its fee and an ask without its bond
 * (each refusal names the index, the field and the rule).
 */
#ifndef LODGE_LEDGER_AUDIT_H
#define LODGE_LEDGER_AUDIT_H

#include <stdint.h>
#include <jansson.h>

#include "ledger/note.h"
#include "ledger/replay.h"
#include "ledger/state.h"
#include "ledger/verify.h"

struct audit;

/* vkey: the log's verifier key the checkpoints must be signed by. */
int audit_new(const struct note_verifier *vkey, struct audit **out);
void audit_free(struct audit *a);

/* Check leaves on up to threads threads (0, the default: every online
 * core; 1: this thread only, each leaf checked as it is fed).  The
 * verdict and the index a failure names do not depend on it. */
void audit_set_threads(struct audit *a, int threads);

/* Feed leaves in ledger order (time < 0 when not stored apart).  Leaves
 * are checked a batch at a time: a bad leaf may be reported by a later
 * audit_leaf, or by audit_checkpoint or audit_finish, which check what
 * was fed first; the message names its index either way. */
int audit_leaf(struct audit *a, uint64_t idx, int64_t time, const char *data,
    size_t len);
/* A signed checkpoint note; the latest one fed must cover every leaf. */
int audit_checkpoint(struct audit *a, const char *note, size_t len);
/* Final checks (a checkpoint covers everything, no derived entry left
 * missing); *summary (may be NULL) gets entries, root, the genesis
 * rules, final balances, totals (deposits, balances, escrows, bonds,
 * entry fees), orders, leases and providers. */
int audit_finish(struct audit *a, json_t **summary);

/* The replayed state (valid after the genesis leaf), borrowed. */
const struct state *audit_state(const struct audit *a);
/* The largest checkpoint note fed (NULL before any), borrowed, and the
 * tree rebuilt from the leaves, for proofs (valid while a lives). */
const char *audit_checkpoint_note(const struct audit *a);
void audit_reader(struct audit *a, struct merkle_reader *out);

/*
 * Where a ledger is audited from (audit_source.c): each of these feeds a
 * new audit every leaf up to the source's latest signed checkpoint and
 * that checkpoint (from a store, every checkpoint it holds).  On success
 * *out is ready for audit_finish and the caller frees it; on error *out
 * is NULL.
 */

/* The key the checkpoints must be signed by.  With pinned set, vk is the
 * caller's, the key the auditor trusts.  Otherwise the source's own key
 * goes into vk and learned is set as soon as it does (even when the audit
 * then fails): that proves the ledger consistent, not whose it is, and the
 * caller should say so. */
struct audit_key {
	struct note_verifier vk;
	int pinned;
	int learned;
};

/* A running market at url (its /v1/ledger/checkpoint and
 * /v1/ledger/entries; its own key from /v1/info). */
int audit_from_market(const char *url, struct audit_key *key,
    struct audit **out);
/* A store file (its own key: the log's, store_log_pub). */
int audit_from_store(const char *path, struct audit_key *key,
    struct audit **out);
/* A git mirror (mirror.h), which holds no key: key must be pinned,
 * ERR_INVAL otherwise. */
int audit_from_mirror(const char *dir, struct audit_key *key,
    struct audit **out);
/* C2SP tlog-tiles at url (tiles.h: http(s), file:// or a directory),
 * which hold no key either: key must be pinned.  Every tile of the
 * checkpoint's tree is also checked against the tree rebuilt from the
 * entries. */
int audit_from_tiles(const char *url, struct audit_key *key,
    struct audit **out);

#endif
