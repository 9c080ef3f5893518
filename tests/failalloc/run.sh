#!/bin/sh
# Allocation-failure runs, as curl's torture tests: every cmocka test of
# the chosen programs (build/asan/failalloc/test_*, `make BUILD=asan
# failallocs`) is run once to count its library allocations K, then once
# for each N = 1..K with LODGE_FAIL_ALLOC=N, the Nth failing as on ENOMEM
# (tests/failalloc/failalloc.c).  Each run must pass, or fail cleanly:
# the test reports the error; no crash, no sanitizer report, no leak.
#
# usage: tests/failalloc/run.sh [PROG[:GLOB]...]
#   PROG     test_common or a path to a failalloc binary; GLOB (shell
#            pattern) picks its cmocka tests; default $FAILALLOC, else
#            every program in build/asan/failalloc/
#   FAILALLOC_SECONDS  the time the failing runs should take (default
#                      120), shared out so that cheap tests get all
#                      their runs and the stride widens for costly ones
#   FAILALLOC_RUNS     runs per test at most (default 400)
#   FAILALLOC_SEED     where in its stride each test starts (default:
#                      random, printed), so that runs cover other
#                      allocations each time and a failure can be rerun
#   FAILALLOC_JOBS     runs at a time (default 2)
# One "ok - failalloc PROG/TEST: ..." line per test that allocates, or
# "not ok" naming the allocation, what went wrong and the report.
cd "$(dirname "$0")/../.." || exit 1
set -f # GLOBs are cmocka test patterns, not file names
dir=build/asan/failalloc
runs_max=${FAILALLOC_RUNS:-400}
budget=${FAILALLOC_SECONDS:-120}
jobs=${FAILALLOC_JOBS:-2}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT INT TERM
export ASAN_OPTIONS=allow_user_segv_handler=0:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1
unset LODGE_FAIL_ALLOC_TRACE

