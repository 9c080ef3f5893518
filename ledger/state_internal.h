/*
 * state_internal: the typed structures behind ledger/state.h, shared by
 * state.c (apply and entry kinds), state_match.c (pricing, matching) and
 * state_json.c (views, dump, story).  Not for use outside ledger/state_*.
 */
#ifndef LODGE_LEDGER_STATE_INTERNAL_H
#define LODGE_LEDGER_STATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/key.h"
#include "ledger/state.h"

__extension__ typedef unsigned __int128 state_u128;

/* Limits on untrusted bodies. */
#define ST_MAX_ATTRS 64
#define ST_MAX_STR 256
#define ST_MAX_RUNTIMES 32 /* distinct runtime names, state-wide */
#define ST_MAX_CAPABILITIES 32 /* per ask and per order */
#define ST_CAPABILITY_LEN 64
#define ST_MAX_RESOURCES 64
#define ST_MAX_AUDITORS 16
#define ST_MAX_PRICE (INT64_C(1) << 40) /* per price component */
#define ST_MAX_QTY (INT64_C(1) << 50) /* cpu millis, bytes, units */
#define ST_MAX_COUNT 1000000
#define ST_MAX_TTL_MS (INT64_C(365) * 24 * 3600 * 1000)
#define ST_MAX_FEE (INT64_C(1) << 40) /* per entry */
#define ST_STORY_CANDIDATES 5
#define ST_MAX_POLICY_KEYS 256 /* per allow / deny list of an ask */
#define ST_MAX_POLICY_EPOCHS (INT64_C(1) << 32) /* an ask's min lease */
#define ST_UNIT 1000000 /* price components are per 10^6 units */

/* A string-keyed hash map (open addressing, linear probing).  Ids and
 * keys are never forgotten; nonces are, once the skew rule refuses them
 * anyway (st_smap_del, backward-shift deletion: no tombstones). */
struct smap {
	char **keys;
	void **vals;
	uint64_t *hashes;
	size_t cap, n;
};
void *st_smap_get(const struct smap *m, const char *key);
int st_smap_put(struct smap *m, const char *key, void *val); /* new key */
void st_smap_del(struct smap *m, const char *key); /* no-op if absent */
void st_smap_free(struct smap *m);

struct account {
	uint8_t key[KEY_PUB_LEN];
	char key_text[KEY_TEXT_SIZE];
	int64_t bal[STATE_DENOMS_MAX];
	size_t seq; /* creation order */
	/* Derived, not snapshotted (recomputed at decode): how many of this
	 * tenant's leases are paused with a standing top-up in force.  And,
	 * transient: the denominations (bits) credited by the state_apply
	 * call numbered cred_gen (state.c, credit_topups). */
	uint32_t npaused_auto;
	uint32_t cred_mask;
	uint64_t cred_gen;
};

/* Price vector: micro-units per 10^6 metered units. */
enum {
	ST_CPU_MS,
	ST_MEM_MB_S,
	ST_STORAGE_MB_S,
	ST_REQUESTS,
	ST_EGRESS_BYTES,
	ST_FUEL,
	ST_METERS
};
extern const char *const st_price_names[ST_METERS];
extern const char *const st_usage_names[ST_METERS];

struct res4 {
	int64_t cpu, mem, sto, gpu;
};

struct attest {
	uint8_t auditor[KEY_PUB_LEN];
	uint64_t *kv; /* sorted (key id << 32 | value id) */
	size_t nkv;
	uint64_t index;
	json_t *attrs; /* as signed, for views */
};

/* A provider's record, counted as its entries apply (docs/state.md,
 * "Reputation"): a pure function of the ledger. */
struct st_offline {
	int64_t from, to; /* provider.offline, provider.online (-1: open) */
};
struct st_record {
	int64_t first_time; /* its first provider.advertise */
	uint64_t first_index;
	int64_t won, started, usage_reports, heartbeats, offline_marks;
	int64_t ended[STATE_REASON_COUNT]; /* its leases, by close reason */
	int64_t bond_max, bond_changes;
	int64_t offline_ms; /* closed offline intervals, in all */
	struct st_offline *off; /* offline intervals ending in the last
	                         * ST_RECORD_WINDOW_MS (or open) */
	size_t noff, off_cap;
};
#define ST_RECORD_WINDOW_MS (INT64_C(30) * 24 * 3600 * 1000)

