/*
 * test_state: the market's state machine (ledger/state.h): every entry
 * kind and its rejections, matching, charging, derived entries and their
 * replay checks, the money rules (fees, bonds, usage bounds, charge caps,
 * manifest-delivery proofs, nonce pruning), the genesis, and a property
 * test over random valid streams.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cjson.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "ledger/replay.h"
#include "ledger/state.h"

enum {
	K_TREASURY,
	K_MARKET,
	K_TENANT,
	K_TENANT2,
	K_P1,
	K_P2,
	K_P3,
	K_AUDITOR,
	K_NKEYS
};

struct logged {
	struct envelope *e;
	uint64_t index;
	int64_t time;
};

struct t {
	struct state *s;
	struct key *k[K_NKEYS];
	char kt[K_NKEYS][KEY_TEXT_SIZE];
	uint64_t idx;
	int64_t now;
	unsigned nonce;
	struct logged *log;
	size_t nlog, caplog;
	char last_id[STATE_ID_LEN];
	struct state_config cfg;
};

/* money: 1 keeps the default fees, bonds and minimum lease; 0 turns
 * them off, so that tests of matching and charging count alone (usage
 * bounds, charge caps and manifest proofs always apply). */
static struct t *
t_new_with(int money)
{
	struct t *t = calloc(1, sizeof(*t));
	uint8_t seed[KEY_SEED_LEN], pub[KEY_PUB_LEN];

	assert_non_null(t);
	for (int i = 0; i < K_NKEYS; i++) {
		memset(seed, 0x10 + i, sizeof(seed));
		assert_int_equal(key_from_seed(seed, &t->k[i]), 0);
		key_public(t->k[i], pub);
		key_pub_to_text(pub, t->kt[i]);
	}
	state_config_default(&t->cfg);
	key_public(t->k[K_TREASURY], t->cfg.treasury_key);
	key_public(t->k[K_MARKET], t->cfg.market_key);
	t->cfg.check_invariants = 1;
	if (!money) {
		t->cfg.fee = 0;
		t->cfg.nfee_kinds = 0;
		t->cfg.bond_per_cpu = 0;
		t->cfg.bond_per_gib = 0;
		t->cfg.min_lease_epochs = 0;
	}
	assert_int_equal(state_new(&t->cfg, &t->s), 0);
	t->idx = 1;
	t->now = 1700000000000;
	return t;
}

static struct t *
t_new(void)
{
	return t_new_with(0);
}

static void
t_free(struct t *t)
{
	for (size_t i = 0; i < t->nlog; i++)
		envelope_free(t->log[i].e);
	free(t->log);
	for (int i = 0; i < K_NKEYS; i++)
		key_free(t->k[i]);
	state_free(t->s);
	free(t);
}

static struct envelope *
t_sign(struct t *t, int who, const char *kind, json_t *body, int64_t etime)
{
	struct envelope *e;
	char nonce[32];

	snprintf(nonce, sizeof(nonce), "n%u", t->nonce++);
	assert_non_null(body);
	if (envelope_sign(t->k[who], kind, body, nonce, etime, &e) < 0)
		fail_msg("envelope_sign: %s", err_msg());
	json_decref(body);
	return e;
}

/* Apply e at the current index and time; log it when applied. */
static int
t_apply_env(struct t *t, struct envelope *e)
{
	struct state_effects fx;
	int rc = state_apply(t->s, e, t->idx, t->now, &fx);

	if (rc == 0) {
		if (t->nlog == t->caplog) {
			t->caplog = t->caplog ? t->caplog * 2 : 64;
			t->log = realloc(t->log, t->caplog * sizeof(*t->log));
			assert_non_null(t->log);
		}
		t->log[t->nlog++] = (struct logged){ e, t->idx, t->now };
		t->idx++;
		memcpy(t->last_id, fx.id, sizeof(fx.id));
		json_decref(fx.derived);
	} else {
		assert_null(fx.derived);
		envelope_free(e);
	}
	return rc;
}

static int
t_put(struct t *t, int who, const char *kind, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	json_t *body;
	json_error_t je;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((body = json_loads(buf, 0, &je)) == NULL)
		fail_msg("bad test JSON %s: %s", buf, je.text);
	return t_apply_env(t, t_sign(t, who, kind, body, t->now));
}

/* Sign and apply every pending derived entry; returns how many. */
static int
t_drain(struct t *t)
{
	json_t *p, *d;
	size_t i;
	int n = 0;

	while (state_pending_count(t->s) > 0) {
		assert_int_equal(state_pending(t->s, &p), 0);
		d = json_array_get(p, 0);
		int rc = t_apply_env(t,
		    t_sign(t, K_MARKET,
		        json_string_value(json_object_get(d, "kind")),
		        json_incref(json_object_get(d, "body")), t->now));
		if (rc != 0)
			fail_msg("derived entry refused: %s", err_msg());
		json_decref(p);
		n++;
	}
	(void)i;
	return n;
}

#define OK(x)                                                      \
	do {                                                       \
		int rc_ = (x);                                     \
		if (rc_ != 0)                                      \
			fail_msg("%s: %d %s", #x, rc_, err_msg()); \
	} while (0)
#define REJ(code, x)                                                       \
	do {                                                               \
		int rc_ = (x);                                             \
		if (rc_ != (code))                                         \
			fail_msg("%s: expected %d, got %d (%s)", #x, code, \
			    rc_, err_msg());                               \
	} while (0)

static int64_t
balance(struct t *t, int who)
{
	json_t *a;
	int64_t v;

	OK(state_account_json(t->s, t->kt[who], &a));
	v = json_integer_value(
	    json_object_get(json_object_get(a, "balances"), "uakt"));
	json_decref(a);
	return v;
}

static json_t *
order(struct t *t, const char *id)
{
	json_t *o;

	OK(state_order_json(t->s, id, &o));
	return o;
}

static json_t *
lease(struct t *t, const char *id)
{
	json_t *o;

	OK(state_lease_json(t->s, id, &o));
	return o;
}

static const char *
jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int64_t
jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* A provider ask: 4 cores, 8 GB, 100 GB; price per 10^6 cpu_ms. */
static int
advertise(struct t *t, int who, int64_t cpu_price, const char *attrs,
    int64_t cpu_millis)
{
	return t_put(t, who, "provider.advertise",
	    "{\"api_url\":"
	    "\"https://p.example\",\"attributes\":%s,\"capacity\":{"
	    "\"cpu_millis\":%lld,\"memory_bytes\":8000000000,"
	    "\"storage_bytes\":100000000000},\"runtimes\":[\"process\","
	    "\"wasm\"],\"price\":{\"denom\":\"uakt\",\"cpu_ms\":%lld,"
	    "\"mem_mb_s\":0,\"request\":1000}}",
	    attrs, (long long)cpu_millis, (long long)cpu_price);
}

/* One service of 1 core x count; max price per epoch. */
static int
create_order(struct t *t, int who, int count, int64_t max_price,
    int64_t deposit, const char *extra)
{
	return t_put(t, who, "order.create",
	    "{\"placement\":\"dc\","
	    "\"resources\":[{\"profile\":\"web\",\"service\":\"web\","
	    "\"count\":%d,\"cpu_millis\":1000,\"memory_bytes\":1000000,"
	    "\"storage_bytes\":0,\"price\":%lld}],\"denom\":\"uakt\","
	    "\"max_price\":%lld,\"manifest_hash\":\"ab\",\"deposit\":%lld,"
	    "\"ttl_ms\":60000%s%s}",
	    count, (long long)max_price, (long long)max_price,
	    (long long)deposit, extra ? "," : "", extra ? extra : "");
}

static void
fund(struct t *t, int who, int64_t amt)
{
	OK(t_put(t, K_TREASURY, "account.deposit",
	    "{\"to\":\"%s\","
	    "\"denom\":\"uakt\",\"amount\":%lld}",
	    t->kt[who], (long long)amt));
}

/* The http.request envelope a tenant signs when it POSTs the manifest of
 * lid (tenant/deploy.c), as canonical JSON text (malloc'd): signed by
 * who, for method and lid, with body hash hash, at time tm. */
static char *
proof_text(struct t *t, int who, const char *method, const char *lid,
    const char *hash, int64_t tm)
{
	char path[64], *txt;
	struct envelope *e;
	json_t *b;
	size_t n;

	snprintf(path, sizeof(path), "/v1/leases/%s/manifest", lid);
	b = json_pack("{s:s,s:s,s:s}", "body_sha256", hash, "method", method,
	    "path", path);
	OK(envelope_sign(t->k[who], "http.request", b, NULL, tm, &e));
	OK(envelope_dump(e, &txt, &n));
	envelope_free(e);
	json_decref(b);
	return txt;
}

/* The key index whose text is kt. */
static int
who_is(struct t *t, const char *kt)
{
	for (int i = 0; i < K_NKEYS; i++)
		if (strcmp(t->kt[i], kt) == 0)
			return i;
	fail_msg("unknown key %s", kt);
	return -1;
}

/* lease.started by prov with proof text pr (not freed). */
static int
started_with(struct t *t, int prov, const char *lid, const char *pr)
{
	return t_put(t, prov, "lease.started",
	    "{\"lease\":\"%s\","
	    "\"manifest_request\":%s}",
	    lid, pr);
}

/* lease.started by prov with the proof the lease's tenant signed now
 * (orders here carry manifest_hash "ab" unless said otherwise). */
static int
started(struct t *t, int prov, const char *lid)
{
	json_t *l, *o;
	char *pr;
	int rc;

	OK(state_lease_json(t->s, lid, &l));
	OK(state_order_json(t->s,
	    json_string_value(json_object_get(l, "order")), &o));
	pr = proof_text(t,
	    who_is(t, json_string_value(json_object_get(l, "tenant"))), "POST",
	    lid,
	    json_string_value(
	        json_object_get(json_object_get(o, "body"), "manifest_hash")),
	    t->now);
	rc = started_with(t, prov, lid, pr);
	free(pr);
	json_decref(l);
	json_decref(o);
	return rc;
}

/* ---- accounts ---------------------------------------------------------- */

static void
test_deposit_only_by_treasury(void **st)
{
	struct t *t = t_new();

	(void)st;
	fund(t, K_TENANT, 5000);
	assert_int_equal(balance(t, K_TENANT), 5000);
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "account.deposit",
	        "{\"to\":\"%s\","
	        "\"denom\":\"uakt\",\"amount\":5}",
	        t->kt[K_TENANT]));
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "account.deposit",
	        "{\"to\":\"%s\","
	        "\"denom\":\"uakt\",\"amount\":5}",
	        t->kt[K_TENANT]));
	REJ(ERR_REJECT,
	    t_put(t, K_TREASURY, "account.deposit",
	        "{\"to\":"
	        "\"%s\",\"denom\":\"uatom\",\"amount\":5}",
	        t->kt[K_TENANT]));
	REJ(ERR_INVAL,
	    t_put(t, K_TREASURY, "account.deposit",
	        "{\"to\":"
	        "\"%s\",\"denom\":\"uakt\",\"amount\":0}",
	        t->kt[K_TENANT]));
	REJ(ERR_INVAL,
	    t_put(t, K_TREASURY, "account.deposit",
	        "{\"to\":"
	        "\"nobody\",\"denom\":\"uakt\",\"amount\":3}"));
	REJ(ERR_RANGE,
	    t_put(t, K_TREASURY, "account.deposit",
	        "{\"to\":"
	        "\"%s\",\"denom\":\"uakt\",\"amount\":%lld}",
	        t->kt[K_TENANT], (long long)INT64_MAX));
	assert_int_equal(balance(t, K_TENANT), 5000);
	t_free(t);
}

static void
test_transfer_and_insufficient_balance(void **st)
{
	struct t *t = t_new();

	(void)st;
	fund(t, K_TENANT, 100);
	OK(t_put(t, K_TENANT, "account.transfer",
	    "{\"to\":\"%s\",\"denom\":"
	    "\"uakt\",\"amount\":40}",
	    t->kt[K_TENANT2]));
	assert_int_equal(balance(t, K_TENANT), 60);
	assert_int_equal(balance(t, K_TENANT2), 40);
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "account.transfer",
	        "{\"to\":"
	        "\"%s\",\"denom\":\"uakt\",\"amount\":61}",
	        t->kt[K_TENANT2]));
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "account.transfer",
	        "{\"to\":"
	        "\"%s\",\"denom\":\"uakt\",\"amount\":1}",
	        t->kt[K_TENANT2]));
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "account.transfer",
	        "{\"to\":"
	        "\"%s\",\"denom\":\"uakt\",\"amount\":1}",
	        t->kt[K_TENANT]));
	assert_int_equal(balance(t, K_TENANT), 60);
	t_free(t);
}

static void
test_nonce_replay_skew_and_order_of_leaves(void **st)
{
	struct t *t = t_new();
	struct envelope *e;
	json_t *d1, *d2;
	char *b1, *b2;
	size_t l1, l2;

	(void)st;
	fund(t, K_TENANT, 100);
	/* the same signed envelope again: its nonce is spent */
	e = t->log[0].e;
	REJ(ERR_CONFLICT, state_apply(t->s, e, t->idx, t->now, NULL));
	/* signer clock too far from the sequencer's */
	e = t_sign(t, K_TREASURY, "account.deposit",
	    json_pack("{s:s,s:s,s:i}", "to", t->kt[K_TENANT], "denom", "uakt",
	        "amount", 1),
	    t->now - t->cfg.skew_ms - 1);
	REJ(ERR_REJECT, t_apply_env(t, e));
	e = t_sign(t, K_TREASURY, "account.deposit",
	    json_pack("{s:s,s:s,s:i}", "to", t->kt[K_TENANT], "denom", "uakt",
	        "amount", 1),
	    t->now + t->cfg.skew_ms);
	OK(t_apply_env(t, e));
	/* index must increase and sequencer time must not go back */
	OK(state_dump(t->s, &d1));
	e = t_sign(t, K_TREASURY, "account.deposit",
	    json_pack("{s:s,s:s,s:i}", "to", t->kt[K_TENANT], "denom", "uakt",
	        "amount", 1),
	    t->now);
	REJ(ERR_REJECT, state_apply(t->s, e, t->idx - 1, t->now, NULL));
	REJ(ERR_REJECT, state_apply(t->s, e, t->idx, t->now - 1, NULL));
	REJ(ERR_INVAL, t_put(t, K_TENANT, "account.steal", "{}"));
	OK(state_dump(t->s, &d2));
	OK(cjson_dump(d1, &b1, &l1));
	OK(cjson_dump(d2, &b2, &l2));
	assert_string_equal(b1, b2);
	free(b1);
	free(b2);
	json_decref(d1);
	json_decref(d2);
	envelope_free(e);
	t_free(t);
}

/* ---- matching ------------------------------------------------------------ */

static void
test_cheaper_fitting_provider_wins(void **st)
{
	struct t *t = t_new();
	json_t *p, *o;

	(void)st;
	fund(t, K_TENANT, 1000000);
	OK(advertise(t, K_P1, 2000, "{\"region\":\"eu\"}", 4000));
	OK(advertise(t, K_P2, 1000, "{\"region\":\"eu\"}", 4000));
	OK(advertise(t, K_P3, 10, "{\"region\":\"us\"}", 4000));
	OK(create_order(t, K_TENANT, 1, 1000, 50000,
	    "\"attributes\":{\"region\":\"eu\"}"));
	assert_string_equal(t->last_id, "o-5");
	OK(state_pending(t->s, &p));
	assert_int_equal(json_array_size(p), 1);
	/* 1 core for 6 s = 6000 cpu_ms at 1000 per 10^6 -> 6 micro-units */
	assert_string_equal(jstr(json_array_get(p, 0), "kind"), "lease.create");
	o = json_object_get(json_array_get(p, 0), "body");
	assert_string_equal(jstr(o, "provider"), t->kt[K_P2]);
	assert_int_equal(jint(o, "price"), 6);
	json_decref(p);
	assert_int_equal(t_drain(t), 1);
	assert_string_equal(t->last_id, "l-6");
	o = lease(t, "l-6");
	assert_string_equal(jstr(o, "status"), "created");
	assert_string_equal(jstr(o, "order"), "o-5");
	json_decref(o);
	o = order(t, "o-5");
	assert_string_equal(jstr(o, "status"), "matched");
	assert_int_equal(jint(o, "escrow"), 50000);
	json_decref(o);
	assert_int_equal(balance(t, K_TENANT), 950000);
	t_free(t);
}

static void
test_mismatch_full_runtime_price_lose(void **st)
{
	struct t *t = t_new();

	(void)st;
	fund(t, K_TENANT, 1000000);
	OK(advertise(t, K_P1, 10, "{\"region\":\"us\"}", 4000)); /* attrs */
	OK(advertise(t, K_P2, 10, "{\"region\":\"eu\"}", 1000)); /* full */
	OK(advertise(t, K_P3, 5000000, "{\"region\":\"eu\"}", 8000)); /* dear */
	OK(create_order(t, K_TENANT, 2, 1000, 50000,
	    "\"attributes\":{\"region\":\"eu\"}"));
	assert_int_equal(state_pending_count(t->s), 0);
	/* runtime nobody offers */
	OK(create_order(t, K_TENANT, 1, 1000, 50000,
	    "\"runtimes\":[\"gpu-cuda\"]"));
	assert_int_equal(state_pending_count(t->s), 0);
	t_free(t);
}

/* Capabilities (issue 15): an order needing one no provider offers waits;
 * a provider advertising it then takes it. */
/* t's state through a snapshot and back is the same state: the same
 * dump, and the decoded state's snapshot is the same bytes (below). */
