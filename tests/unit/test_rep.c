/*
 * test_rep: quotes and bid policies (ledger/state.h, state_quote): the
 * reason each ask does not fit, the quoted winner equal to the match that
 * follows, a quote that changes nothing, asks' allow/deny lists and
 * minimum leases applied by matching, and a provider's record (leases won,
 * started, ended by reason, offline time and uptime, completion rate),
 * and a lease's "paid_until" where the market closes it.
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
#include "ledger/state.h"

enum { K_TREASURY, K_MARKET, K_TENANT, K_TENANT2, K_P1, K_P2, K_P3, K_N };

struct t {
	struct state *s;
	struct key *k[K_N];
	char kt[K_N][KEY_TEXT_SIZE];
	uint64_t idx;
	int64_t now;
	unsigned nonce;
	char last_id[STATE_ID_LEN];
	struct state_config cfg;
};

#define OK(x)                                                      \
	do {                                                       \
		int rc_ = (x);                                     \
		if (rc_ != 0)                                      \
			fail_msg("%s: %d %s", #x, rc_, err_msg()); \
	} while (0)

static struct t *
t_new(void)
{
	struct t *t = calloc(1, sizeof(*t));
	struct state_config cfg;
	uint8_t seed[KEY_SEED_LEN], pub[KEY_PUB_LEN];

	assert_non_null(t);
	for (int i = 0; i < K_N; i++) {
		memset(seed, 0x10 + i, sizeof(seed));
		assert_int_equal(key_from_seed(seed, &t->k[i]), 0);
		key_public(t->k[i], pub);
		key_pub_to_text(pub, t->kt[i]);
	}
	state_config_default(&cfg);
	key_public(t->k[K_TREASURY], cfg.treasury_key);
	key_public(t->k[K_MARKET], cfg.market_key);
	cfg.check_invariants = 1;
	cfg.fee = 0;
	cfg.nfee_kinds = 0;
	cfg.bond_per_cpu = 0;
	cfg.bond_per_gib = 0;
	cfg.min_lease_epochs = 10;
	t->cfg = cfg;
	OK(state_new(&cfg, &t->s));
	t->idx = 1;
	t->now = 1700000000000;
	return t;
}

static char *dump(struct t *t);

/* Every test ends here: its state through a snapshot and back is the
 * same state (bid policies, minimum records and the providers' records
 * are in the snapshot), and the decoded state's snapshot the same bytes. */
static void
t_free(struct t *t)
{
	struct state *back;
	char *buf, *buf2, *a, *b;
	size_t len, len2;

	OK(state_snapshot_encode(t->s, &buf, &len));
	OK(state_snapshot_decode(&t->cfg, buf, len, &back));
	OK(state_snapshot_encode(back, &buf2, &len2));
	assert_true(len == len2 && memcmp(buf, buf2, len) == 0);
	a = dump(t);
	state_free(t->s);
	t->s = back;
	b = dump(t);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(buf);
	free(buf2);
	for (int i = 0; i < K_N; i++)
		key_free(t->k[i]);
	state_free(t->s);
	free(t);
}

static int
t_put(struct t *t, int who, const char *kind, const char *fmt, ...)
{
	struct state_effects fx;
	struct envelope *e;
	char buf[4096], nonce[32];
	json_error_t je;
	json_t *body;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((body = json_loads(buf, 0, &je)) == NULL)
		fail_msg("bad test JSON %s: %s", buf, je.text);
	snprintf(nonce, sizeof(nonce), "n%u", t->nonce++);
	OK(envelope_sign(t->k[who], kind, body, nonce, t->now, &e));
	json_decref(body);
	rc = state_apply(t->s, e, t->idx, t->now, &fx);
	envelope_free(e);
	if (rc == 0) {
		t->idx++;
		memcpy(t->last_id, fx.id, sizeof(fx.id));
		json_decref(fx.derived);
	}
	return rc;
}

/* Sign and apply every pending derived entry. */
static void
t_drain(struct t *t)
{
	json_t *p, *d;

	while (state_pending_count(t->s) > 0) {
		OK(state_pending(t->s, &p));
		char *txt;
		d = json_array_get(p, 0);
		txt = json_dumps(json_object_get(d, "body"), JSON_COMPACT);
		OK(t_put(t, K_MARKET,
		    json_string_value(json_object_get(d, "kind")), "%s", txt));
		free(txt);
		json_decref(p);
	}
}

