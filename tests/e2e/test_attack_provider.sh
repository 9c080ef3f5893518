#!/bin/sh
# The provider's newest surfaces played by an attacker, on loopback, with
# two tenants' leases side by side (alice's greets "alice-lease", bob's
# "bob-lease"):
# - the gateway's Host routing: the root's trailing dot, upper case and a
#   port reach the named lease and no other; a path naming alice's lease
#   under bob's host stays with bob's lease (else alice's service would
#   run in bob's origin and the reverse); two Host fields, or an
#   absolute-form target naming alice's host under bob's Host: 400;
# - exec: bob into alice's lease (403), argv past 64 strings or 4 KiB
#   (400), more sessions than a lease's 8 (429), a session whose output
#   nobody reads is hung up and the provider keeps serving;
# - lease.update signed by the provider's key, or by bob, is refused by
#   the market, and the lease keeps its manifest.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
need_root
need_tools jq curl perl python3

EX=$ROOT/examples/hello-perl/deploy.yaml
FUND=1000000000
check "market starts" cluster_market
check "provider p1 starts" cluster_provider p1 region=eu \
    cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
check "tenant alice is funded" cluster_tenant alice $FUND
check "tenant bob is funded" cluster_tenant bob $FUND
for n in alice bob; do
	sed "s/GREETING=hello/GREETING=$n-lease/" "$EX" > "$T/$n.yaml"
	check "$n deploys hello-perl" to "$T/$n.json" \
	    as $n deploy "$T/$n.yaml" --timeout 30 --json
done
LA=$(jq -r '.orders[0].lease' "$T/alice.json")
LB=$(jq -r '.orders[0].lease' "$T/bob.json")
[ -n "$LA" ] && [ "$LA" != null ] && [ -n "$LB" ] && [ "$LB" != null ] ||
    { notok "two leases"; finish; }
P=$p1_URL
D=lodge.localhost
HA=$LA-web.$D
HB=$LB-web.$D
until_ok 20 sh -c "curl -sf -m 2 -H 'Host: $HA' $P/ | grep -q alice-lease" ||
    notok "alice's service answers by its host"

# raw HEAD: send HEAD (\r\n escapes, HP replaced by the provider's
# host:port) to the provider; print the status line and the body's first
# line
raw() {
	python3 - "${P#http://}" "$1" <<'PY'
import socket, sys
hp = sys.argv[1]
host, port = hp.rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(sys.argv[2].replace("\\r\\n", "\r\n").replace("HP", hp).encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode(errors="replace"))
print(body.split(b"\n")[0].decode(errors="replace"))
PY
}
# routed NAME WANT HEAD: the raw request answers 200 with WANT's greeting
routed() {
	out=$(raw "$3" 2>&1)
	case "$out" in
	*" 200 "*"$2 from a Lodge lease"*) ok "$1";;
	*) notok "$1: $out";;
	esac
}
# refused NAME STATUS HEAD: the raw request answers STATUS, no greeting
refused() {
	out=$(raw "$3" 2>&1)
	case "$out" in
	*"-lease from a Lodge lease"*) notok "$1: a lease answered: $out";;
	*" $2 "*) ok "$1";;
	*) notok "$1: $out";;
	esac
}

# ---- the gateway's Host routing -----------------------------------------
C='Connection: close\r\n\r\n'
routed "Host with the root's trailing dot reaches bob's lease" bob-lease \
    "GET / HTTP/1.1\r\nHost: $HB.\r\n$C"
UP=$(echo "$HB" | tr a-z A-Z)
routed "Host in upper case with a port reaches bob's lease" bob-lease \
    "GET / HTTP/1.1\r\nHost: $UP:8443\r\n$C"
routed "alice's path under bob's host stays with bob's lease" bob-lease \
    "GET /l/$LA/web/ HTTP/1.1\r\nHost: $HB\r\n$C"
routed "bob's path under alice's host stays with alice's lease" alice-lease \
    "GET /l/$LB/web/ HTTP/1.1\r\nHost: $HA\r\n$C"
routed "by path on the provider's own host, as documented" alice-lease \
    "GET /l/$LA/web/ HTTP/1.1\r\nHost: HP\r\n$C"
refused "two Host fields (bob's, alice's): 400" 400 \
    "GET / HTTP/1.1\r\nHost: $HB\r\nHost: $HA\r\n$C"
refused "an absolute-form target naming alice's host under bob's Host: 400" 400 \
    "GET http://$HA/ HTTP/1.1\r\nHost: $HB\r\n$C"
routed "an absolute-form target agreeing with Host is served" alice-lease \
    "GET http://$HA/ HTTP/1.1\r\nHost: $HA\r\n$C"
