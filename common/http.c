/*
 * http: the response helpers, HOST:PORT parsing and the libcurl client of
 * http.h (the server is http_server.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "common/tls.h"

void
http_respond(struct http_response *resp, int status, char *body)
{
	free(resp->body);
	resp->status = status;
	resp->body = body;
	resp->body_len = body ? strlen(body) : 0;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * surrogates or code points past U+10FFFF), or 0. */
static size_t
utf8_seq(const unsigned char *s)
{
	unsigned c = s[0], cp, n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void
http_respond_error(struct http_response *resp, int status, const char *fmt, ...)
{
	char msg[1024];
	json_t *o;
	va_list ap;
	size_t i, n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* a message quoting a client's bytes (a path, a key; or cut in the
	 * middle of a character by a %.80s) is still a JSON string: each
	 * byte of an invalid sequence becomes '?', never an empty answer */
	for (i = 0; msg[i] != '\0'; i += n)
		if ((n = utf8_seq((const unsigned char *)msg + i)) == 0) {
			msg[i] = '?';
			n = 1;
		}
	o = json_pack("{s:s}", "error", msg);
	http_respond(resp, status, o ? json_dumps(o, JSON_COMPACT) : NULL);
	json_decref(o);
}

int
http_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	char *end;
	unsigned long p;
	size_t n;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			goto bad;
		n = (size_t)(rb - s - 1);
		colon = rb + 1;
		s++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			goto bad;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hostlen)
		goto bad;
	memcpy(host, s, n);
	host[n] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || p > 65535 || errno)
		goto bad;
	*port = (uint16_t)p;
	return 0;
bad:
	return err_set(ERR_INVAL, "'%s': expected HOST:PORT (port 0-65535)", s);
}

/* ---- client ---------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Largest response body the client accepts: a broken or hostile peer
 * cannot make a caller run out of memory. */
#define HTTP_CLIENT_MAX_BODY (256 * 1024 * 1024)

struct buf {
	char *data;
	size_t len, cap;
};

/* ---- pins --------------------------------------------------------------- */

struct pin {
	char origin[TLS_ORIGIN_SIZE];
	uint8_t pub[KEY_PUB_LEN];
};

static pthread_mutex_t pins_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pin *pins;
static size_t npins;

/* The key the server of the transfer running in this thread showed
 * (curl calls the verify callback in the thread of curl_easy_perform). */
static __thread uint8_t seen_pub[KEY_PUB_LEN];
static __thread int seen_set;

int
http_pin(const char *url, const uint8_t pub[KEY_PUB_LEN])
{
	char origin[TLS_ORIGIN_SIZE];
	struct pin *np;
	int rc;

	if ((rc = tls_url_origin(url, origin)) < 0)
		return rc;
	pthread_mutex_lock(&pins_mu);
	for (size_t i = 0; i < npins; i++)
		if (strcmp(pins[i].origin, origin) == 0) {
			memcpy(pins[i].pub, pub, KEY_PUB_LEN);
			pthread_mutex_unlock(&pins_mu);
			return 0;
		}
	if ((np = realloc(pins, (npins + 1) * sizeof(*np))) == NULL) {
		pthread_mutex_unlock(&pins_mu);
		return err_set(ERR_NOMEM, "out of memory");
	}
	pins = np;
	memcpy(pins[npins].origin, origin, sizeof(origin));
	memcpy(pins[npins].pub, pub, KEY_PUB_LEN);
	npins++;
	pthread_mutex_unlock(&pins_mu);
	return 0;
}

/* The pinned key of url's origin: 1 found, 0 none. */
static int
pin_of(const char *url, uint8_t pub[KEY_PUB_LEN])
{
	char origin[TLS_ORIGIN_SIZE];
	int found = 0;

	if (strncasecmp(url, "https://", 8) != 0 ||
	    tls_url_origin(url, origin) < 0)
		return 0;
	pthread_mutex_lock(&pins_mu);
	for (size_t i = 0; i < npins && !found; i++)
		if (strcmp(pins[i].origin, origin) == 0) {
			memcpy(pub, pins[i].pub, KEY_PUB_LEN);
			found = 1;
		}
	pthread_mutex_unlock(&pins_mu);
	return found;
}

