/*
 * volume: ext4 images on loop devices (LOOP_CTL_GET_FREE + LOOP_CONFIGURE
 * with autoclear), tmpfs for ram, and mounting inside a replica's root
 * with every path component resolved inside that root (openat2).  The
 * loop devices' sysfs entries are the record of what is attached.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/tool.h"
#include "sandbox/volume.h"

#define MKFS_TIMEOUT_MS 300000
#define MAX_MOUNT_PATH 1024
#define EXT4_MAGIC_OFFSET 1080

struct volume {
	char *image;
	char dev[32];
	int loop_fd;
	int created;
};

/* ---- classes ---- */

int
volume_kind_of(const char *storage_class, int persistent, const char *what,
    enum volume_kind *out)
{
	static const char *const disk[] = { "default", "beta1", "beta2",
		"beta3" };
	const char *c =
	    storage_class && *storage_class ? storage_class : "default";

	if (strcmp(c, "ram") == 0) {
		if (persistent)
			return err_set(ERR_REJECT,
			    "%s: storage class ram is memory and cannot be "
			    "persistent",
			    what);
		*out = VOLUME_RAM;
		return 0;
	}
	for (size_t i = 0; i < sizeof(disk) / sizeof(disk[0]); i++) {
		if (strcmp(c, disk[i]) == 0) {
			*out =
			    persistent ? VOLUME_PERSISTENT : VOLUME_EPHEMERAL;
			return 0;
		}
	}
	return err_set(ERR_INVAL,
	    "%s: storage class \"%s\": expected default, beta1, beta2, beta3 "
	    "or ram",
	    what, c);
}

const char *
volume_default_classes(void)
{
	return "default,beta2";
}

/* ---- loop devices ---- */

/* Calls fn for each bound loop device: its number, device number and
 * backing file (as the kernel prints it: " (deleted)" once unlinked).
 * fn returns 0 to go on, 1 to stop, < 0 to fail. */
