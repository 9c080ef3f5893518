/*
 * test_volume: the parts of sandbox/volume that need no loop device:
 * storage classes, mount path rules, tmpfs options, the checks of an
 * existing image (size, ext4 magic), and the walk of a mount path inside a
 * root (directories made inside it, symlinks never followed out of it)
 * up to the mount itself, which is given a file system type that does
 * not exist.  Loop devices and real mounts: tests/e2e/test_netvol.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/volume.h"

static void
assert_msg(const char *want)
{
	if (strstr(err_msg(), want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err_msg(), want);
}

static void
test_storage_classes_map_to_mechanisms(void **state)
{
	enum volume_kind k;

	(void)state;
	assert_int_equal(volume_kind_of(NULL, 1, "data", &k), 0);
	assert_int_equal(k, VOLUME_PERSISTENT);
	assert_int_equal(volume_kind_of("beta2", 1, "data", &k), 0);
	assert_int_equal(k, VOLUME_PERSISTENT);
	assert_int_equal(volume_kind_of("beta1", 1, "data", &k), 0);
	assert_int_equal(volume_kind_of("beta3", 0, "data", &k), 0);
	assert_int_equal(k, VOLUME_EPHEMERAL);
	assert_int_equal(volume_kind_of("", 0, "data", &k), 0);
	assert_int_equal(k, VOLUME_EPHEMERAL);
	assert_int_equal(volume_kind_of("ram", 0, "shm", &k), 0);
	assert_int_equal(k, VOLUME_RAM);
	assert_int_equal(volume_kind_of("ram", 1, "web.shm", &k), ERR_REJECT);
	assert_msg("web.shm: storage class ram is memory and cannot be "
	           "persistent");
	assert_int_equal(volume_kind_of("beta4", 1, "db.data", &k), ERR_INVAL);
	assert_msg("db.data: storage class \"beta4\": expected default, "
	           "beta1, beta2, beta3 or ram");
	assert_string_equal(volume_default_classes(), "default,beta2");
}

static void
test_mount_paths_are_absolute_and_plain(void **state)
{
	char longc[300];

	(void)state;
	assert_int_equal(volume_check_path("/data", "m"), 0);
	assert_int_equal(volume_check_path("/var/lib/postgresql/data/", "m"),
	    0);
	assert_int_equal(volume_check_path("data", "web.data"), ERR_INVAL);
	assert_msg("web.data: \"data\": expected an absolute path");
	assert_int_equal(volume_check_path("/", "m"), ERR_INVAL);
	assert_msg("cannot replace the root");
	assert_int_equal(volume_check_path("//", "m"), ERR_INVAL);
	assert_int_equal(volume_check_path("/a/../etc", "m"), ERR_INVAL);
	assert_msg("\"..\" are not allowed");
	assert_int_equal(volume_check_path("/a/./b", "m"), ERR_INVAL);
	assert_int_equal(volume_check_path("/a/..", "m"), ERR_INVAL);
	assert_int_equal(volume_check_path("/a/..b", "m"), 0);
	longc[0] = '/';
	memset(longc + 1, 'x', 280);
	longc[281] = 0;
	assert_int_equal(volume_check_path(longc, "m"), ERR_INVAL);
}

static void
test_tmpfs_args_cap_the_size(void **state)
{
	struct volume_mount m;
	char data[96], small[8];

	(void)state;
	assert_int_equal(
	    volume_tmpfs_args(64u << 20, 65534, 65534, data, sizeof(data), &m),
	    0);
	assert_string_equal(m.fstype, "tmpfs");
	assert_string_equal(m.data,
	    "size=67108864,mode=0755,uid=65534,"
	    "gid=65534");
	assert_int_equal(m.flags, MS_NOSUID | MS_NODEV);
	assert_int_equal(volume_tmpfs_args(0, 1, 1, data, sizeof(data), &m),
	    ERR_RANGE);
	assert_int_equal(volume_tmpfs_args(1, 1, 1, small, sizeof(small), &m),
	    ERR_LIMIT);
}

static char *
tmpdir(void)
{
	char *d = strdup("/tmp/lodge-test-volume-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void
write_zeros(const char *path, size_t n, int ext4_magic)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	unsigned char magic[2] = { 0x53, 0xef };

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)n), 0);
	if (ext4_magic)
		assert_int_equal(pwrite(fd, magic, 2, 1080), 2);
	close(fd);
}

static void
test_open_checks_an_existing_image(void **state)
{
	struct volume_spec spec = { .uid = 65534, .gid = 65534 };
	struct volume *v = NULL;
	char *dir = tmpdir(), path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/v.img", dir);
	spec.image = path;
	spec.size_bytes = 4096;
	assert_int_equal(volume_open(&spec, &v), ERR_RANGE);
	assert_null(v);
	spec.image = "";
	spec.size_bytes = 4u << 20;
	assert_int_equal(volume_open(&spec, &v), ERR_INVAL);
	spec.image = path;
	/* made by someone else, 2 MiB: the volume is 4 MiB */
	write_zeros(path, 2u << 20, 1);
	assert_int_equal(volume_open(&spec, &v), ERR_CONFLICT);
	assert_msg("the image is 2097152 bytes, the volume 4194304");
	/* the right size, rounded up to the block, but not ext4 */
	write_zeros(path, 4u << 20, 0);
	spec.size_bytes = (4u << 20) - 100;
	assert_int_equal(volume_open(&spec, &v), ERR_CORRUPT);
	assert_msg("not an ext4 image");
	assert_null(v);
	unlink(path);
	/* a symlink in place of the image is not followed */
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(volume_open(&spec, &v), ERR_IO);
	unlink(path);
	rmdir(dir);
	free(dir);
}

