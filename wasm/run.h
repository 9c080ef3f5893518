/*
 * wasm_run: load a compiled module (decode, compile or cache hit, dlopen),
 * link its imports (WASI preview 1; the spec suite's "spectest"), and run
 * fresh instances with a fuel budget and a memory cap; classify traps and
 * report usage.  wasm_run_isolated() does it in a confined worker process.
 */
#ifndef LODGE_PROVIDER_WASM_RUN_H
#define LODGE_PROVIDER_WASM_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/abi.h"
#include "wasm/compile.h"
#include "wasm/decode.h"
#include "wasm/wasi.h"

enum {
	WASM_LINK_WASI = 1,
	WASM_LINK_SPECTEST = 2,
};

struct wasm_load_opts {
	struct wasm_compile_opts compile;
	struct wasm_decode_limits limits;
	int link; /* WASM_LINK_* mask; default WASI */
};

/* Defaults (wasm_compile_opts_init); compile.bounds from the environment's
 * LODGE_WASM_BOUNDS (auto, guard or explicit) when set. */
void wasm_load_opts_init(struct wasm_load_opts *o);

struct wasm_program {
	struct wasm_module *mod;
	const struct wasm_abi_module *abi;
	void *dl;
	char *so_path;
	struct wasm_abi_import *imports;
	int *bind; /* per import: WASI id, -1 no-op, 0 none */
	int start_export; /* export index of "_start", or -1 */
	int cached; /* the .so came from the cache */
	int bounds; /* WASM_BOUNDS_GUARD or _EXPLICIT: how it was compiled */
};

/* Decode, validate, compile (or reuse the cache), load and link, with
 * guard pages or explicit bounds checks (o->compile.bounds,
 * WASM_BOUNDS_AUTO deciding by wasm_guard_usable(); the first instance of
 * a guard-page program installs the fault handler, wasm/guard.h).  On
 * success *out is owned by the caller (wasm_program_free).  Errors as for
 * wasm_module_decode and wasm_compile; ERR_REJECT for an import that
 * cannot be satisfied (message names it); ERR_INVAL for a bad
 * LODGE_WASM_BOUNDS. */
int wasm_program_load(const uint8_t *bytes, size_t len,
    const struct wasm_load_opts *o, struct wasm_program **out);
void wasm_program_free(struct wasm_program *p);

/* Index of the export named name (len bytes) of kind, or -1. */
int wasm_program_export(const struct wasm_program *p, const char *name,
    size_t len, uint8_t kind);

struct wasm_run_limits {
	int64_t fuel; /* budget; < 0: unlimited */
	uint64_t memory_bytes; /* linear memory cap; 0: 4 GiB - 64 KiB */
	uint64_t wall_ms; /* isolated runs: deadline; 0: none */
};

struct wasm_instance {
	const struct wasm_program *p;
	void *inst;
	struct wasi_ctx wasi;
	struct wasm_abi_host host;
	int64_t budget;
	int live;
};

/* A fresh instance (memory, tables, globals, data, start function).
 * Returns 0 with *out set (free it with wasm_instance_free) and *trap 0,
 * or *trap > 0 (enum wasm_abi_trap) when instantiation trapped: then the
 * instance may only be asked for its fuel and freed.  < 0 on error. */
int wasm_instance_new(const struct wasm_program *p, const struct wasm_io *io,
    const struct wasm_run_limits *l, struct wasm_instance **out, int *trap);

/* Call export export_index with args (as 64-bit slots: i32/f32 in the low
 * 32 bits, floats as bit patterns); results likewise.  Returns the trap
 * code (0 when none). */
int wasm_instance_call(struct wasm_instance *in, uint32_t export_index,
    const uint64_t *args, uint64_t *results);

/* Fuel remaining (negative after an out-of-fuel trap) and used. */
int64_t wasm_instance_fuel_left(const struct wasm_instance *in);
uint64_t wasm_instance_fuel_used(const struct wasm_instance *in);
uint64_t wasm_instance_mem_bytes(const struct wasm_instance *in);

void wasm_instance_free(struct wasm_instance *in);

/* One line describing a trap: "out of fuel", "out of bounds memory
 * access", "call stack exhausted", ... */
const char *wasm_trap_message(int trap, int64_t fuel_left);

struct wasm_usage {
	uint64_t fuel;
	uint64_t cpu_ms, wall_ms;
	uint64_t mem_peak_bytes;
	uint64_t bytes_in, bytes_out;
	uint64_t requests;
};

struct wasm_outcome {
	int trap; /* 0, or enum wasm_abi_trap */
	int out_of_fuel;
	int timed_out; /* isolated runs: wall deadline hit */
	int exit_code; /* proc_exit / 0 on return; 128+n trap */
	char message[128]; /* "trap: ..." or "" */
};

#define WASM_TRAP_EXIT_CODE 134

/* Fresh instance, call _start, release: in this process.  Returns 0
 * (outcome filled, traps included) or < 0 (no _start, I/O). */
int wasm_program_run(const struct wasm_program *p, const struct wasm_io *io,
    const struct wasm_run_limits *l, struct wasm_outcome *oc,
    struct wasm_usage *u);

/* The same in a worker process confined with rlimits (address space,
 * CPU, files), no_new_privs and the provider's seccomp policy; a wall
 * deadline kills it.  cpu_ms comes from the worker's rusage. */
int wasm_run_isolated(const struct wasm_program *p, const struct wasm_io *io,
    const struct wasm_run_limits *l, struct wasm_outcome *oc,
    struct wasm_usage *u);

/* ---- for commands (`provider wasm ...`) ---- */

#define WASM_MODULE_FILE_MAX (64u << 20) /* bytes of a module file */
#define WASM_COMMAND_STACK (256u << 20) /* native stack of a command */

/* Lower o's cap on a module's declared memory to bytes (0: no change): a
 * module declaring more than its lease has cannot run. */
void wasm_load_opts_cap_memory(struct wasm_load_opts *o, uint64_t bytes);

/* wasm_program_load of the file at path (at most WASM_MODULE_FILE_MAX
 * bytes); the message names path. */
int wasm_program_load_file(const char *path, const struct wasm_load_opts *o,
    struct wasm_program **out);

/* Decode and validate the module in the file at path (no compile). */
int wasm_validate_file(const char *path);

/* Run p's _start as a command does: wasm_run_isolated, or (isolated 0)
 * wasm_program_run, on a thread with a WASM_COMMAND_STACK native stack,
 * since deep wasm recursion is deep native recursion.  Returns as they do;
 * the error state comes back to the calling thread. */
int wasm_run_command(const struct wasm_program *p, const struct wasm_io *io,
    const struct wasm_run_limits *l, int isolated, struct wasm_outcome *oc,
    struct wasm_usage *u);

#endif
