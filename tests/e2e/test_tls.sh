#!/bin/sh
# TLS with ledger identities (README "TLS"): a market and providers on
# TLS, their certificates self-signed by their ledger keys.
#  - the tenant learns the market key on first use, keeps it, and stops
#    when it changes; a wrong --market-key is refused
#  - a provider whose certificate is not its ledger key is refused
#  - plain HTTP to a TLS port (a manifest) gets a 400 saying so; a plain
#    http:// provider is refused unless --insecure-http
#  - a recording TCP proxy between tenant and provider: a manifest's
#    DB_PASSWORD never appears in the recorded bytes over TLS, and does
#    over --insecure-http (the check can fail)
#  - the gateway's public side: SNI picks the operator's wildcard
#    certificate for *.DOMAIN and the accept host's from the directory,
#    TLS 1.2 allowed there and not on the API
#  - hostile handshakes: stalled ClientHellos, garbage, a huge
#    ClientHello do not stall others
LODGE_INSECURE_HTTP= # TLS for the cluster helper (examples/local/cluster.sh)
. tests/e2e/lib.sh
need_tools openssl python3 jq curl
need_root

EX=$ROOT/examples/hello-perl/deploy.yaml
PRICE=cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
SECRET=lodge-secret-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A TCP proxy recording every byte both ways: proxy.py LISTEN TARGETFILE
# LOG (the target port is read from TARGETFILE at each connection).
cat > "$T/proxy.py" <<'EOF'
import socket, sys, threading
lport, tfile, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            with lock, open(log, "ab") as f:
                f.write(d)
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport))
ls.listen(64)
while True:
    c, _ = ls.accept()
    try:
        u = socket.create_connection(("127.0.0.1", int(open(tfile).read())))
    except OSError:
        c.close()
        continue
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
EOF
# proxy NAME TARGET_PORT: start one; sets NAME_PORT
proxy() {
	px_port=$(freeport)
	echo "$2" > "$T/$1.target"
	: > "$T/$1.rec"
	python3 "$T/proxy.py" "$px_port" "$T/$1.target" "$T/$1.rec" &
	PIDS="$PIDS $!"
	eval "${1}_PORT=$px_port"
	until_ok 5 python3 -c "import socket; socket.create_connection(('127.0.0.1', $px_port))"
}

# ---- certificates for the gateway's public side ---------------------------
mkdir -p "$T/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/wild.key" -out "$T/wild.crt" -days 2 -subj "/CN=*.tls.test" \
    -addext "subjectAltName=DNS:*.tls.test" 2>/dev/null
openssl req -x509 -newkey ed25519 -nodes -keyout "$T/certs/app.example.com.key" \
    -out "$T/certs/app.example.com.crt" -days 2 -subj "/CN=app.example.com" \
    -addext "subjectAltName=DNS:app.example.com" 2>/dev/null

# ---- market ----------------------------------------------------------------
need "the market on TLS" cluster_market
check "the market's URL is https://" sh -c "echo '$MARKET' | grep -q '^https://'"
MKEY=$(jq -r .market_key "$CL/market/market.json")
TKEY=$(jq -r .treasury_key "$CL/market/market.json")
check "its certificate holds the market key (Ed25519, TLS 1.3)" sh -c \
    "openssl s_client -connect ${MARKET#https://} </dev/null 2>/dev/null | grep -q 'New, TLSv1.3'"
check "its certificate's public key is the market key" sh -c \
    "openssl s_client -connect ${MARKET#https://} </dev/null 2>/dev/null | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | tail -c 32 | base64 | tr '+/' '-_' | tr -d '=' | grep -qx '${MKEY#ed25519:}'"
check "plain HTTP to the market's TLS port is answered 400, saying so" sh -c \
    "curl -s 'http://${MARKET#https://}/v1/info' | grep -q 'use https://'"

# ---- providers: p1 on TLS behind a recording proxy, p2 plain ----------------
P1PORT=$(freeport)
proxy x1 "$P1PORT"
check "provider p1 (TLS, gateway certificates) starts and advertises" \
    cluster_provider p1 region=tls $PRICE --listen "127.0.0.1:$P1PORT" \
    --api-url "https://127.0.0.1:$x1_PORT" --domain tls.test \
    --tls-cert "$T/wild.crt" --tls-key "$T/wild.key" --tls-certs-dir "$T/certs"
check "p1 learned the market key on first use (DATA/known_markets)" \
    grep -q "$MKEY" "$CL/p1/known_markets"
