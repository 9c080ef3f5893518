/*
 * api: the market's HTTP/JSON API (docs/openapi.yaml is its contract).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "ledger/merkle.h"
#include "ledger/replay.h"
#include "ledger/tiles.h"
#include "market/market_internal.h"
#include "market/ratelimit.h"
#include "market/replica.h"
#include "market/ssecap.h"

#define ENTRIES_PAGE 1000

static void
respond_json(struct http_response *resp, int status, json_t *o)
{
	char *text = NULL;

	if (o == NULL || cjson_dump(o, &text, NULL) < 0) {
		json_decref(o);
		http_respond_error(resp, 500, "cannot serialise the response");
		return;
	}
	json_decref(o);
	http_respond(resp, status, text);
}

static void
respond_state(struct http_response *resp, int rc, json_t *o)
{
	if (rc == ERR_NOTFOUND)
		http_respond_error(resp, 404, "%s", err_msg());
	else if (rc < 0)
		http_respond_error(resp, 400, "%s", err_msg());
	else
		respond_json(resp, 200, o);
}

static int
query_u64(const struct http_request *req, const char *key, uint64_t *out,
    int required, struct http_response *resp)
{
	const char *v = http_query(req, key);

	if (v == NULL) {
		if (required) {
			http_respond_error(resp, 400,
			    "query parameter %s is "
			    "required",
			    key);
			return -1;
		}
		return 0;
	}
	if (util_parse_u64(v, key, out) < 0) {
		http_respond_error(resp, 400, "%s", err_msg());
		return -1;
	}
	return 1;
}

static void
post_entry(struct market *m, const struct http_request *req,
    struct http_response *resp)
{
	struct market_result r;
	int seq = 1;

	if (m->ha != NULL) {
		pthread_mutex_lock(&m->mu);
		seq = market_ha_sequencing(m);
		pthread_mutex_unlock(&m->mu);
	}
	if (!seq) {
		market_ha_forward(m, req, resp);
		return;
	}
	if (market_submit(m, req->body, req->body_len, &r) < 0) {
		http_respond_error(resp, r.status, "%s", err_msg());
		if (r.status == 429)
			snprintf(resp->extra_headers,
			    sizeof(resp->extra_headers),
			    "Retry-After: %lld\r\n",
			    (long long)(r.retry_after_s > 0 ? r.retry_after_s :
			                                      1));
		return;
	}
	respond_json(resp, 201,
	    json_pack("{s:I,s:I,s:s}", "index", (json_int_t)r.index, "time",
	        (json_int_t)r.time, "id", r.id));
}

struct page {
	json_t *arr;
};

static int
page_cb(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct page *p = ctx;
	char *b64 = malloc(B64_ENCODED_SIZE(len));

	if (b64 == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	b64_encode((const uint8_t *)data, len, b64);
	json_array_append_new(p->arr,
	    json_pack("{s:I,s:I,s:s}", "index", (json_int_t)idx, "time",
	        (json_int_t)time, "leaf", b64));
	free(b64);
	return 0;
}

/* The published checkpoint (cosigned by the witnesses' quorum when the
 * market has witnesses); 503 until there is one. */
static void
get_checkpoint(struct market *m, struct http_response *resp, const char *cache)
{
	char *note;

	pthread_mutex_lock(&m->mu);
	note = m->published ? strdup(m->published) : NULL;
	pthread_mutex_unlock(&m->mu);
	if (note == NULL) {
		http_respond_error(resp, 503,
		    "no checkpoint is published yet: %s",
		    m->witnesses ? "the witnesses' quorum has not cosigned "
		                   "one yet" :
		                   "the first one is being signed");
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Retry-After: 1\r\n");
		return;
	}
	http_respond(resp, 200, note);
	resp->content_type = "text/plain; charset=utf-8";
	snprintf(resp->extra_headers, sizeof(resp->extra_headers),
	    "Cache-Control: %s\r\n", cache);
}

/*
 * The ledger as C2SP tlog-tiles, from DATA/tiles (publish.c writes it
 * as checkpoints are published, the checkpoint after its tiles):
 * /checkpoint, short-lived; /tile/<L>/<N> and /tile/entries/<N>,
 * immutable; their partial forms (.p/<W>), immutable too but garbage a
 * static server may drop, kept a minute.  A tile's path is parsed
 * strictly (tiles_path_parse) before it names a file.
 */
