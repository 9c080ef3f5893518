/*
 * registry: the pull side of the OCI Distribution Spec v1.1 over libcurl
 * (GET /v2/<name>/manifests/<reference>, GET /v2/<name>/blobs/<digest>
 * following redirects), with Docker's token authentication
 * (distribution docs/spec/auth/token.md) and Basic auth, mirrors tried
 * before the registry, and plain HTTP only for insecure registries.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/err.h"
#include "image/auth.h"
#include "image/internal.h"

#define MAX_ENDPOINTS 9
#define ERRBODY_MAX 2048
#define USER_AGENT "lodge-image/1"

static const char accept_manifests[] =
    "Accept: " IMAGE_MT_OCI_INDEX ", " IMAGE_MT_OCI_MANIFEST
    ", " IMAGE_MT_DOCKER_LIST ", " IMAGE_MT_DOCKER_MANIFEST;

struct endpoint {
	char *base; /* "https://host[:port][/prefix]", no trailing '/' */
	bool mirror;
	bool http; /* plain HTTP */
	char *auth; /* "Authorization: ..." once known, or NULL */
};

struct registry {
	const struct image_ref *ref;
	const struct image_pull_options *opts;
	const struct image_credential *cred; /* never sent to a mirror */
	struct endpoint ep[MAX_ENDPOINTS];
	size_t n_ep;
	size_t preferred; /* the endpoint that answered last */
	long timeout_s;
	CURL *curl;
};

/* What one request collects. */
struct req {
	CURL *curl;
	/* the body of a 2xx answer goes to fd (hashed) or to mem */
	int fd;
	char *mem;
	size_t mem_len, mem_cap;
	uint64_t limit; /* abort past this many body bytes */
	EVP_MD_CTX *md;
	uint64_t got;
	registry_progress_fn fn;
	void *ctx;
	/* the final answer's headers */
	char *content_type, *www_auth, *docker_digest;
	/* the body of a non-2xx answer, for the message */
	char errbody[ERRBODY_MAX + 1];
	size_t errlen;
	/* why the transfer was aborted by us */
	int abort_rc;
	bool cancelled; /* by the progress callback */
	bool over_is_corrupt; /* more than limit: the sender lies */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool
host_listed(const char *host, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] && strcasecmp(list[i], host) == 0)
			return true;
	return false;
}

static int
add_endpoint(struct registry *r, const char *url, bool mirror)
{
	struct endpoint *e;
	size_t n;

	if (r->n_ep == MAX_ENDPOINTS)
		return err_set(ERR_LIMIT, "more than %d mirrors for %s",
		    MAX_ENDPOINTS - 1, r->ref->registry);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return err_set(ERR_INVAL,
		    "registry mirror \"%.200s\": expected "
		    "an http:// or https:// URL",
		    url);
	e = &r->ep[r->n_ep];
	if (!(e->base = strdup(url)))
		return err_set(ERR_NOMEM, "out of memory");
	n = strlen(e->base);
	while (n > 8 && e->base[n - 1] == '/')
		e->base[--n] = '\0';
	if (n > 3 && strcmp(e->base + n - 3, "/v2") == 0)
		e->base[n - 3] = '\0';
	for (const char *p = e->base; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			free(e->base);
			e->base = NULL;
			return err_set(ERR_INVAL,
			    "registry URL \"%.200s\": "
			    "space or control character",
			    url);
		}
	e->mirror = mirror;
	e->http = strncmp(url, "http://", 7) == 0;
	r->n_ep++;
	return 0;
}

int
registry_open(const struct image_ref *ref, const struct image_auth *auth,
    const struct image_pull_options *opts, struct registry **out)
{
	struct registry *r;
	char url[512];
	int rc;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (!(r = calloc(1, sizeof(*r))))
		return err_set(ERR_NOMEM, "out of memory");
	r->ref = ref;
	r->opts = opts;
	r->timeout_s =
	    opts->timeout_s > 0 ? opts->timeout_s : IMAGE_TIMEOUT_DEFAULT;
	if (auth)
		r->cred =
		    image_auth_find(auth->creds, auth->n_creds, ref->registry);
	for (size_t i = 0; i < opts->n_mirrors; i++) {
		const struct image_mirror *m = &opts->mirrors[i];
		if (!m->registry || !m->url ||
		    strcasecmp(m->registry, ref->registry) != 0)
			continue;
		if ((rc = add_endpoint(r, m->url, true)))
			goto fail;
	}
	if (strcmp(ref->registry, "docker.io") == 0)
		snprintf(url, sizeof(url), "https://registry-1.docker.io");
	else if (snprintf(url, sizeof(url), "%s://%s",
	             host_listed(ref->registry, opts->insecure,
	                 opts->n_insecure) ?
	                 "http" :
	                 "https",
	             ref->registry) >= (int)sizeof(url)) {
		rc = err_set(ERR_INVAL, "registry name too long");
		goto fail;
	}
	if ((rc = add_endpoint(r, url, false)))
		goto fail;
	if (!(r->curl = curl_easy_init())) {
		rc = err_set(ERR_NOMEM, "curl_easy_init failed");
		goto fail;
	}
	*out = r;
	return 0;
fail:
	registry_free(r);
	return rc;
}

