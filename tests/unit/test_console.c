/*
 * test_console: which names the market serves from console/ (nothing
 * outside it: no "..", no absolute or hidden path, one folder level, a
 * known extension) and with which content type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "market/market_internal.h"

static void
test_names_served(void **state)
{
	static const char *ok[] = { "index.html", "app.js", "style.css",
		"icon.svg", "vendor/x.js", "a-b_c.d.js", "data.json" };

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(market_console_name_ok(ok[i]), 1);
}

static void
test_names_refused(void **state)
{
	static const char *bad[] = { "", "..", "../Makefile", "../x.js",
		"a/../b.js", "/etc/passwd.txt", ".hidden.js", "a/.b.js",
		".git/config", "a/b/c.js", "a//b.js", "a/", "/", "x.c",
		"README.md", "x.js/", "x%2f.js", "x\\y.js", "x y.js", "x.JSX",
		"noext", "a/b" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (market_console_name_ok(bad[i]) != 0)
			fail_msg("served \"%s\"", bad[i]);
	}
}

static void
test_long_name_refused(void **state)
{
	char name[200];

	(void)state;
	memset(name, 'a', sizeof(name));
	memcpy(name + sizeof(name) - 4, ".js", 4);
	assert_int_equal(market_console_name_ok(name), 0);
}

static void
test_types(void **state)
{
	(void)state;
	assert_string_equal(market_console_type("a.js"),
	    "text/javascript; charset=utf-8");
	assert_string_equal(market_console_type("index.html"),
	    "text/html; charset=utf-8");
	assert_string_equal(market_console_type("s.css"),
	    "text/css; charset=utf-8");
	assert_string_equal(market_console_type("i.svg"), "image/svg+xml");
	assert_null(market_console_type("x.exe"));
	assert_null(market_console_type(".js"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_served),
		cmocka_unit_test(test_names_refused),
		cmocka_unit_test(test_long_name_refused),
		cmocka_unit_test(test_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
