/*
 * Fuzz the wasm decoder/validator and the instrumenter: any input must
 * decode without crashing; a module that validates must, once instrumented
 * (fuel on and off, call depth counted or not), validate again with two
 * more globals and the same functions plus the wrappers of the imports a
 * table can hold (defined functions too).
 */
#include <stdint.h>
#include <stdlib.h>

#include "wasm/decode.h"
#include "wasm/instrument.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wasm_module *m = NULL, *m2 = NULL;
	if (wasm_module_decode(data, size, NULL, &m) != 0)
		return 0;
	for (int k = 0; k < 4; k++) {
		struct wasm_instrument_opts o = { .fuel = k & 1,
			.max_depth = k & 2 ? 4000 : 0 };
		uint8_t *out = NULL;
		size_t n = 0;
		if (wasm_instrument(m, &o, &out, &n) != 0)
			abort();
		if (wasm_module_decode(out, n, NULL, &m2) != 0)
			abort();
		if (m2->nglobals != m->nglobals + 2 || m2->nfuncs < m->nfuncs ||
		    m2->nfuncs - m->nfuncs != m2->ncodes - m->ncodes ||
		    (k == 0 && m2->nfuncs != m->nfuncs))
			abort();
		wasm_module_free(m2);
		m2 = NULL;
		free(out);
	}
	wasm_module_free(m);
	return 0;
}
