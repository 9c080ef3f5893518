/*
 * test_match_index: the attribute index matching uses (ledger/
 * state_match.c) against the scan of every provider it replaced, kept
 * here as the oracle: random providers, asks that change attributes,
 * withdrawals and random orders go through two states, one matching with
 * the index and one scanning, which must answer every entry alike and end
 * with the same dump byte for byte (winners, fitting counts, stories).
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
#include "ledger/state_internal.h"

#define NPROV 60

static uint64_t rng;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

struct pair {
	struct state *s[2]; /* [0] the index, [1] the scan */
	uint8_t treasury[KEY_PUB_LEN], market[KEY_PUB_LEN], tenant[KEY_PUB_LEN];
	uint64_t idx, nonce;
	int64_t now;
	size_t applied, refused;
};

static void
key_n(uint32_t n, uint8_t pub[KEY_PUB_LEN])
{
	memset(pub, 0, KEY_PUB_LEN);
	memcpy(pub, &n, sizeof(n));
	pub[31] = 0x77;
}

/* An unsigned envelope (state_apply takes verified ones); body stolen. */
static struct envelope *
env(struct pair *p, const uint8_t signer[KEY_PUB_LEN], const char *kind,
    json_t *body)
{
	struct envelope *e = calloc(1, sizeof(*e));
	char t[KEY_TEXT_SIZE], nb[32];

	assert_non_null(e);
	assert_non_null(body);
	key_pub_to_text(signer, t);
	snprintf(nb, sizeof(nb), "n%llu", (unsigned long long)p->nonce++);
	e->json = json_pack("{s:s,s:o,s:s,s:s,s:I,s:s}", "kind", kind, "body",
	    body, "signer", t, "nonce", nb, "time", (json_int_t)p->now, "sig",
	    "");
	assert_non_null(e->json);
	e->kind = json_string_value(json_object_get(e->json, "kind"));
	e->body = json_object_get(e->json, "body");
	e->signer_text = json_string_value(json_object_get(e->json, "signer"));
	e->nonce = json_string_value(json_object_get(e->json, "nonce"));
	memcpy(e->signer, signer, KEY_PUB_LEN);
	e->time_ms = p->now;
	return e;
}

/* Apply to both states (the second with the index off); they must agree
 * on the result, and derived entries are applied after, alike. */
static void
apply(struct pair *p, const uint8_t signer[KEY_PUB_LEN], const char *kind,
    json_t *body)
{
	struct envelope *e = env(p, signer, kind, body);
	char msg0[ERR_MSG_SIZE];
	int rc[2];
	json_t *q;

	for (int i = 0; i < 2; i++) {
		st_match_index_off = i;
		rc[i] = state_apply(p->s[i], e, p->idx, p->now, NULL);
		if (i == 0)
			snprintf(msg0, sizeof(msg0), "%s", err_msg());
	}
	st_match_index_off = 0;
	if (rc[0] != rc[1])
		fail_msg("%s at %llu: index says %d (%s), scan %d (%s)", kind,
		    (unsigned long long)p->idx, rc[0], msg0, rc[1], err_msg());
	envelope_free(e);
	if (rc[0] < 0) {
		p->refused++;
		return;
	}
	p->applied++;
	p->idx++;
	assert_int_equal(state_pending_count(p->s[0]),
	    state_pending_count(p->s[1]));
	if (state_pending_count(p->s[0]) == 0)
		return;
	assert_int_equal(state_pending(p->s[0], &q), 0);
	for (size_t i = 0; i < json_array_size(q); i++) {
		json_t *d = json_array_get(q, i);
		apply(p, p->market,
		    json_string_value(json_object_get(d, "kind")),
		    json_incref(json_object_get(d, "body")));
	}
	json_decref(q);
}

static const char *const regions[] = { "eu", "us", "ap", "sa", "af" };
static const char *const tiers[] = { "a", "b", "c" };

/* 0 to 3 attributes drawn from a small set, so that orders and asks
 * share some and not others. */
static int bare_asks; /* asks hold no attribute at all */

static json_t *
attrs(int order)
{
	json_t *a = json_object();

	if (!order && bare_asks)
		return a;
	if (rnd(4) != 0)
		json_object_set_new(a, "region",
		    json_string(regions[rnd(order ? 6 : 5) % 5]));
	if (rnd(2) == 0)
		json_object_set_new(a, "tier", json_string(tiers[rnd(3)]));
	if (rnd(order ? 8 : 3) == 0)
		json_object_set_new(a, "gpu", json_string("yes"));
	if (order && rnd(20) == 0) /* held by no provider */
		json_object_set_new(a, "planet", json_string("mars"));
	return a;
}

