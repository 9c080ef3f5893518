/*
 * volume: a lease's storage at its SDL mount paths.  A disk volume is an
 * ext4 file system in an image file on the provider's disk, attached to a
 * loop device and mounted inside the replica's root; the image's size is
 * the limit (writing past it gives ENOSPC).  A persistent one outlives
 * replica and provider restarts and is deleted with the lease; a `ram`
 * volume is a size-capped tmpfs.  See docs/sandbox.md, "Volumes".  Needs
 * root (loop devices, mount).
 */
#ifndef LODGE_SANDBOX_VOLUME_H
#define LODGE_SANDBOX_VOLUME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VOLUME_MIN_BYTES (1u << 20)
/* Image sizes are rounded up to this (the file system's block). */
#define VOLUME_ALIGN 4096u

/* How a volume is backed, from its Akash storage class. */
enum volume_kind {
	VOLUME_PERSISTENT, /* image kept until the lease closes */
	VOLUME_EPHEMERAL, /* image made for one replica run, then deleted */
	VOLUME_RAM, /* tmpfs; its pages count as the lease's memory */
};

/* The kind for an SDL volume: storage_class NULL or "" means "default".
 * "ram" is memory (VOLUME_RAM) and cannot be persistent (ERR_REJECT, as
 * Akash refuses it); "default", "beta1", "beta2", "beta3" are disk:
 * VOLUME_PERSISTENT when persistent, VOLUME_EPHEMERAL otherwise.  Any
 * other class is ERR_INVAL.  what names the volume in messages. */
int volume_kind_of(const char *storage_class, int persistent, const char *what,
    enum volume_kind *out);

/* The storage classes a provider with a local disk offers when it is not
 * told otherwise, comma-separated: "default,beta2". */
const char *volume_default_classes(void);

/* One disk volume. */
struct volume_spec {
	const char *image; /* the image file (its directory exists);
	                          created when missing */
	uint64_t size_bytes; /* at least VOLUME_MIN_BYTES; rounded up
	                          to VOLUME_ALIGN */
	uid_t uid; /* owner of the file system's root dir when */
	gid_t gid; /* it is created (the sandbox's uid/gid) */
};

/* What mount(2) needs.  Strings borrowed from the volume (or the caller's
 * buffer for tmpfs), valid until volume_close(). */
struct volume_mount {
	const char *source;
	const char *fstype;
	unsigned long flags;
	const char *data;
};

struct volume;

/* Open a disk volume: create the image when missing (space reserved with
 * fallocate where the host's file system can, then mkfs.ext4; made under
 * a temporary name and renamed, so a crash never leaves a half-made
 * image), otherwise check it is an ext4 image of this size; then attach
 * it to a loop device (the one already backed by this image when there is
 * one, else a free one with autoclear: the kernel frees it once the last
 * mount and descriptor are gone, crash included).  ERR_CONFLICT when the
 * image has another size, ERR_CORRUPT when it is not ext4, ERR_LIMIT when
 * the host's disk has no room, ERR_NOTFOUND without mkfs.ext4.  *out is
 * owned by the caller (volume_close). */
int volume_open(const struct volume_spec *spec, struct volume **out);

/* "/dev/loopN" */
const char *volume_device(const struct volume *v);

/* 1 when volume_open() made the image, 0 when it found it. */
int volume_created(const struct volume *v);

/* The mount of v: ext4 from its loop device, nosuid, nodev. */
void volume_mount_args(const struct volume *v, struct volume_mount *m);

/* The mount of a ram volume: tmpfs of size bytes, mode 0755, owned by
 * uid:gid, nosuid, nodev; data is the caller's buffer (64 bytes do). */
int volume_tmpfs_args(uint64_t size, uid_t uid, gid_t gid, char *data,
    size_t len, struct volume_mount *m);

/* Let go of v's loop device (the image stays; the device goes once no
 * mount uses it).  Accepts NULL. */
void volume_close(struct volume *v);

/* An SDL mount path: absolute, at most 1024 bytes, no "." or ".."
 * components, not "/" itself.  ERR_INVAL naming what otherwise. */
int volume_check_path(const char *mount_path, const char *what);

/* Mount m at mount_path inside the root directory root_fd: each component
 * is resolved inside the root (openat2 RESOLVE_IN_ROOT: an absolute or
 * ".." symlink in the root's tree cannot lead out of it), missing
 * directories are made (0755), the mount goes onto the resolved
 * directory through /proc/self/fd.  Async-signal-safe, for the sandbox's
 * child between clone and execve: returns 0 or -errno and points *step
 * at a static name of the failed step ("open", "mkdir", "mount"...). */
int volume_mount_in_root(int root_fd, const char *mount_path,
    const struct volume_mount *m, const char **step);

/* As volume_mount_in_root for a detached mount (mnt_fd, from
 * volume_fsmount), moved onto the resolved directory.  Async-signal-safe;
 * mnt_fd stays the caller's. */
int volume_attach_in_root(int root_fd, const char *mount_path, int mnt_fd,
    const char **step);

/* m as a detached mount (fsopen, fsconfig with m's source and its
 * comma-separated data options, fsmount with its nosuid/nodev/rdonly),
 * idmapped into the user namespace userns_fd when it is >= 0 (an image's:
 * ids on the file system are the namespace's).  For a parent that mounts
 * what a child in a user namespace may not.  *out is the caller's. */
int volume_fsmount(const struct volume_mount *m, int userns_fd, int *out);

/* The same from ordinary code, with a message naming the path: root is
 * a host directory. */
int volume_mount(const char *root, const char *mount_path,
    const struct volume_mount *m);

/* Delete a disk volume whose lease is over: its loop devices detached
 * (their mounts in this mount namespace lazily unmounted first), the
 * image unlinked.  Not an error when it is already gone. */
int volume_delete(const char *image);

/* Detach every loop device backed by a file under dir (unmounting its
 * mounts in this mount namespace first): for the provider's start after
 * a crash and for tests.  The images stay.  Idempotent. */
int volume_cleanup_all(const char *dir);

#endif
