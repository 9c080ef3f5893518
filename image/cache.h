/*
 * cache: the content-addressed store of images shared by every lease of
 * a provider: small blobs (manifests, configs) by digest and layers
 * unpacked by the digest of their blob, with least-recently-used garbage
 * collection under a size limit that spares the layers in use.
 *
 * Layout under the root (one file system, so renames are atomic):
 *   blobs/sha256/<hex>          a verified manifest, index or config
 *   layers/sha256/<hex>/fs/     an unpacked layer: an overlayfs lower dir
 *   layers/sha256/<hex>/meta.json   its size and what unpacking skipped
 *   locks/<xx>.lock             flock(2) stripes by digest prefix
 *   tmp/<pid>.<n>.<what>        work in progress, renamed into place
 * An entry's mtime is its last use.  A layer's compressed blob is
 * deleted once unpacked: the unpacked tree is the cached form.
 */
#ifndef LODGE_IMAGE_CACHE_H
#define LODGE_IMAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct image_cache;

/* Open (creating with mode 0700 as needed) the cache at root, and remove
 * the work left in tmp/ by processes that are gone.  The caller owns
 * *out (image_cache_free).  Safe to open the same root from several
 * processes, and to use one image_cache from several threads. */
int image_cache_open(const char *root, struct image_cache **out);
void image_cache_free(struct image_cache *c);

/* The absolute path of the root. */
const char *image_cache_root(const struct image_cache *c);

struct image_cache_usage {
	uint64_t bytes; /* layers (as unpacked) and blobs, about */
	size_t layers;
	size_t blobs;
};

int image_cache_usage(struct image_cache *c, struct image_cache_usage *u);

struct image_gc_stats {
	uint64_t bytes_before, bytes_after;
	size_t layers_removed, blobs_removed;
};

/*
 * Remove least recently used layers and blobs until the cache holds at
 * most max_bytes, sparing the digests in in_use (n_in_use strings
 * "sha256:<hex>", e.g. from image_result_digests for every image a live
 * lease runs), entries being pulled or used since the collection began,
 * and nothing else.  A layer goes by rename into tmp/ first, so no path
 * under layers/ is ever half deleted.  st (may be NULL) says what went;
 * bytes_after may stay above max_bytes when what is left is in use.
 */
int image_cache_gc(struct image_cache *c, uint64_t max_bytes,
    const char *const *in_use, size_t n_in_use, struct image_gc_stats *st);

#endif
