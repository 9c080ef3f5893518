/*
 * test_note: ledger/note against the Go sumdb/note and C2SP signed-note
 * examples, a checkpoint and a cosignature made with the RFC 8032 test
 * keys, tampered notes and strict checkpoint parsing.
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
#include "ledger/note.h"

static json_t *vectors;

static int
load_vectors(void **state)
{
	const char *root = getenv("LODGE_SHARED");
	char path[PATH_MAX];
	json_error_t e;

	(void)state;
	snprintf(path, sizeof(path), "%s/corpus/signed-note/vectors.json",
	    root != NULL && *root ? root : "../shared");
	if ((vectors = json_load_file(path, 0, &e)) == NULL) {
		print_error("%s: %s; set LODGE_SHARED to the shared folder\n",
		    path, e.text);
		return -1;
	}
	return 0;
}

static int
free_vectors(void **state)
{
	(void)state;
	json_decref(vectors);
	return 0;
}

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	if (s == NULL)
		fail_msg("vector member %s missing", k);
	return s;
}

static const json_t *
vec(const char *group, size_t i)
{
	const json_t *v = json_array_get(json_object_get(vectors, group), i);

	if (v == NULL)
		fail_msg("vector %s[%zu] missing", group, i);
	return v;
}

static void
seed_key(const json_t *v, struct key **k)
{
	uint8_t seed[KEY_SEED_LEN];
	const char *hex = str(v, "key_seed_hex");

	assert_int_equal(hex_decode(hex, strlen(hex), seed, sizeof(seed)), 0);
	assert_int_equal(key_from_seed(seed, k), 0);
}

static void
assert_str_eq(const char *got, const char *want, const char *what)
{
	if (strcmp(got, want) != 0)
		fail_msg("%s:\n got: %s\nwant: %s", what, got, want);
}

static void
open_ok(const char *note, const struct note_verifier *known, size_t n,
    size_t want_verified, const char *want_text)
{
	char *text = NULL;
	size_t nv = 0;
	int rc;

	rc = note_open(note, strlen(note), known, n, &text, &nv);
	if (rc != 0)
		fail_msg("note_open refused a good note (%d): %s", rc,
		    err_msg());
	if (nv != want_verified)
		fail_msg("note_open verified %zu signatures, want %zu", nv,
		    want_verified);
	if (want_text != NULL)
		assert_str_eq(text, want_text, "opened text");
	free(text);
}

static void
open_fails(const char *note, size_t len, const struct note_verifier *known,
    size_t n, int want_rc, const char *why)
{
	char *text = (char *)"unchanged";
	int rc = note_open(note, len, known, n, &text, NULL);

	if (rc != want_rc)
		fail_msg("%s: note_open returned %d (%s), want %d", why, rc,
		    rc == 0 ? "accepted" : err_msg(), want_rc);
	if (text != NULL)
		fail_msg("%s: text_out not NULL after failure", why);
}

static void
test_upstream_notes_verify_with_their_vkeys(void **state)
{
	struct note_verifier v;
	char want[512];
	size_t i;

	(void)state;
	for (i = 0; i < json_array_size(json_object_get(vectors, "upstream"));
	     i++) {
		const json_t *u = vec("upstream", i);
		const char *note = str(u, "signed_note");
		const char *split = strstr(note, "\n\n");

		if (note_vkey_parse(str(u, "vkey"), &v) != 0)
			fail_msg("%s: vkey refused: %s", str(u, "source"),
			    err_msg());
		assert_int_equal(v.type, NOTE_SIG_ED25519);
		assert_non_null(split);
		snprintf(want, sizeof(want), "%.*s", (int)(split - note + 1),
		    note);
		open_ok(note, &v, 1, 1, want);
	}
	assert_int_equal(i, 2);
}

/* Go's private key text: PRIVATE+KEY+<name>+<id>+base64(0x01 || seed). */
static void
test_go_private_key_signs_the_upstream_note_byte_exactly(void **state)
{
	const json_t *u = vec("upstream", 0);
	const char *skey = str(u, "skey"), *note = str(u, "signed_note");
	const char *b64 = skey, *split;
	uint8_t raw[64];
	char *out, *vk;
	struct key *k;
	size_t n;

	int plus;

	(void)state;
	/* The key follows the fourth '+' (base64 may hold '+' itself). */
	for (plus = 0; plus < 4; plus++) {
		b64 = strchr(b64, '+');
		assert_non_null(b64);
		b64++;
	}
	assert_int_equal(b64_decode(b64, strlen(b64), raw, sizeof(raw), &n), 0);
	assert_int_equal(n, 33);
	assert_int_equal(raw[0], 1);
	assert_int_equal(key_from_seed(raw + 1, &k), 0);
	split = strstr(note, "\n\n");
	assert_int_equal(note_sign(note, (size_t)(split - note + 1),
	                     "PeterNeumann", k, &out),
	    0);
	assert_str_eq(out, note, "signed note");
	free(out);
	{
		uint8_t pub[KEY_PUB_LEN];

		key_public(k, pub);
		assert_int_equal(note_vkey_format("PeterNeumann", pub, &vk), 0);
		assert_str_eq(vk, str(u, "vkey"), "verifier key");
		free(vk);
	}
	key_free(k);
}

