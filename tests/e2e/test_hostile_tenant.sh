#!/bin/sh
# A hostile tenant against a provider it shares with others: what it
# can hold open or start (followed streams, exec sessions, requests its
# slow services keep waiting) is bounded per tenant, so another tenant's
# logs, exec and gateway still work; a client address holds at most 32
# of the market's event streams; a manifest asks no more than its
# order; the exec
# helper enters the lease's own sandbox, never one that took its init's
# pid.
. tests/e2e/lib.sh
need_root
need_tools jq curl

EX=$ROOT/examples/hello-perl/deploy.yaml
FUND=1000000000
check "market starts" cluster_market
check "provider p1 starts" cluster_provider p1 region=eu \
    cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
check "tenant alice is funded" cluster_tenant alice $FUND
check "tenant bob is funded" cluster_tenant bob $FUND
for n in alice bob; do
	printf '#!/bin/sh\nXDG_CONFIG_HOME=%s LODGE_MARKET=%s exec %s "$@"\n' \
	    "$CL/$n" "$MARKET" "$BIN/tenant" > "$T/tn-$n"
	chmod +x "$T/tn-$n"
done
A=$T/tn-alice
B=$T/tn-bob
check "alice deploys hello-perl" to "$T/a.json" $A deploy "$EX" --timeout 30 --json
check "bob deploys hello-perl" to "$T/b.json" $B deploy "$EX" --timeout 30 --json
LA=$(jq -r '.orders[0].lease' "$T/a.json")
LB=$(jq -r '.orders[0].lease' "$T/b.json")
[ -n "$LA" ] && [ "$LA" != null ] && [ -n "$LB" ] && [ "$LB" != null ] ||
    { notok "no leases"; cat "$T/a.json.err" "$T/b.json.err"; finish; }

# ---- followed streams: bounded per tenant ---------------------------------
# (the API server has 512 streams for everyone: one tenant holding them
# all would stop every other tenant's logs -f, events -f and exec)
FPIDS=""
for i in $(seq 1 16); do
	$A logs "$LA" -f > /dev/null 2> "$T/f$i.err" &
	FPIDS="$FPIDS $!"
done
PIDS="$PIDS $FPIDS"
sleep 2
$A logs "$LA" -f > /dev/null 2> "$T/f17.err" &
F17=$!
PIDS="$PIDS $F17"
check "a tenant's 17th followed stream is refused (429)" until_ok 10 sh -c \
    "! kill -0 $F17 2>/dev/null && grep -q '429\|close one first' $T/f17.err"
check "  while its 16 others stay open" sh -c \
    "n=0; for p in $FPIDS; do kill -0 \$p 2>/dev/null && n=\$((n+1)); done; [ \$n = 16 ]"
$B logs "$LB" -f > "$T/bf.out" 2> "$T/bf.err" &
BF=$!
PIDS="$PIDS $BF"
check "  and another tenant still follows its own logs" until_ok 10 \
    grep -q listening "$T/bf.out"
kill $FPIDS $BF 2>/dev/null
wait $FPIDS $BF 2>/dev/null
check "  streams closed are given back (alice follows again)" until_ok 15 \
    sh -c "timeout 3 $A logs $LA -f 2>/dev/null | grep -q listening"

# ---- exec sessions: 8 a lease even when asked at once, 16 a tenant ------
xs() { # xs TAG LEASE SECONDS: one session in the background
	( $A exec "$2" web -- sleep "$3" < /dev/null > /dev/null 2> "$T/x$1.err"
	  echo $? > "$T/x$1.rc" ) &
	PIDS="$PIDS $!"
}
for i in $(seq 1 12); do xs r$i "$LA" 6; done
check "12 sessions asked at once all answer" until_ok 30 sh -c \
    "[ \$(ls $T/xr*.rc 2>/dev/null | wc -l) = 12 ]"
check "  8 run, 4 are refused (429, 8 a lease)" sh -c "
	[ \$(grep -l 'too many sessions' $T/xr*.err | wc -l) = 4 ] &&
	[ \$(grep -lx 0 $T/xr*.rc | wc -l) = 8 ]"
check "alice deploys a second lease" to "$T/a2.json" $A deploy "$EX" --timeout 30 --json
check "alice deploys a third lease" to "$T/a3.json" $A deploy "$EX" --timeout 30 --json
LA2=$(jq -r '.orders[0].lease' "$T/a2.json")
LA3=$(jq -r '.orders[0].lease' "$T/a3.json")
for i in $(seq 1 8); do xs t$i "$LA" 20; xs u$i "$LA2" 20; done
sleep 4
$A exec "$LA3" web -- true < /dev/null > /dev/null 2> "$T/t17.err"
check "a tenant's 17th session (on a third lease) is refused (16 a tenant)" \
    sh -c "[ $? != 0 ] && grep -q 'too many sessions' $T/t17.err"
check "  while another tenant still gets one" sh -c \
    "[ \"\$($B exec $LB web -- echo bob-in < /dev/null)\" = bob-in ]"

