# `provider wasm run|compile`: C programs built with clang for wasm32-wasi
# run unmodified; instrumentation preserves their output; fuel is the same
# at -O0 and -O2, across runs and memory limits; traps end the run with
# one line and leave the host able to run the next module.
. tests/e2e/lib.sh
. tests/wasm-spec/env.sh
P=tests/wasm-spec/programs
need_tools clang wat2wasm wasm2c cc
need "clang for wasm32-wasi (make deps installs wasi-libc and libclang-rt-dev-wasm32)" \
    wasicc -o "$T/sort.wasm" $P/sort.c
wasicc -o "$T/strings.wasm" $P/strings.c
wasicc -o "$T/traps.wasm" $P/traps.c
wasicc -o "$T/nbody.wasm" examples/wasm-job/nbody.c
wasicc -o "$T/hello.wasm" examples/wasm-http/hello.c

# last stderr line: usage: fuel=N cpu_ms=N wall_ms=N mem_peak_bytes=N
fuel_of() { tail -1 "$1" | sed -n 's/^usage: fuel=\([0-9]*\) cpu_ms=[0-9]* wall_ms=[0-9]* mem_peak_bytes=[0-9]*$/\1/p'; }

check "compile fills the cache" sh -c "$WASM compile $T/sort.wasm | grep -q compiled"
check "compile again is a cache hit" sh -c "$WASM compile $T/sort.wasm | grep -q cached"

# Same output natively, through the pipeline with fuel, and without.
for prog in sort strings nbody; do
	src=$P/$prog.c; [ $prog = nbody ] && src=examples/wasm-job/nbody.c
	cc -O2 -o "$T/$prog.native" "$src" -lm
	"$T/$prog.native" 1000 >"$T/$prog.want"
	$WASM run "$T/$prog.wasm" -- 1000 >"$T/$prog.fuel" 2>"$T/$prog.err1"
	$WASM run --no-fuel "$T/$prog.wasm" -- 1000 >"$T/$prog.nofuel" 2>"$T/$prog.err2"
	check "$prog: instrumented output equals native" cmp "$T/$prog.want" "$T/$prog.fuel"
	check "$prog: output equals uninstrumented" cmp "$T/$prog.nofuel" "$T/$prog.fuel"
	check "$prog: usage line with fuel" test -n "$(fuel_of "$T/$prog.err1")"
done

# Determinism of fuel.
$WASM run -O0 "$T/nbody.wasm" -- 20000 >/dev/null 2>"$T/f1"
$WASM run -O2 "$T/nbody.wasm" -- 20000 >/dev/null 2>"$T/f2"
$WASM run -O2 --memory 64m "$T/nbody.wasm" -- 20000 >/dev/null 2>"$T/f3"
$WASM run -O2 --memory 1m --in-process "$T/nbody.wasm" -- 20000 >/dev/null 2>"$T/f4"
f1=$(fuel_of "$T/f1"); f2=$(fuel_of "$T/f2"); f3=$(fuel_of "$T/f3"); f4=$(fuel_of "$T/f4")
echo "# nbody 20000 steps: fuel -O0 $f1, -O2 $f2, 64m $f3, 1m $f4"
check "fuel is the same at -O0 and -O2" test "$f1" = "$f2"
check "fuel does not depend on the memory limit or worker" test "$f2" = "$f3" -a "$f3" = "$f4"

# Traps: one line, non-zero exit; the next run is fine.
check_fails "infinite loop stops out of fuel" "^trap: out of fuel" $WASM run --fuel 50000000 "$T/traps.wasm" -- loop
check_fails "deep recursion is a stack-exhaustion trap" "^trap: call stack exhausted" $WASM run "$T/traps.wasm" -- rec
check_fails "out-of-bounds load traps" "^trap: out of bounds memory access" $WASM run "$T/traps.wasm" -- oob
$WASM run --memory 16m "$T/traps.wasm" -- grow >"$T/grow.out" 2>&1
check "memory is capped by --memory" grep -q "malloc failed after 1[0-9] MiB" "$T/grow.out"
$WASM run "$T/traps.wasm" -- exit >/dev/null 2>&1
check "proc_exit status is the exit status" test $? -eq 7
check "after the traps, a module still runs" sh -c "$WASM run $T/traps.wasm 2>/dev/null | grep -q '^ok$'"

# Files only under the /data preopen.
mkdir -p "$T/data"
$WASM run --dir "$T/data" "$T/traps.wasm" -- files >"$T/files.out" 2>&1
check "files: written under HOST_DIR" grep -q written "$T/data/out.txt"
check "files: read back" grep -q "read back: written" "$T/files.out"
check "files: .. cannot escape /data" grep -q "escape refused" "$T/files.out"
$WASM run --dir "$T/data" "$T/traps.wasm" -- ls >"$T/ls.out" 2>&1
check "fd_readdir: 300 files listed over several calls (scandir)" \
    grep -qx "302 entries, 300 files" "$T/ls.out"
check "fd_readdir: names and order" sh -c \
    "sed -n 3p $T/ls.out | grep -qx entry-000 && sed -n 4p $T/ls.out | grep -qx entry-299"

# args, env, WAGI-style CGI output on stdout.
$WASM run --env REQUEST_METHOD=GET --env PATH_INFO=/x --env QUERY_STRING=a=1 \
    "$T/hello.wasm" >"$T/hello.out" 2>&1
check "env reaches the module" grep -q "hello from wasm: GET /x?a=1" "$T/hello.out"
check "args reach the module" sh -c "$WASM run $T/strings.wasm -- one two 2>/dev/null | grep -q 'arg 2: two'"
check_fails "an import outside WASI is refused" "unknown import" sh -c \
    "printf '(module (import \"env\" \"f\" (func)))' >$T/bad.wat && wat2wasm $T/bad.wat -o $T/bad.wasm && $WASM run $T/bad.wasm"
check_fails "SIMD is refused with the section and offset" "not supported" sh -c \
    "printf '(module (func (param v128)))' >$T/simd.wat && wat2wasm $T/simd.wat -o $T/simd.wasm && $WASM run $T/simd.wasm"
finish