static void
test_checkpoint_signed_with_seed_equals_vector_byte_exactly(void **state)
{
	const json_t *g = vec("generated", 0);
	const char *body = str(g, "checkpoint_body");
	static const char root_hex[] =
	    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
	uint8_t root[32], pub[KEY_PUB_LEN];
	struct checkpoint cp;
	struct note_verifier v;
	char *text, *signed_cp, *vk;
	struct key *k;

	(void)state;
	seed_key(g, &k);
	key_public(k, pub);
	assert_int_equal(note_vkey_format("example.com/ledger-test", pub, &vk),
	    0);
	assert_str_eq(vk, str(g, "vkey"), "verifier key");
	free(vk);
	/* The 8-leaf RFC 6962 reference tree's root. */
	assert_int_equal(hex_decode(root_hex, 64, root, 32), 0);
	assert_int_equal(
	    checkpoint_format("example.com/ledger-test", 8, root, &text), 0);
	assert_str_eq(text, body, "checkpoint body");
	assert_int_equal(note_sign(text, strlen(text),
	                     "example.com/ledger-test", k, &signed_cp),
	    0);
	assert_str_eq(signed_cp, str(g, "signed_checkpoint"),
	    "signed checkpoint");
	assert_int_equal(note_vkey_parse(str(g, "vkey"), &v), 0);
	open_ok(signed_cp, &v, 1, 1, body);
	assert_int_equal(checkpoint_parse(body, strlen(body), &cp), 0);
	assert_str_eq(cp.origin, "example.com/ledger-test", "origin");
	assert_int_equal(cp.size, 8);
	assert_memory_equal(cp.root, root, 32);
	assert_null(cp.extensions);
	checkpoint_clear(&cp);
	free(text);
	free(signed_cp);
	key_free(k);
}

