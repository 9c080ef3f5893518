/*
 * test_merkle: ledger/merkle against the transparency-dev/merkle probes,
 * the RFC 6962 8-leaf reference tree, an RFC-literal recursive model and
 * every proof of trees up to 300 leaves.
 */
#include <dirent.h>
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
#include "ledger/merkle.h"

#define H MERKLE_HASH_LEN

static void
shared_path(char *buf, size_t size, const char *rel)
{
	const char *root = getenv("LODGE_SHARED");

	snprintf(buf, size, "%s/%s", root != NULL && *root ? root : "../shared",
	    rel);
}

static json_t *
load_json(const char *rel)
{
	char path[PATH_MAX];
	json_error_t e;
	json_t *j;

	shared_path(path, sizeof(path), rel);
	if ((j = json_load_file(path, 0, &e)) == NULL)
		fail_msg("%s: %s (line %d); set LODGE_SHARED to the shared "
		         "folder",
		    path, e.text, e.line);
	return j;
}

/* All *.json files under dir, sorted, into a malloc'd array. */
static void
collect_json(const char *dir, char ***files, size_t *n)
{
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0) {
			*files = realloc(*files, (*n + 1) * sizeof(**files));
			assert_non_null(*files);
			(*files)[(*n)++] = strdup(path);
		} else
			collect_json(path, files, n);
	}
	closedir(d);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The API takes 32-byte hashes: a probe value that is not base64 of
 * exactly 32 bytes cannot be passed at all (-1).  Such a probe must be an
 * error case; the test reports (and skips) any that is not. */
static int
hash_from_b64(const json_t *v, uint8_t out[H])
{
	uint8_t buf[128];
	size_t n;

	memset(out, 0, H);
	if (!json_is_string(v))
		return -1;
	if (b64_decode(json_string_value(v), json_string_length(v), buf,
	        sizeof(buf), &n) < 0 ||
	    n != H)
		return -1;
	memcpy(out, buf, n);
	return 0;
}

static int
proof_from_json(const json_t *arr, uint8_t proof[][H], size_t *len)
{
	size_t i;
	json_t *v;

	*len = 0;
	if (json_is_null(arr) || arr == NULL)
		return 0;
	if (json_array_size(arr) > MERKLE_MAX_PROOF)
		return -1;
	json_array_foreach(arr, i,
	    v) if (hash_from_b64(v, proof[(*len)++]) < 0) return -1;
	return 0;
}

/* jansson's integers are signed 64-bit and some probes hold 2^64 - 1
 * (leafIdx "sub 1" from 0), so probe files load with
 * JSON_DECODE_INT_AS_REAL; their other numbers are small and exact. */
static uint64_t
get_u64(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	double d;

	if (json_is_integer(v))
		return (uint64_t)json_integer_value(v);
	assert_true(json_is_real(v));
	d = json_real_value(v);
	assert_true(d >= 0);
	if (d >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)d;
}

static void
corpus_files(const char *rel, char ***files, size_t *n)
{
	char dir[PATH_MAX];

	shared_path(dir, sizeof(dir), rel);
	*files = NULL;
	*n = 0;
	collect_json(dir, files, n);
	if (*n == 0)
		fail_msg("no probe files under %s; set LODGE_SHARED", dir);
	qsort(*files, *n, sizeof(**files), cmp_str);
}

static void
test_corpus_inclusion_probes_verify_iff_not_wantErr(void **state)
{
	uint8_t proof[MERKLE_MAX_PROOF][H], root[H], leaf[H];
	size_t n, i, len, bad = 0, skipped = 0;
	char **files;
	json_error_t e;

	(void)state;
	corpus_files("corpus/merkle/inclusion", &files, &n);
	for (i = 0; i < n; i++) {
		json_t *j =
		    json_load_file(files[i], JSON_DECODE_INT_AS_REAL, &e);
		int want_err, rc;

		assert_non_null(j);
		want_err = json_is_true(json_object_get(j, "wantErr"));
		if (hash_from_b64(json_object_get(j, "root"), root) < 0 ||
		    hash_from_b64(json_object_get(j, "leafHash"), leaf) < 0 ||
		    proof_from_json(json_object_get(j, "proof"), proof, &len) <
		        0) {
			if (!want_err) {
				print_message(
				    "skipped %s: a hash in it is not "
				    "32 bytes, which the API cannot take\n",
				    files[i]);
				skipped++;
			}
			json_decref(j);
			free(files[i]);
			continue;
		} else
			rc = merkle_verify_inclusion(get_u64(j, "leafIdx"),
			    get_u64(j, "treeSize"), leaf,
			    (const uint8_t(*)[H])proof, len, root);
		if ((rc != 0) != want_err) {
			print_error("%s: wantErr %s but verify returned %d "
			            "(%s)\n",
			    files[i], want_err ? "true" : "false", rc,
			    err_msg());
			bad++;
		}
		json_decref(j);
		free(files[i]);
	}
	free(files);
	if (bad)
		fail_msg("%zu of %zu inclusion probes disagreed", bad, n);
	/* Only probes that compare raw bytes may be skipped. */
	assert_true(skipped <= 1);
}

