/*
 * state: apply ledger leaves to the market's state (DESIGN.md, "Trust
 * rules", "Metering and money").  This file holds the apply loop, the
 * derived-entry queue that lets the same code serve the live market and
 * the auditor, nonces and skew, money movements and every entry kind.
 * Matching lives in state_match.c, the JSON views in state_json.c.
 */
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/err.h"
#include "common/reqsig.h"
#include "ledger/state_internal.h"

const char *const st_price_names[ST_METERS] = { "cpu_ms", "mem_mb_s",
	"storage_mb_s", "request", "egress_byte", "fuel" };
const char *const st_usage_names[ST_METERS] = { "cpu_ms", "mem_mb_s",
	"storage_mb_s", "requests", "egress_bytes", "fuel" };

static const char *const reason_names[STATE_REASON_COUNT] = { NULL,
	"tenant_closed", "provider_closed", "insufficient_funds",
	"provider_offline", "manifest_refused", "order_expired",
	"manifest_not_delivered" };

const char *
state_reason_name(enum state_reason r)
{
	if ((int)r <= 0 || r >= STATE_REASON_COUNT)
		return NULL;
	return reason_names[r];
}

static enum state_reason
reason_from_name(const char *n)
{
	for (int r = 1; r < STATE_REASON_COUNT; r++)
		if (strcmp(reason_names[r], n) == 0)
			return (enum state_reason)r;
	return STATE_REASON_NONE;
}

/* ---- string map ---------------------------------------------------- */

