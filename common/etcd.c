/*
 * etcd: the v3 JSON gateway client (see etcd.h).  Every answer is parsed
 * into typed structs here, once; a field of the wrong type, bad base64 or
 * an answer past ETCD_MAX_ANSWER is refused with a message naming it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/etcd.h"

struct etcd {
	char *url[ETCD_MAX_ENDPOINTS];
	size_t n, cur;
	long timeout_ms;
	CURL *curl;
};

int
etcd_new(const char *urls, long timeout_ms, struct etcd **out)
{
	struct etcd *c;
	const char *p = urls;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (c->n == ETCD_MAX_ENDPOINTS || n == 0 || n > 200 ||
		    (strncmp(p, "http://", 7) != 0 &&
		        strncmp(p, "https://", 8) != 0)) {
			rc = err_set(ERR_INVAL,
			    "etcd endpoints \"%.200s\": expected 1 to %d "
			    "http:// or https:// URLs, comma-separated",
			    urls, ETCD_MAX_ENDPOINTS);
			goto fail;
		}
		if ((c->url[c->n] = strndup(p, n)) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
		/* "http://h:p/" and "http://h:p" name the same member */
		if (c->url[c->n][n - 1] == '/')
			c->url[c->n][n - 1] = '\0';
		c->n++;
		p = e ? e + 1 : NULL;
	}
	if (c->n == 0) {
		rc = err_set(ERR_INVAL, "etcd endpoints: none given");
		goto fail;
	}
	if ((c->curl = curl_easy_init()) == NULL) {
		rc = err_set(ERR_NOMEM, "cannot create a libcurl handle");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	etcd_free(c);
	return rc;
}

void
etcd_free(struct etcd *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->url[i]);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c);
}

const char *
etcd_endpoint(const struct etcd *c)
{
	return c->url[c->cur];
}

size_t
etcd_prefix_end(const char *p, size_t len, char *out)
{
	memcpy(out, p, len);
	while (len > 0) {
		if ((unsigned char)out[len - 1] < 0xff) {
			out[len - 1]++;
			return len;
		}
		len--;
	}
	/* all 0xff: every key after (etcd's "\0") */
	out[0] = '\0';
	return 1;
}

/* ---- wire helpers ---------------------------------------------------- */

static json_t *
b64_json(const char *s, size_t len)
{
	char *t = malloc(B64_ENCODED_SIZE(len));
	json_t *j;

	if (t == NULL)
		return NULL;
	b64_encode((const uint8_t *)s, len, t);
	j = json_string(t);
	free(t);
	return j;
}

/* An int64 field: absent is 0 (proto3 leaves zeros out); a string of
 * digits or an integer. */
static int
get_i64(const json_t *o, const char *name, int64_t *v)
{
	const json_t *f = json_object_get(o, name);
	const char *s;
	char *end;
	long long x;

	*v = 0;
	if (f == NULL)
		return 0;
	if (json_is_integer(f)) {
		*v = json_integer_value(f);
		return 0;
	}
	if ((s = json_string_value(f)) == NULL || *s == '\0')
		goto bad;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		goto bad;
	*v = x;
	return 0;
bad:
	return err_set(ERR_CORRUPT,
	    "etcd answer: \"%s\": expected an integer "
	    "(a JSON string of digits)",
	    name);
}

