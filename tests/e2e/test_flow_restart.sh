#!/bin/sh
# A provider killed with -9 and restarted while it runs a lease: the
# lease keeps running (behind the provider's new port), it was started
# and is billed once, charges resume, a tenant's close after the restart
# still stops the workload, and `ledger audit` passes.  The service is
# examples/hello-perl.
# The cluster runs on TLS (README "TLS"; LODGE_INSECURE_HTTP=1 in the
# environment runs it on plain HTTP instead).
: "${LODGE_INSECURE_HTTP=}"
. tests/e2e/lib.sh

EX=$ROOT/examples/hello-perl/deploy.yaml
FUND=1000000000
P1PRICE=cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000


check "market starts on a free loopback port" cluster_market
check "provider p1 starts and advertises" cluster_provider p1 region=eu $P1PRICE
check "tenant alice gets a key and funds" cluster_tenant alice $FUND
check "alice deploys the example" \
    to "$T/d1.json" as alice deploy "$EX" --timeout 20 --json
D1=$(jq -r .deployment "$T/d1.json")
L1=$(jq -r '.orders[0].lease' "$T/d1.json")
URL1=$(jq -r '.orders[0].services.web' "$T/d1.json")
check "the service answers through the gateway" is_200 "$URL1"
check "usage is charged before the crash" until_ok 10 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$L1 | jq .charged) -gt 0 ]"

# ---- a provider killed -9 and restarted ----------------------------------
check "p1 is killed with -9" cluster_crash p1
check "p1 restarts from its data directory" cluster_provider_start p1
# the restarted provider listens on a new free port and re-advertises it;
# tenant status shows the gateway URL from the current ask
URL1=$(as alice status "$L1" --json | jq -r .services.web)
check "tenant status gives the service URL at the provider's new port" \
    [ "$URL1" = "$p1_URL/l/$L1/web/" ]
check "after the restart the service answers through the gateway" \
    until_ok 15 is_200 "$URL1"
check "the lease is still active on the market" \
    [ "$(lease_field "$L1" status)" = active ]
c2=$(lease_field "$L1" charged)
check "charges resume after the restart" until_ok 10 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$L1 | jq .charged) -gt $c2 ]"
check "the lease was started once in the ledger (billed once)" \
    [ "$(count_entries "$L1" lease.started)" = 1 ]
started=$(lease_field "$L1" started)
now=$(($(date +%s%3N)))
price=$(lease_field "$L1" price)
check "total charged is at most the lease price for the epochs it ran" \
    [ "$(lease_field "$L1" charged)" -le $(( price * ((now - started) / 1000 + 2) )) ]

check "alice closes the deployment after the restart" as alice close "$D1"
check "the restarted provider stops the workload: the gateway no longer serves it" \
    until_ok 10 not_200 "$URL1"
check "the provider reports the lease closed" until_ok 10 sh -c \
    "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET status $L1 --json | jq -e '.provider.status == \"closed\" or (.provider_error // \"\" | test(\"HTTP 404\"))'"
check "ledger audit passes" until_ok 10 "$BIN/ledger" audit --market "$MARKET"
finish
