/*
 * reqsig: request signatures for Lodge's private HTTP endpoints (a lease's
 * manifest, blobs, status and logs).  A signed request carries
 *   X-Lodge-Signature: <base64url, no padding, of the canonical JSON of an
 *                       envelope of kind "http.request">
 * whose body is {"body_sha256":hex of the request body (of "" when none),
 * "method":M,"path":P} with P the request target (path and query string).
 */
#ifndef LODGE_REQSIG_H
#define LODGE_REQSIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"

#define REQSIG_HEADER "X-Lodge-Signature"
#define REQSIG_KIND "http.request"
#define REQSIG_SKEW_MS 60000 /* |time - now| allowed */
#define REQSIG_REPLAY_MS 120000 /* nonces remembered this long */
#define REQSIG_MAX_HEADER 4096 /* bytes of header value accepted */
#define REQSIG_CACHE_MAX 65536 /* nonces remembered at most */

/* Sign a request: *header_value (malloc'd, owned by the caller) is the
 * value of the X-Lodge-Signature header.  time_ms < 0 means now. */
int reqsig_header_at(const struct key *k, const char *method, const char *path,
    const void *body, size_t len, int64_t time_ms, char **header_value);
int reqsig_header(const struct key *k, const char *method, const char *path,
    const void *body, size_t len, char **header_value);

/* A thread-safe memory of recently seen (signer, nonce) pairs. */
struct reqsig_cache;
int reqsig_cache_new(struct reqsig_cache **out);
void reqsig_cache_free(struct reqsig_cache *c);

/* Check a header value against the request: the envelope's signature,
 * kind, method, path, body hash, |time - now_ms| <= REQSIG_SKEW_MS, and
 * that the nonce was not seen in the last REQSIG_REPLAY_MS (the nonce is
 * then remembered; cache may be NULL to skip the replay check).  On
 * success signer receives the signing key.  Errors: ERR_INVAL (malformed
 * header), ERR_SIG (bad signature), ERR_REJECT (method, path, body or
 * time do not match), ERR_CONFLICT (replayed nonce), ERR_LIMIT (cache
 * full); err_msg() says which. */
int reqsig_verify(struct reqsig_cache *cache, const char *header_value,
    const char *method, const char *path, const void *body, size_t len,
    int64_t now_ms, uint8_t signer[KEY_PUB_LEN]);

/* The same checks before the body is read (from the request's head): all
 * but the body's hash, which the signature names and *body_sha256
 * receives (64 lower-case hex and a NUL) for the caller to compare with
 * the body's once it has it.  The nonce is remembered at once. */
int reqsig_verify_head(struct reqsig_cache *cache, const char *header_value,
    const char *method, const char *path, int64_t now_ms,
    uint8_t signer[KEY_PUB_LEN], char body_sha256[65]);

/* Lower-case hex SHA-256 of data (65 bytes with the NUL). */
void reqsig_sha256_hex(const void *data, size_t len, char out[65]);

#endif
