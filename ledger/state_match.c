/*
 * state_match: pricing and matching (DESIGN.md, "Matching").  An order
 * fits a provider when the provider is online, its attributes satisfy the
 * order's, the auditors of signedBy attest it, it offers the runtimes and
 * the capabilities (storage classes, ...), its
 * free capacity holds resources x count, its price for one epoch of
 * full use is at most the order's max price and the order's escrow pays
 * min_lease_epochs of that price.  The cheapest fitting ask
 * wins; ties go to the older ask, then to the lower provider key.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ledger/state_internal.h"

int64_t
st_epochs(const struct state *s, int64_t from, int64_t to)
{
	int64_t d;

	if (to <= from)
		return 0;
	d = to - from; /* both >= 0: no overflow */
	return d / s->cfg.epoch_ms + (d % s->cfg.epoch_ms != 0);
}

int
st_order_expired(const struct order *o, int64_t t)
{
	return t - o->created >= o->ttl_ms;
}

int64_t
st_lease_clock(const struct lease *l)
{
	/* paused_ms <= the time since started: no overflow */
	return l->started + l->paused_ms;
}

/* A started lease is unfunded at t when its escrow is empty, or when t
 * has reached the end of the epochs the escrow can still pay at the
 * agreed lease price beyond those already billed. */
int
st_lease_unfunded(const struct state *s, const struct lease *l, int64_t t)
{
	const struct order *o = l->order;
	state_u128 end;

	if (l->status != LEASE_ACTIVE)
		return 0;
	if (o->escrow == 0)
		return 1;
	if (l->price <= 0)
		return 0;
	end = ((state_u128)(uint64_t)l->billed_epochs +
	          (uint64_t)(o->escrow / l->price)) *
	        (uint64_t)s->cfg.epoch_ms +
	    (uint64_t)st_lease_clock(l);
	return (state_u128)(uint64_t)t >= end;
}

int64_t
st_lease_paid_until(const struct state *s, const struct lease *l)
{
	const struct order *o = l->order;
	state_u128 end;

	if (l->status != LEASE_ACTIVE || l->price <= 0)
		return -1;
	if (o->escrow == 0)
		return st_lease_clock(l);
	end = ((state_u128)(uint64_t)l->billed_epochs +
	          (uint64_t)(o->escrow / l->price)) *
	        (uint64_t)s->cfg.epoch_ms +
	    (uint64_t)st_lease_clock(l);
	return end > (state_u128)INT64_MAX ? INT64_MAX : (int64_t)end;
}

/* Price of one epoch of full use: E * (p_cpu * cpu * 10^6 + p_mem * mem +
 * p_sto * sto) / 10^15, rounded down (prices are per 10^6 of cpu_ms and
 * MB-s; cpu_ms = millicores * E / 10^3, MB-s = bytes * E / 10^9). */
uint64_t
st_kv_bloom(const uint64_t *kv, size_t n)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++)
		m |= UINT64_C(1) << ((kv[i] * 0x9e3779b97f4a7c15ULL) >> 58);
	return m;
}

int64_t
st_ask_price(const struct provider *p, const struct order *o)
{
	state_u128 a, b, c, sum;

	if (o->w_small) { /* prices < 2^41: each term < 2^127 / 2 */
		sum = (state_u128)(uint64_t)p->price[ST_CPU_MS] * o->w_cpu +
		    (state_u128)(uint64_t)p->price[ST_MEM_MB_S] * o->w_mem +
		    (state_u128)(uint64_t)p->price[ST_STORAGE_MB_S] * o->w_sto;
		sum /= (state_u128)1000000000000000ULL;
		return sum > (state_u128)INT64_MAX ? -1 : (int64_t)sum;
	}

	if (__builtin_mul_overflow((state_u128)(uint64_t)p->price[ST_CPU_MS],
	        o->w_cpu, &a) ||
	    __builtin_mul_overflow((state_u128)(uint64_t)p->price[ST_MEM_MB_S],
	        o->w_mem, &b) ||
	    __builtin_mul_overflow(
	        (state_u128)(uint64_t)p->price[ST_STORAGE_MB_S], o->w_sto,
	        &c) ||
	    __builtin_add_overflow(a, b, &sum) ||
	    __builtin_add_overflow(sum, c, &sum))
		return -1;
	sum /= (state_u128)1000000000000000ULL;
	if (sum > (state_u128)INT64_MAX)
		return -1;
	return (int64_t)sum;
}

