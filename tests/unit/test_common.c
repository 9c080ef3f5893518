/*
 * Unit tests for common/: codecs, keys, canonical JSON, envelopes, util,
 * errors.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cjson.h"
#include "common/codec.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "common/strv.h"
#include "common/util.h"

static const uint8_t seed1[32] = {
	0x9d,
	0x61,
	0xb1,
	0x9d,
	0xef,
	0xfd,
	0x5a,
	0x60,
	0xba,
	0x84,
	0x4a,
	0xf4,
	0x92,
	0xec,
	0x2c,
	0xc4,
	0x44,
	0x49,
	0xc5,
	0x69,
	0x7b,
	0x32,
	0x69,
	0x19,
	0x70,
	0x3b,
	0xac,
	0x03,
	0x1c,
	0xae,
	0x7f,
	0x60,
};

/* A list is handed over NULL-terminated (empty: a list of none, not
 * NULL); one failed allocation fails the whole list once, not a list cut
 * short at the hole. */
static void
test_strv_builds_lists_and_reports_a_failed_item(void **state)
{
	struct strv l = { 0 };
	char **v = NULL;
	int i;

	(void)state;
	assert_int_equal(strv_done(&l, &v), 0);
	assert_non_null(v);
	assert_null(v[0]);
	strv_free(v);
	for (i = 0; i < 20; i++)
		strv_add(&l, strdup(i % 2 ? "b" : "a"));
	assert_int_equal(strv_done(&l, &v), 0);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[19], "b");
	assert_null(v[20]);
	assert_int_equal(l.n, 0); /* reset */
	strv_free(v);
	strv_add(&l, strdup("a"));
	strv_add(&l, NULL);
	strv_add(&l, strdup("c"));
	assert_int_equal(strv_done(&l, &v), ERR_NOMEM);
	assert_null(v);
	strv_free(NULL);
}

static void
test_hex_round_trip_and_rejects_bad_digits(void **state)
{
	uint8_t in[5] = { 0, 1, 0xab, 0xcd, 0xff }, out[5];
	char text[11];

	(void)state;
	hex_encode(in, 5, text);
	assert_string_equal(text, "0001abcdff");
	assert_int_equal(hex_decode(text, 10, out, 5), 0);
	assert_memory_equal(in, out, 5);
	assert_int_equal(hex_decode("0001abcdfg", 10, out, 5), ERR_INVAL);
	assert_int_equal(hex_decode("0001abcd", 8, out, 5), ERR_INVAL);
	assert_int_equal(hex_valid("09afAF", 6), 1);
	assert_int_equal(hex_valid("09afAg", 6), 0);
	assert_int_equal(hex_valid("09af:", 5), 0);
	assert_int_equal(hex_valid("", 0), 1);
}

static void
test_base64_matches_rfc4648_vectors(void **state)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba",
		"foobar" };
	static const char *enc[] = { "", "Zg==", "Zm8=", "Zm9v",
		"Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	static const char *url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg",
		"Zm9vYmE", "Zm9vYmFy" };
	char buf[32];
	uint8_t dec[16];
	size_t n;

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		b64_encode((const uint8_t *)plain[i], strlen(plain[i]), buf);
		assert_string_equal(buf, enc[i]);
		b64url_encode((const uint8_t *)plain[i], strlen(plain[i]), buf);
		assert_string_equal(buf, url[i]);
		assert_int_equal(
		    b64_decode(enc[i], strlen(enc[i]), dec, sizeof(dec), &n),
		    0);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(dec, plain[i], n);
		assert_int_equal(
		    b64url_decode(url[i], strlen(url[i]), dec, sizeof(dec), &n),
		    0);
		assert_int_equal(n, strlen(plain[i]));
	}
}

