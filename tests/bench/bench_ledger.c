/*
 * bench_ledger: ledger figures, each next to a baseline measured in the
 * same run.
 *   1. append with signature verification vs raw OpenSSL Ed25519 verify
 *   2. full verify of a 100,000-entry log (entries/s) on one thread and
 *      on every core (`ledger verify`: goal >= 1.6x on 2 cores)
 *   2b. audit (verify + replay through the state machine) of a ledger of
 *      deposits and transfers on one thread and on every core
 *      (`ledger audit`: goal >= 1.6x on 2 cores)
 *   3. inclusion proof generation at 1,000,000 entries (p50/p99)
 * Usage: bench_ledger DIR   (a scratch directory)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "common/util.h"
#include "ledger/audit.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/replay.h"
#include "ledger/signer.h"
#include "ledger/store.h"
#include "ledger/verify.h"
#include "tests/bench/benchlib.h"

#define ORIGIN "bench.lodge/ledger"

static void
die(const char *what)
{
	fprintf(stderr, "bench_ledger: %s: %s\n", what, err_msg());
	exit(1);
}

static char **
make_envelopes(struct key *k, size_t n, size_t **lens)
{
	char **lines = calloc(n, sizeof(*lines));
	*lens = calloc(n, sizeof(**lens));
	for (size_t i = 0; i < n; i++) {
		struct envelope *e;
		char nonce[32];
		json_t *body = json_pack("{s:s,s:I,s:s,s:{s:I,s:I,s:I}}",
		    "lease", "l-1234", "epoch", (json_int_t)i, "denom", "uakt",
		    "usage", "cpu_ms", (json_int_t)(i * 6000), "mem_mb_s",
		    (json_int_t)(i * 3072), "requests", (json_int_t)(i * 17));
		snprintf(nonce, sizeof(nonce), "bench-%zu", i);
		if (envelope_sign(k, "lease.usage", body, nonce,
		        1700000000000 + (int64_t)i, &e) < 0 ||
		    envelope_dump(e, &lines[i], &(*lens)[i]) < 0)
			die("sign");
		envelope_free(e);
		json_decref(body);
	}
	return lines;
}

static double
raw_verify_rate(struct key *k, const char *msg, size_t len)
{
	uint8_t pub[32], sig[64];
	uint64_t t0, n = 0;

	key_public(k, pub);
	key_sign(k, msg, len, sig);
	t0 = util_mono_ns();
	while (util_mono_ns() - t0 < 1000000000ull) {
		for (int i = 0; i < 100; i++)
			if (key_verify(pub, msg, len, sig) < 0)
				die("raw verify");
		n += 100;
	}
	return (double)n * 1e9 / (double)(util_mono_ns() - t0);
}

static void
add_checkpoint(struct store *s, struct key *k)
{
	uint8_t root[32];
	char *body, *note;

	if (store_root(s, store_size(s), root) < 0 ||
	    checkpoint_format(ORIGIN, store_size(s), root, &body) < 0 ||
	    note_sign(body, strlen(body), ORIGIN, k, &note) < 0 ||
	    store_checkpoint_add(s, store_size(s), util_now_ms(), note) < 0)
		die("checkpoint");
	free(body);
	free(note);
}

static void
build_million(const char *path, uint64_t n)
{
	struct merkle_stored st[MERKLE_MAX_STORED];
	struct merkle_mem *mem;
	struct merkle_reader r;
	sqlite3_stmt *leaf, *node;
	sqlite3 *db;
	uint8_t lh[32];
	size_t cnt;
	char key[KEY_TEXT_SIZE];
	uint8_t pub[32] = { 7 };

	key_pub_to_text(pub, key);
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("sqlite open");
	/* the store's schema, filled in bulk: proofs only read hashes */
	sqlite3_exec(db,
	    "PRAGMA journal_mode=WAL;"
	    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	    "CREATE TABLE leaf(idx INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	    " data BLOB NOT NULL);"
	    "CREATE TABLE node(level INTEGER NOT NULL, idx INTEGER NOT NULL,"
	    " hash BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;"
	    "CREATE TABLE checkpoint(size INTEGER PRIMARY KEY, time INTEGER "
	    "NOT NULL, note TEXT NOT NULL);"
	    "INSERT INTO meta VALUES('origin','" ORIGIN "');"
	    "BEGIN;",
	    NULL, NULL, NULL);
	{
		char sql[200];
		snprintf(sql, sizeof(sql),
		    "INSERT INTO meta VALUES('log_key',"
		    "'%s')",
		    key);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	sqlite3_prepare_v2(db, "INSERT INTO leaf VALUES(?1,0,?2)", -1, &leaf,
	    NULL);
	sqlite3_prepare_v2(db, "INSERT INTO node VALUES(?1,?2,?3)", -1, &node,
	    NULL);
	merkle_mem_new(&mem);
	merkle_mem_reader(mem, &r);
	for (uint64_t i = 0; i < n; i++) {
		char data[32];
		int len = snprintf(data, sizeof(data), "leaf-%" PRIu64, i);
		merkle_leaf_hash(data, (size_t)len, lh);
		merkle_append_hashes(i, lh, &r, st, &cnt);
		merkle_mem_append(mem, lh);
		sqlite3_bind_int64(leaf, 1, (sqlite3_int64)i);
		sqlite3_bind_blob(leaf, 2, data, len, SQLITE_STATIC);
		sqlite3_step(leaf);
		sqlite3_reset(leaf);
		for (size_t j = 0; j < cnt; j++) {
			sqlite3_bind_int64(node, 1, st[j].level);
			sqlite3_bind_int64(node, 2, (sqlite3_int64)st[j].idx);
			sqlite3_bind_blob(node, 3, st[j].hash, 32,
			    SQLITE_STATIC);
			sqlite3_step(node);
			sqlite3_reset(node);
		}
	}
	sqlite3_finalize(leaf);
	sqlite3_finalize(node);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	merkle_mem_free(mem);
}