/* Records the leaf certificate's key; trust is the pin's business. */
static int
record_peer(int preverify, X509_STORE_CTX *st)
{
	X509 *x = X509_STORE_CTX_get_current_cert(st);
	EVP_PKEY *pk = x ? X509_get0_pubkey(x) : NULL;
	size_t n = KEY_PUB_LEN;

	(void)preverify;
	if (X509_STORE_CTX_get_error_depth(st) == 0 && pk &&
	    EVP_PKEY_get_id(pk) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(pk, seen_pub, &n) == 1 &&
	    n == KEY_PUB_LEN)
		seen_set = 1;
	return 1;
}

static CURLcode
ssl_ctx_cb(CURL *curl, void *sslctx, void *parm)
{
	(void)curl;
	(void)parm;
	SSL_CTX_set_verify(sslctx, SSL_VERIFY_PEER, record_peer);
	return CURLE_OK;
}

/* Trust only the pinned key, if url's origin has one. */
static void
apply_pin(CURL *c, const char *url, uint8_t pub[KEY_PUB_LEN], int *pinned)
{
	char pin[TLS_PIN_SIZE];

	seen_set = 0;
	*pinned = pin_of(url, pub);
	if (!*pinned)
		return;
	tls_pin_text(pub, pin);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, pin);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
}

/* The message of a failed transfer; a pin mismatch names both keys. */
static int
transfer_error(const char *method, const char *url, CURLcode cc, int pinned,
    const uint8_t pub[KEY_PUB_LEN])
{
	char want[KEY_TEXT_SIZE], got[KEY_TEXT_SIZE];

	if (pinned && cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
		key_pub_to_text(pub, want);
		if (seen_set)
			key_pub_to_text(seen_pub, got);
		return err_set(ERR_REJECT,
		    "%s %s: refused: the server's TLS key is %s, not the "
		    "pinned key %s",
		    method, url, seen_set ? got : "not an Ed25519 key", want);
	}
	if (!pinned && cc == CURLE_PEER_FAILED_VERIFICATION)
		return err_set(ERR_IO,
		    "%s %s: %s (no key is pinned for this server, so its "
		    "certificate was checked against the system's CAs; a "
		    "Lodge daemon's is self-signed by its ledger key, which "
		    "the client pins: README \"TLS\")",
		    method, url, curl_easy_strerror(cc));
	return err_set(ERR_IO, "%s %s: %s", method, url,
	    curl_easy_strerror(cc));
}

int
http_curl_pin(void *curl, const char *url)
{
	uint8_t pub[KEY_PUB_LEN];
	int pinned;

	apply_pin(curl, url, pub, &pinned);
	return pinned;
}

int
http_curl_error(const char *method, const char *url, int cc)
{
	uint8_t pub[KEY_PUB_LEN];
	int pinned = pin_of(url, pub);

	return transfer_error(method, url, (CURLcode)cc, pinned, pub);
}

int
http_peer_key(const char *url, long timeout_ms, uint8_t pub[KEY_PUB_LEN])
{
	CURLcode cc;
	CURL *c;

	if (strncasecmp(url, "https://", 8) != 0)
		return err_set(ERR_INVAL, "%s: not an https:// URL", url);
	pthread_once(&curl_once, curl_init_once);
	if ((c = curl_easy_init()) == NULL)
		return err_set(ERR_NOMEM, "curl: cannot create a handle");
	seen_set = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	cc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK)
		return err_set(ERR_IO, "%s: %s", url, curl_easy_strerror(cc));
	if (!seen_set)
		return err_set(ERR_INVAL,
		    "%s: its TLS certificate does not hold an Ed25519 key",
		    url);
	memcpy(pub, seen_pub, KEY_PUB_LEN);
	return 0;
}

int
http_pin_known(const char *url, const char *given, const char *known_path,
    long timeout_ms, int *learned)
{
	char origin[TLS_ORIGIN_SIZE], want[KEY_TEXT_SIZE], got[KEY_TEXT_SIZE];
	uint8_t pub[KEY_PUB_LEN], seen[KEY_PUB_LEN];
	int rc;

	if (learned)
		*learned = 0;
	if (strncasecmp(url, "https://", 8) != 0)
		return 0;
	if ((rc = tls_url_origin(url, origin)) < 0)
		return rc;
	if ((rc = http_peer_key(url, timeout_ms, seen)) < 0)
		return rc;
	if (given && given[0]) {
		if ((rc = key_pub_from_text(given, pub)) < 0)
			return err_prefix(rc, "the market key \"%s\"", given);
		if (memcmp(pub, seen, KEY_PUB_LEN) != 0) {
			key_pub_to_text(pub, want);
			key_pub_to_text(seen, got);
			return err_set(ERR_REJECT,
			    "%s: refused: the server's TLS key is %s, not the "
			    "given key %s",
			    origin, got, want);
		}
	} else if ((rc = tls_known_check(known_path, origin, seen, learned)) <
	    0) {
		return rc;
	}
	return http_pin(url, seen);
}

