#!/bin/sh
# Market replicas (docs/market-ha.md) played by an attacker: one etcd
# member, two replicas over TLS on loopback (one may not advertise an
# http:// URL).  A client's own
# "X-Lodge-Forwarded: 1" to a follower (503, never applied) and to the
# sequencer (the signature, the body cap and the per-key rate limit still
# hold); a body past the cap and 100 slow bodies at a follower (413 from
# the follower itself; a submission through the same follower still goes
# in quickly); an election key in etcd rewritten to name a server that is
# not a replica: plain http (a replica serving TLS never forwards in the
# clear), https with a key other than the market's (the pin refuses it
# before any request), and a tarpit that never answers (80 submissions at
# once: the follower's reads still answer, the excess forwards 503 at
# once); the real key put back: forwarding resumes.
# over TLS whatever the environment says: the pin is what is attacked
LODGE_INSECURE_HTTP=
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/ha_lib.sh
need_tools etcd etcdctl curl jq python3 openssl

check_fails "a replica serving TLS refuses to advertise an http:// URL" \
    "expected an https:// URL" \
    $M run --data "$T/bad" --listen 127.0.0.1:0 --etcd http://127.0.0.1:9 \
    --replica r9 --advertise http://127.0.0.1:9
need "one etcd member" etcd_cluster 1
need "keys" replica_keys
for i in 1 2; do
	need "replica r$i" replica_start $i --offline-grace 3600 \
	    --rate-limit 1 --rate-burst 3
done
S=$(sequencer) || need "a sequencer" false
F=$((3 - S))
SEQ=$(replica_url "$S")
FOL=$(replica_url "$F")
origin=$(replica_info "$S" | jq -r .origin)
LKEY="/lodge/$origin/leader"

# post URL FILE [curl args]: "STATUS BODY" of a POST of FILE
post_to() {
	pt_u=$1 pt_f=$2
	shift 2
	curl -s -m 30 -o "$T/.pt" -w '%{http_code}' -XPOST "$@" \
	    --data-binary @"$pt_f" "$pt_u/v1/entries"
	printf ' '
	cat "$T/.pt"
	echo
}
# deposit N TO: a treasury deposit envelope in $T/dep.N.json
deposit() {
	envelope "$T/keys/treasury.key" account.deposit \
	    "{\"to\":\"$2\",\"denom\":\"uakt\",\"amount\":$1}" > "$T/dep.$1.json"
}
A=$(keygen alice)
B=$(keygen bob)
deposit 100000000 "$A"
out=$(post_to "$FOL" "$T/dep.100000000.json")
check "a deposit through the follower r$F: 201 ($out)" \
    sh -c "echo '$out' | grep -q '^201 '"
bal() { curl -s -m 5 "$1/v1/accounts/$2" | jq -r '.balances.uakt // 0'; }

# ---- a client's own X-Lodge-Forwarded ----------------------------------
deposit 7 "$B"
out=$(post_to "$FOL" "$T/dep.7.json" -H 'X-Lodge-Forwarded: 1')
check "X-Lodge-Forwarded: 1 from a client to the follower: 503, not forwarded ($out)" \
    sh -c "echo '$out' | grep -q '^503 .*does not sequence'"
sleep 0.5
check "  the entry was not applied anywhere" sh -c \
    "[ \"\$(curl -s -m 5 $SEQ/v1/accounts/$B | jq -r '.balances.uakt // 0')\" = 0 ]"
# to the sequencer: nothing is skipped
sed 's/"amount":7/"amount":7000/' "$T/dep.7.json" > "$T/forged.json"
out=$(post_to "$SEQ" "$T/forged.json" -H 'X-Lodge-Forwarded: 1')
check "  to the sequencer, a deposit changed after signing: refused ($out)" \
    sh -c "echo '$out' | grep -Eq '^401 .*signature .* does not verify'"
head -c 300000 /dev/zero | tr '\0' a > "$T/huge"
out=$(post_to "$SEQ" "$T/huge" -H 'X-Lodge-Forwarded: 1' | cut -c1-80)
check "  to the sequencer, 300 KB: 413 ($out)" sh -c "echo '$out' | grep -q '^413 '"
: > "$T/codes"
for k in 1 2 3 4 5 6 7 8; do
	envelope "$T/alice.key" account.transfer \
	    "{\"to\":\"$B\",\"denom\":\"uakt\",\"amount\":$k}" > "$T/tr.$k.json"