static void
get_tile(struct market *m, const char *path, struct http_response *resp)
{
	char file[4096], *data = NULL;
	unsigned width = 0;
	uint64_t n;
	size_t len;
	int level, cp = strcmp(path, "checkpoint") == 0;

	if (!cp && tiles_path_parse(path, &level, &n, &width) < 0) {
		http_respond_error(resp, 404, "%s", err_msg());
		return;
	}
	snprintf(file, sizeof(file), "%s/%s", m->tiles_dir, path);
	if (util_read_file(file, (size_t)TILES_WIDTH * (TILES_MAX_ENTRY + 2),
	        &data, &len) < 0) {
		http_respond_error(resp, 404, "no %s here (yet)", path);
		return;
	}
	resp->status = 200;
	resp->body = data;
	resp->body_len = len;
	resp->content_type =
	    cp ? "text/plain; charset=utf-8" : "application/octet-stream";
	snprintf(resp->extra_headers, sizeof(resp->extra_headers),
	    "Cache-Control: %s\r\n",
	    cp                       ? "public, max-age=1" :
	        width == TILES_WIDTH ? "public, max-age=31536000, immutable" :
	                               "public, max-age=60");
}

static void
get_ledger(struct market *m, const struct http_request *req,
    struct http_response *resp)
{
	const char *p = req->path + strlen("/v1/ledger/");
	uint8_t proof[MERKLE_MAX_PROOF][32], r1[32], r2[32], lh[32];
	uint64_t a = 0, b = 0, committed;
	size_t n, len;
	char *data;
	int rc;

	if (strcmp(p, "checkpoint") == 0) {
		get_checkpoint(m, resp, "no-cache");
		return;
	}
	if (strcmp(p, "entries") == 0) {
		struct page pg = { NULL };
		if (query_u64(req, "start", &a, 0, resp) < 0 ||
		    (rc = query_u64(req, "end", &b, 0, resp)) < 0)
			return;
		if ((pg.arr = json_array()) == NULL) {
			http_respond_error(resp, 500, "out of memory");
			return;
		}
		pthread_mutex_lock(&m->mu);
		committed = m->committed;
		if (rc == 0 || b > committed)
			b = committed;
		if (b > a + ENTRIES_PAGE)
			b = a + ENTRIES_PAGE;
		rc = a < b ? store_foreach(m->store, a, b, page_cb, &pg) : 0;
		pthread_mutex_unlock(&m->mu);
		if (rc < 0) {
			json_decref(pg.arr);
			http_respond_error(resp, 500, "%s", err_msg());
			return;
		}
		respond_json(resp, 200,
		    json_pack("{s:o,s:I}", "entries", pg.arr, "size",
		        (json_int_t)committed));
		return;
	}
	if (strcmp(p, "proof/inclusion") == 0) {
		if (query_u64(req, "index", &a, 1, resp) < 0 ||
		    (rc = query_u64(req, "size", &b, 0, resp)) < 0)
			return;
		pthread_mutex_lock(&m->mu);
		if (rc == 0)
			b = m->committed;
		if (b > m->committed) {
			rc = err_set(ERR_RANGE,
			    "size %" PRIu64 " is beyond the "
			    "log (%" PRIu64 " entries)",
			    b, m->committed);
		} else if ((rc = store_inclusion_proof(m->store, a, b, proof,
		                &n)) == 0 &&
		    (rc = store_root(m->store, b, r1)) == 0 &&
		    (rc = store_leaf(m->store, a, &data, &len, NULL)) == 0) {
			merkle_leaf_hash(data, len, lh);
			free(data);
		}
		pthread_mutex_unlock(&m->mu);
		if (rc < 0) {
			http_respond_error(resp, 400, "%s", err_msg());
			return;
		}
		respond_json(resp, 200,
		    json_pack("{s:I,s:I,s:o,s:o,s:o}", "index", (json_int_t)a,
		        "size", (json_int_t)b, "leaf_hash", cjson_hash_b64(lh),
		        "proof", cjson_hashes_b64(proof, n), "root",
		        cjson_hash_b64(r1)));
		return;
	}
	if (strcmp(p, "proof/consistency") == 0) {
		if (query_u64(req, "old", &a, 1, resp) < 0 ||
		    query_u64(req, "new", &b, 1, resp) < 0)
			return;
		pthread_mutex_lock(&m->mu);
		if (b > m->committed)
			rc = err_set(ERR_RANGE,
			    "size %" PRIu64 " is beyond the "
			    "log (%" PRIu64 " entries)",
			    b, m->committed);
		else if ((rc = store_consistency_proof(m->store, a, b, proof,
		              &n)) == 0 &&
		    (rc = store_root(m->store, a, r1)) == 0)
			rc = store_root(m->store, b, r2);
		pthread_mutex_unlock(&m->mu);
		if (rc < 0) {
			http_respond_error(resp, 400, "%s", err_msg());
			return;
		}
		respond_json(resp, 200,
		    json_pack("{s:I,s:I,s:o,s:o,s:o}", "old", (json_int_t)a,
		        "new", (json_int_t)b, "old_root", cjson_hash_b64(r1),
		        "new_root", cjson_hash_b64(r2), "proof",
		        cjson_hashes_b64(proof, n)));
		return;
	}
	http_respond_error(resp, 404, "no such ledger resource '%s'", p);
}