static void snapshot_same(struct t *t);
/* A fresh state replaying t's log ends byte for byte as t (below). */
static void replay_same(struct t *t);

static void
test_capabilities_must_be_offered(void **st)
{
	struct t *t = t_new();

	(void)st;
	fund(t, K_TENANT, 1000000);
	OK(t_put(t, K_P1, "provider.advertise",
	    "{\"api_url\":\"https://p.example\",\"attributes\":{},"
	    "\"capacity\":{\"cpu_millis\":4000,\"memory_bytes\":8000000000,"
	    "\"storage_bytes\":100000000000},\"runtimes\":[\"process\"],"
	    "\"capabilities\":[\"storage/default\",\"storage/beta2\","
	    "\"storage/ram\"],\"price\":{\"denom\":\"uakt\","
	    "\"cpu_ms\":10}}"));
	/* a malformed name is refused with the field named */
	REJ(ERR_INVAL,
	    create_order(t, K_TENANT, 1, 1000, 50000,
	        "\"capabilities\":[\"Storage Beta2\"]"));
	OK(create_order(t, K_TENANT, 1, 1000, 50000,
	    "\"capabilities\":[\"storage/beta3\"]"));
	OK(create_order(t, K_TENANT, 1, 1000, 50000,
	    "\"capabilities\":[\"ip\",\"storage/beta2\"]"));
	assert_int_equal(state_pending_count(t->s), 0);
	OK(create_order(t, K_TENANT, 1, 1000, 50000,
	    "\"capabilities\":[\"storage/beta2\",\"storage/beta2\"]"));
	assert_int_equal(state_pending_count(t->s), 1);
	snapshot_same(t); /* the asks' and orders' capabilities too */
	t_free(t);
}

static void
test_signed_by_requires_attest(void **st)
{
	struct t *t = t_new();
	json_t *p;
	char extra[256];

	(void)st;
	fund(t, K_TENANT, 1000000);
	OK(advertise(t, K_P1, 10, "{\"tier\":\"1\"}", 4000));
	snprintf(extra, sizeof(extra),
	    "\"attributes\":{\"tier\":\"1\"},"
	    "\"signed_by\":{\"all_of\":[\"%s\"],\"any_of\":[]}",
	    t->kt[K_AUDITOR]);
	OK(create_order(t, K_TENANT, 1, 1000, 50000, extra));
	assert_int_equal(state_pending_count(t->s), 0);
	/* an attestation of other attributes does not count */
	OK(t_put(t, K_AUDITOR, "provider.attest",
	    "{\"provider\":\"%s\","
	    "\"attributes\":{\"tier\":\"2\"}}",
	    t->kt[K_P1]));
	assert_int_equal(state_pending_count(t->s), 0);
	REJ(ERR_REJECT,
	    t_put(t, K_AUDITOR, "provider.attest",
	        "{\"provider\":"
	        "\"%s\",\"attributes\":{\"tier\":\"1\"}}",
	        t->kt[K_P2]));
	OK(t_put(t, K_AUDITOR, "provider.attest",
	    "{\"provider\":\"%s\","
	    "\"attributes\":{\"tier\":\"1\"}}",
	    t->kt[K_P1]));
	OK(state_pending(t->s, &p));
	assert_int_equal(json_array_size(p), 1);
	assert_string_equal(
	    jstr(json_object_get(json_array_get(p, 0), "body"), "provider"),
	    t->kt[K_P1]);
	json_decref(p);
	t_drain(t);
	t_free(t);
}

static void
test_tie_goes_to_older_ask_then_lower_key(void **st)
{
	struct t *t = t_new();
	json_t *p;
	int lo, hi;

	(void)st;
	fund(t, K_TENANT, 1000000);
	OK(advertise(t, K_P2, 100000, "{}", 4000));
	t->now += 10;
	OK(advertise(t, K_P1, 100000, "{}", 4000));
	OK(create_order(t, K_TENANT, 1, 1000, 50000, NULL));
	OK(state_pending(t->s, &p));
	assert_string_equal(
	    jstr(json_object_get(json_array_get(p, 0), "body"), "provider"),
	    t->kt[K_P2]); /* older ask */
	json_decref(p);
	t_drain(t);
	/* same ask time: the lower key wins */
	t->now += 10;
	OK(advertise(t, K_P3, 50000, "{}", 4000));
	OK(advertise(t, K_P1, 50000, "{}", 4000));
	{
		uint8_t a[KEY_PUB_LEN], b[KEY_PUB_LEN];
		key_public(t->k[K_P1], a);
		key_public(t->k[K_P3], b);
		lo = memcmp(a, b, KEY_PUB_LEN) < 0 ? K_P1 : K_P3;
		hi = lo == K_P1 ? K_P3 : K_P1;
	}
	OK(create_order(t, K_TENANT, 1, 1000, 50000, NULL));
	OK(state_pending(t->s, &p));
	assert_string_equal(
	    jstr(json_object_get(json_array_get(p, 0), "body"), "provider"),
	    t->kt[lo]);
	json_decref(p);
	t_drain(t);
	/* the loser at equal price and age is listed second in the story */
	{
		json_t *story;
		OK(state_lease_story(t->s, t->last_id, &story));
		assert_string_equal(
		    jstr(json_array_get(
		             json_object_get(json_object_get(story, "match"),
		                 "best"),
		             1),
		        "provider"),
		    t->kt[hi]);
		json_decref(story);
	}
	t_free(t);
}

static void
test_new_ask_rematches_in_arrival_order(void **st)
{
	struct t *t = t_new();
	json_t *p;

	(void)st;
	fund(t, K_TENANT, 1000000);
	fund(t, K_TENANT2, 1000000);
	OK(create_order(t, K_TENANT2, 2, 1000, 50000, NULL)); /* o-3 */
	OK(create_order(t, K_TENANT, 2, 1000, 50000, NULL)); /* o-4 */
	OK(create_order(t, K_TENANT, 3, 1000, 50000, NULL)); /* o-5 */
	assert_int_equal(state_pending_count(t->s), 0);
	/* room for 5 cores: o-3 then o-5 (o-4 no longer fits after o-3?
	 * it does: 2 + 2 = 4 <= 5, then o-5 needs 3 > 1 left) */
	OK(advertise(t, K_P1, 100, "{}", 5000));
	OK(state_pending(t->s, &p));
	assert_int_equal(json_array_size(p), 2);
	assert_string_equal(
	    jstr(json_object_get(json_array_get(p, 0), "body"), "order"),
	    "o-3");
	assert_string_equal(
	    jstr(json_object_get(json_array_get(p, 1), "body"), "order"),
	    "o-4");
	json_decref(p);
	/* a user entry while derivations are pending is a discrepancy */
	REJ(ERR_REJECT,
	    t_put(t, K_TREASURY, "account.deposit",
	        "{\"to\":"
	        "\"%s\",\"denom\":\"uakt\",\"amount\":1}",
	        t->kt[K_TENANT]));
	assert_int_equal(t_drain(t), 2);
	t_free(t);
}

/* ---- leases, usage and money ----------------------------------------- */

/* P1 at 1 micro-unit per cpu_ms and 1.5 per 1000 requests; one 1-core
 * order of max price mp; returns with lease l-<n> created. */
static void
setup_lease(struct t *t, int64_t mp, int64_t deposit, char *lid)
{
	fund(t, K_TENANT, 1000000);
	OK(t_put(t, K_P1, "provider.advertise",
	    "{\"api_url\":\"https://p\","
	    "\"attributes\":{},\"capacity\":{\"cpu_millis\":4000,"
	    "\"memory_bytes\":8000000000,\"storage_bytes\":0},\"runtimes\":"
	    "[\"wasm\"],\"price\":{\"denom\":\"uakt\",\"cpu_ms\":1000000,"
	    "\"request\":1500}}"));
	OK(create_order(t, K_TENANT, 1, mp, deposit, NULL));
	assert_int_equal(t_drain(t), 1);
	strcpy(lid, t->last_id);
}

static int
usage(struct t *t, int who, const char *lid, int64_t cpu, int64_t req)
{
	return t_put(t, who, "lease.usage",
	    "{\"lease\":\"%s\",\"usage\":{"
	    "\"cpu_ms\":%lld,\"requests\":%lld}}",
	    lid, (long long)cpu, (long long)req);
}

static void
test_usage_charges_with_take_rate_carry_and_cap(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *l;

	(void)st;
	setup_lease(t, 6500, 100000, lid);
	REJ(ERR_REJECT, usage(t, K_P1, lid, 1, 0)); /* not started */
	REJ(ERR_REJECT, started(t, K_P2, lid));
	OK(started(t, K_P1, lid));
	REJ(ERR_REJECT, started(t, K_P1, lid));
	t->now += 6000;
	REJ(ERR_REJECT, usage(t, K_TENANT, lid, 6000, 1000)); /* not provider */
	OK(usage(t, K_P1, lid, 6000, 1000)); /* 6000 + 1.5 */
	l = lease(t, lid);
	assert_int_equal(jint(l, "charged"), 6001);
	assert_int_equal(jint(l, "fees"), 120);
	assert_int_equal(jint(l, "carry"), 0);
	assert_int_equal(jint(l, "carry_extras"), 500000);
	json_decref(l);
	assert_int_equal(balance(t, K_P1), 6001 - 120);
	assert_int_equal(balance(t, K_MARKET), 120);
	t->now += 6000;
	OK(usage(t, K_P1, lid, 12000, 2000)); /* 6000 + 1.5 + 0.5 carried */
	l = lease(t, lid);
	assert_int_equal(jint(l, "charged"), 12003);
	assert_int_equal(jint(l, "carry_extras"), 0);
	json_decref(l);
	REJ(ERR_REJECT, usage(t, K_P1, lid, 11999, 2000)); /* backwards */
	/* epoch 3 began, 13 s in: one core cannot have used more than
	 * 13 000 + 6 000 (skew) cpu_ms */
	t->now += 1000;
	REJ(ERR_REJECT, usage(t, K_P1, lid, 100000, 2000));
	assert_non_null(strstr(err_msg(),
	    "cpu_ms: 100000 is past its "
	    "physical bound 19000"));
	/* reserved at most 3 x the agreed 6000, extras at most 3 x the
	 * 500 left of the bid, whatever is reported */
	OK(usage(t, K_P1, lid, 19000, 1000000000000));
	l = lease(t, lid);
	assert_int_equal(jint(l, "charged_reserved"), 3 * 6000);
	assert_int_equal(jint(l, "charged_extras"), 3 * 500);
	assert_int_equal(jint(l, "charged"), 3 * 6500);
	assert_int_equal(jint(l, "escrow"), 100000 - 3 * 6500);
	json_decref(l);
	/* a retry of the same cumulative reading charges nothing */
	OK(usage(t, K_P1, lid, 19000, 1000000000000));
	l = lease(t, lid);
	assert_int_equal(jint(l, "charged"), 3 * 6500);
	json_decref(l);
	/* tenant closes: the rest of the escrow comes back */
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "lease.close",
	        "{\"lease\":\"%s\","
	        "\"reason\":\"provider_closed\"}",
	        lid));
	REJ(ERR_INVAL,
	    t_put(t, K_TENANT, "lease.close",
	        "{\"lease\":\"%s\","
	        "\"reason\":\"bored\"}",
	        lid));
	OK(t_put(t, K_TENANT, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":"
	    "\"tenant_closed\"}",
	    lid));
	assert_int_equal(balance(t, K_TENANT), 1000000 - 3 * 6500);
	REJ(ERR_REJECT, usage(t, K_P1, lid, 200000, 2000)); /* closed */
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "closed");
	assert_string_equal(jstr(l, "reason"), "tenant_closed");
	json_decref(l);
	OK(state_lease_story(t->s, lid, &l));
	assert_int_equal(json_array_size(json_object_get(l, "usage")), 4);
	assert_string_equal(jstr(json_object_get(l, "close"), "reason"),
	    "tenant_closed");
	assert_int_equal(jint(json_object_get(l, "close"), "refund"),
	    100000 - 3 * 6500);
	assert_int_equal(jint(json_object_get(l, "match"), "fitting"), 1);
	json_decref(l);
	t_free(t);
}

static void
test_insufficient_funds_is_derived(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *due, *l;
	int64_t start;

	(void)st;
	setup_lease(t, 6500, 20000, lid); /* 3 epochs of max price */
	OK(started(t, K_P1, lid));
	start = t->now;
	t->now += 13000;
	OK(usage(t, K_P1, lid, 12000, 0)); /* 12000, epoch 3 */
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 0);
	json_decref(due);
	/* the market may not close a funded lease */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.close",
	        "{\"lease\":\"%s\","
	        "\"reason\":\"insufficient_funds\"}",
	        lid));
	/* 8000 left pays one more epoch: due at start + 4 epochs */
	OK(state_due(t->s, start + 4 * 6000 - 1, &due));
	assert_int_equal(json_array_size(due), 0);
	json_decref(due);
	t->now = start + 4 * 6000;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	assert_string_equal(jstr(json_array_get(due, 0), "kind"),
	    "lease.close");
	json_decref(due);
	OK(t_put(t, K_MARKET, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":"
	    "\"insufficient_funds\"}",
	    lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "reason"), "insufficient_funds");
	assert_string_equal(jstr(l, "closed_by"), "market");
	json_decref(l);
	assert_int_equal(balance(t, K_TENANT), 1000000 - 12000);
	t_free(t);
}

static void
test_escrow_drained_by_usage_closes_at_once(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *p;

	(void)st;
	setup_lease(t, 6500, 5000, lid);
	OK(started(t, K_P1, lid));
	t->now += 6000;
	OK(usage(t, K_P1, lid, 6000, 0)); /* wants 6000, escrow 5000 */
	OK(state_pending(t->s, &p));
	assert_int_equal(json_array_size(p), 1);
	assert_string_equal(
	    jstr(json_object_get(json_array_get(p, 0), "body"), "reason"),
	    "insufficient_funds");
	json_decref(p);
	/* deployment.deposit is a user entry: refused until derived ones are
	 * appended */
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "deployment.deposit",
	        "{\"order\":"
	        "\"o-3\",\"amount\":10}"));
	assert_int_equal(t_drain(t), 1);
	p = lease(t, lid);
	assert_int_equal(jint(p, "charged"), 5000);
	json_decref(p);
	t_free(t);
}

static void
test_deployment_deposit_and_order_close_refund(void **st)
{
	struct t *t = t_new();
	json_t *o;

	(void)st;
	fund(t, K_TENANT, 10000);
	fund(t, K_TENANT2, 10000);
	OK(create_order(t, K_TENANT, 1, 100, 4000, NULL)); /* waits */
	REJ(ERR_REJECT, create_order(t, K_TENANT, 1, 100, 7000, NULL));
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "order.close",
	        "{\"order\":"
	        "\"o-99\"}"));
	OK(t_put(t, K_TENANT2, "deployment.deposit",
	    "{\"order\":\"o-3\","
	    "\"amount\":1000}"));
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT2, "deployment.deposit",
	        "{\"order\":"
	        "\"o-3\",\"amount\":100000}"));
	o = order(t, "o-3");
	assert_int_equal(jint(o, "escrow"), 5000);
	json_decref(o);
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT2, "order.close",
	        "{\"order\":"
	        "\"o-3\"}"));
	OK(t_put(t, K_TENANT, "order.close", "{\"order\":\"o-3\"}"));
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "order.close",
	        "{\"order\":"
	        "\"o-3\"}"));
	assert_int_equal(balance(t, K_TENANT), 11000);
	assert_int_equal(balance(t, K_TENANT2), 9000);
	o = order(t, "o-3");
	assert_string_equal(jstr(o, "reason"), "tenant_closed");
	assert_int_equal(jint(o, "refund"), 5000);
	json_decref(o);
	t_free(t);
}

static void
test_order_expires_after_ttl_only(void **st)
{
	struct t *t = t_new();
	json_t *due;

	(void)st;
	fund(t, K_TENANT, 10000);
	OK(create_order(t, K_TENANT, 1, 100, 4000, NULL)); /* ttl 60 s */
	t->now += 59999;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 0);
	json_decref(due);
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "order.expire",
	        "{\"order\":"
	        "\"o-2\"}"));
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "order.expire",
	        "{\"order\":"
	        "\"o-2\"}"));
	t->now += 1;
	/* an expired order no longer matches, even before order.expire */
	OK(advertise(t, K_P1, 1, "{}", 4000));
	assert_int_equal(state_pending_count(t->s), 0);
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	assert_string_equal(jstr(json_array_get(due, 0), "kind"),
	    "order.expire");
	json_decref(due);
	OK(t_put(t, K_MARKET, "order.expire", "{\"order\":\"o-2\"}"));
	assert_int_equal(balance(t, K_TENANT), 10000);
	due = order(t, "o-2");
	assert_string_equal(jstr(due, "reason"), "order_expired");
	json_decref(due);
	t_free(t);
}

