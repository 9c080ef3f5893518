#!/bin/sh
# Witnesses end to end: a real `ledger witness` on a loopback port; two
# ledgers under one key that diverge after a common prefix (a market's
# data directory copied and run twice); the witness cosigns history A and
# refuses history B keeping both notes; a client that remembered A and is
# shown B stops with the evidence; `ledger audit --since` catches it; the
# ledger as C2SP tiles over HTTP; the git mirror carries cosignatures; and
# an independent implementation of the C2SP formats (c2sp_verify.py,
# python3-cryptography) checks the cosigned checkpoint and the tiles.
. tests/e2e/lib.sh
L=$BIN/ledger
V="python3 $ROOT/tests/e2e/c2sp_verify.py"
cd "$T" || exit 1

for c in witness cosign follow tiles; do
	check "ledger $c --help" sh -c "$L $c --help | grep -q usage"
done

# ---- history A: a market ledger (genesis, deposits) ------------------
$L init a.db --origin test.lodge/market --key log.key > vkey 2>/dev/null
TREASURY=$($L keygen treasury.key)
ALICE=$($L keygen alice.key)
BOB=$($L keygen bob.key)
G="{\"version\":2,\"treasury\":\"$TREASURY\",\"take_rate_ppm\":0,\"epoch_ms\":1000,\"skew_ms\":600000,\"offline_grace_ms\":0,\"denoms\":[\"uakt\"],\"usage_skew_ms\":1000,\"fees\":{\"default\":0,\"kinds\":{}},\"bond\":{\"per_cpu\":0,\"per_gib\":0},\"manifest_window_ms\":300000,\"min_lease_epochs\":0}"
n=0
# deposit DB TO AMOUNT
deposit() {
	n=$((n + 1))
	$L envelope --key treasury.key --kind account.deposit --nonce "d-$n" \
	    --body "{\"to\":\"$2\",\"denom\":\"uakt\",\"amount\":$3}" |
	    $L append "$1" > /dev/null
}
$L envelope --key log.key --kind market.genesis --body "$G" | $L append a.db > /dev/null
deposit a.db "$ALICE" 100
deposit a.db "$ALICE" 200
$L checkpoint a.db > /dev/null

# ---- the witness ------------------------------------------------------
check "witness init prints a cosigner key (type 0x04)" sh -c \
    "$L witness init w.db --name witness.test/w1 --key w.key > wvkey && grep -Eq '^witness.test/w1\+[0-9a-f]{8}\+B' wvkey"
check "witness follows the log" $L witness log w.db "$(cat vkey)"
check_fails "witness refuses a cosigner key as a log's" "type 0x01" $L witness log w.db "$(cat wvkey)"
$L witness serve w.db --listen 127.0.0.1:0 > serve.out 2> serve.err &
PIDS="$PIDS $!"
check "witness serves on a free loopback port" until_ok 10 grep -q '^listening on http://127.0.0.1:' serve.out
WURL=$(sed -n 's/^listening on //p' serve.out)
printf 'log %s\nwitness %s %s\nquorum 1\n' "$(cat vkey)" "$(cat wvkey)" "$WURL" > policy

check "the witness cosigns A's checkpoint 3" sh -c "$L cosign a.db --policy policy > a3.cp"
check "the note carries the log's signature and the witness's" sh -c \
    "grep -q '^— test.lodge/market ' a3.cp && grep -q '^— witness.test/w1 ' a3.cp"
check "interop: an independent C2SP verifier accepts the cosigned checkpoint" \
    $V note a3.cp --log "$(cat vkey)" --witness "$(cat wvkey)" --quorum 1
# one character of the signature itself changed (not the key ID)
python3 -c 'import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
for i, l in enumerate(lines):
    if l.startswith("\u2014 witness"):
        c = l[-10]
        lines[i] = l[:-10] + ("B" if c == "A" else "A") + l[-9:]
sys.stdout.write("\n".join(lines))' a3.cp > a3bad.cp
check_fails "interop: it refuses an altered cosignature" "does not verify" \
    $V note a3bad.cp --log "$(cat vkey)" --witness "$(cat wvkey)"
check_fails "interop: it refuses a checkpoint without the quorum" "0 of the 1" \
    $V note a3.cp --log "$(cat vkey)" --witness "$($L witness init w2.db --name w2.test --key w2.key 2>/dev/null)"

