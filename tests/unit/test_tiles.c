/*
 * test_tiles: C2SP tlog-tiles paths against the spec's examples (and
 * their strict parsing), tile widths for the spec's tree of 70,000,
 * entry bundles round trip, and a store written as tiles incrementally
 * (full tiles untouched, partial ones added) and read back: entries,
 * roots, proofs, the partial-to-full fallback, tampering and refusals.
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

#include "common/envelope.h"
#include "common/err.h"
#include "common/key.h"
#include "common/util.h"
#include "ledger/signer.h"
#include "ledger/store.h"
#include "ledger/tiles.h"

#define ORIGIN "test.lodge/tiles"
#define T0 1700000000000LL

static void
test_tile_paths_follow_the_spec(void **state)
{
	static const struct {
		int level;
		uint64_t n;
		unsigned width;
		const char *path;
	} v[] = {
		{ 0, 1234067, 0, "tile/0/x001/x234/067" },
		{ 0, 1234067, TILES_WIDTH, "tile/0/x001/x234/067" },
		{ TILES_ENTRIES, 1234067, 0, "tile/entries/x001/x234/067" },
		{ 0, 0, 0, "tile/0/000" },
		{ 1, 0, 1, "tile/1/000.p/1" },
		{ 2, 999, 255, "tile/2/999.p/255" },
		{ 0, 1000, 0, "tile/0/x001/000" },
		{ TILES_ENTRIES, 273, 112, "tile/entries/273.p/112" },
		{ 63, UINT64_MAX, 0,
		    "tile/63/x018/x446/x744/x073/x709/x551/615" },
	};
	static const char *const bad[] = {
		"tile/0/x000/001", /* a redundant leading group */
		"tile/00/000",
		"tile/0/01",
		"tile/0/0001",
		"tile/0/x001",
		"tile/0/x001/01",
		"tile/0/001/002",
		"tile/0/000.p/0",
		"tile/0/000.p/256",
		"tile/0/000.p/05",
		"tile/0/000.p/",
		"tile/0/000.q/5",
		"tile/64/000",
		"tile/entry/000",
		"tiles/0/000",
		"tile/0/x018/x446/x744/x073/x709/x551/616", /* 2^64 */
		"tile/0/X001/000",
	};
	char buf[TILES_PATH_MAX];
	uint64_t n;
	unsigned w;
	int level;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(tiles_path(v[i].level, v[i].n, v[i].width, buf,
		                     sizeof(buf)),
		    0);
		assert_string_equal(buf, v[i].path);
		assert_int_equal(tiles_path_parse(buf, &level, &n, &w), 0);
		assert_int_equal(level, v[i].level);
		assert_true(n == v[i].n);
		assert_int_equal(w, v[i].width ? v[i].width : TILES_WIDTH);
	}
	assert_int_equal(tiles_path(64, 0, 0, buf, sizeof(buf)), ERR_INVAL);
	assert_int_equal(tiles_path(0, 0, 257, buf, sizeof(buf)), ERR_INVAL);
	assert_int_equal(tiles_path(0, UINT64_MAX, 0, buf, 10), ERR_LIMIT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tiles_path_parse(bad[i], &level, &n, &w) != ERR_INVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

static void
test_tile_widths_follow_the_spec_example(void **state)
{
	(void)state;
	/* "a tree of size 70,000 will be represented by 273 full level 0
	 * tiles, one partial level 0 tile of width 112, one full level 1
	 * tile, one partial level 1 tile of width 17, and one partial
	 * level 2 tile of width 1" */
	assert_int_equal(tiles_width(70000, 0, 0), 256);
	assert_int_equal(tiles_width(70000, 0, 272), 256);
	assert_int_equal(tiles_width(70000, 0, 273), 112);
	assert_int_equal(tiles_width(70000, 0, 274), 0);
	assert_int_equal(tiles_width(70000, TILES_ENTRIES, 273), 112);
	assert_int_equal(tiles_width(70000, 1, 0), 256);
	assert_int_equal(tiles_width(70000, 1, 1), 17);
	assert_int_equal(tiles_width(70000, 1, 2), 0);
	assert_int_equal(tiles_width(70000, 2, 0), 1);
	assert_int_equal(tiles_width(70000, 3, 0), 0);
	/* "a tree of size 256 will be represented by a full level 0 tile
	 * and a partial level 1 tile of width 1" */
	assert_int_equal(tiles_width(256, 0, 0), 256);
	assert_int_equal(tiles_width(256, 0, 1), 0);
	assert_int_equal(tiles_width(256, 1, 0), 1);
	assert_int_equal(tiles_width(0, 0, 0), 0);
}

struct collected {
	size_t n;
	uint64_t first_idx;
	size_t lens[8];
	char *data[8];
};

static int
collect(void *ctx, uint64_t idx, int64_t time, const char *data, size_t len)
{
	struct collected *c = ctx;

	assert_int_equal(time, -1);
	if (c->n == 0)
		c->first_idx = idx;
	c->lens[c->n] = len;
	c->data[c->n] = malloc(len + 1);
	memcpy(c->data[c->n], data, len);
	c->n++;
	return 0;
}

static void
collected_free(struct collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->data[i]);
	memset(c, 0, sizeof(*c));
}