check "p1 logs that it loaded the accept hosts' certificates" \
    grep -q "1 certificate(s) for accept hosts" "$CL/p1.log"
P2PORT=$(freeport)
proxy x2 "$P2PORT"
check "provider p2 (--insecure-http) starts and advertises" \
    cluster_provider p2 region=plain $PRICE --listen "127.0.0.1:$P2PORT" \
    --api-url "http://127.0.0.1:$x2_PORT" --insecure-http
check "p2 warns that it speaks plain HTTP" grep -q "plain HTTP" "$CL/p2.log"
check_fails "a provider given a wrong --market-key is refused" \
    "not the given key" sh -c "$BIN/provider init --market $MARKET \
    --data $T/p3 --market-key $TKEY --price denom=uakt,cpu_ms=1 && \
    $BIN/provider bond --data $T/p3 --json"

# ---- the tenant and the market's key ---------------------------------------
check "tenant alice gets a key and funds" cluster_tenant alice 1000000000
check "first use: the tenant learns the market key and says so" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant balance 2>&1 | grep -q 'first use of market'"
check "... into known_markets" grep -q "$MKEY" "$CL/alice/lodge/known_markets"
check "the second time it is quiet" sh -c \
    "! XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant balance 2>&1 | grep -q 'first use'"
check_fails "a wrong --market-key is refused, naming both keys" "$TKEY" \
    as alice --market-key "$TKEY" balance
check_fails "... (the market's key named too)" "$MKEY" \
    as alice --market-key "$TKEY" balance
cp "$CL/alice/lodge/known_markets" "$T/km.bak"
sed "s|$MKEY|$TKEY|" "$T/km.bak" > "$CL/alice/lodge/known_markets"
check_fails "a changed market key stops the tenant (known_markets)" "CHANGED" \
    as alice balance
cp "$T/km.bak" "$CL/alice/lodge/known_markets"
check_fails "a plain http:// market is refused without --insecure-http" \
    "insecure-http" sh -c "XDG_CONFIG_HOME=$CL/alice $BIN/tenant \
    --market http://${MARKET#https://} balance"

# ---- the secret over TLS ---------------------------------------------------
awk -v s="$SECRET" '
/^  placement:/ {print; getline; print; print "      attributes:"; print "        region: REGION"; next}
/^      - "GREETING=hello"/ {print; print "      - \"DB_PASSWORD=" s "\""; next}
{print}' "$EX" > "$T/secret.yaml"
sed 's/REGION/tls/' "$T/secret.yaml" > "$T/tls.yaml"
sed 's/REGION/plain/' "$T/secret.yaml" > "$T/plain.yaml"
check "the manifest carries DB_PASSWORD (the check below can see it)" \
    sh -c "$BIN/sdl manifest $T/tls.yaml | grep -q '$SECRET'"
check "alice deploys through the recording proxy to p1 over TLS" \
    to "$T/d1.json" as alice deploy "$T/tls.yaml" --timeout 30 --json
L1=$(jq -r '.orders[0].lease' "$T/d1.json")
check "the lease runs on p1" [ "$(lease_field "$L1" provider)" = "$p1_KEY" ]
check "the proxy saw the deploy's traffic (TLS records)" \
    [ "$(stat -c %s "$T/x1.rec")" -gt 2000 ]
check "tenant logs work over TLS" as alice logs "$L1"
check "the secret never appears in the recorded TLS stream" \
    sh -c "! grep -aq '$SECRET' '$T/x1.rec'"
check "nor does the manifest's GREETING or the request paths" \
    sh -c "! grep -aq -e 'GREETING=hello' -e '/manifest' '$T/x1.rec'"

check_fails "alice refuses to send a manifest to plain-HTTP p2" "plain HTTP" \
    as alice deploy "$T/plain.yaml" --timeout 30
check "with --insecure-http she deploys to p2 through its recording proxy" \
    to "$T/d2.json" as alice --insecure-http deploy "$T/plain.yaml" --timeout 30 --json
check "over plain HTTP the secret does appear in the recording (the check works)" \
    grep -aq "$SECRET" "$T/x2.rec"

# a provider whose certificate is not its ledger key: p1's proxy now leads
# to the market's TLS port
echo "${MARKET##*:}" > "$T/x1.target"
check_fails "a provider showing another key than its ledger key is refused" \
    "not the pinned key" as alice logs "$L1"
check_fails "... naming the provider's key" "$p1_KEY" as alice logs "$L1"
echo "$P1PORT" > "$T/x1.target"

