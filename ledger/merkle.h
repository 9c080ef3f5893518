/*
 * merkle: the ledger's Merkle tree, RFC 9162 §2.1 (RFC 6962 §2.1) hashing,
 * inclusion and consistency proofs.  Hashes are stored as in Go's sumdb
 * tlog: (level L, index i) is the hash of the complete subtree covering
 * leaves [i << L, (i + 1) << L).  Proofs are built from stored hashes only,
 * O(log n) reads, never rehashing leaves.
 */
#ifndef LODGE_LEDGER_MERKLE_H
#define LODGE_LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN 32
/* Room a caller gives for a proof (trees of 2^64 leaves need 65). */
#define MERKLE_MAX_PROOF 128
/* Most hashes merkle_append_hashes returns for one leaf. */
#define MERKLE_MAX_STORED 64

/* SHA-256(0x00 || leaf). */
void merkle_leaf_hash(const void *leaf, size_t len,
    uint8_t out[MERKLE_HASH_LEN]);
/* SHA-256(0x01 || l || r). */
void merkle_node_hash(const uint8_t l[MERKLE_HASH_LEN],
    const uint8_t r[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN]);
/* Root of the empty tree: SHA-256(""). */
void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN]);

/* Source of stored hashes.  get fills out with the hash of complete
 * subtree (level, idx) and returns 0, or a negative ERR_* code with a
 * message (ERR_NOTFOUND when it is not stored). */
struct merkle_reader {
	int (*get)(void *ctx, unsigned level, uint64_t idx,
	    uint8_t out[MERKLE_HASH_LEN]);
	void *ctx;
};

struct merkle_stored {
	unsigned level;
	uint64_t idx;
	uint8_t hash[MERKLE_HASH_LEN];
};

/* For a tree of n leaves, the hashes to store when leaf n (hash leaf_hash)
 * is appended: (0, n) first, then every complete subtree that closes, in
 * increasing level.  Reads only left siblings through r (at most log2 n
 * gets).  out needs MERKLE_MAX_STORED entries; *count gets the number. */
int merkle_append_hashes(uint64_t n, const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const struct merkle_reader *r, struct merkle_stored *out, size_t *count);

/* Root of the first size leaves (the empty root for 0); popcount(size)
 * gets. */
int merkle_root(uint64_t size, const struct merkle_reader *r,
    uint8_t out[MERKLE_HASH_LEN]);

/* RFC 9162 §2.1.3.1 PATH(index, D[size]), bottom-up.  proof needs room
 * for MERKLE_MAX_PROOF hashes; *len gets the count.  ERR_INVAL when
 * index >= size. */
int merkle_inclusion_proof(uint64_t index, uint64_t size,
    const struct merkle_reader *r, uint8_t proof[][MERKLE_HASH_LEN],
    size_t *len);

/* RFC 9162 §2.1.4.1 PROOF(old_size, D[new_size]).  Empty when the sizes
 * are equal; ERR_INVAL when old_size is 0 or above new_size. */
int merkle_consistency_proof(uint64_t old_size, uint64_t new_size,
    const struct merkle_reader *r, uint8_t proof[][MERKLE_HASH_LEN],
    size_t *len);

/* RFC 9162 §2.1.3.2.  0 when proof shows leaf_hash at index in the tree of
 * size with root; ERR_INVAL when index >= size; ERR_SIG otherwise. */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t len,
    const uint8_t root[MERKLE_HASH_LEN]);

/* RFC 9162 §2.1.4.2.  0 when proof shows the tree of old_size (old_root)
 * is a prefix of the tree of new_size (new_root).  Equal sizes need an
 * empty proof and equal roots.  ERR_INVAL when old_size is 0 or above
 * new_size (no proof is defined); ERR_SIG otherwise. */
int merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
    const uint8_t old_root[MERKLE_HASH_LEN],
    const uint8_t new_root[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t len);

/* An in-memory tree storing the same (level, idx) hashes: tests and
 * offline verification.  The caller owns the tree (merkle_mem_free). */
struct merkle_mem;

int merkle_mem_new(struct merkle_mem **out);
int merkle_mem_append(struct merkle_mem *m,
    const uint8_t leaf_hash[MERKLE_HASH_LEN]);
uint64_t merkle_mem_size(const struct merkle_mem *m);
/* A reader over m, valid while m lives and is not appended to from
 * another thread. */
void merkle_mem_reader(struct merkle_mem *m, struct merkle_reader *out);
void merkle_mem_free(struct merkle_mem *m);

#endif