static void
test_base64_rejects_noncanonical_and_bad_input(void **state)
{
	uint8_t dec[16];
	size_t n;

	(void)state;
	/* "Zh==" has non-zero trailing bits: a second encoding of "f" */
	assert_int_equal(b64_decode("Zh==", 4, dec, sizeof(dec), &n),
	    ERR_INVAL);
	assert_int_equal(b64_decode("Zg=", 3, dec, sizeof(dec), &n), ERR_INVAL);
	assert_int_equal(b64_decode("Z!==", 4, dec, sizeof(dec), &n),
	    ERR_INVAL);
	assert_int_equal(b64url_decode("Zg+", 3, dec, sizeof(dec), &n),
	    ERR_INVAL);
	assert_int_equal(b64url_decode("Z", 1, dec, sizeof(dec), &n),
	    ERR_INVAL);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, dec, 5, &n), ERR_LIMIT);
}

static void
test_key_sign_verify_and_text_form(void **state)
{
	struct key *k;
	uint8_t pub[32], pub2[32], sig[64];
	char text[KEY_TEXT_SIZE];

	(void)state;
	assert_int_equal(key_from_seed(seed1, &k), 0);
	key_public(k, pub);
	/* RFC 8032 TEST 1 public key */
	assert_int_equal(pub[0], 0xd7);
	assert_int_equal(pub[31], 0x1a);
	key_pub_to_text(pub, text);
	assert_int_equal(strncmp(text, "ed25519:", 8), 0);
	assert_int_equal(strlen(text), 51);
	assert_int_equal(key_pub_from_text(text, pub2), 0);
	assert_memory_equal(pub, pub2, 32);
	assert_int_equal(key_sign(k, "hello", 5, sig), 0);
	assert_int_equal(key_verify(pub, "hello", 5, sig), 0);
	assert_int_equal(key_verify(pub, "hellp", 5, sig), ERR_SIG);
	sig[10] ^= 1;
	assert_int_equal(key_verify(pub, "hello", 5, sig), ERR_SIG);
	assert_int_equal(key_pub_from_text("ed25519:short", pub2), ERR_INVAL);
	assert_int_equal(key_pub_from_text("rsa:AAAA", pub2), ERR_INVAL);
	key_free(k);
}

static void
test_key_save_is_0600_and_load_refuses_open_modes(void **state)
{
	char dir[] = "/tmp/lodge-test-XXXXXX", path[256];
	struct key *k, *k2;
	uint8_t a[32], b[32];
	struct stat st;
	int created;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.pem", dir);
	assert_int_equal(key_load_or_create(path, &k, &created), 0);
	assert_int_equal(created, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(key_save(k, path), ERR_CONFLICT);
	assert_int_equal(key_load(path, &k2), 0);
	key_public(k, a);
	key_public(k2, b);
	assert_memory_equal(a, b, 32);
	key_free(k2);
	chmod(path, 0644);
	assert_int_equal(key_load(path, &k2), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "0600"));
	unlink(path);
	rmdir(dir);
	key_free(k);
}

static int
parse_rc(const char *s)
{
	json_t *v = NULL;
	int rc = cjson_parse(s, strlen(s), &v);

	json_decref(v);
	return rc;
}

static void
test_cjson_rejects_floats_duplicates_utf8_depth(void **state)
{
	char deep[200];
	size_t i;

	(void)state;
	assert_int_equal(parse_rc("{\"a\":1}"), 0);
	assert_int_equal(parse_rc("{\"a\":1.5}"), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "$.a"));
	assert_int_equal(parse_rc("{\"a\":1e3}"), ERR_INVAL);
	assert_int_equal(parse_rc("{\"a\":1,\"a\":2}"), ERR_INVAL);
	assert_int_equal(parse_rc("{\"a\":\"\xc3\x28\"}"), ERR_INVAL);
	assert_int_equal(parse_rc("{\"a\":\"\\u0000\"}"), ERR_INVAL);
	assert_int_equal(parse_rc("{\"a\":99999999999999999999}"), ERR_INVAL);
	/* 64 levels pass, 65 fail */
	for (i = 0; i < 64; i++)
		deep[i] = '[';
	for (i = 0; i < 64; i++)
		deep[64 + i] = ']';
	deep[128] = '\0';
	assert_int_equal(parse_rc(deep), 0);
	memmove(deep + 1, deep, 129);
	deep[0] = '[';
	deep[130] = '\0';
	deep[129] = ']';
	assert_int_equal(parse_rc(deep), ERR_INVAL);
	assert_non_null(strstr(err_msg(), "deeper"));
}