static size_t
write_cb(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = size * n;

	if (b->len + len > HTTP_CLIENT_MAX_BODY)
		return 0; /* curl fails the transfer */
	if (b->len + len + 1 > b->cap) {
		size_t nc = (b->len + len + 1) * 2;
		char *nd = realloc(b->data, nc);
		if (nd == NULL)
			return 0;
		b->data = nd;
		b->cap = nc;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static struct curl_slist *
make_headers(const char *const *headers)
{
	struct curl_slist *l = NULL, *n;

	for (size_t i = 0; headers && headers[i]; i++) {
		if ((n = curl_slist_append(l, headers[i])) == NULL) {
			curl_slist_free_all(l);
			return NULL;
		}
		l = n;
	}
	/* no "Expect: 100-continue" round trip for bodies */
	if ((n = curl_slist_append(l, "Expect:")) == NULL)
		curl_slist_free_all(l);
	return n;
}

int
http_fetch(const char *method, const char *url, const char *const *headers,
    const void *body, size_t body_len, long timeout_ms, struct http_result *out)
{
	struct curl_slist *hl;
	struct buf b = { 0 };
	uint8_t pub[KEY_PUB_LEN];
	int pinned;
	CURLcode cc;
	CURL *c;

	memset(out, 0, sizeof(*out));
	pthread_once(&curl_once, curl_init_once);
	if ((c = curl_easy_init()) == NULL)
		return err_set(ERR_NOMEM, "curl: cannot create a handle");
	if ((hl = make_headers(headers)) == NULL) {
		curl_easy_cleanup(c);
		return err_set(ERR_NOMEM, "%s %s: out of memory for headers",
		    method, url);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)body_len);
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	apply_pin(c, url, pub, &pinned);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		free(b.data);
		curl_slist_free_all(hl);
		curl_easy_cleanup(c);
		return transfer_error(method, url, cc, pinned, pub);
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	if (b.data == NULL && (b.data = calloc(1, 1)) == NULL) {
		curl_slist_free_all(hl);
		curl_easy_cleanup(c);
		return err_set(ERR_NOMEM, "out of memory");
	}
	out->body = b.data;
	out->body_len = b.len;
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return 0;
}

void
http_result_clear(struct http_result *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

struct follow {
	http_chunk_fn fn;
	void *ctx;
	atomic_int *stop;
};

static size_t
follow_cb(char *p, size_t size, size_t n, void *ud)
{
	struct follow *f = ud;

	return f->fn(f->ctx, p, size * n) == 0 ? size * n : 0;
}

/* libcurl calls this at least once a second, also while the stream is
 * silent: a non-zero return aborts the transfer. */
static int
follow_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct follow *f = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return f->stop && atomic_load(f->stop);
}

int
http_follow(const char *url, const char *const *headers,
    long connect_timeout_ms, http_chunk_fn fn, void *ctx, atomic_int *stop)
{
	struct follow f = { fn, ctx, stop };
	struct curl_slist *hl;
	uint8_t pub[KEY_PUB_LEN];
	int pinned;
	CURLcode cc;
	long status = 0;
	CURL *c;

	pthread_once(&curl_once, curl_init_once);
	if ((c = curl_easy_init()) == NULL)
		return err_set(ERR_NOMEM, "curl: cannot create a handle");
	if ((hl = make_headers(headers)) == NULL) {
		curl_easy_cleanup(c);
		return err_set(ERR_NOMEM, "GET %s: out of memory for headers",
		    url);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, follow_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, follow_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &f);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	/* a stream that stays silent past its keep-alives is dead */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	apply_pin(c, url, pub, &pinned);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (cc == CURLE_WRITE_ERROR || cc == CURLE_ABORTED_BY_CALLBACK)
		return 1; /* fn or *stop asked to stop */
	if (cc != CURLE_OK)
		return transfer_error("GET", url, cc, pinned, pub);
	if (status != 200)
		return err_set(ERR_IO, "GET %s: HTTP %ld", url, status);
	return 0;
}
