/*
 * test_tool: running the host's tools for the network and volume
 * modules: input in and output out without deadlock whatever their sizes,
 * a failing tool's stderr in the message, the deadline, and a missing
 * tool named with its Debian package.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/tool.h"

static void
test_large_input_comes_back_whole(void **state)
{
	const char *argv[] = { "/bin/cat", NULL };
	size_t n = 3u << 20;
	char *in = malloc(n + 1), *out = NULL;

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)('a' + i % 26);
	in[n] = 0;
	assert_int_equal(tool_run(argv, in, -1, 10000, &out), 0);
	assert_int_equal(strlen(out), n);
	assert_memory_equal(out, in, n);
	free(out);
	free(in);
}

static void
test_failure_carries_the_tools_stderr(void **state)
{
	const char *argv[] = { "/bin/sh", "-c",
		"echo 'Error: could not process rule' >&2; echo line2 >&2; "
		"exit 3",
		NULL };
	const char *quiet[] = { "/bin/sh", "-c", "exit 4", NULL };
	char *out = (char *)1;

	(void)state;
	assert_int_equal(tool_run(argv, NULL, -1, 5000, &out), ERR_IO);
	assert_null(out);
	assert_string_equal(err_msg(),
	    "sh: Error: could not process rule line2");
	assert_int_equal(tool_run(quiet, NULL, -1, 5000, NULL), ERR_IO);
	assert_string_equal(err_msg(), "sh: exit status 4");
}

static void
test_a_tool_that_hangs_is_killed(void **state)
{
	const char *argv[] = { "/bin/sleep", "10", NULL };
	const char *closed[] = { "/bin/sh", "-c", "exec >&- 2>&-; sleep 10",
		NULL };
	uint64_t t0 = util_mono_ns();

	(void)state;
	assert_int_equal(tool_run(argv, NULL, -1, 200, NULL), ERR_IO);
	assert_non_null(strstr(err_msg(), "no answer within 200 ms"));
	/* also when it closed its output first */
	assert_int_equal(tool_run(closed, NULL, -1, 200, NULL), ERR_IO);
	assert_true(util_mono_ns() - t0 < 5000000000ull);
}

static void
test_missing_tool_names_its_package(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(tool_find("sh", "dash", buf, sizeof(buf)), 0);
	assert_true(
	    strcmp(buf, "/usr/bin/sh") == 0 || strcmp(buf, "/bin/sh") == 0);
	assert_int_equal(
	    tool_find("lodge-no-such-tool", "lodge-pkg", buf, sizeof(buf)),
	    ERR_NOTFOUND);
	assert_non_null(strstr(err_msg(),
	    "install the Debian package "
	    "lodge-pkg"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_input_comes_back_whole),
		cmocka_unit_test(test_failure_carries_the_tools_stderr),
		cmocka_unit_test(test_a_tool_that_hangs_is_killed),
		cmocka_unit_test(test_missing_tool_names_its_package),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
