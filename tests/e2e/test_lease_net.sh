#!/bin/sh
# test_lease_net: deployment networks through the real market, provider
# and tenant (provider init --net on), as root.  The whole cluster runs in
# a network namespace standing in for the provider's host ("h", entered
# with nsenter --net only, so cgroups and mounts are the host's), with a
# veth to a second one standing in for "the internet" ("i": an echo
# server, and 169.254.169.254 as a cloud's metadata address): the real
# host's network and nftables are never touched.  Checked: a provider
# without networks is not offered an order that needs one (refused by
# `tenant deploy` before any escrow, naming the capability); a web + db
# deployment where web reaches db by name; another tenant's lease cannot
# reach it by name or address; outbound to the internet is allowed and
# metered into lease usage, to the host (its addresses, the gateway, the
# metadata address, another lease) refused; TCP and UDP echo services
# through their forwarded ports, listed by `tenant status`; provider
# restarts (SIGTERM, kill -9) during which a client in a replica reaches
# the other service by name without one failure, a forwarded port answers
# all along, and the egress bytes sent meanwhile are metered exactly once
# (the networks are left in the kernel and adopted); a network with a rule
# added by hand is not adopted but made again (same port), a stray
# bridge and table of the provider's scope are removed at start, as is
# the network of a lease closed while the provider was killed; `--egress
# off` (no egress advertised, no outbound, service names still); and at
# the end no veth, bridge, nft table of the test is left, after the
# leases close and after the provider stops.
ROOT=$(pwd)
[ "$(id -u)" = 0 ] || { echo "ok - deployment networks end to end # SKIP needs root"; exit 0; }
for t in ip nft nsenter python3 jq curl; do
	command -v $t >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v $t >/dev/null 2>&1 ||
	    { echo "ok - deployment networks end to end # SKIP no $t"; exit 0; }
done

if [ "${1:-}" != --inner ]; then
	# ---- outside: the stand-in world, the run inside it, and the check
	# that nothing is left in it ----
	N=ln$$
	PEER=$ROOT/tests/e2e/net_peer.py
	PIDS=""
	FAILED=0
	outer_cleanup() {
		for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
		wait 2>/dev/null
		ip netns del "${N}h" 2>/dev/null
		ip netns del "${N}i" 2>/dev/null
	}
	trap outer_cleanup EXIT
	trap 'exit 1' INT TERM
	for s in h i; do
		ip netns add "$N$s" && ip -n "$N$s" link set lo up ||
		    { echo "not ok - ip netns add $N$s"; exit 1; }
	done
	ip -n "${N}h" link add up0 type veth peer name eth0 netns "${N}i"
	ip -n "${N}h" address add 203.0.113.1/24 dev up0
	ip -n "${N}h" link set up0 up
	ip -n "${N}h" route add default via 203.0.113.10
	ip -n "${N}i" address add 203.0.113.10/24 dev eth0
	ip -n "${N}i" address add 169.254.169.254/32 dev eth0
	ip -n "${N}i" link set eth0 up
	# "the internet" and the metadata address: one echo server on both
	ip netns exec "${N}i" python3 "$PEER" serve tcp 8080 &
	PIDS="$PIDS $!"
	ip netns exec "${N}i" python3 "$PEER" serve tcp 80 &
	PIDS="$PIDS $!"
	nsenter --net="/run/netns/${N}h" sh "$0" --inner "$N"
	rc=$?
	left_links=$(ip -n "${N}h" -o link show | grep -c 'lodge')
	left_tables=$(ip netns exec "${N}h" nft list tables | grep -c 'lodge')
	if [ "$left_links" = 0 ] && [ "$left_tables" = 0 ]; then
		echo "ok - after the test no lodge veth, bridge or nft table is left in the provider's namespace"
	else
		echo "not ok - lodge objects left: $left_links links, $left_tables tables"
		ip -n "${N}h" -o link show | grep lodge | sed 's/^/#   /'
		rc=1
	fi
	exit $rc
fi