# ---- the other clients ---------------------------------------------------------
VKEY=$(jq -r .vkey "$CL/market/market.json")
check "ledger audit --market https://... --vkey pins the market key" \
    $BIN/ledger audit --market "$MARKET" --vkey "$VKEY"
check "ledger audit --market https://... without --vkey takes the key shown" \
    $BIN/ledger audit --market "$MARKET"
check "ledger audit --tiles https://... (the market's own) pins the --vkey key" \
    $BIN/ledger audit --tiles "$MARKET" --vkey "$VKEY"
check "provider request --provider-key reaches p1 over TLS" \
    $BIN/provider request --key "$CL/alice/lodge/tenant.key" \
    --provider-key "$p1_KEY" GET "https://127.0.0.1:$x1_PORT/v1/leases/$L1/status"
check_fails "provider request with another --provider-key is refused" \
    "not the pinned key" $BIN/provider request --key "$CL/alice/lodge/tenant.key" \
    --provider-key "$MKEY" GET "https://127.0.0.1:$x1_PORT/v1/leases/$L1/status"

# ---- a manifest over plain HTTP to a TLS provider ---------------------------
$BIN/sdl manifest "$T/tls.yaml" > "$T/manifest.json"
check "a manifest sent over plain HTTP to p1 is refused (400: use https)" \
    sh -c "curl -s -XPOST --data-binary @$T/manifest.json \
    http://127.0.0.1:$P1PORT/v1/leases/$L1/manifest | grep -q 'use https://'"

# ---- the gateway's public side: SNI ------------------------------------------
check "SNI <lease>-web.tls.test gets the operator's wildcard certificate" \
    sh -c "openssl s_client -connect 127.0.0.1:$P1PORT -servername $L1-web.tls.test </dev/null 2>/dev/null | openssl x509 -noout -subject | grep -q 'tls.test'"
check "SNI app.example.com gets its certificate from --tls-certs-dir" \
    sh -c "openssl s_client -connect 127.0.0.1:$P1PORT -servername app.example.com </dev/null 2>/dev/null | openssl x509 -noout -subject | grep -q 'app.example.com'"
openssl req -x509 -newkey ed25519 -nodes -keyout "$T/certs/late.example.org.key" \
    -out "$T/certs/late.example.org.crt" -days 2 -subj "/CN=late.example.org" \
    -addext "subjectAltName=DNS:late.example.org" 2>/dev/null
check "a certificate dropped into --tls-certs-dir while running is served" \
    until_ok 10 sh -c "openssl s_client -connect 127.0.0.1:$P1PORT -servername late.example.org </dev/null 2>/dev/null | openssl x509 -noout -subject | grep -q 'late.example.org'"
check "no SNI (the API) gets the provider key's self-signed certificate" \
    sh -c "openssl s_client -connect 127.0.0.1:$P1PORT </dev/null 2>/dev/null | openssl x509 -noout -subject | grep -q 'lodge provider'"
check "the gateway's names take TLS 1.2" sh -c \
    "openssl s_client -tls1_2 -connect 127.0.0.1:$P1PORT -servername x-web.tls.test </dev/null 2>/dev/null | grep -q 'New, TLSv1.2, Cipher is ECDHE'"
check_fails "the API refuses TLS 1.2" "alert" \
    openssl s_client -tls1_2 -connect "127.0.0.1:$P1PORT"
check "the gateway serves the lease through the wildcard's name" sh -c \
    "curl -sk --resolve $L1-web.tls.test:$P1PORT:127.0.0.1 https://$L1-web.tls.test:$P1PORT/ | grep -q 'hello from a Lodge lease'"

# ---- hostile handshakes ------------------------------------------------------
cat > "$T/hostile.py" <<'EOF'
import socket, ssl, sys, time, os
port = int(sys.argv[1]); what = sys.argv[2]
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=5)
def ok_handshake():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = time.time()
    with conn() as s, ctx.wrap_socket(s) as w:
        w.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = w.recv(4096)
    return time.time() - t, data
if what == "stall":
    # 200 handshakes that stop after a few bytes of their ClientHello
    held = []
    for i in range(200):
        s = conn(); s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01"); held.append(s)
    dt, data = ok_handshake()
    print("ok" if b"200 OK" in data and dt < 2 else "slow %.2f %r" % (dt, data[:40]))
elif what == "garbage":
    closed = 0
    for i in range(20):
        s = conn(); s.sendall(os.urandom(2048)); s.settimeout(3)
        try:
            while s.recv(4096):
                pass  # a plain-HTTP-looking first byte gets a 400 first
            closed += 1
        except socket.timeout:
            pass
        except OSError:
            closed += 1
    dt, data = ok_handshake()
    print("ok" if closed == 20 and b"200 OK" in data else "closed %d of 20, %r" % (closed, data[:40]))
