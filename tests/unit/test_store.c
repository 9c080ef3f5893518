/*
 * Unit tests for ledger/store, ledger/verify and ledger/mirror: appends,
 * roots and proofs against the in-memory tree, durability across reopen,
 * group commit and rollback, tampering of every kind detected, and the
 * verifier key given as text or a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/key.h"
#include "common/envelope.h"
#include "ledger/merkle.h"
#include "ledger/mirror.h"
#include "ledger/note.h"
#include "ledger/store.h"
#include "ledger/verify.h"

#define ORIGIN "test.lodge/ledger"

struct fixture {
	char dir[64];
	char db[128];
	struct key *logkey, *user;
	struct note_verifier vk;
	struct store *s;
};

static int
add_checkpoint(struct fixture *f)
{
	uint8_t root[32];
	char *body = NULL, *note = NULL;
	int rc;

	if ((rc = store_root(f->s, store_size(f->s), root)) < 0 ||
	    (rc = checkpoint_format(ORIGIN, store_size(f->s), root, &body)) <
	        0 ||
	    (rc = note_sign(body, strlen(body), ORIGIN, f->logkey, &note)) < 0)
		goto out;
	rc = store_checkpoint_add(f->s, store_size(f->s), 1, note);
out:
	free(body);
	free(note);
	return rc;
}

static void
append_n(struct fixture *f, int n)
{
	for (int i = 0; i < n; i++) {
		json_t *body = json_pack("{s:i}", "n", i);
		struct envelope *e;
		char nonce[32];

		snprintf(nonce, sizeof(nonce), "n%llu-%d",
		    (unsigned long long)store_size(f->s), i);
		assert_int_equal(envelope_sign(f->user, "test.entry", body,
		                     nonce, 1000 + i, &e),
		    0);
		assert_int_equal(
		    store_append(f->s, e, 5000 + i, NULL, NULL, NULL), 0);
		envelope_free(e);
		json_decref(body);
	}
}

static int teardown(void **state);

static int
setup(void **state)
{
	static const uint8_t s1[32] = { 1 }, s2[32] = { 2 };
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t pub[32];

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/lodge-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/log.db", f->dir);
	if (key_from_seed(s1, &f->logkey) < 0 ||
	    key_from_seed(s2, &f->user) < 0)
		goto fail;
	key_public(f->logkey, pub);
	if (note_verifier_init(&f->vk, ORIGIN, NOTE_SIG_ED25519, pub) < 0)
		goto fail;
	if (store_create(f->db, ORIGIN, pub, &f->s) < 0)
		goto fail;
	*state = f;
	return 0;
fail:
	*state = f;
	teardown(state);
	return -1;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[200];

	store_free(f->s);
	key_free(f->logkey);
	key_free(f->user);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
test_roots_and_proofs_match_the_in_memory_tree(void **state)
{
	struct fixture *f = *state;
	struct merkle_mem *mem;
	struct merkle_reader r;
	uint8_t a[32], b[32], lh[32], proof[MERKLE_MAX_PROOF][32];
	size_t n, len;
	char *data;

	append_n(f, 77);
	assert_int_equal(store_size(f->s), 77);
	assert_int_equal(merkle_mem_new(&mem), 0);
	for (uint64_t i = 0; i < 77; i++) {
		assert_int_equal(store_leaf(f->s, i, &data, &len, NULL), 0);
		merkle_leaf_hash(data, len, lh);
		assert_int_equal(merkle_mem_append(mem, lh), 0);
		free(data);
	}
	merkle_mem_reader(mem, &r);
	for (uint64_t size = 0; size <= 77; size++) {
		assert_int_equal(store_root(f->s, size, a), 0);
		assert_int_equal(merkle_root(size, &r, b), 0);
		assert_memory_equal(a, b, 32);
	}
	assert_int_equal(store_root(f->s, 77, a), 0);
	for (uint64_t i = 0; i < 77; i += 5) {
		assert_int_equal(store_leaf(f->s, i, &data, &len, NULL), 0);
		merkle_leaf_hash(data, len, lh);
		free(data);
		assert_int_equal(store_inclusion_proof(f->s, i, 77, proof, &n),
		    0);
		assert_int_equal(merkle_verify_inclusion(i, 77, lh,
		                     (const uint8_t(*)[32])proof, n, a),
		    0);
	}
	assert_int_equal(store_root(f->s, 30, b), 0);
	assert_int_equal(store_consistency_proof(f->s, 30, 77, proof, &n), 0);
	assert_int_equal(merkle_verify_consistency(30, 77, b, a,
	                     (const uint8_t(*)[32])proof, n),
	    0);
	assert_int_equal(store_inclusion_proof(f->s, 77, 77, proof, &n),
	    ERR_RANGE);
	assert_int_equal(store_root(f->s, 78, a), ERR_RANGE);
	merkle_mem_free(mem);
}

static void
test_reopen_keeps_everything_and_time_never_decreases(void **state)
{
	struct fixture *f = *state;
	struct envelope *e;
	json_t *body = json_object();
	int64_t t;
	uint8_t a[32], b[32];

	append_n(f, 10);
	assert_int_equal(store_root(f->s, 10, a), 0);
	store_free(f->s);
	f->s = NULL; /* a failed open leaves it so: teardown frees it once */
	assert_int_equal(store_open(f->db, 0, &f->s), 0);
	assert_int_equal(store_size(f->s), 10);
	assert_string_equal(store_origin(f->s), ORIGIN);
	assert_int_equal(store_root(f->s, 10, b), 0);
	assert_memory_equal(a, b, 32);
	/* the sequencer clock went back: the leaf keeps the last time */
	assert_int_equal(envelope_sign(f->user, "test.entry", body, "x", 1, &e),
	    0);
	assert_int_equal(store_append(f->s, e, 1, NULL, &t, NULL), 0);
	assert_int_equal(t, store_last_time(f->s));
	assert_true(t >= 5009);
	envelope_free(e);
	json_decref(body);
}

