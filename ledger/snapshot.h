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

/*
 * A snapshot written without holding the caller: snapshot_start forks a
 * copy-on-write child that encodes s (of size leaves, tree root root) as
 * it is at the fork and writes path.new (fsynced), while the caller goes
 * on changing s at once.  The child dies with the process (a kill -9 of
 * the market leaves a partial path.new, which is never trusted) and keeps
 * none of its descriptors.  Call it from a thread that outlives the job
 * (the child is killed when the thread that forked it exits).
 */
struct snapshot_job;
int snapshot_start(const char *path, const struct state *s, uint64_t size,
    const uint8_t root[MERKLE_HASH_LEN], struct snapshot_job **out);
/* The child's process id (for tests). */
int snapshot_job_pid(const struct snapshot_job *j);
/* Whether the job is over (wait: block until it is): 0 while the child
 * runs; else *jp is freed and set to NULL, and it returns 1 with *size
 * and hash (path.new's SHA-256, computed here) when path.new was written,
 * or a negative code naming why not (the child's failure, or the signal
 * that killed it).  ms (may be NULL) gets the time since the fork. */
int snapshot_poll(struct snapshot_job **jp, int wait, uint64_t *size,
    char hash[65], double *ms);
/* Rename path.new to path (and fsync the directory): call it once
 * snapshot_record of its hash is committed, so that a crash in between
 * leaves either the previous snapshot with its record, or the new record
 * with path.new, which snapshot_load takes. */
int snapshot_install(const char *path);

/* The state at the snapshot at path under config c, after checking it
 * against the store (see above); *size gets its tree size.  ERR_NOTFOUND
 * when none is recorded or the file is missing, ERR_CORRUPT naming the
 * mismatch otherwise.  When path is not the recorded file but path.new
 * is (a market stopped between snapshot_record and snapshot_install),
 * path.new is taken and renamed into place.  The caller owns *out. */
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