static void
test_corpus_consistency_probes_verify_iff_not_wantErr(void **state)
{
	uint8_t proof[MERKLE_MAX_PROOF][H], r1[H], r2[H];
	size_t n, i, len, bad = 0, skipped = 0;
	char **files;
	json_error_t e;

	(void)state;
	corpus_files("corpus/merkle/consistency", &files, &n);
	for (i = 0; i < n; i++) {
		json_t *j =
		    json_load_file(files[i], JSON_DECODE_INT_AS_REAL, &e);
		int want_err, rc;

		assert_non_null(j);
		want_err = json_is_true(json_object_get(j, "wantErr"));
		if (hash_from_b64(json_object_get(j, "root1"), r1) < 0 ||
		    hash_from_b64(json_object_get(j, "root2"), r2) < 0 ||
		    proof_from_json(json_object_get(j, "proof"), proof, &len) <
		        0) {
			if (!want_err) {
				print_message(
				    "skipped %s: a hash in it is not "
				    "32 bytes, which the API cannot take\n",
				    files[i]);
				skipped++;
			}
			json_decref(j);
			free(files[i]);
			continue;
		} else
			rc = merkle_verify_consistency(get_u64(j, "size1"),
			    get_u64(j, "size2"), r1, r2,
			    (const uint8_t(*)[H])proof, len);
		if ((rc != 0) != want_err) {
			print_error("%s: wantErr %s but verify returned %d "
			            "(%s)\n",
			    files[i], want_err ? "true" : "false", rc,
			    err_msg());
			bad++;
		}
		json_decref(j);
		free(files[i]);
	}
	free(files);
	if (bad)
		fail_msg("%zu of %zu consistency probes disagreed", bad, n);
	/* sizes-are-equal-one-and-proof-is-empty compares two 12-byte
	 * "roots" for equality; nothing else may be skipped. */
	assert_true(skipped <= 1);
}

static void
hex32(const json_t *v, uint8_t out[H])
{
	assert_true(json_is_string(v));
	assert_int_equal(
	    hex_decode(json_string_value(v), json_string_length(v), out, H), 0);
}

static void
hex_proof(const json_t *arr, uint8_t proof[][H], size_t *len)
{
	size_t i;
	json_t *v;

	*len = json_array_size(arr);
	json_array_foreach(arr, i, v) hex32(v, proof[i]);
}

static void
assert_hash_eq(const uint8_t got[H], const uint8_t want[H], const char *what)
{
	char g[2 * H + 1], w[2 * H + 1];

	if (memcmp(got, want, H) == 0)
		return;
	hex_encode(got, H, g);
	hex_encode(want, H, w);
	fail_msg("%s: got %s, want %s", what, g, w);
}

/* The 8-leaf reference tree as a merkle_mem, from its leaf inputs. */
static struct merkle_mem *
reference_tree(json_t *ref)
{
	struct merkle_mem *m;
	uint8_t in[64], lh[H], want[H];
	json_t *inputs = json_object_get(ref, "leaf_inputs_hex");
	json_t *hashes = json_object_get(ref, "leaf_hashes_hex");
	char what[64];
	size_t i;

	assert_int_equal(merkle_mem_new(&m), 0);
	for (i = 0; i < json_array_size(inputs); i++) {
		const char *s = json_string_value(json_array_get(inputs, i));

		assert_int_equal(hex_decode(s, strlen(s), in, strlen(s) / 2),
		    0);
		merkle_leaf_hash(in, strlen(s) / 2, lh);
		hex32(json_array_get(hashes, i), want);
		snprintf(what, sizeof(what), "leaf hash %zu", i);
		assert_hash_eq(lh, want, what);
		assert_int_equal(merkle_mem_append(m, lh), 0);
	}
	assert_int_equal(merkle_mem_size(m), 8);
	return m;
}