# ---- inside the provider host's network namespace ----
N=$2
. tests/e2e/lib.sh
PEER=$ROOT/tests/e2e/net_peer.py
FUND=1000000000
PRICE=cpu_ms=1000,mem_mb_s=1000,storage_mb_s=100
POOL=10.231.0.0/16
PORTS=31000-31099

# ---- the deployments (SDL with the programs inlined: python3 -c) ----
# sdl OUT KIND: KIND "ab" (web prober + db echo reachable from web) or
# "echo" (web prober + a TCP echo service on a global port 7000)
sdl() {
	python3 - "$1" "$2" "$ROOT/tests/e2e/lease_net_probe.py" "$PEER" << 'EOF'
import json, sys
out, kind, probe, peer = sys.argv[1:]
probe, peer = open(probe).read(), open(peer).read()
q = json.dumps
def svc(args, expose):
    return ("    image: host\n    command: [\"python3\"]\n"
            "    args: [%s]\n    expose:\n%s" %
            (", ".join(q(a) for a in args), expose))
web = svc(["-c", probe],
          "      - port: 8080\n        as: 80\n        to:\n"
          "          - global: true\n")
if kind == "ab":
    other, oname = svc(["-c", peer, "serve", "tcp", "5432"],
                       "      - port: 5432\n        to:\n"
                       "          - service: web\n"), "db"
else:
    # one echo on 7000/tcp and one on 7000/udp (sh's $0 is the source)
    other = svc(["-c", 'python3 -c "$0" serve udp 7000 & '
                 'exec python3 -c "$0" serve tcp 7000', peer],
                "      - port: 7000\n        proto: tcp\n"
                "        to:\n          - global: true\n"
                "      - port: 7000\n        proto: udp\n"
                "        to:\n          - global: true\n")
    other = other.replace('command: ["python3"]', 'command: ["sh"]')
    oname = "echo"
prof = ("      resources:\n        cpu:\n          units: 0.25\n"
        "        memory:\n          size: 64Mi\n        storage:\n"
        "          size: 16Mi\n")
open(out, "w").write(
    'version: "2.0"\nservices:\n  web:\n' + web + '  %s:\n' % oname + other +
    "profiles:\n  compute:\n    p:\n" + prof +
    "  placement:\n    anywhere:\n      pricing:\n        p:\n"
    "          denom: uakt\n          amount: 100000\n"
    "deployment:\n  web:\n    anywhere:\n      profile: p\n      count: 1\n"
    "  %s:\n    anywhere:\n      profile: p\n      count: 1\n" % oname)
EOF
}
sdl "$T/ab.yaml" ab
sdl "$T/echo.yaml" echo

# probe URL HOST PORT [N]: what the lease's prober says of an echo
probe() { curl -s -m 15 "$1echo?host=$2&port=$3&n=${4:-64}"; }
echoed() { probe "$@" | grep -q '^echoed'; }
refused() { r=$(probe "$@"); echo "$r"; case "$r" in failed:*) return 0;; esac; return 1; }
# from_internet HOST PORT: an echo from the "internet" namespace
from_internet() {
	ip netns exec "${N}i" python3 "$PEER" echo tcp "$1" "$2" 64 | grep -q '^echoed'
}

check "market starts in the provider host's namespace" cluster_market
check "provider plain (no networks) starts" \
    cluster_provider plain region=x cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
check "tenant alice gets a key and funds" cluster_tenant alice $FUND
check "tenant bob gets a key and funds" cluster_tenant bob $FUND
check "plain advertises no network capability" sh -c \
    "curl -s '$MARKET/v1/providers' | jq -e '.[] | select(.key == \"$plain_KEY\") | .ask.capabilities // [] | (index(\"network\") == null and index(\"ports\") == null and index(\"egress\") == null)'"

# ---- nothing accepted that is not honoured ----
bal0=$(mget "/v1/accounts/$bob_ADDR" .balances.uakt)
check_fails "deploying a tcp port without a provider that forwards ports is refused, naming the capability" \
    'host ports forwarded .*(capability ports)' as bob deploy "$T/echo.yaml" --timeout 20
check "that refusal spent nothing (no order, no escrow, no fee)" \
    [ "$(mget "/v1/accounts/$bob_ADDR" .balances.uakt)" = "$bal0" ]
