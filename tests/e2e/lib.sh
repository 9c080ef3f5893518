# Sourced by the end-to-end tests: TAP-like "ok - ..." / "not ok - ..."
# lines, a temporary directory removed on exit, and every process the test
# started killed on exit, even when it fails.
ROOT=$(pwd)
BIN=$ROOT/bin
SHARED=${LODGE_SHARED:-$ROOT/../shared}
T=$(mktemp -d /tmp/lodge-e2e-XXXXXX)
PIDS=""
FAILED=0

# sweep_sandboxes: kill what the providers under $T left running (a
# provider's sandboxes outlive it, for its next start to adopt): every
# process in a cgroup named after one of their keys (p<8 key chars>-...),
# those cgroups, and, for a provider without cgroups, the inits its
# state.json names.
sweep_sandboxes() {
	for sw_rj in $(find "$T" -maxdepth 3 -name run.json 2>/dev/null); do
		sw_k=$(sed -n 's/.*"key":"ed25519:\(........\).*/\1/p' "$sw_rj")
		[ -n "$sw_k" ] || continue
		for sw_f in /sys/fs/cgroup/*/lodge/p$sw_k-*/cgroup.procs \
		    /sys/fs/cgroup/lodge/p$sw_k-*/cgroup.procs; do
			[ -f "$sw_f" ] || continue
			for sw_p in $(cat "$sw_f"); do kill -9 "$sw_p" 2>/dev/null; done
		done
		# then their cgroups, once empty
		for sw_i in 1 2 3 4 5 6 7 8 9 10; do
			sw_left=0
			for sw_d in /sys/fs/cgroup/*/lodge/p$sw_k-* \
			    /sys/fs/cgroup/lodge/p$sw_k-*; do
				[ -d "$sw_d" ] || continue
				rmdir "$sw_d" 2>/dev/null || sw_left=1
			done
			[ $sw_left = 0 ] && break
			sleep 0.1
		done
		sw_st=$(dirname "$sw_rj")/state.json
		[ -f "$sw_st" ] || continue
		for sw_p in $(jq -r '.leases[].sandboxes[]?.pid' "$sw_st" 2>/dev/null); do
			[ "$(cat /proc/$sw_p/comm 2>/dev/null)" = lodge-init ] &&
			    kill -9 "$sw_p" 2>/dev/null
		done
	done
	return 0
}

cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	sweep_sandboxes
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