static void
test_cjson_dump_is_sorted_compact_utf8(void **state)
{
	json_t *v;
	char *out;
	size_t n;
	const char *in =
	    "{ \"b\" : [1, 2, {\"z\":0, \"a\":-3}],\n \"a\":\"\xc3\xa9\\n\" }";

	(void)state;
	assert_int_equal(cjson_parse(in, strlen(in), &v), 0);
	assert_int_equal(cjson_dump(v, &out, &n), 0);
	assert_string_equal(out,
	    "{\"a\":\"\xc3\xa9\\n\",\"b\":[1,2,{\"a\":-3,\"z\":0}]}");
	assert_int_equal(n, strlen(out));
	free(out);
	json_decref(v);
	v = json_pack("{s:f}", "x", 1.5);
	assert_int_equal(cjson_dump(v, &out, &n), ERR_INVAL);
	json_decref(v);
}

static void
test_envelope_sign_verify_and_tamper(void **state)
{
	struct envelope *e, *e2;
	struct key *k;
	json_t *body =
	    json_pack("{s:I,s:s}", "amount", (json_int_t)5, "to", "x");
	char *bytes;
	size_t n;

	(void)state;
	assert_int_equal(key_from_seed(seed1, &k), 0);
	assert_int_equal(envelope_sign(k, "account.transfer", body, "n-1",
	                     1700000000000, &e),
	    0);
	assert_string_equal(e->kind, "account.transfer");
	assert_string_equal(e->nonce, "n-1");
	assert_int_equal(e->time_ms, 1700000000000);
	assert_int_equal(envelope_dump(e, &bytes, &n), 0);
	/* deterministic: same key, body, nonce, time -> same bytes */
	assert_int_equal(envelope_parse(bytes, n, &e2), 0);
	envelope_free(e2);
	/* any change of any signed field breaks the signature */
	{
		char *p = strstr(bytes, "\"amount\":5");
		assert_non_null(p);
		p[9] = '6';
		assert_int_equal(envelope_parse(bytes, n, &e2), ERR_SIG);
		p[9] = '5';
		p = strstr(bytes, "n-1");
		p[2] = '2';
		assert_int_equal(envelope_parse(bytes, n, &e2), ERR_SIG);
		p[2] = '1';
	}
	/* whitespace does not matter: the signature is over canonical bytes */
	{
		json_t *j;
		char *pretty;
		assert_int_equal(cjson_parse(bytes, n, &j), 0);
		pretty = json_dumps(j, JSON_INDENT(2));
		assert_int_equal(envelope_parse(pretty, strlen(pretty), &e2),
		    0);
		envelope_free(e2);
		free(pretty);
		json_decref(j);
	}
	free(bytes);
	envelope_free(e);
	json_decref(body);
	key_free(k);
}

static void
test_envelope_rejects_bad_shapes(void **state)
{
	static const char *bad[] = {
		"[]",
		"{\"kind\":\"a\"}",
		"{\"body\":[],\"kind\":\"a\",\"nonce\":\"n\",\"sig\":\"x\","
		"\"signer\":\"ed25519:x\",\"time\":1}",
		"{\"body\":{},\"kind\":\"A B\",\"nonce\":\"n\",\"sig\":\"x\","
		"\"signer\":\"ed25519:x\",\"time\":1}",
		"{\"body\":{},\"extra\":1,\"kind\":\"a\",\"nonce\":\"n\","
		"\"sig\":\"x\",\"signer\":\"ed25519:x\",\"time\":1}",
	};
	struct envelope *e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(envelope_parse(bad[i], strlen(bad[i]), &e),
		    ERR_INVAL);
}