static void
test_offline_only_after_grace_and_back_online(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *due, *l;

	(void)st;
	setup_lease(t, 6500, 100000, lid);
	t->now += t->cfg.offline_grace_ms - 1; /* a blip */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "provider.offline",
	        "{\"provider\":"
	        "\"%s\"}",
	        t->kt[K_P1]));
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 0);
	json_decref(due);
	OK(t_put(t, K_P1, "provider.heartbeat", "{}"));
	REJ(ERR_REJECT, t_put(t, K_P2, "provider.heartbeat", "{}"));
	t->now += t->cfg.offline_grace_ms;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	json_decref(due);
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "provider.offline",
	        "{\"provider\":"
	        "\"%s\"}",
	        t->kt[K_P1]));
	OK(t_put(t, K_MARKET, "provider.offline", "{\"provider\":\"%s\"}",
	    t->kt[K_P1]));
	assert_int_equal(state_pending_count(t->s), 1); /* its lease */
	/* the market may not skip the derived close */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "provider.online",
	        "{\"provider\":"
	        "\"%s\"}",
	        t->kt[K_P1]));
	assert_int_equal(t_drain(t), 1);
	l = lease(t, lid);
	assert_string_equal(jstr(l, "reason"), "provider_offline");
	json_decref(l);
	/* offline providers do not match */
	OK(create_order(t, K_TENANT, 1, 6500, 1000, NULL));
	assert_int_equal(state_pending_count(t->s), 0);
	/* it comes back: provider.online is derived, then matching runs */
	OK(t_put(t, K_P1, "provider.heartbeat", "{}"));
	assert_int_equal(t_drain(t), 2);
	l = lease(t, t->last_id);
	assert_string_equal(jstr(l, "provider"), t->kt[K_P1]);
	json_decref(l);
	t_free(t);
}

static void
test_forged_derived_entries_rejected(void **st)
{
	struct t *t = t_new();
	json_t *p;

	(void)st;
	fund(t, K_TENANT, 100000);
	OK(advertise(t, K_P1, 100, "{}", 4000));
	OK(advertise(t, K_P2, 200, "{}", 4000));
	/* a lease the rules did not produce */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.create",
	        "{\"order\":"
	        "\"o-1\",\"price\":0,\"provider\":\"%s\"}",
	        t->kt[K_P1]));
	OK(create_order(t, K_TENANT, 1, 1000, 5000, NULL));
	/* favouring the dearer provider is caught */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.create",
	        "{\"order\":"
	        "\"o-4\",\"price\":1,\"provider\":\"%s\"}",
	        t->kt[K_P2]));
	assert_non_null(strstr(err_msg(), "discrepancy"));
	/* nor may a tenant sign it */
	OK(state_pending(t->s, &p));
	REJ(ERR_REJECT,
	    t_apply_env(t,
	        t_sign(t, K_TENANT, "lease.create",
	            json_incref(json_object_get(json_array_get(p, 0), "body")),
	            t->now)));
	json_decref(p);
	assert_int_equal(t_drain(t), 1);
	/* provider.online for an online provider was never derived */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "provider.online",
	        "{\"provider\":"
	        "\"%s\"}",
	        t->kt[K_P2]));
	t_free(t);
}

static void
test_withdraw_and_provider_close(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *l;

	(void)st;
	setup_lease(t, 6500, 100000, lid);
	OK(t_put(t, K_P1, "provider.withdraw", "{}"));
	REJ(ERR_REJECT, t_put(t, K_P1, "provider.withdraw", "{}"));
	OK(create_order(t, K_TENANT, 1, 6500, 1000, NULL));
	assert_int_equal(state_pending_count(t->s), 0);
	OK(t_put(t, K_P1, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":"
	    "\"manifest_refused\"}",
	    lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "reason"), "manifest_refused");
	assert_string_equal(jstr(l, "closed_by"), "provider");
	json_decref(l);
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.close",
	        "{\"lease\":\"%s\","
	        "\"reason\":\"provider_closed\"}",
	        lid));
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.close",
	        "{\"lease\":\"l-999\","
	        "\"reason\":\"provider_closed\"}"));
	t_free(t);
}

static void
test_provider_close_settles_final_usage(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *l;

	(void)st;
	setup_lease(t, 6500, 100000, lid);
	OK(started(t, K_P1, lid));
	t->now += 3000;
	OK(usage(t, K_P1, lid, 3000, 0));
	/* a final reading that goes back is refused with the close */
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.close",
	        "{\"lease\":\"%s\","
	        "\"reason\":\"provider_closed\",\"usage\":{\"cpu_ms\":1}}",
	        lid));
	t->now += 2000;
	OK(t_put(t, K_P1, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":"
	    "\"provider_closed\",\"usage\":{\"cpu_ms\":5000}}",
	    lid));
	l = lease(t, lid);
	assert_int_equal(jint(l, "charged"), 5000);
	assert_string_equal(jstr(l, "status"), "closed");
	json_decref(l);
	assert_int_equal(balance(t, K_TENANT), 1000000 - 5000);
	assert_int_equal(balance(t, K_P1) + balance(t, K_MARKET), 5000);
	t_free(t);
}

static void
test_views(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *v;

	(void)st;
	setup_lease(t, 6500, 100000, lid);
	OK(state_providers_json(t->s, &v));
	assert_int_equal(json_array_size(v), 1);
	json_decref(v);
	OK(state_orders_json(t->s, t->kt[K_TENANT], "matched", &v));
	assert_int_equal(json_array_size(v), 1);
	json_decref(v);
	OK(state_orders_json(t->s, NULL, "open", &v));
	assert_int_equal(json_array_size(v), 0);
	json_decref(v);
	OK(state_leases_json(t->s, t->kt[K_P1], NULL, &v));
	assert_int_equal(json_array_size(v), 1);
	json_decref(v);
	OK(state_leases_json(t->s, NULL, t->kt[K_TENANT2], &v));
	assert_int_equal(json_array_size(v), 0);
	json_decref(v);
	REJ(ERR_NOTFOUND, state_order_json(t->s, "o-77", &v));
	REJ(ERR_NOTFOUND, state_lease_story(t->s, "l-77", &v));
	assert_int_equal(balance(t, K_AUDITOR), 0);
	t_free(t);
}

static void
test_malformed_bodies_rejected(void **st)
{
	struct t *t = t_new();

	(void)st;
	fund(t, K_TENANT, 100000);
	/* no resources, zero count, negative ttl, float-free but wrong types */
	REJ(ERR_INVAL,
	    t_put(t, K_TENANT, "order.create",
	        "{\"resources\":[],"
	        "\"denom\":\"uakt\",\"max_price\":1,\"manifest_hash\":\"h\","
	        "\"deposit\":1,\"ttl_ms\":1}"));
	REJ(ERR_INVAL, create_order(t, K_TENANT, 0, 100, 10, NULL));
	REJ(ERR_INVAL,
	    t_put(t, K_TENANT, "order.create",
	        "{\"resources\":[{"
	        "\"count\":1,\"cpu_millis\":1,\"memory_bytes\":1,"
	        "\"storage_bytes\":1}],\"denom\":\"uakt\",\"max_price\":1,"
	        "\"manifest_hash\":\"h\",\"deposit\":1,\"ttl_ms\":-5}"));
	REJ(ERR_INVAL,
	    create_order(t, K_TENANT, 1, 100, 10,
	        "\"attributes\":{\"region\":7}"));
	REJ(ERR_INVAL,
	    create_order(t, K_TENANT, 1, 100, 10,
	        "\"signed_by\":{\"all_of\":[\"bob\"]}"));
	REJ(ERR_INVAL,
	    t_put(t, K_P1, "provider.advertise",
	        "{\"api_url\":"
	        "\"u\"}"));
	REJ(ERR_INVAL,
	    t_put(t, K_P1, "provider.advertise",
	        "{\"api_url\":"
	        "\"u\",\"attributes\":{},\"capacity\":{\"cpu_millis\":-1,"
	        "\"memory_bytes\":1,\"storage_bytes\":1},\"runtimes\":[],"
	        "\"price\":{\"denom\":\"uakt\"}}"));
	REJ(ERR_INVAL,
	    t_put(t, K_P1, "provider.advertise",
	        "{\"api_url\":"
	        "\"u\",\"attributes\":{},\"capacity\":{\"cpu_millis\":1,"
	        "\"memory_bytes\":1,\"storage_bytes\":1},\"runtimes\":[],"
	        "\"price\":{\"denom\":\"uakt\",\"cpu_ms\":1099511627777}}"));
	REJ(ERR_INVAL, t_put(t, K_TENANT, "order.close", "{}"));
	REJ(ERR_INVAL, t_put(t, K_TENANT, "lease.usage", "{\"lease\":5}"));
	assert_int_equal(balance(t, K_TENANT), 100000);
	t_free(t);
}

/* ---- money rules: fees ------------------------------------------------ */

static char *
dump_text(struct state *s)
{
	json_t *d;
	char *b;
	size_t n;

	OK(state_dump(s, &d));
	OK(cjson_dump(d, &b, &n));
	json_decref(d);
	return b;
}

static void
test_fee_paid_by_every_signer_refused_without_funds(void **st)
{
	struct t *t = t_new_with(1);
	char *before, *after;
	uint8_t pk[KEY_PUB_LEN];

	(void)st;
	/* a key that never held funds: nothing it signs is written */
	before = dump_text(t->s);
	REJ(ERR_REJECT,
	    t_put(t, K_AUDITOR, "provider.attest",
	        "{\"provider\":\"%s\",\"attributes\":{\"a\":\"b\"}}",
	        t->kt[K_P1]));
	assert_non_null(strstr(err_msg(), "fee of 100 uakt"));
	assert_non_null(strstr(err_msg(), "account.deposit"));
	REJ(ERR_REJECT, t_put(t, K_P1, "provider.heartbeat", "{}"));
	assert_non_null(strstr(err_msg(), "fee of 10 uakt"));
	after = dump_text(t->s);
	assert_string_equal(before, after);
	free(before);
	free(after);
	key_public(t->k[K_AUDITOR], pk);
	REJ(ERR_REJECT, state_fee_check(t->s, pk, "provider.attest"));
	OK(state_fee_check(t->s, pk, "no.such.kind"));
	/* the treasury's deposits and the market's entries are free */
	fund(t, K_TENANT, 1000);
	assert_int_equal(balance(t, K_TENANT), 1000);
	assert_int_equal(balance(t, K_MARKET), 0);
	key_public(t->k[K_TREASURY], pk);
	assert_int_equal(state_fee_of(t->s, pk, "account.deposit"), 0);
	assert_int_equal(state_fee_of(t->s, pk, "account.transfer"), 100);
	key_public(t->k[K_MARKET], pk);
	assert_int_equal(state_fee_of(t->s, pk, "lease.close"), 0);
	/* a transfer pays its fee to the market key */
	OK(t_put(t, K_TENANT, "account.transfer",
	    "{\"to\":\"%s\",\"denom\":\"uakt\",\"amount\":300}",
	    t->kt[K_TENANT2]));
	assert_int_equal(balance(t, K_TENANT), 600);
	assert_int_equal(balance(t, K_TENANT2), 300);
	assert_int_equal(balance(t, K_MARKET), 100);
	/* the entry sees the balance left after its fee; a refused entry
	 * costs nothing */
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "account.transfer",
	        "{\"to\":\"%s\",\"denom\":\"uakt\",\"amount\":600}",
	        t->kt[K_TENANT2]));
	assert_int_equal(balance(t, K_TENANT), 600);
	assert_int_equal(balance(t, K_MARKET), 100);
	OK(t_put(t, K_TENANT, "account.transfer",
	    "{\"to\":\"%s\",\"denom\":\"uakt\",\"amount\":500}",
	    t->kt[K_TENANT2]));
	assert_int_equal(balance(t, K_TENANT), 0);
	/* now it holds nothing: refused, naming the fee */
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "order.close", "{\"order\":\"o-1\"}"));
	assert_non_null(strstr(err_msg(), "fee"));
	{
		json_t *d;
		OK(state_dump(t->s, &d));
		assert_int_equal(
		    jint(json_object_get(json_object_get(d, "totals"), "uakt"),
		        "entry_fees"),
		    200);
		json_decref(d);
	}
	t_free(t);
}

/* ---- money rules: bonds ----------------------------------------------- */

/* P1: 4 cores and 8 GB: bond 4 x 10^6 + ceil(8e9 / 2^30 x 10^6). */
#define BOND_4C_8G (INT64_C(4000000) + INT64_C(7450581))

static json_t *
account(struct t *t, int who)
{
	json_t *a;

	OK(state_account_json(t->s, t->kt[who], &a));
	return a;
}

static int64_t
bond_of(struct t *t, int who)
{
	json_t *a = account(t, who);
	int64_t v = json_integer_value(
	    json_object_get(json_object_get(a, "bonds"), "uakt"));

	json_decref(a);
	return v;
}

static void
test_bond_locked_adjusted_released(void **st)
{
	struct t *t = t_new_with(1);
	int64_t b, fee = 100;
	char lid[STATE_ID_LEN];

	(void)st;
	OK(state_bond_for(&t->cfg, 4000, 8000000000, &b));
	assert_int_equal(b, BOND_4C_8G);
	/* no funds: cannot become a provider */
	fund(t, K_P1, 100); /* the fee only */
	REJ(ERR_REJECT, advertise(t, K_P1, 1000, "{}", 4000));
	assert_non_null(strstr(err_msg(), "bond"));
	assert_non_null(strstr(err_msg(), "11450581 uakt"));
	assert_non_null(strstr(err_msg(), "account.deposit"));
	assert_int_equal(balance(t, K_P1), 100);
	{
		json_t *v;
		OK(state_providers_json(t->s, &v));
		assert_int_equal(json_array_size(v), 0);
		json_decref(v);
	}
	fund(t, K_P1, BOND_4C_8G + 10000);
	OK(advertise(t, K_P1, 1000, "{}", 4000));
	assert_int_equal(bond_of(t, K_P1), BOND_4C_8G);
	assert_int_equal(balance(t, K_P1), 100 + 10000 - fee);
	/* a larger ask tops up; a smaller one releases the difference */
	REJ(ERR_REJECT, advertise(t, K_P1, 1000, "{}", 8000));
	assert_non_null(strstr(err_msg(), "locked already"));
	OK(advertise(t, K_P1, 1000, "{}", 4005));
	assert_int_equal(bond_of(t, K_P1), BOND_4C_8G + 5000);
	assert_int_equal(balance(t, K_P1), 10000 - fee - 5000);
	OK(advertise(t, K_P1, 1000, "{}", 2000));
	assert_int_equal(bond_of(t, K_P1), BOND_4C_8G - 2000000);
	assert_int_equal(balance(t, K_P1),
	    100 + 10000 - 3 * fee - 5000 + 2000000 + 5000);
	/* a lease holds 1 core: re-advertising 0 cores keeps its bond */
	fund(t, K_TENANT, 1000000);
	OK(create_order(t, K_TENANT, 1, 6500, 100000, NULL));
	assert_int_equal(t_drain(t), 1);
	strcpy(lid, t->last_id);
	OK(advertise(t, K_P1, 1000, "{}", 0));
	OK(state_bond_for(&t->cfg, 1000, 8000000000, &b));
	assert_int_equal(bond_of(t, K_P1), b); /* 1 core, 8 GB ask */
	/* withdrawn while the lease runs: the bond stays until it ends */
	OK(t_put(t, K_P1, "provider.withdraw", "{}"));
	assert_int_equal(bond_of(t, K_P1), b);
	{
		int64_t bal = balance(t, K_P1);
		OK(t_put(t, K_TENANT, "lease.close",
		    "{\"lease\":\"%s\",\"reason\":\"tenant_closed\"}", lid));
		assert_int_equal(bond_of(t, K_P1), 0);
		assert_int_equal(balance(t, K_P1), bal + b);
	}
	/* no lease: a withdraw releases at once; money is conserved */
	OK(advertise(t, K_P1, 1000, "{}", 1000));
	assert_true(bond_of(t, K_P1) > 0);
	OK(t_put(t, K_P1, "provider.withdraw", "{}"));
	assert_int_equal(bond_of(t, K_P1), 0);
	OK(state_check_invariants(t->s));
	/* the view of a provider shows its bond */
	{
		json_t *v;
		OK(state_providers_json(t->s, &v));
		assert_non_null(json_object_get(json_array_get(v, 0), "bond"));
		json_decref(v);
	}
	/* an impossible bond is a range error, not a wrap */
	t->cfg.bond_per_cpu = INT64_MAX;
	REJ(ERR_RANGE, state_bond_for(&t->cfg, 1 << 30, 0, &b));
	t_free(t);
}

/* ---- money rules: usage bounds and charge caps ---------------------- */

static void
test_usage_past_physical_bounds_refused(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *l;

	(void)st;
	/* one core, 1 MB of memory, no storage (create_order) */
	setup_lease(t, 6500, 100000, lid);
	REJ(ERR_REJECT, usage(t, K_P1, lid, 1, 0));
	assert_non_null(strstr(err_msg(), "not started"));
	OK(started(t, K_P1, lid));
	t->now += 6000;
	/* 6 s in + 6 s of skew: 12 000 cpu_ms, 12 MB-s of memory */
	REJ(ERR_REJECT, usage(t, K_P1, lid, 12001, 0));
	assert_non_null(strstr(err_msg(),
	    "cpu_ms: 12001 is past its physical "
	    "bound 12000"));
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.usage",
	        "{\"lease\":\"%s\",\"usage\":{\"mem_mb_s\":13}}", lid));
	assert_non_null(strstr(err_msg(), "mem_mb_s"));
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.usage",
	        "{\"lease\":\"%s\",\"usage\":{\"storage_mb_s\":1}}", lid));
	assert_non_null(strstr(err_msg(), "storage_mb_s"));
	/* the issue's report: 999999999999 cpu_ms, 10^12 requests */
	REJ(ERR_REJECT, usage(t, K_P1, lid, 999999999999, 1000000000000));
	OK(t_put(t, K_P1, "lease.usage",
	    "{\"lease\":\"%s\",\"usage\":{\"cpu_ms\":12000,\"mem_mb_s\":12}}",
	    lid));
	/* a provider's closing readings are held to the same bound */
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"provider_closed\","
	        "\"usage\":{\"cpu_ms\":99999}}",
	        lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "charged"), 6000);
	json_decref(l);
	t_free(t);
}

