/*
 * Unit tests for ledger/audit's sources: a small market ledger (genesis
 * and deposits) audited from its store file, from a git mirror and from
 * a stand-in market serving it over HTTP a page at a time; pinned and
 * learned keys, a wrong key, a missing checkpoint, a market that errs.
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

#include "common/codec.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/http.h"
#include "common/key.h"
#include "ledger/audit.h"
#include "ledger/mirror.h"
#include "ledger/note.h"
#include "ledger/replay.h"
#include "ledger/signer.h"
#include "ledger/store.h"

#define ORIGIN "test.lodge/audit"
#define T0 1700000000000LL
#define DEPOSITS 4
#define PAGE 2 /* entries the stand-in market serves per request */

struct fixture {
	char dir[64];
	char db[128];
	struct key *market, *treasury, *other;
	struct note_verifier vk; /* the log's: the market key's */
	struct http_server *srv;
	char url[64];
	int fail_status; /* the stand-in market answers this, when set */
};

static void
append_signed(struct store *s, const struct key *k, const char *kind,
    json_t *body, const char *nonce, int64_t t)
{
	struct envelope *e;

	assert_int_equal(envelope_sign(k, kind, body, nonce, t, &e), 0);
	assert_int_equal(store_append(s, e, t, NULL, NULL, NULL), 0);
	envelope_free(e);
	json_decref(body);
}

/* Genesis, DEPOSITS deposits from the treasury, then a checkpoint. */
static void
build_ledger(struct fixture *f, int checkpoint)
{
	struct state_config cfg;
	struct store *s;
	uint8_t pub[KEY_PUB_LEN];
	char to[KEY_TEXT_SIZE], nonce[32], *note;
	json_t *body;

	state_config_default(&cfg);
	key_public(f->market, cfg.market_key);
	key_public(f->treasury, cfg.treasury_key);
	key_public(f->other, pub);
	key_pub_to_text(pub, to);
	assert_int_equal(store_create(f->db, ORIGIN, cfg.market_key, &s), 0);
	assert_int_equal(replay_genesis_body(&cfg, &body), 0);
	append_signed(s, f->market, REPLAY_GENESIS_KIND, body, "market-0", T0);
	for (int i = 0; i < DEPOSITS; i++) {
		snprintf(nonce, sizeof(nonce), "deposit-%d", i);
		append_signed(s, f->treasury, "account.deposit",
		    json_pack("{s:s,s:s,s:i}", "to", to, "denom", "uakt",
		        "amount", 1000 + i),
		    nonce, T0 + 1 + i);
	}
	if (checkpoint) {
		assert_int_equal(
		    signer_checkpoint(s, store_size(s), f->market, &note), 0);
		free(note);
	}
	store_free(s);
}

/* ---- a stand-in market over the store ------------------------------ */

struct page {
	json_t *arr;
};

static int
page_leaf(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct page *p = ctx;
	char *b64 = malloc(B64_ENCODED_SIZE(len));

	if (b64 == NULL)
		return ERR_NOMEM;
	b64_encode((const uint8_t *)data, len, b64);
	json_array_append_new(p->arr,
	    json_pack("{s:I,s:I,s:s}", "index", (json_int_t)idx, "time",
	        (json_int_t)time, "leaf", b64));
	free(b64);
	return 0;
}

