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
/*
 * The same check in two halves, so that many leaves can be checked on
 * every core and then fed in order (verify_store, audit): the first half
 * needs no earlier leaf (parse, its own index and stored time, the
 * envelope's signature, canonical bytes, the leaf hash) and runs on
 * threads; the second (index is next, time does not go back, append to
 * the tree) runs in ledger order and reports exactly what verifier_leaf
 * would, so the first bad index is named whatever the threads did.
 */
struct verify_leaf {
	/* in (data borrowed until the leaf is fed) */
	uint64_t idx;
	int64_t time; /* < 0: not stored separately */
	const char *data;
	size_t len;
	/* out of verify_leaves */
	int rc; /* 0, or the code of the first failed check */
	char *msg; /* its message (malloc'd) or NULL */
	int late; /* failed after the time check would run */
	int64_t ltime; /* the leaf's time, when parsed */
	uint8_t hash[MERKLE_HASH_LEN]; /* leaf hash, when rc == 0 */
	struct envelope *e; /* the verified envelope when keep was set */
};
/* The first half for l[0..n) on up to threads threads (0: every online
 * core); keep keeps each verified envelope in l[i].e.  Returns 0, or
 * ERR_NOMEM; per-leaf failures are in l[i].rc. */
int verify_leaves(struct verify_leaf *l, size_t n, int threads, int keep);
/* The same in the background: workers threads start on l[0..n) (0: none)
 * and verify_leaves_wait, which must be called once, has the calling
 * thread check what they have not claimed yet, waits for them and frees
 * *out.  Meanwhile the caller may do other work, not touching l. */
struct verify_job;
int verify_leaves_start(struct verify_leaf *l, size_t n, int workers, int keep,
    struct verify_job **out);
void verify_leaves_wait(struct verify_job *j);
/* The second half for one leaf checked by verify_leaves; the same
 * results and messages as verifier_leaf. */
int verifier_leaf_checked(struct verifier *v, const struct verify_leaf *l);
/* Free what verify_leaves left in l (msg, e) and clear them. */
void verify_leaf_clear(struct verify_leaf *l);
/* The number of threads 0 means: the online cores (at least 1). */
int verify_threads(int threads);

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
/* The same on up to threads threads (0: every online core; 1: this one
 * only); the result and the first bad index named do not depend on it. */
int verify_store_mt(struct store *s, const struct note_verifier *vkey,
    int threads, struct verify_report *report);

#endif
