/*
 * internal: what the files of image/ share and nothing outside uses:
 * the cache's paths and locks, the registry client, SHA-256 and safe
 * path helpers.
 */
#ifndef LODGE_IMAGE_INTERNAL_H
#define LODGE_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "image/cache.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "image/ref.h"

/* ---- paths (unpack.c) ------------------------------------------------ */

/* openat2(dirfd, path, flags | O_CLOEXEC) resolved beneath dirfd without
 * following any symlink or crossing a mount; -1 with errno. */
int image_open_beneath(int dirfd, const char *path, int flags);
/* Remove name (a tree too) under dirfd without following symlinks,
 * making 0555 directories writable first; 0 or -1 with errno. */
int image_rm_at(int dirfd, const char *name);

/* ---- SHA-256 (cache.c) ----------------------------------------------- */

/* "sha256:<hex>" of data into out (72 bytes). */
void image_sha256(const void *data, size_t len, char out[72]);

/* ---- cache (cache.c) ------------------------------------------------- */

/* root/blobs/sha256/<hex>, root/layers/sha256/<hex>; ERR_INVAL for a
 * digest that is not sha256:<64 hex>. */
int cache_blob_path(const struct image_cache *c, const char *digest, char *buf,
    size_t cap);
int cache_layer_path(const struct image_cache *c, const char *digest, char *buf,
    size_t cap);
/* A fresh name root/tmp/<pid>.<n>.<what> (not created). */
int cache_tmp_path(struct image_cache *c, const char *what, char *buf,
    size_t cap);
/* flock(2) the stripe of digest: op LOCK_SH or LOCK_EX, with LOCK_NB
 * (ERR_CONFLICT when busy).  *fd for cache_unlock. */
int cache_lock(const struct image_cache *c, const char *digest, int op,
    int *fd);
void cache_unlock(int fd);
/* Mark path used now (its mtime). */
void cache_touch(const char *path);
/* A small blob from the cache, re-verified (a damaged one is removed):
 * ERR_NOTFOUND when absent.  *out malloc'd, NUL-terminated. */
int cache_get_blob(struct image_cache *c, const char *digest, size_t max,
    char **out, size_t *len);
/* Store a verified small blob under its digest (atomically). */
int cache_put_blob(struct image_cache *c, const char *digest, const void *data,
    size_t len);
/* Remove a tree of the cache (by renaming it into tmp/ first). */
void cache_remove_tree(struct image_cache *c, const char *path);

/* ---- registry client (registry.c) ------------------------------------ */

struct registry;

/* Byte counts as a blob arrives; non-zero cancels. */
typedef int (*registry_progress_fn)(void *ctx, uint64_t bytes);

/* A client for ref's repository on its registry (after its mirrors);
 * every argument is borrowed for the client's life. */
int registry_open(const struct image_ref *ref, const struct image_auth *auth,
    const struct image_pull_options *opts, struct registry **out);
void registry_free(struct registry *r);

/* GET the manifest reference (tag or digest) with the Accept list of
 * the four manifest types; *body (malloc'd, NUL-terminated, at most
 * IMAGE_MANIFEST_MAX bytes) and *content_type (malloc'd, may be NULL).
 * When reference is a digest the body is verified against it. */
int registry_get_manifest(struct registry *r, const char *reference,
    char **body, size_t *len, char **content_type);

/* GET the blob d into fd (empty, at offset 0), verifying its size and
 * SHA-256 as it streams; max caps it (besides d->size).  ERR_CORRUPT
 * names the digest on a mismatch; fd's content is then garbage. */
int registry_get_blob(struct registry *r, const struct image_descriptor *d,
    uint64_t max, int fd, registry_progress_fn fn, void *ctx,
    uint64_t *fetched);

/* GET a small blob (config) into memory, verified. */
int registry_get_small_blob(struct registry *r,
    const struct image_descriptor *d, size_t max, char **body, size_t *len);

#endif
