# Sourced by every end-to-end test, from the repository's root: TAP
# lines ("ok - ...", "not ok - ...", "ok - ... # SKIP why"), a temporary
# directory $T removed on exit, and every process the test started killed
# on exit, even when it fails.  The market, providers and tenants come
# from examples/local/cluster.sh (the demo's set-up), on $T.
#
# LODGE_KEEP_TMP=1 keeps the temporary directory of a test that failed
# and prints its path (daemon logs, databases, outputs).
ROOT=$(pwd)
BIN=$ROOT/bin
SHARED=${LODGE_SHARED:-$ROOT/../shared}
T=$(mktemp -d /tmp/lodge-e2e-XXXXXX)
# Every process this test starts carries this in its environment: the
# cleanup signals a PID of $PIDS only if it still does (kill_ours), as the
# kernel may have given an ended process's PID to another test's daemon.
LODGE_E2E_TAG=$T
export LODGE_E2E_TAG
PIDS=""
FAILED=0
CL=$T
. "$ROOT/examples/local/cluster.sh"
# On TLS (LODGE_INSECURE_HTTP set empty before sourcing this), the
# daemons' certificates are self-signed by their ledger keys, which the
# Lodge tools pin; curl in the tests only reads, and skips the CA check.
if [ -z "$LODGE_INSECURE_HTTP" ]; then
	echo insecure > "$T/.curlrc"
	CURL_HOME=$T
	export CURL_HOME
fi

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

# dump_logs: the ends of the daemons' logs under $T, for a failed test
# whose temporary directory CI does not keep (a daemon that died says
# why there)
dump_logs() {
	dl_all=$(find "$T" -maxdepth 2 -name '*.log' 2>/dev/null)
	[ -n "$dl_all" ] || return 0
	for dl_f in $(ls -t $dl_all 2>/dev/null | head -10); do
		echo "# --- the end of ${dl_f#$T/}"
		tail -n 5 "$dl_f" | cut -c1-200 | sed 's/^/#   /'
	done
}

# kill_ours SIG PID...: send SIG to each PID still running with this
# test's LODGE_E2E_TAG
kill_ours() {
	ko_sig=$1; shift
	for ko_p in "$@"; do
		grep -qzx "LODGE_E2E_TAG=$T" "/proc/$ko_p/environ" 2>/dev/null &&
		    kill "-$ko_sig" "$ko_p" 2>/dev/null
	done
	return 0
}

cleanup() {
	cu_rc=$?
	[ "$FAILED" -ne 0 ] && dump_logs
	cluster_stop
	kill_ours KILL $PIDS
	sweep_sandboxes
	wait 2>/dev/null
	if [ -n "${LODGE_KEEP_TMP:-}" ] &&
	    { [ "$FAILED" -ne 0 ] || [ "$cu_rc" -ne 0 ]; }; then
		echo "# LODGE_KEEP_TMP: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $*"; }
notok() {
	echo "not ok - $*"
	FAILED=$((FAILED + 1))
}
# skip DESC WHY: a check that cannot run here, for a reason the README's
# "Tests" section lists (never a missing tool or permission: see need)
skip() { echo "ok - $1 # SKIP $2"; }
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
# need WHAT CMD...: what this test cannot go without; when CMD fails it
# is a "not ok" naming WHAT, and the test ends there.
need() {
	nd_what=$1; shift
	"$@" > /dev/null 2>&1 && return 0
	notok "needs $nd_what"
	finish
}
# need_tools TOOL...: each TOOL on PATH (`make deps` installs them)
need_tools() {
	for nt in "$@"; do
		need "$nt (make deps installs it)" command -v "$nt"
	done
}
need_root() { need "root (namespaces, cgroups): run as root" [ "$(id -u)" = 0 ]; }
is_200() { [ "$(http_code "$1")" = 200 ]; }
not_200() { [ "$(http_code "$1")" != 200 ]; }
# lease_field LEASE FIELD: one field of the market's view of a lease
lease_field() { mget "/v1/leases/$1" ".$2"; }
# count_entries LEASE KIND: how many ledger entries of KIND are about LEASE
count_entries() {
	curl -s "$MARKET/v1/ledger/entries?start=0" | jq -r '.entries[].leaf' |
	while read -r l; do echo "$l" | base64 -d; echo; done |
	jq -c "select(.entry.kind == \"$2\" and .entry.body.lease == \"$1\")" |
	wc -l
}
# to FILE CMD...: CMD's stdout to FILE, its stderr to FILE.err
to() { to_f=$1; shift; "$@" > "$to_f" 2> "$to_f.err"; }
finish() {
	[ "$FAILED" -eq 0 ]
	exit $?
}
