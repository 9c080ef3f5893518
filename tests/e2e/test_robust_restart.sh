#!/bin/sh
# A provider restart keeps its workloads (issue 13, items 7 and 8).  The
# lease serves examples/hello-perl, whose request counter lives in the
# process's memory: it only keeps counting if the very process survives.
#  - kill -9 of the provider: the sandbox keeps running, the restarted
#    provider re-adopts it (same pid), the count goes on, its logs go on,
#    metering goes on from its cgroup without counting anything twice,
#    and the time it was down is billed as its reserved memory and
#    storage;
#  - SIGTERM (a planned restart): the ask is withdrawn first (an order
#    placed meanwhile is not matched to the stopped provider), the lease
#    stays open, the workload runs on; the next start advertises again
#    (the waiting order is matched then) and re-adopts the workload;
#  - a replica that died while the provider was down is the only one
#    restarted, and not billed for that time.
. tests/e2e/lib.sh
CL=$T
. examples/local/cluster.sh
trap 'cluster_stop; cleanup' EXIT
[ "$(id -u)" = 0 ] || { echo "ok - skipped: the gateway needs root"; exit 0; }

EX=$ROOT/examples/hello-perl/deploy.yaml
PRICE=cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
mget() { curl -s "$MARKET$1" | jq -r "$2"; }
# countof URL: the workload's request count in its answer (a script, for
# sh -c checks)
cat >"$T/countof" <<'EOF2'
#!/bin/sh
curl -s -m 3 "$1" | sed -n 's/.*request \([0-9]*\),.*/\1/p'
EOF2
chmod +x "$T/countof"
count_of() { "$T/countof" "$1"; }
status_json() { as alice status "$1" --json; }
rep_pid() { status_json "$1" | jq -r '.provider.replicas[0].pid'; }
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
entries() { # entries KIND LEASE: how many ledger entries of KIND for LEASE
	curl -s "$MARKET/v1/ledger/entries?start=0" | jq -r '.entries[].leaf' |
	while read -r l; do echo "$l" | base64 -d; echo; done |
	jq -c "select(.entry.kind == \"$1\" and .entry.body.lease == \"$2\")" |
	wc -l
}
# the sandboxes of a provider survive it: remember them for cluster_stop
track_sandboxes() {
	for p in $(cluster_descendants "$(eval echo "\$${1}_PID")"); do
		cluster_track "$p"; done
}

check "market starts" cluster_market
check "provider p1 starts" cluster_provider p1 region=eu $PRICE --stop-grace 1000
check "tenant alice is funded" cluster_tenant alice 1000000000
check "alice deploys hello-perl" \
    to "$T/d1.json" as alice deploy "$EX" --timeout 30 --json
D1=$(jq -r .deployment "$T/d1.json")
L1=$(jq -r '.orders[0].lease' "$T/d1.json")
URL=$(jq -r '.orders[0].services.web' "$T/d1.json")
N0=$(count_of "$URL")
check "the counter counts in memory (request $((N0 + 1)))" \
    [ "$(count_of "$URL")" = $((N0 + 1)) ]
PID1=$(rep_pid "$L1")
check "usage is charged before the crash" until_ok 10 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$L1 | jq .charged) -gt 0 ]"

# ---- kill -9 --------------------------------------------------------------
track_sandboxes p1
check "p1 is killed with -9" cluster_crash p1
sleep 1
check "the workload outlives the provider (pid $PID1 alive)" alive "$PID1"
check "p1 restarts" cluster_provider_start p1
URL=$(as alice status "$L1" --json | jq -r .services.web)
check "p1 re-adopts the sandbox (logged)" \
    until_ok 10 grep -q "lease $L1: .* re-adopted (pid $PID1)" "$CL/p1.log"
check "the status shows the same pid" [ "$(rep_pid "$L1")" = "$PID1" ]
check "the time it was down is billed as reserved time (logged)" grep -q \
    "lease $L1: [0-9]* ms since the saved counters billed as reserved time" \
    "$CL/p1.log"
check "the gateway reaches the adopted workload" until_ok 10 sh -c \
    "curl -sf -m 3 '$URL' >/dev/null"
check "its in-memory count went on (request $((N0 + 3)), not 1)" \
    [ "$(count_of "$URL")" = $((N0 + 3)) ]
check "its logs go on after the restart" until_ok 10 sh -c \
    "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET logs $L1 |
     grep -q 'request $((N0 + 3))'"
