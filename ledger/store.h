/*
 * store: the ledger's append-only log in SQLite (WAL, synchronous=FULL).
 * Leaves are the canonical JSON {"entry":<envelope>,"index":N,"time":MS};
 * the RFC 6962 interior hashes of complete subtrees are stored beside
 * them (as Go's sumdb tlog does) so appends are O(log n) and proofs never
 * rehash the tree.  Signed checkpoints (C2SP tlog-checkpoint) are kept too.
 */
#ifndef LODGE_LEDGER_STORE_H
#define LODGE_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/envelope.h"
#include "ledger/merkle.h"

/* Largest leaf the log accepts. */
#define STORE_MAX_LEAF (1024 * 1024)

struct store;

/* Create a new log at path with its origin line and the log's public key;
 * refuses an existing file (ERR_CONFLICT).  The caller owns *out. */
int store_create(const char *path, const char *origin,
    const uint8_t log_pub[32], struct store **out);
/* Open an existing log; readonly opens it with SQLITE_OPEN_READONLY. */
int store_open(const char *path, int readonly, struct store **out);
void store_free(struct store *s);

const char *store_origin(const struct store *s);
void store_log_pub(const struct store *s, uint8_t pub[32]);
/* Optional metadata (key path and the like); *out malloc'd or NULL. */
int store_meta_get(struct store *s, const char *key, char **out);
int store_meta_set(struct store *s, const char *key, const char *value);

/*
 * External sync (group commit for a multi-threaded sequencer): commits stop
 * fsyncing (SQLite synchronous=NORMAL in WAL mode) and store_sync() makes
 * every commit so far durable by fsyncing the WAL.  store_sync() touches
 * only a file descriptor, never the SQLite connection, so it may run on
 * another thread while appends continue.  (Commits that a WAL checkpoint
 * already moved into the database file were synced by that checkpoint.)
 */
int store_set_external_sync(struct store *s, int on);
int store_sync(struct store *s);

/* Number of leaves. */
uint64_t store_size(const struct store *s);
/* Sequencer time of the last leaf (0 for an empty log). */
int64_t store_last_time(const struct store *s);

/*
 * Group commit: appends between store_begin() and store_commit() become
 * durable together; store_commit() returns only after the fsync.  Without
 * a surrounding begin, store_append() commits on its own.  On
 * store_rollback() (or a failed commit) the in-memory size is restored.
 */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/*
 * Append a verified envelope as the next leaf at sequencer time now_ms
 * (raised to the last leaf's time if the clock went back).  *index, *time
 * and leaf_hash (each may be NULL) receive what was written.
 */
int store_append(struct store *s, const struct envelope *e, int64_t now_ms,
    uint64_t *index, int64_t *time, uint8_t leaf_hash[32]);

/* The exact bytes of leaf idx (malloc'd, NUL-terminated) and its time. */
int store_leaf(struct store *s, uint64_t idx, char **data, size_t *len,
    int64_t *time);

/* Call fn for each leaf in [from, to) in order; fn returning non-zero
 * stops the walk and that value is returned. */
typedef int (*store_leaf_fn)(void *ctx, uint64_t idx, int64_t time,
    const char *data, size_t len);
int store_foreach(struct store *s, uint64_t from, uint64_t to, store_leaf_fn fn,
    void *ctx);

/* Stored interior hashes, for verification: fn for each (level, idx). */
typedef int (*store_node_fn)(void *ctx, unsigned level, uint64_t idx,
    const uint8_t *hash, size_t len);
int store_foreach_node(struct store *s, store_node_fn fn, void *ctx);

/* A reader over the stored hashes, valid while s lives. */
void store_reader(struct store *s, struct merkle_reader *out);

int store_root(struct store *s, uint64_t size, uint8_t root[32]);
int store_inclusion_proof(struct store *s, uint64_t index, uint64_t size,
    uint8_t proof[][32], size_t *len);
int store_consistency_proof(struct store *s, uint64_t old_size,
    uint64_t new_size, uint8_t proof[][32], size_t *len);

/* Checkpoints: add a signed note for size; fetch the latest (or NULL
 * when there is none); walk them all in size order. */
int store_checkpoint_add(struct store *s, uint64_t size, int64_t time,
    const char *note);
int store_checkpoint_latest(struct store *s, uint64_t *size, char **note);
typedef int (*store_checkpoint_fn)(void *ctx, uint64_t size, const char *note);
int store_foreach_checkpoint(struct store *s, store_checkpoint_fn fn,
    void *ctx);

/* SQLite's PRAGMA quick_check: ERR_CORRUPT naming the first problem. */
int store_quick_check(struct store *s);

/* Canonical leaf bytes for envelope e at index and time (caller frees). */
int store_leaf_bytes(const struct envelope *e, uint64_t index, int64_t time,
    char **out, size_t *len);

#endif
