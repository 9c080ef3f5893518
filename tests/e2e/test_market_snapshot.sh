#!/bin/sh
# A market restarts from its state snapshot (docs/state.md, "Snapshots"):
# with --snapshot-every 5 it saves state.snap after a few entries; a
# restart loads it and replays only the entries after it, reaching the
# same accounts and orders; a snapshot edited on disk (a hostile edit), or
# one whose recorded hash no longer matches, is not used: the market says
# so in its log and replays the whole ledger to the same state.  `ledger
# audit` of the store replays from the genesis and passes throughout.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh

# stop the market (SIGTERM) and wait until it is gone
stop_market() {
	kill "$MARKET_PID"
	i=0
	while kill -0 "$MARKET_PID" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	! kill -0 "$MARKET_PID" 2>/dev/null
}
# the views a restart must reproduce
views() {
	for a in "$TEN" "$P1"; do curl -s "$MARKET/v1/accounts/$a"; done
	curl -s "$MARKET/v1/orders"
	curl -s "$MARKET/v1/providers" | jq -c 'del(.[]?.online, .[]?.last_seen)'
	curl -s "$MARKET/v1/info" | jq -c .entries
}

check "market starts with --snapshot-every 5" cluster_market --snapshot-every 5
TEN=$(keygen tenant)
P1=$(keygen p1)
check "deposits" sh -c "$M deposit --data $CL/market $TEN 10000000 >/dev/null && $M deposit --data $CL/market $TEN 5000 >/dev/null"
p1_asks() { fund_ask p1 && advertise p1 '{"region":"eu"}' 1000; }
check "p1 funded and advertises" p1_asks
for i in 1 2 3 4 5 6; do
	submit "$T/tenant.key" account.transfer "{\"to\":\"$P1\",\"denom\":\"uakt\",\"amount\":$i}" > /dev/null
done
O1=$(order "$T/tenant.key" '{"region":"eu"}' 500 100000 2000000)
check "an order matched before the snapshot" [ -n "$O1" ]
check "a snapshot is taken and logged" until_ok 10 grep -q "state snapshot at" "$CL/market.log"
check "state.snap exists" test -s "$CL/market/state.snap"
# entries after the snapshot: the tail a restart replays
sleep 1.5
submit "$T/tenant.key" account.transfer "{\"to\":\"$P1\",\"denom\":\"uakt\",\"amount\":77}" > /dev/null
until_ok 10 sh -c "curl -s $MARKET/v1/accounts/$P1 | grep -q balances" > /dev/null
sleep 1.5
views > "$T/before"
check "the market stops" stop_market
mv "$CL/market.log" "$CL/market.log.1"
check "it restarts" cluster_market --snapshot-every 5
check "the restart used the snapshot" grep -q "from the snapshot" "$CL/market.log"
grep -h "state " "$CL/market.log" | sed 's/^/#   /'
views > "$T/after"
check "same accounts, orders, providers and size after the restart" cmp "$T/before" "$T/after"

# a hostile edit of the snapshot: one byte of a balance changed
check "the market stops again" stop_market
mv "$CL/market.log" "$CL/market.log.2"
python3 - "$CL/market/state.snap" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0x01
open(p, 'wb').write(b)
PY
check "it restarts after the edit" cluster_market --snapshot-every 0
check "the edited snapshot is not used, and the log says why" grep -q "state snapshot not used.*SHA-256" "$CL/market.log"
check "the whole ledger was replayed" sh -c "! grep -q 'from the snapshot' '$CL/market.log'"
grep -h "state " "$CL/market.log" | sed 's/^/#   /'
views > "$T/after2"
check "same state after the full replay" cmp "$T/before" "$T/after2"

# a snapshot file that is not the one recorded (taken from elsewhere):
# the recorded hash no longer matches either
check "stopped a third time" stop_market
mv "$CL/market.log" "$CL/market.log.3"
printf 'lodge-state-snapshot 3 00\n' > "$CL/market/state.snap"
check "it restarts with a foreign snapshot" cluster_market --snapshot-every 0
check "the foreign snapshot is refused and the log says so" grep -q "state snapshot not used" "$CL/market.log"
views > "$T/after3"
check "same state again" cmp "$T/before" "$T/after3"
check "ledger audit of the store replays from the genesis and passes" $L audit "$CL/market/ledger.db"
finish
