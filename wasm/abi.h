/*
 * wasm_abi: the binary interface between the provider and a compiled module
 * (.so).  The same declarations are compiled into every module's shim (by
 * stringification in wasm/compile.c), so both sides agree by construction;
 * WASM_ABI_VERSION is part of the cache key.
 */
#ifndef LODGE_PROVIDER_WASM_ABI_H
#define LODGE_PROVIDER_WASM_ABI_H

#include <stdint.h>

#define WASM_ABI_VERSION 8
#define WASM_ABI_SYMBOL "lodge_wasm_module"

/* Address space a guard-page memory reserves: every address a load or
 * store can form (a 32-bit address plus a 32-bit offset) and the widest
 * access (8 bytes) past it, rounded up to a 64 KiB page. */
#define WASM_ABI_GUARD_RESERVE ((8ull << 30) + 65536)

/* Trap codes returned by instantiate/call (1..7 are wasm2c's own).
 * struct wasm_abi_module's guard_pages: 1 when the module's loads and
 * stores are unchecked and each memory reserves WASM_ABI_GUARD_RESERVE
 * bytes of which only its size is accessible: a fault in that range, on
 * a thread inside instantiate or call, must be turned into a trap by
 * calling trap(WASM_TRAP_OOB) from the signal handler (it longjmps, never
 * returns); 0 when every access is checked. */
#define WASM_ABI_DECLS                                                        \
	enum wasm_abi_trap {                                                  \
		WASM_TRAP_NONE = 0,                                           \
		WASM_TRAP_OOB = 1,                                            \
		WASM_TRAP_INT_OVERFLOW = 2,                                   \
		WASM_TRAP_DIV_BY_ZERO = 3,                                    \
		WASM_TRAP_INVALID_CONVERSION = 4,                             \
		WASM_TRAP_UNREACHABLE = 5,                                    \
		WASM_TRAP_CALL_INDIRECT = 6,                                  \
		WASM_TRAP_EXCEPTION = 7,                                      \
		WASM_TRAP_EXHAUSTION = 8,                                     \
		WASM_TRAP_EXIT = 9,                                           \
		WASM_TRAP_HOST = 10,                                          \
		WASM_TRAP_MEMLIMIT = 11,                                      \
	};                                                                    \
	struct wasm_abi_mem {                                                 \
		uint8_t *data;                                                \
		uint32_t pages, max_pages;                                    \
		uint32_t size;                                                \
	};                                                                    \
	struct wasm_abi_import {                                              \
		uint64_t value;                                               \
		uint32_t min, max;                                            \
	};                                                                    \
	struct wasm_abi_host {                                                \
		int (*call)(void *ctx, uint32_t import, const uint64_t *args, \
		    uint64_t *results, struct wasm_abi_mem *mem);             \
		void *ctx;                                                    \
		const struct wasm_abi_import *imports;                        \
		uint32_t mem_limit_pages;                                     \
		uint32_t table_limit;                                         \
		int64_t fuel;                                                 \
	};                                                                    \
	struct wasm_abi_module {                                              \
		uint32_t abi_version;                                         \
		uint32_t instance_size;                                       \
		void (*init)(void);                                           \
		int (*instantiate)(void *inst,                                \
		    const struct wasm_abi_host *host);                        \
		int (*call)(void *inst, uint32_t export_index,                \
		    const uint64_t *args, uint64_t *results);                 \
		int (*global_get)(void *inst, uint32_t export_index,          \
		    uint64_t *out);                                           \
		int64_t *(*fuel)(void *inst);                                 \
		struct wasm_abi_mem *(*memory)(void *inst);                   \
		void (*release)(void *inst);                                  \
		int guard_pages;                                              \
		void (*trap)(int code);                                       \
	};

WASM_ABI_DECLS

#endif
