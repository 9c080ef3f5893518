/*
 * image_run: the provider's "oci" runtime.  Pulls the images of a lease's
 * services in a worker thread (image/pull.h), never on the daemon's main
 * loop, and turns each into what a replica runs: the layers, the image
 * config as Docker and Akash honour it (SDL command replaces Entrypoint,
 * args replace Cmd, env added over Env, WorkingDir, User) and the lease's
 * range of host ids.  The loop polls completions (image_run_attach); the
 * tenant sees progress in the lease's status (image_run_status).
 */
#ifndef LODGE_PROVIDER_IMAGE_RUN_H
#define LODGE_PROVIDER_IMAGE_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "image/pull.h"
#include "sandbox/sandbox.h"

struct lease;

/* Ids of one lease's user namespace (/etc/subuid-style). */
#define IMAGE_RUN_IDS 65536u
#define IMAGE_RUN_ID_BASE_DEFAULT 1000000000u
#define IMAGE_RUN_CACHE_MAX_DEFAULT (16ull << 30)
/* Attempts of a pull that fails on the network (ERR_IO). */
#define IMAGE_RUN_TRIES 3

/* All borrowed for image_runner_new only (copied). */
struct image_run_config {
	const char *cache_dir; /* the image cache (image/cache.h) */
	const char *leases_dir; /* <lease>/images.json pins digests */
	uint64_t cache_max_bytes; /* 0: IMAGE_RUN_CACHE_MAX_DEFAULT */
	uint64_t id_base; /* first lease's range; 0: the default */
	const struct image_mirror *mirrors;
	size_t n_mirrors;
	const char *const *insecure;
	size_t n_insecure;
	/* called from the worker when a pull ends (the loop may wake) */
	void (*wake)(void *ctx);
	void *wake_ctx;
};

struct image_runner;

/* Open the cache, start the worker.  *out is the caller's
 * (image_runner_free, which stops the worker, cancelling its pull). */
int image_runner_new(const struct image_run_config *cfg,
    struct image_runner **out);
void image_runner_free(struct image_runner *ir);

/* What one replica of a service runs, shared by its replicas
 * (reference-counted; the strings live as long as it). */
struct image_run_spec;

void image_run_spec_unref(struct image_run_spec *s);

/* Point spec at s: image (layers, ids, user, writable layer, volumes),
 * argv, env, workdir.  s must outlive the sandbox_start that uses spec. */
void image_run_spec_apply(const struct image_run_spec *s,
    struct sandbox_spec *spec);

/*
 * Queue the pull of each service of l (its manifest set, its replicas
 * built) whose runtime is "oci": the reference, the SDL's command, args,
 * env, credentials (kept in memory only, never logged) and storage come
 * from l->manifest.  A service already queued for l is left as it is; a
 * digest pinned by an earlier pull of the lease (images.json) is pulled
 * by digest.  ERR_INVAL names a service whose reference does not parse.
 */
int image_run_queue(struct image_runner *ir, const struct lease *l);

/* Under the daemon's lock: give each oci replica of l whose image is
 * ready its spec.  ERR_REJECT with the pull's message (the lease cannot
 * run: close it) when a pull failed for good. */
int image_run_attach(struct image_runner *ir, struct lease *l);

/* {"<service>":{"reference","state":"queued|pulling|ready|failed",
 * "done","total","digest"?,"error"?}} for the lease, or NULL when it has
 * no image.  The caller owns it. */
json_t *image_run_status(struct image_runner *ir, const char *lease);

/* {"<service>":"sha256:<manifest digest>"} of the lease's pulled images
 * (for lease.started), or NULL when it has none.  The caller owns it. */
json_t *image_run_digests(struct image_runner *ir, const char *lease);

/* The lease ended: cancel its pulls, release its ids, and collect the
 * cache down to its size, sparing every other lease's layers. */
void image_run_forget(struct image_runner *ir, const char *lease);

/* "REGISTRY=URL" (URL http:// or https://) into its parts, pointing into
 * s (which is modified).  ERR_INVAL says what was expected. */
int image_run_parse_mirror(char *s, struct image_mirror *out);

/* The ids of an image user inside the image ("", "uid", "uid:gid",
 * "name", "name:group", ...): names from the layers' /etc/passwd and
 * /etc/group (layers bottom first); *home gets the passwd entry's home
 * (malloc'd, may be NULL).  ERR_NOTFOUND names an unknown user. */
int image_run_resolve_user(const char *user, const char *const *layers,
    size_t n_layers, uid_t *uid, gid_t *gid, char **home);

#endif