void
registry_free(struct registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_ep; i++) {
		free(r->ep[i].base);
		if (r->ep[i].auth)
			OPENSSL_cleanse(r->ep[i].auth, strlen(r->ep[i].auth));
		free(r->ep[i].auth);
	}
	if (r->curl)
		curl_easy_cleanup(r->curl);
	free(r);
}

/* ---- one request ------------------------------------------------------ */

static void
req_reset_headers(struct req *q)
{
	free(q->content_type);
	free(q->www_auth);
	free(q->docker_digest);
	q->content_type = q->www_auth = q->docker_digest = NULL;
}

static void
req_clear(struct req *q)
{
	req_reset_headers(q);
	free(q->mem);
	q->mem = NULL;
	if (q->md)
		EVP_MD_CTX_free(q->md);
	q->md = NULL;
}

/* Keep a header's value (trimmed); a repeated one is joined by ", ". */
static void
keep_header(char **slot, const char *v, size_t n)
{
	char *s;

	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n > IMAGE_AUTH_HEADER_MAX)
		return;
	if (*slot) {
		size_t old = strlen(*slot);
		if (old + n + 3 > IMAGE_AUTH_HEADER_MAX)
			return;
		if (!(s = realloc(*slot, old + n + 3)))
			return;
		memcpy(s + old, ", ", 2);
		memcpy(s + old + 2, v, n);
		s[old + n + 2] = '\0';
		*slot = s;
		return;
	}
	*slot = strndup(v, n);
}

static size_t
header_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct req *q = ud;
	size_t n = size * nmemb;
	static const struct {
		const char *name;
		size_t off;
	} keep[] = {
		{ "content-type:", offsetof(struct req, content_type) },
		{ "www-authenticate:", offsetof(struct req, www_auth) },
		{ "docker-content-digest:",
		    offsetof(struct req, docker_digest) },
	};

	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* a new answer (after a redirect or 100) */
		req_reset_headers(q);
		return n;
	}
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		size_t kl = strlen(keep[i].name);
		if (n > kl && strncasecmp(buf, keep[i].name, kl) == 0) {
			const char *v = buf + kl;
			size_t vl = n - kl;
			while (vl && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			keep_header((char **)((char *)q + keep[i].off), v, vl);
		}
	}
	return n;
}

static size_t
write_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct req *q = ud;
	size_t n = size * nmemb;
	long code = 0;

	curl_easy_getinfo(q->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		size_t room = ERRBODY_MAX - q->errlen;
		if (room > n)
			room = n;
		memcpy(q->errbody + q->errlen, buf, room);
		q->errlen += room;
		q->errbody[q->errlen] = '\0';
		return n;
	}
	if (q->got + n > q->limit) {
		q->abort_rc = ERR_LIMIT;
		return 0;
	}
	q->got += n;
	if (q->md && !EVP_DigestUpdate(q->md, buf, n)) {
		q->abort_rc = ERR_NOMEM;
		return 0;
	}
	if (q->fd >= 0) {
		const char *p = buf;
		size_t left = n;
		while (left) {
			ssize_t w = write(q->fd, p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				q->abort_rc = ERR_IO;
				err_set(ERR_IO, "writing a blob: %s",
				    strerror(errno));
				return 0;
			}
			p += w;
			left -= (size_t)w;
		}
	} else {
		if (q->mem_len + n + 1 > q->mem_cap) {
			size_t cap = q->mem_cap ? q->mem_cap : 16384;
			char *m;
			while (cap < q->mem_len + n + 1)
				cap *= 2;
			if (!(m = realloc(q->mem, cap))) {
				q->abort_rc = ERR_NOMEM;
				return 0;
			}
			q->mem = m;
			q->mem_cap = cap;
		}
		memcpy(q->mem + q->mem_len, buf, n);
		q->mem_len += n;
		q->mem[q->mem_len] = '\0';
	}
	if (q->fn && q->fn(q->ctx, q->got)) {
		q->abort_rc = ERR_REJECT;
		q->cancelled = true;
		err_set(ERR_REJECT, "pull cancelled");
		return 0;
	}
	return n;
}

