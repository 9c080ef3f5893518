/*
 * wasm_spec: runs the official WebAssembly core test suite (wast2json
 * output) through the whole pipeline: decode/validate, instrument,
 * wasm2c + cc, instantiate, invoke; checks every assertion.
 */
#ifndef LODGE_PROVIDER_WASM_SPEC_H
#define LODGE_PROVIDER_WASM_SPEC_H

/* `provider wasm spec [-O0|-O2] [--jobs N] [--no-fuel] FILE.json...`:
 * prints per-file failures and "wasm spec: N passed, M failed, K skipped
 * (feature: n, ...)"; exits 1 when a supported feature failed. */
int wasm_spec_main(int argc, char **argv);

#endif