static void
test_entry_bundle_round_trip(void **state)
{
	char *big = malloc(TILES_MAX_ENTRY + 1);
	const char *entries[4];
	size_t lens[4] = { 0, 1, 300, TILES_MAX_ENTRY };
	struct collected c = { 0 };
	uint8_t *b;
	size_t blen;

	(void)state;
	memset(big, 'x', TILES_MAX_ENTRY + 1);
	entries[0] = "";
	entries[1] = "a";
	entries[2] = big;
	entries[3] = big;
	assert_int_equal(tiles_bundle_encode(entries, lens, 4, &b, &blen), 0);
	assert_int_equal(blen, 8 + 1 + 300 + TILES_MAX_ENTRY);
	/* big-endian uint16 lengths */
	assert_int_equal(b[0], 0);
	assert_int_equal(b[1], 0);
	assert_int_equal(b[2], 0);
	assert_int_equal(b[3], 1);
	assert_int_equal(b[5], 0x01);
	assert_int_equal(b[6], 0x2c);
	assert_int_equal(tiles_bundle_foreach(b, blen, 512, 0, collect, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.first_idx, 512);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(c.lens[i], lens[i]);
		assert_memory_equal(c.data[i], entries[i], lens[i]);
	}
	collected_free(&c);
	/* the first two only */
	assert_int_equal(tiles_bundle_foreach(b, blen, 0, 2, collect, &c), 0);
	assert_int_equal(c.n, 2);
	collected_free(&c);
	/* cut short, anywhere */
	assert_int_equal(tiles_bundle_foreach(b, blen - 1, 0, 0, collect, &c),
	    ERR_CORRUPT);
	collected_free(&c);
	assert_int_equal(tiles_bundle_foreach(b, 1, 0, 0, collect, &c),
	    ERR_CORRUPT);
	collected_free(&c);
	assert_int_equal(tiles_bundle_foreach(b, blen, 0, 5, collect, &c),
	    ERR_CORRUPT);
	collected_free(&c);
	free(b);
	/* an entry too large for a uint16 length */
	lens[3] = TILES_MAX_ENTRY + 1;
	assert_int_equal(tiles_bundle_encode(entries, lens, 4, &b, &blen),
	    ERR_LIMIT);
	free(big);
}

/* ---- a store written as tiles ------------------------------------- */

struct fx {
	char dir[64], db[128], out[128];
	struct key *k;
	struct store *s;
};

static void
append_n(struct fx *f, uint64_t n, size_t body_bytes)
{
	char nonce[32], *pad = malloc(body_bytes + 1);
	struct envelope *e;

	memset(pad, 'p', body_bytes);
	pad[body_bytes] = '\0';
	for (uint64_t i = 0; i < n; i++) {
		uint64_t idx = store_size(f->s);
		json_t *body =
		    json_pack("{s:I,s:s}", "i", (json_int_t)idx, "pad", pad);

		snprintf(nonce, sizeof(nonce), "n-%llu",
		    (unsigned long long)idx);
		assert_int_equal(envelope_sign(f->k, "test.entry", body, nonce,
		                     T0 + (int64_t)idx, &e),
		    0);
		json_decref(body);
		assert_int_equal(
		    store_append(f->s, e, T0 + (int64_t)idx, NULL, NULL, NULL),
		    0);
		envelope_free(e);
	}
	free(pad);
}

static void
checkpoint(struct fx *f)
{
	char *note;

	assert_int_equal(signer_checkpoint(f->s, store_size(f->s), f->k, &note),
	    0);
	free(note);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t seed[KEY_SEED_LEN], pub[KEY_PUB_LEN];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/lodge-tiles-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/log.db", f->dir);
	snprintf(f->out, sizeof(f->out), "%s/tiles", f->dir);
	memset(seed, 7, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &f->k), 0);
	key_public(f->k, pub);
	assert_int_equal(store_create(f->db, ORIGIN, pub, &f->s), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_free(f->s);
	key_free(f->k);
	util_rm_tree(f->dir);
	free(f);
	return 0;
}

