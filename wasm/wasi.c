/*
 * wasm_wasi: WASI preview 1 host functions.  Guest pointers are checked
 * against the instance's memory on every access; file access is confined
 * to the preopened directory with openat2(RESOLVE_BENEATH).
 */
#include "wasm/wasi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

enum {
	E_OK = 0,
	E_2BIG = 1,
	E_ACCES = 2,
	E_BADF = 8,
	E_EXIST = 20,
	E_FAULT = 21,
	E_INVAL = 28,
	E_IO = 29,
	E_ISDIR = 31,
	E_LOOP = 32,
	E_MFILE = 33,
	E_NAMETOOLONG = 37,
	E_NOENT = 44,
	E_NOSPC = 51,
	E_NOSYS = 52,
	E_NOTDIR = 54,
	E_NOTEMPTY = 55,
	E_PERM = 63,
	E_SPIPE = 70,
	E_XDEV = 75,
	E_NOTCAPABLE = 76,
};

enum {
	W_NONE,
	W_ARGS_GET,
	W_ARGS_SIZES_GET,
	W_ENVIRON_GET,
	W_ENVIRON_SIZES_GET,
	W_FD_WRITE,
	W_FD_READ,
	W_FD_CLOSE,
	W_FD_SEEK,
	W_FD_TELL,
	W_FD_FDSTAT_GET,
	W_FD_FDSTAT_SET_FLAGS,
	W_FD_PRESTAT_GET,
	W_FD_PRESTAT_DIR_NAME,
	W_PATH_OPEN,
	W_FD_FILESTAT_GET,
	W_PATH_FILESTAT_GET,
	W_PATH_CREATE_DIRECTORY,
	W_PATH_UNLINK_FILE,
	W_PATH_REMOVE_DIRECTORY,
	W_CLOCK_TIME_GET,
	W_CLOCK_RES_GET,
	W_RANDOM_GET,
	W_PROC_EXIT,
	W_SCHED_YIELD,
	W_POLL_ONEOFF,
	W_FD_SYNC,
	W_FD_READDIR,
	W_ENOSYS,
};

static const struct {
	const char *name, *params, *results;
	int id;
} wasi_fns[] = {
	{ "args_get", "ii", "i", W_ARGS_GET },
	{ "args_sizes_get", "ii", "i", W_ARGS_SIZES_GET },
	{ "environ_get", "ii", "i", W_ENVIRON_GET },
	{ "environ_sizes_get", "ii", "i", W_ENVIRON_SIZES_GET },
	{ "fd_write", "iiii", "i", W_FD_WRITE },
	{ "fd_read", "iiii", "i", W_FD_READ },
	{ "fd_close", "i", "i", W_FD_CLOSE },
	{ "fd_seek", "iIii", "i", W_FD_SEEK },
	{ "fd_tell", "ii", "i", W_FD_TELL },
	{ "fd_fdstat_get", "ii", "i", W_FD_FDSTAT_GET },
	{ "fd_fdstat_set_flags", "ii", "i", W_FD_FDSTAT_SET_FLAGS },
	{ "fd_prestat_get", "ii", "i", W_FD_PRESTAT_GET },
	{ "fd_prestat_dir_name", "iii", "i", W_FD_PRESTAT_DIR_NAME },
	{ "path_open", "iiiiiIIii", "i", W_PATH_OPEN },
	{ "fd_filestat_get", "ii", "i", W_FD_FILESTAT_GET },
	{ "path_filestat_get", "iiiii", "i", W_PATH_FILESTAT_GET },
	{ "path_create_directory", "iii", "i", W_PATH_CREATE_DIRECTORY },
	{ "path_unlink_file", "iii", "i", W_PATH_UNLINK_FILE },
	{ "path_remove_directory", "iii", "i", W_PATH_REMOVE_DIRECTORY },
	{ "clock_time_get", "iIi", "i", W_CLOCK_TIME_GET },
	{ "clock_res_get", "ii", "i", W_CLOCK_RES_GET },
	{ "random_get", "ii", "i", W_RANDOM_GET },
	{ "proc_exit", "i", "", W_PROC_EXIT },
	{ "sched_yield", "", "i", W_SCHED_YIELD },
	{ "poll_oneoff", "iiii", "i", W_POLL_ONEOFF },
	{ "fd_sync", "i", "i", W_FD_SYNC },
	{ "fd_datasync", "i", "i", W_FD_SYNC },
	{ "fd_readdir", "iiiIi", "i", W_FD_READDIR },
};

