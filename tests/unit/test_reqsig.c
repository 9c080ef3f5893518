/*
 * Unit tests for common/reqsig: signed HTTP requests bound to method,
 * path, body and time, with replays refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/key.h"
#include "common/reqsig.h"
#include "common/util.h"

static const uint8_t seed_a[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t seed_b[32] = { 9, 9, 9 };

struct fix {
	struct key *a, *b;
	struct reqsig_cache *c;
	int64_t now;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(key_from_seed(seed_a, &f->a), 0);
	assert_int_equal(key_from_seed(seed_b, &f->b), 0);
	assert_int_equal(reqsig_cache_new(&f->c), 0);
	f->now = util_now_ms();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	key_free(f->a);
	key_free(f->b);
	reqsig_cache_free(f->c);
	free(f);
	return 0;
}

static void
test_reqsig_accepts_and_returns_signer(void **state)
{
	struct fix *f = *state;
	uint8_t who[KEY_PUB_LEN], pub[KEY_PUB_LEN];
	char *h;

	assert_int_equal(reqsig_header(f->a, "POST", "p.example:8443",
	                     "/v1/leases/l-4/manifest", "{}", 2, &h),
	    0);
	assert_int_equal(reqsig_verify(f->c, h, "POST",
	                     "/v1/leases/l-4/manifest", "{}", 2, f->now, who),
	    0);
	key_public(f->a, pub);
	assert_memory_equal(who, pub, KEY_PUB_LEN);
	free(h);
}

/* What `provider request` sends: the target cut from the URL, the whole
 * header line; the value in it verifies as the target's. */
static void
test_reqsig_header_line_for_a_url(void **state)
{
	static const char url[] = "http://127.0.0.1:8443/v1/leases/l-4/logs?"
	                          "follow=1";
	struct fix *f = *state;
	uint8_t who[KEY_PUB_LEN];
	const char *target;
	char *line;
	size_t n = strlen(REQSIG_HEADER ": ");

	char host[REQSIG_HOST_MAX];

	assert_int_equal(reqsig_url_target(url, &target), 0);
	assert_string_equal(target, "/v1/leases/l-4/logs?follow=1");
	assert_int_equal(reqsig_url_host(url, host), 0);
	assert_string_equal(host, "127.0.0.1:8443");
	assert_int_equal(
	    reqsig_header_line(f->a, "GET", host, target, NULL, 0, &line), 0);
	assert_memory_equal(line, REQSIG_HEADER ": ", n);
	assert_int_equal(
	    reqsig_verify(f->c, line + n, "GET", target, NULL, 0, f->now, who),
	    0);
	free(line);
	assert_int_equal(reqsig_url_target("http://127.0.0.1:8443", &target),
	    ERR_INVAL);
	assert_non_null(strstr(err_msg(), "http://127.0.0.1:8443"));
	assert_int_equal(reqsig_url_target("/v1/leases", &target), ERR_INVAL);
	assert_int_equal(reqsig_url_host("http://h.example", host), 0);
	assert_string_equal(host, "h.example");
	assert_int_equal(reqsig_url_host("http:///x", host), ERR_INVAL);
	assert_int_equal(reqsig_url_host("h.example/x", host), ERR_INVAL);
}

static void
test_reqsig_rejects_tampered_path_method_body(void **state)
{
	struct fix *f = *state;
	uint8_t who[KEY_PUB_LEN];
	char *h;

	assert_int_equal(reqsig_header(f->a, "GET", NULL,
	                     "/v1/leases/l-4/logs?follow=1", NULL, 0, &h),
	    0);
	assert_int_equal(reqsig_verify(NULL, h, "GET",
	                     "/v1/leases/l-5/logs?follow=1", NULL, 0, f->now,
	                     who),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "path"));
	assert_int_equal(reqsig_verify(NULL, h, "POST",
	                     "/v1/leases/l-4/logs?follow=1", NULL, 0, f->now,
	                     who),
	    ERR_REJECT);
	assert_int_equal(reqsig_verify(NULL, h, "GET",
	                     "/v1/leases/l-4/logs?follow=1", "x", 1, f->now,
	                     who),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "sha256"));
	assert_int_equal(reqsig_verify(NULL, h, "GET",
	                     "/v1/leases/l-4/logs?follow=1", "", 0, f->now,
	                     who),
	    0);
	free(h);
}

static void
test_reqsig_rejects_old_and_future_times(void **state)
{
	struct fix *f = *state;
	uint8_t who[KEY_PUB_LEN];
	char *h;

	assert_int_equal(reqsig_header_at(f->a, "GET", NULL, "/s", NULL, 0,
	                     f->now - REQSIG_SKEW_MS - 1000, &h),
	    0);
	assert_int_equal(
	    reqsig_verify(f->c, h, "GET", "/s", NULL, 0, f->now, who),
	    ERR_REJECT);
	free(h);
	assert_int_equal(reqsig_header_at(f->a, "GET", NULL, "/s", NULL, 0,
	                     f->now + REQSIG_SKEW_MS + 1000, &h),
	    0);
	assert_int_equal(
	    reqsig_verify(f->c, h, "GET", "/s", NULL, 0, f->now, who),
	    ERR_REJECT);
	free(h);
}

