/*
 * pull: resolve a reference to the platform's manifest (through an index
 * when the tag names one), fetch and parse its config, and bring every
 * layer into the cache once, verified and unpacked; the sequence of a
 * container engine's pull (OCI Distribution Spec v1.1, Image Spec v1.1).
 */
#include "image/pull.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "image/internal.h"
#include "image/unpack.h"

/* An index may point at an index; this deep at most. */
#define MAX_NESTING 4
#define PROGRESS_STEP (1u << 20)

struct pull {
	struct image_cache *cache;
	struct registry *reg;
	struct image_pull_options o; /* with the defaults filled in */
	image_progress_fn fn;
	void *ctx;
	struct image_progress pr;
	uint64_t reported; /* pr.done at the last report */
	uint64_t layer_base; /* pr.done before the current layer */
	uint64_t data_used, entries_used; /* of the unpack limits */
	struct image_result *res;
	char origin[512]; /* "registry/repository" being pulled */
};

static int
report(struct pull *p, enum image_phase phase, const char *digest, size_t layer)
{
	p->pr.phase = phase;
	p->pr.digest = digest;
	p->pr.layer = layer;
	p->reported = p->pr.done;
	if (p->fn && p->fn(p->ctx, &p->pr))
		return err_set(ERR_REJECT, "pull cancelled");
	return 0;
}

static int
blob_progress(void *ctx, uint64_t bytes)
{
	struct pull *p = ctx;

	p->pr.done = p->layer_base + bytes;
	if (p->fn && p->pr.done - p->reported >= PROGRESS_STEP) {
		p->reported = p->pr.done;
		return p->fn(p->ctx, &p->pr);
	}
	return 0;
}

/* dir + "/" + name into buf; the cache root is short enough (cache.c)
 * that this only fails on a broken invariant. */
static int
join(char *buf, size_t cap, const char *dir, const char *name)
{
	if (snprintf(buf, cap, "%s/%s", dir, name) >= (int)cap)
		return err_set(ERR_INVAL, "%s/%s: path too long", dir, name);
	return 0;
}

static int
dupstr(char **dst, const char *src)
{
	if (!(*dst = strdup(src ? src : "")))
		return err_set(ERR_NOMEM, "out of memory");
	return 0;
}

/* The manifest named by reference: from the cache when it is a digest
 * held there and the caller proved access to it before
 * (opts.cache_proven), else from the registry with the caller's auth (and
 * then kept by digest).  Asking the registry is what keeps one caller's
 * private image from another who only knows its digest. */
static int
get_manifest(struct pull *p, const char *reference, char **body, size_t *len,
    char **ct, char digest[72])
{
	int rc;

	*ct = NULL;
	if (p->o.cache_proven && image_digest_valid(reference)) {
		rc = cache_get_blob(p->cache, reference, IMAGE_MANIFEST_MAX,
		    body, len);
		if (rc == 0) {
			snprintf(digest, 72, "%s", reference);
			return 0;
		}
		if (rc != ERR_NOTFOUND)
			return rc;
	}
	if ((rc = registry_get_manifest(p->reg, reference, body, len, ct)))
		return rc;
	image_sha256(*body, *len, digest);
	if ((rc = cache_put_blob(p->cache, digest, *body, *len))) {
		free(*body);
		free(*ct);
		*body = *ct = NULL;
		return rc;
	}
	return 0;
}

