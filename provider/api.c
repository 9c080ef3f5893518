/*
 * api: the provider's HTTP endpoints (docs/provider.md) and the entry to
 * the gateway.  Private endpoints answer only requests signed by the
 * lease's tenant (common/reqsig.h): 401 unsigned or badly signed, 403
 * signed by someone else, 404 unknown lease.  Requests with a body are
 * checked from their head first (api_hooks): a blob is refused before a
 * byte of it is read, or streamed to disk and hashed as it comes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "provider/accept.h"
#include "provider/daemon_internal.h"
#include "provider/events.h"
#include "provider/exec.h"
#include "provider/lease_fit.h"
#include "provider/lease_update.h"
#include "provider/streamcap.h"
#include "provider/gateway.h"
#include "wasm/pool.h"

#define LOG_READ_MAX (4u << 20)

static int
status_of(int code)
{
	switch (code) {
	case ERR_CONFLICT:
		return 409;
	case ERR_REJECT:
		return 422;
	case ERR_NOTFOUND:
		return 404;
	case ERR_LIMIT:
		return 413;
	case ERR_INVAL:
		return 400;
	default:
		return 500;
	}
}

/* Check the request's signature is the lease's tenant's.  head_sha NULL:
 * the body is in req and its hash is checked.  Otherwise only the head
 * is (before the body is read): *head_sha gets the body hash the
 * signature names, and the nonce is remembered only if remember.  Returns
 * 0, or fills resp and returns -1. */
static int
authorize_as(struct pd *pd, const char *lease_id,
    const struct http_request *req, char head_sha[65], int remember,
    struct http_response *resp)
{
	uint8_t signer[KEY_PUB_LEN], tenant[KEY_PUB_LEN];
	struct lease *l;
	char *target = NULL;
	int rc;

	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, lease_id);
	if (l)
		memcpy(tenant, l->tenant, KEY_PUB_LEN);
	pthread_mutex_unlock(&pd->mu);
	if (l == NULL) {
		http_respond_error(resp, 404, "no lease %s on this provider",
		    lease_id);
		return -1;
	}
	if (gateway_target(req, req->path, &target) < 0) {
		http_respond_error(resp, 500, "%s", err_msg());
		return -1;
	}
	if (head_sha)
		rc = reqsig_verify_head(remember ? pd->rc : NULL,
		    http_header(req, REQSIG_HEADER), req->method, target,
		    util_now_ms(), signer, head_sha);
	else
		rc = reqsig_verify(pd->rc, http_header(req, REQSIG_HEADER),
		    req->method, target, req->body, req->body_len,
		    util_now_ms(), signer);
	free(target);
	if (rc < 0) {
		http_respond_error(resp, 401, "%s", err_msg());
		return -1;
	}
	if (memcmp(signer, tenant, KEY_PUB_LEN) != 0) {
		http_respond_error(resp, 403,
		    "lease %s: only its tenant may "
		    "ask this",
		    lease_id);
		return -1;
	}
	return 0;
}

/* The manifest's bytes as sent must be its canonical JSON, whose sha256
 * is the order's manifest_hash: the tenant's signature over them is the
 * proof of delivery lease.started carries, and the market checks it
 * against the hash (docs/state.md).  Other bytes of the same manifest
 * would run and never be billed: refused (ERR_INVAL). */
static int
canonical_bytes(const struct http_request *req, const char *manifest_hash)
{
	char got[65];

	reqsig_sha256_hex(req->body, req->body_len, got);
	if (strcmp(got, manifest_hash) == 0)
		return 0;
	return err_set(ERR_INVAL,
	    "manifest: send its canonical JSON bytes exactly (no "
	    "newline, no spaces: sha256 %s, the order's manifest_hash; these "
	    "bytes hash to %s): the signed request is the proof of delivery "
	    "the market bills from",
	    manifest_hash, got);
}

static int
authorize(struct pd *pd, const char *lease_id, const struct http_request *req,
    struct http_response *resp)
{
	return authorize_as(pd, lease_id, req, NULL, 0, resp);
}

static void
post_manifest(struct pd *pd, const char *id, const struct http_request *req,
    struct http_response *resp)
{
	struct lease *l, *tmp = NULL;
	json_t *m = NULL, *proof = NULL;
	char path[PATH_MAX + 64], *canon = NULL;
	size_t clen;
	int rc, waiting;

