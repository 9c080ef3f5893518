/*
 * wasm_decode: WebAssembly binary decoder and validator (WebAssembly Core
 * Specification 2.0, §5 binary format and §3 validation) into a typed module.
 * Supported: MVP, sign-extension, non-trapping float-to-int, multi-value,
 * bulk memory, reference types.  SIMD, threads, exceptions, tail calls,
 * memory64 and multi-memory are refused (wasm2c 1.0.32 cannot compile SIMD).
 */
#ifndef LODGE_PROVIDER_WASM_DECODE_H
#define LODGE_PROVIDER_WASM_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum wasm_valtype {
	WASM_I32 = 0x7f,
	WASM_I64 = 0x7e,
	WASM_F32 = 0x7d,
	WASM_F64 = 0x7c,
	WASM_V128 = 0x7b,
	WASM_FUNCREF = 0x70,
	WASM_EXTERNREF = 0x6f,
};

enum wasm_extern_kind {
	WASM_EXT_FUNC = 0,
	WASM_EXT_TABLE = 1,
	WASM_EXT_MEMORY = 2,
	WASM_EXT_GLOBAL = 3,
};

/* Resource limits enforced on top of the specification's own rules. */
struct wasm_decode_limits {
	size_t max_module_bytes;
	uint32_t max_funcs;
	uint32_t max_locals; /* per function, params included */
	uint32_t max_memory_pages; /* declared minimum */
	uint32_t max_table_size; /* declared minimum */
	uint32_t max_body_bytes;
};

#define WASM_LIMIT_MODULE_BYTES (64u << 20)
#define WASM_LIMIT_FUNCS 100000u
#define WASM_LIMIT_LOCALS 50000u
#define WASM_LIMIT_PAGES 65536u
#define WASM_LIMIT_TABLE 10000000u
#define WASM_LIMIT_BODY (8u << 20)

struct wasm_functype {
	uint32_t nparams, nresults;
	const uint8_t *params; /* valtypes, into the module's bytes */
	const uint8_t *results;
};

struct wasm_limits {
	uint32_t min, max;
	int has_max;
};

struct wasm_name {
	const char *s; /* into the module's bytes, not NUL-ended */
	uint32_t len;
};

struct wasm_import {
	struct wasm_name module, name;
	uint8_t kind; /* enum wasm_extern_kind */
	uint32_t type; /* func: type index */
	uint8_t valtype; /* global: type; table: element type */
	uint8_t mut; /* global */
	struct wasm_limits lim; /* table, memory */
};

struct wasm_export {
	struct wasm_name name;
	uint8_t kind;
	uint32_t index;
};

struct wasm_global {
	uint8_t valtype, mut;
	size_t init_off, init_len; /* constant expression incl. its end */
};

struct wasm_table {
	uint8_t elemtype;
	struct wasm_limits lim;
};

struct wasm_code {
	size_t off, len; /* the body: locals then expression */
	size_t expr_off; /* first instruction */
	uint32_t nlocals; /* declared locals (params excluded) */
};

/* A typed view of a module.  Offsets are into bytes[]. */
struct wasm_module {
	uint8_t *bytes;
	size_t len;

	struct wasm_functype *types;
	uint32_t ntypes;
	struct wasm_import *imports;
	uint32_t nimports;
	uint32_t nfunc_imports, nglobal_imports, ntable_imports, nmem_imports;

	uint32_t *func_types; /* every function (imports first): type idx */
	uint32_t nfuncs; /* total, imports included */
	struct wasm_table *tables; /* every table, imports first */
	uint32_t ntables;
	struct wasm_limits mem; /* memory 0 */
	uint32_t nmems;
	struct wasm_global *globals; /* every global, imports first */
	uint32_t nglobals;
	struct wasm_export *exports;
	uint32_t nexports;
	int has_start;
	uint32_t start;
	uint32_t nelems, ndatas;
	int has_datacount;
	struct wasm_code *codes; /* defined functions only */
	uint32_t ncodes;

	/* Byte ranges of each known section (id 1..12): payload after the
	 * size, or len 0 when absent. */
	size_t sec_off[13], sec_len[13];
};

/* Decode and validate bytes[0..len) (copied).  limits NULL: the defaults
 * above.  On success *out is owned by the caller (wasm_module_free).  Errors:
 * ERR_INVAL with a message "SECTION section, offset N: what" (malformed or
 * invalid), ERR_REJECT for a feature outside the supported set, ERR_LIMIT
 * for a resource limit. */
int wasm_module_decode(const uint8_t *bytes, size_t len,
    const struct wasm_decode_limits *limits, struct wasm_module **out);
void wasm_module_free(struct wasm_module *m);

/* Default limits. */
void wasm_decode_limits_default(struct wasm_decode_limits *l);

/* ---- instruction reader, shared with the instrumenter ---- */

/* One decoded instruction.  op is the opcode, or 0xFC00|sub for the 0xFC
 * prefix.  Immediates: a, b (indices, alignment/offset, block type index),
 * i64 (constants), bt (block type: 0x40, a valtype, or 0 with a = type
 * index), br_table targets start at tbl (count a, default b). */
struct wasm_instr {
	uint32_t op;
	uint32_t a, b;
	uint64_t i64;
	int32_t bt;
	size_t tbl;
	size_t len; /* bytes of the whole instruction */
};

/* Decode the instruction at bytes[off] (end: limit).  Returns 0 or
 * ERR_INVAL (malformed immediate, unknown opcode). */
int wasm_instr_decode(const uint8_t *bytes, size_t off, size_t end,
    struct wasm_instr *in);

/* Read an unsigned LEB128 u32 at bytes[*off]; advances *off. */
int wasm_read_u32(const uint8_t *bytes, size_t *off, size_t end, uint32_t *out);

/* Number of result values / params of block type bt,a. */
const char *wasm_valtype_name(uint8_t t);

#endif