static void
test_reference_tree_roots_match_for_sizes_0_to_8(void **state)
{
	json_t *ref = load_json("corpus/merkle/rfc6962_reference_tree.json");
	struct merkle_mem *m = reference_tree(ref);
	json_t *roots = json_object_get(ref, "roots_by_size_hex");
	struct merkle_reader r;
	uint8_t got[H], want[H];
	char what[64];
	size_t i;

	(void)state;
	merkle_mem_reader(m, &r);
	assert_int_equal(json_array_size(roots), 9);
	for (i = 0; i <= 8; i++) {
		assert_int_equal(merkle_root(i, &r, got), 0);
		hex32(json_array_get(roots, i), want);
		snprintf(what, sizeof(what), "root of size %zu", i);
		assert_hash_eq(got, want, what);
	}
	merkle_mem_free(m);
	json_decref(ref);
}

static void
test_reference_tree_generated_inclusion_proofs_equal_vectors(void **state)
{
	json_t *ref = load_json("corpus/merkle/rfc6962_reference_tree.json");
	struct merkle_mem *m = reference_tree(ref);
	uint8_t got[MERKLE_MAX_PROOF][H], want[MERKLE_MAX_PROOF][H];
	uint8_t root[H], leaf[H];
	struct merkle_reader r;
	size_t i, k, glen, wlen;
	char what[96];
	json_t *v;

	(void)state;
	merkle_mem_reader(m, &r);
	assert_true(json_array_size(json_object_get(ref, "inclusion")) > 0);
	json_array_foreach(json_object_get(ref, "inclusion"), i, v)
	{
		uint64_t idx = get_u64(v, "leaf_index");
		uint64_t size = get_u64(v, "tree_size");

		hex_proof(json_object_get(v, "proof"), want, &wlen);
		hex32(json_object_get(v, "root"), root);
		hex32(json_object_get(v, "leaf_hash"), leaf);
		assert_int_equal(
		    merkle_inclusion_proof(idx, size, &r, got, &glen), 0);
		if (glen != wlen)
			fail_msg("inclusion proof (%llu, %llu): %zu hashes, "
			         "want %zu",
			    (unsigned long long)idx, (unsigned long long)size,
			    glen, wlen);
		for (k = 0; k < glen; k++) {
			snprintf(what, sizeof(what),
			    "inclusion proof (%llu, "
			    "%llu) hash %zu",
			    (unsigned long long)idx, (unsigned long long)size,
			    k);
			assert_hash_eq(got[k], want[k], what);
		}
		if (merkle_verify_inclusion(idx, size, leaf,
		        (const uint8_t(*)[H])got, glen, root) != 0)
			fail_msg(
			    "inclusion proof (%llu, %llu) does not verify: "
			    "%s",
			    (unsigned long long)idx, (unsigned long long)size,
			    err_msg());
	}
	merkle_mem_free(m);
	json_decref(ref);
}