	if (authorize(pd, id, req, resp) < 0)
		return;
	/* The signed request is the proof that the manifest was delivered:
	 * kept for lease.started (docs/state.md). */
	if ((rc = reqsig_envelope_json(http_header(req, REQSIG_HEADER),
	         &proof)) < 0) {
		http_respond_error(resp, 500, "%s", err_msg());
		return;
	}
	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, id);
	waiting = l->status == LEASE_WAITING && !l->pending_close[0];
	if (waiting)
		if ((rc = lease_new(l->id, l->order, l->tenant_text,
		         l->manifest_hash, l->placement, &tmp)) == 0) {
			memcpy(tmp->scope, l->scope, sizeof(tmp->scope));
			memcpy(tmp->blobs, l->blobs, sizeof(tmp->blobs));
			tmp->nblobs = l->nblobs;
		}
	pthread_mutex_unlock(&pd->mu);
	if (!waiting) {
		http_respond_error(resp, 409,
		    "lease %s already has its "
		    "manifest or is closed",
		    id);
		json_decref(proof);
		return;
	}
	if (rc < 0) {
		http_respond_error(resp, 500, "%s", err_msg());
		json_decref(proof);
		return;
	}
	lease_set_manifest_request(tmp, proof);
	if ((rc = cjson_parse(req->body, req->body_len, &m)) < 0) {
		http_respond_error(resp, 400, "manifest: %s", err_msg());
		goto out;
	}
	if ((rc = lease_set_manifest(tmp, m)) == 0 &&
	    (rc = canonical_bytes(req, tmp->manifest_hash)) < 0) {
		http_respond_error(resp, 400, "%s", err_msg());
		goto out;
	}
	/* no more than the order the market matched and bills */
	if (rc == 0) {
		json_t *o = NULL;
		snprintf(path, sizeof(path), "/v1/orders/%.64s", tmp->order);
		if (pd_market_get(pd, path, &o) < 0) {
			http_respond_error(resp, 503,
			    "lease %s: the market cannot be asked for its "
			    "order %s: %s",
			    id, tmp->order, err_msg());
			goto out;
		}
		rc = lease_fits_order(tmp,
		    json_object_get(json_object_get(o, "body"), "resources"));
		json_decref(o);
	}
	if (rc < 0 || (rc = pd_prepare_artifacts(pd, tmp)) < 0 ||
	    (rc = pd_accept_check(pd, l, tmp, 0)) < 0) {
		if (rc == ERR_CONFLICT || rc == ERR_INVAL)
			http_respond_error(resp, status_of(rc), "%s",
			    err_msg());
		else {
			/* Well-formed and matching, but not runnable here:
			 * refuse it in the ledger too, so escrow returns. */
			http_respond_error(resp, 422, "manifest refused: %s",
			    err_msg());
			log_warn("lease %s: manifest refused: %s", id,
			    err_msg());
			snprintf(path, sizeof(path), "%.3800s/leases/%.32s",
			    pd->data, id);
			(void)provider_event(path, "manifest.refused", NULL,
			    NULL, PROVIDER_EVENT_NO_EXIT, "%s", err_msg());
			pthread_mutex_lock(&pd->mu);
			pd_request_close(pd, l, "manifest_refused", 1);
			pthread_mutex_unlock(&pd->mu);
		}
		goto out;
	}
	snprintf(path, sizeof(path), "%s/leases/%s", pd->data, id);
	if ((rc = util_mkdirs(path, 0750)) < 0 ||
	    (rc = cjson_dump(m, &canon, &clen)) < 0 ||
	    (strncat(path, "/manifest.json", sizeof(path) - strlen(path) - 1),
	        (rc = util_write_file(path, canon, clen, 0600))) < 0) {
		http_respond_error(resp, 500, "%s", err_msg());
		goto out;
	}
	pthread_mutex_lock(&pd->mu);
	if (l->status == LEASE_WAITING && !l->pending_close[0] &&
	    pd_accept_check(pd, l, tmp, 1) == 0) {
		/* Swap the checked manifest and replicas into the lease. */
		json_t *om = l->manifest;
		struct lease_replica *orep = l->rep;
		size_t onrep = l->nrep;
		size_t k;
		l->manifest = tmp->manifest;
		l->rep = tmp->rep;
		l->nrep = tmp->nrep;
		/* A lease that was waiting never ran here, nor in an earlier
		 * process (which would have loaded its manifest): its
		 * replicas have no leftovers to clean before their first
		 * start (lease_spawn), which saves a cgroup's creation and
		 * removal. */
		for (k = 0; k < l->nrep; k++)
			l->rep[k].cleaned = 1;
		l->mem_bytes = tmp->mem_bytes;
		l->storage_bytes = tmp->storage_bytes;
		/* Its network, made by pd_prepare_artifacts. */
		memcpy(l->ports, tmp->ports, sizeof(l->ports));
		l->nports = tmp->nports;
		l->net_up = tmp->net_up;
		tmp->net_up = 0;
		l->status = LEASE_RUNNING;
		proof = l->manifest_request;
		l->manifest_request = tmp->manifest_request;
		tmp->manifest_request = proof;
		tmp->manifest = om;
		tmp->rep = orep;
		tmp->nrep = onrep;
		pd->dirty = 1;
		rc = 0;
	} else
		rc = ERR_CONFLICT;
	pthread_mutex_unlock(&pd->mu);
	if (rc < 0) {
		/* not the lease's: a restart must not load it (accept
		 * names another lease took meanwhile, a close) */
		(void)unlink(path);
		http_respond_error(resp, 409, "lease %s changed meanwhile", id);
		goto out;
	}
	log_info("lease %s: manifest accepted (%zu replicas)", id, l->nrep);
	snprintf(path, sizeof(path), "%.3800s/leases/%.32s", pd->data, id);
	(void)provider_event(path, "manifest.accepted", NULL, NULL,
	    PROVIDER_EVENT_NO_EXIT, "manifest accepted (%zu replicas)",
	    l->nrep);
	pd_wake(pd); /* start it now, not at the next tick */
	http_respond(resp, 202, strdup("{\"status\":\"accepted\"}"));
out:
	/* A network made for a manifest that did not get in. */
	if (tmp != NULL && tmp->net_up && pd->net != NULL)
		lease_net_down(pd->net, tmp);
	free(canon);
	json_decref(m);
	lease_free(tmp);
}

