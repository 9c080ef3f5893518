# Sourced by the wasm end-to-end tests (after tests/e2e/lib.sh): sets
# $WASM to a command running `provider wasm ...` -- bin/provider when it
# has the subcommand, else a small driver linked against build/release's
# libraries -- and LODGE_WASM_CACHE to a cache private to the test.
if "$BIN/provider" wasm --help >/dev/null 2>&1; then
	WASM="$BIN/provider wasm"
else
	cat >"$T/wasm_main.c" <<'EOC'
#include "provider/wasm_cli.h"
int main(int argc, char **argv) { return wasm_cli_main(argc - 1, argv + 1); }
EOC
	cc -std=c11 -D_GNU_SOURCE -I"$ROOT" -o "$T/wasm" "$T/wasm_main.c" \
	    "$ROOT/build/release/libprovider.a" "$ROOT/build/release/libcommon.a" \
	    $(pkg-config --libs openssl jansson libcurl libseccomp) -lm -lpthread \
	    || { echo "not ok - cannot build the wasm driver"; exit 1; }
	WASM="$T/wasm"
fi
LODGE_WASM_CACHE=${LODGE_WASM_CACHE:-$T/wasm-cache}
export LODGE_WASM_CACHE
# wasm32-wasi C compiler (Debian: clang + wasi-libc + libclang-rt-dev-wasm32)
wasicc() { clang --target=wasm32-wasi -O2 "$@"; }
