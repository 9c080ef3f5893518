#!/bin/sh
# Market replicas over etcd with a witness (docs/market-ha.md,
# docs/witness.md): three etcd members, three replicas asking one
# `ledger witness` to cosign their checkpoints.  Every replica publishes
# cosigned checkpoints of the same tree; etcd's compaction never passes
# the cosigned checkpoint (the witness stopped, it stays; back, it goes
# on); a kill -9 of the sequencer does not stop cosigning; a client that
# remembers a cosigned checkpoint (`ledger follow --since`, as tenants
# and providers do) sees one history through every replica across the
# failover, and the witness keeps no evidence of a split view; a copy
# of a replica run alone and grown differently is refused by the
# witness, evidence kept, and the replicas' cosigning goes on.
: "${LODGE_INSECURE_HTTP=}"
. tests/e2e/lib.sh
. tests/e2e/market_lib.sh
. tests/e2e/ha_lib.sh
need_tools etcd etcdctl curl jq python3

need "three etcd members" etcd_cluster 3
need "keys" replica_keys

# ---- the witness -------------------------------------------------------
need "a witness" sh -c "$L witness init $T/w.db --name witness.test/w1 --key $T/w.key > $T/wvkey"
# wstart: the witness serving on a free loopback port (the same one
# after a restart); WURL
wstart() {
	$L witness serve "$T/w.db" --listen "${WADDR:-127.0.0.1:0}" >> "$T/wserve.out" 2>> "$T/wserve.err" &
	W_PID=$!
	PIDS="$PIDS $!"
	until_ok 10 grep -q '^listening on http://127.0.0.1:' "$T/wserve.out" || return 1
	WURL=$(sed -n 's/^listening on //p' "$T/wserve.out" | head -1)
	WADDR=${WURL#http://}
	until_ok 10 sh -c "curl -s -o /dev/null $WURL/add-checkpoint"
}
check "the witness serves on a free loopback port" wstart
WIT="$(cat "$T/wvkey")=$WURL"
for i in 1 2 3; do
	check "replica r$i starts with the witness" replica_start $i --offline-grace 3600 --replica-ttl 5s --witness "$WIT"
done
VKEY=$(replica_info 1 | jq -r .vkey)
check "the replicas name one ledger key ($VKEY)" sh -c "[ \"\$(curl -s $(replica_url 2)/v1/info | jq -r .vkey)\" = '$VKEY' ] && [ \"\$(curl -s $(replica_url 3)/v1/info | jq -r .vkey)\" = '$VKEY' ]"
check "the witness follows the market's log" $L witness log "$T/w.db" "$VKEY"
printf 'log %s\nwitness %s %s\nquorum 1\n' "$VKEY" "$(cat "$T/wvkey")" "$WURL" > "$T/policy"
origin=$(replica_info 1 | jq -r .origin)
P=/lodge/$origin
compacted() { v=$(etcdctl_ get "$P/compacted" --print-value-only); echo "${v:-0}"; }
# cosigned: the size the witness last cosigned
cosigned() { $L witness state "$T/w.db" --json | jq -rs '.[0].size // 0' 2>/dev/null || echo 0; }
ACCT=$($L keygen "$T/acct.key")
# deposit N [REPLICA]: N treasury deposits of 1 through a replica, each
# retried (503 during an election) until 201
deposit() {
	dp_u=$(replica_url "${2:-1}")
	for dp_k in $(seq 1 "$1"); do
		envelope "$T/keys/treasury.key" account.deposit "{\"to\":\"$ACCT\",\"denom\":\"uakt\",\"amount\":1}" > "$T/dp.json"
		dp_ok=""
		for dp_t in $(seq 1 50); do
			dp_c=$(curl -s -m 15 -o /dev/null -w '%{http_code}' -XPOST --data-binary @"$T/dp.json" "$dp_u/v1/entries")
			case $dp_c in
			201|409) dp_ok=1; break;;
			esac
			sleep 0.2
		done
		[ -n "$dp_ok" ] || return 1
	done
}
# published I: "SIZE WITNESSES" of replica I's published checkpoint
published() {
	curl -s -m 5 "$(replica_url "$1")/v1/ledger/checkpoint" > "$T/pub.$1"
	echo "$(sed -n 2p "$T/pub.$1") $(grep -c '^— witness.test/w1 ' "$T/pub.$1")"
}
# cosigned_at_least I N: replica I publishes a checkpoint of size >= N
# carrying the witness's cosignature (waits)
cosigned_at_least() {
	for ca_t in $(seq 1 60); do
		set -- "$1" "$2" $(published "$1")
		[ -n "$3" ] && [ "$3" -ge "$2" ] && [ "$4" = 1 ] && return 0
		sleep 0.25
	done
	echo "r$1 publishes: $(published "$1")"
	return 1
}

