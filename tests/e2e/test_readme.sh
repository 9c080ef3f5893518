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
set -- $ports; MP=$1 P1=$2 P2=$3
python3 tests/e2e/readme_blocks.py README.md \
    "### From nothing to a running deployment" "$T/lodge" "$MP" "$P1" "$P2" \
    > "$T/readme.sh"
check "the README's walk-through has its blocks" \
    [ "$(grep -c '^echo .ok - README block' "$T/readme.sh")" -ge 8 ]
# The other blocks of "Using Lodge" name placeholder hosts (a
# market.example): each command they run must exist and take the options
# they give it, as its --help says.
python3 tests/e2e/readme_blocks.py --commands README.md "## Using Lodge" |
    sort -u > "$T/commands"
check "the README's other blocks run Lodge's commands" \
    [ "$(wc -l < "$T/commands")" -ge 20 ]
: > "$T/drift"
while IFS='|' read -r cmd opts; do
	set -- $cmd
	help=$("$BIN/$1" ${2:+"$2"} ${3:+"$3"} --help 2>&1) ||
	    { echo "$cmd: no such command" >> "$T/drift"; continue; }
	[ "$1" = tenant ] && help="$help $("$BIN/tenant" --help 2>&1)"
	for o in $opts; do
		printf '%s\n' "$help" | grep -q -- "$o\([^a-z-]\|\$\)" ||
		    echo "$cmd: no option $o in its --help" >> "$T/drift"
	done
done < "$T/commands"
check "every command and option they use exists (no drift)" \
    sh -c "! grep . $T/drift"

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
