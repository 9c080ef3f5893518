/*
 * cosign: the log's side of C2SP tlog-witness.  Ask each witness of a
 * policy (trust.h) to cosign a checkpoint, with an add-checkpoint request
 * carrying the RFC 9162 consistency proof from the size it last cosigned
 * (learned from its 409 answer, then remembered), and attach the
 * cosignatures to the note, so the published note carries them.
 */
#ifndef LODGE_LEDGER_COSIGN_H
#define LODGE_LEDGER_COSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/store.h"
#include "ledger/trust.h"

/* Append signature line (no newline) to note, replacing any line by the
 * same key (name and key ID).  *out (malloc'd) the caller frees. */
int cosign_attach(const char *note, const char *line, char **out);

/*
 * Ask witness w (its url set) to cosign note, a checkpoint signed by
 * log, of the tree r reads.  *hint is the size w is believed to have
 * cosigned last (0 when unknown); on a 409 the witness's own size is
 * taken and the request made again (at most twice).  On success *line
 * (malloc'd, no newline) is w's verified cosignature and *hint the
 * checkpoint's size.  ERR_REJECT with the witness's reason when it
 * refuses: it holds a larger size of this log than the checkpoint, or
 * another root at that size (409), or the proof from its size does not
 * verify against what it cosigned (422): both mean the witness has seen
 * another history; ERR_IO when it cannot be reached.
 */
int cosign_ask(const struct trust_witness *w, const char *note,
    const struct note_verifier *log, const struct merkle_reader *r,
    uint64_t *hint, char **line);

struct cosign_report {
	uint64_t size; /* the checkpoint's */
	size_t asked; /* witnesses with a URL */
	size_t cosigned; /* of them, those that cosigned now */
	size_t total; /* cosignatures of p's witnesses the note carries */
	char failures[2048]; /* "name: reason" per line, for people */
};

/*
 * Ask every witness of p that has a URL to cosign the latest checkpoint
 * stored in s (the log's key is s's own), attach the cosignatures and
 * store the note again.  Each witness's last cosigned size is kept in s's
 * metadata.  *note (may be NULL; malloc'd) gets the stored note and *rep
 * what happened.  ERR_REJECT naming the failures when the note carries
 * fewer than p->quorum cosignatures.
 */
int cosign_store(struct store *s, const struct trust_policy *p, char **note,
    struct cosign_report *rep);

#endif