static void
test_util_parse_integers(void **state)
{
	int64_t i;
	uint64_t u;

	(void)state;
	assert_int_equal(util_parse_i64("-42", "x", &i), 0);
	assert_int_equal(i, -42);
	assert_int_equal(util_parse_i64("4x", "x", &i), ERR_INVAL);
	assert_int_equal(util_parse_i64("99999999999999999999", "x", &i),
	    ERR_RANGE);
	assert_int_equal(util_parse_u64("18446744073709551615", "x", &u), 0);
	assert_int_equal(util_parse_u64("-1", "x", &u), ERR_INVAL);
	assert_int_equal(util_parse_u64("", "x", &u), ERR_INVAL);
}

static void
test_util_env_i64_falls_back_on_bad_values(void **state)
{
	(void)state;
	unsetenv("LODGE_TEST_ENV");
	assert_int_equal(util_env_i64("LODGE_TEST_ENV", 1, 7), 7);
	setenv("LODGE_TEST_ENV", "", 1);
	assert_int_equal(util_env_i64("LODGE_TEST_ENV", 1, 7), 7);
	setenv("LODGE_TEST_ENV", "250", 1);
	assert_int_equal(util_env_i64("LODGE_TEST_ENV", 1, 7), 250);
	setenv("LODGE_TEST_ENV", "0", 1);
	assert_int_equal(util_env_i64("LODGE_TEST_ENV", 1, 7), 7);
	assert_int_equal(util_env_i64("LODGE_TEST_ENV", 0, 7), 0);
	setenv("LODGE_TEST_ENV", "12ms", 1);
	assert_int_equal(util_env_i64("LODGE_TEST_ENV", 0, 7), 7);
	unsetenv("LODGE_TEST_ENV");
}

static void
test_err_prefix_keeps_message(void **state)
{
	(void)state;
	err_set(ERR_INVAL, "inner");
	assert_int_equal(err_prefix(ERR_INVAL, "outer %d", 1), ERR_INVAL);
	assert_string_equal(err_msg(), "outer 1: inner");
}

/* err_set with the current message as an argument (market/replica.c's
 * chunk_finish, http_parse's response head): the cause is kept, not
 * overwritten by the new text while it is read. */
static void
test_err_set_may_quote_current_message(void **state)
{
	(void)state;
	err_set(ERR_INVAL, "inner cause");
	assert_int_equal(
	    err_set(ERR_ALARM, "entries 0-5 are not a prefix (%s)", err_msg()),
	    ERR_ALARM);
	assert_string_equal(err_msg(),
	    "entries 0-5 are not a prefix (inner cause)");
}

/* FNV-1a 64 against the published vectors, and one call equal to two */
static void
test_util_fnv1a_vectors(void **state)
{
	(void)state;
	assert_true(
	    util_fnv1a("", 0, UTIL_FNV1A_INIT) == 0xcbf29ce484222325ULL);
	assert_true(
	    util_fnv1a("a", 1, UTIL_FNV1A_INIT) == 0xaf63dc4c8601ec8cULL);
	assert_true(
	    util_fnv1a("foobar", 6, UTIL_FNV1A_INIT) == 0x85944171f73967e8ULL);
	assert_true(
	    util_fnv1a("bar", 3, util_fnv1a("foo", 3, UTIL_FNV1A_INIT)) ==
	    0x85944171f73967e8ULL);
}

