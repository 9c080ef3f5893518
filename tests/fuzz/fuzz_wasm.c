/*
 * Fuzz the wasm decoder/validator and the fuel instrumenter: any input
 * must decode without crashing; a module that validates must, once
 * instrumented (fuel on and off), validate again with the same functions
 * and one more global.
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
	for (int fuel = 0; fuel <= 1; fuel++) {
		struct wasm_instrument_opts o = { .fuel = fuel };
		uint8_t *out = NULL;
		size_t n = 0;
		if (wasm_instrument(m, &o, &out, &n) != 0)
			abort();
		if (wasm_module_decode(out, n, NULL, &m2) != 0)
			abort();
		if (m2->nfuncs != m->nfuncs || m2->nglobals != m->nglobals + 1)
			abort();
		wasm_module_free(m2);
		m2 = NULL;
		free(out);
	}
	wasm_module_free(m);
	return 0;
}