static void
fund(struct t *t, int who, int64_t amt)
{
	OK(t_put(t, K_TREASURY, "account.deposit",
	    "{\"to\":\"%s\",\"denom\":\"uakt\",\"amount\":%lld}", t->kt[who],
	    (long long)amt));
}

/* An ask of cpu_millis cores (8 GB, 100 GB) at cpu_price per 10^6
 * cpu_ms, with an optional ",\"policy\":{...}" tail. */
static int
advertise(struct t *t, int who, int64_t cpu_price, const char *attrs,
    int64_t cpu_millis, const char *extra)
{
	return t_put(t, who, "provider.advertise",
	    "{\"api_url\":\"https://p.example\",\"attributes\":%s,"
	    "\"capacity\":{\"cpu_millis\":%lld,\"memory_bytes\":8000000000,"
	    "\"storage_bytes\":100000000000},\"runtimes\":[\"process\"],"
	    "\"price\":{\"denom\":\"uakt\",\"cpu_ms\":%lld}%s}",
	    attrs, (long long)cpu_millis, (long long)cpu_price,
	    extra ? extra : "");
}

/* An order.create body: count x 1 core, bid and deposit. */
static json_t *
order_body(int count, int64_t max_price, int64_t deposit, const char *extra)
{
	char buf[2048];
	json_error_t je;
	json_t *b;

	snprintf(buf, sizeof(buf),
	    "{\"placement\":\"dc\",\"resources\":[{\"profile\":\"web\","
	    "\"service\":\"web\",\"count\":%d,\"cpu_millis\":1000,"
	    "\"memory_bytes\":1000000,\"storage_bytes\":0}],\"denom\":"
	    "\"uakt\",\"max_price\":%lld,\"manifest_hash\":\"ab\","
	    "\"deposit\":%lld,\"ttl_ms\":60000%s%s}",
	    count, (long long)max_price, (long long)deposit, extra ? "," : "",
	    extra ? extra : "");
	if ((b = json_loads(buf, 0, &je)) == NULL)
		fail_msg("bad test JSON %s: %s", buf, je.text);
	return b;
}

static int
post(struct t *t, int who, json_t *body)
{
	char *txt = json_dumps(body, JSON_COMPACT);
	int rc = t_put(t, who, "order.create", "%s", txt);

	free(txt);
	return rc;
}

/* The quote of orders (stolen) for tenant who. */
static json_t *
quote(struct t *t, int who, json_t *orders)
{
	json_t *q = NULL;

	OK(state_quote(t->s, t->kt[who], orders, &q));
	json_decref(orders);
	return q;
}

/* The reason the quote's group g gives for provider who. */
static const char *
reason_of(struct t *t, const json_t *q, size_t g, int who)
{
	json_t *nf = json_object_get(
	    json_array_get(json_object_get(q, "groups"), g), "not_fitting");
	json_t *v;
	size_t i;

	json_array_foreach(nf, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "provider")),
		        t->kt[who]) == 0)
			return json_string_value(json_object_get(v, "reason"));
	}
	return "fits";
}

/* The lease.create matching queued: its provider and price. */
static void
pending_match(struct t *t, const char **prov, int64_t *price, size_t i)
{
	static char key[KEY_TEXT_SIZE];
	json_t *p, *b;

	OK(state_pending(t->s, &p));
	b = json_object_get(json_array_get(p, i), "body");
	assert_non_null(b);
	snprintf(key, sizeof(key), "%s",
	    json_string_value(json_object_get(b, "provider")));
	*prov = key;
	*price = json_integer_value(json_object_get(b, "price"));
	json_decref(p);
}

static char *
dump(struct t *t)
{
	json_t *d;
	char *txt;

	OK(state_dump(t->s, &d));
	OK(cjson_dump(d, &txt, NULL));
	json_decref(d);
	return txt;
}