static void
test_charge_caps_agreed_price_extras_and_order_caps(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *l;

	(void)st;
	fund(t, K_TENANT, 1000000);
	/* 1 per cpu_ms, 1 per request: price 6000 per epoch for 1 core */
	OK(t_put(t, K_P1, "provider.advertise",
	    "{\"api_url\":\"https://p\",\"attributes\":{},\"capacity\":{"
	    "\"cpu_millis\":4000,\"memory_bytes\":8000000000,"
	    "\"storage_bytes\":0},\"runtimes\":[\"wasm\"],\"price\":{"
	    "\"denom\":\"uakt\",\"cpu_ms\":1000000,\"request\":1000000}}"));
	/* bid 10 000: 4 000 per epoch for extras; but at most 100
	 * requests per epoch */
	OK(create_order(t, K_TENANT, 1, 10000, 500000,
	    "\"caps\":{\"requests\":100}"));
	assert_int_equal(t_drain(t), 1);
	strcpy(lid, t->last_id);
	REJ(ERR_INVAL,
	    create_order(t, K_TENANT, 1, 10000, 500000,
	        "\"caps\":{\"cpu_ms\":100}"));
	REJ(ERR_INVAL,
	    create_order(t, K_TENANT, 1, 10000, 500000,
	        "\"caps\":{\"fuel\":-1}"));
	OK(started(t, K_P1, lid));
	t->now += 6000;
	/* 5000 requests in epoch 1: 100 billed */
	OK(usage(t, K_P1, lid, 6000, 5000));
	l = lease(t, lid);
	assert_int_equal(jint(l, "charged_reserved"), 6000);
	assert_int_equal(jint(l, "charged_extras"), 100);
	json_decref(l);
	/* epoch 2: another 100 allowed, whatever was reported before */
	t->now += 6000;
	OK(usage(t, K_P1, lid, 12000, 5050));
	l = lease(t, lid);
	assert_int_equal(jint(l, "charged_extras"), 150);
	json_decref(l);
	t->now += 6000;
	OK(usage(t, K_P1, lid, 18000, 100000));
	l = lease(t, lid);
	assert_int_equal(jint(l, "charged_extras"), 300);
	assert_int_equal(jint(l, "charged_reserved"), 18000);
	/* never above the agreed price per epoch for the reserved part */
	assert_true(jint(l, "charged_reserved") <= 3 * jint(l, "price"));
	json_decref(l);
	{
		json_t *story, *last;
		OK(state_lease_story(t->s, lid, &story));
		last = json_array_get(json_object_get(story, "usage"), 2);
		assert_int_equal(
		    jint(json_object_get(last, "billed"), "requests"), 150);
		assert_int_equal(
		    jint(json_object_get(story, "started"), "index"),
		    jint(json_object_get(story, "lease"), "started_index"));
		json_decref(story);
	}
	t_free(t);
}

/* ---- money rules: manifest-delivery proof ---------------------------- */

/* Due lease.close entries with reason why at now. */
static size_t
due_closes(struct t *t, int64_t now, const char *why)
{
	json_t *due, *d;
	size_t i, n = 0;

	OK(state_due(t->s, now, &due));
	json_array_foreach(due, i, d)
	{
		if (strcmp(jstr(d, "kind"), "lease.close") == 0 &&
		    strcmp(jstr(json_object_get(d, "body"), "reason"), why) ==
		        0)
			n++;
	}
	json_decref(due);
	return n;
}

static void
test_lease_started_needs_manifest_proof(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN], *pr, *forged, *p;
	json_t *l;
	int64_t created;

	(void)st;
	setup_lease(t, 6500, 100000, lid);
	created = t->now;
	/* without proof: refused, naming what is missing */
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.started", "{\"lease\":\"%s\"}", lid));
	assert_non_null(strstr(err_msg(), "manifest_request: missing"));
	REJ(ERR_INVAL,
	    t_put(t, K_P1, "lease.started",
	        "{\"lease\":\"%s\",\"manifest_request\":\"x\"}", lid));
	/* a proof signed by the provider itself, not the tenant */
	pr = proof_text(t, K_P1, "POST", lid, "ab", t->now);
	REJ(ERR_REJECT, started_with(t, K_P1, lid, pr));
	assert_non_null(strstr(err_msg(), "not by the order's tenant"));
	free(pr);
	/* the tenant's proof, altered: the signature fails */
	pr = proof_text(t, K_TENANT, "POST", lid, "ab", t->now);
	forged = strdup(pr);
	p = strstr(forged, "\"ab\"");
	p[1] = 'c';
	REJ(ERR_REJECT, started_with(t, K_P1, lid, forged));
	assert_non_null(strstr(err_msg(), "not a valid signed envelope"));
	free(forged);
	/* the right signature on the wrong request */
	free(pr);
	pr = proof_text(t, K_TENANT, "GET", lid, "ab", t->now);
	REJ(ERR_REJECT, started_with(t, K_P1, lid, pr));
	free(pr);
	pr = proof_text(t, K_TENANT, "POST", "l-99", "ab", t->now);
	REJ(ERR_REJECT, started_with(t, K_P1, lid, pr));
	free(pr);
	pr = proof_text(t, K_TENANT, "POST", lid, "cd", t->now);
	REJ(ERR_REJECT, started_with(t, K_P1, lid, pr));
	assert_non_null(strstr(err_msg(), "manifest_hash"));
	free(pr);
	/* signed long before the lease existed */
	pr = proof_text(t, K_TENANT, "POST", lid, "ab",
	    created - t->cfg.skew_ms - 1);
	REJ(ERR_REJECT, started_with(t, K_P1, lid, pr));
	free(pr);
	/* another kind of envelope altogether */
	{
		struct envelope *e;
		json_t *b = json_pack("{s:s,s:s,s:s}", "body_sha256", "ab",
		    "method", "POST", "path", "/v1/leases/x/manifest");
		size_t n;
		OK(envelope_sign(t->k[K_TENANT], "account.transfer", b, NULL,
		    t->now, &e));
		OK(envelope_dump(e, &pr, &n));
		envelope_free(e);
		json_decref(b);
		REJ(ERR_REJECT, started_with(t, K_P1, lid, pr));
		free(pr);
	}
	/* the genuine proof, as the provider received it; a "host" member
	 * (phase 2 of reqsig) is carried, not checked */
	t->now += 1000;
	OK(started(t, K_P1, lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "manifest_request_time"), t->now);
	json_decref(l);
	/* the tenant cannot claim non-delivery of a started lease */
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"manifest_not_delivered\"}",
	        lid));
	assert_int_equal(due_closes(t, created + t->cfg.manifest_window_ms,
	                     "manifest_not_delivered"),
	    0);
	t_free(t);
}

static void
test_manifest_not_delivered_closes_and_refunds(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *l;
	int64_t created;

	(void)st;
	setup_lease(t, 6500, 100000, lid);
	created = t->now;
	/* the market may not close it inside the window */
	t->now = created + t->cfg.manifest_window_ms - 1;
	assert_int_equal(due_closes(t, t->now, "manifest_not_delivered"), 0);
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"manifest_not_delivered\"}",
	        lid));
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"manifest_not_delivered\"}",
	        lid));
	/* past it: a proof comes too late, the close is due */
	t->now = created + t->cfg.manifest_window_ms;
	REJ(ERR_REJECT, started(t, K_P1, lid));
	assert_non_null(strstr(err_msg(), "manifest window"));
	assert_int_equal(due_closes(t, t->now, "manifest_not_delivered"), 1);
	OK(t_put(t, K_MARKET, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"manifest_not_delivered\"}", lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "reason"), "manifest_not_delivered");
	assert_int_equal(jint(l, "charged"), 0);
	json_decref(l);
	/* the whole escrow back, to the unit */
	assert_int_equal(balance(t, K_TENANT), 1000000);
	REJ(ERR_REJECT, usage(t, K_P1, lid, 1, 0));
	/* the tenant may close an unstarted lease with that reason too */
	OK(create_order(t, K_TENANT, 1, 6500, 100000, NULL));
	assert_int_equal(t_drain(t), 1);
	strcpy(lid, t->last_id);
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT2, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"manifest_not_delivered\"}",
	        lid));
	OK(t_put(t, K_TENANT, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"manifest_not_delivered\"}", lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "closed_by"), "tenant");
	json_decref(l);
	assert_int_equal(balance(t, K_TENANT), 1000000);
	assert_string_equal(
	    state_reason_name(STATE_REASON_MANIFEST_NOT_DELIVERED),
	    "manifest_not_delivered");
	t_free(t);
}

/* ---- money rules: minimum lease, agreed-price sufficiency ------------ */

static void
test_min_lease_epochs_and_agreed_price_sufficiency(void **st)
{
	struct t *t = t_new();
	char lid[STATE_ID_LEN];
	json_t *due, *o;
	int64_t start;

	(void)st;
	t_free(t);
	t = t_new();
	state_free(t->s);
	t->cfg.min_lease_epochs = 10;
	OK(state_new(&t->cfg, &t->s));
	fund(t, K_TENANT, 1000000);
	OK(t_put(t, K_P1, "provider.advertise",
	    "{\"api_url\":\"https://p\",\"attributes\":{},\"capacity\":{"
	    "\"cpu_millis\":4000,\"memory_bytes\":8000000000,"
	    "\"storage_bytes\":0},\"runtimes\":[\"wasm\"],\"price\":{"
	    "\"denom\":\"uakt\",\"cpu_ms\":1000000}}"));
	/* price 6000; escrow 59 999 < 10 x 6000: no fit, the order waits */
	OK(create_order(t, K_TENANT, 1, 60000, 59999, NULL));
	assert_int_equal(state_pending_count(t->s), 0);
	/* a top-up to 10 epochs of the agreed price matches at once */
	OK(t_put(t, K_TENANT, "deployment.deposit",
	    "{\"order\":\"%s\",\"amount\":1}", t->last_id));
	assert_int_equal(t_drain(t), 1);
	strcpy(lid, t->last_id);
	o = lease(t, lid);
	assert_int_equal(jint(o, "price"), 6000);
	json_decref(o);
	OK(started(t, K_P1, lid));
	start = t->now;
	/* 60 000 pays 10 epochs at the agreed 6000 (1 at the bid of
	 * 60 000): not due before start + 10 epochs */
	OK(state_due(t->s, start + 9 * 6000, &due));
	assert_int_equal(json_array_size(due), 0);
	json_decref(due);
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"insufficient_funds\"}", lid));
	OK(state_due(t->s, start + 10 * 6000, &due));
	assert_int_equal(json_array_size(due), 1);
	json_decref(due);
	t_free(t);
}

/* ---- nonces ------------------------------------------------------------ */

static int64_t
dump_nonces(struct t *t)
{
	json_t *d;
	int64_t n;

	OK(state_dump(t->s, &d));
	n = jint(d, "nonces");
	json_decref(d);
	return n;
}

static void
test_nonces_pruned_after_skew_replays_refused(void **st)
{
	struct t *t = t_new();
	struct envelope *old, *e;

	(void)st;
	/* many nonces: pruning deletes from the middle of probe runs */
	for (int i = 0; i < 3000; i++) {
		fund(t, K_TENANT, 1);
		t->now += i % 7 == 0;
	}
	assert_int_equal(dump_nonces(t), 3000);
	old = t->log[0].e;
	REJ(ERR_CONFLICT, state_apply(t->s, old, t->idx, t->now, NULL));
	/* past the skew window of the first ones: forgotten, and a replay
	 * is refused by the skew rule instead */
	t->now = t->log[0].time + t->cfg.skew_ms + 1;
	fund(t, K_TENANT, 1);
	assert_true(dump_nonces(t) < 3001);
	assert_true(dump_nonces(t) > 1);
	REJ(ERR_REJECT, state_apply(t->s, old, t->idx, t->now, NULL));
	assert_non_null(strstr(err_msg(), "skew"));
	/* a recent one is still remembered */
	e = t->log[t->nlog - 2].e;
	REJ(ERR_CONFLICT, state_apply(t->s, e, t->idx, t->now, NULL));
	/* all of them go once time moves on; memory is bounded */
	t->now += 2 * t->cfg.skew_ms + 1;
	fund(t, K_TENANT, 1);
	assert_int_equal(dump_nonces(t), 1);
	OK(state_check_invariants(t->s));
	assert_int_equal(balance(t, K_TENANT), 3002);
	/* the same envelope signed anew with a fresh nonce is fine */
	t_free(t);
}

/* ---- genesis ------------------------------------------------------------ */

/* b signed as the market's genesis and read back into *c, the envelope
 * freed: replay_genesis_config's result. */
static int
genesis_config(struct t *t, json_t *b, struct state_config *c)
{
	struct envelope *e;
	int rc;

	if ((rc = envelope_sign(t->k[K_MARKET], REPLAY_GENESIS_KIND, b, "g", 1,
	         &e)) != 0)
		return rc;
	rc = replay_genesis_config(e, c);
	envelope_free(e);
	return rc;
}

static void
test_genesis_v2_round_trip_v1_refused(void **st)
{
	struct t *t = t_new_with(1);
	struct state_config c;
	struct envelope *e;
	json_t *b;

	(void)st;
	t->cfg.usage_skew_ms = 1234;
	t->cfg.manifest_window_ms = 4000;
	t->cfg.min_lease_epochs = 7;
	t->cfg.bond_per_gib = 5;
	OK(replay_genesis_body(&t->cfg, &b));
	assert_int_equal(jint(b, "version"), 2);
	OK(envelope_sign(t->k[K_MARKET], REPLAY_GENESIS_KIND, b, "g", 1, &e));
	OK(replay_genesis_config(e, &c));
	assert_int_equal(c.usage_skew_ms, 1234);
	assert_int_equal(c.manifest_window_ms, 4000);
	assert_int_equal(c.min_lease_epochs, 7);
	assert_int_equal(c.bond_per_gib, 5);
	assert_int_equal(c.bond_per_cpu, t->cfg.bond_per_cpu);
	assert_int_equal(c.fee, 100);
	assert_int_equal(c.nfee_kinds, 2);
	assert_int_equal(state_fee_of(t->s, t->cfg.market_key, "lease.usage"),
	    0);
	envelope_free(e);
	/* version 1 (before these rules) and unknown versions: refused */
	json_object_set_new(b, "version", json_integer(1));
	REJ(ERR_CORRUPT, genesis_config(t, b, &c));
	assert_non_null(strstr(err_msg(), "version 1 predates"));
	json_object_set_new(b, "version", json_integer(3));
	REJ(ERR_CORRUPT, genesis_config(t, b, &c));
	/* a missing rule is corrupt too */
	json_object_set_new(b, "version", json_integer(2));
	json_object_del(b, "min_lease_epochs");
	REJ(ERR_CORRUPT, genesis_config(t, b, &c));
	json_decref(b);
	/* bad rules are refused by state_new */
	c = t->cfg;
	c.manifest_window_ms = 0;
	{
		struct state *x;
		REJ(ERR_INVAL, state_new(&c, &x));
		c = t->cfg;
		strcpy(c.fee_kinds[0].kind, "lease.steal");
		REJ(ERR_INVAL, state_new(&c, &x));
	}
	t_free(t);
}

/* The checkpoint cadence came to version 2 later: written, read back, a
 * genesis without it means the default, and out of range is refused. */
static void
test_genesis_checkpoint_cadence(void **st)
{
	struct t *t = t_new_with(1);
	struct state_config c;
	struct state *x;
	json_t *b;

	(void)st;
	t->cfg.checkpoint_ms = 2500;
	OK(replay_genesis_body(&t->cfg, &b));
	assert_int_equal(jint(b, "checkpoint_ms"), 2500);
	OK(genesis_config(t, b, &c));
	assert_int_equal(c.checkpoint_ms, 2500);
	json_object_del(b, "checkpoint_ms");
	OK(genesis_config(t, b, &c));
	assert_int_equal(c.checkpoint_ms, STATE_CHECKPOINT_MS_DEFAULT);
	json_object_set_new(b, "checkpoint_ms", json_string("1s"));
	REJ(ERR_CORRUPT, genesis_config(t, b, &c));
	json_decref(b);
	c = t->cfg;
	c.checkpoint_ms = STATE_CHECKPOINT_MS_MIN - 1;
	REJ(ERR_INVAL, state_new(&c, &x));
	assert_non_null(strstr(err_msg(), "checkpoint_ms"));
	c.checkpoint_ms = STATE_CHECKPOINT_MS_MAX + 1;
	REJ(ERR_INVAL, state_new(&c, &x));
	t_free(t);
}

/* ---- pause instead of close ------------------------------------------- */

/* t with a pause grace of grace ms (and no money rules). */
static struct t *
t_new_pause(int64_t grace)
{
	struct t *t = t_new();

	state_free(t->s);
	t->cfg.pause_grace_ms = grace;
	OK(state_new(&t->cfg, &t->s));
	return t;
}

/* A lease of price 6000 whose 20000 escrow paid 12000 at epoch 3, paused
 * by the time-based lease.pause at start + 4 epochs; *start set. */
