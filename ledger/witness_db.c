/*
 * witness_db: the witness's key and state in SQLite, and the atomic
 * add-checkpoint step (see witness_db.h).  Tables: meta (name, key
 * path), log (origin, vkey), latest (origin -> size, root, note),
 * cosigned (every note cosigned) and evidence (both notes of each
 * refusal that showed a split view).
 */
#include "ledger/witness_db.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/key.h"

#define META_NAME "name"
#define META_KEY_PATH "key_path"
#define MAX_LOG_KEYS 16 /* keys one origin may have */

struct witness_db {
	sqlite3 *db;
	char *path;
	char *name;
	struct key *key;
	pthread_mutex_t mu; /* one add-checkpoint at a time per process */
};

static const char schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE log(origin TEXT NOT NULL, vkey TEXT NOT NULL,"
    " PRIMARY KEY(origin, vkey));"
    "CREATE TABLE latest(origin TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " root BLOB NOT NULL, note TEXT NOT NULL, time INTEGER NOT NULL);"
    "CREATE TABLE cosigned(id INTEGER PRIMARY KEY, origin TEXT NOT NULL,"
    " size INTEGER NOT NULL, root BLOB NOT NULL, time INTEGER NOT NULL,"
    " note TEXT NOT NULL);"
    "CREATE TABLE evidence(id INTEGER PRIMARY KEY, origin TEXT NOT NULL,"
    " time INTEGER NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL,"
    " cosigned TEXT NOT NULL, refused TEXT NOT NULL, request TEXT NOT NULL,"
    " UNIQUE(origin, cosigned, refused));";

static int
db_fail(sqlite3 *db, const char *path, const char *what)
{
	int code = sqlite3_errcode(db);

	return err_set(code == SQLITE_CORRUPT || code == SQLITE_NOTADB ?
	        ERR_CORRUPT :
	        ERR_IO,
	    "%s: %s: %s", path, what, sqlite3_errmsg(db));
}

