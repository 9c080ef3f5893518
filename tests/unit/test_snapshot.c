/*
 * Unit tests for ledger/snapshot: a state snapshot file and its record in
 * the store.  A restart takes a matching snapshot and replays only the
 * tail, reaching the state a full replay reaches; a changed byte, a root
 * of another ledger, a size past the ledger, a missing file are each
 * refused with a sentence saying why, and the whole ledger is replayed to
 * the same state; with no snapshot recorded nothing is said.  A snapshot
 * written by a forked child (snapshot_start) is the one snapshot_write
 * writes; a child killed while writing leaves the previous snapshot in
 * use; a crash between the record and the rename into place leaves
 * state.snap.new, which a restart takes and puts in place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cjson.h"
#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "common/util.h"
#include "ledger/replay.h"
#include "ledger/snapshot.h"
#include "ledger/store.h"

#define ORIGIN "test.lodge/snapshot"
#define T0 1700000000000LL
#define N 40 /* deposits after the genesis */
#define CUT 25 /* the snapshot is of the first CUT leaves */

struct fixture {
	char dir[64], db[128], snap[128];
	struct store *s;
	char *full; /* the dump of the whole replay */
};

static char *
dump_text(const struct state *st)
{
	json_t *d;
	char *t;

	assert_int_equal(state_dump(st, &d), 0);
	assert_int_equal(cjson_dump(d, &t, NULL), 0);
	json_decref(d);
	return t;
}

