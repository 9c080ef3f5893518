/*
 * mirror: a git repository (libgit2) that anyone can clone with plain git
 * and verify offline.  One commit per checkpoint on refs/heads/main; each
 * commit's tree holds
 *   checkpoint                 the signed C2SP checkpoint note, with
 *                              the witnesses' cosignatures it carries
 *   entries/<first index>.jsonl  bundles of MIRROR_BUNDLE leaves, one
 *                              leaf's exact bytes per line, names
 *                              zero-padded to 12 digits
 *   README                     what the files are and how to verify them
 * and holds exactly the entries the checkpoint covers.
 */
#ifndef LODGE_LEDGER_MIRROR_H
#define LODGE_LEDGER_MIRROR_H

#include <stdint.h>

#include "ledger/note.h"
#include "ledger/store.h"
#include "ledger/verify.h"

#define MIRROR_BUNDLE 1024

struct mirror_report {
	uint64_t commits; /* commits added by this update */
	uint64_t size; /* entries covered by the mirror's head */
};

/* Create the repository at dir (bare) if needed, then add one commit
 * for each stored checkpoint larger than the mirror's latest, and one
 * when the stored note of the latest's size differs from the mirror's
 * (it gained cosignatures; its text must be the same, ERR_CORRUPT
 * otherwise). */
int mirror_update(struct store *s, const char *dir, struct mirror_report *rep);

/* Verify a mirror (bare, or a clone's work tree) from its git objects:
 * every entry and every commit's checkpoint, against vkey. */
int mirror_verify(const char *dir, const struct note_verifier *vkey,
    struct verify_report *rep);

/* Read a mirror's head: fn for each leaf in order (time -1: the leaf
 * carries it), and *note (malloc'd) the head checkpoint. */
int mirror_read(const char *dir, store_leaf_fn fn, void *ctx, char **note);

#endif
