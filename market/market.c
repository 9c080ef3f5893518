/*
 * market: sequencing, group commit, derived entries, checkpoints and
 * restart-by-replay (see market.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "ledger/note.h"
#include "ledger/replay.h"
#include "ledger/signer.h"
#include "ledger/snapshot.h"
#include "market/market_internal.h"
#include "market/replica.h"

static void fatal_write(const char *what);

void
market_options_default(struct market_options *o)
{
	memset(o, 0, sizeof(*o));
	o->listen = "127.0.0.1:8080";
	o->origin = "lodge.local/ledger";
	o->take_rate_ppm = -1;
	o->offline_grace_ms = -1;
	o->usage_skew_ms = -1;
	o->fee = -1;
	o->bond_per_cpu = -1;
	o->bond_per_gib = -1;
	o->manifest_window_ms = -1;
	o->min_lease_epochs = -1;
	o->rate_per_s = 50;
	o->rate_burst = 200;
	o->checkpoint_ms = -1;
	o->snapshot_every = -1;
	o->pause_grace_ms = -1;
}

const char *
market_key_text(const struct market *m)
{
	return m->key_text;
}
const char *
market_treasury_text(const struct market *m)
{
	return m->treasury_text;
}
const char *
market_vkey(const struct market *m)
{
	return m->vkey;
}
uint16_t
market_port(const struct market *m)
{
	return m->http ? http_server_port(m->http) : m->listen_port;
}

int
market_status_for(int code)
{
	switch (code) {
	case ERR_INVAL:
		return 400;
	case ERR_SIG:
		return 401;
	case ERR_CONFLICT:
		return 409;
	case ERR_REJECT:
		return 422;
	case ERR_RANGE:
		return 422;
	case ERR_LIMIT:
		return 413;
	default:
		return 500;
	}
}

static int
path_in(const struct market *m, const char *name, char *out, size_t len)
{
	if (snprintf(out, len, "%s/%s", m->dir, name) >= (int)len)
		return err_set(ERR_INVAL, "%s: path too long", m->dir);
	return 0;
}

/* The index the next entry takes and the time of the last one: the local
 * store's, or with replicas the sequencer's (ahead of the store by what
 * etcd has not committed yet); under m->mu. */
static uint64_t
next_index(const struct market *m)
{
	return m->ha ? market_ha_next(m) : store_size(m->store);
}

static int64_t
last_time(const struct market *m)
{
	return m->ha ? market_ha_last_time(m) : store_last_time(m->store);
}

/* Sign kind/body as the market, apply and append it; under m->mu. */
static int
append_market_entry(struct market *m, const char *kind, json_t *body)
{
	struct envelope *e = NULL;
	struct state_effects fx = { 0 };
	char nonce[40];
	int64_t t = util_now_ms();
	uint64_t idx = next_index(m);
	int rc;

	if (t < last_time(m))
		t = last_time(m);
	/* the ledger index the entry takes is unique: a natural nonce */
	snprintf(nonce, sizeof(nonce), "market-%" PRIu64, idx);
	if ((rc = envelope_sign(m->key, kind, body, nonce, t, &e)) < 0)
		return rc;
	if (m->state && (rc = state_apply(m->state, e, idx, t, &fx)) < 0)
		goto out;
	json_decref(fx.derived);
	if (m->ha != NULL) {
		/* the queue owns e now; etcd says whether it is committed */
		if ((rc = market_ha_queue(m, e, t)) < 0)
			fatal_write(
			    "queueing a derived entry failed after apply");
		atomic_fetch_add(&m->m_derived, 1);
		return 0;
	}
	if ((rc = store_append(m->store, e, t, NULL, NULL, NULL)) < 0) {
		if (m->state) /* the state already took it */
			fatal_write("ledger write failed after apply");
		goto out;
	}
	atomic_fetch_add(&m->m_derived, 1);
out:
	envelope_free(e);
	return rc;
}

/* Append every pending derived entry (lease.create after an order, and
 * so on) right after its cause; under m->mu. */