static int
loops_each(int (*fn)(int nr, dev_t rdev, const char *backing, void *arg),
    void *arg)
{
	DIR *dir = opendir("/sys/block");
	struct dirent *e;
	int rc = 0;

	if (dir == NULL)
		return err_set(ERR_IO, "/sys/block: %s", strerror(errno));
	while (rc == 0 && (e = readdir(dir)) != NULL) {
		char path[300], *backing = NULL, *devno = NULL;
		unsigned maj, min;
		size_t len;
		int nr;
		if (sscanf(e->d_name, "loop%d", &nr) != 1 || nr < 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file",
		    e->d_name);
		if (util_read_file(path, PATH_MAX + 64, &backing, &len) != 0) {
			err_clear(); /* not bound */
			continue;
		}
		snprintf(path, sizeof(path), "/sys/block/%s/dev", e->d_name);
		if (util_read_file(path, 64, &devno, &len) != 0 ||
		    sscanf(devno, "%u:%u", &maj, &min) != 2) {
			err_clear();
			free(backing);
			free(devno);
			continue;
		}
		backing[strcspn(backing, "\n")] = 0;
		rc = fn(nr, makedev(maj, min), backing, arg);
		free(backing);
		free(devno);
	}
	closedir(dir);
	return rc < 0 ? rc : 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' &&
		    r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 +
			    (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

/* Lazily unmount every mount of device rdev in this mount namespace
 * (stacked ones too). */
static int
unmount_device(dev_t rdev)
{
	for (int pass = 0; pass < 64; pass++) {
		char *text = NULL, *save = NULL;
		size_t len;
		int found = 0;
		if (util_read_file("/proc/self/mountinfo", 16 << 20, &text,
		        &len) != 0)
			return err_prefix(ERR_IO, "reading mounts");
		for (char *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			unsigned maj, min;
			char target[PATH_MAX + 1];
			if (sscanf(line, "%*d %*d %u:%u %*s %4096s", &maj, &min,
			        target) != 3 ||
			    makedev(maj, min) != rdev)
				continue;
			unescape(target);
			if (umount2(target, MNT_DETACH) != 0) {
				int e = errno;
				free(text);
				return err_set(ERR_IO, "unmounting %s: %s",
				    target, strerror(e));
			}
			found = 1;
			break;
		}
		free(text);
		if (!found)
			return 0;
	}
	return err_set(ERR_IO, "unmounting device %u:%u: mounts keep coming",
	    major(rdev), minor(rdev));
}

/* Unmount and detach /dev/loop<nr>.  A device still in use elsewhere
 * (a mount in another namespace) gets autoclear instead and goes with
 * its last user. */
static int
loop_detach(int nr, dev_t rdev)
{
	char dev[32];
	int fd, rc;

	if ((rc = unmount_device(rdev)) != 0)
		return rc;
	snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
	if ((fd = open(dev, O_RDWR | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(ERR_IO, "%s: %s", dev, strerror(errno));
	}
	if (ioctl(fd, LOOP_CLR_FD, 0) != 0 && errno != ENXIO) {
		int e = errno;
		close(fd);
		return err_set(ERR_IO, "%s: detaching: %s", dev, strerror(e));
	}
	close(fd);
	return 0;
}

struct match {
	const char *path; /* exact backing file, or */
	const char *dir; /* a directory prefix ("/x/" form) */
	size_t dirlen;
	int found_nr; /* for find */
	struct err_saved first;
	int rc;
};

static int
backing_matches(const struct match *m, const char *backing)
{
	size_t n = strlen(backing);
	static const char deleted[] = " (deleted)";

	if (m->dir)
		return strncmp(backing, m->dir, m->dirlen) == 0;
	if (strcmp(backing, m->path) == 0)
		return 1;
	return n == strlen(m->path) + sizeof(deleted) - 1 &&
	    strncmp(backing, m->path, strlen(m->path)) == 0 &&
	    strcmp(backing + strlen(m->path), deleted) == 0;
}

static int
detach_cb(int nr, dev_t rdev, const char *backing, void *arg)
{
	struct match *m = arg;
	int rc;

	if (!backing_matches(m, backing))
		return 0;
	if ((rc = loop_detach(nr, rdev)) != 0 && m->rc == 0) {
		m->rc = rc;
		err_save(&m->first);
	}
	return 0;
}

static int
find_cb(int nr, dev_t rdev, const char *backing, void *arg)
{
	struct match *m = arg;

	(void)rdev;
	if (m->found_nr >= 0 || !backing_matches(m, backing) ||
	    strstr(backing, " (deleted)"))
		return 0;
	m->found_nr = nr;
	return 1;
}

/* Attach the image (open as img) to a loop device: the one already
 * backed by it, or a free one.  *fd stays open (it keeps the device). */
static int
loop_attach(struct volume *v, int img, const char *real)
{
	struct match m = { .path = real, .found_nr = -1 };
	struct stat st;
	int ctl = -1, fd = -1, rc;

	if (fstat(img, &st) != 0)
		return err_set(ERR_IO, "%s: %s", v->image, strerror(errno));
	if ((rc = loops_each(find_cb, &m)) != 0)
		return rc;
	if (m.found_nr >= 0) {
		struct loop_info64 info;
		snprintf(v->dev, sizeof(v->dev), "/dev/loop%d", m.found_nr);
		fd = open(v->dev, O_RDWR | O_CLOEXEC);
		/* check it is still this very file (not cleared meanwhile) */
		if (fd >= 0 && ioctl(fd, LOOP_GET_STATUS64, &info) == 0 &&
		    info.lo_inode == st.st_ino &&
		    info.lo_device == (uint64_t)st.st_dev) {
			v->loop_fd = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
	}
	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0)
		return err_set(ERR_IO, "/dev/loop-control: %s",
		    strerror(errno));
	for (int tries = 0; tries < 64; tries++) {
		struct loop_config cfg;
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0) {
			rc = err_set(ERR_IO, "no free loop device: %s",
			    strerror(errno));
			goto fail;
		}
		snprintf(v->dev, sizeof(v->dev), "/dev/loop%d", nr);
		if ((fd = open(v->dev, O_RDWR | O_CLOEXEC)) < 0) {
			rc = err_set(ERR_IO, "%s: %s", v->dev, strerror(errno));
			goto fail;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (uint32_t)img;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		/* informational (losetup shows it), truncated to fit */
		memcpy(cfg.info.lo_file_name, real,
		    strnlen(real, sizeof(cfg.info.lo_file_name) - 1));
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			v->loop_fd = fd;
			close(ctl);
			return 0;
		}
		if (errno == EINVAL || errno == ENOTTY) {
			/* before Linux 5.8: the two-step way */
			if (ioctl(fd, LOOP_SET_FD, img) == 0) {
				if (ioctl(fd, LOOP_SET_STATUS64, &cfg.info) ==
				    0) {
					v->loop_fd = fd;
					close(ctl);
					return 0;
				}
				rc =
				    err_set(ERR_IO, "%s: LOOP_SET_STATUS64: %s",
				        v->dev, strerror(errno));
				ioctl(fd, LOOP_CLR_FD, 0);
				goto fail;
			}
		}
		if (errno != EBUSY) { /* EBUSY: taken between the two calls */
			rc = err_set(ERR_IO, "%s: attaching %s: %s", v->dev,
			    v->image, strerror(errno));
			goto fail;
		}
		close(fd);
		fd = -1;
	}
	rc = err_set(ERR_IO, "no loop device could be attached (all taken)");
fail:
	if (fd >= 0)
		close(fd);
	if (ctl >= 0)
		close(ctl);
	return rc;
}

/* ---- images ---- */

static int
fsync_dir_of(const char *path)
{
	char *dup = strdup(path), *slash;
	int fd, rc = 0;

	if (dup == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	slash = strrchr(dup, '/');
	if (slash == dup)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		strcpy(dup, ".");
	if ((fd = open(dup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) != 0)
		rc = err_set(ERR_IO, "%s: %s", dup, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dup);
	return rc;
}

/* Make the image under a temporary name, then rename it in place. */
static int
image_create(const struct volume_spec *spec, uint64_t size)
{
	char mkfs[64], owner[64], *tmp = NULL;
	int fd = -1, rc;

	if ((rc = tool_find("mkfs.ext4", "e2fsprogs", mkfs, sizeof(mkfs))) != 0)
		return rc;
	if (asprintf(&tmp, "%s.tmp", spec->image) < 0)
		return err_set(ERR_NOMEM, "out of memory");
	unlink(tmp); /* a crash's leftover */
	fd =
	    open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		rc = err_set(ERR_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	snprintf(owner, sizeof(owner), "root_owner=%u:%u", (unsigned)spec->uid,
	    (unsigned)spec->gid);
	{
		const char *argv[] = { mkfs, "-q", "-F", "-m", "0", "-E", owner,
			tmp, NULL };
		if ((rc = tool_run(argv, NULL, -1, MKFS_TIMEOUT_MS, NULL)) != 0)
			goto fail;
	}
	/* Reserve the whole size on the host's disk (mkfs punched holes
	 * where it zeroed): the tenant bought these bytes, so the image
	 * must never meet a full host disk.  A file system without
	 * fallocate keeps a sparse image. */
	if ((fd = open(tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		rc = err_set(ERR_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fallocate(fd, 0, 0, (off_t)size) != 0 && errno != EOPNOTSUPP) {
		rc = errno == ENOSPC ?
		    err_set(ERR_LIMIT,
		        "%s: the host's disk has no room for %llu bytes",
		        spec->image, (unsigned long long)size) :
		    err_set(ERR_IO, "%s: fallocate: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fsync(fd) != 0) {
		rc = err_set(ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, spec->image) != 0) {
		rc = err_set(ERR_IO, "%s: %s", spec->image, strerror(errno));
		goto fail;
	}
	free(tmp);
	return fsync_dir_of(spec->image);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

static int
image_check(int fd, const char *image, uint64_t size)
{
	unsigned char magic[2];
	struct stat st;

	if (fstat(fd, &st) != 0)
		return err_set(ERR_IO, "%s: %s", image, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(ERR_CORRUPT, "%s: not a regular file", image);
	if ((uint64_t)st.st_size != size)
		return err_set(ERR_CONFLICT,
		    "%s: the image is %llu bytes, the volume %llu (a volume "
		    "cannot be resized)",
		    image, (unsigned long long)st.st_size,
		    (unsigned long long)size);
	if (pread(fd, magic, 2, EXT4_MAGIC_OFFSET) != 2 || magic[0] != 0x53 ||
	    magic[1] != 0xef)
		return err_set(ERR_CORRUPT, "%s: not an ext4 image", image);
	return 0;
}

int
volume_open(const struct volume_spec *spec, struct volume **out)
{
	struct volume *v = NULL;
	char real[PATH_MAX];
	uint64_t size;
	int img = -1, rc;

	*out = NULL;
	if (spec->image == NULL || *spec->image == 0)
		return err_set(ERR_INVAL, "volume: no image path");
	if (spec->size_bytes < VOLUME_MIN_BYTES ||
	    spec->size_bytes > (UINT64_C(1) << 62))
		return err_set(ERR_RANGE,
		    "%s: size %llu: expected %u bytes to 2^62", spec->image,
		    (unsigned long long)spec->size_bytes, VOLUME_MIN_BYTES);
	size =
	    (spec->size_bytes + VOLUME_ALIGN - 1) / VOLUME_ALIGN * VOLUME_ALIGN;
	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (v->image = strdup(spec->image)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	v->loop_fd = -1;
	img = open(spec->image, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (img < 0 && errno == ENOENT) {
		if ((rc = image_create(spec, size)) != 0)
			goto fail;
		v->created = 1;
		img = open(spec->image, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	}
	if (img < 0) {
		rc = err_set(ERR_IO, "%s: %s", spec->image, strerror(errno));
		goto fail;
	}
	if ((rc = image_check(img, spec->image, size)) != 0)
		goto fail;
	if (realpath(spec->image, real) == NULL) {
		rc = err_set(ERR_IO, "%s: %s", spec->image, strerror(errno));
		goto fail;
	}
	if ((rc = loop_attach(v, img, real)) != 0)
		goto fail;
	close(img);
	*out = v;
	return 0;
fail:
	if (img >= 0)
		close(img);
	volume_close(v);
	return rc;
}

const char *
volume_device(const struct volume *v)
{
	return v->dev;
}

int
volume_created(const struct volume *v)
{
	return v->created;
}

void
volume_mount_args(const struct volume *v, struct volume_mount *m)
{
	m->source = v->dev;
	m->fstype = "ext4";
	m->flags = MS_NOSUID | MS_NODEV;
	m->data = NULL;
}

int
volume_tmpfs_args(uint64_t size, uid_t uid, gid_t gid, char *data, size_t len,
    struct volume_mount *m)
{
	int n;

	if (size == 0)
		return err_set(ERR_RANGE, "ram volume: size 0");
	n = snprintf(data, len, "size=%llu,mode=0755,uid=%u,gid=%u",
	    (unsigned long long)size, (unsigned)uid, (unsigned)gid);
	if (n < 0 || (size_t)n >= len)
		return err_set(ERR_LIMIT,
		    "ram volume: options buffer too small");
	m->source = "tmpfs";
	m->fstype = "tmpfs";
	m->flags = MS_NOSUID | MS_NODEV;
	m->data = data;
	return 0;
}

void
volume_close(struct volume *v)
{
	if (v == NULL)
		return;
	if (v->loop_fd >= 0)
		close(v->loop_fd);
	free(v->image);
	free(v);
}

/* ---- mounting inside a root ---- */

int
volume_check_path(const char *mount_path, const char *what)
{
	const char *p = mount_path;

	if (p == NULL || p[0] != '/')
		return err_set(ERR_INVAL,
		    "%s: \"%s\": expected an absolute path", what, p ? p : "");
	if (strlen(p) > MAX_MOUNT_PATH)
		return err_set(ERR_INVAL, "%s: longer than %d bytes", what,
		    MAX_MOUNT_PATH);
	while (*p) {
		const char *e;
		while (*p == '/')
			p++;
		e = p;
		while (*e && *e != '/')
			e++;
		if ((e - p == 1 && p[0] == '.') ||
		    (e - p == 2 && p[0] == '.' && p[1] == '.'))
			return err_set(ERR_INVAL,
			    "%s: \"%s\": \".\" and \"..\" are not allowed",
			    what, mount_path);
		if (e - p > 255)
			return err_set(ERR_INVAL,
			    "%s: a component is longer than 255 bytes", what);
		p = e;
	}
	if (strspn(mount_path, "/") == strlen(mount_path))
		return err_set(ERR_INVAL,
		    "%s: \"/\": a volume cannot replace the root", what);
	return 0;
}

static int
openat2_fd(int dfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = flags;
	how.resolve = resolve;
	return (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
}

/* "/proc/self/fd/N" without stdio (async-signal-safe). */
static void
fd_path(int fd, char *buf)
{
	static const char pre[] = "/proc/self/fd/";
	char digits[16];
	int n = 0;

	memcpy(buf, pre, sizeof(pre) - 1);
	do {
		digits[n++] = (char)('0' + fd % 10);
		fd /= 10;
	} while (fd > 0);
	for (int i = 0; i < n; i++)
		buf[sizeof(pre) - 1 + i] = digits[n - 1 - i];
	buf[sizeof(pre) - 1 + n] = 0;
}

/* Resolve mount_path inside root_fd (making missing directories): an
 * O_PATH fd of the directory in *out, or -errno with *step named. */
static int
walk_in_root(int root_fd, const char *mount_path, int *out, const char **step)
{
	char prefix[MAX_MOUNT_PATH + 2], comp[256];
	const char *p = mount_path;
	size_t plen = 0;
	int cur, fd, rc = 0;

	*out = -1;
	*step = "path";
	if (p == NULL || p[0] != '/')
		return -EINVAL;
	if ((cur = fcntl(root_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		*step = "dup";
		return -errno;
	}
	while (*p) {
		const char *e;
		size_t cl;
		while (*p == '/')
			p++;
		if (*p == 0)
			break;
		e = p;
		while (*e && *e != '/')
			e++;
		cl = (size_t)(e - p);
		if ((cl == 1 && p[0] == '.') ||
		    (cl == 2 && p[0] == '.' && p[1] == '.')) {
			rc = -EINVAL;
			goto out;
		}
		if (cl >= sizeof(comp) || plen + cl + 2 > sizeof(prefix)) {
			rc = -ENAMETOOLONG;
			goto out;
		}
		if (plen)
			prefix[plen++] = '/';
		memcpy(prefix + plen, p, cl);
		plen += cl;
		prefix[plen] = 0;
		memcpy(comp, p, cl);
		comp[cl] = 0;
		/* Symlinks in the root's tree resolve as if the root were
		 * "/": whatever the image holds, nothing outside is met. */
		fd = openat2_fd(root_fd, prefix,
		    O_PATH | O_DIRECTORY | O_CLOEXEC,
		    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(cur, comp, 0755) != 0) {
				/* EEXIST: a symlink to nothing inside the
				 * root; it is not followed out of it */
				*step = errno == EEXIST ? "exists" : "mkdir";
				rc = errno == EEXIST ? -ENOTDIR : -errno;
				goto out;
			}
			/* the directory just made: no symlink followed */
			fd = openat2_fd(cur, comp,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			    RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH);
		}
		if (fd < 0) {
			*step = errno == ENOTDIR ? "exists" : "open";
			rc = -errno;
			goto out;
		}
		close(cur);
		cur = fd;
		p = e;
	}
	if (plen == 0) {
		rc = -EINVAL;
		goto out;
	}
	*out = cur;
	return 0;
out:
	close(cur);
	return rc;
}

int
volume_mount_in_root(int root_fd, const char *mount_path,
    const struct volume_mount *m, const char **step)
{
	char target[40];
	int cur, rc;

	if ((rc = walk_in_root(root_fd, mount_path, &cur, step)) != 0)
		return rc;
	fd_path(cur, target);
	if (mount(m->source, target, m->fstype, m->flags, m->data) != 0) {
		*step = "mount";
		rc = -errno;
	}
	close(cur);
	return rc;
}

int
volume_attach_in_root(int root_fd, const char *mount_path, int mnt_fd,
    const char **step)
{
	int cur, rc;

	if ((rc = walk_in_root(root_fd, mount_path, &cur, step)) != 0)
		return rc;
	if (syscall(SYS_move_mount, mnt_fd, "", cur, "",
	        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
		*step = "mount";
		rc = -errno;
	}
	close(cur);
	return rc;
}

/* fsconfig(2) of one "key" or "key=value" option. */
static int
fs_option(int fsfd, const char *opt, size_t len)
{
	char buf[256];
	const char *eq;

	if (len == 0)
		return 0;
	if (len >= sizeof(buf)) {
		errno = E2BIG;
		return -1;
	}
	memcpy(buf, opt, len);
	buf[len] = 0;
	if ((eq = strchr(buf, '=')) == NULL)
		return (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, buf,
		    NULL, 0);
	buf[eq - buf] = 0;
	return (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, buf,
	    eq + 1, 0);
}

int
volume_fsmount(const struct volume_mount *m, int userns_fd, int *out)
{
	struct mount_attr attr;
	unsigned int ma = 0;
	const char *o, *e;
	int fsfd, mfd = -1;

	*out = -1;
	if ((fsfd = (int)syscall(SYS_fsopen, m->fstype, FSOPEN_CLOEXEC)) < 0)
		return err_set(ERR_IO, "volume %s: fsopen %s: %s", m->source,
		    m->fstype, strerror(errno));
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source",
	        m->source, 0) != 0)
		goto fail;
	for (o = m->data; o && *o; o = *e ? e + 1 : e) {
		e = strchr(o, ',');
		if (e == NULL)
			e = o + strlen(o);
		if (fs_option(fsfd, o, (size_t)(e - o)) != 0)
			goto fail;
	}
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) !=
	    0)
		goto fail;
	if (m->flags & MS_NOSUID)
		ma |= MOUNT_ATTR_NOSUID;
	if (m->flags & MS_NODEV)
		ma |= MOUNT_ATTR_NODEV;
	if (m->flags & MS_RDONLY)
		ma |= MOUNT_ATTR_RDONLY;
	if ((mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, ma)) < 0)
		goto fail;
	close(fsfd);
	if (userns_fd >= 0) {
		memset(&attr, 0, sizeof(attr));
		attr.attr_set = MOUNT_ATTR_IDMAP;
		attr.userns_fd = (uint64_t)userns_fd;
		if (syscall(SYS_mount_setattr, mfd, "", AT_EMPTY_PATH, &attr,
		        sizeof(attr)) != 0) {
			int e2 = errno;
			close(mfd);
			return err_set(ERR_IO, "volume %s: idmapped mount: %s",
			    m->source, strerror(e2));
		}
	}
	*out = mfd;
	return 0;
fail : {
	int e2 = errno;
	close(fsfd);
	return err_set(ERR_IO, "volume %s: mounting %s: %s", m->source,
	    m->fstype, strerror(e2));
}
}

int
volume_mount(const char *root, const char *mount_path,
    const struct volume_mount *m)
{
	const char *step;
	int rc, fd;

	if ((rc = volume_check_path(mount_path, "mount path")) != 0)
		return rc;
	if ((fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_set(ERR_IO, "%s: %s", root, strerror(errno));
	rc = volume_mount_in_root(fd, mount_path, m, &step);
	close(fd);
	if (rc == 0)
		return 0;
	if (strcmp(step, "exists") == 0)
		return err_set(ERR_REJECT,
		    "mount path %s in %s: a component is not a directory "
		    "inside the root (a file, or a symlink that leads nowhere "
		    "inside it)",
		    mount_path, root);
	return err_set(ERR_IO, "mount path %s in %s: %s: %s", mount_path, root,
	    step, strerror(-rc));
}

/* ---- removal ---- */

int
volume_delete(const char *image)
{
	char real[PATH_MAX];
	struct match m = { .found_nr = -1 };
	int rc;

	if (realpath(image, real) == NULL) {
		if (errno == ENOENT)
			return 0;
		return err_set(ERR_IO, "%s: %s", image, strerror(errno));
	}
	m.path = real;
	if ((rc = loops_each(detach_cb, &m)) != 0)
		return rc;
	if (m.rc != 0) {
		err_restore(&m.first);
		return m.rc;
	}
	if (unlink(real) != 0 && errno != ENOENT)
		return err_set(ERR_IO, "%s: %s", image, strerror(errno));
	return fsync_dir_of(real);
}

int
volume_cleanup_all(const char *dir)
{
	char real[PATH_MAX + 1];
	struct match m = { .found_nr = -1 };
	size_t n;
	int rc;

	if (realpath(dir, real) == NULL) {
		if (errno == ENOENT)
			return 0;
		return err_set(ERR_IO, "%s: %s", dir, strerror(errno));
	}
	n = strlen(real);
	if (n + 1 >= sizeof(real))
		return err_set(ERR_LIMIT, "%s: path too long", dir);
	if (n == 1) /* "/": every loop device of the host is not ours */
		return err_set(ERR_INVAL, "volume cleanup: refusing \"/\"");
	real[n] = '/';
	real[n + 1] = 0;
	m.dir = real;
	m.dirlen = n + 1;
	if ((rc = loops_each(detach_cb, &m)) != 0)
		return rc;
	if (m.rc != 0)
		err_restore(&m.first);
	return m.rc;
}
