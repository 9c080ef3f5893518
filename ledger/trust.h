/*
 * trust: what a client of a log (a tenant, a provider, an auditor)
 * trusts and remembers.  A policy names the log's key, the witnesses
 * (C2SP tlog-cosignature/v1 keys) and how many of them must cosign; the
 * memory is the last cosigned checkpoint the client verified, kept in a
 * file.  Each new checkpoint must verify under the policy and come with
 * an RFC 9162 consistency proof from the remembered one; when it does not
 * the client has been shown a split view and gets ERR_ALARM, whose
 * message holds both signed notes, the evidence.
 */
#ifndef LODGE_LEDGER_TRUST_H
#define LODGE_LEDGER_TRUST_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/merkle.h"
#include "ledger/note.h"

#define TRUST_MAX_WITNESSES 32

struct trust_witness {
	struct note_verifier v; /* type 0x04 */
	char *url; /* its submission prefix, owned; NULL when not given */
};

/*
 * A policy.  Its text form, one directive a line, '#' comments:
 *   log <vkey>               the log's key (type 0x01)
 *   witness <vkey> [<url>]   a witness's key (type 0x04) and where the
 *                            log asks it (only the log needs the URL)
 *   quorum <n>               cosignatures needed (default: every witness)
 */
struct trust_policy {
	struct note_verifier log;
	int have_log;
	struct trust_witness w[TRUST_MAX_WITNESSES];
	size_t nw;
	size_t quorum;
};

/* An empty policy: no log key, no witness, quorum 0. */
void trust_policy_init(struct trust_policy *p);
/* Free what p owns and empty it. */
void trust_policy_clear(struct trust_policy *p);
/* Add a witness: vkey text of type 0x04, url may be NULL.  ERR_CONFLICT
 * when that key is there already, ERR_LIMIT past TRUST_MAX_WITNESSES. */
int trust_policy_add_witness(struct trust_policy *p, const char *vkey,
    const char *url);
/* Parse the text form into p (initialised by the caller; directives add
 * to it).  what names the text in messages ("FILE:LINE: ..."). */
int trust_policy_parse(struct trust_policy *p, const char *text, size_t len,
    const char *what);
int trust_policy_load(struct trust_policy *p, const char *path);

/*
 * Verify a checkpoint note under p: signed by the log's key, and
 * cosigned by at least p->quorum distinct witnesses of p (other lines are
 * ignored; a line by a known witness that does not verify is ERR_SIG).
 * On success *cp (may be NULL) owns the parsed checkpoint
 * (checkpoint_clear) and *ncosig (may be NULL) gets the count.  ERR_REJECT
 * when the quorum is not met, naming the witnesses that did not cosign.
 */
int trust_verify(const struct trust_policy *p, const char *note, size_t len,
    struct checkpoint *cp, size_t *ncosig);

/* The remembered checkpoint, kept in one file (the note, as verified). */
struct trust_memory;

/* Open the memory at path under p (borrowed: it must outlive *out).  A
 * missing file is an empty memory (first use); an existing one must hold
 * a note the log's key signed.  The caller frees *out. */
int trust_memory_open(const char *path, const struct trust_policy *p,
    struct trust_memory **out);
void trust_memory_free(struct trust_memory *m);
/* The remembered note and checkpoint; NULL when the memory is empty. */
const char *trust_memory_note(const struct trust_memory *m);
const struct checkpoint *trust_memory_checkpoint(const struct trust_memory *m);
const char *trust_memory_path(const struct trust_memory *m);
const struct trust_policy *trust_memory_policy(const struct trust_memory *m);

/*
 * The consistency proof trust_update needs for a new checkpoint of
 * new_size: from *from to *to (the smaller size to the larger).  Returns
 * 1 when a proof is needed, 0 when none is (empty memory, equal sizes, or
 * one of the sizes 0).
 */
int trust_proof_range(const struct trust_memory *m, uint64_t new_size,
    uint64_t *from, uint64_t *to);

/*
 * Check a new checkpoint note against the memory: it must verify under
 * the policy (trust_verify's errors otherwise, memory unchanged), be of
 * the same origin, and proof (nproof hashes, for trust_proof_range's
 * sizes) must show the smaller tree a prefix of the larger; equal sizes
 * need equal roots.  A larger checkpoint is then remembered (the file
 * replaced atomically) and *advanced (may be NULL) set; a smaller one is
 * accepted but not remembered; an equal one replaces the note (it may
 * carry more cosignatures).  An empty memory remembers the note (first
 * use).  When the two cannot both be honest, ERR_ALARM: the message holds
 * both notes, which are also written to "<path>.evidence", and the
 * memory is unchanged.
 */
int trust_update(struct trust_memory *m, const char *note, size_t len,
    const uint8_t proof[][MERKLE_HASH_LEN], size_t nproof, int *advanced);

/*
 * The same from where a log is served (trust_source.c): the source's
 * latest checkpoint and the consistency proof from the remembered one,
 * then trust_update.  A market: its /v1/ledger/checkpoint and
 * /v1/ledger/proof/consistency.  A store file (read-only).  C2SP tiles at
 * url (tiles.h): only the tiles the proof needs are read.  *size (may be
 * NULL) gets the source's checkpoint size.
 */
int trust_follow_market(struct trust_memory *m, const char *url, int *advanced,
    uint64_t *size);
int trust_follow_store(struct trust_memory *m, const char *path, int *advanced,
    uint64_t *size);
int trust_follow_tiles(struct trust_memory *m, const char *url, int *advanced,
    uint64_t *size);

#endif