done
TRP=""
for k in 1 2 3 4 5 6 7 8; do
	curl -s -m 30 -o /dev/null -w '%{http_code}\n' -XPOST -H 'X-Lodge-Forwarded: 1' \
	    --data-binary @"$T/tr.$k.json" "$SEQ/v1/entries" >> "$T/codes" &
	TRP="$TRP $!"
done
for p in $TRP; do wait "$p"; done
check "  to the sequencer, 8 transfers of one key at once (burst 3): 429 past the burst ($(sort "$T/codes" | uniq -c | tr '\n' ' '))" \
    sh -c "grep -qx 201 $T/codes && grep -qx 429 $T/codes"

# ---- big and slow bodies at the follower --------------------------------
t0=$(date +%s%N)
out=$(post_to "$FOL" "$T/huge" | cut -c1-80)
t1=$(date +%s%N)
check "300 KB to the follower: 413 from the follower itself in under 5 s ($out)" \
    sh -c "echo '$out' | grep -q '^413 ' && [ $(( (t1 - t0) / 1000000 )) -lt 5000 ]"
# 100 connections that send half a head's promised body and wait
python3 - "${FOL#https://}" 100 "$T/slow.stop" > "$T/slow.log" 2>&1 <<'PY' &
import socket, ssl, sys, time, os
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
held = []
for i in range(int(sys.argv[2])):
    try:
        s = ctx.wrap_socket(socket.create_connection((host, int(port))))
        s.sendall(b"POST /v1/entries HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 200000\r\n\r\n" + b"{" * 1000)
        held.append(s)
    except Exception as e:
        print("conn", i, e)
print("held", len(held), flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.1)
PY
PIDS="$PIDS $!"
until_ok 10 grep -q held "$T/slow.log" > /dev/null
deposit 11 "$B"
t0=$(date +%s%N)
out=$(post_to "$FOL" "$T/dep.11.json")
t1=$(date +%s%N)
check "100 slow bodies held at the follower ($(cat "$T/slow.log")): a submission through it still goes in, in $(( (t1 - t0) / 1000000 )) ms ($out)" \
    sh -c "echo '$out' | grep -q '^201 ' && [ $(( (t1 - t0) / 1000000 )) -lt 10000 ]"
check "  and the sequencer answers /healthz" is_200 "$SEQ/healthz"
touch "$T/slow.stop"

# ---- the election key rewritten to name a server that is no replica ---
orig=$(etcdctl_ get "$LKEY" --print-value-only)
check "the election key holds the sequencer ($orig)" \
    sh -c "echo '$orig' | jq -e '.name == \"r$S\"' > /dev/null"
# the rewrites keep the key on the sequencer's etcd lease, so that it
# still goes with the lease (a failover meanwhile elects anew)
LEASE=$(printf %x "$(etcdctl_ get "$LKEY" -w fields | sed -n 's/^"Lease" : \([0-9]*\)$/\1/p')")
# hostile servers: each logs every request line it gets
cat > "$T/evil.py" <<'PY'
import http.server, socketserver, ssl, sys, threading, time
mode, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        open(log, "a").write("POST %d\n" % len(body))
        ans = b'{"index":999999999,"time":1,"id":"x"}'
        self.send_response(201)
        self.send_header("Content-Length", str(len(ans)))
        self.end_headers()
        self.wfile.write(ans)
    def log_message(self, *a):
        pass
if mode == "tarpit":
    import socket
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1000)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)
        open(log, "a").write("conn\n")
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
srv = S(("127.0.0.1", port), H)
if mode == "https":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
# evil_leader SCHEME PORT: the election key names r9 at that URL
evil_leader() {
	etcdctl_ put --lease="$LEASE" "$LKEY" "{\"name\":\"r9\",\"url\":\"$1://127.0.0.1:$2\"}" > /dev/null &&
	    until_ok 10 sh -c "curl -s -m 2 $FOL/v1/info | jq -e '.replica.sequencer.url == \"$1://127.0.0.1:$2\"'" > /dev/null
}
deposit 13 "$B"

