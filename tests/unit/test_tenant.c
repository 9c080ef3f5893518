/*
 * Unit tests for the tenant library: the "why nothing matched" account
 * (tenant/explain.c) against docs/state.md's matching rules and price
 * formula, and the config paths, key and deployment records
 * (tenant/config.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "tenant/config.h"
#include "tenant/explain.h"

/* An order as `sdl orders` + deposit/ttl gives it: 500m CPU, 128 MiB,
 * 64 MiB, region=eu, process runtime, bid max_price. */
static json_t *
order(json_int_t max_price, const char *region)
{
	json_t *o = json_pack("{s:{},s:s,s:I,s:[{s:i,s:i,s:I,s:I}],s:[s]}",
	    "attributes", "denom", "uakt", "max_price", max_price, "resources",
	    "count", 1, "cpu_millis", 500, "memory_bytes",
	    (json_int_t)134217728, "storage_bytes", (json_int_t)67108864,
	    "runtimes", "process");
	assert_non_null(o);
	if (region)
		json_object_set_new(json_object_get(o, "attributes"), "region",
		    json_string(region));
	return o;
}

/* A provider as GET /v1/providers shows it. */
static json_t *
provider(const char *key, const char *region, json_int_t cpu_price,
    json_int_t cpu_cap, json_int_t cpu_used, int online)
{
	json_t *p = json_pack(
	    "{s:s,s:b,s:b,s:{s:{s:s},s:{s:s,s:I},s:[s]},"
	    "s:{s:I,s:I,s:I,s:i},s:{s:I,s:I,s:I,s:i},s:{s:i,s:i,s:i,s:i}}",
	    "key", key, "online", online, "withdrawn", 0, "ask", "attributes",
	    "region", region, "price", "denom", "uakt", "cpu_ms", cpu_price,
	    "runtimes", "process", "capacity", "cpu_millis", cpu_cap,
	    "memory_bytes", (json_int_t)8000000000, "storage_bytes",
	    (json_int_t)100000000000, "gpu_units", 0, "used", "cpu_millis",
	    cpu_used, "memory_bytes", (json_int_t)0, "storage_bytes",
	    (json_int_t)0, "gpu_units", 0, "pending", "cpu_millis", 0,
	    "memory_bytes", 0, "storage_bytes", 0, "gpu_units", 0);
	assert_non_null(p);
	return p;
}