static void
test_quote_reasons_and_winner_equal_match(void **st)
{
	struct t *t = t_new();
	json_t *q, *g, *b;
	const char *prov;
	int64_t price;
	char *before, *after;

	(void)st;
	fund(t, K_TENANT, 10000000);
	OK(advertise(t, K_P1, 1000, "{\"region\":\"eu\"}", 4000, NULL));
	OK(advertise(t, K_P2, 500, "{\"region\":\"eu\"}", 1000, NULL));
	OK(advertise(t, K_P3, 10, "{\"region\":\"us\"}", 4000, NULL));
	before = dump(t);
	b = order_body(2, 100, 100000, "\"attributes\":{\"region\":\"eu\"}");
	q = quote(t, K_TENANT, json_pack("[O]", b));
	after = dump(t);
	assert_string_equal(before, after); /* the quote changed nothing */
	g = json_array_get(json_object_get(q, "groups"), 0);
	assert_string_equal(reason_of(t, q, 0, K_P2), "cpu");
	assert_string_equal(reason_of(t, q, 0, K_P3), "attributes");
	assert_string_equal(reason_of(t, q, 0, K_P1), "fits");
	assert_string_equal(json_string_value(json_object_get(g, "winner")),
	    t->kt[K_P1]);
	/* 2 cores x 6 s = 12000 cpu_ms at 1000 per 10^6: 12 per epoch,
	 * 30 days of 6 s epochs = 432000 epochs */
	assert_int_equal(json_integer_value(json_object_get(g, "price")), 12);
	assert_int_equal(json_integer_value(json_object_get(g, "per_month")),
	    12 * 432000);
	OK(post(t, K_TENANT, b));
	pending_match(t, &prov, &price, 0);
	assert_string_equal(prov, t->kt[K_P1]);
	assert_int_equal(price, 12);
	json_decref(q);
	json_decref(b);
	free(before);
	free(after);
	t_free(t);
}

static void
test_quote_price_escrow_unknown_strings(void **st)
{
	struct t *t = t_new();
	json_t *q, *g;
	char *before, *after;

	(void)st;
	fund(t, K_TENANT, 10000000);
	OK(advertise(t, K_P1, 1000, "{\"region\":\"eu\"}", 4000, NULL));
	OK(advertise(t, K_P2, 100000, "{\"region\":\"eu\"}", 4000, NULL));
	/* P1: 6 per epoch, 10 epochs = 60 > escrow 50; P2: 600 > bid */
	q = quote(t, K_TENANT, json_pack("[o]", order_body(1, 100, 50, NULL)));
	g = json_array_get(json_object_get(q, "groups"), 0);
	assert_true(json_is_null(json_object_get(g, "winner")));
	assert_string_equal(reason_of(t, q, 0, K_P1), "escrow");
	assert_string_equal(reason_of(t, q, 0, K_P2), "price");
	json_decref(q);
	/* strings and runtimes no ask has: nothing fits, nothing interned */
	before = dump(t);
	q = quote(t, K_TENANT,
	    json_pack("[o,o]",
	        order_body(1, 100, 100000,
	            "\"attributes\":{\"zone\":\"mars-1\"}"),
	        order_body(1, 100, 100000, "\"runtimes\":[\"quantum\"]")));
	after = dump(t);
	assert_string_equal(before, after);
	assert_string_equal(reason_of(t, q, 0, K_P1), "attributes");
	assert_string_equal(reason_of(t, q, 1, K_P1), "runtimes");
	json_decref(q);
	/* a malformed order is named */
	g = json_pack("[{s:s}]", "denom", "uakt");
	assert_int_equal(state_quote(t->s, t->kt[K_TENANT], g, &q), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "quote.orders[0]"));
	assert_int_equal(state_quote(t->s, "nope", g, &q), ERR_INVAL);
	json_decref(g);
	free(before);
	free(after);
	t_free(t);
}

/* Two groups: the first fills the cheaper provider, the second goes to
 * the next one, in the quote as in the match that follows. */
