/*
 * Unit tests for market/replica: the replica names a market accepts
 * (they become part of etcd keys and log lines), so a hostile one is
 * refused at start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "market/replica.h"

static void
test_replica_names(void **state)
{
	static const char *const good[] = { "r1", "eu-west.a", "R_2", "x",
		"a123456789012345678901234567890123456789012345678901234567890"
		"bc" };
	static const char *const bad[] = { "", "../x", "a/b", ".hidden",
		"-flag", "a b", "r1\n", "é", "a%s",
		"a1234567890123456789012345678901234567890123456789012345678901"
		"23" };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!market_ha_name_ok(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (market_ha_name_ok(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replica_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