check_fails "deploying service-to-service traffic without a provider network is refused" \
    '(capability network)' as alice deploy "$T/ab.yaml" --timeout 20

check "provider net (--net on, a private pool and port range) starts" \
    cluster_provider net region=x $PRICE --net on --net-pool $POOL \
    --port-range $PORTS --dns 203.0.113.10
check "provider init lists the capabilities it advertises" sh -c \
    "sed -n '/^{/,/^}/p' '$CL/net.init' | jq -e -s '.[0].capabilities | index(\"egress\") != null and index(\"network\") != null and index(\"ports\") != null'"
check "the market lists net's capabilities in its ask" sh -c \
    "curl -s '$MARKET/v1/providers' | jq -e '.[] | select(.key == \"$net_KEY\") | .ask.capabilities | index(\"ports\") != null'"

# ---- web + db ----
check "alice deploys web + db (exit 0)" \
    to "$T/a.json" as alice deploy "$T/ab.yaml" --timeout 30 --json
LA=$(jq -r '.orders[0].lease' "$T/a.json")
UA=$(jq -r '.orders[0].services.web' "$T/a.json")
check "alice's lease is on the provider with networks" \
    [ "$(lease_field "$LA" provider)" = "$net_KEY" ]
check "alice's prober answers through the gateway" until_ok 20 \
    sh -c "curl -s -m 5 '${UA}x' | grep -q prober"
check "web reaches db by its service name" until_ok 15 echoed "$UA" db 5432
check "web's /etc/hosts names db" sh -c "curl -s '${UA}hosts' | grep -q '	db$'"
check "web's resolv.conf is the provider's --dns" sh -c \
    "curl -s '${UA}resolv' | grep -q 'nameserver 203.0.113.10'"
DBIP=$(curl -s "${UA}hosts" | awk '$2 == "db" {print $1}')
WEBIP=$(curl -s "${UA}hosts" | awk '$2 == "web" {print $1}')
GW=${DBIP%.*}.1
check "the replicas' addresses come from the pool ($DBIP, $WEBIP)" sh -c \
    "case '$DBIP' in 10.231.*) true;; *) false;; esac"

# ---- outbound ----
check "web reaches the internet (203.0.113.10:8080)" echoed "$UA" 203.0.113.10 8080
python3 "$PEER" serve tcp 9091 &
PIDS="$PIDS $!"
until_ok 5 from_internet 203.0.113.1 9091 > /dev/null
check "(the host's server at 203.0.113.1:9091 answers the internet)" \
    from_internet 203.0.113.1 9091
check "web cannot reach the provider's host address" refused "$UA" 203.0.113.1 9091
check "the deployment's tracked connections are bounded (the host's conntrack table is everyone's)" \
    sh -c "[ \$(nft list ruleset | grep -c 'ct state new ct count over 8192') -ge 2 ]"
check "web cannot reach the provider through its gateway address" refused "$UA" "$GW" 9091
check "web's loopback is its own (the provider's 127.0.0.1:9091 is not)" \
    refused "$UA" 127.0.0.1 9091
check "(169.254.169.254:80 answers from the provider's host)" sh -c \
    "python3 '$PEER' echo tcp 169.254.169.254 80 | grep -q echoed"
check "web cannot reach the cloud metadata address 169.254.169.254" \
    refused "$UA" 169.254.169.254 80

# ---- another tenant's lease ----
check "bob deploys web + a TCP echo on a global port (exit 0)" \
    to "$T/b.json" as bob deploy "$T/echo.yaml" --timeout 30 --json
LB=$(jq -r '.orders[0].lease' "$T/b.json")
UB=$(jq -r '.orders[0].services.web' "$T/b.json")
check "bob's prober answers" until_ok 20 sh -c "curl -s -m 5 '${UB}x' | grep -q prober"
check "bob's web reaches its own echo by name" until_ok 15 echoed "$UB" echo 7000
check "bob's lease cannot resolve alice's db" refused "$UB" db 5432
check "bob's lease cannot reach alice's db by address" refused "$UB" "$DBIP" 5432
check "bob's lease cannot reach alice's web by address" refused "$UB" "$WEBIP" 8080
check "alice's web cannot reach bob's lease either" sh -c \
    "BW=\$(curl -s '${UB}hosts' | awk '\$2 == \"echo\" {print \$1}'); [ -n \"\$BW\" ] && curl -s '${UA}echo?host='\$BW'&port=7000' | grep -q '^failed'"

