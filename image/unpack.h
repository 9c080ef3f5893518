/*
 * unpack: a layer (tar, optionally gzip or zstd) unpacked with libarchive
 * into one directory that overlayfs can stack as a lower dir, as a careful
 * runtime does: nothing written outside that directory, whatever the
 * archive says.
 *
 * - Names are relative paths without "..": an absolute name or a ".."
 *   component fails the layer.  Every parent is resolved with openat2
 *   (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
 *   RESOLVE_NO_XDEV), so a path through a symlink fails the layer; files
 *   are created O_EXCL | O_NOFOLLOW (an entry replaces what it names, it
 *   never writes through it).  Hard links name an earlier entry of the
 *   same layer, resolved the same way.
 * - Whiteouts ".wh.NAME" become overlayfs whiteouts: a character device
 *   0/0 named NAME (which Linux >= 5.8 lets any user create), unless the
 *   layer itself has NAME (a whiteout only hides lower layers).  Opaque
 *   markers ".wh..wh..opq" set "user.overlay.opaque" = "y" on the
 *   directory (read by an overlay mounted with "userxattr", which is how
 *   an unprivileged user namespace mounts it) and, when the process may
 *   (CAP_SYS_ADMIN), "trusted.overlay.opaque" = "y" too (read by a
 *   privileged mount).  Other ".wh..wh." names (aufs' metadata) are
 *   ignored.
 * - Device nodes and sockets are not created (reported); FIFOs are.
 *   setuid and setgid bits are cleared (counted).  Extended attributes of
 *   the archive are not restored (they could forge overlay metadata).
 * - Owners: as root the archive's uid/gid are kept (the image's ids,
 *   to be shifted by an idmapped mount); otherwise files belong to the
 *   unpacking user.  Directories get their mode and mtime last.
 * - Limits: the bytes of file data and the entries count; a layer that
 *   goes past either (a decompression bomb) stops there (ERR_LIMIT).
 */
#ifndef LODGE_IMAGE_UNPACK_H
#define LODGE_IMAGE_UNPACK_H

#include <stddef.h>
#include <stdint.h>

/* What the layer may use (a pull passes what is left of the image's
 * budget, which may be 0); IMAGE_UNPACK_UNLIMITED for no limit. */
#define IMAGE_UNPACK_UNLIMITED UINT64_MAX
struct image_unpack_limits {
	uint64_t max_bytes; /* file data, apparent size */
	uint64_t max_entries; /* archive entries */
};

#define IMAGE_UNPACK_SKIPPED_MAX 64

/* What unpacking did; skipped is malloc'd (image_unpack_report_clear). */
struct image_unpack_report {
	uint64_t bytes; /* disk use: data rounded to 4 KiB, 4 KiB a dir */
	uint64_t data_bytes; /* file data, apparent size (the limit's) */
	uint64_t entries;
	uint64_t whiteouts;
	uint64_t opaques;
	uint64_t setid_stripped;
	char **skipped; /* "dev/null: character device not created" */
	size_t n_skipped; /* at most IMAGE_UNPACK_SKIPPED_MAX listed */
	uint64_t skipped_total;
};

/*
 * Unpack the archive file at path into dest, an existing empty directory.
 * ERR_INVAL names the entry that broke a rule, ERR_LIMIT the limit,
 * ERR_CORRUPT a damaged archive, ERR_IO a failed system call; dest is
 * then partly filled (the caller removes it).  lim NULL: no limits.
 * rep may be NULL.
 */
int image_unpack_layer(const char *path, const char *dest,
    const struct image_unpack_limits *lim, struct image_unpack_report *rep);

void image_unpack_report_clear(struct image_unpack_report *rep);

#endif
