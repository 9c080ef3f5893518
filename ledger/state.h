/*
 * state: the deterministic state machine of the Lodge market (DESIGN.md,
 * "Trust rules", "Matching", "Metering and money").  It applies verified
 * ledger leaves to accounts, escrows, provider asks, orders and leases.  No
 * I/O, no clock, no randomness: time advances only with the sequencer time
 * of applied leaves, so the market and an auditor replaying the ledger run
 * the same code and reach the same bytes (state_dump).  docs/state.md is
 * the long form of this header.
 *
 * Entry kinds and bodies (all amounts int64 micro-units, sizes in bytes,
 * keys "ed25519:<base64url>", ids "o-<index>" / "l-<index>" where index is
 * the ledger index of the creating leaf):
 *   account.deposit    treasury  {"to":KEY,"denom":D,"amount":N>0}
 *   account.transfer   anyone    {"to":KEY,"denom":D,"amount":N>0}
 *   provider.advertise provider  {"api_url":S,"attributes":{k:v},
 *                       "capacity":{"cpu_millis","memory_bytes",
 *                       "storage_bytes","gpu_units"?},"runtimes":[S],
 *                       "price":{"denom":D,"cpu_ms"?,"mem_mb_s"?,
 *                       "storage_mb_s"?,"request"?,"egress_byte"?,"fuel"?}}
 *                       price components: micro-units per 10^6 units.
 *                       optional "policy":{"allow"?:[KEY],"deny"?:[KEY],
 *                       "min_lease_epochs"?:N}: the ask's bid policy
 *   provider.withdraw  provider  {}
 *   provider.heartbeat provider  {}
 *   provider.attest    auditor   {"provider":KEY,"attributes":{k:v}}
 *                       ({} revokes the auditor's attestation)
 *   provider.offline   market    {"provider":KEY}   (time-based, checked)
 *   provider.online    market    {"provider":KEY}   (derived)
 *   order.create       tenant    {"placement"?,"attributes"?:{k:v},
 *                       "signed_by"?:{"all_of":[KEY],"any_of":[KEY]},
 *                       "resources":[{"profile"?,"service"?,"count",
 *                       "cpu_millis","memory_bytes","storage_bytes",
 *                       "gpu_units"?,"price"?}],"denom":D,"max_price":N,
 *                       "runtimes"?:[S],"manifest_hash":S,"deposit":N>0,
 *                       "ttl_ms":N>0}
 *   order.close        tenant    {"order":ID}
 *   order.expire       market    {"order":ID}       (time-based, checked)
 *   deployment.deposit anyone    {"order":ID,"amount":N>0}
 *   lease.create       market    {"order":ID,"price":N,"provider":KEY}
 *                                                    (derived)
 *   lease.started      provider  {"lease":ID,"manifest_request":ENV}
 *                       ENV: the tenant-signed http.request envelope
 *                       (common/reqsig.h) of the manifest delivery:
 *                       body {"body_sha256":<the order's manifest_hash>,
 *                       "method":"POST","path":"/v1/leases/ID/manifest"}
 *   lease.usage        provider  {"lease":ID,"usage":{"cpu_ms"?,"mem_mb_s"?,
 *                       "storage_mb_s"?,"requests"?,"egress_bytes"?,
 *                       "fuel"?}}   cumulative; an absent counter is
 *                       unchanged
 *   lease.pause        market    {"lease":ID}  (genesis pause_grace_ms > 0:
 *                       in place of lease.close insufficient_funds;
 *                       derived or time-based, checked)
 *   lease.resume       market    {"lease":ID}  (derived from the
 *                       deployment.deposit that funds a paused lease,
 *                       or from a credit to its tenant's balance that
 *                       its standing top-up moved into the escrow)
 *   lease.topup        market    {"lease":ID}  (time-based, checked: an
 *                       active lease's escrow ran out before a billing,
 *                       and its standing top-up's amount, from the
 *                       balance, pays the epoch: moved, no pause)
 *   lease.close        tenant|provider|market {"lease":ID,"reason":R,
 *                       "usage"?:{...}}  (usage: the provider's final
 *                       cumulative readings, charged before the close)
 *   lease.autotopup    tenant    {"lease":ID,"amount":N>0,
 *                       "below_epochs":1..2^32} | {"lease":ID,"off":true}
 *                       the lease's standing top-up (the last one is in
 *                       force): at each lease.usage, once billed, when
 *                       the escrow pays fewer than below_epochs epochs at
 *                       the lease price, amount moves from the tenant's
 *                       balance into the escrow (nothing if it holds
 *                       less); for a paused lease, after each entry
 *                       that credits that balance (docs/state.md)
 *   R is one of enum state_reason's names (state_reason_name).
 *   order.create may add "caps":{"requests"?,"egress_bytes"?,"fuel"?}:
 *   units per epoch above which those counters are not charged.
 *   order.create may add "min_reputation":{"completion_rate_ppm"?,
 *   "uptime_7d_ppm"?,"uptime_30d_ppm"?,"leases_started"?}: the minimum
 *   record (state_provider_record) a provider must have to match.
 *
 * Money rules (docs/state.md, "Money"): every signed entry except the
 * treasury's account.deposit and the market's own pays its signer a fee
 * (config fee / fee_kinds, in denoms[0]) to the market key; an ask locks
 * a bond from the provider's balance; usage is bounded by what the
 * reserved resources could do since lease.started; charges are capped at
 * the agreed lease price (reserved) and the rest of the bid (extras);
 * billing starts only with a manifest-delivery proof.
 */
