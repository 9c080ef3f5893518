/*
 * store: the ledger log in SQLite.  Tables: meta (origin, log key, ...),
 * leaf (idx, time, exact leaf bytes), node ((level, idx) -> hash of a
 * complete subtree, RFC 6962 / tlog layout) and checkpoint (size -> note).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/cjson.h"
#include "common/err.h"
#include "ledger/store.h"

/*
 * A direct-mapped cache of stored hashes at levels >= CACHE_MIN_LEVEL:
 * a complete subtree's hash never changes once committed, and the upper
 * levels are shared by every proof, so most reads of a proof hit it.
 * Cleared on rollback, the one way an uncommitted hash can disappear.
 */
#define CACHE_BITS 16
#define CACHE_MIN_LEVEL 4

struct cache_slot {
	uint64_t key; /* (idx << 6 | level) + 1; 0 when empty */
	uint8_t hash[32];
};

struct store {
	sqlite3 *db;
	struct cache_slot *cache;
	char *path;
	char *origin;
	uint8_t log_pub[32];
	uint64_t size;
	int64_t last_time;
	int in_txn;
	uint64_t txn_size; /* size and time at store_begin() */
	int64_t txn_time;
	sqlite3_stmt *get_node;
	sqlite3_stmt *put_node;
	sqlite3_stmt *put_leaf;
	sqlite3_stmt *get_leaf;
	sqlite3_stmt *savepoint;
	sqlite3_stmt *release;
	int external_sync;
	int wal_fd; /* for store_sync; -1 until opened */
	pthread_mutex_t wal_mu; /* guards wal_fd's opening */
};

static const char schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE leaf(idx INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    " data BLOB NOT NULL);"
    "CREATE TABLE node(level INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " hash BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;"
    "CREATE TABLE checkpoint(size INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    " note TEXT NOT NULL);";

static int
db_fail(struct store *s, const char *what)
{
	int code = sqlite3_errcode(s->db);

	return err_set(code == SQLITE_CORRUPT || code == SQLITE_NOTADB ?
	        ERR_CORRUPT :
	        ERR_IO,
	    "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int
exec(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = err_set(ERR_IO, "%s: %s", s->path,
		    msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		if (sqlite3_errcode(s->db) == SQLITE_CORRUPT ||
		    sqlite3_errcode(s->db) == SQLITE_NOTADB)
			rc = ERR_CORRUPT;
		return rc;
	}
	return 0;
}

static int
prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	        NULL) != SQLITE_OK)
		return db_fail(s, "prepare");
	return 0;
}

static struct cache_slot *
cache_slot(struct store *s, unsigned level, uint64_t idx, uint64_t *key)
{
	*key = (idx << 6 | level) + 1;
	return &s->cache[(*key * 0x9e3779b97f4a7c15ull) >> (64 - CACHE_BITS)];
}

static int
node_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[32])
{
	struct store *s = ctx;
	sqlite3_stmt *st = s->get_node;
	struct cache_slot *slot = NULL;
	uint64_t key;
	int rc;

	if (level >= CACHE_MIN_LEVEL && idx < (UINT64_C(1) << 57)) {
		slot = cache_slot(s, level, idx, &key);
		if (slot->key == key) {
			memcpy(out, slot->hash, 32);
			return 0;
		}
	}
	sqlite3_bind_int64(st, 1, level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(out, sqlite3_column_blob(st, 0), 32);
		sqlite3_reset(st);
		if (slot) {
			slot->key = key;
			memcpy(slot->hash, out, 32);
		}
		return 0;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return err_set(ERR_CORRUPT,
		    "%s: stored hash (level %u, index "
		    "%" PRIu64 ") is %s",
		    s->path, level, idx,
		    rc == SQLITE_ROW ? "not 32 bytes" : "missing");
	return db_fail(s, "reading hash");
}

void
store_reader(struct store *s, struct merkle_reader *out)
{
	out->get = node_get;
	out->ctx = s;
}

static int
load_state(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (prepare(s, "SELECT value FROM meta WHERE key='origin'", &st) < 0)
		return err_prefix(ERR_CORRUPT, "not a Lodge ledger");
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = err_set(ERR_CORRUPT, "%s: not a Lodge ledger (no origin)",
		    s->path);
		goto out;
	}
	s->origin = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (prepare(s, "SELECT value FROM meta WHERE key='log_key'", &st) < 0)
		return ERR_CORRUPT;
	if (sqlite3_step(st) != SQLITE_ROW ||
	    key_pub_from_text((const char *)sqlite3_column_text(st, 0),
	        s->log_pub) < 0) {
		rc = err_set(ERR_CORRUPT, "%s: no valid log_key in meta",
		    s->path);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (prepare(s, "SELECT idx, time FROM leaf ORDER BY idx DESC LIMIT 1",
	        &st) < 0)
		return ERR_CORRUPT;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->size = (uint64_t)sqlite3_column_int64(st, 0) + 1;
		s->last_time = sqlite3_column_int64(st, 1);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(s, "reading size");
	}
out:
	sqlite3_finalize(st);
	if (rc == 0 && s->origin == NULL)
		rc = err_set(ERR_NOMEM, "out of memory");
	return rc;
}

