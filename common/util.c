/*
 * util: time, files, integers and randomness for the binaries.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
util_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
util_read_file(const char *path, size_t max, char **out, size_t *len)
{
	char *buf = NULL, *nbuf;
	size_t cap = 0, n = 0;
	ssize_t r;
	int fd, rc;

	if (strcmp(path, "-") == 0)
		fd = 0;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
		    "%s: %s", path, strerror(errno));
	for (;;) {
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			if ((nbuf = realloc(buf, ncap)) == NULL) {
				rc = err_set(ERR_NOMEM, "out of memory");
				goto fail;
			}
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_set(ERR_IO, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			rc = err_set(ERR_LIMIT, "%s: larger than %zu bytes",
			    path, max);
			goto fail;
		}
	}
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		rc = err_set(ERR_NOMEM, "out of memory");
		goto fail;
	}
	buf[n] = '\0';
	if (fd != 0)
		close(fd);
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	if (fd != 0)
		close(fd);
	return rc;
}

int
util_write_file(const char *path, const void *data, size_t len, int mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return err_set(ERR_INVAL, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return err_set(ERR_IO, "%s: %s", tmp, strerror(errno));
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = err_set(ERR_IO, "%s: %s", tmp, strerror(errno));
			goto fail;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0) {
		rc = err_set(ERR_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rc = err_set(ERR_IO, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return rc;
}

int
util_send_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	ssize_t w;

	while (n > 0) {
		w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p) < 0 ? -1 : 0;
}

void
util_rm_tree(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
util_mkdirs(const char *path, int mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return err_set(ERR_INVAL, "bad directory path '%s'", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
				return err_set(ERR_IO, "%s: %s", buf,
				    strerror(errno));
			if (c == '\0')
				break;
			*p = c;
		}
	}
	return 0;
}

int
util_parse_i64(const char *s, const char *what, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return err_set(ERR_INVAL, "%s: '%s' is not an integer", what,
		    s ? s : "");
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return err_set(ERR_INVAL, "%s: '%s' is not an integer", what,
		    s);
	if (errno == ERANGE)
		return err_set(ERR_RANGE, "%s: '%s' is out of range", what, s);
	*out = v;
	return 0;
}

int64_t
util_env_i64(const char *name, int64_t min, int64_t dflt)
{
	const char *e = getenv(name);
	int64_t v;

	if (e == NULL || *e == '\0' || util_parse_i64(e, name, &v) < 0 ||
	    v < min)
		return dflt;
	return v;
}

int
util_parse_u64(const char *s, const char *what, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (s == NULL || *s < '0' || *s > '9')
		return err_set(ERR_INVAL,
		    "%s: '%s' is not a non-negative "
		    "integer",
		    what, s ? s : "");
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return err_set(ERR_INVAL,
		    "%s: '%s' is not a non-negative "
		    "integer",
		    what, s);
	if (errno == ERANGE)
		return err_set(ERR_RANGE, "%s: '%s' is out of range", what, s);
	*out = v;
	return 0;
}

int
util_parse_u64_prefix(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		return err_set(ERR_INVAL, "expected a number");
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || (*end != '\n' && *end != '\0'))
		return err_set(ERR_INVAL, "expected a number on its own line");
	*out = v;
	return 0;
}

int
util_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = getrandom(p, len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(ERR_IO, "getrandom: %s",
			    strerror(errno));
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int
util_insecure_http_env(void)
{
	const char *v = getenv("LODGE_INSECURE_HTTP");

	return v != NULL && strcmp(v, "1") == 0;
}

uint64_t
util_fnv1a(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}
