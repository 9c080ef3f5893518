/*
 * bench_match: matching speed of the market's state machine, in process:
 * 1,000 provider asks and 10,000 open orders that wait, then new orders
 * that match (order.create + its derived lease.create), against a
 * baseline of plain transfers applied in the same run, with the default
 * money rules on (every entry pays its fee, every ask locks its bond,
 * every order's escrow covers the minimum lease).  Envelopes are built
 * unsigned (state_apply takes verified envelopes; signing is not what is
 * measured).  Then 10,000 asks in 20 regions, and orders that name a
 * region (matched through the attribute index: only that region's asks
 * are looked at) against the same orders with the index off (the scan
 * of every ask, the anchor), and orders that name no attribute (every
 * ask fits them, and the story counts them all).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "ledger/state.h"
#include "ledger/state_internal.h"

#define NPROV 1000
#define NWAIT 10000
#define NMATCH 20000
#define NBASE 20000

static uint64_t idx = 1, nonce;
static int64_t now = 1700000000000;

static double
secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
key_n(uint32_t n, uint8_t pub[KEY_PUB_LEN])
{
	memset(pub, 0, KEY_PUB_LEN);
	memcpy(pub, &n, sizeof(n));
	pub[31] = 0x5a;
}

/* An unsigned envelope (bodies are stolen). */
static struct envelope *
env(const uint8_t signer[KEY_PUB_LEN], const char *kind, json_t *body)
{
	struct envelope *e = calloc(1, sizeof(*e));
	char t[KEY_TEXT_SIZE], nb[32];

	if (e == NULL || body == NULL)
		abort();
	key_pub_to_text(signer, t);
	snprintf(nb, sizeof(nb), "b%llu", (unsigned long long)nonce++);
	e->json = json_pack("{s:s,s:o,s:s,s:s,s:I,s:s}", "kind", kind, "body",
	    body, "signer", t, "nonce", nb, "time", (json_int_t)now, "sig", "");
	if (e->json == NULL)
		abort();
	e->kind = json_string_value(json_object_get(e->json, "kind"));
	e->body = json_object_get(e->json, "body");
	e->signer_text = json_string_value(json_object_get(e->json, "signer"));
	e->nonce = json_string_value(json_object_get(e->json, "nonce"));
	memcpy(e->signer, signer, KEY_PUB_LEN);
	e->time_ms = now;
	return e;
}

static void
apply(struct state *s, const uint8_t signer[KEY_PUB_LEN], const char *kind,
    json_t *body, const uint8_t market[KEY_PUB_LEN])
{
	struct envelope *e = env(signer, kind, body);
	json_t *p;

	if (state_apply(s, e, idx++, now, NULL) != 0) {
		fprintf(stderr, "bench_match: %s: %s\n", kind, err_msg());
		exit(1);
	}
	envelope_free(e);
	if (state_pending_count(s) == 0)
		return;
	state_pending(s, &p);
	for (size_t i = 0; i < json_array_size(p); i++) {
		json_t *d = json_array_get(p, i);
		apply(s, market, json_string_value(json_object_get(d, "kind")),
		    json_incref(json_object_get(d, "body")), market);
	}
	json_decref(p);
}

static json_t *
order_body(int matching, int i)
{
	return json_pack("{s:[{s:i,s:i,s:i,s:i}],s:s,s:I,s:s,s:i,s:i,"
	                 "s:{s:s},s:[s]}",
	    "resources", "count", 1 + i % 2, "cpu_millis", 100 + i % 400,
	    "memory_bytes", 100000000, "storage_bytes", 1000000000, "denom",
	    "uakt", "max_price", (json_int_t)1000000, "manifest_hash", "h",
	    "deposit", 1000000, "ttl_ms", 86400000, "attributes", "region",
	    matching ? (i % 2 ? "eu" : "us") : "nowhere", "runtimes", "wasm");
}

/*
 * 10,000 asks in 20 regions; nmatch orders each naming a region (named
 * set) or none; the matches/s of order.create + lease.create, with the
 * attribute index or (scan set) scanning every ask.
 */
#define BIG_PROV 10000
#define BIG_REGIONS 20