/* ---- blobs: checked from the request's head, streamed to disk ---- */

struct blob_upload {
	struct pd *pd;
	char lease[32];
	char sha[65];
	char tmp[PATH_MAX];
	int fd;
	EVP_MD_CTX *md;
	uint64_t len;
};

static int
blob_write(void *ctx, const char *data, size_t len, struct http_response *resp)
{
	struct blob_upload *b = ctx;
	size_t off = 0;

	if (len > b->pd->cache.max_bytes - b->len) {
		http_respond_error(resp, 413, "blob larger than %llu bytes",
		    (unsigned long long)b->pd->cache.max_bytes);
		return -1;
	}
	if (EVP_DigestUpdate(b->md, data, len) != 1) {
		http_respond_error(resp, 500, "blob: sha256 failed");
		return -1;
	}
	while (off < len) {
		ssize_t w = write(b->fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			http_respond_error(resp, 500, "blob: %s: %s", b->tmp,
			    strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	b->len += len;
	return 0;
}

static void
blob_done(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct blob_upload *b = ctx;
	struct pd *pd = b->pd;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char got[65], final[PATH_MAX + 80], *body;
	struct lease *l;
	int rc = 0;

	(void)req;
	if (EVP_DigestFinal_ex(b->md, md, &mdlen) != 1 || mdlen != 32) {
		http_respond_error(resp, 500, "blob: sha256 failed");
		return;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(got + 2 * i, 3, "%02x", md[i]);
	if (strcmp(got, b->sha) != 0) {
		/* The signature named b->sha: this body is not the one
		 * signed. */
		http_respond_error(resp, 401,
		    "request signature is for a body with sha256 %s, this one "
		    "has %s",
		    b->sha, got);
		return;
	}
	snprintf(final, sizeof(final), "%s/sha256/%s", pd->cache.dir, b->sha);
	if (access(final, F_OK) != 0) {
		if (fsync(b->fd) < 0 || rename(b->tmp, final) < 0) {
			http_respond_error(resp, 500, "blob: %s: %s", final,
			    strerror(errno));
			return;
		}
		b->tmp[0] = '\0'; /* renamed: the name may be reused */
	}
	/* Remembered for the lease: its wasm+file modules resolve to it. */
	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, b->lease);
	rc = l ? lease_add_blob(l, b->sha) : 0;
	if (l)
		pd->dirty = 1;
	pthread_mutex_unlock(&pd->mu);
	if (rc < 0) {
		http_respond_error(resp, status_of(rc), "%s", err_msg());
		return;
	}
	if (asprintf(&body, "{\"sha256\":\"%s\",\"size\":%llu}", b->sha,
	        (unsigned long long)b->len) < 0) {
		http_respond_error(resp, 500, "out of memory");
		return;
	}
	http_respond(resp, 201, body);
}

static void
blob_free(void *ctx)
{
	struct blob_upload *b = ctx;

	if (b->fd >= 0)
		close(b->fd);
	if (b->fd >= 0 && b->tmp[0])
		unlink(b->tmp);
	EVP_MD_CTX_free(b->md);
	free(b);
}

/* "/v1/leases/<id>/<rest>": id into buf, rest returned. */
static const char *
lease_path(const char *path, char *id, size_t cap)
{
	const char *p = path + strlen("/v1/leases/"), *q = strchr(p, '/');

	if (q == NULL || q == p || (size_t)(q - p) >= cap)
		return NULL;
	memcpy(id, p, (size_t)(q - p));
	id[q - p] = '\0';
	return q + 1;
}

/* PUT /v1/leases/<l>/blobs/<sha256>: the lease, the size and the tenant's
 * signature (whose body hash must be the blob's) are checked before any
 * byte of the body is read; then the body goes to a temporary file,
 * hashed on the way, and is renamed into the cache if its hash is right. */
static enum http_head_action
blob_head(void *ctx, const struct http_request *req, struct http_response *resp,
    struct http_body_sink *sink)
{
	struct pd *pd = ctx;
	struct blob_upload *b;
	const char *rest, *sha;
	char id[32], signed_sha[65];

	rest = lease_path(req->path, id, sizeof(id));
	if (rest == NULL || strncmp(rest, "blobs/", 6) != 0) {
		http_respond_error(resp, 404, "no such endpoint: %s %s",
		    req->method, req->path);
		return HTTP_HEAD_REFUSE;
	}
	sha = rest + 6;
	if (!artifact_is_sha256(sha)) {
		http_respond_error(resp, 400,
		    "\"%.80s\" is not a sha256 (64 lower-case hex)", sha);
		return HTTP_HEAD_REFUSE;
	}
	if (req->content_length > 0 &&
	    (uint64_t)req->content_length > pd->cache.max_bytes) {
		http_respond_error(resp, 413,
		    "blob of %lld bytes: the limit is %llu",
		    (long long)req->content_length,
		    (unsigned long long)pd->cache.max_bytes);
		return HTTP_HEAD_REFUSE;
	}
	if (authorize_as(pd, id, req, signed_sha, 1, resp) < 0)
		return HTTP_HEAD_REFUSE;
	if (strcmp(signed_sha, sha) != 0) {
		http_respond_error(resp, 409,
		    "blob sha256 is %s (as signed), not %s", signed_sha, sha);
		return HTTP_HEAD_REFUSE;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
		if (b)
			EVP_MD_CTX_free(b->md);
		free(b);
		http_respond_error(resp, 500, "out of memory");
		return HTTP_HEAD_REFUSE;
	}
	b->pd = pd;
	snprintf(b->lease, sizeof(b->lease), "%s", id);
	snprintf(b->sha, sizeof(b->sha), "%s", sha);
	snprintf(b->tmp, sizeof(b->tmp), "%.4000s/tmp/upload-XXXXXX",
	    pd->cache.dir);
	if ((b->fd = mkostemp(b->tmp, O_CLOEXEC)) < 0 ||
	    fchmod(b->fd, 0644) < 0) {
		http_respond_error(resp, 500, "blob: %s: %s", b->tmp,
		    strerror(errno));
		blob_free(b);
		return HTTP_HEAD_REFUSE;
	}
	sink->write = blob_write;
	sink->done = blob_done;
	sink->free = blob_free;
	sink->ctx = b;
	return HTTP_HEAD_SINK;
}

/*
 * CORS for the tenant's endpoints (/v1/...), so that the Lodge Console
 * (docs/console.md), served by the market, can deliver a manifest and
 * read status and logs from the browser.  Any origin: the requests are
 * authorised by their X-Lodge-Signature alone, never by cookies or the
 * caller's address, so a page of another origin can do nothing a signed
 * request could not.
 */
#define CORS_ALLOW "Access-Control-Allow-Origin: *\r\n"

static void
cors(const struct http_request *req, struct http_response *resp)
{
	size_t n = strlen(resp->extra_headers);

	if (strncmp(req->path, "/v1/", 4) == 0 &&
	    n + sizeof(CORS_ALLOW) <= sizeof(resp->extra_headers))
		memcpy(resp->extra_headers + n, CORS_ALLOW, sizeof(CORS_ALLOW));
}

/* POST /v1/leases/<l>/manifest: the lease and the signature are checked
 * from the head (the nonce only once the body is in, by post_manifest)
 * before the body is read into memory. */
static enum http_head_action
manifest_head(void *ctx, const struct http_request *req,
    struct http_response *resp, struct http_body_sink *sink)
{
	struct pd *pd = ctx;
	const char *rest;
	char id[32], signed_sha[65];

	(void)sink;
	rest = lease_path(req->path, id, sizeof(id));
	/* exec sessions and their input: small bodies, checked by the
	 * handler (provider/exec.c) */
	if (rest != NULL && strncmp(rest, "exec", 4) == 0 &&
	    (rest[4] == '\0' || rest[4] == '/'))
		return HTTP_HEAD_BUFFER;
	if (rest == NULL ||
	    (strcmp(rest, "manifest") != 0 && strcmp(rest, "update") != 0)) {
		http_respond_error(resp, 404, "no such endpoint: %s %s",
		    req->method, req->path);
		return HTTP_HEAD_REFUSE;
	}
	if (authorize_as(pd, id, req, signed_sha, 0, resp) < 0) {
		cors(req, resp);
		return HTTP_HEAD_REFUSE;
	}
	return HTTP_HEAD_BUFFER;
}

const struct http_hook api_hooks[] = {
	{ "PUT", "/v1/leases/", blob_head, 0 },
	{ "POST", "/v1/leases/", manifest_head, 0 },
	{ NULL, NULL, NULL, 0 },
};

static void
get_status(struct pd *pd, const char *id, const struct http_request *req,
    struct http_response *resp)
{
	struct lease *l;
	json_t *j = NULL;
	int rc;

	if (authorize(pd, id, req, resp) < 0)
		return;
	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, id);
	rc = lease_status_json(l, &j);
	/* the manifest it runs, and a tenant's update being rolled out
	 * (provider/lease_update.h) */
	if (rc == 0)
		json_object_set_new(j, "manifest_hash",
		    json_string(l->manifest_hash));
	if (rc == 0 && l->rollout != NULL)
		json_object_set_new(j, "update", pd_update_status(l));
	pthread_mutex_unlock(&pd->mu);
	if (rc < 0) {
		http_respond_error(resp, 500, "%s", err_msg());
		return;
	}
	/* Pull progress and digests of its images (the "oci" runtime). */
	if (pd->images != NULL) {
		json_t *im = image_run_status(pd->images, id);
		if (im != NULL)
			json_object_set_new(j, "images", im);
	}
	http_respond(resp, 200, json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS));
	json_decref(j);
}

/* ---- logs ---- */

#define LOG_FILES_MAX 64

struct log_stream {
	struct pd *pd;
	struct lease *l;
	size_t n;
	char path[LOG_FILES_MAX][PATH_MAX];
	off_t off[LOG_FILES_MAX];
	int idle_rounds;
	int capped; /* counted in streamcap for tenant */
	uint8_t tenant[KEY_PUB_LEN];
};

/* A followed stream counts against its tenant's streams
 * (provider/streamcap.h): 0, or 429 answered. */
static int
log_stream_cap(struct log_stream *s, struct http_response *resp)
{
	pthread_mutex_lock(&s->pd->mu);
	memcpy(s->tenant, s->l->tenant, KEY_PUB_LEN);
	pthread_mutex_unlock(&s->pd->mu);
	if (streamcap_take(s->tenant) < 0) {
		http_respond_error(resp, 429, "%s", err_msg());
		return -1;
	}
	s->capped = 1;
	return 0;
}

static void
log_stream_free(void *ctx)
{
	struct log_stream *s = ctx;

	if (s->capped)
		streamcap_give(s->tenant);
	free(s);
}

static size_t
log_files(struct pd *pd, struct lease *l, struct log_stream *s)
{
	size_t i, k, n = 0;
	static const char *const streams[] = { "stdout", "stderr" };

	pthread_mutex_lock(&pd->mu);
	for (i = 0; i < l->nrep && n + 2 <= LOG_FILES_MAX; i++)
		for (k = 0; k < 2; k++)
			snprintf(s->path[n++], PATH_MAX,
			    "%.3000s/leases/%.32s/%.96s.%s.log", pd->data,
			    l->id, l->rep[i].name, streams[k]);
	pthread_mutex_unlock(&pd->mu);
	return n;
}

/* Copy new bytes of file i from its offset into buf (a restart truncates
 * the file: start again from 0 then). */
static size_t
read_new(struct log_stream *s, size_t i, char *buf, size_t max)
{
	struct stat st;
	ssize_t r;
	int fd;

	if ((fd = open(s->path[i], O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) == 0 && st.st_size < s->off[i])
		s->off[i] = 0;
	r = pread(fd, buf, max, s->off[i]);
	close(fd);
	if (r <= 0)
		return 0;
	s->off[i] += r;
	return (size_t)r;
}

static ssize_t
log_stream_read(void *ctx, char *buf, size_t max)
{
	struct log_stream *s = ctx;
	struct timespec ts = { 0, 250 * 1000000L };
	size_t i, n;
	int closed;

	for (i = 0; i < s->n; i++)
		if ((n = read_new(s, i, buf, max)) > 0) {
			s->idle_rounds = 0;
			return (ssize_t)n;
		}
	pthread_mutex_lock(&s->pd->mu);
	closed = s->l->status == LEASE_CLOSED || atomic_load(&s->pd->stop);
	pthread_mutex_unlock(&s->pd->mu);
	if (closed)
		return -1;
	nanosleep(&ts, NULL);
	return 0;
}

/* Answer with s's files: with follow (not "0") a stream of what they
 * gain until the lease closes; else what they hold now, at most max
 * bytes.  s is the answer's or freed. */
static void
log_answer(struct log_stream *s, const char *follow, size_t max,
    struct http_response *resp)
{
	char *out;
	size_t len = 0, i, n;

	if (follow && strcmp(follow, "0") != 0) {
		if (log_stream_cap(s, resp) < 0) {
			free(s);
			return;
		}
		resp->status = 200;
		resp->stream = log_stream_read;
		resp->stream_ctx = s;
		resp->stream_free = log_stream_free;
		return;
	}
	if ((out = malloc(max + 1)) == NULL) {
		free(s);
		http_respond_error(resp, 500, "out of memory");
		return;
	}
	for (i = 0; i < s->n && len < max; i++)
		while (
		    len < max && (n = read_new(s, i, out + len, max - len)) > 0)
			len += n;
	out[len] = '\0';
	free(s);
	resp->status = 200;
	resp->body = out;
	resp->body_len = len;
}

/* A log stream of lease id's files for an authorized request; NULL
 * (the answer set) when out of memory. */
static struct log_stream *
log_stream_new(struct pd *pd, const char *id, struct http_response *resp)
{
	struct log_stream *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		http_respond_error(resp, 500, "out of memory");
		return NULL;
	}
	s->pd = pd;
	pthread_mutex_lock(&pd->mu);
	s->l = pd_find_lease(pd, id);
	pthread_mutex_unlock(&pd->mu);
	return s;
}

static void
get_logs(struct pd *pd, const char *id, const struct http_request *req,
    struct http_response *resp)
{
	struct log_stream *s;

	if (authorize(pd, id, req, resp) < 0 ||
	    (s = log_stream_new(pd, id, resp)) == NULL)
		return;
	s->n = log_files(pd, s->l, s);
	resp->content_type = "text/plain; charset=utf-8";
	log_answer(s, http_query(req, "follow"), LOG_READ_MAX, resp);
}

/* GET /v1/leases/<l>/events[?follow=1]: the lease's events file
 * (provider/events.h), JSON lines; follow streams new ones until the
 * lease closes, as logs do. */
static void
get_events(struct pd *pd, const char *id, const struct http_request *req,
    struct http_response *resp)
{
	struct log_stream *s;

	if (authorize(pd, id, req, resp) < 0 ||
	    (s = log_stream_new(pd, id, resp)) == NULL)
		return;
	s->n = 1;
	snprintf(s->path[0], PATH_MAX, "%.3000s/leases/%.32s/%s", pd->data, id,
	    PROVIDER_EVENTS_FILE);
	resp->content_type = "application/x-ndjson";
	log_answer(s, http_query(req, "follow"), PROVIDER_EVENTS_MAX, resp);
}

/* ---- gateway ---- */

/* Is a request answered with status billed?  Not when the gateway
 * answered it itself (by_gateway) with 502, 503 or 504: the service was
 * not there to serve it (issue 12, case 5); nor a 414 (a target longer
 * than the gateway forwards): the service never saw it. */
static int
billed(int status, int by_gateway)
{
	return !(by_gateway &&
	    (status == 502 || status == 503 || status == 504 || status == 414));
}

/* A wasm HTTP function: the reference to its pool taken under the lock
 * keeps the sockets open through the request even if the lease closes
 * meanwhile (the request then fails with 503). */
static void
gateway_fn(const struct pd *pd, struct lease *l, struct wasm_pool *pool,
    const struct wasm_run_limits *want, const struct gateway_route *rt,
    const struct http_request *req, struct http_response *resp)
{
	struct wasm_run_limits lim = { 0, 0, 0 };
	struct wasm_usage u;
	char script[128];
	uint64_t egress = 0;

	/* The provider's limits; the tenant's may only lower them. */
	lim.fuel = pd->wasm_fuel;
	if (want->fuel > 0 && want->fuel < lim.fuel)
		lim.fuel = want->fuel;
	lim.wall_ms = (uint64_t)pd->wasm_deadline_ms;
	if (want->wall_ms > 0 && want->wall_ms < lim.wall_ms)
		lim.wall_ms = want->wall_ms;
	lim.memory_bytes = want->memory_bytes;
	if (rt->by_host)
		script[0] = '\0';
	else
		snprintf(script, sizeof(script), "/l/%s/%s", rt->lease,
		    rt->service);
	gateway_wasm(req, pool, script, rt->path, &lim, resp, &egress, &u);
	wasm_pool_free(pool);
	/* The fuel burnt is billed; a request the runtime answered itself
	 * (not running, busy, out of fuel, past its deadline: 503, 504) is
	 * not. */
	if (billed(resp->status, 1)) {
		atomic_fetch_add(&l->requests, 1);
		atomic_fetch_add(&l->egress_bytes, egress);
	}
	atomic_fetch_add(&l->fuel, u.fuel);
}

static void
gateway(struct pd *pd, const struct gateway_route *rt,
    const struct http_request *req, struct http_response *resp)
{
	struct lease *l;
	struct lease_replica *r = NULL;
	struct stat st;
	uint16_t port = rt->port;
	uint64_t egress = 0, key;
	struct wasm_run_limits want = { 0, 0, 0 };
	struct wasm_pool *pool = NULL;
	char *target = NULL;
	uint8_t tenant[KEY_PUB_LEN];
	int fd = -1, ufd = -1, paused = 0;

	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, rt->lease);
	if (l && l->status == LEASE_RUNNING && l->pause != LEASE_PAUSE_NONE)
		paused = 1;
	else if (l && l->status == LEASE_RUNNING)
		r = lease_find_service(l, rt->service, &port);
	if (r)
		memcpy(tenant, l->tenant, KEY_PUB_LEN);
	if (r && r->pool) {
		pool = wasm_pool_ref(r->pool);
		want.memory_bytes = r->memory_bytes;
		want.fuel = r->wasm_fuel > INT64_MAX ? INT64_MAX :
		                                       (int64_t)r->wasm_fuel;
		want.wall_ms = r->wasm_deadline_ms;
	} else if (r && r->sb && !r->wasm) {
		fd = fcntl(sandbox_netns_fd(r->sb), F_DUPFD_CLOEXEC, 3);
		/* Without root the sandbox has its own user namespace, which
		 * the gateway's helper joins first. */
		if (sandbox_userns_fd(r->sb) >= 0)
			ufd =
			    fcntl(sandbox_userns_fd(r->sb), F_DUPFD_CLOEXEC, 3);
	}
	pthread_mutex_unlock(&pd->mu);
	if (paused) {
		/* not billed (billed(): 503 by the gateway) */
		http_respond_error(resp, 503,
		    "gateway: lease %s is paused: its escrow ran dry; a "
		    "top-up (tenant topup) resumes it",
		    rt->lease);
		return;
	}
	if (r == NULL) {
		http_respond_error(resp, 404,
		    "gateway: no running lease %s "
		    "with a global service %s",
		    rt->lease, rt->service);
		return;
	}
	/* a request waits for the service on one of the server's workers:
	 * one tenant's slow services may not hold them all */
	if ((pool || fd >= 0) && streamcap_busy_take(tenant) < 0) {
		if (pool)
			wasm_pool_free(pool);
		if (fd >= 0)
			close(fd);
		if (ufd >= 0)
			close(ufd);
		http_respond_error(resp, 503, "gateway: %s", err_msg());
		return;
	}
	if (pool) {
		gateway_fn(pd, l, pool, &want, rt, req, resp);
		streamcap_busy_give(tenant);
		return;
	}
	if (fd < 0) {
		http_respond_error(resp, 503,
		    "gateway: %s %s is not running "
		    "(restarting)",
		    rt->lease, rt->service);
		return;
	}
	key = fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
	if (gateway_target(req, rt->path, &target) < 0) {
		close(fd);
		if (ufd >= 0)
			close(ufd);
		streamcap_busy_give(tenant);
		http_respond_error(resp, 500, "%s", err_msg());
		return;
	}
	gateway_forward(req, ufd, fd, key, port, target, resp, &egress);
	streamcap_busy_give(tenant);
	close(fd);
	if (ufd >= 0)
		close(ufd);
	free(target);
	/* Nothing came back from the service (egress 0) when the gateway
	 * answered itself: unreachable 502, timed out 504. */
	if (billed(resp->status, egress == 0)) {
		atomic_fetch_add(&l->requests, 1);
		atomic_fetch_add(&l->egress_bytes, egress);
	}
}