/* The 1-minute load average (how many jobs wanted the cores). */
static double
load(void)
{
	double l[1] = { -1 };

	getloadavg(l, 1);
	return l[0];
}

/* A replayable ledger: the genesis, deposits from the treasury to 100
 * accounts, then transfers between them, each paying its fee. */
static void
build_audit_log(const char *path, struct key *logkey, size_t n)
{
	static const uint8_t tseed[32] = { 44 };
	struct state_config c;
	struct key *treasury, *users[100];
	struct store *s;
	json_t *body;
	uint8_t pub[32];
	char to[KEY_TEXT_SIZE], nonce[40], *note;
	int64_t t = 1700000000000;

	unlink(path);
	key_public(logkey, pub);
	if (key_from_seed(tseed, &treasury) < 0)
		die("key");
	for (int i = 0; i < 100; i++) {
		uint8_t us[32] = { 45, (uint8_t)i };
		if (key_from_seed(us, &users[i]) < 0)
			die("key");
	}
	state_config_default(&c);
	memcpy(c.market_key, pub, KEY_PUB_LEN);
	key_public(treasury, c.treasury_key);
	if (store_create(path, ORIGIN, pub, &s) < 0 ||
	    replay_genesis_body(&c, &body) < 0 || store_begin(s) < 0)
		die("create");
	for (size_t i = 0; i < n; i++) {
		struct envelope *e;
		struct key *signer = logkey;
		const char *kind = REPLAY_GENESIS_KIND;

		snprintf(nonce, sizeof(nonce), "a-%zu", i);
		if (i > 0 && i <= 100) {
			key_public(users[i - 1], pub);
			key_pub_to_text(pub, to);
			signer = treasury;
			kind = "account.deposit";
			body = json_pack("{s:s,s:s,s:I}", "to", to, "denom",
			    "uakt", "amount", (json_int_t)1000000000);
		} else if (i > 100) {
			key_public(users[(i + 1) % 100], pub);
			key_pub_to_text(pub, to);
			signer = users[i % 100];
			kind = "account.transfer";
			body = json_pack("{s:s,s:s,s:I}", "to", to, "denom",
			    "uakt", "amount", (json_int_t)1);
		}
		if (body == NULL ||
		    envelope_sign(signer, kind, body, nonce, t, &e) < 0 ||
		    store_append(s, e, t, NULL, NULL, NULL) < 0)
			die("append");
		envelope_free(e);
		json_decref(body);
		body = NULL;
	}
	if (store_commit(s) < 0 ||
	    signer_checkpoint(s, store_size(s), logkey, &note) < 0)
		die("checkpoint");
	free(note);
	store_free(s);
	key_free(treasury);
	for (int i = 0; i < 100; i++)
		key_free(users[i]);
}