static int
setup(void **state)
{
	static const uint8_t s1[32] = { 1 }, s2[32] = { 2 }, s3[32] = { 3 };
	struct fixture *f = calloc(1, sizeof(*f));
	struct key *market, *treasury, *user;
	struct state_config cfg;
	struct state *st;
	uint8_t pub[KEY_PUB_LEN];
	char to[KEY_TEXT_SIZE], nonce[32];
	uint64_t from;
	json_t *body;

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/lodge-snap-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/log.db", f->dir);
	snprintf(f->snap, sizeof(f->snap), "%s/state.snap", f->dir);
	if (key_from_seed(s1, &market) < 0 ||
	    key_from_seed(s2, &treasury) < 0 || key_from_seed(s3, &user) < 0)
		return -1;
	state_config_default(&cfg);
	key_public(market, cfg.market_key);
	key_public(treasury, cfg.treasury_key);
	key_public(user, pub);
	key_pub_to_text(pub, to);
	if (store_create(f->db, ORIGIN, cfg.market_key, &f->s) < 0 ||
	    replay_genesis_body(&cfg, &body) < 0)
		return -1;
	for (int i = 0; i <= N; i++) {
		struct envelope *e;

		snprintf(nonce, sizeof(nonce), "n-%d", i);
		if (envelope_sign(i ? treasury : market,
		        i ? "account.deposit" : REPLAY_GENESIS_KIND, body,
		        nonce, T0 + i, &e) < 0 ||
		    store_append(f->s, e, T0 + i, NULL, NULL, NULL) < 0)
			return -1;
		envelope_free(e);
		json_decref(body);
		body = json_pack("{s:s,s:s,s:i}", "to", to, "denom", "uakt",
		    "amount", 1000 + i);
	}
	json_decref(body);
	key_free(market);
	key_free(treasury);
	key_free(user);
	if (snapshot_replay(f->s, NULL, 1, &st, NULL, &from, NULL) < 0)
		return -1;
	f->full = dump_text(st);
	state_free(st);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[200];

	store_free(f->s);
	free(f->full);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* The state of the first n leaves (a replay that stops there). */
static struct state *
state_at(struct fixture *f, uint64_t n)
{
	struct state_config cfg;
	struct state *st = NULL;

	for (uint64_t i = 0; i < n; i++) {
		struct replay_leaf l;
		char *data;
		size_t len;
		int64_t t;

		assert_int_equal(store_leaf(f->s, i, &data, &len, &t), 0);
		assert_int_equal(replay_parse_leaf(data, len, &l), 0);
		free(data);
		assert_int_equal(replay_leaf(&st, &cfg, 1, &l), 0);
		envelope_free(l.e);
	}
	return st;
}

/* Write the snapshot of the first n leaves, claiming root (NULL: the
 * ledger's own root at n) and size, and record it. */
static void
take(struct fixture *f, uint64_t n, const uint8_t *root, uint64_t size)
{
	struct state *st = state_at(f, n);
	uint8_t own[32];
	char *buf, hash[65];
	size_t len;

	assert_int_equal(store_root(f->s, n, own), 0);
	assert_int_equal(state_snapshot_encode(st, &buf, &len), 0);
	assert_int_equal(
	    snapshot_write(f->snap, size, root ? root : own, buf, len, hash),
	    0);
	assert_int_equal(snapshot_record(f->s, size, hash), 0);
	free(buf);
	state_free(st);
}

/* Restart: the state must be the full replay's; from and the fallback
 * sentence (NULL, or one holding want) are checked. */
static void
restart(struct fixture *f, uint64_t want_from, const char *want)
{
	struct state *st;
	char *fallback, *got;
	uint64_t from;

	assert_int_equal(
	    snapshot_replay(f->s, f->snap, 1, &st, NULL, &from, &fallback), 0);
	assert_int_equal(from, want_from);
	if (want == NULL && fallback != NULL)
		fail_msg("unexpected fallback: %s", fallback);
	if (want != NULL &&
	    (fallback == NULL || strstr(fallback, want) == NULL))
		fail_msg("fallback '%s' does not say '%s'",
		    fallback ? fallback : "(none)", want);
	got = dump_text(st);
	assert_string_equal(got, f->full);
	free(got);
	free(fallback);
	state_free(st);
}

static void
test_no_snapshot_replays_everything_silently(void **state)
{
	restart(*state, 0, NULL);
}

static void
test_matching_snapshot_replays_only_the_tail(void **state)
{
	struct fixture *f = *state;

	take(f, CUT, NULL, CUT);
	restart(f, CUT, NULL);
}

static void
test_changed_byte_is_refused_by_the_hash(void **state)
{
	struct fixture *f = *state;
	FILE *fp;

	take(f, CUT, NULL, CUT);
	fp = fopen(f->snap, "r+");
	assert_non_null(fp);
	fseek(fp, -20, SEEK_END);
	fputc('!', fp);
	fclose(fp);
	restart(f, 0, "SHA-256");
}

static void
test_root_of_another_ledger_is_refused(void **state)
{
	static const uint8_t other[32] = { 0xee };

	take(*state, CUT, other, CUT);
	restart(*state, 0, "root");
}

static void
test_size_past_the_ledger_is_refused(void **state)
{
	take(*state, CUT, NULL, N + 5);
	restart(*state, 0, "ledger holds");
}

static void
test_missing_file_is_said(void **state)
{
	struct fixture *f = *state;

	take(f, CUT, NULL, CUT);
	unlink(f->snap);
	restart(f, 0, "no such file");
}

/* A job of the first n leaves, as the market starts one. */
static struct snapshot_job *
start_job(struct fixture *f, uint64_t n, struct state **st)
{
	struct snapshot_job *j;
	uint8_t root[32];

	*st = state_at(f, n);
	assert_int_equal(store_root(f->s, n, root), 0);
	assert_int_equal(snapshot_start(f->snap, *st, n, root, &j), 0);
	return j;
}

static char *
read_text(const char *path)
{
	char *b = NULL;
	size_t len;

	assert_int_equal(util_read_file(path, 1 << 20, &b, &len), 0);
	return b;
}

static void
test_forked_writer_writes_what_snapshot_write_does(void **state)
{
	struct fixture *f = *state;
	struct snapshot_job *j;
	struct state *st;
	char hash[65], newer[160], *forked, *direct;
	uint64_t size = 0;
	double ms = -1;

	j = start_job(f, CUT, &st);
	/* the caller goes on changing its state: the child has its own */
	state_free(st);
	assert_int_equal(snapshot_poll(&j, 1, &size, hash, &ms), 1);
	assert_null(j);
	assert_int_equal(size, CUT);
	assert_true(ms >= 0);
	snprintf(newer, sizeof(newer), "%s.new", f->snap);
	forked = read_text(newer);
	take(f, CUT, NULL, CUT); /* snapshot_write's file at state.snap */
	direct = read_text(f->snap);
	assert_string_equal(forked, direct);
	free(forked);
	free(direct);
	assert_int_equal(snapshot_record(f->s, size, hash), 0);
	assert_int_equal(snapshot_install(f->snap), 0);
	assert_int_not_equal(access(newer, F_OK), 0);
	restart(f, CUT, NULL);
}

static void
test_killed_writer_leaves_the_previous_snapshot(void **state)
{
	struct fixture *f = *state;
	struct snapshot_job *j;
	struct state *st;
	char hash[65], newer[160];
	uint64_t size;
	FILE *fp;
	int rc;

	take(f, 10, NULL, 10); /* the previous snapshot */
	j = start_job(f, CUT, &st);
	kill(snapshot_job_pid(j), SIGKILL);
	rc = snapshot_poll(&j, 1, &size, hash, NULL);
	state_free(st);
	assert_null(j);
	/* killed before it finished (it may, rarely, have finished first:
	 * then it is simply not recorded, as after a crash of the market) */
	if (rc < 0)
		assert_non_null(strstr(err_msg(), "signal 9"));
	else
		assert_int_equal(rc, 1);
	/* and a torn file left behind by a writer killed mid-way */
	snprintf(newer, sizeof(newer), "%s.new", f->snap);
	fp = fopen(newer, "w");
	assert_non_null(fp);
	fputs("lodge-state-snapshot 25 torn", fp);
	fclose(fp);
	restart(f, 10, NULL);
}

static void
test_crash_between_record_and_rename(void **state)
{
	struct fixture *f = *state;
	struct snapshot_job *j;
	struct state *st;
	char hash[65], newer[160];
	uint64_t size;

	take(f, 10, NULL, 10);
	j = start_job(f, CUT, &st);
	state_free(st);
	assert_int_equal(snapshot_poll(&j, 1, &size, hash, NULL), 1);
	assert_int_equal(snapshot_record(f->s, size, hash), 0);
	/* no snapshot_install: state.snap is the previous one */
	restart(f, CUT, NULL);
	snprintf(newer, sizeof(newer), "%s.new", f->snap);
	assert_int_not_equal(access(newer, F_OK), 0);
	restart(f, CUT, NULL); /* from state.snap, now in place */
}

static void
test_failing_writer_says_why(void **state)
{
	struct fixture *f = *state;
	struct snapshot_job *j;
	struct state *st;
	char hash[65], bad[200];
	uint64_t size;
	uint8_t root[32];

	st = state_at(f, CUT);
	assert_int_equal(store_root(f->s, CUT, root), 0);
	snprintf(bad, sizeof(bad), "%s/no-such-dir/state.snap", f->dir);
	assert_int_equal(snapshot_start(bad, st, CUT, root, &j), 0);
	state_free(st);
	assert_true(snapshot_poll(&j, 1, &size, hash, NULL) < 0);
	assert_null(j);
	assert_non_null(strstr(err_msg(), "no-such-dir/state.snap.new"));
	assert_non_null(strstr(err_msg(), "No such file"));
}

/* The fuzz_snapshot seed is the snapshot of the first 4 leaves (genesis,
 * 3 deposits) in today's format, so that the fuzzer starts from a payload
 * that decodes: a format change makes this fail until the seed is
 * written again (LODGE_WRITE_SEEDS=1 writes it). */
#define SEED "tests/fuzz/corpus/snapshot/deposits"

static void
test_fuzz_seed_is_current(void **state)
{
	struct fixture *f = *state;
	struct state *st = state_at(f, 4);
	char *buf = NULL, *seed = NULL;
	size_t len, slen = 0;
	FILE *fp;

	assert_int_equal(state_snapshot_encode(st, &buf, &len), 0);
	state_free(st);
	if (getenv("LODGE_WRITE_SEEDS") != NULL) {
		assert_non_null(fp = fopen(SEED, "wb"));
		assert_int_equal(fwrite(buf, 1, len, fp), len);
		assert_int_equal(fclose(fp), 0);
	}
	assert_non_null(fp = fopen(SEED, "rb"));
	assert_non_null(seed = malloc(len + 1));
	slen = fread(seed, 1, len + 1, fp);
	fclose(fp);
	if (slen != len || memcmp(seed, buf, len) != 0)
		fail_msg("%s is not today's snapshot of 4 leaves: run "
		         "LODGE_WRITE_SEEDS=1 build/release/unit/test_snapshot",
		    SEED);
	free(seed);
	free(buf);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_no_snapshot_replays_everything_silently),
		T(test_matching_snapshot_replays_only_the_tail),
		T(test_changed_byte_is_refused_by_the_hash),
		T(test_root_of_another_ledger_is_refused),
		T(test_size_past_the_ledger_is_refused),
		T(test_missing_file_is_said),
		T(test_forked_writer_writes_what_snapshot_write_does),
		T(test_killed_writer_leaves_the_previous_snapshot),
		T(test_crash_between_record_and_rename),
		T(test_failing_writer_says_why),
		T(test_fuzz_seed_is_current),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