static void api_route(void *ctx, const struct http_request *req,
    struct http_response *resp);

/* ---- the gateway in the server's loop (http_upstream) ---- */

struct fwd {
	struct lease *l; /* leases live until the daemon's end */
	int netns_fd, userns_fd; /* the replica's, taken with the route */
	uint16_t port;
};

/* A new connection to the service (called from the loop: no lock). */
static int
fwd_connect(void *ctx)
{
	struct fwd *f = ctx;

	if (f->netns_fd < 0)
		return -EMFILE;
	return gateway_connect(f->userns_fd, f->netns_fd, f->port);
}

static void
fwd_free(void *ctx)
{
	struct fwd *f = ctx;

	if (f->netns_fd >= 0)
		close(f->netns_fd);
	if (f->userns_fd >= 0)
		close(f->userns_fd);
	free(f);
}

static void
fwd_done(void *ctx, int status, int by_server, uint64_t out, uint64_t in)
{
	struct fwd *f = ctx;

	(void)in;
	/* Nothing came back from the service when the gateway answered
	 * itself (unreachable 502, timed out 504, too many waiting 503). */
	if (status != 0 && billed(status, by_server)) {
		atomic_fetch_add(&f->l->requests, 1);
		atomic_fetch_add(&f->l->egress_bytes, out);
	}
}

