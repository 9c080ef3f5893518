/*
 * state_snap: the whole state machine as bytes and back (state.h,
 * state_snapshot_encode / _decode), so that a market restarts from a
 * snapshot and replays only the leaves after it.  Every field of the
 * structures in state_internal.h is written in a fixed order, pointers as
 * positions in the state's arrays; decoding checks every position, count
 * and enum, so a damaged payload is refused, never followed.
 */
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/err.h"
#include "ledger/state_internal.h"

#define SNAP_MAGIC "lodge-state-6\n"

/*
 * Every field of these structures is written and read below.  A field
 * added to one of them must be added here too, or a restart from a
 * snapshot would silently lose it: these sizes (of this x86-64 build)
 * stop the build until whoever adds a field has done so and updated the
 * size.  (The property test in test_state checks the round trip and the
 * replay after it, for the kinds its random streams use.)
 */
#if defined(__x86_64__) && defined(__LP64__)
_Static_assert(sizeof(struct state) == 3960,
    "struct state changed: snapshot it in state_snap.c, then fix this size");
_Static_assert(sizeof(struct account) == 176,
    "struct account changed: snapshot it in state_snap.c, then fix this "
    "size");
_Static_assert(sizeof(struct provider) == 576,
    "struct provider changed: snapshot it in state_snap.c, then fix this "
    "size");
_Static_assert(sizeof(struct order) == 592,
    "struct order changed: snapshot it in state_snap.c, then fix this size");
_Static_assert(sizeof(struct lease) == 416,
    "struct lease changed: snapshot it in state_snap.c, then fix this size");
_Static_assert(sizeof(struct attest) == 64,
    "struct attest changed: snapshot it in state_snap.c, then fix this size");
_Static_assert(sizeof(struct pending) == 80,
    "struct pending changed: snapshot it in state_snap.c, then fix this "
    "size");
_Static_assert(sizeof(struct nonce_exp) == 16,
    "struct nonce_exp changed: snapshot it in state_snap.c, then fix this "
    "size");
#endif
#define NONE UINT64_MAX

/* ---- writing ------------------------------------------------------- */

struct wbuf {
	char *p;
	size_t n, cap;
	int failed;
};

static void
w_bytes(struct wbuf *w, const void *v, size_t len)
{
	if (w->failed || len == 0)
		return;
	if (w->n + len > w->cap) {
		size_t cap = w->cap ? w->cap : 1 << 16;
		char *p;

		while (cap < w->n + len)
			cap *= 2;
		if ((p = realloc(w->p, cap)) == NULL) {
			w->failed = 1;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->n, v, len);
	w->n += len;
}

static void
w_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	w_bytes(w, b, 8);
}

static void
w_i64(struct wbuf *w, int64_t v)
{
	w_u64(w, (uint64_t)v);
}

static void
w_u128(struct wbuf *w, state_u128 v)
{
	w_u64(w, (uint64_t)v);
	w_u64(w, (uint64_t)(v >> 64));
}

static void
w_str(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);

	w_u64(w, n);
	w_bytes(w, s, n);
}

/* A JSON value as its canonical bytes; NULL as length NONE. */
static void
w_json(struct wbuf *w, const json_t *j)
{
	char *t = NULL;
	size_t n;

	if (j == NULL) {
		w_u64(w, NONE);
		return;
	}
	if (cjson_dump(j, &t, &n) < 0) {
		w->failed = 1;
		return;
	}
	w_u64(w, n);
	w_bytes(w, t, n);
	free(t);
}

static void
w_res(struct wbuf *w, const struct res4 *r)
{
	w_i64(w, r->cpu);
	w_i64(w, r->mem);
	w_i64(w, r->sto);
	w_i64(w, r->gpu);
}

static void
w_kv(struct wbuf *w, const uint64_t *kv, size_t n)
{
	w_u64(w, n);
	for (size_t i = 0; i < n; i++)
		w_u64(w, kv[i]);
}

static void
w_i64s(struct wbuf *w, const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w_i64(w, v[i]);
}

/* A sorted capability list (ST_MAX_CAPABILITIES at most) as a JSON
 * array. */
static void
w_caps(struct wbuf *w, char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	if (a == NULL) {
		w->failed = 1;
		return;
	}
	w_json(w, a);
	json_decref(a);
}

static uint64_t
prov_pos(const struct provider *p)
{
	return p ? p->seq : NONE;
}

