#!/bin/sh
# A WebAssembly compute job leased end to end with the real daemons: a
# market, a provider offering the "wasm" runtime, a funded tenant
# deploying examples/wasm-job (n-body; its module uploaded as a blob for
# wasm+file:, args on the command line), run once in the process sandbox
# by `provider wasm run`: its output in `tenant logs`, the replica
# completed (not restarted), fuel in the lease's usage, close and
# `ledger audit`.
. tests/e2e/lib.sh

EX=$ROOT/examples/wasm-job/deploy.yaml
FUND=1000000000
PRICE=cpu_ms=1000,mem_mb_s=1000,storage_mb_s=100,request=1000,fuel=1

tn() { XDG_CONFIG_HOME=$CL/alice timeout 10 $BIN/tenant --market $MARKET "$@"; }

check "the example job builds (clang --target=wasm32-wasi)" \
    timeout 30 sh "$ROOT/examples/wasm-job/build.sh"
check "market starts" cluster_market
check "provider starts and advertises" cluster_provider w1 region=eu $PRICE
check "tenant gets a key and funds" cluster_tenant alice $FUND

check "alice deploys the wasm job (blob uploaded, exit 0)" \
    to "$T/d.json" timeout 130 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant deploy $EX --timeout 120 --json"
L=$(jq -r '.orders[0].lease' "$T/d.json")
check "deploy uploaded the module as a blob" grep -q "1 blob" "$T/d.json.err"
check "the job completes (exit 0, not restarted)" until_ok 20 sh -c \
    "XDG_CONFIG_HOME=$CL/alice timeout 10 $BIN/tenant --market $MARKET status $L --json | jq -e '.provider.replicas[0] | .state == \"completed\" and .last_exit == 0 and .restarts == 0'"
tn logs "$L" > "$T/logs" 2>&1
check "its output is in tenant logs (n-body energies)" grep -q "^-0.169075164" "$T/logs"
check "its usage line is in the logs too" grep -q "usage: fuel=" "$T/logs"
check "the market's usage shows fuel and cpu_ms" until_ok 15 sh -c \
    "curl -s -m 5 $MARKET/v1/leases/$L | jq -e '.usage.fuel > 0 and .usage.cpu_ms > 0'"
sleep 1.5
check "the job is not started again" sh -c \
    "tn() { XDG_CONFIG_HOME=$CL/alice timeout 10 $BIN/tenant --market $MARKET \"\$@\"; }; tn status $L --json | jq -e '.provider.replicas[0].state == \"completed\"'"
check "alice closes the deployment" timeout 20 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant close $(jq -r .deployment "$T/d.json")"
check "ledger audit passes" until_ok 10 timeout 10 \
    "$BIN/ledger" audit --market "$MARKET"
finish
