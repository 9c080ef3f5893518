/*
 * client: HTTP calls of the tenant.  Market reads and entries through
 * common/http.h; provider calls carry an X-Lodge-Signature header
 * (common/reqsig.h) made with the tenant's key for every request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/cjson.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/reqsig.h"
#include "tenant/client.h"

int
tenant_client_init(struct tenant_client *c, const char *market, struct key *key)
{
	size_t n;

	memset(c, 0, sizeof(*c));
	c->key = key;
	c->timeout_ms = TENANT_TIMEOUT_MS;
	if (market == NULL || market[0] == '\0')
		return err_set(ERR_INVAL,
		    "no market: give --market URL or set "
		    "LODGE_MARKET");
	if (strncmp(market, "http://", 7) != 0 &&
	    strncmp(market, "https://", 8) != 0)
		return err_set(ERR_INVAL,
		    "market \"%s\" is not an http:// or "
		    "https:// URL",
		    market);
	if ((c->market = strdup(market)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	n = strlen(c->market);
	while (n > 0 && c->market[n - 1] == '/')
		c->market[--n] = '\0';
	if (key) {
		uint8_t pub[KEY_PUB_LEN];
		key_public(key, pub);
		key_pub_to_text(pub, c->address);
	}
	return 0;
}

void
tenant_client_clear(struct tenant_client *c)
{
	free(c->market);
	key_free(c->key);
	memset(c, 0, sizeof(*c));
}

const char *
tenant_fund_hint(const struct tenant_client *c, char *buf, size_t cap)
{
	snprintf(buf, cap,
	    "To get funds: your key is %s (`tenant address`); the market's "
	    "operator can deposit to it (`market deposit --data DIR %s "
	    "AMOUNT`), or any funded key can send it an account.transfer.",
	    c->address[0] ? c->address : "(none)",
	    c->address[0] ? c->address : "KEY");
	return buf;
}

const char *
tenant_error_text(const char *body, char *buf, size_t cap)
{
	json_t *j = json_loads(body ? body : "", 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));

	snprintf(buf, cap, "%s",
	    e ? e : (body && body[0] ? body : "(no body)"));
	json_decref(j);
	/* one line */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return buf;
}

int
tenant_market_get(struct tenant_client *c, const char *path, json_t **out)
{
	struct http_result r;
	char url[2048], ebuf[512];
	int rc;

	*out = NULL;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->market, path) >=
	    sizeof(url))
		return err_set(ERR_LIMIT, "URL too long: %s", path);
	if ((rc = http_fetch("GET", url, NULL, NULL, 0, c->timeout_ms, &r)))
		return rc;
	if (r.status == 404) {
		rc = err_set(ERR_NOTFOUND, "GET %s: %s", path,
		    tenant_error_text(r.body, ebuf, sizeof(ebuf)));
	} else if (r.status != 200) {
		rc = err_set(ERR_IO, "GET %s: HTTP %ld: %s", url, r.status,
		    tenant_error_text(r.body, ebuf, sizeof(ebuf)));
	} else if ((*out = json_loadb(r.body, r.body_len, 0, NULL)) == NULL) {
		rc = err_set(ERR_IO, "GET %s: the answer is not JSON", url);
	}
	http_result_clear(&r);
	return rc;
}

int
tenant_market_submit(struct tenant_client *c, const char *kind, json_t *body,
    uint64_t *index, char *id, size_t idlen)
{
	static const char *const hdr[] = { "Content-Type: application/json",
		NULL };
	struct envelope *e = NULL;
	struct http_result r = { 0 };
	json_t *ans = NULL;
	char url[2048], ebuf[512], *text = NULL;
	size_t len;
	int rc;

	if (id && idlen)
		id[0] = '\0';
	if (c->key == NULL)
		return err_set(ERR_INVAL, "no tenant key loaded");
	if ((rc = envelope_sign(c->key, kind, body, NULL, -1, &e)) != 0)
		return rc;
	if ((rc = envelope_dump(e, &text, &len)) != 0)
		goto out;
	snprintf(url, sizeof(url), "%s/v1/entries", c->market);
	if ((rc = http_fetch("POST", url, hdr, text, len, c->timeout_ms, &r)))
		goto out;
	if (r.status != 201) {
		char hint[512] = "";
		if (r.status == 402) {
			hint[0] = ' ';
			tenant_fund_hint(c, hint + 1, sizeof(hint) - 1);
		}
		rc = err_set(r.status >= 500 ? ERR_IO : ERR_REJECT,
		    "the market refused %s (HTTP %ld): %s%s", kind, r.status,
		    tenant_error_text(r.body, ebuf, sizeof(ebuf)), hint);
		goto out;
	}
	if ((ans = json_loadb(r.body, r.body_len, 0, NULL)) == NULL) {
		rc = err_set(ERR_IO, "POST %s: the answer is not JSON", url);
		goto out;
	}
	if (index)
		*index =
		    (uint64_t)json_integer_value(json_object_get(ans, "index"));
	if (id && idlen) {
		const char *s = json_string_value(json_object_get(ans, "id"));
		snprintf(id, idlen, "%s", s ? s : "");
	}
out:
	json_decref(ans);
	http_result_clear(&r);
	free(text);
	envelope_free(e);
	return rc;
}