static int
sig_eq(const char *want, const uint8_t *ts, uint32_t n)
{
	if (strlen(want) != n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t t = want[i] == 'i' ? 0x7f : 0x7e;
		if (ts[i] != t)
			return 0;
	}
	return 1;
}

int
wasi_lookup(const char *name, size_t len, const uint8_t *params,
    uint32_t nparams, const uint8_t *results, uint32_t nresults)
{
	for (size_t i = 0; i < sizeof(wasi_fns) / sizeof(wasi_fns[0]); i++) {
		if (strlen(wasi_fns[i].name) != len ||
		    memcmp(wasi_fns[i].name, name, len) != 0)
			continue;
		if (!sig_eq(wasi_fns[i].params, params, nparams) ||
		    !sig_eq(wasi_fns[i].results, results, nresults))
			return 0;
		return wasi_fns[i].id;
	}
	/* Any other call that returns an errno gets ENOSYS. */
	if (nresults == 1 && results[0] == 0x7f)
		return W_ENOSYS;
	return 0;
}

int
wasm_buf_append(struct wasm_buf *b, const void *d, size_t n)
{
	if (b->max && b->len + n > b->max)
		n = b->len < b->max ? b->max - b->len : 0;
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + n)
			nc *= 2;
		uint8_t *p = realloc(b->data, nc);
		if (!p)
			return ERR_NOMEM;
		b->data = p;
		b->cap = nc;
	}
	if (n)
		memcpy(b->data + b->len, d, n);
	b->len += n;
	return 0;
}

