#!/bin/sh
# Market replicas over etcd, the edges (docs/market-ha.md): a replica
# gone for good stops holding compaction back once its applied/<name>
# key's lease expires (--replica-ttl), and copies what was compacted
# when it comes back; a gap or a compacted marker etcd should not hold
# never stalls a follower silently (/v1/info and the log say why);
# --bootstrap-from another replica, a static mirror of tiles or a git
# mirror, and a hostile source refused with nothing applied.  One etcd member,
# replicas on loopback.
: "${LODGE_INSECURE_HTTP=}"
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/ha_lib.sh
need_tools etcd etcdctl curl jq python3

check_fails "--replica-ttl below 5s is refused" "at least 5s" \
    $M run --data "$T/bad" --listen 127.0.0.1:0 --etcd http://127.0.0.1:9 \
    --replica r9 --replica-ttl 2s
check_fails "--replica-ttl that is not a duration is refused" "replica-ttl" \
    $M run --data "$T/bad" --listen 127.0.0.1:0 --etcd http://127.0.0.1:9 \
    --replica r9 --replica-ttl soon
check_fails "--replica-ttl without --etcd is a usage error" "go together" \
    $M run --data "$T/bad" --listen 127.0.0.1:0 --replica-ttl 10s
check_fails "--bootstrap-from that is not a URL is refused" "expected an http" \
    $M run --data "$T/bad" --listen 127.0.0.1:0 --etcd http://127.0.0.1:9 \
    --replica r9 --bootstrap-from "$T/nothing"

need "an etcd member" etcd_cluster 1
need "keys" replica_keys
TTL=5s
for i in 1 2 3; do
	check "replica r$i starts (--replica-ttl $TTL)" replica_start $i --offline-grace 3600 --replica-ttl $TTL
done
origin=$(replica_info 1 | jq -r .origin)
P=/lodge/$origin
compacted() { v=$(etcdctl_ get "$P/compacted" --print-value-only); echo "${v:-0}"; }
applied_of() { etcdctl_ get "$P/applied/$1" --print-value-only; }
ACCT=$($L keygen "$T/acct.key")
# deposit N [REPLICA]: N treasury deposits of 1, each answered 201
# (retried on 503: an election under way)
deposit() {
	dp_u=$(replica_url "${2:-1}")
	for dp_k in $(seq 1 "$1"); do
		envelope "$T/keys/treasury.key" account.deposit "{\"to\":\"$ACCT\",\"denom\":\"uakt\",\"amount\":1}" > "$T/dp.json"
		dp_c=""
		for dp_t in $(seq 1 25); do
			dp_c=$(curl -s -m 15 -o /dev/null -w '%{http_code}' -XPOST --data-binary @"$T/dp.json" "$dp_u/v1/entries")
			[ "$dp_c" = 503 ] || break
			sleep 0.2
		done
		[ "$dp_c" = 201 ] || return 1
	done
}

# ---- a replica gone for good: its report expires --------------------
check "20 deposits" deposit 20
check "every replica reports what it holds" until_ok 10 sh -c "[ -n \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/applied/r3 --print-value-only)\" ]"
lease=$(etcdctl_ get "$P/applied/r3" -w json | sed -n 's/.*"lease":\([0-9]*\).*/\1/p')
lease=${lease:-0}
check "applied/r3 is attached to an etcd lease ($lease)" [ "$lease" != 0 ]
ttl=$(etcdctl_ lease timetolive "$(printf %x "$lease")" | sed -n 's/.*granted with TTL(\([0-9]*\)s).*/\1/p')
check "its TTL is --replica-ttl ($ttl s)" [ "$ttl" = 5 ]
S=$(sequencer)
G=$(( S % 3 + 1 ))
[ "$G" = "$S" ] && G=$(( G % 3 + 1 ))
same_applied 1 2 3 > /dev/null
sleep 1.5 # (reported every second)
replica_kill $G
A=$(applied_of r$G)
check "r$G is killed holding $A entries" [ -n "$A" ]
held=1
for k in $(seq 1 10); do
	deposit 2 "$S" || held=0
	a=$(applied_of r$G)
	c=$(compacted)
	# while its report lives, compaction stays at or below it
	[ -n "$a" ] && [ "$c" -gt "$a" ] && held=0
	[ -z "$a" ] && break
	sleep 0.5
