/*
 * Unit tests for ledger/signer: a new log bound to its key (created or
 * loaded), its verifier key and empty checkpoint, refusals that leave
 * nothing behind, finding the key again, and signed checkpoints that
 * verify.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "ledger/note.h"
#include "ledger/signer.h"
#include "ledger/store.h"
#include "ledger/verify.h"

#define ORIGIN "test.lodge/signer"

struct fixture {
	char dir[64];
	char db[128];
	char key[128];
	char other[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/lodge-signer-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/log.db", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/log.key", f->dir);
	snprintf(f->other, sizeof(f->other), "%s/other.key", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
save_new_key(const char *path)
{
	struct key *k;

	assert_int_equal(key_generate(&k), 0);
	assert_int_equal(key_save(k, path), 0);
	key_free(k);
}

/* A fresh log: its key created, vkey and empty checkpoint verify. */
static void
create(struct fixture *f, struct note_verifier *vk)
{
	char *vkey = NULL;
	int created = -1;

	assert_int_equal(
	    signer_create_log(f->db, ORIGIN, f->key, &vkey, &created), 0);
	assert_int_equal(created, 1);
	assert_int_equal(note_vkey_parse(vkey, vk), 0);
	assert_string_equal(vk->name, ORIGIN);
	free(vkey);
}

static void
test_create_log_binds_a_new_key_and_signs_the_empty_tree(void **state)
{
	struct fixture *f = *state;
	struct note_verifier vk;
	struct verify_report rep;
	struct store *s;
	struct stat st;

	create(f, &vk);
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(store_open(f->db, 1, &s), 0);
	assert_int_equal(verify_store(s, &vk, &rep), 0);
	assert_int_equal(rep.entries, 0);
	assert_int_equal(rep.checkpoints, 1);
	store_free(s);
}

static void
test_create_log_loads_an_existing_key(void **state)
{
	struct fixture *f = *state;
	struct note_verifier vk;
	struct key *k;
	uint8_t pub[KEY_PUB_LEN];
	char *vkey = NULL;
	int created = -1;

	save_new_key(f->key);
	assert_int_equal(
	    signer_create_log(f->db, ORIGIN, f->key, &vkey, &created), 0);
	assert_int_equal(created, 0);
	assert_int_equal(note_vkey_parse(vkey, &vk), 0);
	assert_int_equal(key_load(f->key, &k), 0);
	key_public(k, pub);
	assert_memory_equal(vk.pub, pub, KEY_PUB_LEN);
	key_free(k);
	free(vkey);
}

static void
test_create_log_refuses_an_existing_file_before_the_key(void **state)
{
	struct fixture *f = *state;
	char *vkey = NULL;
	FILE *fp = fopen(f->db, "w");

	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(signer_create_log(f->db, ORIGIN, f->key, &vkey, NULL),
	    ERR_CONFLICT);
	if (strstr(err_msg(), "refusing to replace") == NULL)
		fail_msg("said '%s'", err_msg());
	assert_int_equal(access(f->key, F_OK), -1); /* no key left behind */
}

static void
test_create_log_refuses_a_bad_origin_or_key(void **state)
{
	struct fixture *f = *state;
	char *vkey = NULL;
	FILE *fp;

	assert_int_equal(
	    signer_create_log(f->db, "two words", f->key, &vkey, NULL),
	    ERR_INVAL);
	assert_int_equal(access(f->key, F_OK), -1);
	fp = fopen(f->key, "w");
	assert_non_null(fp);
	fputs("not a key\n", fp);
	fclose(fp);
	assert_true(signer_create_log(f->db, ORIGIN, f->key, &vkey, NULL) < 0);
	assert_int_equal(access(f->db, F_OK), -1); /* no log left behind */
}

static void
test_key_load_finds_the_recorded_key_and_refuses_others(void **state)
{
	struct fixture *f = *state;
	struct note_verifier vk;
	struct store *s;
	struct key *k = NULL;
	sqlite3 *db;

	create(f, &vk);
	save_new_key(f->other);
	assert_int_equal(store_open(f->db, 0, &s), 0);
	assert_int_equal(signer_key_load(s, NULL, &k), 0);
	key_free(k);
	assert_int_equal(signer_key_load(s, f->key, &k), 0);
	key_free(k);
	assert_int_equal(signer_key_load(s, f->other, &k), ERR_INVAL);
	if (strstr(err_msg(), "is not this log's key") == NULL)
		fail_msg("said '%s'", err_msg());
	store_free(s);
	/* a log that never recorded its key */
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                     "DELETE FROM meta WHERE key = "
	                     "'key_path'",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->db, 0, &s), 0);
	assert_int_equal(signer_key_load(s, NULL, &k), ERR_INVAL);
	assert_string_equal(err_msg(), "no key recorded; pass --key");
	store_free(s);
}

static void
test_checkpoint_signs_size_and_root_that_verify(void **state)
{
	struct fixture *f = *state;
	static const uint8_t seed[32] = { 9 };
	struct note_verifier vk;
	struct verify_report rep;
	struct store *s;
	struct key *k, *user;
	struct checkpoint cp;
	uint8_t root[32];
	char *note = NULL, *text = NULL;
	uint64_t size;

	create(f, &vk);
	assert_int_equal(key_from_seed(seed, &user), 0);
	assert_int_equal(store_open(f->db, 0, &s), 0);
	for (int i = 0; i < 5; i++) {
		json_t *body = json_pack("{s:i}", "n", i);
		struct envelope *e;
		char nonce[16];

		snprintf(nonce, sizeof(nonce), "n%d", i);
		assert_int_equal(envelope_sign(user, "test.entry", body, nonce,
		                     1000 + i, &e),
		    0);
		assert_int_equal(store_append(s, e, 5000 + i, NULL, NULL, NULL),
		    0);
		envelope_free(e);
		json_decref(body);
	}
	assert_int_equal(signer_key_load(s, NULL, &k), 0);
	/* a checkpoint of a prefix, then of everything */
	assert_int_equal(signer_checkpoint(s, 3, k, &note), 0);
	assert_int_equal(note_open(note, strlen(note), &vk, 1, &text, NULL), 0);
	assert_int_equal(checkpoint_parse(text, strlen(text), &cp), 0);
	assert_string_equal(cp.origin, ORIGIN);
	assert_int_equal(cp.size, 3);
	assert_int_equal(store_root(s, 3, root), 0);
	assert_memory_equal(cp.root, root, 32);
	checkpoint_clear(&cp);
	free(text);
	free(note);
	assert_int_equal(signer_checkpoint(s, store_size(s), k, &note), 0);
	free(note);
	assert_int_equal(store_checkpoint_latest(s, &size, &note), 0);
	assert_int_equal(size, 5);
	free(note);
	assert_int_equal(verify_store(s, &vk, &rep), 0);
	assert_int_equal(rep.checkpoints, 3);
	assert_int_equal(rep.latest_size, 5);
	/* past the end of the log: nothing signed, nothing stored */
	note = NULL;
	assert_int_equal(signer_checkpoint(s, 6, k, &note), ERR_RANGE);
	assert_null(note);
	key_free(k);
	key_free(user);
	store_free(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_log_binds_a_new_key_and_signs_the_empty_tree),
		T(test_create_log_loads_an_existing_key),
		T(test_create_log_refuses_an_existing_file_before_the_key),
		T(test_create_log_refuses_a_bad_origin_or_key),
		T(test_key_load_finds_the_recorded_key_and_refuses_others),
		T(test_checkpoint_signs_size_and_root_that_verify),
	};
	return cmocka_run_group_tests_name("signer", tests, NULL, NULL);
}
