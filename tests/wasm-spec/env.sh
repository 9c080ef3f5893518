# Sourced by the wasm end-to-end tests (after tests/e2e/lib.sh): sets
# $WASM to the command running `provider wasm ...` and LODGE_WASM_CACHE to
# a cache private to the test.
WASM="$BIN/provider wasm"
LODGE_WASM_CACHE=${LODGE_WASM_CACHE:-$T/wasm-cache}
export LODGE_WASM_CACHE
# wasm32-wasi C compiler (Debian: clang + wasi-libc + libclang-rt-dev-wasm32)
wasicc() { clang --target=wasm32-wasi -O2 "$@"; }
