# Sourced by the tests of market replicas over etcd (docs/market-ha.md),
# after lib.sh: etcd members and market replicas on free loopback ports
# under $T, each killed on exit with the rest of $PIDS.
#   etcd_cluster N        N members e1..eN (ETCD_URLS: their client URLs)
#   etcd_start I / etcd_kill I
#   replica_keys          one market.key and treasury.key ($T/keys)
#   replica_start I [ARGS...] / replica_kill I: replica rI on $T/rI
#                         (REPLICA_I: its URL)
#   replica_url I, replica_role I, replica_applied I
#   sequencer             the number of the replica that sequences now
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

etcd_cluster() {
	ec_n=$1
	mkdir -p "$T/etcd"
	ETCD_CLUSTER=""
	ETCD_URLS=""
	for ec_i in $(seq 1 "$ec_n"); do
		eval "ETCD_CPORT_$ec_i=$(free_port)"
		eval "ETCD_PPORT_$ec_i=$(free_port)"
		eval "ec_pp=\$ETCD_PPORT_$ec_i ec_cp=\$ETCD_CPORT_$ec_i"
		ETCD_CLUSTER="$ETCD_CLUSTER${ETCD_CLUSTER:+,}e$ec_i=http://127.0.0.1:$ec_pp"
		ETCD_URLS="$ETCD_URLS${ETCD_URLS:+,}http://127.0.0.1:$ec_cp"
	done
	for ec_i in $(seq 1 "$ec_n"); do etcd_start "$ec_i"; done
	for ec_t in $(seq 1 100); do
		ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URLS" \
		    --command-timeout=2s endpoint health > /dev/null 2>&1 &&
		    return 0
		sleep 0.2
	done
	echo "etcd did not become healthy" >&2
	return 1
}

# etcd_start I: member eI (again, with its data, after etcd_kill)
etcd_start() {
	eval "es_cp=\$ETCD_CPORT_$1 es_pp=\$ETCD_PPORT_$1"
	etcd --name "e$1" --data-dir "$T/etcd/e$1" \
	    --listen-client-urls "http://127.0.0.1:$es_cp" \
	    --advertise-client-urls "http://127.0.0.1:$es_cp" \
	    --listen-peer-urls "http://127.0.0.1:$es_pp" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$es_pp" \
	    --initial-cluster "$ETCD_CLUSTER" \
	    --initial-cluster-token "lodge-e2e-$$" \
	    >> "$T/etcd/e$1.log" 2>&1 &
	eval "ETCD_PID_$1=$!"
	PIDS="$PIDS $!"
}

etcd_kill() {
	eval "kill -9 \$ETCD_PID_$1"
	eval "wait \$ETCD_PID_$1" 2>/dev/null
	return 0
}

etcdctl_() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URLS" --command-timeout=3s "$@"; }

replica_keys() {
	mkdir -p "$T/keys" "$T/etcd"
	$BIN/ledger keygen "$T/keys/market.key" > /dev/null &&
	    $BIN/ledger keygen "$T/keys/treasury.key" > /dev/null
}

# replica_start I [ARGS...]: rI on $T/rI (a new folder gets the keys)
replica_start() {
	rs_i=$1
	shift
	if [ ! -d "$T/r$rs_i" ]; then
		mkdir -p "$T/r$rs_i"
		cp "$T/keys/market.key" "$T/keys/treasury.key" "$T/r$rs_i/"
		chmod 600 "$T/r$rs_i"/*.key
	fi
	eval "rs_port=\${REPLICA_PORT_$rs_i:-}"
	if [ -z "$rs_port" ]; then
		rs_port=$(free_port)
		eval "REPLICA_PORT_$rs_i=$rs_port"
	fi
	$BIN/market run --data "$T/r$rs_i" --listen "127.0.0.1:$rs_port" \
	    --etcd "$ETCD_URLS" --replica "r$rs_i" ${LODGE_INSECURE_HTTP:+--insecure-http} \
	    "$@" >> "$T/r$rs_i.log" 2>&1 &
	eval "REPLICA_PID_$rs_i=$!"
	PIDS="$PIDS $!"
	rs_scheme=https
	[ -n "$LODGE_INSECURE_HTTP" ] && rs_scheme=http
	eval "REPLICA_$rs_i=$rs_scheme://127.0.0.1:$rs_port"
	# (a replica copies and verifies what it lacks before it serves)
	for rs_t in $(seq 1 300); do
		curl -s -m 1 "$rs_scheme://127.0.0.1:$rs_port/healthz" > /dev/null &&
		    return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.1
	done
	echo "replica r$rs_i did not start" >&2
	tail -5 "$T/r$rs_i.log" >&2
	return 1
}

replica_kill() {
	eval "kill -9 \$REPLICA_PID_$1"
	eval "wait \$REPLICA_PID_$1" 2>/dev/null
	return 0
}

replica_url() { eval "echo \$REPLICA_$1"; }
replica_info() { curl -s -m 5 "$(replica_url "$1")/v1/info"; }
replica_role() { replica_info "$1" | jq -r '.replica.role // "down"' 2>/dev/null || echo down; }
replica_applied() { replica_info "$1" | jq -r '.replica.applied // -1' 2>/dev/null || echo -1; }

# sequencer: the number of the replica that sequences now (waits up to
# 10 s for one)
sequencer() {
	for sq_t in $(seq 1 50); do
		for sq_i in 1 2 3; do
			[ "$(replica_role "$sq_i")" = sequencer ] &&
			    { echo "$sq_i"; return 0; }
		done
		sleep 0.2
	done
	return 1
}

# same_applied I...: the replicas have applied as many entries (waits)
same_applied() {
	for sa_t in $(seq 1 100); do
		sa_first=""
		sa_ok=1
		for sa_i in "$@"; do
			sa_n=$(replica_applied "$sa_i")
			[ -z "$sa_first" ] && sa_first=$sa_n
			[ "$sa_n" = "$sa_first" ] && [ "$sa_n" -gt 0 ] || sa_ok=0
		done
		[ $sa_ok = 1 ] && return 0
		sleep 0.2
	done
	for sa_i in "$@"; do echo "r$sa_i: $(replica_applied "$sa_i")"; done
	return 1
}

# same_root I...: the replicas publish checkpoints of the same size and
# root (waits for their next checkpoint)
same_root() {
	for sr_t in $(seq 1 50); do
		sr_first=""
		sr_ok=1
		for sr_i in "$@"; do
			sr_c=$(curl -s -m 5 "$(replica_url "$sr_i")/v1/ledger/checkpoint" |
			    sed -n 2,3p | tr '\n' ' ')
			[ -z "$sr_first" ] && sr_first=$sr_c
			[ "$sr_c" = "$sr_first" ] && [ -n "$sr_c" ] || sr_ok=0
		done
		[ $sr_ok = 1 ] && return 0
		sleep 0.3
	done
	for sr_i in "$@"; do
		echo "r$sr_i: $(curl -s "$(replica_url "$sr_i")/v1/ledger/checkpoint" | sed -n 2,3p | tr '\n' ' ')"
	done
	return 1
}

# ledger_sigs I: "index sig" of every entry replica I holds
ledger_sigs() {
	ls_start=0
	while :; do
		curl -s -m 10 "$(replica_url "$1")/v1/ledger/entries?start=$ls_start" > "$T/.page"
		ls_n=$(jq '.entries | length' "$T/.page")
		[ "$ls_n" -gt 0 ] || break
		jq -r '.entries[].leaf | @base64d | fromjson |
		    "\(.index) \(.entry.sig)"' "$T/.page"
		ls_start=$((ls_start + ls_n))
	done
}