static void
test_err_abort_names_the_invariant_then_aborts(void **state)
{
	char out[256] = { 0 };
	int p[2], status;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		/* the child dies by the signal, not in cmocka's handler */
		signal(SIGABRT, SIG_DFL);
		dup2(p[1], 2);
		err_abort("levels out of step at %d", 7);
	}
	assert_true(pid > 0);
	close(p[1]);
	for (size_t got = 0;
	     (n = read(p[0], out + got, sizeof(out) - 1 - got)) > 0;)
		got += (size_t)n;
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	if (strstr(out, ": broken invariant: levels out of step at 7\n") ==
	    NULL)
		fail_msg("stderr was '%s'", out);
}

/* A cleanup step that meets a failure of its own and swallows it, as a
 * sandbox stop whose cgroup will not empty does. */
static void
cleanup_that_fails(void)
{
	(void)err_set(ERR_IO, "lodge/l1: 3 processes still there");
	(void)err_prefix(ERR_IO, "sandbox stop");
	err_clear();
}

/* Fail, then unwind through cleanup_that_fails, with or without putting
 * the error state aside around it. */
static int
start_that_fails(int save)
{
	struct err_saved s;
	int rc = err_set(ERR_NOTFOUND, "sandbox: exec /no/such: not found");

	if (save)
		err_save(&s);
	cleanup_that_fails();
	if (save)
		err_restore(&s);
	return rc;
}

static void
test_err_save_restore_keeps_failure_across_cleanup(void **state)
{
	struct err_saved outer, inner;

	(void)state;
	/* Unguarded, the cleanup wipes what the caller needed to print. */
	assert_int_equal(start_that_fails(0), ERR_NOTFOUND);
	assert_string_equal(err_msg(), "");
	/* Guarded, the failure's message survives, and prefixes onto it. */
	assert_int_equal(start_that_fails(1), ERR_NOTFOUND);
	assert_string_equal(err_msg(), "sandbox: exec /no/such: not found");
	assert_int_equal(err_prefix(ERR_NOTFOUND, "lease l-1"), ERR_NOTFOUND);
	assert_string_equal(err_msg(),
	    "lease l-1: sandbox: exec /no/such: not found");
	/* Nested: each restore puts back what its save saw. */
	err_set(ERR_IO, "outer");
	err_save(&outer);
	err_set(ERR_IO, "inner");
	err_save(&inner);
	err_clear();
	err_restore(&inner);
	assert_string_equal(err_msg(), "inner");
	err_restore(&outer);
	assert_string_equal(err_msg(), "outer");
	/* Saving an empty state restores an empty one. */
	err_clear();
	err_save(&outer);
	err_set(ERR_IO, "during cleanup");
	err_restore(&outer);
	assert_string_equal(err_msg(), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_round_trip_and_rejects_bad_digits),
		cmocka_unit_test(
		    test_strv_builds_lists_and_reports_a_failed_item),
		cmocka_unit_test(test_base64_matches_rfc4648_vectors),
		cmocka_unit_test(
		    test_base64_rejects_noncanonical_and_bad_input),
		cmocka_unit_test(test_key_sign_verify_and_text_form),
		cmocka_unit_test(
		    test_key_save_is_0600_and_load_refuses_open_modes),
		cmocka_unit_test(
		    test_cjson_rejects_floats_duplicates_utf8_depth),
		cmocka_unit_test(test_cjson_dump_is_sorted_compact_utf8),
		cmocka_unit_test(test_envelope_sign_verify_and_tamper),
		cmocka_unit_test(test_envelope_rejects_bad_shapes),
		cmocka_unit_test(test_util_parse_integers),
		cmocka_unit_test(test_util_env_i64_falls_back_on_bad_values),
		cmocka_unit_test(test_err_prefix_keeps_message),
		cmocka_unit_test(test_err_set_may_quote_current_message),
		cmocka_unit_test(test_util_fnv1a_vectors),
		cmocka_unit_test(
		    test_err_abort_names_the_invariant_then_aborts),
		cmocka_unit_test(
		    test_err_save_restore_keeps_failure_across_cleanup),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