# ---- checkpoints cosigned, the same tree on every replica -------------
check "20 deposits" deposit 20
same_applied 1 2 3 > /dev/null
n=$(replica_applied 1)
for i in 1 2 3; do
	check "r$i publishes a checkpoint of its $n entries cosigned by the witness" cosigned_at_least $i "$n"
done
check "the three publish the same cosigned checkpoint" same_root 1 2 3
check "the witness cosigned the ledger's size ($(cosigned))" [ "$(cosigned)" -ge "$n" ]
check "a client's first use remembers r1's cosigned checkpoint" sh -c \
    "$L follow --market $(replica_url 1) --since $T/client.cp --policy $T/policy | grep -q 'first use'"
check "interop: ledger audit of r2 with the policy" $L audit --market "$(replica_url 2)" --policy "$T/policy"

# ---- compaction follows the cosigned checkpoint -----------------------
check "etcd compacts up to the cosigned checkpoint" until_ok 15 sh -c "[ \$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/compacted --print-value-only) -gt 10 ]"
kill -9 "$W_PID"
wait "$W_PID" 2>/dev/null
sleep 1
held=$(cosigned)
check "the witness stopped: 20 more deposits all the same" deposit 20
after=$(replica_applied 1)
bad=0
for k in $(seq 1 16); do
	c=$(compacted)
	[ "$c" -gt "$held" ] && bad=1
	sleep 0.5
done
check "no compaction past the last cosigned checkpoint ($held) in 8 s, the ledger at $after (compacted $(compacted))" [ $bad = 0 ]
pubs=""
for i in 1 2 3; do pubs="$pubs $(published $i | tr ' ' :)"; done
check "every replica keeps publishing a cosigned checkpoint, none past $held (size:cosignatures$pubs)" sh -c "for p in $pubs; do [ \${p%:*} -le $held ] && [ \${p#*:} = 1 ] || exit 1; done"
S=$(sequencer)
check "the sequencer's log says why it does not publish a newer one" until_ok 10 grep -q "not publishing: .*the last cosigned checkpoint, [0-9]*, stays published" "$T/r$S.log"
check "the witness restarts (its database kept)" wstart
check "cosigning goes on: r$S publishes $after entries cosigned" cosigned_at_least $S "$after"
check "and compaction passes the old bound ($held)" until_ok 15 sh -c "[ \$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URLS get $P/compacted --print-value-only) -gt $held ]"
check "the client's remembered checkpoint extends through r$S" sh -c \
    "$L follow --market $(replica_url $S) --since $T/client.cp --policy $T/policy | grep -q 'extends the remembered one'"

# ---- a failover keeps cosigning going --------------------------------
S=$(sequencer)
F=$(( S % 3 + 1 ))
G=$(( F % 3 + 1 ))
pre=$(replica_applied $S)
replica_kill $S
check "the sequencer r$S killed: deposits go on through r$F" deposit 10 $F
S2=$(sequencer)
check "another replica sequences (r$S2)" [ -n "$S2" ] && [ "$S2" != "$S" ]
post=$(replica_applied $S2)
check "the new sequencer r$S2 publishes its $post entries cosigned" cosigned_at_least $S2 "$post"
check "the witness cosigned past the failover ($(cosigned) > $pre)" [ "$(cosigned)" -gt "$pre" ]
check "r$F and r$G agree" same_root $F $G
for i in $F $G; do
	check "the client sees one history through r$i (consistent with what it remembers)" sh -c \
	    "$L follow --market $(replica_url $i) --since $T/client.cp --policy $T/policy | grep -Eq 'extends the remembered one|is the remembered one'"
