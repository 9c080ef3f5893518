/*
 * witness: the pure logic of a C2SP tlog-witness: the add-checkpoint
 * request (old size, consistency proof lines, blank line, checkpoint
 * note), what a witness decides given what it last cosigned, and the
 * answers a log reads back (cosignature lines, or the size of a 409).
 * No I/O; the state lives in witness_db.h, HTTP in witness_server.h.
 */
#ifndef LODGE_LEDGER_WITNESS_H
#define LODGE_LEDGER_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/merkle.h"
#include "ledger/note.h"

/* Consistency proof lines a request may carry (the spec's limit). */
#define WITNESS_MAX_PROOF 63
/* Largest request body a witness reads (a note with 100 signatures fits). */
#define WITNESS_MAX_BODY (64 * 1024)
/* Content type of a 409 answer's body, "<size>\n". */
#define WITNESS_SIZE_TYPE "text/x.tlog.size"

/* A parsed add-checkpoint request.  note points into the parsed body,
 * which must outlive the request. */
struct witness_request {
	uint64_t old_size;
	uint8_t proof[WITNESS_MAX_PROOF][MERKLE_HASH_LEN];
	size_t nproof;
	const char *note; /* the checkpoint note, signatures included */
	size_t note_len;
};

/*
 * Parse an add-checkpoint body strictly: "old <size>\n" (decimal, no
 * sign, no leading zero), at most WITNESS_MAX_PROOF lines of base64 of a
 * 32-byte hash, an empty line, then a non-empty note (checked by
 * witness_decide).  ERR_INVAL naming the line and what was expected.
 */
int witness_request_parse(const char *body, size_t len,
    struct witness_request *out);

/* Build a request body: *out (malloc'd, NUL-terminated, *out_len bytes
 * without the NUL) the caller frees.  ERR_LIMIT when nproof exceeds
 * WITNESS_MAX_PROOF. */
int witness_request_format(uint64_t old_size,
    const uint8_t proof[][MERKLE_HASH_LEN], size_t nproof, const char *note,
    size_t note_len, char **out, size_t *out_len);

/* The origin line of note (its first line) into *origin (malloc'd), so
 * the caller can find the log's keys and state.  ERR_INVAL when note has
 * no non-empty first line. */
int witness_note_origin(const char *note, size_t len, char **origin);

/* A log the witness follows: its origin and the keys (type 0x01) that
 * sign its checkpoints.  Borrowed by witness_decide. */
struct witness_log {
	const char *origin;
	const struct note_verifier *keys;
	size_t nkeys;
};

/* What the witness last cosigned for the log: size 0 and note NULL when
 * it never did. */
struct witness_last {
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
	const char *note;
};

/* A decision.  status is the HTTP status C2SP tlog-witness prescribes:
 * 200 cosign; 400 malformed or old size above the checkpoint's; 403 no
 * trusted signature; 404 unknown origin; 409 old size is not the last
 * cosigned size, or same size and another root; 422 the consistency
 * proof does not verify. */
struct witness_decision {
	int status;
	uint64_t last_size; /* the witness's size: a 409's body */
	/* 1 when the refusal shows the log signed a checkpoint inconsistent
	 * with last->note (same size and another root, or no valid proof
	 * from the size the witness holds): keep both notes as evidence */
	int evidence;
	char reason[512]; /* for people and the evidence */
	char *text; /* owned: the note's text, what is cosigned (status 200,
		     * and evidence) */
	uint64_t size; /* the submitted checkpoint's size and root, once its */
	uint8_t root[MERKLE_HASH_LEN]; /* signature verified */
};

/*
 * Decide on req for log (NULL: the origin is unknown) given last, in the
 * order of the spec: origin, signature, old size against the
 * checkpoint's, old size against last, then the proof (empty from 0;
 * equal sizes need equal roots).  Returns 0 with *d filled whatever the
 * verdict (witness_decision_clear frees it); ERR_NOMEM only.
 */
int witness_decide(const struct witness_log *log,
    const struct witness_last *last, const struct witness_request *req,
    struct witness_decision *d);
void witness_decision_clear(struct witness_decision *d);

/*
 * A log reading a witness's answer.  witness_response_cosig finds the
 * line by witness w (type 0x04) among the signature lines of a 200 body
 * and verifies it over text (the checkpoint body); *line (malloc'd, no
 * newline) and *time (may be NULL) get it.  ERR_INVAL when the body is
 * not signature lines or holds none by w; ERR_SIG when w's line does not
 * verify.  witness_response_size parses a 409 body "<size>\n".
 */
int witness_response_cosig(const struct note_verifier *w, const char *text,
    size_t text_len, const char *body, size_t len, char **line, uint64_t *time);
int witness_response_size(const char *body, size_t len, uint64_t *size);

#endif
