#!/bin/sh
# What a tenant watches: `tenant events` (the ledger's entries and the
# provider's events of one lease, in time order: order, match, manifest,
# starts, exits with their status, OOM kills, top-ups, usage, close),
# -f following until the close, refused to another tenant at the
# provider; `tenant status` and `tenant ls` with prices per epoch, hour
# and month in tokens and micro-units, the escrow left and how long it
# lasts.
. tests/e2e/lib.sh
need_root
need_tools jq curl perl

FUND=1000000000
check "market starts" cluster_market
check "provider p1 starts" cluster_provider p1 region=eu \
    cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000
check "tenant alice is funded" cluster_tenant alice $FUND
check "tenant bob is funded" cluster_tenant bob $FUND
# $A and $B: the tenant CLI as alice and as bob, for sh -c too
for n in alice bob; do
	printf '#!/bin/sh\nXDG_CONFIG_HOME=%s LODGE_MARKET=%s exec %s "$@"\n' \
	    "$CL/$n" "$MARKET" "$BIN/tenant" > "$T/tn-$n"
	chmod +x "$T/tn-$n"
done
A=$T/tn-alice
B=$T/tn-bob

# web serves; crash exits 3 after a moment; hog grows past its memory
cat > "$T/app.yaml" <<'YAML'
version: "2.0"
services:
  web:
    image: host
    command: ["perl"]
    args:
      - "-e"
      - |
        use IO::Socket::INET;
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
            LocalPort => 8080, Listen => 8, ReuseAddr => 1) or die;
        while (my $c = $s->accept) { print $c "HTTP/1.0 200 OK\r\n\r\nhi\n"; close $c; }
    expose:
      - port: 8080
        as: 80
        to: [{global: true}]
  crash:
    image: host
    command: ["sh"]
    args: ["-c", "echo crashing; sleep 1; exit 3"]
  hog:
    image: host
    command: ["perl"]
    args: ["-e", "my $x = 'a' x (256 * 1048576); sleep 60"]
profiles:
  compute:
    web:
      resources: {cpu: {units: 0.25}, memory: {size: 64Mi}, storage: {size: 64Mi}}
    crash:
      resources: {cpu: {units: 0.25}, memory: {size: 64Mi}, storage: {size: 64Mi}}
    hog:
      resources: {cpu: {units: 0.25}, memory: {size: 64Mi}, storage: {size: 64Mi}}
  placement:
    eu:
      pricing:
        web: {denom: uakt, amount: 100000}
        crash: {denom: uakt, amount: 100000}
        hog: {denom: uakt, amount: 100000}
deployment:
  web: {eu: {profile: web, count: 1}}
  crash: {eu: {profile: crash, count: 1}}
  hog: {eu: {profile: hog, count: 1}}
YAML
check "alice deploys web, crash and hog" \
    to "$T/d.json" $A deploy "$T/app.yaml" --timeout 30 --json
D=$(jq -r .deployment "$T/d.json")
L=$(jq -r '.orders[0].lease' "$T/d.json")
[ -n "$L" ] && [ "$L" != null ] || { notok "no lease"; cat "$T/d.json.err"; finish; }

# crash exits (3) and restarts; hog is killed for memory
check "the provider records crash's exit with its status" until_ok 20 sh -c \
    "$A events $L --json | jq -e '.[] | select(.kind == \"replica.exited\" and .service == \"crash\" and .exit == 3)'"
check "and hog's OOM kill" until_ok 20 sh -c \
    "$A events $L --json | jq -e '.[] | select(.kind == \"replica.oom_killed\" and .service == \"hog\")'"
check "a top-up" sh -c "$A topup $D 1000000 > /dev/null"
check "usage is charged" until_ok 10 sh -c \
    "$A events $L --json | jq -e '[.[] | select(.kind == \"lease.usage\")] | length >= 2'"
$A events "$L" --json > "$T/ev.json"
$A events "$L" > "$T/ev.txt"
has() { jq -e "[.[] | select($1)] | length >= 1" "$T/ev.json" > /dev/null; }
check "events: the order, the match, the start from the ledger" sh -c '
	for k in order.create match lease.started lease.usage deployment.deposit; do
		jq -e "[.[] | select(.source == \"market\" and .kind == \"$k\")] | length >= 1" '"$T/ev.json"' > /dev/null || { echo "no $k"; exit 1; }
	done'
check "events: the manifest accepted, the starts from the provider" sh -c '
	for k in manifest.accepted replica.started; do
		jq -e "[.[] | select(.source == \"provider\" and .kind == \"$k\")] | length >= 1" '"$T/ev.json"' > /dev/null || { echo "no $k"; exit 1; }
	done'