static void
expect_reason(json_t *o, json_t *ps, const char *needle)
{
	char *why = NULL;

	assert_int_equal(tenant_explain_nomatch(o, ps, 1000, &why), 0);
	assert_non_null(why);
	if (strstr(why, needle) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", needle, why);
	free(why);
	json_decref(o);
	json_decref(ps);
}

static void
test_ask_price_follows_state_md_formula(void **st)
{
	struct tenant_need n = { 500, 134217728, 67108864, 0 };
	json_t *price = json_pack("{s:s,s:i,s:i,s:i}", "denom", "uakt",
	    "cpu_ms", 1000000, "mem_mb_s", 1000, "storage_mb_s", 10);
	int64_t v;

	(void)st;
	/* E=1000: floor(1000*(10^6*500*10^6 + 1000*134217728 +
	 * 10*67108864)/10^15) = floor(500.134888...) */
	assert_int_equal(tenant_ask_price(price, &n, 1000, &v), 0);
	assert_int_equal(v, 500);
	/* E=6000: 6 * 500.1348... = 3000.809 -> 3000 */
	assert_int_equal(tenant_ask_price(price, &n, 6000, &v), 0);
	assert_int_equal(v, 3000);
	json_decref(price);
}

static void
test_ask_price_refuses_out_of_range_components(void **st)
{
	struct tenant_need n = { 500, 1, 1, 0 };
	json_t *price = json_pack("{s:I}", "cpu_ms", (json_int_t)1 << 41);
	int64_t v;

	(void)st;
	assert_int_equal(tenant_ask_price(price, &n, 1000, &v), ERR_RANGE);
	json_decref(price);
}

static void
test_order_need_multiplies_counts(void **st)
{
	json_t *o = order(100, NULL);
	struct tenant_need n;

	(void)st;
	json_object_set_new(json_array_get(json_object_get(o, "resources"), 0),
	    "count", json_integer(3));
	assert_int_equal(tenant_order_need(o, &n), 0);
	assert_int_equal(n.cpu_millis, 1500);
	assert_int_equal(n.memory_bytes, 3 * 134217728ull);
	json_decref(o);
}

static void
test_explain_no_provider_at_all(void **st)
{
	(void)st;
	expect_reason(order(100, NULL), json_array(),
	    "no provider is "
	    "advertising");
}

static void
test_explain_all_offline(void **st)
{
	json_t *ps =
	    json_pack("[o]", provider("ed25519:a", "eu", 1, 4000, 0, 0));

	(void)st;
	expect_reason(order(100000, NULL), ps, "no provider is online");
}

static void
test_explain_missing_attribute_names_it(void **st)
{
	json_t *ps =
	    json_pack("[o,o]", provider("ed25519:a", "eu", 1, 4000, 0, 1),
	        provider("ed25519:b", "us", 1, 4000, 0, 1));

	(void)st;
	expect_reason(order(100000, "mars"), ps,
	    "attributes asked "
	    "(region=mars)");
}

static void
test_explain_missing_runtime(void **st)
{
	json_t *ps =
	    json_pack("[o]", provider("ed25519:a", "eu", 1, 4000, 0, 1));
	json_t *o = order(100000, NULL);

	(void)st;
	json_array_append_new(json_object_get(o, "runtimes"),
	    json_string("wasm"));
	expect_reason(o, ps, "offers the wasm runtime");
}

static void
test_explain_capacity_full(void **st)
{
	/* 4000m advertised, 3800m used: 500m does not fit */
	json_t *ps =
	    json_pack("[o]", provider("ed25519:a", "eu", 1, 4000, 3800, 1));

	(void)st;
	expect_reason(order(100000, "eu"), ps, "resources free (cpu 500m");
}

static void
test_explain_cheapest_fitting_ask_above_bid(void **st)
{
	/* prices 500 and 1000 per epoch (500m at 10^6 and 2*10^6 per 10^6
	 * cpu_ms, E = 1 s): the cheapest fitting is 500, bid 100 */
	json_t *ps = json_pack("[o,o,o]",
	    provider("ed25519:exp", "eu", 2000000, 4000, 0, 1),
	    provider("ed25519:cheap", "eu", 1000000, 4000, 0, 1),
	    provider("ed25519:full", "eu", 1, 4000, 4000, 1));

	(void)st;
	expect_reason(order(100, "eu"), ps,
	    "cheapest fitting ask is 500 "
	    "uakt/epoch (ed25519:cheap), above the bid of 100");
}

static void
test_explain_price_beats_capacity_as_the_closer_reason(void **st)
{
	/* one provider lacks the attribute, one is full, one is too
	 * dear: the closest miss (price) is what the tenant hears */
	json_t *ps =
	    json_pack("[o,o,o]", provider("ed25519:us", "us", 1, 4000, 0, 1),
	        provider("ed25519:full", "eu", 1, 4000, 4000, 1),
	        provider("ed25519:dear", "eu", 4000000, 4000, 0, 1));

	(void)st;
	expect_reason(order(100, "eu"), ps, "(ed25519:dear)");
}

/* ---- config ---------------------------------------------------------- */

static char tmpdir[64];

static int
setup_home(void **st)
{
	(void)st;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lodge-tenant-test-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	setenv("XDG_CONFIG_HOME", tmpdir, 1);
	return 0;
}

static int
teardown_home(void **st)
{
	char cmd[128];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
test_paths_follow_xdg_config_home(void **st)
{
	struct tenant_paths p;
	char want[128];

	(void)st;
	assert_int_equal(tenant_paths_init(&p), 0);
	snprintf(want, sizeof(want), "%s/lodge/tenant.key", tmpdir);
	assert_string_equal(p.key, want);
}

static void
test_key_is_created_0600_once(void **st)
{
	struct tenant_paths p;
	struct key *k = NULL, *k2 = NULL;
	struct stat sb;

	(void)st;
	assert_int_equal(tenant_paths_init(&p), 0);
	assert_int_equal(tenant_key_load(&p, &k), ERR_NOTFOUND);
	assert_non_null(strstr(err_msg(), "tenant keygen"));
	assert_int_equal(tenant_key_create(&p, &k), 0);
	assert_int_equal(stat(p.key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(tenant_key_create(&p, &k2), ERR_CONFLICT);
	assert_int_equal(tenant_key_load(&p, &k2), 0);
	key_free(k);
	key_free(k2);
}

static void
test_records_round_trip_and_find_by_any_order(void **st)
{
	struct tenant_paths p;
	json_t *rec = json_pack("{s:s,s:[s,s]}", "id", "o-7", "orders", "o-7",
	           "o-9"),
	       *got = NULL;

	(void)st;
	assert_int_equal(tenant_paths_init(&p), 0);
	assert_int_equal(tenant_record_save(&p, rec), 0);
	assert_int_equal(tenant_record_load(&p, "o-7", &got), 0);
	assert_true(json_equal(rec, got));
	json_decref(got);
	assert_int_equal(tenant_record_find_order(&p, "o-9", &got), 0);
	assert_string_equal(json_string_value(json_object_get(got, "id")),
	    "o-7");
	json_decref(got);
	assert_int_equal(tenant_record_find_order(&p, "o-8", &got),
	    ERR_NOTFOUND);
	json_decref(rec);
}

static void
test_record_ids_cannot_escape_the_directory(void **st)
{
	struct tenant_paths p;
	json_t *got = NULL;

	(void)st;
	assert_int_equal(tenant_paths_init(&p), 0);
	assert_int_equal(tenant_record_load(&p, "../../etc/passwd", &got),
	    ERR_INVAL);
	assert_int_equal(tenant_record_load(&p, "o-1/../x", &got), ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ask_price_follows_state_md_formula),
		cmocka_unit_test(
		    test_ask_price_refuses_out_of_range_components),
		cmocka_unit_test(test_order_need_multiplies_counts),
		cmocka_unit_test(test_explain_no_provider_at_all),
		cmocka_unit_test(test_explain_all_offline),
		cmocka_unit_test(test_explain_missing_attribute_names_it),
		cmocka_unit_test(test_explain_missing_runtime),
		cmocka_unit_test(test_explain_capacity_full),
		cmocka_unit_test(test_explain_cheapest_fitting_ask_above_bid),
		cmocka_unit_test(
		    test_explain_price_beats_capacity_as_the_closer_reason),
		cmocka_unit_test_setup_teardown(
		    test_paths_follow_xdg_config_home, setup_home,
		    teardown_home),
		cmocka_unit_test_setup_teardown(test_key_is_created_0600_once,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(
		    test_records_round_trip_and_find_by_any_order, setup_home,
		    teardown_home),
		cmocka_unit_test_setup_teardown(
		    test_record_ids_cannot_escape_the_directory, setup_home,
		    teardown_home),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