static void
test_reference_tree_generated_consistency_proofs_equal_vectors(void **state)
{
	json_t *ref = load_json("corpus/merkle/rfc6962_reference_tree.json");
	struct merkle_mem *m = reference_tree(ref);
	uint8_t got[MERKLE_MAX_PROOF][H], want[MERKLE_MAX_PROOF][H];
	uint8_t r1[H], r2[H];
	struct merkle_reader r;
	size_t i, k, glen, wlen;
	char what[96];
	json_t *v;

	(void)state;
	merkle_mem_reader(m, &r);
	assert_true(json_array_size(json_object_get(ref, "consistency")) > 0);
	json_array_foreach(json_object_get(ref, "consistency"), i, v)
	{
		uint64_t s1 = get_u64(v, "size1"), s2 = get_u64(v, "size2");

		hex_proof(json_object_get(v, "proof"), want, &wlen);
		hex32(json_object_get(v, "root1"), r1);
		hex32(json_object_get(v, "root2"), r2);
		assert_int_equal(
		    merkle_consistency_proof(s1, s2, &r, got, &glen), 0);
		if (glen != wlen)
			fail_msg("consistency proof %llu -> %llu: %zu hashes, "
			         "want %zu",
			    (unsigned long long)s1, (unsigned long long)s2,
			    glen, wlen);
		for (k = 0; k < glen; k++) {
			snprintf(what, sizeof(what),
			    "consistency proof %llu "
			    "-> %llu hash %zu",
			    (unsigned long long)s1, (unsigned long long)s2, k);
			assert_hash_eq(got[k], want[k], what);
		}
		if (merkle_verify_consistency(s1, s2, r1, r2,
		        (const uint8_t(*)[H])got, glen) != 0)
			fail_msg("consistency proof %llu -> %llu does not "
			         "verify: %s",
			    (unsigned long long)s1, (unsigned long long)s2,
			    err_msg());
	}
	merkle_mem_free(m);
	json_decref(ref);
}

/* RFC 9162 §2.1, literally: MTH, PATH and SUBPROOF over leaf hashes. */
static uint64_t
split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static void
model_mth(uint8_t (*lh)[H], uint64_t n, uint8_t out[H])
{
	uint8_t l[H], r[H];
	uint64_t k;

	if (n == 0) {
		merkle_empty_root(out);
		return;
	}
	if (n == 1) {
		memcpy(out, lh[0], H);
		return;
	}
	k = split_point(n);
	model_mth(lh, k, l);
	model_mth(lh + k, n - k, r);
	merkle_node_hash(l, r, out);
}

static void
model_path(uint64_t m, uint8_t (*lh)[H], uint64_t n, uint8_t proof[][H],
    size_t *len)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = split_point(n);
	if (m < k) {
		model_path(m, lh, k, proof, len);
		model_mth(lh + k, n - k, proof[(*len)++]);
	} else {
		model_path(m - k, lh + k, n - k, proof, len);
		model_mth(lh, k, proof[(*len)++]);
	}
}

static void
model_subproof(uint64_t m, uint8_t (*lh)[H], uint64_t n, int b,
    uint8_t proof[][H], size_t *len)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			model_mth(lh, m, proof[(*len)++]);
		return;
	}
	k = split_point(n);
	if (m <= k) {
		model_subproof(m, lh, k, b, proof, len);
		model_mth(lh + k, n - k, proof[(*len)++]);
	} else {
		model_subproof(m - k, lh + k, n - k, 0, proof, len);
		model_mth(lh, k, proof[(*len)++]);
	}
}

/* xorshift64*: deterministic pseudo-random leaves and bit choices. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

#define NRAND 300
/* Trees up to this size also check every bit of every proof and compare
 * against the recursive model; above it one random bit per hash. */
#define NFULL 32
#define NMODEL 64

struct fixture {
	struct merkle_mem *m;
	uint8_t lh[NRAND][H];
	uint8_t roots[NRAND + 1][H];
};

static int
setup_random(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct merkle_reader r;
	uint64_t i, w;

	if (f == NULL || merkle_mem_new(&f->m) < 0)
		goto fail;
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < NRAND; i++) {
		uint8_t leaf[16];

		w = rng();
		memcpy(leaf, &w, 8);
		w = rng();
		memcpy(leaf + 8, &w, 8);
		merkle_leaf_hash(leaf, sizeof(leaf), f->lh[i]);
		if (merkle_mem_append(f->m, f->lh[i]) < 0)
			goto fail;
	}
	merkle_mem_reader(f->m, &r);
	for (i = 0; i <= NRAND; i++)
		if (merkle_root(i, &r, f->roots[i]) < 0)
			goto fail;
	*state = f;
	return 0;
fail:
	if (f != NULL)
		merkle_mem_free(f->m);
	free(f);
	return -1;
}

static int
teardown_random(void **state)
{
	struct fixture *f = *state;

	merkle_mem_free(f->m);
	free(f);
	return 0;
}

static void
test_random_tree_roots_equal_recursive_model(void **state)
{
	struct fixture *f = *state;
	uint8_t want[H];
	char what[64];
	uint64_t n;

	for (n = 0; n <= NRAND; n++) {
		model_mth(f->lh, n, want);
		snprintf(what, sizeof(what), "root of random tree size %llu",
		    (unsigned long long)n);
		assert_hash_eq(f->roots[n], want, what);
	}
}

