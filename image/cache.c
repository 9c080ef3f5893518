/*
 * cache: the content-addressed image store on disk (layout in cache.h):
 * atomic renames from tmp/ into place, flock(2) stripes so that a layer
 * is fetched and unpacked once however many pulls want it, and LRU
 * garbage collection by mtime.
 */
#include "image/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "image/internal.h"

struct image_cache {
	char *root;
	unsigned long seq; /* tmp names; atomic */
};

void
image_sha256(const void *data, size_t len, char out[72])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static int
mkdir_in(const char *root, const char *sub)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s/%s", root, sub) >= (int)sizeof(p))
		return err_set(ERR_INVAL, "%s: path too long", root);
	return util_mkdirs(p, 0700);
}

/* Remove what processes that are gone left in tmp/. */
static void
clean_tmp(struct image_cache *c)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd;

	snprintf(p, sizeof(p), "%s/tmp", c->root);
	if ((fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (de->d_name[0] == '.')
			continue;
		errno = 0;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '.' || pid <= 0 || errno)
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			(void)image_rm_at(dirfd(d), de->d_name);
	}
	closedir(d);
}

int
image_cache_open(const char *root, struct image_cache **out)
{
	static const char *const subs[] = { "blobs/sha256", "layers/sha256",
		"locks", "tmp" };
	struct image_cache *c = NULL;
	char real[PATH_MAX];
	int rc;

	*out = NULL;
	if ((rc = util_mkdirs(root, 0700)))
		return err_prefix(rc, "image cache");
	if (!realpath(root, real))
		return err_set(ERR_IO, "image cache %s: %s", root,
		    strerror(errno));
	if (strlen(real) > PATH_MAX - 256)
		return err_set(ERR_INVAL, "image cache %s: path too long",
		    root);
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if ((rc = mkdir_in(real, subs[i])))
			return err_prefix(rc, "image cache");
	if (!(c = calloc(1, sizeof(*c))) || !(c->root = strdup(real))) {
		free(c);
		return err_set(ERR_NOMEM, "out of memory");
	}
	clean_tmp(c);
	*out = c;
	return 0;
}

void
image_cache_free(struct image_cache *c)
{
	if (!c)
		return;
	free(c->root);
	free(c);
}

const char *
image_cache_root(const struct image_cache *c)
{
	return c->root;
}

static int
digest_path(const struct image_cache *c, const char *kind, const char *digest,
    char *buf, size_t cap)
{
	if (!image_digest_valid(digest))
		return err_set(ERR_INVAL, "\"%.80s\" is not sha256:<64 hex>",
		    digest);
	if (snprintf(buf, cap, "%s/%s/sha256/%s", c->root, kind, digest + 7) >=
	    (int)cap)
		return err_set(ERR_INVAL, "%s: path too long", c->root);
	return 0;
}

int
cache_blob_path(const struct image_cache *c, const char *digest, char *buf,
    size_t cap)
{
	return digest_path(c, "blobs", digest, buf, cap);
}

int
cache_layer_path(const struct image_cache *c, const char *digest, char *buf,
    size_t cap)
{
	return digest_path(c, "layers", digest, buf, cap);
}

int
cache_tmp_path(struct image_cache *c, const char *what, char *buf, size_t cap)
{
	unsigned long n = __atomic_add_fetch(&c->seq, 1, __ATOMIC_RELAXED);

	if (snprintf(buf, cap, "%s/tmp/%ld.%lu.%s", c->root, (long)getpid(), n,
	        what) >= (int)cap)
		return err_set(ERR_INVAL, "%s: path too long", c->root);
	return 0;
}

int
cache_lock(const struct image_cache *c, const char *digest, int op, int *fd)
{
	char p[PATH_MAX];

	*fd = -1;
	if (!image_digest_valid(digest))
		return err_set(ERR_INVAL, "\"%.80s\" is not sha256:<64 hex>",
		    digest);
	snprintf(p, sizeof(p), "%s/locks/%.2s.lock", c->root, digest + 7);
	if ((*fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return err_set(ERR_IO, "%s: %s", p, strerror(errno));
	while (flock(*fd, op) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		close(*fd);
		*fd = -1;
		if (e == EWOULDBLOCK)
			return ERR_CONFLICT;
		return err_set(ERR_IO, "flock %s: %s", p, strerror(e));
	}
	return 0;
}

void
cache_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

void
cache_touch(const char *path)
{
	(void)utimensat(AT_FDCWD, path, NULL, 0);
}

int
cache_get_blob(struct image_cache *c, const char *digest, size_t max,
    char **out, size_t *len)
{
	char p[PATH_MAX], got[72];
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = cache_blob_path(c, digest, p, sizeof(p))))
		return rc;
	if (access(p, F_OK) < 0)
		return ERR_NOTFOUND;
	/* unreadable, too large or collected meanwhile: fetch it again */
	if (util_read_file(p, max, out, len))
		return ERR_NOTFOUND;
	image_sha256(*out, *len, got);
	if (strcmp(got, digest) != 0) {
		/* damaged on disk: drop it, the registry has it */
		unlink(p);
		free(*out);
		*out = NULL;
		*len = 0;
		return ERR_NOTFOUND;
	}
	cache_touch(p);
	return 0;
}

