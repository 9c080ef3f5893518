#!/bin/sh
# The README's "From nothing to a running deployment" is run as written:
# its shell blocks, in order, against a market and two providers on
# loopback (tests/e2e/readme_blocks.py extracts them; only $LODGE and the
# ports change), so the README cannot drift from the binaries.  Then what
# a reader should have seen: the service answering, the command inside,
# the events, the audits, the refund.
. tests/e2e/lib.sh
need_root
need_tools jq curl perl python3

ports=$(python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
set -- $ports
python3 tests/e2e/readme_blocks.py README.md \
    "### From nothing to a running deployment" "$T/lodge" "$1" "$2" "$3" \
    > "$T/readme.sh"
check "the README's walk-through has its blocks" \
    [ "$(grep -c '^echo .ok - README block' "$T/readme.sh")" -ge 8 ]
PATH=$BIN:$PATH
export PATH
# the script's daemons, for the cleanup when it stops half-way
timeout 300 sh "$T/readme.sh" > "$T/readme.out" 2>&1
rc=$?
for f in market p1 p2; do
	pid=$(cat "$T/lodge/$f/run.json" 2>/dev/null | jq -r .pid 2>/dev/null)
	[ -n "$pid" ] && [ "$pid" != null ] && PIDS="$PIDS $pid"
done
PIDS="$PIDS $(pgrep -f "market run --data $T/lodge/market" | tr '\n' ' ')"
grep '^ok - README' "$T/readme.out"
if [ $rc != 0 ]; then
	notok "README block after the last ok (exit $rc)"
	tail -25 "$T/readme.out" | sed 's/^/#   /'
	finish
fi
ok "every README block ran (exit 0)"
check "the service answered through the gateway, by path and by host" \
    [ "$(grep -c 'hello from a Lodge lease' "$T/readme.out")" -ge 2 ]
check "tenant exec ran inside as the workload" \
    grep -Eq '^inside: [a-z]+, [0-9] processes' "$T/readme.out"
check "status showed prices in tokens and micro-units" \
    grep -Eq 'AKT \([0-9]+ uakt\) per month' "$T/readme.out"
check "the events showed the ledger's and the provider's sides" sh -c "
	grep -q 'market    lease.started' $T/readme.out &&
	grep -q 'provider  replica.started' $T/readme.out"
check "the audits passed, the second from the remembered checkpoint" sh -c "
	[ -s $T/lodge/checkpoint ] && [ \$(grep -c '^audit ok: ' $T/readme.out) -ge 2 ] &&
	grep -q 'consistent with the remembered checkpoint' $T/readme.out"
check "the close refunded the escrow" \
    grep -Eq 'closed \(tenant_closed\): charged [0-9]+, refunded [0-9]+ uakt' "$T/readme.out"
check "the provider's earnings moved out" grep -q '^transferred 1000 uakt' "$T/readme.out"
finish