int
tenant_provider_url(struct tenant_client *c, const char *provider_key,
    char **url)
{
	json_t *ps = NULL, *p;
	size_t i;
	int rc;

	*url = NULL;
	if ((rc = tenant_market_get(c, "/v1/providers", &ps)) != 0)
		return rc;
	json_array_foreach(ps, i, p)
	{
		const char *k = json_string_value(json_object_get(p, "key"));
		const char *u = json_string_value(
		    json_object_get(json_object_get(p, "ask"), "api_url"));
		if (k && u && strcmp(k, provider_key) == 0) {
			size_t n = strlen(u);
			uint8_t pub[KEY_PUB_LEN];
			if (strncmp(u, "https://", 8) == 0) {
				/* The certificate must hold the key the
				 * ledger knows for this provider. */
				if ((rc = key_pub_from_text(k, pub)) != 0 ||
				    (rc = http_pin(u, pub)) != 0) {
					json_decref(ps);
					return rc;
				}
			} else if (!c->insecure_http) {
				rc = err_set(ERR_REJECT,
				    "provider %s advertises %s, plain HTTP: "
				    "the manifest and its env values would "
				    "cross the network in clear; refused "
				    "(--insecure-http for loopback "
				    "development)",
				    provider_key, u);
				json_decref(ps);
				return rc;
			}
			if ((*url = strdup(u)) == NULL) {
				json_decref(ps);
				return err_set(ERR_NOMEM, "out of memory");
			}
			while (n > 0 && (*url)[n - 1] == '/')
				(*url)[--n] = '\0';
			json_decref(ps);
			return 0;
		}
	}
	json_decref(ps);
	return err_set(ERR_NOTFOUND, "the market knows no ask of provider %s",
	    provider_key);
}

/* "X-Lodge-Signature: ..." for one request to api_url's host; caller
 * frees. */
static int
sign_header(struct tenant_client *c, const char *api_url, const char *method,
    const char *path, const void *body, size_t len, char **line)
{
	char *v = NULL, host[REQSIG_HOST_MAX];
	int rc;

	*line = NULL;
	if (c->key == NULL)
		return err_set(ERR_INVAL, "no tenant key loaded");
	if ((rc = reqsig_url_host(api_url, host)) != 0 ||
	    (rc = reqsig_header(c->key, method, host, path, body, len, &v)) !=
	        0)
		return rc;
	if (asprintf(line, "%s: %s", REQSIG_HEADER, v) < 0) {
		*line = NULL;
		rc = err_set(ERR_NOMEM, "out of memory");
	}
	free(v);
	return rc;
}

int
tenant_provider_call(struct tenant_client *c, const char *api_url,
    const char *method, const char *path, const char *content_type,
    const void *body, size_t len, long timeout_ms, struct http_result *out)
{
	const char *hdr[3] = { NULL, NULL, NULL };
	char url[2048], ct[128], *sig = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((size_t)snprintf(url, sizeof(url), "%s%s", api_url, path) >=
	    sizeof(url))
		return err_set(ERR_LIMIT, "URL too long: %s", path);
	if ((rc = sign_header(c, api_url, method, path, body, len, &sig)) != 0)
		return rc;
	hdr[0] = sig;
	if (content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		hdr[1] = ct;
	}
	/* libcurl sends no body for a POST/PUT without one: give "" */
	if (body == NULL &&
	    (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0))
		body = "";
	rc = http_fetch(method, url, hdr, body, len,
	    timeout_ms > 0 ? timeout_ms : c->timeout_ms, out);
	free(sig);
	return rc;
}

/* ---- streaming with the status checked before the body is passed on */

struct follow {
	CURL *curl;
	http_chunk_fn fn;
	void *ctx;
	long status;
	char err[512];
	size_t elen;
	int stopped;
};

static size_t
follow_cb(char *p, size_t size, size_t n, void *ud)
{
	struct follow *f = ud;
	size_t len = size * n;

	if (f->status == 0)
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &f->status);
	if (f->status != 200) {
		/* keep the start of an error body for the message */
		size_t room = sizeof(f->err) - 1 - f->elen;
		size_t k = len < room ? len : room;
		memcpy(f->err + f->elen, p, k);
		f->elen += k;
		f->err[f->elen] = '\0';
		return len;
	}
	if (f->fn(f->ctx, p, len) != 0) {
		f->stopped = 1;
		return 0;
	}
	return len;
}

int
tenant_provider_follow(struct tenant_client *c, const char *api_url,
    const char *path, http_chunk_fn fn, void *ctx)
{
	struct follow f = { 0 };
	struct curl_slist *hl = NULL;
	char url[2048], ebuf[512], *sig = NULL;
	CURLcode cc;
	int rc;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", api_url, path) >=
	    sizeof(url))
		return err_set(ERR_LIMIT, "URL too long: %s", path);
	if ((rc = sign_header(c, api_url, "GET", path, NULL, 0, &sig)) != 0)
		return rc;
	if ((f.curl = curl_easy_init()) == NULL) {
		free(sig);
		return err_set(ERR_NOMEM, "curl: cannot create a handle");
	}
	f.fn = fn;
	f.ctx = ctx;
	hl = curl_slist_append(NULL, sig);
	curl_easy_setopt(f.curl, CURLOPT_URL, url);
	curl_easy_setopt(f.curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(f.curl, CURLOPT_WRITEFUNCTION, follow_cb);
	curl_easy_setopt(f.curl, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(f.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f.curl, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(f.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(f.curl, CURLOPT_LOW_SPEED_TIME, 120L);
	(void)http_curl_pin(f.curl, url);
	cc = curl_easy_perform(f.curl);
	if (f.status == 0)
		curl_easy_getinfo(f.curl, CURLINFO_RESPONSE_CODE, &f.status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(f.curl);
	free(sig);
	if (f.stopped)
		return 0;
	if (f.status != 0 && f.status != 200)
		return err_set(f.status == 404 ? ERR_NOTFOUND : ERR_REJECT,
		    "GET %s: HTTP %ld: %s", url, f.status,
		    tenant_error_text(f.err, ebuf, sizeof(ebuf)));
	if (cc != CURLE_OK)
		return http_curl_error("GET", url, (int)cc);
	return 0;
}