/* ---- Server-Sent Events ---------------------------------------------- */

struct sse {
	struct market *m;
	struct store *ro; /* this stream's own read-only connection */
	uint64_t next;
	uint64_t cp_gen; /* the published checkpoint last sent */
	char *buf;
	size_t len, off, cap;
	uint64_t idle_ns;
	char peer[64]; /* counted in ssecap */
	int kicked; /* asked to end to make room (market_sse_kick) */
};

/* Room for need more bytes in s->buf. */
static int
sse_room(struct sse *s, size_t need)
{
	if (s->len + need > s->cap) {
		char *nb = realloc(s->buf, (s->len + need) * 2);
		if (nb == NULL)
			return err_set(ERR_NOMEM, "out of memory");
		s->buf = nb;
		s->cap = (s->len + need) * 2;
	}
	return 0;
}

static int
sse_cb(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct sse *s = ctx;

	(void)time;
	if (sse_room(s, len + 64) < 0)
		return ERR_NOMEM;
	s->len += (size_t)snprintf(s->buf + s->len, s->cap - s->len,
	    "id: %" PRIu64 "\nevent: leaf\ndata: ", idx);
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	memcpy(s->buf + s->len, "\n\n", 2);
	s->len += 2;
	s->next = idx + 1;
	return 0;
}

/* A "checkpoint" event: {"size":N,"note":TEXT}, the published note
 * (cosigned when the market has witnesses).  No id: a client resuming
 * with Last-Event-ID resumes after the last leaf, and gets the current
 * checkpoint first anyway. */
static int
sse_checkpoint(struct sse *s, const char *note, uint64_t size)
{
	json_t *o =
	    json_pack("{s:I,s:s}", "size", (json_int_t)size, "note", note);
	char *text = NULL;
	size_t len;
	int rc;

	if (o == NULL || cjson_dump(o, &text, &len) < 0) {
		json_decref(o);
		return err_set(ERR_NOMEM, "out of memory");
	}
	json_decref(o);
	if ((rc = sse_room(s, len + 32)) == 0)
		s->len += (size_t)snprintf(s->buf + s->len, s->cap - s->len,
		    "event: checkpoint\ndata: %s\n\n", text);
	free(text);
	return rc;
}