void
wasm_buf_free(struct wasm_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
wasi_ctx_init(struct wasi_ctx *c, const struct wasm_io *io)
{
	memset(c, 0, sizeof(*c));
	c->io = io;
	for (int i = 0; i < WASI_MAX_FDS; i++)
		c->fds[i] = -1;
	c->fds[0] = io->stdin_fd;
	c->fds[1] = io->stdout_fd;
	c->fds[2] = io->stderr_fd;
	if (io->data_dir) {
		c->fds[3] =
		    open(io->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c->fds[3] < 0)
			return err_set(ERR_IO, "%s: %s", io->data_dir,
			    strerror(errno));
	}
	return 0;
}

void
wasi_ctx_close(struct wasi_ctx *c)
{
	for (int i = 3; i < WASI_MAX_FDS; i++)
		if (c->fds[i] >= 0) {
			close(c->fds[i]);
			c->fds[i] = -1;
		}
}

static int
werrno(int e)
{
	switch (e) {
	case EACCES:
		return E_ACCES;
	case EBADF:
		return E_BADF;
	case EEXIST:
		return E_EXIST;
	case EFAULT:
		return E_FAULT;
	case EINVAL:
		return E_INVAL;
	case EISDIR:
		return E_ISDIR;
	case ELOOP:
		return E_LOOP;
	case EMFILE:
		return E_MFILE;
	case ENAMETOOLONG:
		return E_NAMETOOLONG;
	case ENOENT:
		return E_NOENT;
	case ENOSPC:
		return E_NOSPC;
	case ENOTDIR:
		return E_NOTDIR;
	case ENOTEMPTY:
		return E_NOTEMPTY;
	case EPERM:
		return E_PERM;
	case ESPIPE:
		return E_SPIPE;
	case EXDEV:
		return E_NOTCAPABLE;
	case E2BIG:
		return E_2BIG;
	default:
		return E_IO;
	}
}

/* Bounds-checked guest memory. */
static uint8_t *
gp(struct wasm_abi_mem *m, uint64_t ptr, uint64_t len)
{
	if (!m || ptr + len > m->size)
		return NULL;
	return m->data + ptr;
}

static int
put32(struct wasm_abi_mem *m, uint64_t ptr, uint32_t v)
{
	uint8_t *p = gp(m, ptr, 4);
	if (!p)
		return E_FAULT;
	memcpy(p, &v, 4);
	return 0;
}

static int
put64(struct wasm_abi_mem *m, uint64_t ptr, uint64_t v)
{
	uint8_t *p = gp(m, ptr, 8);
	if (!p)
		return E_FAULT;
	memcpy(p, &v, 8);
	return 0;
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static int
strs_sizes(struct wasm_abi_mem *m, const char *const *v, int n, uint64_t pcount,
    uint64_t psize)
{
	uint64_t size = 0;
	for (int i = 0; i < n; i++)
		size += strlen(v[i]) + 1;
	if (put32(m, pcount, (uint32_t)n) || put32(m, psize, (uint32_t)size))
		return E_FAULT;
	return 0;
}

static int
strs_get(struct wasm_abi_mem *m, const char *const *v, int n, uint64_t pptrs,
    uint64_t pbuf)
{
	for (int i = 0; i < n; i++) {
		size_t l = strlen(v[i]) + 1;
		uint8_t *d = gp(m, pbuf, l);
		if (!d || put32(m, pptrs + 4ull * i, (uint32_t)pbuf))
			return E_FAULT;
		memcpy(d, v[i], l);
		pbuf += l;
	}
	return 0;
}

static int
env_count(const char *const *e)
{
	int n = 0;
	while (e && e[n])
		n++;
	return n;
}

/* ---- the WASI functions: each takes the guest's arguments as u64 slots
 * (a[0] the first) and returns the WASI errno ---- */

/* args_sizes_get(argc_ptr, argv_buf_size_ptr) */
static int
do_args_sizes_get(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	return strs_sizes(m, c->io->argv, c->io->argc, a[0], a[1]);
}

/* args_get(argv, argv_buf) */
static int
do_args_get(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	return strs_get(m, c->io->argv, c->io->argc, a[0], a[1]);
}

/* environ_sizes_get(count_ptr, buf_size_ptr) */
static int
do_environ_sizes_get(struct wasi_ctx *c, struct wasm_abi_mem *m,
    const uint64_t *a)
{
	const char *const *envp = c->io->envp;
	return strs_sizes(m, envp, env_count(envp), a[0], a[1]);
}

/* environ_get(environ, environ_buf) */
static int
do_environ_get(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	const char *const *envp = c->io->envp;
	return strs_get(m, envp, env_count(envp), a[0], a[1]);
}

static int
fd_ok(struct wasi_ctx *c, uint64_t fd)
{
	if (fd >= WASI_MAX_FDS)
		return 0;
	if (fd == 0 && c->io->stdin_data)
		return 1;
	if (fd == 1 && c->io->stdout_buf)
		return 1;
	return c->fds[fd] >= 0;
}

/* fd_write(fd, iovs, iovs_len, nwritten_ptr) */
static int
do_fd_write(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	uint32_t fd = (uint32_t)a[0], iovs = (uint32_t)a[1], n = (uint32_t)a[2],
	         pout = (uint32_t)a[3];
	uint64_t total = 0;
	if (!fd_ok(c, fd) || fd == 0 || fd == 3)
		return E_BADF;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *iov = gp(m, iovs + 8ull * i, 8);
		if (!iov)
			return E_FAULT;
		uint32_t buf = get32(iov), len = get32(iov + 4);
		uint8_t *d = gp(m, buf, len);
		if (!d)
			return E_FAULT;
		if (fd == 1 && c->io->stdout_buf) {
			if (wasm_buf_append(c->io->stdout_buf, d, len))
				return E_IO;
		} else {
			size_t off = 0;
			while (off < len) {
				ssize_t w =
				    write(c->fds[fd], d + off, len - off);
				if (w < 0) {
					if (errno == EINTR)
						continue;
					if (total + off == 0)
						return werrno(errno);
					break;
				}
				off += (size_t)w;
			}
		}
		total += len;
	}
	c->bytes_out += total;
	return put32(m, pout, (uint32_t)total);
}

/* fd_read(fd, iovs, iovs_len, nread_ptr); stops at a short read */
static int
do_fd_read(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	uint32_t fd = (uint32_t)a[0], iovs = (uint32_t)a[1], n = (uint32_t)a[2],
	         pout = (uint32_t)a[3];
	uint64_t total = 0;
	if (!fd_ok(c, fd) || fd == 1 || fd == 2 || fd == 3)
		return E_BADF;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *iov = gp(m, iovs + 8ull * i, 8);
		if (!iov)
			return E_FAULT;
		uint32_t buf = get32(iov), len = get32(iov + 4);
		uint8_t *d = gp(m, buf, len);
		if (!d)
			return E_FAULT;
		size_t got;
		if (fd == 0 && c->io->stdin_data) {
			size_t left = c->io->stdin_len - c->stdin_pos;
			got = left < len ? left : len;
			memcpy(d, c->io->stdin_data + c->stdin_pos, got);
			c->stdin_pos += got;
		} else {
			ssize_t r;
			do
				r = read(c->fds[fd], d, len);
			while (r < 0 && errno == EINTR);
			if (r < 0) {
				if (total == 0)
					return werrno(errno);
				break;
			}
			got = (size_t)r;
		}
		total += got;
		if (got < len)
			break;
	}
	c->bytes_in += total;
	return put32(m, pout, (uint32_t)total);
}

