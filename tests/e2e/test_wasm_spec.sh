# The official WebAssembly core test suite (../shared/corpus/wasm-spec)
# through the whole pipeline with fuel instrumentation on, modules
# compiled at -O0, two at a time.  `tests/wasm-spec/run.sh -O2` runs the
# same suite at -O2.
. tests/e2e/lib.sh
need_tools wast2json wasm2c cc
need "the WebAssembly core test suite in $SHARED/corpus/wasm-spec" \
    test -d "$SHARED/corpus/wasm-spec"
LODGE_WASM_CACHE=$T/cache tests/wasm-spec/run.sh -O0 >"$T/spec.out" 2>&1
rc=$?
grep -v '^FAIL' "$T/spec.out" | grep 'wasm spec' | sed 's/^/# /'
if [ $rc -eq 0 ] && grep -q '^wasm spec: [0-9]* passed, 0 failed' "$T/spec.out"; then
	ok "wasm spec suite: every supported assertion holds"
else
	notok "wasm spec suite"; grep '^FAIL\|died' "$T/spec.out" | head -40
fi
finish