static ssize_t
sse_read(void *ctx, char *out, size_t max)
{
	struct sse *s = ctx;
	struct market *m = s->m;
	uint64_t committed, cp_size = 0;
	char *cp = NULL;
	size_t n;

	if (s->off == s->len) {
		struct timespec ts;

		s->off = s->len = 0;
		pthread_mutex_lock(&m->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (m->committed <= s->next && m->published_gen == s->cp_gen &&
		    !atomic_load(&m->stopping))
			pthread_cond_timedwait(&m->committed_cv, &m->mu, &ts);
		committed = m->committed;
		if (m->published_gen != s->cp_gen && m->published != NULL) {
			cp = strdup(m->published);
			cp_size = m->published_size;
			s->cp_gen = m->published_gen;
		}
		pthread_mutex_unlock(&m->mu);
		if (atomic_load(&m->stopping) ||
		    (s->kicked = market_sse_kicked(s->peer))) {
			free(cp);
			return -1;
		}
		if (cp != NULL) {
			int rc = sse_checkpoint(s, cp, cp_size);

			free(cp);
			if (rc < 0)
				return -1;
			s->idle_ns = 0;
		}
		if (committed > s->next) {
			uint64_t end = committed < s->next + 256 ?
			    committed :
			    s->next + 256;
			if (store_foreach(s->ro, s->next, end, sse_cb, s) < 0)
				return -1;
			s->idle_ns = 0;
		} else if (s->len > 0) {
			/* the checkpoint alone */
		} else if ((s->idle_ns += 1000000000ull) >= 15000000000ull) {
			static const char ka[] = ": keep-alive\n\n";
			s->idle_ns = 0;
			n = sizeof(ka) - 1 < max ? sizeof(ka) - 1 : max;
			memcpy(out, ka, n);
			return (ssize_t)n;
		} else {
			return 0;
		}
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void
sse_free(void *ctx)
{
	struct sse *s = ctx;

	atomic_fetch_sub(&s->m->m_sse_clients, 1);
	if (s->kicked)
		market_sse_give_kicked(s->peer);
	else
		market_sse_give(s->peer);
	store_free(s->ro);
	free(s->buf);
	free(s);
}

static void
get_events(struct market *m, const struct http_request *req,
    struct http_response *resp)
{
	const char *last = http_header(req, "Last-Event-ID");
	uint64_t since = 0;
	struct sse *s;

	if (query_u64(req, "since", &since, 0, resp) < 0)
		return;
	if (last && http_query(req, "since") == NULL &&
	    util_parse_u64(last, "Last-Event-ID", &since) == 0)
		since++;
	/* all taken: a stream of the address holding the most makes room,
	 * unless this one holds as many (an even share each) */
	if (atomic_load(&m->m_sse_clients) >= MARKET_SSE_BUDGET &&
	    !market_sse_kick(req->peer)) {
		http_respond_error(resp, 503,
		    "the market's %d event streams are taken, none by an "
		    "address holding more than this one; try again later",
		    MARKET_SSE_BUDGET);
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Retry-After: 5\r\n");
		return;
	}
	if (market_sse_take(req->peer) < 0) {
		http_respond_error(resp, 429, "%s", err_msg());
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		market_sse_give(req->peer);
		http_respond_error(resp, 500, "out of memory");
		return;
	}
	snprintf(s->peer, sizeof(s->peer), "%s", req->peer ? req->peer : "");
	if (store_open(m->db_path, 1, &s->ro) < 0) {
		market_sse_give(s->peer);
		free(s);
		http_respond_error(resp, 500, "%s", err_msg());
		return;
	}
	s->m = m;
	s->next = since;
	atomic_fetch_add(&m->m_sse_clients, 1);
	resp->status = 200;
	resp->content_type = "text/event-stream";
	resp->stream = sse_read;
	resp->stream_ctx = s;
	resp->stream_free = sse_free;
}

static void
get_metrics(struct market *m, struct http_response *resp)
{
	static const char *kinds[] = { "malformed", "bad_signature",
		"replayed_nonce", "rules", "other", "fee_unpaid",
		"rate_limited" };
	char *buf = malloc(8192);
	size_t n = 0;
	uint64_t size, committed, cp, pub, nonces;

	if (buf == NULL) {
		http_respond_error(resp, 500, "out of memory");
		return;
	}
	pthread_mutex_lock(&m->mu);
	size = store_size(m->store);
	committed = m->committed;
	cp = m->checkpointed;
	pub = m->published_size;
	nonces = state_nonces(m->state);
	pthread_mutex_unlock(&m->mu);
	n += (size_t)snprintf(buf + n, 8192 - n,
	    "# HELP lodge_ledger_entries Entries durable in the ledger.\n"
	    "# TYPE lodge_ledger_entries gauge\n"
	    "lodge_ledger_entries %" PRIu64 "\n"
	    "# HELP lodge_ledger_pending Entries appended, commit under way.\n"
	    "# TYPE lodge_ledger_pending gauge\n"
	    "lodge_ledger_pending %" PRIu64 "\n"
	    "# HELP lodge_ledger_checkpoint_size Size of the latest "
	    "signed checkpoint.\n"
	    "# TYPE lodge_ledger_checkpoint_size gauge\n"
	    "lodge_ledger_checkpoint_size %" PRIu64 "\n"
	    "# HELP lodge_entries_accepted_total Submitted envelopes "
	    "accepted.\n"
	    "# TYPE lodge_entries_accepted_total counter\n"
	    "lodge_entries_accepted_total %llu\n"
	    "# HELP lodge_entries_derived_total Market-signed entries "
	    "appended.\n"
	    "# TYPE lodge_entries_derived_total counter\n"
	    "lodge_entries_derived_total %llu\n"
	    "# HELP lodge_commits_total Group commits (fsyncs).\n"
	    "# TYPE lodge_commits_total counter\n"
	    "lodge_commits_total %llu\n"
	    "# HELP lodge_http_requests_total HTTP requests handled.\n"
	    "# TYPE lodge_http_requests_total counter\n"
	    "lodge_http_requests_total %llu\n"
	    "# HELP lodge_event_streams Open /v1/events streams.\n"
	    "# TYPE lodge_event_streams gauge\n"
	    "lodge_event_streams %d\n"
	    "# HELP lodge_nonces_remembered Nonces the skew window still "
	    "needs.\n"
	    "# TYPE lodge_nonces_remembered gauge\n"
	    "lodge_nonces_remembered %" PRIu64 "\n"
	    "# HELP lodge_ratelimit_keys Keys with a partly used bucket.\n"
	    "# TYPE lodge_ratelimit_keys gauge\n"
	    "lodge_ratelimit_keys %zu\n"
	    "# HELP lodge_entries_rejected_total Submissions refused, by why.\n"
	    "# TYPE lodge_entries_rejected_total counter\n",
	    committed, size - committed, cp,
	    (unsigned long long)atomic_load(&m->m_accepted),
	    (unsigned long long)atomic_load(&m->m_derived),
	    (unsigned long long)atomic_load(&m->m_commits),
	    (unsigned long long)atomic_load(&m->m_requests),
	    atomic_load(&m->m_sse_clients), nonces, ratelimit_keys(m->rl));
	for (int i = 0; i < 7; i++)
		n += (size_t)snprintf(buf + n, 8192 - n,
		    "lodge_entries_rejected_total{reason=\"%s\"} %llu\n",
		    kinds[i],
		    (unsigned long long)atomic_load(&m->m_rejected[i]));
	n += (size_t)snprintf(buf + n, 8192 - n,
	    "# HELP lodge_ledger_published_size Size of the published "
	    "checkpoint (cosigned by the quorum, with witnesses).\n"
	    "# TYPE lodge_ledger_published_size gauge\n"
	    "lodge_ledger_published_size %" PRIu64 "\n"
	    "# HELP lodge_cosign_rounds_total Rounds of asking the witnesses.\n"
	    "# TYPE lodge_cosign_rounds_total counter\n"
	    "lodge_cosign_rounds_total %llu\n"
	    "# HELP lodge_cosign_failed_total Rounds short of the quorum.\n"
	    "# TYPE lodge_cosign_failed_total counter\n"
	    "lodge_cosign_failed_total %llu\n",
	    pub, (unsigned long long)atomic_load(&m->m_cosign_rounds),
	    (unsigned long long)atomic_load(&m->m_cosign_failed));
	http_respond(resp, 200, buf);
	resp->content_type = "text/plain; version=0.0.4";
}

/*
 * What /v1/info says of the witnesses: {"keys":[vkey...],"quorum":N,
 * "cosigned":bool,"checkpoints":TEXT}.  Clients without a policy of
 * their own learn the keys and quorum from here on first use and pin
 * them (ledger/trust_client.h).  Their URLs are the market's business.
 */
static json_t *
witnesses_json(const struct market *m)
{
	const struct trust_policy *p = m->witnesses;
	json_t *keys = json_array(), *o;
	char text[160], *vk;

	for (size_t i = 0; p != NULL && keys != NULL && i < p->nw; i++) {
		const struct note_verifier *v = &p->w[i].v;

		if (note_vkey_format_type(v->name, v->type, v->pub, &vk) < 0)
			continue;
		json_array_append_new(keys, json_string(vk));
		free(vk);
	}
	if (p != NULL)
		snprintf(text, sizeof(text),
		    "published only when cosigned by %zu of these %zu "
		    "witnesses",
		    p->quorum, p->nw);
	else
		snprintf(text, sizeof(text),
		    "signed by the market alone: no witness cosigns them");
	o = json_pack("{s:o,s:I,s:b,s:s}", "keys", keys, "quorum",
	    (json_int_t)(p ? p->quorum : 0), "cosigned", p != NULL,
	    "checkpoints", text);
	return o;
}

static void
get_info(struct market *m, struct http_response *resp)
{
	json_t *denoms = json_array(), *rules = NULL, *o;

	for (size_t i = 0; i < m->cfg.ndenoms; i++)
		json_array_append_new(denoms, json_string(m->cfg.denoms[i]));
	if (replay_genesis_body(&m->cfg, &rules) < 0) {
		json_decref(denoms);
		http_respond_error(resp, 500, "%s", err_msg());
		return;
	}
	/* the genesis rules, and the market's own rate limit */
	o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:O,s:O,s:O,s:O,"
	              "s:O,s:O,s:O,s:{s:I,s:I}}",
	    "origin", store_origin(m->store), "vkey", m->vkey, "market_key",
	    m->key_text, "treasury_key", m->treasury_text, "epoch_ms",
	    (json_int_t)m->cfg.epoch_ms, "take_rate_ppm",
	    (json_int_t)m->cfg.take_rate_ppm, "offline_grace_ms",
	    (json_int_t)m->cfg.offline_grace_ms, "denoms", denoms,
	    "usage_skew_ms", json_object_get(rules, "usage_skew_ms"), "fees",
	    json_object_get(rules, "fees"), "bond",
	    json_object_get(rules, "bond"), "manifest_window_ms",
	    json_object_get(rules, "manifest_window_ms"), "min_lease_epochs",
	    json_object_get(rules, "min_lease_epochs"), "checkpoint_ms",
	    json_object_get(rules, "checkpoint_ms"), "skew_ms",
	    json_object_get(rules, "skew_ms"), "rate_limit", "per_second",
	    (json_int_t)m->rate_per_s, "burst", (json_int_t)m->rate_burst);
	if (o != NULL)
		json_object_set(o, "pause_grace_ms",
		    json_object_get(rules, "pause_grace_ms"));
	json_decref(rules);
	if (o != NULL)
		json_object_set_new(o, "witnesses", witnesses_json(m));
	if (o != NULL && m->ha != NULL)
		json_object_set_new(o, "replica", market_ha_info(m));
	respond_json(resp, 200, o);
}

/* "/v1/orders/o-12" -> "o-12" when path starts with prefix and the rest is
 * one segment. */
static const char *
tail(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) != 0 || path[n] == '\0' ||
	    strchr(path + n, '/') != NULL)
		return NULL;
	return path + n;
}