static void
test_group_commit_rollback_restores_size(void **state)
{
	struct fixture *f = *state;

	append_n(f, 3);
	assert_int_equal(store_begin(f->s), 0);
	append_n(f, 4);
	assert_int_equal(store_size(f->s), 7);
	store_rollback(f->s);
	assert_int_equal(store_size(f->s), 3);
	append_n(f, 2);
	assert_int_equal(store_size(f->s), 5);
	assert_int_equal(add_checkpoint(f), 0);
	struct verify_report rep;
	assert_int_equal(verify_store(f->s, &f->vk, &rep), 0);
	assert_int_equal(rep.entries, 5);
}

static void
test_create_refuses_existing_file(void **state)
{
	struct fixture *f = *state;
	struct store *s2;
	uint8_t pub[32] = { 0 };

	assert_int_equal(store_create(f->db, ORIGIN, pub, &s2), ERR_CONFLICT);
}

/* Run SQL on the database behind the store's back. */
static void
tamper(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	store_free(f->s);
	f->s = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("tamper SQL failed: %s", msg);
	sqlite3_close(db);
	assert_int_equal(store_open(f->db, 1, &f->s), 0);
}

static void
expect_verify_fails(struct fixture *f, const char *needle)
{
	struct verify_report rep;
	int rc = verify_store(f->s, &f->vk, &rep);

	if (rc == 0)
		fail_msg("verify passed on a tampered log (wanted '%s')",
		    needle);
	if (strstr(err_msg(), needle) == NULL)
		fail_msg("verify said '%s', wanted it to mention '%s'",
		    err_msg(), needle);
}

static void
build_checkpointed(struct fixture *f, int n)
{
	struct verify_report rep;

	append_n(f, n);
	assert_int_equal(add_checkpoint(f), 0);
	assert_int_equal(verify_store(f->s, &f->vk, &rep), 0);
	assert_int_equal(rep.entries, (uint64_t)n);
	assert_int_equal(rep.checkpoints, 1);
}

