# Sourced by market tests after lib.sh: start a market on a free loopback
# port in $T/market and helpers to speak to it.
L=$BIN/ledger
M=$BIN/market

# start_market [extra args]: sets MPID, U (base URL), MDIR
start_market() {
	MDIR=$T/market
	$M run --data "$MDIR" --listen 127.0.0.1:${MPORT:-0} --epoch 1 \
	    --offline-grace 30 --check-invariants "$@" > "$T/market.out" 2> "$T/market.err" &
	MPID=$!
	PIDS="$PIDS $MPID"
	i=0
	while [ $i -lt 100 ]; do
		if [ -f "$MDIR/market.json" ] && curl -sf "http://127.0.0.1:$(mport)/healthz" > /dev/null 2>&1; then
			MPORT=$(mport)
			U=http://127.0.0.1:$MPORT
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	echo "market did not start:"; cat "$T/market.err"
	return 1
}
mport() { sed -n 's/.*"listen_port": *\([0-9]*\).*/\1/p' "$MDIR/market.json"; }

# post: an envelope on stdin -> prints "STATUS BODY"
post() {
	curl -s -o "$T/.post" -w '%{http_code}' -XPOST --data-binary @- "$U/v1/entries"
	printf ' '; cat "$T/.post"; echo
}
# env KEY KIND BODY
env() { $L envelope --key "$1" --kind "$2" --body "$3"; }
# submit KEY KIND BODY: must be accepted; prints the body of the answer
submit() {
	out=$(env "$1" "$2" "$3" | post)
	case "$out" in 201*) echo "${out#201 }";; *) echo "submit $2 failed: $out" >&2; return 1;; esac
}
# jget URL FILTER (jq)
jget() { curl -s "$U$1" | jq -r "$2"; }
# wait_for DESC CMD: poll CMD up to 10 s
wait_for() {
	wdesc=$1; shift
	i=0
	while [ $i -lt 200 ]; do
		if "$@" > /dev/null 2>&1; then return 0; fi
		sleep 0.05
		i=$((i + 1))
	done
	echo "timed out waiting for: $wdesc" >&2
	return 1
}
keygen() { $L keygen "$T/$1.key" > "$T/$1.pub"; cat "$T/$1.pub"; }
fund() { $M deposit --data "$MDIR" "$1" "$2" > /dev/null; }
# advertise KEY ATTRS CPU PRICE_CPU
advertise() {
	submit "$1" provider.advertise "{\"api_url\":\"http://127.0.0.1:9\",\"attributes\":$2,\"capacity\":{\"cpu_millis\":$3,\"memory_bytes\":8000000000,\"storage_bytes\":100000000000},\"runtimes\":[\"process\"],\"price\":{\"denom\":\"uakt\",\"cpu_ms\":$4}}"
}
# order KEY ATTRS CPU MAXPRICE DEPOSIT [TTL_MS]
order() {
	submit "$1" order.create "{\"placement\":\"dc\",\"attributes\":$2,\"resources\":[{\"profile\":\"web\",\"service\":\"web\",\"count\":1,\"cpu_millis\":$3,\"memory_bytes\":268435456,\"storage_bytes\":1073741824,\"price\":$4}],\"denom\":\"uakt\",\"max_price\":$4,\"runtimes\":[\"process\"],\"manifest_hash\":\"$(printf '%064d' 0)\",\"deposit\":$5,\"ttl_ms\":${6:-600000}}" | jq -r .id
}
# code KEY KIND BODY: the HTTP status a submission gets
code() {
	env "$1" "$2" "$3" | curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary @- "$U/v1/entries"
}