#ifndef LODGE_LEDGER_STATE_H
#define LODGE_LEDGER_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/envelope.h"
#include "common/key.h"

#define STATE_DENOMS_MAX 8
#define STATE_DENOM_LEN 16 /* including the NUL */
#define STATE_ID_LEN 24 /* "o-18446744073709551615" + NUL */
#define STATE_FEE_KINDS_MAX 32
#define STATE_KIND_LEN (ENVELOPE_KIND_MAX + 1)
/* The genesis checkpoint cadence: its default and range, in ms. */
#define STATE_CHECKPOINT_MS_DEFAULT 1000
#define STATE_CHECKPOINT_MS_MIN 100
#define STATE_CHECKPOINT_MS_MAX 3600000
/* The pause grace a new genesis gets unless told otherwise (24 h). */
#define STATE_PAUSE_GRACE_MS_DEFAULT (INT64_C(24) * 3600 * 1000)

/* A per-kind fee that replaces the default one. */
struct state_fee_kind {
	char kind[STATE_KIND_LEN];
	int64_t fee;
};

/* The closed set of reasons a lease or an order ends with. */
enum state_reason {
	STATE_REASON_NONE = 0,
	STATE_REASON_TENANT_CLOSED, /* tenant closed lease or order */
	STATE_REASON_PROVIDER_CLOSED, /* provider closed the lease */
	STATE_REASON_INSUFFICIENT_FUNDS, /* escrow cannot pay the next epoch */
	STATE_REASON_PROVIDER_OFFLINE, /* provider silent past its grace */
	STATE_REASON_MANIFEST_REFUSED, /* provider refused the manifest */
	STATE_REASON_ORDER_EXPIRED, /* no provider fitted before TTL */
	STATE_REASON_MANIFEST_NOT_DELIVERED, /* no delivery proof in time */
	STATE_REASON_COUNT
};

struct state_config {
	uint8_t market_key[KEY_PUB_LEN]; /* signs derived entries */
	uint8_t treasury_key[KEY_PUB_LEN]; /* the only key that mints */
	uint32_t take_rate_ppm; /* market's cut; 20000 = 2% */
	int64_t epoch_ms; /* 6000, Akash's block time */
	int64_t skew_ms; /* |signer time - sequencer time| allowed */
	int64_t offline_grace_ms; /* silence before provider.offline */
	size_t ndenoms;
	char denoms[STATE_DENOMS_MAX][STATE_DENOM_LEN]; /* {"uakt"} */
	/* Money rules (genesis version 2). */
	int64_t usage_skew_ms; /* added to the time since lease.started
	                        * for the physical bounds of usage */
	int64_t fee; /* default fee per signed entry, denoms[0] */
	size_t nfee_kinds;
	struct state_fee_kind fee_kinds[STATE_FEE_KINDS_MAX];
	int64_t bond_per_cpu; /* bond per 1000 cpu_millis advertised */
	int64_t bond_per_gib; /* bond per GiB (2^30 B) of memory */
	int64_t manifest_window_ms; /* lease.create -> proof, at most */
	int64_t min_lease_epochs; /* escrow >= this x agreed price */
	/* How often the market signs (and, with witnesses, has cosigned)
	 * a checkpoint of what it committed; 1000 ms when a version 2
	 * genesis written before this rule leaves it out. */
	int64_t checkpoint_ms;
	/* How long a lease whose escrow cannot pay the next epoch stays
	 * paused (lease.pause) before it closes insufficient_funds; 0
	 * closes it at once (a version 2 genesis written before this rule
	 * leaves it out: 0). */
	int64_t pause_grace_ms;
	/* Run state_check_invariants (O(n)) after every apply; on by
	 * default unless NDEBUG.  The O(1) totals check always runs. */
	int check_invariants;
};