static int
has_kv(const uint64_t *kv, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (kv[mid] == x)
			return 1;
		if (kv[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
attested(const struct provider *p, const uint8_t auditor[KEY_PUB_LEN],
    const struct order *o)
{
	for (size_t i = 0; i < p->natt; i++) {
		const struct attest *a = &p->att[i];
		size_t j;
		if (memcmp(a->auditor, auditor, KEY_PUB_LEN) != 0)
			continue;
		for (j = 0; j < o->nkv; j++)
			if (!has_kv(a->kv, a->nkv, o->kv[j]))
				break;
		return j == o->nkv;
	}
	return 0;
}

/* Whether key is in the sorted array keys[n]. */
static int
has_key(const uint8_t (*keys)[KEY_PUB_LEN], size_t n,
    const uint8_t key[KEY_PUB_LEN])
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(keys[mid], key, KEY_PUB_LEN);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

enum st_nofit
st_fit_reason(const struct state *s, const struct provider *p,
    const struct order *o, int64_t *price)
{
	int64_t pr, epochs;

	if (!p->has_ask || p->withdrawn)
		return ST_NOFIT_NO_ASK;
	if (!p->online)
		return ST_NOFIT_OFFLINE;
	if (p->denom != o->denom)
		return ST_NOFIT_DENOM;
	if ((o->runtimes & ~p->runtimes) != 0 || o->unknown_runtime)
		return ST_NOFIT_RUNTIMES;
	if (o->need.cpu > p->cap.cpu - p->used.cpu - p->pend.cpu)
		return ST_NOFIT_CPU;
	if (o->need.mem > p->cap.mem - p->used.mem - p->pend.mem)
		return ST_NOFIT_MEM;
	if (o->need.sto > p->cap.sto - p->used.sto - p->pend.sto)
		return ST_NOFIT_STORAGE;
	if (o->need.gpu > p->cap.gpu - p->used.gpu - p->pend.gpu)
		return ST_NOFIT_GPU;
	if (!st_capabilities_hold(p->capv, p->ncap, o->capv, o->ncap))
		return ST_NOFIT_CAPABILITIES;
	if ((o->kv_bloom & ~p->kv_bloom) != 0)
		return ST_NOFIT_ATTRIBUTES;
	for (size_t i = 0; i < o->nkv; i++)
		if (!has_kv(p->kv, p->nkv, o->kv[i]))
			return ST_NOFIT_ATTRIBUTES;
	if (o->nall > 0 || o->nany > 0) {
		size_t i;
		for (i = 0; i < o->nall; i++)
			if (!attested(p, o->all_of[i], o))
				return ST_NOFIT_SIGNED_BY;
		for (i = 0; i < o->nany; i++)
			if (attested(p, o->any_of[i], o))
				break;
		if (o->nany > 0 && i == o->nany)
			return ST_NOFIT_SIGNED_BY;
	}
	if (o->has_min_rep && st_rec_below(p, o, s->now, NULL) >= 0)
		return ST_NOFIT_REPUTATION;
	/* the provider's bid policy (tenants it takes) */
	if (p->ndeny > 0 && has_key(p->deny, p->ndeny, o->tenant->key))
		return ST_NOFIT_POLICY_DENY;
	if (p->nallow > 0 && !has_key(p->allow, p->nallow, o->tenant->key))
		return ST_NOFIT_POLICY_ALLOW;
	if ((pr = st_ask_price(p, o)) < 0 || pr > o->max_price)
		return ST_NOFIT_PRICE;
	/* the escrow must pay the minimum lease at this price: the
	 * market's, or the provider's own when its policy asks more */
	epochs = s->cfg.min_lease_epochs;
	if (p->min_lease_epochs > epochs)
		epochs = p->min_lease_epochs;
	if ((state_u128)(uint64_t)pr * (uint64_t)s->cfg.min_lease_epochs >
	    (state_u128)(uint64_t)o->escrow)
		return ST_NOFIT_ESCROW;
	if ((state_u128)(uint64_t)pr * (uint64_t)epochs >
	    (state_u128)(uint64_t)o->escrow)
		return ST_NOFIT_POLICY_MIN_LEASE;
	*price = pr;
	return ST_FIT;
}

int
st_fits(const struct state *s, const struct provider *p, const struct order *o,
    int64_t *price)
{
	return st_fit_reason(s, p, o, price) == ST_FIT;
}

struct cand {
	const struct provider *p;
	int64_t price;
};

/*
 * The attribute index.  An order fits only providers whose attributes
 * hold every k:v the order names (st_fits), so the providers listed under
 * any one of its pairs are a superset of those that fit; matching runs
 * st_fits over the shortest such list instead of every provider.  The
 * winner and the story (the count of fitting asks, the best five) do not
 * depend on the order providers are visited in (better() is a total
 * order), so the result is the scan's.  Rebuilt whole when an ask's
 * attributes change (an advertise already re-runs matching over every
 * open order, so this costs it little); without memory for it matching
 * scans, as before.
 */
struct plist {
	uint64_t kv;
	int used;
	struct provider **v;
	size_t n, cap;
};

struct st_match_index {
	uint64_t gen; /* s->kv_gen it was built at */
	struct plist *t; /* open addressing, cap a power of two */
	size_t cap, n;
};

int st_match_index_off;

static size_t
kv_slot(const struct st_match_index *x, uint64_t kv)
{
	size_t i = (size_t)((kv * 0x9e3779b97f4a7c15ULL) >> 20) & (x->cap - 1);

	while (x->t[i].used && x->t[i].kv != kv)
		i = (i + 1) & (x->cap - 1);
	return i;
}

static void
index_clear(struct st_match_index *x)
{
	for (size_t i = 0; i < x->cap; i++)
		free(x->t[i].v);
	free(x->t);
	x->t = NULL;
	x->cap = x->n = 0;
}

void
st_match_index_free(struct st_match_index *x)
{
	if (x == NULL)
		return;
	index_clear(x);
	free(x);
}

static int
index_add(struct st_match_index *x, uint64_t kv, struct provider *p)
{
	struct plist *l;

	if ((x->n + 1) * 2 > x->cap) {
		struct st_match_index bigger = { 0 };

		bigger.cap = x->cap ? x->cap * 2 : 64;
		if ((bigger.t = calloc(bigger.cap, sizeof(*bigger.t))) == NULL)
			return ERR_NOMEM;
		for (size_t i = 0; i < x->cap; i++)
			if (x->t[i].used)
				bigger.t[kv_slot(&bigger, x->t[i].kv)] =
				    x->t[i];
		free(x->t);
		x->t = bigger.t;
		x->cap = bigger.cap;
	}
	l = &x->t[kv_slot(x, kv)];
	if (!l->used) {
		l->used = 1;
		l->kv = kv;
		x->n++;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct provider **v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = p;
	return 0;
}

/* The index for the providers as they are now; NULL when there is no
 * memory for it (the caller scans). */
static struct st_match_index *
index_get(struct state *s)
{
	struct st_match_index *x = s->midx;

	if (x != NULL && x->gen == s->kv_gen)
		return x;
	if (x == NULL && (x = s->midx = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	index_clear(x);
	for (size_t i = 0; i < s->nprovs; i++) {
		struct provider *p = s->provs[i];
		for (size_t j = 0; j < p->nkv; j++)
			if (index_add(x, p->kv[j], p) < 0) {
				index_clear(x);
				x->gen = s->kv_gen - 1; /* try again later */
				return NULL;
			}
	}
	x->gen = s->kv_gen;
	return x;
}

/* The providers to run st_fits over for o: every one, or those under
 * the order's rarest attribute pair (none when a pair is held by none). */
static struct provider *const *
candidates(struct state *s, const struct order *o, size_t *n)
{
	struct provider *const *v = s->provs;
	struct st_match_index *x;

	*n = s->nprovs;
	if (o->nkv == 0 || st_match_index_off || (x = index_get(s)) == NULL)
		return v;
	if (x->cap == 0) { /* no provider holds any attribute */
		*n = 0;
		return v;
	}
	for (size_t i = 0; i < o->nkv; i++) {
		const struct plist *l = &x->t[kv_slot(x, o->kv[i])];
		if (!l->used) {
			*n = 0;
			return v;
		}
		if (l->n < *n) {
			v = l->v;
			*n = l->n;
		}
	}
	return v;
}

/* The matching order: cheaper, then older ask, then lower key. */
int
st_better(const struct provider *pa, int64_t a, const struct provider *pb,
    int64_t b)
{
	if (a != b)
		return a < b;
	if (pa->ask_time != pb->ask_time)
		return pa->ask_time < pb->ask_time;
	return memcmp(pa->key, pb->key, KEY_PUB_LEN) < 0;
}

static int
better(const struct cand *a, const struct cand *b)
{
	return st_better(a->p, a->price, b->p, b->price);
}

int
st_match_order(struct state *s, struct order *o)
{
	struct cand top[ST_STORY_CANDIDATES], c;
	size_t ntop = 0, nfit = 0, ncand;
	struct provider *const *cand;
	struct provider *w;
	json_t *body;
	int rc;

	if (o->status != ORDER_OPEN || st_order_expired(o, s->now))
		return 0;
	cand = candidates(s, o, &ncand);
	for (size_t i = 0; i < ncand; i++) {
		size_t j;
		c.p = cand[i];
		if (!st_fits(s, c.p, o, &c.price))
			continue;
		nfit++;
		/* keep the best few, sorted, for the audit story */
		if (ntop == ST_STORY_CANDIDATES && !better(&c, &top[ntop - 1]))
			continue;
		if (ntop < ST_STORY_CANDIDATES)
			ntop++;
		for (j = ntop - 1; j > 0 && better(&c, &top[j - 1]); j--)
			top[j] = top[j - 1];
		top[j] = c;
	}
	if (nfit == 0)
		return 0;
	w = (struct provider *)top[0].p;
	o->m.index = s->now_index;
	o->m.time = s->now;
	o->m.nfit = nfit;
	o->m.nbest = ntop;
	for (size_t i = 0; i < ntop; i++) {
		o->m.best[i].p = top[i].p;
		o->m.best[i].price = top[i].price;
		o->m.best[i].ask_time = top[i].p->ask_time;
		o->m.best[i].ask_index = top[i].p->ask_index;
	}
	body = json_pack("{s:s,s:I,s:s}", "order", o->id, "price",
	    (json_int_t)top[0].price, "provider", w->key_text);
	if (body == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((rc = st_push(s, "lease.create", body)) < 0)
		return rc;
	o->status = ORDER_PENDING;
	w->pend.cpu += o->need.cpu;
	w->pend.mem += o->need.mem;
	w->pend.sto += o->need.sto;
	w->pend.gpu += o->need.gpu;
	return 1;
}

/* Between applies no open order fits any provider (each was matched or
 * refused by all), so after p changes only orders p now fits can match;
 * for those the full rule runs, which keeps the result that of
 * "re-run matching over open orders in arrival order". */
int
st_rematch(struct state *s, struct provider *p)
{
	size_t j = 0;
	int64_t price;
	int rc = 0;

	if (!p->has_ask || p->withdrawn || !p->online)
		return 0;
	for (size_t i = 0; i < s->nopen; i++) {
		struct order *o = s->open[i];
		if (o->status != ORDER_OPEN)
			continue; /* drop from the open list */
		s->open[j++] = o;
		if (rc < 0 || st_order_expired(o, s->now) ||
		    !st_fits(s, p, o, &price))
			continue;
		if ((rc = st_match_order(s, o)) < 0)
			continue;
	}
	s->nopen = j;
	return rc < 0 ? rc : 0;
}

json_t *
st_match_json(const struct order *o)
{
	json_t *cands;

	if (o->m.nbest == 0)
		return json_null();
	if ((cands = json_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < o->m.nbest; i++)
		json_array_append_new(cands,
		    json_pack("{s:s,s:I,s:I,s:I}", "provider",
		        o->m.best[i].p->key_text, "price",
		        (json_int_t)o->m.best[i].price, "ask_index",
		        (json_int_t)o->m.best[i].ask_index, "ask_time",
		        (json_int_t)o->m.best[i].ask_time));
	return json_pack("{s:I,s:I,s:I,s:o,s:s,s:I,s:s}", "index",
	    (json_int_t)o->m.index, "time", (json_int_t)o->m.time, "fitting",
	    (json_int_t)o->m.nfit, "best", cands, "winner",
	    o->m.best[0].p->key_text, "price", (json_int_t)o->m.best[0].price,
	    "rule",
	    "cheapest ask for one epoch of full use among those whose "
	    "price the escrow pays for min_lease_epochs; ties to the older "
	    "ask (earlier ask time), then the lower provider key");
}