struct provider {
	uint8_t key[KEY_PUB_LEN];
	char key_text[KEY_TEXT_SIZE];
	size_t seq;
	int has_ask, withdrawn, online;
	uint64_t ask_index; /* leaf of the current ask: "older ask" */
	int64_t ask_time, last_seen;
	struct res4 cap, used, pend;
	int denom;
	uint32_t runtimes; /* bit per interned runtime name */
	char **capv; /* capabilities offered ("storage/beta2"), sorted */
	size_t ncap;
	int64_t price[ST_METERS];
	uint64_t *kv; /* sorted attributes, interned */
	size_t nkv;
	uint64_t kv_bloom; /* one bit per attribute pair: quick reject */
	struct attest *att;
	size_t natt;
	json_t *ask; /* the advertise body, for views */
	size_t nleases; /* live leases (created or active) */
	int64_t bond; /* locked from its balance, denoms[0] */
	/* The ask's bid policy ("policy" of provider.advertise): tenant
	 * keys it takes only / never (sorted), and the minimum lease, in
	 * epochs, the order's escrow must pay at its price (0: none). */
	uint8_t (*allow)[KEY_PUB_LEN];
	uint8_t (*deny)[KEY_PUB_LEN];
	size_t nallow, ndeny;
	int64_t min_lease_epochs;
	struct st_record rec; /* its record (state_reputation.c) */
};

enum order_status { ORDER_OPEN, ORDER_PENDING, ORDER_MATCHED, ORDER_CLOSED };

/* The figures an order's "min_reputation" may ask a minimum of. */
enum {
	ST_REP_COMPLETION,
	ST_REP_UPTIME_7D,
	ST_REP_UPTIME_30D,
	ST_REP_STARTED,
	ST_REP_N
};
extern const char *const st_rep_names[ST_REP_N];

struct order {
	uint64_t index;
	char id[STATE_ID_LEN];
	struct account *tenant;
	int denom;
	int64_t max_price, deposit, escrow, ttl_ms, created;
	int64_t caps[ST_METERS]; /* extras: units per epoch, -1 none */
	struct res4 need; /* resources x count, summed */
	state_u128 w_cpu, w_mem, w_sto; /* one epoch of full use, scaled */
	int w_small; /* all w < 2^86: price sums cannot overflow */
	uint32_t runtimes;
	char **capv; /* capabilities needed, sorted */
	size_t ncap;
	int unknown_runtime; /* a quote's order names a runtime no ask has */
	/* "min_reputation": the minimum record (ST_REP_*), -1 unset */
	int has_min_rep;
	int64_t min_rep[ST_REP_N];
	uint64_t *kv;
	size_t nkv;
	uint64_t kv_bloom;
	uint8_t (*all_of)[KEY_PUB_LEN];
	uint8_t (*any_of)[KEY_PUB_LEN];
	size_t nall, nany;
	json_t *body; /* order.create body, for views */
	enum order_status status;
	enum state_reason reason;
	int64_t closed_time;
	uint64_t closed_index;
	int64_t refund;
	struct lease *lease;
	struct { /* how the winner was chosen (story) */
		uint64_t index;
		int64_t time;
		size_t nfit, nbest;
		struct {
			const struct provider *p;
			int64_t price, ask_time;
			uint64_t ask_index;
		} best[ST_STORY_CANDIDATES];
	} m;
};

/* LEASE_PAUSED comes last so that older snapshots keep their values. */
enum lease_status { LEASE_CREATED, LEASE_ACTIVE, LEASE_CLOSED, LEASE_PAUSED };

/* A lease's standing top-up instruction (lease.autotopup, signed by its
 * tenant; the last one accepted is in force) and what it did: at each
 * lease.usage, once charged, when the escrow pays fewer than below
 * epochs at the lease price, amount moves from the tenant's balance into
 * the escrow, or nothing when the balance holds less (short). */
#define ST_AUTOTOPUP_MAX_EPOCHS (INT64_C(1) << 32)
struct st_autotopup {
	int64_t amount; /* 0: none in force (never set, or cancelled) */
	int64_t below; /* epochs; 0 when none in force */
	uint64_t index; /* leaf of the last lease.autotopup accepted */
	int64_t time; /* its sequencer time */
	int64_t instructions; /* lease.autotopup entries accepted */
	int64_t applied; /* top-ups made */
	int64_t moved; /* their sum (saturating) */
	int64_t shortfalls; /* billings that wanted one the balance lacked */
	/* top-ups made for the lease paused, when its tenant's balance was
	 * credited (included in applied/moved), and the leaf of the last */
	int64_t on_credit;
	uint64_t credit_index;
	/* top-ups made by a time-based lease.topup (included in applied and
	 * moved): the escrow ran out before a billing could make one */
	int64_t on_due;
};