done
check "while applied/r$G lives, compaction does not pass it (compacted $(compacted), r$G $A)" [ $held = 1 ]
check "applied/r$G is gone once its lease expired" until_ok 15 sh -c "[ -z \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/applied/r$G --print-value-only)\" ]"
deposit 5 "$S"
check "then compaction goes on without r$G (past its $A entries)" until_ok 15 sh -c "[ \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/compacted --print-value-only)\" -gt $A ]"
check "r$G comes back" replica_start $G --offline-grace 3600 --replica-ttl $TTL
check "it copied what etcd no longer holds, verified against a signed checkpoint" until_ok 10 grep -q "verified each and the root of its signed checkpoint" "$T/r$G.log"
check "it caught up with the others" same_applied 1 2 3
check "and publishes the same checkpoint" same_root 1 2 3
check "it reports again, under a new lease" until_ok 10 sh -c "[ -n \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/applied/r$G --print-value-only)\" ]"
check "ledger audit passes on r$G" $L audit --market "$(replica_url $G)"

# ---- a gap in etcd: followers stall, say so, do not campaign ----------
# info_is I JQ: replica I's /v1/info .replica satisfies JQ (waits)
info_is() {
	until_ok 40 sh -c "curl -s -m 5 $(replica_url "$1")/v1/info | jq -e '.replica | $2' > /dev/null"
}
same_applied 1 2 3 > /dev/null
n=$(replica_applied 1)
S=$(sequencer)
F1=$(( S % 3 + 1 ))
F2=$(( F1 % 3 + 1 ))
gap=$((n + 3))
check "a stray key is written into etcd at e/$gap (the ledger holds $n)" etcdctl_ put "$P/e/$(printf %020d $gap)" stray
for i in $F1 $F2; do
	check "follower r$i stalls and says why in /v1/info" info_is $i ".role == \"stalled\" and (.stalled | test(\"holds entry $gap but not entry $n\")) and .applied == $n"
	# (once, not at every retry; again only when the reason changes, as
	# the compacted marker it names may)
	check "and in its log" sh -c "n=\$(grep -c 'not following etcd: etcd holds entry $gap' $T/r$i.log); [ \$n -ge 1 ] && [ \$n -le 2 ]"
done
check "the sequencer r$S goes on sequencing" [ "$(replica_role $S)" = sequencer ]
replica_kill $S
sleep 4
check "the sequencer killed: no stalled follower takes its place" sh -c "[ \"\$(curl -s $(replica_url $F1)/v1/info | jq -r .replica.role)\" = stalled ] && [ \"\$(curl -s $(replica_url $F2)/v1/info | jq -r .replica.role)\" = stalled ]"
c=$(envelope "$T/keys/treasury.key" account.deposit "{\"to\":\"$ACCT\",\"denom\":\"uakt\",\"amount\":1}" |
    curl -s -m 15 -o "$T/gap.out" -w '%{http_code}' -XPOST --data-binary @- "$(replica_url $F1)/v1/entries")
check "a submission meanwhile is 503 naming the gap ($c)" sh -c "[ $c = 503 ] && grep -q 'holds entry $gap' $T/gap.out"
check "the stray key is deleted" etcdctl_ del "$P/e/$(printf %020d $gap)"
for i in $F1 $F2; do
	check "r$i follows again (stalled: null)" info_is $i "(.role == \"follower\" or .role == \"sequencer\") and .stalled == null"
	check "and logs it" grep -q "following etcd again" "$T/r$i.log"
done
check "one of them is elected" sequencer
check "writes resume" until_ok 15 deposit 3 "$F1"
check "the killed replica restarts" replica_start $S --offline-grace 3600 --replica-ttl $TTL
check "all three agree" same_root 1 2 3