# ---- the forwarded port ----
as bob status "$LB" --json > "$T/bs.json" 2> "$T/bs.err"
HP=$(jq -r '.forwarded_ports[] | select(.proto == "tcp") | .host_port' "$T/bs.json")
HPU=$(jq -r '.forwarded_ports[] | select(.proto == "udp") | .host_port' "$T/bs.json")
check "tenant status --json lists the forwarded ports (tcp $HP, udp $HPU)" sh -c \
    "jq -e '[.forwarded_ports[] | select(.service == \"echo\" and .port == 7000)] | length == 2' '$T/bs.json'"
check "tenant deploy printed the forwarded ports and put them in its --json" sh -c \
    "grep -q '127.0.0.1:$HP → echo:7000/tcp (forwarded port)' '$T/b.json.err' &&
     jq -e '.orders[0].forwarded_ports | length == 2' '$T/b.json'"
check "the port is in the provider's range" sh -c "[ '$HP' -ge 31000 ] && [ '$HP' -le 31099 ]"
check "tenant status prints host:port → service:port/proto" sh -c \
    "XDG_CONFIG_HOME=$CL/bob LODGE_MARKET=$MARKET $BIN/tenant status $LB | grep -q '127.0.0.1:$HP → echo:7000/tcp'"
check "the echo answers through the forwarded port (from the host)" \
    until_ok 10 sh -c "python3 '$PEER' echo tcp 127.0.0.1 $HP | grep -q echoed"
check "the echo answers through the forwarded port (from the internet)" \
    from_internet 203.0.113.1 "$HP"
check "the udp echo answers through its forwarded port (from the internet)" \
    until_ok 10 sh -c "ip netns exec ${N}i python3 '$PEER' echo udp 203.0.113.1 $HPU | grep -q echoed"

# ---- metering ----
check "web sends 2 MB to the internet and gets them back" \
    echoed "$UA" 203.0.113.10 8080 2000000
check "the lease's egress_bytes count them (provider status)" until_ok 15 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $LA --json | jq -e '.provider.usage.egress_bytes >= 2000000'"
check "and the market's lease usage too" until_ok 15 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$LA | jq '.usage.egress_bytes // 0') -ge 2000000 ]"

# ---- restarts (SIGTERM, then kill -9) keep the networks: no gap ----
SCOPE=$(sed -n 's/.*deployment networks: .*(scope \(p[a-z0-9]*\)).*/\1/p' "$CL/net.log" | tail -1)
# table_of IP: the nft table of the lease whose block holds IP
table_of() {
	for t in $(nft list tables | awk '$2 == "inet" {print $3}'); do
		nft list table inet "$t" | grep -q "ip saddr ${1%.*}.0/24 " && echo "$t"
	done
}
TA=$(table_of "$DBIP")
counter() { nft list counter inet "$TA" egress | sed -n 's/.* bytes \([0-9]*\).*/\1/p'; }
usage_egress() {
	XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status "$LA" --json |
	    jq -r '.provider.usage.egress_bytes // empty'
}
# settled: the provider's egress_bytes minus the kernel counter (what the
# gateway counted), the same twice a few epochs apart
settled() {
	a=$(( $(usage_egress) - $(counter) )); sleep 3
	b=$(( $(usage_egress) - $(counter) ))
	[ "$a" = "$b" ] && echo "$b"
}
check "the provider's scope ($SCOPE) and alice's table ($TA) are known" \
    sh -c "[ -n '$SCOPE' ] && [ -n '$TA' ]"