c1=$(mget "/v1/leases/$L1" .charged)
cpu1=$(mget "/v1/leases/$L1" .usage.cpu_ms)
check "charges resume after the restart" until_ok 15 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$L1 | jq .charged) -gt $c1 ]"
check "no usage entry was refused (nothing counted twice)" sh -c \
    "! grep -q 'lease.usage.*market answered' $CL/p1.log"
check "cpu_ms never went backwards" \
    [ "$(mget "/v1/leases/$L1" .usage.cpu_ms)" -ge "$cpu1" ]
check "the lease was started once" [ "$(entries lease.started "$L1")" = 1 ]

# ---- SIGTERM: a planned restart --------------------------------------------
track_sandboxes p1
PKEY=$p1_KEY
kill -TERM "$p1_PID"
check "SIGTERM stops p1" until_ok 15 sh -c "! kill -0 $p1_PID"
check "p1 withdrew its ask before it stopped" sh -c \
    "curl -s $MARKET/v1/providers | jq -e '.[] | select(.key == \"$PKEY\") | .withdrawn == true' >/dev/null ||
     curl -s $MARKET/v1/providers | jq -e '.providers[]? | select(.key == \"$PKEY\") | .withdrawn == true' >/dev/null"
check "the lease stays open" [ "$(mget "/v1/leases/$L1" .status)" = active ]
check "the workload runs on (pid $PID1)" alive "$PID1"
# An order only p1 could take: not matched while p1 is away.
check "alice orders another deployment while p1 is down" \
    sh -c "as_bg() { XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET \
        $BIN/tenant deploy $EX --timeout 60 --json > $T/d2.json 2> $T/d2.err; }; as_bg &
        echo \$! > $T/d2.pid"
sleep 3
O2=$(curl -s "$MARKET/v1/orders?tenant=$alice_ADDR" | jq -r \
    '[.[] | select(.id != "'"$D1"'")][0].id')
check "the new order is not matched to the stopped provider" \
    [ "$(mget "/v1/orders/$O2" .status)" = open ]
check "p1 starts again" cluster_provider_start p1
check "it advertises again (not withdrawn)" until_ok 10 sh -c \
    "curl -s $MARKET/v1/providers | grep -q '\"withdrawn\":false'"
check "the waiting order is matched to it now" until_ok 15 sh -c \
    "[ \"\$(curl -s $MARKET/v1/orders/$O2 | jq -r .status)\" = matched ]"
check "the new deployment comes up" until_ok 40 sh -c \
    "[ -s $T/d2.json ] && jq -e '.orders[0].lease' $T/d2.json >/dev/null"
check "the first workload was re-adopted again" until_ok 10 sh -c \
    "[ \$(grep -c 're-adopted (pid $PID1)' $CL/p1.log) -ge 2 ]"
URL=$(as alice status "$L1" --json | jq -r .services.web)
check "and counts on (request $((N0 + 4)))" \
    [ "$(count_of "$URL")" = $((N0 + 4)) ]

# ---- a replica that died while the provider was down ------------------------
track_sandboxes p1
L2=$(jq -r '.orders[0].lease' "$T/d2.json")
URL2=$(jq -r '.orders[0].services.web' "$T/d2.json")
PID2=$(rep_pid "$L2")
curl -s -m 3 "$URL2" >/dev/null
check "p1 is killed with -9 again" cluster_crash p1
kill -9 "$PID2"
check "one workload dies while p1 is down" until_ok 5 dead "$PID2"
check "p1 restarts" cluster_provider_start p1
URL=$(as alice status "$L1" --json | jq -r .services.web)
URL2=$(as alice status "$L2" --json | jq -r .services.web)
check "the live one is adopted and counts on (request $((N0 + 5)))" \
    until_ok 10 sh -c "[ \"\$($T/countof '$URL')\" = $((N0 + 5)) ]"
check "the dead one is restarted (new pid, count from 1)" until_ok 15 sh -c \
    "[ \"\$($T/countof '$URL2')\" = 1 ]"
check "its new pid differs" [ "$(rep_pid "$L2")" != "$PID2" ]
check "the dead one's downtime is not billed, the live one's is" sh -c \
    "! grep -q 'lease $L2: .*billed as reserved time' $CL/p1.log &&
     [ \$(grep -c 'lease $L1: .*billed as reserved time' $CL/p1.log) -ge 3 ]"

check "alice closes the first deployment: the adopted workload stops" \
    as alice close "$D1"
check "its process ends" until_ok 15 dead "$PID1"
check "ledger audit passes" until_ok 10 "$BIN/ledger" audit --market "$MARKET"
finish
