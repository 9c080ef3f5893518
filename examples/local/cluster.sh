# A Lodge "cluster" on loopback, the one set-up shared by the demo, the
# end-to-end tests (through tests/e2e/lib.sh) and the deploy bench: a
# market, providers and tenants, each in its own directory under $CL, on
# free ports (port 0, the bound port read back from the daemon's file).
# Sourced by sh; needs BIN (the bin/ dir) and CL (a fresh temporary
# directory).  Every process started is remembered in CLUSTER_PIDS;
# cluster_stop ends them and their sandboxes.
CLUSTER_PIDS=""
# Plain HTTP on loopback (README "TLS"): the daemons and the tenant take
# $LODGE_INSECURE_HTTP=1 as --insecure-http, so that curl can read the
# market as it is in these scripts.  A script that wants TLS sets
# LODGE_INSECURE_HTTP= (empty) before sourcing this (tests/e2e/test_tls.sh).
LODGE_INSECURE_HTTP=${LODGE_INSECURE_HTTP-1}
export LODGE_INSECURE_HTTP

# A process is remembered as PID:START, START its start time (clock
# ticks since boot, /proc/PID/stat's 22nd field): a PID whose process
# has ended may be given by the kernel to another process (pid_max is
# 32768 on many hosts), which must never get our signals.
# pid_stat PID: "STATE START" (empty once the process is gone)
pid_stat() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1,20; }
pid_start() { pid_stat "$1" | cut -d' ' -f2; }
cluster_track() { CLUSTER_PIDS="$CLUSTER_PIDS $1:$(pid_start "$1")"; }
# pid_gone PID:START: the process has ended (gone, a zombie not yet
# waited for, or its PID now another process's)
pid_gone() {
	pg_st=$(pid_stat "${1%%:*}")
	[ -z "$pg_st" ] || [ "${pg_st%% *}" = Z ] || [ "${pg_st#* }" != "${1#*:}" ]
}
# cluster_signal SIG PID:START: send SIG to PID unless it has ended
cluster_signal() {
	pid_gone "$2" || kill "-$1" "${2%%:*}" 2>/dev/null
	return 0
}

# until_ok SECONDS CMD...: run CMD (quietly) every 100 ms until it
# succeeds; after SECONDS of wall time, say so and fail.
until_ok() {
	uo_end=$(($(date +%s) + $1)); shift
	while :; do
		if "$@" > /dev/null 2>&1; then return 0; fi
		[ "$(date +%s)" -ge $uo_end ] && break
		sleep 0.1
	done
	echo "timed out: $*"
	return 1
}

# mget PATH FILTER: GET the market's PATH through jq -r FILTER.  (-k:
# over TLS, the market's certificate is self-signed by its key, which the
# Lodge tools pin; curl here only reads.)
mget() { curl -sk -m 10 "$MARKET$1" | jq -r "$2"; }
# http_code URL [curl args]: the status an HTTP GET gets.
http_code() { curl -sk -m 10 -o /dev/null -w '%{http_code}' "$@"; }

# cluster_market [extra market run args]: start the market in
# $CL/market, or start it again after a stop or a crash (same data, same
# port).  Sets MARKET (URL), MARKET_PID.  Its log is $CL/market.log.
cluster_market() {
	cm_port=0
	if [ -s "$CL/market/market.json" ]; then
		cm_port=$(sed -n 's/.*"listen_port": *\([0-9]*\).*/\1/p' \
		    "$CL/market/market.json")
		rm -f "$CL/market/market.json"
	fi
	"$BIN/market" run --data "$CL/market" --listen "127.0.0.1:$cm_port" \
	    --epoch "${CLUSTER_EPOCH:-1}" \
	    --offline-grace "${CLUSTER_GRACE:-30}" "$@" \
	    >> "$CL/market.log" 2>&1 &
	MARKET_PID=$!
	cluster_track $MARKET_PID
	if ! until_ok 10 test -s "$CL/market/market.json" > /dev/null; then
		echo "market did not start:" >&2
		tail -5 "$CL/market.log" >&2
		return 1
	fi
	MARKET=$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' \
	    "$CL/market/market.json")
	until_ok 10 curl -sfk "$MARKET/healthz"
}

# cluster_provider NAME ATTRS PRICE [extra init args]: init a provider
# (ATTRS "region=eu,tier=1", PRICE "cpu_ms=N,mem_mb_s=N,..."), fund its
# key for the bond and fees (cluster_fund_provider), run it and wait until
# the market lists it online.  Sets <NAME>_URL, <NAME>_KEY and
# <NAME>_PID; init's output is $CL/NAME.init, the log $CL/NAME.log.  With
# CLUSTER_AS set (e.g. "setpriv --reuid 65534 ..."), the provider runs
# through it.
cluster_provider() {
	cp_name=$1; cp_attrs=$2; cp_price=$3; shift 3
	${CLUSTER_AS:-} "$BIN/provider" init --market "$MARKET" \
	    --data "$CL/$cp_name" --name "$cp_name" --attributes "$cp_attrs" \
	    --price "denom=uakt,$cp_price" --listen 127.0.0.1:0 "$@" \
	    > "$CL/$cp_name.init" 2>&1 || {
		echo "provider init $cp_name failed:" >&2
		tail -5 "$CL/$cp_name.init" >&2
		return 1
	}
	cluster_fund_provider "$cp_name" || return 1
	cluster_provider_start "$cp_name"
}