static void
test_quote_groups_reserve_like_posting(void **st)
{
	struct t *t = t_new();
	json_t *q, *b1, *b2;
	const char *prov;
	int64_t price;

	(void)st;
	fund(t, K_TENANT, 10000000);
	OK(advertise(t, K_P1, 1000, "{}", 2000, NULL));
	OK(advertise(t, K_P2, 2000, "{}", 4000, NULL));
	b1 = order_body(2, 100, 100000, NULL);
	b2 = order_body(1, 100, 100000, NULL);
	q = quote(t, K_TENANT, json_pack("[O,O]", b1, b2));
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(q, "groups"), 0), "winner")),
	    t->kt[K_P1]);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(q, "groups"), 1), "winner")),
	    t->kt[K_P2]);
	assert_string_equal(reason_of(t, q, 1, K_P1), "cpu");
	OK(post(t, K_TENANT, b1));
	pending_match(t, &prov, &price, 0);
	assert_string_equal(prov, t->kt[K_P1]);
	t_drain(t);
	OK(post(t, K_TENANT, b2));
	pending_match(t, &prov, &price, 0);
	assert_string_equal(prov, t->kt[K_P2]);
	assert_int_equal(price, 12);
	t_drain(t);
	json_decref(q);
	json_decref(b1);
	json_decref(b2);
	t_free(t);
}

static void
test_bid_policy_allow_deny_min_lease(void **st)
{
	struct t *t = t_new();
	json_t *q, *b;
	const char *prov;
	int64_t price;
	char pol[512];

	(void)st;
	fund(t, K_TENANT, 10000000);
	fund(t, K_TENANT2, 10000000);
	/* P1, the cheapest, takes no K_TENANT; P2 only K_TENANT2; P3 asks
	 * a lease of 100 epochs */
	snprintf(pol, sizeof(pol), ",\"policy\":{\"deny\":[\"%s\"]}",
	    t->kt[K_TENANT]);
	OK(advertise(t, K_P1, 100, "{}", 4000, pol));
	snprintf(pol, sizeof(pol), ",\"policy\":{\"allow\":[\"%s\"]}",
	    t->kt[K_TENANT2]);
	OK(advertise(t, K_P2, 200, "{}", 4000, pol));
	OK(advertise(t, K_P3, 1000, "{}", 4000,
	    ",\"policy\":{\"min_lease_epochs\":100}"));
	/* P3: 6 per epoch; 100 epochs = 600 > 500 */
	b = order_body(1, 100, 500, NULL);
	q = quote(t, K_TENANT, json_pack("[O]", b));
	assert_string_equal(reason_of(t, q, 0, K_P1), "policy_deny");
	assert_string_equal(reason_of(t, q, 0, K_P2), "policy_allow");
	assert_string_equal(reason_of(t, q, 0, K_P3), "policy_min_lease");
	json_decref(q);
	OK(post(t, K_TENANT, b));
	assert_int_equal(state_pending_count(t->s), 0);
	json_decref(b);
	/* K_TENANT2 is denied by none: the cheapest, P1, wins */
	b = order_body(1, 100, 500, NULL);
	OK(post(t, K_TENANT2, b));
	pending_match(t, &prov, &price, 0);
	assert_string_equal(prov, t->kt[K_P1]);
	t_drain(t);
	json_decref(b);
	/* a deposit that pays 100 epochs at P3 wins it for K_TENANT */
	b = order_body(1, 100, 600, NULL);
	OK(post(t, K_TENANT, b));
	t_drain(t); /* the waiting order of 500 stays; this one matches */
	json_decref(b);
	/* malformed policies are refused, naming the field */
	assert_int_equal(advertise(t, K_P3, 1000, "{}", 4000,
	                     ",\"policy\":{\"deny\":[\"x\"]}"),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "provider.advertise.policy.deny"));
	assert_int_equal(advertise(t, K_P3, 1000, "{}", 4000,
	                     ",\"policy\":{\"min_lease_epochs\":-1}"),
	    ERR_INVAL);
	assert_int_equal(
	    advertise(t, K_P3, 1000, "{}", 4000, ",\"policy\":{\"vip\":1}"),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "vip"));
	t_free(t);
}

/* lease.started for lid by prov, with the proof tenant who signs now
 * (manifest_hash "ab"). */
