/*
 * bench_ledger: ledger figures, each next to a baseline measured in the
 * same run.
 *   1. append with signature verification vs raw OpenSSL Ed25519 verify
 *   2. full verify of a 100,000-entry log (entries/s)
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
#include "ledger/merkle.h"
#include "ledger/note.h"
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
	t0 = util_mono_ns();
	if (verify_store(s, &vk, &rep) < 0)
		die("verify");
	ns = util_mono_ns() - t0;
	printf("ledger: full verify of %" PRIu64 " entries: %.2f s, %.0f "
	       "entries/s = %.2f x raw verify\n",
	    rep.entries, (double)ns / 1e9,
	    (double)rep.entries * 1e9 / (double)ns,
	    (double)rep.entries * 1e9 / (double)ns / raw);
	store_free(s);
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
