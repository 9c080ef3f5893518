/*
 * wasm_instrument: WebAssembly-to-WebAssembly rewrite for deterministic fuel
 * metering and call-depth counting, and the renaming that gives wasm2c
 * predictable C symbols.  The cost table is documented in docs/wasm.md
 * (§Fuel), the depth rule in §Call depth.
 */
#ifndef LODGE_PROVIDER_WASM_INSTRUMENT_H
#define LODGE_PROVIDER_WASM_INSTRUMENT_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/decode.h"

/* Name of the exported mutable i64 global holding the remaining fuel, and
 * of the export added for memory 0. */
#define WASM_FUEL_EXPORT "lodge_fuel"
#define WASM_DEPTH_EXPORT "lodge_depth"
#define WASM_MEM_EXPORT "lodge_mem"
#define WASM_START_EXPORT "lodge_start"

/* Dynamic costs: bytes per fuel unit of memory.copy/fill/init (as a shift),
 * fuel per element of table.copy/init/fill/grow, fuel per page grown. */
#define WASM_FUEL_BYTES_SHIFT 4
#define WASM_FUEL_PER_ELEM 1
#define WASM_FUEL_PER_PAGE 4096

struct wasm_instrument_opts {
	int fuel; /* 0: rename only, the fuel global stays untouched */
	uint32_t max_depth; /* call depth limit; 0: no depth counting */
};

/* Static fuel cost of one instruction (op as in struct wasm_instr). */
uint32_t wasm_fuel_cost(uint32_t op);

/* Which defined functions can be on a cycle of calls, counting a
 * call_indirect as a call to every function of its type (structurally)
 * that an element segment or a ref.func names: *rec (malloc'd, m->ncodes
 * entries, caller frees) gets 1 for each.  Returns 0, ERR_NOMEM or
 * ERR_INVAL (corrupt code). */
int wasm_recursive_funcs(const struct wasm_module *m, uint8_t **rec);

/* Rewrite a validated module: every import renamed to module "h", field
 * "i<N>" (N its index in the import section); every export to "e<N>"
 * (N its index in the export section); exports WASM_FUEL_EXPORT (a new
 * global after the module's own, mutable i64, initially 0),
 * WASM_DEPTH_EXPORT (the next one, mutable i32, initially 0) and
 * WASM_MEM_EXPORT (memory 0, when there is one), WASM_START_EXPORT (the
 * start function, whose section is dropped: the host calls it once the
 * fuel is set); custom sections dropped.  With opts->fuel, each
 * straight-line run of code is charged its static cost at its start (the
 * fuel global written after each charge), function entries and loop
 * headers trap with `unreachable` when the fuel is below zero, and bulk
 * memory/table operations and memory.grow are charged by their length.
 * With opts->max_depth, every function that can be on a cycle of calls
 * (direct, or call_indirect to a function of that type that an element
 * segment or a ref.func names) counts one more frame than its caller,
 * and traps with `unreachable` once past max_depth, the depth global set
 * to the depth; other functions can appear at most once on any call stack
 * and are not counted.
 * With either, every defined function takes, after its own parameters,
 * the fuel (i64, with opts->fuel) and the depth (i32, with max_depth),
 * and returns, after its own results, the fuel left (i64, with
 * opts->fuel): the host passes the fuel global and 0 when it calls an
 * export or the start function that is not an import.  Imports keep their
 * types; one a table can hold gets a wrapper of the widened type (a new
 * defined function after the others).  *out (malloc'd, caller frees)
 * holds the new binary.  Returns 0, ERR_NOMEM, or ERR_INVAL if the module
 * is corrupt. */
int wasm_instrument(const struct wasm_module *m,
    const struct wasm_instrument_opts *opts, uint8_t **out, size_t *out_len);

#endif