static void
w_provider(struct wbuf *w, const struct provider *p)
{
	w_bytes(w, p->key, KEY_PUB_LEN);
	w_u64(w, (uint64_t)p->has_ask);
	w_u64(w, (uint64_t)p->withdrawn);
	w_u64(w, (uint64_t)p->online);
	w_u64(w, p->ask_index);
	w_i64(w, p->ask_time);
	w_i64(w, p->last_seen);
	w_res(w, &p->cap);
	w_res(w, &p->used);
	w_res(w, &p->pend);
	w_i64(w, p->denom);
	w_u64(w, p->runtimes);
	w_i64s(w, p->price, ST_METERS);
	w_kv(w, p->kv, p->nkv);
	w_u64(w, p->natt);
	for (size_t i = 0; i < p->natt; i++) {
		w_bytes(w, p->att[i].auditor, KEY_PUB_LEN);
		w_kv(w, p->att[i].kv, p->att[i].nkv);
		w_u64(w, p->att[i].index);
		w_json(w, p->att[i].attrs);
	}
	w_json(w, p->ask);
	w_u64(w, p->nleases);
	w_i64(w, p->bond);
	w_caps(w, p->capv, p->ncap);
	/* the ask's bid policy */
	w_u64(w, p->nallow);
	w_bytes(w, p->allow, p->nallow * KEY_PUB_LEN);
	w_u64(w, p->ndeny);
	w_bytes(w, p->deny, p->ndeny * KEY_PUB_LEN);
	w_i64(w, p->min_lease_epochs);
	/* its record (state_reputation.c) */
	w_i64(w, p->rec.first_time);
	w_u64(w, p->rec.first_index);
	w_i64(w, p->rec.won);
	w_i64(w, p->rec.started);
	w_i64(w, p->rec.usage_reports);
	w_i64(w, p->rec.heartbeats);
	w_i64(w, p->rec.offline_marks);
	w_i64s(w, p->rec.ended, STATE_REASON_COUNT);
	w_i64(w, p->rec.bond_max);
	w_i64(w, p->rec.bond_changes);
	w_i64(w, p->rec.offline_ms);
	w_u64(w, p->rec.noff);
	for (size_t i = 0; i < p->rec.noff; i++) {
		w_i64(w, p->rec.off[i].from);
		w_i64(w, p->rec.off[i].to);
	}
}

static void
w_order(struct wbuf *w, const struct order *o)
{
	w_u64(w, o->index);
	w_str(w, o->id);
	w_u64(w, o->tenant ? o->tenant->seq : NONE);
	w_i64(w, o->denom);
	w_i64(w, o->max_price);
	w_i64(w, o->deposit);
	w_i64(w, o->escrow);
	w_i64(w, o->ttl_ms);
	w_i64(w, o->created);
	w_i64s(w, o->caps, ST_METERS);
	w_res(w, &o->need);
	w_u128(w, o->w_cpu);
	w_u128(w, o->w_mem);
	w_u128(w, o->w_sto);
	w_u64(w, (uint64_t)o->w_small);
	w_u64(w, o->runtimes);
	w_kv(w, o->kv, o->nkv);
	w_u64(w, o->nall);
	w_bytes(w, o->all_of, o->nall * KEY_PUB_LEN);
	w_u64(w, o->nany);
	w_bytes(w, o->any_of, o->nany * KEY_PUB_LEN);
	w_json(w, o->body);
	w_caps(w, o->capv, o->ncap);
	w_u64(w, (uint64_t)o->has_min_rep);
	w_i64s(w, o->min_rep, ST_REP_N);
	w_u64(w, (uint64_t)o->status);
	w_u64(w, (uint64_t)o->reason);
	w_i64(w, o->closed_time);
	w_u64(w, o->closed_index);
	w_i64(w, o->refund);
	/* o->lease is written by the lease (l->order) */
	w_u64(w, o->m.index);
	w_i64(w, o->m.time);
	w_u64(w, o->m.nfit);
	w_u64(w, o->m.nbest);
	for (size_t i = 0; i < o->m.nbest; i++) {
		w_u64(w, prov_pos(o->m.best[i].p));
		w_i64(w, o->m.best[i].price);
		w_i64(w, o->m.best[i].ask_time);
		w_u64(w, o->m.best[i].ask_index);
	}
}

static void
w_lease(struct wbuf *w, const struct lease *l, uint64_t order_pos)
{
	w_u64(w, l->index);
	w_str(w, l->id);
	w_u64(w, order_pos);
	w_u64(w, (uint64_t)(l->order->lease == l));
	w_u64(w, prov_pos(l->prov));
	w_i64(w, l->price);
	w_i64(w, l->created);
	w_i64(w, l->started);
	w_u64(w, (uint64_t)l->status);
	w_i64s(w, l->last, ST_METERS);
	w_i64s(w, l->billed, ST_METERS);
	w_i64(w, l->carry);
	w_i64(w, l->carry_x);
	w_i64(w, l->charged);
	w_i64(w, l->charged_r);
	w_i64(w, l->charged_x);
	w_i64(w, l->fees);
	w_i64(w, l->billed_epochs);
	w_u64(w, l->started_index);
	w_i64(w, l->proof_time);
	w_u64(w, (uint64_t)l->reason);
	w_i64(w, l->closed_time);
	w_u64(w, l->closed_index);
	w_str(w, l->closed_by);
	w_json(w, l->usage);
	w_json(w, l->updates);
	w_i64(w, l->auto_topup.amount);
	w_i64(w, l->auto_topup.below);
	w_u64(w, l->auto_topup.index);
	w_i64(w, l->auto_topup.time);
	w_i64(w, l->auto_topup.instructions);
	w_i64(w, l->auto_topup.applied);
	w_i64(w, l->auto_topup.moved);
	w_i64(w, l->auto_topup.shortfalls);
	w_i64(w, l->auto_topup.on_credit);
	w_u64(w, l->auto_topup.credit_index);
	w_i64(w, l->auto_topup.on_due);
	w_i64(w, l->paused_at);
	w_i64(w, l->paused_ms);
	w_i64(w, l->pauses);
}

