#!/bin/sh
# An operator's mistakes are caught, not silent (issue 13, item 9):
#  - `provider init` again on a data dir changes only what it is given
#    (attributes, reservations, prices and limits stay), and says so;
#  - a reservation that leaves nothing to offer (--reserve-cpu beyond the
#    machine's cores) is refused with exit 2, by init and at start;
#  - a provider priced in a denomination the market does not settle is
#    refused at start, naming the ones it settles;
#  - at start the provider says what its sandboxes can do: with root the
#    cgroup mode; without root, that metering is by rusage and what else
#    is lost.
. tests/e2e/lib.sh
CL=$T
. examples/local/cluster.sh
trap 'cluster_stop; cleanup' EXIT

P=$BIN/provider
CORES=$(nproc)
json() { jq -r "$2" "$T/$1/provider.json"; }

check "market starts" cluster_market
check "init a provider with attributes, reservations, a price and limits" \
    $P init --market "$MARKET" --data "$T/p" --listen 127.0.0.1:0 \
    --attributes region=eu,tier=1 --reserve-memory 1Gi --reserve-cpu 0.5 \
    --price cpu_ms=777 --pids-per-cpu 100
to "$T/again.out" $P init --data "$T/p" --name renamed
check "init again with --name only succeeds (no --market needed)" \
    grep -q "updated: name" "$T/again.out"
check "  the attributes stay" \
    [ "$(json p '.attributes | to_entries | map("\(.key)=\(.value)") | join(",")')" = "region=eu,tier=1" ]
check "  the reservations stay" \
    [ "$(json p .reserved.memory_bytes)/$(json p .reserved.cpu_millis)" = "1073741824/500" ]
check "  the price stays" [ "$(json p .price.cpu_ms)" = 777 ]
check "  the limits stay" [ "$(json p .pids_per_cpu)" = 100 ]
check "  the name changed" [ "$(json p .name)" = renamed ]
check "the key is kept" grep -q "(existing)" "$T/again.out"
$P init --data "$T/p" --attributes tier=2 >/dev/null
check "--attributes given again replaces the set" \
    [ "$(json p '.attributes | keys | join(",")')" = tier ]
check_fails "init without --market on a new data dir is a usage error" \
    "usage: provider init" $P init --data "$T/new"

check_fails "--reserve-cpu $((CORES + 2)) on $CORES cores is refused" \
    "leaves nothing to offer: this machine has $CORES.000 CPUs" \
    $P init --market "$MARKET" --data "$T/q" --reserve-cpu $((CORES + 2))
$P init --market "$MARKET" --data "$T/q" --reserve-cpu $((CORES + 2)) \
    >/dev/null 2>&1
check "  with exit status 2" [ $? = 2 ]
check "  and nothing written" [ ! -e "$T/q/provider.json" ]
check_fails "so is --reserve-memory beyond the machine's memory" \
    "reserve-memory .* leaves nothing to offer" \
    $P init --market "$MARKET" --data "$T/q" --reserve-memory 100Ti
# A config edited by hand (or copied from a bigger machine): at start.
$P init --market "$MARKET" --data "$T/r" --listen 127.0.0.1:0 >/dev/null
jq ".reserved.cpu_millis = $((CORES * 1000))" "$T/r/provider.json" \
    >"$T/r.json" && mv "$T/r.json" "$T/r/provider.json"
check_fails "provider run refuses a config that offers no CPU" \
    "reserve-cpu .* leaves nothing to offer" \
    timeout 20 $P run --data "$T/r"

$P init --market "$MARKET" --data "$T/d" --listen 127.0.0.1:0 \
    --price denom=uusd >/dev/null
check_fails "a provider priced in uusd is refused by a uakt market" \
    "price.denom \"uusd\" is not settled by the market $MARKET, which settles: uakt" \
    timeout 20 $P run --data "$T/d"

# What the sandboxes can do, said at start.
check "a provider with root starts" cluster_provider p1 region=eu \
    cpu_ms=1000
check "  and says how sandboxes are limited and metered" \
    grep -q "sandboxes: limits (CPU, memory, processes) and metering by cgroup" \
    "$CL/p1.log"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null; then
	AS="setpriv --reuid 65534 --regid 65534 --clear-groups"
	chmod 755 "$T"
	mkdir -p "$T/n" && chown 65534:65534 "$T/n"
	$AS $P init --market "$MARKET" --data "$T/n" --listen 127.0.0.1:0 \
	    >/dev/null
	$AS $P run --data "$T/n" >"$T/n.log" 2>&1 &
	NPID=$!
	PIDS="$PIDS $NPID"
	check "a provider without root starts" until_ok 10 test -s "$T/n/run.json"
	check "  and says it is not root and meters by rusage" sh -c \
	    "grep -q 'not running as root (uid 65534)' $T/n.log &&
	     grep -q 'metering is by rusage' $T/n.log"
	kill "$NPID"
fi
finish
