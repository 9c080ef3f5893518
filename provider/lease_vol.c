/*
 * lease_vol: the provider's glue between a lease's manifest (its
 * services' params.storage and their profiles' volumes) and
 * sandbox/volume.h: which image, which class, which mount path.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "provider/lease_vol.h"

/* The profile of service in l's placement, or NULL. */
static const json_t *
profile_of(const struct lease *l, const char *service)
{
	const json_t *dp = json_object_get(
	    json_object_get(json_object_get(l->manifest, "deployment"),
	        service),
	    l->placement);
	const char *pname = json_string_value(json_object_get(dp, "profile"));

	if (pname == NULL)
		return NULL;
	return json_object_get(json_object_get(l->manifest, "profiles"), pname);
}

static int
name_ok(const char *s)
{
	if (s == NULL || *s == 0 || strlen(s) > 63 || *s == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		        (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		        *s == '.'))
			return 0;
	return 1;
}

static int
caps_have(const json_t *caps, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach((json_t *)caps, i, v)
	{
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), name) == 0)
			return 1;
	}
	return 0;
}

/* One mounted volume of service svc: its mount path, size, class kind. */
struct vol_info {
	const char *name, *mount, *class_;
	uint64_t size;
	int persistent, read_only;
	enum volume_kind kind;
};

/* The k-th mounted volume of service name (params.storage, in the
 * manifest's key order).  1 when there is one, 0 past the last, < 0 on a
 * bad one (the message names it). */
static int
vol_at(const struct lease *l, const char *service, size_t k,
    struct vol_info *out)
{
	const json_t *svc =
	    json_object_get(json_object_get(l->manifest, "services"), service);
	const json_t *params =
	    json_object_get(json_object_get(svc, "params"), "storage");
	const json_t *prof = profile_of(l, service), *pv, *sv;
	const char *vname;
	char what[160];
	size_t n = 0;

	json_object_foreach((json_t *)params, vname, sv)
	{
		if (n++ != k)
			continue;
		memset(out, 0, sizeof(*out));
		out->name = vname;
		out->mount = json_string_value(json_object_get(sv, "mount"));
		out->read_only = json_is_true(json_object_get(sv, "read_only"));
		snprintf(what, sizeof(what),
		    "manifest: services.%s.params.storage.%s", service, vname);
		pv = json_object_get(json_object_get(prof, "storage"), vname);
		if (pv == NULL)
			return err_set(ERR_REJECT,
			    "%s: no volume of that name in its profile", what);
		if (!name_ok(vname))
			return err_set(ERR_REJECT,
			    "%s: a volume name is 1-63 of [A-Za-z0-9._-] "
			    "here",
			    what);
		if (out->mount == NULL ||
		    volume_check_path(out->mount, what) != 0)
			return err_set(ERR_REJECT,
			    "%s: mount %s: expected an absolute path other "
			    "than / without . or .. (at most 1024 bytes)",
			    what, out->mount ? out->mount : "(none)");
		out->size = (uint64_t)json_integer_value(
		    json_object_get(pv, "size_bytes"));
		out->persistent =
		    json_is_true(json_object_get(pv, "persistent"));
		out->class_ = json_string_value(json_object_get(pv, "class"));
		if (volume_kind_of(out->class_, out->persistent, what,
		        &out->kind) != 0)
			return ERR_REJECT;
		if (out->kind != VOLUME_RAM && out->size < VOLUME_MIN_BYTES)
			out->size = VOLUME_MIN_BYTES;
		if (out->size == 0)
			return err_set(ERR_REJECT, "%s: size 0", what);
		return 1;
	}
	return 0;
}

static int images_apart(const struct lease *l);