static int
audit_leaf_cb(void *ctx, uint64_t idx, int64_t time, const char *data,
    size_t len)
{
	return audit_leaf(ctx, idx, time, data, len);
}

static int
audit_cp_cb(void *ctx, uint64_t size, const char *note)
{
	(void)size;
	return audit_checkpoint(ctx, note, strlen(note));
}

/* Audit rate (entries/s) of the store at path on threads threads. */
static double
audit_rate(const char *path, const struct note_verifier *vk, int threads)
{
	struct store *s;
	struct audit *a;
	uint64_t t0 = util_mono_ns(), n;

	if (store_open(path, 1, &s) < 0 || audit_new(vk, &a) < 0)
		die("audit open");
	audit_set_threads(a, threads);
	if (store_foreach(s, 0, UINT64_MAX, audit_leaf_cb, a) < 0 ||
	    store_foreach_checkpoint(s, audit_cp_cb, a) < 0 ||
	    audit_finish(a, NULL) < 0)
		die("audit");
	n = store_size(s);
	audit_free(a);
	store_free(s);
	return (double)n * 1e9 / (double)(util_mono_ns() - t0);
}

static void
audit_rates(const char *dir, struct key *logkey, const struct note_verifier *vk)
{
	const size_t n = 20000;
	int cores = verify_threads(0);
	double best[2] = { 0, 0 };
	char path[512];

	snprintf(path, sizeof(path), "%s/audit.db", dir);
	build_audit_log(path, logkey, n);
	for (int round = 0; round < 2; round++)
		for (int mode = 0; mode < 2; mode++) {
			double r = audit_rate(path, vk, mode ? cores : 1);
			if (r > best[mode])
				best[mode] = r;
		}
	printf("ledger: audit (verify + replay) of %zu deposits and "
	       "transfers: one thread %.0f entries/s; %d threads %.0f "
	       "entries/s = %.2f x one thread (goal >= 1.6 on 2 cores; "
	       "load average %.1f)\n",
	    n, best[0], cores, best[1], best[1] / best[0], load());
}

