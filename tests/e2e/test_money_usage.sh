#!/bin/sh
# Issue 12, case 1: impossible usage.  A hostile provider posts
# cpu_ms 999999999999 and 10^12 requests for a 0.5-CPU lease seconds old:
# refused (422 naming the counter and its bound); requests (no physical
# bound) are charged at most the bid minus the agreed price per epoch, and
# an order's per-epoch cap bounds them further; the tenant's balance is
# checked to the unit; an operator who writes such usage into the ledger
# anyway is caught by `ledger audit`, which names the index and the rule.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/money_lib.sh

check "market starts" cluster_market --check-invariants
TEN=$(keygen tenant)
HP=$(keygen hostile)
fund "$TEN" 10000000
fund "$HP" 20000000
# half a core at 1.28 per cpu_ms is 640 per (1 s) epoch, the issue's
# agreed price; 0.1 per request
check "the hostile provider advertises (bond and fee paid)" adv "$T/hostile.key" 4000 8000000000 1280000 100000
O=$(ord "$T/tenant.key" 500 100000 1000000)
L1=$(mget "/v1/orders/$O" .lease)
check "the order matched at the agreed 640 per epoch (bid 100000)" [ "$(mget "/v1/leases/$L1" .price)" = 640 ]
check "the lease starts with the tenant's manifest-delivery proof" start_lease "$T/hostile.key" "$L1"
check "the tenant paid the escrow and one fee, nothing else" [ "$(bal "$TEN")" = $((10000000 - 1000000 - 100)) ]
sleep 2

code=$(send "$T/hostile.key" lease.usage "{\"lease\":\"$L1\",\"usage\":{\"cpu_ms\":999999999999,\"requests\":1000000000000}}")
check "cpu_ms 999999999999 and 10^12 requests: 422" [ "$code" = 422 ]
check "the refusal names the counter, the value and its bound" grep -q 'cpu_ms: 999999999999 is past its physical bound [0-9]* for' "$T/.resp"
code=$(send "$T/hostile.key" lease.usage "{\"lease\":\"$L1\",\"usage\":{\"mem_mb_s\":1000000000}}")
check "memory past what 256 MiB can hold: 422 naming mem_mb_s" sh -c "[ $code = 422 ] && grep -q 'mem_mb_s: 1000000000 is past its physical bound' $T/.resp"
code=$(send "$T/hostile.key" lease.usage "{\"lease\":\"$L1\",\"usage\":{\"storage_mb_s\":1000000000}}")
check "storage past what 1 GiB can hold: 422 naming storage_mb_s" sh -c "[ $code = 422 ] && grep -q storage_mb_s $T/.resp"
check "nothing was charged" [ "$(mget "/v1/leases/$L1" .charged)" = 0 ]
check "the escrow is whole" [ "$(mget "/v1/orders/$O" .escrow)" = 1000000 ]

# requests have no physical bound: 10^12 of them cost at most the bid
# minus the agreed price, per epoch
check "1000 cpu_ms and 10^12 requests are accepted" submit "$T/hostile.key" lease.usage "{\"lease\":\"$L1\",\"usage\":{\"cpu_ms\":1000,\"requests\":1000000000000}}"
E=$(mget "/v1/leases/$L1" .billed_epochs)
C=$(mget "/v1/leases/$L1" .charged)
check "reserved: 1000 cpu_ms x 1.28 = 1280, within 640 x $E epochs" [ "$(mget "/v1/leases/$L1" .charged_reserved)" = 1280 ]
check "extras: capped at (100000 - 640) x $E epochs" [ "$(mget "/v1/leases/$L1" .charged_extras)" = $((99360 * E)) ]
check "the total never exceeds the bid per epoch" [ "$C" -le $((100000 * E)) ]
check "the escrow paid exactly the charge" [ "$(mget "/v1/orders/$O" .escrow)" = $((1000000 - C)) ]
check "the tenant closes the lease" submit "$T/tenant.key" lease.close "{\"lease\":\"$L1\",\"reason\":\"tenant_closed\"}"
check "the tenant's balance, to the unit: 10^7 - 2 fees - the charge" [ "$(bal "$TEN")" = $((10000000 - 200 - C)) ]

# the order's own per-epoch cap on an extra
O2=$(ord "$T/tenant.key" 500 100000 1000000 '"caps":{"requests":100}')
L2=$(mget "/v1/orders/$O2" .lease)
check "a capped order matched" [ "$L2" != null ]
check "its lease starts" start_lease "$T/hostile.key" "$L2"
sleep 1.2
check "10^12 requests reported again" submit "$T/hostile.key" lease.usage "{\"lease\":\"$L2\",\"usage\":{\"requests\":1000000000000}}"
E2=$(mget "/v1/leases/$L2" .billed_epochs)
check "at most 100 requests per epoch charged: 100 x 0.1 x $E2" [ "$(mget "/v1/leases/$L2" .charged_extras)" = $((10 * E2)) ]
check "ledger audit of the running market passes" until_ok 10 $L audit --market "$MARKET"

# a dishonest operator writes the impossible usage into the ledger itself
envelope "$T/hostile.key" lease.usage "{\"lease\":\"$L2\",\"usage\":{\"cpu_ms\":999999999999}}" > "$T/forged.jsonl"
sleep 1.2 # let the market checkpoint everything first
N=$(curl -s "$MARKET/v1/ledger/entries?start=0&end=0" | jq .size)
check "the forged usage goes into the ledger, checkpoint signed" tamper "$T/forged.jsonl"
check_fails "ledger audit names the index and the physical-bound rule" "index $N.*cpu_ms: 999999999999 is past its physical bound" $L audit "$CL/market/ledger.db"
finish