static void
paused_lease(struct t *t, char *lid, int64_t *start)
{
	json_t *due, *l;

	setup_lease(t, 6500, 20000, lid);
	OK(started(t, K_P1, lid));
	*start = t->now;
	t->now += 13000;
	OK(usage(t, K_P1, lid, 12000, 0));
	/* the market may not pause a funded lease */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.pause", "{\"lease\":\"%s\"}", lid));
	t->now = *start + 4 * 6000;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	assert_string_equal(jstr(json_array_get(due, 0), "kind"),
	    "lease.pause");
	json_decref(due);
	/* with a grace, an unfunded lease is paused first, not closed */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"insufficient_funds\"}", lid));
	/* only the market pauses */
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "lease.pause", "{\"lease\":\"%s\"}", lid));
	OK(t_put(t, K_MARKET, "lease.pause", "{\"lease\":\"%s\"}", lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "paused");
	assert_int_equal(jint(l, "paused_at"), t->now);
	assert_int_equal(jint(l, "grace_until"), t->now + 60000);
	assert_int_equal(jint(l, "escrow"), 8000);
	assert_true(json_is_null(json_object_get(l, "paid_until")));
	json_decref(l);
}

static void
test_pause_at_dry_escrow_no_billing_resume_on_deposit(void **st)
{
	struct t *t = t_new_pause(60000);
	char lid[STATE_ID_LEN];
	int64_t start, paused_at, clock;
	json_t *due, *l;

	(void)st;
	paused_lease(t, lid, &start);
	paused_at = t->now;
	snapshot_same(t); /* the pause fields round-trip */
	/* nothing is billed while paused: usage is refused */
	t->now += 5000;
	REJ(ERR_REJECT, usage(t, K_P1, lid, 13000, 0));
	assert_non_null(strstr(err_msg(), "paused"));
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.pause", "{\"lease\":\"%s\"}", lid));
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 0);
	json_decref(due);
	/* 9000 pays 1 epoch: 3 billed + 1 = 4 epochs, what it had run when
	 * paused, not beyond: still paused */
	OK(t_put(t, K_TENANT, "deployment.deposit",
	    "{\"order\":\"o-3\",\"amount\":1000}"));
	assert_int_equal(state_pending_count(t->s), 0);
	/* the resume is derived only */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.resume", "{\"lease\":\"%s\"}", lid));
	t->now += 5000;
	/* 14000 pays 2: the lease resumes, its clock on by the pause */
	OK(t_put(t, K_TENANT, "deployment.deposit",
	    "{\"order\":\"o-3\",\"amount\":5000}"));
	assert_int_equal(state_pending_count(t->s), 1);
	assert_int_equal(t_drain(t), 1);
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "paused_ms"), t->now - paused_at);
	assert_int_equal(jint(l, "pauses"), 1);
	assert_true(json_is_null(json_object_get(l, "paused_at")));
	clock = start + (t->now - paused_at);
	assert_int_equal(jint(l, "paid_until"), clock + (3 + 2) * 6000);
	assert_int_equal(jint(l, "escrow"), 14000);
	assert_int_equal(jint(l, "charged"), 12000);
	json_decref(l);
	/* billing goes on from where it stopped: 6000 more in epoch 5 of
	 * the running time (the pause not counted) */
	t->now += 1000;
	OK(usage(t, K_P1, lid, 18000, 0));
	l = lease(t, lid);
	assert_int_equal(jint(l, "charged"), 18000);
	assert_int_equal(jint(l, "billed_epochs"), 5);
	json_decref(l);
	snapshot_same(t);
	t_free(t);
}

static void
test_pause_grace_end_closes_insufficient_funds(void **st)
{
	struct t *t = t_new_pause(60000);
	char lid[STATE_ID_LEN];
	int64_t start, paused_at;
	json_t *due, *l;

	(void)st;
	paused_lease(t, lid, &start);
	paused_at = t->now;
	t->now = paused_at + 60000 - 1;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 0);
	json_decref(due);
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"insufficient_funds\"}", lid));
	t->now = paused_at + 60000;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	assert_string_equal(jstr(json_array_get(due, 0), "kind"),
	    "lease.close");
	assert_string_equal(
	    jstr(json_object_get(json_array_get(due, 0), "body"), "reason"),
	    "insufficient_funds");
	json_decref(due);
	OK(t_put(t, K_MARKET, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"insufficient_funds\"}", lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "closed");
	assert_string_equal(jstr(l, "reason"), "insufficient_funds");
	assert_int_equal(jint(l, "charged"), 12000);
	json_decref(l);
	/* the unpaid rest comes back: nothing was billed while paused */
	assert_int_equal(balance(t, K_TENANT), 1000000 - 12000);
	t_free(t);
}

/* A paused lease's usage from the provider pushes nothing; the tenant
 * may close it; and a lease drained by usage is paused at once. */
static void
test_pause_derived_by_usage_and_tenant_close(void **st)
{
	struct t *t = t_new_pause(60000);
	char lid[STATE_ID_LEN];
	json_t *p;

	(void)st;
	setup_lease(t, 6500, 5000, lid);
	OK(started(t, K_P1, lid));
	t->now += 6000;
	OK(usage(t, K_P1, lid, 6000, 0)); /* wants 6000, escrow 5000 */
	OK(state_pending(t->s, &p));
	assert_int_equal(json_array_size(p), 1);
	assert_string_equal(jstr(json_array_get(p, 0), "kind"), "lease.pause");
	json_decref(p);
	assert_int_equal(t_drain(t), 1);
	p = lease(t, lid);
	assert_string_equal(jstr(p, "status"), "paused");
	assert_int_equal(jint(p, "escrow"), 0);
	json_decref(p);
	/* its usage billed the epoch it was in (capped by the escrow): a
	 * crumb that pays no whole epoch leaves it paused */
	t->now += 500;
	OK(t_put(t, K_TENANT, "deployment.deposit",
	    "{\"order\":\"o-3\",\"amount\":1}"));
	assert_int_equal(state_pending_count(t->s), 0);
	OK(t_put(t, K_TENANT, "deployment.deposit",
	    "{\"order\":\"o-3\",\"amount\":5998}"));
	assert_int_equal(state_pending_count(t->s), 0);
	OK(t_put(t, K_TENANT, "deployment.deposit",
	    "{\"order\":\"o-3\",\"amount\":1}"));
	assert_int_equal(t_drain(t), 1);
	p = lease(t, lid);
	assert_string_equal(jstr(p, "status"), "active");
	json_decref(p);
	OK(t_put(t, K_TENANT, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"tenant_closed\"}", lid));
	p = lease(t, lid);
	assert_string_equal(jstr(p, "status"), "closed");
	assert_string_equal(jstr(p, "reason"), "tenant_closed");
	json_decref(p);
	t_free(t);
}

/* The pause grace came to version 2 later: written, read back, and a
 * genesis without it closes unfunded leases at once (0); lease.pause is
 * refused under it. */
static void
test_genesis_pause_grace(void **st)
{
	struct t *t = t_new_with(1);
	struct state_config c;
	struct state *x;
	json_t *b;

	(void)st;
	t->cfg.pause_grace_ms = 86400000;
	OK(replay_genesis_body(&t->cfg, &b));
	assert_int_equal(jint(b, "pause_grace_ms"), 86400000);
	OK(genesis_config(t, b, &c));
	assert_int_equal(c.pause_grace_ms, 86400000);
	json_object_del(b, "pause_grace_ms");
	OK(genesis_config(t, b, &c));
	assert_int_equal(c.pause_grace_ms, 0);
	json_object_set_new(b, "pause_grace_ms", json_string("1d"));
	REJ(ERR_CORRUPT, genesis_config(t, b, &c));
	json_decref(b);
	c = t->cfg;
	c.pause_grace_ms = -1;
	REJ(ERR_INVAL, state_new(&c, &x));
	assert_non_null(strstr(err_msg(), "pause_grace_ms"));
	t_free(t);
}

static void
test_no_pause_grace_closes_at_once(void **st)
{
	struct t *t = t_new(); /* pause_grace_ms 0, as an old genesis */
	char lid[STATE_ID_LEN];
	json_t *due;
	int64_t start;

	(void)st;
	setup_lease(t, 6500, 20000, lid);
	OK(started(t, K_P1, lid));
	start = t->now;
	t->now += 13000;
	OK(usage(t, K_P1, lid, 12000, 0));
	t->now = start + 4 * 6000;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	assert_string_equal(jstr(json_array_get(due, 0), "kind"),
	    "lease.close");
	json_decref(due);
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.pause", "{\"lease\":\"%s\"}", lid));
	assert_non_null(strstr(err_msg(), "pause_grace_ms 0"));
	t_free(t);
}

static char *dump_bytes(struct state *s);

/* Abuse around a pause: a lease.resume signed by the tenant or the
 * provider, or by the market without a derivation; a deposit of 0; the
 * resume entry replayed; a pause of a closed lease.  Then the whole log
 * replayed into a fresh state (what `ledger audit` does) is the same
 * state, byte for byte. */
static void
test_pause_abuse_and_replay(void **st)
{
	struct t *t = t_new_pause(60000);
	char lid[STATE_ID_LEN];
	struct state_effects fx;
	struct envelope *resume;
	int64_t start;
	json_t *l;

	(void)st;
	paused_lease(t, lid, &start);
	t->now += 2000;
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "lease.resume", "{\"lease\":\"%s\"}", lid));
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.resume", "{\"lease\":\"%s\"}", lid));
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.resume", "{\"lease\":\"%s\"}", lid));
	/* only the market pauses, and a paused lease is not paused again */
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.pause", "{\"lease\":\"%s\"}", lid));
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.pause", "{\"lease\":\"%s\"}", lid));
	assert_int_not_equal(t_put(t, K_TENANT, "deployment.deposit",
	                         "{\"order\":\"o-3\",\"amount\":0}"),
	    0);
	assert_int_equal(state_pending_count(t->s), 0);
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "paused");
	json_decref(l);
	/* a deposit that pays: resumed (derived, market-signed) */
	OK(t_put(t, K_TENANT, "deployment.deposit",
	    "{\"order\":\"o-3\",\"amount\":60000}"));
	assert_int_equal(t_drain(t), 1);
	resume = t->log[t->nlog - 1].e;
	assert_string_equal(resume->kind, "lease.resume");
	/* the same resume again: refused (its nonce, and not paused) */
	t->idx++;
	assert_int_not_equal(state_apply(t->s, resume, t->idx, t->now, &fx), 0);
	assert_null(fx.derived);
	t->idx--;
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "pauses"), 1);
	json_decref(l);
	/* closed: no pause any more */
	t->now += 1000;
	OK(t_put(t, K_TENANT, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"tenant_closed\"}", lid));
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.pause", "{\"lease\":\"%s\"}", lid));
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.resume", "{\"lease\":\"%s\"}", lid));
	/* the audit's replay: the same state */
	replay_same(t);
	snapshot_same(t);
	t_free(t);
}

/* ---- property: random valid streams ----------------------------------- */

static uint64_t rng_state;

static uint64_t
rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int64_t
rnd(int64_t n)
{
	return (int64_t)(rng() % (uint64_t)n);
}

static char *
dump_bytes(struct state *s)
{
	json_t *d;
	char *b;
	size_t n;

	OK(state_dump(s, &d));
	OK(cjson_dump(d, &b, &n));
	json_decref(d);
	return b;
}

static void
snapshot_same(struct t *t)
{
	struct state *back;
	char *buf, *buf2, *a, *b;
	size_t len, len2;

	OK(state_snapshot_encode(t->s, &buf, &len));
	OK(state_snapshot_decode(&t->cfg, buf, len, &back));
	OK(state_snapshot_encode(back, &buf2, &len2));
	assert_true(len == len2 && memcmp(buf, buf2, len) == 0);
	a = dump_bytes(t->s);
	b = dump_bytes(back);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(buf);
	free(buf2);
	state_free(back);
}

/* A usage report for lease lid that its provider could plausibly send
 * now: readings near the physical bound (sometimes past it, which the
 * rules refuse), never going back from the previous ones in cum. */
static int
stream_usage(struct t *t, int prov, const char *lid, int64_t cum[3])
{
	json_t *l = lease(t, lid), *o = order(t, jstr(l, "order"));
	json_t *need = json_object_get(o, "need");
	int64_t el = t->now - jint(l, "started") + rnd(7000);
	int64_t cpu = jint(need, "cpu_millis") * el / 1000 -
	    rnd(1 + jint(need, "cpu_millis"));
	int64_t mem = jint(need, "memory_bytes") / 1000000 * el / 1000;
	int rc;

	cum[0] = cpu > cum[0] ? cpu : cum[0];
	cum[1] = mem > cum[1] ? mem : cum[1];
	cum[2] += rnd(5000);
	rc = t_put(t, prov, rnd(10) == 0 ? "lease.close" : "lease.usage",
	    "{\"lease\":\"%s\",\"reason\":\"provider_closed\",\"usage\":{"
	    "\"cpu_ms\":%lld,\"mem_mb_s\":%lld,\"requests\":%lld,"
	    "\"fuel\":%lld}}",
	    lid, (long long)cum[0], (long long)cum[1], (long long)cum[2],
	    (long long)cum[2] * 7);
	json_decref(l);
	json_decref(o);
	return rc;
}

/* A state snapshot at several points of t's log, decoded and carried on
 * with the rest of the log, ends in want (the dump of the whole replay);
 * the snapshot of a decoded state is the same bytes; a nonce used just
 * before the cut is still refused after it; a cut-short snapshot is
 * refused. */
static void
snapshot_check(struct t *t, const char *want, uint64_t seed)
{
	for (size_t cut = 1; cut < t->nlog; cut += t->nlog / 5 + 1) {
		struct state *r, *back;
		char *buf, *buf2, *got;
		size_t len, len2;

		OK(state_new(&t->cfg, &r));
		for (size_t i = 0; i < cut; i++)
			OK(state_apply(r, t->log[i].e, t->log[i].index,
			    t->log[i].time, NULL));
		OK(state_snapshot_encode(r, &buf, &len));
		OK(state_snapshot_decode(&t->cfg, buf, len, &back));
		OK(state_snapshot_encode(back, &buf2, &len2));
		if (len != len2 || memcmp(buf, buf2, len) != 0)
			fail_msg("seed %llu cut %zu: the snapshot of a decoded "
			         "snapshot differs",
			    (unsigned long long)seed, cut);
		for (size_t k = 0; k < len; k += len / 50 + 1) {
			struct state *bad = NULL;
			if (state_snapshot_decode(&t->cfg, buf, k, &bad) !=
			    ERR_CORRUPT)
				fail_msg("a snapshot cut at %zu of %zu bytes "
				         "was taken",
				    k, len);
		}
		/* a flipped byte: refused, or a state that still holds
		 * together (a changed amount the invariants cannot see is
		 * what the file's hash in the store is for); never a crash */
		for (size_t k = 0; k < len; k += len / 40 + 1) {
			struct state *odd = NULL;
			int rc;
			buf[k] ^= 0x5a;
			rc = state_snapshot_decode(&t->cfg, buf, len, &odd);
			buf[k] ^= 0x5a;
			if (rc != 0 && rc != ERR_CORRUPT)
				fail_msg("byte %zu flipped: %d", k, rc);
			state_free(odd);
		}
		if (t->log[cut].time - t->log[cut - 1].e->time_ms <=
		    t->cfg.skew_ms)
			REJ(ERR_CONFLICT,
			    state_apply(back, t->log[cut - 1].e,
			        t->log[cut].index, t->log[cut].time, NULL));
		for (size_t i = cut; i < t->nlog; i++)
			if (state_apply(back, t->log[i].e, t->log[i].index,
			        t->log[i].time, NULL) != 0)
				fail_msg("seed %llu: after a snapshot at %zu, "
				         "index %llu: %s",
				    (unsigned long long)seed, cut,
				    (unsigned long long)t->log[i].index,
				    err_msg());
		got = dump_bytes(back);
		if (strcmp(got, want) != 0)
			fail_msg("seed %llu: a snapshot at %zu then the rest "
			         "differs from the replay",
			    (unsigned long long)seed, cut);
		free(got);
		free(buf);
		free(buf2);
		state_free(back);
		state_free(r);
	}
}