/* The "errors" of a registry's JSON error body, for a message. */
static void
error_detail(const struct req *q, char *out, size_t cap)
{
	json_t *v = json_loadb(q->errbody, q->errlen, 0, NULL);
	const json_t *e0 = json_array_get(json_object_get(v, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));

	out[0] = '\0';
	if (code || msg)
		snprintf(out, cap, ": %s%s%.200s", code ? code : "",
		    code && msg ? " " : "", msg ? msg : "");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	json_decref(v);
}

/* Perform a GET of url with the given extra headers (NULL-terminated);
 * *status is the final answer's.  Transport failures are ERR_IO. */
static int
perform(struct registry *r, const char *url, bool http_ok,
    const char *const *headers, struct req *q, long *status)
{
	struct curl_slist *hl = NULL, *t;
	CURLcode res;
	char ebuf[CURL_ERROR_SIZE] = "";
	int rc = 0;

	curl_easy_reset(r->curl);
	q->curl = r->curl;
	q->abort_rc = 0;
	q->errlen = 0;
	q->errbody[0] = '\0';
	req_reset_headers(q);
	for (size_t i = 0; headers && headers[i]; i++) {
		if (!(t = curl_slist_append(hl, headers[i]))) {
			curl_slist_free_all(hl);
			return err_set(ERR_NOMEM, "out of memory");
		}
		hl = t;
	}
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(r->curl, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(r->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(r->curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR,
	    http_ok ? "http,https" : "https");
	curl_easy_setopt(r->curl, CURLOPT_REDIR_PROTOCOLS_STR,
	    http_ok ? "http,https" : "https");
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, r->timeout_s);
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_TIME, r->timeout_s);
	curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(r->curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(r->curl, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, q);
	res = curl_easy_perform(r->curl);
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, status);
	if (q->abort_rc == ERR_LIMIT && q->over_is_corrupt)
		rc = err_set(ERR_CORRUPT,
		    "sent more than the %llu bytes the "
		    "manifest gives",
		    (unsigned long long)q->limit);
	else if (q->abort_rc == ERR_LIMIT)
		rc = err_set(ERR_LIMIT, "more than %llu bytes",
		    (unsigned long long)q->limit);
	else if (q->abort_rc == ERR_NOMEM)
		rc = err_set(ERR_NOMEM, "out of memory");
	else if (q->abort_rc)
		rc = q->abort_rc; /* message already set */
	else if (res != CURLE_OK)
		rc = err_set(ERR_IO, "%s",
		    ebuf[0] ? ebuf : curl_easy_strerror(res));
	/* the header list may hold a secret */
	for (t = hl; t; t = t->next)
		OPENSSL_cleanse(t->data, strlen(t->data));
	curl_slist_free_all(hl);
	return rc;
}