int
market_drain_pending_locked(struct market *m)
{
	json_t *pending = NULL, *item;
	int rc = 0;

	while (state_pending_count(m->state) > 0) {
		if ((rc = state_pending(m->state, &pending)) < 0)
			return rc;
		item = json_array_get(pending, 0);
		if (item == NULL) {
			json_decref(pending);
			return err_set(ERR_CORRUPT, "pending queue empty");
		}
		rc = append_market_entry(m,
		    json_string_value(json_object_get(item, "kind")),
		    json_object_get(item, "body"));
		json_decref(pending);
		pending = NULL;
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Open the transaction the next group commit will carry; under mu. */
static int
begin_if_needed(struct market *m)
{
	int rc;

	if (m->txn_open || m->ha != NULL)
		return 0; /* replicas: the etcd writer's transactions */
	if ((rc = store_begin(m->store)) < 0)
		return rc;
	m->txn_open = 1;
	return 0;
}

/*
 * Group commit.  Submitters append into one open transaction under mu and
 * call this; the first to find no commit under way leads: it commits the
 * transaction (SQLite synchronous=NORMAL: WAL writes, no fsync) holding
 * mu only for that, then fsyncs the WAL outside every lock while the
 * sequencer goes on appending into the next transaction, and publishes
 * the new durable size to readers and event streams.  Everyone whose
 * entries were in that transaction is answered by the one fsync.
 */
static void
sync_upto(struct market *m, uint64_t upto)
{
	pthread_mutex_lock(&m->sync_mu);
	while (m->durable < upto) {
		uint64_t target;

		if (m->syncing) {
			pthread_cond_wait(&m->sync_cv, &m->sync_mu);
			continue;
		}
		m->syncing = 1;
		pthread_mutex_unlock(&m->sync_mu);
		pthread_mutex_lock(&m->mu);
		if (m->txn_open) {
			m->txn_open = 0;
			if (store_commit(m->store) < 0)
				fatal_write("ledger commit failed");
		}
		target = store_size(m->store);
		pthread_mutex_unlock(&m->mu);
		/* a failed fsync cannot be retried: Linux reports a writeback
		 * error once and marks the pages clean */
		if (store_sync(m->store) < 0)
			fatal_write("ledger fsync failed");
		pthread_mutex_lock(&m->sync_mu);
		m->syncing = 0;
		if (target > m->durable) {
			m->durable = target;
			atomic_fetch_add(&m->m_commits, 1);
			pthread_mutex_lock(&m->mu);
			if (target > m->committed)
				m->committed = target;
			pthread_cond_broadcast(&m->committed_cv);
			pthread_mutex_unlock(&m->mu);
		}
		pthread_cond_broadcast(&m->sync_cv);
	}
	pthread_mutex_unlock(&m->sync_mu);
}

/*
 * A ledger write or fsync failed after the state already took the entry:
 * the state and the ledger disagree, and rolling back the shared
 * transaction would take other submitters' entries with it.  Crash-only:
 * stop here, unanswered; a restart rebuilds the state by replaying what
 * is durably in the ledger, and no client was told 201 for anything that
 * is not.
 */
static void
fatal_write(const char *what)
{
	log_error("%s: %s; stopping so that a restart replays the ledger", what,
	    err_msg());
	abort();
}

/* The signer of an envelope not verified yet (for the rate limit); 0 or
 * -1 when it has none worth looking at (envelope_from_json will say). */
static int
peek_signer(const json_t *j, uint8_t signer[KEY_PUB_LEN])
{
	const char *t = json_string_value(json_object_get(j, "signer"));

	return t != NULL && key_pub_from_text(t, signer) == 0 ? 0 : -1;
}

static int
rate_exempt(const struct market *m, const uint8_t signer[KEY_PUB_LEN])
{
	return memcmp(signer, m->cfg.market_key, KEY_PUB_LEN) == 0 ||
	    memcmp(signer, m->treasury, KEY_PUB_LEN) == 0;
}

static int
rate_limited(struct market_result *r, int64_t wait_ms)
{
	r->status = 429;
	r->retry_after_s = (wait_ms + 999) / 1000;
	return err_set(ERR_LIMIT,
	    "too many entries from this key: the "
	    "limit is a burst then a steady rate per key; retry in %lld ms",
	    (long long)wait_ms);
}

int
market_submit(struct market *m, const char *body, size_t len,
    struct market_result *r)
{
	struct state_effects fx = { 0 };
	struct envelope *e = NULL;
	uint8_t signer[KEY_PUB_LEN];
	uint64_t idx, upto;
	json_t *j = NULL;
	int64_t t, wait;
	int rc, limited = 0, k;

	memset(r, 0, sizeof(*r));
	/* parsing and verification run outside the lock, on every core;
	 * the signer's rate limit is looked at before the (costly)
	 * signature check, a token taken only once it verified */
	if ((rc = cjson_parse(body, len, &j)) < 0) {
		rc = ERR_INVAL;
		goto refused;
	}
	limited = peek_signer(j, signer) == 0 && !rate_exempt(m, signer);
	if (limited &&
	    (wait = ratelimit_peek(m->rl, signer, util_mono_ns() / 1000000)) >
	        0) {
		json_decref(j);
		rc = rate_limited(r, wait);
		goto refused;
	}
	if ((rc = envelope_from_json(j, &e)) < 0) {
		rc = rc == ERR_SIG ? ERR_SIG : ERR_INVAL;
		goto refused;
	}
	if (limited &&
	    (wait = ratelimit_take(m->rl, e->signer,
	         util_mono_ns() / 1000000)) > 0) {
		rc = rate_limited(r, wait);
		goto refused;
	}
	if (strcmp(e->kind, REPLAY_GENESIS_KIND) == 0) {
		rc = err_set(ERR_REJECT,
		    "%s is written by the market at "
		    "index 0 only",
		    REPLAY_GENESIS_KIND);
		goto refused;
	}
	pthread_mutex_lock(&m->mu);
	if (m->ha != NULL && !market_ha_sequencing(m)) {
		rc = err_set(ERR_IO,
		    "this replica stopped sequencing (%s); retry (another "
		    "replica takes over within seconds once etcd has a "
		    "quorum)",
		    market_ha_why(m));
		r->status = 503;
		goto unlock;
	}
	if ((rc = begin_if_needed(m)) < 0)
		goto unlock;
	if ((rc = state_fee_check(m->state, e->signer, e->kind)) < 0) {
		r->status = 402;
		goto unlock;
	}
	idx = next_index(m);
	t = util_now_ms();
	if (t < last_time(m))
		t = last_time(m);
	if ((rc = state_apply(m->state, e, idx, t, &fx)) < 0)
		goto unlock; /* nothing of it was written */
	json_decref(fx.derived);
	if (m->ha != NULL) {
		uint64_t term = market_ha_term(m);

		if (market_ha_queue(m, e, t) < 0 ||
		    market_drain_pending_locked(m) < 0)
			fatal_write("queueing failed after apply");
		e = NULL; /* the queue's */
		pthread_mutex_unlock(&m->mu);
		/* the 201 waits for etcd's commit (a quorum's fsync) */
		if ((rc = market_ha_wait(m, idx + 1, term)) < 0) {
			r->status = 503;
			goto refused;
		}
		goto accepted;
	}
	if (store_append(m->store, e, t, NULL, NULL, NULL) < 0 ||
	    market_drain_pending_locked(m) < 0)
		fatal_write("ledger write failed after apply");
	upto = store_size(m->store);
	pthread_mutex_unlock(&m->mu);
	envelope_free(e);
	/* the 201 waits for the fsync that covers this entry */
	sync_upto(m, upto);
accepted:
	atomic_fetch_add(&m->m_accepted, 1);
	r->index = idx;
	r->time = t;
	memcpy(r->id, fx.id, STATE_ID_LEN);
	return 0;
unlock:
	pthread_mutex_unlock(&m->mu);
refused:
	if (r->status == 0)
		r->status = market_status_for(rc);
	k = r->status == 402   ? 5 :
	    r->status == 429   ? 6 :
	    rc == ERR_INVAL    ? 0 :
	    rc == ERR_SIG      ? 1 :
	    rc == ERR_CONFLICT ? 2 :
	    rc == ERR_REJECT   ? 3 :
	                         4;
	atomic_fetch_add(&m->m_rejected[k], 1);
	envelope_free(e);
	return rc;
}

/*
 * Sign a checkpoint of everything committed; under mu.  Without witnesses
 * it is stored and published at once; with them the publisher has it
 * cosigned first (publish.c), and only cosigned checkpoints are stored.
 */
static int
checkpoint_now(struct market *m)
{
	uint8_t root[MERKLE_HASH_LEN];
	char *body = NULL, *note = NULL;
	int rc;

	if (m->witnesses == NULL) {
		if ((rc = signer_checkpoint(m->store, m->committed, m->key,
		         &note)) < 0)
			return rc;
		if ((rc = market_publish_locked(m, note, m->committed)) < 0) {
			free(note);
			return rc;
		}
	} else {
		rc = store_root(m->store, m->committed, root);
		if (rc == 0)
			rc = checkpoint_format(store_origin(m->store),
			    m->committed, root, &body);
		if (rc == 0)
			rc = note_sign(body, strlen(body),
			    store_origin(m->store), m->key, &note);
		free(body);
		if (rc < 0)
			return rc;
	}
	free(m->checkpoint_note);
	m->checkpoint_note = note;
	m->checkpointed = m->committed;
	pthread_cond_broadcast(&m->publish_cv);
	return 0;
}

/*
 * A state snapshot (ledger/snapshot.h); called and returns under mu.  The
 * sequencer is held only for the fork: a copy-on-write child encodes the
 * state of exactly store_size leaves (committed just before) and writes
 * it, while the sequencer goes on; snapshot_reap records it.  A failure
 * costs only a longer replay at the next restart: it is logged.
 */
static void
snapshot_take(struct market *m)
{
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t size = store_size(m->store), t0 = util_mono_ns();

	if (store_root(m->store, size, root) < 0 ||
	    snapshot_start(m->snap_path, m->state, size, root, &m->snap_job) <
	        0) {
		log_warn("state snapshot at %" PRIu64 " entries: %s", size,
		    err_msg());
		return;
	}
	m->snap_held_ms = (double)(util_mono_ns() - t0) / 1e6;
}

/* The ticker, outside mu: once the snapshot's child is done (wait: wait
 * for it), record the file's hash in the store, then put the file in
 * place. */
static void
snapshot_reap(struct market *m, int wait)
{
	uint64_t size;
	char hash[65];
	double ms;
	int rc;

	if ((rc = snapshot_poll(&m->snap_job, wait, &size, hash, &ms)) == 0)
		return;
	if (rc > 0) {
		pthread_mutex_lock(&m->mu);
		/* the record is committed before the rename */
		if (m->txn_open) {
			m->txn_open = 0;
			if (store_commit(m->store) < 0)
				fatal_write("ledger commit failed");
		}
		if ((rc = snapshot_record(m->store, size, hash)) == 0)
			m->snap_size = size;
		pthread_mutex_unlock(&m->mu);
		/* the record durable before the rename (a failed fsync
		 * cannot be retried, as in sync_upto) */
		if (rc == 0 && store_sync(m->store) < 0)
			fatal_write("ledger fsync failed");
	}
	if (rc >= 0 && (rc = snapshot_install(m->snap_path)) == 0)
		log_info("state snapshot at %" PRIu64 " entries: %.1f ms "
		         "forking (sequencer held), %.0f ms encoding and "
		         "writing in a child",
		    size, m->snap_held_ms, ms);
	if (rc < 0)
		log_warn("state snapshot: %s", err_msg());
}

/* Time-based derivations (expiries, offline providers, exhausted
 * escrow) and checkpoints. */
static void *
ticker_main(void *arg)
{
	struct market *m = arg;
	int64_t last_cp = 0;

	while (!atomic_load(&m->stopping)) {
		struct timespec ts = { 0, 200 * 1000000 };
		json_t *due = NULL, *item;
		uint64_t upto;
		int64_t now;

		nanosleep(&ts, NULL);
		now = util_now_ms();
		pthread_mutex_lock(&m->mu);
		/* one due entry at a time, the list recomputed after each:
		 * applying one (a provider going offline closes its leases)
		 * changes what is due next.  A refused one changed nothing and
		 * is skipped. */
		for (int n = 0, skip = 0;
		     n < 256 && (m->ha == NULL || market_ha_sequencing(m));
		     n++) {
			json_decref(due);
			due = NULL;
			if (state_due(m->state, now, &due) < 0 ||
			    (size_t)skip >= json_array_size(due))
				break;
			item = json_array_get(due, (size_t)skip);
			if (begin_if_needed(m) < 0)
				fatal_write("cannot open a ledger transaction");
			if (append_market_entry(m,
			        json_string_value(
			            json_object_get(item, "kind")),
			        json_object_get(item, "body")) < 0) {
				log_warn("due entry refused by the rules: %s",
				    err_msg());
				skip++;
				continue;
			}
			if (market_drain_pending_locked(m) < 0)
				fatal_write("appending derived entries failed");
		}
		json_decref(due);
		upto = store_size(m->store);
		if (m->committed > m->checkpointed &&
		    now - last_cp >= m->checkpoint_ms) {
			if (checkpoint_now(m) < 0)
				log_warn("checkpoint: %s", err_msg());
			last_cp = now;
			/* commit it now, with whatever entries share the open
			 * transaction; their submitters still wait for the
			 * fsync that follows */
			if (m->txn_open) {
				m->txn_open = 0;
				if (store_commit(m->store) < 0)
					fatal_write("ledger commit failed");
			}
			/* a replica's sequencer applies ahead of etcd: a
			 * snapshot waits for a moment with nothing in flight */
			if (m->snapshot_every > 0 && m->snap_job == NULL &&
			    store_size(m->store) - m->snap_size >=
			        (uint64_t)m->snapshot_every &&
			    (m->ha == NULL || market_ha_settled(m)))
				snapshot_take(m);
		}
		pthread_mutex_unlock(&m->mu);
		sync_upto(m, upto);
		if (m->snap_job != NULL)
			snapshot_reap(m, 0);
	}
	if (m->snap_job != NULL)
		snapshot_reap(m, 1);
	return NULL;
}

static int
write_info(struct market *m)
{
	char path[PATH_MAX], *text = NULL;
	json_t *o;
	int rc;

	char url[300];

	snprintf(url, sizeof(url), "%s://%s%s%s:%u", m->tls ? "https" : "http",
	    strchr(m->listen_host, ':') ? "[" : "", m->listen_host,
	    strchr(m->listen_host, ':') ? "]" : "", market_port(m));
	o = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:b}", "listen_host",
	    m->listen_host, "listen_port", (int)market_port(m), "origin",
	    store_origin(m->store), "market_key", m->key_text, "treasury_key",
	    m->treasury_text, "vkey", m->vkey, "url", url, "tls",
	    m->tls != NULL);
	if (o == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (text == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((rc = path_in(m, "market.json", path, sizeof(path))) == 0)
		rc = util_write_file(path, text, strlen(text), 0644);
	free(text);
	return rc;
}

/* "uakt,uact" into the genesis rules (checked again by state_new). */
static int
parse_denoms(const char *s, struct state_config *c)
{
	const char *p = s, *e;
	size_t n;

	c->ndenoms = 0;
	while (*p != '\0') {
		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || n >= STATE_DENOM_LEN ||
		    c->ndenoms == STATE_DENOMS_MAX)
			return err_set(ERR_INVAL,
			    "--denoms \"%s\": expected 1 to %d names of 1 to "
			    "%d characters, comma-separated",
			    s, STATE_DENOMS_MAX, STATE_DENOM_LEN - 1);
		memcpy(c->denoms[c->ndenoms], p, n);
		c->denoms[c->ndenoms++][n] = '\0';
		p += n + (e != NULL);
	}
	if (c->ndenoms == 0)
		return err_set(ERR_INVAL, "--denoms: none given");
	return 0;
}

/* "KIND=N,KIND=N" into c's per-kind fees. */
static int
parse_fee_kinds(const char *text, struct state_config *c)
{
	const char *p = text;

	c->nfee_kinds = 0;
	while (*p != '\0') {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		struct state_fee_kind *k;
		char num[32];
		int64_t v;

		if (end == NULL)
			end = p + strlen(p);
		if (eq == NULL || eq > end || eq == p ||
		    (size_t)(eq - p) >= sizeof(k->kind) ||
		    (size_t)(end - eq - 1) >= sizeof(num) ||
		    c->nfee_kinds == STATE_FEE_KINDS_MAX)
			return err_set(ERR_INVAL,
			    "--fee-kind: expected "
			    "KIND=MICRO_UNITS[,KIND=MICRO_UNITS...] (at most "
			    "%d), got '%.80s'",
			    STATE_FEE_KINDS_MAX, text);
		k = &c->fee_kinds[c->nfee_kinds++];
		memcpy(k->kind, p, (size_t)(eq - p));
		k->kind[eq - p] = '\0';
		memcpy(num, eq + 1, (size_t)(end - eq - 1));
		num[end - eq - 1] = '\0';
		if (util_parse_i64(num, "--fee-kind", &v) < 0)
			return err_prefix(ERR_INVAL, "--fee-kind %s", k->kind);
		k->fee = v;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* The money options of a first start into the genesis config. */
static int
money_options(const struct market_options *o, struct state_config *c)
{
	c->usage_skew_ms =
	    o->usage_skew_ms >= 0 ? o->usage_skew_ms : c->epoch_ms;
	if (o->fee >= 0)
		c->fee = o->fee;
	if (o->fee_kinds && parse_fee_kinds(o->fee_kinds, c) < 0)
		return ERR_INVAL;
	if (o->bond_per_cpu >= 0)
		c->bond_per_cpu = o->bond_per_cpu;
	if (o->bond_per_gib >= 0)
		c->bond_per_gib = o->bond_per_gib;
	if (o->manifest_window_ms >= 0)
		c->manifest_window_ms = o->manifest_window_ms;
	if (o->min_lease_epochs >= 0)
		c->min_lease_epochs = o->min_lease_epochs;
	if (o->checkpoint_ms > 0)
		c->checkpoint_ms = o->checkpoint_ms;
	if (o->pause_grace_ms >= 0)
		c->pause_grace_ms = o->pause_grace_ms;
	return 0;
}

/* The same per-kind fees, in any order. */
static int
same_fee_kinds(const struct state_config *a, const struct state_config *b)
{
	if (a->nfee_kinds != b->nfee_kinds)
		return 0;
	for (size_t i = 0; i < a->nfee_kinds; i++) {
		size_t j;
		for (j = 0; j < b->nfee_kinds; j++)
			if (strcmp(a->fee_kinds[i].kind,
			        b->fee_kinds[j].kind) == 0 &&
			    a->fee_kinds[i].fee == b->fee_kinds[j].fee)
				break;
		if (j == b->nfee_kinds)
			return 0;
	}
	return 1;
}

/* On restart: every money option given must equal the genesis. */
static int
money_options_match(const struct market_options *o,
    const struct state_config *c)
{
	struct state_config want = *c;
	const char *bad = NULL;

	if (money_options(o, &want) < 0)
		return ERR_INVAL;
	if (o->usage_skew_ms >= 0 && want.usage_skew_ms != c->usage_skew_ms)
		bad = "--usage-skew";
	else if (want.fee != c->fee)
		bad = "--fee";
	else if (o->fee_kinds && !same_fee_kinds(&want, c))
		bad = "--fee-kind";
	else if (want.bond_per_cpu != c->bond_per_cpu ||
	    want.bond_per_gib != c->bond_per_gib)
		bad = "--bond-per-cpu/--bond-per-gib";
	else if (want.manifest_window_ms != c->manifest_window_ms)
		bad = "--manifest-window";
	else if (want.min_lease_epochs != c->min_lease_epochs)
		bad = "--min-lease-epochs";
	else if (want.checkpoint_ms != c->checkpoint_ms)
		bad = "--checkpoint-interval";
	else if (want.pause_grace_ms != c->pause_grace_ms)
		bad = "--pause-grace";
	if (bad == NULL)
		return 0;
	return err_set(ERR_INVAL,
	    "%s differs from the ledger's genesis (fee %" PRId64
	    ", bond %" PRId64 "/cpu %" PRId64 "/GiB, manifest window %" PRId64
	    " ms, min lease %" PRId64 " epochs, usage skew %" PRId64
	    " ms, checkpoint every %" PRId64 " ms, pause grace %" PRId64
	    " ms); a ledger's rules cannot change",
	    bad, c->fee, c->bond_per_cpu, c->bond_per_gib,
	    c->manifest_window_ms, c->min_lease_epochs, c->usage_skew_ms,
	    c->checkpoint_ms, c->pause_grace_ms);
}

/*
 * The API's TLS context (before the ledger is created, so that a
 * certificate that does not load leaves nothing behind): the certificate
 * self-signed by the market key, and the operator's public ones, if any.
 */
static int
tls_setup(struct market *m, const struct market_options *o)
{
	size_t n = 0;
	int rc;

	if (m->insecure_http) {
		if (o->tls_cert || o->tls_key || o->tls_certs_dir)
			return err_set(ERR_INVAL,
			    "--tls-cert, --tls-key and --tls-certs-dir need "
			    "TLS: not with --insecure-http");
		return 0;
	}
	if ((o->tls_cert == NULL) != (o->tls_key == NULL))
		return err_set(ERR_INVAL,
		    "--tls-cert and --tls-key go together");
	if ((rc = tls_server_new(m->key, "lodge market", &m->tls)) < 0)
		return err_prefix(rc, "TLS");
	if (o->tls_cert &&
	    (rc = tls_server_add_cert(m->tls, o->tls_cert, o->tls_key)) < 0)
		return err_prefix(rc, "--tls-cert");
	if (o->tls_certs_dir &&
	    (rc = tls_server_add_dir(m->tls, o->tls_certs_dir, &n)) < 0)
		return err_prefix(rc, "--tls-certs-dir");
	if (o->tls_cert || o->tls_certs_dir)
		log_info("TLS: %zu public certificate(s) for the names they "
		         "carry; other clients get the key-pinned one",
		    tls_server_cert_count(m->tls));
	return 0;
}

/* The genesis rules of a first start from its options. */
static int
genesis_from_options(const struct market *m, const struct market_options *o,
    const uint8_t pub[KEY_PUB_LEN], struct state_config *c)
{
	int rc;

	state_config_default(c);
	memcpy(c->market_key, pub, KEY_PUB_LEN);
	memcpy(c->treasury_key, m->treasury, KEY_PUB_LEN);
	if (o->epoch_ms > 0)
		c->epoch_ms = o->epoch_ms;
	if (o->take_rate_ppm >= 0)
		c->take_rate_ppm = (uint32_t)o->take_rate_ppm;
	if (o->offline_grace_ms >= 0)
		c->offline_grace_ms = o->offline_grace_ms;
	/* a new ledger pauses unfunded leases (docs/state.md) */
	c->pause_grace_ms = STATE_PAUSE_GRACE_MS_DEFAULT;
	if ((rc = money_options(o, c)) < 0 ||
	    (o->denoms != NULL && (rc = parse_denoms(o->denoms, c)) < 0))
		return rc;
	c->check_invariants = o->check_invariants;
	return 0;
}

/* On restart (or joining replicas): the options given must be the
 * ledger's genesis rules, and market.key its signer. */
static int
genesis_matches(const struct market *m, const struct market_options *o,
    const uint8_t pub[KEY_PUB_LEN])
{
	if (memcmp(m->cfg.market_key, pub, KEY_PUB_LEN) != 0)
		return err_set(ERR_INVAL,
		    "%s/market.key is not the key "
		    "that signed this ledger's genesis",
		    m->dir);
	if ((o->epoch_ms > 0 && o->epoch_ms != m->cfg.epoch_ms) ||
	    (o->take_rate_ppm >= 0 &&
	        (uint32_t)o->take_rate_ppm != m->cfg.take_rate_ppm))
		return err_set(ERR_INVAL,
		    "--epoch/--take-rate differ from "
		    "the ledger's genesis (epoch %" PRId64 " ms, take "
		    "%u ppm); a ledger's rules cannot change",
		    m->cfg.epoch_ms, m->cfg.take_rate_ppm);
	return money_options_match(o, &m->cfg);
}

int
market_open(const struct market_options *o, struct market **out, int *created)
{
	struct market *m;
	struct key *treasury = NULL;
	char path[PATH_MAX];
	uint8_t pub[KEY_PUB_LEN];
	int rc, fresh;

	*created = 0;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->committed_cv, NULL);
	pthread_mutex_init(&m->sync_mu, NULL);
	pthread_cond_init(&m->sync_cv, NULL);
	pthread_cond_init(&m->publish_cv, NULL);
	if (o->witnesses != NULL && o->witnesses->nw > 0)
		m->witnesses = o->witnesses;
	m->insecure_http = o->insecure_http;
	if (o->advertise != NULL &&
	    (m->advertise = strdup(o->advertise)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = http_parse_listen(o->listen, m->listen_host,
	         sizeof(m->listen_host), &m->listen_port)) < 0) {
		err_prefix(rc, "--listen");
		goto fail;
	}
	if ((rc = util_mkdirs(o->data_dir, 0700)) < 0)
		goto fail;
	if ((m->dir = strdup(o->data_dir)) == NULL ||
	    asprintf(&m->tiles_dir, "%s/tiles", o->data_dir) < 0) {
		m->tiles_dir = NULL;
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (o->console_dir != NULL) {
		if ((m->console_dir = strdup(o->console_dir)) == NULL) {
			rc = err_set(ERR_NOMEM, "out of memory");
			goto fail;
		}
	} else if ((m->console_dir = market_console_default_dir()) != NULL &&
	    snprintf(path, sizeof(path), "%s/index.html", m->console_dir) > 0 &&
	    access(path, R_OK) != 0) {
		free(m->console_dir);
		m->console_dir = NULL;
	}
	if ((rc = path_in(m, "market.key", path, sizeof(path))) < 0 ||
	    (rc = key_load_or_create(path, &m->key, NULL)) < 0 ||
	    (rc = path_in(m, "treasury.key", path, sizeof(path))) < 0 ||
	    (rc = key_load_or_create(path, &treasury, NULL)) < 0)
		goto fail;
	key_public(treasury, m->treasury);
	key_free(treasury);
	treasury = NULL;
	if ((rc = tls_setup(m, o)) < 0)
		goto fail;
	key_public(m->key, pub);
	key_pub_to_text(pub, m->key_text);
	key_pub_to_text(m->treasury, m->treasury_text);
	if ((rc = path_in(m, "ledger.db", path, sizeof(path))) < 0 ||
	    (m->db_path = strdup(path)) == NULL) {
		rc = rc < 0 ? rc : err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (asprintf(&m->snap_path, "%s/state.snap", o->data_dir) < 0) {
		m->snap_path = NULL;
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	m->snapshot_every = o->snapshot_every < 0 ? 10000 : o->snapshot_every;
	fresh = access(path, F_OK) != 0;
	if (o->etcd != NULL) {
		struct state_config c;

		m->cfg.check_invariants = o->check_invariants;
		if ((rc = genesis_from_options(m, o, pub, &c)) < 0 ||
		    (rc = market_ha_open(m, o, &c)) < 0 ||
		    (rc = genesis_matches(m, o, pub)) < 0)
			goto fail;
		*created = fresh;
	} else if (fresh) {
		json_t *body = NULL;
		if (note_name_check(o->origin) < 0) {
			rc = err_prefix(ERR_INVAL, "--origin");
			goto fail;
		}
		if ((rc = genesis_from_options(m, o, pub, &m->cfg)) < 0)
			goto fail;
		if ((rc = state_new(&m->cfg, &m->state)) < 0 ||
		    (rc = store_create(path, o->origin, pub, &m->store)) < 0 ||
		    (rc = replay_genesis_body(&m->cfg, &body)) < 0)
			goto fail;
		/* the genesis goes in unapplied: it configures the state */
		{
			struct state *keep = m->state;
			m->state = NULL;
			rc = append_market_entry(m, REPLAY_GENESIS_KIND, body);
			m->state = keep;
		}
		json_decref(body);
		if (rc < 0)
			goto fail;
		*created = 1;
	} else {
		char *fallback = NULL;
		uint64_t from = 0, t0 = util_mono_ns();

		if ((rc = store_open(path, 0, &m->store)) < 0 ||
		    (rc = snapshot_replay(m->store, m->snap_path,
		         o->check_invariants, &m->state, &m->cfg, &from,
		         &fallback)) < 0) {
			free(fallback);
			err_prefix(rc, "replaying %s", path);
			goto fail;
		}
		if (fallback != NULL)
			log_warn("state snapshot not used, the whole ledger "
			         "replayed instead: %s",
			    fallback);
		free(fallback);
		m->snap_size = from;
		log_info("state of %" PRIu64 " entries: %s%" PRIu64
		         " replayed in %.0f ms",
		    store_size(m->store), from ? "from the snapshot, " : "",
		    store_size(m->store) - from,
		    (double)(util_mono_ns() - t0) / 1e6);
		if ((rc = genesis_matches(m, o, pub)) < 0)
			goto fail;
		/* a crash between a cause and its derivation: finish it */
		if (state_pending_count(m->state) > 0 &&
		    ((rc = market_drain_pending_locked(m)) < 0)) {
			err_prefix(rc, "completing derived entries");
			goto fail;
		}
	}
	m->rate_per_s = o->rate_per_s > 0 ? o->rate_per_s : 0;
	m->rate_burst = o->rate_burst;
	if ((rc = ratelimit_new(o->rate_per_s, o->rate_burst, 100000, &m->rl)) <
	        0 ||
	    (rc = ratelimit_new(MARKET_COMPUTE_RATE, MARKET_COMPUTE_BURST,
	         100000, &m->rl_compute)) < 0 ||
	    (rc = store_set_external_sync(m->store, 1)) < 0 ||
	    (rc = store_sync(m->store)) < 0)
		goto fail;
	m->committed = m->durable = store_size(m->store);
	m->checkpoint_ms = m->cfg.checkpoint_ms;
	if ((rc = note_vkey_format(store_origin(m->store), pub, &m->vkey)) <
	        0 ||
	    (rc = note_verifier_init(&m->logv, store_origin(m->store),
	         NOTE_SIG_ED25519, pub)) < 0)
		goto fail;
	{
		uint64_t size;
		char *note = NULL;
		if ((rc = store_checkpoint_latest(m->store, &size, &note)) < 0)
			goto fail;
		m->checkpoint_note = note;
		m->checkpointed = note ? size : 0;
		/* the latest stored one is published again, with witnesses
		 * only when it carries their quorum (stored before they were
		 * configured, it is asked for) */
		if (note != NULL &&
		    (m->witnesses == NULL || market_cosigned(m, note) == 0) &&
		    (rc = market_publish_locked(m, note, size)) < 0)
			goto fail;
		err_clear();
		if (note == NULL || size < m->committed) {
			if ((rc = checkpoint_now(m)) < 0)
				goto fail;
		}
	}
	*out = m;
	return 0;
fail:
	key_free(treasury);
	market_free(m);
	return rc;
}

int
market_start(struct market *m)
{
	struct http_server_config hc;
	int rc;

	http_server_config_default(&hc);
	hc.host = m->listen_host;
	hc.port = m->listen_port;
	hc.max_body = 256 * 1024;
	hc.tls = m->tls;
	if (m->ha != NULL) /* see MARKET_HA_WORKERS */
		hc.workers = MARKET_HA_WORKERS;
	if ((rc = http_server_start(&hc, market_api_handle, m, &m->http)) < 0)
		return rc;
	if (pthread_create(&m->ticker, NULL, ticker_main, m) != 0)
		return err_set(ERR_IO, "cannot start the ticker thread");
	m->ticker_started = 1;
	if ((rc = market_publisher_start(m)) < 0)
		return rc;
	if (m->ha != NULL && (rc = market_ha_start(m)) < 0)
		return rc;
	return write_info(m);
}

void
market_free(struct market *m)
{
	struct err_saved saved;

	if (m == NULL)
		return;
	/* market_open's failures unwind through here: the last commit and
	 * sync must not replace their message. */
	err_save(&saved);
	atomic_store(&m->stopping, 1);
	pthread_mutex_lock(&m->mu);
	pthread_cond_broadcast(&m->committed_cv);
	pthread_cond_broadcast(&m->publish_cv);
	pthread_mutex_unlock(&m->mu);
	http_server_free(m->http);
	m->http = NULL;
	tls_server_free(m->tls);
	m->tls = NULL;
	if (m->ticker_started)
		pthread_join(m->ticker, NULL);
	m->ticker_started = 0;
	market_ha_free(m);
	if (m->publisher_started) {
		struct timespec dl;

		/* a witness that does not answer holds a round until its
		 * timeout: stop without it, as the process is ending anyway,
		 * leaving it what it uses */
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 3;
		if (pthread_timedjoin_np(m->publisher, NULL, &dl) != 0) {
			pthread_detach(m->publisher);
			log_warn("stopping while a witness is being asked");
			pthread_mutex_lock(&m->mu);
			if (m->txn_open) {
				m->txn_open = 0;
				store_commit(m->store);
			}
			store_sync(m->store);
			pthread_mutex_unlock(&m->mu);
			err_restore(&saved);
			return;
		}
	}
	if (m->store) {
		if (m->txn_open)
			store_commit(m->store);
		store_sync(m->store);
	}
	state_free(m->state);
	store_free(m->store);
	ratelimit_free(m->rl);
	ratelimit_free(m->rl_compute);
	key_free(m->key);
	free(m->checkpoint_note);
	free(m->published);
	free(m->tiles_dir);
	free(m->console_dir);
	free(m->vkey);
	free(m->db_path);
	free(m->snap_path);
	free(m->advertise);
	free(m->dir);
	pthread_cond_destroy(&m->committed_cv);
	pthread_cond_destroy(&m->publish_cv);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->sync_cv);
	pthread_mutex_destroy(&m->sync_mu);
	free(m);
	err_restore(&saved);
}