static void
test_tamper_changed_entry_is_detected(void **state)
{
	struct fixture *f = *state;

	build_checkpointed(f, 20);
	tamper(f,
	    "UPDATE leaf SET data = replace(data, '\"n\":7', '\"n\":8') "
	    "WHERE idx = 7");
	expect_verify_fails(f, "index 7");
}

static void
test_tamper_removed_entry_is_detected(void **state)
{
	struct fixture *f = *state;

	build_checkpointed(f, 20);
	tamper(f, "DELETE FROM leaf WHERE idx = 12");
	expect_verify_fails(f, "index 13");
}

static void
test_tamper_removed_last_entry_is_detected(void **state)
{
	struct fixture *f = *state;

	build_checkpointed(f, 20);
	tamper(f,
	    "DELETE FROM leaf WHERE idx = 19; DELETE FROM node WHERE "
	    "level = 0 AND idx = 19");
	expect_verify_fails(f, "entries");
}

static void
test_tamper_swapped_entries_are_detected(void **state)
{
	struct fixture *f = *state;

	build_checkpointed(f, 20);
	tamper(f,
	    "UPDATE leaf SET idx = -1 WHERE idx = 4;"
	    "UPDATE leaf SET idx = 4 WHERE idx = 5;"
	    "UPDATE leaf SET idx = 5 WHERE idx = -1;");
	expect_verify_fails(f, "index 4");
}

/* Two bad leaves in the second batch of 2048, the lower one a signature
 * (checked on a worker), the higher an edited index: whatever the
 * number of threads, the lower index is named, with the same words. */
static void
test_parallel_verify_names_the_lowest_bad_index(void **state)
{
	struct fixture *f = *state;
	struct verify_report rep;
	char first[ERR_MSG_SIZE];
	static const int threads[] = { 1, 2, 3, 8 };

	append_n(f, 3000);
	assert_int_equal(add_checkpoint(f), 0);
	for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		assert_int_equal(
		    verify_store_mt(f->s, &f->vk, threads[i], &rep), 0);
		assert_int_equal(rep.entries, 3000);
	}
	tamper(f,
	    "UPDATE leaf SET data = replace(data, '\"n\":2900', "
	    "'\"n\":2901') WHERE idx = 2900;"
	    "UPDATE leaf SET data = replace(data, '\"index\":2999', "
	    "'\"index\":2998') WHERE idx = 2999;"
	    "UPDATE leaf SET data = replace(data, '\"n\":2100', "
	    "'\"n\":2101') WHERE idx = 2100;");
	for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		assert_int_equal(
		    verify_store_mt(f->s, &f->vk, threads[i], &rep),
		    ERR_CORRUPT);
		if (strstr(err_msg(), "index 2100") == NULL)
			fail_msg("%d threads: '%s' does not name index 2100",
			    threads[i], err_msg());
		if (i == 0)
			snprintf(first, sizeof(first), "%s", err_msg());
		else if (strcmp(first, err_msg()) != 0)
			fail_msg("%d threads said '%s', one thread '%s'",
			    threads[i], err_msg(), first);
	}
	/* with the lower one repaired, the next one is named */
	tamper(f,
	    "UPDATE leaf SET data = replace(data, '\"n\":2101', "
	    "'\"n\":2100') WHERE idx = 2100;");
	for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		assert_int_equal(
		    verify_store_mt(f->s, &f->vk, threads[i], &rep),
		    ERR_CORRUPT);
		if (strstr(err_msg(), "index 2900") == NULL)
			fail_msg("%d threads: '%s' does not name index 2900",
			    threads[i], err_msg());
	}
}

static void
test_tamper_edited_checkpoint_is_detected(void **state)
{
	struct fixture *f = *state;

	build_checkpointed(f, 20);
	tamper(f,
	    "UPDATE checkpoint SET note = replace(note, '\n20\n', "
	    "'\n19\n')");
	expect_verify_fails(f, "checkpoint");
}

