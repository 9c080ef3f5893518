#!/bin/sh
# The market's newest endpoints played by an attacker, on loopback:
# hostile KEY strings in /v1/providers/KEY/record (bytes that are not
# UTF-8, a character cut by the message's bound, CRLF, NUL, '..', a
# kilobyte of key) and in the other id paths, each answered with a JSON
# error and no injected header; POST /v1/quote with a body past the cap
# (413), JSON nested 100,000 deep (400), more placement groups than the
# cap (400 naming it), and a flood of the largest quotes while /healthz
# and a signed submission keep answering quickly; POST /v1/sdl/check with
# nested YAML, an alias bomb and 1,000 placement groups (bounded answers);
# /v1/events streams past the per-address cap (429), and 10,000 from 40
# addresses (a new address and one holding a single stream still served);
# quotes from one address whatever X-Forwarded-For, Forwarded or
# X-Real-IP it sends (429 past its bucket), and from 40 addresses of one
# IPv6 /64 (one bucket; as root, in a network namespace); request heads that
# disagree on the host (an absolute-form target naming another host, two
# Host fields): 400.
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
need_tools jq curl python3

check "market starts" cluster_market
A=$(keygen alice)
fund "$A" 100000000
# a few providers that only advertise, for the quotes to match against
for n in p1 p2 p3 p4; do
	fund_ask $n
	fund "$(cat "$T/$n.pub")" 100000
	advertise $n '{"region":"eu"}' $((1000 + ${n#p})) > /dev/null ||
	    notok "$n advertises"
done

# body FILE URL [curl args]: "STATUS" on the first line, the body after
body() {
	bf=$1 bu=$2
	shift 2
	curl -s -m 20 -o "$T/.body" -D "$T/.head" -w '%{http_code}\n' \
	    "$@" --data-binary @"$bf" "$bu"
	cat "$T/.body"
}
# get PATH: the same for a GET (PATH already percent-encoded)
get() {
	curl -s -m 10 -o "$T/.body" -D "$T/.head" -w '%{http_code}\n' \
	    "$MARKET$1"
	cat "$T/.body"
}
# json_error STATUS: the last answer had that status and a JSON "error"
json_error() {
	[ "$(head -1 "$T/ans")" = "$1" ] &&
	    sed 1d "$T/ans" | jq -e '.error | type == "string"' > /dev/null
}

# ---- /v1/providers/KEY/record: hostile KEY strings ----------------------
long=$(python3 -c 'print("a" * 1000)')
cut=ed25519:$(python3 -c 'print("%C3%A9" * 36)') # 80 bytes end mid-character
for k in %ff ed25519:%c3 "$cut" ..%2f..%2fetc "a%0d%0aX-Evil:%201" \
    "$long" "%2e%2e" "ed25519:%e2%82" "%ed%a0%80"; do
	get "/v1/providers/$k/record" > "$T/ans"
	if json_error 404 && ! grep -qi '^X-Evil' "$T/.head"; then
		ok "record of KEY '$(echo "$k" | cut -c1-24)': 404 with a JSON error"
	else
		notok "record of KEY '$(echo "$k" | cut -c1-24)': $(head -c 300 "$T/ans")"
	fi
done
get "/v1/providers/%00/record" > "$T/ans"
check "record of a NUL KEY: 400 with a JSON error" json_error 400
for p in "/v1/orders/%ff" "/v1/leases/%c3/story" "/v1/nothing%ff"; do
	get "$p" > "$T/ans"
	check "GET $p: 404 with a JSON error" json_error 404
done
get "/v1/accounts/%fe%ff" > "$T/ans"
check "GET /v1/accounts/%fe%ff: 400 with a JSON error" json_error 400

# ---- POST /v1/quote ------------------------------------------------------
head -c 300000 /dev/zero | tr '\0' ' ' > "$T/big"
body "$T/big" "$MARKET/v1/quote" > "$T/ans"
check "a quote body past 256 KiB: 413 with a JSON error" json_error 413
python3 -c 'print("[" * 100000 + "]" * 100000)' > "$T/deep"
body "$T/deep" "$MARKET/v1/quote" > "$T/ans"
check "a quote of JSON nested 100,000 deep: 400 naming the depth" sh -c \
    "head -1 $T/ans | grep -qx 400 && grep -q 'depth' $T/ans"
# 1,025 placement groups: one past the cap, refused before any is read
python3 -c "print('{\"tenant\":\"$A\",\"orders\":[' + ','.join(['{}'] * 1025) + ']}')" > "$T/q1025"
body "$T/q1025" "$MARKET/v1/quote" > "$T/ans"
check "1,025 placement groups: 400 naming the cap (1-1024)" sh -c \
    "head -1 $T/ans | grep -qx 400 && grep -q '1-1024' $T/ans"
# the largest quote the body cap lets through: 780 full placement groups
order1='{"placement":"dc","attributes":{"region":"eu"},"resources":[{"profile":"w","service":"w","count":1,"cpu_millis":100,"memory_bytes":1000000,"storage_bytes":0,"price":100000}],"denom":"uakt","max_price":100000,"manifest_hash":"'$(printf '%064d' 0)'","deposit":1000000,"ttl_ms":600000}'
python3 -c "import sys; print('{\"tenant\":\"$A\",\"orders\":[' + ','.join([sys.argv[1]] * 780) + ']}')" "$order1" > "$T/qmax"
t0=$(date +%s%N)
body "$T/qmax" "$MARKET/v1/quote" > "$T/ans"
t1=$(date +%s%N)
check "780 placement groups ($(wc -c < "$T/qmax") bytes): answered, 780 groups" sh -c \
    "head -1 $T/ans | grep -qx 200 && [ \$(sed 1d $T/ans | jq '.groups | length') = 780 ]"
check "  in under 8 s ($(( (t1 - t0) / 1000000 )) ms)" \
    [ $(( (t1 - t0) / 1000000 )) -lt 8000 ]
# a flood of the largest quotes from 4 clients while a tenant submits
FLOOD=""
for i in 1 2 3 4; do
	( while [ ! -f "$T/stop" ]; do
		curl -s -m 20 -o /dev/null --data-binary @"$T/qmax" \
		    "$MARKET/v1/quote"
	done ) &
	FLOOD="$FLOOD $!"
done
PIDS="$PIDS $FLOOD"
sleep 1
worst=0
for i in $(seq 1 20); do
	ms=$(curl -s -m 10 -o /dev/null -w '%{time_total}' "$MARKET/healthz" |
	    awk '{printf "%d", $1 * 1000}')
	[ "$ms" -gt "$worst" ] && worst=$ms
done
s0=$(date +%s%N)
submit "$T/alice.key" account.transfer \
    "{\"to\":\"$(cat "$T/p1.pub")\",\"amount\":1,\"denom\":\"uakt\"}" \
    > "$T/.sub" 2>&1
src=$?
s1=$(date +%s%N)
touch "$T/stop"
for p in $FLOOD; do wait "$p" 2> /dev/null; done
check "under a flood of 780-group quotes /healthz answers within 3 s (worst ${worst} ms)" \
    [ "$worst" -lt 3000 ]
check "  and a signed submission within 10 s ($(( (s1 - s0) / 1000000 )) ms)" \
    sh -c "[ $src = 0 ] && [ $(( (s1 - s0) / 1000000 )) -lt 10000 ]"
# quotes and SDL checks per address: 10 a second, 20 at once, 429 past
# it with Retry-After; another address is not held by it
echo "{\"tenant\":\"$A\",\"orders\":[$order1]}" > "$T/qsmall"
sleep 3 # the flood's bucket refills
: > "$T/codes"
for i in $(seq 1 40); do
	curl -s -m 10 -o /dev/null -D "$T/.h$i" -w '%{http_code}\n' \
	    --data-binary @"$T/qsmall" "$MARKET/v1/quote" >> "$T/codes"
done
check "40 quotes at once from one address: the first ones answered, then 429 ($(sort "$T/codes" | uniq -c | tr '\n' ' '))" \
    sh -c "head -1 $T/codes | grep -qx 200 && grep -qx 429 $T/codes"
check "  a 429 says when to come back (Retry-After)" sh -c \
    "grep -l '^HTTP/1.1 429' $T/.h* | head -1 | xargs grep -qi '^Retry-After: [0-9]'"
check "  meanwhile another address (127.0.0.2) is answered" sh -c \
    "curl -s -m 10 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 --data-binary @$T/qsmall $MARKET/v1/quote | grep -qx 200"
# a proxy's headers do not make a client another address: the bucket is
# the connection's own address's
: > "$T/codes"
QP=""
for i in $(seq 1 40); do
	curl -s -m 10 -o /dev/null -w '%{http_code}\n' --interface 127.0.0.3 \
	    -H "X-Forwarded-For: 10.9.$i.1" -H "Forwarded: for=10.8.$i.1" \
	    -H "X-Real-IP: 10.7.$i.1" -H "True-Client-IP: 10.6.$i.1" \
	    --data-binary @"$T/qsmall" "$MARKET/v1/quote" >> "$T/codes" &
	QP="$QP $!"
done
for p in $QP; do wait "$p"; done
check "40 quotes at once from 127.0.0.3, each naming another client in X-Forwarded-For, Forwarded, X-Real-IP: 429 past the bucket ($(sort "$T/codes" | uniq -c | tr '\n' ' '))" \
    grep -qx 429 "$T/codes"
check "  and naming 127.0.0.3 from 127.0.0.4 does not take its bucket" sh -c \
    "curl -s -m 10 -o /dev/null -w '%{http_code}' --interface 127.0.0.4 -H 'X-Forwarded-For: 127.0.0.3' --data-binary @$T/qsmall $MARKET/v1/quote | grep -qx 200"

# an IPv6 client holds a /64: 40 quotes at once, each from another
# address of one /64, share one bucket (another /64 does not); in a
# network namespace of its own, with a market of its own on it
if [ "$(id -u)" = 0 ] && command -v unshare > /dev/null && command -v ip > /dev/null; then
	unshare -n sh -s "$M" "$T" "$T/qsmall" > "$T/v6.out" 2>&1 <<'SH'
M=$1 T=$2 Q=$3
ip link set lo up
for i in $(seq 1 40); do ip -6 addr add 2001:db8:1:2::$i/64 dev lo nodad; done
ip -6 addr add 2001:db8:1:3::1/64 dev lo nodad
mkdir -p "$T/m6"
"$M" run --data "$T/m6" --listen '[2001:db8:1:2::1]:0' --insecure-http > "$T/m6.log" 2>&1 &
MP=$!
for i in $(seq 1 100); do [ -s "$T/m6/market.json" ] && break; sleep 0.1; done
U=$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' "$T/m6/market.json")
for i in $(seq 1 100); do curl -s -o /dev/null "$U/healthz" && break; sleep 0.1; done
CP=""
for i in $(seq 1 40); do
	curl -s -m 10 -o /dev/null -w '%{http_code}\n' --interface 2001:db8:1:2::$i \
	    --data-binary @"$Q" "$U/v1/quote" >> "$T/codes6" &
	CP="$CP $!"
done
for p in $CP; do wait "$p"; done
echo "one /64: $(sort "$T/codes6" | uniq -c | tr '\n' ' ')"
echo "another /64: $(curl -s -m 10 -o /dev/null -w '%{http_code}' --interface 2001:db8:1:3::1 --data-binary @"$Q" "$U/v1/quote")"
kill $MP
SH
	check "40 quotes at once from 40 addresses of one IPv6 /64: one bucket, 429 past it ($(head -1 "$T/v6.out"))" \
	    sh -c "grep '^one /64:' $T/v6.out | grep -q ' 429'"
	check "  another /64 is answered ($(sed -n 2p "$T/v6.out"))" \
	    grep -q '^another /64: 200' "$T/v6.out"
fi

# ---- POST /v1/sdl/check --------------------------------------------------
python3 -c 'print("a: " + "[" * 100000 + "]" * 100000)' > "$T/deep.yaml"
body "$T/deep.yaml" "$MARKET/v1/sdl/check" > "$T/ans"
check "sdl/check of YAML nested 100,000 deep: refused, naming the depth" \
    sh -c "head -1 $T/ans | grep -qx 200 && sed 1d $T/ans | jq -e '.ok == false and (.errors[0] | test(\"nesting deeper\"))' > /dev/null"
python3 -c '
s = "x: &a [1,1,1,1,1,1,1,1,1]\n"
p = "a"
for i in range(20):
    s += "y%d: &b%d [%s]\n" % (i, i, ",".join(["*" + p] * 9))
    p = "b%d" % i
print(s)' > "$T/laughs.yaml"
t0=$(date +%s%N)
body "$T/laughs.yaml" "$MARKET/v1/sdl/check" > "$T/ans"
t1=$(date +%s%N)
check "sdl/check of an alias bomb: refused in under 5 s, naming the node cap" \
    sh -c "sed 1d $T/ans | jq -e '.ok == false and (.errors[0] | test(\"after expanding aliases\"))' > /dev/null && [ $(( (t1 - t0) / 1000000 )) -lt 5000 ]"
body "$T/big" "$MARKET/v1/sdl/check" > "$T/ans"
check "sdl/check of 300 KB: 413 with a JSON error" json_error 413
# 1,000 placement groups, each its own profile: a large but valid file
python3 - "$T/many.yaml" <<'PY'
import sys
n = 1000
s = ['version: "2.0"', "services:", "  web:", "    image: nginx:1.25",
     "    expose:", "      - port: 80", "        to:", "          - global: true",
     "profiles:", "  compute:", "    web:", "      resources:",
     "        cpu:", "          units: 0.1", "        memory:", "          size: 64Mi",
     "        storage:", "          size: 64Mi", "  placement:"]
for i in range(n):
    s += ["    dc%d:" % i, "      pricing:", "        web:", "          denom: uakt",
          "          amount: 100"]
s += ["deployment:", "  web:"]
for i in range(n):
    s += ["    dc%d:" % i, "      profile: web", "      count: 1"]
open(sys.argv[1], "w").write("\n".join(s) + "\n")
PY
t0=$(date +%s%N)
body "$T/many.yaml" "$MARKET/v1/sdl/check" > "$T/ans"
t1=$(date +%s%N)
check "sdl/check of 1,000 placement groups: a bounded answer (ok or refused) in under 10 s" \
    sh -c "head -1 $T/ans | grep -qx 200 && sed 1d $T/ans | jq -e '.ok | type == \"boolean\"' > /dev/null && [ $(( (t1 - t0) / 1000000 )) -lt 10000 ]"
check "  the market is still healthy" is_200 "$MARKET/healthz"

# ---- /v1/events: many streams from one address ---------------------------
# from 127.0.0.7 (127.0.0.1, the host itself or a proxy on it, has no cap)
cap=32
for i in $(seq 1 $cap); do
	curl -s -N -m 60 --interface 127.0.0.7 -o /dev/null "$MARKET/v1/events" &
	PIDS="$PIDS $!"
done
until_ok 10 sh -c "[ \$(curl -s $MARKET/metrics | sed -n 's/^lodge_event_streams \([0-9]*\)/\1/p') -ge $cap ]" > /dev/null
curl -s -m 10 --interface 127.0.0.7 -o "$T/.body" -w '%{http_code}\n' \
    "$MARKET/v1/events" > "$T/ans"
cat "$T/.body" >> "$T/ans"
check "stream $((cap + 1)) from one address: 429 with a JSON error" json_error 429
check "  another address still gets a stream" sh -c \
    "curl -s -m 2 --interface 127.0.0.8 $MARKET/v1/events | grep -q '^event: '"
check "  streams count against nothing else: a quote from the same address is answered" sh -c \
    "curl -s -m 10 -o /dev/null -w '%{http_code}' --interface 127.0.0.7 --data-binary @$T/qsmall $MARKET/v1/quote | grep -qx 200"
check "  /healthz still answers" is_200 "$MARKET/healthz"
# 10,000 streams asked from 40 addresses (250 each; the server holds
# 512): an address holding one stream (a provider) keeps it, and a new
# address still gets one, the addresses holding the most making room
curl -s -N -m 120 --interface 127.0.0.60 -o "$T/one.sse" "$MARKET/v1/events" &
ONE=$!
PIDS="$PIDS $ONE"
until_ok 10 grep -q '^event: ' "$T/one.sse" > /dev/null
python3 - "$MARKET" "$T/flood.stop" > "$T/flood.log" 2>&1 <<'PY2' &
import socket, ssl, sys, time, os, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
u = sys.argv[1]
tls = u.startswith("https://")
host, port = u.split("://", 1)[1].rsplit(":", 1)
codes, held = {}, []
for a in range(1, 41):
    for i in range(250):
        try:
            s = socket.socket()
            s.bind(("127.0.1.%d" % a, 0))
            s.settimeout(10)
            s.connect((host, int(port)))
            if tls:
                c = ssl.create_default_context()
                c.check_hostname = False
                c.verify_mode = ssl.CERT_NONE
                s = c.wrap_socket(s)
            s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
            line = s.recv(64).split(b"\r\n")[0].decode()
            code = line.split(" ")[1] if " " in line else "closed"
        except Exception as e:
            code = type(e).__name__
        codes[code] = codes.get(code, 0) + 1
        held.append(s)
print("streams asked: %s" % " ".join("%s:%d" % kv for kv in sorted(codes.items())), flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.2)
PY2
PIDS="$PIDS $!"
until_ok 120 grep -q 'streams asked' "$T/flood.log" > /dev/null
sleep 2 # the streams asked to make room end within about 1 s
n=$(curl -s "$MARKET/metrics" | sed -n 's/^lodge_event_streams \([0-9]*\)/\1/p')
check "10,000 streams asked from 40 addresses ($(cat "$T/flood.log")): the market holds at most 448 + the loopback's ($n)" \
    sh -c "grep -q '200:' $T/flood.log && [ $n -le 470 ]"
check "  a new address still gets a stream" sh -c \
    "curl -s -m 3 --interface 127.0.0.61 $MARKET/v1/events | grep -q '^event: '"
check "  the address holding a single stream kept it" kill -0 "$ONE"
check "  /healthz still answers" is_200 "$MARKET/healthz"
touch "$T/flood.stop"

# ---- heads that disagree on the host -------------------------------------
hostile_head() {
	python3 - "${MARKET#http://}" "$1" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=5)
s.sendall(sys.argv[2].replace("\\r\\n", "\r\n").replace("HOST", sys.argv[1]).encode())
print(s.recv(4096).decode(errors="replace").split("\r\n")[0])
PY
}
out=$(hostile_head 'GET http://l-9-web.elsewhere.test/healthz HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n' 2>&1)
case "$out" in *" 400 "*) ok "absolute-form target naming another host: 400";;
*) notok "absolute-form target naming another host: $out";; esac
out=$(hostile_head 'GET http://HOST/healthz HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n' 2>&1)
case "$out" in *" 200 "*) ok "absolute-form target naming the same host: 200";;
*) notok "absolute-form target naming the same host: $out";; esac
out=$(hostile_head 'GET /healthz HTTP/1.1\r\nHost: HOST\r\nHost: l-9-web.elsewhere.test\r\nConnection: close\r\n\r\n' 2>&1)
case "$out" in *" 400 "*) ok "two Host fields: 400";;
*) notok "two Host fields: $out";; esac
finish