# plain http, answering a 201 for anything
EP=$(free_port)
python3 "$T/evil.py" http "$EP" "$T/evil.http" > /dev/null 2>&1 &
PIDS="$PIDS $!"
until_ok 10 sh -c "curl -s -o /dev/null http://127.0.0.1:$EP/" > /dev/null
need "the election key rewritten to http://127.0.0.1:$EP" evil_leader http "$EP"
out=$(post_to "$FOL" "$T/dep.13.json")
check "a leader URL in plain http: the follower refuses to forward, 503 ($out)" \
    sh -c "echo '$out' | grep -q '^503 .*cannot be pinned'"
check "  the hostile server got nothing" sh -c "! grep -q POST $T/evil.http 2>/dev/null"

# https with a certificate of another key
openssl req -x509 -newkey ed25519 -nodes -keyout "$T/evil.key" \
    -out "$T/evil.crt" -subj /CN=127.0.0.1 -days 1 > /dev/null 2>&1
EPS=$(free_port)
python3 "$T/evil.py" https "$EPS" "$T/evil.https" "$T/evil.crt" "$T/evil.key" > /dev/null 2>&1 &
PIDS="$PIDS $!"
until_ok 10 sh -c "curl -sk -o /dev/null https://127.0.0.1:$EPS/" > /dev/null
need "the election key rewritten to https://127.0.0.1:$EPS" evil_leader https "$EPS"
post_to "$FOL" "$T/dep.13.json" > "$T/pin.out"
check "a leader URL in https with another key: refused by the pin, 503 ($(cat "$T/pin.out"))" \
    grep -q '^503 .*not the pinned key' "$T/pin.out"
check "  the hostile server got no request" sh -c "! grep -q POST $T/evil.https 2>/dev/null"

# a tarpit: accepts and never answers
ETP=$(free_port)
python3 "$T/evil.py" tarpit "$ETP" "$T/evil.tarpit" > /dev/null 2>&1 &
PIDS="$PIDS $!"
sleep 0.5
need "the election key rewritten to https://127.0.0.1:$ETP" evil_leader https "$ETP"
for k in $(seq 1 80); do
	curl -s -m 30 -o "$T/tp.$k" -w '%{http_code}\n' -XPOST \
	    --data-binary @"$T/dep.13.json" "$FOL/v1/entries" >> "$T/tarpit.codes" &
	TP="$TP $!"
done
sleep 1
worst=0
for k in 1 2 3 4 5; do
	t0=$(date +%s%N)
	curl -s -m 20 -o /dev/null "$FOL/v1/info"
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	[ "$ms" -gt "$worst" ] && worst=$ms
	sleep 0.2
done
check "80 submissions held by a tarpit sequencer: the follower's reads answer within 3 s (worst ${worst} ms)" \
    [ "$worst" -lt 3000 ]
for p in $TP; do wait "$p"; done
check "  every one of them answered 503 ($(sort "$T/tarpit.codes" | uniq -c | tr '\n' ' '))" \
    sh -c "[ \$(grep -cx 503 $T/tarpit.codes) = 80 ]"
check "  those past the 48 in flight at once, without waiting ($(grep -l 'already on their way' "$T"/tp.* | wc -l))" \
    sh -c "[ \$(grep -l 'already on their way' $T/tp.* | wc -l) -ge 20 ]"

# the real value back (or, if the lease ran out meanwhile, a new
# election): forwarding resumes
etcdctl_ put --lease="$LEASE" "$LKEY" "$orig" > /dev/null 2>&1
S=$(sequencer) || S=1
FOL=$(replica_url $((3 - S)))
until_ok 10 sh -c "curl -s -m 2 $FOL/v1/info | jq -e '.replica.sequencer.name == \"r$S\"'" > /dev/null
out=$(post_to "$FOL" "$T/dep.13.json")
check "the election key put back: the follower forwards again, 201 ($out)" \
    sh -c "echo '$out' | grep -q '^201 '"
check "  both replicas hold the same entries" same_applied 1 2
finish