static void
test_reqsig_refuses_replayed_nonce(void **state)
{
	struct fix *f = *state;
	uint8_t who[KEY_PUB_LEN];
	char *h;

	assert_int_equal(reqsig_header(f->b, "GET", NULL, "/r", NULL, 0, &h),
	    0);
	assert_int_equal(
	    reqsig_verify(f->c, h, "GET", "/r", NULL, 0, f->now, who), 0);
	assert_int_equal(
	    reqsig_verify(f->c, h, "GET", "/r", NULL, 0, f->now + 1000, who),
	    ERR_CONFLICT);
	/* After the replay window the nonce is forgotten, but by then the
	 * time check refuses the request anyway. */
	assert_int_equal(reqsig_verify(f->c, h, "GET", "/r", NULL, 0,
	                     f->now + REQSIG_REPLAY_MS + 1, who),
	    ERR_REJECT);
	free(h);
}

static void
test_reqsig_rejects_flipped_signature_and_garbage(void **state)
{
	struct fix *f = *state;
	uint8_t who[KEY_PUB_LEN];
	char *h;
	size_t n;

	assert_int_equal(
	    reqsig_verify(f->c, NULL, "GET", "/", NULL, 0, f->now, who),
	    ERR_INVAL);
	assert_int_equal(
	    reqsig_verify(f->c, "!!!", "GET", "/", NULL, 0, f->now, who),
	    ERR_INVAL);
	assert_int_equal(reqsig_header(f->a, "GET", NULL, "/x", NULL, 0, &h),
	    0);
	n = strlen(h);
	/* Flip a character well inside the base64 text (in the signed part
	 * or the signature: either way it must not verify). */
	h[n / 2] = h[n / 2] == 'A' ? 'B' : 'A';
	assert_true(
	    reqsig_verify(f->c, h, "GET", "/x", NULL, 0, f->now, who) < 0);
	free(h);
}

/* A server bound to its host refuses a signature made for another host,
 * or naming none; the host is compared without case. */
static void
test_reqsig_bound_host_refuses_another_host(void **state)
{
	struct fix *f = *state;
	uint8_t who[KEY_PUB_LEN];
	char *h;

	assert_int_equal(reqsig_cache_bind(f->c, "p1.example:8443", 0), 0);
	assert_int_equal(
	    reqsig_header(f->a, "GET", "p2.example:8443", "/s", NULL, 0, &h),
	    0);
	assert_int_equal(
	    reqsig_verify(f->c, h, "GET", "/s", NULL, 0, f->now, who),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "p2.example:8443"));
	assert_non_null(strstr(err_msg(), "p1.example:8443"));
	/* without the binding (no cache) the host is not looked at */
	assert_int_equal(
	    reqsig_verify(NULL, h, "GET", "/s", NULL, 0, f->now, who), 0);
	free(h);
	assert_int_equal(reqsig_header(f->a, "GET", NULL, "/s", NULL, 0, &h),
	    0);
	assert_int_equal(
	    reqsig_verify(f->c, h, "GET", "/s", NULL, 0, f->now, who),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(), "names no host"));
	free(h);
	assert_int_equal(
	    reqsig_header(f->a, "GET", "P1.Example:8443", "/s", NULL, 0, &h),
	    0);
	assert_int_equal(
	    reqsig_verify(f->c, h, "GET", "/s", NULL, 0, f->now, who), 0);
	free(h);
}

/* A server that started at t refuses what was signed before t: after a
 * restart its nonce memory is empty, so a replay could not be told
 * apart. */
static void
test_reqsig_bound_start_refuses_older_signatures(void **state)
{
	struct fix *f = *state;
	uint8_t who[KEY_PUB_LEN];
	char *h;
	json_t *env = NULL;

	assert_int_equal(
	    reqsig_header_at(f->a, "GET", "h", "/s", NULL, 0, f->now - 1, &h),
	    0);
	assert_int_equal(reqsig_cache_bind(f->c, "h", f->now), 0);
	assert_int_equal(
	    reqsig_verify(f->c, h, "GET", "/s", NULL, 0, f->now, who),
	    ERR_REJECT);
	assert_non_null(strstr(err_msg(),
	    "signed before this provider "
	    "started"));
	/* the proof a provider keeps: the envelope, decoded */
	assert_int_equal(reqsig_envelope_json(h, &env), 0);
	assert_string_equal(json_string_value(json_object_get(env, "kind")),
	    REQSIG_KIND);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(env, "body"), "host")),
	    "h");
	json_decref(env);
	free(h);
	assert_int_equal(
	    reqsig_header_at(f->a, "GET", "h", "/s", NULL, 0, f->now, &h), 0);
	assert_int_equal(
	    reqsig_verify(f->c, h, "GET", "/s", NULL, 0, f->now, who), 0);
	free(h);
	assert_int_equal(reqsig_envelope_json("!!", &env), ERR_INVAL);
	assert_null(env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_reqsig_header_line_for_a_url, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reqsig_bound_host_refuses_another_host, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_reqsig_bound_start_refuses_older_signatures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_reqsig_accepts_and_returns_signer, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reqsig_rejects_tampered_path_method_body, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_reqsig_rejects_old_and_future_times, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reqsig_refuses_replayed_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reqsig_rejects_flipped_signature_and_garbage, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