int
lease_vol_check(const struct lease *l, const json_t *caps)
{
	struct vol_info v;
	char cap[96];
	size_t i, k;
	int rc;

	for (i = 0; i < l->nrep; i++) {
		const struct lease_replica *r = &l->rep[i];
		if (r->index != 0)
			continue; /* replicas share their service's volumes */
		for (k = 0; (rc = vol_at(l, r->service, k, &v)) == 1; k++) {
			if (k == SANDBOX_MOUNTS_MAX)
				return err_set(ERR_REJECT,
				    "manifest: service %s mounts more than %d "
				    "volumes",
				    r->service, SANDBOX_MOUNTS_MAX);
			if (!name_ok(r->service))
				return err_set(ERR_REJECT,
				    "manifest: service %s: its name cannot "
				    "name a volume image",
				    r->service);
			/* a named volume without a class is on disk
			 * ("default") when persistent, else a fresh
			 * image: either needs the default class */
			snprintf(cap, sizeof(cap), "storage/%s",
			    v.kind == VOLUME_RAM ? "ram" :
			        v.class_         ? v.class_ :
			                           "default");
			if (!caps_have(caps, cap))
				return err_set(ERR_REJECT,
				    "manifest: services.%s.params.storage.%s: "
				    "this provider does not offer the "
				    "storage class %s (it offers the "
				    "capabilities its ask lists)",
				    r->service, v.name, cap + 8);
		}
		if (rc < 0)
			return rc;
	}
	return images_apart(l);
}

/* Every disk volume of every replica has an image file of its own: the
 * file name joins service, index and volume name with "-" (and
 * ".ephemeral"), so "web" volume "a-1-b" and "web-0-a" replica 1 volume
 * "b" would be one file, mounted by two replicas at once (ext4 twice
 * through two loop devices: corrupted, the host's kernel reading it). */
static int
images_apart(const struct lease *l)
{
	struct vol_info v;
	char(*paths)[PATH_MAX] = NULL, path[PATH_MAX];
	size_t i, k, j, n = 0, cap = 0;
	int rc = 0;

	for (i = 0; i < l->nrep && rc == 0; i++) {
		const struct lease_replica *r = &l->rep[i];
		for (k = 0; rc == 0 && vol_at(l, r->service, k, &v) == 1; k++) {
			if (v.kind == VOLUME_RAM)
				continue;
			if (lease_vol_image_path("", r->service, r->index,
			        v.name, v.kind == VOLUME_PERSISTENT, path,
			        sizeof(path)) != 0)
				continue;
			for (j = 0; j < n; j++)
				if (strcmp(paths[j], path) == 0)
					break;
			if (j < n) {
				rc = err_set(ERR_REJECT,
				    "manifest: services.%s.params.storage.%s "
				    "(replica %u): its image file %s is "
				    "another volume's too: rename the volume "
				    "or the service",
				    r->service, v.name, r->index, path + 9);
				break;
			}
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 8;
				void *np = realloc(paths, nc * sizeof(*paths));
				if (np == NULL) {
					rc =
					    err_set(ERR_NOMEM, "out of memory");
					break;
				}
				paths = np;
				cap = nc;
			}
			memcpy(paths[n++], path, sizeof(path));
		}
	}
	free(paths);
	return rc;
}

int
lease_vol_image_path(const char *lease_dir, const char *service, unsigned index,
    const char *name, int persistent, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/volumes/%s-%u-%s%s.img", lease_dir,
	    service, index, name, persistent ? "" : ".ephemeral");

	if (n < 0 || (size_t)n >= cap)
		return err_set(ERR_LIMIT, "volume image path too long");
	return 0;
}

int
lease_vol_start_prepare(const struct lease *l, size_t i, const char *lease_dir,
    struct sandbox_spec *spec, struct lease_vol_start *vs)
{
	const struct lease_replica *r = &l->rep[i];
	uid_t uid = spec->uid ? spec->uid : SANDBOX_UID_DEFAULT;
	gid_t gid = spec->gid ? spec->gid : SANDBOX_UID_DEFAULT;
	uint64_t mounted = 0;
	struct vol_info v;
	char dir[PATH_MAX];
	size_t k;
	int rc;

