#!/bin/sh
# A port in use is a start-up error (issue 13, item 6): a second market
# and a second provider started on the port of a running one exit 1 with
# a message naming the address, and the first keeps every request (no
# SO_REUSEPORT sharing).
. tests/e2e/lib.sh
port_of() { sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$1"; }

$BIN/market run --data "$T/m" --listen 127.0.0.1:0 --epoch 1 \
    >"$T/market.log" 2>&1 &
MPID=$!
PIDS="$PIDS $MPID"
check "a market starts" until_ok 10 test -s "$T/m/market.json"
MPORT=$(port_of "$T/m/market.json" listen_port)
M=http://127.0.0.1:$MPORT
KEY1=$(curl -s "$M/v1/info" | jq -r .market_key)

# exits_busy CMD...: CMD exits 1 saying 127.0.0.1:$BUSY is in use
exits_busy() {
	"$@" >"$T/busy.out" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	wait $pid
	rc=$?
	sed 's/^/# /' "$T/busy.out"
	[ $rc -eq 1 ] && grep -q "127.0.0.1:$BUSY" "$T/busy.out" &&
	    grep -q "in use" "$T/busy.out"
}
BUSY=$MPORT
check "a second market on the same port exits 1 naming 127.0.0.1:PORT" \
    exits_busy $BIN/market run --data "$T/m2" --listen "127.0.0.1:$MPORT" --epoch 1
same_key() {
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(curl -s "$M/v1/info" | jq -r .market_key)" = "$KEY1" ] || return 1
	done
}
check "the first market still runs" kill -0 $MPID
check "every request still reaches the first market" same_key

$BIN/provider init --market "$M" --data "$T/p" --listen 127.0.0.1:0 \
    >/dev/null 2>&1
$BIN/provider run --data "$T/p" >"$T/provider.log" 2>&1 &
PIDS="$PIDS $!"
check "a provider starts" until_ok 10 test -s "$T/p/run.json"
PPORT=$(port_of "$T/p/run.json" port)
$BIN/provider init --market "$M" --data "$T/p2" --listen "127.0.0.1:$PPORT" \
    >/dev/null 2>&1
BUSY=$PPORT
check "a second provider on the same port exits 1 naming 127.0.0.1:PORT" \
    exits_busy $BIN/provider run --data "$T/p2"
PKEY=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' "$T/p/run.json")
check "the first provider still answers" sh -c \
    "curl -s -m 2 http://127.0.0.1:$PPORT/v1/info | grep -q '$PKEY'"
[ "$FAILED" -eq 0 ] || sed 's/^/# market: /' "$T/market.log" | tail -20
finish
