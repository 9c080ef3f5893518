#!/bin/sh
# Run test programs and add up their results into one closing line
# "N passed, N failed" that CI reads.  Understands cmocka's summary
# ("[  PASSED  ] N test(s).", "[  FAILED  ] N test(s)"), libFuzzer
# binaries (fuzz_*: one check each, run for FUZZ_SECONDS on their seed
# corpus) and shell tests that print "ok - ..." / "not ok - ..." lines.
# A program that dies without a summary counts as one failure.
label=$1; shift
passed=0; failed=0; failures=""
log=$(mktemp); trap 'rm -f "$log"' EXIT INT TERM
root=$(cd "$(dirname "$0")/.." && pwd)
for t in "$@"; do
	name=$(basename "$t")
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
	p=0; f=0
	if grep -q '^\[==========\]' "$log"; then
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	else
		p=$(grep -c '^ok ' "$log")
		f=$(grep -c '^not ok ' "$log")
	fi
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		failures="$failures $t"
		echo "FAIL $t ($p passed, $f failed, exit $rc)"
		grep -v '^\[       OK \]\|^ok \|^\[ RUN      \]' "$log" | tail -60
	else
		echo "PASS $t ($p passed)"
	fi
done
[ -n "$failures" ] && echo "failed:$failures"
echo "$label: $passed passed, $failed failed"
[ $failed -eq 0 ]
