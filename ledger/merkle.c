/*
 * merkle: RFC 9162 §2.1 Merkle tree hashing, proofs and their
 * verification over stored complete-subtree hashes (Go sumdb tlog layout).
 */
#include "ledger/merkle.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/err.h"

typedef unsigned long long ull;

void
merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 512];
	EVP_MD_CTX *c;
	static const uint8_t prefix = 0x00;

	/* Ledger leaves are small: one-shot SHA-256 over a stack copy. */
	if (len < sizeof(buf)) {
		buf[0] = prefix;
		if (len > 0)
			memcpy(buf + 1, leaf, len);
		SHA256(buf, len + 1, out);
		return;
	}
	/* No error path in this signature: SHA-256 cannot fail short of
	 * memory, and a leaf without its hash must not go on. */
	if ((c = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, &prefix, 1) != 1 ||
	    EVP_DigestUpdate(c, leaf, len) != 1 ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		err_abort("merkle_leaf_hash: OpenSSL's SHA-256 failed on a "
		          "%zu-byte leaf (out of memory?)",
		    len);
	EVP_MD_CTX_free(c);
}

void
merkle_node_hash(const uint8_t l[MERKLE_HASH_LEN],
    const uint8_t r[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, l, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, r, MERKLE_HASH_LEN);
	SHA256(buf, sizeof(buf), out);
}

void
merkle_empty_root(uint8_t out[MERKLE_HASH_LEN])
{
	SHA256((const uint8_t *)"", 0, out);
}

int
merkle_append_hashes(uint64_t n, const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const struct merkle_reader *r, struct merkle_stored *out, size_t *count)
{
	uint8_t h[MERKLE_HASH_LEN], left[MERKLE_HASH_LEN];
	uint64_t idx = n;
	unsigned level = 0;
	size_t c = 0;
	int rc;

	*count = 0;
	if (n == UINT64_MAX)
		return err_set(ERR_RANGE,
		    "merkle append: tree of %llu leaves "
		    "is full",
		    (ull)n);
	memcpy(h, leaf_hash, MERKLE_HASH_LEN);
	out[c].level = 0;
	out[c].idx = n;
	memcpy(out[c++].hash, h, MERKLE_HASH_LEN);
	/* Each odd index closes a complete subtree one level up. */
	while (idx & 1) {
		if ((rc = r->get(r->ctx, level, idx - 1, left)) < 0)
			return err_prefix(rc,
			    "merkle append %llu: hash (%u, %llu)", (ull)n,
			    level, (ull)(idx - 1));
		merkle_node_hash(left, h, h);
		idx >>= 1;
		level++;
		out[c].level = level;
		out[c].idx = idx;
		memcpy(out[c++].hash, h, MERKLE_HASH_LEN);
	}
	*count = c;
	return 0;
}

/*
 * Hash of leaves [start, start + n), 0 < n <= 2^k, start a multiple of 2^k:
 * the complete subtrees of n's binary decomposition, largest first, folded
 * from the right as RFC 9162's MTH splits them.  popcount(n) gets.
 */
static int
range_hash(const struct merkle_reader *r, uint64_t start, uint64_t n,
    uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t parts[64][MERKLE_HASH_LEN];
	uint64_t pos = start;
	int np = 0, b, rc;

	for (b = 63; b >= 0; b--) {
		if (!(n >> b & 1))
			continue;
		if ((rc = r->get(r->ctx, (unsigned)b, pos >> b, parts[np])) < 0)
			return err_prefix(rc, "merkle: hash (%d, %llu)", b,
			    (ull)(pos >> b));
		np++;
		pos += (uint64_t)1 << b;
	}
	memcpy(out, parts[np - 1], MERKLE_HASH_LEN);
	for (np -= 2; np >= 0; np--)
		merkle_node_hash(parts[np], out, out);
	return 0;
}

int
merkle_root(uint64_t size, const struct merkle_reader *r,
    uint8_t out[MERKLE_HASH_LEN])
{
	if (size == 0) {
		merkle_empty_root(out);
		return 0;
	}
	return range_hash(r, 0, size, out);
}

/*
 * The audit path of complete subtree (level0, idx) in the tree of size
 * leaves, bottom-up, appended to proof[*len..].  Left siblings are always
 * complete; only a right sibling on the tree's right edge is partial, and
 * its hash comes from its decomposition.
 */