static int
exec(struct witness_db *w, const char *sql)
{
	char *msg = NULL;
	int rc;

	if (sqlite3_exec(w->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	rc = err_set(ERR_IO, "%s: %s", w->path,
	    msg ? msg : sqlite3_errmsg(w->db));
	sqlite3_free(msg);
	return rc;
}

static int
prepare(struct witness_db *w, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(w->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(w->db, w->path, "prepare");
	return 0;
}

static int
meta_get(struct witness_db *w, const char *key, char **out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if ((rc = prepare(w, "SELECT value FROM meta WHERE key = ?1", &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = strdup((const char *)sqlite3_column_text(st, 0));
		rc = *out ? 0 : err_set(ERR_NOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		rc = err_set(ERR_CORRUPT,
		    "%s: no %s recorded; not a witness "
		    "database",
		    w->path, key);
	} else {
		rc = db_fail(w->db, w->path, "reading meta");
	}
	sqlite3_finalize(st);
	return rc;
}

static int
meta_set(struct witness_db *w, const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(w,
	         "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
	         &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ?
	    0 :
	    db_fail(w->db, w->path, "writing meta");
	sqlite3_finalize(st);
	return rc;
}

static int
db_open(const char *path, int create, struct witness_db **out)
{
	struct witness_db *w;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX |
	    (create ? SQLITE_OPEN_CREATE : 0);
	int rc;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	pthread_mutex_init(&w->mu, NULL);
	if ((w->path = strdup(path)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (sqlite3_open_v2(path, &w->db, flags, NULL) != SQLITE_OK) {
		rc = err_set(ERR_IO, "%s: %s", path,
		    w->db ? sqlite3_errmsg(w->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(w->db, 10000);
	if ((rc = exec(w,
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")) < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	witness_db_free(w);
	return rc;
}

void
witness_db_free(struct witness_db *w)
{
	if (w == NULL)
		return;
	sqlite3_close(w->db);
	key_free(w->key);
	free(w->name);
	free(w->path);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int
witness_db_create(const char *path, const char *name, const char *keyfile,
    char **vkey, int *key_created)
{
	char abspath[PATH_MAX];
	uint8_t pub[KEY_PUB_LEN];
	struct witness_db *w = NULL;
	struct key *k = NULL;
	int rc, created = 0;

	*vkey = NULL;
	if ((rc = note_name_check(name)) < 0)
		return err_prefix(rc, "witness name");
	if (access(path, F_OK) == 0)
		return err_set(ERR_CONFLICT,
		    "%s exists; refusing to replace a "
		    "witness database",
		    path);
	if ((rc = key_load_or_create(keyfile, &k, &created)) < 0)
		return rc;
	if (realpath(keyfile, abspath) == NULL) {
		rc = err_set(ERR_IO, "%s: %s", keyfile, strerror(errno));
		goto out;
	}
	if ((rc = db_open(path, 1, &w)) < 0)
		goto out;
	if ((rc = exec(w, schema)) < 0 ||
	    (rc = meta_set(w, META_NAME, name)) < 0 ||
	    (rc = meta_set(w, META_KEY_PATH, abspath)) < 0) {
		witness_db_free(w);
		w = NULL;
		unlink(path);
		goto out;
	}
	key_public(k, pub);
	if ((rc = note_vkey_format_type(name, NOTE_SIG_COSIGNATURE, pub,
	         vkey)) < 0)
		goto out;
	if (key_created)
		*key_created = created;
out:
	witness_db_free(w);
	key_free(k);
	return rc;
}

int
witness_db_open(const char *path, struct witness_db **out)
{
	struct witness_db *w = NULL;
	char *keypath = NULL;
	int rc;

	*out = NULL;
	if (access(path, F_OK) != 0)
		return err_set(ERR_NOTFOUND, "%s: %s", path, strerror(errno));
	if ((rc = db_open(path, 0, &w)) < 0)
		return rc;
	if ((rc = meta_get(w, META_NAME, &w->name)) < 0 ||
	    (rc = meta_get(w, META_KEY_PATH, &keypath)) < 0)
		goto fail;
	if ((rc = key_load(keypath, &w->key)) < 0) {
		rc = err_prefix(rc, "%s: the witness key", path);
		goto fail;
	}
	free(keypath);
	*out = w;
	return 0;
fail:
	free(keypath);
	witness_db_free(w);
	return rc;
}

const char *
witness_db_name(const struct witness_db *w)
{
	return w->name;
}

int
witness_db_vkey(const struct witness_db *w, char **out)
{
	uint8_t pub[KEY_PUB_LEN];

	key_public(w->key, pub);
	return note_vkey_format_type(w->name, NOTE_SIG_COSIGNATURE, pub, out);
}

int
witness_db_log_add(struct witness_db *w, const char *vkey, const char *origin)
{
	struct note_verifier v;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = note_vkey_parse(vkey, &v)) < 0)
		return rc;
	if (v.type != NOTE_SIG_ED25519)
		return err_set(ERR_INVAL,
		    "verifier key '%.80s': a log signs "
		    "with an Ed25519 key (type 0x01), not type 0x%02x",
		    vkey, v.type);
	if (origin == NULL)
		origin = v.name;
	if (origin[0] == '\0' || strchr(origin, '\n') != NULL)
		return err_set(ERR_INVAL,
		    "origin '%.80s': expected one "
		    "non-empty line",
		    origin);
	if ((rc = prepare(w,
	         "INSERT OR IGNORE INTO log(origin, vkey) VALUES(?1, ?2)",
	         &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, vkey, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ?
	    0 :
	    db_fail(w->db, w->path, "adding log");
	sqlite3_finalize(st);
	return rc;
}

/* The keys of origin's log into keys[] (*n of them, 0: unknown). */
static int
log_keys(struct witness_db *w, const char *origin,
    struct note_verifier keys[MAX_LOG_KEYS], size_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*n = 0;
	if ((rc = prepare(w,
	         "SELECT vkey FROM log WHERE origin = ?1 ORDER BY vkey", &st)) <
	    0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < MAX_LOG_KEYS) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (note_vkey_parse(t, &keys[*n]) < 0) {
			rc = err_prefix(ERR_CORRUPT, "%s: log %s", w->path,
			    origin);
			goto out;
		}
		(*n)++;
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ?
	    0 :
	    db_fail(w->db, w->path, "reading logs");
out:
	sqlite3_finalize(st);
	return rc;
}

/* What was last cosigned for origin; *note malloc'd, NULL when never. */
static int
last_get(struct witness_db *w, const char *origin, struct witness_last *l,
    char **note)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(l, 0, sizeof(*l));
	*note = NULL;
	if ((rc = prepare(w,
	         "SELECT size, root, note FROM latest WHERE origin = ?1",
	         &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) != MERKLE_HASH_LEN) {
			rc = err_set(ERR_CORRUPT,
			    "%s: %s: stored root is not "
			    "32 bytes",
			    w->path, origin);
			goto out;
		}
		l->size = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(l->root, sqlite3_column_blob(st, 1), MERKLE_HASH_LEN);
		if ((*note = strdup(
		         (const char *)sqlite3_column_text(st, 2))) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
		l->note = *note;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ?
		    0 :
		    db_fail(w->db, w->path, "reading state");
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* Record a cosigned note: the latest for origin, and in the history. */
static int
record_cosigned(struct witness_db *w, const char *origin,
    const struct witness_decision *d, const char *note, uint64_t now)
{
	static const char *const sql[] = {
		"INSERT OR REPLACE INTO latest(origin, size, root, note, time) "
		"VALUES(?1, ?2, ?3, ?4, ?5)",
		"INSERT INTO cosigned(origin, size, root, note, time) "
		"VALUES(?1, ?2, ?3, ?4, ?5)",
	};
	sqlite3_stmt *st = NULL;
	int rc;

	for (size_t i = 0; i < 2; i++) {
		if ((rc = prepare(w, sql[i], &st)) < 0)
			return rc;
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)d->size);
		sqlite3_bind_blob(st, 3, d->root, MERKLE_HASH_LEN,
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 4, note, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
		rc = sqlite3_step(st) == SQLITE_DONE ?
		    0 :
		    db_fail(w->db, w->path, "recording a cosigned note");
		sqlite3_finalize(st);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
record_evidence(struct witness_db *w, const char *origin,
    const struct witness_decision *d, const struct witness_last *last,
    const struct witness_request *req, const char *body, size_t len,
    uint64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(w,
	         "INSERT OR IGNORE INTO evidence(origin, time, status, "
	         "reason, cosigned, refused, request) "
	         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	         &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	sqlite3_bind_int(st, 3, d->status);
	sqlite3_bind_text(st, 4, d->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, last->note, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, req->note, (int)req->note_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, body, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ?
	    0 :
	    db_fail(w->db, w->path, "recording evidence");
	sqlite3_finalize(st);
	return rc;
}

/* A text answer: msg and a newline. */
static int answer_text(struct witness_answer *a, int status, const char *type,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
answer_text(struct witness_answer *a, int status, const char *type,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	a->status = status;
	a->content_type = type;
	va_start(ap, fmt);
	n = vasprintf(&a->body, fmt, ap);
	va_end(ap);
	if (n < 0) {
		a->body = NULL;
		return err_set(ERR_NOMEM, "out of memory");
	}
	a->body_len = (size_t)n;
	return 0;
}

void
witness_answer_clear(struct witness_answer *a)
{
	if (a == NULL)
		return;
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/* Decide on a parsed request for origin and act, inside a write
 * transaction. */
static int
add_locked(struct witness_db *w, const char *origin,
    const struct witness_request *req, const char *body, size_t len,
    uint64_t now, struct witness_answer *a)
{
	struct note_verifier keys[MAX_LOG_KEYS];
	struct witness_log log = { origin, keys, 0 };
	struct witness_last last;
	struct witness_decision d = { 0 };
	char *last_note = NULL, *line = NULL, *stored = NULL;
	int rc;

	if ((rc = log_keys(w, origin, keys, &log.nkeys)) < 0 ||
	    (rc = last_get(w, origin, &last, &last_note)) < 0 ||
	    (rc = witness_decide(log.nkeys ? &log : NULL, &last, req, &d)) < 0)
		goto out;
	snprintf(a->reason, sizeof(a->reason), "%.160s: %.340s", origin,
	    d.reason);
	if (d.status == 200) {
		if ((rc = note_cosign(d.text, strlen(d.text), w->name, w->key,
		         now, &line)) < 0)
			goto out;
		if (asprintf(&stored, "%.*s%s\n", (int)req->note_len, req->note,
		        line) < 0) {
			stored = NULL;
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = record_cosigned(w, origin, &d, stored, now)) < 0)
			goto out;
		rc = answer_text(a, 200, "text/plain; charset=utf-8", "%s\n",
		    line);
		goto out;
	}
	if (d.evidence) {
		if ((rc = record_evidence(w, origin, &d, &last, req, body, len,
		         now)) < 0)
			goto out;
		a->evidence = 1;
	}
	if (d.status == 409)
		rc = answer_text(a, 409, WITNESS_SIZE_TYPE, "%" PRIu64 "\n",
		    d.last_size);
	else
		rc = answer_text(a, d.status, "text/plain; charset=utf-8",
		    "%s\n", d.reason);
out:
	witness_decision_clear(&d);
	free(last_note);
	free(line);
	free(stored);
	return rc;
}

int
witness_db_add_checkpoint(struct witness_db *w, const char *body, size_t len,
    uint64_t now, struct witness_answer *a)
{
	struct witness_request *req;
	char *origin = NULL;
	int rc;

	memset(a, 0, sizeof(*a));
	if ((req = malloc(sizeof(*req))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (len > WITNESS_MAX_BODY) {
		rc = answer_text(a, 400, "text/plain; charset=utf-8",
		    "request body of %zu bytes; at most %d\n", len,
		    WITNESS_MAX_BODY);
		goto out;
	}
	if (witness_request_parse(body, len, req) < 0 ||
	    witness_note_origin(req->note, req->note_len, &origin) < 0) {
		snprintf(a->reason, sizeof(a->reason), "%s", err_msg());
		rc = answer_text(a, 400, "text/plain; charset=utf-8", "%s\n",
		    err_msg());
		goto out;
	}
	pthread_mutex_lock(&w->mu);
	/* BEGIN IMMEDIATE: the check of the old size and the update are
	 * one step, even against another process on the same file. */
	if ((rc = exec(w, "BEGIN IMMEDIATE")) == 0) {
		rc = add_locked(w, origin, req, body, len, now, a);
		if (rc == 0 && (rc = exec(w, "COMMIT")) < 0)
			witness_answer_clear(a);
		if (rc < 0)
			(void)sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&w->mu);
out:
	free(origin);
	free(req);
	return rc;
}

int
witness_db_foreach_log(struct witness_db *w, witness_log_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(w,
	         "SELECT l.origin, group_concat(l.vkey, char(10)), "
	         " t.size, t.root, t.note, t.time,"
	         " (SELECT count(*) FROM cosigned c WHERE c.origin = l.origin),"
	         " (SELECT count(*) FROM evidence e WHERE e.origin = l.origin) "
	         "FROM log l LEFT JOIN latest t ON t.origin = l.origin "
	         "GROUP BY l.origin ORDER BY l.origin",
	         &st)) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct witness_log_state s = { 0 };

		s.origin = (const char *)sqlite3_column_text(st, 0);
		s.vkeys = (const char *)sqlite3_column_text(st, 1);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL &&
		    sqlite3_column_bytes(st, 3) == MERKLE_HASH_LEN) {
			s.cosigned = 1;
			s.size = (uint64_t)sqlite3_column_int64(st, 2);
			s.root = sqlite3_column_blob(st, 3);
			s.note = (const char *)sqlite3_column_text(st, 4);
			s.time = (uint64_t)sqlite3_column_int64(st, 5);
		}
		s.history = (uint64_t)sqlite3_column_int64(st, 6);
		s.evidence = (uint64_t)sqlite3_column_int64(st, 7);
		if ((rc = fn(ctx, &s)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(w->db, w->path, "reading logs");
out:
	sqlite3_finalize(st);
	return rc;
}

int
witness_db_foreach_evidence(struct witness_db *w, const char *origin,
    witness_evidence_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(w,
	         "SELECT id, origin, time, status, reason, cosigned, refused, "
	         "request FROM evidence WHERE ?1 IS NULL OR origin = ?1 "
	         "ORDER BY id",
	         &st)) < 0)
		return rc;
	if (origin)
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct witness_evidence e;

		e.id = sqlite3_column_int64(st, 0);
		e.origin = (const char *)sqlite3_column_text(st, 1);
		e.time = (uint64_t)sqlite3_column_int64(st, 2);
		e.status = sqlite3_column_int(st, 3);
		e.reason = (const char *)sqlite3_column_text(st, 4);
		e.cosigned = (const char *)sqlite3_column_text(st, 5);
		e.refused = (const char *)sqlite3_column_text(st, 6);
		e.request = (const char *)sqlite3_column_text(st, 7);
		if ((rc = fn(ctx, &e)) != 0)
			goto out;
	}
	rc =
	    rc == SQLITE_DONE ? 0 : db_fail(w->db, w->path, "reading evidence");
out:
	sqlite3_finalize(st);
	return rc;
}