for h in "x.$HA" "$HA@$HB" "$LA-web.evil.$D" "$HA.." "$LA-web$LB-web.$D"; do
	refused "Host '$h' reaches no lease" 404 \
	    "GET / HTTP/1.1\r\nHost: $h\r\n$C"
done

# ---- exec ----------------------------------------------------------------
AK=$CL/alice/lodge/tenant.key
BK=$CL/bob/lodge/tenant.key
ex() { # KEY BODYJSON: POST an exec request; prints the status
	printf '%s' "$2" > "$T/ex.json"
	$BIN/provider request --key "$1" --body "$T/ex.json" \
	    POST "$P/v1/leases/$LA/exec" > "$T/ex.out" 2>&1
	grep -o 'HTTP [0-9]*' "$T/ex.out" | head -1
}
XDG_CONFIG_HOME=$CL/bob LODGE_MARKET=$MARKET $BIN/tenant exec "$LA" web -- true \
    < /dev/null > "$T/b.out" 2> "$T/b.err"
check "bob's key cannot exec into alice's lease (403)" sh -c \
    "[ $? != 0 ] && grep -q 403 $T/b.err"
args65=$(python3 -c 'import json; print(json.dumps({"service": "web", "argv": ["true"] * 65}))')
$BIN/provider request --key "$AK" --body /dev/stdin POST "$P/v1/leases/$LA/exec" \
    > "$T/a65.out" 2>&1 <<EOF
$args65
EOF
check "65 argv strings: refused (400), naming the limit" \
    grep -q 'argv: expected an array of 1 to 64 strings' "$T/a65.out"
big=$(python3 -c 'import json; print(json.dumps({"service": "web", "argv": ["echo", "x" * 5000]}))')
$BIN/provider request --key "$AK" --body /dev/stdin POST "$P/v1/leases/$LA/exec" \
    > "$T/abig.out" 2>&1 <<EOF
$big
EOF
check "an argv of 5,000 bytes: refused, naming the 4096-byte bound" \
    grep -q '4096 bytes' "$T/abig.out"
# sessions that print forever and are never read
n=0
for i in $(seq 1 9); do
	printf '{"service":"web","argv":["sh","-c","while :; do echo flood; done"]}' > "$T/flood.json"
	if $BIN/provider request --key "$AK" --body "$T/flood.json" \
	    POST "$P/v1/leases/$LA/exec" > "$T/fl$i.out" 2>&1; then
		n=$((n + 1))
	fi
done
check "8 unread sessions are taken, the 9th is refused (429)" sh -c \
    "[ $n = 8 ] && grep -q 429 $T/fl9.out"
check "  the gateway still serves both leases meanwhile" sh -c \
    "curl -sf -m 5 -H 'Host: $HA' $P/ | grep -q alice-lease && curl -sf -m 5 -H 'Host: $HB' $P/ | grep -q bob-lease"
# SIGHUP after 30 s unread (SIGKILL at 60 s if that did not end them),
# dropped 30 s after they ended: 90 s at the most, and a loaded machine
# adds its lag
check "  the unread sessions are hung up and dropped within 120 s (a new one is taken)" \
    until_ok 120 sh -c "$BIN/provider request --key $AK --body $T/flood.json POST $P/v1/leases/$LA/exec > /dev/null 2>&1"
check "  and their commands are gone (only the new session's runs)" \
    until_ok 20 sh -c \
    "[ \$(pgrep -fx 'sh -c while :; do echo flood; done' | wc -l) -le 1 ]"

# ---- lease.update signed by someone else -----------------------------------
H0=$(mget "/v1/leases/$LA" .manifest_hash)
UB=$($BIN/sdl orders "$T/alice.yaml" | jq -c ".[0] + {lease: \"$LA\", manifest_hash: \"$(printf '%064d' 7)\"} | del(.deposit, .ttl_ms)")
PK=$CL/p1/provider.key
[ -f "$PK" ] || PK=$(ls "$CL"/p1/*.key 2> /dev/null | head -1)
for who in provider bob; do
	case $who in provider) k=$PK;; bob) k=$BK;; esac
	st=$(envelope "$k" lease.update "$UB" | curl -s -o "$T/up.json" \
	    -w '%{http_code}' -XPOST --data-binary @- "$MARKET/v1/entries")
	check "a lease.update of alice's lease signed by $who is refused ($st)" \
	    sh -c "[ '$st' = 422 ] && grep -q 'only the tenant of $LA' $T/up.json"
done
check "  alice's lease keeps its manifest" \
    [ "$(mget "/v1/leases/$LA" .manifest_hash)" = "$H0" ]
finish