static double
big_rate(int named, int scan, int nmatch)
{
	uint8_t treasury[KEY_PUB_LEN], market[KEY_PUB_LEN], tenant[KEY_PUB_LEN];
	uint8_t pk[KEY_PUB_LEN];
	char tt[KEY_TEXT_SIZE], pt[KEY_TEXT_SIZE], region[16];
	struct state_config c;
	struct state *s;
	double t0, dt;

	state_config_default(&c);
	c.check_invariants = 0;
	key_n(1, treasury);
	key_n(2, market);
	key_n(3, tenant);
	memcpy(c.treasury_key, treasury, KEY_PUB_LEN);
	memcpy(c.market_key, market, KEY_PUB_LEN);
	if (state_new(&c, &s) != 0)
		exit(1);
	key_pub_to_text(tenant, tt);
	apply(s, treasury, "account.deposit",
	    json_pack("{s:s,s:s,s:I}", "to", tt, "denom", "uakt", "amount",
	        (json_int_t)1000000000000000),
	    market);
	for (int i = 0; i < BIG_PROV; i++) {
		key_n(1000 + i, pk);
		key_pub_to_text(pk, pt);
		snprintf(region, sizeof(region), "r%d", i % BIG_REGIONS);
		apply(s, treasury, "account.deposit",
		    json_pack("{s:s,s:s,s:I}", "to", pt, "denom", "uakt",
		        "amount", (json_int_t)2000000000000),
		    market);
		apply(s, pk, "provider.advertise",
		    json_pack("{s:s,s:{s:s,s:s},"
		              "s:{s:I,s:I,s:I},s:[s],s:{s:s,s:i,s:i,s:i}}",
		        "api_url", "https://p.example", "attributes", "region",
		        region, "tier", i % 3 ? "a" : "b", "capacity",
		        "cpu_millis", (json_int_t)1000000000, "memory_bytes",
		        (json_int_t)1 << 48, "storage_bytes",
		        (json_int_t)1 << 49, "runtimes", "wasm", "price",
		        "denom", "uakt", "cpu_ms", 1000 + (i * 7919) % 100000,
		        "mem_mb_s", 10 + i % 50, "storage_mb_s", 1 + i % 5),
		    market);
	}
	st_match_index_off = scan;
	t0 = secs();
	for (int i = 0; i < nmatch; i++) {
		json_t *b = order_body(1, i);
		snprintf(region, sizeof(region), "r%d", i % BIG_REGIONS);
		if (named)
			json_object_set_new(json_object_get(b, "attributes"),
			    "region", json_string(region));
		else
			json_object_del(b, "attributes");
		apply(s, tenant, "order.create", b, market);
	}
	dt = secs() - t0;
	st_match_index_off = 0;
	if (state_pending_count(s) != 0 || state_applied(s) == 0)
		exit(1);
	state_free(s);
	return nmatch / dt;
}

