/*
 * client: the tenant's calls to the market (reads, signed entries) and to
 * providers (requests signed with common/reqsig.h: manifest, blobs,
 * status, logs).
 */
#ifndef LODGE_TENANT_CLIENT_H
#define LODGE_TENANT_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/http.h"
#include "common/key.h"

#define TENANT_TIMEOUT_MS 10000

struct tenant_client {
	char *market; /* base URL, no trailing '/'; owned */
	struct key *key; /* owned; NULL for read-only use */
	char address[KEY_TEXT_SIZE]; /* the key's "ed25519:..." */
	long timeout_ms;
	int insecure_http; /* plain http:// providers allowed (loopback
	                      development); else only https://, pinned to
	                      the provider's key */
};

/* market is copied; key is taken over (freed by tenant_client_clear,
 * even when this fails) and may be NULL. */
int tenant_client_init(struct tenant_client *c, const char *market,
    struct key *key);
void tenant_client_clear(struct tenant_client *c);

/* GET market path ("/v1/info") and parse the JSON answer.  ERR_NOTFOUND
 * on 404, ERR_IO on transport failure or another status, with the
 * market's {"error"} in the message.  The caller owns *out. */
int tenant_market_get(struct tenant_client *c, const char *path, json_t **out);

/* Sign {kind, body} with the tenant's key and POST it to /v1/entries.
 * On 201, *index gets the ledger index and id (may be NULL, STATE_ID_LEN
 * bytes) the created id ("o-12") or "".  A refusal is ERR_REJECT with
 * the market's reason (and, for a fee the key cannot pay, 402, how to get
 * funds: tenant_fund_hint).  body is borrowed. */
int tenant_market_submit(struct tenant_client *c, const char *kind,
    json_t *body, uint64_t *index, char *id, size_t idlen);

/* The provider's advertised API URL (malloc'd, caller frees); ERR_NOTFOUND
 * when the market knows no ask of that key.  An https:// URL is pinned to
 * the provider's key (common/http.h); a plain http:// one is ERR_REJECT
 * unless c->insecure_http. */
int tenant_provider_url(struct tenant_client *c, const char *provider_key,
    char **url);

/* One request to a provider, signed by the tenant (REQSIG_HEADER).  path
 * includes the query string.  Any HTTP status is success; ERR_IO on a
 * transport failure.  content_type may be NULL. */
int tenant_provider_call(struct tenant_client *c, const char *api_url,
    const char *method, const char *path, const char *content_type,
    const void *body, size_t len, long timeout_ms, struct http_result *out);

/* A signed streaming GET (logs?follow=1): fn gets each chunk of a 200
 * answer and returns non-zero to stop.  Another status is ERR_REJECT
 * with the provider's error in the message. */
int tenant_provider_follow(struct tenant_client *c, const char *api_url,
    const char *path, http_chunk_fn fn, void *ctx);

/* How the tenant's key gets funds, one sentence naming it (for the
 * messages of refusals for lack of funds); returns buf. */
const char *tenant_fund_hint(const struct tenant_client *c, char *buf,
    size_t cap);

/* The "error" member of a JSON error body, or the body itself (short). */
const char *tenant_error_text(const char *body, char *buf, size_t cap);

#endif