# cluster_fund_provider NAME: a provider must lock a bond for the
# capacity it offers and pay a fee for each entry it signs before the
# market takes its ask (docs/state.md, "Bonds" and "Fees").  `provider
# bond` computes what its key lacks from the market's genesis rules (the
# bond of its capacity and a day of heartbeat fees; ~11.5M uakt for 4
# cores and 8 GB with the defaults); the treasury deposits that much.
# Sets <NAME>_FUNDED to the amount.
cluster_fund_provider() {
	cf_name=$1
	cf_need=$(${CLUSTER_AS:-} "$BIN/provider" bond --data "$CL/$cf_name" \
	    --json 2>> "$CL/$cf_name.init" | jq -r .to_fund) &&
	    [ -n "$cf_need" ] && [ "$cf_need" != null ] || {
		echo "provider bond $cf_name failed:" >&2
		tail -5 "$CL/$cf_name.init" >&2
		return 1
	}
	eval "${cf_name}_FUNDED=$cf_need"
	[ "$cf_need" -gt 0 ] || return 0
	cf_key=$(${CLUSTER_AS:-} "$BIN/provider" bond --data "$CL/$cf_name" \
	    --json | jq -r .key)
	"$BIN/market" deposit --data "$CL/market" "$cf_key" "$cf_need" \
	    >> "$CL/$cf_name.init" 2>&1 || {
		echo "funding provider $cf_name failed:" >&2
		tail -5 "$CL/$cf_name.init" >&2
		return 1
	}
}

# cluster_provider_start NAME: (re)start an initialised provider, with
# the options in CLUSTER_RUN_ARGS (split on spaces) if any.
cluster_provider_start() {
	cs_name=$1
	rm -f "$CL/$cs_name/run.json"
	# shellcheck disable=SC2086
	${CLUSTER_AS:-} "$BIN/provider" run --data "$CL/$cs_name" ${CLUSTER_RUN_ARGS:-} \
	    >> "$CL/$cs_name.log" 2>&1 &
	eval "${cs_name}_PID=$!"
	cluster_track $!
	if ! until_ok 10 test -s "$CL/$cs_name/run.json" > /dev/null; then
		echo "provider $cs_name did not start:" >&2
		tail -5 "$CL/$cs_name.log" >&2
		return 1
	fi
	cs_url=$(sed -n 's/.*"api_url":"\([^"]*\)".*/\1/p' \
	    "$CL/$cs_name/run.json")
	cs_key=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' "$CL/$cs_name/run.json")
	eval "${cs_name}_URL=$cs_url"
	eval "${cs_name}_KEY=$cs_key"
	until_ok 10 sh -c "curl -sk '$MARKET/v1/providers' | grep -q \
	    '\"api_url\":\"$cs_url\"'" > /dev/null || {
		echo "provider $cs_name did not advertise:" >&2
		tail -5 "$CL/$cs_name.log" >&2
		return 1
	}
}

# cluster_tenant NAME AMOUNT: a tenant with its own config dir, funded by
# the market's treasury.  Sets <NAME>_ADDR; its key is
# $CL/NAME/lodge/tenant.key.
cluster_tenant() {
	ct_name=$1; ct_amount=$2
	mkdir -p "$CL/$ct_name"
	ct_addr=$(XDG_CONFIG_HOME="$CL/$ct_name" "$BIN/tenant" keygen \
	    2> /dev/null) || return 1
	eval "${ct_name}_ADDR=$ct_addr"
	"$BIN/market" deposit --data "$CL/market" "$ct_addr" "$ct_amount" \
	    > /dev/null
}

# as NAME tenant-args...: run the tenant CLI as NAME.
as() {
	as_name=$1; shift
	XDG_CONFIG_HOME="$CL/$as_name" LODGE_MARKET="$MARKET" \
	    "$BIN/tenant" "$@"
}

# Every descendant of the given pids (sandboxes of a provider).
cluster_descendants() {
	cd_list="$*"
	cd_all=""
	while [ -n "$cd_list" ]; do
		cd_next=""
		for cd_p in $cd_list; do
			for cd_c in $(ps -o pid= --ppid "$cd_p" 2>/dev/null); do
				cd_next="$cd_next $cd_c"
				cd_all="$cd_all $cd_c"
			done
		done
		cd_list=$cd_next
	done
	echo $cd_all
}

# cluster_kill PID: SIGTERM, up to 3 s grace, then SIGKILL, with every
# descendant (sandboxes survive a provider killed with -9).
cluster_kill() {
	ck_ref=$1
	case "$1" in *:*) ;; *) ck_ref=$1:$(pid_start "$1");; esac
	pid_gone "$ck_ref" && return 0
	ck_pid=${ck_ref%%:*}
	ck_desc=
	for ck_p in $(cluster_descendants "$ck_pid"); do
		ck_desc="$ck_desc $ck_p:$(pid_start "$ck_p")"
	done
	cluster_signal TERM "$ck_ref"
	until_ok 3 pid_gone "$ck_ref" > /dev/null ||
	    cluster_signal KILL "$ck_ref"
	for ck_p in $ck_desc; do cluster_signal KILL "$ck_p"; done
	return 0
}

cluster_stop() {
	for cs_p in $CLUSTER_PIDS; do
		cluster_kill "$cs_p"
	done
	CLUSTER_PIDS=""
}

# cluster_crash NAME: kill -9 a provider (its sandboxes stay, as after a
# crash); they are remembered so that cluster_stop still ends them.
cluster_crash() {
	cc_pid=$(eval echo "\$${1}_PID")
	for cc_p in $(cluster_descendants "$cc_pid"); do
		cluster_track "$cc_p"
	done
	cc_ref=$cc_pid:$(pid_start "$cc_pid")
	cluster_signal KILL "$cc_ref"
	until_ok 5 pid_gone "$cc_ref"
}
