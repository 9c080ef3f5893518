/*
 * Unit tests for amounts, rates and durations for people
 * (common/units.c) and a lease's money as `tenant status` and `tenant
 * ls` show it (tenant_money_json, tenant/money.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "common/units.h"
#include "tenant/money.h"

static void
expect_tokens(int64_t micro, const char *denom, const char *want)
{
	char buf[64];

	units_fmt_tokens(micro, denom, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
test_tokens(void **st)
{
	(void)st;
	expect_tokens(0, "uakt", "0 AKT");
	expect_tokens(1, "uakt", "0.000001 AKT");
	expect_tokens(64000, "uakt", "0.064 AKT");
	expect_tokens(640000, "uakt", "0.64 AKT");
	expect_tokens(1000000, "uakt", "1 AKT");
	expect_tokens(1234567890, "uakt", "1234.56789 AKT");
	expect_tokens(-1500000, "uakt", "-1.5 AKT");
	expect_tokens(INT64_MIN, "uakt", "-9223372036854.775808 AKT");
	expect_tokens(2500000, "uact", "2.5 ACT");
	/* not a micro denomination: as it is */
	expect_tokens(42, "credits", "42 credits");
	/* none: uakt */
	expect_tokens(500000, NULL, "0.5 AKT");
}

static void
test_amount(void **st)
{
	char buf[96];

	(void)st;
	units_fmt_amount(640000, "uakt", buf, sizeof(buf));
	assert_string_equal(buf, "0.64 AKT (640000 uakt)");
	units_fmt_amount(7, "credits", buf, sizeof(buf));
	assert_string_equal(buf, "7 credits");
	/* a short buffer is cut, NUL-terminated */
	units_fmt_amount(640000, "uakt", buf, 8);
	assert_int_equal(strlen(buf), 7);
}

static void
expect_duration(int64_t ms, const char *want)
{
	char buf[32];

	units_fmt_duration(ms, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
test_parse_duration(void **st)
{
	int64_t ms = -1;

	(void)st;
	assert_int_equal(units_parse_duration("24h", "x", INT64_MAX, &ms), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(units_parse_duration("90", "x", INT64_MAX, &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(units_parse_duration("0", "x", INT64_MAX, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(units_parse_duration("1h30m", "x", INT64_MAX, &ms), 0);
	assert_int_equal(ms, 5400000);
	assert_int_equal(units_parse_duration("2d", "x", INT64_MAX, &ms), 0);
	assert_int_equal(ms, 2 * 86400000LL);
	assert_int_equal(units_parse_duration("1500ms", "x", INT64_MAX, &ms),
	    0);
	assert_int_equal(ms, 1500);
	assert_int_equal(units_parse_duration("20s", "x", INT64_MAX, &ms), 0);
	assert_int_equal(ms, 20000);
	ms = 7;
	assert_int_equal(units_parse_duration("", "--g", INT64_MAX, &ms),
	    ERR_INVAL);
	assert_int_equal(units_parse_duration("1x", "--g", INT64_MAX, &ms),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "--g"));
	assert_int_equal(units_parse_duration("-1h", "--g", INT64_MAX, &ms),
	    ERR_INVAL);
	assert_int_equal(units_parse_duration("1m1h", "--g", INT64_MAX, &ms),
	    ERR_INVAL);
	assert_int_equal(units_parse_duration("h", "--g", INT64_MAX, &ms),
	    ERR_INVAL);
	assert_int_equal(units_parse_duration("2d", "--g", 86400000, &ms),
	    ERR_RANGE);
	assert_int_equal(units_parse_duration("99999999999999999999d", "--g",
	                     INT64_MAX, &ms),
	    ERR_RANGE);
	assert_int_equal(ms, 7);
}

static void
test_duration(void **st)
{
	(void)st;
	expect_duration(-1, "forever");
	expect_duration(0, "0s");
	expect_duration(999, "0s");
	expect_duration(45000, "45s");
	expect_duration(60000, "1m");
	expect_duration(125000, "2m 5s");
	expect_duration(3600000, "1h");
	expect_duration(4 * 3600000 + 12 * 60000 + 59000, "4h 12m");
	expect_duration(3 * 86400000LL + 4 * 3600000, "3d 4h");
	expect_duration(400 * 86400000LL, "400d");
}

static void
test_rates(void **st)
{
	(void)st;
	/* 1000 per 6 s epoch: 600000 per hour, 432 M per 30 days */
	assert_int_equal(units_rate_per(1000, 6000, 3600000), 600000);
	assert_int_equal(units_rate_per(1000, 6000, UNITS_MONTH_MS), 432000000);
	/* rounded to the nearest micro-unit */
	assert_int_equal(units_rate_per(1, 7000, 10000), 1);
	assert_int_equal(units_rate_per(1, 7000, 3000), 0);
	assert_int_equal(units_rate_per(1, 7000, 4000), 1);
	/* saturates instead of overflowing */
	assert_true(units_rate_per(INT64_MAX, 1, UNITS_MONTH_MS) == INT64_MAX);
	assert_int_equal(units_rate_per(5, 0, 1000), 0);
	/* whole epochs the escrow pays */
	assert_int_equal(units_lasts_ms(1000, 100, 6000), 60000);
	assert_int_equal(units_lasts_ms(1099, 100, 6000), 60000);
	assert_int_equal(units_lasts_ms(99, 100, 6000), 0);
	assert_int_equal(units_lasts_ms(1000, 0, 6000), -1);
	assert_int_equal(units_lasts_ms(0, 100, 6000), 0);
}

static void
test_money_json(void **st)
{
	json_t *m, *h;

	(void)st;
	/* 64000 uakt per 1 s epoch, 3.2 AKT of escrow */
	m = tenant_money_json(64000, 3200000, "uakt", 1000);
	assert_non_null(m);
	assert_int_equal(json_integer_value(json_object_get(m, "per_hour")),
	    230400000);
	assert_int_equal(json_integer_value(json_object_get(m, "per_month")),
	    165888000000LL);
	assert_int_equal(json_integer_value(json_object_get(m, "lasts_ms")),
	    50000);
	h = json_object_get(m, "human");
	assert_string_equal(json_string_value(json_object_get(h, "per_epoch")),
	    "0.064 AKT (64000 uakt)");
	assert_string_equal(json_string_value(json_object_get(h, "per_hour")),
	    "230.4 AKT (230400000 uakt)");
	assert_string_equal(json_string_value(json_object_get(h, "escrow")),
	    "3.2 AKT (3200000 uakt)");
	assert_string_equal(json_string_value(json_object_get(h, "lasts")),
	    "50s");
	json_decref(m);
	/* a free lease lasts forever; no denomination is uakt */
	m = tenant_money_json(0, 10, NULL, 6000);
	assert_string_equal(json_string_value(json_object_get(m, "denom")),
	    "uakt");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(m, "human"), "lasts")),
	    "forever");
	json_decref(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_amount),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_money_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
