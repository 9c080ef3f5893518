/*
 * verify: offline verification of a ledger, wherever its leaves come
 * from (the SQLite store or a git mirror).  Every leaf is re-parsed and
 * must be canonical, carry its own index and a non-decreasing time, and
 * hold an envelope whose signature verifies; the RFC 6962 tree is rebuilt
 * from the leaves and every checkpoint must be signed by the log's
 * verifier key and commit to the rebuilt root at its size.
 */
#ifndef LODGE_LEDGER_VERIFY_H
#define LODGE_LEDGER_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/store.h"

struct verifier;

/* origin may be NULL (taken from the first checkpoint).  vkey is the
 * trusted verifier key; the caller owns *out. */
int verifier_new(const struct note_verifier *vkey, const char *origin,
    struct verifier **out);
void verifier_free(struct verifier *v);

/* Feed leaves in order.  time < 0 means "not stored separately".  On a
 * bad leaf returns ERR_CORRUPT with a message naming the index. */
int verifier_leaf(struct verifier *v, uint64_t idx, int64_t time,
    const char *data, size_t len);
/* Check one signed checkpoint note against the leaves fed so far. */
int verifier_checkpoint(struct verifier *v, const char *note, size_t len,
    uint64_t *size);
/* Compare a stored interior hash with the rebuilt tree. */
int verifier_node(struct verifier *v, unsigned level, uint64_t idx,
    const uint8_t *hash, size_t len);

uint64_t verifier_size(const struct verifier *v);
/* The rebuilt tree, for roots and proofs of any size fed so far. */
void verifier_reader(struct verifier *v, struct merkle_reader *out);
/* Number of (level, idx) hashes a tree of size n stores. */
uint64_t verifier_expected_nodes(uint64_t n);

/* The log's verifier key from arg: the key text <name>+<id>+<key>
 * (note_vkey_parse) when arg holds a '+', else the first line of the
 * file arg names. */
int verify_vkey_load(const char *arg, struct note_verifier *out);

struct verify_report {
	uint64_t entries;
	uint64_t checkpoints;
	uint64_t nodes;
	uint64_t latest_size; /* size of the latest checkpoint */
	uint8_t root[32]; /* root at entries */
};

/* Verify a whole store (see above), plus SQLite's own quick_check and
 * that the stored hashes are exactly those of the rebuilt tree. */
int verify_store(struct store *s, const struct note_verifier *vkey,
    struct verify_report *report);

#endif