/* A base64 field into a malloc'd NUL-terminated buffer (absent: ""). */
static int
get_b64(const json_t *o, const char *name, char **out, size_t *len)
{
	const json_t *f = json_object_get(o, name);
	const char *s = "";
	size_t n, cap;

	*out = NULL;
	*len = 0;
	if (f != NULL && (s = json_string_value(f)) == NULL)
		return err_set(ERR_CORRUPT,
		    "etcd answer: \"%s\": expected a "
		    "base64 string",
		    name);
	n = strlen(s);
	cap = n / 4 * 3 + 3;
	if ((*out = malloc(cap + 1)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (b64_decode(s, n, (uint8_t *)*out, cap, len) < 0) {
		free(*out);
		*out = NULL;
		return err_set(ERR_CORRUPT,
		    "etcd answer: \"%s\": not valid "
		    "base64",
		    name);
	}
	(*out)[*len] = '\0';
	return 0;
}

static void
kv_clear(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

static int
parse_kv(const json_t *j, struct etcd_kv *kv)
{
	int rc;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(j))
		return err_set(ERR_CORRUPT,
		    "etcd answer: a key-value: expected "
		    "an object");
	if ((rc = get_b64(j, "key", &kv->key, &kv->key_len)) < 0 ||
	    (rc = get_b64(j, "value", &kv->value, &kv->value_len)) < 0 ||
	    (rc = get_i64(j, "create_revision", &kv->create_revision)) < 0 ||
	    (rc = get_i64(j, "mod_revision", &kv->mod_revision)) < 0 ||
	    (rc = get_i64(j, "lease", &kv->lease)) < 0) {
		kv_clear(kv);
		return rc;
	}
	return 0;
}

static int
header_revision(const json_t *ans, int64_t *rev)
{
	const json_t *h = json_object_get(ans, "header");

	*rev = 0;
	if (h != NULL && !json_is_object(h))
		return err_set(ERR_CORRUPT,
		    "etcd answer: \"header\": expected "
		    "an object");
	return get_i64(h, "revision", rev);
}

struct buf {
	char *p;
	size_t len, cap;
	int over;
};

static size_t
buf_cb(char *data, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t len = size * n;

	if (b->len + len > ETCD_MAX_ANSWER) {
		b->over = 1;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/* The error etcd answered ({"error":"...","code":N} or a watch's
 * {"error":{"message":...}}): ERR_IO when the cluster cannot serve it
 * now (no leader, no quorum, timeout: gRPC Unavailable, DeadlineExceeded),
 * ERR_NOTFOUND for a compacted revision, ERR_REJECT otherwise. */
static int
etcd_error(const char *url, long status, const json_t *ans)
{
	const json_t *e = json_object_get(ans, "error");
	const char *msg = json_string_value(e);
	int64_t code = 0;

	if (json_is_object(e)) {
		msg = json_string_value(json_object_get(e, "message"));
		get_i64(e, "grpc_code", &code);
	} else {
		get_i64(ans, "code", &code);
	}
	if (msg == NULL)
		msg = json_string_value(json_object_get(ans, "message"));
	if (msg == NULL)
		msg = "(no message)";
	if (code == 11 || strstr(msg, "compacted") != NULL)
		return err_set(ERR_NOTFOUND, "etcd %s: %.300s", url, msg);
	if (code == 14 || code == 4 || status == 503 ||
	    strstr(msg, "timed out") != NULL ||
	    strstr(msg, "deadline exceeded") != NULL ||
	    strstr(msg, "no leader") != NULL)
		return err_set(ERR_IO,
		    "etcd %s: %.300s (the cluster has no quorum or no "
		    "leader now)",
		    url, msg);
	return err_set(ERR_REJECT, "etcd %s: %.300s (HTTP %ld)", url, msg,
	    status);
}

/*
 * POST req to path, on the current member; a member that cannot be
 * connected to is skipped for the next.  A timeout is not retried
 * elsewhere: the write may still commit, and the caller must learn that
 * from etcd, not assume either way.  *ans is the parsed JSON object.
 */
static int
call(struct etcd *c, const char *path, const json_t *req, json_t **ans)
{
	char *body = json_dumps(req, JSON_COMPACT);
	char url[300];
	struct buf b = { 0 };
	json_error_t je;
	long status = 0;
	int rc = 0;
	CURLcode cc = CURLE_OK;

	*ans = NULL;
	if (body == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t tries = 0; tries < c->n; tries++) {
		snprintf(url, sizeof(url), "%s%s", c->url[c->cur], path);
		b.len = 0;
		b.over = 0;
		curl_easy_reset(c->curl);
		curl_easy_setopt(c->curl, CURLOPT_URL, url);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body));
		curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, buf_cb);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
		curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
		    c->timeout_ms < 1000 ? c->timeout_ms : 1000L);
		cc = curl_easy_perform(c->curl);
		if (cc == CURLE_COULDNT_CONNECT ||
		    cc == CURLE_COULDNT_RESOLVE_HOST ||
		    (cc == CURLE_OPERATION_TIMEDOUT && b.len == 0 &&
		        strcmp(path, "/v3/kv/range") == 0)) {
			c->cur = (c->cur + 1) % c->n;
			continue;
		}
		break;
	}
	free(body);
	if (b.over) {
		rc = err_set(ERR_LIMIT,
		    "etcd %s: answer larger than %zu bytes, "
		    "refused",
		    url, ETCD_MAX_ANSWER);
		goto out;
	}
	if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
	    (cc == CURLE_OPERATION_TIMEDOUT && c->n > 1 &&
	        strcmp(path, "/v3/kv/range") == 0)) {
		/* every member was tried */
		rc = err_set(ERR_IO,
		    "etcd: none of its %zu members answered (the last, %s: "
		    "%s): the cluster is down or has lost its quorum",
		    c->n, url, curl_easy_strerror(cc));
		goto out;
	}
	if (cc != CURLE_OK) {
		/* not retried (a write may still commit), but the next
		 * request asks another member */
		c->cur = (c->cur + 1) % c->n;
		rc = err_set(ERR_IO, "etcd %s: %s", url,
		    cc == CURLE_OPERATION_TIMEDOUT ?
		        "no answer in time (the cluster may have no quorum; "
		        "a write's outcome is unknown)" :
		        curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	*ans = json_loadb(b.p ? b.p : "", b.len, 0, &je);
	if (*ans == NULL || !json_is_object(*ans)) {
		rc = err_set(ERR_CORRUPT,
		    "etcd %s: HTTP %ld, answer is not a JSON "
		    "object: %.200s",
		    url, status, je.text);
		goto out;
	}
	if (status != 200 || json_object_get(*ans, "error") != NULL) {
		/* a member that cannot serve now (no leader: the minority
		 * side of a partition): the next request asks another */
		if ((rc = etcd_error(url, status, *ans)) == ERR_IO)
			c->cur = (c->cur + 1) % c->n;
		goto out;
	}
out:
	if (rc < 0) {
		json_decref(*ans);
		*ans = NULL;
	}
	free(b.p);
	return rc;
}

/* ---- requests -------------------------------------------------------- */

void
etcd_range_clear(struct etcd_range *r)
{
	for (size_t i = 0; i < r->n; i++)
		kv_clear(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

/* call with the request {name: v}. */
static int
call_int(struct etcd *c, const char *path, const char *name, int64_t v,
    json_t **ans)
{
	json_t *req = json_pack("{s:I}", name, (json_int_t)v);
	int rc;

	*ans = NULL;
	if (req == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	rc = call(c, path, req, ans);
	json_decref(req);
	return rc;
}

static int
parse_range(const json_t *ans, struct etcd_range *out)
{
	const json_t *kvs = json_object_get(ans, "kvs"), *more;
	int rc;

	if ((rc = header_revision(ans, &out->revision)) < 0 ||
	    (rc = get_i64(ans, "count", &out->count)) < 0)
		return rc;
	more = json_object_get(ans, "more");
	if (more != NULL && !json_is_boolean(more))
		return err_set(ERR_CORRUPT,
		    "etcd answer: \"more\": expected a "
		    "boolean");
	out->more = json_is_true(more);
	if (kvs == NULL)
		return 0;
	if (!json_is_array(kvs))
		return err_set(ERR_CORRUPT,
		    "etcd answer: \"kvs\": expected an "
		    "array");
	if (json_array_size(kvs) > 0 &&
	    (out->kvs = calloc(json_array_size(kvs), sizeof(*out->kvs))) ==
	        NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(kvs); i++) {
		if ((rc = parse_kv(json_array_get(kvs, i), &out->kvs[i])) < 0)
			return err_prefix(rc, "kvs[%zu]", i);
		out->n++;
	}
	return 0;
}

int
etcd_range(struct etcd *c, const char *key, size_t key_len, const char *end,
    size_t end_len, int64_t limit, int serializable, struct etcd_range *out)
{
	json_t *req = json_object(), *ans = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (req == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_object_set_new(req, "key", b64_json(key, key_len));
	if (end != NULL)
		json_object_set_new(req, "range_end", b64_json(end, end_len));
	if (limit > 0)
		json_object_set_new(req, "limit", json_integer(limit));
	if (serializable)
		json_object_set_new(req, "serializable", json_true());
	rc = call(c, "/v3/kv/range", req, &ans);
	json_decref(req);
	if (rc == 0 && (rc = parse_range(ans, out)) < 0)
		etcd_range_clear(out);
	json_decref(ans);
	return rc;
}

int
etcd_txn(struct etcd *c, const struct etcd_cmp *cmp, size_t ncmp,
    const struct etcd_put *puts, size_t nput, const char *fail_get,
    size_t fail_get_len, int *succeeded, int64_t *revision,
    struct etcd_kv *fail_kv)
{
	json_t *req, *cmps, *ok, *fail, *ans = NULL, *s;
	int64_t rev;
	int rc;

	*succeeded = 0;
	if (fail_kv)
		memset(fail_kv, 0, sizeof(*fail_kv));
	if (ncmp > 128 || nput > 128)
		return err_set(ERR_LIMIT,
		    "etcd transaction: %zu compares and "
		    "%zu puts, at most 128 each",
		    ncmp, nput);
	req = json_object();
	cmps = json_array();
	ok = json_array();
	fail = json_array();
	if (req == NULL || cmps == NULL || ok == NULL || fail == NULL) {
		json_decref(req);
		json_decref(cmps);
		json_decref(ok);
		json_decref(fail);
		return err_set(ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < ncmp; i++)
		json_array_append_new(cmps,
		    json_pack("{s:s,s:s,s:o,s:I}", "target", "CREATE", "result",
		        cmp[i].op == ETCD_CMP_GREATER ? "GREATER" : "EQUAL",
		        "key", b64_json(cmp[i].key, cmp[i].key_len),
		        "create_revision", (json_int_t)cmp[i].create_revision));
	for (size_t i = 0; i < nput; i++) {
		json_t *p = json_pack("{s:o,s:o}", "key",
		    b64_json(puts[i].key, puts[i].key_len), "value",
		    b64_json(puts[i].value, puts[i].value_len));
		if (p != NULL && puts[i].lease != 0)
			json_object_set_new(p, "lease",
			    json_integer(puts[i].lease));
		json_array_append_new(ok, json_pack("{s:o}", "request_put", p));
	}
	if (fail_get != NULL)
		json_array_append_new(fail,
		    json_pack("{s:{s:o}}", "request_range", "key",
		        b64_json(fail_get, fail_get_len)));
	json_object_set_new(req, "compare", cmps);
	json_object_set_new(req, "success", ok);
	json_object_set_new(req, "failure", fail);
	rc = call(c, "/v3/kv/txn", req, &ans);
	json_decref(req);
	if (rc < 0)
		return rc;
	if ((rc = header_revision(ans, &rev)) < 0)
		goto out;
	s = json_object_get(ans, "succeeded");
	if (s != NULL && !json_is_boolean(s)) {
		rc = err_set(ERR_CORRUPT,
		    "etcd answer: \"succeeded\": expected "
		    "a boolean");
		goto out;
	}
	*succeeded = json_is_true(s);
	if (revision)
		*revision = rev;
	if (!*succeeded && fail_get != NULL && fail_kv != NULL) {
		json_t *r =
		    json_array_get(json_object_get(ans, "responses"), 0);
		json_t *kvs = json_object_get(
		    json_object_get(r, "response_range"), "kvs");
		if (kvs != NULL && !json_is_array(kvs)) {
			rc = err_set(ERR_CORRUPT,
			    "etcd answer: responses[0]."
			    "response_range.kvs: expected an array");
			goto out;
		}
		if (json_array_size(kvs) > 0)
			rc = parse_kv(json_array_get(kvs, 0), fail_kv);
	}
out:
	json_decref(ans);
	return rc;
}

int
etcd_delete(struct etcd *c, const char *key, size_t key_len, const char *end,
    size_t end_len, int64_t *deleted)
{
	json_t *req = json_object(), *ans = NULL;
	int64_t d = 0;
	int rc;

	if (req == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_object_set_new(req, "key", b64_json(key, key_len));
	if (end != NULL)
		json_object_set_new(req, "range_end", b64_json(end, end_len));
	rc = call(c, "/v3/kv/deleterange", req, &ans);
	json_decref(req);
	if (rc == 0)
		rc = get_i64(ans, "deleted", &d);
	if (deleted)
		*deleted = d;
	json_decref(ans);
	return rc;
}

int
etcd_compact(struct etcd *c, int64_t revision)
{
	json_t *ans = NULL;
	int rc;

	rc = call_int(c, "/v3/kv/compaction", "revision", revision, &ans);
	json_decref(ans);
	return rc;
}

int
etcd_lease_grant(struct etcd *c, int64_t ttl_s, int64_t *id)
{
	json_t *ans = NULL;
	int rc;

	*id = 0;
	rc = call_int(c, "/v3/lease/grant", "TTL", ttl_s, &ans);
	if (rc == 0 && (rc = get_i64(ans, "ID", id)) == 0 && *id == 0)
		rc = err_set(ERR_CORRUPT, "etcd answer: lease grant: no ID");
	json_decref(ans);
	return rc;
}

int
etcd_lease_keepalive(struct etcd *c, int64_t id, int64_t *ttl_s)
{
	json_t *ans = NULL, *r;
	int rc;

	*ttl_s = 0;
	rc = call_int(c, "/v3/lease/keepalive", "ID", id, &ans);
	if (rc < 0)
		return rc;
	/* a stream of one answer: {"result":{...,"TTL":"N"}} */
	r = json_object_get(ans, "result");
	if (!json_is_object(r))
		rc = err_set(ERR_CORRUPT,
		    "etcd answer: lease keepalive: "
		    "\"result\": expected an object");
	else if ((rc = get_i64(r, "TTL", ttl_s)) == 0 && *ttl_s <= 0)
		rc = err_set(ERR_NOTFOUND, "etcd lease %" PRIx64 " has expired",
		    (uint64_t)id);
	json_decref(ans);
	return rc;
}

int
etcd_lease_revoke(struct etcd *c, int64_t id)
{
	json_t *ans = NULL;
	int rc;

	rc = call_int(c, "/v3/lease/revoke", "ID", id, &ans);
	json_decref(ans);
	return rc;
}

/* ---- watch ----------------------------------------------------------- */

struct watch {
	struct buf b;
	const char *url;
	etcd_watch_fn fn;
	etcd_watch_batch_fn bfn; /* instead of fn: a message's events at once */
	void *ctx;
	atomic_int *stop;
	int64_t deadline_ns;
	int rc; /* first failure or fn's stop */
	int done;
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A message's events (evs, an array) to w->bfn at once. */
static int
watch_batch(struct watch *w, const json_t *evs, int64_t rev)
{
	size_t n = json_array_size(evs), k = 0;
	struct etcd_kv *kvs;
	int *del, rc = 0;

	if (n == 0)
		return 0;
	kvs = calloc(n, sizeof(*kvs));
	del = calloc(n, sizeof(*del));
	if (kvs == NULL || del == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	for (; k < n; k++) {
		json_t *ev = json_array_get(evs, k);
		const char *type =
		    json_string_value(json_object_get(ev, "type"));

		if ((rc = parse_kv(json_object_get(ev, "kv"), &kvs[k])) < 0) {
			err_prefix(rc, "etcd %s: watch events[%zu]", w->url, k);
			goto out;
		}
		del[k] = type && strcmp(type, "DELETE") == 0;
	}
	rc = w->bfn(w->ctx, kvs, del, n, rev);
out:
	for (size_t i = 0; kvs != NULL && i < k; i++)
		kv_clear(&kvs[i]);
	free(kvs);
	free(del);
	return rc;
}

/* One message of the stream. */
static int
watch_message(struct watch *w, const char *line, size_t len)
{
	json_error_t je;
	json_t *j = json_loadb(line, len, 0, &je), *r, *evs;
	int64_t rev, compact;
	int rc = 0;

	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return err_set(ERR_CORRUPT,
		    "etcd %s: watch message is not a "
		    "JSON object: %.200s",
		    w->url, je.text);
	}
	if (json_object_get(j, "error") != NULL) {
		rc = etcd_error(w->url, 200, j);
		goto out;
	}
	r = json_object_get(j, "result");
	if (!json_is_object(r)) {
		rc = err_set(ERR_CORRUPT,
		    "etcd %s: watch message: \"result\": "
		    "expected an object",
		    w->url);
		goto out;
	}
	if ((rc = header_revision(r, &rev)) < 0 ||
	    (rc = get_i64(r, "compact_revision", &compact)) < 0)
		goto out;
	if (compact > 0) {
		rc = err_set(ERR_NOTFOUND,
		    "etcd %s: the revisions watched "
		    "were compacted (up to %" PRId64 ")",
		    w->url, compact);
		goto out;
	}
	if (json_is_true(json_object_get(r, "canceled"))) {
		rc = err_set(ERR_IO, "etcd %s: watch canceled", w->url);
		goto out;
	}
	evs = json_object_get(r, "events");
	if (evs != NULL && !json_is_array(evs)) {
		rc = err_set(ERR_CORRUPT,
		    "etcd %s: watch message: \"events\": "
		    "expected an array",
		    w->url);
		goto out;
	}
	if (w->bfn != NULL) {
		rc = watch_batch(w, evs, rev);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(evs); i++) {
		json_t *ev = json_array_get(evs, i);
		const char *type =
		    json_string_value(json_object_get(ev, "type"));
		struct etcd_kv kv;

		if ((rc = parse_kv(json_object_get(ev, "kv"), &kv)) < 0) {
			err_prefix(rc, "etcd %s: watch events[%zu]", w->url, i);
			goto out;
		}
		rc = w->fn(w->ctx, &kv, type && strcmp(type, "DELETE") == 0,
		    kv.mod_revision);
		kv_clear(&kv);
		if (rc != 0)
			goto out;
	}
out:
	json_decref(j);
	return rc;
}

static size_t
watch_cb(char *data, size_t size, size_t n, void *ctx)
{
	struct watch *w = ctx;
	size_t len = size * n, start = 0;

	if (buf_cb(data, size, n, &w->b) != len) {
		w->rc = w->b.over ? err_set(ERR_LIMIT,
		                        "etcd %s: a watch message "
		                        "larger than %zu bytes, refused",
		                        w->url, ETCD_MAX_ANSWER) :
		                    err_set(ERR_NOMEM, "out of memory");
		return 0;
	}
	/* the gateway ends each message with a newline */
	for (size_t i = 0; i < w->b.len; i++) {
		if (w->b.p[i] != '\n')
			continue;
		if (i > start) {
			int rc = watch_message(w, w->b.p + start, i - start);
			if (rc != 0) {
				w->rc = rc;
				return 0;
			}
		}
		start = i + 1;
	}
	memmove(w->b.p, w->b.p + start, w->b.len - start);
	w->b.len -= start;
	return len;
}

static int
watch_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c,
    curl_off_t d)
{
	struct watch *w = ctx;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	if ((w->stop && atomic_load(w->stop)) || mono_ns() >= w->deadline_ns) {
		w->done = 1;
		return 1;
	}
	return 0;
}

static int watch_run(struct etcd *c, const char *key, size_t key_len,
    const char *end, size_t end_len, int64_t start_revision, long max_ms,
    struct watch *w);

int
etcd_watch(struct etcd *c, const char *key, size_t key_len, const char *end,
    size_t end_len, int64_t start_revision, long max_ms, etcd_watch_fn fn,
    void *ctx, atomic_int *stop)
{
	struct watch w = { 0 };

	w.fn = fn;
	w.ctx = ctx;
	w.stop = stop;
	return watch_run(c, key, key_len, end, end_len, start_revision, max_ms,
	    &w);
}

int
etcd_watch_batch(struct etcd *c, const char *key, size_t key_len,
    const char *end, size_t end_len, int64_t start_revision, long max_ms,
    etcd_watch_batch_fn fn, void *ctx, atomic_int *stop)
{
	struct watch w = { 0 };

	w.bfn = fn;
	w.ctx = ctx;
	w.stop = stop;
	return watch_run(c, key, key_len, end, end_len, start_revision, max_ms,
	    &w);
}

/* The watch of etcd_watch and etcd_watch_batch; w has its callback. */
static int
watch_run(struct etcd *c, const char *key, size_t key_len, const char *end,
    size_t end_len, int64_t start_revision, long max_ms, struct watch *wp)
{
	json_t *cr = json_object(), *req;
	struct watch w = *wp;
	char url[300], *body;
	CURLcode cc;

	if (cr == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_object_set_new(cr, "key", b64_json(key, key_len));
	if (end != NULL)
		json_object_set_new(cr, "range_end", b64_json(end, end_len));
	if (start_revision > 0)
		json_object_set_new(cr, "start_revision",
		    json_integer(start_revision));
	req = json_pack("{s:o}", "create_request", cr);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (body == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	snprintf(url, sizeof(url), "%s/v3/watch", c->url[c->cur]);
	w.url = c->url[c->cur];
	w.deadline_ns = mono_ns() + (int64_t)max_ms * 1000000;
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(body));
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, watch_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &w);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	cc = curl_easy_perform(c->curl);
	free(body);
	free(w.b.p);
	if (w.rc < 0)
		return w.rc;
	if (w.rc > 0 || w.done)
		return 0;
	if (cc != CURLE_OK) {
		/* the next watch tries the next member */
		c->cur = (c->cur + 1) % c->n;
		return err_set(ERR_IO, "etcd %s: watch: %s", url,
		    curl_easy_strerror(cc));
	}
	return err_set(ERR_IO, "etcd %s: the watch stream ended", url);
}