static int
subtree_path(unsigned level0, uint64_t idx, uint64_t size,
    const struct merkle_reader *r, uint8_t proof[][MERKLE_HASH_LEN],
    size_t *len)
{
	uint64_t leaf = idx << level0, x, sib, start, width;
	unsigned level;
	int rc;

	for (level = level0; level < 64; level++) {
		if (((size - 1) >> level) == 0)
			break; /* this level's node holds the whole tree */
		x = leaf >> level;
		sib = x ^ 1;
		start = sib << level;
		if (start >= size)
			continue; /* nothing to the right yet */
		if (*len >= MERKLE_MAX_PROOF)
			return err_set(ERR_LIMIT,
			    "merkle: proof longer than %d", MERKLE_MAX_PROOF);
		width = (uint64_t)1 << level;
		if (sib < x || size - start >= width) {
			rc = r->get(r->ctx, level, sib, proof[*len]);
			if (rc < 0)
				return err_prefix(rc, "merkle: hash (%u, %llu)",
				    level, (ull)sib);
		} else if ((rc = range_hash(r, start, size - start,
		                proof[*len])) < 0)
			return rc;
		(*len)++;
	}
	return 0;
}

int
merkle_inclusion_proof(uint64_t index, uint64_t size,
    const struct merkle_reader *r, uint8_t proof[][MERKLE_HASH_LEN],
    size_t *len)
{
	*len = 0;
	if (index >= size)
		return err_set(ERR_INVAL,
		    "merkle inclusion proof: leaf %llu is "
		    "not in a tree of %llu leaves",
		    (ull)index, (ull)size);
	return subtree_path(0, index, size, r, proof, len);
}

int
merkle_consistency_proof(uint64_t old_size, uint64_t new_size,
    const struct merkle_reader *r, uint8_t proof[][MERKLE_HASH_LEN],
    size_t *len)
{
	unsigned level;
	uint64_t idx;
	int rc;

	*len = 0;
	if (old_size == 0 || old_size > new_size)
		return err_set(ERR_INVAL,
		    "merkle consistency proof: sizes %llu "
		    "-> %llu; expected 0 < old size <= new size",
		    (ull)old_size, (ull)new_size);
	if (old_size == new_size)
		return 0;
	/* The largest complete subtree ending at old_size is where RFC 9162
	 * SUBPROOF stops; the rest is that subtree's path in the new tree.
	 * When it starts at leaf 0 it is the old root, which the verifier
	 * already has. */
	level = (unsigned)__builtin_ctzll(old_size);
	idx = (old_size >> level) - 1;
	if (idx != 0) {
		if ((rc = r->get(r->ctx, level, idx, proof[0])) < 0)
			return err_prefix(rc, "merkle: hash (%u, %llu)", level,
			    (ull)idx);
		*len = 1;
	}
	return subtree_path(level, idx, new_size, r, proof, len);
}

int
merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t len,
    const uint8_t root[MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN];
	uint64_t fn = index, sn;
	size_t i;

	if (index >= size)
		return err_set(ERR_INVAL,
		    "inclusion proof: leaf index %llu is "
		    "not below tree size %llu",
		    (ull)index, (ull)size);
	sn = size - 1;
	memcpy(h, leaf_hash, MERKLE_HASH_LEN);
	for (i = 0; i < len; i++) {
		if (sn == 0)
			return err_set(ERR_SIG,
			    "inclusion proof of leaf %llu in "
			    "tree %llu: %zu hashes, expected %zu",
			    (ull)index, (ull)size, len, i);
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], h, h);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			merkle_node_hash(h, proof[i], h);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return err_set(ERR_SIG,
		    "inclusion proof of leaf %llu in tree "
		    "%llu: %zu hashes is too short",
		    (ull)index, (ull)size, len);
	if (memcmp(h, root, MERKLE_HASH_LEN) != 0)
		return err_set(ERR_SIG,
		    "inclusion proof of leaf %llu in tree "
		    "%llu: computed root differs from the expected root",
		    (ull)index, (ull)size);
	return 0;
}

