/*
 * Unit tests for what a hostile tenant could do to a provider through
 * the features around a running lease: streams held open, volume image
 * names that meet, exec sessions past their limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/key.h"
#include "provider/streamcap.h"

/* One tenant holds at most STREAMCAP_PER_TENANT followed streams; the
 * others still get theirs, and a stream given back can be taken again. */
static void
test_streams_capped_per_tenant(void **state)
{
	uint8_t a[KEY_PUB_LEN], b[KEY_PUB_LEN];
	int i;

	(void)state;
	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	for (i = 0; i < STREAMCAP_PER_TENANT; i++)
		assert_int_equal(streamcap_take(a), 0);
	assert_int_equal(streamcap_take(a), ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "close one first"));
	assert_int_equal(streamcap_held(a), STREAMCAP_PER_TENANT);
	assert_int_equal(streamcap_take(b), 0);
	assert_int_equal(streamcap_held(b), 1);
	streamcap_give(a);
	assert_int_equal(streamcap_take(a), 0);
	for (i = 0; i < STREAMCAP_PER_TENANT; i++)
		streamcap_give(a);
	streamcap_give(b);
	assert_int_equal(streamcap_held(a), 0);
	assert_int_equal(streamcap_held(b), 0);
	/* a give with nothing held does not go below zero */
	streamcap_give(b);
	assert_int_equal(streamcap_held(b), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_capped_per_tenant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
