/*
 * envelope: the signed unit of every state change in Lodge.
 *   {"body":{...},"kind":"...","nonce":"...","sig":"...","signer":"ed25519:...","time":MS}
 * The signature is Ed25519 by signer over the canonical JSON (cjson.h) of
 * the envelope without "sig"; sig is base64url without padding.
 */
#ifndef LODGE_ENVELOPE_H
#define LODGE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/key.h"

#define ENVELOPE_KIND_MAX 64
#define ENVELOPE_NONCE_MAX 128

struct envelope {
	json_t *json; /* the whole envelope; owned */
	const char *kind; /* borrowed from json */
	const json_t *body; /* borrowed from json; an object */
	const char *signer_text; /* "ed25519:..." borrowed from json */
	uint8_t signer[KEY_PUB_LEN];
	const char *nonce; /* borrowed from json */
	int64_t time_ms; /* signer's clock, ms since the epoch */
	uint8_t sig[KEY_SIG_LEN];
	char *canon; /* canonical bytes of the whole envelope */
	size_t canon_len;
};

/* Sign a new envelope.  body is borrowed (a reference is taken); nonce may
 * be NULL for a fresh random one; time_ms < 0 means now.  The caller owns
 * *out. */
int envelope_sign(const struct key *k, const char *kind, json_t *body,
    const char *nonce, int64_t time_ms, struct envelope **out);

/* Check shape (exactly the six members, kind [a-z0-9._-]{1,64}, body an
 * object, nonce 1..128 printable ASCII, time >= 0) and the signature.
 * Takes ownership of j whether or not it succeeds. */
int envelope_from_json(json_t *j, struct envelope **out);

/* cjson_parse + envelope_from_json. */
int envelope_parse(const char *buf, size_t len, struct envelope **out);

/*
 * Parse and verify n envelopes on up to `threads` threads (signature
 * checks dominate and are independent); results keep their order.  For
 * each i, out[i] is the envelope or NULL, and rcs[i] its code; when
 * msgs is given, msgs[i] is a malloc'd message for a failure (else NULL).
 * Returns 0, or ERR_NOMEM when threads could not be set up.
 */
int envelope_parse_many(const char *const *bufs, const size_t *lens, size_t n,
    int threads, struct envelope **out, int *rcs, char **msgs);

/* Canonical bytes of the whole envelope (with sig); caller frees. */
int envelope_dump(const struct envelope *e, char **out, size_t *len);

void envelope_free(struct envelope *e);

#endif
