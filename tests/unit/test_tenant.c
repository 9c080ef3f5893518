/*
 * Unit tests for the tenant library: the "why nothing matched" account
 * (tenant/explain.c) against docs/state.md's matching rules and price
 * formula, the config paths, key and deployment records
 * (tenant/config.c), what `tenant ls` and `status` show (tenant/view.c)
 * and how topup and close walk a deployment's orders (tenant/manage.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "tenant/autotopup.h"
#include "tenant/config.h"
#include "tenant/explain.h"
#include "tenant/manage.h"
#include "tenant/view.h"

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
	struct tenant_rules rules = { 1000, 10 };

	assert_int_equal(tenant_explain_nomatch(o, ps, &rules, &why), 0);
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

/* A capability (issue 15): the first one no provider offers is named,
 * by tenant_missing_capability (deploy's check before any order) and by
 * the no-match explanation. */
static void
test_explain_missing_capability(void **st)
{
	json_t *ps =
	    json_pack("[o]", provider("ed25519:a", "eu", 1, 4000, 0, 1));
	json_t *o = order(100000, NULL);
	char miss[64] = "";

	(void)st;
	json_object_set_new(json_object_get(json_array_get(ps, 0), "ask"),
	    "capabilities",
	    json_pack("[s,s]", "storage/default", "storage/beta2"));
	json_object_set_new(o, "capabilities",
	    json_pack("[s]", "storage/beta2"));
	assert_int_equal(tenant_missing_capability(o, ps, miss, sizeof(miss)),
	    0);
	json_object_set_new(o, "capabilities",
	    json_pack("[s,s]", "storage/beta2", "storage/beta3"));
	assert_int_equal(tenant_missing_capability(o, ps, miss, sizeof(miss)),
	    1);
	assert_string_equal(miss, "storage/beta3");
	expect_reason(o, ps,
	    "offers the storage class beta3 (capability storage/beta3)");
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

/* signedBy naming an auditor who never attested: matching refuses every
 * provider (ledger/state_match.c's attested), so must the explanation --
 * never "a provider fits now". */
static void
test_explain_signed_by_unattested_auditor(void **st)
{
	json_t *ps =
	    json_pack("[o]", provider("ed25519:a", "eu", 1, 4000, 0, 1));
	json_t *o = order(100000, "eu");

	(void)st;
	json_object_set_new(o, "signed_by",
	    json_pack("{s:[s]}", "all_of", "ed25519:auditor"));
	expect_reason(o, ps, "no current provider.attest by ed25519:auditor");
}

/* An attestation counts only with the order's attributes in it, and only
 * the auditor's own; any_of needs one of its auditors. */
static void
test_explain_signed_by_follows_the_attestation_rule(void **st)
{
	json_t *p = provider("ed25519:a", "eu", 1000000, 4000, 0, 1);
	json_t *ps = json_pack("[o]", p), *o;
	int64_t price;
	char key[64];

	(void)st;
	json_object_set_new(p, "attested_by",
	    json_pack("[{s:s,s:{s:s}}]", "auditor", "ed25519:aud", "attributes",
	        "region", "us"));
	o = order(100000, "eu");
	json_object_set_new(o, "signed_by",
	    json_pack("{s:[s]}", "all_of", "ed25519:aud"));
	assert_int_equal(
	    tenant_cheapest_fit(o, ps, 1000, &price, key, sizeof(key)),
	    ERR_NOTFOUND);
	/* attested with region=eu: it fits */
	json_object_set_new(
	    json_object_get(
	        json_array_get(json_object_get(p, "attested_by"), 0),
	        "attributes"),
	    "region", json_string("eu"));
	assert_int_equal(
	    tenant_cheapest_fit(o, ps, 1000, &price, key, sizeof(key)), 0);
	assert_int_equal(price, 500);
	assert_string_equal(key, "ed25519:a");
	/* any_of of two others: no */
	json_object_set_new(o, "signed_by",
	    json_pack("{s:[s,s]}", "any_of", "ed25519:x", "ed25519:y"));
	assert_int_equal(
	    tenant_cheapest_fit(o, ps, 1000, &price, key, sizeof(key)),
	    ERR_NOTFOUND);
	expect_reason(o, ps, "one of ed25519:x, ...");
}

/* The escrow must pay min_lease_epochs at the cheapest fitting price
 * (what state_match.c requires); the explanation names the amount. */
static void
test_explain_escrow_below_minimum_lease(void **st)
{
	json_t *ps =
	    json_pack("[o]", provider("ed25519:a", "eu", 1000000, 4000, 0, 1));
	json_t *o = order(100000, "eu");
	int64_t price;
	char key[64];

	(void)st;
	json_object_set_new(o, "deposit", json_integer(4999));
	/* the cheapest fit ignores the escrow: 500 per epoch */
	assert_int_equal(
	    tenant_cheapest_fit(o, ps, 1000, &price, key, sizeof(key)), 0);
	assert_int_equal(price, 500);
	expect_reason(o, ps, "minimum lease of 10 epochs (5000)");
}

/* Ties go as the market breaks them: the older ask, then the lower
 * key. */
static void
test_cheapest_fit_breaks_ties_like_the_market(void **st)
{
	json_t *a = provider("ed25519:b", "eu", 1000000, 4000, 0, 1);
	json_t *b = provider("ed25519:a", "eu", 1000000, 4000, 0, 1);
	json_t *c = provider("ed25519:c", "eu", 2000000, 4000, 0, 1);
	json_t *ps, *o = order(100000, "eu");
	int64_t price;
	char key[64];

	(void)st;
	json_object_set_new(a, "ask_time", json_integer(5));
	json_object_set_new(b, "ask_time", json_integer(9));
	json_object_set_new(c, "ask_time", json_integer(1));
	ps = json_pack("[o,o,o]", c, b, a);
	assert_int_equal(
	    tenant_cheapest_fit(o, ps, 1000, &price, key, sizeof(key)), 0);
	assert_string_equal(key, "ed25519:b"); /* older ask at 500 */
	json_object_set_new(b, "ask_time", json_integer(5));
	assert_int_equal(
	    tenant_cheapest_fit(o, ps, 1000, &price, key, sizeof(key)), 0);
	assert_string_equal(key, "ed25519:a"); /* same age: lower key */
	json_decref(ps);
	json_decref(o);
}

static void
test_rules_and_fees_from_info(void **st)
{
	struct tenant_rules r;
	json_t *info = json_pack("{s:i,s:i,s:{s:i,s:{s:i}}}", "epoch_ms", 6000,
	    "min_lease_epochs", 10, "fees", "default", 100, "kinds",
	    "lease.usage", 10);

	(void)st;
	assert_int_equal(tenant_rules_from_info(info, &r), 0);
	assert_int_equal(r.epoch_ms, 6000);
	assert_int_equal(r.min_lease_epochs, 10);
	assert_int_equal(tenant_fee_of(info, "order.create"), 100);
	assert_int_equal(tenant_fee_of(info, "lease.usage"), 10);
	json_object_del(info, "min_lease_epochs");
	assert_int_equal(tenant_rules_from_info(info, &r), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "min_lease_epochs"));
	json_decref(info);
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

/* ---- view: what ls and status show ------------------------------------ */

static void
test_ids_are_a_kind_a_dash_and_digits(void **st)
{
	(void)st;
	assert_true(tenant_is_id("o-3", 'o'));
	assert_true(tenant_is_id("l-12", 'l'));
	assert_false(tenant_is_id("o-3", 'l'));
	assert_false(tenant_is_id("o-", 'o'));
	assert_false(tenant_is_id("o-3x", 'o'));
	assert_false(tenant_is_id("o3", 'o'));
	assert_false(tenant_is_id(NULL, 'o'));
}

static void
test_escrow_is_summed_per_denom_over_positive_escrows(void **st)
{
	json_t *orders = json_pack("[{s:s,s:i},{s:s,s:i},{s:s,s:i},{s:i},"
	                           "{s:s,s:i}]",
	           "denom", "uakt", "escrow", 500, "denom", "uakt", "escrow", 7,
	           "denom", "uusd", "escrow", 3, "escrow", 100, "denom", "uakt",
	           "escrow", 0),
	       *e = NULL;

	(void)st;
	assert_int_equal(tenant_escrow_by_denom(orders, &e), 0);
	assert_int_equal(json_object_size(e), 2);
	assert_int_equal(json_integer_value(json_object_get(e, "uakt")), 507);
	assert_int_equal(json_integer_value(json_object_get(e, "uusd")), 3);
	json_decref(e);
	/* no orders (the market could not be read): no escrow */
	assert_int_equal(tenant_escrow_by_denom(NULL, &e), 0);
	assert_int_equal(json_object_size(e), 0);
	json_decref(e);
	json_decref(orders);
}

/* An order as GET /v1/orders shows it. */
static json_t *
market_order(const char *id, const char *status, const char *lease,
    json_int_t escrow)
{
	json_t *o = json_pack("{s:s,s:s,s:o,s:n,s:I,s:i,s:s}", "id", id,
	    "status", status, "lease", lease ? json_string(lease) : json_null(),
	    "reason", "escrow", escrow, "max_price", 100, "denom", "uakt");

	assert_non_null(o);
	return o;
}

static json_t *
ls_rows(json_t *orders, json_t *leases, bool all)
{
	struct tenant_paths p;
	json_t *rows = NULL;

	assert_int_equal(tenant_paths_init(&p), 0);
	assert_int_equal(tenant_ls_rows(orders, leases, &p, all, &rows), 0);
	json_decref(orders);
	json_decref(leases);
	return rows;
}

static const char *
row_str(const json_t *rows, size_t i, const char *k)
{
	return json_string_value(json_object_get(json_array_get(rows, i), k));
}

static json_int_t
row_int(const json_t *rows, size_t i, const char *k)
{
	return json_integer_value(json_object_get(json_array_get(rows, i), k));
}

static void
test_ls_joins_each_order_with_its_lease(void **st)
{
	json_t *leases = json_pack("[{s:s,s:s,s:s,s:i,s:i,s:i,s:s},"
	                           "{s:s,s:s,s:s,s:i,s:i,s:i,s:n}]",
	    "id", "l-2", "status", "closed", "provider", "ed25519:p", "price",
	    40, "charged", 120, "escrow", 380, "reason", "insufficient_funds",
	    "id", "l-9", "status", "active", "provider", "ed25519:q", "price",
	    1, "charged", 0, "escrow", 1, "reason");
	json_t *rows = ls_rows(json_pack("[o,o]",
	                           market_order("o-1", "matched", "l-2", 500),
	                           market_order("o-3", "open", NULL, 900)),
	    leases, false);

	(void)st;
	assert_int_equal(json_array_size(rows), 2);
	/* the lease's money and reason win over its order's */
	assert_string_equal(row_str(rows, 0, "deployment"), "o-1");
	assert_string_equal(row_str(rows, 0, "lease"), "l-2");
	assert_string_equal(row_str(rows, 0, "lease_status"), "closed");
	assert_string_equal(row_str(rows, 0, "provider"), "ed25519:p");
	assert_int_equal(row_int(rows, 0, "price"), 40);
	assert_int_equal(row_int(rows, 0, "charged"), 120);
	assert_int_equal(row_int(rows, 0, "escrow"), 380);
	assert_string_equal(row_str(rows, 0, "reason"), "insufficient_funds");
	/* an order without a lease keeps its own escrow, no lease fields */
	assert_string_equal(row_str(rows, 1, "order"), "o-3");
	assert_int_equal(row_int(rows, 1, "escrow"), 900);
	assert_true(
	    json_is_null(json_object_get(json_array_get(rows, 1), "lease")));
	assert_null(json_object_get(json_array_get(rows, 1), "provider"));
	json_decref(rows);
}

static void
test_ls_hides_closed_orders_unless_all(void **st)
{
	json_t *rows;

	(void)st;
	rows =
	    ls_rows(json_pack("[o,o]", market_order("o-1", "closed", NULL, 0),
	                market_order("o-2", "open", NULL, 5)),
	        json_array(), false);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(row_str(rows, 0, "order"), "o-2");
	json_decref(rows);
	rows =
	    ls_rows(json_pack("[o,o]", market_order("o-1", "closed", NULL, 0),
	                market_order("o-2", "open", NULL, 5)),
	        json_array(), true);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(row_str(rows, 0, "status"), "closed");
	json_decref(rows);
}

static void
test_ls_names_the_deployment_from_the_local_record(void **st)
{
	struct tenant_paths p;
	json_t *rec =
	    json_pack("{s:s,s:[s,s]}", "id", "o-4", "orders", "o-4", "o-6");
	json_t *rows;

	(void)st;
	assert_int_equal(tenant_paths_init(&p), 0);
	assert_int_equal(tenant_record_save(&p, rec), 0);
	json_decref(rec);
	rows = ls_rows(json_pack("[o,o]", market_order("o-6", "open", NULL, 1),
	                   market_order("o-8", "open", NULL, 1)),
	    json_array(), false);
	assert_string_equal(row_str(rows, 0, "deployment"), "o-4");
	/* without a record, an order is its own deployment */
	assert_string_equal(row_str(rows, 1, "deployment"), "o-8");
	json_decref(rows);
}

static void
test_service_urls_are_global_exposes_through_the_gateway(void **st)
{
	json_t *ps = json_pack("{s:[{s:s,s:[{s:b},{s:b}]},{s:s,s:[{s:b}]},"
	                       "{s:[{s:b}]}]}",
	           "replicas", "service", "web", "expose", "global", 0,
	           "global", 1, "service", "db", "expose", "global", 0,
	           "expose", "global", 1),
	       *urls = NULL;

	(void)st;
	assert_int_equal(
	    tenant_service_urls(ps, "http://127.0.0.1:8443", "l-5", &urls), 0);
	assert_int_equal(json_object_size(urls), 1);
	assert_string_equal(json_string_value(json_object_get(urls, "web")),
	    "http://127.0.0.1:8443/l/l-5/web/");
	json_decref(urls);
	json_decref(ps);
}

static void
test_a_lease_id_resolves_to_itself_and_others_are_refused(void **st)
{
	struct tenant_client c = { 0 };
	char lease[32];

	(void)st;
	assert_int_equal(tenant_resolve_lease(&c, "l-42", lease, sizeof(lease)),
	    0);
	assert_string_equal(lease, "l-42");
	assert_int_equal(tenant_resolve_lease(&c, "x-1", lease, sizeof(lease)),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "\"x-1\" is neither a lease"));
}

