/*
 * pull: fetch an OCI image into the cache and hand back what a runtime
 * needs: the resolved digests, the config, and the unpacked layers in
 * order (overlayfs lower dirs).  The client of the OCI Distribution Spec
 * v1.1 (pull side) over libcurl, with Docker's token authentication,
 * Basic auth, registry mirrors and insecure (plain HTTP) registries.
 */
#ifndef LODGE_IMAGE_PULL_H
#define LODGE_IMAGE_PULL_H

#include <stddef.h>
#include <stdint.h>

#include "image/auth.h"
#include "image/cache.h"
#include "image/manifest.h"
#include "image/ref.h"

#define IMAGE_MAX_LAYER_DEFAULT (4ull << 30) /* compressed, per layer */
#define IMAGE_MAX_IMAGE_DEFAULT (16ull << 30) /* compressed, all layers */
#define IMAGE_MAX_UNPACKED_DEFAULT (32ull << 30) /* unpacked, all layers */
#define IMAGE_MAX_ENTRIES_DEFAULT 2000000ull /* tar entries, all layers */
#define IMAGE_TIMEOUT_DEFAULT 30 /* seconds */

/* Requests for registry go to url first (containerd's hosts.toml
 * "server"/"host" order): "docker.io" -> "http://127.0.0.1:5000".  The
 * URL names its scheme; a path in it prefixes /v2/.  When the mirror fails
 * (no answer, an error status, a blob that does not verify) the next
 * mirror and then the registry itself are tried.  Credentials are never
 * sent to a mirror. */
struct image_mirror {
	const char *registry;
	const char *url;
};

/* All borrowed for the duration of the call; zero means the default. */
struct image_pull_options {
	const struct image_mirror *mirrors;
	size_t n_mirrors;
	/* "HOST[:PORT]" registries spoken to over plain HTTP (dockerd's
	 * --insecure-registry); every other registry is HTTPS, verified
	 * against the system's CAs. */
	const char *const *insecure;
	size_t n_insecure;
	uint64_t max_layer_bytes; /* one layer blob, compressed */
	uint64_t max_image_bytes; /* the layer blobs together */
	uint64_t max_unpacked_bytes; /* the layers unpacked, together */
	uint64_t max_entries; /* tar entries of the layers together */
	long timeout_s; /* connect timeout, and a transfer that moves
	                   nothing for this long is abandoned */
	/* Non-zero when this caller already proved it may read ref's digest
	 * (a lease starting again what it pulled): manifests held in the
	 * cache are then used without asking the registry.  Zero (the
	 * default): every manifest is fetched from the registry with auth
	 * and checked against its digest even when the cache holds it, so a
	 * private image another caller pulled is not handed to whoever
	 * names its digest (digests are public: the ledger records them). */
	int cache_proven;
};

/* Credentials to try, borrowed; the one whose host matches the
 * registry is used (image_auth_find). */
struct image_auth {
	const struct image_credential *creds;
	size_t n_creds;
};

enum image_phase {
	IMAGE_PHASE_RESOLVE = 1, /* fetching manifests and config */
	IMAGE_PHASE_DOWNLOAD, /* a layer blob is arriving */
	IMAGE_PHASE_UNPACK, /* a layer is being unpacked */
	IMAGE_PHASE_DONE,
};

struct image_progress {
	enum image_phase phase;
	const char *digest; /* the layer in question, or NULL */
	size_t layer; /* its index, bottom first */
	size_t n_layers;
	uint64_t done; /* compressed bytes of layers downloaded or found
	                  in the cache */
	uint64_t total; /* compressed bytes of all layers */
};

/* Called from image_pull's thread at each phase change and about every
 * MiB; returning non-zero cancels the pull (ERR_REJECT "cancelled"). */
typedef int (*image_progress_fn)(void *ctx, const struct image_progress *p);

struct image_layer {
	char *digest; /* of the (compressed) blob */
	char *media_type;
	uint64_t size; /* compressed bytes */
	char *dir; /* absolute path of the unpacked tree in the cache */
	uint64_t unpacked_bytes; /* disk use of dir, about */
	int cached; /* already in the cache before this pull */
};

/* Owned by the caller: image_result_clear. */
struct image_result {
	char *reference; /* canonical "registry/repository:tag@digest" */
	char *index_digest; /* the index the tag named, or NULL */
	char *manifest_digest; /* the platform's image manifest: what ran */
	char *config_digest;
	struct image_config config;
	struct image_layer *layers; /* bottom first, as in the manifest */
	size_t n_layers;
	char **skipped; /* "sha256:...: dev/sda: block device not created"
	                   (device nodes, sockets), at most 64 per layer */
	size_t n_skipped;
	uint64_t setid_stripped; /* files whose setuid/setgid bit went */
	uint64_t bytes_downloaded; /* blob bytes fetched by this pull */
};

/*
 * Pull ref for platform (NULL: image_platform_host) into cache.  Each
 * manifest and blob is verified against its SHA-256 digest as it arrives
 * (a mismatch is ERR_CORRUPT naming the digest; nothing of it is kept);
 * sizes are checked against opts' caps before and while downloading;
 * each layer is unpacked once into the cache (image/unpack.h) under a
 * per-layer lock, so concurrent pulls of one layer, by threads or
 * processes, download and unpack it once.  A layer already in the cache
 * is not fetched; a tag is always resolved at the registry, a digest
 * reference found in the cache needs no network.  Errors: ERR_INVAL (bad
 * document), ERR_NOTFOUND (no such image or platform), ERR_REJECT
 * (refused: credentials, unsupported type, cancelled), ERR_CORRUPT,
 * ERR_LIMIT, ERR_IO (network, disk); messages name the registry, the
 * reference or the digest, never a secret.  out is cleared on error.
 */
int image_pull(struct image_cache *cache, const struct image_ref *ref,
    const struct image_platform *platform, const struct image_auth *auth,
    const struct image_pull_options *opts, image_progress_fn progress,
    void *progress_ctx, struct image_result *out);

void image_result_clear(struct image_result *r);

/* The overlayfs "lowerdir=" value for r: the layer dirs top first,
 * separated by ':' (malloc'd for the caller).  ERR_INVAL when a path
 * holds ':', ',' or '\\', which the option syntax cannot carry; ERR_RANGE
 * when r has no layers. */
int image_result_lowerdir(const struct image_result *r, char **out);

/* The digests to pass as in_use to image_cache_gc while r is in use:
 * manifest, index (if any), config and layers; *out is a malloc'd array
 * of n pointers borrowed from r. */
int image_result_digests(const struct image_result *r, const char ***out,
    size_t *n);

#endif