int
api_route_upstream(void *ctx, const struct http_request *req, int may_block,
    struct http_upstream *up)
{
	struct pd *pd = ctx;
	struct gateway_route rt;
	struct lease *l;
	struct lease_replica *r = NULL;
	struct stat st;
	struct fwd *f;
	const char *host = http_header(req, "Host");
	char low[ACCEPT_NAME_MAX + 1], *target = NULL, *head = NULL;
	uint8_t tenant[KEY_PUB_LEN];
	uint64_t ino = 0;
	uint16_t port;
	int routed = 0, upgrade = 0, nfd, ufd = -1, claimable;

	if (strcmp(req->method, "OPTIONS") == 0 &&
	    strncmp(req->path, "/v1/", 4) == 0)
		return 0;
	/* Neither a name a lease may accept nor a gateway route (the API,
	 * addresses, the provider's own names): no lock. */
	claimable = accept_host_of(host, low, sizeof(low)) &&
	    !accept_host_unclaimable(low, pd->cfg.domain);
	if (!claimable &&
	    !(gateway_route_parse(host, req->path, pd->cfg.domain, &rt) == 1 &&
	        (rt.by_host || strncmp(req->path, "/l/", 3) == 0)))
		return 0;
	/* Routing is a lookup under the daemon's lock: when another
	 * thread holds it, the loop asks again from a worker rather than
	 * stall. */
	if (!may_block && pthread_mutex_trylock(&pd->mu) != 0)
		return -1;
	if (may_block)
		pthread_mutex_lock(&pd->mu);
	if (claimable && accept_route(pd->leases, host, req->path, &rt) == 1)
		routed = 1;
	else if (gateway_route_parse(host, req->path, pd->cfg.domain, &rt) ==
	        1 &&
	    (rt.by_host || strncmp(req->path, "/l/", 3) == 0))
		routed = 1;
	l = routed ? pd_find_lease(pd, rt.lease) : NULL;
	port = rt.port;
	/* a paused lease's replicas run until the main loop stops them:
	 * the handler answers 503 "paused" (not billed) meanwhile */
	if (l && l->status == LEASE_RUNNING && l->pause == LEASE_PAUSE_NONE)
		r = lease_find_service(l, rt.service, &port);
	/* wasm functions, services not running, unknown ones: answered
	 * by the handler as before */
	if (r == NULL || r->pool || r->sb == NULL || r->wasm) {
		pthread_mutex_unlock(&pd->mu);
		return 0;
	}
	if (fstat(sandbox_netns_fd(r->sb), &st) == 0)
		ino = (uint64_t)st.st_ino;
	/* the namespaces outlive a restart of the replica meanwhile */
	nfd = fcntl(sandbox_netns_fd(r->sb), F_DUPFD_CLOEXEC, 3);
	if (sandbox_userns_fd(r->sb) >= 0)
		ufd = fcntl(sandbox_userns_fd(r->sb), F_DUPFD_CLOEXEC, 3);
	memcpy(tenant, l->tenant, KEY_PUB_LEN);
	pthread_mutex_unlock(&pd->mu);
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    gateway_target(req, rt.path, &target) < 0 ||
	    gateway_upstream_head(req, target, &upgrade, &head) < 0) {
		free(f);
		free(target);
		if (nfd >= 0)
			close(nfd);
		if (ufd >= 0)
			close(ufd);
		return 0; /* the handler answers (500) */
	}
	free(target);
	f->l = l;
	f->netns_fd = nfd;
	f->userns_fd = ufd;
	f->port = port;
	up->head = head;
	/* pooled per network namespace and port; one tenant's services
	 * share GATEWAY_MAX_PER_TENANT connections in use */
	up->key = ino * 65537u ^ port;
	up->group = util_fnv1a(tenant, KEY_PUB_LEN, UTIL_FNV1A_INIT);
	up->max_per_group = GATEWAY_MAX_PER_TENANT;
	up->upgrade = upgrade;
	up->timeout_ms = GATEWAY_TIMEOUT_MS;
	up->connect = fwd_connect;
	up->done = fwd_done;
	up->free = fwd_free;
	up->ctx = f;
	/* the namespaces held until the exchange ends: in the budget */
	up->fds = (nfd >= 0) + (ufd >= 0);
	return 1;
}