/* fd_close(fd): stdio and the preopen stay open (closing stdio is a
 * no-op that succeeds). */
static int
do_fd_close(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	(void)m;
	if (!fd_ok(c, a[0]) || a[0] <= 3)
		return a[0] <= 2 && fd_ok(c, a[0]) ? E_OK : E_BADF;
	close(c->fds[a[0]]);
	c->fds[a[0]] = -1;
	return 0;
}

/* Move fd's offset (WASI whence: 0 set, 1 cur, 2 end) and store the new
 * one at pout; stdio and the preopen do not seek. */
static int
seek(struct wasi_ctx *c, struct wasm_abi_mem *m, uint32_t fd, off_t off, int wh,
    uint32_t pout)
{
	if (!fd_ok(c, fd))
		return E_BADF;
	if (fd <= 3)
		return E_SPIPE;
	if (wh < 0 || wh > 2)
		return E_INVAL;
	off_t o = lseek(c->fds[fd], off,
	    wh == 0     ? SEEK_SET :
	        wh == 1 ? SEEK_CUR :
	                  SEEK_END);
	if (o < 0)
		return werrno(errno);
	return put64(m, pout, (uint64_t)o);
}

/* fd_seek(fd, offset, whence, newoffset_ptr) */
static int
do_fd_seek(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	return seek(c, m, (uint32_t)a[0], (off_t)a[1], (int)a[2],
	    (uint32_t)a[3]);
}

/* fd_tell(fd, offset_ptr) */
static int
do_fd_tell(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	return seek(c, m, (uint32_t)a[0], 0, 1, (uint32_t)a[1]);
}

/* fd_sync(fd), fd_datasync(fd): no-ops on stdio and the preopen. */
static int
do_fd_sync(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	(void)m;
	if (!fd_ok(c, a[0]))
		return E_BADF;
	return a[0] > 3 && fsync(c->fds[a[0]]) < 0 ? werrno(errno) : 0;
}

/* fd_fdstat_set_flags(fd, flags): accepted, flags ignored. */
static int
do_fd_fdstat_set_flags(struct wasi_ctx *c, struct wasm_abi_mem *m,
    const uint64_t *a)
{
	(void)m;
	return fd_ok(c, a[0]) ? 0 : E_BADF;
}

static int
filetype(mode_t mode)
{
	if (S_ISDIR(mode))
		return 3;
	if (S_ISREG(mode))
		return 4;
	if (S_ISCHR(mode))
		return 2;
	if (S_ISBLK(mode))
		return 1;
	if (S_ISLNK(mode))
		return 7;
	if (S_ISSOCK(mode))
		return 6;
	return 0;
}

static int
put_filestat(struct wasm_abi_mem *m, uint32_t p, const struct stat *st)
{
	uint8_t *d = gp(m, p, 64);
	if (!d)
		return E_FAULT;
	uint64_t v[8] = { st->st_dev, st->st_ino, 0, st->st_nlink,
		(uint64_t)st->st_size,
		st->st_atim.tv_sec * 1000000000ull + st->st_atim.tv_nsec,
		st->st_mtim.tv_sec * 1000000000ull + st->st_mtim.tv_nsec,
		st->st_ctim.tv_sec * 1000000000ull + st->st_ctim.tv_nsec };
	memcpy(d, v, 64);
	d[16] = (uint8_t)filetype(st->st_mode);
	memset(d + 17, 0, 7);
	return 0;
}

/* fd_fdstat_get(fd, fdstat_ptr): the file type (captured stdio is a
 * character device), no flags, every right. */