/* ---- manage: topup and close ------------------------------------------ */

static void
test_deployment_orders_come_from_the_record_or_the_order_alone(void **st)
{
	struct tenant_client c = { 0 };
	struct tenant_paths p;
	json_t *rec = json_pack("{s:s,s:[s,s]}", "id", "o-4", "orders", "o-4",
	           "o-6"),
	       *ids = NULL;

	(void)st;
	assert_int_equal(tenant_paths_init(&p), 0);
	assert_int_equal(tenant_record_save(&p, rec), 0);
	assert_int_equal(tenant_deployment_orders(&c, &p, "o-4", &ids), 0);
	assert_true(json_equal(ids, json_object_get(rec, "orders")));
	json_decref(ids);
	assert_int_equal(tenant_deployment_orders(&c, &p, "o-5", &ids), 0);
	assert_int_equal(json_array_size(ids), 1);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "o-5");
	json_decref(ids);
	assert_int_equal(tenant_deployment_orders(&c, &p, "d-1", &ids),
	    ERR_INVAL);
	assert_null(ids);
	assert_non_null(strstr(err_msg(), "neither a deployment (o-N)"));
	json_decref(rec);
}

struct told {
	int failed, done;
	char first[16];
};

static void
count_change(void *ctx, const struct tenant_change *ch)
{
	struct told *t = ctx;

	if (ch->rc != 0) {
		if (t->failed++ == 0)
			snprintf(t->first, sizeof(t->first), "%s", ch->order);
		assert_true(err_msg()[0] != '\0');
	} else {
		t->done++;
	}
}

