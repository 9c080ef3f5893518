/*
 * wasm_compile: ahead-of-time compilation of a validated module: fuel
 * instrumentation, wasm2c (Debian's wabt), then cc into a shared object,
 * kept in a content-addressed cache (SHA-256 of module, options and
 * toolchain).  The compiler runs under CPU-time and memory limits.
 */
#ifndef LODGE_PROVIDER_WASM_COMPILE_H
#define LODGE_PROVIDER_WASM_COMPILE_H

#include <stdint.h>

#include "wasm/decode.h"

/* Call depth at which a "call stack exhausted" trap is raised: frames of
 * functions that can be on a cycle of calls (wasm/instrument.h). */
#define WASM_CALL_DEPTH_DEFAULT 4000u

struct wasm_compile_opts {
	const char *cache_dir; /* created if missing */
	int opt_level; /* cc -O level 0..3 */
	int fuel; /* instrument for fuel (1) or not (0) */
	uint32_t max_call_depth; /* frames of functions that can recurse */
	int bounds; /* enum wasm_bounds (wasm/guard.h) */
	uint64_t cpu_seconds; /* RLIMIT_CPU of wasm2c and cc */
	uint64_t mem_bytes; /* RLIMIT_AS of wasm2c and cc */
};

/* Defaults: cache $LODGE_WASM_CACHE or $TMPDIR/lodge-wasm-cache-<uid>,
 * -O2, fuel on, depth WASM_CALL_DEPTH_DEFAULT, bounds WASM_BOUNDS_AUTO,
 * 300 s, 4 GiB. */
void wasm_compile_opts_init(struct wasm_compile_opts *o);

/* Compile m (or find it in the cache); o->bounds WASM_BOUNDS_AUTO is
 * decided here (wasm_bounds_resolve).  *so_path (malloc'd, caller frees)
 * names the shared object; *cached (may be NULL) says whether it was
 * already there.  Errors: ERR_IO (toolchain missing, compiler failed or
 * exceeded its limits; the message carries the compiler's last lines),
 * ERR_NOMEM. */
int wasm_compile(const struct wasm_module *m, const struct wasm_compile_opts *o,
    char **so_path, int *cached);

/* "wasm2c <version>; cc <version>; abi <n>" (static storage). */
const char *wasm_toolchain_version(void);

/* SHA-256 of data as 64 hex characters + NUL. */
void wasm_sha256_hex(const void *data, size_t len, char out[65]);

#endif