/* Position of o in s->ords (for the leases and the open list). */
static int
order_pos(const struct state *s, const struct order *o, uint64_t *pos)
{
	/* ids are "o-<index>" and orders are in index order: bisect */
	size_t lo = 0, hi = s->nords;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->ords[mid]->index == o->index) {
			*pos = mid;
			return s->ords[mid] == o ? 0 : -1;
		}
		if (s->ords[mid]->index < o->index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int
state_snapshot_encode(const struct state *s, char **out, size_t *len)
{
	struct wbuf w = { 0 };
	const char **strs = NULL;
	uint64_t pos;

	w_bytes(&w, SNAP_MAGIC, strlen(SNAP_MAGIC));
	w_u64(&w, s->last_index);
	w_i64(&w, s->time);
	w_i64(&w, s->now);
	w_u64(&w, s->now_index);
	w_u64(&w, s->applied);
	w_i64s(&w, s->deposits, STATE_DENOMS_MAX);
	w_i64s(&w, s->balances, STATE_DENOMS_MAX);
	w_i64s(&w, s->escrows, STATE_DENOMS_MAX);
	w_i64s(&w, s->bonds, STATE_DENOMS_MAX);
	w_i64s(&w, s->entry_fees, STATE_DENOMS_MAX);
	/* interned strings, by id */
	if ((strs = calloc(s->nstrings + 1, sizeof(*strs))) == NULL)
		goto nomem;
	for (size_t i = 0; i < s->strings.cap; i++)
		if (s->strings.keys[i] != NULL) {
			uintptr_t id = (uintptr_t)s->strings.vals[i] - 1;
			if (id >= s->nstrings)
				goto corrupt;
			strs[id] = s->strings.keys[i];
		}
	w_u64(&w, s->nstrings);
	for (size_t i = 0; i < s->nstrings; i++) {
		if (strs[i] == NULL)
			goto corrupt;
		w_str(&w, strs[i]);
	}
	free(strs);
	strs = NULL;
	w_u64(&w, s->nruntimes);
	for (size_t i = 0; i < s->nruntimes; i++)
		w_str(&w, s->runtime_names[i]);
	w_u64(&w, s->naccts);
	for (size_t i = 0; i < s->naccts; i++) {
		w_bytes(&w, s->accts[i]->key, KEY_PUB_LEN);
		w_i64s(&w, s->accts[i]->bal, STATE_DENOMS_MAX);
	}
	w_u64(&w, s->nprovs);
	for (size_t i = 0; i < s->nprovs; i++)
		w_provider(&w, s->provs[i]);
	w_u64(&w, s->nords);
	for (size_t i = 0; i < s->nords; i++)
		w_order(&w, s->ords[i]);
	w_u64(&w, s->nopen);
	for (size_t i = 0; i < s->nopen; i++) {
		if (order_pos(s, s->open[i], &pos) < 0)
			goto corrupt;
		w_u64(&w, pos);
	}
	w_u64(&w, s->nleases);
	for (size_t i = 0; i < s->nleases; i++) {
		if (order_pos(s, s->leases_v[i]->order, &pos) < 0)
			goto corrupt;
		w_lease(&w, s->leases_v[i], pos);
	}
	w_u64(&w, s->pq_n);
	for (size_t i = 0; i < s->pq_n; i++) {
		w_str(&w, s->pq[s->pq_head + i].kind);
		w_json(&w, s->pq[s->pq_head + i].body);
	}
	/* nonces: the expiry heap in its order; the set is its keys */
	w_u64(&w, s->nheap_n);
	for (size_t i = 0; i < s->nheap_n; i++) {
		w_i64(&w, s->nheap[i].exp);
		w_str(&w, s->nheap[i].key);
	}
	w_bytes(&w, SNAP_MAGIC, strlen(SNAP_MAGIC));
	if (w.failed)
		goto nomem;
	*out = w.p;
	*len = w.n;
	return 0;
nomem:
	free(strs);
	free(w.p);
	return err_set(ERR_NOMEM, "out of memory");
corrupt:
	free(strs);
	free(w.p);
	return err_set(ERR_CORRUPT, "state snapshot: inconsistent state");
}

/* ---- reading ------------------------------------------------------- */

struct rbuf {
	const uint8_t *p;
	size_t n, off;
	const char *bad; /* the first problem, or NULL */
};

static void
r_fail(struct rbuf *r, const char *why)
{
	if (r->bad == NULL)
		r->bad = why;
}

static int
r_bytes(struct rbuf *r, void *v, size_t len)
{
	if (len == 0)
		return r->bad != NULL ? -1 : 0;
	if (r->bad != NULL || len > r->n - r->off) {
		r_fail(r, "truncated");
		memset(v, 0, len);
		return -1;
	}
	memcpy(v, r->p + r->off, len);
	r->off += len;
	return 0;
}

static uint64_t
r_u64(struct rbuf *r)
{
	uint8_t b[8];
	uint64_t v = 0;

	if (r_bytes(r, b, 8) < 0)
		return 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static int64_t
r_i64(struct rbuf *r)
{
	return (int64_t)r_u64(r);
}

static state_u128
r_u128(struct rbuf *r)
{
	uint64_t lo = r_u64(r), hi = r_u64(r);

	return (state_u128)hi << 64 | lo;
}

/* A count of items of at least min_size bytes each: no more than what
 * the payload can hold (so that a damaged count cannot allocate much). */
static size_t
r_count(struct rbuf *r, size_t min_size, size_t limit)
{
	uint64_t n = r_u64(r);

	if (n > limit || n > (r->n - r->off) / (min_size ? min_size : 1)) {
		r_fail(r, "a count is larger than the payload");
		return 0;
	}
	return (size_t)n;
}

/* A bounded position (< n), NONE allowed when nullable. */
static uint64_t
r_pos(struct rbuf *r, size_t n, int nullable)
{
	uint64_t v = r_u64(r);

	if ((v == NONE && nullable) || v < n)
		return v;
	r_fail(r, "a reference points past its array");
	return NONE;
}

/* A string into buf of size cap (NUL-terminated), or malloc'd when buf
 * is NULL. */
static char *
r_str(struct rbuf *r, char *buf, size_t cap)
{
	size_t n = r_count(r, 1, buf ? cap - 1 : ST_MAX_STR * 4 + 64);
	char *s = buf;

	if (r->bad)
		return NULL;
	if (s == NULL && (s = malloc(n + 1)) == NULL) {
		r_fail(r, "out of memory");
		return NULL;
	}
	if (r_bytes(r, s, n) < 0) {
		if (buf == NULL)
			free(s);
		return NULL;
	}
	s[n] = '\0';
	if (strlen(s) != n) {
		r_fail(r, "a string holds a NUL");
		if (buf == NULL)
			free(s);
		return NULL;
	}
	return s;
}

static json_t *
r_json(struct rbuf *r, int nullable)
{
	uint64_t n = r_u64(r);
	json_t *j = NULL;

	if (r->bad)
		return NULL;
	if (n == NONE && nullable)
		return NULL;
	if (n > r->n - r->off) {
		r_fail(r, "truncated JSON value");
		return NULL;
	}
	if (cjson_parse((const char *)r->p + r->off, (size_t)n, &j) < 0) {
		r_fail(r, "a JSON value does not parse");
		return NULL;
	}
	r->off += (size_t)n;
	return j;
}

static void
r_res(struct rbuf *r, struct res4 *v)
{
	v->cpu = r_i64(r);
	v->mem = r_i64(r);
	v->sto = r_i64(r);
	v->gpu = r_i64(r);
}

static uint64_t *
r_kv(struct rbuf *r, size_t *n)
{
	uint64_t *kv;

	*n = r_count(r, 8, ST_MAX_ATTRS);
	if (r->bad || *n == 0)
		return NULL;
	if ((kv = calloc(*n, sizeof(*kv))) == NULL) {
		*n = 0;
		r_fail(r, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		kv[i] = r_u64(r);
	return kv;
}

static void
r_i64s(struct rbuf *r, int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = r_i64(r);
}

static int
r_enum(struct rbuf *r, int limit)
{
	uint64_t v = r_u64(r);

	if (v >= (uint64_t)limit) {
		r_fail(r, "a status or reason is out of its range");
		return 0;
	}
	return (int)v;
}

static int
r_denom(struct rbuf *r, const struct state *s)
{
	int64_t d = r_i64(r);

	if (d < 0 || (size_t)d >= s->cfg.ndenoms) {
		r_fail(r, "a denomination is not the genesis's");
		return 0;
	}
	return (int)d;
}

/* Add a whole object to its array (grown) and, keyed, to its map. */
static int
put_in(void ***arr, size_t *n, size_t *cap, struct smap *m, const char *key,
    void *v)
{
	if (st_grow((void **)arr, cap, *n + 1, sizeof(void *)) < 0)
		return -1;
	if (m != NULL &&
	    (st_smap_get(m, key) != NULL || st_smap_put(m, key, v) < 0))
		return -1;
	(*arr)[(*n)++] = v;
	return 0;
}

static void
r_keys_max(struct rbuf *r, uint8_t (**out)[KEY_PUB_LEN], size_t *n, size_t max)
{
	*n = r_count(r, KEY_PUB_LEN, max);
	if (r->bad || *n == 0)
		return;
	if ((*out = calloc(*n, KEY_PUB_LEN)) == NULL) {
		*n = 0;
		r_fail(r, "out of memory");
		return;
	}
	r_bytes(r, *out, *n * KEY_PUB_LEN);
}

static void
r_keys(struct rbuf *r, uint8_t (**out)[KEY_PUB_LEN], size_t *n)
{
	r_keys_max(r, out, n, ST_MAX_AUDITORS);
}

/* w_caps's list, checked as the state checks an entry's. */
static void
r_caps(struct rbuf *r, const char *what, char ***v, size_t *n)
{
	json_t *a = r_json(r, 1);

	if (r->bad)
		return;
	if (!json_is_array(a) || st_capabilities_parse(a, what, v, n) < 0)
		r_fail(r, "a capability list is malformed");
	json_decref(a);
}

static void
r_provider(struct rbuf *r, struct state *s, struct provider *p)
{
	r_bytes(r, p->key, KEY_PUB_LEN);
	key_pub_to_text(p->key, p->key_text);
	p->has_ask = r_enum(r, 2);
	p->withdrawn = r_enum(r, 2);
	p->online = r_enum(r, 2);
	p->ask_index = r_u64(r);
	p->ask_time = r_i64(r);
	p->last_seen = r_i64(r);
	r_res(r, &p->cap);
	r_res(r, &p->used);
	r_res(r, &p->pend);
	p->denom = r_denom(r, s);
	p->runtimes = (uint32_t)r_u64(r);
	r_i64s(r, p->price, ST_METERS);
	p->kv = r_kv(r, &p->nkv);
	p->kv_bloom = st_kv_bloom(p->kv, p->nkv);
	p->natt = r_count(r, KEY_PUB_LEN + 24, SIZE_MAX);
	if (r->bad)
		return;
	if (p->natt > 0 &&
	    (p->att = calloc(p->natt, sizeof(*p->att))) == NULL) {
		p->natt = 0;
		r_fail(r, "out of memory");
		return;
	}
	for (size_t i = 0; i < p->natt; i++) {
		r_bytes(r, p->att[i].auditor, KEY_PUB_LEN);
		p->att[i].kv = r_kv(r, &p->att[i].nkv);
		p->att[i].index = r_u64(r);
		p->att[i].attrs = r_json(r, 1);
	}
	p->ask = r_json(r, 1);
	p->nleases = (size_t)r_u64(r);
	p->bond = r_i64(r);
	r_caps(r, "provider capabilities", &p->capv, &p->ncap);
	r_keys_max(r, &p->allow, &p->nallow, ST_MAX_POLICY_KEYS);
	r_keys_max(r, &p->deny, &p->ndeny, ST_MAX_POLICY_KEYS);
	p->min_lease_epochs = r_i64(r);
	p->rec.first_time = r_i64(r);
	p->rec.first_index = r_u64(r);
	p->rec.won = r_i64(r);
	p->rec.started = r_i64(r);
	p->rec.usage_reports = r_i64(r);
	p->rec.heartbeats = r_i64(r);
	p->rec.offline_marks = r_i64(r);
	r_i64s(r, p->rec.ended, STATE_REASON_COUNT);
	p->rec.bond_max = r_i64(r);
	p->rec.bond_changes = r_i64(r);
	p->rec.offline_ms = r_i64(r);
	p->rec.noff = r_count(r, 16, SIZE_MAX);
	if (r->bad || p->rec.noff == 0) {
		p->rec.noff = 0;
		return;
	}
	if ((p->rec.off = calloc(p->rec.noff, sizeof(*p->rec.off))) == NULL) {
		p->rec.noff = 0;
		r_fail(r, "out of memory");
		return;
	}
	p->rec.off_cap = p->rec.noff;
	for (size_t i = 0; i < p->rec.noff; i++) {
		p->rec.off[i].from = r_i64(r);
		p->rec.off[i].to = r_i64(r);
	}
}

static void
r_order(struct rbuf *r, struct state *s, struct order *o)
{
	uint64_t t;

	o->index = r_u64(r);
	r_str(r, o->id, sizeof(o->id));
	t = r_pos(r, s->naccts, 1);
	o->tenant = t == NONE ? NULL : s->accts[t];
	o->denom = r_denom(r, s);
	o->max_price = r_i64(r);
	o->deposit = r_i64(r);
	o->escrow = r_i64(r);
	o->ttl_ms = r_i64(r);
	o->created = r_i64(r);
	r_i64s(r, o->caps, ST_METERS);
	r_res(r, &o->need);
	o->w_cpu = r_u128(r);
	o->w_mem = r_u128(r);
	o->w_sto = r_u128(r);
	o->w_small = r_enum(r, 2);
	o->runtimes = (uint32_t)r_u64(r);
	o->kv = r_kv(r, &o->nkv);
	o->kv_bloom = st_kv_bloom(o->kv, o->nkv);
	r_keys(r, &o->all_of, &o->nall);
	r_keys(r, &o->any_of, &o->nany);
	o->body = r_json(r, 1);
	r_caps(r, "order capabilities", &o->capv, &o->ncap);
	o->has_min_rep = r_enum(r, 2);
	r_i64s(r, o->min_rep, ST_REP_N);
	o->status = (enum order_status)r_enum(r, ORDER_CLOSED + 1);
	o->reason = (enum state_reason)r_enum(r, STATE_REASON_COUNT);
	o->closed_time = r_i64(r);
	o->closed_index = r_u64(r);
	o->refund = r_i64(r);
	o->m.index = r_u64(r);
	o->m.time = r_i64(r);
	o->m.nfit = (size_t)r_u64(r);
	o->m.nbest = (size_t)r_u64(r);
	if (o->m.nbest > ST_STORY_CANDIDATES) {
		o->m.nbest = 0;
		r_fail(r, "a match story holds too many asks");
		return;
	}
	for (size_t i = 0; i < o->m.nbest; i++) {
		t = r_pos(r, s->nprovs, 0);
		o->m.best[i].p = t == NONE ? NULL : s->provs[t];
		o->m.best[i].price = r_i64(r);
		o->m.best[i].ask_time = r_i64(r);
		o->m.best[i].ask_index = r_u64(r);
	}
}

static void
r_lease(struct rbuf *r, struct state *s, struct lease *l)
{
	uint64_t t;
	int current;

	l->index = r_u64(r);
	r_str(r, l->id, sizeof(l->id));
	t = r_pos(r, s->nords, 0);
	l->order = t == NONE ? NULL : s->ords[t];
	current = r_enum(r, 2);
	if (l->order != NULL && current)
		l->order->lease = l;
	t = r_pos(r, s->nprovs, 0);
	l->prov = t == NONE ? NULL : s->provs[t];
	l->price = r_i64(r);
	l->created = r_i64(r);
	l->started = r_i64(r);
	l->status = (enum lease_status)r_enum(r, LEASE_PAUSED + 1);
	r_i64s(r, l->last, ST_METERS);
	r_i64s(r, l->billed, ST_METERS);
	l->carry = r_i64(r);
	l->carry_x = r_i64(r);
	l->charged = r_i64(r);
	l->charged_r = r_i64(r);
	l->charged_x = r_i64(r);
	l->fees = r_i64(r);
	l->billed_epochs = r_i64(r);
	l->started_index = r_u64(r);
	l->proof_time = r_i64(r);
	l->reason = (enum state_reason)r_enum(r, STATE_REASON_COUNT);
	l->closed_time = r_i64(r);
	l->closed_index = r_u64(r);
	r_str(r, l->closed_by, sizeof(l->closed_by));
	l->usage = r_json(r, 1);
	l->updates = r_json(r, 1);
	if (l->updates != NULL && !json_is_array(l->updates))
		r_fail(r, "a lease's updates are not an array");
	l->auto_topup.amount = r_i64(r);
	l->auto_topup.below = r_i64(r);
	l->auto_topup.index = r_u64(r);
	l->auto_topup.time = r_i64(r);
	l->auto_topup.instructions = r_i64(r);
	l->auto_topup.applied = r_i64(r);
	l->auto_topup.moved = r_i64(r);
	l->auto_topup.shortfalls = r_i64(r);
	l->auto_topup.on_credit = r_i64(r);
	l->auto_topup.credit_index = r_u64(r);
	l->auto_topup.on_due = r_i64(r);
	if (l->auto_topup.on_credit < 0 || l->auto_topup.on_due < 0 ||
	    l->auto_topup.on_credit >
	        l->auto_topup.applied - l->auto_topup.on_due)
		r_fail(r, "a lease's top-ups on credit are out of range");
	if (l->auto_topup.amount < 0 || l->auto_topup.below < 0 ||
	    l->auto_topup.below > ST_AUTOTOPUP_MAX_EPOCHS ||
	    (l->auto_topup.amount > 0) != (l->auto_topup.below > 0) ||
	    l->auto_topup.instructions < 0 || l->auto_topup.applied < 0 ||
	    l->auto_topup.moved < 0 || l->auto_topup.shortfalls < 0)
		r_fail(r, "a lease's standing top-up is out of range");
	l->paused_at = r_i64(r);
	l->paused_ms = r_i64(r);
	l->pauses = r_i64(r);
	/* a lease closed while paused keeps the paused_at of that pause */
	if (l->paused_ms < 0 || l->pauses < 0 ||
	    (l->status == LEASE_PAUSED && l->paused_at == 0) ||
	    ((l->status == LEASE_ACTIVE || l->status == LEASE_CREATED) &&
	        l->paused_at != 0))
		r_fail(r, "a lease's pause fields are inconsistent");
}

static void
r_state(struct rbuf *r, struct state *s)
{
	char magic[sizeof(SNAP_MAGIC)] = { 0 };
	char name[ST_MAX_STR * 4 + 64];
	size_t n;

	r_bytes(r, magic, strlen(SNAP_MAGIC));
	if (memcmp(magic, SNAP_MAGIC, strlen(SNAP_MAGIC)) != 0) {
		r_fail(r, "not a state snapshot of this version");
		return;
	}
	s->last_index = r_u64(r);
	s->time = r_i64(r);
	s->now = r_i64(r);
	s->now_index = r_u64(r);
	s->applied = (size_t)r_u64(r);
	r_i64s(r, s->deposits, STATE_DENOMS_MAX);
	r_i64s(r, s->balances, STATE_DENOMS_MAX);
	r_i64s(r, s->escrows, STATE_DENOMS_MAX);
	r_i64s(r, s->bonds, STATE_DENOMS_MAX);
	r_i64s(r, s->entry_fees, STATE_DENOMS_MAX);
	n = r_count(r, 8, UINT32_MAX - 1);
	for (size_t i = 0; i < n && !r->bad; i++) {
		if (r_str(r, name, sizeof(name)) == NULL)
			break;
		if (st_smap_get(&s->strings, name) != NULL ||
		    st_smap_put(&s->strings, name, (void *)(uintptr_t)(i + 1)) <
		        0)
			r_fail(r, "an interned string twice, or no memory");
		else
			s->nstrings++;
	}
	n = r_count(r, 8, ST_MAX_RUNTIMES);
	for (size_t i = 0; i < n && !r->bad; i++)
		if ((s->runtime_names[i] = r_str(r, NULL, 0)) != NULL)
			s->nruntimes++;
	n = r_count(r, KEY_PUB_LEN, SIZE_MAX);
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct account *a = calloc(1, sizeof(*a));

		if (a == NULL) {
			r_fail(r, "out of memory");
			break;
		}
		r_bytes(r, a->key, KEY_PUB_LEN);
		key_pub_to_text(a->key, a->key_text);
		r_i64s(r, a->bal, STATE_DENOMS_MAX);
		a->seq = s->naccts;
		if (put_in((void ***)&s->accts, &s->naccts, &s->accts_cap,
		        &s->accounts, a->key_text, a) < 0) {
			free(a);
			r_fail(r, "an account twice, or no memory");
		}
	}
	n = r_count(r, KEY_PUB_LEN, SIZE_MAX);
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct provider *p = calloc(1, sizeof(*p));

		if (p == NULL) {
			r_fail(r, "out of memory");
			break;
		}
		p->seq = s->nprovs;
		r_provider(r, s, p);
		if (put_in((void ***)&s->provs, &s->nprovs, &s->provs_cap,
		        &s->providers, p->key_text, p) < 0) {
			r_fail(r, "a provider twice, or no memory");
			/* the state frees what it holds; p is not in it */
			st_provider_free(p);
		}
	}
	n = r_count(r, 8, SIZE_MAX);
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct order *o = calloc(1, sizeof(*o));

		if (o == NULL) {
			r_fail(r, "out of memory");
			break;
		}
		r_order(r, s, o);
		if (i > 0 && !r->bad && o->index <= s->ords[i - 1]->index)
			r_fail(r, "orders out of index order");
		if (put_in((void ***)&s->ords, &s->nords, &s->ords_cap,
		        &s->orders, o->id, o) < 0) {
			r_fail(r, "an order twice, or no memory");
			st_order_free(o);
		}
	}
	n = r_count(r, 8, SIZE_MAX);
	if (!r->bad && n > 0 &&
	    st_grow((void **)&s->open, &s->open_cap, n, sizeof(*s->open)) < 0)
		r_fail(r, "out of memory");
	for (size_t i = 0; i < n && !r->bad; i++) {
		uint64_t t = r_pos(r, s->nords, 0);
		if (t != NONE)
			s->open[s->nopen++] = s->ords[t];
	}
	n = r_count(r, 8, SIZE_MAX);
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct lease *l = calloc(1, sizeof(*l));

		if (l == NULL) {
			r_fail(r, "out of memory");
			break;
		}
		r_lease(r, s, l);
		if (!r->bad && (l->order == NULL || l->prov == NULL))
			r_fail(r, "a lease without its order or provider");
		if (put_in((void ***)&s->leases_v, &s->nleases, &s->leases_cap,
		        &s->leases, l->id, l) < 0) {
			r_fail(r, "a lease twice, or no memory");
			if (l->order != NULL && l->order->lease == l)
				l->order->lease = NULL;
			st_lease_free(l);
		}
	}
	n = r_count(r, 16, SIZE_MAX);
	for (size_t i = 0; i < n && !r->bad; i++) {
		char kind[ENVELOPE_KIND_MAX + 1];
		json_t *body;

		if (r_str(r, kind, sizeof(kind)) == NULL ||
		    (body = r_json(r, 0)) == NULL)
			break;
		if (st_push(s, kind, body) < 0) /* takes body */
			r_fail(r, "out of memory");
	}
	n = r_count(r, 16, SIZE_MAX);
	if (!r->bad && n > 0 &&
	    st_grow((void **)&s->nheap, &s->nheap_cap, n, sizeof(*s->nheap)) <
	        0)
		r_fail(r, "out of memory");
	for (size_t i = 0; i < n && !r->bad; i++) {
		int64_t exp = r_i64(r);
		char *key = r_str(r, NULL, 0);

		if (key == NULL)
			break;
		if (st_smap_get(&s->nonces, key) != NULL ||
		    st_smap_put(&s->nonces, key, (void *)1) < 0) {
			free(key);
			r_fail(r, "a nonce twice, or no memory");
			break;
		}
		s->nheap[s->nheap_n].exp = exp;
		s->nheap[s->nheap_n].key = key;
		s->nheap_n++;
		if (s->nheap_n > 1 && s->nheap[(s->nheap_n - 2) / 2].exp > exp)
			r_fail(r, "the nonce expiries are not a heap");
	}
	r_bytes(r, magic, strlen(SNAP_MAGIC));
	if (!r->bad && memcmp(magic, SNAP_MAGIC, strlen(SNAP_MAGIC)) != 0)
		r_fail(r, "the payload does not end where it should");
	if (!r->bad && r->off != r->n)
		r_fail(r, "bytes after the end");
}

