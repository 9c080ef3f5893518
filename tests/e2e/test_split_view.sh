#!/bin/sh
# A split view between two real markets.  Market A runs with one witness
# (`ledger witness serve`, quorum 1 of 1) and publishes only cosigned
# checkpoints (checked by the independent verifier c2sp_verify.py), also
# as C2SP tiles that `ledger audit --tiles` reads from the market itself.
# Its data directory is copied to market B (same key, same ledger) and
# each is given different entries: the witness cosigns A and refuses B,
# keeping the evidence; B keeps serving the last cosigned checkpoint of
# the common prefix.  Tenant ta sees A, tenant tb sees B; ta pointed at
# B stops with an ALARM printing both notes; a provider that followed A
# and is shown B raises the alarm and takes no new lease; `ledger audit
# --since` catches B.  With its witness down, or silent, A keeps serving
# its last cosigned checkpoint and accepting entries without waiting, and
# catches up after.
. tests/e2e/lib.sh
L=$BIN/ledger
M=$BIN/market
TN=$BIN/tenant
V="python3 $ROOT/tests/e2e/c2sp_verify.py"
cd "$T" || exit 1

# mstart NAME [args]: market NAME on the data dir $T/NAME, on the port
# it had before when restarted; sets NAME_URL and NAME_PID.
mstart() {
	ms_n=$1; shift
	ms_port=0
	if [ -s "$T/$ms_n/market.json" ]; then
		ms_port=$(jq .listen_port "$T/$ms_n/market.json")
		rm -f "$T/$ms_n/market.json"
	fi
	$M run --data "$T/$ms_n" --listen "127.0.0.1:$ms_port" "$@" \
	    >> "$T/$ms_n.log" 2>&1 &
	eval "${ms_n}_PID=$!"
	PIDS="$PIDS $!"
	until_ok 10 test -s "$T/$ms_n/market.json" || return 1
	eval "${ms_n}_URL=http://127.0.0.1:$(jq .listen_port "$T/$ms_n/market.json")"
}
mstop() {
	ms_pid=$(eval echo "\$${1}_PID")
	kill "$ms_pid"
	wait "$ms_pid" 2>/dev/null
	return 0
}
# dep NAME ACCOUNT AMOUNT: a treasury deposit on market NAME
dep() {
	$M deposit --data "$T/$1" --market "$(eval echo "\$${1}_URL")" "$2" \
	    "$3" > /dev/null
}
# cp_line URL N: line N of the market's published checkpoint
cp_line() { curl -s -m 10 "$1/v1/ledger/checkpoint" | sed -n "${2}p"; }
committed() { curl -s -m 10 "$1/v1/ledger/entries?start=0&end=0" | jq .size; }
# caught_up URL: the published checkpoint covers every committed entry
caught_up() { [ "$(cp_line "$1" 2)" = "$(committed "$1")" ]; }
cosigned() { curl -s -m 10 "$1/v1/ledger/checkpoint" | grep -q '^— witness.test/w1 '; }
# root_at URL SIZE: the market's tree root at SIZE
root_at() {
	curl -s -m 10 "$1/v1/ledger/proof/consistency?old=1&new=$2" | jq -r .new_root
}
tn() { tn_n=$1; shift; XDG_CONFIG_HOME="$T/$tn_n" $TN "$@"; }

# ---- the witness ------------------------------------------------------
$L witness init w.db --name witness.test/w1 --key w.key > wvkey 2> /dev/null
$L witness serve w.db --listen 127.0.0.1:0 > w.out 2> w.err &
WPID=$!
PIDS="$PIDS $WPID"
check "the witness serves on a loopback port" until_ok 10 grep -q '^listening on' w.out
WURL=$(sed -n 's/^listening on //p' w.out)
W="$(cat wvkey)=$WURL"

# ---- market A, first without witnesses --------------------------------
# no fees and no bonds: the provider below advertises without funding
check "market A starts without witnesses" mstart A --epoch 1 \
    --checkpoint-interval 500 --fee 0 --bond-per-cpu 0 --bond-per-gib 0