	memset(vs, 0, sizeof(*vs));
	if (spec->image != NULL) { /* idmapped: the namespace's ids */
		uid = spec->image->uid;
		gid = spec->image->gid;
	}
	for (k = 0; (rc = vol_at(l, r->service, k, &v)) == 1; k++) {
		struct sandbox_mount *m = &vs->mounts[vs->n];
		if (vs->n == SANDBOX_MOUNTS_MAX) {
			rc = err_set(ERR_REJECT,
			    "service %s mounts more than %d volumes",
			    r->service, SANDBOX_MOUNTS_MAX);
			goto fail;
		}
		snprintf(vs->paths[vs->n], sizeof(vs->paths[vs->n]), "%s",
		    v.mount);
		m->path = vs->paths[vs->n];
		mounted += v.size;
		if (v.kind == VOLUME_RAM) {
			if ((rc = volume_tmpfs_args(v.size, uid, gid,
			         vs->tmpfs[vs->n], sizeof(vs->tmpfs[vs->n]),
			         &m->m)) != 0)
				goto fail;
		} else {
			struct volume_spec s;
			char img[PATH_MAX];
			snprintf(dir, sizeof(dir), "%s/volumes", lease_dir);
			if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
				rc = err_set(ERR_IO, "%s: %s", dir,
				    strerror(errno));
				goto fail;
			}
			if ((rc = lease_vol_image_path(lease_dir, r->service,
			         r->index, v.name, v.kind == VOLUME_PERSISTENT,
			         img, sizeof(img))) != 0)
				goto fail;
			/* not persistent: what the last run wrote is gone */
			if (v.kind == VOLUME_EPHEMERAL &&
			    (rc = volume_delete(img)) != 0)
				goto fail;
			s.image = img;
			s.size_bytes = v.size;
			s.uid = uid;
			s.gid = gid;
			if ((rc = volume_open(&s, &vs->vol[vs->n])) != 0) {
				rc = err_prefix(rc, "volume %s of %s", v.name,
				    r->name);
				goto fail;
			}
			volume_mount_args(vs->vol[vs->n], &m->m);
		}
		if (v.read_only)
			m->m.flags |= MS_RDONLY;
		vs->n++;
	}
	if (rc < 0)
		goto fail;
	/* a path before the paths inside it: parents are mounted first */
	for (k = 1; k < vs->n; k++)
		for (size_t j = k; j > 0 &&
		     strcmp(vs->mounts[j - 1].path, vs->mounts[j].path) > 0;
		     j--) {
			struct sandbox_mount t = vs->mounts[j];
			vs->mounts[j] = vs->mounts[j - 1];
			vs->mounts[j - 1] = t;
		}
	spec->mounts = vs->mounts;
	spec->n_mounts = vs->n;
	/* A process's /data holds what is not mounted elsewhere. */
	if (vs->n > 0 && spec->image == NULL) {
		uint64_t rest =
		    r->storage_bytes > mounted ? r->storage_bytes - mounted : 0;
		if (rest > 0)
			spec->data_bytes = rest;
	}
	return 0;
fail:
	lease_vol_start_done(vs);
	spec->mounts = NULL;
	spec->n_mounts = 0;
	return rc;
}

void
lease_vol_start_done(struct lease_vol_start *vs)
{
	for (size_t k = 0; k < SANDBOX_MOUNTS_MAX; k++) {
		volume_close(vs->vol[k]);
		vs->vol[k] = NULL;
	}
}

int
lease_vol_delete_all(const char *lease_dir)
{
	char dir[PATH_MAX], img[PATH_MAX + 260];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/volumes", lease_dir);
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ?
		    0 :
		    err_set(ERR_IO, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(img, sizeof(img), "%s/%s", dir, e->d_name);
		if (volume_delete(img) != 0 && rc == 0)
			rc = err_prefix(ERR_IO, "lease volumes");
	}
	closedir(d);
	if (rc == 0 && rmdir(dir) != 0 && errno != ENOENT)
		rc = err_set(ERR_IO, "%s: %s", dir, strerror(errno));
	return rc;
}
