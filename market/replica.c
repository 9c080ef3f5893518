/*
 * replica: the market over etcd (see replica.h, docs/market-ha.md): the
 * follow loop and sequencer election (one thread), the etcd writer (one
 * thread), verification of every leaf read from etcd, forwarding.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/etcd.h"
#include "common/log.h"
#include "common/util.h"
#include "ledger/mirror.h"
#include "ledger/replay.h"
#include "ledger/snapshot.h"
#include "ledger/tiles.h"
#include "market/market_internal.h"
#include "market/replica.h"

#define KEY_MAX 400
/* Entries copied, verified (the Merkle root against the source's signed
 * checkpoint) and applied together: at most this many are held in
 * memory at once. */
#define BOOT_CHUNK 16384
/* ... and at most about this many bytes of leaves (a chunk ends early
 * past it). */
#define BOOT_CHUNK_BYTES (64 << 20)

struct ha_item {
	struct envelope *e;
	int64_t t;
	uint64_t idx;
	char *bytes; /* the leaf, as etcd and the store hold it */
	size_t len;
	int64_t queued_ns; /* when it was queued (for the figures) */
};

/* What the etcd writer and the follower spent, for /v1/info "stages"
 * (totals since start; a bench takes differences). */
struct ha_stages {
	uint64_t batches, entries;
	uint64_t sizes[5]; /* batches of 1, 2-9, 10-49, 50-99, 100+ */
	uint64_t queue_ns; /* sum over entries: queued to its txn's start */
	uint64_t txn_ns; /* etcd transactions, send to answer */
	uint64_t txn_ns_by_size[5]; /* the same by the sizes above */
	uint64_t store_ns; /* local SQLite appends and commits */
	uint64_t applied, apply_ns; /* follower: leaves verified, applied */
	uint64_t lag_ms; /* sum over applied leaves: their time to applied */
	uint64_t recv_ms; /* the same, to when its apply began */
	int64_t began_ms; /* when apply_kvs under way began, or 0 */
	uint64_t forwards, forward_ns, wait_ns; /* forwarded, then read-own */
};

struct market_ha {
	char name[64];
	char prefix[KEY_MAX]; /* "/lodge/<origin>/" */
	size_t prefix_len;
	char url[320]; /* this replica's API */
	struct etcd *ec; /* the loop thread's client */
	struct etcd *wc; /* the writer's */

	/* under m->mu */
	int sequencing;
	uint64_t term;
	uint64_t next;
	int64_t last_time;
	int64_t leader_rev; /* create_revision of our election key */
	struct ha_item *q;
	size_t nq, capq;
	pthread_cond_t q_cv;
	int halted;
	char halt_msg[1024];
	char fail_msg[800]; /* what waiting submitters are told */
	char why[600]; /* why the last term ended */
	struct ha_stages st;

	/* under lmu: what the follower knows of the election */
	pthread_mutex_t lmu;
	char leader_name[64], leader_url[320];
	char etcd_error[600];
	char pinned[320];
	char stall_msg[1024]; /* why it does not follow etcd now ("") */

	/* the loop thread's: the stray keys logged (FNV-1a of each), so
	 * that each is said once however many there are */
	uint64_t stray[32];
	unsigned nstray;
	char boot_url[320]; /* --bootstrap-from ("": the sequencer) */
	char compact_msg[700]; /* the loop thread's: why it does not compact */
	uint64_t boot_chunk; /* entries per verified chunk of a copy */

	/* the loop thread's own */
	int64_t lease;
	int64_t last_report_ns;
	uint64_t reported;
	int64_t ttl_s; /* of the lease under applied/<name> */
	int64_t alease; /* that lease (0: none yet, or it expired) */
	int64_t alease_ns; /* when it was last refreshed */
	pthread_t loop, writer;
	int loop_started, writer_started;
};

int
market_ha_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63 || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '-'))
			return 0;
	}
	return 1;
}

static int64_t
mono_ns(void)
{
	return (int64_t)util_mono_ns();
}

static size_t
entry_key(const struct market_ha *h, uint64_t i, char *out)
{
	return (size_t)snprintf(out, KEY_MAX, "%se/%020" PRIu64, h->prefix, i);
}

/* [prefix "e/", its end) */
static size_t
entries_end(const struct market_ha *h, char *out)
{
	char p[KEY_MAX];
	size_t n = (size_t)snprintf(p, sizeof(p), "%se/", h->prefix);

	return etcd_prefix_end(p, n, out);
}