elif what == "huge":
    # a handshake record announcing a ClientHello of 16 MiB, then bytes
    s = conn()
    s.sendall(b"\x16\x03\x01\x40\x00" + b"\x01\xff\xff\xff" + b"\x03\x03" + b"A" * (16384 - 6))
    sent, closed = 16384, False
    try:
        for i in range(4096):
            s.sendall(b"\x16\x03\x01\x40\x00" + b"B" * 16384)
            sent += 16384
    except OSError:
        closed = True
    if not closed:
        try:
            closed = s.recv(100) == b""
        except OSError:
            closed = True
    dt, data = ok_handshake()
    print("ok" if closed and sent < (64 << 20) and b"200 OK" in data else "closed=%s sent=%d %r" % (closed, sent, data[:40]))
EOF
MPORT=${MARKET##*:}
check "200 stalled ClientHellos do not stall a good handshake" \
    sh -c "python3 $T/hostile.py $MPORT stall | grep -qx ok"
check "garbage instead of a ClientHello is closed; others served" \
    sh -c "python3 $T/hostile.py $MPORT garbage | grep -qx ok"
check "a huge ClientHello is cut off; others served" \
    sh -c "python3 $T/hostile.py $MPORT huge | grep -qx ok"
check "the market still answers over TLS" is_200 "$MARKET/healthz"
# ---- the market's console under a public name (--tls-cert) ------------------
# A CA and a certificate it issued for console.tls.test: a browser (curl
# with that CA as its only trust) opens the console by name; Lodge's
# clients, by address, keep the market key pinned.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/ca.key" -out "$T/ca.crt" -days 2 -subj "/CN=Lodge test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/console.key" -out "$T/console.csr" -subj "/CN=console.tls.test" 2>/dev/null
printf 'subjectAltName=DNS:console.tls.test\n' > "$T/console.ext"
openssl x509 -req -in "$T/console.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/console.ext" -out "$T/console.crt" 2>/dev/null
M2PORT=$(freeport)
$BIN/market run --data "$T/m2" --listen "127.0.0.1:$M2PORT" \
    --tls-cert "$T/console.crt" --tls-key "$T/console.key" > "$T/m2.log" 2>&1 &
PIDS="$PIDS $!"
check "a market with --tls-cert starts and logs its public certificate" \
    until_ok 10 grep -q "1 public certificate(s)" "$T/m2.log"
check "... and writes its URL and key (market.json)" \
    until_ok 10 grep -q market_key "$T/m2/market.json"
check "a browser trusting only the CA opens the console by name" sh -c \
    "curl -q -sf --cacert $T/ca.crt --resolve console.tls.test:$M2PORT:127.0.0.1 https://console.tls.test:$M2PORT/v1/info | jq -e .market_key >/dev/null"
check "by address the certificate is still the market key's" sh -c \
    "openssl s_client -connect 127.0.0.1:$M2PORT </dev/null 2>/dev/null | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | tail -c 32 | base64 | tr '+/' '-_' | tr -d '=' | grep -qx -e \"\$(jq -r .market_key $T/m2/market.json | sed 's/^ed25519://')\""
check "a name the certificate does not carry gets the key-pinned one (CA check fails)" sh -c \
    "! curl -q -sf --cacert $T/ca.crt --resolve other.tls.test:$M2PORT:127.0.0.1 https://other.tls.test:$M2PORT/v1/info"
check_fails "--tls-cert without --tls-key is refused" "go together" \
    $BIN/market run --data "$T/m3" --listen 127.0.0.1:0 --tls-cert "$T/console.crt"
check_fails "a certificate file that does not exist is refused, naming it" "$T/nope.crt" \
    $BIN/market run --data "$T/m4" --listen 127.0.0.1:0 --tls-cert "$T/nope.crt" --tls-key "$T/console.key"
check "... and no ledger was created" test ! -e "$T/m4/ledger.db"
check_fails "a key that is not the certificate's is refused" "tls-cert" \
    $BIN/market run --data "$T/m5" --listen 127.0.0.1:0 --tls-cert "$T/console.crt" --tls-key "$T/ca.key"
check_fails "--tls-cert with --insecure-http is refused" "not with --insecure-http" \
    $BIN/market run --data "$T/m6" --listen 127.0.0.1:0 --insecure-http --tls-cert "$T/console.crt" --tls-key "$T/console.key"
finish