/* Every amount non-negative and the sums per denomination, overflow
 * checked, equal to the totals and to the deposits: what
 * state_check_invariants assumes of a state the rules built (its sums
 * cannot overflow then), checked before it runs. */
static const char *
amounts_ok(const struct state *s)
{
	int64_t sum[3][STATE_DENOMS_MAX] = { { 0 } };

	for (size_t d = 0; d < STATE_DENOMS_MAX; d++)
		if (s->deposits[d] < 0 || s->balances[d] < 0 ||
		    s->escrows[d] < 0 || s->bonds[d] < 0 ||
		    s->entry_fees[d] < 0)
			return "a negative total";
	for (size_t i = 0; i < s->naccts; i++)
		for (size_t d = 0; d < STATE_DENOMS_MAX; d++)
			if (s->accts[i]->bal[d] < 0 ||
			    __builtin_add_overflow(sum[0][d],
			        s->accts[i]->bal[d], &sum[0][d]))
				return "an account balance out of range";
	for (size_t i = 0; i < s->nords; i++)
		if (s->ords[i]->escrow < 0 ||
		    __builtin_add_overflow(sum[1][s->ords[i]->denom],
		        s->ords[i]->escrow, &sum[1][s->ords[i]->denom]))
			return "an escrow out of range";
	for (size_t i = 0; i < s->nprovs; i++)
		if (s->provs[i]->bond < 0 ||
		    __builtin_add_overflow(sum[2][0], s->provs[i]->bond,
		        &sum[2][0]))
			return "a bond out of range";
	for (size_t d = 0; d < STATE_DENOMS_MAX; d++) {
		int64_t all;
		if (sum[0][d] != s->balances[d] || sum[1][d] != s->escrows[d] ||
		    sum[2][d] != s->bonds[d] ||
		    __builtin_add_overflow(sum[0][d], sum[1][d], &all) ||
		    __builtin_add_overflow(all, sum[2][d], &all) ||
		    all != s->deposits[d])
			return "balances, escrows and bonds that are not the "
			       "deposits";
	}
	return NULL;
}

int
state_snapshot_decode(const struct state_config *c, const char *buf, size_t len,
    struct state **out)
{
	struct rbuf r = { (const uint8_t *)buf, len, 0, NULL };
	struct state *s;
	int rc;

	if ((rc = state_new(c, &s)) < 0)
		return rc;
	r_state(&r, s);
	s->kv_gen = 1; /* the match index is built on first use */
	if (r.bad == NULL)
		st_paused_auto_recount(s); /* derived, not in the snapshot */
	if (r.bad == NULL)
		r.bad = amounts_ok(s);
	if (r.bad == NULL && (rc = state_check_invariants(s)) < 0) {
		state_free(s);
		return err_prefix(ERR_CORRUPT, "state snapshot");
	}
	if (r.bad != NULL) {
		state_free(s);
		return err_set(ERR_CORRUPT, "state snapshot: %s (at byte %zu)",
		    r.bad, r.off);
	}
	*out = s;
	return 0;
}