static void
test_close_and_topup_refuse_a_bad_id_before_any_entry(void **st)
{
	struct tenant_client c = { 0 };
	struct tenant_paths p;
	struct told t = { 0 };
	json_t *rows = NULL;

	(void)st;
	assert_int_equal(tenant_paths_init(&p), 0);
	assert_int_equal(tenant_close(&c, &p, "x-1", count_change, &t, &rows),
	    ERR_INVAL);
	assert_null(rows);
	assert_int_equal(
	    tenant_topup(&c, &p, "x-1", 5, count_change, &t, &rows), ERR_INVAL);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_int_equal(t.failed + t.done, 0);
}

/* topup --auto: bad amounts, epochs and ids are refused before anything
 * is signed (the client has no key and no market: reaching them would
 * fail otherwise); a lease's standing top-up is told as the market
 * holds it, on and off, and not at all before one was signed. */
static void
test_autotopup_checks_and_describes(void **st)
{
	struct tenant_client c = { 0 };
	json_t *l = NULL;
	char buf[512];

	(void)st;
	assert_int_equal(tenant_autotopup(&c, "l-3", -1, 5, &l), ERR_INVAL);
	assert_int_equal(tenant_autotopup(&c, "l-3", 100, 0, &l), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "--below"));
	assert_int_equal(tenant_autotopup(&c, "l-3", 100,
	                     TENANT_AUTOTOPUP_MAX_EPOCHS + 1, &l),
	    ERR_INVAL);
	assert_int_equal(tenant_autotopup(&c, "x-3", 100, 5, &l), ERR_INVAL);
	assert_null(l);
	l = json_pack("{s:s}", "id", "l-3");
	assert_null(tenant_autotopup_describe(l, "uakt", buf, sizeof(buf)));
	json_object_set_new(l, "auto_topup",
	    json_pack("{s:b,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "on", 1,
	        "amount", 3200, "below_epochs", 8, "index", 42, "time", 1,
	        "instructions", 5, "applied", 3, "moved", 9600, "shortfalls",
	        1));
	assert_string_equal(
	    tenant_autotopup_describe(l, "uakt", buf, sizeof(buf)),
	    "0.0032 AKT (3200 uakt) when the escrow pays fewer than 8 epochs "
	    "(set at ledger index 42); 3 made (0.0096 AKT (9600 uakt)), 1 "
	    "short");
	json_object_set_new(json_object_get(l, "auto_topup"), "on",
	    json_false());
	assert_string_equal(
	    tenant_autotopup_describe(l, NULL, buf, sizeof(buf)),
	    "off (cancelled at ledger index 42); 3 made (0.0096 AKT (9600 "
	    "uakt)), 1 short");
	json_decref(l);
}

