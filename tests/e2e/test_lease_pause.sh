#!/bin/sh
# Pause instead of close (issue 21, docs/state.md "Pause"), through the
# real market, provider and tenant: a lease with a persistent volume
# writes a file, its escrow runs dry and the market pauses it (the
# provider stops the workload and keeps the volume, the gateway answers
# 503 "paused", nothing is billed, `tenant status`, `ls` and `events`
# say so); a top-up resumes it at the same URL with the file intact.
# Another lease left paused is not started again by a provider restarted
# meanwhile, keeps its volume until the grace ends, then closes
# insufficient_funds and its volume is deleted.  A third lease with a
# standing top-up, paused with an empty balance, is resumed by a deposit
# into the balance (not by one to another account) and restarted with its
# file intact.  Abuse: `tenant exec` into a paused lease (refused, saying
# paused), a lease.resume signed by the tenant or not
# derived, a top-up of 0, a pause of a closed lease, an old lease.resume
# replayed.  `ledger audit` replays it all.
. tests/e2e/lib.sh
CL=$T
. examples/local/cluster.sh
. tests/e2e/market_lib.sh
trap 'cluster_stop; cleanup' EXIT
if [ "$(id -u)" != 0 ]; then
	skip "pause instead of close" "persistent volumes need root"; exit 0
fi
if [ ! -w /dev/loop-control ] || ! command -v mkfs.ext4 >/dev/null 2>&1 &&
    [ ! -x /usr/sbin/mkfs.ext4 ] && [ ! -x /sbin/mkfs.ext4 ]; then
	skip "pause instead of close" "no loop devices or mkfs.ext4 here"
	exit 0
fi
need_tools jq curl losetup perl

GRACE=30
# reserved memory and storage, charged in full, make the price: the
# escrow of the smallest deposit runs dry after min_lease_epochs
PRICE=denom=uakt,cpu_ms=1000,mem_mb_s=2000000,storage_mb_s=2000000
status_json() { as alice status "$1" --json; }
rep_pid() { status_json "$1" | jq -r '.provider.replicas[0].pid'; }
dead() { ! kill -0 "$1" 2>/dev/null; }
lease_st() { mget "/v1/leases/$1" .status; }
# the HTTP status and body the gateway answers at URL PATH
gw_code() { curl -s -m 5 -o "$T/gw.body" -w '%{http_code}' "$1$2"; }

# A perl HTTP server that writes and reads a file on its volume.
cat > "$T/vol.yaml" <<'EOF'
version: "2.0"
services:
  web:
    image: host
    command: ["perl"]
    args:
      - "-e"
      - |
        use IO::Socket::INET;
        $| = 1;
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
            LocalPort => 8080, Listen => 64, ReuseAddr => 1) or die "$!";
        print "pause test listening\n";
        while (my $c = $s->accept) {
            my $req = <$c> // "";
            while (my $l = <$c>) { last if $l =~ /^\r?\n$/; }
            my (undef, $p) = split / /, $req;
            my $b = "?";
            if ($p =~ m{^/write/(\w+)$}) {
                open(my $o, ">", "/srv/data/v") or die "$!";
                print $o $1; close $o; $b = "wrote";
            } elsif ($p eq "/read") {
                $b = "none";
                if (open(my $i, "<", "/srv/data/v")) { $b = <$i>; }
            }
            print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($b)
                . "\r\nConnection: close\r\n\r\n$b";
            close $c;
        }
    expose:
      - port: 8080
        as: 80
        to:
          - global: true
    params:
      storage:
        data:
          mount: /srv/data
profiles:
  compute:
    web:
      resources:
        cpu:
          units: 0.5
        memory:
          size: 128Mi
        storage:
          - size: 64Mi
          - name: data
            size: 16Mi
            attributes:
              persistent: true
              class: beta2
  placement:
    anywhere:
      pricing:
        web:
          denom: uakt
          amount: 100000
deployment:
  web:
    anywhere:
      profile: web
      count: 1
EOF