int
main(void)
{
	struct state_config c;
	struct state *s;
	uint8_t treasury[KEY_PUB_LEN], market[KEY_PUB_LEN], tenant[KEY_PUB_LEN];
	uint8_t pk[KEY_PUB_LEN];
	double t0, base, match, rematch;
	char tt[KEY_TEXT_SIZE];
	json_t *v;

	state_config_default(&c);
	c.check_invariants = 0;
	key_n(1, treasury);
	key_n(2, market);
	key_n(3, tenant);
	memcpy(c.treasury_key, treasury, KEY_PUB_LEN);
	memcpy(c.market_key, market, KEY_PUB_LEN);
	if (state_new(&c, &s) != 0)
		return 1;
	key_pub_to_text(tenant, tt);
	apply(s, treasury, "account.deposit",
	    json_pack("{s:s,s:s,s:I}", "to", tt, "denom", "uakt", "amount",
	        (json_int_t)1000000000000),
	    market);
	for (int i = 0; i < NPROV; i++) {
		char pt[KEY_TEXT_SIZE];
		key_n(1000 + i, pk);
		key_pub_to_text(pk, pt);
		/* its fees and the bond of 10^6 cores and 256 TiB */
		apply(s, treasury, "account.deposit",
		    json_pack("{s:s,s:s,s:I}", "to", pt, "denom", "uakt",
		        "amount", (json_int_t)2000000000000),
		    market);
		apply(s, pk, "provider.advertise",
		    json_pack(
		        "{s:s,s:{s:s,s:s},"
		        "s:{s:I,s:I,s:I},s:[s,s],s:{s:s,s:i,s:i,s:i,s:i}}",
		        "api_url", "https://p.example", "attributes", "region",
		        i % 2 ? "eu" : "us", "tier", i % 3 ? "a" : "b",
		        "capacity", "cpu_millis", (json_int_t)1000000000,
		        "memory_bytes", (json_int_t)1 << 48, "storage_bytes",
		        (json_int_t)1 << 49, "runtimes", "process",
		        i % 4 ? "wasm" : "none", "price", "denom", "uakt",
		        "cpu_ms", 1000 + (i * 7919) % 100000, "mem_mb_s",
		        10 + i % 50, "storage_mb_s", 1 + i % 5, "request", 100),
		    market);
	}
	for (int i = 0; i < NWAIT; i++)
		apply(s, tenant, "order.create", order_body(0, i), market);

	/* baseline: plain transfers through the same apply path */
	t0 = secs();
	for (int i = 0; i < NBASE; i++) {
		key_n(500000 + i % 1000, pk);
		key_pub_to_text(pk, tt);
		apply(s, tenant, "account.transfer",
		    json_pack("{s:s,s:s,s:i}", "to", tt, "denom", "uakt",
		        "amount", 1),
		    market);
	}
	base = secs() - t0;

	/* new orders, each scanning 1,000 asks and creating a lease */
	t0 = secs();
	for (int i = 0; i < NMATCH; i++)
		apply(s, tenant, "order.create", order_body(1, i), market);
	match = secs() - t0;
	state_leases_json(s, NULL, NULL, &v);
	if (json_array_size(v) != NMATCH) {
		fprintf(stderr, "bench_match: %zu leases, expected %d\n",
		    json_array_size(v), NMATCH);
		return 1;
	}
	json_decref(v);

	/* a changed ask re-runs matching over the 10,000 waiting orders */
	t0 = secs();
	for (int i = 0; i < 100; i++) {
		key_n(1000 + i, pk);
		now++;
		apply(s, pk, "provider.advertise",
		    json_pack("{s:s,s:{s:s},"
		              "s:{s:I,s:I,s:I},s:[s],s:{s:s,s:i}}",
		        "api_url", "https://p", "attributes", "region", "eu",
		        "capacity", "cpu_millis", (json_int_t)1000000000,
		        "memory_bytes", (json_int_t)1 << 48, "storage_bytes",
		        (json_int_t)1 << 49, "runtimes", "wasm", "price",
		        "denom", "uakt", "cpu_ms", 1000 + i),
		    market);
	}
	rematch = secs() - t0;

	printf("match: %.0f matches/s (%d providers, %d open orders; "
	       "order.create + lease.create, %d matches)\n",
	    NMATCH / match, NPROV, NWAIT, NMATCH);
	printf("baseline: %.0f transfers/s through state_apply; a match costs "
	       "%.1fx a transfer\n",
	    NBASE / base, (match / NMATCH) / (base / NBASE));
	printf("rematch: %.0f order checks/s (a changed ask re-run over %d "
	       "waiting orders)\n",
	    100.0 * NWAIT / rematch, NWAIT);
	state_free(s);
	{
		double named = big_rate(1, 0, 40000);
		double scan = big_rate(1, 1, 4000);
		double any = big_rate(0, 0, 4000);

		printf("match at %d providers in %d regions, orders naming a "
		       "region: %.0f matches/s (goal >= 50000) = %.1fx the "
		       "scan of every ask (%.0f matches/s)\n",
		    BIG_PROV, BIG_REGIONS, named, named / scan, scan);
		printf("match at %d providers, orders naming no attribute "
		       "(every ask fits and is counted): %.0f matches/s\n",
		    BIG_PROV, any);
		if (named < 50000)
			return 2;
	}
	return NMATCH / match >= 50000 ? 0 : 2;
}