/* The index a key of <prefix>e/ names, or -1 (not an entry key). */
static int
key_index(const struct market_ha *h, const char *key, size_t len, uint64_t *idx)
{
	uint64_t v = 0;

	if (len != h->prefix_len + 2 + 20 ||
	    memcmp(key, h->prefix, h->prefix_len) != 0 ||
	    memcmp(key + h->prefix_len, "e/", 2) != 0)
		return -1;
	for (size_t i = h->prefix_len + 2; i < len; i++) {
		if (key[i] < '0' || key[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(key[i] - '0');
	}
	*idx = v;
	return 0;
}

static void
set_etcd_error(struct market_ha *h, const char *msg)
{
	pthread_mutex_lock(&h->lmu);
	snprintf(h->etcd_error, sizeof(h->etcd_error), "%s", msg);
	pthread_mutex_unlock(&h->lmu);
}

/* ---- applying what etcd holds --------------------------------------- */

/*
 * Verify leaf idx as read from etcd and apply it to the state and the
 * local store (in the store transaction the caller opened); under mu.
 * Anything that does not verify is refused before the state sees it:
 * the envelope's signature, the index it names, a time that does not go
 * back, the exact canonical bytes the sequencer must have written, then
 * the rules (state_apply leaves the state unchanged when it refuses).
 */
static int
apply_leaf(struct market *m, uint64_t idx, const char *val, size_t len)
{
	struct replay_leaf l = { 0 };
	char *canon = NULL;
	size_t clen = 0;
	uint64_t gi;
	int64_t gt;
	int rc;

	if (idx != store_size(m->store))
		return err_set(ERR_CORRUPT,
		    "entry %" PRIu64 ": expected entry %" PRIu64 " next", idx,
		    store_size(m->store));
	if ((rc = replay_parse_leaf(val, len, &l)) < 0)
		return err_prefix(rc, "entry %" PRIu64, idx);
	if (l.index != idx) {
		rc = err_set(ERR_CORRUPT,
		    "entry %" PRIu64 ": its leaf says "
		    "index %" PRIu64,
		    idx, l.index);
		goto out;
	}
	if (idx > 0 && l.time < store_last_time(m->store)) {
		rc = err_set(ERR_CORRUPT,
		    "entry %" PRIu64 ": time %" PRId64
		    " is before the previous entry's %" PRId64,
		    idx, l.time, store_last_time(m->store));
		goto out;
	}
	if ((rc = store_leaf_bytes(l.e, idx, l.time, &canon, &clen)) < 0)
		goto out;
	if (clen != len || memcmp(canon, val, len) != 0) {
		rc = err_set(ERR_CORRUPT,
		    "entry %" PRIu64 ": not the canonical "
		    "leaf bytes of its envelope",
		    idx);
		goto out;
	}
	if (idx == 0) {
		struct state_config c;
		uint8_t pub[KEY_PUB_LEN];

		key_public(m->key, pub);
		if ((rc = replay_genesis_config(l.e, &c)) < 0)
			goto out;
		if (memcmp(c.market_key, pub, KEY_PUB_LEN) != 0) {
			rc = err_set(ERR_REJECT,
			    "entry 0: the genesis in etcd is "
			    "signed by another market key than %s/market.key",
			    m->dir);
			goto out;
		}
		c.check_invariants = m->cfg.check_invariants;
		if ((rc = state_new(&c, &m->state)) < 0)
			goto out;
		m->cfg = c;
	} else {
		if (m->state == NULL) {
			rc = err_set(ERR_CORRUPT,
			    "entry %" PRIu64 ": no "
			    "genesis before it",
			    idx);
			goto out;
		}
		rc = state_apply(m->state, l.e, idx, l.time, NULL);
		if (rc == ERR_NOMEM) {
			log_error("out of memory applying entry %" PRIu64
			          "; the state is unusable",
			    idx);
			abort();
		}
		if (rc < 0)
			goto out;
	}
	if ((rc = store_append(m->store, l.e, l.time, &gi, &gt, NULL)) < 0 ||
	    gi != idx || gt != l.time) {
		log_error("ledger write of entry %" PRIu64 " failed after "
		          "apply: %s",
		    idx, err_msg());
		abort();
	}
	if (util_now_ms() > l.time)
		m->ha->st.lag_ms += (uint64_t)(util_now_ms() - l.time);
	if (m->ha->st.began_ms > l.time)
		m->ha->st.recv_ms += (uint64_t)(m->ha->st.began_ms - l.time);
out:
	free(canon);
	envelope_free(l.e);
	return rc;
}

/* A leaf that does not verify: stop following (never apply past it),
 * serve what is here, say so; under mu. */
static void
halt_locked(struct market *m, uint64_t idx)
{
	struct market_ha *h = m->ha;

	if (h->halted)
		return;
	h->halted = 1;
	snprintf(h->halt_msg, sizeof(h->halt_msg),
	    "entry %" PRIu64 " in etcd does not verify, not applied: %s; "
	    "this replica stops following at %" PRIu64
	    " entries (it serves them) until an operator looks",
	    idx, err_msg(), store_size(m->store));
	log_error("%s", h->halt_msg);
}

/* Apply kvs (sorted by key, entries from store_size on) in one store
 * transaction; 1 when a gap or refusal stopped it. */
static int
apply_kvs(struct market *m, const struct etcd_kv *kvs, size_t n)
{
	struct market_ha *h = m->ha;
	int64_t t0 = mono_ns();
	uint64_t had;
	int stopped = 0;

	pthread_mutex_lock(&m->mu);
	if (h->sequencing || h->halted) {
		pthread_mutex_unlock(&m->mu);
		return 1;
	}
	had = store_size(m->store);
	h->st.began_ms = util_now_ms();
	if (store_begin(m->store) < 0) {
		log_error("ledger: %s", err_msg());
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t idx;

		if (key_index(h, kvs[i].key, kvs[i].key_len, &idx) < 0)
			continue;
		if (idx < store_size(m->store))
			continue; /* had it */
		if (idx > store_size(m->store)) {
			stopped = 1; /* a gap: read the range again */
			break;
		}
		if (apply_leaf(m, idx, kvs[i].value, kvs[i].value_len) < 0) {
			halt_locked(m, idx);
			stopped = 1;
			break;
		}
	}
	if (store_commit(m->store) < 0) {
		log_error("ledger commit: %s", err_msg());
		abort();
	}
	if (store_size(m->store) > m->committed) {
		m->committed = store_size(m->store);
		pthread_cond_broadcast(&m->committed_cv);
	}
	h->st.applied += store_size(m->store) - had;
	h->st.apply_ns += (uint64_t)(mono_ns() - t0);
	h->st.began_ms = 0;
	pthread_mutex_unlock(&m->mu);
	return stopped;
}

static int bootstrap_from_peer(struct market *m, struct etcd *ec,
    uint64_t upto);
static int read_number(struct market_ha *h, struct etcd *ec, const char *name,
    uint64_t *out, int *bad);

/*
 * What etcd holds is not something this replica can follow past (a gap
 * in the entries, a compacted marker it cannot copy up to, a marker that
 * is not a number): it neither applies nor campaigns, says so once in
 * the log and in /v1/info (role "stalled", "stalled": why) and tries
 * again later (loop_main, with a growing pause).  Returns rc.
 */
static int
stall(struct market_ha *h, int rc)
{
	pthread_mutex_lock(&h->lmu);
	if (strcmp(h->stall_msg, err_msg()) != 0) {
		snprintf(h->stall_msg, sizeof(h->stall_msg), "%s", err_msg());
		log_warn("not following etcd: %s", h->stall_msg);
	}
	pthread_mutex_unlock(&h->lmu);
	return rc;
}

static int
stalled(struct market_ha *h)
{
	int s;

	pthread_mutex_lock(&h->lmu);
	s = h->stall_msg[0] != '\0';
	pthread_mutex_unlock(&h->lmu);
	return s;
}

static void
unstall(struct market_ha *h)
{
	pthread_mutex_lock(&h->lmu);
	if (h->stall_msg[0] != '\0') {
		log_info("following etcd again (it had stopped: %s)",
		    h->stall_msg);
		h->stall_msg[0] = '\0';
	}
	pthread_mutex_unlock(&h->lmu);
}

/* A key under e/ that is not e/<20 digits>: not an entry, ignored (said
 * once per key). */
static void
stray_key(struct market_ha *h, const struct etcd_kv *kv)
{
	uint64_t f = util_fnv1a(kv->key, kv->key_len, UTIL_FNV1A_INIT);
	size_t n = kv->key_len < 300 ? kv->key_len : 300;

	for (unsigned i = 0; i < h->nstray && i < 32; i++)
		if (h->stray[i] == f)
			return;
	if (h->nstray >= 32) {
		if (h->nstray == 32) { /* said once too */
			h->nstray = 33;
			log_warn(
			    "more than 32 etcd keys under e/ are not entry "
			    "keys (e/ and 20 digits); ignored, no more "
			    "named");
		}
		return;
	}
	h->stray[h->nstray++] = f;
	log_warn("etcd key \"%.*s\" is not an entry key (e/ and 20 digits); "
	         "ignored",
	    (int)n, kv->key);
}

/* Read every entry from the local size on (those compacted from etcd
 * from another replica); *rev gets etcd's revision.  A state of etcd it
 * cannot follow past stalls (above). */
static int
catch_up(struct market *m, struct etcd *ec, int serializable, int64_t *rev)
{
	struct market_ha *h = m->ha;
	char key[KEY_MAX], end[KEY_MAX];
	size_t el = entries_end(h, end);

	for (;;) {
		struct etcd_range r;
		uint64_t from, first = 0;
		size_t kl, k0 = 0;
		int rc, more, stopped;

		pthread_mutex_lock(&m->mu);
		from = store_size(m->store);
		pthread_mutex_unlock(&m->mu);
		kl = entry_key(h, from, key);
		if ((rc = etcd_range(ec, key, kl, end, el, 256, serializable,
		         &r)) < 0)
			return rc;
		*rev = r.revision;
		while (k0 < r.n &&
		    key_index(h, r.kvs[k0].key, r.kvs[k0].key_len, &first) < 0)
			stray_key(h, &r.kvs[k0++]);
		if (k0 == r.n || first > from) {
			uint64_t compacted = 0;
			int past = k0 < r.n, bad = 0;

			etcd_range_clear(&r);
			if ((rc = read_number(h, ec, "compacted", &compacted,
			         &bad)) < 0)
				return bad ? stall(h, rc) : rc;
			if (compacted <= from && !past)
				return 0; /* nothing new (yet) */
			if (compacted <= from)
				return stall(h,
				    err_set(ERR_CORRUPT,
				        "etcd holds entry %" PRIu64
				        " but not entry %" PRIu64
				        " (this replica's next), and its "
				        "compacted marker is %" PRIu64
				        ": a gap this replica cannot follow "
				        "past (an entry deleted by hand, a "
				        "stray key?); retrying",
				        first, from, compacted));
			if ((rc = bootstrap_from_peer(m, ec, compacted)) < 0) {
				if (h->halted)
					return rc;
				return stall(h,
				    err_prefix(rc,
				        "entries below %" PRIu64
				        " were compacted from etcd and this "
				        "replica holds %" PRIu64
				        "; copying them",
				        compacted, from));
			}
			continue;
		}
		more = r.more;
		stopped = apply_kvs(m, r.kvs, r.n);
		etcd_range_clear(&r);
		if (stopped) {
			if (h->halted)
				return err_set(ERR_CORRUPT, "%s", h->halt_msg);
			continue; /* a gap: the next read says which */
		}
		if (!more)
			return 0;
	}
}

/* ---- the sequencer's term ------------------------------------------- */

static void
free_items(struct ha_item *it, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		envelope_free(it[i].e);
		free(it[i].bytes);
	}
}

/* The state dropped and replayed from the local copy (its snapshot,
 * then the tail); under mu.  The copy holds only what etcd committed, so
 * a failure here is a corrupt disk: abort. */
static void
replay_state_locked(struct market *m)
{
	char *fallback = NULL;
	uint64_t from = 0;

	state_free(m->state);
	m->state = NULL;
	if (snapshot_replay(m->store, m->snap_path, m->cfg.check_invariants,
	        &m->state, &m->cfg, &from, &fallback) < 0) {
		log_error("rebuilding the state from the ledger: %s",
		    err_msg());
		abort();
	}
	free(fallback);
}

/*
 * End this replica's term (etcd refused or did not answer a write, the
 * lease was lost); under mu.  Entries applied but not known committed
 * are dropped with the state, which is rebuilt from the local copy (only
 * entries etcd committed); following then learns from etcd what became
 * of them.  Waiting submitters get 503 with why.
 */
static void
step_down_locked(struct market *m, const char *why)
{
	struct market_ha *h = m->ha;

	if (!h->sequencing)
		return;
	h->sequencing = 0;
	h->term++;
	snprintf(h->why, sizeof(h->why), "%s", why);
	snprintf(h->fail_msg, sizeof(h->fail_msg),
	    "the sequencer stopped before etcd committed this entry (%s); "
	    "it may or may not be in the ledger: look it up, or retry",
	    why);
	log_warn("no longer the sequencer at %" PRIu64 " entries: %s",
	    store_size(m->store), why);
	free_items(h->q, h->nq);
	h->nq = 0;
	replay_state_locked(m);
	pthread_cond_broadcast(&m->committed_cv);
	pthread_cond_broadcast(&h->q_cv);
}

int
market_ha_sequencing(const struct market *m)
{
	return m->ha->sequencing;
}
uint64_t
market_ha_next(const struct market *m)
{
	return m->ha->next;
}
int64_t
market_ha_last_time(const struct market *m)
{
	return m->ha->last_time;
}
const char *
market_ha_why(const struct market *m)
{
	return m->ha->why[0] ? m->ha->why : "it does not sequence";
}
int
market_ha_settled(const struct market *m)
{
	return !m->ha->sequencing || m->ha->next == store_size(m->store);
}
uint64_t
market_ha_term(const struct market *m)
{
	return m->ha->term;
}

int
market_ha_queue(struct market *m, struct envelope *e, int64_t t)
{
	struct market_ha *h = m->ha;
	struct ha_item *it;
	int rc;

	if (h->nq == h->capq) {
		size_t cap = h->capq ? h->capq * 2 : 64;
		void *p = realloc(h->q, cap * sizeof(*h->q));
		if (p == NULL) {
			envelope_free(e);
			return err_set(ERR_NOMEM, "out of memory");
		}
		h->q = p;
		h->capq = cap;
	}
	it = &h->q[h->nq];
	it->e = e;
	it->t = t;
	it->idx = h->next;
	it->queued_ns = mono_ns();
	if ((rc = store_leaf_bytes(e, it->idx, t, &it->bytes, &it->len)) < 0) {
		envelope_free(e);
		return rc;
	}
	h->nq++;
	h->next++;
	h->last_time = t;
	pthread_cond_signal(&h->q_cv);
	return 0;
}

int
market_ha_wait(struct market *m, uint64_t upto, uint64_t term)
{
	struct market_ha *h = m->ha;
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	while (m->committed < upto && h->term == term &&
	    !atomic_load(&m->stopping))
		pthread_cond_wait(&m->committed_cv, &m->mu);
	if (m->committed < upto)
		rc = err_set(ERR_IO, "%s",
		    h->fail_msg[0] ? h->fail_msg : "the market is stopping");
	pthread_mutex_unlock(&m->mu);
	return rc;
}

/*
 * A write whose outcome is unknown (the member answering it went away,
 * or did not answer in time): read the keys back from the quorum.  All
 * there with these bytes: it was committed (1).  None there: send it
 * again, with the same compares (a late commit of the first send makes
 * the second fail, and the next read finds it).  Anything else, or still
 * unknown after a few tries: 0 (the term ends).
 */
static int
resolve_unknown(struct market_ha *h, const struct etcd_cmp *cmp, size_t ncmp,
    const struct etcd_put *put, size_t n, uint64_t last)
{
	char end[KEY_MAX];
	size_t el = entry_key(h, last + 1, end);

	int64_t t0 = mono_ns();

	/* within a few seconds: submitters are waiting */
	while (mono_ns() - t0 < 6000000000LL) {
		struct etcd_range r;
		size_t same = 0;
		int ok = 0;

		if (etcd_range(h->wc, put[0].key, put[0].key_len, end, el, 0, 0,
		        &r) < 0) {
			struct timespec ts = { 0, 500 * 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		for (size_t i = 0; i < r.n && i < n; i++)
			if (r.kvs[i].value_len == put[i].value_len &&
			    memcmp(r.kvs[i].value, put[i].value,
			        put[i].value_len) == 0)
				same++;
		if (r.n == n && same == n) {
			etcd_range_clear(&r);
			return 1;
		}
		if (r.n != 0) {
			etcd_range_clear(&r);
			return 0;
		}
		etcd_range_clear(&r);
		if (etcd_txn(h->wc, cmp, ncmp, put, n, NULL, 0, &ok, NULL,
		        NULL) == 0 &&
		    ok)
			return 1;
	}
	return 0;
}

/* Count a batch of n committed by etcd (its transaction from t_txn to
 * t_store) and written here (until now); under mu. */
static void
stages_batch(struct ha_stages *st, const struct ha_item *b, size_t n,
    int64_t t_txn, int64_t t_store)
{
	int k = n == 1 ? 0 : n < 10 ? 1 : n < 50 ? 2 : n < 100 ? 3 : 4;

	st->batches++;
	st->entries += n;
	st->sizes[k]++;
	st->txn_ns_by_size[k] += (uint64_t)(t_store - t_txn);
	for (size_t i = 0; i < n; i++)
		st->queue_ns += (uint64_t)(t_txn - b[i].queued_ns);
	st->txn_ns += (uint64_t)(t_store - t_txn);
	st->store_ns += (uint64_t)(mono_ns() - t_store);
}

/*
 * The etcd writer: sends queued entries in transactions of at most
 * MARKET_HA_BATCH, each put guarded by "this key is absent" and the
 * whole by "the election key is still ours" (so a sequencer that lost
 * its lease, paused or partitioned, cannot write after its successor
 * took over), then appends them to the local copy.
 */
static void *
writer_main(void *arg)
{
	struct market *m = arg;
	struct market_ha *h = m->ha;
	struct etcd_cmp cmp[MARKET_HA_BATCH + 1];
	struct etcd_put put[MARKET_HA_BATCH];
	struct ha_item batch[MARKET_HA_BATCH];
	char keys[MARKET_HA_BATCH][KEY_MAX], lkey[KEY_MAX];
	size_t lkl =
	    (size_t)snprintf(lkey, sizeof(lkey), "%sleader", h->prefix);

	pthread_mutex_lock(&m->mu);
	while (!atomic_load(&m->stopping)) {
		size_t n = 0, bytes = 0;
		uint64_t term;
		int64_t t_txn, t_store;
		int ok = 0, rc;

		if (h->nq == 0 || !h->sequencing) {
			pthread_cond_wait(&h->q_cv, &m->mu);
			continue;
		}
		while (n < h->nq && n < MARKET_HA_BATCH &&
		    (n == 0 || bytes + h->q[n].len <= MARKET_HA_BATCH_BYTES)) {
			bytes += h->q[n].len;
			n++;
		}
		memcpy(batch, h->q, n * sizeof(*batch));
		memmove(h->q, h->q + n, (h->nq - n) * sizeof(*h->q));
		h->nq -= n;
		term = h->term;
		cmp[0].key = lkey;
		cmp[0].key_len = lkl;
		cmp[0].create_revision = h->leader_rev;
		cmp[0].op = ETCD_CMP_EQUAL;
		pthread_mutex_unlock(&m->mu);
		for (size_t i = 0; i < n; i++) {
			size_t kl = entry_key(h, batch[i].idx, keys[i]);
			cmp[i + 1] =
			    (struct etcd_cmp){ keys[i], kl, 0, ETCD_CMP_EQUAL };
			put[i] = (struct etcd_put){ keys[i], batch[i].bytes, kl,
				batch[i].len, 0 };
		}
		t_txn = mono_ns();
		rc = etcd_txn(h->wc, cmp, n + 1, put, n, NULL, 0, &ok, NULL,
		    NULL);
		if (rc == ERR_IO) {
			char why[600];

			snprintf(why, sizeof(why), "%s", err_msg());
			set_etcd_error(h, why);
			if (resolve_unknown(h, cmp, n + 1, put, n,
			        batch[n - 1].idx)) {
				rc = 0;
				ok = 1;
			} else {
				err_set(ERR_IO, "%s", why);
			}
		} else if (rc < 0) {
			set_etcd_error(h, err_msg());
		}
		t_store = mono_ns();
		pthread_mutex_lock(&m->mu);
		if (h->term != term) {
			/* the term ended meanwhile; following tells */
			free_items(batch, n);
			continue;
		}
		if (rc < 0 || !ok) {
			char why[600];
			snprintf(why, sizeof(why), "%s",
			    rc < 0 ? err_msg() :
			             "etcd refused the write: the entry's "
			             "index is taken or the election moved "
			             "(another sequencer)");
			free_items(batch, n);
			step_down_locked(m, why);
			continue;
		}
		if (store_begin(m->store) < 0)
			abort();
		for (size_t i = 0; i < n; i++) {
			uint64_t gi;
			int64_t gt;
			if (store_append(m->store, batch[i].e, batch[i].t, &gi,
			        &gt, NULL) < 0 ||
			    gi != batch[i].idx || gt != batch[i].t) {
				log_error("ledger write of entry %" PRIu64
				          " failed after etcd committed it: %s",
				    batch[i].idx, err_msg());
				abort();
			}
		}
		if (store_commit(m->store) < 0) {
			log_error("ledger commit: %s", err_msg());
			abort();
		}
		stages_batch(&h->st, batch, n, t_txn, t_store);
		free_items(batch, n);
		m->committed = store_size(m->store);
		pthread_cond_broadcast(&m->committed_cv);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* ---- election and following ----------------------------------------- */

static void
leader_from_value(struct market_ha *h, const struct etcd_kv *kv)
{
	json_t *j = NULL;
	const char *name = NULL, *url = NULL;

	if (kv->value_len > 0 &&
	    cjson_parse(kv->value, kv->value_len, &j) == 0) {
		name = json_string_value(json_object_get(j, "name"));
		url = json_string_value(json_object_get(j, "url"));
	}
	pthread_mutex_lock(&h->lmu);
	if (name != NULL && url != NULL && market_ha_name_ok(name) &&
	    strlen(url) < sizeof(h->leader_url) &&
	    (strncmp(url, "http://", 7) == 0 ||
	        strncmp(url, "https://", 8) == 0)) {
		snprintf(h->leader_name, sizeof(h->leader_name), "%s", name);
		snprintf(h->leader_url, sizeof(h->leader_url), "%s", url);
	} else {
		/* not what a replica writes: forward nowhere */
		h->leader_name[0] = h->leader_url[0] = '\0';
		log_warn("the election key in etcd holds no replica "
		         "name and URL; not forwarding to it");
	}
	pthread_mutex_unlock(&h->lmu);
	json_decref(j);
}

static void
leader_clear(struct market_ha *h)
{
	pthread_mutex_lock(&h->lmu);
	h->leader_name[0] = h->leader_url[0] = '\0';
	pthread_mutex_unlock(&h->lmu);
}

/* ---- bootstrap from another replica, compaction ---------------------- */

/* <prefix>NAME's value as a number (0 when absent); *bad (may be NULL)
 * set when etcd answered but the value is not a number. */
static int
read_number(struct market_ha *h, struct etcd *ec, const char *name,
    uint64_t *out, int *bad)
{
	char key[KEY_MAX];
	size_t kl = (size_t)snprintf(key, sizeof(key), "%s%s", h->prefix, name);
	struct etcd_range r;
	int rc;

	*out = 0;
	if ((rc = etcd_range(ec, key, kl, NULL, 0, 0, 1, &r)) < 0)
		return rc;
	if (r.n > 0 && util_parse_u64(r.kvs[0].value, name, out) < 0) {
		rc = err_prefix(ERR_CORRUPT,
		    "etcd key %s: expected a number of entries", key);
		if (bad != NULL)
			*bad = 1;
	}
	etcd_range_clear(&r);
	return rc;
}

/* GET url into *out; anything but 200 is ERR_IO. */
static int
peer_get(const char *url, struct http_result *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = http_fetch("GET", url, NULL, NULL, 0, 20000, out)) < 0)
		return rc;
	if (out->status != 200) {
		rc = err_set(ERR_IO, "%s: HTTP %ld", url, out->status);
		http_result_clear(out);
	}
	return rc;
}

/* The tree of the local copy (its stored hashes) extended in memory with
 * the hashes of copied leaves: the root of the whole is known before
 * anything is applied. */
struct overlay {
	struct merkle_reader base;
	uint64_t old; /* leaves in the local copy */
	struct {
		uint8_t (*h)[MERKLE_HASH_LEN];
		size_t n, cap;
	} lv[64];
};

static int
overlay_get(void *ctx, unsigned level, uint64_t idx,
    uint8_t out[MERKLE_HASH_LEN])
{
	struct overlay *o = ctx;
	uint64_t j;

	if (level >= 64)
		return err_set(ERR_INVAL, "merkle level %u", level);
	if (((idx + 1) << level) <= o->old)
		return o->base.get(o->base.ctx, level, idx, out);
	if (idx < (o->old >> level) ||
	    (j = idx - (o->old >> level)) >= o->lv[level].n)
		return err_set(ERR_NOTFOUND,
		    "merkle node %u/%" PRIu64 " not copied", level, idx);
	memcpy(out, o->lv[level].h[j], MERKLE_HASH_LEN);
	return 0;
}

/* Leaf n (hash lh) appended to o; under mu (the base reads the store). */
static int
overlay_add(struct overlay *o, uint64_t n, const uint8_t lh[MERKLE_HASH_LEN])
{
	struct merkle_reader r = { overlay_get, o };
	struct merkle_stored st[MERKLE_MAX_STORED];
	size_t c;
	int rc;

	if ((rc = merkle_append_hashes(n, lh, &r, st, &c)) < 0)
		return rc;
	for (size_t i = 0; i < c; i++) {
		unsigned l = st[i].level;

		if (l >= 64 || st[i].idx - (o->old >> l) != o->lv[l].n)
			return err_set(ERR_INVAL,
			    "merkle node %u/%" PRIu64 " out of order", l,
			    st[i].idx);
		if (o->lv[l].n == o->lv[l].cap) {
			size_t cap = o->lv[l].cap ? o->lv[l].cap * 2 : 64;
			void *p = realloc(o->lv[l].h, cap * MERKLE_HASH_LEN);
			if (p == NULL)
				return err_set(ERR_NOMEM, "out of memory");
			o->lv[l].h = p;
			o->lv[l].cap = cap;
		}
		memcpy(o->lv[l].h[o->lv[l].n++], st[i].hash, MERKLE_HASH_LEN);
	}
	return 0;
}

static void
overlay_clear(struct overlay *o)
{
	for (size_t l = 0; l < 64; l++)
		free(o->lv[l].h);
}

/* The checks of apply_leaf that need no state: the envelope's signature,
 * the index, a time that does not go back from *prev (updated), the
 * canonical leaf bytes. */
static int
check_copied_leaf(uint64_t idx, const char *val, size_t len, int64_t *prev)
{
	struct replay_leaf l = { 0 };
	char *canon = NULL;
	size_t clen = 0;
	int rc;

	if ((rc = replay_parse_leaf(val, len, &l)) < 0)
		return err_prefix(rc, "entry %" PRIu64, idx);
	if (l.index != idx)
		rc = err_set(ERR_CORRUPT,
		    "entry %" PRIu64 ": its leaf says index %" PRIu64, idx,
		    l.index);
	else if (idx > 0 && l.time < *prev)
		rc = err_set(ERR_CORRUPT,
		    "entry %" PRIu64 ": time %" PRId64
		    " is before the previous entry's %" PRId64,
		    idx, l.time, *prev);
	else if ((rc = store_leaf_bytes(l.e, idx, l.time, &canon, &clen)) ==
	        0 &&
	    (clen != len || memcmp(canon, val, len) != 0))
		rc = err_set(ERR_CORRUPT,
		    "entry %" PRIu64 ": not the canonical leaf bytes of its "
		    "envelope",
		    idx);
	if (rc == 0)
		*prev = l.time;
	free(canon);
	envelope_free(l.e);
	return rc;
}

/* Rebuild the state from the local copy (after a rolled-back copy);
 * under mu.  An empty copy leaves no state. */
static void
rebuild_state_locked(struct market *m)
{
	if (store_size(m->store) == 0) {
		state_free(m->state);
		m->state = NULL;
		return;
	}
	replay_state_locked(m);
}

/* b64 of a hash into out. */
static int
hash_from_b64(const json_t *v, uint8_t out[MERKLE_HASH_LEN])
{
	const char *s = json_string_value(v);
	size_t n = 0;

	if (s == NULL ||
	    b64_decode(s, strlen(s), out, MERKLE_HASH_LEN, &n) < 0 ||
	    n != MERKLE_HASH_LEN)
		return -1;
	return 0;
}

/*
 * One chunk of a copy: leaves [a, b) taken in order (chunk_take: each
 * checked by check_copied_leaf, its hash added to the tree in memory; b
 * lowered when the leaves pass BOOT_CHUNK_BYTES first), then
 * chunk_finish: the Merkle root they make at b against the source's
 * signed checkpoint (equal at its size, else by a consistency proof from
 * b to its size), and only then applied together in one store
 * transaction.  A rule that refuses one rolls the whole chunk back and
 * halts.  Nothing of a chunk is applied unless all of it verified.
 */
struct chunk {
	struct market *m;
	struct overlay o;
	struct {
		char *p;
		size_t len;
	} * lv;
	uint64_t a, b, nlv, k;
	size_t held;
	int64_t prev;
};

/* A consistency proof from old to new, from the copy's source. */
typedef int (*proof_fn)(void *ctx, uint64_t old, uint64_t new,
    uint8_t proof[][MERKLE_HASH_LEN], size_t *n);

static int
chunk_start(struct market *m, struct chunk *c, uint64_t a, uint64_t b)
{
	memset(c, 0, sizeof(*c));
	c->m = m;
	c->a = c->k = c->o.old = a;
	c->b = b;
	c->nlv = b - a;
	if ((c->lv = calloc(c->nlv, sizeof(*c->lv))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&m->mu);
	store_reader(m->store, &c->o.base);
	c->prev = store_last_time(m->store);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

static void
chunk_free(struct chunk *c)
{
	for (uint64_t i = 0; i < c->nlv; i++)
		free(c->lv[i].p);
	free(c->lv);
	overlay_clear(&c->o);
	memset(c, 0, sizeof(*c));
}

/* Leaf idx (leaf: malloc'd, owned from here), the chunk's next. */
static int
chunk_take(struct chunk *c, uint64_t idx, char *leaf, size_t len)
{
	uint8_t lh[MERKLE_HASH_LEN];
	int rc;

	if (idx != c->k || c->k >= c->b) {
		free(leaf);
		return err_set(ERR_CORRUPT,
		    "entry %" PRIu64 " where entry %" PRIu64 " was expected",
		    idx, c->k);
	}
	c->lv[idx - c->a].p = leaf;
	c->lv[idx - c->a].len = len;
	if ((rc = check_copied_leaf(idx, leaf, len, &c->prev)) < 0)
		return rc;
	merkle_leaf_hash(leaf, len, lh);
	pthread_mutex_lock(&c->m->mu);
	rc = overlay_add(&c->o, idx, lh);
	pthread_mutex_unlock(&c->m->mu);
	if (rc < 0)
		return rc;
	c->k++;
	if ((c->held += len) >= BOOT_CHUNK_BYTES && c->k < c->b)
		c->b = c->k; /* enough in memory: verify these */
	return 0;
}

static int
chunk_finish(struct chunk *c, const char *src, const struct checkpoint *cp,
    proof_fn get_proof, void *pctx)
{
	struct market *m = c->m;
	struct merkle_reader r = { overlay_get, &c->o };
	uint8_t root[MERKLE_HASH_LEN], proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint64_t k;
	size_t np = 0;
	int rc;

	if (c->k != c->b)
		return err_set(ERR_CORRUPT,
		    "the source ended at entry %" PRIu64 " (its checkpoint "
		    "says %" PRIu64 ")",
		    c->k, cp->size);
	pthread_mutex_lock(&m->mu);
	rc = merkle_root(c->b, &r, root);
	pthread_mutex_unlock(&m->mu);
	if (rc < 0)
		return rc;
	if (c->b == cp->size && memcmp(root, cp->root, MERKLE_HASH_LEN) != 0)
		return err_set(ERR_ALARM,
		    "entries %" PRIu64 "-%" PRIu64 " do not make the root of "
		    "its signed checkpoint of %" PRIu64,
		    c->a, c->b, cp->size);
	if (c->b < cp->size &&
	    ((rc = get_proof(pctx, c->b, cp->size, proof, &np)) < 0 ||
	        merkle_verify_consistency(c->b, cp->size, root, cp->root, proof,
	            np) < 0))
		return err_set(ERR_ALARM,
		    "entries %" PRIu64 "-%" PRIu64 " are not a prefix of its "
		    "signed checkpoint of %" PRIu64 " (%s)",
		    c->a, c->b, cp->size,
		    rc < 0 ? err_msg() :
		             "the consistency proof does not verify");
	/* all of it verified: apply it as one */
	pthread_mutex_lock(&m->mu);
	if (store_size(m->store) != c->a) {
		pthread_mutex_unlock(&m->mu);
		return err_set(ERR_INVAL,
		    "the local copy moved during the copy");
	}
	if (store_begin(m->store) < 0)
		abort();
	for (k = c->a; k < c->b && rc == 0; k++)
		rc = apply_leaf(m, k, c->lv[k - c->a].p, c->lv[k - c->a].len);
	if (rc < 0) {
		struct market_ha *h = m->ha;
		store_rollback(m->store);
		rebuild_state_locked(m);
		h->halted = 1;
		snprintf(h->halt_msg, sizeof(h->halt_msg),
		    "entry %" PRIu64 " copied from %s verified against its "
		    "signed checkpoint but the rules refuse it: %s; nothing "
		    "of the copy applied, this replica stops at %" PRIu64
		    " entries until an operator looks",
		    k - 1, src, err_msg(), store_size(m->store));
		log_error("%s", h->halt_msg);
		rc = err_set(ERR_CORRUPT, "%s", h->halt_msg);
	} else if (store_commit(m->store) < 0) {
		log_error("ledger commit: %s", err_msg());
		abort();
	}
	m->committed = store_size(m->store);
	pthread_cond_broadcast(&m->committed_cv);
	pthread_mutex_unlock(&m->mu);
	if (rc == 0 && c->b < cp->size)
		log_info("entries %" PRIu64 "-%" PRIu64 " verified (by a "
		         "consistency proof to its signed checkpoint of "
		         "%" PRIu64 ") and applied",
		    c->a, c->b, cp->size);
	return rc;
}

/* A consistency proof from a replica's API (or a mirror of it). */
static int
api_proof(void *ctx, uint64_t old, uint64_t new,
    uint8_t proof[][MERKLE_HASH_LEN], size_t *n)
{
	const char *base = ctx;
	struct http_result res = { 0 };
	char url[600];
	json_t *j = NULL, *pj;
	int rc;

	*n = 0;
	snprintf(url, sizeof(url),
	    "%s/v1/ledger/proof/consistency?old=%" PRIu64 "&new=%" PRIu64, base,
	    old, new);
	if ((rc = peer_get(url, &res)) < 0)
		return rc;
	rc = cjson_parse(res.body, res.body_len, &j);
	http_result_clear(&res);
	pj = json_object_get(j, "proof");
	if (rc == 0 && !json_is_array(pj))
		rc = err_set(ERR_CORRUPT, "%s: expected \"proof\"", url);
	for (size_t i = 0; rc == 0 && i < json_array_size(pj); i++, (*n)++)
		if (i >= MERKLE_MAX_PROOF ||
		    hash_from_b64(json_array_get(pj, i), proof[i]) < 0)
			rc = err_set(ERR_CORRUPT,
			    "%s: proof[%zu]: expected a hash in base64", url,
			    i);
	json_decref(j);
	return rc;
}

/* Entries [a, end of the chunk) through /v1/ledger/entries. */
static int
api_chunk(struct chunk *c, const char *base, const struct checkpoint *cp)
{
	struct http_result res = { 0 };
	char url[600];
	int rc = 0;

	while (c->k < c->b && rc == 0) {
		json_t *j = NULL, *ents;
		size_t n;

		snprintf(url, sizeof(url),
		    "%s/v1/ledger/entries?start=%" PRIu64 "&end=%" PRIu64, base,
		    c->k, c->b);
		if ((rc = peer_get(url, &res)) < 0)
			break;
		rc = cjson_parse(res.body, res.body_len, &j);
		http_result_clear(&res);
		ents = json_object_get(j, "entries");
		if (rc < 0 || (n = json_array_size(ents)) == 0) {
			json_decref(j);
			rc = err_set(ERR_CORRUPT,
			    "%s: no entries (its checkpoint says %" PRIu64 ")",
			    url, cp->size);
			break;
		}
		for (size_t i = 0; i < n && c->k < c->b && rc == 0; i++) {
			json_t *e = json_array_get(ents, i);
			const char *b64 =
			    json_string_value(json_object_get(e, "leaf"));
			json_t *ji = json_object_get(e, "index");
			size_t cap = b64 ? strlen(b64) : 0, len = 0;
			char *leaf = malloc(cap + 1);

			if (leaf == NULL || b64 == NULL ||
			    !json_is_integer(ji) ||
			    (uint64_t)json_integer_value(ji) != c->k ||
			    b64_decode(b64, cap, (uint8_t *)leaf, cap, &len) <
			        0) {
				free(leaf);
				rc = err_set(ERR_CORRUPT,
				    "%s: entries[%zu]: expected \"index\" "
				    "%" PRIu64 " and its \"leaf\" in base64",
				    url, i, c->k);
				break;
			}
			leaf[len] = '\0';
			rc = chunk_take(c, c->k, leaf, len);
		}
		json_decref(j);
	}
	return rc;
}

/* Copying from a stream of leaves in order (C2SP tiles, a git mirror):
 * a chunk verified and applied whenever it is full, its consistency
 * proofs from get_proof. */
struct stream_copy {
	struct market *m;
	const struct checkpoint *cp;
	const char *src;
	struct chunk c;
	int open;
	uint64_t from, chunk_max;
	proof_fn get_proof;
	void *pctx;
};

static int
tiles_proof(void *ctx, uint64_t old, uint64_t new,
    uint8_t proof[][MERKLE_HASH_LEN], size_t *n)
{
	struct merkle_reader r;

	/* the tiles' hashes are unverified: the proof is checked against
	 * the signed root */
	tiles_reader(ctx, new, &r);
	return merkle_consistency_proof(old, new, &r, proof, n);
}

static int
mem_proof(void *ctx, uint64_t old, uint64_t new,
    uint8_t proof[][MERKLE_HASH_LEN], size_t *n)
{
	struct merkle_reader r;

	merkle_mem_reader(ctx, &r);
	return merkle_consistency_proof(old, new, &r, proof, n);
}

static int
stream_leaf(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct stream_copy *sc = ctx;
	char *leaf;
	int rc;

	(void)time;
	if (idx < sc->from)
		return 0; /* held here already */
	if (idx >= sc->cp->size)
		return err_set(ERR_CORRUPT,
		    "entry %" PRIu64 " past its checkpoint of %" PRIu64, idx,
		    sc->cp->size);
	if (!sc->open) {
		uint64_t end = sc->cp->size - idx > sc->chunk_max ?
		    idx + sc->chunk_max :
		    sc->cp->size;
		if ((rc = chunk_start(sc->m, &sc->c, idx, end)) < 0)
			return rc;
		sc->open = 1;
	}
	if ((leaf = malloc(len + 1)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(leaf, data, len);
	leaf[len] = '\0';
	if ((rc = chunk_take(&sc->c, idx, leaf, len)) < 0)
		return err_prefix(rc,
		    "nothing of entries %" PRIu64 "-%" PRIu64 " applied",
		    sc->c.a, sc->c.b);
	if (sc->c.k < sc->c.b)
		return 0;
	rc = chunk_finish(&sc->c, sc->src, sc->cp, sc->get_proof, sc->pctx);
	if (rc < 0)
		err_prefix(rc,
		    "nothing of entries %" PRIu64 "-%" PRIu64 " applied",
		    sc->c.a, sc->c.b);
	chunk_free(&sc->c);
	sc->open = 0;
	return rc;
}

/* After a stream: a chunk still open means the source ended early. */
static int
stream_end(struct stream_copy *sc, int rc)
{
	if (rc == 0 && sc->open)
		rc = err_set(ERR_CORRUPT,
		    "the source ends at entry %" PRIu64
		    " (nothing of entries %" PRIu64 "-%" PRIu64 " applied)",
		    sc->c.k, sc->c.a, sc->c.b);
	if (sc->open)
		chunk_free(&sc->c);
	sc->open = 0;
	return rc;
}

static int
mem_leaf(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	uint8_t lh[MERKLE_HASH_LEN];

	(void)time;
	if (idx != merkle_mem_size(ctx))
		return err_set(ERR_CORRUPT, "entry %" PRIu64 " out of order",
		    idx);
	merkle_leaf_hash(data, len, lh);
	return merkle_mem_append(ctx, lh);
}

static int source_checkpoint(struct market *m, const char *url,
    const char *note, size_t len, uint64_t upto, struct checkpoint *cp);

/*
 * From a git mirror (`ledger mirror`, or a clone of one) in the local
 * folder dir: a first read hashes every leaf into a tree in memory (the
 * source of consistency proofs, untrusted: each is checked against the
 * signed root), then its head checkpoint is checked (source_checkpoint)
 * and a second read copies the leaves this replica lacks, chunk by
 * chunk as from tiles.
 */
static int
bootstrap_from_mirror(struct market *m, const char *dir, uint64_t upto)
{
	struct market_ha *h = m->ha;
	struct merkle_mem *mem = NULL;
	struct checkpoint cp = { 0 };
	struct stream_copy sc = { 0 };
	char *note = NULL, *note2 = NULL;
	uint64_t from;
	int rc;

	if ((rc = merkle_mem_new(&mem)) < 0)
		return rc;
	if ((rc = mirror_read(dir, mem_leaf, mem, &note)) < 0) {
		err_prefix(rc, "%s (a git mirror)", dir);
		goto out;
	}
	if ((rc = source_checkpoint(m, dir, note, strlen(note), upto, &cp)) <
	    0) {
		/* a mirror behind etcd's compaction is still a mirror: not
		 * ERR_NOTFOUND, which makes the caller try tiles instead
		 * (and say "neither a git mirror nor ... tiles") */
		if (rc == ERR_NOTFOUND)
			rc = ERR_RANGE;
		goto out;
	}
	if (merkle_mem_size(mem) != cp.size) {
		rc = err_set(ERR_CORRUPT,
		    "%s: %" PRIu64 " entries under a checkpoint of %" PRIu64,
		    dir, merkle_mem_size(mem), cp.size);
		goto out;
	}
	pthread_mutex_lock(&m->mu);
	from = store_size(m->store);
	pthread_mutex_unlock(&m->mu);
	log_info("copying entries %" PRIu64 "-%" PRIu64 " from %s (a git "
	         "mirror; compacted from etcd below %" PRIu64 ")",
	    from, cp.size, dir, upto);
	sc = (struct stream_copy){ .m = m,
		.cp = &cp,
		.src = dir,
		.from = from,
		.chunk_max = h->boot_chunk,
		.get_proof = mem_proof,
		.pctx = mem };
	rc = stream_end(&sc,
	    from < cp.size ? mirror_read(dir, stream_leaf, &sc, &note2) : 0);
	if (rc == 0 && note2 != NULL && strcmp(note, note2) != 0)
		rc = err_set(ERR_CORRUPT, "its head moved during the copy");
	if (rc < 0) {
		err_prefix(rc, "copying from %s (a git mirror)", dir);
		goto out;
	}
	log_info("copied %" PRIu64 " entries from %s, verified each and the "
	         "root of its signed checkpoint",
	    cp.size - from, dir);
out:
	free(note);
	free(note2);
	merkle_mem_free(mem);
	checkpoint_clear(&cp);
	return rc;
}

/* The source's checkpoint (url): signed by the market key, of this
 * ledger, covering upto. */
static int
source_checkpoint(struct market *m, const char *url, const char *note,
    size_t len, uint64_t upto, struct checkpoint *cp)
{
	struct note_verifier v;
	uint8_t pub[KEY_PUB_LEN];
	char *text = NULL;
	int rc;

	key_public(m->key, pub);
	if ((rc = note_verifier_init(&v, store_origin(m->store),
	         NOTE_SIG_ED25519, pub)) < 0)
		return rc;
	if ((rc = note_open(note, len, &v, 1, &text, NULL)) < 0) {
		free(text);
		return err_prefix(rc,
		    "%s: not a checkpoint signed by this market's key "
		    "(%s/market.key)",
		    url, m->dir);
	}
	rc = checkpoint_parse(text, strlen(text), cp);
	free(text);
	if (rc < 0)
		return err_prefix(rc, "%s", url);
	if (strcmp(cp->origin, store_origin(m->store)) != 0)
		return err_set(ERR_CORRUPT,
		    "%s: a checkpoint of \"%s\", not of this ledger (\"%s\")",
		    url, cp->origin, store_origin(m->store));
	if (cp->size < upto)
		return err_set(ERR_NOTFOUND,
		    "%s: its checkpoint (%" PRIu64 ") is below the %" PRIu64
		    " entries compacted from etcd; later",
		    url, cp->size, upto);
	return 0;
}

/*
 * Entries below what etcd still holds (compacted away) from another copy
 * (--bootstrap-from, else the sequencer's API): a replica's read API
 * (/v1/ledger/...), or, when base serves none, C2SP tiles (/checkpoint,
 * /tile/...).  Its checkpoint must be signed by the market key and cover
 * upto; then every entry up to its size, in chunks each verified whole
 * (chunk_finish) before it is applied.
 */
static int
bootstrap_from_peer(struct market *m, struct etcd *ec, uint64_t upto)
{
	struct market_ha *h = m->ha;
	struct checkpoint cp = { 0 };
	struct http_result res = { 0 };
	struct tiles *t = NULL;
	uint8_t pub[KEY_PUB_LEN];
	char base[320], url[400], *note = NULL;
	size_t nlen = 0;
	uint64_t size, from;
	int rc;

	if (h->boot_url[0] != '\0') {
		snprintf(base, sizeof(base), "%s", h->boot_url);
	} else {
		/* the sequencer's address, from the election key */
		struct etcd_range r;
		char lkey[KEY_MAX];
		size_t lkl =
		    (size_t)snprintf(lkey, sizeof(lkey), "%sleader", h->prefix);

		if ((rc = etcd_range(ec, lkey, lkl, NULL, 0, 0, 1, &r)) < 0)
			return rc;
		if (r.n > 0)
			leader_from_value(h, &r.kvs[0]);
		pthread_mutex_lock(&h->lmu);
		snprintf(base, sizeof(base), "%s",
		    r.n > 0 ? h->leader_url : "");
		pthread_mutex_unlock(&h->lmu);
		etcd_range_clear(&r);
		if (base[0] == '\0' || strcmp(base, h->url) == 0)
			return err_set(ERR_NOTFOUND,
			    "no sequencer is known to copy them from (yet; "
			    "--bootstrap-from names another source)");
	}
	if (strncmp(base, "http://", 7) != 0 &&
	    strncmp(base, "https://", 8) != 0) {
		/* a folder: a git mirror, else tiles */
		if ((rc = bootstrap_from_mirror(m, base, upto)) != ERR_NOTFOUND)
			return rc;
		err_clear();
		if ((rc = tiles_open(base, &t)) < 0)
			return err_prefix(rc, "%s", base);
		snprintf(url, sizeof(url), "%s/checkpoint", base);
		if ((rc = tiles_checkpoint(t, &note, &nlen)) < 0) {
			err_prefix(rc,
			    "%s: neither a git mirror nor a folder of tiles",
			    base);
			goto out;
		}
		goto have_note;
	}
	key_public(m->key, pub);
	if (strncmp(base, "https://", 8) == 0)
		http_pin(base, pub);
	snprintf(url, sizeof(url), "%s/v1/ledger/checkpoint", base);
	memset(&res, 0, sizeof(res));
	if ((rc = http_fetch("GET", url, NULL, NULL, 0, 20000, &res)) < 0)
		return rc;
	if (res.status == 404) {
		/* no read API: a tiles mirror? */
		http_result_clear(&res);
		if ((rc = tiles_open(base, &t)) < 0)
			return err_prefix(rc, "%s", base);
		snprintf(url, sizeof(url), "%s/checkpoint", base);
		if ((rc = tiles_checkpoint(t, &note, &nlen)) < 0) {
			err_prefix(rc,
			    "%s: neither a replica's read API "
			    "(/v1/ledger/checkpoint: 404) nor tiles",
			    base);
			goto out;
		}
	} else if (res.status != 200) {
		rc = err_set(ERR_IO, "%s: HTTP %ld", url, res.status);
		http_result_clear(&res);
		return rc;
	} else {
		note = res.body;
		nlen = res.body_len;
		res.body = NULL;
	}
have_note:
	if ((rc = source_checkpoint(m, url, note, nlen, upto, &cp)) < 0)
		goto out;
	pthread_mutex_lock(&m->mu);
	from = store_size(m->store);
	pthread_mutex_unlock(&m->mu);
	log_info("copying entries %" PRIu64 "-%" PRIu64 " from %s%s "
	         "(compacted from etcd below %" PRIu64 ")",
	    from, cp.size, base, t ? " (tiles)" : "", upto);
	if (t != NULL) {
		struct stream_copy sc = { .m = m,
			.cp = &cp,
			.src = base,
			.from = from,
			.chunk_max = h->boot_chunk,
			.get_proof = tiles_proof,
			.pctx = t };

		rc = stream_end(&sc,
		    from < cp.size ? tiles_foreach_entry_from(t, from, cp.size,
		                         stream_leaf, &sc) :
		                     0);
		if (rc < 0) {
			err_prefix(rc, "copying from %s (tiles)", base);
			goto out;
		}
	}
	for (size = from; t == NULL && size < cp.size;) {
		struct chunk c;

		if ((rc = chunk_start(m, &c, size,
		         cp.size - size > h->boot_chunk ? size + h->boot_chunk :
		                                          cp.size)) < 0)
			goto out;
		if ((rc = api_chunk(&c, base, &cp)) == 0)
			rc = chunk_finish(&c, base, &cp, api_proof, base);
		if (rc < 0)
			err_prefix(rc,
			    "copying from %s (nothing of entries "
			    "%" PRIu64 "-%" PRIu64 " applied)",
			    base, c.a, c.b);
		size = c.b;
		chunk_free(&c);
		if (rc < 0)
			goto out;
	}
	log_info("copied %" PRIu64 " entries from %s, verified each and the "
	         "root of its signed checkpoint",
	    cp.size - from, base);
out:
	free(note);
	tiles_free(t);
	checkpoint_clear(&cp);
	return rc;
}

static uint64_t
store_size_locked(struct market *m)
{
	uint64_t n;

	pthread_mutex_lock(&m->mu);
	n = store_size(m->store);
	pthread_mutex_unlock(&m->mu);
	return n;
}

/* Why compaction does not go on, logged once (the loop thread's). */
static void __attribute__((format(printf, 2, 3)))
compact_note(struct market_ha *h, const char *fmt, ...)
{
	char msg[sizeof(h->compact_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, h->compact_msg) == 0)
		return;
	snprintf(h->compact_msg, sizeof(h->compact_msg), "%s", msg);
	log_warn("%s", msg);
}

/*
 * Compaction, by the sequencer: the entries every replica reports it
 * holds (applied/<name>) and a published (with witnesses: cosigned)
 * checkpoint covers are deleted from etcd, and etcd's history before
 * that compacted.  <prefix>compacted says where etcd's entries start.
 */
static void
compact(struct market *m)
{
	struct market_ha *h = m->ha;
	char key[KEY_MAX], end[KEY_MAX], lkey[KEY_MAX], val[32];
	size_t kl = (size_t)snprintf(key, sizeof(key), "%sapplied/", h->prefix);
	size_t el = etcd_prefix_end(key, kl, end), ekl;
	struct etcd_cmp cmp;
	struct etcd_put put;
	struct etcd_range r;
	uint64_t min = UINT64_MAX, published, done;
	int64_t rev = 0;
	int ok = 0, bad = 0;

	if (etcd_range(h->ec, key, kl, end, el, 0, 0, &r) < 0)
		return;
	for (size_t i = 0; i < r.n; i++) {
		uint64_t v;
		if (util_parse_u64(r.kvs[i].value, "applied", &v) == 0 &&
		    v < min)
			min = v;
	}
	if (r.n == 0)
		min = 0;
	etcd_range_clear(&r);
	pthread_mutex_lock(&m->mu);
	published = m->published_size;
	cmp.create_revision = h->leader_rev;
	pthread_mutex_unlock(&m->mu);
	if (published < min)
		min = published;
	if (read_number(h, h->ec, "compacted", &done, &bad) < 0) {
		if (bad)
			compact_note(h, "etcd compaction stopped: %s",
			    err_msg());
		return;
	}
	if (done > store_size_locked(m)) {
		compact_note(h,
		    "etcd compaction stopped: its compacted marker (%" PRIu64
		    ") is past this sequencer's %" PRIu64
		    " entries (set by hand?)",
		    done, store_size_locked(m));
		return;
	}
	h->compact_msg[0] = '\0';
	if (min <= done)
		return;
	/* fenced like every write: only the sequencer compacts */
	cmp.key = lkey;
	cmp.op = ETCD_CMP_EQUAL;
	cmp.key_len =
	    (size_t)snprintf(lkey, sizeof(lkey), "%sleader", h->prefix);
	put.key = key;
	put.key_len =
	    (size_t)snprintf(key, sizeof(key), "%scompacted", h->prefix);
	put.value = val;
	put.value_len = (size_t)snprintf(val, sizeof(val), "%" PRIu64, min);
	put.lease = 0;
	if (etcd_txn(h->ec, &cmp, 1, &put, 1, NULL, 0, &ok, NULL, NULL) < 0 ||
	    !ok)
		return;
	kl = entry_key(h, 0, key);
	ekl = entry_key(h, min, end);
	if (etcd_delete(h->ec, key, kl, end, ekl, NULL) < 0)
		return;
	/* the revision now: history before it goes too */
	if (etcd_range(h->ec, end, ekl, NULL, 0, 1, 0, &r) == 0) {
		rev = r.revision;
		etcd_range_clear(&r);
	}
	if (rev > 0 && etcd_compact(h->ec, rev) < 0)
		log_warn("etcd compaction at revision %" PRId64 ": %s", rev,
		    err_msg());
	log_info("etcd compacted: entries below %" PRIu64 " deleted (held "
	         "by every replica, under a published checkpoint)",
	    min);
}

/* Won the election: catch up with everything etcd holds (a linearizable
 * read: no entry the last sequencer had committed is missed), then
 * sequence from there, first the derived entries a predecessor left
 * pending (its cause is in etcd, its derivation not yet). */
static int
become_sequencer(struct market *m, int64_t rev, int64_t t0)
{
	struct market_ha *h = m->ha;
	int64_t r;
	int rc;

	if ((rc = catch_up(m, h->ec, 0, &r)) < 0)
		return rc;
	pthread_mutex_lock(&m->mu);
	if (h->halted) {
		pthread_mutex_unlock(&m->mu);
		return err_set(ERR_CORRUPT, "%s", h->halt_msg);
	}
	h->leader_rev = rev;
	h->sequencing = 1;
	h->term++;
	h->next = store_size(m->store);
	h->last_time = store_last_time(m->store);
	h->fail_msg[0] = '\0';
	if ((rc = market_drain_pending_locked(m)) < 0)
		log_warn("completing derived entries: %s", err_msg());
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_lock(&h->lmu);
	snprintf(h->leader_name, sizeof(h->leader_name), "%s", h->name);
	snprintf(h->leader_url, sizeof(h->leader_url), "%s", h->url);
	pthread_mutex_unlock(&h->lmu);
	log_info("replica %s is the sequencer from entry %" PRIu64
	         " (elected and caught up in %.0f ms)",
	    h->name, h->next, (double)(mono_ns() - t0) / 1e6);
	return 0;
}

/* One campaign: take the election key when it is free.  1: elected. */
static int
campaign(struct market *m)
{
	struct market_ha *h = m->ha;
	char lkey[KEY_MAX], *val = NULL;
	size_t lkl =
	    (size_t)snprintf(lkey, sizeof(lkey), "%sleader", h->prefix);
	struct etcd_cmp cmp = { lkey, lkl, 0, ETCD_CMP_EQUAL };
	struct etcd_put put;
	struct etcd_kv cur;
	int64_t rev = 0, t0 = mono_ns();
	int ok = 0, rc;
	json_t *v;

	/* who holds it (one read) before asking for a lease */
	{
		struct etcd_range r;

		if ((rc = etcd_range(h->ec, lkey, lkl, NULL, 0, 0, 0, &r)) < 0)
			return rc;
		if (r.n > 0) {
			if (h->lease != 0 && r.kvs[0].lease == h->lease) {
				/* ours from a term that ended (etcd refused
				 * a write): free it for whoever comes first */
				etcd_lease_revoke(h->ec, h->lease);
				h->lease = 0;
				leader_clear(h);
			} else {
				leader_from_value(h, &r.kvs[0]);
			}
			etcd_range_clear(&r);
			return 0;
		}
		etcd_range_clear(&r);
	}
	if (h->lease != 0) {
		etcd_lease_revoke(h->ec, h->lease);
		h->lease = 0;
	}
	if ((rc = etcd_lease_grant(h->ec, MARKET_HA_LEASE_S, &h->lease)) < 0)
		return rc;
	v = json_pack("{s:s,s:s}", "name", h->name, "url", h->url);
	if (v == NULL || (val = json_dumps(v, JSON_COMPACT)) == NULL) {
		json_decref(v);
		return err_set(ERR_NOMEM, "out of memory");
	}
	json_decref(v);
	put = (struct etcd_put){ lkey, val, lkl, strlen(val), h->lease };
	rc = etcd_txn(h->ec, &cmp, 1, &put, 1, lkey, lkl, &ok, &rev, &cur);
	free(val);
	if (rc < 0)
		return rc;
	if (ok) {
		if ((rc = become_sequencer(m, rev, t0)) < 0) {
			/* give the election back at once */
			etcd_lease_revoke(h->ec, h->lease);
			h->lease = 0;
			return rc;
		}
		return 1;
	}
	/* lost the race: the lease is not needed */
	etcd_lease_revoke(h->ec, h->lease);
	h->lease = 0;
	if (cur.key == NULL) /* gone between compare and read */
		return 0;
	leader_from_value(h, &cur);
	free(cur.key);
	free(cur.value);
	return 0;
}

/*
 * Report how many entries this replica holds under applied/<name>
 * (at most every second), a key attached to an etcd lease of ttl_s
 * refreshed every third of it: a replica gone for longer than ttl_s
 * (killed for good, halted, cut off) no longer holds compaction back;
 * when it comes back, it copies what was compacted meanwhile.
 */
static void
report_applied(struct market *m)
{
	struct market_ha *h = m->ha;
	char key[KEY_MAX], val[32];
	struct etcd_put p;
	int64_t now = mono_ns(), ttl;
	uint64_t n;
	int ok, rc;

	if (now - h->last_report_ns < 1000000000LL)
		return;
	h->last_report_ns = now;
	pthread_mutex_lock(&m->mu);
	n = store_size(m->store);
	pthread_mutex_unlock(&m->mu);
	if (h->alease != 0 &&
	    now - h->alease_ns >= h->ttl_s * 1000000000LL / 3) {
		rc = etcd_lease_keepalive(h->ec, h->alease, &ttl);
		if (rc == ERR_NOTFOUND) {
			log_warn("the lease under applied/%s expired (not "
			         "refreshed for %" PRId64 " s): compaction may "
			         "have gone on without this replica; taking a "
			         "new one",
			    h->name, h->ttl_s);
			h->alease = 0;
		} else if (rc < 0) {
			return; /* etcd unreachable: next time */
		} else {
			h->alease_ns = now;
		}
	}
	if (h->alease == 0) {
		if (etcd_lease_grant(h->ec, h->ttl_s, &h->alease) < 0) {
			h->alease = 0;
			return;
		}
		h->alease_ns = now;
		h->reported = UINT64_MAX; /* the key goes under it */
	}
	if (n == h->reported)
		return;
	p.key = key;
	p.key_len = (size_t)snprintf(key, sizeof(key), "%sapplied/%s",
	    h->prefix, h->name);
	p.value = val;
	p.value_len = (size_t)snprintf(val, sizeof(val), "%" PRIu64, n);
	p.lease = h->alease;
	if (etcd_txn(h->ec, NULL, 0, &p, 1, NULL, 0, &ok, NULL, NULL) == 0)
		h->reported = n;
}

struct watch_ctx {
	struct market *m;
	char lkey[KEY_MAX];
	size_t lkl;
};

static int
watch_cb(void *ctx, const struct etcd_kv *kv, int deleted, int64_t rev)
{
	struct watch_ctx *w = ctx;
	struct market_ha *h = w->m->ha;
	uint64_t idx;

	(void)rev;
	if (kv->key_len == w->lkl && memcmp(kv->key, w->lkey, w->lkl) == 0) {
		if (deleted)
			return 1; /* the sequencer is gone: campaign now */
		leader_from_value(h, kv);
		return 0;
	}
	if (deleted || key_index(h, kv->key, kv->key_len, &idx) < 0)
		return 0;
	return apply_kvs(w->m, kv, 1);
}

/* A message of the watch (a batch of entries, the election key, or
 * several revisions when catching up): each run of entries applied in one
 * store transaction, with one wake-up of the submitters waiting to read
 * their own writes. */
static int
watch_batch_cb(void *ctx, const struct etcd_kv *kvs, const int *deleted,
    size_t n, int64_t rev)
{
	struct watch_ctx *w = ctx;
	struct market_ha *h = w->m->ha;
	size_t run = 0; /* entries from kvs[i - run] */
	uint64_t idx;
	int rc;

	for (size_t i = 0; i <= n; i++) {
		int entry = i < n && !deleted[i] &&
		    key_index(h, kvs[i].key, kvs[i].key_len, &idx) == 0;

		if (entry) {
			run++;
			continue;
		}
		if (run > 0 && (rc = apply_kvs(w->m, kvs + i - run, run)) != 0)
			return rc;
		run = 0;
		if (i < n &&
		    (rc = watch_cb(ctx, &kvs[i], deleted[i], rev)) != 0)
			return rc;
	}
	return 0;
}

/* Who sequences now, from the election key (a stalled replica does not
 * watch it, yet forwards submissions to it). */
static void
refresh_leader(struct market_ha *h)
{
	char lkey[KEY_MAX];
	size_t lkl =
	    (size_t)snprintf(lkey, sizeof(lkey), "%sleader", h->prefix);
	struct etcd_range r;

	if (etcd_range(h->ec, lkey, lkl, NULL, 0, 0, 1, &r) < 0)
		return;
	if (r.n > 0)
		leader_from_value(h, &r.kvs[0]);
	else
		leader_clear(h);
	etcd_range_clear(&r);
}

static void
nap(struct market *m, long ms)
{
	while (ms > 0 && !atomic_load(&m->stopping)) {
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
		ms -= 50;
	}
}

static void *
loop_main(void *arg)
{
	struct market *m = arg;
	struct market_ha *h = m->ha;
	struct watch_ctx w = { .m = m };
	char end[KEY_MAX];
	size_t el = etcd_prefix_end(h->prefix, h->prefix_len, end);

	int64_t last_compact = mono_ns();
	long backoff = 0;

	w.lkl = (size_t)snprintf(w.lkey, sizeof(w.lkey), "%sleader", h->prefix);
	while (!atomic_load(&m->stopping)) {
		int64_t rev = 0, ttl;
		int seq, halted, rc;

		pthread_mutex_lock(&m->mu);
		seq = h->sequencing;
		halted = h->halted;
		pthread_mutex_unlock(&m->mu);
		if (seq) {
			/* a third of the lease between refreshes */
			/* Only an expired lease ends the term here: while
			 * etcd cannot be reached nobody else can be elected
			 * either (a new Raft leader extends every lease),
			 * and the fence in every write is what keeps a
			 * deposed sequencer from appending. */
			rc = etcd_lease_keepalive(h->ec, h->lease, &ttl);
			if (rc < 0) {
				set_etcd_error(h, err_msg());
				if (rc == ERR_NOTFOUND) {
					char why[600];
					snprintf(why, sizeof(why),
					    "the election lease could not be "
					    "refreshed: %s",
					    err_msg());
					pthread_mutex_lock(&m->mu);
					step_down_locked(m, why);
					pthread_mutex_unlock(&m->mu);
					h->lease = 0;
					leader_clear(h);
					continue;
				}
			}
			report_applied(m);
			if (mono_ns() - last_compact > 3000000000LL) {
				compact(m);
				last_compact = mono_ns();
			}
			nap(m, MARKET_HA_LEASE_S * 1000 / 3);
			continue;
		}
		if (halted) {
			nap(m, 500);
			continue;
		}
		if ((rc = catch_up(m, h->ec, 1, &rev)) < 0) {
			if (stalled(h)) {
				refresh_leader(h);
				/* 0.5 s, doubling up to 16 s: a copy that
				 * fails may be large to fetch again */
				backoff = backoff ? backoff * 2 : 500;
				if (backoff > 16000)
					backoff = 16000;
				nap(m, backoff);
				continue;
			}
			set_etcd_error(h, err_msg());
			nap(m, 300);
			continue;
		}
		unstall(h);
		backoff = 0;
		if ((rc = campaign(m)) < 0) {
			set_etcd_error(h, err_msg());
			leader_clear(h);
			nap(m, 300);
			continue;
		}
		if (rc == 1) {
			set_etcd_error(h, "");
			continue;
		}
		set_etcd_error(h, "");
		report_applied(m);
		/* follow until the sequencer's key goes, a gap, a second */
		rc = etcd_watch_batch(h->ec, h->prefix, h->prefix_len, end, el,
		    rev + 1, 1000, watch_batch_cb, &w, &m->stopping);
		if (rc < 0 && rc != ERR_NOTFOUND) {
			set_etcd_error(h, err_msg());
			nap(m, 200);
		}
	}
	if (h->lease != 0) {
		int seq;
		/* hand the election over now rather than at expiry */
		pthread_mutex_lock(&m->mu);
		seq = h->sequencing;
		pthread_mutex_unlock(&m->mu);
		if (seq)
			etcd_lease_revoke(h->ec, h->lease);
	}
	return NULL;
}

/* ---- open, start, free ------------------------------------------------ */

/* Offer cfg's genesis as entry 0, only if etcd holds none. */
static int
offer_genesis(struct market *m, const struct state_config *cfg)
{
	struct market_ha *h = m->ha;
	struct envelope *e = NULL;
	json_t *body = NULL;
	char key[KEY_MAX], ckey[KEY_MAX], *leaf = NULL;
	size_t kl = entry_key(h, 0, key), len = 0;
	/* absent, and never compacted away (a ledger that is older) */
	struct etcd_cmp cmp[2] = { { key, kl, 0, ETCD_CMP_EQUAL },
		{ ckey,
		    (size_t)snprintf(ckey, sizeof(ckey), "%scompacted",
		        h->prefix),
		    0, ETCD_CMP_EQUAL } };
	struct etcd_put put;
	int ok = 0, rc;

	if ((rc = replay_genesis_body(cfg, &body)) < 0 ||
	    (rc = envelope_sign(m->key, REPLAY_GENESIS_KIND, body, "market-0",
	         util_now_ms(), &e)) < 0 ||
	    (rc = store_leaf_bytes(e, 0, e->time_ms, &leaf, &len)) < 0)
		goto out;
	put = (struct etcd_put){ key, leaf, kl, len, 0 };
	if ((rc = etcd_txn(h->ec, cmp, 2, &put, 1, NULL, 0, &ok, NULL, NULL)) <
	    0)
		goto out;
	if (ok)
		log_info("replica %s wrote the genesis of a new ledger",
		    h->name);
out:
	json_decref(body);
	envelope_free(e);
	free(leaf);
	return rc;
}

int
market_ha_open(struct market *m, const struct market_options *o,
    const struct state_config *cfg)
{
	struct market_ha *h;
	uint8_t pub[KEY_PUB_LEN];
	int64_t rev;
	int rc;

	if (o->replica == NULL || !market_ha_name_ok(o->replica))
		return err_set(ERR_INVAL,
		    "--replica \"%.80s\": expected a name of 1-63 letters, "
		    "digits, '.', '_' or '-' (not first), unique among the "
		    "replicas",
		    o->replica ? o->replica : "");
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	m->ha = h;
	pthread_mutex_init(&h->lmu, NULL);
	pthread_cond_init(&h->q_cv, NULL);
	snprintf(h->name, sizeof(h->name), "%s", o->replica);
	h->ttl_s = (o->replica_ttl_ms > 0 ? o->replica_ttl_ms :
	                                    MARKET_HA_REPLICA_TTL_MS_DEFAULT) /
	    1000;
	h->reported = UINT64_MAX;
	/* LODGE_BOOT_CHUNK: smaller chunks, for the tests of copies made
	 * of several (each checked by a consistency proof) */
	h->boot_chunk = BOOT_CHUNK;
	if (getenv("LODGE_BOOT_CHUNK") != NULL) {
		long c = atol(getenv("LODGE_BOOT_CHUNK"));
		if (c > 0 && c < BOOT_CHUNK)
			h->boot_chunk = (uint64_t)c;
	}
	if (o->bootstrap_from != NULL) {
		if (strlen(o->bootstrap_from) >= sizeof(h->boot_url))
			return err_set(ERR_INVAL,
			    "--bootstrap-from: a URL of at most %zu bytes",
			    sizeof(h->boot_url) - 1);
		snprintf(h->boot_url, sizeof(h->boot_url), "%s",
		    o->bootstrap_from);
		/* no trailing '/': paths are appended */
		for (size_t n = strlen(h->boot_url);
		     n > 0 && h->boot_url[n - 1] == '/'; n--)
			h->boot_url[n - 1] = '\0';
	}
	/* a write not answered in 5 s (a member lost, a new Raft leader)
	 * is resolved by reading it back (resolve_unknown) */
	if ((rc = etcd_new(o->etcd, 3000, &h->ec)) < 0 ||
	    (rc = etcd_new(o->etcd, 5000, &h->wc)) < 0)
		return err_prefix(rc, "--etcd");
	key_public(m->key, pub);
	if (access(m->db_path, F_OK) != 0) {
		if ((rc = note_name_check(o->origin)) < 0)
			return err_prefix(ERR_INVAL, "--origin");
		if ((rc = store_create(m->db_path, o->origin, pub, &m->store)) <
		    0)
			return rc;
		m->cfg = *cfg;
	} else {
		char *fallback = NULL;
		uint64_t from = 0;

		if ((rc = store_open(m->db_path, 0, &m->store)) < 0)
			return rc;
		if (store_size(m->store) > 0 &&
		    (rc = snapshot_replay(m->store, m->snap_path,
		         cfg->check_invariants, &m->state, &m->cfg, &from,
		         &fallback)) < 0) {
			free(fallback);
			return err_prefix(rc, "replaying %s", m->db_path);
		}
		if (fallback != NULL)
			log_warn("state snapshot not used: %s", fallback);
		free(fallback);
		m->snap_size = from;
		if (store_size(m->store) == 0)
			m->cfg = *cfg;
	}
	h->prefix_len = (size_t)snprintf(h->prefix, sizeof(h->prefix),
	    "/lodge/%s/", store_origin(m->store));
	if (store_size(m->store) == 0 && (rc = offer_genesis(m, cfg)) < 0)
		return err_prefix(rc, "etcd (a first start needs it)");
	rc = catch_up(m, h->ec, 0, &rev);
	if (rc < 0 && (store_size(m->store) == 0 || h->halted))
		return err_prefix(rc, "catching up from etcd");
	if (rc < 0)
		log_warn("catching up from etcd: %s; serving the %" PRIu64
		         " entries here meanwhile",
		    err_msg(), store_size(m->store));
	err_clear();
	return 0;
}

int
market_ha_start(struct market *m)
{
	struct market_ha *h = m->ha;

	if (m->advertise != NULL)
		snprintf(h->url, sizeof(h->url), "%s", m->advertise);
	else
		snprintf(h->url, sizeof(h->url), "%s://%s%s%s:%u",
		    m->tls ? "https" : "http",
		    strchr(m->listen_host, ':') ? "[" : "", m->listen_host,
		    strchr(m->listen_host, ':') ? "]" : "", market_port(m));
	if (pthread_create(&h->writer, NULL, writer_main, m) != 0)
		return err_set(ERR_IO, "cannot start the etcd writer thread");
	h->writer_started = 1;
	if (pthread_create(&h->loop, NULL, loop_main, m) != 0)
		return err_set(ERR_IO, "cannot start the replica thread");
	h->loop_started = 1;
	return 0;
}

void
market_ha_free(struct market *m)
{
	struct market_ha *h = m->ha;

	if (h == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	pthread_cond_broadcast(&h->q_cv);
	pthread_mutex_unlock(&m->mu);
	if (h->writer_started)
		pthread_join(h->writer, NULL);
	if (h->loop_started)
		pthread_join(h->loop, NULL);
	free_items(h->q, h->nq);
	free(h->q);
	etcd_free(h->ec);
	etcd_free(h->wc);
	pthread_cond_destroy(&h->q_cv);
	pthread_mutex_destroy(&h->lmu);
	free(h);
	m->ha = NULL;
}

/* ---- the API's part --------------------------------------------------- */

/* Forwarding keeps one libcurl handle per HTTP worker thread, so its
 * connection to the sequencer (and TLS session) is reused: a new one per
 * submission cost more than the submission. */
static pthread_once_t fwd_once = PTHREAD_ONCE_INIT;
static pthread_key_t fwd_key;

/* Forwards in flight (this process's replica): each holds an HTTP worker
 * until the sequencer answers (up to 10 s when it is slow, e.g. etcd
 * without its quorum), so past MARKET_HA_FORWARDS a submission is
 * answered 503 at once and the other workers stay free for reads. */
#define MARKET_HA_FORWARDS 48
static atomic_uint fwd_inflight;

static void
fwd_free(void *c)
{
	curl_easy_cleanup(c);
}

static void
fwd_init(void)
{
	pthread_key_create(&fwd_key, fwd_free);
}

struct fwd_buf {
	char *p;
	size_t len;
};

static size_t
fwd_write(char *data, size_t size, size_t n, void *ctx)
{
	struct fwd_buf *b = ctx;
	size_t len = size * n;
	char *p;

	if (b->len + len > 1024 * 1024 ||
	    (p = realloc(b->p, b->len + len + 1)) == NULL)
		return 0; /* an answer to a submission is small */
	memcpy(p + b->len, data, len);
	b->len += len;
	p[b->len] = '\0';
	b->p = p;
	return len;
}

/* POST body to url on this thread's handle: the status, or -1 (err_msg
 * says why). *answer is malloc'd. */
static long
fwd_post(const char *url, const char *body, size_t len, char **answer)
{
	struct curl_slist *hl = NULL;
	struct fwd_buf b = { NULL, 0 };
	long status = -1;
	CURLcode cc;
	CURL *c;

	*answer = NULL;
	pthread_once(&fwd_once, fwd_init);
	if ((c = pthread_getspecific(fwd_key)) == NULL) {
		if ((c = curl_easy_init()) == NULL) {
			err_set(ERR_NOMEM, "curl: cannot create a handle");
			return -1;
		}
		pthread_setspecific(fwd_key, c);
	} else {
		curl_easy_reset(c);
	}
	hl = curl_slist_append(hl, "Content-Type: application/json");
	hl = curl_slist_append(hl, "X-Lodge-Forwarded: 1");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwd_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	http_curl_pin(c, url);
	cc = curl_easy_perform(c);
	curl_slist_free_all(hl);
	if (cc != CURLE_OK) {
		http_curl_error("POST", url, (int)cc);
		free(b.p);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	*answer = b.p ? b.p : strdup("");
	return status;
}

/* Read your writes: a 201 relayed by a follower waits (up to 5 s) until
 * the follower has applied the entry, so that a client reading from the
 * replica it submitted to sees what it submitted. */
static void
wait_applied(struct market *m, const char *answer)
{
	json_t *j = NULL;
	json_int_t idx;
	struct timespec dl;

	if (cjson_parse(answer, strlen(answer), &j) < 0)
		return;
	idx = json_integer_value(json_object_get(j, "index"));
	json_decref(j);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&m->mu);
	while (m->committed <= (uint64_t)idx && !atomic_load(&m->stopping) &&
	    pthread_cond_timedwait(&m->committed_cv, &m->mu, &dl) == 0)
		;
	pthread_mutex_unlock(&m->mu);
}

void
market_ha_forward(struct market *m, const struct http_request *req,
    struct http_response *resp)
{
	struct market_ha *h = m->ha;
	char url[400], name[64], why[1024], *answer = NULL;
	int64_t t0, t1;
	long status;
	int unpinned;

	if (http_header(req, "X-Lodge-Forwarded") != NULL) {
		http_respond_error(resp, 503,
		    "replica %s: forwarded here but this replica does not "
		    "sequence (the election just moved); retry",
		    h->name);
		return;
	}
	pthread_mutex_lock(&h->lmu);
	snprintf(url, sizeof(url), "%s/v1/entries", h->leader_url);
	snprintf(name, sizeof(name), "%s", h->leader_name);
	snprintf(why, sizeof(why), "%s",
	    h->stall_msg[0] ? h->stall_msg : h->etcd_error);
	if (name[0] != '\0' && strncmp(url, "https://", 8) == 0 &&
	    strcmp(h->pinned, h->leader_url) != 0) {
		uint8_t pub[KEY_PUB_LEN];
		/* every replica holds the market key: its certificate */
		key_public(m->key, pub);
		if (http_pin(h->leader_url, pub) == 0)
			snprintf(h->pinned, sizeof(h->pinned), "%s",
			    h->leader_url);
	}
	unpinned =
	    name[0] != '\0' && m->tls && strcmp(h->pinned, h->leader_url) != 0;
	pthread_mutex_unlock(&h->lmu);
	if (unpinned) {
		/* the election key is in etcd, which anyone who can write
		 * it may change: a replica serving TLS forwards only to a
		 * server holding the market key (never in the clear, nor to
		 * one the system's CAs vouch for) */
		http_respond_error(resp, 503,
		    "the election key names the sequencer %s at %.300s, "
		    "which cannot be pinned to the market key (a replica "
		    "serving TLS forwards over https only); not forwarding",
		    name, url);
		return;
	}
	if (name[0] == '\0') {
		http_respond_error(resp, 503,
		    "no sequencer now: %s; retry in a few seconds",
		    why[0] ? why :
		             "the election is under way (or etcd has no "
		             "quorum)");
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Retry-After: 1\r\n");
		return;
	}
	if (atomic_fetch_add(&fwd_inflight, 1) >= MARKET_HA_FORWARDS) {
		atomic_fetch_sub(&fwd_inflight, 1);
		http_respond_error(resp, 503,
		    "replica %s: %d submissions already on their way to the "
		    "sequencer %s; retry",
		    h->name, MARKET_HA_FORWARDS, name);
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Retry-After: 1\r\n");
		return;
	}
	t0 = mono_ns();
	status = fwd_post(url, req->body, req->body_len, &answer);
	t1 = mono_ns();
	if (status == 201)
		wait_applied(m, answer);
	atomic_fetch_sub(&fwd_inflight, 1);
	if (status >= 0) {
		pthread_mutex_lock(&m->mu);
		h->st.forwards++;
		h->st.forward_ns += (uint64_t)(t1 - t0);
		h->st.wait_ns += (uint64_t)(mono_ns() - t1);
		pthread_mutex_unlock(&m->mu);
	}
	if (status < 0) {
		http_respond_error(resp, 503,
		    "the sequencer (replica %s) did not answer: %s; retry "
		    "(when etcd has lost its quorum, nothing can be "
		    "sequenced until it is back)",
		    name, err_msg());
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Retry-After: 1\r\n");
		return;
	}
	if (status == 429 || status == 503)
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Retry-After: 1\r\n");
	http_respond(resp, (int)status, answer);
}

/* The totals of st (times in microseconds), as /v1/info shows them. */
static json_t *
stages_json(const struct ha_stages *st)
{
	return json_pack("{s:I,s:I,s:[I,I,I,I,I],s:I,s:I,s:[I,I,I,I,I],s:I,s:I,"
	                 "s:I,s:I,s:I,"
	                 "s:I,s:I,s:I}",
	    "batches", (json_int_t)st->batches, "entries",
	    (json_int_t)st->entries, "batch_sizes", (json_int_t)st->sizes[0],
	    (json_int_t)st->sizes[1], (json_int_t)st->sizes[2],
	    (json_int_t)st->sizes[3], (json_int_t)st->sizes[4], "queue_us",
	    (json_int_t)(st->queue_ns / 1000), "txn_us",
	    (json_int_t)(st->txn_ns / 1000), "txn_us_by_size",
	    (json_int_t)(st->txn_ns_by_size[0] / 1000),
	    (json_int_t)(st->txn_ns_by_size[1] / 1000),
	    (json_int_t)(st->txn_ns_by_size[2] / 1000),
	    (json_int_t)(st->txn_ns_by_size[3] / 1000),
	    (json_int_t)(st->txn_ns_by_size[4] / 1000), "store_us",
	    (json_int_t)(st->store_ns / 1000), "applied",
	    (json_int_t)st->applied, "lag_ms", (json_int_t)st->lag_ms,
	    "recv_ms", (json_int_t)st->recv_ms, "apply_us",
	    (json_int_t)(st->apply_ns / 1000), "forwards",
	    (json_int_t)st->forwards, "forward_us",
	    (json_int_t)(st->forward_ns / 1000), "wait_us",
	    (json_int_t)(st->wait_ns / 1000));
}

json_t *
market_ha_info(struct market *m)
{
	struct market_ha *h = m->ha;
	struct ha_stages st;
	json_t *o;
	int seq, halted;
	uint64_t applied;
	char msg[1024];

	pthread_mutex_lock(&m->mu);
	seq = h->sequencing;
	halted = h->halted;
	applied = store_size(m->store);
	snprintf(msg, sizeof(msg), "%s", h->halt_msg);
	st = h->st;
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_lock(&h->lmu);
	o = json_pack("{s:s,s:s,s:{s:s,s:s},s:I,s:s?,s:s?,s:s?}", "replica",
	    h->name, "role",
	    halted              ? "halted" :
	        seq             ? "sequencer" :
	        h->stall_msg[0] ? "stalled" :
	                          "follower",
	    "sequencer", "name", h->leader_name, "url", h->leader_url,
	    "applied", (json_int_t)applied, "etcd_error",
	    h->etcd_error[0] ? h->etcd_error : NULL, "halted",
	    halted ? msg : NULL, "stalled",
	    !halted && !seq && h->stall_msg[0] ? h->stall_msg : NULL);
	pthread_mutex_unlock(&h->lmu);
	if (o != NULL)
		json_object_set_new(o, "stages", stages_json(&st));
	return o;
}