specs=$*
[ -n "$specs" ] || specs=${FAILALLOC:-}
[ -n "$specs" ] || specs=$(ls "$dir" 2>/dev/null | grep '^test_')
[ -n "$specs" ] || { echo "not ok - failalloc: nothing in $dir (make BUILD=asan failallocs)"; exit 1; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The cmocka tests of a program: the test_* functions its source
# defines (KNF: a definition's name starts its line).
tests_of() { sed -n 's/^\(test_[A-Za-z0-9_]*\)(.*/\1/p' "tests/unit/$1.c"; }

# run PROG TEST N OUT: one run, its output in OUT, in OUT.why what went
# wrong (empty when it passed or failed cleanly), in OUT.ms its time
run() {
	r_t0=$(now_ms)
	LODGE_TEST_FILTER=$2 LODGE_FAIL_ALLOC=$3 timeout 300 "$1" > "$4" 2>&1
	r_rc=$?
	echo $(($(now_ms) - r_t0)) > "$4.ms"
	r_why=
	if grep -q 'ERROR: LeakSanitizer' "$4"; then r_why="memory leaked"
	elif grep -q 'ERROR: AddressSanitizer' "$4"; then
		r_why="AddressSanitizer: $(grep -m1 -o 'ERROR: AddressSanitizer: [a-zA-Z-]*' "$4" | cut -d' ' -f3)"
	elif grep -q 'runtime error:' "$4"; then r_why="undefined behaviour"
	elif grep -q 'Test failed with exception' "$4"; then r_why="crash"
	elif [ $r_rc -ge 124 ]; then r_why="killed or timed out (exit $r_rc)"
	elif ! grep -q '^\[==========\] .* run\.' "$4"; then
		r_why="no cmocka summary (exit $r_rc)"
	fi
	printf %s "$r_why" > "$4.why"
	return $r_rc
}

# Every (program, test) to count, one a line.
for spec in $specs; do
	prog=${spec%%:*}; glob='*'
	case "$spec" in *:*) glob=${spec#*:};; esac
	case "$prog" in */*) ;; *) prog=$dir/$prog;; esac
	name=$(basename "$prog")
	if [ ! -x "$prog" ] || [ ! -f "tests/unit/$name.c" ]; then
		echo "not ok - failalloc $name: no $prog or tests/unit/$name.c (make BUILD=asan failallocs)"
		continue
	fi
	for t in $(tests_of "$name"); do
		# shellcheck disable=SC2254
		case "$t" in $glob) echo "$prog $t";; esac
	done
done > "$work/tests"

# Count each test's allocations ($jobs at a time): the plan is
# "PROG TEST K MS" for those that allocate.
count_one() { # count_one INDEX PROG TEST
	run "$2" "$3" 0 "$work/c$1"
	echo $? > "$work/c$1.rc"
}
n=0
while read -r prog t; do
	n=$((n + 1))
	count_one $n "$prog" "$t" < /dev/null &
	[ $((n % jobs)) -eq 0 ] && wait
done < "$work/tests"
wait
n=0
while read -r prog t; do
	n=$((n + 1)); c=$work/c$n
	k=$(sed -n 's/^failalloc: \([0-9]*\) allocations$/\1/p' "$c")
	if [ "$(cat "$c.rc")" != 0 ] || [ -z "$k" ] || [ -s "$c.why" ]; then
		echo "not ok - failalloc $(basename "$prog")/$t: fails without any injected failure (exit $(cat "$c.rc")) $(cat "$c.why")"
		grep -v '^\[ \|^\[==' "$c" | tail -20 | sed 's/^/#   /'
		continue
	fi
	[ "$k" -gt 0 ] && echo "$prog $t $k $(cat "$c.ms")" >> "$work/plan"
done < "$work/tests"
[ -f "$work/plan" ] || exit 0

# Share the budget, cheapest tests first: each gets every allocation (up
# to runs_max) when that fits its fair share of what is left, else as many
# runs as its share pays for, at least one.  Appends the count of runs.
awk -v budget=$((budget * 1000 * jobs)) -v rmax="$runs_max" '
	{ line[NR] = $0; k = $3 < rmax ? $3 : rmax; per[NR] = $4 + 5
	  cost[NR] = k * per[NR]; want[NR] = k }
	END {
		for (i = 1; i <= NR; i++) ord[i] = i
		for (i = 2; i <= NR; i++)	# insertion sort by cost
			for (j = i; j > 1 && cost[ord[j]] < cost[ord[j-1]]; j--) {
				t = ord[j]; ord[j] = ord[j-1]; ord[j-1] = t }
		left = budget
		for (i = 1; i <= NR; i++) {
			x = ord[i]; share = left / (NR - i + 1)
			n = cost[x] <= share ? want[x] : int(share / per[x])
			if (n < 1) n = 1
			if (n > want[x]) n = want[x]
			runs[x] = n; left -= n * per[x]
		}
		for (i = 1; i <= NR; i++) print line[i], runs[i]
	}' "$work/plan" > "$work/plan.n"

seed=${FAILALLOC_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "# failalloc: FAILALLOC_SEED=$seed"
failed=0
while read -r prog t k ms n; do
	name=$(basename "$prog")
	step=$(((k + n - 1) / n))
	i=$((1 + seed % step)); done_runs=0; bad=
	while [ $i -le "$k" ] && [ -z "$bad" ]; do
		batch=; j=0
		while [ $j -lt "$jobs" ] && [ $i -le "$k" ]; do
			run "$prog" "$t" $i "$work/r$i" < /dev/null &
			batch="$batch $i"
			i=$((i + step)); j=$((j + 1))
		done
		wait
		for b in $batch; do
			done_runs=$((done_runs + 1))
			[ -s "$work/r$b.why" ] && { bad=$b; break; }
		done
	done
	if [ -n "$bad" ]; then
		# again, with the failed call's stack and full leak stacks
		why=$(cat "$work/r$bad.why")
		LODGE_FAIL_ALLOC_TRACE=1 ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0 \
		    run "$prog" "$t" "$bad" "$work/trace"
		failed=$((failed + 1))
		echo "not ok - failalloc $name/$t: allocation $bad of $k failing: $why"
		echo "#   rerun: LODGE_FAIL_ALLOC=$bad LODGE_FAIL_ALLOC_TRACE=1 LODGE_TEST_FILTER=$t $prog"
		grep -v '^\[ \|^\[==\|^$' "$work/trace" | head -60 | sed 's/^/#   /'
	elif [ "$step" -eq 1 ]; then
		echo "ok - failalloc $name/$t: each of its $k allocations failed in turn, cleanly"
	else
		echo "ok - failalloc $name/$t: $done_runs of its $k allocations failed in turn (one in $step), cleanly"
	fi
	rm -f "$work"/r*
done < "$work/plan.n"
[ $failed -eq 0 ]