static int
start(struct t *t, int prov, int who, const char *lid)
{
	char path[64], *txt;
	struct envelope *e;
	json_t *b;
	size_t n;
	int rc;

	snprintf(path, sizeof(path), "/v1/leases/%s/manifest", lid);
	b = json_pack("{s:s,s:s,s:s}", "body_sha256", "ab", "method", "POST",
	    "path", path);
	OK(envelope_sign(t->k[who], "http.request", b, NULL, t->now, &e));
	OK(envelope_dump(e, &txt, &n));
	envelope_free(e);
	json_decref(b);
	rc = t_put(t, prov, "lease.started",
	    "{\"lease\":\"%s\",\"manifest_request\":%s}", lid, txt);
	free(txt);
	return rc;
}

static json_t *
record(struct t *t, int who)
{
	json_t *r;

	OK(state_provider_record(t->s, t->kt[who], &r));
	return r;
}

static int64_t
rint_(json_t *r, const char *a, const char *b)
{
	json_t *v = json_object_get(r, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_integer_value(v);
}

#define DAY (INT64_C(24) * 3600 * 1000)

static void
test_record_counts_leases_offline_and_uptime(void **st)
{
	struct t *t = t_new();
	json_t *r, *b, *q;
	const char *prov;
	int64_t price;
	char lid[STATE_ID_LEN];

	(void)st;
	fund(t, K_TENANT, 100000000);
	OK(advertise(t, K_P1, 1000, "{}", 8000, NULL));
	/* lease 1: started, then closed by the tenant (completed) */
	b = order_body(1, 100, 100000, NULL);
	OK(post(t, K_TENANT, b));
	t_drain(t);
	snprintf(lid, sizeof(lid), "%s", t->last_id);
	OK(start(t, K_P1, K_TENANT, lid));
	t->now += 1000;
	OK(t_put(t, K_TENANT, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"tenant_closed\"}", lid));
	t_drain(t);
	/* lease 2: the provider refuses the manifest */
	OK(post(t, K_TENANT, b));
	t_drain(t);
	snprintf(lid, sizeof(lid), "%s", t->last_id);
	OK(t_put(t, K_P1, "lease.close",
	    "{\"lease\":\"%s\",\"reason\":\"manifest_refused\"}", lid));
	t_drain(t);
	/* lease 3: started, then the provider goes silent: offline */
	OK(post(t, K_TENANT, b));
	t_drain(t);
	snprintf(lid, sizeof(lid), "%s", t->last_id);
	OK(start(t, K_P1, K_TENANT, lid));
	OK(t_put(t, K_P1, "provider.heartbeat", "{}"));
	t->now += DAY; /* silent a day */
	OK(t_put(t, K_MARKET, "provider.offline", "{\"provider\":\"%s\"}",
	    t->kt[K_P1]));
	t_drain(t);
	t->now += DAY; /* offline a day, then back */
	OK(t_put(t, K_P1, "provider.heartbeat", "{}"));
	t_drain(t);
	t->now += 5 * DAY; /* a week after the first ask, plus 1 s */
	OK(t_put(t, K_P1, "provider.heartbeat", "{}"));
	r = record(t, K_P1);
	assert_int_equal(rint_(r, "leases", "won"), 3);
	assert_int_equal(rint_(r, "leases", "started"), 2);
	assert_int_equal(rint_(r, "leases", "live"), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(json_object_get(r, "leases"), "ended"),
	        "provider_offline")),
	    1);
	assert_int_equal(rint_(r, "manifests_refused", NULL), 1);
	assert_int_equal(rint_(r, "heartbeats", NULL), 3);
	assert_int_equal(rint_(r, "offline_marks", NULL), 1);
	/* the provider came back online with its first entry after the
	 * mark: offline exactly one day */
	assert_int_equal(rint_(r, "offline_ms", NULL), DAY);
	assert_int_equal(rint_(r, "key_age_ms", NULL), 7 * DAY + 1000);
	assert_int_equal(rint_(r, "online_ms", NULL), 6 * DAY + 1000);
	/* one of three ended leases completed */
	assert_int_equal(rint_(r, "completion_rate_ppm", NULL), 333333);
	/* 7 days: one offline -> 6/7; 30 days: since the first ask */
	assert_int_equal(rint_(r, "uptime_7d_ppm", NULL),
	    (7 * DAY - DAY) * 1000000 / (7 * DAY));
	assert_int_equal(rint_(r, "uptime_30d_ppm", NULL),
	    (7 * DAY + 1000 - DAY) * 1000000 / (7 * DAY + 1000));
	assert_true(json_is_true(json_object_get(r, "online")));
	json_decref(r);
	json_decref(b);
	/* a minimum record: P2 is cheaper but has none; P1 has 2 leases
	 * started, a completion rate of 33% */
	OK(advertise(t, K_P2, 10, "{}", 8000, NULL));
	b = order_body(1, 100, 100000,
	    "\"min_reputation\":{\"leases_started\":2}");
	q = quote(t, K_TENANT, json_pack("[O]", b));
	assert_string_equal(reason_of(t, q, 0, K_P2), "reputation");
	assert_string_equal(reason_of(t, q, 0, K_P1), "fits");
	json_decref(q);
	OK(post(t, K_TENANT, b));
	pending_match(t, &prov, &price, 0);
	assert_string_equal(prov, t->kt[K_P1]);
	t_drain(t);
	json_decref(b);
	b = order_body(1, 100, 100000,
	    "\"min_reputation\":{\"completion_rate_ppm\":500000}");
	q = quote(t, K_TENANT, json_pack("[O]", b));
	assert_string_equal(reason_of(t, q, 0, K_P2), "reputation");
	assert_string_equal(reason_of(t, q, 0, K_P1), "reputation");
	json_decref(q);
	OK(post(t, K_TENANT, b));
	assert_int_equal(state_pending_count(t->s), 0);
	json_decref(b);
	b = order_body(1, 100, 100000, "\"min_reputation\":{\"trust\":1}");
	assert_int_equal(post(t, K_TENANT, b), ERR_INVAL);
	json_decref(b);
	assert_int_equal(state_provider_record(t->s, t->kt[K_TENANT], &r),
	    ERR_NOTFOUND);
	t_free(t);
}

