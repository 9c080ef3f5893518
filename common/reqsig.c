/*
 * reqsig: signed HTTP requests (see reqsig.h).  The signature is an
 * ordinary Lodge envelope, so the same canonical-JSON and Ed25519 rules
 * apply; this module binds it to one method, target and body, bounds its
 * age and refuses replays with a small expiring nonce set.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/reqsig.h"
#include "common/util.h"

#define REQSIG_BUCKETS 1024

struct nonce_entry {
	struct nonce_entry *next;
	int64_t expires_ms;
	uint8_t signer[KEY_PUB_LEN];
	char nonce[];
};

struct reqsig_cache {
	pthread_mutex_t mu;
	char host[REQSIG_HOST_MAX]; /* "" = any (reqsig_cache_bind) */
	int64_t since_ms; /* 0 = any time */
	size_t count;
	struct nonce_entry *buckets[REQSIG_BUCKETS];
};

void
reqsig_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256(data ? data : (const void *)"", len, d);
	hex_encode(d, sizeof(d), out);
}

int
reqsig_header_at(const struct key *k, const char *method, const char *host,
    const char *path, const void *body, size_t len, int64_t time_ms,
    char **header_value)
{
	struct envelope *e = NULL;
	json_t *b;
	char hash[65], *canon = NULL, *out;
	size_t clen;
	int rc;

	*header_value = NULL;
	reqsig_sha256_hex(body, len, hash);
	b = json_pack("{s:s,s:s,s:s}", "body_sha256", hash, "method", method,
	    "path", path);
	if (b != NULL && host != NULL &&
	    json_object_set_new(b, "host", json_string(host)) < 0) {
		json_decref(b);
		b = NULL;
	}
	if (b == NULL)
		return err_set(ERR_INVAL,
		    "reqsig: method, host or path is not "
		    "UTF-8 text");
	rc = envelope_sign(k, REQSIG_KIND, b, NULL, time_ms, &e);
	json_decref(b);
	if (rc < 0)
		return rc;
	if ((rc = envelope_dump(e, &canon, &clen)) < 0)
		goto out;
	if ((out = malloc(B64_ENCODED_SIZE(clen))) == NULL) {
		rc = err_set(ERR_NOMEM, "reqsig: out of memory");
		goto out;
	}
	b64url_encode((const uint8_t *)canon, clen, out);
	*header_value = out;
out:
	free(canon);
	envelope_free(e);
	return rc;
}

int
reqsig_header(const struct key *k, const char *method, const char *host,
    const char *path, const void *body, size_t len, char **header_value)
{
	return reqsig_header_at(k, method, host, path, body, len, -1,
	    header_value);
}

int
reqsig_header_line(const struct key *k, const char *method, const char *host,
    const char *path, const void *body, size_t len, char **line)
{
	char *v = NULL;
	int rc;

	*line = NULL;
	if ((rc = reqsig_header(k, method, host, path, body, len, &v)) < 0)
		return rc;
	if (asprintf(line, "%s: %s", REQSIG_HEADER, v) < 0) {
		*line = NULL;
		rc = err_set(ERR_NOMEM, "reqsig: out of memory");
	}
	free(v);
	return rc;
}

int
reqsig_url_target(const char *url, const char **target)
{
	const char *p;

	*target = NULL;
	if ((p = strstr(url, "://")) == NULL ||
	    (p = strchr(p + 3, '/')) == NULL)
		return err_set(ERR_INVAL, "%s: expected http://HOST/PATH", url);
	*target = p;
	return 0;
}

int
reqsig_url_host(const char *url, char host[REQSIG_HOST_MAX])
{
	const char *p, *q;
	size_t n;

	host[0] = '\0';
	if ((p = strstr(url, "://")) == NULL)
		return err_set(ERR_INVAL, "%s: expected http://HOST/PATH", url);
	p += 3;
	n = (q = strpbrk(p, "/?#")) != NULL ? (size_t)(q - p) : strlen(p);
	if (n == 0)
		return err_set(ERR_INVAL, "%s: no host", url);
	if (n >= REQSIG_HOST_MAX)
		return err_set(ERR_LIMIT, "%.80s...: host longer than %d bytes",
		    url, REQSIG_HOST_MAX - 1);
	memcpy(host, p, n);
	host[n] = '\0';
	return 0;
}