struct lease {
	uint64_t index;
	char id[STATE_ID_LEN];
	struct order *order;
	struct provider *prov;
	int64_t price; /* winner's ask per epoch */
	int64_t created, started;
	enum lease_status status;
	int64_t last[ST_METERS]; /* cumulative counters last reported */
	int64_t billed[ST_METERS]; /* extras: units charged (<= last) */
	int64_t carry; /* reserved: remainder below 1 micro-unit, x 10^6 */
	int64_t carry_x; /* extras: the same */
	int64_t charged, charged_r, charged_x, fees, billed_epochs;
	uint64_t started_index;
	int64_t proof_time; /* signer time of the manifest request */
	enum state_reason reason;
	int64_t closed_time;
	uint64_t closed_index;
	char closed_by[16];
	json_t *usage; /* story: every usage and its charge; NULL
	                         until the first */
	json_t *updates; /* lease.update: [{"index","time",
	                    "manifest_hash"}], NULL until the first */
	struct st_autotopup auto_topup; /* lease.autotopup (state.c) */
	/* lease.pause / lease.resume: when the current pause began (0 when
	 * not paused), the time paused before it (billing's clock runs from
	 * started + paused_ms) and how many pauses there were. */
	int64_t paused_at, paused_ms, pauses;
};

/* Where l's billing clock starts: lease.started's time plus the time it
 * spent paused (state_match.c). */
int64_t st_lease_clock(const struct lease *l);

/* The manifest hash l runs now: the last lease.update's, else its
 * order's (state.c). */
const char *st_lease_manifest_hash(const struct lease *l);

struct pending {
	char kind[ENVELOPE_KIND_MAX + 1];
	json_t *body;
};

/* A remembered nonce and when the skew rule starts refusing it anyway
 * (envelope time + skew_ms); a min-heap on expiry. */
struct nonce_exp {
	int64_t exp;
	char *key; /* owned; the same text as the smap key */
};

/* state_match.c: providers by attribute pair, so that matching an order
 * that names attributes visits only the providers holding the rarest of
 * them (rebuilt when kv_gen moves). */
struct st_match_index;

struct state {
	struct state_config cfg;
	uint64_t last_index;
	int64_t time;
	int64_t now; /* sequencer time of the leaf being applied */
	uint64_t now_index;
	size_t applied;
	struct smap accounts, providers, orders, leases, nonces, strings;
	struct account **accts;
	size_t naccts, accts_cap;
	struct provider **provs;
	size_t nprovs, provs_cap;
	struct order **ords; /* all orders, arrival order */
	size_t nords, ords_cap;
	struct order **open; /* open orders, arrival order (lazy) */
	size_t nopen, open_cap;
	struct lease **leases_v; /* all leases, creation order */
	size_t nleases, leases_cap;
	/* Transient, not state: state_apply calls so far, and whether the
	 * current one credited an account that has a paused lease with a
	 * standing top-up (state.c, credit_topups). */
	uint64_t cred_gen;
	int cred_any;
	struct pending *pq; /* derived entries queue */
	size_t pq_head, pq_n, pq_cap;
	char *runtime_names[ST_MAX_RUNTIMES];
	size_t nruntimes;
	uint32_t nstrings;
	struct nonce_exp *nheap;
	size_t nheap_n, nheap_cap;
	int64_t deposits[STATE_DENOMS_MAX];
	int64_t balances[STATE_DENOMS_MAX];
	int64_t escrows[STATE_DENOMS_MAX];
	int64_t bonds[STATE_DENOMS_MAX];
	int64_t entry_fees[STATE_DENOMS_MAX]; /* collected, informational */
	uint64_t kv_gen; /* bumped when a provider's attributes change */
	struct st_match_index *midx; /* NULL until the first match */
	/* While a quote parses an order (state_quote): nothing is
	 * interned, an unknown runtime is noted instead.  Not state. */
	int read_only, ro_unknown_runtime;
};

/* state.c */
/* Set each account's npaused_auto from the leases (after a decode). */
void st_paused_auto_recount(struct state *s);
int st_order_parse(struct state *s, const json_t *b, struct order *o);
int st_push(struct state *s, const char *kind, json_t *body); /* steals */
int st_grow(void **arr, size_t *cap, size_t need, size_t elem);

/* state_match.c */
uint64_t st_kv_bloom(const uint64_t *kv, size_t n);
/* Price of one epoch of full use of o's resources under p's ask, or -1
 * when it does not fit in int64. */
int64_t st_ask_price(const struct provider *p, const struct order *o);
/* A "capabilities" array (absent: none) into a sorted, deduplicated
 * list (ERR_INVAL naming what: 1-64 bytes of [a-z0-9._/-], at most
 * ST_MAX_CAPABILITIES).  *out is the caller's (st_capabilities_free). */
int st_capabilities_parse(const json_t *arr, const char *what, char ***out,
    size_t *n);