struct state;

/* What the market must do after an apply. */
struct state_effects {
	/* The derived entries the market must sign and append next, in
	 * order: [{"kind":K,"body":{...}}, ...] (the whole pending queue).
	 * Owned by the caller (json_decref); NULL when none. */
	json_t *derived;
	/* The id the entry created ("o-12", "l-13") or "". */
	char id[STATE_ID_LEN];
};

/* Defaults: take 2%, epoch 6 s, skew 5 min, grace 90 s, denoms {"uakt"},
 * usage skew 6 s (one default epoch), fee 100 (lease.usage and
 * provider.heartbeat 10), bond 1000000 per cpu and per GiB, manifest
 * window 5 min, min lease 10 epochs, a checkpoint every second, keys all
 * zero (set them). */
void state_config_default(struct state_config *c);

/* New empty state; the config is copied.  ERR_INVAL on a bad config.
 * The caller owns *out (state_free). */
int state_new(const struct state_config *c, struct state **out);
void state_free(struct state *s);

/* Apply one ledger leaf: a verified envelope, its ledger index (strictly
 * increasing) and the sequencer's time (never decreasing).  Returns 0, or
 * ERR_REJECT (refused by the rules), ERR_CONFLICT (signer's nonce already
 * used), ERR_INVAL (malformed body or unknown kind), ERR_RANGE (overflow);
 * on all of these the state is unchanged and err_msg() names the index,
 * the field and the rule.  ERR_NOMEM leaves the state unusable.  While
 * derived entries are pending, the next leaf must be the market-signed
 * head of the queue (anything else is a discrepancy, ERR_REJECT).  fx may
 * be NULL; when given it is filled (free fx->derived).  The state keeps
 * references to e->body (json_incref): do not modify a body once applied. */
int state_apply(struct state *s, const struct envelope *e, uint64_t index,
    int64_t seq_time_ms, struct state_effects *fx);

/* The fee an entry of kind signed by signer pays: 0 for the market key
 * and for the treasury's account.deposit, else the kind's fee. */
int64_t state_fee_of(const struct state *s, const uint8_t signer[KEY_PUB_LEN],
    const char *kind);
/* 0 when signer can pay the fee of kind (read only, for a market that
 * answers 402 before verifying); else ERR_REJECT naming the fee, the
 * balance and how to get funds.  state_apply applies the same rule. */
int state_fee_check(const struct state *s, const uint8_t signer[KEY_PUB_LEN],
    const char *kind);
/* The bond an ask of this capacity locks (128-bit, rounded up per
 * term); ERR_RANGE when it does not fit in int64. */
int state_bond_for(const struct state_config *c, int64_t cpu_millis,
    int64_t memory_bytes, int64_t *out);

/* The pending derived entries, as in state_effects.derived; the caller
 * owns *out (an array, maybe empty). */
int state_pending(const struct state *s, json_t **out);
size_t state_pending_count(const struct state *s);
/* (signer, nonce) pairs remembered now (those the skew rule would still
 * accept; older ones are forgotten). */
size_t state_nonces(const struct state *s);

/* Time-based derived entries due at now_ms (order.expire past TTL,
 * provider.offline past the grace period, lease.close insufficient_funds
 * when escrow has not paid for the current epoch (lease.pause instead
 * under a pause grace; the close when a paused lease's grace ends),
 * lease.close
 * manifest_not_delivered for a lease not started within the manifest
 * window), as an array of
 * {"kind","body"} for the market to sign and append with a sequencer time
 * >= now_ms.  Does not change the state.  The caller owns *out. */
int state_due(const struct state *s, int64_t now_ms, json_t **out);

/* Canonical JSON of the whole state (accounts, orders, leases, providers,
 * their records, pending, nonce count, totals, last index and time):
 * equal states give equal cjson_dump bytes.  The caller owns *out. */
int state_dump(const struct state *s, json_t **out);

/* No negative balance, escrow or bond; per denom, the sum of balances,
 * escrows and bonds equals the sum of deposits; capacity accounting
 * consistent.
 * 0 or ERR_CORRUPT with the first violation. */
int state_check_invariants(const struct state *s);

/* Read views for the market's GET endpoints; each returns a new value
 * the caller owns, or ERR_NOTFOUND / ERR_INVAL. */
int state_account_json(const struct state *s, const char *key_text,
    json_t **out);
