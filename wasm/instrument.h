/*
 * wasm_instrument: WebAssembly-to-WebAssembly rewrite for deterministic fuel
 * metering, and the renaming that gives wasm2c predictable C symbols.
 * The cost table is documented in docs/wasm.md (§Fuel).
 */
#ifndef LODGE_PROVIDER_WASM_INSTRUMENT_H
#define LODGE_PROVIDER_WASM_INSTRUMENT_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/decode.h"

/* Name of the exported mutable i64 global holding the remaining fuel, and
 * of the export added for memory 0. */
#define WASM_FUEL_EXPORT "lodge_fuel"
#define WASM_MEM_EXPORT "lodge_mem"
#define WASM_START_EXPORT "lodge_start"

/* Dynamic costs: bytes per fuel unit of memory.copy/fill/init (as a shift),
 * fuel per element of table.copy/init/fill/grow, fuel per page grown. */
#define WASM_FUEL_BYTES_SHIFT 4
#define WASM_FUEL_PER_ELEM 1
#define WASM_FUEL_PER_PAGE 4096

struct wasm_instrument_opts {
	int fuel; /* 0: rename only, the fuel global stays untouched */
};

/* Static fuel cost of one instruction (op as in struct wasm_instr). */
uint32_t wasm_fuel_cost(uint32_t op);

/* Rewrite a validated module: every import renamed to module "h", field
 * "i<N>" (N its index in the import section); every export to "e<N>"
 * (N its index in the export section); exports WASM_FUEL_EXPORT (a new
 * last global, mutable i64, initially 0) and WASM_MEM_EXPORT (memory 0,
 * when there is one), WASM_START_EXPORT (the start function, whose section
 * is dropped: the host calls it once the fuel is set); custom sections
 * dropped.  With opts->fuel, each
 * straight-line run of code is charged its static cost at its start,
 * function entries and loop headers trap with `unreachable` when the fuel
 * is below zero, and bulk memory/table operations and memory.grow are
 * charged by their length.  *out (malloc'd, caller frees) holds the new
 * binary.  Returns 0, ERR_NOMEM, or ERR_INVAL if the module is corrupt. */
int wasm_instrument(const struct wasm_module *m,
    const struct wasm_instrument_opts *opts, uint8_t **out, size_t *out_len);

#endif