static void api_route(struct market *m, const struct http_request *req,
    struct http_response *resp);

void
market_api_handle(void *ctx, const struct http_request *req,
    struct http_response *resp)
{
	api_route(ctx, req, resp);
	/* the console's files and the state's JSON, gzipped for clients
	 * that ask (a market page with 1,000 leases: 1.3 MB of JSON) */
	market_gzip(req, resp);
}

/*
 * Admission of a quote or an SDL check: the client address's bucket
 * (keyed by the SHA-256 of market_addr_key: an IPv6 client's /64 is one
 * client, as for event streams), then a slot among
 * MARKET_COMPUTE_INFLIGHT.  0: admitted, release with compute_done();
 * else answered (429 or 503, Retry-After).
 */
static int
compute_admit(struct market *m, const struct http_request *req,
    struct http_response *resp)
{
	uint8_t key[KEY_PUB_LEN], addr[16];
	int64_t wait;

	market_addr_key(req->peer ? req->peer : "", addr);
	SHA256(addr, sizeof(addr), key);
	if ((wait = ratelimit_take(m->rl_compute, key,
	         util_mono_ns() / 1000000)) > 0) {
		http_respond_error(resp, 429,
		    "%s: at most %.0f quotes and SDL checks a second per "
		    "address; try again in %lld ms",
		    req->path, MARKET_COMPUTE_RATE, (long long)wait);
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Retry-After: %lld\r\n", (long long)(wait + 999) / 1000);
		return -1;
	}
	if (atomic_fetch_add(&m->compute_inflight, 1) >=
	    MARKET_COMPUTE_INFLIGHT) {
		atomic_fetch_sub(&m->compute_inflight, 1);
		http_respond_error(resp, 503,
		    "%s: %d quotes and SDL checks already running; try again",
		    req->path, MARKET_COMPUTE_INFLIGHT);
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Retry-After: 1\r\n");
		return -1;
	}
	return 0;
}