/* Whether state_due at t derives lease.close insufficient_funds. */
static int
due_unfunded(struct t *t, int64_t at)
{
	json_t *d, *v;
	size_t i;
	int found = 0;

	OK(state_due(t->s, at, &d));
	json_array_foreach(d, i, v)
	{
		const char *r = json_string_value(
		    json_object_get(json_object_get(v, "body"), "reason"));
		if (r != NULL && strcmp(r, "insufficient_funds") == 0)
			found = 1;
	}
	json_decref(d);
	return found;
}

/* "paid_until" of the lease view is where the market closes it. */
static void
test_paid_until_is_where_escrow_runs_dry(void **st)
{
	struct t *t = t_new();
	json_t *b, *l;
	char lid[STATE_ID_LEN];
	int64_t pu;

	(void)st;
	fund(t, K_TENANT, 100000000);
	OK(advertise(t, K_P1, 1000, "{}", 8000, NULL));
	/* 6 per epoch of 6 s; 100 epochs of escrow */
	b = order_body(1, 100, 600, NULL);
	OK(post(t, K_TENANT, b));
	t_drain(t);
	snprintf(lid, sizeof(lid), "%s", t->last_id);
	OK(state_lease_json(t->s, lid, &l));
	assert_true(json_is_null(json_object_get(l, "paid_until")));
	json_decref(l);
	OK(start(t, K_P1, K_TENANT, lid));
	OK(state_lease_json(t->s, lid, &l));
	pu = json_integer_value(json_object_get(l, "paid_until"));
	assert_int_equal(pu, t->now + 100 * 6000);
	json_decref(l);
	assert_false(due_unfunded(t, pu - 1));
	assert_true(due_unfunded(t, pu));
	json_decref(b);
	t_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_reasons_and_winner_equal_match),
		cmocka_unit_test(test_quote_price_escrow_unknown_strings),
		cmocka_unit_test(test_quote_groups_reserve_like_posting),
		cmocka_unit_test(test_bid_policy_allow_deny_min_lease),
		cmocka_unit_test(test_record_counts_leases_offline_and_uptime),
		cmocka_unit_test(test_paid_until_is_where_escrow_runs_dry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