/* An exec session's input (which may wait 5 s on a command that does
 * not read it) counts as one of its tenant's requests in progress. */
static void
exec_busy(struct pd *pd, const char *id, const char *rest,
    const struct http_request *req, struct http_response *resp)
{
	uint8_t tenant[KEY_PUB_LEN];
	size_t n = strlen(rest);
	int input = n > 6 && strcmp(rest + n - 6, "/input") == 0;
	struct lease *l;

	pthread_mutex_lock(&pd->mu);
	l = pd_find_lease(pd, id);
	if (l)
		memcpy(tenant, l->tenant, KEY_PUB_LEN);
	pthread_mutex_unlock(&pd->mu);
	if (l == NULL) {
		http_respond_error(resp, 404, "no lease %s on this provider",
		    id);
		return;
	}
	if (!input) {
		exec_handle(pd, id, rest, req, resp);
		return;
	}
	if (streamcap_busy_take(tenant) < 0) {
		http_respond_error(resp, 503, "exec: %s", err_msg());
		return;
	}
	exec_handle(pd, id, rest, req, resp);
	streamcap_busy_give(tenant);
}

void
api_handle(void *ctx, const struct http_request *req,
    struct http_response *resp)
{
	if (strcmp(req->method, "OPTIONS") == 0 &&
	    strncmp(req->path, "/v1/", 4) == 0) {
		/* the preflight of a signed request */
		resp->status = 204;
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Access-Control-Allow-Methods: GET, POST, PUT\r\n"
		    "Access-Control-Allow-Headers: X-Lodge-Signature, "
		    "Content-Type\r\n"
		    "Access-Control-Max-Age: 600\r\n");
		cors(req, resp);
		return;
	}
	api_route(ctx, req, resp);
	cors(req, resp);
}