static void
test_tamper_stored_hash_is_detected(void **state)
{
	struct fixture *f = *state;

	build_checkpointed(f, 20);
	tamper(f,
	    "UPDATE node SET hash = zeroblob(32) WHERE level = 2 AND "
	    "idx = 1");
	expect_verify_fails(f, "level 2, index 1");
}

static void
test_verify_wants_a_checkpoint_by_the_right_key(void **state)
{
	struct fixture *f = *state;
	struct note_verifier other;
	struct verify_report rep;
	uint8_t pub[32];

	append_n(f, 3);
	assert_int_equal(verify_store(f->s, &f->vk, &rep), ERR_CORRUPT);
	assert_int_equal(add_checkpoint(f), 0);
	key_public(f->user, pub);
	assert_int_equal(
	    note_verifier_init(&other, ORIGIN, NOTE_SIG_ED25519, pub), 0);
	assert_true(verify_store(f->s, &other, &rep) < 0);
}

static void
test_mirror_round_trip_and_incremental_commits(void **state)
{
	struct fixture *f = *state;
	struct mirror_report mr;
	struct verify_report vr;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/mirror.git", f->dir);
	append_n(f, 1500);
	assert_int_equal(add_checkpoint(f), 0);
	assert_int_equal(mirror_update(f->s, dir, &mr), 0);
	assert_int_equal(mr.commits, 1);
	assert_int_equal(mr.size, 1500);
	append_n(f, 700);
	assert_int_equal(add_checkpoint(f), 0);
	append_n(f, 5);
	assert_int_equal(add_checkpoint(f), 0);
	assert_int_equal(mirror_update(f->s, dir, &mr), 0);
	assert_int_equal(mr.commits, 2);
	assert_int_equal(mr.size, 2205);
	assert_int_equal(mirror_update(f->s, dir, &mr), 0);
	assert_int_equal(mr.commits, 0);
	assert_int_equal(mirror_verify(dir, &f->vk, &vr), 0);
	assert_int_equal(vr.entries, 2205);
	assert_int_equal(vr.checkpoints, 3);
}

static void
test_vkey_load_takes_text_or_a_file(void **state)
{
	struct fixture *f = *state;
	struct note_verifier v;
	char path[160], *text = NULL;
	FILE *fp;

	assert_int_equal(note_vkey_format(ORIGIN, f->vk.pub, &text), 0);
	assert_int_equal(verify_vkey_load(text, &v), 0);
	assert_int_equal(v.id, f->vk.id);
	/* a file holding it, the first line counts */
	snprintf(path, sizeof(path), "%s/vkey", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%s\nsomething else\n", text);
	fclose(fp);
	memset(&v, 0, sizeof(v));
	assert_int_equal(verify_vkey_load(path, &v), 0);
	assert_int_equal(v.id, f->vk.id);
	assert_memory_equal(v.pub, f->vk.pub, KEY_PUB_LEN);
	/* no such file; a key ID that does not match */
	snprintf(path, sizeof(path), "%s/nothing", f->dir);
	assert_true(verify_vkey_load(path, &v) < 0);
	text[strlen(ORIGIN) + 1] ^= 1;
	assert_int_equal(verify_vkey_load(text, &v), ERR_INVAL);
	free(text);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_roots_and_proofs_match_the_in_memory_tree),
		T(test_reopen_keeps_everything_and_time_never_decreases),
		T(test_group_commit_rollback_restores_size),
		T(test_create_refuses_existing_file),
		T(test_tamper_changed_entry_is_detected),
		T(test_tamper_removed_entry_is_detected),
		T(test_tamper_removed_last_entry_is_detected),
		T(test_tamper_swapped_entries_are_detected),
		T(test_tamper_edited_checkpoint_is_detected),
		T(test_parallel_verify_names_the_lowest_bad_index),
		T(test_tamper_stored_hash_is_detected),
		T(test_verify_wants_a_checkpoint_by_the_right_key),
		T(test_mirror_round_trip_and_incremental_commits),
		T(test_vkey_load_takes_text_or_a_file),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