# ---- the copy: history B, same key, same first 3 entries -------------
for f in a.db a.db-wal a.db-shm; do [ -f $f ] && cp $f "b${f#a}"; done
deposit a.db "$ALICE" 300
deposit a.db "$ALICE" 400
$L checkpoint a.db > /dev/null
deposit b.db "$BOB" 999
deposit b.db "$BOB" 1
$L checkpoint b.db > b5.cp
check "A grows to 5 and the witness cosigns it (a consistency proof from 3)" \
    sh -c "$L cosign a.db --policy policy > a5.cp"
ROOT_A=$(sed -n 3p a5.cp)
ROOT_B=$(sed -n 3p b5.cp)
check "A and B are two histories of size 5" sh -c "[ '$ROOT_A' != '$ROOT_B' ] && sed -n 2p b5.cp | grep -qx 5"
check_fails "the witness refuses B at size 5 (409, another root)" "split view" \
    $L cosign b.db --policy policy
deposit b.db "$BOB" 2
$L checkpoint b.db > b6.cp
check_fails "the witness refuses B at size 6 (422, no proof from A's 5)" "422" \
    $L cosign b.db --policy policy
check "B's stored checkpoint carries no cosignature" sh -c \
    "! $L checkpoint b.db | grep -q witness.test"
check "witness state: A cosigned at 5, two refusals kept" sh -c \
    "$L witness state w.db | grep -q 'cosigned size 5 root $ROOT_A.*2 refusals kept'"
$L witness evidence w.db > ev.txt
check "the evidence holds A's cosigned note and B's refused ones" sh -c \
    "grep -q '^$ROOT_A\$' ev.txt && grep -q '^$ROOT_B\$' ev.txt && grep -q \"^\$(sed -n 3p b6.cp)\$\" ev.txt"
check "evidence --json: 409 then 422, both notes signed by the log" sh -c \
    "$L witness evidence w.db --json | jq -se 'length == 2 and .[0].status == 409 and .[1].status == 422 and (.[0].cosigned | contains(\"witness.test/w1\")) and (.[0].refused | contains(\"— test.lodge/market\"))' > /dev/null"

# ---- the protocol itself, with curl -----------------------------------
{ printf 'old 0\n\n'; cat a5.cp; } > req0
check "add-checkpoint from 0: 409 with the size as text/x.tlog.size" sh -c \
    "curl -s -o body -w '%{http_code} %{content_type}' --data-binary @req0 $WURL/add-checkpoint | grep -qx '409 text/x.tlog.size' && [ \"\$(cat body)\" = 5 ]"
check "a malformed body is 400" sh -c \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'old x' $WURL/add-checkpoint) = 400 ]"
check "GET add-checkpoint is 405, another path 404" sh -c \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' $WURL/add-checkpoint) = 405 ] && [ \$(curl -s -o /dev/null -w '%{http_code}' $WURL/other) = 404 ]"
{ printf 'old 5\n\n'; cat a5.cp; } > req5
check "the same checkpoint again from 5: 200 and one cosignature line" sh -c \
    "curl -sf --data-binary @req5 $WURL/add-checkpoint > cosig && [ \$(wc -l < cosig) = 1 ] && grep -q '^— witness.test/w1 ' cosig"

# ---- clients remember A, then are shown B -----------------------------
check "a client's first use remembers A's cosigned checkpoint" sh -c \
    "$L follow a.db --since client.cp --policy policy | grep -q 'first use'"
cp client.cp client.saved
check_fails "shown B, a client with the policy refuses it (no cosignature)" \
    "cosignatures required" $L follow b.db --since client.cp --policy policy
check_fails "shown B, a client that demands only a proof stops: ALARM" "ALARM: split view" \
    $L follow b.db --since client.cp --vkey vkey
cp "$T/.out" alarm.out
check "the alarm prints both notes (the evidence)" sh -c \
    "grep -q '^$ROOT_A\$' alarm.out && grep -q \"^\$(sed -n 3p b6.cp)\$\" alarm.out"
check "the evidence is kept beside the memory, the memory unchanged" sh -c \
    "grep -q '^$ROOT_A\$' client.cp.evidence && cmp -s client.cp client.saved"