static void
test_mount_walk_stays_inside_the_root(void **state)
{
	struct volume_mount m = { .source = "none",
		.fstype = "lodge-no-such-fs",
		.flags = 0,
		.data = NULL };
	char *dir = tmpdir(), root[256], p[512], outside[256];
	const char *step;
	struct stat st;
	int rfd, rc;

	(void)state;
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	assert_int_equal(mkdir(root, 0755), 0);
	assert_int_equal(mkdir(outside, 0755), 0);
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(rfd >= 0);

	/* missing directories are made inside the root; the mount is the
	 * last step (this file system type does not exist, or no root) */
	rc = volume_mount_in_root(rfd, "/var/lib/pg", &m, &step);
	assert_true(rc == -ENODEV || rc == -EPERM);
	assert_string_equal(step, "mount");
	snprintf(p, sizeof(p), "%s/var/lib/pg", root);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	/* an absolute symlink to a host path: resolved in the root, where
	 * it leads nowhere, so it is refused (nothing made outside) */
	snprintf(p, sizeof(p), "%s/data", root);
	assert_int_equal(symlink(outside, p), 0);
	rc = volume_mount_in_root(rfd, "/data/x", &m, &step);
	assert_int_equal(rc, -ENOTDIR);
	assert_string_equal(step, "exists");
	snprintf(p, sizeof(p), "%s/x", outside);
	assert_int_not_equal(access(p, F_OK), 0);

	/* a ".." symlink is clamped at the root */
	snprintf(p, sizeof(p), "%s/up", root);
	assert_int_equal(symlink("../../../../..", p), 0);
	rc = volume_mount_in_root(rfd, "/up/made-here", &m, &step);
	assert_string_equal(step, "mount");
	snprintf(p, sizeof(p), "%s/made-here", root);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/made-here", dir);
	assert_int_not_equal(access(p, F_OK), 0);

	/* a file on the way */
	snprintf(p, sizeof(p), "%s/file", root);
	write_zeros(p, 1, 0);
	rc = volume_mount_in_root(rfd, "/file/x", &m, &step);
	assert_int_equal(rc, -ENOTDIR);
	assert_int_equal(volume_mount(root, "/file/x", &m), ERR_REJECT);
	assert_msg("a component is not a directory inside the root");
	assert_int_equal(volume_mount(root, "/a/../b", &m), ERR_INVAL);

	close(rfd);
	util_rm_tree(dir);
	free(dir);
}

static void
test_delete_and_cleanup_of_nothing_succeed(void **state)
{
	(void)state;
	assert_int_equal(volume_delete("/tmp/lodge-test-no-such-image.img"), 0);
	assert_int_equal(volume_cleanup_all("/tmp/lodge-test-no-such-dir"), 0);
	assert_int_equal(volume_cleanup_all("/"), ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storage_classes_map_to_mechanisms),
		cmocka_unit_test(test_mount_paths_are_absolute_and_plain),
		cmocka_unit_test(test_tmpfs_args_cap_the_size),
		cmocka_unit_test(test_open_checks_an_existing_image),
		cmocka_unit_test(test_mount_walk_stays_inside_the_root),
		cmocka_unit_test(test_delete_and_cleanup_of_nothing_succeed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