/* Resolve to the image manifest for the platform. */
static int
resolve(struct pull *p, const struct image_ref *ref,
    const struct image_platform *pf, struct image_manifest *m)
{
	char *reference = strdup(ref->digest ? ref->digest : ref->tag);
	char digest[72];
	uint64_t want_size = 0;
	bool sized = false;
	int rc = 0;

	if (!reference)
		return err_set(ERR_NOMEM, "out of memory");
	for (int depth = 0;; depth++) {
		const struct image_descriptor *d;
		char *body = NULL, *ct = NULL;
		size_t len = 0;

		if (depth == MAX_NESTING) {
			rc = err_set(ERR_REJECT,
			    "%s: indexes nested deeper "
			    "than %d",
			    p->res->reference, MAX_NESTING);
			break;
		}
		if ((rc = get_manifest(p, reference, &body, &len, &ct, digest)))
			break;
		if (sized && len != want_size) {
			rc = err_set(ERR_CORRUPT,
			    "manifest %s: %zu bytes, the "
			    "index gives %llu",
			    digest, len, (unsigned long long)want_size);
			free(body);
			free(ct);
			break;
		}
		rc = image_manifest_parse(ct, body, len, m);
		free(body);
		free(ct);
		if (rc) {
			err_prefix(rc, "%s (%s)", p->res->reference, digest);
			break;
		}
		if (m->kind == IMAGE_DOC_MANIFEST) {
			rc = dupstr(&p->res->manifest_digest, digest);
			break;
		}
		if (!p->res->index_digest &&
		    (rc = dupstr(&p->res->index_digest, digest)))
			break;
		if ((rc = image_index_choose(m, pf, &d))) {
			err_prefix(rc, "%s", p->res->reference);
			break;
		}
		free(reference);
		if (!(reference = strdup(d->digest))) {
			rc = err_set(ERR_NOMEM, "out of memory");
			break;
		}
		want_size = d->size;
		sized = true;
		image_manifest_clear(m);
	}
	free(reference);
	if (rc)
		image_manifest_clear(m);
	return rc;
}

static int
get_config(struct pull *p, const struct image_manifest *m,
    const struct image_platform *pf)
{
	const struct image_descriptor *d = &m->config;
	struct image_config *c = &p->res->config;
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (strcmp(d->media_type, "application/vnd.oci.image.config.v1+json") !=
	        0 &&
	    strcmp(d->media_type,
	        "application/vnd.docker.container.image.v1+json") != 0)
		return err_set(ERR_REJECT,
		    "%s: not a container image (its "
		    "config is %.100s)",
		    p->res->reference, d->media_type);
	/* like manifests, a config (its Env may hold secrets) comes from the
	 * registry, with the caller's auth, unless the caller proved access
	 * before: a manifest of the caller's own may name another's config */
	rc = p->o.cache_proven ?
	    cache_get_blob(p->cache, d->digest, IMAGE_CONFIG_MAX, &body, &len) :
	    ERR_NOTFOUND;
	if (rc == ERR_NOTFOUND) {
		if ((rc = registry_get_small_blob(p->reg, d, IMAGE_CONFIG_MAX,
		         &body, &len)))
			return rc;
		if ((rc = cache_put_blob(p->cache, d->digest, body, len))) {
			free(body);
			return rc;
		}
	} else if (rc) {
		return rc;
	}
	rc = image_config_parse(body, len, c);
	free(body);
	if (rc)
		return err_prefix(rc, "%s", d->digest);
	if ((*c->os && strcmp(c->os, pf->os) != 0) ||
	    (*c->architecture &&
	        strcmp(c->architecture, pf->architecture) != 0))
		return err_set(ERR_REJECT,
		    "%s is a %s/%s image; this host "
		    "runs %s/%s",
		    p->res->reference, c->os, c->architecture, pf->os,
		    pf->architecture);
	if (c->diff_ids && c->n_diff_ids != m->n_layers)
		return err_set(ERR_INVAL,
		    "%s: the config lists %zu layers "
		    "(rootfs.diff_ids), the manifest %zu",
		    p->res->reference, c->n_diff_ids, m->n_layers);
	return 0;
}

static bool
layer_type_ok(const char *t)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(t, ok[i]) == 0)
			return true;
	return false;
}

/* ---- layers ----------------------------------------------------------- */