static void
test_cosignature_vector_verifies_and_is_reproduced(void **state)
{
	const json_t *g = vec("generated", 1), *cpv = vec("generated", 0);
	const char *body = str(cpv, "checkpoint_body");
	const char *line = str(g, "signature_line");
	const char *msg = str(g, "signed_message");
	struct note_verifier v[2];
	uint8_t pub[KEY_PUB_LEN];
	char *out, *note;
	uint64_t t = 0;
	struct key *k;

	(void)state;
	assert_int_equal(strncmp(msg, "cosignature/v1\ntime 1700000000\n", 31),
	    0);
	assert_str_eq(msg + 31, body, "cosigned body");
	if (note_vkey_parse(str(g, "vkey"), &v[0]) != 0)
		fail_msg("cosigner vkey refused: %s", err_msg());
	assert_int_equal(v[0].type, NOTE_SIG_COSIGNATURE);
	if (note_cosignature_verify(&v[0], body, strlen(body), line,
	        strlen(line), &t) != 0)
		fail_msg("cosignature vector refused: %s", err_msg());
	assert_int_equal(t, 1700000000);

	seed_key(g, &k);
	key_public(k, pub);
	assert_memory_equal(pub, v[0].pub, KEY_PUB_LEN);
	assert_int_equal(v[0].id,
	    note_key_id_type("witness.example/w-test", NOTE_SIG_COSIGNATURE,
	        pub));
	assert_int_equal(note_cosign(body, strlen(body),
	                     "witness.example/w-test", k, 1700000000, &out),
	    0);
	assert_str_eq(out, line, "cosignature line");
	free(out);
	key_free(k);

	/* A cosigned checkpoint opens with the cosigner as the only known
	 * key, and with both keys both lines count. */
	assert_int_equal(
	    asprintf(&note, "%s%s\n", str(cpv, "signed_checkpoint"), line) > 0,
	    1);
	open_ok(note, &v[0], 1, 1, body);
	assert_int_equal(note_vkey_parse(str(cpv, "vkey"), &v[1]), 0);
	open_ok(note, v, 2, 2, body);
	free(note);

	/* Another time or body fails. */
	assert_int_equal(
	    note_cosignature_verify(&v[0], "x\n", 2, line, strlen(line), NULL),
	    ERR_SIG);
	/* A type 0x01 verifier is not a cosigner. */
	assert_int_equal(note_cosignature_verify(&v[1], body, strlen(body),
	                     line, strlen(line), NULL),
	    ERR_INVAL);
}

/* The signed checkpoint and its verifier, for the tamper tests. */
static const char *
good_note(struct note_verifier *v)
{
	const json_t *g = vec("generated", 0);

	assert_int_equal(note_vkey_parse(str(g, "vkey"), v), 0);
	return str(g, "signed_checkpoint");
}

static void
test_note_with_edited_text_is_refused(void **state)
{
	struct note_verifier v;
	char *n = strdup(good_note(&v));

	(void)state;
	n[0] = 'E'; /* "example.com" -> "Example.com" */
	open_fails(n, strlen(n), &v, 1, ERR_SIG, "edited text");
	free(n);
}

static void
test_note_with_edited_signature_is_refused(void **state)
{
	struct note_verifier v;
	char *n = strdup(good_note(&v));
	char *b64 = strrchr(n, ' ') + 1;

	(void)state;
	/* Character 20 of the base64 lies in the signature, after the key
	 * ID; swapping it keeps the base64 well formed. */
	b64[20] = b64[20] == 'A' ? 'B' : 'A';
	open_fails(n, strlen(n), &v, 1, ERR_SIG, "edited signature");
	free(n);
}

static void
test_note_checked_against_wrong_key_is_refused(void **state)
{
	struct note_verifier v, wrong;
	const char *n = good_note(&v);
	uint8_t other[KEY_PUB_LEN];

	(void)state;
	/* Same name, other key: another key ID, so no known signature. */
	memset(other, 7, sizeof(other));
	assert_int_equal(
	    note_verifier_init(&wrong, v.name, NOTE_SIG_ED25519, other), 0);
	open_fails(n, strlen(n), &wrong, 1, ERR_SIG, "wrong key");
	/* Same name and key ID but another key: the line is claimed by a
	 * known verifier and fails. */
	wrong.id = v.id;
	open_fails(n, strlen(n), &wrong, 1, ERR_SIG, "wrong key, same id");
}