static void
run_stream_grace(uint64_t seed, int steps, int64_t grace)
{
	static const int provs[] = { K_P1, K_P2, K_P3 };
	static const int tenants[] = { K_TENANT, K_TENANT2, K_AUDITOR };
	struct t *t = t_new_with(1);
	char ids[256][STATE_ID_LEN], lids[256][STATE_ID_LEN], *a, *b;
	int64_t cum[256][3];
	size_t nids = 0, nl = 0, applied = 0, nstarted = 0, nbounds = 0;
	struct state *r;

	memset(cum, 0, sizeof(cum));
	/* a short manifest window, so that undelivered leases close */
	state_free(t->s);
	t->cfg.manifest_window_ms = 20000;
	t->cfg.pause_grace_ms = grace;
	OK(state_new(&t->cfg, &t->s));
	rng_state = seed;
	for (int i = 0; i < 3; i++) {
		/* under a grace, tenants short of money: escrows run dry,
		 * balances fall short of standing top-ups, deposits refill */
		fund(t, tenants[i], grace > 0 ? 300000 : 5000000);
		fund(t, provs[i], 40000000);
	}
	for (int step = 0; step < steps; step++) {
		int op = (int)rnd(18), who = tenants[rnd(3)], rc = 0;
		int pv = provs[rnd(3)];
		char *before = step % 4 == 0 ? dump_bytes(t->s) : NULL;
		if (op >= 14)
			op = op == 17 ? 9 : 4; /* more usage and heartbeats */
		t->now += rnd(8) == 0 ? rnd(30000) : rnd(2500);
		switch (op) {
		case 0:
			fund(t, rnd(2) ? who : pv, 1 + rnd(1000000));
			break;
		case 1:
			rc = t_put(t, pv, "provider.advertise",
			    "{\"api_url\":"
			    "\"https://p\",\"attributes\":{\"region\":\"%s\"},"
			    "\"capacity\":{\"cpu_millis\":%lld,\"memory_"
			    "bytes\":"
			    "%lld,\"storage_bytes\":0},\"runtimes\":[\"%s\"],"
			    "\"price\":{\"denom\":\"uakt\",\"cpu_ms\":%lld,"
			    "\"mem_mb_s\":%lld,\"request\":%lld,\"fuel\":%lld}"
			    "}",
			    rnd(2) ? "eu" : "us", 1000 + rnd(8000),
			    (long long)(1 + rnd(8)) * 1000000000,
			    rnd(3) ? "wasm" : "process", rnd(300000), rnd(100),
			    rnd(5000), rnd(50));
			break;
		case 2:
		case 3:
			rc = t_put(t, who, "order.create",
			    "{\"resources\":[{"
			    "\"count\":%lld,\"cpu_millis\":%lld,\"memory_"
			    "bytes\":"
			    "%lld,\"storage_bytes\":0}],\"denom\":\"uakt\","
			    "\"max_price\":%lld,\"manifest_hash\":\"h\","
			    "\"deposit\":%lld,\"ttl_ms\":%lld%s%s}",
			    1 + rnd(3), 250 + rnd(2000), rnd(2000000000),
			    rnd(30000), 1 + rnd(600000), 1000 + rnd(120000),
			    rnd(3) == 0 ?
			        ",\"attributes\":{\"region\":\"eu\"}" :
			        rnd(2) ? ",\"runtimes\":[\"wasm\"]" :
			                 "",
			    rnd(3) == 0 ? ",\"caps\":{\"requests\":300}" : "");
			if (rc == 0 && nids < 256)
				memcpy(ids[nids++], t->last_id, STATE_ID_LEN);
			break;
		case 4:
		case 5:
		case 6:
			if (nl == 0)
				break;
			{
				size_t li = nl - 1 -
				    (size_t)rnd(nl < 4 ? (int64_t)nl : 4);
				json_t *l = lease(t, lids[li]);
				int pw = who_is(t, jstr(l, "provider"));
				if (strcmp(jstr(l, "status"), "created") == 0) {
					int64_t k = rnd(10);
					if (k == 0) { /* no proof */
						rc = t_put(t, pw,
						    "lease.started",
						    "{\"lease\":\"%s\"}",
						    lids[li]);
					} else if (k == 1) { /* not the
							      * tenant's */
						char *pr =
						    proof_text(t, pw, "POST",
						        lids[li], "h", t->now);
						rc = started_with(t, pw,
						    lids[li], pr);
						free(pr);
					} else {
						rc = started(t, pw, lids[li]);
						nstarted += rc == 0;
					}
				} else {
					rc = stream_usage(t, pw, lids[li],
					    cum[li]);
					nbounds += rc == ERR_REJECT &&
					    strstr(err_msg(),
					        "physical bound") != NULL;
				}
				json_decref(l);
			}
			break;
		case 7:
			if (nl == 0)
				break;
			{
				size_t li = (size_t)rnd((int64_t)nl);
				rc = t_put(t, who, "lease.close",
				    "{\"lease\":\"%s\","
				    "\"reason\":\"%s\"}",
				    lids[li],
				    rnd(4) ? "tenant_closed" :
				             "manifest_not_delivered");
				if (rc != 0)
					rc = t_put(t, pv, "lease.close",
					    "{\"lease\":"
					    "\"%s\",\"reason\":\"provider_"
					    "closed\"}",
					    lids[li]);
			}
			break;
		case 8:
			if (nids == 0)
				break;
			rc = t_put(t, who,
			    rnd(2) ? "order.close" : "deployment.deposit",
			    "{\"order\":\"%s\",\"amount\":"
			    "%lld}",
			    ids[rnd((int64_t)nids)], 1 + rnd(50000));
			break;
		case 9:
			rc = t_put(t, pv, "provider.heartbeat", "{}");
			break;
		case 10:
			rc = t_put(t, rnd(3) ? who : pv, "account.transfer",
			    "{\"to\":\"%s\","
			    "\"denom\":\"uakt\",\"amount\":%lld}",
			    t->kt[tenants[rnd(3)]], 1 + rnd(50000));
			break;
		case 11:
			rc = t_put(t, K_AUDITOR, "provider.attest",
			    "{\"provider\":"
			    "\"%s\",\"attributes\":{\"region\":\"eu\"}}",
			    t->kt[pv]);
			break;
		case 12:
			if (rnd(4) == 0) {
				rc = t_put(t, pv, "provider.withdraw", "{}");
			} else if (nl >
			    0) { /* standing top-ups, some refused */
				size_t li = nl - 1 -
				    (size_t)rnd(nl < 4 ? (int64_t)nl : 4);
				json_t *l = lease(t, lids[li]);
				int tw = rnd(4) ? who_is(t, jstr(l, "tenant")) :
				    rnd(2)      ? who :
				                  pv;
				json_decref(l);
				rc = rnd(6) == 0 ?
				    t_put(t, tw, "lease.autotopup",
				        "{\"lease\":\"%s\",\"off\":true}",
				        lids[li]) :
				    t_put(t, tw, "lease.autotopup",
				        "{\"lease\":\"%s\",\"amount\":%lld,"
				        "\"below_epochs\":%lld}",
				        lids[li], rnd(300000), rnd(3000));
			}
			break;
		default: {
			json_t *due;
			size_t i;
			OK(state_due(t->s, t->now, &due));
			for (i = 0; i < json_array_size(due); i++) {
				json_t *d = json_array_get(due, i);
				rc = t_apply_env(t,
				    t_sign(t, K_MARKET, jstr(d, "kind"),
				        json_incref(json_object_get(d, "body")),
				        t->now));
				/* a due entry can be overtaken only by an
				 * earlier one in the same batch (closes) */
				if (rc != 0 && rc != ERR_REJECT)
					fail_msg("due entry: %s", err_msg());
				t_drain(t);
			}
			json_decref(due);
			rc = 0;
		}
		}
		if (rc != 0 && rc != ERR_REJECT && rc != ERR_INVAL)
			fail_msg("step %d op %d: %d %s", step, op, rc,
			    err_msg());
		if (rc != 0 && before != NULL) { /* a refusal changes nothing */
			char *after = dump_bytes(t->s);
			if (strcmp(before, after) != 0)
				fail_msg(
				    "step %d: refused entry changed the state "
				    "(%s)",
				    step, err_msg());
			free(after);
		}
		free(before);
		/* collect leases created by derived entries */
		while (state_pending_count(t->s) > 0) {
			t_drain(t);
		}
		for (size_t i = applied; i < t->nlog; i++)
			if (strcmp(t->log[i].e->kind, "lease.create") == 0 &&
			    nl < 256)
				snprintf(lids[nl++], STATE_ID_LEN, "l-%llu",
				    (unsigned long long)t->log[i].index);
		applied = t->nlog;
		OK(state_check_invariants(t->s));
	}
	if (getenv("STATE_TEST_STATS") != NULL) {
		json_t *h = json_object();
		for (size_t i = 0; i < t->nlog; i++) {
			const char *k = t->log[i].e->kind;
			char key[96];
			snprintf(key, sizeof(key), "%s%s%s", k,
			    json_object_get(t->log[i].e->body, "reason") ? "/" :
			                                                   "",
			    json_object_get(t->log[i].e->body, "reason") ?
			        json_string_value(json_object_get(
			            t->log[i].e->body, "reason")) :
			        "");
			json_object_set_new(h, key,
			    json_integer(
			        json_integer_value(json_object_get(h, key)) +
			        1));
		}
		int64_t tops = 0, shorts = 0, oncred = 0;
		for (size_t i = 0; i < nl; i++) {
			json_t *l = lease(t, lids[i]), *at;
			at = json_object_get(l, "auto_topup");
			tops += jint(at, "applied");
			shorts += jint(at, "shortfalls");
			oncred += jint(at, "on_credit");
			json_decref(l);
		}
		char *hs = json_dumps(h, JSON_SORT_KEYS);
		printf("seed %llu: %zu entries, %zu bounds refused, %lld "
		       "standing top-ups made (%lld at a credit), %lld short "
		       "%s\n",
		    (unsigned long long)seed, t->nlog, nbounds, (long long)tops,
		    (long long)oncred, (long long)shorts, hs);
		free(hs);
		json_decref(h);
	}
	/* replay the ledger into a fresh state: same bytes */
	OK(state_new(&t->cfg, &r));
	for (size_t i = 0; i < t->nlog; i++)
		if (state_apply(r, t->log[i].e, t->log[i].index, t->log[i].time,
		        NULL) != 0)
			fail_msg("replay of index %llu: %s",
			    (unsigned long long)t->log[i].index, err_msg());
	a = dump_bytes(t->s);
	b = dump_bytes(r);
	if (strcmp(a, b) != 0)
		fail_msg("replay differs (seed %llu)",
		    (unsigned long long)seed);
	snapshot_check(t, a, seed);
	assert_true(nl > 0);
	assert_true(nstarted > 0);
	free(a);
	free(b);
	state_free(r);
	t_free(t);
}

static void
run_stream(uint64_t seed, int steps)
{
	run_stream_grace(seed, steps, 0);
}

/* lease.update {"lease","manifest_hash",<the order's group>}, by tenant
 * who: the order of setup_lease (one service "web", 1 core x 1, max
 * price mp) with a member changed by extra (a JSON text of members
 * replacing the group's, or NULL). */
static int
update(struct t *t, int who, const char *lid, const char *hash, int64_t mp,
    const char *res)
{
	return t_put(t, who, "lease.update",
	    "{\"lease\":\"%s\",\"manifest_hash\":\"%s\",\"placement\":\"dc\","
	    "\"resources\":[%s],\"denom\":\"uakt\",\"max_price\":%lld}",
	    lid, hash,
	    res ? res :
	          "{\"profile\":\"web\",\"service\":\"web\",\"count\":1,"
	          "\"cpu_millis\":1000,\"memory_bytes\":1000000,\"storage_"
	          "bytes\":0,"
	          "\"price\":6500}",
	    (long long)mp);
}

static void
test_lease_update_rule(void **st)
{
	struct t *t = t_new_with(1);
	char lid[STATE_ID_LEN], h1[65], h2[65];
	json_t *l, *story;
	struct envelope *old;

	(void)st;
	memset(h1, '1', 64);
	h1[64] = '\0';
	memset(h2, '2', 64);
	h2[64] = '\0';
	fund(t, K_P1, 40000000);
	fund(t, K_TENANT2, 1000000);
	setup_lease(t, 6500, 100000, lid);
	/* not started yet: deliver the manifest first */
	REJ(ERR_REJECT, update(t, K_TENANT, lid, h1, 6500, NULL));
	assert_non_null(strstr(err_msg(), "not started"));
	OK(started(t, K_P1, lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "manifest_hash"), "ab");
	assert_int_equal(jint(l, "updates"), 0);
	json_decref(l);
	/* signed by another key: the provider, another tenant */
	REJ(ERR_REJECT, update(t, K_TENANT2, lid, h1, 6500, NULL));
	assert_non_null(strstr(err_msg(), "only the tenant"));
	REJ(ERR_REJECT, update(t, K_P1, lid, h1, 6500, NULL));
	/* a malformed hash, an unknown lease */
	REJ(ERR_INVAL, update(t, K_TENANT, lid, "AB", 6500, NULL));
	REJ(ERR_REJECT, update(t, K_TENANT, "l-999", h1, 6500, NULL));
	/* resources: cpu, count, price, another service; the bid */
	REJ(ERR_REJECT,
	    update(t, K_TENANT, lid, h1, 6500,
	        "{\"profile\":\"web\",\"service\":\"web\",\"count\":1,"
	        "\"cpu_millis\":2000,\"memory_bytes\":1000000,"
	        "\"storage_bytes\":0,\"price\":6500}"));
	assert_non_null(strstr(err_msg(), "resources[0].cpu_millis"));
	REJ(ERR_REJECT,
	    update(t, K_TENANT, lid, h1, 6500,
	        "{\"profile\":\"web\",\"service\":\"web\",\"count\":2,"
	        "\"cpu_millis\":1000,\"memory_bytes\":1000000,"
	        "\"storage_bytes\":0,\"price\":6500}"));
	assert_non_null(strstr(err_msg(), "resources[0].count"));
	REJ(ERR_REJECT,
	    update(t, K_TENANT, lid, h1, 6500,
	        "{\"profile\":\"web\",\"service\":\"web\",\"count\":1,"
	        "\"cpu_millis\":1000,\"memory_bytes\":1000000,"
	        "\"storage_bytes\":0,\"price\":6500},{\"profile\":\"web\","
	        "\"service\":\"db\",\"count\":1,\"cpu_millis\":1000,"
	        "\"memory_bytes\":1000000,\"storage_bytes\":0,\"price\":1}"));
	assert_non_null(strstr(err_msg(), "services"));
	REJ(ERR_REJECT, update(t, K_TENANT, lid, h1, 9000, NULL));
	assert_non_null(strstr(err_msg(), "max_price"));
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "lease.update",
	        "{\"lease\":\"%s\",\"manifest_hash\":\"%s\",\"placement\":"
	        "\"other\",\"resources\":[{\"profile\":\"web\",\"service\":"
	        "\"web\",\"count\":1,\"cpu_millis\":1000,\"memory_bytes\":"
	        "1000000,\"storage_bytes\":0,\"price\":6500}],\"denom\":"
	        "\"uakt\",\"max_price\":6500}",
	        lid, h1));
	assert_non_null(strstr(err_msg(), "placement"));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "manifest_hash"), "ab");
	json_decref(l);
	/* a good one: recorded, the lease and its price unchanged */
	t->now += 1000;
	OK(update(t, K_TENANT, lid, h1, 6500, NULL));
	assert_string_equal(t->last_id, lid);
	old = t->log[t->nlog - 1].e;
	l = lease(t, lid);
	assert_string_equal(jstr(l, "manifest_hash"), h1);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "updates"), 1);
	json_decref(l);
	/* its replay: the nonce is spent */
	REJ(ERR_CONFLICT, state_apply(t->s, old, t->idx, t->now, NULL));
	/* the same manifest again: nothing to update */
	REJ(ERR_REJECT, update(t, K_TENANT, lid, h1, 6500, NULL));
	assert_non_null(strstr(err_msg(), "nothing to update"));
	/* a second update, then back to the first manifest: both fine */
	t->now += 1000;
	OK(update(t, K_TENANT, lid, h2, 6500, NULL));
	OK(update(t, K_TENANT, lid, h1, 6500, NULL));
	OK(state_lease_story(t->s, lid, &story));
	assert_int_equal(json_array_size(json_object_get(story, "updates")), 3);
	json_decref(story);
	/* closed: refused */
	OK(t_put(t, K_TENANT, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"tenant_closed\"}", lid));
	REJ(ERR_REJECT, update(t, K_TENANT, lid, h2, 6500, NULL));
	assert_non_null(strstr(err_msg(), "closed"));
	OK(state_check_invariants(t->s));
	/* `ledger audit` replays the same rule: the same bytes */
	replay_same(t);
	snapshot_same(t); /* the lease's updates too */
	t_free(t);
}

/* lease.autotopup by who: body is the JSON text of the members after
 * "lease". */
static int
autotopup(struct t *t, int who, const char *lid, const char *members)
{
	return t_put(t, who, "lease.autotopup", "{\"lease\":\"%s\"%s%s}", lid,
	    members[0] ? "," : "", members);
}

/* The lease's "auto_topup" member k (a new reference to the view is
 * dropped first). */
static int64_t
auto_int(struct t *t, const char *lid, const char *k)
{
	json_t *l = lease(t, lid);
	int64_t v = jint(json_object_get(l, "auto_topup"), k);

	json_decref(l);
	return v;
}

/* The last usage of lid's story: member k, or -1 when absent. */
static int64_t
last_usage_int(struct t *t, const char *lid, const char *k)
{
	json_t *story, *u, *v;
	int64_t r;

	OK(state_lease_story(t->s, lid, &story));
	u = json_object_get(story, "usage");
	v = json_object_get(json_array_get(u, json_array_size(u) - 1), k);
	r = v ? json_integer_value(v) : -1;
	json_decref(story);
	return r;
}