int
main(int argc, char **argv)
{
	static const uint8_t seed[32] = { 42 }, lseed[32] = { 43 };
	struct key *k, *logkey;
	struct store *s;
	struct note_verifier vk;
	struct verify_report rep;
	char path[512], **lines;
	size_t *lens;
	uint8_t pub[32];
	const size_t napp = 20000, nver = 100000;
	uint64_t t0, ns;
	double raw, app;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_ledger DIR\n");
		return 2;
	}
	if (key_from_seed(seed, &k) < 0 || key_from_seed(lseed, &logkey) < 0)
		die("key");
	key_public(logkey, pub);
	note_verifier_init(&vk, ORIGIN, NOTE_SIG_ED25519, pub);

	/* 1. append with verification vs raw verify: one core, then the way
	 * `ledger append` does it (verify a batch on every core, append in
	 * order) */
	lines = make_envelopes(k, nver, &lens);
	raw = raw_verify_rate(k, lines[0], lens[0]);
	for (int mode = 0; mode < 2; mode++) {
		int threads = mode ? (int)sysconf(_SC_NPROCESSORS_ONLN) : 1;
		struct envelope *envs[1000];
		int rcs[1000];

		snprintf(path, sizeof(path), "%s/append%d.db", argv[1], mode);
		unlink(path);
		if (store_create(path, ORIGIN, pub, &s) < 0)
			die("create");
		t0 = util_mono_ns();
		for (size_t b = 0; b < napp; b += 1000) {
			envelope_parse_many((const char *const *)lines + b,
			    lens + b, 1000, threads, envs, rcs, NULL);
			if (store_begin(s) < 0)
				die("begin");
			for (size_t i = 0; i < 1000; i++) {
				if (rcs[i] < 0 ||
				    store_append(s, envs[i], util_now_ms(),
				        NULL, NULL, NULL) < 0)
					die("append");
				envelope_free(envs[i]);
			}
			if (store_commit(s) < 0)
				die("commit");
		}
		ns = util_mono_ns() - t0;
		app = (double)napp * 1e9 / (double)ns;
		if (mode == 0)
			printf("ledger: raw Ed25519 verify (OpenSSL, 1 core): "
			       "%.0f/s\n",
			    raw);
		printf(
		    "ledger: append with signature verification, %d "
		    "verifying thread%s (group commit of 1000, fsync'd): %.0f "
		    "entries/s = %.2f x raw verify (goal >= 0.8)\n",
		    threads, threads == 1 ? "" : "s", app, app / raw);
		store_free(s);
	}

	/* 2. full verify of a 100,000-entry log */
	snprintf(path, sizeof(path), "%s/verify.db", argv[1]);
	unlink(path);
	if (store_create(path, ORIGIN, pub, &s) < 0)
		die("create");
	for (size_t i = 0; i < nver; i++) {
		struct envelope *e;
		if (i % 5000 == 0 && store_begin(s) < 0)
			die("begin");
		if (envelope_parse(lines[i], lens[i], &e) < 0 ||
		    store_append(s, e, util_now_ms(), NULL, NULL, NULL) < 0)
			die("append");
		envelope_free(e);
		if (i % 5000 == 4999 && store_commit(s) < 0)
			die("commit");
	}
	add_checkpoint(s, logkey);
	{
		/* pairs alternated, the best of each: the machine is shared */
		int cores = verify_threads(0);
		double best[2] = { 0, 0 };

		for (int round = 0; round < 2; round++)
			for (int mode = 0; mode < 2; mode++) {
				double rate;

				t0 = util_mono_ns();
				if (verify_store_mt(s, &vk, mode ? cores : 1,
				        &rep) < 0)
					die("verify");
				ns = util_mono_ns() - t0;
				rate = (double)rep.entries * 1e9 / (double)ns;
				if (rate > best[mode])
					best[mode] = rate;
			}
		printf("ledger: full verify of %" PRIu64 " entries: one "
		       "thread %.0f entries/s = %.2f x raw verify; %d threads "
		       "%.0f entries/s = %.2f x one thread (goal >= 1.6 on 2 "
		       "cores; load average %.1f: other jobs on the cores "
		       "take their share)\n",
		    rep.entries, best[0], best[0] / raw, cores, best[1],
		    best[1] / best[0], load());
	}
	store_free(s);
	audit_rates(argv[1], logkey, &vk);
	for (size_t i = 0; i < nver; i++)
		free(lines[i]);
	free(lines);
	free(lens);

	/* 3. inclusion proofs at 1,000,000 entries */
	{
		const uint64_t n = 1000000, probes = 20000;
		uint8_t proof[MERKLE_MAX_PROOF][32];
		uint64_t *lat = calloc(probes, sizeof(*lat));
		size_t plen;
		uint64_t x = 88172645463325252ull;

		snprintf(path, sizeof(path), "%s/million.db", argv[1]);
		build_million(path, n);
		if (store_open(path, 1, &s) < 0)
			die("open million");
		for (uint64_t i = 0; i < probes; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			t0 = util_mono_ns();
			if (store_inclusion_proof(s, x % n, n, proof, &plen) <
			    0)
				die("proof");
			lat[i] = util_mono_ns() - t0;
		}
		bench_sort_u64(lat, probes);
		printf("ledger: inclusion proof at %" PRIu64 " entries "
		       "(SQLite-backed): p50 %.1f us, p99 %.1f us (goal < 50 "
		       "us)\n",
		    n, (double)bench_pct(lat, probes, 50) / 1e3,
		    (double)bench_pct(lat, probes, 99) / 1e3);
		free(lat);
		store_free(s);
	}
	key_free(k);
	key_free(logkey);
	return 0;
}