static void
advertise(struct pair *p, uint32_t i)
{
	uint8_t pk[KEY_PUB_LEN];

	key_n(1000 + i, pk);
	apply(p, pk, "provider.advertise",
	    json_pack("{s:s,s:o,s:{s:I,s:I,s:I},s:[s],s:{s:s,s:I,s:I}}",
	        "api_url", "https://p.example", "attributes", attrs(0),
	        "capacity", "cpu_millis", (json_int_t)(1000 + rnd(8) * 1000),
	        "memory_bytes", (json_int_t)(1 + rnd(8)) * 1000000000,
	        "storage_bytes", (json_int_t)1000000000000, "runtimes",
	        rnd(5) ? "wasm" : "process", "price", "denom", "uakt", "cpu_ms",
	        (json_int_t)(1 + rnd(4)), "mem_mb_s", (json_int_t)rnd(3)));
}

static void
run(uint64_t seed, int steps)
{
	struct pair p = { .idx = 1, .now = 1700000000000 };
	struct state_config c;
	char tt[KEY_TEXT_SIZE], pt[KEY_TEXT_SIZE];
	uint8_t pk[KEY_PUB_LEN];
	json_t *d[2];
	char *t[2];
	size_t orders = 0;

	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	key_n(1, p.treasury);
	key_n(2, p.market);
	key_n(3, p.tenant);
	state_config_default(&c);
	c.check_invariants = 0;
	memcpy(c.treasury_key, p.treasury, KEY_PUB_LEN);
	memcpy(c.market_key, p.market, KEY_PUB_LEN);
	for (int i = 0; i < 2; i++)
		assert_int_equal(state_new(&c, &p.s[i]), 0);
	key_pub_to_text(p.tenant, tt);
	apply(&p, p.treasury, "account.deposit",
	    json_pack("{s:s,s:s,s:I}", "to", tt, "denom", "uakt", "amount",
	        (json_int_t)1000000000000));
	for (uint32_t i = 0; i < NPROV; i++) {
		key_n(1000 + i, pk);
		key_pub_to_text(pk, pt);
		apply(&p, p.treasury, "account.deposit",
		    json_pack("{s:s,s:s,s:I}", "to", pt, "denom", "uakt",
		        "amount", (json_int_t)1000000000000));
		advertise(&p, i);
	}
	for (int step = 0; step < steps; step++) {
		uint32_t r = rnd(100);

		p.now += rnd(50);
		if (r < 10) {
			advertise(&p, rnd(NPROV));
		} else if (r < 13) {
			key_n(1000 + rnd(NPROV), pk);
			apply(&p, pk, "provider.withdraw", json_object());
		} else if (r < 20 && orders > 0) {
			char id[STATE_ID_LEN];
			json_t *o;

			/* close a random order (frees its provider's room) */
			assert_int_equal(
			    state_orders_json(p.s[0], NULL, NULL, &o), 0);
			snprintf(id, sizeof(id), "%s",
			    json_string_value(json_object_get(
			        json_array_get(o, rnd(json_array_size(o))),
			        "id")));
			json_decref(o);
			apply(&p, p.tenant, "order.close",
			    json_pack("{s:s}", "order", id));
		} else {
			orders++;
			apply(&p, p.tenant, "order.create",
			    json_pack("{s:[{s:i,s:I,s:I,s:i}],s:s,s:I,s:s,"
			              "s:I,s:I,s:o,s:[s]}",
			        "resources", "count", 1 + rnd(2), "cpu_millis",
			        (json_int_t)(500 + rnd(4) * 500),
			        "memory_bytes",
			        (json_int_t)(1 + rnd(3)) * 1000000000,
			        "storage_bytes", 0, "denom", "uakt",
			        "max_price", (json_int_t)(100000 + rnd(400000)),
			        "manifest_hash", "h", "deposit",
			        (json_int_t)100000000, "ttl_ms",
			        (json_int_t)3600000, "attributes", attrs(1),
			        "runtimes", rnd(4) ? "wasm" : "process"));
		}
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(state_dump(p.s[i], &d[i]), 0);
		assert_int_equal(cjson_dump(d[i], &t[i], NULL), 0);
	}
	if (strcmp(t[0], t[1]) != 0)
		fail_msg("seed %llu: the index and the scan end in different "
		         "states",
		    (unsigned long long)seed);
	/* the stream did match, and did refuse, something */
	assert_true(strstr(t[0], "\"fitting\"") != NULL);
	for (int i = 0; i < 2; i++) {
		free(t[i]);
		json_decref(d[i]);
		state_free(p.s[i]);
	}
}

static void
test_index_matches_exactly_as_the_scan(void **st)
{
	(void)st;
	for (uint64_t seed = 1; seed <= 6; seed++)
		run(seed, 1500);
	/* an index with no pair in it: orders naming one fit nobody */
	bare_asks = 1;
	run(7, 300);
	bare_asks = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_matches_exactly_as_the_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