static int
do_fd_fdstat_get(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	const struct wasm_io *io = c->io;
	uint32_t fd = (uint32_t)a[0];
	uint8_t *d = gp(m, (uint32_t)a[1], 24);
	struct stat st;

	if (!fd_ok(c, fd))
		return E_BADF;
	if (!d)
		return E_FAULT;
	memset(d, 0, 24);
	if (fd <= 2 && (fd != 0 || !io->stdin_data) &&
	    (fd != 1 || !io->stdout_buf) && fstat(c->fds[fd], &st) == 0)
		d[0] = (uint8_t)filetype(st.st_mode);
	else if (fd <= 2)
		d[0] = 2;
	else if (fstat(c->fds[fd], &st) == 0)
		d[0] = (uint8_t)filetype(st.st_mode);
	uint64_t all = ~0ull;
	memcpy(d + 8, &all, 8);
	memcpy(d + 16, &all, 8);
	return 0;
}

/* fd_filestat_get(fd, filestat_ptr) */
static int
do_fd_filestat_get(struct wasi_ctx *c, struct wasm_abi_mem *m,
    const uint64_t *a)
{
	const struct wasm_io *io = c->io;
	uint32_t fd = (uint32_t)a[0];
	struct stat st;

	if (!fd_ok(c, fd))
		return E_BADF;
	if ((fd == 0 && io->stdin_data) || (fd == 1 && io->stdout_buf)) {
		memset(&st, 0, sizeof(st));
		st.st_mode = S_IFCHR;
	} else if (fstat(c->fds[fd], &st) < 0) {
		return werrno(errno);
	}
	return put_filestat(m, (uint32_t)a[1], &st);
}

/* fd_prestat_get(fd, prestat_ptr): fd 3 is the one preopen, a directory
 * named "/data" (5 bytes). */
static int
do_fd_prestat_get(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	if (a[0] != 3 || c->fds[3] < 0)
		return E_BADF;
	if (put32(m, (uint32_t)a[1], 0) || put32(m, (uint32_t)a[1] + 4, 5))
		return E_FAULT;
	return 0;
}

/* fd_prestat_dir_name(fd, path, path_len) */
static int
do_fd_prestat_dir_name(struct wasi_ctx *c, struct wasm_abi_mem *m,
    const uint64_t *a)
{
	if (a[0] != 3 || c->fds[3] < 0)
		return E_BADF;
	uint8_t *d = gp(m, (uint32_t)a[1], (uint32_t)a[2]);
	if (!d)
		return E_FAULT;
	if (a[2] < 5)
		return E_NAMETOOLONG;
	memcpy(d, "/data", 5);
	return 0;
}

static uint8_t
dirent_type(unsigned char t)
{
	switch (t) {
	case DT_DIR:
		return 3;
	case DT_REG:
		return 4;
	case DT_CHR:
		return 2;
	case DT_BLK:
		return 1;
	case DT_LNK:
		return 7;
	case DT_SOCK:
		return 6;
	default:
		return 0;
	}
}

/* fd_readdir(fd, buf, buf_len, cookie, bufused): entries from the
 * cookie-th on (the cookie is an index: d_next of entry k is k + 1), each
 * a 24-byte dirent (d_next u64, d_ino u64, d_namlen u32, d_type u8) and
 * the name; the last one may be cut, and bufused == buf_len tells the
 * guest to ask again from a later cookie. */