static void
test_note_signed_by_unknown_key_only_is_refused(void **state)
{
	struct note_verifier v, other;
	const char *n = good_note(&v);
	uint8_t pub[KEY_PUB_LEN] = { 1 };

	(void)state;
	assert_int_equal(
	    note_verifier_init(&other, "someone.else", NOTE_SIG_ED25519, pub),
	    0);
	open_fails(n, strlen(n), &other, 1, ERR_SIG, "unknown signer only");
	open_fails(n, strlen(n), NULL, 0, ERR_SIG, "no known keys");
}

static void
test_unknown_signers_are_ignored_beside_a_good_signature(void **state)
{
	struct note_verifier v;
	const char *n = good_note(&v);
	char *more;

	(void)state;
	/* A foreign line (type unknown to us, 5+ bytes) before and after. */
	assert_int_equal(asprintf(&more,
	                     "%.*s\xe2\x80\x94 other.example "
	                     "AAAAAAAAAAAA\n%s\xe2\x80\x94 third+x AAAA\n",
	                     (int)(strstr(n, "\n\n") - n + 2), n,
	                     strstr(n, "\n\n") + 2) > 0,
	    1);
	/* "third+x" is not a valid name: the note is malformed. */
	open_fails(more, strlen(more), &v, 1, ERR_INVAL, "'+' in a name");
	free(more);
	assert_int_equal(asprintf(&more,
	                     "%.*s\xe2\x80\x94 other.example "
	                     "AAAAAAAAAAAA\n%s",
	                     (int)(strstr(n, "\n\n") - n + 2), n,
	                     strstr(n, "\n\n") + 2) > 0,
	    1);
	open_ok(more, &v, 1, 1, NULL);
	free(more);
	/* The same good line twice counts once. */
	assert_int_equal(asprintf(&more, "%s%s", n, strstr(n, "\n\n") + 2) > 0,
	    1);
	open_ok(more, &v, 1, 1, NULL);
	free(more);
}

static void
test_malformed_notes_are_refused_as_invalid(void **state)
{
	struct note_verifier v;
	const char *n = good_note(&v);
	const char *sig = strstr(n, "\n\n") + 2;
	size_t textlen = (size_t)(sig - n - 1);
	char buf[8192], *p;
	int i;

	(void)state;
	/* No blank line before the signature. */
	snprintf(buf, sizeof(buf), "%.*s%s", (int)textlen, n, sig);
	open_fails(buf, strlen(buf), &v, 1, ERR_INVAL, "no blank line");
	/* Missing final newline. */
	open_fails(n, strlen(n) - 1, &v, 1, ERR_INVAL, "no final newline");
	/* Signature line without the em dash. */
	snprintf(buf, sizeof(buf), "%.*s- %s", (int)(sig - n), n, sig + 4);
	open_fails(buf, strlen(buf), &v, 1, ERR_INVAL, "hyphen, not em dash");
	/* Bad base64, and too short a signature. */
	snprintf(buf, sizeof(buf), "%.*s\xe2\x80\x94 x AAA!\n", (int)(sig - n),
	    n);
	open_fails(buf, strlen(buf), &v, 1, ERR_INVAL, "bad base64");
	snprintf(buf, sizeof(buf), "%.*s\xe2\x80\x94 x AAAA\n", (int)(sig - n),
	    n);
	open_fails(buf, strlen(buf), &v, 1, ERR_INVAL, "3-byte signature");
	snprintf(buf, sizeof(buf), "%.*s\xe2\x80\x94 xAAAAAAAA\n",
	    (int)(sig - n), n);
	open_fails(buf, strlen(buf), &v, 1, ERR_INVAL, "no space");
	/* Control character and invalid UTF-8 in the text. */
	snprintf(buf, sizeof(buf), "%s", n);
	buf[3] = '\t';
	open_fails(buf, strlen(buf), &v, 1, ERR_INVAL, "tab in text");
	buf[3] = '\xc0';
	open_fails(buf, strlen(buf), &v, 1, ERR_INVAL, "bad UTF-8");
	open_fails("\xe2\x80\x94 x AAAAAAAA\n", 15, &v, 1, ERR_INVAL,
	    "signature only");
	open_fails("", 0, &v, 1, ERR_INVAL, "empty");
	/* 101 signature lines (the good one last) are too many. */
	p = buf + snprintf(buf, sizeof(buf), "%.*s", (int)(sig - n), n);
	for (i = 0; i < NOTE_MAX_SIGS; i++)
		p += sprintf(p, "\xe2\x80\x94 o%d AAAAAAAA\n", i);
	p += sprintf(p, "%s", sig);
	open_fails(buf, strlen(buf), &v, 1, ERR_INVAL, "101 signatures");
	/* 100 are fine. */
	p = buf + snprintf(buf, sizeof(buf), "%.*s", (int)(sig - n), n);
	for (i = 0; i < NOTE_MAX_SIGS - 1; i++)
		p += sprintf(p, "\xe2\x80\x94 o%d AAAAAAAA\n", i);
	p += sprintf(p, "%s", sig);
	open_ok(buf, &v, 1, 1, NULL);
}

