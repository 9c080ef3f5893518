#!/bin/sh
# bench_deploy: end-to-end deploy latency on loopback, from `tenant deploy`
# starting to the service's first HTTP 200 through the provider's gateway,
# for a `host` service (examples/hello-perl), p50/p90 over N runs with a
# market, two providers and a tenant started here.  Baseline, same run:
# the same perl server started directly on the host, to its first 200.
# Goal: p50 under 1 s (Akash takes about a minute).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
EX=$ROOT/examples/hello-perl/deploy.yaml
N=${BENCH_DEPLOY_RUNS:-15}
CL=$(mktemp -d "${1:-/tmp}/bench-deploy-XXXXXX")
. "$ROOT/examples/local/cluster.sh"
trap 'cluster_stop; rm -rf "$CL"' EXIT
trap 'exit 1' INT TERM

now_us() { echo $(($(date +%s%N) / 1000)); }
# p PCT FILE: the PCT-th percentile of the numbers in FILE
p() { sort -n "$2" | awk -v q="$1" '{a[NR]=$1} END {i=int((NR-1)*q/100)+1; print a[i]}'; }

cluster_market > /dev/null || exit 1
cluster_provider p1 region=eu cpu_ms=1000000,mem_mb_s=1000000,storage_mb_s=100000 || exit 1
cluster_provider p2 region=us cpu_ms=2000000,mem_mb_s=2000000,storage_mb_s=200000 || exit 1
cluster_tenant alice 100000000000 || exit 1

# the baseline: the example's own server, on the host, on a free port
"$BIN/sdl" manifest "$EX" | jq -r '.services.web.args[1]' > "$CL/server.pl"
i=0
while [ $i -lt "$N" ]; do
	port=$((20000 + ($$ + i * 7) % 20000))
	sed "s/8080/$port/" "$CL/server.pl" > "$CL/s.pl"
	t0=$(now_us)
	GREETING=hi perl "$CL/s.pl" > /dev/null 2>&1 &
	pid=$!
	until [ "$(http_code "http://127.0.0.1:$port/")" = 200 ]; do
		kill -0 $pid 2> /dev/null || break
		sleep 0.005
	done
	echo $(( $(now_us) - t0 )) >> "$CL/base"
	kill $pid; wait $pid 2> /dev/null
	i=$((i + 1))
done

i=0
while [ $i -lt "$N" ]; do
	t0=$(now_us)
	if ! as alice deploy "$EX" --json > "$CL/d.json" 2> "$CL/d.err"; then
		cat "$CL/d.err"
		exit 1
	fi
	url=$(jq -r '.orders[0].services.web' "$CL/d.json")
	until [ "$(http_code "$url")" = 200 ]; do sleep 0.005; done
	echo $(( $(now_us) - t0 )) >> "$CL/lodge"
	as alice close "$(jq -r .deployment "$CL/d.json")" > /dev/null || exit 1
	i=$((i + 1))
done

l50=$(p 50 "$CL/lodge"); l90=$(p 90 "$CL/lodge")
b50=$(p 50 "$CL/base")
printf 'deploy to first 200 through the gateway (host service), %d runs:\n' "$N"
printf '  lodge:    p50 %6d us  p90 %6d us\n' "$l50" "$l90"
printf '  baseline: p50 %6d us  (the same server started directly)\n' "$b50"
printf '  ratio lodge/baseline p50: %s\n' "$(awk -v a="$l50" -v b="$b50" 'BEGIN {printf "%.1fx", a / b}')"
if [ "$l50" -lt 1000000 ]; then
	echo "  goal p50 < 1 s: met"
else
	echo "  goal p50 < 1 s: MISSED"
	exit 1
fi