static uint64_t
st_smap_hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *k; k++) {
		h ^= (unsigned char)*k;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

void *
st_smap_get(const struct smap *m, const char *key)
{
	uint64_t h;
	size_t i;

	if (m->cap == 0)
		return NULL;
	h = st_smap_hash(key);
	for (i = h & (m->cap - 1); m->keys[i] != NULL;
	     i = (i + 1) & (m->cap - 1))
		if (m->hashes[i] == h && strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	return NULL;
}

static int
st_smap_rehash(struct smap *m, size_t ncap)
{
	char **keys = calloc(ncap, sizeof(*keys));
	void **vals = calloc(ncap, sizeof(*vals));
	uint64_t *hashes = calloc(ncap, sizeof(*hashes));

	if (keys == NULL || vals == NULL || hashes == NULL) {
		free(keys);
		free(vals);
		free(hashes);
		return err_set(ERR_NOMEM, "out of memory");
	}
	for (size_t j = 0; j < m->cap; j++) {
		size_t i;
		if (m->keys[j] == NULL)
			continue;
		for (i = m->hashes[j] & (ncap - 1); keys[i] != NULL;
		     i = (i + 1) & (ncap - 1))
			;
		keys[i] = m->keys[j];
		vals[i] = m->vals[j];
		hashes[i] = m->hashes[j];
	}
	free(m->keys);
	free(m->vals);
	free(m->hashes);
	m->keys = keys;
	m->vals = vals;
	m->hashes = hashes;
	m->cap = ncap;
	return 0;
}

int
st_smap_put(struct smap *m, const char *key, void *val)
{
	uint64_t h;
	size_t i;
	int rc;

	if ((m->n + 1) * 4 >= m->cap * 3 &&
	    (rc = st_smap_rehash(m, m->cap ? m->cap * 2 : 64)) < 0)
		return rc;
	h = st_smap_hash(key);
	for (i = h & (m->cap - 1); m->keys[i] != NULL;
	     i = (i + 1) & (m->cap - 1))
		;
	if ((m->keys[i] = strdup(key)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	m->vals[i] = val;
	m->hashes[i] = h;
	m->n++;
	return 0;
}

void
st_smap_del(struct smap *m, const char *key)
{
	uint64_t h;
	size_t i, j, mask;

	if (m->cap == 0)
		return;
	mask = m->cap - 1;
	h = st_smap_hash(key);
	for (i = h & mask; m->keys[i] != NULL; i = (i + 1) & mask)
		if (m->hashes[i] == h && strcmp(m->keys[i], key) == 0)
			break;
	if (m->keys[i] == NULL)
		return;
	free(m->keys[i]);
	m->keys[i] = NULL;
	m->n--;
	/* backward shift: an entry of the run that follows moves into the
	 * hole unless its home slot lies cyclically in (hole, its slot] */
	for (j = (i + 1) & mask; m->keys[j] != NULL; j = (j + 1) & mask) {
		size_t home = m->hashes[j] & mask;
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && home <= i && home > j)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->hashes[i] = m->hashes[j];
			m->keys[j] = NULL;
			i = j;
		}
	}
}

void
st_smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	free(m->hashes);
	memset(m, 0, sizeof(*m));
}

int
st_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	if ((p = realloc(*arr, ncap * elem)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- config, lifetime ---------------------------------------------- */

void
state_config_default(struct state_config *c)
{
	memset(c, 0, sizeof(*c));
	c->take_rate_ppm = 20000;
	c->epoch_ms = 6000;
	c->skew_ms = 300000;
	c->offline_grace_ms = 90000;
	c->ndenoms = 1;
	strcpy(c->denoms[0], "uakt");
	c->usage_skew_ms = 6000;
	c->fee = 100;
	c->nfee_kinds = 2;
	strcpy(c->fee_kinds[0].kind, "lease.usage");
	c->fee_kinds[0].fee = 10;
	strcpy(c->fee_kinds[1].kind, "provider.heartbeat");
	c->fee_kinds[1].fee = 10;
	c->bond_per_cpu = 1000000;
	c->bond_per_gib = 1000000;
	c->manifest_window_ms = 300000;
	c->min_lease_epochs = 10;
	c->checkpoint_ms = STATE_CHECKPOINT_MS_DEFAULT;
#ifdef NDEBUG
	c->check_invariants = 0;
#else
	c->check_invariants = 1;
#endif
}

static int is_kind(const char *name);

/* The money rules of a config (genesis version 2) in range. */
static int
state_config_check_money(const struct state_config *c)
{
	if (c->usage_skew_ms < 0 || c->usage_skew_ms > 86400000)
		return err_set(ERR_INVAL,
		    "state config usage_skew_ms: "
		    "expected 0-86400000");
	if (c->fee < 0 || c->fee > ST_MAX_FEE)
		return err_set(ERR_INVAL,
		    "state config fee: expected 0-%lld "
		    "micro-units",
		    (long long)ST_MAX_FEE);
	if (c->nfee_kinds > STATE_FEE_KINDS_MAX)
		return err_set(ERR_INVAL,
		    "state config fee_kinds: at most "
		    "%d",
		    STATE_FEE_KINDS_MAX);
	for (size_t i = 0; i < c->nfee_kinds; i++) {
		const struct state_fee_kind *k = &c->fee_kinds[i];
		if (strnlen(k->kind, STATE_KIND_LEN) == STATE_KIND_LEN ||
		    !is_kind(k->kind))
			return err_set(ERR_INVAL,
			    "state config fee_kinds[%zu]: "
			    "'%.64s' is not an entry kind",
			    i, k->kind);
		if (k->fee < 0 || k->fee > ST_MAX_FEE)
			return err_set(ERR_INVAL,
			    "state config fee_kinds[%zu] "
			    "(%s): expected 0-%lld micro-units",
			    i, k->kind, (long long)ST_MAX_FEE);
	}
	if (c->bond_per_cpu < 0 || c->bond_per_gib < 0)
		return err_set(ERR_INVAL,
		    "state config bond_per_cpu, "
		    "bond_per_gib: expected >= 0");
	if (c->manifest_window_ms <= 0 || c->manifest_window_ms > 86400000)
		return err_set(ERR_INVAL,
		    "state config manifest_window_ms: "
		    "expected 1-86400000");
	if (c->min_lease_epochs < 0 || c->min_lease_epochs > 1000000)
		return err_set(ERR_INVAL,
		    "state config min_lease_epochs: "
		    "expected 0-1000000");
	return 0;
}

int
state_new(const struct state_config *c, struct state **out)
{
	struct state *s;
	int rc;

	if (c->take_rate_ppm > 1000000)
		return err_set(ERR_INVAL,
		    "state config take_rate_ppm: %u is "
		    "above 1000000",
		    c->take_rate_ppm);
	if (c->epoch_ms <= 0 || c->epoch_ms > 86400000)
		return err_set(ERR_INVAL,
		    "state config epoch_ms: expected "
		    "1-86400000");
	if (c->skew_ms < 0 || c->offline_grace_ms < 0)
		return err_set(ERR_INVAL,
		    "state config skew_ms, "
		    "offline_grace_ms: expected >= 0");
	if (c->ndenoms == 0 || c->ndenoms > STATE_DENOMS_MAX)
		return err_set(ERR_INVAL, "state config denoms: expected 1-%d",
		    STATE_DENOMS_MAX);
	for (size_t i = 0; i < c->ndenoms; i++) {
		size_t n = strnlen(c->denoms[i], STATE_DENOM_LEN);
		if (n == 0 || n == STATE_DENOM_LEN)
			return err_set(ERR_INVAL,
			    "state config denoms[%zu]: "
			    "expected 1-%d characters",
			    i, STATE_DENOM_LEN - 1);
	}
	if ((rc = state_config_check_money(c)) < 0)
		return rc;
	if (c->checkpoint_ms < STATE_CHECKPOINT_MS_MIN ||
	    c->checkpoint_ms > STATE_CHECKPOINT_MS_MAX)
		return err_set(ERR_INVAL,
		    "state config checkpoint_ms: expected %d-%d",
		    STATE_CHECKPOINT_MS_MIN, STATE_CHECKPOINT_MS_MAX);
	if (c->pause_grace_ms < 0 ||
	    c->pause_grace_ms > INT64_C(365) * 24 * 3600 * 1000)
		return err_set(ERR_INVAL,
		    "state config pause_grace_ms: expected 0-%lld",
		    (long long)(INT64_C(365) * 24 * 3600 * 1000));
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	s->cfg = *c;
	*out = s;
	return 0;
}

void
st_provider_free(struct provider *p)
{
	if (p == NULL)
		return;
	for (size_t j = 0; j < p->natt; j++) {
		free(p->att[j].kv);
		json_decref(p->att[j].attrs);
	}
	free(p->att);
	free(p->kv);
	st_capabilities_free(p->capv, p->ncap);
	free(p->allow);
	free(p->deny);
	st_rec_free(p);
	json_decref(p->ask);
	free(p);
}

void
st_order_free(struct order *o)
{
	if (o == NULL)
		return;
	free(o->kv);
	st_capabilities_free(o->capv, o->ncap);
	free(o->all_of);
	free(o->any_of);
	json_decref(o->body);
	free(o);
}

void
st_lease_free(struct lease *l)
{
	if (l == NULL)
		return;
	json_decref(l->usage);
	json_decref(l->updates);
	free(l);
}

void
state_free(struct state *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->naccts; i++)
		free(s->accts[i]);
	for (size_t i = 0; i < s->nprovs; i++)
		st_provider_free(s->provs[i]);
	for (size_t i = 0; i < s->nords; i++)
		st_order_free(s->ords[i]);
	for (size_t i = 0; i < s->nleases; i++)
		st_lease_free(s->leases_v[i]);
	for (size_t i = 0; i < s->pq_n; i++)
		json_decref(s->pq[s->pq_head + i].body);
	for (size_t i = 0; i < s->nruntimes; i++)
		free(s->runtime_names[i]);
	for (size_t i = 0; i < s->nheap_n; i++)
		free(s->nheap[i].key);
	free(s->nheap);
	st_smap_free(&s->accounts);
	st_smap_free(&s->providers);
	st_smap_free(&s->orders);
	st_smap_free(&s->leases);
	st_smap_free(&s->nonces);
	st_match_index_free(s->midx);
	st_smap_free(&s->strings);
	free(s->accts);
	free(s->provs);
	free(s->ords);
	free(s->open);
	free(s->leases_v);
	free(s->pq);
	free(s);
}

int64_t
state_time(const struct state *s)
{
	return s->time;
}
uint64_t
state_last_index(const struct state *s)
{
	return s->last_index;
}
size_t
state_applied(const struct state *s)
{
	return s->applied;
}
size_t
state_pending_count(const struct state *s)
{
	return s->pq_n;
}
size_t
state_nonces(const struct state *s)
{
	return s->nonces.n;
}

/* ---- derived-entry queue ------------------------------------------- */

int
st_push(struct state *s, const char *kind, json_t *body)
{
	int rc;

	if (body == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if (s->pq_n == 0)
		s->pq_head = 0;
	if (s->pq_head > 0 && s->pq_head + s->pq_n == s->pq_cap) {
		memmove(s->pq, s->pq + s->pq_head, s->pq_n * sizeof(*s->pq));
		s->pq_head = 0;
	}
	if ((rc = st_grow((void **)&s->pq, &s->pq_cap, s->pq_head + s->pq_n + 1,
	         sizeof(*s->pq))) < 0) {
		json_decref(body);
		return rc;
	}
	snprintf(s->pq[s->pq_head + s->pq_n].kind, sizeof(s->pq->kind), "%s",
	    kind);
	s->pq[s->pq_head + s->pq_n].body = body;
	s->pq_n++;
	return 0;
}

int
state_pending(const struct state *s, json_t **out)
{
	json_t *a = json_array();

	if (a == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < s->pq_n; i++) {
		const struct pending *p = &s->pq[s->pq_head + i];
		if (json_array_append_new(a,
		        json_pack("{s:s,s:O}", "kind", p->kind, "body",
		            p->body)) < 0) {
			json_decref(a);
			return err_set(ERR_NOMEM, "out of memory");
		}
	}
	*out = a;
	return 0;
}

/* ---- body parsing helpers ------------------------------------------ */

static int
get_i64(const json_t *b, const char *key, const char *what, int64_t min,
    int64_t max, int optional, int64_t *out)
{
	long long v;
	int rc;

	if (optional && json_object_get(b, key) == NULL)
		return 0;
	if ((rc = cjson_get_int(b, key, what, &v)) < 0)
		return rc;
	if (v < min || v > max)
		return err_set(ERR_INVAL,
		    "%s.%s: %lld is out of range "
		    "(%lld-%lld)",
		    what, key, v, (long long)min, (long long)max);
	*out = v;
	return 0;
}

static int
get_str(const json_t *b, const char *key, const char *what, int optional,
    const char **out)
{
	int rc;

	*out = NULL;
	if (optional && json_object_get(b, key) == NULL)
		return 0;
	if ((rc = cjson_get_str(b, key, what, out)) < 0)
		return rc;
	if (strlen(*out) > ST_MAX_STR)
		return err_set(ERR_INVAL, "%s.%s: longer than %d bytes", what,
		    key, ST_MAX_STR);
	return 0;
}

static int
get_key(const json_t *b, const char *key, const char *what,
    uint8_t out[KEY_PUB_LEN])
{
	const char *t;
	int rc;

	if ((rc = cjson_get_str(b, key, what, &t)) < 0)
		return rc;
	if ((rc = key_pub_from_text(t, out)) < 0)
		return err_prefix(rc, "%s.%s", what, key);
	return 0;
}

static int
get_denom(const struct state *s, const json_t *b, const char *what, int *out)
{
	const char *d;
	int rc;

	if ((rc = cjson_get_str(b, "denom", what, &d)) < 0)
		return rc;
	for (size_t i = 0; i < s->cfg.ndenoms; i++)
		if (strcmp(s->cfg.denoms[i], d) == 0) {
			*out = (int)i;
			return 0;
		}
	return err_set(ERR_REJECT,
	    "%s.denom: '%.40s' is not settled by this "
	    "market (first: %s)",
	    what, d, s->cfg.denoms[0]);
}

/* Intern a string to a small id (ids never reach the dump). */
static int
intern(struct state *s, const char *str, uint32_t *id)
{
	void *v = st_smap_get(&s->strings, str);
	int rc;

	if (v != NULL) {
		*id = (uint32_t)((uintptr_t)v - 1);
		return 0;
	}
	if (s->read_only) { /* a quote: a string nobody has, no new id */
		*id = UINT32_MAX;
		return 0;
	}
	*id = s->nstrings;
	if ((rc = st_smap_put(&s->strings, str,
	         (void *)(uintptr_t)(s->nstrings + 1))) < 0)
		return rc;
	s->nstrings++;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* {k: v} of strings into a sorted interned array; malloc'd *out. */
static int
parse_attrs(struct state *s, const json_t *obj, const char *what,
    uint64_t **out, size_t *n)
{
	const char *k;
	json_t *v;
	size_t i = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!json_is_object(obj))
		return err_set(ERR_INVAL, "%s: expected an object of strings",
		    what);
	if (json_object_size(obj) > ST_MAX_ATTRS)
		return err_set(ERR_INVAL, "%s: more than %d attributes", what,
		    ST_MAX_ATTRS);
	json_object_foreach((json_t *)obj, k, v)
	{
		if (!json_is_string(v) || strlen(k) > ST_MAX_STR ||
		    strlen(json_string_value(v)) > ST_MAX_STR)
			return err_set(ERR_INVAL,
			    "%s.%.60s: expected a string "
			    "of at most %d bytes",
			    what, k, ST_MAX_STR);
	}
	if (json_object_size(obj) == 0)
		return 0;
	if ((*out = calloc(json_object_size(obj), sizeof(**out))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_object_foreach((json_t *)obj, k, v)
	{
		uint32_t ki, vi;
		if ((rc = intern(s, k, &ki)) < 0 ||
		    (rc = intern(s, json_string_value(v), &vi)) < 0) {
			free(*out);
			*out = NULL;
			return rc;
		}
		(*out)[i++] = (uint64_t)ki << 32 | vi;
	}
	qsort(*out, i, sizeof(**out), cmp_u64);
	*n = i;
	return 0;
}

static int
parse_runtimes(struct state *s, const json_t *arr, const char *what,
    uint32_t *mask)
{
	size_t i, j;
	json_t *v;

	*mask = 0;
	if (!json_is_array(arr))
		return err_set(ERR_INVAL, "%s: expected an array of strings",
		    what);
	json_array_foreach(arr, i, v)
	{
		const char *n = json_string_value(v);
		if (n == NULL || strlen(n) == 0 || strlen(n) > 64)
			return err_set(ERR_INVAL,
			    "%s[%zu]: expected a runtime "
			    "name (1-64 bytes)",
			    what, i);
		for (j = 0; j < s->nruntimes; j++)
			if (strcmp(s->runtime_names[j], n) == 0)
				break;
		if (j == s->nruntimes && s->read_only) {
			s->ro_unknown_runtime = 1; /* no ask offers it */
			continue;
		}
		if (j == s->nruntimes) {
			if (j == ST_MAX_RUNTIMES)
				return err_set(ERR_LIMIT,
				    "%s[%zu]: more than %d "
				    "distinct runtimes in the market",
				    what, i, ST_MAX_RUNTIMES);
			if ((s->runtime_names[j] = strdup(n)) == NULL)
				return err_set(ERR_NOMEM, "out of memory");
			s->nruntimes++;
		}
		*mask |= UINT32_C(1) << j;
	}
	return 0;
}

/* ---- accounts and money -------------------------------------------- */

static struct account *
acct_find(const struct state *s, const uint8_t key[KEY_PUB_LEN])
{
	char t[KEY_TEXT_SIZE];

	key_pub_to_text(key, t);
	return st_smap_get(&s->accounts, t);
}

static int
acct_get(struct state *s, const uint8_t key[KEY_PUB_LEN], struct account **out)
{
	struct account *a;
	int rc;

	if ((*out = acct_find(s, key)) != NULL)
		return 0;
	if ((rc = st_grow((void **)&s->accts, &s->accts_cap, s->naccts + 1,
	         sizeof(*s->accts))) < 0)
		return rc;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(a->key, key, KEY_PUB_LEN);
	key_pub_to_text(key, a->key_text);
	a->seq = s->naccts;
	if ((rc = st_smap_put(&s->accounts, a->key_text, a)) < 0) {
		free(a);
		return rc;
	}
	s->accts[s->naccts++] = a;
	*out = a;
	return 0;
}

/* x (> 0) credited to a's balance in denomination d: noted for the
 * standing top-ups of a's paused leases (credit_topups), in this
 * state_apply call only. */
static void
mark_credit(struct state *s, struct account *a, int d, int64_t x)
{
	/* funds for a paused lease's standing top-up (credit_topups) */
	if (x > 0 && a->npaused_auto > 0) {
		if (a->cred_gen != s->cred_gen) {
			a->cred_gen = s->cred_gen;
			a->cred_mask = 0;
		}
		a->cred_mask |= UINT32_C(1) << d;
		s->cred_any = 1;
	}
}

/* Balances never exceed the total deposited, which is overflow-checked
 * at deposit time, so these sums cannot overflow. */
static void
credit(struct state *s, struct account *a, int d, int64_t x)
{
	a->bal[d] += x;
	s->balances[d] += x;
	mark_credit(s, a, d, x);
}

/* Is l paused with a standing top-up in force?  Its tenant's
 * npaused_auto counts those; pa_track keeps it after a change to l. */
static int
lease_pa(const struct lease *l)
{
	return l->status == LEASE_PAUSED && l->auto_topup.amount > 0;
}

void
st_paused_auto_recount(struct state *s)
{
	for (size_t i = 0; i < s->naccts; i++)
		s->accts[i]->npaused_auto = 0;
	for (size_t i = 0; i < s->nleases; i++)
		if (lease_pa(s->leases_v[i]))
			s->leases_v[i]->order->tenant->npaused_auto++;
}

static void
pa_track(struct lease *l, int was)
{
	int now = lease_pa(l);

	if (now && !was)
		l->order->tenant->npaused_auto++;
	else if (was && !now)
		l->order->tenant->npaused_auto--;
}

static void
escrow_add(struct state *s, struct order *o, int64_t x)
{
	o->escrow += x;
	s->escrows[o->denom] += x;
}

static int
refund(struct state *s, struct order *o)
{
	int64_t x = o->escrow;

	escrow_add(s, o, -x);
	credit(s, o->tenant, o->denom, x);
	o->refund += x;
	return 0;
}

static int64_t
sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

const char *
st_u128_str(state_u128 v, char buf[40])
{
	char *p = buf + 39;

	*p = '\0';
	do {
		*--p = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v != 0 && p > buf);
	return p;
}

/* ---- fees --------------------------------------------------------------- */

int64_t
state_fee_of(const struct state *s, const uint8_t signer[KEY_PUB_LEN],
    const char *kind)
{
	if (memcmp(signer, s->cfg.market_key, KEY_PUB_LEN) == 0)
		return 0; /* derived, time-based or the market's own */
	if (memcmp(signer, s->cfg.treasury_key, KEY_PUB_LEN) == 0 &&
	    strcmp(kind, "account.deposit") == 0)
		return 0;
	for (size_t i = 0; i < s->cfg.nfee_kinds; i++)
		if (strcmp(s->cfg.fee_kinds[i].kind, kind) == 0)
			return s->cfg.fee_kinds[i].fee;
	return s->cfg.fee;
}

static const char fund_hint[] = "fund the key first: an account.deposit "
                                "from the market's treasury, or an "
                                "account.transfer from a funded key";

int
state_fee_check(const struct state *s, const uint8_t signer[KEY_PUB_LEN],
    const char *kind)
{
	int64_t fee, bal;
	struct account *a;
	char t[KEY_TEXT_SIZE];

	if (!is_kind(kind))
		return 0; /* state_apply refuses it as an unknown kind */
	if ((fee = state_fee_of(s, signer, kind)) == 0)
		return 0;
	key_pub_to_text(signer, t);
	a = st_smap_get(&s->accounts, t);
	bal = a ? a->bal[0] : 0;
	if (bal >= fee)
		return 0;
	return err_set(ERR_REJECT,
	    "%s costs a fee of %lld %s; %s holds %lld %s: "
	    "%s",
	    kind, (long long)fee, s->cfg.denoms[0], t, (long long)bal,
	    s->cfg.denoms[0], fund_hint);
}

/* ---- bonds -------------------------------------------------------------- */

int
state_bond_for(const struct state_config *c, int64_t cpu, int64_t mem,
    int64_t *out)
{
	state_u128 a, b;

	if (cpu < 0 || mem < 0)
		return err_set(ERR_RANGE, "bond: negative capacity");
	/* each term rounded up: any capacity at all costs something */
	a = ((state_u128)(uint64_t)c->bond_per_cpu * (uint64_t)cpu + 999) /
	    1000;
	b = ((state_u128)(uint64_t)c->bond_per_gib * (uint64_t)mem +
	        ((UINT64_C(1) << 30) - 1)) >>
	    30;
	if (a + b > (state_u128)INT64_MAX)
		return err_set(ERR_RANGE,
		    "bond for %lld cpu_millis and %lld "
		    "memory bytes does not fit in int64",
		    (long long)cpu, (long long)mem);
	*out = (int64_t)(a + b);
	return 0;
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* The bond of an ask of capacity cap while leases hold used + pend:
 * each of cpu and memory counted at the larger of the two. */
static int
bond_held(const struct state *s, const struct res4 *cap,
    const struct provider *p, int64_t *out)
{
	int64_t cpu = cap->cpu, mem = cap->mem;

	if (p != NULL) {
		cpu = max64(cpu, p->used.cpu + p->pend.cpu);
		mem = max64(mem, p->used.mem + p->pend.mem);
	}
	return state_bond_for(&s->cfg, cpu, mem, out);
}

/* What p must keep locked: with an ask, the bond of its capacity (or of
 * what its leases hold, where more); withdrawn, all of it while a lease
 * lives, then nothing. */
static int
bond_target(const struct state *s, const struct provider *p, int64_t *out)
{
	if (p->withdrawn || !p->has_ask) {
		*out = p->nleases > 0 ? p->bond : 0;
		return 0;
	}
	return bond_held(s, &p->cap, p, out);
}

/* Move x from a's balance into p's bond (x < 0 releases). */
static void
bond_move(struct state *s, struct account *a, struct provider *p, int64_t x)
{
	a->bal[0] -= x;
	s->balances[0] -= x;
	mark_credit(s, a, 0, -x); /* a release credits the balance */
	p->bond += x;
	s->bonds[0] += x;
	p->rec.bond_changes++;
	if (p->bond > p->rec.bond_max)
		p->rec.bond_max = p->bond;
}

/* Release what p no longer needs locked (after a withdraw or a close). */
static int
bond_settle(struct state *s, struct provider *p)
{
	struct account *a;
	int64_t target;
	int rc;

	if (bond_target(s, p, &target) < 0 || target >= p->bond)
		return 0; /* nothing to release */
	if ((rc = acct_get(s, p->key, &a)) < 0)
		return rc;
	bond_move(s, a, p, target - p->bond);
	return 0;
}

/* ---- lookup helpers -------------------------------------------------- */

struct ctx {
	const struct envelope *e;
	uint64_t index;
	int64_t t;
	int from_queue, is_market;
	struct state_effects *fx;
};

static int
find_order(const struct state *s, const json_t *b, const char *what,
    struct order **o)
{
	const char *id;
	int rc;

	if ((rc = cjson_get_str(b, "order", what, &id)) < 0)
		return rc;
	if ((*o = st_smap_get(&s->orders, id)) == NULL)
		return err_set(ERR_REJECT, "%s.order: no order '%.40s'", what,
		    id);
	return 0;
}

static int
find_lease(const struct state *s, const json_t *b, const char *what,
    struct lease **l)
{
	const char *id;
	int rc;

	if ((rc = cjson_get_str(b, "lease", what, &id)) < 0)
		return rc;
	if ((*l = st_smap_get(&s->leases, id)) == NULL)
		return err_set(ERR_REJECT, "%s.lease: no lease '%.40s'", what,
		    id);
	return 0;
}

static struct provider *
prov_find(const struct state *s, const uint8_t key[KEY_PUB_LEN])
{
	char t[KEY_TEXT_SIZE];

	key_pub_to_text(key, t);
	return st_smap_get(&s->providers, t);
}

static int
market_only(const struct ctx *c)
{
	if (!c->is_market)
		return err_set(ERR_REJECT,
		    "%s: only the market key may sign "
		    "it (signer %s)",
		    c->e->kind, c->e->signer_text);
	return 0;
}

static int
derived_only(const struct ctx *c)
{
	int rc;

	if ((rc = market_only(c)) < 0)
		return rc;
	if (!c->from_queue)
		return err_set(ERR_REJECT,
		    "%s: not derived by the rules at "
		    "this point (no pending derivation)",
		    c->e->kind);
	return 0;
}

/* ---- closing leases and orders ------------------------------------- */

static void
close_order(struct order *o, enum state_reason r, const struct ctx *c)
{
	o->status = ORDER_CLOSED;
	o->reason = r;
	o->closed_time = c->t;
	o->closed_index = c->index;
}

static int
close_lease(struct state *s, struct lease *l, enum state_reason r,
    const char *by, const struct ctx *c)
{
	struct provider *p = l->prov;
	struct order *o = l->order;
	int was = lease_pa(l), rc;

	l->status = LEASE_CLOSED;
	pa_track(l, was);
	l->reason = r;
	l->closed_time = c->t;
	l->closed_index = c->index;
	snprintf(l->closed_by, sizeof(l->closed_by), "%s", by);
	p->used.cpu -= o->need.cpu;
	p->used.mem -= o->need.mem;
	p->used.sto -= o->need.sto;
	p->used.gpu -= o->need.gpu;
	p->nleases--;
	p->rec.ended[r]++;
	close_order(o, r, c);
	refund(s, o);
	/* a withdrawn provider's bond comes back with its last lease */
	if ((rc = bond_settle(s, p)) < 0)
		return rc;
	/* freed capacity is a changed ask: waiting orders may fit now */
	return st_rematch(s, p);
}

/* ---- entry kinds ------------------------------------------------------ */

static int
h_deposit(struct state *s, const struct ctx *c)
{
	const json_t *b = c->e->body;
	uint8_t to[KEY_PUB_LEN];
	struct account *a;
	int64_t amt = 0, sum;
	int d, rc;

	if (memcmp(c->e->signer, s->cfg.treasury_key, KEY_PUB_LEN) != 0)
		return err_set(ERR_REJECT,
		    "account.deposit: only the treasury "
		    "key mints (signer %s)",
		    c->e->signer_text);
	if ((rc = get_key(b, "to", "account.deposit", to)) < 0 ||
	    (rc = get_denom(s, b, "account.deposit", &d)) < 0 ||
	    (rc = get_i64(b, "amount", "account.deposit", 1, INT64_MAX, 0,
	         &amt)) < 0)
		return rc;
	if (__builtin_add_overflow(s->deposits[d], amt, &sum))
		return err_set(ERR_RANGE,
		    "account.deposit.amount: total %s "
		    "deposits would overflow int64",
		    s->cfg.denoms[d]);
	if ((rc = acct_get(s, to, &a)) < 0)
		return rc;
	s->deposits[d] = sum;
	credit(s, a, d, amt);
	return 0;
}

static int
h_transfer(struct state *s, const struct ctx *c)
{
	const json_t *b = c->e->body;
	uint8_t to[KEY_PUB_LEN];
	struct account *from, *dst;
	int64_t amt = 0;
	int d, rc;

	if ((rc = get_key(b, "to", "account.transfer", to)) < 0 ||
	    (rc = get_denom(s, b, "account.transfer", &d)) < 0 ||
	    (rc = get_i64(b, "amount", "account.transfer", 1, INT64_MAX, 0,
	         &amt)) < 0)
		return rc;
	if (memcmp(to, c->e->signer, KEY_PUB_LEN) == 0)
		return err_set(ERR_REJECT,
		    "account.transfer.to: the signer "
		    "itself");
	from = acct_find(s, c->e->signer);
	if (from == NULL || from->bal[d] < amt)
		return err_set(ERR_REJECT,
		    "account.transfer.amount: %lld %s "
		    "exceeds the balance of %s (%lld after the entry's fee): "
		    "%s",
		    (long long)amt, s->cfg.denoms[d], c->e->signer_text,
		    from ? (long long)from->bal[d] : 0LL, fund_hint);
	if ((rc = acct_get(s, to, &dst)) < 0)
		return rc;
	credit(s, from, d, -amt);
	credit(s, dst, d, amt);
	return 0;
}

static int parse_policy(const json_t *pol, struct provider *tmp);

static int
h_advertise(struct state *s, struct ctx *c)
{
	const char *w = "provider.advertise";
	const json_t *b = c->e->body;
	json_t *cap, *price, *attrs, *rts, *x;
	struct provider pol; /* the policy's fields only */
	struct res4 r = { 0, 0, 0, 0 };
	int64_t pv[ST_METERS] = { 0 };
	uint64_t *kv = NULL;
	size_t nkv;
	uint32_t mask;
	char **capv = NULL;
	size_t ncap = 0;
	const char *url;
	struct provider *p;
	struct account *a;
	int64_t bond, have;
	int d, rc;

	memset(&pol, 0, sizeof(pol));
	if ((rc = get_str(b, "api_url", w, 0, &url)) < 0 ||
	    (rc = cjson_get_obj(b, "capacity", w, &cap)) < 0 ||
	    (rc = cjson_get_obj(b, "price", w, &price)) < 0 ||
	    (rc = cjson_get_obj(b, "attributes", w, &attrs)) < 0 ||
	    (rc = cjson_get_arr(b, "runtimes", w, &rts)) < 0 ||
	    (rc = get_i64(cap, "cpu_millis", "provider.advertise.capacity", 0,
	         ST_MAX_QTY, 0, &r.cpu)) < 0 ||
	    (rc = get_i64(cap, "memory_bytes", "provider.advertise.capacity", 0,
	         ST_MAX_QTY, 0, &r.mem)) < 0 ||
	    (rc = get_i64(cap, "storage_bytes", "provider.advertise.capacity",
	         0, ST_MAX_QTY, 0, &r.sto)) < 0 ||
	    (rc = get_i64(cap, "gpu_units", "provider.advertise.capacity", 0,
	         ST_MAX_QTY, 1, &r.gpu)) < 0 ||
	    (rc = get_denom(s, price, "provider.advertise.price", &d)) < 0)
		return rc;
	for (int i = 0; i < ST_METERS; i++)
		if ((rc = get_i64(price, st_price_names[i],
		         "provider.advertise.price", 0, ST_MAX_PRICE, 1,
		         &pv[i])) < 0)
			return rc;
	if ((rc = parse_runtimes(s, rts, "provider.advertise.runtimes",
	         &mask)) < 0)
		return rc;
	p = prov_find(s, c->e->signer);
	/* the bond: of the new capacity, or of what running leases hold */
	if ((rc = bond_held(s, &r, p, &bond)) < 0)
		return err_prefix(rc, "provider.advertise.capacity");
	have = p ? p->bond : 0;
	a = acct_find(s, c->e->signer);
	if (bond > have && (a == NULL || a->bal[0] < bond - have))
		return err_set(ERR_REJECT,
		    "provider.advertise: the bond for "
		    "this capacity (%lld cpu_millis, %lld memory bytes) is "
		    "%lld %s (%lld per 1000 cpu_millis, %lld per GiB), %lld "
		    "locked already; %s holds %lld %s after the entry's fee: "
		    "%s",
		    (long long)r.cpu, (long long)r.mem, (long long)bond,
		    s->cfg.denoms[0], (long long)s->cfg.bond_per_cpu,
		    (long long)s->cfg.bond_per_gib, (long long)have,
		    c->e->signer_text, a ? (long long)a->bal[0] : 0LL,
		    s->cfg.denoms[0], fund_hint);
	if ((rc = st_capabilities_parse(json_object_get(b, "capabilities"),
	         "provider.advertise.capabilities", &capv, &ncap)) < 0)
		return rc;
	if ((x = json_object_get(b, "policy")) != NULL &&
	    (rc = parse_policy(x, &pol)) < 0) {
		st_capabilities_free(capv, ncap);
		return rc;
	}
	if ((rc = parse_attrs(s, attrs, "provider.advertise.attributes", &kv,
	         &nkv)) < 0) {
		st_capabilities_free(capv, ncap);
		free(pol.allow);
		free(pol.deny);
		return rc;
	}
	if (bond < have && (rc = acct_get(s, c->e->signer, &a)) < 0) {
		free(kv);
		st_capabilities_free(capv, ncap);
		free(pol.allow);
		free(pol.deny);
		return rc;
	}
	if (p == NULL) {
		if ((rc = st_grow((void **)&s->provs, &s->provs_cap,
		         s->nprovs + 1, sizeof(*s->provs))) < 0 ||
		    (p = calloc(1, sizeof(*p))) == NULL) {
			free(kv);
			st_capabilities_free(capv, ncap);
			free(pol.allow);
			free(pol.deny);
			return rc < 0 ? rc :
			                err_set(ERR_NOMEM, "out of memory");
		}
		memcpy(p->key, c->e->signer, KEY_PUB_LEN);
		key_pub_to_text(p->key, p->key_text);
		p->seq = s->nprovs;
		p->online = 1;
		p->rec.first_time = c->t;
		p->rec.first_index = c->index;
		if ((rc = st_smap_put(&s->providers, p->key_text, p)) < 0) {
			free(kv);
			st_capabilities_free(capv, ncap);
			free(pol.allow);
			free(pol.deny);
			free(p);
			return rc;
		}
		s->provs[s->nprovs++] = p;
	}
	free(p->kv);
	p->kv = kv;
	p->nkv = nkv;
	free(p->allow);
	free(p->deny);
	p->allow = pol.allow;
	p->nallow = pol.nallow;
	p->deny = pol.deny;
	p->ndeny = pol.ndeny;
	p->min_lease_epochs = pol.min_lease_epochs;
	p->kv_bloom = st_kv_bloom(kv, nkv);
	s->kv_gen++;
	p->has_ask = 1;
	p->withdrawn = 0;
	p->ask_index = c->index;
	p->ask_time = c->t;
	p->cap = r;
	p->denom = d;
	p->runtimes = mask;
	st_capabilities_free(p->capv, p->ncap);
	p->capv = capv;
	p->ncap = ncap;
	memcpy(p->price, pv, sizeof(pv));
	json_decref(p->ask);
	p->ask = json_incref((json_t *)b); /* bodies are never modified */
	p->last_seen = c->t;
	if (bond != have) /* lock the top-up, or release the difference */
		bond_move(s, a, p, bond - have);
	return p->online ? st_rematch(s, p) : 0;
}

static int
h_withdraw(struct state *s, const struct ctx *c)
{
	struct provider *p = prov_find(s, c->e->signer);

	if (p == NULL || !p->has_ask || p->withdrawn)
		return err_set(ERR_REJECT,
		    "provider.withdraw: %s has no ask "
		    "to withdraw",
		    c->e->signer_text);
	p->withdrawn = 1;
	/* no lease: the bond comes back now; else with the last one */
	return bond_settle(s, p);
}

static int
h_heartbeat(struct state *s, const struct ctx *c)
{
	if (prov_find(s, c->e->signer) == NULL)
		return err_set(ERR_REJECT,
		    "provider.heartbeat: %s never "
		    "advertised",
		    c->e->signer_text);
	prov_find(s, c->e->signer)->rec.heartbeats++;
	return 0; /* last_seen and provider.online: see state_apply */
}

static int
h_attest(struct state *s, const struct ctx *c)
{
	const json_t *b = c->e->body;
	uint8_t pk[KEY_PUB_LEN];
	struct provider *p;
	json_t *attrs;
	uint64_t *kv;
	size_t nkv, i;
	int rc;

	if ((rc = get_key(b, "provider", "provider.attest", pk)) < 0 ||
	    (rc = cjson_get_obj(b, "attributes", "provider.attest", &attrs)) <
	        0)
		return rc;
	if ((p = prov_find(s, pk)) == NULL)
		return err_set(ERR_REJECT,
		    "provider.attest.provider: no "
		    "provider %s",
		    json_string_value(json_object_get(b, "provider")));
	if ((rc = parse_attrs(s, attrs, "provider.attest.attributes", &kv,
	         &nkv)) < 0)
		return rc;
	for (i = 0; i < p->natt; i++)
		if (memcmp(p->att[i].auditor, c->e->signer, KEY_PUB_LEN) == 0)
			break;
	if (nkv == 0) { /* revoke */
		if (i < p->natt) {
			free(p->att[i].kv);
			json_decref(p->att[i].attrs);
			memmove(&p->att[i], &p->att[i + 1],
			    (p->natt - i - 1) * sizeof(*p->att));
			p->natt--;
		}
		return 0;
	}
	if (i == p->natt) {
		struct attest *na;
		if (p->natt >= 64) {
			free(kv);
			return err_set(ERR_LIMIT,
			    "provider.attest: provider has "
			    "64 auditors already");
		}
		if ((na = realloc(p->att, (p->natt + 1) * sizeof(*na))) ==
		    NULL) {
			free(kv);
			return err_set(ERR_NOMEM, "out of memory");
		}
		p->att = na;
		memcpy(p->att[i].auditor, c->e->signer, KEY_PUB_LEN);
		p->att[i].kv = NULL;
		p->att[i].attrs = NULL;
		p->natt++;
	}
	free(p->att[i].kv);
	json_decref(p->att[i].attrs);
	p->att[i].attrs = json_deep_copy(attrs);
	p->att[i].kv = kv;
	p->att[i].nkv = nkv;
	p->att[i].index = c->index;
	return st_rematch(s, p);
}

static int
h_offline(struct state *s, const struct ctx *c)
{
	uint8_t pk[KEY_PUB_LEN];
	struct provider *p;
	int rc;

	if ((rc = market_only(c)) < 0 ||
	    (rc = get_key(c->e->body, "provider", "provider.offline", pk)) < 0)
		return rc;
	if ((p = prov_find(s, pk)) == NULL || !p->online)
		return err_set(ERR_REJECT,
		    "provider.offline.provider: not a "
		    "provider that is online");
	if (c->t - p->last_seen < s->cfg.offline_grace_ms)
		return err_set(ERR_REJECT,
		    "provider.offline: provider was "
		    "seen at %lld, within the grace period of %lld ms of %lld",
		    (long long)p->last_seen, (long long)s->cfg.offline_grace_ms,
		    (long long)c->t);
	if ((rc = st_rec_offline(p, c->t)) < 0)
		return rc;
	p->online = 0;
	for (size_t i = 0; i < s->nleases; i++) {
		struct lease *l = s->leases_v[i];
		if (l->prov != p || l->status == LEASE_CLOSED)
			continue;
		if ((rc = st_push(s, "lease.close",
		         json_pack("{s:s,s:s}", "lease", l->id, "reason",
		             "provider_offline"))) < 0)
			return rc;
	}
	return 0;
}

static int
h_online(struct state *s, const struct ctx *c)
{
	uint8_t pk[KEY_PUB_LEN];
	struct provider *p;
	int rc;

	if ((rc = derived_only(c)) < 0 ||
	    (rc = get_key(c->e->body, "provider", "provider.online", pk)) < 0)
		return rc;
	if ((p = prov_find(s, pk)) == NULL || p->online)
		return err_set(ERR_REJECT,
		    "provider.online.provider: not an "
		    "offline provider");
	p->online = 1;
	st_rec_online(p, c->t);
	return st_rematch(s, p);
}

static int parse_keys_max(const json_t *sb, const char *what, const char *key,
    size_t max, uint8_t (**out)[KEY_PUB_LEN], size_t *n);

static int
parse_keys(const json_t *sb, const char *key, uint8_t (**out)[KEY_PUB_LEN],
    size_t *n)
{
	return parse_keys_max(sb, "order.create.signed_by", key,
	    ST_MAX_AUDITORS, out, n);
}

static int
cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, KEY_PUB_LEN);
}

/* "policy":{"allow"?:[KEY],"deny"?:[KEY],"min_lease_epochs"?:N} of
 * provider.advertise (added to genesis version 2 later: an ask without
 * it takes every tenant).  Key lists come back sorted. */
static int
parse_policy(const json_t *pol, struct provider *tmp)
{
	const char *w = "provider.advertise.policy", *k;
	json_t *v;
	int rc;

	if (!json_is_object(pol))
		return err_set(ERR_INVAL,
		    "%s: expected {\"allow\"?:[KEY],"
		    "\"deny\"?:[KEY],\"min_lease_epochs\"?:N}",
		    w);
	json_object_foreach((json_t *)pol, k, v)
	{
		if (strcmp(k, "allow") != 0 && strcmp(k, "deny") != 0 &&
		    strcmp(k, "min_lease_epochs") != 0)
			return err_set(ERR_INVAL,
			    "%s.%.40s: not one of allow, deny, "
			    "min_lease_epochs",
			    w, k);
	}
	if ((rc = parse_keys_max(pol, w, "allow", ST_MAX_POLICY_KEYS,
	         &tmp->allow, &tmp->nallow)) < 0 ||
	    (rc = parse_keys_max(pol, w, "deny", ST_MAX_POLICY_KEYS, &tmp->deny,
	         &tmp->ndeny)) < 0 ||
	    (rc = get_i64(pol, "min_lease_epochs", w, 0, ST_MAX_POLICY_EPOCHS,
	         1, &tmp->min_lease_epochs)) < 0) {
		free(tmp->allow);
		free(tmp->deny);
		tmp->allow = tmp->deny = NULL;
		return rc;
	}
	if (tmp->nallow > 1)
		qsort(tmp->allow, tmp->nallow, KEY_PUB_LEN, cmp_key);
	if (tmp->ndeny > 1)
		qsort(tmp->deny, tmp->ndeny, KEY_PUB_LEN, cmp_key);
	return 0;
}

static int
parse_keys_max(const json_t *sb, const char *what, const char *key, size_t max,
    uint8_t (**out)[KEY_PUB_LEN], size_t *n)
{
	json_t *arr = json_object_get(sb, key), *v;
	size_t i;

	*out = NULL;
	*n = 0;
	if (arr == NULL)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > max)
		return err_set(ERR_INVAL,
		    "%s.%s: expected "
		    "an array of at most %zu keys",
		    what, key, max);
	if (json_array_size(arr) == 0)
		return 0;
	if ((*out = calloc(json_array_size(arr), KEY_PUB_LEN)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v) ||
		    key_pub_from_text(json_string_value(v), (*out)[i]) < 0) {
			free(*out);
			*out = NULL;
			return err_set(ERR_INVAL,
			    "%s.%s[%zu]: "
			    "expected an ed25519: key",
			    what, key, i);
		}
	}
	*n = json_array_size(arr);
	return 0;
}

/* "min_reputation":{"completion_rate_ppm"?,"uptime_7d_ppm"?,
 * "uptime_30d_ppm"?:0-10^6,"leases_started"?:N} (SDL placement's
 * x-lodge-min-reputation; came later to genesis version 2: an order
 * without it asks nothing of the record). */
static int
parse_min_rep(const json_t *x, struct order *o)
{
	const char *w = "order.create.min_reputation", *k;
	json_t *v;
	int i, rc;

	if (!json_is_object(x))
		return err_set(ERR_INVAL, "%s: expected an object", w);
	json_object_foreach((json_t *)x, k, v)
	{
		for (i = 0; i < ST_REP_N; i++)
			if (strcmp(k, st_rep_names[i]) == 0)
				break;
		if (i == ST_REP_N)
			return err_set(ERR_INVAL,
			    "%s.%.40s: not one of "
			    "completion_rate_ppm, uptime_7d_ppm, "
			    "uptime_30d_ppm, leases_started",
			    w, k);
		if ((rc = get_i64(x, k, w, 0,
		         i == ST_REP_STARTED ? ST_MAX_QTY : 1000000, 0,
		         &o->min_rep[i])) < 0)
			return rc;
		o->has_min_rep = 1;
	}
	return 0;
}

/* "caps":{"requests"?,"egress_bytes"?,"fuel"?}: units per epoch. */
static int
parse_caps(const json_t *x, struct order *o)
{
	const char *k;
	json_t *v;
	int i, rc;

	if (!json_is_object(x))
		return err_set(ERR_INVAL,
		    "order.create.caps: expected "
		    "{\"requests\"?,\"egress_bytes\"?,\"fuel\"?}");
	json_object_foreach((json_t *)x, k, v)
	{
		for (i = ST_REQUESTS; i < ST_METERS; i++)
			if (strcmp(k, st_usage_names[i]) == 0)
				break;
		if (i == ST_METERS)
			return err_set(ERR_INVAL,
			    "order.create.caps.%.40s: not "
			    "one of requests, egress_bytes, fuel",
			    k);
		if ((rc = get_i64(x, k, "order.create.caps", 0, ST_MAX_QTY, 0,
		         &o->caps[i])) < 0)
			return rc;
	}
	return 0;
}

/* Read an order.create body into o (calloc'd by the caller, caps at -1):
 * denomination, bid, deposit, TTL, resources, runtimes, signedBy, caps,
 * attributes.  With s->read_only (a quote) no string is interned: one
 * the state never saw matches nothing.  On error o's arrays are freed. */
int
st_order_parse(struct state *s, const json_t *b, struct order *o)
{
	const char *w = "order.create";
	json_t *res, *v, *x;
	const char *str;
	int64_t T = s->cfg.epoch_ms;
	size_t i;
	int rc;

	s->ro_unknown_runtime = 0;
	if ((rc = get_denom(s, b, w, &o->denom)) < 0 ||
	    (rc = get_i64(b, "max_price", w, 0, INT64_MAX, 0, &o->max_price)) <
	        0 ||
	    (rc = get_i64(b, "deposit", w, 1, INT64_MAX, 0, &o->deposit)) < 0 ||
	    (rc = get_i64(b, "ttl_ms", w, 1, ST_MAX_TTL_MS, 0, &o->ttl_ms)) <
	        0 ||
	    (rc = get_str(b, "manifest_hash", w, 0, &str)) < 0 ||
	    (rc = get_str(b, "placement", w, 1, &str)) < 0 ||
	    (rc = cjson_get_arr(b, "resources", w, &res)) < 0)
		goto fail;
	if (json_array_size(res) == 0 ||
	    json_array_size(res) > ST_MAX_RESOURCES) {
		rc = err_set(ERR_INVAL,
		    "order.create.resources: expected 1-%d "
		    "resources",
		    ST_MAX_RESOURCES);
		goto fail;
	}
	json_array_foreach(res, i, v)
	{
		int64_t cnt = 0, cpu = 0, mem = 0, sto = 0, gpu = 0, pr = 0;
		char what[64];
		snprintf(what, sizeof(what), "order.create.resources[%zu]", i);
		if (!json_is_object(v)) {
			rc = err_set(ERR_INVAL, "%s: expected an object", what);
			goto fail;
		}
		if ((rc = get_i64(v, "count", what, 1, ST_MAX_COUNT, 0, &cnt)) <
		        0 ||
		    (rc = get_i64(v, "cpu_millis", what, 0, ST_MAX_QTY, 0,
		         &cpu)) < 0 ||
		    (rc = get_i64(v, "memory_bytes", what, 0, ST_MAX_QTY, 0,
		         &mem)) < 0 ||
		    (rc = get_i64(v, "storage_bytes", what, 0, ST_MAX_QTY, 0,
		         &sto)) < 0 ||
		    (rc = get_i64(v, "gpu_units", what, 0, ST_MAX_QTY, 1,
		         &gpu)) < 0 ||
		    (rc = get_i64(v, "price", what, 0, INT64_MAX, 1, &pr)) <
		        0 ||
		    (rc = get_str(v, "profile", what, 1, &str)) < 0 ||
		    (rc = get_str(v, "service", what, 1, &str)) < 0)
			goto fail;
		if (__builtin_mul_overflow(cpu, cnt, &cpu) ||
		    __builtin_mul_overflow(mem, cnt, &mem) ||
		    __builtin_mul_overflow(sto, cnt, &sto) ||
		    __builtin_mul_overflow(gpu, cnt, &gpu) ||
		    __builtin_add_overflow(o->need.cpu, cpu, &o->need.cpu) ||
		    __builtin_add_overflow(o->need.mem, mem, &o->need.mem) ||
		    __builtin_add_overflow(o->need.sto, sto, &o->need.sto) ||
		    __builtin_add_overflow(o->need.gpu, gpu, &o->need.gpu)) {
			rc = err_set(ERR_RANGE,
			    "%s: resources x count overflow", what);
			goto fail;
		}
	}
	/* One epoch of full use, as numerators over 10^15 (see
	 * st_ask_price): cpu_ms = cpu * T / 10^3, MB-s = bytes * T / 10^9,
	 * and prices are per 10^6 units. */
	o->w_cpu = (state_u128)o->need.cpu * (uint64_t)T * 1000000u;
	o->w_mem = (state_u128)o->need.mem * (uint64_t)T;
	o->w_sto = (state_u128)o->need.sto * (uint64_t)T;
	o->w_small =
	    o->w_cpu >> 86 == 0 && o->w_mem >> 86 == 0 && o->w_sto >> 86 == 0;
	if ((x = json_object_get(b, "runtimes")) != NULL &&
	    (rc = parse_runtimes(s, x, "order.create.runtimes", &o->runtimes)) <
	        0)
		goto fail;
	if ((rc = st_capabilities_parse(json_object_get(b, "capabilities"),
	         "order.create.capabilities", &o->capv, &o->ncap)) < 0)
		goto fail;
	if ((x = json_object_get(b, "signed_by")) != NULL) {
		if (!json_is_object(x)) {
			rc = err_set(ERR_INVAL,
			    "order.create.signed_by: expected "
			    "{\"all_of\":[...],\"any_of\":[...]}");
			goto fail;
		}
		if ((rc = parse_keys(x, "all_of", &o->all_of, &o->nall)) < 0 ||
		    (rc = parse_keys(x, "any_of", &o->any_of, &o->nany)) < 0)
			goto fail;
	}
	if ((x = json_object_get(b, "caps")) != NULL &&
	    (rc = parse_caps(x, o)) < 0)
		goto fail;
	for (i = 0; i < ST_REP_N; i++)
		o->min_rep[i] = -1;
	if ((x = json_object_get(b, "min_reputation")) != NULL &&
	    (rc = parse_min_rep(x, o)) < 0)
		goto fail;
	if ((x = json_object_get(b, "attributes")) != NULL &&
	    (rc = parse_attrs(s, x, "order.create.attributes", &o->kv,
	         &o->nkv)) < 0)
		goto fail;
	o->kv_bloom = st_kv_bloom(o->kv, o->nkv);
	o->unknown_runtime = s->ro_unknown_runtime;
	return 0;
fail:
	free(o->kv);
	free(o->all_of);
	free(o->any_of);
	st_capabilities_free(o->capv, o->ncap);
	o->kv = NULL;
	o->all_of = o->any_of = NULL;
	o->capv = NULL;
	o->ncap = 0;
	return rc;
}

static int
h_order_create(struct state *s, struct ctx *c)
{
	const json_t *b = c->e->body;
	struct order *o = NULL;
	struct account *tenant;
	size_t i;
	int rc;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (i = 0; i < ST_METERS; i++)
		o->caps[i] = -1;
	o->index = c->index;
	o->created = c->t;
	snprintf(o->id, sizeof(o->id), "o-%llu", (unsigned long long)c->index);
	if ((rc = st_order_parse(s, b, o)) < 0)
		goto fail;
	tenant = acct_find(s, c->e->signer);
	if (tenant == NULL || tenant->bal[o->denom] < o->deposit) {
		rc = err_set(ERR_REJECT,
		    "order.create.deposit: %lld %s exceeds "
		    "the balance of %s (%lld after the entry's fee); the "
		    "deposit moves from the balance into the order's escrow: "
		    "%s",
		    (long long)o->deposit, s->cfg.denoms[o->denom],
		    c->e->signer_text,
		    tenant ? (long long)tenant->bal[o->denom] : 0LL, fund_hint);
		goto fail;
	}
	o->body = json_incref((json_t *)b); /* bodies are never modified */
	if ((rc = st_grow((void **)&s->ords, &s->ords_cap, s->nords + 1,
	         sizeof(*s->ords))) < 0 ||
	    (rc = st_grow((void **)&s->open, &s->open_cap, s->nopen + 1,
	         sizeof(*s->open))) < 0 ||
	    (rc = st_smap_put(&s->orders, o->id, o)) < 0)
		goto fail;
	o->tenant = tenant;
	s->ords[s->nords++] = o;
	s->open[s->nopen++] = o;
	credit(s, tenant, o->denom, -o->deposit);
	escrow_add(s, o, o->deposit);
	o->status = ORDER_OPEN;
	if (c->fx)
		snprintf(c->fx->id, sizeof(c->fx->id), "%s", o->id);
	rc = st_match_order(s, o);
	return rc < 0 ? rc : 0;
fail:
	st_order_free(o);
	return rc;
}

static int
h_order_close(struct state *s, const struct ctx *c)
{
	struct order *o;
	int rc;

	if ((rc = find_order(s, c->e->body, "order.close", &o)) < 0)
		return rc;
	if (memcmp(o->tenant->key, c->e->signer, KEY_PUB_LEN) != 0)
		return err_set(ERR_REJECT,
		    "order.close: %s is not the tenant "
		    "of %s",
		    c->e->signer_text, o->id);
	if (o->status == ORDER_CLOSED)
		return err_set(ERR_REJECT,
		    "order.close: %s is already closed "
		    "(%s)",
		    o->id, state_reason_name(o->reason));
	if (o->status == ORDER_MATCHED)
		return close_lease(s, o->lease, STATE_REASON_TENANT_CLOSED,
		    "tenant", c);
	close_order(o, STATE_REASON_TENANT_CLOSED, c);
	return refund(s, o);
}

static int
h_order_expire(struct state *s, const struct ctx *c)
{
	struct order *o;
	int rc;

	if ((rc = market_only(c)) < 0 ||
	    (rc = find_order(s, c->e->body, "order.expire", &o)) < 0)
		return rc;
	if (o->status != ORDER_OPEN)
		return err_set(ERR_REJECT, "order.expire: %s is not open",
		    o->id);
	if (!st_order_expired(o, c->t))
		return err_set(ERR_REJECT,
		    "order.expire: %s lives until %lld, "
		    "sequencer time is %lld",
		    o->id, (long long)(o->created + o->ttl_ms),
		    (long long)c->t);
	close_order(o, STATE_REASON_ORDER_EXPIRED, c);
	return refund(s, o);
}

static int pause_funded(const struct state *s, struct lease *l, int64_t t);

static int
h_dep_deposit(struct state *s, const struct ctx *c)
{
	struct account *a;
	struct order *o;
	int64_t amt = 0;
	int rc;

	if ((rc = find_order(s, c->e->body, "deployment.deposit", &o)) < 0 ||
	    (rc = get_i64(c->e->body, "amount", "deployment.deposit", 1,
	         INT64_MAX, 0, &amt)) < 0)
		return rc;
	if (o->status == ORDER_CLOSED)
		return err_set(ERR_REJECT, "deployment.deposit: %s is closed",
		    o->id);
	a = acct_find(s, c->e->signer);
	if (a == NULL || a->bal[o->denom] < amt)
		return err_set(ERR_REJECT,
		    "deployment.deposit.amount: %lld %s "
		    "exceeds the balance of %s (%lld after the entry's fee): "
		    "%s",
		    (long long)amt, s->cfg.denoms[o->denom], c->e->signer_text,
		    a ? (long long)a->bal[o->denom] : 0LL, fund_hint);
	credit(s, a, o->denom, -amt);
	escrow_add(s, o, amt);
	/* a paused lease the escrow pays again resumes */
	if (o->lease != NULL && o->lease->status == LEASE_PAUSED &&
	    pause_funded(s, o->lease, c->t))
		return st_push(s, "lease.resume",
		    json_pack("{s:s}", "lease", o->lease->id));
	/* a larger escrow may reach the minimum lease an ask needs */
	if (o->status == ORDER_OPEN && (rc = st_match_order(s, o)) < 0)
		return rc;
	return 0;
}

static int
h_lease_create(struct state *s, struct ctx *c)
{
	struct provider *p;
	struct lease *l;
	struct order *o;
	uint8_t pk[KEY_PUB_LEN];
	int64_t price = 0;
	int rc;

	if ((rc = derived_only(c)) < 0 ||
	    (rc = find_order(s, c->e->body, "lease.create", &o)) < 0 ||
	    (rc = get_key(c->e->body, "provider", "lease.create", pk)) < 0 ||
	    (rc = get_i64(c->e->body, "price", "lease.create", 0, INT64_MAX, 0,
	         &price)) < 0)
		return rc;
	if ((p = prov_find(s, pk)) == NULL || o->status != ORDER_PENDING)
		return err_set(ERR_REJECT,
		    "lease.create: %s is not awaiting "
		    "its lease",
		    o->id);
	if ((rc = st_grow((void **)&s->leases_v, &s->leases_cap, s->nleases + 1,
	         sizeof(*s->leases_v))) < 0)
		return rc;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	l->index = c->index;
	snprintf(l->id, sizeof(l->id), "l-%llu", (unsigned long long)c->index);
	if ((rc = st_smap_put(&s->leases, l->id, l)) < 0) {
		free(l);
		return rc;
	}
	l->order = o;
	l->prov = p;
	l->price = price;
	l->created = c->t;
	l->status = LEASE_CREATED;
	s->leases_v[s->nleases++] = l;
	o->status = ORDER_MATCHED;
	o->lease = l;
	p->pend.cpu -= o->need.cpu;
	p->pend.mem -= o->need.mem;
	p->pend.sto -= o->need.sto;
	p->pend.gpu -= o->need.gpu;
	p->used.cpu += o->need.cpu;
	p->used.mem += o->need.mem;
	p->used.sto += o->need.sto;
	p->used.gpu += o->need.gpu;
	p->nleases++;
	p->rec.won++;
	if (c->fx)
		snprintf(c->fx->id, sizeof(c->fx->id), "%s", l->id);
	return 0;
}

static int
lease_of_provider(const struct lease *l, const struct ctx *c)
{
	if (memcmp(l->prov->key, c->e->signer, KEY_PUB_LEN) != 0)
		return err_set(ERR_REJECT, "%s: %s is not the provider of %s",
		    c->e->kind, c->e->signer_text, l->id);
	return 0;
}

/* The end of l's manifest window: lease.create + manifest_window_ms. */
static int64_t
manifest_deadline(const struct state *s, const struct lease *l)
{
	return sat_add(l->created, s->cfg.manifest_window_ms);
}

/*
 * The manifest-delivery proof of a lease.started: the http.request
 * envelope (common/reqsig.h) the tenant signed for POST
 * /v1/leases/<lease>/manifest, whose body hash is the order's
 * manifest_hash (the manifest is sent as its canonical bytes, which is
 * what manifest_hash hashes).  Pure: an Ed25519 verification of the
 * canonical envelope.  The time binds it to this lease's life: not
 * before lease.create (less the skew) nor after this leaf (plus it).
 * A "host" member, when present, is not checked here.
 */
static int
check_manifest_proof(const struct state *s, const struct lease *l,
    const struct ctx *c, int64_t *ptime)
{
	static const char w[] = "lease.started.manifest_request";
	const json_t *pj = json_object_get(c->e->body, "manifest_request");
	const char *mh =
	    json_string_value(json_object_get(l->order->body, "manifest_hash"));
	const char *method, *path, *hash;
	char want[STATE_ID_LEN + 32];
	struct envelope *pe = NULL;
	json_t *copy;
	int rc;

	if (pj == NULL)
		return err_set(ERR_REJECT,
		    "%s: missing; billing starts only "
		    "with proof of the manifest delivery: the tenant-signed "
		    "%s envelope of POST /v1/leases/%s/manifest that the "
		    "provider received",
		    w, REQSIG_KIND, l->id);
	if (!json_is_object(pj))
		return err_set(ERR_INVAL,
		    "%s: expected the signed envelope "
		    "(an object)",
		    w);
	if ((copy = json_deep_copy(pj)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((rc = envelope_from_json(copy, &pe)) < 0) {
		if (rc == ERR_NOMEM)
			return rc;
		return err_prefix(ERR_REJECT, "%s: not a valid signed envelope",
		    w);
	}
	snprintf(want, sizeof(want), "/v1/leases/%s/manifest", l->id);
	if (strcmp(pe->kind, REQSIG_KIND) != 0) {
		rc = err_set(ERR_REJECT, "%s: kind '%.64s', expected '%s'", w,
		    pe->kind, REQSIG_KIND);
	} else if (memcmp(pe->signer, l->order->tenant->key, KEY_PUB_LEN) !=
	    0) {
		rc = err_set(ERR_REJECT,
		    "%s: signed by %s, not by the "
		    "order's tenant %s",
		    w, pe->signer_text, l->order->tenant->key_text);
	} else if ((rc = cjson_get_str(pe->body, "method", w, &method)) < 0 ||
	    (rc = cjson_get_str(pe->body, "path", w, &path)) < 0 ||
	    (rc = cjson_get_str(pe->body, "body_sha256", w, &hash)) < 0) {
		rc = ERR_REJECT;
	} else if (strcmp(method, "POST") != 0 || strcmp(path, want) != 0) {
		rc = err_set(ERR_REJECT,
		    "%s: a request for %.16s %.80s, "
		    "not for POST %s",
		    w, method, path, want);
	} else if (mh == NULL || strcmp(hash, mh) != 0) {
		rc = err_set(ERR_REJECT,
		    "%s: body_sha256 %.80s is not the "
		    "order's manifest_hash %.80s",
		    w, hash, mh ? mh : "(none)");
	} else if (pe->time_ms < sat_add(l->created, -s->cfg.skew_ms) ||
	    pe->time_ms > sat_add(c->t, s->cfg.skew_ms)) {
		rc = err_set(ERR_REJECT,
		    "%s: signed at %lld, outside %s's "
		    "life (lease.create at %lld, this entry at %lld, skew "
		    "%lld ms)",
		    w, (long long)pe->time_ms, l->id, (long long)l->created,
		    (long long)c->t, (long long)s->cfg.skew_ms);
	} else {
		*ptime = pe->time_ms;
		rc = 0;
	}
	envelope_free(pe);
	return rc;
}

static int
h_lease_started(struct state *s, const struct ctx *c)
{
	struct lease *l;
	int64_t ptime = 0;
	int rc;

	if ((rc = find_lease(s, c->e->body, "lease.started", &l)) < 0 ||
	    (rc = lease_of_provider(l, c)) < 0)
		return rc;
	if (l->status != LEASE_CREATED)
		return err_set(ERR_REJECT, "lease.started: %s is %s", l->id,
		    l->status == LEASE_ACTIVE ? "already started" :
		        l->status == LEASE_PAUSED ?
		                                "paused (started already; a "
		                                "deposit that funds it resumes "
		                                "it)" :
		                                "closed");
	if (c->t >= manifest_deadline(s, l))
		return err_set(ERR_REJECT,
		    "lease.started: the manifest window "
		    "of %s (%lld ms after lease.create at %lld) closed at "
		    "%lld; sequencer time %lld: the lease closes "
		    "manifest_not_delivered",
		    l->id, (long long)s->cfg.manifest_window_ms,
		    (long long)l->created, (long long)manifest_deadline(s, l),
		    (long long)c->t);
	if ((rc = check_manifest_proof(s, l, c, &ptime)) < 0)
		return rc;
	l->status = LEASE_ACTIVE;
	l->started = c->t;
	l->started_index = c->index;
	l->proof_time = ptime;
	l->prov->rec.started++;
	return 0;
}

/* Physical bound of a reserved-resource counter: value x div <= reserved
 * x elapsed (cpu_ms: millicores x ms / 10^3; MB-s: bytes x ms / 10^9). */
static int
check_bound(const struct state *s, const struct lease *l, int i, int64_t v,
    int64_t reserved, uint64_t div, int64_t elapsed, const struct ctx *c)
{
	char b1[40];

	if ((state_u128)(uint64_t)v * div <=
	    (state_u128)(uint64_t)reserved * (uint64_t)elapsed)
		return 0;
	return err_set(ERR_REJECT,
	    "%s.usage.%s: %lld is past its physical "
	    "bound %s for %s (%lld %s reserved x %lld ms: the time since "
	    "lease.started plus %lld ms of skew allowance)",
	    c->e->kind, st_usage_names[i], (long long)v,
	    st_u128_str(
	        (state_u128)(uint64_t)reserved * (uint64_t)elapsed / div, b1),
	    l->id, (long long)reserved, i == ST_CPU_MS ? "cpu_millis" : "bytes",
	    (long long)elapsed, (long long)s->cfg.usage_skew_ms);
}

static int64_t
u128_clamp(state_u128 v)
{
	return v > (state_u128)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* The one rounding rule: a charge is the exact rational value of
 * price . delta / 10^6 plus the carried remainder, rounded down to a
 * micro-unit; the remainder carries to the next usage, so over a lease's
 * life the total charged is the floor of the exact total.  Reserved
 * resources (cpu, memory, storage) and extras (requests, egress, fuel)
 * are two groups, each with its carry and its cap: reserved at the
 * agreed lease price x epochs, extras at (max_price - lease price) x
 * epochs, both under the escrow; a group cut by its cap drops its carry
 * (the excess was never owed).  Extras with a per-epoch cap in the order
 * charge at most cap x epochs units.  Before any of it each reserved
 * counter is held to what the lease could physically use since
 * lease.started.  The take is floor(charge * take_rate_ppm / 10^6). */
static int
charge_usage(struct state *s, struct lease *l, const json_t *u,
    const struct ctx *c)
{
	int64_t cur[ST_METERS], bill[ST_METERS] = { 0 };
	struct order *o;
	state_u128 num_r, num_x, cap_r, cap_x, want_r, want_x, lim;
	int64_t epochs, elapsed, charge_r, charge_x, charge, take, carry_r,
	    carry_x;
	struct account *pa, *ma;
	json_t *ev, *bj;
	int capped = 0, rc;

	if (!json_is_object(u))
		return err_set(ERR_INVAL, "%s.usage: expected an object",
		    c->e->kind);
	if (l->status != LEASE_ACTIVE)
		return err_set(ERR_REJECT, "%s: %s is %s", c->e->kind, l->id,
		    l->status == LEASE_CREATED ?
		        "not started (no manifest-delivery proof yet)" :
		        l->status == LEASE_PAUSED ?
		        "paused (escrow dry; nothing is billed until a "
		        "deployment.deposit resumes it)" :
		        "closed");
	o = l->order;
	for (int i = 0; i < ST_METERS; i++) {
		cur[i] = l->last[i];
		if ((rc = get_i64(u, st_usage_names[i], "lease.usage.usage", 0,
		         INT64_MAX, 1, &cur[i])) < 0)
			return rc;
		if (cur[i] < l->last[i])
			return err_set(ERR_REJECT,
			    "lease.usage.usage.%s: %lld "
			    "goes back from %lld (counters are cumulative)",
			    st_usage_names[i], (long long)cur[i],
			    (long long)l->last[i]);
	}
	elapsed = sat_add(c->t - st_lease_clock(l), s->cfg.usage_skew_ms);
	if ((rc = check_bound(s, l, ST_CPU_MS, cur[ST_CPU_MS], o->need.cpu,
	         1000, elapsed, c)) < 0 ||
	    (rc = check_bound(s, l, ST_MEM_MB_S, cur[ST_MEM_MB_S], o->need.mem,
	         1000000000, elapsed, c)) < 0 ||
	    (rc = check_bound(s, l, ST_STORAGE_MB_S, cur[ST_STORAGE_MB_S],
	         o->need.sto, 1000000000, elapsed, c)) < 0)
		return rc;
	epochs = st_epochs(s, st_lease_clock(l), c->t);
	/* price <= 2^40, delta < 2^63: three terms and a carry < 2^106 */
	num_r = (state_u128)l->carry;
	for (int i = ST_CPU_MS; i <= ST_STORAGE_MB_S; i++)
		num_r += (state_u128)(uint64_t)l->prov->price[i] *
		    (uint64_t)(cur[i] - l->last[i]);
	num_x = (state_u128)l->carry_x;
	for (int i = ST_REQUESTS; i < ST_METERS; i++) {
		bill[i] = cur[i] - l->last[i];
		if (o->caps[i] >= 0) {
			lim =
			    (state_u128)(uint64_t)o->caps[i] * (uint64_t)epochs;
			lim = lim > (state_u128)l->billed[i] ?
			    lim - (state_u128)l->billed[i] :
			    0;
			if ((state_u128)bill[i] > lim)
				bill[i] = (int64_t)lim;
		}
		num_x +=
		    (state_u128)(uint64_t)l->prov->price[i] * (uint64_t)bill[i];
	}
	lim = (state_u128)(uint64_t)l->price * (uint64_t)epochs;
	cap_r =
	    lim > (state_u128)l->charged_r ? lim - (state_u128)l->charged_r : 0;
	lim = (state_u128)(uint64_t)(o->max_price > l->price ?
	              o->max_price - l->price :
	              0) *
	    (uint64_t)epochs;
	cap_x =
	    lim > (state_u128)l->charged_x ? lim - (state_u128)l->charged_x : 0;
	want_r = num_r / ST_UNIT;
	carry_r = (int64_t)(num_r % ST_UNIT);
	if (want_r > cap_r || want_r > (state_u128)o->escrow) {
		want_r = cap_r < (state_u128)o->escrow ? cap_r :
		                                         (state_u128)o->escrow;
		carry_r = 0;
		capped = 1;
	}
	charge_r = (int64_t)want_r;
	want_x = num_x / ST_UNIT;
	carry_x = (int64_t)(num_x % ST_UNIT);
	if (want_x > cap_x || want_x > (state_u128)(o->escrow - charge_r)) {
		want_x = cap_x < (state_u128)(o->escrow - charge_r) ?
		    cap_x :
		    (state_u128)(o->escrow - charge_r);
		carry_x = 0;
		capped = 1;
	}
	charge_x = (int64_t)want_x;
	charge = charge_r + charge_x;
	take = (int64_t)((state_u128)(uint64_t)charge * s->cfg.take_rate_ppm /
	    1000000u);
	if ((rc = acct_get(s, l->prov->key, &pa)) < 0 ||
	    (rc = acct_get(s, s->cfg.market_key, &ma)) < 0)
		return rc;
	ev = json_pack("{s:I,s:I,s:{},s:{},s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:I}",
	    "index", (json_int_t)c->index, "time", (json_int_t)c->t, "usage",
	    "billed", "charge", (json_int_t)charge, "charge_reserved",
	    (json_int_t)charge_r, "charge_extras", (json_int_t)charge_x, "fee",
	    (json_int_t)take, "capped", capped, "epochs", (json_int_t)epochs,
	    "cap_reserved", (json_int_t)u128_clamp(cap_r), "cap_extras",
	    (json_int_t)u128_clamp(cap_x));
	if (ev == NULL ||
	    (l->usage == NULL && (l->usage = json_array()) == NULL)) {
		json_decref(ev);
		return err_set(ERR_NOMEM, "out of memory");
	}
	bj = json_object_get(ev, "billed");
	for (int i = 0; i < ST_METERS; i++) {
		json_object_set_new(json_object_get(ev, "usage"),
		    st_usage_names[i], json_integer(cur[i]));
		if (i >= ST_REQUESTS && o->caps[i] >= 0)
			json_object_set_new(bj, st_usage_names[i],
			    json_integer(bill[i]));
	}
	escrow_add(s, o, -charge);
	credit(s, pa, o->denom, charge - take);
	credit(s, ma, o->denom, take);
	memcpy(l->last, cur, sizeof(cur));
	for (int i = ST_REQUESTS; i < ST_METERS; i++)
		l->billed[i] += bill[i];
	l->carry = carry_r;
	l->carry_x = carry_x;
	l->charged += charge;
	l->charged_r += charge_r;
	l->charged_x += charge_x;
	l->fees += take;
	l->billed_epochs = epochs;
	json_object_set_new(ev, "escrow_after", json_integer(o->escrow));
	json_array_append_new(l->usage, ev);
	return 0;
}

/*
 * The lease's standing top-up (lease.autotopup), once a usage is billed:
 * when the escrow pays fewer than `below` epochs at the lease price,
 * `amount` moves from the tenant's balance (the order's denomination)
 * into the escrow, all of it or, when the balance holds less, nothing
 * (counted as a shortfall; the dry-escrow rules then apply as without
 * an instruction).  One top-up per billing.  The usage's story entry
 * (ev, the last of l->usage) tells which: "topup" or "topup_short".
 */
static void
auto_topup(struct state *s, struct lease *l)
{
	struct st_autotopup *a = &l->auto_topup;
	struct order *o = l->order;
	struct account *t = o->tenant;
	json_t *ev;
	const char *what;

	if (a->amount <= 0 || l->price <= 0 || l->status != LEASE_ACTIVE ||
	    o->escrow / l->price >= a->below)
		return;
	if (t->bal[o->denom] >= a->amount) {
		credit(s, t, o->denom, -a->amount);
		escrow_add(s, o, a->amount);
		a->applied++;
		a->moved = sat_add(a->moved, a->amount);
		what = "topup";
	} else {
		a->shortfalls++;
		what = "topup_short";
	}
	ev = l->usage ?
	    json_array_get(l->usage, json_array_size(l->usage) - 1) :
	    NULL;
	if (ev != NULL) {
		json_object_set_new(ev, what, json_integer(a->amount));
		json_object_set_new(ev, "escrow_after",
		    json_integer(o->escrow));
	}
}

static int
h_usage(struct state *s, struct ctx *c)
{
	const json_t *b = c->e->body;
	struct lease *l;
	int rc;

	if ((rc = find_lease(s, b, "lease.usage", &l)) < 0 ||
	    (rc = lease_of_provider(l, c)) < 0 ||
	    (rc = charge_usage(s, l, json_object_get(b, "usage"), c)) < 0)
		return rc;
	l->prov->rec.usage_reports++;
	auto_topup(s, l);
	if (st_lease_unfunded(s, l, c->t))
		return s->cfg.pause_grace_ms > 0 ?
		    st_push(s, "lease.pause",
		        json_pack("{s:s}", "lease", l->id)) :
		    st_push(s, "lease.close",
		        json_pack("{s:s,s:s}", "lease", l->id, "reason",
		            "insufficient_funds"));
	return 0;
}

/* The end of l's pause grace (l paused). */
static int64_t
pause_end(const struct state *s, const struct lease *l)
{
	return l->paused_at > INT64_MAX - s->cfg.pause_grace_ms ?
	    INT64_MAX :
	    l->paused_at + s->cfg.pause_grace_ms;
}

/* l (paused) would be funded if it resumed at t: its billing clock moves
 * on by the pause, so what decides is the time it had run when paused;
 * and its escrow pays at least one whole epoch at the lease price (a
 * crumb of a top-up does not restart a workload for a moment, nor start
 * a new grace when it pauses again). */
static int
pause_funded(const struct state *s, struct lease *l, int64_t t)
{
	int64_t at = l->paused_ms;
	int ok;

	if (l->price > 0 && l->order->escrow < l->price)
		return 0;
	l->status = LEASE_ACTIVE;
	l->paused_ms += t - l->paused_at;
	ok = !st_lease_unfunded(s, l, t);
	l->paused_ms = at;
	l->status = LEASE_PAUSED;
	return ok;
}

/*
 * Does l's standing top-up fund it at t, where nothing else would?  l is
 * active and unfunded at t (its escrow pays no further epoch: the
 * time-based pause is due), an instruction is in force, the tenant's
 * balance holds its amount, and with it the escrow pays the epoch l is
 * in.  The time-based lease.topup is then due instead of lease.pause.
 */
static int
topup_due(const struct state *s, const struct lease *l, int64_t t)
{
	const struct st_autotopup *a = &l->auto_topup;
	struct order *o = l->order;
	int ok;

	if (s->cfg.pause_grace_ms == 0 || a->amount <= 0 || l->price <= 0 ||
	    !st_lease_unfunded(s, l, t) ||
	    o->tenant->bal[o->denom] < a->amount ||
	    o->escrow > INT64_MAX - a->amount)
		return 0;
	o->escrow += a->amount; /* undone below: a what-if */
	ok = !st_lease_unfunded(s, l, t);
	o->escrow -= a->amount;
	return ok;
}

/*
 * lease.topup {"lease"} (market, time-based): the escrow of an active
 * lease ran out before a billing applied its standing top-up (its
 * provider's report comes later, or the balance was funded after the
 * last billing's shortfall); when the top-up alone funds it again
 * (topup_due), the amount moves now, and the lease is not paused.
 */
static int
h_lease_topup(struct state *s, const struct ctx *c)
{
	struct st_autotopup *a;
	struct lease *l;
	struct order *o;
	int rc;

	if ((rc = market_only(c)) < 0 ||
	    (rc = find_lease(s, c->e->body, "lease.topup", &l)) < 0)
		return rc;
	if (!topup_due(s, l, c->t))
		return err_set(ERR_REJECT,
		    "lease.topup: %s's standing top-up is not due at "
		    "sequencer time %lld (it is due when the lease is "
		    "active, its escrow pays no further epoch, the "
		    "instruction is in force and its amount, from the "
		    "tenant's balance, pays the epoch)",
		    l->id, (long long)c->t);
	a = &l->auto_topup;
	o = l->order;
	credit(s, o->tenant, o->denom, -a->amount);
	escrow_add(s, o, a->amount);
	a->applied++;
	a->moved = sat_add(a->moved, a->amount);
	a->on_due++;
	if (c->fx)
		snprintf(c->fx->id, sizeof(c->fx->id), "%s", l->id);
	return 0;
}

/*
 * lease.pause {"lease"} (market): a started lease whose escrow cannot pay
 * the epoch it is in stops being billed and keeps its capacity (and the
 * provider its volumes) for the genesis's pause grace.  Derived after a
 * lease.usage, or time-based like the insufficient_funds close it
 * replaces when pause_grace_ms > 0.
 */
static int
h_lease_pause(struct state *s, const struct ctx *c)
{
	struct lease *l;
	int rc;

	if ((rc = market_only(c)) < 0 ||
	    (rc = find_lease(s, c->e->body, "lease.pause", &l)) < 0)
		return rc;
	if (s->cfg.pause_grace_ms == 0)
		return err_set(ERR_REJECT,
		    "lease.pause: the genesis has no pause grace "
		    "(pause_grace_ms 0): an unfunded lease closes "
		    "insufficient_funds");
	if (l->status != LEASE_ACTIVE)
		return err_set(ERR_REJECT, "lease.pause: %s is not active",
		    l->id);
	if (!c->from_queue && !st_lease_unfunded(s, l, c->t))
		return err_set(ERR_REJECT,
		    "lease.pause: %s is funded at sequencer time %lld "
		    "(escrow %lld)",
		    l->id, (long long)c->t, (long long)l->order->escrow);
	if (!c->from_queue && topup_due(s, l, c->t))
		return err_set(ERR_REJECT,
		    "lease.pause: %s's standing top-up funds it at sequencer "
		    "time %lld (lease.topup first)",
		    l->id, (long long)c->t);
	l->status = LEASE_PAUSED;
	l->paused_at = c->t;
	l->pauses++;
	pa_track(l, 0);
	return 0;
}

/*
 * lease.resume {"lease"} (market, derived from the deployment.deposit
 * that funds a paused lease again): billing's clock moves on by the time
 * paused, the lease is active again.
 */
static int
h_lease_resume(struct state *s, const struct ctx *c)
{
	struct lease *l;
	int was, rc;

	if ((rc = derived_only(c)) < 0 ||
	    (rc = find_lease(s, c->e->body, "lease.resume", &l)) < 0)
		return rc;
	if (l->status != LEASE_PAUSED)
		return err_set(ERR_REJECT, "lease.resume: %s is not paused",
		    l->id);
	l->paused_ms += c->t - l->paused_at;
	l->paused_at = 0;
	was = lease_pa(l);
	l->status = LEASE_ACTIVE;
	pa_track(l, was);
	return 0;
}

/*
 * The credit rule of standing top-ups: after an entry that credited the
 * balance of a tenant (in a denomination) while one of its leases in
 * that denomination is paused with a standing top-up in force, each
 * such lease in creation (id) order, once per entry: when its escrow
 * does not fund it already (a lease.resume of it is pending) and the
 * balance holds the instruction's amount, the amount moves into the
 * escrow (all or nothing, as at billing), and when the lease is then
 * funded a lease.resume is derived, as after a deployment.deposit.
 */
static int
credit_topups(struct state *s, const struct ctx *c)
{
	int rc;

	if (!s->cred_any)
		return 0;
	s->cred_any = 0;
	for (size_t i = 0; i < s->nleases; i++) {
		struct lease *l = s->leases_v[i];
		struct order *o = l->order;
		struct account *t = o->tenant;
		struct st_autotopup *a = &l->auto_topup;

		if (!lease_pa(l) || t->cred_gen != s->cred_gen ||
		    !(t->cred_mask & (UINT32_C(1) << o->denom)) ||
		    pause_funded(s, l, c->t) || t->bal[o->denom] < a->amount)
			continue;
		credit(s, t, o->denom, -a->amount);
		escrow_add(s, o, a->amount);
		a->applied++;
		a->moved = sat_add(a->moved, a->amount);
		a->on_credit++;
		a->credit_index = c->index;
		if (pause_funded(s, l, c->t) &&
		    (rc = st_push(s, "lease.resume",
		         json_pack("{s:s}", "lease", l->id))) < 0)
			return rc;
	}
	return 0;
}

static int
h_lease_close(struct state *s, const struct ctx *c)
{
	const json_t *b = c->e->body;
	enum state_reason r;
	const char *rn, *by;
	struct lease *l;
	int rc;

	if ((rc = find_lease(s, b, "lease.close", &l)) < 0 ||
	    (rc = cjson_get_str(b, "reason", "lease.close", &rn)) < 0)
		return rc;
	if ((r = reason_from_name(rn)) == STATE_REASON_NONE)
		return err_set(ERR_INVAL,
		    "lease.close.reason: '%.40s' is not "
		    "one of tenant_closed, provider_closed, "
		    "insufficient_funds, provider_offline, manifest_refused, "
		    "order_expired, manifest_not_delivered",
		    rn);
	if (l->status == LEASE_CLOSED)
		return err_set(ERR_REJECT,
		    "lease.close: %s is already closed "
		    "(%s)",
		    l->id, state_reason_name(l->reason));
	if (c->is_market &&
	    (r == STATE_REASON_INSUFFICIENT_FUNDS ||
	        r == STATE_REASON_PROVIDER_OFFLINE ||
	        r == STATE_REASON_MANIFEST_NOT_DELIVERED)) {
		by = "market";
		if (r == STATE_REASON_PROVIDER_OFFLINE && !c->from_queue)
			return err_set(ERR_REJECT,
			    "lease.close: provider_offline "
			    "is derived from provider.offline only");
		if (r == STATE_REASON_INSUFFICIENT_FUNDS &&
		    l->status == LEASE_PAUSED) {
			if (!c->from_queue && c->t < pause_end(s, l))
				return err_set(ERR_REJECT,
				    "lease.close: %s is paused until %lld "
				    "(its grace), sequencer time %lld",
				    l->id, (long long)pause_end(s, l),
				    (long long)c->t);
		} else if (r == STATE_REASON_INSUFFICIENT_FUNDS &&
		    s->cfg.pause_grace_ms > 0 && !c->from_queue)
			return err_set(ERR_REJECT,
			    "lease.close: %s: an unfunded lease is paused "
			    "first (lease.pause, grace %lld ms)",
			    l->id, (long long)s->cfg.pause_grace_ms);
		if (r == STATE_REASON_INSUFFICIENT_FUNDS && !c->from_queue &&
		    l->status != LEASE_PAUSED && !st_lease_unfunded(s, l, c->t))
			return err_set(ERR_REJECT,
			    "lease.close: %s is funded at "
			    "sequencer time %lld (escrow %lld)",
			    l->id, (long long)c->t,
			    (long long)l->order->escrow);
		if (r == STATE_REASON_MANIFEST_NOT_DELIVERED &&
		    l->status != LEASE_CREATED)
			return err_set(ERR_REJECT,
			    "lease.close: %s started at %lld "
			    "with a manifest-delivery proof",
			    l->id, (long long)l->started);
		if (r == STATE_REASON_MANIFEST_NOT_DELIVERED &&
		    c->t < manifest_deadline(s, l))
			return err_set(ERR_REJECT,
			    "lease.close: %s's manifest window "
			    "runs until %lld, sequencer time %lld",
			    l->id, (long long)manifest_deadline(s, l),
			    (long long)c->t);
	} else if (memcmp(c->e->signer, l->order->tenant->key, KEY_PUB_LEN) ==
	        0 &&
	    (r == STATE_REASON_TENANT_CLOSED ||
	        r == STATE_REASON_MANIFEST_NOT_DELIVERED)) {
		by = "tenant";
		if (r == STATE_REASON_MANIFEST_NOT_DELIVERED &&
		    l->status != LEASE_CREATED)
			return err_set(ERR_REJECT,
			    "lease.close: %s started with a "
			    "manifest-delivery proof; close it with "
			    "tenant_closed",
			    l->id);
	} else if (memcmp(c->e->signer, l->prov->key, KEY_PUB_LEN) == 0 &&
	    (r == STATE_REASON_PROVIDER_CLOSED ||
	        r == STATE_REASON_MANIFEST_REFUSED)) {
		by = "provider";
		/* a provider's close may carry its final meter readings */
		if (json_object_get(b, "usage") != NULL &&
		    (rc = charge_usage(s, l, json_object_get(b, "usage"), c)) <
		        0)
			return rc;
	} else {
		return err_set(ERR_REJECT,
		    "lease.close: %s may not close %s "
		    "with reason %s (tenant: tenant_closed, "
		    "manifest_not_delivered; provider: provider_closed, "
		    "manifest_refused; market: insufficient_funds, "
		    "provider_offline, manifest_not_delivered)",
		    c->e->signer_text, l->id, rn);
	}
	return close_lease(s, l, r, by, c);
}

/* ---- lease.update: a new manifest for a running lease ----------------- */

const char *
st_lease_manifest_hash(const struct lease *l)
{
	size_t n = l->updates ? json_array_size(l->updates) : 0;

	if (n > 0)
		return json_string_value(json_object_get(
		    json_array_get(l->updates, n - 1), "manifest_hash"));
	return json_string_value(
	    json_object_get(l->order->body, "manifest_hash"));
}

static int
is_hex64(const char *h)
{
	size_t i;

	for (i = 0; h[i]; i++)
		if (!((h[i] >= '0' && h[i] <= '9') ||
		        (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return i == 64;
}

/*
 * lease.update {"lease","manifest_hash", and the order's placement group
 * as sdl orders gives it for the new file: "placement"?,"attributes"?,
 * "signed_by"?,"resources","denom","max_price","runtimes"?}: the tenant
 * moves a started lease to a new manifest.  Everything the lease was
 * matched and priced on must be the order's exactly (what runs may
 * change: images, env, command, ports); the manifest hash must be a new
 * one.  The lease records it: the provider takes the manifest whose
 * canonical bytes hash to it, from the tenant only.
 */
static int
h_lease_update(struct state *s, const struct ctx *c)
{
	static const char w[] = "lease.update";
	const json_t *b = c->e->body;
	const char *mh, *cur;
	struct lease *l;
	json_t *ev;
	int rc;

	if ((rc = find_lease(s, b, w, &l)) < 0 ||
	    (rc = get_str(b, "manifest_hash", w, 0, &mh)) < 0)
		return rc;
	if (!is_hex64(mh))
		return err_set(ERR_INVAL,
		    "%s.manifest_hash: expected 64 lower-case hex digits "
		    "(sha256 of the canonical manifest, sdl_manifest_hash)",
		    w);
	if (memcmp(l->order->tenant->key, c->e->signer, KEY_PUB_LEN) != 0)
		return err_set(ERR_REJECT,
		    "%s: only the tenant of %s (%s) may update it, not %s", w,
		    l->id, l->order->tenant->key_text, c->e->signer_text);
	if (l->status != LEASE_ACTIVE)
		return err_set(ERR_REJECT,
		    "%s: %s is %s: only a started lease is updated (%s)", w,
		    l->id,
		    l->status == LEASE_CLOSED     ? "closed" :
		        l->status == LEASE_PAUSED ? "paused" :
		                                    "not started",
		    l->status == LEASE_CLOSED ? "deploy again for a new lease" :
		        l->status == LEASE_PAUSED ?
		                                "top it up to resume it first" :
		                                "deliver its manifest first");
	cur = st_lease_manifest_hash(l);
	if (cur != NULL && strcmp(cur, mh) == 0)
		return err_set(ERR_REJECT,
		    "%s: %s already runs manifest %.64s: nothing to update", w,
		    l->id, mh);
	if ((rc = state_update_check(l->order->body, b, w)) < 0)
		return rc;
	if (l->updates == NULL && (l->updates = json_array()) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	ev = json_pack("{s:I,s:I,s:s}", "index", (json_int_t)c->index, "time",
	    (json_int_t)c->t, "manifest_hash", mh);
	if (ev == NULL || json_array_append_new(l->updates, ev) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	if (c->fx)
		snprintf(c->fx->id, sizeof(c->fx->id), "%s", l->id);
	return 0;
}

/*
 * lease.autotopup {"lease","amount":1..INT64_MAX,"below_epochs":1..2^32}
 * or {"lease","off":true}: the lease's tenant sets (or cancels) its
 * standing top-up instruction; the last accepted is in force
 * (auto_topup applies it at each billing).  Only for a lease not closed;
 * nothing else is accepted in the body.
 */
static int
h_lease_autotopup(struct state *s, const struct ctx *c)
{
	static const char w[] = "lease.autotopup";
	const json_t *b = c->e->body, *v;
	struct st_autotopup *a;
	int64_t amount = 0, below = 0;
	struct lease *l;
	const char *k;
	int was, rc;

	if (!json_is_object(b))
		return err_set(ERR_INVAL, "%s: expected an object", w);
	json_object_foreach((json_t *)b, k, v)
	{
		if (strcmp(k, "lease") != 0 && strcmp(k, "amount") != 0 &&
		    strcmp(k, "below_epochs") != 0 && strcmp(k, "off") != 0)
			return err_set(ERR_INVAL,
			    "%s.%.40s: unknown member (lease, amount, "
			    "below_epochs, off)",
			    w, k);
	}
	if ((rc = find_lease(s, b, w, &l)) < 0)
		return rc;
	if ((v = json_object_get(b, "off")) != NULL) {
		if (!json_is_true(v) || json_object_get(b, "amount") != NULL ||
		    json_object_get(b, "below_epochs") != NULL)
			return err_set(ERR_INVAL,
			    "%s.off: expected true, alone (cancel), or "
			    "\"amount\" and \"below_epochs\" without it (set)",
			    w);
	} else if ((rc = get_i64(b, "amount", w, 1, INT64_MAX, 0, &amount)) <
	        0 ||
	    (rc = get_i64(b, "below_epochs", w, 1, ST_AUTOTOPUP_MAX_EPOCHS, 0,
	         &below)) < 0)
		return rc;
	if (memcmp(l->order->tenant->key, c->e->signer, KEY_PUB_LEN) != 0)
		return err_set(ERR_REJECT,
		    "%s: only the tenant of %s (%s) may instruct its top-ups, "
		    "not %s",
		    w, l->id, l->order->tenant->key_text, c->e->signer_text);
	if (l->status == LEASE_CLOSED)
		return err_set(ERR_REJECT,
		    "%s: %s is closed (%s): deploy again for a new lease", w,
		    l->id, state_reason_name(l->reason));
	a = &l->auto_topup;
	if (amount == 0 && a->amount == 0)
		return err_set(ERR_REJECT,
		    "%s: %s has no standing top-up to cancel", w, l->id);
	was = lease_pa(l);
	a->amount = amount;
	a->below = below;
	a->index = c->index;
	a->time = c->t;
	a->instructions++;
	pa_track(l, was);
	if (c->fx)
		snprintf(c->fx->id, sizeof(c->fx->id), "%s", l->id);
	return 0;
}

struct kind {
	const char *name;
	int (*fn)(struct state *, struct ctx *);
};

#define H(f) ((int (*)(struct state *, struct ctx *))(f))
static const struct kind kinds[] = {
	{ "account.deposit", H(h_deposit) },
	{ "account.transfer", H(h_transfer) },
	{ "provider.advertise", H(h_advertise) },
	{ "provider.withdraw", H(h_withdraw) },
	{ "provider.heartbeat", H(h_heartbeat) },
	{ "provider.attest", H(h_attest) },
	{ "provider.offline", H(h_offline) },
	{ "provider.online", H(h_online) },
	{ "order.create", H(h_order_create) },
	{ "order.close", H(h_order_close) },
	{ "order.expire", H(h_order_expire) },
	{ "deployment.deposit", H(h_dep_deposit) },
	{ "lease.create", H(h_lease_create) },
	{ "lease.started", H(h_lease_started) },
	{ "lease.usage", H(h_usage) },
	{ "lease.close", H(h_lease_close) },
	{ "lease.update", H(h_lease_update) },
	{ "lease.autotopup", H(h_lease_autotopup) },
	{ "lease.pause", H(h_lease_pause) },
	{ "lease.resume", H(h_lease_resume) },
	{ "lease.topup", H(h_lease_topup) },
};

static int
is_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return 1;
	return 0;
}

/* ---- apply ------------------------------------------------------------ */

static int
totals_ok(const struct state *s)
{
	for (size_t d = 0; d < s->cfg.ndenoms; d++)
		if (s->balances[d] + s->escrows[d] + s->bonds[d] !=
		        s->deposits[d] ||
		    s->balances[d] < 0 || s->escrows[d] < 0 || s->bonds[d] < 0)
			return err_set(ERR_CORRUPT,
			    "state: %s balances %lld + "
			    "escrows %lld + bonds %lld != deposits %lld",
			    s->cfg.denoms[d], (long long)s->balances[d],
			    (long long)s->escrows[d], (long long)s->bonds[d],
			    (long long)s->deposits[d]);
	return 0;
}

/* ---- nonces: remembered while the skew rule would still accept them -- */

static void
nheap_swap(struct state *s, size_t i, size_t j)
{
	struct nonce_exp t = s->nheap[i];

	s->nheap[i] = s->nheap[j];
	s->nheap[j] = t;
}

/* Remember key (not yet in s->nonces) until exp; ERR_NOMEM leaves the
 * state unusable, as everywhere. */
static int
nonce_remember(struct state *s, const char *key, int64_t exp)
{
	size_t i;
	int rc;

	if ((rc = st_grow((void **)&s->nheap, &s->nheap_cap, s->nheap_n + 1,
	         sizeof(*s->nheap))) < 0)
		return rc;
	if ((s->nheap[s->nheap_n].key = strdup(key)) == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	if ((rc = st_smap_put(&s->nonces, key, (void *)1)) < 0) {
		free(s->nheap[s->nheap_n].key);
		return rc;
	}
	s->nheap[s->nheap_n].exp = exp;
	for (i = s->nheap_n++; i > 0 && s->nheap[(i - 1) / 2].exp > exp;
	     i = (i - 1) / 2)
		nheap_swap(s, i, (i - 1) / 2);
	return 0;
}

/* Forget every nonce whose envelope the skew rule refuses at now: an
 * envelope of time T is accepted only while now <= T + skew_ms. */
static void
nonce_prune(struct state *s, int64_t now)
{
	while (s->nheap_n > 0 && s->nheap[0].exp < now) {
		size_t i = 0;
		st_smap_del(&s->nonces, s->nheap[0].key);
		free(s->nheap[0].key);
		s->nheap[0] = s->nheap[--s->nheap_n];
		for (;;) {
			size_t l = 2 * i + 1, r = l + 1, m = i;
			if (l < s->nheap_n && s->nheap[l].exp < s->nheap[m].exp)
				m = l;
			if (r < s->nheap_n && s->nheap[r].exp < s->nheap[m].exp)
				m = r;
			if (m == i)
				break;
			nheap_swap(s, i, m);
			i = m;
		}
	}
}

int
state_apply(struct state *s, const struct envelope *e, uint64_t index,
    int64_t seq_time_ms, struct state_effects *fx)
{
	const struct kind *k = NULL;
	struct ctx c = { e, index, seq_time_ms, 0, 0, fx };
	char nkey[KEY_TEXT_SIZE + ENVELOPE_NONCE_MAX + 2];
	struct provider *p;
	struct account *payer = NULL, *ma;
	int64_t skew, fee = 0;
	int rc;

	if (fx != NULL) {
		fx->derived = NULL;
		fx->id[0] = '\0';
	}
	s->cred_gen++; /* credits marked by an earlier call no longer count */
	s->cred_any = 0;
	if (s->applied > 0 && index <= s->last_index)
		return err_set(ERR_REJECT,
		    "ledger index %llu: not after the "
		    "last applied index %llu",
		    (unsigned long long)index,
		    (unsigned long long)s->last_index);
	if (seq_time_ms < s->time || seq_time_ms < 0)
		return err_set(ERR_REJECT,
		    "ledger index %llu: sequencer time "
		    "%lld goes back from %lld",
		    (unsigned long long)index, (long long)seq_time_ms,
		    (long long)s->time);
	skew = e->time_ms > seq_time_ms ? e->time_ms - seq_time_ms :
	                                  seq_time_ms - e->time_ms;
	if (skew > s->cfg.skew_ms)
		return err_set(ERR_REJECT,
		    "ledger index %llu: envelope time "
		    "%lld is %lld ms from sequencer time %lld (skew window "
		    "%lld ms)",
		    (unsigned long long)index, (long long)e->time_ms,
		    (long long)skew, (long long)seq_time_ms,
		    (long long)s->cfg.skew_ms);
	snprintf(nkey, sizeof(nkey), "%s\n%s", e->signer_text, e->nonce);
	if (st_smap_get(&s->nonces, nkey) != NULL)
		return err_set(ERR_CONFLICT,
		    "ledger index %llu: nonce '%.60s' "
		    "of %s was already used",
		    (unsigned long long)index, e->nonce, e->signer_text);
	c.is_market = memcmp(e->signer, s->cfg.market_key, KEY_PUB_LEN) == 0;
	if (s->pq_n > 0) {
		const struct pending *h = &s->pq[s->pq_head];
		if (!c.is_market || strcmp(h->kind, e->kind) != 0 ||
		    !json_equal(h->body, (json_t *)e->body)) {
			char *want = NULL;
			size_t wl;
			cjson_dump(h->body, &want, &wl);
			rc = err_set(ERR_REJECT,
			    "ledger index %llu: discrepancy: "
			    "the rules derive the market-signed %s %s next, "
			    "got "
			    "%s by %s",
			    (unsigned long long)index, h->kind,
			    want ? want : "{...}", e->kind, e->signer_text);
			free(want);
			return rc;
		}
		c.from_queue = 1;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, e->kind) == 0)
			k = &kinds[i];
	if (k == NULL)
		return err_set(ERR_INVAL,
		    "ledger index %llu: unknown entry kind "
		    "'%.64s'",
		    (unsigned long long)index, e->kind);
	/* the entry's fee, taken first so that the entry itself sees the
	 * balance left; given back if the entry is refused */
	if ((rc = state_fee_check(s, e->signer, e->kind)) < 0)
		return err_prefix(rc, "ledger index %llu: fee",
		    (unsigned long long)index);
	if ((fee = state_fee_of(s, e->signer, e->kind)) > 0) {
		payer = acct_find(s, e->signer);
		credit(s, payer, 0, -fee);
	}
	s->now = seq_time_ms;
	s->now_index = index;
	if (c.from_queue) { /* pop first: the handler may push more */
		json_decref(s->pq[s->pq_head].body);
		s->pq_head++;
		s->pq_n--;
	}
	if ((rc = k->fn(s, &c)) < 0) {
		if (c.from_queue) { /* put an equal head back */
			s->pq_head--;
			s->pq_n++;
			s->pq[s->pq_head].body = json_deep_copy(e->body);
		}
		if (payer != NULL)
			credit(s, payer, 0, fee);
		return err_prefix(rc, "ledger index %llu",
		    (unsigned long long)index);
	}
	if (fee > 0) {
		if ((rc = acct_get(s, s->cfg.market_key, &ma)) < 0)
			return rc;
		credit(s, ma, 0, fee);
		s->entry_fees[0] += fee;
	}
	if ((rc = credit_topups(s, &c)) < 0)
		return rc;
	nonce_prune(s, seq_time_ms);
	if ((rc = nonce_remember(s, nkey,
	         sat_add(e->time_ms, s->cfg.skew_ms))) < 0)
		return rc;
	/* any entry a provider signs shows it alive */
	if (!c.is_market && (p = prov_find(s, e->signer)) != NULL) {
		p->last_seen = seq_time_ms;
		if (!p->online &&
		    (rc = st_push(s, "provider.online",
		         json_pack("{s:s}", "provider", p->key_text))) < 0)
			return rc;
	}
	s->last_index = index;
	s->time = seq_time_ms;
	s->applied++;
	if ((rc = totals_ok(s)) < 0)
		return rc;
	if (s->cfg.check_invariants && (rc = state_check_invariants(s)) < 0)
		return rc;
	if (fx != NULL && s->pq_n > 0 &&
	    (rc = state_pending(s, &fx->derived)) < 0)
		return rc;
	return 0;
}

int
state_check_invariants(const struct state *s)
{
	int64_t bal[STATE_DENOMS_MAX] = { 0 }, esc[STATE_DENOMS_MAX] = { 0 };
	int64_t bnd[STATE_DENOMS_MAX] = { 0 };

	for (size_t i = 0; i < s->naccts; i++)
		for (size_t d = 0; d < s->cfg.ndenoms; d++) {
			if (s->accts[i]->bal[d] < 0)
				return err_set(ERR_CORRUPT,
				    "state: account %s has "
				    "a negative %s balance %lld",
				    s->accts[i]->key_text, s->cfg.denoms[d],
				    (long long)s->accts[i]->bal[d]);
			bal[d] += s->accts[i]->bal[d];
		}
	for (size_t i = 0; i < s->nords; i++) {
		const struct order *o = s->ords[i];
		if (o->escrow < 0 ||
		    (o->status == ORDER_CLOSED && o->escrow != 0))
			return err_set(ERR_CORRUPT,
			    "state: order %s escrow %lld "
			    "(status %d)",
			    o->id, (long long)o->escrow, o->status);
		esc[o->denom] += o->escrow;
	}
	for (size_t i = 0; i < s->nprovs; i++) {
		if (s->provs[i]->bond < 0)
			return err_set(ERR_CORRUPT,
			    "state: provider %s has a "
			    "negative bond",
			    s->provs[i]->key_text);
		bnd[0] += s->provs[i]->bond;
	}
	for (size_t d = 0; d < s->cfg.ndenoms; d++)
		if (bal[d] != s->balances[d] || esc[d] != s->escrows[d] ||
		    bnd[d] != s->bonds[d] ||
		    bal[d] + esc[d] + bnd[d] != s->deposits[d])
			return err_set(ERR_CORRUPT,
			    "state: %s: balances %lld + "
			    "escrows %lld + bonds %lld != deposits %lld",
			    s->cfg.denoms[d], (long long)bal[d],
			    (long long)esc[d], (long long)bnd[d],
			    (long long)s->deposits[d]);
	if (s->nonces.n != s->nheap_n)
		return err_set(ERR_CORRUPT,
		    "state: %zu nonces remembered, %zu "
		    "expiries",
		    s->nonces.n, s->nheap_n);
	for (size_t i = 0; i < s->nprovs; i++) {
		const struct provider *p = s->provs[i];
		if (p->used.cpu < 0 || p->used.mem < 0 || p->used.sto < 0 ||
		    p->used.gpu < 0 || p->pend.cpu < 0 || p->pend.mem < 0 ||
		    p->pend.sto < 0 || p->pend.gpu < 0)
			return err_set(ERR_CORRUPT,
			    "state: provider %s has "
			    "negative used capacity",
			    p->key_text);
	}
	{
		uint64_t npa = 0, nl = 0;

		for (size_t i = 0; i < s->naccts; i++)
			npa += s->accts[i]->npaused_auto;
		for (size_t i = 0; i < s->nleases; i++)
			if (lease_pa(s->leases_v[i])) {
				nl++;
				if (s->leases_v[i]
				        ->order->tenant->npaused_auto == 0)
					npa = UINT64_MAX;
			}
		if (npa != nl)
			return err_set(ERR_CORRUPT,
			    "state: %llu paused leases with a standing top-up, "
			    "their tenants count %llu",
			    (unsigned long long)nl, (unsigned long long)npa);
	}
	return totals_ok(s);
}

int
state_due(const struct state *s, int64_t now, json_t **out)
{
	json_t *a = json_array();
	int rc = 0;

	if (a == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < s->nopen && rc == 0; i++) {
		const struct order *o = s->open[i];
		if (o->status == ORDER_OPEN && st_order_expired(o, now))
			rc = json_array_append_new(a,
			    json_pack("{s:s,s:{s:s}}", "kind", "order.expire",
			        "body", "order", o->id));
	}
	for (size_t i = 0; i < s->nprovs && rc == 0; i++) {
		const struct provider *p = s->provs[i];
		if (p->online && now - p->last_seen >= s->cfg.offline_grace_ms)
			rc = json_array_append_new(a,
			    json_pack("{s:s,s:{s:s}}", "kind",
			        "provider.offline", "body", "provider",
			        p->key_text));
	}
	for (size_t i = 0; i < s->nleases && rc == 0; i++) {
		const struct lease *l = s->leases_v[i];
		const char *why = NULL;
		if (l->status == LEASE_ACTIVE && st_lease_unfunded(s, l, now) &&
		    s->cfg.pause_grace_ms > 0) {
			rc = json_array_append_new(a,
			    json_pack("{s:s,s:{s:s}}", "kind",
			        topup_due(s, l, now) ? "lease.topup" :
			                               "lease.pause",
			        "body", "lease", l->id));
			continue;
		}
		if (l->status == LEASE_ACTIVE && st_lease_unfunded(s, l, now))
			why = "insufficient_funds";
		else if (l->status == LEASE_PAUSED && now >= pause_end(s, l))
			why = "insufficient_funds";
		else if (l->status == LEASE_CREATED &&
		    now >= manifest_deadline(s, l))
			why = "manifest_not_delivered";
		if (why != NULL)
			rc = json_array_append_new(a,
			    json_pack("{s:s,s:{s:s,s:s}}", "kind",
			        "lease.close", "body", "lease", l->id, "reason",
			        why));
	}
	if (rc < 0) {
		json_decref(a);
		return err_set(ERR_NOMEM, "out of memory");
	}
	*out = a;
	return 0;
}