deposit a.db "$ALICE" 500
$L checkpoint a.db > /dev/null
$L cosign a.db --policy policy > a6.cp 2>/dev/null
check "A's next checkpoint is consistent: remembered" sh -c \
    "$L follow a.db --since client.cp --policy policy | grep -q 'extends the remembered one (5)'"

# ---- ledger audit --since --------------------------------------------
check "audit of A remembers its checkpoint (first use)" \
    $L audit a.db --vkey vkey --since audit.cp
check "audit of A with the policy: consistent with the remembered one" sh -c \
    "$L audit a.db --policy policy --since audit.cp 2>&1 | grep -q 'consistent with the remembered checkpoint of size 6'"
check_fails "audit of B with the policy: no quorum" "cosignatures required" \
    $L audit b.db --policy policy --since audit.cp
check_fails "ledger audit --since catches B: ALARM with both notes" "ALARM: split view" \
    $L audit b.db --vkey vkey --since audit.cp
cp "$T/.out" audit-alarm.out
check "the audit's alarm shows A's and B's roots" sh -c \
    "grep -q \"^\$(sed -n 3p a6.cp)\$\" audit-alarm.out && grep -q \"^\$(sed -n 3p b6.cp)\$\" audit-alarm.out"
check "audit --json says alarm" sh -c \
    "$L audit b.db --vkey vkey --since audit.cp --json 2>/dev/null | jq -e '.alarm == true' > /dev/null"

# ---- tiles ------------------------------------------------------------
check "ledger tiles writes A" sh -c "$L tiles a.db tilesA | grep -q '6 entries'"
check "tiles layout: checkpoint, partial tile and bundle of 6" sh -c \
    "[ -f tilesA/checkpoint ] && [ -f tilesA/tile/0/000.p/6 ] && [ -f tilesA/tile/entries/000.p/6 ] && grep -q witness.test tilesA/checkpoint"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory tilesA > http.out 2>&1 &
PIDS="$PIDS $!"
check "a static web server serves the tiles" until_ok 10 grep -q 'port' http.out
TURL=http://127.0.0.1:$(sed -n 's/.* port \([0-9]*\).*/\1/p' http.out | head -1)
check "ledger audit --tiles over HTTP, with the policy" \
    $L audit --tiles "$TURL" --policy policy
check "interop: the independent verifier checks the tiles over HTTP" \
    $V tiles "$TURL" --log "$(cat vkey)" --witness "$(cat wvkey)"
check "a client remembering B (first use) ..." sh -c "$L follow b.db --vkey vkey --since clientb.cp > /dev/null"
check_fails "... shown A's tiles stops: ALARM" "ALARM" \
    $L follow --tiles "$TURL" --vkey vkey --since clientb.cp
cp -r tilesA tilesX
printf 'x' | dd of=tilesX/tile/entries/000.p/6 bs=1 seek=40 conv=notrunc 2>/dev/null
check_fails "a tampered entry bundle is caught" "index" \
    $L audit --tiles "file://$T/tilesX" --vkey vkey

# ---- the git mirror carries the cosignatures --------------------------
deposit a.db "$ALICE" 600
$L checkpoint a.db > /dev/null
check "mirror of A (checkpoint 7 not yet cosigned)" sh -c "$L mirror a.db mirror.git > /dev/null"
$L cosign a.db --policy policy > /dev/null 2>&1
check "after cosigning, the mirror adds one commit with the new signature" sh -c \
    "$L mirror a.db mirror.git | grep -q '1 new commit, 7 entries'"
check "the mirror's checkpoint carries the cosignature" sh -c \
    "git --git-dir=mirror.git show main:checkpoint | grep -q '^— witness.test/w1 '"
check "the mirror verifies" sh -c "$L verify mirror.git --vkey vkey | grep -q '^ok: 7 entries'"

# ---- the witness remembers across a restart ---------------------------
kill $(jobs -p 2>/dev/null) 2>/dev/null
kill_ours TERM $PIDS
wait 2>/dev/null
PIDS=""
$L witness serve w.db --listen "${WURL#http://}" > serve2.out 2> serve2.err &
PIDS="$PIDS $!"
check "restarted witness" until_ok 10 grep -q '^listening on' serve2.out
check_fails "after a restart it still holds A's size 7 and refuses B" \
    "has cosigned size 7" $L cosign b.db --policy policy
finish