static void
test_sign_refuses_text_the_spec_forbids(void **state)
{
	struct key *k;
	char *out = (char *)"unchanged";

	(void)state;
	seed_key(vec("generated", 0), &k);
	assert_int_equal(note_sign("", 0, "a", k, &out), ERR_INVAL);
	assert_null(out);
	assert_int_equal(note_sign("no newline", 10, "a", k, &out), ERR_INVAL);
	assert_int_equal(note_sign("tab\there\n", 9, "a", k, &out), ERR_INVAL);
	assert_int_equal(note_sign("\xff\n", 2, "a", k, &out), ERR_INVAL);
	assert_int_equal(note_sign("ok\n", 3, "", k, &out), ERR_INVAL);
	assert_int_equal(note_sign("ok\n", 3, "a b", k, &out), ERR_INVAL);
	assert_int_equal(note_sign("ok\n", 3, "a+b", k, &out), ERR_INVAL);
	assert_int_equal(note_sign("ok\n", 3,
	                     "a\xc2\xa0"
	                     "b",
	                     k, &out),
	    ERR_INVAL);
	assert_int_equal(note_sign("ok\n", 3, "a", k, &out), 0);
	if (strncmp(out, "ok\n\n\xe2\x80\x94 a ", 10) != 0 ||
	    strlen(out) != 10 + 92 + 1 || out[strlen(out) - 1] != '\n')
		fail_msg("signed note has the wrong form: '%s'", out);
	free(out);
	key_free(k);
}

