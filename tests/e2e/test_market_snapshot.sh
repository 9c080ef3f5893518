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
# Nothing in this ledger is derived from the clock while the test runs
# (p1 never heartbeats, its lease never gets a manifest): a restart's
# views are compared with a later one's, and an offline mark or a
# manifest deadline landing in between (a loaded machine stretches the
# test past 30 s) would change the tenant's balance on its own.
CLUSTER_GRACE=3600
market_up() { cluster_market --manifest-window 86400 "$@"; }

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

check "market starts with --snapshot-every 5" market_up --snapshot-every 5
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
check "it restarts" market_up --snapshot-every 5
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
check "it restarts after the edit" market_up --snapshot-every 0
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
check "it restarts with a foreign snapshot" market_up --snapshot-every 0
check "the foreign snapshot is refused and the log says so" grep -q "state snapshot not used" "$CL/market.log"
views > "$T/after3"
check "same state again" cmp "$T/before" "$T/after3"
check "ledger audit of the store replays from the genesis and passes" $L audit "$CL/market/ledger.db"

# kill -9 while snapshots are written: with --snapshot-every 1 a
# copy-on-write child writes one at every checkpoint while transfers come
# in; the market is killed as soon as such a writer is seen running.
# Whatever the moment, the restart takes the last recorded snapshot
# (never refused), and reaches the state a full replay from the genesis
# reaches; the writer dies with the market.
check "stopped a fourth time" stop_market
caught=0
for round in 1 2 3; do
	mv "$CL/market.log" "$CL/market.log.k$round"
	check "round $round: the market starts, snapshot at every checkpoint" market_up --snapshot-every 1
	( j=0; while [ $j -lt 60 ]; do
		submit "$T/tenant.key" account.transfer "{\"to\":\"$P1\",\"denom\":\"uakt\",\"amount\":$round$j}" > /dev/null 2>&1 || exit 0
		j=$((j + 1)); done ) &
	LOAD=$!
	check "round $round: a snapshot is written by a child" until_ok 20 grep -q "state snapshot at.*in a child" "$CL/market.log"
	# the first writer seen running (pgrep -P: the market's children)
	child=
	end=$(($(date +%s) + 8))
	while [ -z "$child" ] && [ "$(date +%s)" -lt $end ]; do
		child=$(pgrep -P "$MARKET_PID" | head -1)
	done
	kill -9 "$MARKET_PID"
	wait "$LOAD" 2>/dev/null
	if [ -n "$child" ]; then
		caught=$((caught + 1))
		check "round $round: the writer (pid $child) died with the market" until_ok 5 sh -c "! grep -qs '^State:.*[RSD]' /proc/$child/status"
	fi
	mv "$CL/market.log" "$CL/market.log.k${round}a"
	check "round $round: it restarts after kill -9" market_up --snapshot-every 0
	check "round $round: the restart used the snapshot" grep -q "from the snapshot" "$CL/market.log"
	check "round $round: no snapshot was refused" sh -c "! grep -q 'state snapshot not used' '$CL/market.log'"
	views > "$T/k$round"
	check "round $round: stopped" stop_market
	mv "$CL/market.log" "$CL/market.log.k${round}b"
	mkdir -p "$T/aside"
	mv "$CL/market/state.snap" "$T/aside/"
	rm -f "$CL/market/state.snap.new"
	check "round $round: restarts with no snapshot file" market_up --snapshot-every 0
	check "round $round: that replay was from the genesis" sh -c "! grep -q 'from the snapshot' '$CL/market.log'"
	views > "$T/k${round}full"
	check "round $round: same state as the full replay" cmp "$T/k$round" "$T/k${round}full"
	check "round $round: stopped again" stop_market
	mv "$T/aside/state.snap" "$CL/market/state.snap"
done
echo "# killed while a snapshot writer ran in $caught of 3 rounds"
check "ledger audit after the kills" $L audit "$CL/market/ledger.db"
finish