void st_capabilities_free(char **v, size_t n);
/* Does the sorted list have hold every capability of want? */
int st_capabilities_hold(char *const *have, size_t nhave, char *const *want,
    size_t nwant);

/* Why p's ask does not fit o, the first failing rule in this order
 * (ST_FIT, and *price set, when it fits): the one predicate matching,
 * quotes and any index share. */
enum st_nofit {
	ST_FIT = 0,
	ST_NOFIT_NO_ASK, /* no ask, or withdrawn */
	ST_NOFIT_OFFLINE,
	ST_NOFIT_DENOM,
	ST_NOFIT_RUNTIMES,
	ST_NOFIT_CPU, /* free capacity short */
	ST_NOFIT_MEM,
	ST_NOFIT_STORAGE,
	ST_NOFIT_GPU,
	ST_NOFIT_ATTRIBUTES,
	ST_NOFIT_SIGNED_BY,
	ST_NOFIT_REPUTATION, /* below the order's min_reputation */
	ST_NOFIT_POLICY_DENY, /* the tenant is on the ask's deny list */
	ST_NOFIT_POLICY_ALLOW, /* the ask has an allow list without it */
	ST_NOFIT_PRICE, /* one epoch of full use above max_price */
	ST_NOFIT_ESCROW, /* escrow < min_lease_epochs x price */
	ST_NOFIT_POLICY_MIN_LEASE, /* escrow < the ask's minimum lease */
	ST_NOFIT_CAPABILITIES, /* a capability the order needs is not offered */
	ST_NOFIT_COUNT
};
enum st_nofit st_fit_reason(const struct state *s, const struct provider *p,
    const struct order *o, int64_t *price);
/* Whether ask pa at price a beats pb at b in matching's order: cheaper,
 * then older ask, then lower key. */
int st_better(const struct provider *pa, int64_t a, const struct provider *pb,
    int64_t b);
/* st_fit_reason(...) == ST_FIT */
int st_fits(const struct state *s, const struct provider *p,
    const struct order *o, int64_t *price);
void st_match_index_free(struct st_match_index *x);
/* Tests only: set, matching scans every provider (the oracle the
 * attribute index is checked against); results are the same. */
extern int st_match_index_off;
/* Match one open order; on a winner, reserve capacity and queue the
 * lease.create.  Returns 1 when matched, 0 when it waits, < 0 on error. */
int st_match_order(struct state *s, struct order *o);
/* Re-run matching over open orders in arrival order after p changed. */
int st_rematch(struct state *s, struct provider *p);
/* The match story of o (null before a match); a new reference. */
json_t *st_match_json(const struct order *o);
int st_order_expired(const struct order *o, int64_t t);
int64_t st_epochs(const struct state *s, int64_t from, int64_t to);
int st_lease_unfunded(const struct state *s, const struct lease *l, int64_t t);
/* The time from which an active lease is unfunded if nothing changes
 * (st_lease_unfunded's end: the escrow's last paid epoch), -1 when it
 * does not run dry with time (not active, or free). */
int64_t st_lease_paid_until(const struct state *s, const struct lease *l);

/* Decimal text of a 128-bit value (for messages); buf of 40 bytes. */
const char *st_u128_str(state_u128 v, char buf[40]);

/* state_reputation.c: the record's hooks, called once an entry is
 * accepted (they cannot fail but for ERR_NOMEM, on offline). */
int st_rec_offline(struct provider *p, int64_t t);
void st_rec_online(struct provider *p, int64_t t);
void st_rec_free(struct provider *p);

/* Free one provider, order or lease and everything it owns (NULL:
 * nothing); the state's arrays and maps are the caller's to fix. */
void st_provider_free(struct provider *p);
void st_order_free(struct order *o);
void st_lease_free(struct lease *l);
/* Uptime over the last w ms before T (or since the first ask when
 * younger), in ppm; -1 when no time has passed. */
int64_t st_rec_uptime_ppm(const struct provider *p, int64_t T, int64_t w);
/* Leases ended without the provider's fault, in ppm of those ended (but
 * manifest_not_delivered); -1 when none. */
int64_t st_rec_completion_ppm(const struct provider *p);
/* The record as state_provider_record gives it (NULL: no memory). */
json_t *st_record_json(const struct state *s, const struct provider *p);
/* The first figure of o's min_reputation p's record is below at time T
 * (an undefined figure is below any minimum), or -1 when it meets all. */
int st_rec_below(const struct provider *p, const struct order *o, int64_t T,
    int64_t *have);

/* state_json.c */
json_t *st_account_json(const struct state *s, const struct account *a);
json_t *st_order_json(const struct state *s, const struct order *o);
json_t *st_lease_json(const struct state *s, const struct lease *l);
json_t *st_provider_json(const struct state *s, const struct provider *p);

#endif