static int
exists(struct fx *f, const char *rel)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", f->out, rel);
	return stat(p, &st) == 0;
}

static void
stat_of(struct fx *f, const char *rel, struct stat *st)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", f->out, rel);
	assert_int_equal(stat(p, st), 0);
}

struct cmp {
	struct store *s;
	uint64_t next;
};

static int
same_as_store(void *ctx, uint64_t idx, int64_t time, const char *data,
    size_t len)
{
	struct cmp *c = ctx;
	char *want;
	size_t wlen;

	(void)time;
	assert_true(idx == c->next);
	assert_int_equal(store_leaf(c->s, idx, &want, &wlen, NULL), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(data, want, len);
	free(want);
	c->next++;
	return 0;
}

/* The tiles at f->out agree with the store for a tree of size. */
static void
read_back(struct fx *f, const char *url, uint64_t size)
{
	uint8_t want[32], got[32], p1[MERKLE_MAX_PROOF][32],
	    p2[MERKLE_MAX_PROOF][32];
	struct merkle_reader r, sr;
	struct cmp c = { f->s, 0 };
	struct tiles *t;
	size_t n1, n2;

	assert_int_equal(tiles_open(url, &t), 0);
	assert_int_equal(tiles_foreach_entry(t, size, same_as_store, &c), 0);
	assert_true(c.next == size);
	/* from a leaf on (mid-bundle, past the first bundle): those leaves
	 * and no other */
	for (uint64_t from = size / 2; from < size; from += 257) {
		c.next = from;
		assert_int_equal(
		    tiles_foreach_entry_from(t, from, size, same_as_store, &c),
		    0);
		assert_true(c.next == size);
	}
	tiles_reader(t, size, &r);
	assert_int_equal(merkle_root(size, &r, got), 0);
	assert_int_equal(store_root(f->s, size, want), 0);
	assert_memory_equal(got, want, 32);
	if (size > 3) {
		assert_int_equal(merkle_consistency_proof(3, size, &r, p1, &n1),
		    0);
		assert_int_equal(
		    store_consistency_proof(f->s, 3, size, p2, &n2), 0);
		assert_int_equal(n1, n2);
		assert_memory_equal(p1, p2, n1 * 32);
		assert_int_equal(
		    merkle_inclusion_proof(size - 2, size, &r, p1, &n1), 0);
		assert_int_equal(
		    store_inclusion_proof(f->s, size - 2, size, p2, &n2), 0);
		assert_int_equal(n1, n2);
		assert_memory_equal(p1, p2, n1 * 32);
	}
	store_reader(f->s, &sr);
	assert_int_equal(tiles_check(t, size, &sr), 0);
	tiles_free(t);
}

static void
test_tiles_written_incrementally_and_read_back(void **state)
{
	struct fx *f = *state;
	struct tiles_report rep;
	struct stat full0, again, part;
	struct tiles *t;
	char url[200], *note, *want;
	size_t len;
	uint64_t size;

	append_n(f, 5, 8);
	checkpoint(f);
	assert_int_equal(tiles_write(f->s, f->out, &rep), 0);
	assert_int_equal(rep.size, 5);
	assert_int_equal(rep.written, 2);
	assert_true(exists(f, "checkpoint"));
	assert_true(exists(f, "tile/0/000.p/5"));
	assert_true(exists(f, "tile/entries/000.p/5"));
	stat_of(f, "tile/0/000.p/5", &part);
	assert_int_equal(part.st_size, 5 * 32);
	/* nothing new: nothing written */
	assert_int_equal(tiles_write(f->s, f->out, &rep), 0);
	assert_int_equal(rep.written, 0);
	read_back(f, f->out, 5);

	append_n(f, 295, 8);
	checkpoint(f);
	assert_int_equal(tiles_write(f->s, f->out, &rep), 0);
	/* full level 0 tile and bundle 0, partial ones of 44, and the
	 * level 1 tile of width 1 */
	assert_int_equal(rep.written, 5);
	assert_true(exists(f, "tile/0/000"));
	assert_true(exists(f, "tile/entries/000"));
	assert_true(exists(f, "tile/0/001.p/44"));
	assert_true(exists(f, "tile/entries/001.p/44"));
	assert_true(exists(f, "tile/1/000.p/1"));
	assert_true(exists(f, "tile/0/000.p/5")); /* old partials stay */
	stat_of(f, "tile/0/000", &full0);
	assert_int_equal(full0.st_size, 8192);
	read_back(f, f->out, 300);

	append_n(f, 300, 8);
	checkpoint(f);
	assert_int_equal(tiles_write(f->s, f->out, &rep), 0);
	assert_int_equal(rep.written, 5);
	assert_true(exists(f, "tile/0/001"));
	assert_true(exists(f, "tile/0/002.p/88"));
	assert_true(exists(f, "tile/entries/002.p/88"));
	assert_true(exists(f, "tile/1/000.p/2"));
	/* the full tile was not rewritten */
	stat_of(f, "tile/0/000", &again);
	assert_int_equal(again.st_ino, full0.st_ino);
	assert_int_equal(again.st_mtim.tv_nsec, full0.st_mtim.tv_nsec);
	snprintf(url, sizeof(url), "file://%s", f->out);
	read_back(f, url, 600);
	/* the checkpoint file is the stored note */
	assert_int_equal(tiles_open(f->out, &t), 0);
	assert_int_equal(tiles_checkpoint(t, &note, &len), 0);
	assert_int_equal(store_checkpoint_latest(f->s, &size, &want), 0);
	assert_string_equal(note, want);
	free(note);
	free(want);
	tiles_free(t);
	/* an older tree whose partial tiles are gone reads the full ones */
	snprintf(url, sizeof(url), "%s/tile/0/001.p/44", f->out);
	assert_int_equal(unlink(url), 0);
	snprintf(url, sizeof(url), "%s/tile/entries/001.p/44", f->out);
	assert_int_equal(unlink(url), 0);
	read_back(f, f->out, 300);
}

static void
test_tiles_tampering_and_refusals(void **state)
{
	struct fx *f = *state;
	struct tiles_report rep;
	struct merkle_reader sr;
	struct tiles *t;
	struct store *other;
	uint8_t pub[KEY_PUB_LEN];
	char path[256], db2[160];
	FILE *fp;

	append_n(f, 300, 8);
	checkpoint(f);
	assert_int_equal(tiles_write(f->s, f->out, &rep), 0);
	/* one flipped byte in a full tile */
	snprintf(path, sizeof(path), "%s/tile/0/000", f->out);
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, 32 * 7 + 3, SEEK_SET);
	fputc(0x5a, fp);
	fclose(fp);
	assert_int_equal(tiles_open(f->out, &t), 0);
	store_reader(f->s, &sr);
	assert_int_equal(tiles_check(t, 300, &sr), ERR_CORRUPT);
	assert_non_null(strstr(err_msg(), "tile/0/000"));
	assert_non_null(strstr(err_msg(), "hash 7"));
	tiles_free(t);
	/* a bundle cut short */
	snprintf(path, sizeof(path), "%s/tile/entries/001.p/44", f->out);
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(tiles_open(f->out, &t), 0);
	{
		struct cmp c = { f->s, 0 };

		assert_int_equal(tiles_foreach_entry(t, 300, same_as_store, &c),
		    ERR_CORRUPT);
		assert_non_null(strstr(err_msg(), "entries/001.p/44"));
	}
	tiles_free(t);
	/* another log's store into the same directory */
	snprintf(db2, sizeof(db2), "%s/other.db", f->dir);
	key_public(f->k, pub);
	assert_int_equal(store_create(db2, "other.lodge/log", pub, &other), 0);
	{
		char *note;

		assert_int_equal(signer_checkpoint(other, 0, f->k, &note), 0);
		free(note);
	}
	assert_int_equal(tiles_write(other, f->out, &rep), ERR_CONFLICT);
	assert_non_null(strstr(err_msg(), "test.lodge/tiles"));
	store_free(other);
	/* a missing directory to read */
	assert_int_equal(tiles_open("/nonexistent-lodge-tiles", &t), 0);
	{
		char *note;
		size_t len;

		assert_int_equal(tiles_checkpoint(t, &note, &len),
		    ERR_NOTFOUND);
	}
	tiles_free(t);
}

static void
test_tiles_refuse_a_leaf_too_large_for_a_bundle(void **state)
{
	struct fx *f = *state;
	struct tiles_report rep;

	append_n(f, 1, 8);
	append_n(f, 1, 70000);
	checkpoint(f);
	assert_int_equal(tiles_write(f->s, f->out, &rep), ERR_LIMIT);
	assert_non_null(strstr(err_msg(), "index 1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tile_paths_follow_the_spec),
		cmocka_unit_test(test_tile_widths_follow_the_spec_example),
		cmocka_unit_test(test_entry_bundle_round_trip),
		cmocka_unit_test_setup_teardown(
		    test_tiles_written_incrementally_and_read_back, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_tiles_tampering_and_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tiles_refuse_a_leaf_too_large_for_a_bundle, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