static void
serve(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct fixture *f = ctx;
	struct store *s = NULL;
	struct page pg = { NULL };
	uint64_t size, start, end;
	char *note = NULL, *vkey = NULL;
	uint8_t pub[KEY_PUB_LEN];
	json_t *o = NULL;

	if (f->fail_status) {
		http_respond_error(resp, f->fail_status, "out of order");
		return;
	}
	if (store_open(f->db, 1, &s) < 0) {
		http_respond_error(resp, 500, "%s", err_msg());
		return;
	}
	if (strcmp(req->path, "/v1/ledger/checkpoint") == 0) {
		store_checkpoint_latest(s, &size, &note);
		http_respond(resp, 200, note);
	} else if (strcmp(req->path, "/v1/info") == 0) {
		store_log_pub(s, pub);
		note_vkey_format(ORIGIN, pub, &vkey);
		o = json_pack("{s:s}", "vkey", vkey);
		http_respond(resp, 200, json_dumps(o, 0));
		free(vkey);
	} else if (strcmp(req->path, "/v1/ledger/entries") == 0) {
		start = strtoull(http_query(req, "start"), NULL, 10);
		end = strtoull(http_query(req, "end"), NULL, 10);
		if (end > start + PAGE)
			end = start + PAGE;
		pg.arr = json_array();
		store_foreach(s, start, end, page_leaf, &pg);
		o = json_pack("{s:o}", "entries", pg.arr);
		http_respond(resp, 200, json_dumps(o, 0));
	} else {
		http_respond_error(resp, 404, "no such thing");
	}
	json_decref(o);
	store_free(s);
}

static void
start_market(struct fixture *f)
{
	struct http_server_config c;

	http_server_config_default(&c);
	c.host = "127.0.0.1";
	c.port = 0;
	assert_int_equal(http_server_start(&c, serve, f, &f->srv), 0);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u",
	    (unsigned)http_server_port(f->srv));
}