static int
open_db(const char *path, int flags, struct store **out)
{
	struct store *s;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL ||
	    (s->cache = calloc(UINT64_C(1) << CACHE_BITS, sizeof(*s->cache))) ==
	        NULL) {
		if (s)
			free(s->path);
		free(s);
		return err_set(ERR_NOMEM, "out of memory");
	}
	s->wal_fd = -1;
	pthread_mutex_init(&s->wal_mu, NULL);
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		rc = err_set(ERR_IO, "%s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	sqlite3_extended_result_codes(s->db, 0);
	if (!(flags & SQLITE_OPEN_READONLY)) {
		if ((rc = exec(s,
		         "PRAGMA journal_mode=WAL;"
		         "PRAGMA synchronous=FULL;")) < 0)
			goto fail;
	}
	/* readers (audits, event streams) get a small page cache; the one
	 * writer a large one */
	if ((rc = exec(s,
	         (flags & SQLITE_OPEN_READONLY) ?
	             "PRAGMA cache_size=-4096;" :
	             "PRAGMA cache_size=-65536;")) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_free(s);
	return rc;
}

static int
prepare_all(struct store *s)
{
	if (prepare(s, "SELECT hash FROM node WHERE level=?1 AND idx=?2",
	        &s->get_node) < 0 ||
	    prepare(s, "SELECT time, data FROM leaf WHERE idx=?1",
	        &s->get_leaf) < 0)
		return ERR_CORRUPT;
	return 0;
}

static int
prepare_writes(struct store *s)
{
	if (prepare(s, "INSERT INTO node(level, idx, hash) VALUES(?1,?2,?3)",
	        &s->put_node) < 0 ||
	    prepare(s, "INSERT INTO leaf(idx, time, data) VALUES(?1,?2,?3)",
	        &s->put_leaf) < 0 ||
	    prepare(s, "SAVEPOINT append", &s->savepoint) < 0 ||
	    prepare(s, "RELEASE append", &s->release) < 0)
		return ERR_IO;
	return 0;
}

int
store_create(const char *path, const char *origin, const uint8_t log_pub[32],
    struct store **out)
{
	struct store *s = NULL;
	char keytext[KEY_TEXT_SIZE];
	int rc;

	if (origin == NULL || origin[0] == '\0' || strchr(origin, '\n') ||
	    strlen(origin) > 255)
		return err_set(ERR_INVAL,
		    "origin: expected a non-empty line of "
		    "at most 255 bytes");
	if (access(path, F_OK) == 0)
		return err_set(ERR_CONFLICT,
		    "%s: exists; refusing to replace "
		    "a ledger",
		    path);
	if ((rc = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	         &s)) < 0)
		return rc;
	key_pub_to_text(log_pub, keytext);
	if ((rc = exec(s, "BEGIN")) < 0 || (rc = exec(s, schema)) < 0)
		goto fail;
	if ((rc = store_meta_set(s, "origin", origin)) < 0 ||
	    (rc = store_meta_set(s, "log_key", keytext)) < 0 ||
	    (rc = store_meta_set(s, "format", "lodge-ledger-1")) < 0 ||
	    (rc = exec(s, "COMMIT")) < 0)
		goto fail;
	if ((rc = load_state(s)) < 0 || (rc = prepare_all(s)) < 0 ||
	    (rc = prepare_writes(s)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_free(s);
	unlink(path);
	return rc;
}

int
store_open(const char *path, int readonly, struct store **out)
{
	struct store *s = NULL;
	int rc;

	if (access(path, F_OK) != 0)
		return err_set(ERR_NOTFOUND, "%s: %s", path, strerror(errno));
	if ((rc = open_db(path,
	         readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE, &s)) <
	    0)
		return rc;
	if ((rc = load_state(s)) < 0 || (rc = prepare_all(s)) < 0)
		goto fail;
	if (!readonly && (rc = prepare_writes(s)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_free(s);
	return rc;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	if (s->in_txn)
		store_rollback(s);
	sqlite3_finalize(s->get_node);
	sqlite3_finalize(s->put_node);
	sqlite3_finalize(s->put_leaf);
	sqlite3_finalize(s->get_leaf);
	sqlite3_finalize(s->savepoint);
	sqlite3_finalize(s->release);
	sqlite3_close(s->db);
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	pthread_mutex_destroy(&s->wal_mu);
	free(s->origin);
	free(s->path);
	free(s->cache);
	free(s);
}

const char *
store_origin(const struct store *s)
{
	return s->origin;
}

void
store_log_pub(const struct store *s, uint8_t pub[32])
{
	memcpy(pub, s->log_pub, 32);
}

uint64_t
store_size(const struct store *s)
{
	return s->size;
}

int64_t
store_last_time(const struct store *s)
{
	return s->last_time;
}

int
store_meta_get(struct store *s, const char *key, char **out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if (prepare(s, "SELECT value FROM meta WHERE key=?1", &st) < 0)
		return ERR_IO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if ((*out = strdup((const char *)sqlite3_column_text(st, 0))) ==
		    NULL)
			rc = err_set(ERR_NOMEM, "out of memory");
		else
			rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : db_fail(s, "reading meta");
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (prepare(s, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1,?2)",
	        &st) < 0)
		return ERR_IO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(s, "writing meta");
	sqlite3_finalize(st);
	return rc;
}

int
store_begin(struct store *s)
{
	int rc;

	if (s->in_txn)
		return err_set(ERR_INVAL,
		    "store_begin: already in a "
		    "transaction");
	if ((rc = exec(s, "BEGIN IMMEDIATE")) < 0)
		return rc;
	s->in_txn = 1;
	s->txn_size = s->size;
	s->txn_time = s->last_time;
	return 0;
}

int
store_commit(struct store *s)
{
	int rc;

	if (!s->in_txn)
		return 0;
	if ((rc = exec(s, "COMMIT")) < 0) {
		store_rollback(s);
		return rc;
	}
	s->in_txn = 0;
	return 0;
}

void
store_rollback(struct store *s)
{
	if (!s->in_txn)
		return;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	memset(s->cache, 0, sizeof(*s->cache) << CACHE_BITS);
	s->in_txn = 0;
	s->size = s->txn_size;
	s->last_time = s->txn_time;
}

int
store_leaf_bytes(const struct envelope *e, uint64_t index, int64_t time,
    char **out, size_t *len)
{
	const char *env = e->canon;
	size_t envlen = e->canon_len, cap = envlen + 64;
	char *buf;
	int n;

	/* {"entry":E,"index":N,"time":T} is canonical: keys in order */
	if ((buf = malloc(cap)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(buf, "{\"entry\":", 9);
	memcpy(buf + 9, env, envlen);
	n = snprintf(buf + 9 + envlen, cap - 9 - envlen,
	    ",\"index\":%" PRIu64 ",\"time\":%" PRId64 "}", index, time);
	*out = buf;
	*len = 9 + envlen + (size_t)n;
	return 0;
}

static int
step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : db_fail(s, what);
}

int
store_append(struct store *s, const struct envelope *e, int64_t now_ms,
    uint64_t *index, int64_t *time, uint8_t leaf_hash[32])
{
	struct merkle_stored stored[MERKLE_MAX_STORED];
	struct merkle_reader reader;
	uint8_t lh[32];
	char *leaf = NULL;
	size_t leaflen, nstored, i;
	int64_t t = now_ms > s->last_time ? now_ms : s->last_time;
	int rc, own_txn = !s->in_txn;

	if (s->put_leaf == NULL)
		return err_set(ERR_INVAL, "%s: opened read-only", s->path);
	if ((rc = store_leaf_bytes(e, s->size, t, &leaf, &leaflen)) < 0)
		return rc;
	if (leaflen > STORE_MAX_LEAF) {
		free(leaf);
		return err_set(ERR_LIMIT,
		    "entry of %zu bytes is larger than "
		    "the %d-byte limit",
		    leaflen, STORE_MAX_LEAF);
	}
	merkle_leaf_hash(leaf, leaflen, lh);
	if (own_txn && (rc = store_begin(s)) < 0)
		goto out;
	if ((rc = step_done(s, s->savepoint, "savepoint")) < 0)
		goto fail;
	sqlite3_bind_int64(s->put_leaf, 1, (sqlite3_int64)s->size);
	sqlite3_bind_int64(s->put_leaf, 2, t);
	sqlite3_bind_blob(s->put_leaf, 3, leaf, (int)leaflen, SQLITE_STATIC);
	if ((rc = step_done(s, s->put_leaf, "appending leaf")) < 0)
		goto undo;
	store_reader(s, &reader);
	if ((rc = merkle_append_hashes(s->size, lh, &reader, stored,
	         &nstored)) < 0)
		goto undo;
	for (i = 0; i < nstored; i++) {
		sqlite3_bind_int64(s->put_node, 1, stored[i].level);
		sqlite3_bind_int64(s->put_node, 2,
		    (sqlite3_int64)stored[i].idx);
		sqlite3_bind_blob(s->put_node, 3, stored[i].hash, 32,
		    SQLITE_STATIC);
		if ((rc = step_done(s, s->put_node, "storing hash")) < 0)
			goto undo;
	}
	if ((rc = step_done(s, s->release, "release")) < 0)
		goto undo;
	if (index)
		*index = s->size;
	if (time)
		*time = t;
	if (leaf_hash)
		memcpy(leaf_hash, lh, 32);
	s->size++;
	s->last_time = t;
	if (own_txn && (rc = store_commit(s)) < 0)
		goto out;
	rc = 0;
	goto out;
undo:
	sqlite3_exec(s->db, "ROLLBACK TO append; RELEASE append", NULL, NULL,
	    NULL);
	memset(s->cache, 0, sizeof(*s->cache) << CACHE_BITS);
fail:
	if (own_txn)
		store_rollback(s);
out:
	free(leaf);
	return rc;
}

int
store_leaf(struct store *s, uint64_t idx, char **data, size_t *len,
    int64_t *time)
{
	sqlite3_stmt *st = s->get_leaf;
	int rc, n;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			return err_set(ERR_NOTFOUND,
			    "no entry at index %" PRIu64
			    " (the log has %" PRIu64 ")",
			    idx, s->size);
		return db_fail(s, "reading leaf");
	}
	n = sqlite3_column_bytes(st, 1);
	if ((*data = malloc((size_t)n + 1)) == NULL) {
		sqlite3_reset(st);
		return err_set(ERR_NOMEM, "out of memory");
	}
	memcpy(*data, sqlite3_column_blob(st, 1), (size_t)n);
	(*data)[n] = '\0';
	*len = (size_t)n;
	if (time)
		*time = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int
store_foreach(struct store *s, uint64_t from, uint64_t to, store_leaf_fn fn,
    void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (prepare(s,
	        "SELECT idx, time, data FROM leaf WHERE idx>=?1 AND "
	        "idx<?2 ORDER BY idx",
	        &st) < 0)
		return ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2,
	    to > INT64_MAX ? INT64_MAX : (sqlite3_int64)to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *d = sqlite3_column_blob(st, 2);
		int n = sqlite3_column_bytes(st, 2);
		rc = fn(ctx, (uint64_t)sqlite3_column_int64(st, 0),
		    sqlite3_column_int64(st, 1), d ? d : "", (size_t)n);
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(s, "reading leaves");
out:
	sqlite3_finalize(st);
	return rc;
}

int
store_foreach_node(struct store *s, store_node_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (prepare(s, "SELECT level, idx, hash FROM node ORDER BY level, idx",
	        &st) < 0)
		return ERR_IO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = fn(ctx, (unsigned)sqlite3_column_int(st, 0),
		    (uint64_t)sqlite3_column_int64(st, 1),
		    sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2));
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(s, "reading hashes");
out:
	sqlite3_finalize(st);
	return rc;
}

int
store_root(struct store *s, uint64_t size, uint8_t root[32])
{
	struct merkle_reader r;

	if (size > s->size)
		return err_set(ERR_RANGE,
		    "size %" PRIu64 " is beyond the log "
		    "(%" PRIu64 " entries)",
		    size, s->size);
	store_reader(s, &r);
	return merkle_root(size, &r, root);
}

int
store_inclusion_proof(struct store *s, uint64_t index, uint64_t size,
    uint8_t proof[][32], size_t *len)
{
	struct merkle_reader r;

	if (size > s->size)
		return err_set(ERR_RANGE,
		    "size %" PRIu64 " is beyond the log "
		    "(%" PRIu64 " entries)",
		    size, s->size);
	if (index >= size)
		return err_set(ERR_RANGE,
		    "index %" PRIu64 " is not below size "
		    "%" PRIu64,
		    index, size);
	store_reader(s, &r);
	return merkle_inclusion_proof(index, size, &r, proof, len);
}

int
store_consistency_proof(struct store *s, uint64_t old_size, uint64_t new_size,
    uint8_t proof[][32], size_t *len)
{
	struct merkle_reader r;

	if (new_size > s->size)
		return err_set(ERR_RANGE,
		    "size %" PRIu64 " is beyond the log "
		    "(%" PRIu64 " entries)",
		    new_size, s->size);
	if (old_size > new_size)
		return err_set(ERR_RANGE,
		    "old size %" PRIu64 " is larger than "
		    "new size %" PRIu64,
		    old_size, new_size);
	store_reader(s, &r);
	return merkle_consistency_proof(old_size, new_size, &r, proof, len);
}

int
store_checkpoint_add(struct store *s, uint64_t size, int64_t time,
    const char *note)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (prepare(s,
	        "INSERT OR REPLACE INTO checkpoint(size, time, note) "
	        "VALUES(?1,?2,?3)",
	        &st) < 0)
		return ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 2, time);
	sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(s, "storing checkpoint");
	sqlite3_finalize(st);
	return rc;
}

int
store_checkpoint_latest(struct store *s, uint64_t *size, char **note)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*note = NULL;
	*size = 0;
	if (prepare(s,
	        "SELECT size, note FROM checkpoint ORDER BY size DESC "
	        "LIMIT 1",
	        &st) < 0)
		return ERR_IO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*size = (uint64_t)sqlite3_column_int64(st, 0);
		*note = strdup((const char *)sqlite3_column_text(st, 1));
		rc = *note ? 0 : err_set(ERR_NOMEM, "out of memory");
	} else {
		rc = rc == SQLITE_DONE ? 0 : db_fail(s, "reading checkpoint");
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_foreach_checkpoint(struct store *s, store_checkpoint_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (prepare(s, "SELECT size, note FROM checkpoint ORDER BY size", &st) <
	    0)
		return ERR_IO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 1);
		rc = fn(ctx, (uint64_t)sqlite3_column_int64(st, 0),
		    t ? (const char *)t : "");
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(s, "reading checkpoints");
out:
	sqlite3_finalize(st);
	return rc;
}

