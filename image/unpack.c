/*
 * unpack: apply one OCI layer (image-spec layer.md: tar changesets with
 * ".wh." whiteouts) to an empty directory, in the on-disk form overlayfs
 * reads (Documentation/filesystems/overlayfs.rst: whiteouts, opaque
 * directories, "userxattr").  Every path is resolved beneath the root with
 * openat2(2) and no symlink is ever followed; see unpack.h for the rules.
 */
#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/err.h"
#include "image/internal.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WH_META ".wh..wh."

struct dirfix {
	char *path;
	size_t order;
	mode_t mode;
	struct timespec mtime;
};

struct unpacker {
	int root; /* dest, O_PATH */
	const struct image_unpack_limits *lim;
	struct image_unpack_report *rep;
	bool as_root; /* keep the archive's owners */
	uid_t uid; /* who new inodes belong to */
	gid_t gid;
	bool trusted_xattr; /* still worth trying trusted.overlay.* */
	char *cached_parent; /* the last parent resolved, and its fd */
	int cached_fd;
	struct dirfix *dirs;
	size_t n_dirs, cap_dirs;
	uint64_t data; /* apparent bytes of file data so far */
	const char *entry; /* the entry's name as the archive gives it */
};

int
image_open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int
image_rm_at(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	fd = openat(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES) {
		/* a tree unpacked by a non-root user may hold 0555 dirs */
		(void)fchmodat(dirfd, name, 0700, 0);
		fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return -1;
	(void)fchmod(fd, 0700);
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
			if (image_rm_at(fd, de->d_name) < 0)
				rc = -1;
		} else if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
			rc = -1;
		}
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

/* Normalise an archive name into out: components joined by '/', without
 * "", "." and trailing slashes; "" is the root.  Absolute names and ".."
 * are refused. */
static int
normalise(const char *in, char *out, size_t cap, const char *what)
{
	size_t n = 0;
	const char *p = in;

	if (*in == '/')
		return err_set(ERR_INVAL, "%s \"%.200s\" is an absolute path",
		    what, in);
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return err_set(ERR_INVAL,
			    "%s \"%.200s\" has a \"..\" "
			    "component",
			    what, in);
		if (len && !(len == 1 && p[0] == '.')) {
			if (n + len + 2 > cap)
				return err_set(ERR_INVAL,
				    "%s \"%.200s...\" is "
				    "longer than %zu bytes",
				    what, in, cap);
			if (n)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	out[n] = '\0';
	return 0;
}

/* Split "a/b/c" into parent "a/b" (in place) and base "c". */
static const char *
split(char *path)
{
	char *slash = strrchr(path, '/');

	if (!slash) {
		memmove(path + 1, path, strlen(path) + 1);
		path[0] = '\0';
		return path + 1;
	}
	*slash = '\0';
	return slash + 1;
}

static void
forget_parent(struct unpacker *u)
{
	if (u->cached_fd >= 0)
		close(u->cached_fd);
	u->cached_fd = -1;
	free(u->cached_parent);
	u->cached_parent = NULL;
}

static int
path_error(struct unpacker *u, int e, const char *path)
{
	if (e == ELOOP)
		return err_set(ERR_INVAL,
		    "entry \"%.200s\": \"%.200s\" is or "
		    "goes through a symlink (refused)",
		    u->entry, path);
	if (e == ENOTDIR)
		return err_set(ERR_INVAL,
		    "entry \"%.200s\": \"%.200s\" is "
		    "not a directory",
		    u->entry, path);
	if (e == EXDEV)
		return err_set(ERR_INVAL,
		    "entry \"%.200s\": \"%.200s\" "
		    "leaves the layer",
		    u->entry, path);
	if (e == ENOSYS)
		return err_set(ERR_IO,
		    "openat2: not supported by this kernel "
		    "(Linux 5.6 or later is needed)");
	return err_set(ERR_IO, "entry \"%.200s\": %.200s: %s", u->entry, path,
	    strerror(e));
}

static bool
is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* Create the missing directories of parent one by one (0755, as tar does
 * for directories an archive leaves out); a whiteout of this layer in
 * the way gives way to the directory. */
static int
make_parents(struct unpacker *u, const char *parent, int *out)
{
	char comp[NAME_MAX + 1];
	const char *p = parent;
	int cur = dup(u->root), next;

	if (cur < 0)
		return err_set(ERR_IO, "dup: %s", strerror(errno));
	while (*p) {
		size_t len = strcspn(p, "/");
		struct stat st;

		if (len > NAME_MAX) {
			close(cur);
			return err_set(ERR_INVAL,
			    "entry \"%.200s\": a name "
			    "longer than %d bytes",
			    u->entry, NAME_MAX);
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		next = image_open_beneath(cur, comp, O_PATH | O_DIRECTORY);
		if (next < 0 && errno == ENOTDIR &&
		    fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    is_whiteout(&st) && unlinkat(cur, comp, 0) == 0)
			errno = ENOENT;
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(cur, comp, 0755) < 0 ||
			    fchmodat(cur, comp, 0755, 0) < 0) {
				int e = errno;
				close(cur);
				return path_error(u, e, parent);
			}
			u->rep->bytes += 4096;
			next =
			    image_open_beneath(cur, comp, O_PATH | O_DIRECTORY);
		}
		if (next < 0) {
			int e = errno;
			close(cur);
			return path_error(u, e, parent);
		}
		close(cur);
		cur = next;
		p += len;
		while (*p == '/')
			p++;
	}
	*out = cur;
	return 0;
}

