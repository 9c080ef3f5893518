# Sourced by the end-to-end tests: TAP-like "ok - ..." / "not ok - ..."
# lines, a temporary directory removed on exit, and every process the test
# started killed on exit, even when it fails.
ROOT=$(pwd)
BIN=$ROOT/bin
SHARED=${LODGE_SHARED:-$ROOT/../shared}
T=$(mktemp -d /tmp/lodge-e2e-XXXXXX)
PIDS=""
FAILED=0

cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $*"; }
notok() {
	echo "not ok - $*"
	FAILED=$((FAILED + 1))
}
# check DESC CMD...: CMD must succeed
check() {
	desc=$1; shift
	if "$@" >"$T/.out" 2>&1; then ok "$desc"; else
		notok "$desc"; sed 's/^/#   /' "$T/.out" | tail -20; fi
}
# check_fails DESC PATTERN CMD...: CMD must fail and print PATTERN
check_fails() {
	desc=$1; pat=$2; shift 2
	if "$@" >"$T/.out" 2>&1; then
		notok "$desc (it succeeded)"; sed 's/^/#   /' "$T/.out" | tail -5
	elif ! grep -q -- "$pat" "$T/.out"; then
		notok "$desc (no '$pat' in the message)"
		sed 's/^/#   /' "$T/.out" | tail -5
	else ok "$desc"; fi
}
# to FILE CMD...: CMD's stdout to FILE, its stderr to FILE.err
to() { to_f=$1; shift; "$@" > "$to_f" 2> "$to_f.err"; }
# until_ok SECONDS CMD...: retry CMD (quietly) until it succeeds
until_ok() {
	uo_end=$(($(date +%s) + $1)); shift
	while :; do
		if "$@" > /dev/null 2>&1; then return 0; fi
		[ "$(date +%s)" -ge $uo_end ] && break
		sleep 0.1
	done
	echo "timed out: $*"
	return 1
}
finish() {
	[ "$FAILED" -eq 0 ]
	exit $?
}
