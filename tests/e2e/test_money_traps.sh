#!/bin/sh
# Issue 12, case 7 (the market's side): money traps a new tenant falls
# into.  An unfunded tenant is told how to get funds; a deposit below the
# minimum lease (10 epochs of the agreed price) does not buy a lease that
# dies at once, it waits and a top-up matches it; sufficiency counts the
# agreed price, not the bid: a deposit of one epoch of the bid (100 of the
# agreed price) keeps the lease running, and a deposit of exactly 10
# epochs of the agreed price runs ~10 epochs before insufficient_funds.
# Closing someone else's lease is refused.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/money_lib.sh

check "market starts (1 s epochs, min lease 10 epochs, no pause grace)" cluster_market --check-invariants --pause-grace 0
check "the genesis states the minimum lease" [ "$(mget /v1/info .min_lease_epochs)" = 10 ]
NEW=$(keygen newcomer)
TEN=$(keygen tenant)
P=$(keygen prov)
fund "$P" 20000000
# 0.5 core at 1.28 per cpu_ms: 640 per epoch
check "a provider asks 640 per epoch for half a core" adv "$T/prov.key" 4000 8000000000 1280000

BODY="{\"placement\":\"dc\",\"resources\":[{\"count\":1,\"cpu_millis\":500,\"memory_bytes\":268435456,\"storage_bytes\":1073741824}],\"denom\":\"uakt\",\"max_price\":64000,\"runtimes\":[\"process\"],\"manifest_hash\":\"$H0\",\"deposit\":5000,\"ttl_ms\":600000}"
code=$(send "$T/newcomer.key" order.create "$BODY")
check "an unfunded tenant: 402, told how to get funds" sh -c "[ $code = 402 ] && grep -q 'fund the key first: an account.deposit' $T/.resp"
fund "$NEW" 100
code=$(send "$T/newcomer.key" order.create "$BODY")
check "with only the fee: 422, the deposit explained and funds pointed to" sh -c "[ $code = 422 ] && grep -q 'deposit moves from the balance into the order' $T/.resp && grep -q account.deposit $T/.resp"
check "and nothing was taken" [ "$(bal "$NEW")" = 100 ]

fund "$TEN" 10000000
O1=$(ord "$T/tenant.key" 500 64000 6399)
check "a deposit below 10 epochs of the agreed price (6399 < 6400): the order waits" [ "$(mget "/v1/orders/$O1" .status)" = open ]
check "a top-up of 1 reaches the minimum lease" submit "$T/tenant.key" deployment.deposit "{\"order\":\"$O1\",\"amount\":1}"
L1=$(mget "/v1/orders/$O1" .lease)
check "and matches at once, at 640" [ "$(mget "/v1/leases/$L1" .price)" = 640 ]
check "its lease starts" start_lease "$T/prov.key" "$L1"
O2=$(ord "$T/tenant.key" 500 64000 64000)
L2=$(mget "/v1/orders/$O2" .lease)
check "a deposit of one epoch of the bid (64000) matches" [ "$L2" != null ]
check "its lease starts" start_lease "$T/prov.key" "$L2"
sleep 3
check "3 s later it still runs: 64000 pays 100 epochs at the agreed 640" [ "$(mget "/v1/leases/$L2" .status)" = active ]
check "so does the 6400 one (10 epochs)" [ "$(mget "/v1/leases/$L1" .status)" = active ]
check "the 6400 one closes insufficient_funds once its 10 epochs are up" until_ok 15 sh -c "[ \$(curl -s $MARKET/v1/leases/$L1 | jq -r .reason) = insufficient_funds ]"
check "no earlier than 10 epochs after it started" sh -c "[ \$(( \$(curl -s $MARKET/v1/leases/$L1 | jq '.closed - .started') )) -ge 10000 ]"
check "the 64000 one still runs" [ "$(mget "/v1/leases/$L2" .status)" = active ]
code=$(send "$T/newcomer.key" lease.close "{\"lease\":\"$L2\",\"reason\":\"tenant_closed\"}")
check "closing someone else's lease: 422" [ "$code" = 422 ]
check "the lease is untouched" [ "$(mget "/v1/leases/$L2" .status)" = active ]
check "ledger audit passes" until_ok 10 $L audit --market "$MARKET"
finish