int
cache_put_blob(struct image_cache *c, const char *digest, const void *data,
    size_t len)
{
	char p[PATH_MAX], tmp[PATH_MAX];
	const char *q = data;
	int fd, rc;

	if ((rc = cache_blob_path(c, digest, p, sizeof(p))) ||
	    (rc = cache_tmp_path(c, "blob", tmp, sizeof(tmp))))
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(ERR_IO, "%s: %s", tmp, strerror(errno));
	while (len) {
		ssize_t w = write(fd, q, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = err_set(ERR_IO, "%s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return rc;
		}
		q += w;
		len -= (size_t)w;
	}
	if (fdatasync(fd) < 0 || close(fd) < 0 || rename(tmp, p) < 0) {
		rc = err_set(ERR_IO, "%s: %s", p, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

void
cache_remove_tree(struct image_cache *c, const char *path)
{
	char tmp[PATH_MAX];

	if (cache_tmp_path(c, "gone", tmp, sizeof(tmp)) == 0 &&
	    rename(path, tmp) == 0)
		path = tmp;
	(void)image_rm_at(AT_FDCWD, path);
}

/* ---- usage and garbage collection ------------------------------------ */

struct entry {
	char digest[72];
	bool layer;
	uint64_t bytes;
	struct timespec used;
};

static uint64_t
layer_bytes(const char *dir)
{
	char p[PATH_MAX], *buf = NULL;
	size_t len;
	json_t *v, *b;
	uint64_t n = 0;

	if (snprintf(p, sizeof(p), "%s/meta.json", dir) >= (int)sizeof(p) ||
	    util_read_file(p, 1 << 20, &buf, &len))
		return 0;
	if ((v = json_loadb(buf, len, 0, NULL))) {
		b = json_object_get(v, "unpacked_bytes");
		if (json_is_integer(b) && json_integer_value(b) > 0)
			n = (uint64_t)json_integer_value(b);
		json_decref(v);
	}
	free(buf);
	return n + 4096;
}

static int
scan_kind(struct image_cache *c, bool layers, struct entry **v, size_t *n,
    size_t *cap)
{
	char dir[PATH_MAX], p[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s/sha256", c->root,
	    layers ? "layers" : "blobs");
	if (!(d = opendir(dir)))
		return err_set(ERR_IO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		struct entry e = { .layer = layers };
		struct stat st;

		snprintf(e.digest, sizeof(e.digest), "sha256:%.64s",
		    de->d_name);
		if (!image_digest_valid(e.digest))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >=
		        (int)sizeof(p) ||
		    lstat(p, &st) < 0)
			continue;
		e.used = st.st_mtim;
		e.bytes = layers ? layer_bytes(p) : (uint64_t)st.st_size;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct entry *nv = realloc(*v, nc * sizeof(*nv));
			if (!nv) {
				closedir(d);
				return err_set(ERR_NOMEM, "out of memory");
			}
			*v = nv;
			*cap = nc;
		}
		(*v)[(*n)++] = e;
	}
	closedir(d);
	return 0;
}

static int
scan(struct image_cache *c, struct entry **v, size_t *n)
{
	size_t cap = 0;
	int rc;

	*v = NULL;
	*n = 0;
	if ((rc = scan_kind(c, true, v, n, &cap)) ||
	    (rc = scan_kind(c, false, v, n, &cap))) {
		free(*v);
		*v = NULL;
		*n = 0;
	}
	return rc;
}

int
image_cache_usage(struct image_cache *c, struct image_cache_usage *u)
{
	struct entry *v;
	size_t n;
	int rc;

	memset(u, 0, sizeof(*u));
	if ((rc = scan(c, &v, &n)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		u->bytes += v[i].bytes;
		if (v[i].layer)
			u->layers++;
		else
			u->blobs++;
	}
	free(v);
	return 0;
}

static int
older_first(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	if (x->used.tv_nsec != y->used.tv_nsec)
		return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
	return strcmp(x->digest, y->digest);
}

static bool
in_list(const char *d, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] && strcmp(list[i], d) == 0)
			return true;
	return false;
}

static bool
after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	    (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

int
image_cache_gc(struct image_cache *c, uint64_t max_bytes,
    const char *const *in_use, size_t n_in_use, struct image_gc_stats *st)
{
	struct image_gc_stats local;
	struct timespec start;
	struct entry *v;
	uint64_t total = 0;
	size_t n;
	int rc;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	clock_gettime(CLOCK_REALTIME, &start);
	clean_tmp(c);
	if ((rc = scan(c, &v, &n)))
		return rc;
	for (size_t i = 0; i < n; i++)
		total += v[i].bytes;
	st->bytes_before = total;
	qsort(v, n, sizeof(*v), older_first);
	for (size_t i = 0; i < n && total > max_bytes; i++) {
		char p[PATH_MAX];
		struct stat sb;
		int fd;

		if (in_list(v[i].digest, in_use, n_in_use))
			continue;
		if (cache_lock(c, v[i].digest, LOCK_EX | LOCK_NB, &fd))
			continue; /* being pulled or read right now */
		if (v[i].layer)
			cache_layer_path(c, v[i].digest, p, sizeof(p));
		else
			cache_blob_path(c, v[i].digest, p, sizeof(p));
		/* used since the scan began: a pull holds it */
		if (lstat(p, &sb) < 0 || after(sb.st_mtim, start)) {
			cache_unlock(fd);
			continue;
		}
		if (v[i].layer) {
			cache_remove_tree(c, p);
			st->layers_removed++;
		} else {
			unlink(p);
			st->blobs_removed++;
		}
		cache_unlock(fd);
		total -= v[i].bytes;
	}
	st->bytes_after = total;
	free(v);
	return 0;
}
