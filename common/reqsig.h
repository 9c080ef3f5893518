/*
 * reqsig: request signatures for Lodge's private HTTP endpoints (a lease's
 * manifest, blobs, status and logs).  A signed request carries
 *   X-Lodge-Signature: <base64url, no padding, of the canonical JSON of an
 *                       envelope of kind "http.request">
 * whose body is {"body_sha256":hex of the request body (of "" when none),
 * "host":H,"method":M,"path":P} with H the authority of the URL the
 * request is sent to ("HOST[:PORT]" as the URL writes it) and P the
 * request target (path and query string).  The host binds a signature to
 * the server it was made for: a provider refuses one made for another.
 */
#ifndef LODGE_REQSIG_H
#define LODGE_REQSIG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/key.h"

#define REQSIG_HEADER "X-Lodge-Signature"
#define REQSIG_KIND "http.request"
#define REQSIG_SKEW_MS 60000 /* |time - now| allowed */
#define REQSIG_REPLAY_MS 120000 /* nonces remembered this long */
#define REQSIG_MAX_HEADER 4096 /* bytes of header value accepted */
#define REQSIG_CACHE_MAX 65536 /* nonces remembered at most */
#define REQSIG_HOST_MAX 256 /* bytes of a host, with the NUL */

/* Sign a request for host (the authority of the URL it goes to; NULL:
 * none, which a server bound to its host refuses): *header_value
 * (malloc'd, owned by the caller) is the value of the X-Lodge-Signature
 * header.  time_ms < 0 means now. */
int reqsig_header_at(const struct key *k, const char *method, const char *host,
    const char *path, const void *body, size_t len, int64_t time_ms,
    char **header_value);
int reqsig_header(const struct key *k, const char *method, const char *host,
    const char *path, const void *body, size_t len, char **header_value);

/* The same as a whole header line, "X-Lodge-Signature: VALUE" (for curl
 * -H and libcurl's header lists); *line is malloc'd, owned by the
 * caller. */
int reqsig_header_line(const struct key *k, const char *method,
    const char *host, const char *path, const void *body, size_t len,
    char **line);

/* The request target of url (http://HOST[:PORT]/PATH[?QUERY]): what a
 * signature binds, *target pointing into url.  ERR_INVAL, naming url,
 * when it has no path. */
int reqsig_url_target(const char *url, const char **target);

/* The authority of url ("HOST[:PORT]" of http://HOST[:PORT][/...]) into
 * host (REQSIG_HOST_MAX bytes): the host a request to url is signed
 * for.  ERR_INVAL, naming url, when it has none; ERR_LIMIT when too
 * long. */
int reqsig_url_host(const char *url, char host[REQSIG_HOST_MAX]);

/* A thread-safe memory of recently seen (signer, nonce) pairs, and what
 * the server that keeps it is: its host and since when it remembers. */
struct reqsig_cache;
int reqsig_cache_new(struct reqsig_cache **out);
void reqsig_cache_free(struct reqsig_cache *c);

/* Bind c to its server: requests checked with c must be signed for host
 * (compared without case; NULL: any host, or none), and at or after
 * since_ms (0: any time) -- nonces of requests signed before the server
 * started are not known to it, so a replay of one could not be told
 * apart: they are refused instead.  ERR_LIMIT when host is too long. */
int reqsig_cache_bind(struct reqsig_cache *c, const char *host,
    int64_t since_ms);

/* Check a header value against the request: the envelope's signature,
 * kind, method, path, body hash, |time - now_ms| <= REQSIG_SKEW_MS, and
 * that the nonce was not seen in the last REQSIG_REPLAY_MS (the nonce is
 * then remembered; cache may be NULL to skip the replay check), and when
 * cache is bound (reqsig_cache_bind) its host and start.  On success
 * signer receives the signing key.  Errors: ERR_INVAL (malformed
 * header), ERR_SIG (bad signature), ERR_REJECT (method, host, path, body
 * or time do not match, or signed before the server started),
 * ERR_CONFLICT (replayed nonce), ERR_LIMIT (cache full); err_msg() says
 * which. */
int reqsig_verify(struct reqsig_cache *cache, const char *header_value,
    const char *method, const char *path, const void *body, size_t len,
    int64_t now_ms, uint8_t signer[KEY_PUB_LEN]);

/* The envelope a header value carries, as a JSON object (decoded, not
 * verified: call it on a header reqsig_verify accepted).  It is the
 * manifest-delivery proof a provider puts in lease.started
 * (docs/state.md).  The caller owns *out.  ERR_INVAL when malformed. */
int reqsig_envelope_json(const char *header_value, json_t **out);

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