check "market run refuses a --pause-grace that is not a duration" \
    sh -c "! $BIN/market run --data $T/bad --listen 127.0.0.1:0 --pause-grace 1x 2> $T/bad.err && grep -q 'pause-grace.*not a duration' $T/bad.err"
check "market starts with --pause-grace ${GRACE}s" \
    cluster_market --check-invariants --pause-grace "${GRACE}s"
check "/v1/info says the pause grace" \
    [ "$(mget /v1/info .pause_grace_ms)" = $((GRACE * 1000)) ]
check "a restart with another --pause-grace is refused (a genesis rule)" \
    sh -c "! $BIN/market run --data $CL/market --listen 127.0.0.1:0 --pause-grace 1h 2> $T/re.err && grep -q -- '--pause-grace differs' $T/re.err"
check "provider p1 starts" cluster_provider p1 region=eu "$PRICE" \
    --stop-grace 1000
check "tenant alice is funded" cluster_tenant alice 1000000000
as alice quote "$T/vol.yaml" --json > "$T/q.json"
P=$(jq -r '.groups[0].price' "$T/q.json")
MIN=$(mget /v1/info .min_lease_epochs)
check "the quote names p1's price per epoch ($P)" [ "$P" -gt 0 ]
DEP=$((MIN * P))

# ---- a lease that runs dry, is paused, then topped up -------------------
check "alice deploys with the smallest escrow ($DEP: $MIN epochs)" \
    to "$T/d1.json" as alice deploy "$T/vol.yaml" --deposit $DEP \
    --timeout 60 --json
D1=$(jq -r .deployment "$T/d1.json")
L1=$(jq -r '.orders[0].lease' "$T/d1.json")
O1=$(jq -r '.orders[0].order' "$T/d1.json")
URL=$(jq -r '.orders[0].services.web' "$T/d1.json")
IMG1=$CL/p1/leases/$L1/volumes/web-0-data.img
check "the workload writes its persistent volume" \
    [ "$(curl -s -m 5 "${URL}write/first")" = wrote ]
PID1=$(rep_pid "$L1")
check "tenant status warns that the market then pauses it" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $L1 | grep -q 'warning: then the market pauses it, keeping its volumes 30 s before it closes insufficient_funds'"
check "tenant ls warns of it" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant ls | grep -q 'warning: lease $L1: the escrow pays .* then the market pauses it'"
check "tenant events has a warning line before the escrow runs dry" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant events $L1 | grep -q 'warning .*pays .* more at .*then it runs dry: tenant topup $O1'"
check "the escrow runs dry: the market pauses the lease (not closed)" \
    until_ok 40 sh -c "[ \"\$(curl -s $MARKET/v1/leases/$L1 | jq -r .status)\" = paused ]"
check "... with its grace's end" [ "$(mget "/v1/leases/$L1" '.grace_until - .paused_at')" = $((GRACE * 1000)) ]
check "the provider stops the workload (pid $PID1)" until_ok 15 dead "$PID1"
check "... and says the lease is paused" until_ok 10 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $L1 --json | jq -e '.provider.status == \"paused\" and .provider.replicas[0].state == \"paused\"'"
check "its volume image is kept" test -f "$IMG1"
check "the gateway answers 503 (not 502) saying it is paused" sh -c \
    "[ \$(curl -s -m 5 -o $T/gw.body -w '%{http_code}' ${URL}read) = 503 ] && grep -q 'is paused' $T/gw.body"
C1=$(mget "/v1/leases/$L1" .charged)
sleep 3
check "nothing is billed while paused (charged stays $C1)" \
    [ "$(mget "/v1/leases/$L1" .charged)" = "$C1" ]
check "tenant status shows the pause and the grace left" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $L1 > $T/st.txt && grep -q '^  status    paused' $T/st.txt && grep -q 'closes insufficient_funds in [0-9]* s unless topped up' $T/st.txt"
check "tenant ls shows it paused with the grace left" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant ls > $T/ls.txt && grep -q '$L1 *paused' $T/ls.txt && grep -q 'warning: lease $L1 is paused .* closes insufficient_funds in [0-9]* s' $T/ls.txt"
check "tenant events shows the pause" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant events $L1 > $T/ev.txt && grep -q 'lease.pause .*paused: the escrow cannot pay' $T/ev.txt && grep -q 'lease.paused' $T/ev.txt"

XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant exec "$L1" web -- true \
    > "$T/ex.out" 2> "$T/ex.err" < /dev/null
rc=$?
check "tenant exec into the paused lease is refused, saying paused (exit $rc)" \
    sh -c "[ $rc != 0 ] && grep -q 'the lease is paused' $T/ex.err"

# ---- abuse ------------------------------------------------------------
AK=$CL/alice/lodge/tenant.key
MK=$CL/market/market.key
check "a lease.resume signed by the tenant is refused" \
    [ "$(code "$AK" lease.resume "{\"lease\":\"$L1\"}")" = 422 ]
check "a lease.resume signed by the market but not derived is refused" \
    [ "$(code "$MK" lease.resume "{\"lease\":\"$L1\"}")" = 422 ]
check "a top-up of 0 is refused (entry)" sh -c \
    "c=\$($L envelope --key $AK --kind deployment.deposit --body '{\"order\":\"$O1\",\"amount\":0}' | curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary @- $MARKET/v1/entries); [ \$c = 400 ] || [ \$c = 422 ]"
check "... and by tenant topup" sh -c "! XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant topup $D1 0 2> /dev/null"
check "a top-up too small to pay an epoch leaves it paused" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant topup $D1 1 > /dev/null && [ \"\$(curl -s $MARKET/v1/leases/$L1 | jq -r .status)\" = paused ]"

# ---- top-up: resumed, same lease, same URL, the file intact -----------
check "tenant topup resumes it" as alice topup "$D1" $((300 * P))
check "the market resumes the lease" until_ok 10 sh -c \
    "[ \"\$(curl -s $MARKET/v1/leases/$L1 | jq -r .status)\" = active ]"
check "... counting one pause" [ "$(mget "/v1/leases/$L1" .pauses)" = 1 ]
check "the provider starts it again at the same URL, the file intact" \
    until_ok 30 sh -c "[ \"\$(curl -s -m 3 ${URL}read)\" = first ]"
check "it is running again" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $L1 --json | jq -e '.provider.status == \"running\" and .provider.replicas[0].pid > 0'"
check "tenant events shows the resume" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant events $L1 | grep -q 'lease.resume .*resumed'"
check "billing goes on after the resume" until_ok 15 sh -c \
    "[ \$(curl -s $MARKET/v1/leases/$L1 | jq .charged) -gt $C1 ]"
# the resume entry, replayed as it is in the ledger
N=$(curl -s "$MARKET/v1/ledger/entries?start=0" | jq -r '[.entries[] | select((.leaf | @base64d | fromjson | .entry.kind) == "lease.resume")][0].index')
curl -s "$MARKET/v1/ledger/entries?start=$N" |
    jq -c '.entries[0].leaf | @base64d | fromjson | .entry' > "$T/resume.json"
check "an old lease.resume replayed is refused" sh -c \
    "c=\$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary @$T/resume.json $MARKET/v1/entries); [ \$c = 409 ] || [ \$c = 422 ]"

# ---- a lease left paused closes at the grace's end ----------------------
check "alice deploys a second one with the smallest escrow" \
    to "$T/d2.json" as alice deploy "$T/vol.yaml" --deposit $DEP \
    --timeout 60 --json
L2=$(jq -r '.orders[0].lease' "$T/d2.json")
IMG2=$CL/p1/leases/$L2/volumes/web-0-data.img
check "its volume exists" test -f "$IMG2"
check "it is paused when its escrow runs dry" until_ok 40 sh -c \
    "[ \"\$(curl -s $MARKET/v1/leases/$L2 | jq -r .status)\" = paused ]"
# ---- the provider restarted while a lease is paused --------------------
kill "$p1_PID"
check "p1 stops (SIGTERM) while the lease is paused" until_ok 10 dead "$p1_PID"
check "p1 starts again" cluster_provider_start p1
sleep 3
check "... it does not start the paused lease" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $L2 --json | jq -e '.provider.status == \"paused\" and .provider.replicas[0].pid == 0'"
check "... nor delete its volume" test -f "$IMG2"
URL2=$(as alice status "$L2" --json | jq -r .services.web)
check "... and its gateway still says paused" [ "$(gw_code "$URL2" read)" = 503 ]
check "p1 is killed with -9 while the lease is paused" cluster_crash p1
check "p1 starts again" cluster_provider_start p1
sleep 2
check "... it still does not start it, nor delete its volume" sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant status $L2 --json | jq -e '.provider.status == \"paused\" and .provider.replicas[0].pid == 0' && test -f $IMG2"
URL=$(as alice status "$L1" --json | jq -r .services.web)
check "the running lease goes on across the restarts" until_ok 10 sh -c \
    "[ \"\$(curl -s -m 3 ${URL}read)\" = first ]"
check "the grace running out closes it insufficient_funds" until_ok $((GRACE + 20)) sh -c \
    "[ \"\$(curl -s $MARKET/v1/leases/$L2 | jq -r .reason)\" = insufficient_funds ]"
check "the provider deletes its volume" until_ok 15 test ! -e "$IMG2"
check "a lease.pause of the closed lease is refused" \
    [ "$(code "$MK" lease.pause "{\"lease\":\"$L2\"}")" = 422 ]
check "the first lease still serves its file" \
    [ "$(curl -s -m 5 "${URL}read")" = first ]

# ---- a standing top-up resumes a paused lease at a deposit --------------
check "alice deploys a third one with the smallest escrow" \
    to "$T/d3.json" as alice deploy "$T/vol.yaml" --deposit $DEP \
    --timeout 60 --json
L3=$(jq -r '.orders[0].lease' "$T/d3.json")
URL3=$(jq -r '.orders[0].services.web' "$T/d3.json")
check "its workload writes its persistent volume" \
    [ "$(curl -s -m 5 "${URL3}write/third")" = wrote ]
check "alice sets a standing top-up of 300 epochs' price on it" \
    as alice topup --auto $((300 * P)) --below 2 "$L3"
SINK=$($L keygen "$T/sink.key")
ab() { mget "/v1/accounts/$alice_ADDR" .balances.uakt; }
check "alice empties her balance" submit "$AK" account.transfer \
    "{\"to\":\"$SINK\",\"denom\":\"uakt\",\"amount\":$(($(ab) - $(fee account.transfer)))}"
PID3=$(rep_pid "$L3")
check "its escrow runs dry, the balance empty: paused" until_ok 40 sh -c \
    "[ \"\$(curl -s $MARKET/v1/leases/$L3 | jq -r .status)\" = paused ]"
check "the provider stops its workload (pid $PID3)" until_ok 15 dead "$PID3"
fund "$SINK" 1000000
sleep 2
check "a deposit to another account leaves it paused" \
    [ "$(lease_st "$L3")" = paused ]
fund "$alice_ADDR" $((300 * P + 1000000))
check "a deposit to alice's balance: the instruction moves $((300 * P)), the market resumes it" \
    until_ok 10 sh -c "curl -s $MARKET/v1/leases/$L3 | jq -e '.status == \"active\" and .auto_topup.on_credit == 1' > /dev/null"
check "the provider starts it again at the same URL, the file intact" \
    until_ok 30 sh -c "[ \"\$(curl -s -m 3 ${URL3}read)\" = third ]"
check "alice closes the third deployment" as alice close "$L3"
check "ledger audit replays it all (pauses, resume, grace close)" \
    until_ok 10 $L audit --market "$MARKET"
check "alice closes the first deployment" as alice close "$D1"
check "... and its volume goes" until_ok 15 test ! -e "$IMG1"
cluster_stop
sweep_sandboxes
finish
