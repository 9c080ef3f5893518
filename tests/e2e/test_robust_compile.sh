#!/bin/sh
# A compile bomb does not stall the provider (issue 13, item 1).  The
# wasm modules are generated here (many large functions; wat2wasm):
#  - a slow one (about a minute of C compiler at full speed, 350 MB):
#    its compile runs as a preparation job at the lease's half CPU, is
#    killed at the provider's --prepare-timeout (20 s here) and the lease
#    is refused saying so; meanwhile a stream of deploys comes up, and
#    another lease's usage keeps arriving every epoch and the provider's
#    heartbeats every 10 s (read back from the ledger's timestamps);
#  - a greedy one (the C compiler wants ~900 MB): in a lease of 256 MiB
#    the compile is killed by its cgroup and the lease refused for memory;
#  - one whose lease the tenant closes mid-compile: the compile is killed
#    (its processes and its cgroup gone);
#  - one whose provider is killed -9 mid-compile: the compiler left in
#    the job's cgroup is killed when the provider starts again.
. tests/e2e/lib.sh
CL=$T
. examples/local/cluster.sh
trap 'cluster_stop; cleanup' EXIT
[ "$(id -u)" = 0 ] || { echo "ok - skipped: needs root (cgroups)"; exit 0; }
command -v wat2wasm >/dev/null && command -v wasm2c >/dev/null || {
	echo "ok - skipped: needs wabt (wat2wasm, wasm2c)"; exit 0; }

PRICE=cpu_ms=1000,mem_mb_s=1000,storage_mb_s=100
mget() { curl -s "$MARKET$1" | jq -r "$2"; }

# gen FUNCS OPS SALT: a module of FUNCS functions of OPS steps each
gen() {
	awk -v F="$1" -v N="$2" -v S="$3" 'BEGIN {
	print "(module";
	for (f = 0; f < F; f++) {
		printf "(func $f%d (export \"f%d\") (param $p i32) (result i32) (local $a i32) (local $b i32)\n", f, f;
		for (i = 0; i < N; i++)
			printf "local.get $a local.get $p i32.add i32.const %d i32.mul local.tee $b local.get $a i32.xor local.set $a\n", i + f + S;
		print "local.get $a)";
	}
	print "(func (export \"_start\")))";
	}' > "$T/m.wat" && wat2wasm "$T/m.wat" -o "$T/$4.wasm"
}
# sdl NAME MODULE MEMORY: a wasm job of MODULE with 0.5 CPU and MEMORY
sdl() {
	cat >"$T/$1.yaml" <<EOF
version: "2.0"
services:
  job:
    image: wasm+file:$T/$2.wasm
    args: ["x"]
    expose:
      - port: 80
        as: 80
        to:
          - global: true
profiles:
  compute:
    job:
      resources:
        cpu:
          units: 0.5
        memory:
          size: $3
        storage:
          size: 16Mi
  placement:
    anywhere:
      pricing:
        job:
          denom: uakt
          amount: 100000
deployment:
  job:
    anywhere:
      profile: job
      count: 1
EOF
}
# ledger_times KIND [LEASE]: the sequencer times (ms) of entries of KIND
# by p1 (of LEASE, when given), one a line, from $SINCE on
ledger_times() {
	curl -s "$MARKET/v1/ledger/entries?start=0" | jq -r '.entries[].leaf' |
	while read -r l; do echo "$l" | base64 -d; echo; done |
	jq -r --arg k "$1" --arg l "${2:-}" --arg s "$p1_KEY" --argjson t "$SINCE" \
	    'select(.entry.kind == $k and .time >= $t and .entry.signer == $s and
	     ($l == "" or .entry.body.lease == $l)) | .time'
}
# max_gap: the largest difference between consecutive lines on stdin
max_gap() { awk 'NR > 1 && $1 - p > m { m = $1 - p } { p = $1 } END { print m + 0 }'; }

check "market starts (epoch 1 s)" cluster_market
check "provider p1 starts (compiles: 2 at once, 20 s, 1 GiB)" \
    cluster_provider p1 region=eu $PRICE --prepare-timeout 20 \
    --prepare-jobs 2 --prepare-memory 1Gi
check "tenant alice is funded" cluster_tenant alice 10000000000
check "alice deploys hello-perl (the lease whose usage is watched)" \
    to "$T/a.json" as alice deploy examples/hello-perl/deploy.yaml \
    --timeout 30 --json
LA=$(jq -r '.orders[0].lease' "$T/a.json")
gen 12 3000 0 slow && gen 40 5000 1 greedy && gen 12 3000 7 cancel
check "the slow module is about half a megabyte" \
    [ "$(stat -c %s "$T/slow.wasm")" -gt 400000 ]
check "the greedy module is about 3 MB" \
    [ "$(stat -c %s "$T/greedy.wasm")" -gt 2500000 ]
sdl slow slow 512Mi
sdl greedy greedy 256Mi
sdl cancel cancel 512Mi
# The stream: hello-perl at a tenth of a CPU (the provider has 2 CPUs).
sed 's/units: 0.5/units: 0.1/' examples/hello-perl/deploy.yaml >"$T/small.yaml"

SINCE=$(($(date +%s%3N)))
as alice deploy "$T/slow.yaml" --timeout 90 --json >"$T/slow.json" \
    2>"$T/slow.err" &
SLOW=$!
check "the slow module's compile starts as a job" until_ok 30 \
    grep -q "wasm compile started" "$CL/p1.log"