/* A market URL nobody answers: a bound loopback port that never
 * listens, so every request fails at once.  *fd is to be closed. */
static void
dead_market(char *url, size_t cap, int *fd)
{
	struct sockaddr_in a = { 0 };
	socklen_t len = sizeof(a);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((*fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	snprintf(url, cap, "http://127.0.0.1:%d", ntohs(a.sin_port));
}

static void
test_close_goes_on_past_a_failed_order_and_returns_the_first_code(void **st)
{
	struct tenant_client c;
	struct tenant_paths p;
	struct told t = { 0 };
	json_t *rec = json_pack("{s:s,s:[s,s]}", "id", "o-4", "orders", "o-4",
	           "o-6"),
	       *rows = NULL;
	char url[64];
	int fd, rc;

	(void)st;
	dead_market(url, sizeof(url), &fd);
	assert_int_equal(tenant_paths_init(&p), 0);
	assert_int_equal(tenant_record_save(&p, rec), 0);
	assert_int_equal(tenant_client_init(&c, url, NULL), 0);
	rc = tenant_close(&c, &p, "o-4", count_change, &t, &rows);
	assert_true(rc < 0);
	/* both orders were tried, each failure told, none closed */
	assert_int_equal(t.failed, 2);
	assert_string_equal(t.first, "o-4");
	assert_int_equal(t.done, 0);
	assert_non_null(rows);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	/* topup stops at the first refusal and tells nothing */
	memset(&t, 0, sizeof(t));
	assert_true(
	    tenant_topup(&c, &p, "o-4", 5, count_change, &t, &rows) < 0);
	assert_int_equal(t.failed + t.done, 0);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	tenant_client_clear(&c);
	json_decref(rec);
	close(fd);
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
		cmocka_unit_test(test_explain_missing_capability),
		cmocka_unit_test(test_explain_capacity_full),
		cmocka_unit_test(test_explain_cheapest_fitting_ask_above_bid),
		cmocka_unit_test(test_explain_signed_by_unattested_auditor),
		cmocka_unit_test(
		    test_explain_signed_by_follows_the_attestation_rule),
		cmocka_unit_test(test_explain_escrow_below_minimum_lease),
		cmocka_unit_test(test_cheapest_fit_breaks_ties_like_the_market),
		cmocka_unit_test(test_rules_and_fees_from_info),
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
		cmocka_unit_test(test_ids_are_a_kind_a_dash_and_digits),
		cmocka_unit_test(
		    test_escrow_is_summed_per_denom_over_positive_escrows),
		cmocka_unit_test_setup_teardown(
		    test_ls_joins_each_order_with_its_lease, setup_home,
		    teardown_home),
		cmocka_unit_test_setup_teardown(
		    test_ls_hides_closed_orders_unless_all, setup_home,
		    teardown_home),
		cmocka_unit_test_setup_teardown(
		    test_ls_names_the_deployment_from_the_local_record,
		    setup_home, teardown_home),
		cmocka_unit_test(
		    test_service_urls_are_global_exposes_through_the_gateway),
		cmocka_unit_test(
		    test_a_lease_id_resolves_to_itself_and_others_are_refused),
		cmocka_unit_test_setup_teardown(
		    test_deployment_orders_come_from_the_record_or_the_order_alone,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(
		    test_close_and_topup_refuse_a_bad_id_before_any_entry,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(
		    test_close_goes_on_past_a_failed_order_and_returns_the_first_code,
		    setup_home, teardown_home),
		cmocka_unit_test(test_autotopup_checks_and_describes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