static void
flip(uint8_t *h, unsigned bit)
{
	h[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static void
test_random_trees_every_inclusion_proof_verifies_and_rejects_flipped_bits(
    void **state)
{
	struct fixture *f = *state;
	uint8_t proof[MERKLE_MAX_PROOF][H], model[MERKLE_MAX_PROOF][H];
	struct merkle_reader r;
	uint64_t n, idx;
	size_t len, mlen, k;
	unsigned bit;
	uint8_t leaf[H], root[H];

	merkle_mem_reader(f->m, &r);
	for (n = 1; n <= NRAND; n++) {
		for (idx = 0; idx < n; idx++) {
			assert_int_equal(
			    merkle_inclusion_proof(idx, n, &r, proof, &len), 0);
			if (n <= NMODEL) {
				mlen = 0;
				model_path(idx, f->lh, n, model, &mlen);
				if (mlen != len ||
				    memcmp(model, proof, len * H))
					fail_msg("inclusion proof (%llu, %llu) "
					         "differs from RFC 9162 PATH",
					    (unsigned long long)idx,
					    (unsigned long long)n);
			}
			if (merkle_verify_inclusion(idx, n, f->lh[idx],
			        (const uint8_t(*)[H])proof, len, f->roots[n]))
				fail_msg(
				    "inclusion proof (%llu, %llu) does not "
				    "verify: %s",
				    (unsigned long long)idx,
				    (unsigned long long)n, err_msg());
			/* Flipped bits in proof, leaf and root. */
			for (k = 0; k < len; k++) {
				for (bit = 0; bit < 8 * H; bit++) {
					unsigned b = n <= NFULL ?
					    bit :
					    (unsigned)(rng() % (8 * H));

					flip(proof[k], b);
					if (merkle_verify_inclusion(idx, n,
					        f->lh[idx],
					        (const uint8_t(*)[H])proof, len,
					        f->roots[n]) != ERR_SIG)
						fail_msg(
						    "inclusion proof (%llu, "
						    "%llu) accepted with bit "
						    "%u of "
						    "hash %zu flipped",
						    (unsigned long long)idx,
						    (unsigned long long)n, b,
						    k);
					flip(proof[k], b);
					if (n > NFULL)
						break;
				}
			}
			memcpy(leaf, f->lh[idx], H);
			memcpy(root, f->roots[n], H);
			bit = (unsigned)(rng() % (8 * H));
			flip(leaf, bit);
			flip(root, (bit + 1) % (8 * H));
			if (merkle_verify_inclusion(idx, n, leaf,
			        (const uint8_t(*)[H])proof, len,
			        f->roots[n]) != ERR_SIG ||
			    merkle_verify_inclusion(idx, n, f->lh[idx],
			        (const uint8_t(*)[H])proof, len,
			        root) != ERR_SIG)
				fail_msg(
				    "inclusion proof (%llu, %llu) accepted "
				    "a flipped leaf or root",
				    (unsigned long long)idx,
				    (unsigned long long)n);
			/* Wrong shape: one hash short or one too many.  (A
			 * proof can fit another tree size; the signed
			 * checkpoint is what binds size and root.) */
			if (len > 0 &&
			    merkle_verify_inclusion(idx, n, f->lh[idx],
			        (const uint8_t(*)[H])proof, len - 1,
			        f->roots[n]) == 0)
				fail_msg(
				    "inclusion proof (%llu, %llu) accepted "
				    "truncated",
				    (unsigned long long)idx,
				    (unsigned long long)n);
			memcpy(proof[len], f->lh[idx], H);
			if (merkle_verify_inclusion(idx, n, f->lh[idx],
			        (const uint8_t(*)[H])proof, len + 1,
			        f->roots[n]) == 0)
				fail_msg(
				    "inclusion proof (%llu, %llu) accepted "
				    "with an extra hash",
				    (unsigned long long)idx,
				    (unsigned long long)n);
		}
		assert_int_equal(merkle_verify_inclusion(n, n, f->lh[0],
		                     (const uint8_t(*)[H])proof, 0,
		                     f->roots[n]),
		    ERR_INVAL);
		assert_int_equal(merkle_inclusion_proof(n, n, &r, proof, &len),
		    ERR_INVAL);
	}
}

static void
test_random_trees_every_consistency_proof_verifies_and_rejects_flipped_bits(
    void **state)
{
	struct fixture *f = *state;
	uint8_t proof[MERKLE_MAX_PROOF][H], model[MERKLE_MAX_PROOF][H];
	uint8_t r1[H], r2[H];
	struct merkle_reader r;
	uint64_t m, n;
	size_t len, mlen, k;
	unsigned bit;

	merkle_mem_reader(f->m, &r);
	for (n = 1; n <= NRAND; n++) {
		for (m = 1; m <= n; m++) {
			assert_int_equal(
			    merkle_consistency_proof(m, n, &r, proof, &len), 0);
			if (n <= NMODEL && m < n) {
				mlen = 0;
				model_subproof(m, f->lh, n, 1, model, &mlen);
				if (mlen != len ||
				    memcmp(model, proof, len * H))
					fail_msg(
					    "consistency proof %llu -> %llu "
					    "differs from RFC 9162 PROOF",
					    (unsigned long long)m,
					    (unsigned long long)n);
			}
			if (merkle_verify_consistency(m, n, f->roots[m],
			        f->roots[n], (const uint8_t(*)[H])proof, len))
				fail_msg("consistency proof %llu -> %llu does "
				         "not verify: %s",
				    (unsigned long long)m,
				    (unsigned long long)n, err_msg());
			for (k = 0; k < len; k++) {
				for (bit = 0; bit < 8 * H; bit++) {
					unsigned b = n <= NFULL ?
					    bit :
					    (unsigned)(rng() % (8 * H));

					flip(proof[k], b);
					if (merkle_verify_consistency(m, n,
					        f->roots[m], f->roots[n],
					        (const uint8_t(*)[H])proof,
					        len) != ERR_SIG)
						fail_msg(
						    "consistency proof %llu "
						    "-> %llu accepted with bit "
						    "%u "
						    "of hash %zu flipped",
						    (unsigned long long)m,
						    (unsigned long long)n, b,
						    k);
					flip(proof[k], b);
					if (n > NFULL)
						break;
				}
			}
			memcpy(r1, f->roots[m], H);
			memcpy(r2, f->roots[n], H);
			bit = (unsigned)(rng() % (8 * H));
			flip(r1, bit);
			flip(r2, bit);
			if (merkle_verify_consistency(m, n, r1, f->roots[n],
			        (const uint8_t(*)[H])proof, len) != ERR_SIG ||
			    merkle_verify_consistency(m, n, f->roots[m], r2,
			        (const uint8_t(*)[H])proof, len) != ERR_SIG)
				fail_msg("consistency proof %llu -> %llu "
				         "accepted a flipped root",
				    (unsigned long long)m,
				    (unsigned long long)n);
			if (len > 0 &&
			    merkle_verify_consistency(m, n, f->roots[m],
			        f->roots[n], (const uint8_t(*)[H])proof,
			        len - 1) == 0)
				fail_msg("consistency proof %llu -> %llu "
				         "accepted truncated",
				    (unsigned long long)m,
				    (unsigned long long)n);
			memcpy(proof[len], f->roots[m], H);
			if (merkle_verify_consistency(m, n, f->roots[m],
			        f->roots[n], (const uint8_t(*)[H])proof,
			        len + 1) == 0)
				fail_msg("consistency proof %llu -> %llu "
				         "accepted with an extra hash",
				    (unsigned long long)m,
				    (unsigned long long)n);
		}
		assert_int_equal(merkle_verify_consistency(n + 1, n,
		                     f->roots[n], f->roots[n],
		                     (const uint8_t(*)[H])proof, 0),
		    ERR_INVAL);
		assert_int_equal(merkle_verify_consistency(0, n, f->roots[0],
		                     f->roots[n], (const uint8_t(*)[H])proof,
		                     0),
		    ERR_INVAL);
		assert_int_equal(
		    merkle_consistency_proof(n + 1, n, &r, proof, &len),
		    ERR_INVAL);
	}
}

/* A reader that counts its gets. */
struct counting {
	struct merkle_reader inner;
	unsigned long gets;
};

static int
counting_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[H])
{
	struct counting *c = ctx;

	c->gets++;
	return c->inner.get(c->inner.ctx, level, idx, out);
}

static void
test_proofs_read_O_log_n_stored_hashes(void **state)
{
	struct merkle_mem *m;
	struct counting c = { { NULL, NULL }, 0 };
	struct merkle_reader r = { counting_get, &c };
	uint8_t proof[MERKLE_MAX_PROOF][H], lh[H], root[H];
	uint64_t i, n = 100003,
	            sizes[] = { 1, 2, 3, 1000, 65536, 65537, 99999, 100003 };
	size_t len, s;

	(void)state;
	assert_int_equal(merkle_mem_new(&m), 0);
	for (i = 0; i < n; i++) {
		merkle_leaf_hash(&i, sizeof(i), lh);
		assert_int_equal(merkle_mem_append(m, lh), 0);
	}
	merkle_mem_reader(m, &c.inner);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t size = sizes[s], bound;
		unsigned lg = 64 - (unsigned)__builtin_clzll(size);

		bound = 2 * lg + 2;
		for (i = 0; i < size; i += size / 97 + 1) {
			c.gets = 0;
			assert_int_equal(
			    merkle_inclusion_proof(i, size, &r, proof, &len),
			    0);
			if (c.gets > bound)
				fail_msg(
				    "inclusion proof (%llu, %llu) read %lu "
				    "hashes; expected at most %llu",
				    (unsigned long long)i,
				    (unsigned long long)size, c.gets,
				    (unsigned long long)bound);
			assert_int_equal(merkle_root(size, &r, root), 0);
			merkle_leaf_hash(&i, sizeof(i), lh);
			assert_int_equal(merkle_verify_inclusion(i, size, lh,
			                     (const uint8_t(*)[H])proof, len,
			                     root),
			    0);
			if (i == 0)
				continue;
			c.gets = 0;
			assert_int_equal(
			    merkle_consistency_proof(i, size, &r, proof, &len),
			    0);
			if (c.gets > bound + 1)
				fail_msg("consistency proof %llu -> %llu read "
				         "%lu hashes; expected at most %llu",
				    (unsigned long long)i,
				    (unsigned long long)size, c.gets,
				    (unsigned long long)bound + 1);
		}
	}
	merkle_mem_free(m);
}

