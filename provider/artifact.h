/*
 * artifact: the provider's content-addressed artifact cache (DATA/cache),
 * shared by every lease.  Blobs and wasm modules are stored under their
 * SHA-256 (cache/sha256/<hex>), git checkouts under their commit
 * (cache/git/<commit>/), each written to a temporary name and renamed
 * into place only once checked, so a present entry is always complete.
 */
#ifndef LODGE_PROVIDER_ARTIFACT_H
#define LODGE_PROVIDER_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include "provider/netpolicy.h"

struct artifact_cache {
	char dir[4096];
	uint64_t max_bytes; /* per artifact */
};

/* Set up dir (created 0700) with the size limit. */
int artifact_cache_init(struct artifact_cache *c, const char *dir,
    uint64_t max_bytes);

/* Store data under its SHA-256, which must equal sha256_hex (ERR_CONFLICT
 * naming both otherwise; ERR_LIMIT above the size limit).  Storing what is
 * there already succeeds.  *path (may be NULL) gets the stored file's path,
 * malloc'd, owned by the caller. */
int artifact_put_blob(struct artifact_cache *c, const char *sha256_hex,
    const void *data, size_t len, char **path);

/* Path of a stored blob, or ERR_NOTFOUND. */
int artifact_blob_path(const struct artifact_cache *c, const char *sha256_hex,
    char **path);

/* Fetch url under p (provider/fetch.h: https, http only to allowed
 * hosts, no private or own address, redirects checked), at most the
 * cache's size limit, check its SHA-256 (ERR_CONFLICT) and store it.
 * Error messages are fit for the tenant: what the remote answered is
 * logged, not returned.  *path is malloc'd. */
int artifact_fetch_url(struct artifact_cache *c, const struct netpolicy *p,
    const char *url, const char *sha256_hex, char **path);

/* Clone url with libgit2 and check out exactly commit (40 hex), detached;
 * the checkout (without .git) is cache/git/<commit>.  The clone speaks
 * smart HTTP through provider/githttp.h under p; file:// (a local
 * clone) only when p->local.  Errors are fit for the tenant (the
 * policy's refusal, "commit not found", or a generic failure whose
 * detail is logged).  *dir is malloc'd. */
int artifact_git(struct artifact_cache *c, const struct netpolicy *p,
    const char *url, const char *commit, char **dir);

/* Is s 64 lower-case hex digits? */
int artifact_is_sha256(const char *s);

#endif
