/*
 * witness_db: a C2SP tlog-witness's identity and memory in SQLite: its
 * name and cosigning key, the logs it follows (origin and verifier keys),
 * per log the last cosigned size and root, every note it cosigned, and
 * the evidence of every refusal that showed a log inconsistent with a
 * checkpoint it had cosigned (both notes, kept forever).
 * witness_db_add_checkpoint is the one atomic step: decide (witness.h),
 * cosign and persist under one SQLite write transaction.
 */
#ifndef LODGE_LEDGER_WITNESS_DB_H
#define LODGE_LEDGER_WITNESS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/witness.h"

struct witness_db;

/*
 * Create a witness database at path named name (a note key name: the
 * cosignature lines carry it) whose key is keyfile, loaded or created
 * (PEM, 0600; *key_created, may be NULL, says which) and recorded by
 * absolute path.  *vkey gets the witness's verifier key (type 0x04,
 * "<name>+<id>+<base64(0x04||pub)>"), the caller frees it.  Refuses an
 * existing path (ERR_CONFLICT).
 */
int witness_db_create(const char *path, const char *name, const char *keyfile,
    char **vkey, int *key_created);
/* Open a witness database and load its recorded key.  The caller frees
 * *out with witness_db_free.  Safe to share between threads. */
int witness_db_open(const char *path, struct witness_db **out);
void witness_db_free(struct witness_db *w);

const char *witness_db_name(const struct witness_db *w);
/* The witness's verifier key text; the caller frees *out. */
int witness_db_vkey(const struct witness_db *w, char **out);

/* Follow the log whose checkpoints vkey (type 0x01) signs, under origin
 * (NULL: the key's name, as Lodge logs are named).  A log may have
 * several keys; adding one twice is not an error. */
int witness_db_log_add(struct witness_db *w, const char *vkey,
    const char *origin);

/* An answer to an add-checkpoint request. */
struct witness_answer {
	int status; /* HTTP status, see witness_decision */
	const char *content_type; /* static */
	char *body; /* malloc'd, the caller frees it */
	size_t body_len;
	int evidence; /* 1 when the refusal was kept as evidence */
	char reason[512]; /* what was decided and why, for a log line */
};

/*
 * Handle one add-checkpoint request body at time now (seconds since the
 * epoch, the cosignature's timestamp) atomically: parse, look up the
 * origin's keys and last cosigned checkpoint, decide; on 200 cosign and
 * record it (latest and history) before answering with the cosignature
 * line; on a refusal that is evidence, record both notes and the request.
 * Returns 0 with *a filled for every verdict, or a negative code when the
 * witness itself failed (then answer 500).
 */
int witness_db_add_checkpoint(struct witness_db *w, const char *body,
    size_t len, uint64_t now, struct witness_answer *a);
void witness_answer_clear(struct witness_answer *a);

/* A log the witness follows and what it last cosigned. */
struct witness_log_state {
	const char *origin;
	const char *vkeys; /* its verifier keys, one per line */
	int cosigned; /* 0 when it never cosigned this log */
	uint64_t size;
	const uint8_t *root; /* NULL when never cosigned */
	const char *note; /* the last cosigned note, the cosignature
			   * appended; NULL when never */
	uint64_t time;
	uint64_t history; /* notes cosigned in all */
	uint64_t evidence; /* refusals kept as evidence */
};
typedef int (*witness_log_fn)(void *ctx, const struct witness_log_state *s);
/* fn for each log in origin order; non-zero from fn stops the walk and
 * is returned. */
int witness_db_foreach_log(struct witness_db *w, witness_log_fn fn, void *ctx);

/* One piece of evidence: the note the witness had cosigned and the note
 * it refused as inconsistent with it, both signed by the log. */
struct witness_evidence {
	int64_t id;
	const char *origin;
	uint64_t time;
	int status; /* 409 or 422 */
	const char *reason;
	const char *cosigned; /* note, the witness's cosignature appended */
	const char *refused; /* note as submitted */
	const char *request; /* the whole request body (old size, proof) */
};
typedef int (*witness_evidence_fn)(void *ctx, const struct witness_evidence *e);
/* fn for each piece of evidence (origin NULL: every log) in the order it
 * was found. */
int witness_db_foreach_evidence(struct witness_db *w, const char *origin,
    witness_evidence_fn fn, void *ctx);

#endif