/* The directory parent ("" = the root) as an O_PATH fd, created when
 * missing; borrowed (the unpacker keeps it for the next entry). */
static int
parent_fd(struct unpacker *u, const char *parent, int *out)
{
	int fd, rc;

	if (!*parent) {
		*out = u->root;
		return 0;
	}
	if (u->cached_parent && strcmp(u->cached_parent, parent) == 0) {
		*out = u->cached_fd;
		return 0;
	}
	forget_parent(u);
	fd = image_open_beneath(u->root, parent, O_PATH | O_DIRECTORY);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
		if ((rc = make_parents(u, parent, &fd)))
			return rc;
	} else if (fd < 0) {
		return path_error(u, errno, parent);
	}
	if (!(u->cached_parent = strdup(parent))) {
		close(fd);
		return err_set(ERR_NOMEM, "out of memory");
	}
	u->cached_fd = fd;
	*out = fd;
	return 0;
}

/* Make room for a new entry named base: remove what is there (a tree
 * too), unless keep_dir and it is a directory (*kept set then). */
static int
clear_name(struct unpacker *u, int pfd, const char *base, bool keep_dir,
    bool *kept)
{
	struct stat st;

	if (kept)
		*kept = false;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return path_error(u, errno, base);
	}
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir) {
			*kept = true;
			return 0;
		}
		/* the cached parent may live under it */
		forget_parent(u);
		if (image_rm_at(pfd, base) < 0)
			return path_error(u, errno, base);
		return 0;
	}
	if (unlinkat(pfd, base, 0) < 0)
		return path_error(u, errno, base);
	return 0;
}