static void
test_auto_topup_standing_instruction(void **st)
{
	struct t *t = t_new_with(1);
	char lid[STATE_ID_LEN], m[96];
	struct envelope *old;
	int64_t b0, applied;
	int epoch = 0;
	json_t *l;

	(void)st;
	fund(t, K_P1, 40000000);
	fund(t, K_TENANT2, 1000000);
	setup_lease(t, 6500, 60000, lid); /* price 6000: 10 epochs */
	l = lease(t, lid);
	assert_null(json_object_get(l, "auto_topup")); /* none yet */
	json_decref(l);
	/* abuse: another key, a malformed or out-of-range body */
	REJ(ERR_REJECT,
	    autotopup(t, K_TENANT2, lid, "\"amount\":1,\"below_epochs\":2"));
	assert_non_null(strstr(err_msg(), "only the tenant"));
	REJ(ERR_REJECT,
	    autotopup(t, K_P1, lid, "\"amount\":1,\"below_epochs\":2"));
	REJ(ERR_REJECT,
	    autotopup(t, K_TENANT, "l-999", "\"amount\":1,\"below_epochs\":2"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid, "\"amount\":0,\"below_epochs\":2"));
	assert_non_null(strstr(err_msg(), "lease.autotopup.amount"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid, "\"amount\":-5,\"below_epochs\":2"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid,
	        "\"amount\":\"100\",\"below_epochs\":2"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid, "\"amount\":1,\"below_epochs\":0"));
	assert_non_null(strstr(err_msg(), "below_epochs"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid,
	        "\"amount\":1,\"below_epochs\":4294967297"));
	REJ(ERR_INVAL, autotopup(t, K_TENANT, lid, "\"amount\":1"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid,
	        "\"amount\":1,\"below_epochs\":2,\"to\":\"x\""));
	assert_non_null(strstr(err_msg(), "unknown member"));
	REJ(ERR_INVAL, autotopup(t, K_TENANT, lid, "\"off\":false"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid, "\"off\":true,\"amount\":1"));
	REJ(ERR_REJECT, autotopup(t, K_TENANT, lid, "\"off\":true"));
	assert_non_null(strstr(err_msg(), "no standing top-up"));
	/* the largest amount and epochs are taken (never met, no overflow) */
	OK(autotopup(t, K_TENANT, lid,
	    "\"amount\":9223372036854775807,\"below_epochs\":4294967296"));
	/* many instructions: the last one is in force, the state bounded */
	for (int i = 0; i < 40; i++) {
		snprintf(m, sizeof(m), "\"amount\":%d,\"below_epochs\":%d",
		    1000 + i, 1 + i);
		OK(autotopup(t, K_TENANT, lid, m));
	}
	OK(autotopup(t, K_TENANT, lid, "\"amount\":30000,\"below_epochs\":8"));
	assert_string_equal(t->last_id, lid);
	old = t->log[t->nlog - 1].e;
	assert_int_equal(auto_int(t, lid, "instructions"), 42);
	assert_int_equal(auto_int(t, lid, "amount"), 30000);
	assert_int_equal(auto_int(t, lid, "below_epochs"), 8);
	assert_int_equal(auto_int(t, lid, "applied"), 0);
	/* its replay: the nonce is spent */
	REJ(ERR_CONFLICT, state_apply(t->s, old, t->idx, t->now, NULL));
	OK(started(t, K_P1, lid));
	/* each billing: 6000 out; below 8 epochs (48000) 30000 comes in,
	 * at epochs 3 (42000 left) and 8 */
	b0 = balance(t, K_TENANT);
	for (epoch = 1; epoch <= 12; epoch++) {
		t->now += 6000;
		OK(usage(t, K_P1, lid, epoch * 6000, 0));
		applied = auto_int(t, lid, "applied");
		assert_int_equal(balance(t, K_TENANT), b0 - applied * 30000);
		if (epoch == 3 || epoch == 8) {
			assert_int_equal(last_usage_int(t, lid, "topup"),
			    30000);
			assert_int_equal(last_usage_int(t, lid, "escrow_after"),
			    72000);
		} else {
			if (last_usage_int(t, lid, "topup") != -1)
				fail_msg("a top-up at epoch %d", epoch);
		}
	}
	assert_int_equal(auto_int(t, lid, "applied"), 2);
	assert_int_equal(auto_int(t, lid, "moved"), 60000);
	l = lease(t, lid);
	assert_int_equal(jint(l, "escrow"), 48000);
	assert_string_equal(jstr(l, "status"), "active");
	json_decref(l);
	/* cancelled: below the threshold, nothing moves */
	OK(autotopup(t, K_TENANT, lid, "\"off\":true"));
	l = lease(t, lid);
	assert_false(json_is_true(
	    json_object_get(json_object_get(l, "auto_topup"), "on")));
	json_decref(l);
	b0 = balance(t, K_TENANT);
	for (; epoch <= 17; epoch++) {
		t->now += 6000;
		OK(usage(t, K_P1, lid, epoch * 6000, 0));
	}
	assert_int_equal(auto_int(t, lid, "applied"), 2);
	assert_int_equal(balance(t, K_TENANT), b0);
	/* an amount the balance lacks: nothing moves, a shortfall */
	OK(autotopup(t, K_TENANT, lid,
	    "\"amount\":9223372036854775807,\"below_epochs\":8"));
	b0 = balance(t, K_TENANT);
	t->now += 6000;
	OK(usage(t, K_P1, lid, epoch++ * 6000, 0));
	assert_int_equal(balance(t, K_TENANT), b0);
	assert_int_equal(auto_int(t, lid, "shortfalls"), 1);
	assert_int_equal(last_usage_int(t, lid, "topup_short"), INT64_MAX);
	/* the balance holds part of the amount: still nothing moves */
	OK(autotopup(t, K_TENANT, lid, "\"amount\":30000,\"below_epochs\":8"));
	OK(t_put(t, K_TENANT, "account.transfer",
	    "{\"to\":\"%s\",\"denom\":\"uakt\",\"amount\":%lld}",
	    t->kt[K_TENANT2], (long long)(balance(t, K_TENANT) - 100 - 20000)));
	assert_int_equal(balance(t, K_TENANT), 20000);
	/* then the escrow runs dry as without an instruction: derived close */
	while (state_pending_count(t->s) == 0) {
		t->now += 6000;
		OK(usage(t, K_P1, lid, epoch++ * 6000, 0));
		assert_int_equal(balance(t, K_TENANT), 20000);
	}
	assert_int_equal(auto_int(t, lid, "shortfalls"), 3);
	assert_int_equal(t_drain(t), 1);
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "closed");
	assert_string_equal(jstr(l, "reason"), "insufficient_funds");
	assert_int_equal(jint(l, "escrow"), 0);
	json_decref(l);
	/* a closed lease takes no instruction */
	REJ(ERR_REJECT,
	    autotopup(t, K_TENANT, lid, "\"amount\":10,\"below_epochs\":2"));
	assert_non_null(strstr(err_msg(), "closed"));
	/* the old instruction past the skew window: refused by time */
	t->now += t->cfg.skew_ms + 1;
	REJ(ERR_REJECT, state_apply(t->s, old, t->idx, t->now, NULL));
	OK(state_check_invariants(t->s));
	/* `ledger audit` replays the same rule: the same bytes */
	replay_same(t);
	snapshot_same(t); /* the standing top-up too */
	t_free(t);
}

/* A fresh state replaying t's log ends byte for byte as t (`ledger
 * audit` recomputes the same). */
static void
replay_same(struct t *t)
{
	struct state *r;
	char *a, *b;

	OK(state_new(&t->cfg, &r));
	for (size_t i = 0; i < t->nlog; i++)
		if (state_apply(r, t->log[i].e, t->log[i].index, t->log[i].time,
		        NULL) != 0)
			fail_msg("replay of index %llu: %s",
			    (unsigned long long)t->log[i].index, err_msg());
	a = dump_bytes(t->s);
	b = dump_bytes(r);
	assert_string_equal(a, b);
	free(a);
	free(b);
	state_free(r);
}

/* Move all of who's balance to K_TENANT2. */
static void
empty_balance(struct t *t, int who)
{
	int64_t b = balance(t, who);

	if (b > 0)
		OK(t_put(t, who, "account.transfer",
		    "{\"to\":\"%s\",\"denom\":\"uakt\",\"amount\":%lld}",
		    t->kt[K_TENANT2], (long long)b));
}

/* A paused lease's standing top-up applies when its tenant's balance is
 * credited: all of the amount or nothing, and the lease resumes once the
 * escrow pays it again, as after a deployment.deposit. */
static void
test_auto_topup_resumes_paused_lease_on_credit(void **st)
{
	struct t *t = t_new_pause(60000);
	char lid[STATE_ID_LEN];
	int64_t start;
	uint64_t at;
	json_t *l;

	(void)st;
	paused_lease(t, lid, &start); /* escrow 8000: 12000 resumes it */
	/* set while paused, with a funded balance: nothing until a credit */
	OK(autotopup(t, K_TENANT, lid, "\"amount\":2000,\"below_epochs\":2"));
	assert_int_equal(auto_int(t, lid, "applied"), 0);
	empty_balance(t, K_TENANT);
	assert_int_equal(balance(t, K_TENANT), 0);
	snapshot_same(t); /* the count of paused leases is rebuilt */
	/* a deposit to another account does nothing */
	fund(t, K_TENANT2, 50000);
	assert_int_equal(auto_int(t, lid, "applied"), 0);
	assert_int_equal(state_pending_count(t->s), 0);
	/* a credit the amount does not fit in: nothing moves */
	t->now += 1000;
	fund(t, K_TENANT, 1000);
	assert_int_equal(balance(t, K_TENANT), 1000);
	assert_int_equal(auto_int(t, lid, "applied"), 0);
	assert_int_equal(auto_int(t, lid, "shortfalls"), 0);
	/* 2500: 2000 moves once (one top-up per credit); 10000 pays no
	 * epoch past the 4 it had run: still paused */
	fund(t, K_TENANT, 1500);
	at = t->idx - 1;
	assert_int_equal(balance(t, K_TENANT), 500);
	assert_int_equal(state_pending_count(t->s), 0);
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "paused");
	assert_int_equal(jint(l, "escrow"), 10000);
	json_decref(l);
	assert_int_equal(auto_int(t, lid, "on_credit"), 1);
	assert_int_equal(auto_int(t, lid, "credit_index"), (int64_t)at);
	snapshot_same(t);
	/* a transfer into the balance is a credit too: 12000 resumes it */
	t->now += 1000;
	OK(t_put(t, K_TENANT2, "account.transfer",
	    "{\"to\":\"%s\",\"denom\":\"uakt\",\"amount\":2000}",
	    t->kt[K_TENANT]));
	assert_int_equal(balance(t, K_TENANT), 500);
	assert_int_equal(state_pending_count(t->s), 1);
	/* the resume is derived: nothing else may come first */
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "deployment.deposit",
	        "{\"order\":\"o-3\",\"amount\":1}"));
	assert_int_equal(t_drain(t), 1);
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "escrow"), 12000);
	assert_int_equal(jint(l, "pauses"), 1);
	json_decref(l);
	assert_int_equal(auto_int(t, lid, "applied"), 2);
	assert_int_equal(auto_int(t, lid, "moved"), 4000);
	assert_int_equal(auto_int(t, lid, "on_credit"), 2);
	/* active again: a credit does nothing (billing applies it) */
	fund(t, K_TENANT, 5000);
	assert_int_equal(balance(t, K_TENANT), 5500);
	assert_int_equal(auto_int(t, lid, "applied"), 2);
	OK(state_check_invariants(t->s));
	replay_same(t);
	snapshot_same(t);
	t_free(t);
}

/* A paused lease of o-N drained by its usage (price 6000, escrow 5000):
 * 6000 in its escrow resumes it. */
static void
drained_lease(struct t *t, char *lid)
{
	json_t *l;

	OK(create_order(t, K_TENANT, 1, 6500, 5000, NULL));
	assert_int_equal(t_drain(t), 1);
	strcpy(lid, t->last_id);
	OK(started(t, K_P1, lid));
	t->now += 6000;
	OK(usage(t, K_P1, lid, 6000, 0));
	assert_int_equal(t_drain(t), 1); /* lease.pause */
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "paused");
	assert_int_equal(jint(l, "escrow"), 0);
	json_decref(l);
}

/* Several paused leases of one tenant: lease id order, each once per
 * credit, a cancelled instruction does nothing, a closed lease neither. */
static void
test_auto_topup_on_credit_lease_order_and_cancel(void **st)
{
	struct t *t = t_new_pause(60000);
	char a[STATE_ID_LEN], b[STATE_ID_LEN], c[STATE_ID_LEN];
	json_t *p;

	(void)st;
	setup_lease(t, 6500, 5000, a);
	OK(started(t, K_P1, a));
	t->now += 6000;
	OK(usage(t, K_P1, a, 6000, 0));
	assert_int_equal(t_drain(t), 1);
	drained_lease(t, b);
	drained_lease(t, c);
	/* instructions signed in the reverse order: lease order rules */
	OK(autotopup(t, K_TENANT, c, "\"amount\":6000,\"below_epochs\":1"));
	OK(autotopup(t, K_TENANT, b, "\"amount\":6000,\"below_epochs\":1"));
	OK(autotopup(t, K_TENANT, a, "\"amount\":6000,\"below_epochs\":1"));
	/* cancelled while paused: nothing on a credit */
	OK(autotopup(t, K_TENANT, c, "\"off\":true"));
	empty_balance(t, K_TENANT);
	/* 9000: a takes 6000 and resumes; 3000 is left, b takes nothing */
	t->now += 1000;
	fund(t, K_TENANT, 9000);
	OK(state_pending(t->s, &p));
	assert_int_equal(json_array_size(p), 1);
	assert_string_equal(
	    jstr(json_object_get(json_array_get(p, 0), "body"), "lease"), a);
	json_decref(p);
	assert_int_equal(t_drain(t), 1);
	assert_int_equal(balance(t, K_TENANT), 3000);
	assert_int_equal(auto_int(t, a, "applied"), 1);
	assert_int_equal(auto_int(t, b, "applied"), 0);
	/* 3000 more: b's turn (a is active, c cancelled) */
	fund(t, K_TENANT, 3000);
	assert_int_equal(t_drain(t), 1);
	assert_int_equal(balance(t, K_TENANT), 0);
	p = lease(t, b);
	assert_string_equal(jstr(p, "status"), "active");
	json_decref(p);
	/* a large credit: c, cancelled, takes nothing and stays paused */
	fund(t, K_TENANT, 100000);
	assert_int_equal(state_pending_count(t->s), 0);
	assert_int_equal(balance(t, K_TENANT), 100000);
	assert_int_equal(auto_int(t, c, "applied"), 0);
	p = lease(t, c);
	assert_string_equal(jstr(p, "status"), "paused");
	json_decref(p);
	/* an amount below what resumes it: one move per credit */
	OK(autotopup(t, K_TENANT, c, "\"amount\":3000,\"below_epochs\":1"));
	fund(t, K_TENANT, 100000);
	assert_int_equal(auto_int(t, c, "applied"), 1);
	assert_int_equal(state_pending_count(t->s), 0);
	/* a refund is a credit too: closing a's order brings its escrow
	 * back, and c's 3000 more resumes c */
	OK(t_put(t, K_TENANT, "order.close", "{\"order\":\"o-3\"}"));
	assert_int_equal(auto_int(t, c, "applied"), 2);
	assert_int_equal(t_drain(t), 1);
	p = lease(t, c);
	assert_string_equal(jstr(p, "status"), "active");
	json_decref(p);
	OK(state_check_invariants(t->s));
	replay_same(t);
	snapshot_same(t);
	t_free(t);
}

/* The escrow runs out before a billing could top it up (no usage
 * reported): the time-based lease.topup comes instead of lease.pause when
 * the instruction's amount pays the epoch; else the pause, as before. */
static void
test_auto_topup_due_before_time_based_pause(void **st)
{
	struct t *t = t_new_pause(60000);
	char lid[STATE_ID_LEN];
	int64_t start;
	json_t *due, *l;

	(void)st;
	setup_lease(t, 6500, 20000, lid);
	OK(autotopup(t, K_TENANT, lid, "\"amount\":6000,\"below_epochs\":1"));
	OK(started(t, K_P1, lid));
	start = t->now;
	t->now += 13000;
	OK(usage(t, K_P1, lid, 12000, 0)); /* 8000 left: 1 epoch, no top-up */
	assert_int_equal(auto_int(t, lid, "applied"), 0);
	/* not due while funded */
	t->now = start + 4 * 6000 - 1;
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.topup", "{\"lease\":\"%s\"}", lid));
	t->now = start + 4 * 6000;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	assert_string_equal(jstr(json_array_get(due, 0), "kind"),
	    "lease.topup");
	json_decref(due);
	/* the market may not pause it first, nobody else tops it up */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.pause", "{\"lease\":\"%s\"}", lid));
	assert_non_null(strstr(err_msg(), "lease.topup first"));
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "lease.topup", "{\"lease\":\"%s\"}", lid));
	OK(t_put(t, K_MARKET, "lease.topup", "{\"lease\":\"%s\"}", lid));
	assert_int_equal(state_pending_count(t->s), 0);
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "escrow"), 14000);
	assert_int_equal(jint(l, "paid_until"), start + 5 * 6000);
	json_decref(l);
	assert_int_equal(auto_int(t, lid, "applied"), 1);
	assert_int_equal(auto_int(t, lid, "on_due"), 1);
	/* once only: funded now */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.topup", "{\"lease\":\"%s\"}", lid));
	snapshot_same(t);
	/* an amount that does not pay the epoch: the pause, nothing moves */
	OK(autotopup(t, K_TENANT, lid, "\"amount\":1000,\"below_epochs\":1"));
	t->now = start + 5 * 6000;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	assert_string_equal(jstr(json_array_get(due, 0), "kind"),
	    "lease.pause");
	json_decref(due);
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.topup", "{\"lease\":\"%s\"}", lid));
	/* a balance short of the amount: the pause too */
	OK(autotopup(t, K_TENANT, lid, "\"amount\":6000,\"below_epochs\":1"));
	empty_balance(t, K_TENANT);
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.topup", "{\"lease\":\"%s\"}", lid));
	OK(t_put(t, K_MARKET, "lease.pause", "{\"lease\":\"%s\"}", lid));
	assert_int_equal(auto_int(t, lid, "applied"), 1);
	OK(state_check_invariants(t->s));
	replay_same(t);
	snapshot_same(t);
	t_free(t);
}

/* A bond released to a balance is a credit too: a tenant that is also a
 * provider withdraws its ask, and the bond that comes back pays the
 * standing top-up of its paused lease. */
