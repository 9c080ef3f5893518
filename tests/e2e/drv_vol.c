/*
 * drv_vol: drives sandbox/volume for tests/e2e/test_netvol.sh until the
 * provider wires it in.  Each command is one process, as a provider
 * restart would be: the mount outlives it, and the loop device with it.
 *
 *   drv_vol disk IMAGE SIZE ROOT PATH [UID]   open (create or find) the
 *       image, mount it at PATH inside ROOT; prints "created|found DEV"
 *   drv_vol ram SIZE ROOT PATH [UID]          a tmpfs at PATH inside ROOT
 *   drv_vol delete IMAGE                      volume_delete()
 *   drv_vol cleanup DIR                       volume_cleanup_all()
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "sandbox/sandbox.h"
#include "sandbox/volume.h"

static int
usage(void)
{
	fprintf(stderr,
	    "usage: drv_vol disk IMAGE SIZE ROOT PATH [UID]\n"
	    "       drv_vol ram SIZE ROOT PATH [UID]\n"
	    "       drv_vol delete IMAGE\n"
	    "       drv_vol cleanup DIR\n");
	return 2;
}

static int
fail(const char *what)
{
	fprintf(stderr, "drv_vol: %s: %s\n", what, err_msg());
	return 1;
}

int
main(int argc, char **argv)
{
	struct volume_mount m;
	uint64_t size, uid = 65534;

	if (argc >= 6 && strcmp(argv[1], "disk") == 0) {
		struct volume_spec spec = { .image = argv[2] };
		struct volume *v;
		if (sandbox_parse_size(argv[3], "SIZE", &size) != 0 ||
		    (argc > 6 && util_parse_u64(argv[6], "UID", &uid) != 0))
			return fail("arguments");
		spec.size_bytes = size;
		spec.uid = (uid_t)uid;
		spec.gid = (gid_t)uid;
		if (volume_open(&spec, &v) != 0)
			return fail("open");
		volume_mount_args(v, &m);
		if (volume_mount(argv[4], argv[5], &m) != 0) {
			volume_close(v);
			return fail("mount");
		}
		printf("%s %s\n", volume_created(v) ? "created" : "found",
		    volume_device(v));
		volume_close(v);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "ram") == 0) {
		char data[96];
		if (sandbox_parse_size(argv[2], "SIZE", &size) != 0 ||
		    (argc > 5 && util_parse_u64(argv[5], "UID", &uid) != 0) ||
		    volume_tmpfs_args(size, (uid_t)uid, (gid_t)uid, data,
		        sizeof(data), &m) != 0)
			return fail("arguments");
		if (volume_mount(argv[3], argv[4], &m) != 0)
			return fail("mount");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "delete") == 0)
		return volume_delete(argv[2]) != 0 ? fail("delete") : 0;
	if (argc == 3 && strcmp(argv[1], "cleanup") == 0)
		return volume_cleanup_all(argv[2]) != 0 ? fail("cleanup") : 0;
	return usage();
}