static int
setup(void **state)
{
	static const uint8_t s1[32] = { 1 }, s2[32] = { 2 }, s3[32] = { 3 };
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t pub[KEY_PUB_LEN];

	strcpy(f->dir, "/tmp/lodge-audit-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/log.db", f->dir);
	if (key_from_seed(s1, &f->market) < 0 ||
	    key_from_seed(s2, &f->treasury) < 0 ||
	    key_from_seed(s3, &f->other) < 0)
		return -1;
	key_public(f->market, pub);
	if (note_verifier_init(&f->vk, ORIGIN, NOTE_SIG_ED25519, pub) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[200];

	http_server_free(f->srv);
	key_free(f->market);
	key_free(f->treasury);
	key_free(f->other);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* The audit passes and covers the whole ledger. */
static void
expect_clean(struct audit *a)
{
	json_t *summary = NULL;

	assert_non_null(a);
	if (audit_finish(a, &summary) < 0)
		fail_msg("audit_finish: %s", err_msg());
	assert_int_equal(
	    json_integer_value(json_object_get(summary, "entries")),
	    1 + DEPOSITS);
	json_decref(summary);
	audit_free(a);
}

static void
test_store_with_its_own_key_is_learned(void **state)
{
	struct fixture *f = *state;
	struct audit_key key = { .pinned = 0 };
	struct audit *a = NULL;

	build_ledger(f, 1);
	if (audit_from_store(f->db, &key, &a) < 0)
		fail_msg("audit_from_store: %s", err_msg());
	assert_true(key.learned);
	assert_string_equal(key.vk.name, ORIGIN);
	assert_memory_equal(key.vk.pub, f->vk.pub, KEY_PUB_LEN);
	expect_clean(a);
}

static void
test_store_with_a_pinned_key(void **state)
{
	struct fixture *f = *state;
	struct audit_key key = { .pinned = 1 };
	struct audit *a = NULL;
	uint8_t pub[KEY_PUB_LEN];

	build_ledger(f, 1);
	key.vk = f->vk;
	assert_int_equal(audit_from_store(f->db, &key, &a), 0);
	assert_false(key.learned);
	expect_clean(a);
	/* pinned to another key: the checkpoint is not by it */
	key_public(f->other, pub);
	assert_int_equal(
	    note_verifier_init(&key.vk, ORIGIN, NOTE_SIG_ED25519, pub), 0);
	assert_true(audit_from_store(f->db, &key, &a) < 0);
	assert_null(a);
	assert_false(key.learned);
}

static void
test_store_without_a_checkpoint_is_refused(void **state)
{
	struct fixture *f = *state;
	struct audit_key key = { .pinned = 0 };
	struct audit *a = NULL;

	build_ledger(f, 0);
	assert_int_equal(audit_from_store(f->db, &key, &a), ERR_CORRUPT);
	assert_null(a);
	if (strstr(err_msg(), "no checkpoint") == NULL)
		fail_msg("said '%s'", err_msg());
	assert_true(key.learned); /* the key was known before the failure */
}

static void
test_mirror_needs_a_pinned_key(void **state)
{
	struct fixture *f = *state;
	struct audit_key key = { .pinned = 0 };
	struct audit *a = NULL;
	struct mirror_report rep;
	struct store *s;
	char dir[128];

	build_ledger(f, 1);
	snprintf(dir, sizeof(dir), "%s/mirror.git", f->dir);
	assert_int_equal(store_open(f->db, 1, &s), 0);
	assert_int_equal(mirror_update(s, dir, &rep), 0);
	store_free(s);
	assert_int_equal(audit_from_mirror(dir, &key, &a), ERR_INVAL);
	assert_null(a);
	if (strstr(err_msg(), "--vkey") == NULL)
		fail_msg("said '%s'", err_msg());
	key.pinned = 1;
	key.vk = f->vk;
	assert_int_equal(audit_from_mirror(dir, &key, &a), 0);
	expect_clean(a);
}

static void
test_market_served_a_page_at_a_time(void **state)
{
	struct fixture *f = *state;
	struct audit_key key = { .pinned = 0 };
	struct audit *a = NULL;

	build_ledger(f, 1);
	start_market(f);
	if (audit_from_market(f->url, &key, &a) < 0)
		fail_msg("audit_from_market: %s", err_msg());
	assert_true(key.learned);
	assert_memory_equal(key.vk.pub, f->vk.pub, KEY_PUB_LEN);
	expect_clean(a);
	/* the same with the key pinned */
	key = (struct audit_key){ .vk = f->vk, .pinned = 1 };
	assert_int_equal(audit_from_market(f->url, &key, &a), 0);
	assert_false(key.learned);
	expect_clean(a);
}

static void
test_market_that_errs_is_named(void **state)
{
	struct fixture *f = *state;
	struct audit_key key = { .pinned = 0 };
	struct audit *a = NULL;
	char want[128];

	build_ledger(f, 1);
	start_market(f);
	f->fail_status = 503;
	assert_int_equal(audit_from_market(f->url, &key, &a), ERR_IO);
	assert_null(a);
	assert_false(key.learned);
	snprintf(want, sizeof(want), "%s/v1/ledger/checkpoint: HTTP 503",
	    f->url);
	assert_string_equal(err_msg(), want);
}

/* Genesis and n deposits; the one at bad_rule is signed by a key that
 * may not mint (refused by the state machine, in order), the one at
 * bad_sig has its amount changed after signing (refused on a worker
 * thread). */
static void
build_long_ledger(struct fixture *f, int n, int bad_rule, int bad_sig)
{
	struct state_config cfg;
	struct store *s;
	uint8_t pub[KEY_PUB_LEN];
	char to[KEY_TEXT_SIZE], nonce[32], *note;
	json_t *body;

	state_config_default(&cfg);
	key_public(f->market, cfg.market_key);
	key_public(f->treasury, cfg.treasury_key);
	key_public(f->other, pub);
	key_pub_to_text(pub, to);
	assert_int_equal(store_create(f->db, ORIGIN, cfg.market_key, &s), 0);
	assert_int_equal(replay_genesis_body(&cfg, &body), 0);
	append_signed(s, f->market, REPLAY_GENESIS_KIND, body, "market-0", T0);
	assert_int_equal(store_begin(s), 0);
	for (int i = 1; i <= n; i++) {
		struct envelope *e;
		char *amount;

		snprintf(nonce, sizeof(nonce), "deposit-%d", i);
		body = json_pack("{s:s,s:s,s:i}", "to", to, "denom", "uakt",
		    "amount", 1000);
		assert_int_equal(
		    envelope_sign(i == bad_rule ? f->other : f->treasury,
		        "account.deposit", body, nonce, T0, &e),
		    0);
		json_decref(body);
		if (i == bad_sig) {
			amount = strstr(e->canon, "\"amount\":1000");
			assert_non_null(amount);
			amount[9] = '2';
		}
		assert_int_equal(store_append(s, e, T0, NULL, NULL, NULL), 0);
		envelope_free(e);
	}
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(signer_checkpoint(s, store_size(s), f->market, &note),
	    0);
	free(note);
	store_free(s);
}

static int
feed_leaf_cb(void *ctx, uint64_t idx, int64_t time, const char *data,
    size_t len)
{
	return audit_leaf(ctx, idx, time, data, len);
}

static int
feed_cp_cb(void *ctx, uint64_t size, const char *note)
{
	(void)size;
	return audit_checkpoint(ctx, note, strlen(note));
}

/* The audit of f->db on threads threads: its code, the message in msg. */
static int
audit_threads(struct fixture *f, int threads, char *msg, size_t len)
{
	struct store *s;
	struct audit *a;
	int rc;

	assert_int_equal(store_open(f->db, 1, &s), 0);
	assert_int_equal(audit_new(&f->vk, &a), 0);
	audit_set_threads(a, threads);
	rc = store_foreach(s, 0, UINT64_MAX, feed_leaf_cb, a);
	if (rc == 0)
		rc = store_foreach_checkpoint(s, feed_cp_cb, a);
	if (rc == 0)
		rc = audit_finish(a, NULL);
	snprintf(msg, len, "%s", rc < 0 ? err_msg() : "");
	audit_free(a);
	store_free(s);
	return rc;
}

/* Leaves are checked on worker threads a batch at a time, yet the first
 * bad index is named, with the same words, whatever the thread count;
 * a signature failure checked early on a worker does not hide an
 * earlier rule failure found in order. */
static void
test_parallel_audit_names_the_lowest_bad_index(void **state)
{
	struct fixture *f = *state;
	static const int threads[] = { 1, 2, 3 };
	char first[ERR_MSG_SIZE], msg[ERR_MSG_SIZE];

	build_long_ledger(f, 2600, 0, 0);
	for (size_t i = 0; i < 3; i++)
		if (audit_threads(f, threads[i], msg, sizeof(msg)) != 0)
			fail_msg("%d threads: clean ledger refused: %s",
			    threads[i], msg);
	unlink(f->db);
	build_long_ledger(f, 2600, 1500, 2100);
	for (size_t i = 0; i < 3; i++) {
		assert_true(audit_threads(f, threads[i], msg, sizeof(msg)) < 0);
		if (strstr(msg, "index 1500") == NULL)
			fail_msg("%d threads: '%s' does not name index 1500",
			    threads[i], msg);
		if (i == 0)
			snprintf(first, sizeof(first), "%s", msg);
		else if (strcmp(first, msg) != 0)
			fail_msg("%d threads said '%s', one thread '%s'",
			    threads[i], msg, first);
	}
	unlink(f->db);
	build_long_ledger(f, 2600, 0, 2100);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(audit_threads(f, threads[i], msg, sizeof(msg)),
		    ERR_CORRUPT);
		if (strstr(msg, "index 2100") == NULL)
			fail_msg("%d threads: '%s' does not name index 2100",
			    threads[i], msg);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_store_with_its_own_key_is_learned),
		T(test_store_with_a_pinned_key),
		T(test_store_without_a_checkpoint_is_refused),
		T(test_mirror_needs_a_pinned_key),
		T(test_market_served_a_page_at_a_time),
		T(test_market_that_errs_is_named),
		T(test_parallel_audit_names_the_lowest_bad_index),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