static void
test_auto_topup_on_credit_bond_release(void **st)
{
	struct t *t = t_new_with(1);
	char lid[STATE_ID_LEN];
	int64_t start;
	json_t *due, *l;

	(void)st;
	state_free(t->s);
	t->cfg.pause_grace_ms = 60000;
	OK(state_new(&t->cfg, &t->s));
	fund(t, K_P1, 40000000);
	fund(t, K_TENANT, 3000000);
	/* the tenant's own ask, too dear for its order: a bond locked */
	OK(t_put(t, K_TENANT, "provider.advertise",
	    "{\"api_url\":\"https://t\",\"attributes\":{},\"capacity\":"
	    "{\"cpu_millis\":1000,\"memory_bytes\":1000000000,"
	    "\"storage_bytes\":0},\"runtimes\":[\"wasm\"],\"price\":"
	    "{\"denom\":\"uakt\",\"cpu_ms\":90000000}}"));
	setup_lease(t, 6500, 60000, lid); /* price 6000: 10 epochs */
	l = lease(t, lid);
	assert_string_equal(jstr(l, "provider"), t->kt[K_P1]);
	json_decref(l);
	OK(started(t, K_P1, lid));
	start = t->now;
	OK(autotopup(t, K_TENANT, lid, "\"amount\":60000,\"below_epochs\":1"));
	/* its balance down to the fee of one more entry */
	OK(t_put(t, K_TENANT, "account.transfer",
	    "{\"to\":\"%s\",\"denom\":\"uakt\",\"amount\":%lld}",
	    t->kt[K_TENANT2], (long long)(balance(t, K_TENANT) - 200)));
	assert_int_equal(balance(t, K_TENANT), 100);
	t->now = start + 10 * 6000;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	assert_string_equal(jstr(json_array_get(due, 0), "kind"),
	    "lease.pause");
	json_decref(due);
	OK(t_put(t, K_MARKET, "lease.pause", "{\"lease\":\"%s\"}", lid));
	/* the withdrawal's fee leaves 0, then its bond comes back */
	OK(t_put(t, K_TENANT, "provider.withdraw", "{}"));
	assert_int_equal(auto_int(t, lid, "on_credit"), 1);
	assert_int_equal(state_pending_count(t->s), 1);
	assert_int_equal(t_drain(t), 1);
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "escrow"), 120000);
	json_decref(l);
	OK(state_check_invariants(t->s));
	replay_same(t);
	snapshot_same(t);
	t_free(t);
}

/* The attacker's cases around pauses and top-ups that the tests above
 * leave out, each with `ledger audit`'s replay (and a snapshot) equal.
 * Two leases of one tenant whose standing top-ups both fall due at
 * billing while the balance holds one amount: the first billed takes
 * all of it, the second moves nothing (no partial top-up), is paused when
 * its escrow runs dry, and resumes at the next credit. */
static void
test_auto_topup_two_leases_one_balance(void **st)
{
	struct t *t = t_new_pause(60000);
	char a[STATE_ID_LEN], b[STATE_ID_LEN];
	json_t *l;

	(void)st;
	setup_lease(t, 6500, 12000, a); /* price 6000: 2 epochs each */
	OK(create_order(t, K_TENANT, 1, 6500, 12000, NULL));
	assert_int_equal(t_drain(t), 1);
	strcpy(b, t->last_id);
	OK(autotopup(t, K_TENANT, a, "\"amount\":10000,\"below_epochs\":2"));
	OK(autotopup(t, K_TENANT, b, "\"amount\":10000,\"below_epochs\":2"));
	OK(started(t, K_P1, a));
	OK(started(t, K_P1, b));
	empty_balance(t, K_TENANT);
	fund(t, K_TENANT, 15000); /* one amount, and half of another */
	t->now += 6000;
	OK(usage(t, K_P1, a, 6000, 0));
	assert_int_equal(last_usage_int(t, a, "topup"), 10000);
	assert_int_equal(balance(t, K_TENANT), 5000);
	OK(usage(t, K_P1, b, 6000, 0));
	assert_int_equal(last_usage_int(t, b, "topup_short"), 10000);
	assert_int_equal(last_usage_int(t, b, "topup"), -1);
	assert_int_equal(balance(t, K_TENANT), 5000); /* nothing partial */
	assert_int_equal(state_pending_count(t->s), 0);
	t->now += 6000;
	OK(usage(t, K_P1, a, 12000, 0));
	OK(usage(t, K_P1, b, 12000, 0));
	assert_int_equal(balance(t, K_TENANT), 5000);
	assert_int_equal(auto_int(t, b, "shortfalls"), 2);
	assert_int_equal(auto_int(t, b, "applied"), 0);
	/* b's escrow is empty: paused, a runs on (16000 - 6000 = 10000,
	 * under 2 epochs but the balance lacks the amount: a shortfall) */
	assert_int_equal(t_drain(t), 1);
	l = lease(t, b);
	assert_string_equal(jstr(l, "status"), "paused");
	json_decref(l);
	l = lease(t, a);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "escrow"), 10000);
	json_decref(l);
	assert_int_equal(auto_int(t, a, "shortfalls"), 1);
	/* the next credit: b takes its whole amount and resumes */
	t->now += 1000;
	fund(t, K_TENANT, 5000);
	assert_int_equal(balance(t, K_TENANT), 0);
	assert_int_equal(t_drain(t), 1);
	l = lease(t, b);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "escrow"), 10000);
	json_decref(l);
	OK(state_check_invariants(t->s));
	replay_same(t);
	snapshot_same(t);
	t_free(t);
}

/* A top-up racing the end of a pause grace: the ledger's order decides.
 * A deposit that lands at the grace's end before the market's close
 * resumes the lease (the close is then refused: funded); a close that
 * lands first closes it, and the deposit after it is refused with the
 * tenant's balance untouched.  A crumb at the grace's end resumes
 * nothing and the close takes it back with the rest. */
static void
test_pause_topup_races_grace_end(void **st)
{
	char lid[STATE_ID_LEN];
	int64_t start, paused_at, b0;
	json_t *due, *l;
	struct t *t;

	(void)st;
	/* the deposit first */
	t = t_new_pause(60000);
	paused_lease(t, lid, &start);
	paused_at = t->now;
	t->now = paused_at + 60000;
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 1);
	json_decref(due);
	OK(t_put(t, K_TENANT, "deployment.deposit",
	    "{\"order\":\"o-3\",\"amount\":60000}"));
	assert_int_equal(t_drain(t), 1); /* lease.resume */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"insufficient_funds\"}", lid));
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "active");
	assert_int_equal(jint(l, "paused_ms"), 60000);
	json_decref(l);
	OK(state_due(t->s, t->now, &due));
	assert_int_equal(json_array_size(due), 0);
	json_decref(due);
	replay_same(t);
	snapshot_same(t);
	t_free(t);
	/* the close first */
	t = t_new_pause(60000);
	paused_lease(t, lid, &start);
	t->now += 60000;
	OK(t_put(t, K_MARKET, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"insufficient_funds\"}", lid));
	b0 = balance(t, K_TENANT);
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "deployment.deposit",
	        "{\"order\":\"o-3\",\"amount\":60000}"));
	assert_int_equal(balance(t, K_TENANT), b0);
	assert_int_equal(state_pending_count(t->s), 0);
	/* nor does a standing top-up or a lease.topup touch it now */
	REJ(ERR_REJECT,
	    autotopup(t, K_TENANT, lid, "\"amount\":6000,\"below_epochs\":1"));
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.topup", "{\"lease\":\"%s\"}", lid));
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.resume", "{\"lease\":\"%s\"}", lid));
	replay_same(t);
	t_free(t);
	/* a crumb at the grace's end */
	t = t_new_pause(60000);
	paused_lease(t, lid, &start);
	t->now += 60000;
	OK(t_put(t, K_TENANT, "deployment.deposit",
	    "{\"order\":\"o-3\",\"amount\":100}"));
	assert_int_equal(state_pending_count(t->s), 0);
	b0 = balance(t, K_TENANT);
	OK(t_put(t, K_MARKET, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"insufficient_funds\"}", lid));
	assert_int_equal(balance(t, K_TENANT), b0 + 8100);
	OK(state_check_invariants(t->s));
	replay_same(t);
	snapshot_same(t);
	t_free(t);
}

/* A provider (or tenant) acting on a paused lease: starting it again,
 * closing it with readings (billing while paused), a lease.topup, a
 * lease.update, usage with a reading that grew while paused: refused;
 * a top-up signed by the tenant of another lease, or by its provider:
 * refused.  The provider's close without readings is taken, bills
 * nothing and refunds the escrow. */
static void
test_pause_provider_and_strangers(void **st)
{
	struct t *t = t_new_pause(60000);
	char lid[STATE_ID_LEN];
	int64_t start, b0;
	json_t *l;

	(void)st;
	paused_lease(t, lid, &start);
	fund(t, K_TENANT2, 100000);
	OK(autotopup(t, K_TENANT, lid, "\"amount\":6000,\"below_epochs\":1"));
	t->now += 30000;
	REJ(ERR_REJECT, started(t, K_P1, lid));
	assert_non_null(strstr(err_msg(), "is paused"));
	REJ(ERR_REJECT, usage(t, K_P1, lid, 30000, 0));
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.close",
	        "{\"lease\":\"%s\",\"reason\":\"provider_closed\","
	        "\"usage\":{\"cpu_ms\":30000,\"requests\":0}}",
	        lid));
	/* a lease.topup is for an active lease only, even with a balance
	 * and an instruction (the credit rule is the paused lease's) */
	REJ(ERR_REJECT,
	    t_put(t, K_MARKET, "lease.topup", "{\"lease\":\"%s\"}", lid));
	REJ(ERR_REJECT,
	    t_put(t, K_P1, "lease.topup", "{\"lease\":\"%s\"}", lid));
	REJ(ERR_REJECT,
	    t_put(t, K_TENANT, "lease.topup", "{\"lease\":\"%s\"}", lid));
	/* another tenant, the provider, the market: no instruction */
	REJ(ERR_REJECT,
	    autotopup(t, K_TENANT2, lid, "\"amount\":6000,\"below_epochs\":1"));
	REJ(ERR_REJECT,
	    autotopup(t, K_P1, lid, "\"amount\":6000,\"below_epochs\":1"));
	REJ(ERR_REJECT, autotopup(t, K_MARKET, lid, "\"off\":true"));
	/* amounts that are not integers in range (a real number is not
	 * even signed: canonical JSON has none) */
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid, "\"amount\":true,\"below_epochs\":1"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid,
	        "\"amount\":-9223372036854775807,\"below_epochs\":1"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid, "\"amount\":1,\"below_epochs\":-1"));
	REJ(ERR_INVAL,
	    autotopup(t, K_TENANT, lid,
	        "\"amount\":1,\"below_epochs\":9223372036854775807"));
	/* a credit to the other tenant resumes nothing of this one */
	fund(t, K_TENANT2, 100000);
	assert_int_equal(state_pending_count(t->s), 0);
	assert_int_equal(auto_int(t, lid, "applied"), 0);
	l = lease(t, lid);
	assert_string_equal(jstr(l, "status"), "paused");
	assert_int_equal(jint(l, "escrow"), 8000);
	json_decref(l);
	/* the provider closes it, without readings: the escrow goes back */
	b0 = balance(t, K_TENANT);
	OK(t_put(t, K_P1, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"provider_closed\"}", lid));
	assert_int_equal(balance(t, K_TENANT), b0 + 8000);
	REJ(ERR_REJECT, usage(t, K_P1, lid, 30000, 0));
	OK(state_check_invariants(t->s));
	replay_same(t);
	snapshot_same(t);
	t_free(t);
}

/* state_update_check alone: the rule the tenant's pre-check shares. */
static void
test_state_update_check_fields(void **st)
{
	json_t *o, *u;

	(void)st;
	o = json_pack("{s:s,s:[{s:s,s:i,s:i}],s:s,s:i,s:[s]}", "placement",
	    "dc", "resources", "service", "web", "count", 1, "cpu_millis", 500,
	    "denom", "uakt", "max_price", 10, "runtimes", "process");
	u = json_deep_copy(o);
	OK(state_update_check(o, u, "u"));
	/* a member the order has not (gpu_units) counts as a change */
	json_object_set_new(json_array_get(json_object_get(u, "resources"), 0),
	    "gpu_units", json_integer(1));
	REJ(ERR_REJECT, state_update_check(o, u, "u"));
	assert_non_null(strstr(err_msg(), "u.resources[0].gpu_units"));
	json_decref(u);
	/* runtimes, attributes added, placement dropped */
	u = json_deep_copy(o);
	json_object_set_new(u, "runtimes", json_pack("[s]", "oci"));
	REJ(ERR_REJECT, state_update_check(o, u, "u"));
	assert_non_null(strstr(err_msg(), "u.runtimes"));
	json_object_set_new(u, "runtimes", json_pack("[s]", "process"));
	json_object_set_new(u, "attributes", json_pack("{s:s}", "a", "b"));
	REJ(ERR_REJECT, state_update_check(o, u, "u"));
	assert_non_null(strstr(err_msg(), "u.attributes"));
	json_object_del(u, "attributes");
	json_object_del(u, "placement");
	REJ(ERR_REJECT, state_update_check(o, u, "u"));
	assert_non_null(strstr(err_msg(), "u.placement"));
	/* resources not an array */
	json_object_set_new(u, "placement", json_string("dc"));
	json_object_set_new(u, "resources", json_string("x"));
	REJ(ERR_INVAL, state_update_check(o, u, "u"));
	json_decref(u);
	json_decref(o);
}

static void
test_random_streams_keep_invariants_and_replay(void **st)
{
	(void)st;
	for (uint64_t seed = 1; seed <= 8; seed++)
		run_stream(seed, 1000);
}

/* The same streams under a pause grace: pauses, resumes (by deposits and
 * by standing top-ups at credits), lease.topup and grace closes among
 * them, the same invariants, replay and snapshot. */
static void
test_random_streams_under_pause_grace(void **st)
{
	(void)st;
	for (uint64_t seed = 21; seed <= 26; seed++)
		run_stream_grace(seed, 1000, 40000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deposit_only_by_treasury),
		cmocka_unit_test(test_transfer_and_insufficient_balance),
		cmocka_unit_test(test_nonce_replay_skew_and_order_of_leaves),
		cmocka_unit_test(test_cheaper_fitting_provider_wins),
		cmocka_unit_test(test_mismatch_full_runtime_price_lose),
		cmocka_unit_test(test_capabilities_must_be_offered),
		cmocka_unit_test(test_signed_by_requires_attest),
		cmocka_unit_test(test_tie_goes_to_older_ask_then_lower_key),
		cmocka_unit_test(test_new_ask_rematches_in_arrival_order),
		cmocka_unit_test(
		    test_usage_charges_with_take_rate_carry_and_cap),
		cmocka_unit_test(test_insufficient_funds_is_derived),
		cmocka_unit_test(
		    test_pause_at_dry_escrow_no_billing_resume_on_deposit),
		cmocka_unit_test(
		    test_pause_grace_end_closes_insufficient_funds),
		cmocka_unit_test(test_pause_derived_by_usage_and_tenant_close),
		cmocka_unit_test(test_pause_abuse_and_replay),
		cmocka_unit_test(test_genesis_pause_grace),
		cmocka_unit_test(test_no_pause_grace_closes_at_once),
		cmocka_unit_test(test_escrow_drained_by_usage_closes_at_once),
		cmocka_unit_test(
		    test_deployment_deposit_and_order_close_refund),
		cmocka_unit_test(test_order_expires_after_ttl_only),
		cmocka_unit_test(test_offline_only_after_grace_and_back_online),
		cmocka_unit_test(test_forged_derived_entries_rejected),
		cmocka_unit_test(test_withdraw_and_provider_close),
		cmocka_unit_test(test_provider_close_settles_final_usage),
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_malformed_bodies_rejected),
		cmocka_unit_test(
		    test_fee_paid_by_every_signer_refused_without_funds),
		cmocka_unit_test(test_bond_locked_adjusted_released),
		cmocka_unit_test(test_usage_past_physical_bounds_refused),
		cmocka_unit_test(
		    test_charge_caps_agreed_price_extras_and_order_caps),
		cmocka_unit_test(test_lease_started_needs_manifest_proof),
		cmocka_unit_test(
		    test_manifest_not_delivered_closes_and_refunds),
		cmocka_unit_test(
		    test_min_lease_epochs_and_agreed_price_sufficiency),
		cmocka_unit_test(test_nonces_pruned_after_skew_replays_refused),
		cmocka_unit_test(test_genesis_v2_round_trip_v1_refused),
		cmocka_unit_test(test_lease_update_rule),
		cmocka_unit_test(test_state_update_check_fields),
		cmocka_unit_test(test_genesis_checkpoint_cadence),
		cmocka_unit_test(test_auto_topup_standing_instruction),
		cmocka_unit_test(
		    test_auto_topup_resumes_paused_lease_on_credit),
		cmocka_unit_test(test_auto_topup_due_before_time_based_pause),
		cmocka_unit_test(test_auto_topup_on_credit_bond_release),
		cmocka_unit_test(test_auto_topup_two_leases_one_balance),
		cmocka_unit_test(test_pause_topup_races_grace_end),
		cmocka_unit_test(test_pause_provider_and_strangers),
		cmocka_unit_test(
		    test_auto_topup_on_credit_lease_order_and_cancel),
		cmocka_unit_test(
		    test_random_streams_keep_invariants_and_replay),
		cmocka_unit_test(test_random_streams_under_pause_grace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