check "the genesis holds the checkpoint cadence" \
    [ "$(curl -s "$A_URL/v1/info" | jq .checkpoint_ms)" = 500 ]
check "/v1/info says its checkpoints are signed by the market alone" sh -c \
    "curl -s $A_URL/v1/info | jq -e '.witnesses.cosigned == false and .witnesses.quorum == 0 and (.witnesses.keys | length) == 0 and (.witnesses.checkpoints | test(\"alone\"))' > /dev/null"
check "... and they carry its signature only" until_ok 10 sh -c \
    "curl -sf $A_URL/v1/ledger/checkpoint | grep -c '^— ' | grep -qx 1"
VKEY=$(curl -s "$A_URL/v1/info" | jq -r .vkey)
echo "$VKEY" > vkey
mstop A
check_fails "a restart with another cadence is refused (a genesis rule)" \
    "checkpoint-interval" $M run --data "$T/A" --listen 127.0.0.1:0 \
    --checkpoint-interval 2000 --witness "$W"
check_fails "--quorum above the witnesses given is refused" "quorum" \
    $M run --data "$T/A" --listen 127.0.0.1:0 --witness "$W" --quorum 2
check_fails "a witness without a URL is refused" "VKEY=URL" \
    $M run --data "$T/A" --listen 127.0.0.1:0 --witness "$(cat wvkey)"

# ---- A with its witness, quorum 1 of 1 --------------------------------
$L witness log w.db "$VKEY" > /dev/null
check "market A restarts with one witness, quorum 1" mstart A --witness "$W" --quorum 1
check "/v1/info names the witness and the quorum" sh -c \
    "curl -s $A_URL/v1/info | jq -e '.witnesses.cosigned and .witnesses.quorum == 1 and .witnesses.keys == [\"$(cat wvkey)\"]' > /dev/null"
check "A publishes the checkpoint once the witness cosigned it" until_ok 10 cosigned "$A_URL"
curl -s "$A_URL/v1/ledger/checkpoint" > a1.cp
check "interop: the independent verifier accepts it (quorum 1 of 1)" \
    $V note a1.cp --log "$VKEY" --witness "$(cat wvkey)" --quorum 1
TA=$(tn ta keygen 2> /dev/null)
TB=$(tn tb keygen 2> /dev/null)
X=$($L keygen x.key)
dep A "$TA" 1000000
dep A "$TB" 1000000
# a full tile: 256 leaves and more
i=0
while [ $i -lt 256 ]; do dep A "$X" 1; i=$((i + 1)); done
check "A's entries are cosigned and published" until_ok 20 caught_up "$A_URL"
check "the event stream carries the cosigned checkpoint" sh -c \
    "timeout 2 curl -sN '$A_URL/v1/events?since=999999' | grep -A1 '^event: checkpoint' | grep -q 'witness.test/w1'"

# ---- tiles and the mirror ---------------------------------------------
printf 'witness %s\nquorum 1\n' "$(cat wvkey)" > policy
check "ledger audit --tiles over the market itself passes (with the policy)" \
    $L audit --tiles "$A_URL" --vkey "$VKEY" --policy policy
check "interop: the independent verifier checks the market's tiles" \
    $V tiles "$A_URL" --log "$VKEY" --witness "$(cat wvkey)"
check "a full tile is immutable, cached for a year" sh -c \
    "curl -sfI $A_URL/tile/0/000 | grep -qi '^cache-control: public, max-age=31536000, immutable'"
check "a full entry bundle too" sh -c \
    "curl -sfI $A_URL/tile/entries/000 | grep -qi 'max-age=31536000, immutable'"
N=$(cp_line "$A_URL" 2)
check "a partial tile is kept a minute, the checkpoint a second" sh -c \
    "curl -sfI $A_URL/tile/0/001.p/$((N - 256)) | grep -qi 'max-age=60' && curl -sfI $A_URL/checkpoint | grep -qi 'max-age=1\b'"