static int
do_fd_readdir(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	uint32_t fd = (uint32_t)a[0], len = (uint32_t)a[2];
	uint64_t cookie = a[3], idx = 0;
	size_t used = 0;
	struct dirent *e;
	uint8_t *out = gp(m, (uint32_t)a[1], len);
	int dfd;
	DIR *dir;

	if (fd < 3 || fd >= WASI_MAX_FDS || c->fds[fd] < 0)
		return E_BADF;
	if (!out)
		return E_FAULT;
	/* A fresh description, so the guest's own fd keeps its offset. */
	if ((dfd = openat(c->fds[fd], ".",
	         O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return werrno(errno);
	if (!(dir = fdopendir(dfd))) {
		int r = werrno(errno);
		close(dfd);
		return r;
	}
	while (used < len && (e = readdir(dir)) != NULL) {
		if (idx++ < cookie)
			continue;
		uint8_t h[24];
		uint64_t next = idx, ino = e->d_ino;
		uint32_t nl = (uint32_t)strlen(e->d_name);
		memcpy(h, &next, 8);
		memcpy(h + 8, &ino, 8);
		memcpy(h + 16, &nl, 4);
		h[20] = dirent_type(e->d_type);
		memset(h + 21, 0, 3);
		size_t k = len - used < sizeof(h) ? len - used : sizeof(h);
		memcpy(out + used, h, k);
		used += k;
		k = len - used < nl ? len - used : nl;
		memcpy(out + used, e->d_name, k);
		used += k;
	}
	closedir(dir);
	return put32(m, (uint32_t)a[4], (uint32_t)used) ? E_FAULT : 0;
}

/* Guest path, NUL-terminated, refused if absolute or empty. */
static int
get_path(struct wasm_abi_mem *m, uint32_t p, uint32_t len, char *out,
    size_t cap)
{
	uint8_t *d = gp(m, p, len);
	if (!d)
		return E_FAULT;
	if (len >= cap)
		return E_NAMETOOLONG;
	memcpy(out, d, len);
	out[len] = 0;
	if (memchr(out, 0, len))
		return E_INVAL;
	if (len == 0)
		return E_NOENT;
	if (out[0] == '/')
		return E_NOTCAPABLE;
	return 0;
}

static int
dir_fd(struct wasi_ctx *c, uint32_t fd)
{
	if (fd < 3 || fd >= WASI_MAX_FDS)
		return -1;
	return c->fds[fd];
}

static int
open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	long r = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (r < 0 && errno == ENOSYS) {
		/* Old kernel: refuse any ".." component and symlinks. */
		const char *s = path;
		while (*s) {
			if (s[0] == '.' && s[1] == '.' &&
			    (s[2] == '/' || !s[2])) {
				errno = EXDEV;
				return -1;
			}
			s = strchr(s, '/');
			if (!s)
				break;
			s++;
		}
		return openat(dirfd, path, flags | O_CLOEXEC | O_NOFOLLOW,
		    mode);
	}
	return (int)r;
}

/* Parent directory fd (beneath dirfd) and last component of path. */
static int
split_parent(int dirfd, char *path, const char **leaf)
{
	char *slash = strrchr(path, '/');
	if (!slash) {
		*leaf = path;
		return dup(dirfd);
	}
	*slash = 0;
	*leaf = slash + 1;
	return open_beneath(dirfd, path, O_RDONLY | O_DIRECTORY, 0);
}

/* path_open(dirfd, dirflags, path, path_len, oflags, rights_base,
 * rights_inheriting, fdflags, fd_ptr) */
static int
do_path_open(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	char path[4096];
	int dfd = dir_fd(c, (uint32_t)a[0]);
	uint32_t oflags = (uint32_t)a[4], fdflags = (uint32_t)a[7];
	uint64_t rights = a[5];
	int e;
	if (dfd < 0)
		return E_BADF;
	if ((e = get_path(m, (uint32_t)a[2], (uint32_t)a[3], path,
	         sizeof(path))))
		return e;
	int slot = -1;
	for (int i = 4; i < WASI_MAX_FDS; i++)
		if (c->fds[i] < 0) {
			slot = i;
			break;
		}
	if (slot < 0)
		return E_MFILE;
	int rd = (rights & (1ull << 1)) != 0, wr = (rights & (1ull << 6)) != 0;
	int flags = wr ? (rd ? O_RDWR : O_WRONLY) : O_RDONLY;
	if (oflags & 1)
		flags |= O_CREAT;
	if (oflags & 2)
		flags = O_RDONLY | O_DIRECTORY;
	if (oflags & 4)
		flags |= O_EXCL;
	if (oflags & 8)
		flags |= O_TRUNC;
	if (fdflags & 1)
		flags |= O_APPEND;
	int fd = open_beneath(dfd, path, flags, 0644);
	if (fd < 0 && errno == EISDIR && !(oflags & 2) && !wr)
		fd = open_beneath(dfd, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return werrno(errno);
	if ((e = put32(m, (uint32_t)a[8], (uint32_t)slot))) {
		close(fd);
		return e;
	}
	c->fds[slot] = fd;
	return 0;
}

/* path_filestat_get(dirfd, lookupflags, path, path_len, filestat_ptr);
 * lookupflags bit 0 follows a final symlink. */
static int
do_path_filestat_get(struct wasi_ctx *c, struct wasm_abi_mem *m,
    const uint64_t *a)
{
	char path[4096];
	struct stat st;
	int dfd = dir_fd(c, (uint32_t)a[0]), fd, r;

	if (dfd < 0)
		return E_BADF;
	if ((r = get_path(m, (uint32_t)a[2], (uint32_t)a[3], path,
	         sizeof(path))))
		return r;
	fd = open_beneath(dfd, path, O_PATH | ((a[1] & 1) ? 0 : O_NOFOLLOW), 0);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = werrno(errno);
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	return put_filestat(m, (uint32_t)a[4], &st);
}

/* path_create_directory, path_unlink_file, path_remove_directory (dirfd,
 * path, path_len): act on the last component, in its parent opened
 * beneath dirfd; "." and ".." are refused. */
static int
path_change(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a,
    int id)
{
	char path[4096];
	const char *leaf;
	int dfd = dir_fd(c, (uint32_t)a[0]), pfd, r;

	if (dfd < 0)
		return E_BADF;
	if ((r = get_path(m, (uint32_t)a[1], (uint32_t)a[2], path,
	         sizeof(path))))
		return r;
	pfd = split_parent(dfd, path, &leaf);
	if (pfd < 0)
		return werrno(errno);
	if (!*leaf || strcmp(leaf, "..") == 0 || strcmp(leaf, ".") == 0) {
		close(pfd);
		return E_NOTCAPABLE;
	}
	int rc2 = id == W_PATH_CREATE_DIRECTORY ?
	    mkdirat(pfd, leaf, 0755) :
	    unlinkat(pfd, leaf,
	        id == W_PATH_REMOVE_DIRECTORY ? AT_REMOVEDIR : 0);
	r = rc2 < 0 ? werrno(errno) : 0;
	close(pfd);
	return r;
}

static int
do_path_create_directory(struct wasi_ctx *c, struct wasm_abi_mem *m,
    const uint64_t *a)
{
	return path_change(c, m, a, W_PATH_CREATE_DIRECTORY);
}

static int
do_path_unlink_file(struct wasi_ctx *c, struct wasm_abi_mem *m,
    const uint64_t *a)
{
	return path_change(c, m, a, W_PATH_UNLINK_FILE);
}

static int
do_path_remove_directory(struct wasi_ctx *c, struct wasm_abi_mem *m,
    const uint64_t *a)
{
	return path_change(c, m, a, W_PATH_REMOVE_DIRECTORY);
}

/* ---- clocks, randomness, scheduling ---- */

static const clockid_t wasi_clocks[4] = { CLOCK_REALTIME, CLOCK_MONOTONIC,
	CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID };

/* clock_res_get(clock_id, resolution_ptr) */
static int
do_clock_res_get(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	struct timespec ts;
	(void)c;
	if (a[0] > 3)
		return E_INVAL;
	clock_getres(wasi_clocks[a[0]], &ts);
	return put64(m, (uint32_t)a[1], ts.tv_sec * 1000000000ull + ts.tv_nsec);
}

/* clock_time_get(clock_id, precision, time_ptr) */
static int
do_clock_time_get(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	struct timespec ts;
	(void)c;
	if (a[0] > 3)
		return E_INVAL;
	clock_gettime(wasi_clocks[a[0]], &ts);
	return put64(m, (uint32_t)a[2], ts.tv_sec * 1000000000ull + ts.tv_nsec);
}

/* random_get(buf, buf_len) */
static int
do_random_get(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	uint8_t *d = gp(m, (uint32_t)a[0], (uint32_t)a[1]);
	size_t len = (uint32_t)a[1], off = 0;
	(void)c;
	if (!d)
		return E_FAULT;
	while (off < len) {
		ssize_t g = getrandom(d + off, len - off, 0);
		if (g < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)g;
	}
	return off == len ? 0 : E_IO;
}

/* sched_yield() */
static int
do_sched_yield(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	(void)c;
	(void)m;
	(void)a;
	sched_yield();
	return 0;
}

/* poll_oneoff(in, out, nsubscriptions, nevents_ptr): clock subscriptions
 * alone sleep until the earliest and all fire; with an fd subscription
 * among them nothing sleeps and only the fd events are reported. */
static int
do_poll_oneoff(struct wasi_ctx *c, struct wasm_abi_mem *m, const uint64_t *a)
{
	uint32_t in = (uint32_t)a[0], out = (uint32_t)a[1], n = (uint32_t)a[2],
	         pn = (uint32_t)a[3];
	(void)c;
	uint8_t *subs = gp(m, in, 48ull * n), *evs = gp(m, out, 32ull * n);
	if (!subs || !evs || n == 0)
		return n == 0 ? E_INVAL : E_FAULT;
	uint64_t best = UINT64_MAX;
	int have_fd = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *s = subs + 48 * i;
		if (s[8] == 0) {
			uint64_t t, now;
			uint16_t fl;
			memcpy(&t, s + 24, 8);
			memcpy(&fl, s + 40, 2);
			if (fl & 1) {
				struct timespec ts;
				uint32_t id = get32(s + 16);
				clock_gettime(id == 0 ? CLOCK_REALTIME :
				                        CLOCK_MONOTONIC,
				    &ts);
				now = ts.tv_sec * 1000000000ull + ts.tv_nsec;
				t = t > now ? t - now : 0;
			}
			if (t < best)
				best = t;
		} else {
			have_fd = 1;
		}
	}
	if (!have_fd && best != UINT64_MAX && best > 0) {
		struct timespec ts = { (time_t)(best / 1000000000ull),
			(long)(best % 1000000000ull) };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *s = subs + 48 * i, *e = evs + 32 * k;
		if (s[8] == 0 && have_fd)
			continue;
		memset(e, 0, 32);
		memcpy(e, s, 8);
		e[10] = s[8];
		k++;
	}
	return put32(m, pn, k);
}

/* Indexed by binding id; proc_exit, which does not return, is apart. */
static int (*const wasi_impl[W_ENOSYS])(struct wasi_ctx *,
    struct wasm_abi_mem *, const uint64_t *) = {
	[W_ARGS_GET] = do_args_get,
	[W_ARGS_SIZES_GET] = do_args_sizes_get,
	[W_ENVIRON_GET] = do_environ_get,
	[W_ENVIRON_SIZES_GET] = do_environ_sizes_get,
	[W_FD_WRITE] = do_fd_write,
	[W_FD_READ] = do_fd_read,
	[W_FD_CLOSE] = do_fd_close,
	[W_FD_SEEK] = do_fd_seek,
	[W_FD_TELL] = do_fd_tell,
	[W_FD_FDSTAT_GET] = do_fd_fdstat_get,
	[W_FD_FDSTAT_SET_FLAGS] = do_fd_fdstat_set_flags,
	[W_FD_PRESTAT_GET] = do_fd_prestat_get,
	[W_FD_PRESTAT_DIR_NAME] = do_fd_prestat_dir_name,
	[W_PATH_OPEN] = do_path_open,
	[W_FD_FILESTAT_GET] = do_fd_filestat_get,
	[W_PATH_FILESTAT_GET] = do_path_filestat_get,
	[W_PATH_CREATE_DIRECTORY] = do_path_create_directory,
	[W_PATH_UNLINK_FILE] = do_path_unlink_file,
	[W_PATH_REMOVE_DIRECTORY] = do_path_remove_directory,
	[W_CLOCK_TIME_GET] = do_clock_time_get,
	[W_CLOCK_RES_GET] = do_clock_res_get,
	[W_RANDOM_GET] = do_random_get,
	[W_SCHED_YIELD] = do_sched_yield,
	[W_POLL_ONEOFF] = do_poll_oneoff,
	[W_FD_SYNC] = do_fd_sync,
	[W_FD_READDIR] = do_fd_readdir,
};

int
wasi_call(struct wasi_ctx *c, int id, const uint64_t *a, uint64_t *res,
    struct wasm_abi_mem *m)
{
	int r = E_NOSYS;

	if (id == W_PROC_EXIT) {
		c->exit_code = (int)(uint32_t)a[0];
		c->exited = 1;
		return WASM_TRAP_EXIT;
	}
	if (id > W_NONE && id < W_ENOSYS && wasi_impl[id])
		r = wasi_impl[id](c, m, a);
	res[0] = (uint32_t)r;
	return 0;
}