int
merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
    const uint8_t old_root[MERKLE_HASH_LEN],
    const uint8_t new_root[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t len)
{
	uint8_t fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
	uint64_t fn, sn;
	size_t i;

	if (old_size == 0 || old_size > new_size)
		return err_set(ERR_INVAL,
		    "consistency proof %llu -> %llu: "
		    "expected 0 < old size <= new size",
		    (ull)old_size, (ull)new_size);
	if (old_size == new_size) {
		if (len != 0)
			return err_set(ERR_SIG,
			    "consistency proof %llu -> %llu: "
			    "equal sizes need an empty proof, got %zu hashes",
			    (ull)old_size, (ull)new_size, len);
		if (memcmp(old_root, new_root, MERKLE_HASH_LEN) != 0)
			return err_set(ERR_SIG,
			    "consistency proof %llu -> %llu: "
			    "equal sizes but different roots",
			    (ull)old_size, (ull)new_size);
		return 0;
	}
	if (len == 0)
		return err_set(ERR_SIG,
		    "consistency proof %llu -> %llu: empty "
		    "proof",
		    (ull)old_size, (ull)new_size);

	/* When old_size is a power of two the old root is the first
	 * subtree hash (RFC 9162 step 2 prepends it). */
	i = 0;
	if ((old_size & (old_size - 1)) == 0) {
		memcpy(fr, old_root, MERKLE_HASH_LEN);
	} else {
		memcpy(fr, proof[0], MERKLE_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, MERKLE_HASH_LEN);
	fn = old_size - 1;
	sn = new_size - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < len; i++) {
		if (sn == 0)
			return err_set(ERR_SIG,
			    "consistency proof %llu -> %llu: "
			    "%zu hashes is too long",
			    (ull)old_size, (ull)new_size, len);
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], fr, fr);
			merkle_node_hash(proof[i], sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			merkle_node_hash(sr, proof[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return err_set(ERR_SIG,
		    "consistency proof %llu -> %llu: %zu "
		    "hashes is too short",
		    (ull)old_size, (ull)new_size, len);
	if (memcmp(fr, old_root, MERKLE_HASH_LEN) != 0)
		return err_set(ERR_SIG,
		    "consistency proof %llu -> %llu: "
		    "computed old root differs from the expected old root",
		    (ull)old_size, (ull)new_size);
	if (memcmp(sr, new_root, MERKLE_HASH_LEN) != 0)
		return err_set(ERR_SIG,
		    "consistency proof %llu -> %llu: "
		    "computed new root differs from the expected new root",
		    (ull)old_size, (ull)new_size);
	return 0;
}

/* In-memory tree: one growable array of hashes per level. */
struct merkle_level {
	uint8_t (*h)[MERKLE_HASH_LEN];
	uint64_t len, cap;
};

struct merkle_mem {
	uint64_t size;
	struct merkle_level lv[64];
};

int
merkle_mem_new(struct merkle_mem **out)
{
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return err_set(ERR_NOMEM, "merkle_mem_new: out of memory");
	return 0;
}

void
merkle_mem_free(struct merkle_mem *m)
{
	unsigned i;

	if (m == NULL)
		return;
	for (i = 0; i < 64; i++)
		free(m->lv[i].h);
	free(m);
}

uint64_t
merkle_mem_size(const struct merkle_mem *m)
{
	return m->size;
}

static int
mem_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[MERKLE_HASH_LEN])
{
	const struct merkle_mem *m = ctx;

	if (level >= 64 || idx >= m->lv[level].len)
		return err_set(ERR_NOTFOUND,
		    "merkle memory tree of %llu leaves "
		    "has no hash (%u, %llu)",
		    (ull)m->size, level, (ull)idx);
	memcpy(out, m->lv[level].h[idx], MERKLE_HASH_LEN);
	return 0;
}

void
merkle_mem_reader(struct merkle_mem *m, struct merkle_reader *out)
{
	out->get = mem_get;
	out->ctx = m;
}

int
merkle_mem_append(struct merkle_mem *m,
    const uint8_t leaf_hash[MERKLE_HASH_LEN])
{
	struct merkle_stored st[MERKLE_MAX_STORED];
	struct merkle_reader r;
	struct merkle_level *lv;
	size_t n, i;
	void *p;
	int rc;

	merkle_mem_reader(m, &r);
	if ((rc = merkle_append_hashes(m->size, leaf_hash, &r, st, &n)) < 0)
		return rc;
	/* Make room on every level first so a failure changes nothing. */
	for (i = 0; i < n; i++) {
		lv = &m->lv[st[i].level];
		if (st[i].idx != lv->len)
			err_abort("merkle_mem_append: at %llu leaves, level %u "
			          "holds %llu hashes but the next one is hash "
			          "%llu: levels out of step",
			    (ull)m->size, st[i].level, (ull)lv->len,
			    (ull)st[i].idx);
		if (lv->len < lv->cap)
			continue;
		p = reallocarray(lv->h, lv->cap ? lv->cap * 2 : 16,
		    MERKLE_HASH_LEN);
		if (p == NULL)
			return err_set(ERR_NOMEM,
			    "merkle_mem_append: out of "
			    "memory at %llu leaves",
			    (ull)m->size);
		lv->h = p;
		lv->cap = lv->cap ? lv->cap * 2 : 16;
	}
	for (i = 0; i < n; i++) {
		lv = &m->lv[st[i].level];
		memcpy(lv->h[lv->len++], st[i].hash, MERKLE_HASH_LEN);
	}
	m->size++;
	return 0;
}