check "a path that is not a tile's is 404" sh -c \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' $A_URL/tile/0/../../market.key) = 404 ] && [ \$(curl -s -o /dev/null -w '%{http_code}' $A_URL/tile/0/0001) = 404 ]"
check "A's tiles are plain files a static server can serve" \
    $L audit --tiles "file://$T/A/tiles" --vkey "$VKEY"
check "the mirror of A's ledger carries cosigned checkpoints only" sh -c \
    "$L mirror $T/A/ledger.db mirror.git > /dev/null && for c in \$(git --git-dir=mirror.git rev-list main); do git --git-dir=mirror.git show \$c:checkpoint | grep -q '^— witness.test/w1 ' || exit 1; done"

# ---- ta sees A ---------------------------------------------------------
check "tenant ta's first command pins the market's witness" sh -c \
    "XDG_CONFIG_HOME=$T/ta $TN --market $A_URL balance 2>&1 | grep -q 'first use'"
TAPOL=$(ls "$T"/ta/lodge/logs/*.policy)
TAMEM=$(ls "$T"/ta/lodge/logs/*.checkpoint)
check "the pin holds the log and the witness; the memory A's checkpoint" sh -c \
    "grep -qx 'log $VKEY' $TAPOL && grep -qx 'witness $(cat wvkey)' $TAPOL && grep -qx 'quorum 1' $TAPOL && grep -q witness.test $TAMEM"

# ---- the copy: B, same key and ledger ---------------------------------
mstop A
cp -a "$T/A" "$T/B"
rm -f "$T/B/market.json"
check "A restarts" mstart A --witness "$W"
check "restarted, it publishes its last cosigned checkpoint at once" cosigned "$A_URL"
P=$(cp_line "$A_URL" 2)
ROOT_P=$(cp_line "$A_URL" 3)
dep A "$TA" 300
dep A "$TA" 400
check "A's own history is cosigned" until_ok 20 caught_up "$A_URL"
NA=$(cp_line "$A_URL" 2)
ROOT_A=$(cp_line "$A_URL" 3)
check "tenant ta follows A (a consistency proof from its memory)" \
    tn ta --market "$A_URL" balance
check "ta's memory is A's checkpoint of size $NA" [ "$(sed -n 2p "$TAMEM")" = "$NA" ]
check "B starts on the copy with the same witness" mstart B --witness "$W"
check "B publishes the common prefix's cosigned checkpoint" \
    [ "$(cp_line "$B_URL" 2)" = "$P" ]
check "... the witness's cosignature on it" cosigned "$B_URL"
i=0
while [ $i -lt 5 ]; do dep B "$TB" 999 || break; i=$((i + 1)); done
check "B accepts entries of another history" [ $i = 5 ]
check "the witness refuses B: B says so and publishes nothing new" \
    until_ok 20 grep -q 'not publishing.*split view' B.log
check "B keeps serving the cosigned checkpoint of the prefix" sh -c \
    "[ '$(cp_line "$B_URL" 2)' = $P ] && [ '$(cp_line "$B_URL" 3)' = '$ROOT_P' ]"
$L witness evidence w.db --json 2> /dev/null | jq -s . > ev.json
EV_SIZE=$(jq -r '.[0].refused' ev.json | sed -n 2p)
EV_ROOT=$(jq -r '.[0].refused' ev.json | sed -n 3p)
EV_B=$(root_at "$B_URL" "$EV_SIZE")
check "the witness kept the evidence: A's cosigned note and B's refused one" sh -c \
    "jq -e 'length >= 1 and (.[0].cosigned | contains(\"$ROOT_A\"))' ev.json > /dev/null && [ -n '$EV_ROOT' ] && [ '$EV_ROOT' = '$EV_B' ]"
check "tenant tb sees B's history" sh -c \
    "XDG_CONFIG_HOME=$T/tb $TN --market $B_URL balance --json 2>/dev/null | jq -e '.balances.uakt == 1004995' > /dev/null"
TBMEM=$(ls "$T"/tb/lodge/logs/*.checkpoint)
check "tb remembers B's cosigned prefix" [ "$(sed -n 2p "$TBMEM")" = "$P" ]

# ---- ta pointed at B: the alarm ---------------------------------------
cp "$TAMEM" ta.saved
check_fails "tenant ta pointed at B stops: ALARM" "ALARM: split view" \
    tn ta --market "$B_URL" balance
cp "$T/.out" ta-alarm.out
check "... printing both notes: A's remembered, B's shown" sh -c \
    "grep -q '^$ROOT_A\$' ta-alarm.out && grep -q '^$ROOT_P\$' ta-alarm.out && grep -q -- '--- checkpoint shown now ---' ta-alarm.out"
check "... keeping them beside its memory, the memory unchanged" sh -c \
    "grep -q '^$ROOT_A\$' $TAMEM.evidence && cmp -s $TAMEM ta.saved"
check "... and every command stops the same way" sh -c \
    "! XDG_CONFIG_HOME=$T/ta $TN --market $B_URL ls > /dev/null 2>&1"
check "tb, who saw only the cosigned prefix, finds A consistent with it" \
    tn tb --market "$A_URL" balance
tn tc keygen > /dev/null 2>&1
check "a tenant policy demanding another witness refuses A (no alarm)" sh -c \
    "printf 'witness %s\n' \"\$($L witness init w9.db --name w9.test --key w9.key 2>/dev/null)\" > p9 && ! XDG_CONFIG_HOME=$T/tc $TN --market $A_URL --witness-policy p9 balance > out9 2>&1 && grep -q 'cosignatures required' out9 && ! grep -q ALARM out9"

# ---- a provider shown B ------------------------------------------------
check "a provider follows A" sh -c \
    "$BIN/provider init --market $A_URL --data $T/prov --name p1 --listen 127.0.0.1:0 --price denom=uakt,cpu_ms=1 > prov.init 2>&1"
$BIN/provider run --data "$T/prov" >> prov.log 2>&1 &
PPID_=$!
PIDS="$PIDS $PPID_"
# order KEYFILE URL: a small order any provider here fits
order() {
	$L envelope --key "$1" --kind order.create --body \
	    "{\"placement\":\"dc\",\"attributes\":{},\"resources\":[{\"profile\":\"web\",\"service\":\"web\",\"count\":1,\"cpu_millis\":100,\"memory_bytes\":1048576,\"storage_bytes\":1048576,\"price\":5000}],\"denom\":\"uakt\",\"max_price\":5000,\"runtimes\":[\"process\"],\"manifest_hash\":\"$(printf '%064d' 0)\",\"deposit\":100000,\"ttl_ms\":600000}" |
	    curl -s -XPOST --data-binary @- "$2/v1/entries"
}
until_ok 10 sh -c "curl -s $A_URL/v1/providers | grep -q p1" > /dev/null
order "$T/ta/lodge/tenant.key" "$A_URL" > order-a.out
check "following A's verified checkpoints, it takes A's lease" until_ok 15 \
    grep -q 'lease l-[0-9]*: created' prov.log
# its advertisement and the lease grow A: the checkpoint covering them
until_ok 20 caught_up "$A_URL" > /dev/null
check "it remembers A's cosigned checkpoint from the event stream" until_ok 15 \
    sh -c "[ \"\$(sed -n 2p $T/prov/logs/*.checkpoint 2>/dev/null)\" = $(cp_line "$A_URL" 2) ]"
kill "$PPID_"
wait "$PPID_" 2> /dev/null
ROOT_PA=$(sed -n 3p "$T"/prov/logs/*.checkpoint)
jq --arg m "$B_URL" '.market = $m' "$T/prov/provider.json" > pj &&
    mv pj "$T/prov/provider.json"
$BIN/provider run --data "$T/prov" >> prov.log 2>&1 &
PPID_=$!
PIDS="$PIDS $PPID_"
check "pointed at B, the provider raises the alarm" until_ok 15 \
    grep -q 'ALARM: split view' prov.log
check "... logging both notes" sh -c \
    "grep -q '$ROOT_PA\$' prov.log && grep -q '$ROOT_P\$' prov.log"
check "... and keeps running" kill -0 "$PPID_"
until_ok 10 sh -c "curl -s $B_URL/v1/providers | grep -q p1" > /dev/null
order "$T/tb/lodge/tenant.key" "$B_URL" > order.out
check "... and takes no new lease from B" until_ok 15 \
    grep -q 'lease l-[0-9]*: not taken' prov.log

# ---- ledger audit --since ---------------------------------------------
check "ledger audit of A remembers its cosigned checkpoint" \
    $L audit --market "$A_URL" --vkey "$VKEY" --policy policy --since audit.cp
check_fails "ledger audit --since catches B: ALARM" "ALARM: split view" \
    $L audit --market "$B_URL" --vkey "$VKEY" --policy policy --since audit.cp
check "... and so does an audit of B's ledger file" sh -c \
    "! $L audit $T/B/ledger.db --vkey '$VKEY' --since audit.cp > out.b 2>&1 && grep -q 'ALARM: split view' out.b"
check "an audit of B alone (no memory) finds nothing wrong in the prefix" \
    $L audit --market "$B_URL" --vkey "$VKEY" --policy policy

# ---- A with its witness down, then silent -----------------------------
curl -s "$A_URL/v1/ledger/checkpoint" > before.cp
kill "$WPID"
wait "$WPID" 2> /dev/null
dep A "$TA" 1 && dep A "$TA" 2
check "with its witness down, A accepts entries" [ $? = 0 ]
check "... says why it does not publish" until_ok 10 \
    grep -q 'not publishing' A.log
curl -s "$A_URL/v1/ledger/checkpoint" > down.cp
check "... and keeps serving its last cosigned checkpoint" sh -c \
    "cmp -s down.cp before.cp && [ $(committed "$A_URL") -gt $(sed -n 2p down.cp) ]"
check "... which still verifies (independent verifier)" \
    $V note down.cp --log "$VKEY" --witness "$(cat wvkey)" --quorum 1
check "... and its metrics count the rounds short of the quorum" sh -c \
    "curl -s $A_URL/metrics | awk '/^lodge_cosign_failed_total/ {exit !(\$2 > 0)}'"
# a witness that takes the connection and never answers: a round hangs
# (until its 30 s timeout) while submissions go on
python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("silent", flush=True)
held = []
while True:
    held.append(s.accept())
    print("held", flush=True)' "${WURL##*:}" > silent.out 2>&1 &
SPID=$!
PIDS="$PIDS $SPID"
until_ok 10 grep -q silent silent.out > /dev/null
dep A "$TA" 3
check "the market asks the silent witness" until_ok 40 grep -q held silent.out
t0=$(date +%s%3N)
dep A "$TA" 4 && dep A "$TA" 5 && dep A "$TA" 6
t1=$(date +%s%3N)
check "with a witness that never answers, submissions do not wait ($((t1 - t0)) ms for 3)" \
    [ $((t1 - t0)) -lt 3000 ]
check "... nor do reads of the published checkpoint" sh -c \
    "curl -s -m 2 $A_URL/v1/ledger/checkpoint | cmp -s - before.cp"
kill "$A_PID"
check "... and A stops promptly on SIGTERM, mid-round" until_ok 6 \
    sh -c "! kill -0 $A_PID 2> /dev/null"
check "A restarts, its witness still silent" mstart A --witness "$W"
check "restarted, A serves its last cosigned checkpoint at once" sh -c \
    "curl -s $A_URL/v1/ledger/checkpoint | cmp -s - before.cp"
kill "$SPID"
wait "$SPID" 2> /dev/null
$L witness serve w.db --listen "${WURL#http://}" > w2.out 2> w2.err &
PIDS="$PIDS $!"
check "the witness is back" until_ok 10 grep -q '^listening on' w2.out
check "A's new entries are cosigned and published again" until_ok 45 \
    caught_up "$A_URL"
check "tenant ta follows A on" tn ta --market "$A_URL" balance
finish