int state_order_json(const struct state *s, const char *order_id, json_t **out);
int state_lease_json(const struct state *s, const char *lease_id, json_t **out);
int state_providers_json(const struct state *s, json_t **out);
/* Orders in arrival order; tenant (key text) and status ("open",
 * "matched", "closed") filter when non-NULL. */
int state_orders_json(const struct state *s, const char *tenant,
    const char *status, json_t **out);
/* Leases in creation order; provider / tenant filter when non-NULL. */
int state_leases_json(const struct state *s, const char *provider,
    const char *tenant, json_t **out);
/* The audit story of one lease: the order, the fitting asks and the rule
 * that picked the winner, start, every usage with its charge, the close
 * reason and the refund. */
int state_lease_story(const struct state *s, const char *lease_id,
    json_t **out);

/* What matching would do now if tenant (key text) posted orders (an
 * array of order.create bodies, posted in this order; "deposit" is each
 * escrow): per group the asks that fit, by matching's order, with their
 * price per epoch and per 30-day month, the winner and its price (each
 * group's winner reserves its capacity for the later groups, as the
 * posted orders would), and for every other ask the first rule it fails
 * ("reason", one of state_nofit_name's, and "detail" for people):
 *   {"tenant","index","time","epoch_ms","fee_per_order","balance",
 *    "needed","groups":[{"placement","denom","max_price","escrow",
 *    "winner":KEY|null,"price"?,"per_month"?,"min_lease_epochs"?,
 *    "fitting":[{"provider","price","per_month","ask_time",
 *    "min_lease_epochs"}],"not_fitting":[{"provider","reason",
 *    "detail"}]}]}   (min_lease_epochs: the epochs of its price the
 *    escrow must pay at that ask, the market's or its policy's)
 * The same predicate as matching (st_fit_reason): unchanged state, the
 * order.create that follows matches the quoted winner at the quoted
 * price.  s is restored before return.  ERR_INVAL names the bad order. */
int state_quote(struct state *s, const char *tenant, const json_t *orders,
    json_t **out);
/* "fits", "offline", "cpu", "price", "policy_deny", ... (the reasons of
 * state_quote); NULL outside the set. */
const char *state_nofit_name(int reason);

/* A provider's record, a pure function of the ledger up to the state's
 * last leaf (docs/state.md, "Reputation"): {"provider","index","time",
 * "first_ask":{"index","time"},"key_age_ms","leases":{"won","started",
 * "live","ended":{REASON:N}},"manifests_refused","usage_reports",
 * "heartbeats","last_seen","online","offline_marks","online_ms",
 * "offline_ms","uptime_7d_ppm","uptime_30d_ppm","completion_rate_ppm"
 * (null while undefined),"bond":{"now","max","changes"},
 * "attestations":[{"auditor","index"}]}.  ERR_NOTFOUND for a key that
 * never advertised. */
int state_provider_record(const struct state *s, const char *key_text,
    json_t **out);
/* Every provider's record, in order of first ask. */
int state_provider_records(const struct state *s, json_t **out);

/* "tenant_closed", ... ; NULL outside the set. */
const char *state_reason_name(enum state_reason r);

/* The rule of lease.update on what may not change (pure; the state,
 * `ledger audit` and the tenant's pre-check share it): update (a
 * lease.update body, or the placement group sdl orders gives for a new
 * file) must equal order_body (the order.create body) in "placement",
 * "attributes", "signed_by", "denom", "max_price", "runtimes" and every
 * member of each of its "resources".  0, or ERR_REJECT naming the first
 * field that differs as "what.field" (ERR_INVAL: resources malformed). */
int state_update_check(const json_t *order_body, const json_t *update,
    const char *what);

/* The whole state as bytes (state_snap.c): a snapshot a restart can
 * continue from instead of replaying every leaf.  *out is malloc'd, the
 * caller frees it.  The configuration is not in it: it comes from the
 * genesis. */
int state_snapshot_encode(const struct state *s, char **out, size_t *len);
/* A state from state_snapshot_encode's bytes under config c (the
 * genesis's); applying the leaves after it gives what replaying every
 * leaf gives.  Every position, count and enum is checked, and the
 * invariants after: a damaged payload is ERR_CORRUPT naming what and
 * where.  The caller owns *out. */
int state_snapshot_decode(const struct state_config *c, const char *buf,
    size_t len, struct state **out);

/* Sequencer time and index of the last applied leaf (0 when none). */
int64_t state_time(const struct state *s);
uint64_t state_last_index(const struct state *s);
size_t state_applied(const struct state *s);

#endif
