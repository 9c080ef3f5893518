#!/bin/sh
# Slow clients against a real market (issue 13, item 2): 2,000 connections
# from ten loopback addresses each send one byte of a request head every
# 2 s (and reconnect when closed) while a good client checks /healthz
# (p99 < 100 ms) and submits signed entries; each slow connection is
# closed by the total head deadline (10 s, 408), not kept open by its
# trickle; a body trickled a byte every 500 ms is closed by the body
# deadline; one address beyond the per-address cap (256) is refused.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh

cc -O2 -Wall -o "$T/hostile" tests/e2e/hostile.c -lpthread || {
	notok "build tests/e2e/hostile.c"; finish; }
H=$T/hostile
check "market starts on a free port" start_market
ALICE=$(keygen alice)
deposit() { # deposit N: N treasury deposits, each must get 201
	i=0
	while [ $i -lt "$1" ]; do
		submit "$MDIR/treasury.key" account.deposit \
		    "{\"to\":\"$ALICE\",\"denom\":\"uakt\",\"amount\":1}" >/dev/null || return 1
		i=$((i + 1))
	done
}
# probe_ok N FILE: N requests to /healthz, each on a new connection: no
# failure and p99 < 100 ms (the figures go to FILE)
probe_ok() {
	$H probe "$MPORT" "$1" /healthz >"$2" && grep -q ' failed=0 ' "$2" &&
	    [ "$(sed -n 's/.* p99=\([0-9]*\).*/\1/p' "$2")" -lt 100 ]
}
check "without slow clients: /healthz p99 < 100 ms" probe_ok 300 "$T/probe0"

FROM="127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6 127.0.0.7 127.0.0.8 127.0.0.9 127.0.0.10 127.0.0.11"
# shellcheck disable=SC2086
$H slowloris "$MPORT" 2000 32 2000 $FROM >"$T/slow.out" 2>&1 &
PIDS="$PIDS $!"
SLOW=$!
$H slowbody "$MPORT" /v1/entries 100000 500 >"$T/slowbody.out" 2>&1 &
PIDS="$PIDS $!"
BODY=$!
open_slow() { tail -1 "$T/slow.out" | grep -q ' open=2000 '; }
check "2,000 slow connections are open at once" until_ok 15 open_slow
check "with them: /healthz p99 < 100 ms, no failure" probe_ok 500 "$T/probe1"
check "with them: 30 signed submissions succeed" deposit 30
check "with them: the balance shows every submission" sh -c \
    "[ \$(curl -s -m 5 $U/v1/accounts/$ALICE | jq .balances.uakt) = 30 ]"
check "still 2,000 open after the submissions" open_slow
sed 's/^/# /' "$T/probe0" "$T/probe1"

wait $BODY
sed 's/^/# /' "$T/slowbody.out"
# 10 s plus 100,000 bytes at 64 KiB/s: due at 11.5 s
check "a trickled body gets 408 at its deadline, 10-14 s" sh -c \
    "grep -q 'status=408 ' $T/slowbody.out && ms=\$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' $T/slowbody.out) && [ \$ms -ge 10000 ] && [ \$ms -le 14000 ]"

wait $SLOW
tail -1 "$T/slow.out" | sed 's/^/# /'
# 32 s of 2,000 connections that live 10 s each: over 4,000 closed by
# the deadline with a 408, none refused (ten addresses, 200 each).
check "every slow connection was closed by the head deadline (408)" sh -c \
    "tail -1 $T/slow.out | grep -q ' refused=0' && got=\$(tail -1 $T/slow.out | sed -n 's/.* got408=\([0-9]*\).*/\1/p') && [ \$got -ge 4000 ]"

$H slowloris "$MPORT" 300 3 1000 127.0.0.20 >"$T/cap.out" 2>&1
tail -1 "$T/cap.out" | sed 's/^/# /'
check "300 connections from one address: those beyond 256 are refused" sh -c \
    "got=\$(tail -1 $T/cap.out | sed -n 's/.* refused=\([0-9]*\).*/\1/p') && [ \$got -ge 44 ]"
check "the market answers after all this" sh -c "curl -sf -m 2 $U/healthz | grep -q ok"
finish