# ---- a compacted marker past what anyone can copy ---------------------
same_applied 1 2 3 > /dev/null
n=$(replica_applied 1)
S=$(sequencer)
F1=$(( S % 3 + 1 ))
was=$(compacted)
check "the compacted marker is set past the ledger (999999999)" etcdctl_ put "$P/compacted" 999999999
check "follower r$F1 stalls naming the copy it cannot make" info_is $F1 ".role == \"stalled\" and (.stalled | test(\"entries below 999999999 were compacted\")) and (.stalled | test(\"below the 999999999\")) and .applied == $n"
check "the sequencer r$S says it does not compact past it" until_ok 10 grep -q "etcd compaction stopped: its compacted marker (999999999) is past" "$T/r$S.log"
check "the marker is garbage" etcdctl_ put "$P/compacted" "12x"
check "r$F1 stalls naming the key and what it expected" info_is $F1 ".role == \"stalled\" and (.stalled | test(\"compacted: expected a number\"))"
check "the sequencer r$S says it does not compact, naming the key" until_ok 10 grep -q "etcd compaction stopped: etcd key $P/compacted: expected a number" "$T/r$S.log"
check "the marker is put back ($was)" etcdctl_ put "$P/compacted" "$was"
check "r$F1 follows again" info_is $F1 ".role == \"follower\" and .stalled == null"
check "writes go on" deposit 3 "$F1"
check "all three agree" same_root 1 2 3

# ---- --bootstrap-from: a follower's copy; hostile sources refused ----
check "etcd has compacted entries away" until_ok 15 sh -c "[ \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/compacted --print-value-only)\" -gt 10 ]"
S=$(sequencer)
F=$(( S % 3 + 1 ))
FURL=$(replica_url $F)
# (chunks of 7: the copy is verified chunk by chunk, each by a
# consistency proof to the source's signed checkpoint)
export LODGE_BOOT_CHUNK=7
check "a new replica r4 starts with --bootstrap-from follower r$F" replica_start 4 --offline-grace 3600 --replica-ttl $TTL --bootstrap-from "$FURL"
unset LODGE_BOOT_CHUNK
check "it copied from r$F, verified each entry and the root of its signed checkpoint" grep -q "from $FURL, verified each and the root of its signed checkpoint" "$T/r4.log"
check "in chunks, each checked by a consistency proof" sh -c "[ \$(grep -c 'by a consistency proof to its signed checkpoint' $T/r4.log) -ge 2 ]"
check "it did not copy from the sequencer" sh -c "! grep -q 'from $(replica_url $S)' $T/r4.log"
check "r4 caught up" same_applied 1 2 3 4
check "and publishes the others' checkpoint" same_root 1 2 3 4
check "ledger audit passes on r4" $L audit --market "$(replica_url 4)"

