#!/bin/sh
# Run test programs and add up their results into one closing line
# "LABEL: N passed, N failed" (", N skipped" when some were) that CI
# reads.  Understands cmocka's summary ("[  PASSED  ] N test(s).",
# "[  FAILED  ] N test(s)", "[  SKIPPED ] N test(s)"), libFuzzer binaries
# (fuzz_*: one check each, run for FUZZ_SECONDS on their seed corpus) and
# shell tests that print TAP lines: "ok - ...", "not ok - ...", and
# "ok - ... # SKIP reason" for a check that cannot run on this host.
# A program that dies without a summary counts as one failure.
#
# usage: tests/run.sh [--only PATTERN]... [LABEL] [PROG...]
#   --only PATTERN  run only the programs whose path contains PATTERN
#                   (several: any of them); TESTS="PATTERN..." does the
#                   same, e.g. TESTS=test_flow make test
#   LABEL           the closing line's first word (default: all)
#   PROG            default: every test `make test` builds and runs
# LODGE_KEEP_TMP=1 keeps a failing end-to-end test's temporary directory
# and prints its path (tests/e2e/lib.sh).
# E2E_JOBS=N runs up to N end-to-end scripts (tests/e2e/test_*.sh) at
# once, after every other program (each picks free ports and its own
# temporary directory); a script with a line "# e2e: alone" in its first
# 20 lines runs after them, by itself.  Results print in the order given.
root=$(cd "$(dirname "$0")/.." && pwd)
only=${TESTS:-}
while [ $# -gt 0 ]; do
	case "$1" in
	--only) [ $# -ge 2 ] || { echo "run.sh: --only needs a pattern" >&2; exit 2; }
		only="$only $2"; shift 2;;
	--only=*) only="$only ${1#--only=}"; shift;;
	-h|--help) sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 0;;
	-*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2;;
	*) break;;
	esac
done
label=all
case "${1:-}" in ''|*/*) ;; *) label=$1; shift;; esac
if [ $# -eq 0 ]; then
	cd "$root" || exit 1
	set -- $(ls build/release/unit/test_* build/asan/unit/test_* \
	    build/fuzz/fuzz/fuzz_* 2>/dev/null | grep -v '\.d$') \
	    tests/check_format.sh tests/failalloc/run.sh tests/e2e/test_*.sh
fi
# selected PROG: whether PROG's path contains one of the patterns
selected() {
	[ -z "$only" ] && return 0
	for pat in $only; do
		case "$1" in *"$pat"*) return 0;; esac
	done
	return 1
}

# Parallel end-to-end scripts: the selected ones, in a pool of E2E_JOBS
# started in the background when the first of them is reached; their
# logs and exit codes land in $pool/N.log and $pool/N.rc.
jobs=${E2E_JOBS:-1}
case "$jobs" in ''|*[!0-9]*) echo "run.sh: E2E_JOBS: expected a number" >&2; exit 2;; esac
pool=$(mktemp -d); pool_pid=
is_e2e() { case "$1" in */e2e/test_*.sh) return 0;; esac; return 1; }
alone() { head -20 "$1" | grep -q '^# e2e: alone'; }
parallel() { [ "$jobs" -gt 1 ] && is_e2e "$1" && ! alone "$1"; }
# The order run: everything else, the parallel scripts, the lone ones.
order=$(mktemp)
for t in "$@"; do is_e2e "$t" || echo "$t"; done > "$order"
for t in "$@"; do parallel "$t" && echo "$t"; done >> "$order"
for t in "$@"; do is_e2e "$t" && ! parallel "$t" && echo "$t"; done >> "$order"
n=0
for t in $(cat "$order"); do
	parallel "$t" && selected "$t" && { n=$((n + 1)); echo "$n $t"; }
done > "$pool/list"
start_pool() {
	[ -n "$pool_pid" ] && return
	(
		started=0
		while read -r i t; do
			while [ $((started - $(ls "$pool" | grep -c '\.rc$'))) -ge "$jobs" ]; do
				sleep 0.2
			done
			( sh "$t" >"$pool/$i.log" 2>&1; echo $? >"$pool/$i.rc.tmp"
			  mv "$pool/$i.rc.tmp" "$pool/$i.rc" ) &
			started=$((started + 1))
		done < "$pool/list"
		wait
	) &
	pool_pid=$!
}

passed=0; failed=0; skipped=0; ran=0; failures=""
log=$(mktemp); trap 'rm -f "$log" "$order"; rm -rf "$pool"' EXIT INT TERM
for t in $(cat "$order"); do
	selected "$t" || continue
	ran=$((ran + 1))
	name=$(basename "$t")
	if parallel "$t"; then
		start_pool
		i=$(sed -n "s|^\([0-9]*\) $t\$|\1|p" "$pool/list")
		while [ ! -f "$pool/$i.rc" ]; do sleep 0.2; done
		rc=$(cat "$pool/$i.rc"); mv "$pool/$i.log" "$log"
	else
	case "$t" in
	*/fuzz/fuzz_*)
		corpus="$root/tests/fuzz/corpus/${name#fuzz_}"
		work=$(mktemp -d)
		[ -d "$corpus" ] && cp -r "$corpus/." "$work/" 2>/dev/null
		"$t" -max_total_time="${FUZZ_SECONDS:-20}" -max_len=65536 \
		    -rss_limit_mb=2048 -timeout=10 "$work" >"$log" 2>&1
		rc=$?; rm -rf "$work"
		if [ $rc -eq 0 ]; then
			passed=$((passed + 1))
			echo "ok - fuzz $name ($(grep -o 'Done [0-9]* runs' "$log" | tail -1))"
		else
			failed=$((failed + 1)); failures="$failures $t"
			echo "not ok - fuzz $name (exit $rc)"; tail -40 "$log"
		fi
		continue;;
	*.sh) sh "$t" >"$log" 2>&1; rc=$?;;
	*) "$t" >"$log" 2>&1; rc=$?;;
	esac
	fi
	if grep -q '^\[==========\]' "$log"; then
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		skips=$(grep '^\[  SKIPPED \] [a-z_]' "$log" | sort -u)
	else
		s=$(grep -c '^ok .*# *SKIP' "$log")
		p=$(($(grep -c '^ok ' "$log") - s))
		f=$(grep -c '^not ok ' "$log")
		skips=$(grep '^ok .*# *SKIP' "$log")
	fi
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$f" -ne 0 ]; then
		failures="$failures $t"
		echo "FAIL $t ($p passed, $f failed, exit $rc)"
		grep -v '^\[       OK \]\|^ok \|^\[ RUN      \]' "$log" | tail -100
	elif [ "$s" -ne 0 ]; then
		echo "PASS $t ($p passed, $s skipped)"
		echo "$skips" | sed 's/^/  /'
	else
		echo "PASS $t ($p passed)"
	fi
done
[ -n "$pool_pid" ] && wait "$pool_pid"
if [ $ran -eq 0 ]; then
	echo "run.sh: no test matches:$only"
	failed=1
fi
[ -n "$failures" ] && echo "failed:$failures"
if [ $skipped -ne 0 ]; then
	echo "$label: $passed passed, $failed failed, $skipped skipped"
else
	echo "$label: $passed passed, $failed failed"
fi
[ $failed -eq 0 ]