# The stream of deploys, while the compiler runs.
for i in 1 2 3; do
	t0=$(date +%s%3N)
	check "deploy $i comes up while the compiler runs" \
	    to "$T/s$i.json" as alice deploy "$T/small.yaml" --timeout 30 \
	    --json
	t1=$(date +%s%3N)
	echo "# deploy $i took $((t1 - t0)) ms"
done
check "the compile was still running all the while" sh -c \
    "! grep -q 'wasm compile (exit\|wasm compile done' $CL/p1.log"
wait $SLOW
check "the slow module's lease is refused at the time limit" \
    grep -q "did not finish within 20 s" "$T/slow.err"
LS=$(sed -n 's/.*lease \(l-[0-9]*\) was closed.*/\1/p' "$T/slow.err" | head -1)
check "it is closed as manifest_refused in the market" \
    [ "$(mget "/v1/leases/$LS" .reason)" = manifest_refused ]
UNTIL=$(($(date +%s%3N)))
gap=$(ledger_times lease.usage "$LA" | max_gap)
n=$(ledger_times lease.usage "$LA" | wc -l)
echo "# lease $LA: $n usage entries over $(( (UNTIL - SINCE) / 1000 )) s, largest gap $gap ms"
check "the watched lease's usage kept its cadence (gap $gap ms <= 2500)" \
    [ "$gap" -gt 0 ] && [ "$gap" -le 2500 ]
check "and arrived all along ($n entries)" \
    [ "$n" -ge $(( (UNTIL - SINCE) / 1000 / 2 )) ]
hb=$(ledger_times provider.heartbeat | max_gap)
echo "# heartbeats: largest gap $hb ms"
check "heartbeats never lapsed (gap $hb ms <= 13000)" \
    [ "$hb" -gt 0 ] && [ "$hb" -le 13000 ]
check "no lease of this provider was closed as provider_offline" sh -c \
    "! curl -s '$MARKET/v1/leases?provider=$p1_KEY' | grep -q provider_offline"

refused() { ! as alice deploy "$T/$1.yaml" --timeout 60 --json \
    >"$T/$1.json" 2>"$T/$1.err"; }
check "the greedy module's lease is refused for memory" refused greedy
check "the reason names the memory limit" \
    grep -q "needs more than 256 MiB of memory" "$T/greedy.err"

as alice deploy "$T/cancel.yaml" --timeout 90 --json >"$T/cancel.json" \
    2>"$T/cancel.err" &
CAN=$!
check "the third compile starts" until_ok 30 sh -c \
    "[ \$(grep -c 'wasm compile started' $CL/p1.log) -ge 3 ]"
JPID=$(grep 'wasm compile started' "$CL/p1.log" | tail -1 |
    sed -n 's/.*(pid \([0-9]*\),.*/\1/p')
LC=$(grep 'wasm compile started' "$CL/p1.log" | tail -1 |
    sed -n 's/.*lease \(l-[0-9]*\):.*/\1/p')
check "its compiler is running (pid $JPID)" kill -0 "$JPID"
D3=$(curl -s "$MARKET/v1/leases/$LC" | jq -r .order)
check "alice closes that deployment mid-compile" as alice close "$D3"
check "the compile is cancelled" until_ok 10 \
    grep -q "lease $LC: wasm compile cancelled" "$CL/p1.log"
check "its process is gone" until_ok 5 sh -c "! kill -0 $JPID 2>/dev/null"
check "and its cgroup with everything in it" until_ok 5 sh -c \
    "! ls -d /sys/fs/cgroup/*/lodge/p*-$LC-prep* 2>/dev/null | grep -q ."
kill "$CAN" 2>/dev/null

# A provider killed mid-compile: the job dies with it, the compiler it
# started is killed by the next start (its cgroup emptied).
gen 12 3000 9 crash
sdl crash crash 512Mi
as alice deploy "$T/crash.yaml" --timeout 90 --json >"$T/crash.json" \
    2>"$T/crash.err" &
CR=$!
check "a fourth compile starts" until_ok 60 sh -c \
    "[ \$(grep -c 'wasm compile started' $CL/p1.log) -ge 4 ]"
LK=$(grep 'wasm compile started' "$CL/p1.log" | tail -1 |
    sed -n 's/.*lease \(l-[0-9]*\):.*/\1/p')
JCG=$(ls -d /sys/fs/cgroup/*/lodge/p*-$LK-prep0 2>/dev/null | head -1)
until_ok 10 sh -c "grep -q . $JCG/cgroup.procs" >/dev/null
LEFT=$(cat "$JCG/cgroup.procs" 2>/dev/null | tr "\n" " ")
check "p1 is killed with -9 mid-compile" cluster_crash p1
sleep 1
check "its compiler outlives it, in the job's cgroup" sh -c \
    "for p in $LEFT; do kill -0 \$p 2>/dev/null && exit 0; done; exit 1"
check "p1 restarts" cluster_provider_start p1
check "the leftover compiler is killed at the start" until_ok 10 sh -c \
    "for p in $LEFT; do kill -0 \$p 2>/dev/null && exit 1; done; exit 0"
kill "$CR" 2>/dev/null
as alice close "$(curl -s "$MARKET/v1/leases/$LK" | jq -r .order)" \
    >/dev/null 2>&1
check "the watched lease still runs" until_ok 10 sh -c \
    "[ \"\$(curl -s $MARKET/v1/leases/$LA | jq -r .status)\" = active ]"
check "ledger audit passes" until_ok 10 "$BIN/ledger" audit --market "$MARKET"
finish