int
store_quick_check(struct store *s)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int rc;

	if (prepare(s, "PRAGMA quick_check(1)", &st) < 0)
		return ERR_CORRUPT;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = db_fail(s, "quick_check");
		goto out;
	}
	t = sqlite3_column_text(st, 0);
	if (t == NULL || strcmp((const char *)t, "ok") != 0)
		rc = err_set(ERR_CORRUPT, "%s: SQLite integrity check: %s",
		    s->path, t ? (const char *)t : "failed");
	else
		rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

int
store_set_external_sync(struct store *s, int on)
{
	int rc;

	if ((rc = exec(s,
	         on ? "PRAGMA synchronous=NORMAL" :
	              "PRAGMA synchronous=FULL")) < 0)
		return rc;
	s->external_sync = on;
	return 0;
}

int
store_sync(struct store *s)
{
	char path[4096];
	int fd;

	pthread_mutex_lock(&s->wal_mu);
	if (s->wal_fd < 0) {
		snprintf(path, sizeof(path), "%s-wal", s->path);
		s->wal_fd = open(path, O_RDWR | O_CLOEXEC);
		if (s->wal_fd < 0 && errno != ENOENT) {
			pthread_mutex_unlock(&s->wal_mu);
			return err_set(ERR_IO, "%s: %s", path, strerror(errno));
		}
	}
	fd = s->wal_fd;
	pthread_mutex_unlock(&s->wal_mu);
	/* no WAL file: nothing was written since the last checkpoint,
	 * which synced the database file */
	if (fd >= 0 && fdatasync(fd) < 0)
		return err_set(ERR_IO, "%s-wal: fsync: %s", s->path,
		    strerror(errno));
	return 0;
}