done
check "ledger audit --since with the policy on r$S2: consistent" sh -c \
    "$L audit --market $(replica_url $S2) --policy $T/policy --since $T/audit.cp > /dev/null && $L audit --market $(replica_url $G) --policy $T/policy --since $T/audit.cp 2>&1 | grep -q 'consistent with the remembered checkpoint'"
check "the killed replica restarts" replica_start $S --offline-grace 3600 --replica-ttl 5s --witness "$WIT"
check "all three agree" same_applied 1 2 3
n=$(replica_applied 1)
for i in 1 2 3; do
	check "r$i publishes its $n entries cosigned" cosigned_at_least $i "$n"
done
check "the client follows r$S, back: one history" sh -c \
    "$L follow --market $(replica_url $S) --since $T/client.cp --policy $T/policy > /dev/null"
check "the witness kept no evidence of a split view" sh -c "[ \"\$($L witness evidence $T/w.db --json | jq -s length)\" = 0 ]"

# ---- abuse: another history under the market key ----------------------
# a copy of a replica's folder (someone holding the market key), run
# alone as a market and grown differently past what the witness
# cosigned for the replicas: the witness refuses it and keeps the
# evidence, the fork never publishes a cosigned checkpoint of its own
# entries, and the replicas' cosigning goes on
S=$(sequencer)
X=$(( S % 3 + 1 ))
same_applied 1 2 3 > /dev/null
base=$(replica_applied $X)
replica_kill $X
cp -r "$T/r$X" "$T/fork"
check "r$X restarts (its folder copied at $base entries)" replica_start $X --offline-grace 3600 --replica-ttl 5s --witness "$WIT"
check "3 deposits through the replicas" deposit 3 $S
n=$(replica_applied $S)
check "r$S publishes them cosigned" cosigned_at_least $S "$n"
FPORT=$(free_port)
$M run --data "$T/fork" --listen "127.0.0.1:$FPORT" --witness "$WIT" --offline-grace 3600 ${LODGE_INSECURE_HTTP:+--insecure-http} > "$T/fork.log" 2>&1 &
PIDS="$PIDS $!"
FORK=https://127.0.0.1:$FPORT
[ -n "$LODGE_INSECURE_HTTP" ] && FORK=http://127.0.0.1:$FPORT
check "the fork runs alone on the copy" until_ok 15 curl -sf -m 1 "$FORK/healthz"
fk=0
for k in $(seq 1 8); do
	envelope "$T/keys/treasury.key" account.deposit "{\"to\":\"$ACCT\",\"denom\":\"uakt\",\"amount\":7}" |
	    curl -s -m 10 -o /dev/null -w '%{http_code}\n' -XPOST --data-binary @- "$FORK/v1/entries" | grep -qx 201 && fk=$((fk + 1))
done
check "the fork takes 8 other deposits ($fk)" [ $fk = 8 ]
# (its publisher offers each grown checkpoint at once and backs off only
# while the size stays the same, so the round that shows the fork comes
# right after its last deposit)
# (the fork's first checkpoint may be at the very size the witness
# cosigned, with another root: a 409 that is evidence as well)
check "the witness refuses the fork (422: no consistency from what it cosigned, or 409: another root at its size) and keeps the evidence" \
    until_ok 150 sh -c "$L witness evidence $T/w.db --json | jq -se 'any(.[]; .status == 422 or .status == 409)' > /dev/null"
check "the fork never publishes a checkpoint of its own entries (at most $base)" sh -c "[ \$(curl -s $FORK/v1/ledger/checkpoint | sed -n 2p) -le $base ]"
check "the fork's log says it does not publish" grep -q "not publishing" "$T/fork.log"
check "the replicas go on: 3 more deposits" deposit 3 $S
n=$(replica_applied $S)
check "cosigned as before" cosigned_at_least $S "$n"
check "the client still sees one history" sh -c \
    "$L follow --market $(replica_url $S) --since $T/client.cp --policy $T/policy > /dev/null"

finish
