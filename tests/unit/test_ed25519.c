/*
 * test_ed25519: common/key against RFC 8032 §7.1 and Project Wycheproof's
 * Ed25519 verification cases (malleability, non-canonical encodings,
 * wrong lengths).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/key.h"

static json_t *
load_json(const char *rel)
{
	const char *root = getenv("LODGE_SHARED");
	char path[PATH_MAX];
	json_error_t e;
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s",
	    root != NULL && *root ? root : "../shared", rel);
	if ((j = json_load_file(path, 0, &e)) == NULL)
		fail_msg("%s: %s (line %d); set LODGE_SHARED to the shared "
		         "folder",
		    path, e.text, e.line);
	return j;
}

/* Hex string member k of o into a malloc'd buffer; *len its length. */
static uint8_t *
hex_member(const json_t *o, const char *k, size_t *len)
{
	json_t *v = json_object_get(o, k);
	const char *s;
	uint8_t *buf;

	if (!json_is_string(v))
		fail_msg("member %s is not a string", k);
	s = json_string_value(v);
	*len = strlen(s) / 2;
	buf = malloc(*len + 1);
	assert_non_null(buf);
	if (hex_decode(s, strlen(s), buf, *len) < 0)
		fail_msg("member %s: %s", k, err_msg());
	return buf;
}

static void
test_rfc8032_sign_from_seed_gives_exact_signature_and_verifies(void **state)
{
	json_t *doc = load_json("corpus/ed25519/rfc8032.json"), *v;
	uint8_t pub[KEY_PUB_LEN], sig[KEY_SIG_LEN];
	size_t i, n = 0;

	(void)state;
	json_array_foreach(json_object_get(doc, "vectors"), i, v)
	{
		const char *name =
		    json_string_value(json_object_get(v, "test"));
		size_t sl, pl, ml, gl;
		uint8_t *seed = hex_member(v, "secret_key", &sl);
		uint8_t *wpub = hex_member(v, "public_key", &pl);
		uint8_t *msg = hex_member(v, "message", &ml);
		uint8_t *wsig = hex_member(v, "signature", &gl);
		struct key *k;

		assert_int_equal(sl, KEY_SEED_LEN);
		assert_int_equal(pl, KEY_PUB_LEN);
		assert_int_equal(gl, KEY_SIG_LEN);
		if (key_from_seed(seed, &k) < 0)
			fail_msg("%s: key_from_seed: %s", name, err_msg());
		key_public(k, pub);
		if (memcmp(pub, wpub, KEY_PUB_LEN) != 0)
			fail_msg("%s: public key from seed differs", name);
		assert_int_equal(key_sign(k, msg, ml, sig), 0);
		if (memcmp(sig, wsig, KEY_SIG_LEN) != 0)
			fail_msg("%s: signature differs from RFC 8032", name);
		if (key_verify(pub, msg, ml, sig) != 0)
			fail_msg("%s: signature does not verify: %s", name,
			    err_msg());
		sig[0] ^= 1;
		if (key_verify(pub, msg, ml, sig) != ERR_SIG)
			fail_msg("%s: flipped signature verifies", name);
		key_free(k);
		free(seed);
		free(wpub);
		free(msg);
		free(wsig);
		n++;
	}
	assert_int_equal(n, 3);
	json_decref(doc);
}

static void
test_wycheproof_valid_cases_verify_and_invalid_cases_are_refused(void **state)
{
	json_t *doc = load_json("corpus/ed25519/wycheproof_ed25519_test.json");
	json_t *g, *t;
	size_t gi, ti, n = 0, bad = 0;

	(void)state;
	json_array_foreach(json_object_get(doc, "testGroups"), gi, g)
	{
		size_t pl;
		uint8_t *pub =
		    hex_member(json_object_get(g, "publicKey"), "pk", &pl);

		assert_int_equal(pl, KEY_PUB_LEN);
		json_array_foreach(json_object_get(g, "tests"), ti, t)
		{
			const char *result =
			    json_string_value(json_object_get(t, "result"));
			const char *comment =
			    json_string_value(json_object_get(t, "comment"));
			long long id =
			    json_integer_value(json_object_get(t, "tcId"));
			size_t ml, gl;
			uint8_t *msg = hex_member(t, "msg", &ml);
			uint8_t *sig = hex_member(t, "sig", &gl);
			int want_ok = strcmp(result, "valid") == 0, rc;

			/* "acceptable" would allow either verdict; this
			 * file has none, so anything else is invalid. */
			if (strcmp(result, "acceptable") == 0) {
				free(msg);
				free(sig);
				continue;
			}
			/* key_verify takes exactly 64 bytes: a signature
			 * of another length is refused by its type. */
			rc = gl == KEY_SIG_LEN ? key_verify(pub, msg, ml, sig) :
			                         ERR_SIG;
			if ((rc == 0) != want_ok) {
				print_error("tcId %lld (%s): expected %s, "
				            "key_verify returned %d\n",
				    id, comment, result, rc);
				bad++;
			}
			free(msg);
			free(sig);
			n++;
		}
		free(pub);
	}
	json_decref(doc);
	assert_int_equal(n, 151);
	if (bad)
		fail_msg("%zu of %zu Wycheproof cases disagreed", bad, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_rfc8032_sign_from_seed_gives_exact_signature_and_verifies),
		cmocka_unit_test(
		    test_wycheproof_valid_cases_verify_and_invalid_cases_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