static void
api_route(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct pd *pd = ctx;
	struct gateway_route rt;
	const char *rest;
	char id[32], *body;
	int r;

	/* A host name a lease accepts (provider/accept.h) */
	r = pd_accept_route(pd, http_header(req, "Host"), req->path, &rt);
	if (r == 1) {
		gateway(pd, &rt, req, resp);
		return;
	}
	if (r == ERR_LIMIT) { /* a target too long for the gateway */
		http_respond_error(resp, 414, "%s", err_msg());
		return;
	}
	r = gateway_route_parse(http_header(req, "Host"), req->path,
	    pd->cfg.domain, &rt);
	if (r == 1 && (rt.by_host || strncmp(req->path, "/l/", 3) == 0)) {
		gateway(pd, &rt, req, resp);
		return;
	}
	if (r == ERR_LIMIT) {
		http_respond_error(resp, 414, "%s", err_msg());
		return;
	}
	if (r < 0) {
		http_respond_error(resp, 400, "%s", err_msg());
		return;
	}
	if (strcmp(req->path, "/healthz") == 0) {
		http_respond(resp, 200, strdup("{\"ok\":true}"));
		return;
	}
	if (strcmp(req->path, "/v1/info") == 0 &&
	    strcmp(req->method, "GET") == 0) {
		json_t *rt = config_runtimes_json();
		if (pd->images == NULL && rt != NULL) {
			/* "oci" only when the runner started */
			size_t k;
			json_t *v;
			json_array_foreach(rt, k,
			    v) if (strcmp(json_string_value(v), "oci") == 0)
			{
				json_array_remove(rt, k);
				break;
			}
		}
		rt = json_pack("{s:s,s:s,s:s,s:o,s:o*}", "domain",
		    pd->cfg.domain, "key", pd->key_text, "market",
		    pd->cfg.market, "runtimes", rt, "capabilities",
		    config_capabilities_json(&pd->cfg));
		body =
		    rt ? json_dumps(rt, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(rt);
		http_respond(resp, 200, body);
		return;
	}
	if (strncmp(req->path, "/v1/leases/", 11) == 0 &&
	    (rest = lease_path(req->path, id, sizeof(id))) != NULL) {
		if (strcmp(rest, "manifest") == 0 &&
		    strcmp(req->method, "POST") == 0)
			post_manifest(pd, id, req, resp);
		else if (strcmp(rest, "update") == 0 &&
		    strcmp(req->method, "POST") == 0)
			pd_post_update(pd, id, req, resp);
		else if (strcmp(rest, "status") == 0 &&
		    strcmp(req->method, "GET") == 0)
			get_status(pd, id, req, resp);
		else if (strcmp(rest, "logs") == 0 &&
		    strcmp(req->method, "GET") == 0)
			get_logs(pd, id, req, resp);
		else if (strcmp(rest, "events") == 0 &&
		    strcmp(req->method, "GET") == 0)
			get_events(pd, id, req, resp);
		else if (strncmp(rest, "exec", 4) == 0 &&
		    (rest[4] == '\0' || rest[4] == '/')) {
			if (authorize(pd, id, req, resp) == 0)
				exec_busy(pd, id, rest, req, resp);
		} else
			http_respond_error(resp, 404,
			    "no such endpoint: %s "
			    "%s",
			    req->method, req->path);
		return;
	}
	http_respond_error(resp, 404, "no such endpoint: %s %s", req->method,
	    req->path);
}
