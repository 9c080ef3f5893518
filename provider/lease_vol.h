/*
 * lease_vol: a lease's volumes at their SDL mount paths (issue 15).  A
 * persistent volume is an ext4 image per replica under the lease's
 * directory (volumes/SERVICE-R-NAME.img), kept across replica and
 * provider restarts and deleted when the lease closes; another named
 * disk volume is a fresh image at each start of its replica; a `ram`
 * volume is a tmpfs.  See docs/sandbox.md, "Volumes in leases".
 */
#ifndef LODGE_PROVIDER_LEASE_VOL_H
#define LODGE_PROVIDER_LEASE_VOL_H

#include <jansson.h>

#include "provider/lease.h"
#include "sandbox/sandbox.h"
#include "sandbox/volume.h"

/* The volumes of one replica start: the mounts handed to the sandbox,
 * and the disk volumes held open until it has started (its mounts keep
 * their loop devices after that). */
struct lease_vol_start {
	struct sandbox_mount mounts[SANDBOX_MOUNTS_MAX];
	size_t n;
	struct volume *vol[SANDBOX_MOUNTS_MAX];
	char paths[SANDBOX_MOUNTS_MAX][1040];
	char tmpfs[SANDBOX_MOUNTS_MAX][96];
};

/* Check the volumes of every replica of l (its manifest set): mount paths
 * (volume_check_path), classes (volume_kind_of; ram is never persistent),
 * names usable in a file name, at most SANDBOX_MOUNTS_MAX per service,
 * and each class one of the capabilities offered (caps: an array such as
 * config_capabilities_json's; "storage/CLASS").  ERR_REJECT naming the
 * service, the volume and what is missing. */
int lease_vol_check(const struct lease *l, const json_t *caps);

/* Prepare replica i's volumes for a start: persistent images opened
 * (created when missing) under lease_dir/volumes, other disk volumes
 * made anew, tmpfs options for ram ones; spec->mounts points into *vs,
 * owned by the workload's ids (spec->image's inside its namespace,
 * spec->uid otherwise), and spec->data_bytes becomes the storage not
 * mounted anywhere (a process's /data).  Call lease_vol_start_done
 * after sandbox_start, whatever its result. */
int lease_vol_start_prepare(const struct lease *l, size_t i,
    const char *lease_dir, struct sandbox_spec *spec,
    struct lease_vol_start *vs);
void lease_vol_start_done(struct lease_vol_start *vs);

/* The lease closed (its sandboxes stopped): delete every image under
 * lease_dir/volumes (volume_delete: loop devices detached, files
 * unlinked) and the directory. */
int lease_vol_delete_all(const char *lease_dir);

/* The image of replica index of service for volume name, into buf. */
int lease_vol_image_path(const char *lease_dir, const char *service,
    unsigned index, const char *name, int persistent, char *buf, size_t cap);

#endif