check "events are in time order" \
    jq -e '[.[].time] as $t | $t == ($t | sort)' "$T/ev.json"
check "the match comes before the manifest, the manifest before the starts" \
    jq -e '(map(.kind) | index("match")) != null and
        (map(.kind) | index("match")) < (map(.kind) | index("manifest.accepted")) and
        (map(.kind) | index("manifest.accepted")) < (map(.kind) | index("replica.started"))' "$T/ev.json"
check "the text form: a time, the source, the kind, the exit status" sh -c "
	grep -Eq '^20[0-9-]{8} [0-9:]{8}\.[0-9]{3}  provider  replica\.exited +crash#0: exited with 3' $T/ev.txt &&
	grep -q 'killed for memory' $T/ev.txt &&
	grep -Eq '  market    lease\.usage +usage over [0-9]+ epochs: charged [0-9.]+ AKT \([0-9]+ uakt\)' $T/ev.txt &&
	grep -q 'top-up of 1 AKT (1000000 uakt)' $T/ev.txt"
check "bob is refused alice's lease's provider events" sh -c "
	$B events $L > $T/bob.out 2> $T/bob.err;
	grep -q '403' $T/bob.err && ! grep -q '  provider  ' $T/bob.out"

# status and ls in human units
$A status "$L" > "$T/st.txt" 2>&1
check "status: price per epoch in tokens and micro-units" \
    grep -Eq '^  price     [0-9.]+ AKT \([0-9]+ uakt\) per epoch \(1s\)' "$T/st.txt"
check "status: per hour and per month" \
    grep -Eq 'AKT \([0-9]+ uakt\) per hour, [0-9.]+ AKT \([0-9]+ uakt\) per month' "$T/st.txt"
check "status: the escrow left and how long it lasts" \
    grep -Eq '^  escrow    [0-9.]+ AKT \([0-9]+ uakt\) left, lasts [0-9]+[dhms]' "$T/st.txt"
check "status: the exposed ports" grep -q 'ports 8080 as 80 (global)' "$T/st.txt"
P=$($A status "$L" --json | jq .money.per_epoch)
H=$($A status "$L" --json | jq .money.per_hour)
check "status --json: money, per hour = 3600 epochs of 1 s" [ "$((P * 3600))" = "$H" ]
$A ls > "$T/ls.txt"
check "ls: PRICE, /MONTH, ESCROW, LASTS" sh -c "
	head -1 $T/ls.txt | grep -q 'PRICE.*/MONTH.*ESCROW.*LASTS' &&
	grep '^$D ' $T/ls.txt | grep -Eq '$P uakt +[0-9.]+ AKT .* [0-9.]+ AKT \([0-9]+\) +[0-9]+[dhms]'"
check "ls --json: money per row" sh -c \
    "$A ls --json | jq -e '.[] | select(.lease == \"$L\") | .money.per_month > 0'"

# -f follows until the close
( $A events "$L" -f > "$T/f.txt" 2>&1; echo "rc=$?" >> "$T/f.txt" ) &
FPID=$!
PIDS="$PIDS $FPID"
sleep 2
check "close the deployment" sh -c "$A close $D > /dev/null"
check "events -f ends by itself after the close" until_ok 20 sh -c "! kill -0 $FPID"
check "  having shown the ledger's close and the provider's" sh -c "
	grep -q 'market    lease.close  *closed: tenant_closed' $T/f.txt &&
	grep -q 'provider  lease.closed' $T/f.txt && grep -q rc=0 $T/f.txt"
check "  and the replicas stopped" grep -q 'replica.stopped' "$T/f.txt"
check "  each event once" sh -c "[ \$(grep -c 'order.create' $T/f.txt) = 1 ]"

# a manifest this provider refuses (an app from a private address it does
# not fetch from): the refusal, in the lease's events
sed 's|image: host|image: git+http://10.255.255.1/app.git#0123456789abcdef0123456789abcdef01234567|' \
    "$ROOT/examples/hello-perl/deploy.yaml" > "$T/refused.yaml"
$A deploy "$T/refused.yaml" --timeout 20 > "$T/r.out" 2>&1
check "a refused manifest ends deploy with exit 5" [ $? = 5 ]
LR=$($A ls --all --json | jq -r '[.[] | select(.reason == "manifest_not_delivered")][0].lease')
check "its events show the refusal and why" sh -c "
	$A events $LR | grep 'provider  manifest.refused' | grep -q '10.255.255.1'"
finish
