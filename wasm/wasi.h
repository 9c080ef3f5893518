/*
 * wasm_wasi: WASI preview 1 (wasi_snapshot_preview1) host functions for
 * compiled modules: args, environ, stdio, files confined to one preopened
 * directory (/data), clocks, random, proc_exit, sched_yield, poll_oneoff on
 * clocks.  Anything else returns ENOSYS.  Spec: WebAssembly/WASI
 * legacy/preview1/docs.md.
 */
#ifndef LODGE_PROVIDER_WASM_WASI_H
#define LODGE_PROVIDER_WASM_WASI_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/abi.h"

#define WASI_ENOSYS 52
#define WASI_MAX_FDS 64

/* Growable byte buffer for captured output. */
struct wasm_buf {
	uint8_t *data;
	size_t len, cap, max; /* max 0: unlimited; beyond it, dropped */
};

/* Where a program's world comes from.  All pointers borrowed. */
struct wasm_io {
	int argc;
	const char *const *argv;
	const char *const *envp; /* NULL-terminated "K=V", may be NULL */
	int stdin_fd, stdout_fd, stderr_fd; /* -1: none (EBADF / dropped) */
	const uint8_t *stdin_data; /* when non-NULL, stdin reads this */
	size_t stdin_len;
	struct wasm_buf *stdout_buf; /* when non-NULL, stdout goes here */
	const char *data_dir; /* host dir preopened as /data, or NULL */
};

struct wasi_ctx {
	const struct wasm_io *io;
	size_t stdin_pos;
	int fds[WASI_MAX_FDS]; /* host fds; -1 free; 3 the preopen */
	int exit_code;
	int exited;
	uint64_t bytes_in, bytes_out;
};

/* Binding ids of the implemented functions (0: not WASI). */
int wasi_lookup(const char *name, size_t len, const uint8_t *params,
    uint32_t nparams, const uint8_t *results, uint32_t nresults);

/* Prepare/close a context (opens data_dir).  Returns 0 or ERR_IO. */
int wasi_ctx_init(struct wasi_ctx *c, const struct wasm_io *io);
void wasi_ctx_close(struct wasi_ctx *c);

/* Run binding id with args; writes results[0] (the errno).  Returns 0 or
 * WASM_TRAP_EXIT (proc_exit) / WASM_TRAP_OOB (bad pointer in a place the
 * ABI cannot report EFAULT). */
int wasi_call(struct wasi_ctx *c, int id, const uint64_t *args,
    uint64_t *results, struct wasm_abi_mem *mem);

int wasm_buf_append(struct wasm_buf *b, const void *d, size_t n);
void wasm_buf_free(struct wasm_buf *b);

#endif
