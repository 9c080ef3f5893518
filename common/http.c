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
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/err.h"
#include "common/http.h"

void
http_respond(struct http_response *resp, int status, char *body)
{
	free(resp->body);
	resp->status = status;
	resp->body = body;
	resp->body_len = body ? strlen(body) : 0;
}

void
http_respond_error(struct http_response *resp, int status, const char *fmt, ...)
{
	char msg[1024];
	json_t *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
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
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		free(b.data);
		curl_slist_free_all(hl);
		curl_easy_cleanup(c);
		return err_set(ERR_IO, "%s %s: %s", method, url,
		    curl_easy_strerror(cc));
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
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (cc == CURLE_WRITE_ERROR || cc == CURLE_ABORTED_BY_CALLBACK)
		return 1; /* fn or *stop asked to stop */
	if (cc != CURLE_OK)
		return err_set(ERR_IO, "GET %s: %s", url,
		    curl_easy_strerror(cc));
	if (status != 200)
		return err_set(ERR_IO, "GET %s: HTTP %ld", url, status);
	return 0;
}