int
reqsig_cache_new(struct reqsig_cache **out)
{
	struct reqsig_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return err_set(ERR_NOMEM, "reqsig: out of memory");
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

int
reqsig_cache_bind(struct reqsig_cache *c, const char *host, int64_t since_ms)
{
	if (host && strlen(host) >= sizeof(c->host))
		return err_set(ERR_LIMIT, "reqsig: host longer than %zu bytes",
		    sizeof(c->host) - 1);
	pthread_mutex_lock(&c->mu);
	snprintf(c->host, sizeof(c->host), "%s", host ? host : "");
	c->since_ms = since_ms > 0 ? since_ms : 0;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* The host and start c is bound to (reqsig_cache_bind): a request signed
 * for another host, or before the start, is refused. */
static int
check_binding(struct reqsig_cache *c, const struct envelope *e)
{
	const json_t *hj = json_object_get(e->body, "host");
	const char *h = json_string_value(hj);
	char want[REQSIG_HOST_MAX];
	int64_t since;

	pthread_mutex_lock(&c->mu);
	memcpy(want, c->host, sizeof(want));
	since = c->since_ms;
	pthread_mutex_unlock(&c->mu);
	if (hj != NULL && h == NULL)
		return err_set(ERR_INVAL, "%s: body.host is not a string",
		    REQSIG_HEADER);
	if (want[0] && h == NULL)
		return err_set(ERR_REJECT,
		    "request signature names no host; this server is %s "
		    "(sign requests for the host they are sent to)",
		    want);
	if (want[0] && strcasecmp(h, want) != 0)
		return err_set(ERR_REJECT,
		    "request signature is for host \"%.255s\", this server "
		    "is %s",
		    h, want);
	if (since > 0 && e->time_ms < since)
		return err_set(ERR_REJECT,
		    "request signature time %lld is before %lld: signed "
		    "before this provider started (a replay could not be "
		    "told apart); sign it again",
		    (long long)e->time_ms, (long long)since);
	return 0;
}

void
reqsig_cache_free(struct reqsig_cache *c)
{
	struct nonce_entry *e, *n;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < REQSIG_BUCKETS; i++)
		for (e = c->buckets[i]; e; e = n) {
			n = e->next;
			free(e);
		}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static size_t
bucket_of(const uint8_t signer[KEY_PUB_LEN], const char *nonce)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	size_t i;

	for (i = 0; i < KEY_PUB_LEN; i++)
		h = (h ^ signer[i]) * 1099511628211ull;
	for (; *nonce; nonce++)
		h = (h ^ (unsigned char)*nonce) * 1099511628211ull;
	return (size_t)(h % REQSIG_BUCKETS);
}

/* Remember (signer, nonce) until now + REQSIG_REPLAY_MS; ERR_CONFLICT if
 * it is remembered already.  Expired entries of the bucket go on the way. */
static int
cache_insert(struct reqsig_cache *c, const uint8_t signer[KEY_PUB_LEN],
    const char *nonce, int64_t now_ms)
{
	struct nonce_entry **pp, *e;
	size_t b = bucket_of(signer, nonce), n = strlen(nonce);
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	for (pp = &c->buckets[b]; (e = *pp) != NULL;) {
		if (e->expires_ms <= now_ms) {
			*pp = e->next;
			free(e);
			c->count--;
			continue;
		}
		if (memcmp(e->signer, signer, KEY_PUB_LEN) == 0 &&
		    strcmp(e->nonce, nonce) == 0) {
			rc = err_set(ERR_CONFLICT,
			    "request signature: nonce "
			    "\"%s\" was already used",
			    nonce);
			goto out;
		}
		pp = &e->next;
	}
	if (c->count >= REQSIG_CACHE_MAX) {
		rc = err_set(ERR_LIMIT,
		    "request signature: too many recent "
		    "requests (%d), try again later",
		    REQSIG_CACHE_MAX);
		goto out;
	}
	if ((e = malloc(sizeof(*e) + n + 1)) == NULL) {
		rc = err_set(ERR_NOMEM, "reqsig: out of memory");
		goto out;
	}
	memcpy(e->signer, signer, KEY_PUB_LEN);
	memcpy(e->nonce, nonce, n + 1);
	e->expires_ms = now_ms + REQSIG_REPLAY_MS;
	e->next = c->buckets[b];
	c->buckets[b] = e;
	c->count++;
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* body_hash: the body's hash to compare, or NULL to hand the signed one
 * back in signed_hash. */
static int
verify(struct reqsig_cache *cache, const char *header_value, const char *method,
    const char *path, const char *body_hash, int64_t now_ms,
    uint8_t signer[KEY_PUB_LEN], char signed_hash[65])
{
	struct envelope *e = NULL;
	const char *m, *p, *h;
	uint8_t *raw = NULL;
	size_t hlen, rawlen;
	int64_t skew;
	int rc;

	if (header_value == NULL || *header_value == '\0')
		return err_set(ERR_INVAL,
		    "request is not signed (no %s "
		    "header)",
		    REQSIG_HEADER);
	hlen = strlen(header_value);
	if (hlen > REQSIG_MAX_HEADER)
		return err_set(ERR_INVAL, "%s: %zu bytes, at most %d",
		    REQSIG_HEADER, hlen, REQSIG_MAX_HEADER);
	if ((raw = malloc(hlen)) == NULL)
		return err_set(ERR_NOMEM, "reqsig: out of memory");
	if (b64url_decode(header_value, hlen, raw, hlen, &rawlen) < 0) {
		rc = err_set(ERR_INVAL, "%s: not base64url", REQSIG_HEADER);
		goto out;
	}
	if ((rc = envelope_parse((const char *)raw, rawlen, &e)) < 0) {
		err_prefix(rc, "%s", REQSIG_HEADER);
		goto out;
	}
	if (strcmp(e->kind, REQSIG_KIND) != 0) {
		rc = err_set(ERR_REJECT, "%s: kind \"%s\", expected \"%s\"",
		    REQSIG_HEADER, e->kind, REQSIG_KIND);
		goto out;
	}
	if ((rc = cjson_get_str(e->body, "method", "signature body.method",
	         &m)) < 0 ||
	    (rc = cjson_get_str(e->body, "path", "signature body.path", &p)) <
	        0 ||
	    (rc = cjson_get_str(e->body, "body_sha256",
	         "signature body.body_sha256", &h)) < 0)
		goto out;
	if (strcmp(m, method) != 0) {
		rc = err_set(ERR_REJECT,
		    "request signature is for method "
		    "%s, not %s",
		    m, method);
		goto out;
	}
	if (strcmp(p, path) != 0) {
		rc = err_set(ERR_REJECT,
		    "request signature is for path "
		    "\"%s\", not \"%s\"",
		    p, path);
		goto out;
	}
	if (body_hash && strcmp(h, body_hash) != 0) {
		rc = err_set(ERR_REJECT,
		    "request signature is for a body "
		    "with sha256 %s, this one has %s",
		    h, body_hash);
		goto out;
	}
	if (body_hash == NULL) {
		if (strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64) {
			rc = err_set(ERR_INVAL,
			    "%s: body_sha256 is not 64 lower-case hex",
			    REQSIG_HEADER);
			goto out;
		}
		memcpy(signed_hash, h, 65);
	}
	skew = e->time_ms - now_ms;
	if (skew > REQSIG_SKEW_MS || skew < -REQSIG_SKEW_MS) {
		rc = err_set(ERR_REJECT,
		    "request signature time %lld is "
		    "%lld ms away from now (at most %d)",
		    (long long)e->time_ms, (long long)skew, REQSIG_SKEW_MS);
		goto out;
	}
	if (cache &&
	    ((rc = check_binding(cache, e)) < 0 ||
	        (rc = cache_insert(cache, e->signer, e->nonce, now_ms)) < 0))
		goto out;
	memcpy(signer, e->signer, KEY_PUB_LEN);
	rc = 0;
out:
	envelope_free(e);
	free(raw);
	return rc;
}

int
reqsig_verify(struct reqsig_cache *cache, const char *header_value,
    const char *method, const char *path, const void *body, size_t len,
    int64_t now_ms, uint8_t signer[KEY_PUB_LEN])
{
	char hash[65];

	reqsig_sha256_hex(body, len, hash);
	return verify(cache, header_value, method, path, hash, now_ms, signer,
	    NULL);
}

int
reqsig_verify_head(struct reqsig_cache *cache, const char *header_value,
    const char *method, const char *path, int64_t now_ms,
    uint8_t signer[KEY_PUB_LEN], char body_sha256[65])
{
	return verify(cache, header_value, method, path, NULL, now_ms, signer,
	    body_sha256);
}

int
reqsig_envelope_json(const char *header_value, json_t **out)
{
	uint8_t *raw = NULL;
	size_t hlen, rawlen;
	int rc;

	*out = NULL;
	if (header_value == NULL || *header_value == '\0')
		return err_set(ERR_INVAL, "no %s header", REQSIG_HEADER);
	hlen = strlen(header_value);
	if (hlen > REQSIG_MAX_HEADER)
		return err_set(ERR_INVAL, "%s: %zu bytes, at most %d",
		    REQSIG_HEADER, hlen, REQSIG_MAX_HEADER);
	if ((raw = malloc(hlen)) == NULL)
		return err_set(ERR_NOMEM, "reqsig: out of memory");
	if (b64url_decode(header_value, hlen, raw, hlen, &rawlen) < 0)
		rc = err_set(ERR_INVAL, "%s: not base64url", REQSIG_HEADER);
	else if ((rc = cjson_parse((const char *)raw, rawlen, out)) < 0)
		err_prefix(rc, "%s", REQSIG_HEADER);
	else if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		rc = err_set(ERR_INVAL, "%s: not an envelope object",
		    REQSIG_HEADER);
	}
	free(raw);
	return rc;
}