static void
test_vkey_parse_refuses_bad_keys(void **state)
{
	struct note_verifier v;
	static const char *bad[] = {
		"",
		"PeterNeumann",
		"PeterNeumann+c74f20a3",
		"+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		"LDE4izWy10TW",
		"PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		"LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		"LDE4izWy10T",
		"PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/"
		"LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
		"LDE4izWy10TWAA==",
		"Peter "
		"Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (note_vkey_parse(bad[i], &v) != ERR_INVAL)
			fail_msg("vkey accepted: '%s'", bad[i]);
	assert_int_equal(
	    note_vkey_parse("PeterNeumann+c74f20a3+"
	                    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	        &v),
	    0);
	assert_int_equal(v.id, 0xc74f20a3);
	assert_string_equal(v.name, "PeterNeumann");
}

static void
test_checkpoint_round_trips_with_and_without_extensions(void **state)
{
	uint8_t root[32];
	struct checkpoint cp;
	char *text, *ext;
	int i;

	(void)state;
	for (i = 0; i < 32; i++)
		root[i] = (uint8_t)(i * 37);
	assert_int_equal(
	    checkpoint_format("lodge.example/log", UINT64_MAX, root, &text), 0);
	assert_int_equal(checkpoint_parse(text, strlen(text), &cp), 0);
	assert_string_equal(cp.origin, "lodge.example/log");
	assert_true(cp.size == UINT64_MAX);
	assert_memory_equal(cp.root, root, 32);
	assert_null(cp.extensions);
	checkpoint_clear(&cp);
	checkpoint_clear(&cp); /* clearing twice is harmless */

	assert_int_equal(
	    asprintf(&ext, "%sext one\n\xe2\x80\x94 not a sig\n", text) > 0, 1);
	assert_int_equal(checkpoint_parse(ext, strlen(ext), &cp), 0);
	assert_string_equal(cp.extensions, "ext one\n\xe2\x80\x94 not a sig\n");
	checkpoint_clear(&cp);
	free(ext);
	free(text);

	assert_int_equal(checkpoint_format("o", 0, root, &text), 0);
	assert_int_equal(checkpoint_parse(text, strlen(text), &cp), 0);
	assert_int_equal(cp.size, 0);
	checkpoint_clear(&cp);
	free(text);

	text = (char *)"unchanged";
	assert_int_equal(checkpoint_format("", 1, root, &text), ERR_INVAL);
	assert_null(text);
	assert_int_equal(checkpoint_format("a\nb", 1, root, &text), ERR_INVAL);
}

static void
test_checkpoint_parse_refuses_bad_forms(void **state)
{
	static const char R[] = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";
	static const char *bad[] = {
		"",
		"o\n",
		"o\n8\n",
		"\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"o\n08\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"o\n+8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"o\n-1\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"o\n\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"o\n 8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"o\n0x8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"o\n18446744073709551616\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"o\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQy=\n",
		"o\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n",
		"o\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n",
		"o\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
		"o\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n",
		"o\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\next\n\n",
		"o\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7_RgQyg=\n",
		"o\r\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
		"o\n8\n"
		"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=AAAA\n",
	};
	struct checkpoint cp;
	char good[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = checkpoint_parse(bad[i], strlen(bad[i]), &cp);

		if (rc != ERR_INVAL)
			fail_msg("checkpoint %zu accepted or wrong code %d: "
			         "'%s'",
			    i, rc, bad[i]);
		assert_null(cp.origin);
		assert_null(cp.extensions);
	}
	snprintf(good, sizeof(good), "o\n18446744073709551615\n%s\n", R);
	assert_int_equal(checkpoint_parse(good, strlen(good), &cp), 0);
	checkpoint_clear(&cp);
	/* Embedded NUL is a control character. */
	snprintf(good, sizeof(good), "o\n8\n%s\n", R);
	good[0] = '\0';
	assert_int_equal(checkpoint_parse(good, 4 + strlen(R) + 1 + 1, &cp),
	    ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upstream_notes_verify_with_their_vkeys),
		cmocka_unit_test(
		    test_go_private_key_signs_the_upstream_note_byte_exactly),
		cmocka_unit_test(
		    test_checkpoint_signed_with_seed_equals_vector_byte_exactly),
		cmocka_unit_test(
		    test_cosignature_vector_verifies_and_is_reproduced),
		cmocka_unit_test(test_note_with_edited_text_is_refused),
		cmocka_unit_test(test_note_with_edited_signature_is_refused),
		cmocka_unit_test(
		    test_note_checked_against_wrong_key_is_refused),
		cmocka_unit_test(
		    test_note_signed_by_unknown_key_only_is_refused),
		cmocka_unit_test(
		    test_unknown_signers_are_ignored_beside_a_good_signature),
		cmocka_unit_test(test_malformed_notes_are_refused_as_invalid),
		cmocka_unit_test(test_sign_refuses_text_the_spec_forbids),
		cmocka_unit_test(test_vkey_parse_refuses_bad_keys),
		cmocka_unit_test(
		    test_checkpoint_round_trips_with_and_without_extensions),
		cmocka_unit_test(test_checkpoint_parse_refuses_bad_forms),
	};

	return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