# ---- the gateway: one tenant's slow service holds at most 256 connections
# (requests are forwarded in the API server's event loop, no thread each;
# a tenant's requests past GATEWAY_MAX_PER_TENANT wait for one of its
# connections, in order, instead of taking more)
$A close "$(jq -r .deployment "$T/a2.json")" > /dev/null 2>&1
$A close "$(jq -r .deployment "$T/a3.json")" > /dev/null 2>&1
sed 's/my \$b = /sleep 30; my $b = /' "$EX" > "$T/slow.yaml"
check "alice deploys a service that answers after 30 s" \
    to "$T/a4.json" $A deploy "$T/slow.yaml" --timeout 30 --json
LA4=$(jq -r '.orders[0].lease' "$T/a4.json")
PPORT=${p1_URL##*:}
socks() { ls -l "/proc/$p1_PID/fd" 2>/dev/null | grep -c 'socket:'; }
S0=$(socks)
python3 tests/e2e/gw_flood.py "$PPORT" "/l/$LA4/web/" 300 12 > "$T/flood.out" 2>&1 &
FLOOD=$!
PIDS="$PIDS $FLOOD"
until_ok 10 grep -q '^sent=300$' "$T/flood.out" > /dev/null
sleep 2
check "  300 requests to it at once: another tenant's service still answers at once" \
    sh -c "curl -sf -m 5 $p1_URL/l/$LB/web/ | grep -q 'hello from a Lodge lease'"
check "  and the provider's API too" sh -c "curl -sf -m 5 $p1_URL/healthz"
S1=$(socks)
echo "# provider sockets: $S0 before, $S1 with 300 requests waiting"
# 300 client connections, and at most 256 to the service (a few more
# for bob's request and the API's)
check "  the provider holds 300 client and at most 256 service connections" \
    sh -c "[ \$(( $S1 - $S0 )) -ge 540 ] && [ \$(( $S1 - $S0 )) -le 566 ]"
wait $FLOOD
sed 's/^/# /' "$T/flood.out"
check "  the requests past 256 waited: none was refused (503)" \
    grep -q 'answered=0 refused503=0' "$T/flood.out"

# ---- the market's event streams: 32 an address -------------------------
# (its server has 512 streams; the providers follow the ledger on them)
for i in $(seq 1 32); do
	curl -sN --interface 127.0.0.2 "$MARKET/v1/events" > /dev/null 2>&1 &
	PIDS="$PIDS $!"
done
sleep 2
check "an address's 33rd event stream of the market is refused (429)" sh -c \
    "[ \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 $MARKET/v1/events)\" = 429 ]"
check "  while another address still follows the ledger" sh -c \
    "curl -sN -m 2 --interface 127.0.0.3 $MARKET/v1/events | grep -q '^data:'"

# ---- a manifest asks no more than its order (matched, billed) ----------
# an order written by hand: hello-perl's manifest hash, 1 MB of memory
TKEY=$CL/alice/lodge/tenant.key
$BIN/sdl manifest "$EX" | tr -d "\n" > "$T/hp.json"
O=$($BIN/sdl orders "$EX" | jq -c '.[0] | .resources[0].memory_bytes = 1000000 |
	. + {deposit: 50000000, ttl_ms: 600000}')
OID=$($BIN/ledger envelope --key "$TKEY" --kind order.create --body "$O" |
    curl -s -XPOST --data-binary @- "$MARKET/v1/entries" | jq -r '.id // empty')
check "a tiny order for hello-perl's manifest is matched" until_ok 20 sh -c \
    "curl -sf $MARKET/v1/orders/$OID | grep -q '\"lease\":\"l-'"
LT=$(curl -sf "$MARKET/v1/orders/$OID" | jq -r .lease)
until_ok 10 grep -q "lease $LT: created" "$CL/p1.log" > /dev/null
$BIN/provider request --key "$TKEY" --body "$T/hp.json" \
    POST "$p1_URL/v1/leases/$LT/manifest" > "$T/fit.out" 2>&1
check "  its manifest (128 MiB) is refused: more than the order asked" sh -c \
    "grep -q '422' $T/fit.out && grep -q 'ask 134217728 memory_bytes in all, its order 1000000' $T/fit.out"
check "  and nothing of it runs" sh -c \
    "! $A status $LT 2>/dev/null | grep -q running"

# ---- the init entered is the lease's, never one that took its pid ------
INIT=$(jq -r '.leases[] | select(.id == "'"$LB"'") | .sandboxes[0].pid' "$CL/p1/state.json")
TICKS=$(awk '{print $22}' "/proc/$INIT/stat" 2>/dev/null)
$BIN/provider sandbox enter --pid "$INIT" --start 1 -- true > "$T/en1.out" 2>&1
check "sandbox enter refuses an init started at another time (a reused pid)" \
    sh -c "[ $? = 127 ] && grep -q \"another sandbox's init\" $T/en1.out"
check "  and enters the one started at the time given" sh -c \
    "[ -n '$TICKS' ] && [ \"\$($BIN/provider sandbox enter --pid $INIT --start $TICKS -- cat /proc/1/comm)\" = lodge-init ]"
check "the provider names its start time to the exec helper" sh -c \
    "$B exec $LB web -- sleep 3 < /dev/null > /dev/null 2>&1 & sleep 1.5;
	pgrep -af 'sandbox enter --pid $INIT --start $TICKS ' > /dev/null"

finish