static int
skip(struct unpacker *u, const char *path, const char *why)
{
	struct image_unpack_report *r = u->rep;
	char *s = NULL;

	r->skipped_total++;
	if (r->n_skipped == IMAGE_UNPACK_SKIPPED_MAX)
		return 0;
	if (asprintf(&s, "%.200s: %s", path, why) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	r->skipped[r->n_skipped++] = s;
	return 0;
}

static mode_t
entry_mode(struct unpacker *u, struct archive_entry *e)
{
	mode_t m = archive_entry_perm(e) & 07777;

	if (m & (S_ISUID | S_ISGID)) {
		u->rep->setid_stripped++;
		m &= (mode_t) ~(S_ISUID | S_ISGID);
	}
	return m;
}

static struct timespec
entry_mtime(struct archive_entry *e)
{
	struct timespec ts = { 0, 0 };

	if (archive_entry_mtime_is_set(e)) {
		ts.tv_sec = archive_entry_mtime(e);
		ts.tv_nsec = archive_entry_mtime_nsec(e);
		if (ts.tv_nsec < 0 || ts.tv_nsec > 999999999)
			ts.tv_nsec = 0;
	} else {
		ts.tv_nsec = UTIME_OMIT;
	}
	return ts;
}

/* As root, the archive's owner, unless the new inode has it already. */
static bool
need_chown(const struct unpacker *u, struct archive_entry *e)
{
	return u->as_root &&
	    ((uid_t)archive_entry_uid(e) != u->uid ||
	        (gid_t)archive_entry_gid(e) != u->gid);
}

static int
owner_at(struct unpacker *u, int pfd, const char *base, struct archive_entry *e)
{
	if (!need_chown(u, e))
		return 0;
	if (fchownat(pfd, base, (uid_t)archive_entry_uid(e),
	        (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return path_error(u, errno, base);
	return 0;
}

static int
write_file(struct unpacker *u, struct archive *a, struct archive_entry *e,
    int pfd, const char *base)
{
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	uint64_t max = u->lim ? u->lim->max_bytes : IMAGE_UNPACK_UNLIMITED;
	struct timespec ts[2];
	const void *buf;
	size_t len;
	la_int64_t off, end = 0;
	int fd = -1, r, rc;

	if (size < 0)
		size = 0;
	if ((uint64_t)size > max - u->data)
		return err_set(ERR_LIMIT,
		    "entry \"%.200s\": the layer unpacks "
		    "to more than %llu bytes",
		    u->entry, (unsigned long long)max);
	if ((rc = clear_name(u, pfd, base, false, NULL)))
		return rc;
	fd = openat(pfd, base,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return path_error(u, errno, base);
	for (;;) {
		r = archive_read_data_block(a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = err_set(ERR_CORRUPT, "entry \"%.200s\": %s",
			    u->entry, archive_error_string(a));
			goto fail;
		}
		if (off < 0 || (uint64_t)off + len > (uint64_t)size) {
			rc = err_set(ERR_CORRUPT,
			    "entry \"%.200s\": data past "
			    "its size",
			    u->entry);
			goto fail;
		}
		while (len) {
			ssize_t w = pwrite(fd, buf, len, off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = err_set(ERR_IO,
				    "entry \"%.200s\": write: "
				    "%s",
				    u->entry, strerror(errno));
				goto fail;
			}
			buf = (const char *)buf + w;
			len -= (size_t)w;
			off += w;
		}
		if (off > end)
			end = off;
	}
	u->data += (uint64_t)size;
	/* sparse files end in a hole libarchive does not hand over */
	if ((end < size && ftruncate(fd, size) < 0) ||
	    (need_chown(u, e) &&
	        fchown(fd, (uid_t)archive_entry_uid(e),
	            (gid_t)archive_entry_gid(e)) < 0) ||
	    fchmod(fd, entry_mode(u, e)) < 0) {
		rc = path_error(u, errno, base);
		goto fail;
	}
	ts[0] = ts[1] = entry_mtime(e);
	if (ts[1].tv_nsec != UTIME_OMIT && futimens(fd, ts) < 0) {
		rc = path_error(u, errno, base);
		goto fail;
	}
	u->rep->bytes += ((uint64_t)size + 4095) & ~(uint64_t)4095;
	close(fd);
	return 0;
fail:
	close(fd);
	return rc;
}

static int
hard_link(struct unpacker *u, struct archive_entry *e, int pfd,
    const char *base)
{
	const char *raw = archive_entry_hardlink(e);
	char target[PATH_MAX + 1];
	const char *tbase;
	struct stat st, cur;
	int tfd, rc;

	if (!raw)
		raw = archive_entry_hardlink_utf8(e);
	if (!raw)
		return err_set(ERR_CORRUPT,
		    "entry \"%.200s\": a hard link "
		    "without a readable target",
		    u->entry);
	if ((rc = normalise(raw, target, sizeof(target), "hard link target")))
		return err_prefix(rc, "entry \"%.200s\"", u->entry);
	if (!*target)
		return err_set(ERR_INVAL,
		    "entry \"%.200s\": a hard link to "
		    "the layer's root",
		    u->entry);
	tbase = split(target);
	tfd = *target ?
	    image_open_beneath(u->root, target, O_PATH | O_DIRECTORY) :
	    dup(u->root);
	if (tfd < 0) {
		if (errno == ENOENT)
			return err_set(ERR_INVAL,
			    "entry \"%.200s\": hard link "
			    "to \"%.200s\", which is not in the layer",
			    u->entry, raw);
		return path_error(u, errno, raw);
	}
	if (fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = errno == ENOENT ?
		    err_set(ERR_INVAL,
		        "entry \"%.200s\": hard link to "
		        "\"%.200s\", which is not in the layer",
		        u->entry, raw) :
		    path_error(u, errno, raw);
		goto out;
	}
	if (S_ISDIR(st.st_mode) || is_whiteout(&st)) {
		rc = err_set(ERR_INVAL,
		    "entry \"%.200s\": hard link to "
		    "\"%.200s\", a %s",
		    u->entry, raw,
		    S_ISDIR(st.st_mode) ? "directory" : "whiteout");
		goto out;
	}
	if (fstatat(pfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
	    cur.st_dev == st.st_dev && cur.st_ino == st.st_ino) {
		rc = 0; /* already that file */
		goto out;
	}
	if ((rc = clear_name(u, pfd, base, false, NULL)))
		goto out;
	if (linkat(tfd, tbase, pfd, base, 0) < 0)
		rc = path_error(u, errno, base);
out:
	close(tfd);
	return rc;
}

static int
add_dirfix(struct unpacker *u, const char *path, mode_t mode,
    struct timespec mtime)
{
	if (u->n_dirs == u->cap_dirs) {
		size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 256;
		struct dirfix *d = realloc(u->dirs, cap * sizeof(*d));
		if (!d)
			return err_set(ERR_NOMEM, "out of memory");
		u->dirs = d;
		u->cap_dirs = cap;
	}
	if (!(u->dirs[u->n_dirs].path = strdup(path)))
		return err_set(ERR_NOMEM, "out of memory");
	u->dirs[u->n_dirs].order = u->n_dirs;
	u->dirs[u->n_dirs].mode = mode;
	u->dirs[u->n_dirs].mtime = mtime;
	u->n_dirs++;
	return 0;
}

static int
dirfix_cmp(const void *a, const void *b)
{
	const struct dirfix *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	return x->order < y->order ? -1 : 1;
}

/* Modes and mtimes of the directories, children before parents (a 0555
 * parent must not stop the fixing of its children), the archive's last
 * entry for a directory winning. */
static int
fix_dirs(struct unpacker *u)
{
	const char *last = NULL;

	if (u->n_dirs)
		qsort(u->dirs, u->n_dirs, sizeof(*u->dirs), dirfix_cmp);
	for (size_t i = u->n_dirs; i-- > 0;) {
		struct dirfix *d = &u->dirs[i];
		struct timespec ts[2] = { d->mtime, d->mtime };
		int fd;

		if (last && strcmp(last, d->path) == 0)
			continue;
		last = d->path;
		/* gone or replaced by a later entry: nothing to fix */
		fd = image_open_beneath(u->root, d->path,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (fchmod(fd, d->mode) < 0 ||
		    (d->mtime.tv_nsec != UTIME_OMIT && futimens(fd, ts) < 0)) {
			int e = errno;
			close(fd);
			u->entry = d->path;
			return path_error(u, e, d->path);
		}
		close(fd);
	}
	return 0;
}

static int
make_dir(struct unpacker *u, struct archive_entry *e, int pfd, const char *base,
    const char *path)
{
	bool kept;
	int rc;

	if ((rc = clear_name(u, pfd, base, true, &kept)))
		return rc;
	if (!kept) {
		if (mkdirat(pfd, base, 0700) < 0)
			return path_error(u, errno, path);
		u->rep->bytes += 4096;
	}
	if ((rc = owner_at(u, pfd, base, e)))
		return rc;
	return add_dirfix(u, path, entry_mode(u, e), entry_mtime(e));
}

static int
make_symlink(struct unpacker *u, struct archive_entry *e, int pfd,
    const char *base)
{
	const char *target = archive_entry_symlink(e);
	struct timespec ts[2];
	int rc;

	if (!target)
		target = archive_entry_symlink_utf8(e);
	if (!target || !*target || strlen(target) >= PATH_MAX)
		return err_set(ERR_INVAL,
		    "entry \"%.200s\": a symlink without "
		    "a usable target",
		    u->entry);
	if ((rc = clear_name(u, pfd, base, false, NULL)))
		return rc;
	if (symlinkat(target, pfd, base) < 0)
		return path_error(u, errno, base);
	if ((rc = owner_at(u, pfd, base, e)))
		return rc;
	ts[0] = ts[1] = entry_mtime(e);
	if (ts[1].tv_nsec != UTIME_OMIT &&
	    utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return path_error(u, errno, base);
	return 0;
}

static int
make_fifo(struct unpacker *u, struct archive_entry *e, int pfd,
    const char *base)
{
	int rc;

	if ((rc = clear_name(u, pfd, base, false, NULL)))
		return rc;
	if (mknodat(pfd, base, S_IFIFO | (entry_mode(u, e) & 0777), 0) < 0)
		return path_error(u, errno, base);
	return owner_at(u, pfd, base, e);
}

static int
set_opaque(struct unpacker *u, const char *dir)
{
	int fd = image_open_beneath(u->root, *dir ? dir : ".",
	    O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return path_error(u, errno, *dir ? dir : ".");
	if (fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0) {
		int e = errno;
		close(fd);
		return err_set(ERR_IO,
		    "entry \"%.200s\": cannot mark "
		    "\"%.200s\" opaque (user.overlay.opaque): %s; the cache "
		    "needs a file system with user extended attributes "
		    "(ext4, xfs, btrfs)",
		    u->entry, *dir ? dir : ".", strerror(e));
	}
	if (u->trusted_xattr &&
	    fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
		u->trusted_xattr = false;
	close(fd);
	u->rep->opaques++;
	return 0;
}

static int
whiteout(struct unpacker *u, int pfd, const char *name, const char *path)
{
	struct stat st;

	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return err_set(ERR_INVAL,
		    "entry \"%.200s\": a whiteout of "
		    "\"%s\"",
		    u->entry, name);
	/* a whiteout hides lower layers only: this layer's own entry of
	 * that name stays (image-spec layer.md, "Whiteouts") */
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return path_error(u, errno, path);
	if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
		return path_error(u, errno, path);
	u->rep->whiteouts++;
	return 0;
}

static int
one_entry(struct unpacker *u, struct archive *a, struct archive_entry *e)
{
	char path[PATH_MAX + 1], parent[PATH_MAX + 1];
	const char *base;
	int pfd = -1, rc;
	mode_t type;

	if ((rc = normalise(u->entry, path, sizeof(path) - 1, "entry")))
		return rc;
	if (!*path)
		return 0; /* "./": the root is not the archive's to change */
	memcpy(parent, path, strlen(path) + 1);
	base = split(parent);
	if (strlen(base) > NAME_MAX)
		return err_set(ERR_INVAL,
		    "entry \"%.200s\": a name longer "
		    "than %d bytes",
		    u->entry, NAME_MAX);
	if ((rc = parent_fd(u, parent, &pfd)))
		return rc;
	if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0) {
		if (strcmp(base, WH_OPAQUE) == 0)
			return set_opaque(u, parent);
		if (strncmp(base, WH_META, strlen(WH_META)) == 0)
			return 0;
		return whiteout(u, pfd, base + strlen(WH_PREFIX), path);
	}
	if (archive_entry_hardlink(e) || archive_entry_hardlink_utf8(e))
		return hard_link(u, e, pfd, base);
	type = archive_entry_filetype(e);
	switch (type) {
	case AE_IFREG:
		return write_file(u, a, e, pfd, base);
	case AE_IFDIR:
		return make_dir(u, e, pfd, base, path);
	case AE_IFLNK:
		return make_symlink(u, e, pfd, base);
	case AE_IFIFO:
		return make_fifo(u, e, pfd, base);
	case AE_IFCHR:
	case AE_IFBLK: {
		char why[96];
		snprintf(why, sizeof(why), "%s device %u:%u not created",
		    type == AE_IFCHR ? "character" : "block",
		    (unsigned)archive_entry_rdevmajor(e),
		    (unsigned)archive_entry_rdevminor(e));
		return skip(u, path, why);
	}
	case AE_IFSOCK:
		return skip(u, path, "socket not created");
	default:
		return skip(u, path, "entry of unknown type not created");
	}
}

int
image_unpack_layer(const char *path, const char *dest,
    const struct image_unpack_limits *lim, struct image_unpack_report *rep)
{
	struct image_unpack_report local;
	struct unpacker u = { .root = -1, .cached_fd = -1, .lim = lim };
	struct archive *a = NULL;
	struct archive_entry *e;
	int fd = -1, rc = 0, r;

	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	u.rep = rep;
	u.as_root = geteuid() == 0;
	u.uid = geteuid();
	u.gid = getegid();
	u.trusted_xattr = u.as_root;
	if (!(rep->skipped =
	            calloc(IMAGE_UNPACK_SKIPPED_MAX, sizeof(char *)))) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto out;
	}
	u.root = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (u.root < 0) {
		rc = err_set(ERR_IO, "%s: %s", dest, strerror(errno));
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = err_set(ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!(a = archive_read_new()) ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_empty(a) != ARCHIVE_OK) {
		rc = err_set(ERR_NOMEM, "libarchive: cannot set up a reader");
		goto out;
	}
	if (archive_read_open_fd(a, fd, 1 << 20) != ARCHIVE_OK) {
		rc = err_set(ERR_CORRUPT,
		    "not a tar, tar+gzip or tar+zstd "
		    "layer: %s",
		    archive_error_string(a));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = err_set(ERR_CORRUPT, "after %llu entries: %s",
			    (unsigned long long)rep->entries,
			    archive_error_string(a));
			goto out;
		}
		rep->entries++;
		if (lim && rep->entries > lim->max_entries) {
			rc = err_set(ERR_LIMIT, "more than %llu entries",
			    (unsigned long long)lim->max_entries);
			goto out;
		}
		u.entry = archive_entry_pathname(e);
		if (!u.entry)
			u.entry = archive_entry_pathname_utf8(e);
		if (!u.entry) {
			rc =
			    err_set(ERR_CORRUPT, "entry %llu: no readable name",
			        (unsigned long long)rep->entries);
			goto out;
		}
		if ((rc = one_entry(&u, a, e)))
			goto out;
	}
	rc = fix_dirs(&u);
	rep->data_bytes = u.data;
out:
	forget_parent(&u);
	for (size_t i = 0; i < u.n_dirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	if (a)
		archive_read_free(a);
	if (fd >= 0)
		close(fd);
	if (u.root >= 0)
		close(u.root);
	if (rep == &local)
		image_unpack_report_clear(&local);
	return rc;
}

void
image_unpack_report_clear(struct image_unpack_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->n_skipped; i++)
		free(rep->skipped[i]);
	free(rep->skipped);
	memset(rep, 0, sizeof(*rep));
}