# (the clients start in 12 s, once the metering is settled without them)
T0=$(date +%s)
check "alice's web starts a client of db by name, every 50 ms for 50 s" sh -c \
    "curl -s -m 5 '${UA}loop?id=db&host=db&port=5432&n=64&ms=50&secs=50&delay=12' | grep -q started"
check "and one sending 20 kB to the internet every 250 ms" sh -c \
    "curl -s -m 5 '${UA}loop?id=out&host=203.0.113.10&port=8080&n=20000&ms=250&secs=50&delay=12' | grep -q started"
# from the host, through bob's forwarded port, for as long
( sleep 12; end=$(( $(date +%s) + 50 )); ok=0; bad=0
  while [ "$(date +%s)" -lt "$end" ]; do
	if python3 "$PEER" echo tcp 127.0.0.1 "$HP" | grep -q echoed; then
		ok=$((ok + 1)); else bad=$((bad + 1)); fi
	sleep 0.1
  done; echo "$ok $bad" > "$T/fwd.loop" ) &
PIDS="$PIDS $!"
D0=""
for i in 1 2 3 4 5; do D0=$(settled) && break; done
C0=$(counter)
check "(alice's metered egress settled before the clients start: gateway part $D0, kernel counter $C0)" \
    sh -c "[ -n '$D0' ] && [ \$(date +%s) -lt $((T0 + 12)) ]"
while [ "$(date +%s)" -lt $((T0 + 15)) ]; do sleep 0.5; done
kill -TERM "$net_PID"
check "provider net stops on SIGTERM" until_ok 15 sh -c "! kill -0 $net_PID"
check "its stop left both leases' networks for the next start (2 bridges, 2 tables)" sh -c \
    "[ \$(ip -o link show type bridge | grep -c 'alias lodge:$SCOPE:') = 2 ] && [ \$(nft list tables | grep -c 'lodge_${SCOPE}_') = 2 ]"
sleep 2
check "provider net starts again" cluster_provider_start net
check "it adopted both networks" until_ok 10 sh -c \
    "[ \$(grep -c 'its network adopted' '$CL/net.log') = 2 ]"
sleep 3
kill -9 "$net_PID"
check "provider net is killed (-9)" until_ok 15 sh -c "! kill -0 $net_PID"
sleep 2
check "provider net starts after the kill" cluster_provider_start net
check "it adopted both networks again" until_ok 10 sh -c \
    "[ \$(grep -c 'its network adopted' '$CL/net.log') = 4 ]"
check "no network was made again (nothing mismatched)" sh -c \
    "! grep -q 'making it again' '$CL/net.log'"
UA=$net_URL/l/$LA/web/
check "(the clients' 50 s are over)" until_ok 70 test -s "$T/fwd.loop"
sleep 3
C1=$(counter)
check "every byte alice's web sent across both restarts is metered once: provider egress_bytes - kernel counter is still $D0" \
    until_ok 15 sh -c "[ \$(( \$(XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $LA --json | jq -r '.provider.usage.egress_bytes') - $C1 )) = '$D0' ]"
check "(the kernel counter went on through both restarts: $C0 -> $C1)" \
    [ "$C1" -gt "$C0" ]
RDB=$(curl -s -m 5 "${UA}loopresult?id=db")
ROUT=$(curl -s -m 5 "${UA}loopresult?id=out")
check "web reached db by name through both restarts without one failure ($RDB)" sh -c \
    "echo '$RDB' | grep -Eq '^done ok [0-9]{3,} failed 0 '"
check "its traffic to the internet went on without one failure ($ROUT)" sh -c \
    "echo '$ROUT' | grep -Eq '^done ok [0-9]{2,} failed 0 '"
check "that traffic is in the counter ($C1 - $C0 >= 20000 x its successes)" sh -c \
    "[ \$(( $C1 - $C0 )) -ge \$(( 20000 * \$(echo '$ROUT' | awk '{print \$3}') )) ]"
check "bob's forwarded port answered the host all along ($(cat "$T/fwd.loop") ok/failed)" sh -c \
    "read ok bad < '$T/fwd.loop'; [ \$ok -gt 20 ] && [ \$bad = 0 ]"

