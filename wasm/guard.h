/*
 * wasm_guard: the host's side of guard-page bounds checks.  A module
 * compiled for guard pages reserves WASM_ABI_GUARD_RESERVE bytes of
 * address space per memory and leaves its loads and stores unchecked; an
 * access outside the memory faults, and the SIGSEGV handler installed
 * here turns the fault into the module's "out of bounds" trap when it hit
 * the memory of the instance the thread is running.  Any other fault is
 * passed on (to the handler there was before, or the default action).
 */
#ifndef LODGE_PROVIDER_WASM_GUARD_H
#define LODGE_PROVIDER_WASM_GUARD_H

#include "wasm/abi.h"

/* How a module checks its memory accesses (part of the compile cache
 * key). */
enum wasm_bounds {
	WASM_BOUNDS_AUTO = 0, /* guard pages if wasm_guard_usable() */
	WASM_BOUNDS_EXPLICIT = 1, /* a compare before every access */
	WASM_BOUNDS_GUARD = 2, /* guard pages and the signal handler */
};

/* 1 when this process can reserve a guard-page memory: RLIMIT_AS leaves
 * room for WASM_ABI_GUARD_RESERVE (and 1 GiB) beyond what it maps now,
 * and a reservation of that size succeeds.  Cheap enough to ask once per
 * program load. */
int wasm_guard_usable(void);

/* mode, with WASM_BOUNDS_AUTO decided by wasm_guard_usable(). */
int wasm_bounds_resolve(int mode);

/* "guard" or "explicit" (any other value: "auto"). */
const char *wasm_bounds_name(int mode);

/* Parse "auto", "guard" or "explicit" into *mode; ERR_INVAL naming what
 * (e.g. "LODGE_WASM_BOUNDS") otherwise. */
int wasm_bounds_parse(const char *s, const char *what, int *mode);

/* Install the SIGSEGV and SIGBUS handler unless it is there already
 * (what was there gets the faults that are not ours).  Called before
 * every instance of a guard-page module.  Returns 0 or ERR_IO. */
int wasm_guard_install(void);

/* What the calling thread runs: set around every call into a module's
 * instantiate and call, restored after (calls may nest). */
struct wasm_guard_frame {
	const struct wasm_abi_module *abi;
	void *inst;
};

void wasm_guard_enter(const struct wasm_abi_module *abi, void *inst,
    struct wasm_guard_frame *saved);
void wasm_guard_leave(const struct wasm_guard_frame *saved);

#endif
