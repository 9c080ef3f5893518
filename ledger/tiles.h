/*
 * tiles: the ledger as a C2SP tlog-tiles static log: the checkpoint
 * note at <prefix>/checkpoint, the Merkle tree as 256-wide tiles of
 * hashes at <prefix>/tile/<L>/<N>[.p/<W>] and the leaves as entry bundles
 * at <prefix>/tile/entries/<N>[.p/<W>] (each entry a big-endian uint16
 * length and the exact leaf bytes), as Sunlight and Tessera lay them out,
 * so any static web server or CDN can serve a mirror.  The writer is
 * incremental (full tiles are immutable and never rewritten); the reader
 * takes a directory, a file:// URL or an http(s):// prefix.
 */
#ifndef LODGE_LEDGER_TILES_H
#define LODGE_LEDGER_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/merkle.h"
#include "ledger/store.h"

#define TILES_WIDTH 256 /* hashes in a full tile, entries in a full bundle */
#define TILES_HEIGHT 8 /* tree levels one tile spans */
#define TILES_ENTRIES (-1) /* the "level" of entry bundles in paths */
#define TILES_MAX_LEVEL 63
#define TILES_MAX_ENTRY 65535 /* bytes of one entry in a bundle */
#define TILES_PATH_MAX 96 /* room for any tile path and its NUL */

/*
 * The path of tile (level, n) of the given width (TILES_WIDTH or 0 for a
 * full tile, 1-255 for a partial one) or, with level TILES_ENTRIES, of
 * entry bundle n: "tile/<L>/<N>[.p/<W>]" with N in 3-digit groups, all
 * but the last prefixed by 'x' (1234067 is "x001/x234/067").  ERR_INVAL
 * for a level or width out of range.
 */
int tiles_path(int level, uint64_t n, unsigned width, char *buf, size_t cap);
/* The inverse, strict (no leading zeros in L or W, exactly 3 digits per
 * group, N within 64 bits); *width is TILES_WIDTH for a full tile.
 * ERR_INVAL naming what is wrong. */
int tiles_path_parse(const char *path, int *level, uint64_t *n,
    unsigned *width);

/* The width of tile n at level (TILES_ENTRIES: of bundle n) in a tree of
 * size: TILES_WIDTH when full, 1-255 when partial, 0 when there is no
 * such tile (empty tiles are not served). */
unsigned tiles_width(uint64_t size, int level, uint64_t n);

/* An entry bundle of entries[0..n) (lens[i] bytes each, at most
 * TILES_MAX_ENTRY, ERR_LIMIT otherwise): *out (malloc'd, *out_len
 * bytes) the caller frees. */
int tiles_bundle_encode(const char *const *entries, const size_t *lens,
    size_t n, uint8_t **out, size_t *out_len);
/* Call fn(ctx, first + i, -1, entry, len) for the first count entries of
 * a bundle (count 0: every entry, and the bundle must end after the
 * last); ERR_CORRUPT when the bundle is cut short.  A non-zero return
 * of fn stops the walk and is returned. */
int tiles_bundle_foreach(const uint8_t *data, size_t len, uint64_t first,
    size_t count, store_leaf_fn fn, void *ctx);

struct tiles_report {
	uint64_t size; /* entries the checkpoint covers */
	uint64_t written; /* tiles and bundles written this time */
	uint64_t kept; /* already there (full ones are immutable) */
};

/*
 * Write the tiles of s's latest stored checkpoint (its note, cosignatures
 * and all, becomes <dir>/checkpoint, written last) under dir, creating
 * it.  Only what the previous checkpoint in dir did not have is written:
 * new full tiles and bundles and the partial ones of this size.  Refuses
 * (ERR_CONFLICT) a dir holding another log's checkpoint, or one larger
 * than s's, or of a root s does not have at that size.  ERR_LIMIT for a
 * leaf above TILES_MAX_ENTRY bytes.
 */
int tiles_write(struct store *s, const char *dir, struct tiles_report *rep);

/* A tiled log being read. */
struct tiles;

/* url: an http:// or https:// prefix, a file:// URL or a directory. */
int tiles_open(const char *url, struct tiles **out);
void tiles_free(struct tiles *t);
/* The checkpoint note, unverified: *note (malloc'd, NUL-terminated,
 * *len bytes) the caller frees. */
int tiles_checkpoint(struct tiles *t, char **note, size_t *len);
/* Every leaf of a tree of size, in order: fn(ctx, idx, -1, leaf, len). */
int tiles_foreach_entry(struct tiles *t, uint64_t size, store_leaf_fn fn,
    void *ctx);
/* The same from leaf from on (the bundles before it are not fetched). */
int tiles_foreach_entry_from(struct tiles *t, uint64_t from, uint64_t size,
    store_leaf_fn fn, void *ctx);
/* A merkle reader of the stored hashes of the tree of size, from its
 * tiles (fetched as needed, a few kept), valid while t lives.  What it
 * returns is unverified: check roots and proofs against a checkpoint. */
void tiles_reader(struct tiles *t, uint64_t size, struct merkle_reader *out);
/* Compare every tile of the tree of size with trusted (a tree rebuilt
 * from verified leaves); ERR_CORRUPT naming the first tile that differs
 * or is missing. */
int tiles_check(struct tiles *t, uint64_t size,
    const struct merkle_reader *trusted);

#endif