# ---- what is not adopted ----
kill -TERM "$net_PID"
check "provider net stops" until_ok 15 sh -c "! kill -0 $net_PID"
TB=$(nft list tables | awk '$2 == "inet" {print $3}' | grep -v "^$TA\$" | grep "lodge_${SCOPE}_")
check "someone adds a rule to bob's table ($TB) while it is down" \
    nft add rule inet "$TB" input tcp dport 22 accept
check "and leaves a bridge and a table of a lease that is not the provider's" sh -c \
    "ip link add lodgeb0badc0de type bridge && ip link set dev lodgeb0badc0de alias 'lodge:$SCOPE:l-gone' && nft add table inet lodge_${SCOPE}_0badc0de"
check "provider net starts" cluster_provider_start net
check "bob's tampered network is not adopted as it is (logged)" until_ok 10 sh -c \
    "grep -q \"lease $LB: its network is not adopted: .*a rule added or changed.*making it again\" '$CL/net.log'"
check "its extra rule is gone" sh -c "! nft list table inet '$TB' | grep -q 'dport 22'"
check "alice's was adopted" sh -c "[ \$(grep -c 'lease $LA: its network adopted' '$CL/net.log') = 3 ]"
check "the stray bridge and table are removed" sh -c \
    "! ip link show lodgeb0badc0de 2>/dev/null && ! nft list tables | grep -q lodge_${SCOPE}_0badc0de"
check "bob's forwarded port is the same after the restart" until_ok 15 sh -c \
    "XDG_CONFIG_HOME=$CL/bob LODGE_MARKET=$MARKET $BIN/tenant status $LB --json | jq -e '.forwarded_ports[0].host_port == $HP'"
check "the echo answers through it again" until_ok 20 sh -c \
    "python3 '$PEER' echo tcp 127.0.0.1 $HP | grep -q echoed"
# (its gateway is on a new port: --listen 127.0.0.1:0)
UA=$net_URL/l/$LA/web/
check "alice's web reaches db by name again" until_ok 20 echoed "$UA" db 5432
check "and the internet again" echoed "$UA" 203.0.113.10 8080

# ---- a lease closed while no provider ran ----
kill -9 "$net_PID"
check "provider net is killed (-9) again" until_ok 15 sh -c "! kill -0 $net_PID"
check "bob closes his deployment meanwhile" as bob close "$(jq -r .deployment "$T/b.json")"
check "provider net starts" cluster_provider_start net
check "bob's network, left by the killed provider, is removed" until_ok 20 sh -c \
    "[ \$(ip -o link show type bridge | grep -c 'alias lodge:$SCOPE:') = 1 ] && [ \$(nft list tables | grep -c 'lodge_${SCOPE}_') = 1 ]"
UA=$net_URL/l/$LA/web/
check "alice's web still reaches db by name" until_ok 20 echoed "$UA" db 5432

# ---- egress off ----
kill -TERM "$net_PID"
check "provider net stops again" until_ok 15 sh -c "! kill -0 $net_PID"
check "provider init --egress off on its data dir" \
    "$BIN/provider" init --data "$CL/net" --egress off
check "provider net starts with egress off" cluster_provider_start net
UA=$net_URL/l/$LA/web/
check "its ask no longer offers egress (network and ports still)" sh -c \
    "curl -s '$MARKET/v1/providers' | jq -e '.[] | select(.key == \"$net_KEY\") | .ask.capabilities | index(\"egress\") == null and index(\"ports\") != null'"
check "web still reaches db by name" until_ok 20 echoed "$UA" db 5432
check "web cannot reach the internet any more" refused "$UA" 203.0.113.10 8080

# ---- close: nothing left ----
check "alice closes her deployment" as alice close "$(jq -r .deployment "$T/a.json")"
check "no lodge veth or bridge is left once the leases closed" until_ok 20 sh -c \
    "[ \$(ip -o link show | grep -c lodge) = 0 ]"
check "no lodge nft table is left" until_ok 10 sh -c \
    "[ \$(nft list tables | grep -c lodge) = 0 ]"
check "no mount of the test is left" sh -c "! grep -q ' $T/' /proc/mounts"
cluster_stop
finish