static void
compute_done(struct market *m)
{
	atomic_fetch_sub(&m->compute_inflight, 1);
}

static void
api_route(struct market *m, const struct http_request *req,
    struct http_response *resp)
{
	const char *p = req->path, *id;
	int get =
	    strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	json_t *o = NULL;
	int rc;

	atomic_fetch_add(&m->m_requests, 1);
	if (strcmp(p, "/v1/sdl/check") == 0) {
		if (strcmp(req->method, "POST") != 0) {
			http_respond_error(resp, 405, "POST an SDL here");
			return;
		}
		if (compute_admit(m, req, resp) == 0) {
			market_sdl_check(m, req, resp);
			compute_done(m);
		}
		return;
	}
	if (strcmp(p, "/v1/quote") == 0) {
		if (strcmp(req->method, "POST") != 0) {
			http_respond_error(resp, 405,
			    "POST {\"tenant\",\"orders\"} here");
			return;
		}
		if (compute_admit(m, req, resp) == 0) {
			market_quote(m, req, resp);
			compute_done(m);
		}
		return;
	}
	if (strcmp(p, "/v1/entries") == 0) {
		if (strcmp(req->method, "POST") != 0) {
			http_respond_error(resp, 405, "POST an envelope here");
			return;
		}
		post_entry(m, req, resp);
		return;
	}
	if (!get) {
		http_respond_error(resp, 405, "%s is read-only", p);
		return;
	}
	if (strcmp(p, "/") == 0 || strncmp(p, "/console/", 9) == 0) {
		market_console_serve(m, p, resp);
		return;
	}
	if (strcmp(p, "/healthz") == 0) {
		http_respond(resp, 200, strdup("{\"ok\":true}"));
		return;
	}
	if (strcmp(p, "/metrics") == 0) {
		get_metrics(m, resp);
		return;
	}
	if (strcmp(p, "/v1/info") == 0) {
		get_info(m, resp);
		return;
	}
	if (strcmp(p, "/v1/events") == 0) {
		get_events(m, req, resp);
		return;
	}
	if (strncmp(p, "/v1/ledger/", 11) == 0) {
		get_ledger(m, req, resp);
		return;
	}
	if (strcmp(p, "/checkpoint") == 0 || strncmp(p, "/tile/", 6) == 0) {
		get_tile(m, p + 1, resp);
		return;
	}
	pthread_mutex_lock(&m->mu);
	if (strcmp(p, "/v1/providers") == 0) {
		rc = state_providers_json(m->state, &o);
	} else if (strcmp(p, "/v1/orders") == 0) {
		rc = state_orders_json(m->state, http_query(req, "tenant"),
		    http_query(req, "state"), &o);
	} else if ((id = tail(p, "/v1/orders/")) != NULL) {
		rc = state_order_json(m->state, id, &o);
	} else if (strcmp(p, "/v1/leases") == 0) {
		rc = state_leases_json(m->state, http_query(req, "provider"),
		    http_query(req, "tenant"), &o);
	} else if ((id = tail(p, "/v1/leases/")) != NULL) {
		rc = state_lease_json(m->state, id, &o);
	} else if (strncmp(p, "/v1/leases/", 11) == 0 && strlen(p) > 17 &&
	    strcmp(p + strlen(p) - 6, "/story") == 0) {
		char lid[STATE_ID_LEN];
		size_t n = strlen(p) - 6 - 11;
		if (n >= sizeof(lid)) {
			rc = err_set(ERR_NOTFOUND, "no such lease");
		} else {
			memcpy(lid, p + 11, n);
			lid[n] = '\0';
			rc = state_lease_story(m->state, lid, &o);
		}
	} else if (strncmp(p, "/v1/providers/", 14) == 0 && strlen(p) > 21 &&
	    strcmp(p + strlen(p) - 7, "/record") == 0) {
		char key[KEY_TEXT_SIZE];
		size_t n = strlen(p) - 7 - 14;
		if (n >= sizeof(key)) {
			rc = err_set(ERR_NOTFOUND, "no such provider");
		} else {
			memcpy(key, p + 14, n);
			key[n] = '\0';
			rc = state_provider_record(m->state, key, &o);
		}
	} else if ((id = tail(p, "/v1/accounts/")) != NULL) {
		rc = state_account_json(m->state, id, &o);
	} else {
		pthread_mutex_unlock(&m->mu);
		http_respond_error(resp, 404, "no such resource '%s'", p);
		return;
	}
	pthread_mutex_unlock(&m->mu);
	respond_state(resp, rc, o);
}
