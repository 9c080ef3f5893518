/*
 * snapshot: a market's state snapshot on disk and the restart that uses
 * it.  The file holds a header (the tree size it was taken at and the
 * Merkle root of that tree) and state_snapshot_encode's payload; its
 * SHA-256 and size are recorded in the store's meta ("state_snapshot"),
 * next to the checkpoints.  A restart takes the snapshot only when the
 * file's hash is the recorded one, its size is within the ledger and its
 * root is the ledger's root at that size; it then replays the leaves
 * after it.  Anything else falls back to replaying from the genesis.
 * `ledger audit` never uses a snapshot.
 */
#ifndef LODGE_LEDGER_SNAPSHOT_H
#define LODGE_LEDGER_SNAPSHOT_H

#include <stdint.h>

#include "ledger/state.h"
#include "ledger/store.h"

#define SNAPSHOT_META_KEY "state_snapshot"

/* Write the snapshot of a state of size leaves (tree root root) to path
 * atomically (a temporary file, fsync, rename); hash gets the file's
 * SHA-256 in hex. */
int snapshot_write(const char *path, uint64_t size,
    const uint8_t root[MERKLE_HASH_LEN], const char *payload, size_t len,
    char hash[65]);
/* Record (size, hash) as the store's snapshot (meta, in the store's
 * current transaction when one is open). */
int snapshot_record(struct store *s, uint64_t size, const char hash[65]);

/* The state at the snapshot at path under config c, after checking it
 * against the store (see above); *size gets its tree size.  ERR_NOTFOUND
 * when none is recorded or the file is missing, ERR_CORRUPT naming the
 * mismatch otherwise.  The caller owns *out. */
int snapshot_load(struct store *s, const char *path,
    const struct state_config *c, struct state **out, uint64_t *size);

/*
 * The state of the whole store, as replay_store gives it: from the
 * snapshot at path (NULL: none) and the leaves after it when it checks,
 * else every leaf from the genesis; leaves are verified on every core
 * (verify_leaves) and applied in order.  *from gets the first leaf
 * replayed; *fallback (may be NULL) a malloc'd sentence saying why a
 * recorded snapshot was not used, NULL when it was or none was recorded.
 * cfg gets the genesis rules.  The caller owns *out.
 */
int snapshot_replay(struct store *s, const char *path, int check,
    struct state **out, struct state_config *cfg, uint64_t *from,
    char **fallback);

#endif