# hostile MODE AT: a hostile mirror of follower F (hostile_mirror.py);
# HM: its URL
hostile() {
	rm -f "$T/hm.port"
	python3 tests/e2e/hostile_mirror.py "$FURL" "$1" "$2" "$T/hm.port" &
	PIDS="$PIDS $!"
	HM_PID=$!
	for hm_t in $(seq 1 50); do [ -s "$T/hm.port" ] && break; sleep 0.1; done
	HM=http://127.0.0.1:$(cat "$T/hm.port")
}
# fresh NAME: an empty replica folder with the keys
fresh() {
	mkdir -p "$T/$1"
	cp "$T/keys/market.key" "$T/keys/treasury.key" "$T/$1/"
	chmod 600 "$T/$1"/*.key
}
leaves() { sqlite3 "file:$T/$1/ledger.db?mode=ro" 'SELECT count(*) FROM leaf' 2>/dev/null || echo none; }
# (a deposit at 5: the deposits of 1 above)
for mode in badsig tamper time; do
	hostile $mode 5
	fresh h$mode
	case $mode in
	badsig) why="not a checkpoint signed by this market's key";;
	tamper) why="entry 5";;
	time) why="do not make the root of its signed checkpoint";;
	esac
	check_fails "a new replica refuses a mirror serving $mode: \"$why\"" "$why" \
	    timeout 60 $M run --data "$T/h$mode" --listen 127.0.0.1:0 --etcd "$ETCD_URLS" \
	    --replica h$mode --bootstrap-from "$HM" ${LODGE_INSECURE_HTTP:+--insecure-http}
	cp "$T/.out" "$T/h$mode.out"
	[ $mode = badsig ] ||
	    check "  and says nothing of the copy was applied" grep -q "nothing of entries 0-" "$T/h$mode.out"
	check "  its ledger holds no entry ($(leaves h$mode))" [ "$(leaves h$mode)" = 0 ]
	kill "$HM_PID" 2>/dev/null
done
sed 's/^/#   /' "$T/htime.out" | tail -2

# a running replica that was away through compaction, shown a tampered
# copy: it stalls naming it, applies nothing, and copies once given an
# honest source
same_applied 1 2 3 4 > /dev/null
sleep 1.5
A=$(replica_applied 4)
replica_kill 4
check "r4 (killed at $A entries) drops out of compaction" until_ok 15 sh -c "[ -z \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/applied/r4 --print-value-only)\" ]"
deposit 5 "$S"
check "compaction passes r4's $A entries" until_ok 15 sh -c "[ \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/compacted --print-value-only)\" -gt $A ]"
hostile time "$A"
# (chunks of 4: entry $A's chunk is checked by a consistency proof)
export LODGE_BOOT_CHUNK=4
check "r4 restarts with --bootstrap-from a mirror that moves entry $A's time" replica_start 4 --offline-grace 3600 --replica-ttl $TTL --bootstrap-from "$HM"
unset LODGE_BOOT_CHUNK
check "r4 stalls: the consistency proof does not verify, nothing applied" info_is 4 ".role == \"stalled\" and (.stalled | test(\"are not a prefix of its signed checkpoint\")) and (.stalled | test(\"nothing of entries $A-$((A + 4)) applied\")) and .applied == $A"
check "its ledger still holds $A entries" [ "$(leaves r4)" = "$A" ]
kill "$HM_PID" 2>/dev/null
replica_kill 4
check "r4 restarts copying from the sequencer (no --bootstrap-from)" replica_start 4 --offline-grace 3600 --replica-ttl $TTL
check "it caught up" same_applied 1 2 3 4
check "all four agree" same_root 1 2 3 4

# ---- --bootstrap-from a static mirror of C2SP tiles ------------------
same_applied 1 2 3 4 > /dev/null
F=$(( $(sequencer) % 3 + 1 ))
check "ledger tiles of follower r$F's copy" $L tiles "$T/r$F/ledger.db" "$T/tiles"
tsize=$(sed -n 2p "$T/tiles/checkpoint")
# tserve DIR: a static web server over DIR; TURL
tserve() {
	rm -f "$T/http.out"
	python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$1" > "$T/http.out" 2>&1 &
	PIDS="$PIDS $!"
	TS_PID=$!
	until_ok 10 grep -q port "$T/http.out" || return 1
	TURL=http://127.0.0.1:$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$T/http.out" | head -1)
}
need "a static web server" tserve "$T/tiles"
export LODGE_BOOT_CHUNK=9
check "a new replica r5 starts with --bootstrap-from the tiles ($tsize entries, a plain web server)" replica_start 5 --offline-grace 3600 --replica-ttl $TTL --bootstrap-from "$TURL"
unset LODGE_BOOT_CHUNK
check "it copied from the tiles, verified each and the root of their signed checkpoint" sh -c "grep -q '(tiles)' $T/r5.log && grep -q 'from $TURL, verified each and the root' $T/r5.log"
check "in chunks of 9, each by a consistency proof from the tiles" sh -c "[ \$(grep -c 'by a consistency proof' $T/r5.log) -ge 2 ]"
check "r5 caught up" same_applied 1 2 3 5
check "all agree" same_root 1 2 3 5
kill "$TS_PID" 2>/dev/null
# tiles whose entry bundle was altered: a byte of entry 5's leaf
cp -r "$T/tiles" "$T/tilesX"
python3 - "$T/tilesX" <<'PY'
import os, sys
d = sys.argv[1] + "/tile/entries"
f = os.path.join(d, sorted(os.listdir(d))[0])
if os.path.isdir(f):
    f = os.path.join(f, sorted(os.listdir(f))[0])
b = bytearray(open(f, "rb").read())
i = b.find(b'"amount":1')
b[i + 9] = ord("7")
open(f, "wb").write(bytes(b))
PY
need "a static web server" tserve "$T/tilesX"
fresh htiles
check_fails "a new replica refuses altered tiles, nothing applied" "nothing of entries" \
    timeout 60 $M run --data "$T/htiles" --listen 127.0.0.1:0 --etcd "$ETCD_URLS" \
    --replica htiles --bootstrap-from "$TURL" ${LODGE_INSECURE_HTTP:+--insecure-http}
sed 's/^/#   /' "$T/.out" | tail -1
check "  its ledger holds no entry ($(leaves htiles))" [ "$(leaves htiles)" = 0 ]
check_fails "a source that is neither a replica nor tiles is refused" "neither a replica's read API" \
    timeout 60 $M run --data "$T/htiles" --listen 127.0.0.1:0 --etcd "$ETCD_URLS" \
    --replica htiles --bootstrap-from "$TURL/nothing" ${LODGE_INSECURE_HTTP:+--insecure-http}

# ---- --bootstrap-from a git mirror's folder ---------------------------
same_applied 1 2 3 5 > /dev/null
F=$(( $(sequencer) % 3 + 1 ))
check "ledger mirror of follower r$F's copy" $L mirror "$T/r$F/ledger.db" "$T/mirror.git"
export LODGE_BOOT_CHUNK=9
check "a new replica r6 starts with --bootstrap-from the mirror's folder" replica_start 6 --offline-grace 3600 --replica-ttl $TTL --bootstrap-from "$T/mirror.git"
unset LODGE_BOOT_CHUNK
check "it copied from the git mirror, verified each and the root of its signed checkpoint" sh -c "grep -q '(a git mirror' $T/r6.log && grep -q 'from $T/mirror.git, verified each and the root' $T/r6.log"
check "in chunks of 9, each by a consistency proof" sh -c "[ \$(grep -c 'by a consistency proof' $T/r6.log) -ge 2 ]"
check "r6 caught up" same_applied 1 2 3 6
check "all agree" same_root 1 2 3 6
# a clone of it with one entry's amount changed, committed
git clone -q "$T/mirror.git" "$T/mclone" 2> /dev/null
mf=$(ls "$T/mclone/entries" | head -1)
sed -i '0,/"amount":1/s//"amount":7/' "$T/mclone/entries/$mf"
check "a clone of the mirror gets a commit altering an entry" git -C "$T/mclone" -c user.name=x -c user.email=x@x commit -qam "tamper"
fresh hmirror
check_fails "a new replica refuses the altered mirror, nothing applied" "nothing of entries" \
    timeout 60 $M run --data "$T/hmirror" --listen 127.0.0.1:0 --etcd "$ETCD_URLS" \
    --replica hmirror --bootstrap-from "$T/mclone" ${LODGE_INSECURE_HTTP:+--insecure-http}
sed 's/^/#   /' "$T/.out" | tail -1
check "  its ledger holds no entry ($(leaves hmirror))" [ "$(leaves hmirror)" = 0 ]
mkdir -p "$T/empty"
check_fails "a folder that is neither a git mirror nor tiles is refused" "neither a git mirror nor a folder of tiles" \
    timeout 60 $M run --data "$T/hmirror" --listen 127.0.0.1:0 --etcd "$ETCD_URLS" \
    --replica hmirror --bootstrap-from "$T/empty" ${LODGE_INSECURE_HTTP:+--insecure-http}

finish
