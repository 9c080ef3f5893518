/*
 * util: small helpers shared by the binaries: time, whole-file I/O,
 * atomic writes, directory creation and checked integer parsing.
 */
#ifndef LODGE_UTIL_H
#define LODGE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the epoch, and a monotonic clock in ns. */
int64_t util_now_ms(void);
uint64_t util_mono_ns(void);

/* Read a whole file ("-" is stdin) into a malloc'd NUL-terminated buffer;
 * refuses files larger than max bytes (ERR_LIMIT). */
int util_read_file(const char *path, size_t max, char **out, size_t *len);
/* 1 when $LODGE_INSECURE_HTTP is "1": the environment's way of giving
 * --insecure-http (plain HTTP for loopback development) to every Lodge
 * daemon and tool at once; 0 otherwise. */
int util_insecure_http_env(void);
/* Write data to path atomically (temp file, fsync, rename) with mode. */
int util_write_file(const char *path, const void *data, size_t len, int mode);
/* mkdir -p with mode for the created components. */
int util_mkdirs(const char *path, int mode);
/* send(2) all n bytes to the socket fd (MSG_NOSIGNAL, EINTR retried):
 * 0, or -1 with errno set. */
int util_send_all(int fd, const void *p, size_t n);
/* rm -rf (symlinks removed, not followed); best effort. */
void util_rm_tree(const char *path);

/* Parse a decimal signed or unsigned integer, the whole string, in range;
 * what names the field for the error message. */
int util_parse_i64(const char *s, const char *what, int64_t *out);
int util_parse_u64(const char *s, const char *what, uint64_t *out);
/* The environment variable name as an integer >= min, or dflt when it is
 * unset, empty, not an integer or below min. */
int64_t util_env_i64(const char *name, int64_t min, int64_t dflt);

/* Parse a decimal number ending at a newline or NUL (not the whole
 * string): used for line-oriented formats. */
int util_parse_u64_prefix(const char *s, uint64_t *out);

/* Fill buf with random bytes from getrandom(2). */
int util_random(void *buf, size_t len);

/* FNV-1a, 64 bits, of n bytes, going on from h (UTIL_FNV1A_INIT to
 * start): short stable hashes, not a security boundary. */
#define UTIL_FNV1A_INIT 0xcbf29ce484222325ULL
uint64_t util_fnv1a(const void *p, size_t n, uint64_t h);

#endif
