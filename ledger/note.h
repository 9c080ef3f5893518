/*
 * note: C2SP signed-note with Ed25519 signatures (type 0x01), C2SP
 * tlog-cosignature/v1 (type 0x04) and C2SP tlog-checkpoint bodies, the
 * form of the ledger's signed checkpoints.
 */
#ifndef LODGE_LEDGER_NOTE_H
#define LODGE_LEDGER_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"

#define NOTE_NAME_MAX 255 /* bytes in a key name */
#define NOTE_MAX_SIGS 100 /* signature lines note_open reads */
#define NOTE_SIG_ED25519 0x01
#define NOTE_SIG_COSIGNATURE 0x04

/* A known signer: name, key ID, signature type and Ed25519 public key. */
struct note_verifier {
	char name[NOTE_NAME_MAX + 1];
	uint32_t id;
	uint8_t type; /* NOTE_SIG_ED25519 or NOTE_SIG_COSIGNATURE */
	uint8_t pub[KEY_PUB_LEN];
};

/* Key ID: the first 4 bytes (big-endian) of SHA-256(name "\n" type pub).
 * note_key_id is type 0x01. */
uint32_t note_key_id(const char *name, const uint8_t pub[KEY_PUB_LEN]);
uint32_t note_key_id_type(const char *name, uint8_t type,
    const uint8_t pub[KEY_PUB_LEN]);

/* 0 when name is a valid key name: non-empty, at most NOTE_NAME_MAX
 * bytes of UTF-8, no Unicode white space, no '+'.  ERR_INVAL otherwise. */
int note_name_check(const char *name);

/* Fill v for name, type and pub (computing the key ID). */
int note_verifier_init(struct note_verifier *v, const char *name, uint8_t type,
    const uint8_t pub[KEY_PUB_LEN]);

/* Verifier key text "<name>+<8 hex key ID>+<base64(0x01 || pub)>".
 * The caller frees *out with free(). */
int note_vkey_format(const char *name, const uint8_t pub[KEY_PUB_LEN],
    char **out);
/* The same for a key of type NOTE_SIG_ED25519 or NOTE_SIG_COSIGNATURE
 * (a witness's: "<name>+<id>+<base64(0x04 || pub)>"). */
int note_vkey_format_type(const char *name, uint8_t type,
    const uint8_t pub[KEY_PUB_LEN], char **out);
/* Parse verifier key text (type 0x01 or 0x04), checking the name rules,
 * the key ID against name and key, and the key length.  ERR_INVAL with a
 * message otherwise. */
int note_vkey_parse(const char *vkey, struct note_verifier *out);

/* Sign text (non-empty UTF-8 without control characters other than
 * newline, ending in "\n") as name with k: *out is
 * text "\n" "— " name " " base64(keyid || sig) "\n", NUL-terminated, and
 * the caller frees it with free(). */
int note_sign(const char *text, size_t len, const char *name,
    const struct key *k, char **out);

/* Parse a signed note and check its signatures against known[0..nknown).
 * Every signature line whose name and key ID match a known verifier must
 * verify (ERR_SIG otherwise), at least one must (ERR_SIG otherwise);
 * lines by unknown keys are ignored, as are repeats by one verifier.
 * Malformed notes are ERR_INVAL: bad UTF-8, an ASCII control character
 * other than newline (DEL too, as C2SP says; Go refuses only those below
 * 0x20), no blank line before the signatures, a bad signature line, more
 * than NOTE_MAX_SIGS of them.  On success *text_out (may be NULL) gets a NUL-terminated
 * copy of the text the caller frees with free(), and *nverified (may be
 * NULL) the number of verified signatures. */
int note_open(const char *note, size_t len, const struct note_verifier *known,
    size_t nknown, char **text_out, size_t *nverified);

/* A C2SP tlog-cosignature/v1 signature line (without newline) by name
 * with k over checkpoint body text at time (seconds since the epoch):
 * "— " name " " base64(keyid || u64be time || sig).  The caller frees
 * *out with free(). */
int note_cosign(const char *text, size_t len, const char *name,
    const struct key *k, uint64_t time, char **out);
/* Verify one cosignature line (with or without trailing newline) by
 * cosigner v (type 0x04) over checkpoint body text; *time (may be NULL)
 * gets its timestamp.  ERR_INVAL when malformed or not v's line, ERR_SIG
 * when the signature does not verify. */
int note_cosignature_verify(const struct note_verifier *v, const char *text,
    size_t len, const char *line, size_t linelen, uint64_t *time);

/* A C2SP tlog-checkpoint body. */
struct checkpoint {
	char *origin; /* owned, NUL-terminated */
	uint64_t size;
	uint8_t root[32];
	char *extensions; /* owned: extension lines, each ending "\n";
				 * NULL when there are none */
};

/* "<origin>\n<size>\n<base64 root>\n"; the caller frees *out with free().
 * ERR_INVAL when origin is empty or holds a newline or control
 * character. */
int checkpoint_format(const char *origin, uint64_t size, const uint8_t root[32],
    char **out);
/* Parse a checkpoint body strictly: non-empty origin, decimal size
 * without sign or leading zeros, base64 of exactly 32 bytes, then any
 * non-empty extension lines; every line ends in "\n".  On success out
 * owns its strings (checkpoint_clear); on error out is left empty. */
int checkpoint_parse(const char *text, size_t len, struct checkpoint *out);
/* Free what out owns and zero it; accepts an already cleared one. */
void checkpoint_clear(struct checkpoint *c);

#endif