static int
add_skipped(struct image_result *r, const char *digest, const char *what)
{
	char **v = realloc(r->skipped, (r->n_skipped + 1) * sizeof(char *));

	if (!v)
		return err_set(ERR_NOMEM, "out of memory");
	r->skipped = v;
	if (asprintf(&v[r->n_skipped], "%s: %s", digest, what) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	r->n_skipped++;
	return 0;
}

static uint64_t
meta_u64(const json_t *m, const char *key)
{
	const json_t *v = json_object_get(m, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ?
	    (uint64_t)json_integer_value(v) :
	    0;
}

/* Take a cached layer's record into the result; ERR_NOTFOUND when it is
 * not there (or its record is unreadable: then it is removed). */
static int
use_cached(struct pull *p, size_t i, const struct image_descriptor *d,
    const char *dir)
{
	struct image_layer *l = &p->res->layers[i];
	char path[PATH_MAX], *buf = NULL;
	size_t len;
	json_t *m;
	const json_t *sk;
	uint64_t data, entries;
	int rc;

	if ((rc = join(path, sizeof(path), dir, "meta.json")))
		return rc;
	if (access(path, F_OK) < 0)
		return ERR_NOTFOUND;
	if (util_read_file(path, 1 << 20, &buf, &len) ||
	    !(m = json_loadb(buf, len, 0, NULL))) {
		free(buf);
		cache_remove_tree(p->cache, dir);
		return ERR_NOTFOUND;
	}
	free(buf);
	cache_touch(dir);
	data = meta_u64(m, "data_bytes");
	entries = meta_u64(m, "entries");
	if (data > p->o.max_unpacked_bytes - p->data_used ||
	    entries > p->o.max_entries - p->entries_used) {
		json_decref(m);
		return err_set(ERR_LIMIT,
		    "%s: layer %s unpacks to more than "
		    "the image's limit (%llu bytes, %llu entries)",
		    p->res->reference, d->digest,
		    (unsigned long long)p->o.max_unpacked_bytes,
		    (unsigned long long)p->o.max_entries);
	}
	p->data_used += data;
	p->entries_used += entries;
	l->unpacked_bytes = meta_u64(m, "unpacked_bytes");
	p->res->setid_stripped += meta_u64(m, "setid_stripped");
	sk = json_object_get(m, "skipped");
	for (size_t k = 0; k < json_array_size(sk); k++) {
		const char *s = json_string_value(json_array_get(sk, k));
		if (s && (rc = add_skipped(p->res, d->digest, s))) {
			json_decref(m);
			return rc;
		}
	}
	json_decref(m);
	if ((rc = join(path, sizeof(path), dir, "fs")))
		return rc;
	return dupstr(&l->dir, path);
}

static int
write_meta(const char *dir, const struct image_descriptor *d,
    const struct image_unpack_report *rep)
{
	char path[PATH_MAX], *s = NULL;
	json_t *m, *sk = json_array();
	size_t len;
	int rc;

	for (size_t i = 0; sk && i < rep->n_skipped; i++)
		json_array_append_new(sk, json_string(rep->skipped[i]));
	m = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, "
	              "s:I}",
	    "digest", d->digest, "media_type", d->media_type, "size",
	    (json_int_t)d->size, "unpacked_bytes", (json_int_t)rep->bytes,
	    "data_bytes", (json_int_t)rep->data_bytes, "entries",
	    (json_int_t)rep->entries, "whiteouts", (json_int_t)rep->whiteouts,
	    "opaques", (json_int_t)rep->opaques, "setid_stripped",
	    (json_int_t)rep->setid_stripped, "skipped", sk, "skipped_total",
	    (json_int_t)rep->skipped_total);
	if (!m || !(s = json_dumps(m, JSON_COMPACT))) {
		json_decref(m);
		return err_set(ERR_NOMEM, "out of memory");
	}
	json_decref(m);
	len = strlen(s);
	if ((rc = join(path, sizeof(path), dir, "meta.json")) == 0)
		rc = util_write_file(path, s, len, 0600);
	free(s);
	return rc;
}

/* Has the layer in dir been fetched from p->origin (its "origins" file,
 * one "registry/repository" a line)? */
static bool
origin_known(const struct pull *p, const char *dir)
{
	char path[PATH_MAX], *buf = NULL, *line, *save = NULL;
	size_t len;
	bool found = false;

	if (join(path, sizeof(path), dir, "origins") ||
	    util_read_file(path, 1 << 16, &buf, &len))
		return false;
	for (line = strtok_r(buf, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save))
		found = strcmp(line, p->origin) == 0;
	free(buf);
	return found;
}

/* Record p->origin in dir's "origins" (best effort: unrecorded, it is
 * proven again next time). */
static void
origin_add(const struct pull *p, const char *dir)
{
	char path[PATH_MAX];
	int fd;

	if (join(path, sizeof(path), dir, "origins"))
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (dprintf(fd, "%s\n", p->origin) < 0)
		(void)ftruncate(fd, 0);
	close(fd);
}

/* A cached layer first reached from another registry or repository than
 * the ones it was fetched from: its blob is downloaded again, with the
 * caller's auth, and verified (then dropped), so a manifest naming
 * another's private layers (from a registry of the caller's own) gets
 * nothing that registry does not itself serve.  The caller holds the
 * layer's lock. */
static int
prove_layer(struct pull *p, size_t i, const struct image_descriptor *d,
    const char *dir)
{
	char blob[PATH_MAX];
	int fd, rc;

	if (p->o.cache_proven || origin_known(p, dir))
		return 0;
	if ((rc = cache_tmp_path(p->cache, "blob", blob, sizeof(blob))))
		return rc;
	if ((fd = open(blob, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return err_set(ERR_IO, "%s: %s", blob, strerror(errno));
	if ((rc = report(p, IMAGE_PHASE_DOWNLOAD, d->digest, i)) == 0)
		rc = registry_get_blob(p->reg, d, p->o.max_layer_bytes, fd,
		    blob_progress, p, &p->res->bytes_downloaded);
	close(fd);
	unlink(blob);
	if (rc)
		return err_prefix(rc,
		    "%s: layer %s (in the cache, fetched "
		    "again from this repository)",
		    p->res->reference, d->digest);
	origin_add(p, dir);
	return 0;
}

/* Download, verify and unpack layer i into tmp/, then rename it into
 * place; the caller holds the layer's lock. */
static int
fetch_layer(struct pull *p, size_t i, const struct image_descriptor *d,
    const char *dir)
{
	struct image_layer *l = &p->res->layers[i];
	struct image_unpack_limits lim;
	struct image_unpack_report rep = { 0 };
	char blob[PATH_MAX], tmp[PATH_MAX], fs[PATH_MAX];
	int fd = -1, rc;

	blob[0] = tmp[0] = '\0';
	if ((rc = cache_tmp_path(p->cache, "blob", blob, sizeof(blob))) ||
	    (rc = cache_tmp_path(p->cache, "layer", tmp, sizeof(tmp))))
		return rc;
	if ((fd = open(blob, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) <
	    0) {
		rc = err_set(ERR_IO, "%s: %s", blob, strerror(errno));
		blob[0] = '\0';
		goto out;
	}
	if ((rc = report(p, IMAGE_PHASE_DOWNLOAD, d->digest, i)))
		goto out;
	rc = registry_get_blob(p->reg, d, p->o.max_layer_bytes, fd,
	    blob_progress, p, &p->res->bytes_downloaded);
	close(fd);
	fd = -1;
	if (rc)
		goto out;
	p->pr.done = p->layer_base + d->size;
	if ((rc = report(p, IMAGE_PHASE_UNPACK, d->digest, i)))
		goto out;
	if ((rc = join(fs, sizeof(fs), tmp, "fs")))
		goto out;
	if (mkdir(tmp, 0700) < 0 || mkdir(fs, 0755) < 0 || chmod(fs, 0755)) {
		rc = err_set(ERR_IO, "%s: %s", fs, strerror(errno));
		goto out;
	}
	lim.max_bytes = p->o.max_unpacked_bytes - p->data_used;
	lim.max_entries = p->o.max_entries - p->entries_used;
	if ((rc = image_unpack_layer(blob, fs, &lim, &rep))) {
		err_prefix(rc, "%s: layer %s", p->res->reference, d->digest);
		goto out;
	}
	if ((rc = write_meta(tmp, d, &rep)))
		goto out;
	origin_add(p, tmp);
	if (rename(tmp, dir) < 0) {
		rc = err_set(ERR_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	p->data_used += rep.data_bytes;
	p->entries_used += rep.entries;
	l->unpacked_bytes = rep.bytes;
	p->res->setid_stripped += rep.setid_stripped;
	for (size_t k = 0; k < rep.n_skipped; k++)
		if ((rc = add_skipped(p->res, d->digest, rep.skipped[k])))
			goto out;
	if ((rc = join(fs, sizeof(fs), dir, "fs")) == 0)
		rc = dupstr(&l->dir, fs);
out:
	if (fd >= 0)
		close(fd);
	if (blob[0])
		unlink(blob);
	if (tmp[0])
		cache_remove_tree(p->cache, tmp);
	image_unpack_report_clear(&rep);
	return rc;
}

static int
ensure_layer(struct pull *p, size_t i, const struct image_descriptor *d)
{
	struct image_layer *l = &p->res->layers[i];
	char dir[PATH_MAX];
	bool fetched = false, hit;
	int lock, rc;

	if ((rc = dupstr(&l->digest, d->digest)) ||
	    (rc = dupstr(&l->media_type, d->media_type)))
		return rc;
	l->size = d->size;
	if ((rc = cache_layer_path(p->cache, d->digest, dir, sizeof(dir))))
		return rc;
	/* shared: a collection does not remove it while we look */
	if ((rc = cache_lock(p->cache, d->digest, LOCK_SH, &lock)))
		return rc;
	rc = use_cached(p, i, d, dir);
	hit = rc == 0;
	if (hit)
		rc = prove_layer(p, i, d, dir);
	cache_unlock(lock);
	if (!hit && rc == ERR_NOTFOUND) {
		/* exclusive: one puller fetches it, the others wait for it
		 * and then find it */
		if ((rc = cache_lock(p->cache, d->digest, LOCK_EX, &lock)))
			return rc;
		rc = use_cached(p, i, d, dir);
		if (rc == 0) {
			rc = prove_layer(p, i, d, dir);
		} else if (rc == ERR_NOTFOUND) {
			rc = fetch_layer(p, i, d, dir);
			fetched = true;
		}
		cache_unlock(lock);
	}
	if (rc)
		return rc;
	l->cached = !fetched;
	p->layer_base += d->size;
	p->pr.done = p->layer_base;
	return 0;
}

/* ---- the pull --------------------------------------------------------- */

int
image_pull(struct image_cache *cache, const struct image_ref *ref,
    const struct image_platform *platform, const struct image_auth *auth,
    const struct image_pull_options *opts, image_progress_fn progress,
    void *progress_ctx, struct image_result *out)
{
	struct pull p = { .cache = cache,
		.fn = progress,
		.ctx = progress_ctx,
		.res = out };
	struct image_platform host;
	struct image_manifest m = { 0 };
	uint64_t total = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (opts)
		p.o = *opts;
	if (!p.o.max_layer_bytes)
		p.o.max_layer_bytes = IMAGE_MAX_LAYER_DEFAULT;
	if (!p.o.max_image_bytes)
		p.o.max_image_bytes = IMAGE_MAX_IMAGE_DEFAULT;
	if (!p.o.max_unpacked_bytes)
		p.o.max_unpacked_bytes = IMAGE_MAX_UNPACKED_DEFAULT;
	if (!p.o.max_entries)
		p.o.max_entries = IMAGE_MAX_ENTRIES_DEFAULT;
	if (!platform) {
		image_platform_host(&host);
		platform = &host;
	}
	if (!ref->registry || !ref->repository || (!ref->tag && !ref->digest))
		return err_set(ERR_INVAL, "image reference incomplete");
	if (!(out->reference = image_ref_string(ref))) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (snprintf(p.origin, sizeof(p.origin), "%s/%s", ref->registry,
	        ref->repository) >= (int)sizeof(p.origin)) {
		rc = err_set(ERR_INVAL, "%s: name too long", out->reference);
		goto fail;
	}
	if ((rc = registry_open(ref, auth, &p.o, &p.reg)))
		goto fail;
	if ((rc = report(&p, IMAGE_PHASE_RESOLVE, NULL, 0)) ||
	    (rc = resolve(&p, ref, platform, &m)) ||
	    (rc = get_config(&p, &m, platform)))
		goto fail;
	for (size_t i = 0; i < m.n_layers; i++) {
		const struct image_descriptor *d = &m.layers[i];
		if (!layer_type_ok(d->media_type)) {
			rc = err_set(ERR_REJECT,
			    "%s: layer %s has media type "
			    "%.100s (supported: OCI tar, tar+gzip, tar+zstd; "
			    "Docker tar.gzip)",
			    out->reference, d->digest, d->media_type);
			goto fail;
		}
		if (d->size > p.o.max_layer_bytes) {
			rc = err_set(ERR_LIMIT,
			    "%s: layer %s is %llu bytes, "
			    "more than the limit of %llu",
			    out->reference, d->digest,
			    (unsigned long long)d->size,
			    (unsigned long long)p.o.max_layer_bytes);
			goto fail;
		}
		total += d->size;
	}
	if (total > p.o.max_image_bytes) {
		rc = err_set(ERR_LIMIT,
		    "%s: its layers are %llu bytes, more "
		    "than the limit of %llu",
		    out->reference, (unsigned long long)total,
		    (unsigned long long)p.o.max_image_bytes);
		goto fail;
	}
	if ((rc = dupstr(&out->config_digest, m.config.digest)))
		goto fail;
	if (m.n_layers &&
	    !(out->layers = calloc(m.n_layers, sizeof(*out->layers)))) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	out->n_layers = m.n_layers;
	p.pr.n_layers = m.n_layers;
	p.pr.total = total;
	for (size_t i = 0; i < m.n_layers; i++)
		if ((rc = ensure_layer(&p, i, &m.layers[i])))
			goto fail;
	if ((rc = report(&p, IMAGE_PHASE_DONE, NULL, m.n_layers)))
		goto fail;
	image_manifest_clear(&m);
	registry_free(p.reg);
	return 0;
fail:
	image_manifest_clear(&m);
	registry_free(p.reg);
	image_result_clear(out);
	return rc;
}

void
image_result_clear(struct image_result *r)
{
	if (!r)
		return;
	free(r->reference);
	free(r->index_digest);
	free(r->manifest_digest);
	free(r->config_digest);
	image_config_clear(&r->config);
	for (size_t i = 0; i < r->n_layers; i++) {
		free(r->layers[i].digest);
		free(r->layers[i].media_type);
		free(r->layers[i].dir);
	}
	free(r->layers);
	for (size_t i = 0; i < r->n_skipped; i++)
		free(r->skipped[i]);
	free(r->skipped);
	memset(r, 0, sizeof(*r));
}

int
image_result_lowerdir(const struct image_result *r, char **out)
{
	size_t len = 0;
	char *s;

	*out = NULL;
	if (!r->n_layers)
		return err_set(ERR_RANGE, "%s has no layers",
		    r->reference ? r->reference : "the image");
	for (size_t i = 0; i < r->n_layers; i++) {
		if (strpbrk(r->layers[i].dir, ":,\\"))
			return err_set(ERR_INVAL,
			    "layer dir %s holds ':', ',' "
			    "or '\\', which lowerdir= cannot carry",
			    r->layers[i].dir);
		len += strlen(r->layers[i].dir) + 1;
	}
	if (!(s = malloc(len)))
		return err_set(ERR_NOMEM, "out of memory");
	s[0] = '\0';
	for (size_t i = r->n_layers; i-- > 0;) {
		strcat(s, r->layers[i].dir);
		if (i)
			strcat(s, ":");
	}
	*out = s;
	return 0;
}

int
image_result_digests(const struct image_result *r, const char ***out, size_t *n)
{
	const char **v = calloc(r->n_layers + 3, sizeof(char *));
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (!v)
		return err_set(ERR_NOMEM, "out of memory");
	if (r->manifest_digest)
		v[k++] = r->manifest_digest;
	if (r->index_digest)
		v[k++] = r->index_digest;
	if (r->config_digest)
		v[k++] = r->config_digest;
	for (size_t i = 0; i < r->n_layers; i++)
		v[k++] = r->layers[i].digest;
	*out = v;
	*n = k;
	return 0;
}