static void
test_append_hashes_reports_missing_sibling(void **state)
{
	struct merkle_mem *m;
	struct merkle_reader r;
	struct merkle_stored st[MERKLE_MAX_STORED];
	uint8_t lh[H] = { 0 };
	size_t n;

	(void)state;
	assert_int_equal(merkle_mem_new(&m), 0);
	merkle_mem_reader(m, &r);
	/* Leaf 3 of an empty store: its left siblings are not there. */
	assert_int_equal(merkle_append_hashes(3, lh, &r, st, &n), ERR_NOTFOUND);
	assert_non_null(strstr(err_msg(), "(0, 2)"));
	assert_int_equal(merkle_append_hashes(4, lh, &r, st, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st[0].level, 0);
	assert_int_equal(st[0].idx, 4);
	merkle_mem_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_corpus_inclusion_probes_verify_iff_not_wantErr),
		cmocka_unit_test(
		    test_corpus_consistency_probes_verify_iff_not_wantErr),
		cmocka_unit_test(
		    test_reference_tree_roots_match_for_sizes_0_to_8),
		cmocka_unit_test(
		    test_reference_tree_generated_inclusion_proofs_equal_vectors),
		cmocka_unit_test(
		    test_reference_tree_generated_consistency_proofs_equal_vectors),
		cmocka_unit_test_setup_teardown(
		    test_random_tree_roots_equal_recursive_model, setup_random,
		    teardown_random),
		cmocka_unit_test_setup_teardown(
		    test_random_trees_every_inclusion_proof_verifies_and_rejects_flipped_bits,
		    setup_random, teardown_random),
		cmocka_unit_test_setup_teardown(
		    test_random_trees_every_consistency_proof_verifies_and_rejects_flipped_bits,
		    setup_random, teardown_random),
		cmocka_unit_test(test_proofs_read_O_log_n_stored_hashes),
		cmocka_unit_test(test_append_hashes_reports_missing_sibling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