static bool
url_escape_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* Fetch a Bearer token for ep from the challenge's realm. */
static int
get_token(struct registry *r, struct endpoint *ep,
    const struct image_challenge *ch)
{
	const struct image_credential *cred = ep->mirror ? NULL : r->cred;
	char *url = NULL, *svc = NULL, *scope = NULL, *basic = NULL,
	     *token = NULL, *hdr = NULL, *defscope = NULL;
	const char *headers[2] = { NULL, NULL };
	struct req q = { .fd = -1, .limit = IMAGE_AUTH_TOKEN_BODY_MAX };
	long status = 0;
	bool realm_http;
	int rc;

	if (!ch->realm || !*ch->realm)
		return err_set(ERR_REJECT,
		    "%s: Bearer challenge without a "
		    "realm",
		    ep->base);
	realm_http = strncasecmp(ch->realm, "http://", 7) == 0;
	if (!realm_http && strncasecmp(ch->realm, "https://", 8) != 0)
		return err_set(ERR_REJECT,
		    "%s: token realm \"%.200s\" is not "
		    "an http(s) URL",
		    ep->base, ch->realm);
	/* a secret goes over plain HTTP only where the registry itself
	 * is spoken to over plain HTTP */
	if (realm_http && !ep->http)
		return err_set(ERR_REJECT,
		    "%s: token realm \"%.200s\" is "
		    "plain HTTP for an HTTPS registry (refused)",
		    ep->base, ch->realm);
	if (!url_escape_ok(ch->realm))
		return err_set(ERR_REJECT,
		    "%s: token realm has a space or "
		    "control character",
		    ep->base);
	if (!ch->scope &&
	    asprintf(&defscope, "repository:%s:pull", r->ref->repository) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	svc = curl_easy_escape(r->curl, ch->service ? ch->service : "", 0);
	scope = curl_easy_escape(r->curl, ch->scope ? ch->scope : defscope, 0);
	if (!svc || !scope ||
	    asprintf(&url, "%s%sservice=%s&scope=%s", ch->realm,
	        strchr(ch->realm, '?') ? "&" : "?", svc, scope) < 0) {
		url = NULL;
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	if (cred) {
		if ((rc = image_auth_basic(cred, &basic)))
			goto out;
		if (asprintf(&hdr, "Authorization: %s", basic) < 0) {
			hdr = NULL;
			rc = err_set(ERR_NOMEM, "out of memory");
			goto out;
		}
		headers[0] = hdr;
	}
	if ((rc = perform(r, url, realm_http, headers, &q, &status))) {
		err_prefix(rc, "token server %.200s", ch->realm);
		goto out;
	}
	if (status == 401 || status == 403) {
		rc = err_set(ERR_REJECT,
		    "token server %.200s refused %s "
		    "(HTTP %ld)",
		    ch->realm,
		    cred ? "the credentials given for this registry" :
		           "an anonymous token",
		    status);
		goto out;
	}
	if (status != 200) {
		rc = err_set(ERR_IO, "token server %.200s: HTTP %ld", ch->realm,
		    status);
		goto out;
	}
	if ((rc = image_auth_token_parse(q.mem ? q.mem : "", q.mem_len,
	         &token))) {
		err_prefix(rc, "token server %.200s", ch->realm);
		goto out;
	}
	if (ep->auth) {
		OPENSSL_cleanse(ep->auth, strlen(ep->auth));
		free(ep->auth);
	}
	if (asprintf(&ep->auth, "Authorization: Bearer %s", token) < 0) {
		ep->auth = NULL;
		rc = err_set(ERR_NOMEM, "out of memory");
	}
out:
	if (q.mem)
		OPENSSL_cleanse(q.mem, q.mem_len);
	req_clear(&q);
	if (token)
		OPENSSL_cleanse(token, strlen(token));
	free(token);
	if (basic)
		OPENSSL_cleanse(basic, strlen(basic));
	free(basic);
	if (hdr)
		OPENSSL_cleanse(hdr, strlen(hdr));
	free(hdr);
	curl_free(svc);
	curl_free(scope);
	free(url);
	free(defscope);
	return rc;
}

/* Answer a 401: a token (Bearer) or the credentials (Basic) for ep. */
static int
authenticate(struct registry *r, struct endpoint *ep, const struct req *q)
{
	const struct image_credential *cred = ep->mirror ? NULL : r->cred;
	struct image_challenge *ch = NULL;
	size_t n = 0;
	int rc;

	if (!q->www_auth)
		return err_set(ERR_REJECT,
		    "%s: HTTP 401 without a "
		    "WWW-Authenticate challenge",
		    ep->base);
	if ((rc = image_auth_parse_challenges(q->www_auth, &ch, &n)))
		return err_prefix(rc, "%s", ep->base);
	for (size_t i = 0; i < n; i++)
		if (strcmp(ch[i].scheme, "bearer") == 0) {
			rc = get_token(r, ep, &ch[i]);
			goto out;
		}
	for (size_t i = 0; i < n; i++)
		if (strcmp(ch[i].scheme, "basic") == 0) {
			char *basic = NULL;
			if (!cred) {
				rc = err_set(ERR_REJECT,
				    "%s asks for a login "
				    "(Basic) and no credentials are given "
				    "for %s",
				    ep->base, r->ref->registry);
				goto out;
			}
			if ((rc = image_auth_basic(cred, &basic)))
				goto out;
			free(ep->auth);
			if (asprintf(&ep->auth, "Authorization: %s", basic) <
			    0) {
				ep->auth = NULL;
				rc = err_set(ERR_NOMEM, "out of memory");
			}
			OPENSSL_cleanse(basic, strlen(basic));
			free(basic);
			goto out;
		}
	rc = err_set(ERR_REJECT,
	    "%s: no supported auth scheme in "
	    "WWW-Authenticate (Bearer or Basic)",
	    ep->base);
out:
	image_auth_challenges_free(ch, n);
	return rc;
}

/* Start the body over (a retry or another endpoint). */
static int
rewind_body(struct req *q)
{
	q->got = 0;
	q->mem_len = 0;
	if (q->fd >= 0 &&
	    (ftruncate(q->fd, 0) < 0 || lseek(q->fd, 0, SEEK_SET) < 0))
		return err_set(ERR_IO, "truncating a blob: %s",
		    strerror(errno));
	if (q->md && !EVP_DigestInit_ex(q->md, EVP_sha256(), NULL))
		return err_set(ERR_NOMEM, "SHA-256 init failed");
	return 0;
}

/* GET path on ep, authenticating on a 401 (once, and once more with a
 * fresh token when a token expired); the body per q. */
static int
ep_get(struct registry *r, struct endpoint *ep, const char *path,
    const char *what, const char *accept, struct req *q)
{
	char url[2048], detail[256];
	const char *headers[3];
	long status = 0;
	bool fresh = false;
	int rc;

	if (snprintf(url, sizeof(url), "%s%s", ep->base, path) >=
	    (int)sizeof(url))
		return err_set(ERR_INVAL, "URL too long");
	for (int attempt = 0; attempt < 3; attempt++) {
		size_t h = 0;
		if (accept)
			headers[h++] = accept;
		if (ep->auth)
			headers[h++] = ep->auth;
		headers[h] = NULL;
		if ((rc = rewind_body(q)))
			return rc;
		if ((rc = perform(r, url, ep->http, headers, q, &status)))
			return err_prefix(rc, "%s %s", what, url);
		if (status != 401 || fresh)
			break;
		if ((rc = authenticate(r, ep, q)))
			return rc;
		fresh = true;
	}
	if (status >= 200 && status <= 299)
		return 0;
	error_detail(q, detail, sizeof(detail));
	switch (status) {
	case 401:
	case 403:
		return err_set(ERR_REJECT,
		    "%s %s: access refused (HTTP "
		    "%ld%s)%s",
		    what, url, status, detail,
		    !ep->mirror && !r->cred ? "; no credentials given for "
		                              "this registry" :
		                              "");
	case 404:
		return err_set(ERR_NOTFOUND, "%s %s: not found (HTTP 404%s)",
		    what, url, detail);
	default:
		return err_set(ERR_IO, "%s %s: HTTP %ld%s", what, url, status,
		    detail);
	}
}

/* Checks a body once it arrived from ep (a digest); 0 or an error. */
typedef int (*verify_fn)(struct registry *r, const struct endpoint *ep,
    struct req *q, const void *arg);

/* Try the endpoints in order, the one that answered last first; a
 * failure of any kind (no answer, an error status, a body that does not
 * verify) moves on to the next.  The error says what each one did. */
static int
get_any(struct registry *r, const char *path, const char *what,
    const char *accept, struct req *q, verify_fn verify, const void *arg)
{
	char msgs[2048] = "";
	size_t used = 0;
	int rc = ERR_IO, first_specific = 0;

	for (size_t k = 0; k < r->n_ep; k++) {
		size_t i = (r->preferred + k) % r->n_ep;
		rc = ep_get(r, &r->ep[i], path, what, accept, q);
		if (rc == 0 && verify)
			rc = verify(r, &r->ep[i], q, arg);
		if (rc == 0) {
			r->preferred = i;
			return 0;
		}
		if (rc == ERR_NOMEM || q->cancelled)
			return rc;
		if (rc != ERR_IO && !first_specific)
			first_specific = rc;
		if (used < sizeof(msgs) - 1) {
			int n = snprintf(msgs + used, sizeof(msgs) - used,
			    "%s%s", used ? "; then " : "", err_msg());
			if (n > 0)
				used += (size_t)n;
			if (used >= sizeof(msgs))
				used = sizeof(msgs) - 1;
		}
	}
	if (r->n_ep == 1)
		return rc;
	return err_set(first_specific ? first_specific : rc, "%s", msgs);
}

/* ---- manifests and blobs --------------------------------------------- */

static int
verify_manifest(struct registry *r, const struct endpoint *ep, struct req *q,
    const void *arg)
{
	const char *reference = arg;
	char got[72];

	(void)r;
	image_sha256(q->mem ? q->mem : "", q->mem_len, got);
	if (image_digest_valid(reference) && strcmp(got, reference) != 0)
		return err_set(ERR_CORRUPT,
		    "manifest %s from %s: digest "
		    "mismatch (its content is %s)",
		    reference, ep->base, got);
	if (q->docker_digest && image_digest_valid(q->docker_digest) &&
	    strcmp(got, q->docker_digest) != 0)
		return err_set(ERR_CORRUPT,
		    "manifest %s from %s: "
		    "Docker-Content-Digest says %s, the content is %s",
		    reference, ep->base, q->docker_digest, got);
	return 0;
}

int
registry_get_manifest(struct registry *r, const char *reference, char **body,
    size_t *len, char **content_type)
{
	struct req q = { .fd = -1, .limit = IMAGE_MANIFEST_MAX };
	char path[1024], what[512];
	int rc;

	*body = NULL;
	*len = 0;
	*content_type = NULL;
	snprintf(what, sizeof(what), "manifest %s:%s", r->ref->repository,
	    reference);
	if (snprintf(path, sizeof(path), "/v2/%s/manifests/%s",
	        r->ref->repository, reference) >= (int)sizeof(path))
		return err_set(ERR_INVAL, "%s: name too long", what);
	if ((rc = get_any(r, path, what, accept_manifests, &q, verify_manifest,
	         reference)))
		goto out;
	if (!q.mem && !(q.mem = strdup(""))) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	*body = q.mem;
	*len = q.mem_len;
	*content_type = q.content_type;
	q.mem = NULL;
	q.content_type = NULL;
out:
	req_clear(&q);
	return rc;
}

static int
verify_blob(struct registry *r, const struct endpoint *ep, struct req *q,
    const void *arg)
{
	const struct image_descriptor *d = arg;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char got[72];

	(void)r;
	if (q->got != d->size)
		return err_set(ERR_CORRUPT,
		    "blob %s from %s: %llu bytes, the "
		    "manifest gives %llu",
		    d->digest, ep->base, (unsigned long long)q->got,
		    (unsigned long long)d->size);
	if (!EVP_DigestFinal_ex(q->md, md, &mdlen))
		return err_set(ERR_NOMEM, "SHA-256 failed");
	memcpy(got, "sha256:", 7);
	for (int i = 0; i < 32; i++)
		snprintf(got + 7 + 2 * i, 3, "%02x", md[i]);
	if (strcmp(got, d->digest) != 0)
		return err_set(ERR_CORRUPT,
		    "blob %s from %s: digest mismatch "
		    "(its content is %s)",
		    d->digest, ep->base, got);
	return 0;
}

static int
fetch_blob(struct registry *r, const struct image_descriptor *d, uint64_t max,
    struct req *q)
{
	char path[1024], what[128];

	if (d->size > max)
		return err_set(ERR_LIMIT,
		    "blob %s: %llu bytes, more than the "
		    "limit of %llu",
		    d->digest, (unsigned long long)d->size,
		    (unsigned long long)max);
	q->limit = d->size;
	q->over_is_corrupt = true;
	if (!(q->md = EVP_MD_CTX_new()))
		return err_set(ERR_NOMEM, "out of memory");
	snprintf(what, sizeof(what), "blob %s", d->digest);
	if (snprintf(path, sizeof(path), "/v2/%s/blobs/%s", r->ref->repository,
	        d->digest) >= (int)sizeof(path))
		return err_set(ERR_INVAL, "%s: name too long", what);
	return get_any(r, path, what, NULL, q, verify_blob, d);
}

int
registry_get_blob(struct registry *r, const struct image_descriptor *d,
    uint64_t max, int fd, registry_progress_fn fn, void *ctx, uint64_t *fetched)
{
	struct req q = { .fd = fd, .fn = fn, .ctx = ctx };
	int rc = fetch_blob(r, d, max, &q);

	if (fetched)
		*fetched += q.got;
	req_clear(&q);
	return rc;
}

int
registry_get_small_blob(struct registry *r, const struct image_descriptor *d,
    size_t max, char **body, size_t *len)
{
	struct req q = { .fd = -1 };
	int rc = fetch_blob(r, d, max, &q);

	*body = NULL;
	*len = 0;
	if (rc == 0) {
		if (!q.mem && !(q.mem = strdup(""))) {
			rc = err_set(ERR_NOMEM, "out of memory");
		} else {
			*body = q.mem;
			*len = q.mem_len;
			q.mem = NULL;
		}
	}
	req_clear(&q);
	return rc;
}
