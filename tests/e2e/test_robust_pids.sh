#!/bin/sh
# Every sandbox has a process limit (issue 13, item 4).  A lease that
# tries to fork 3,000 processes is stopped at its limit: the provider's
# per-CPU default (128 per CPU here, from `provider init --pids-per-cpu`;
# 256 by default), written to the lease's pids cgroup (pids.max); a
# service's LODGE_PIDS lowers it, and one above the provider's ceiling
# (--pids-max) refuses the manifest.  Other leases fork as usual.
. tests/e2e/lib.sh
CL=$T
. examples/local/cluster.sh
trap 'cluster_stop; cleanup' EXIT
[ "$(id -u)" = 0 ] || { echo "ok - skipped: needs root (cgroups)"; exit 0; }
PIDSCG=$(ls -d /sys/fs/cgroup/pids /sys/fs/cgroup 2>/dev/null | while read -r d; do
	[ -f "$d/cgroup.controllers" ] && grep -qw pids "$d/cgroup.controllers" && echo "$d" && break
	[ -f "$d/pids.max" ] || [ -d "$d/lodge" ] || [ "${d##*/}" = pids ] && echo "$d" && break
done)
[ -n "$PIDSCG" ] || { echo "ok - skipped: no pids cgroup controller"; exit 0; }

PRICE=cpu_ms=1000,mem_mb_s=1000,storage_mb_s=100
# forker ENV: an SDL whose service forks up to 3000 sleeping children,
# then serves "forked N of 3000: ERROR" on its port
forker() {
	cat <<EOF
version: "2.0"
services:
  web:
    image: host
    command: ["perl"]
    args:
      - "-e"
      - |
        use IO::Socket::INET;
        \$| = 1;
        my (\$n, \$err) = (0, "none");
        for (1 .. 3000) {
            my \$p = fork();
            if (!defined \$p) { \$err = "\$!"; last; }
            if (\$p == 0) { sleep 600; exit 0; }
            \$n++;
        }
        my \$msg = "forked \$n of 3000: \$err\n";
        print \$msg;
        my \$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
            LocalPort => 8080, Listen => 8, ReuseAddr => 1) or die;
        while (my \$c = \$s->accept) {
            while (my \$l = <\$c>) { last if \$l =~ /^\r?\n\$/; }
            print \$c "HTTP/1.1 200 OK\r\nContent-Length: " . length(\$msg)
                . "\r\nConnection: close\r\n\r\n\$msg";
            close \$c;
        }
    env: [$1]
    expose:
      - port: 8080
        as: 80
        to:
          - global: true
profiles:
  compute:
    web:
      resources:
        cpu:
          units: 0.5
        memory:
          size: 256Mi
        storage:
          size: 16Mi
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
}
# cg FILE LEASE: a file of the lease's pids cgroup (named after p1's key)
cg() { cat "$PIDSCG/lodge/p$(echo "$p1_KEY" | cut -c9-16)-$2-web-0/$1"; }
forked() { curl -s -m 5 "$1" | sed -n 's/^forked \([0-9]*\) of.*/\1/p'; }

check "market starts" cluster_market
check "provider p1 starts (128 processes per CPU, at most 1000)" \
    cluster_provider p1 region=eu $PRICE --pids-per-cpu 128 --pids-max 1000
check "tenant alice is funded" cluster_tenant alice 10000000000

forker '"A=1"' >"$T/bomb.yaml"
check "alice deploys a service that forks 3000 processes" \
    to "$T/bomb.json" as alice deploy "$T/bomb.yaml" --timeout 60 --json
L1=$(jq -r '.orders[0].lease' "$T/bomb.json")
U1=$(jq -r '.orders[0].services.web' "$T/bomb.json")
check "its cgroup has pids.max 128 (0.5 CPU rounds up to one)" \
    [ "$(cg pids.max "$L1")" = 128 ]
N1=$(forked "$U1")
echo "# $(curl -s -m 5 "$U1")"
check "it is stopped at the limit ($N1 of 3000 forked)" \
    sh -c "[ -n '$N1' ] && [ '$N1' -lt 128 ] && [ '$N1' -gt 100 ]"
check "its fork failed with EAGAIN" sh -c \
    "curl -s -m 5 '$U1' | grep -q 'Resource temporarily unavailable'"
check "the cgroup never held more than 128" \
    [ "$(cg pids.current "$L1")" -le 128 ]

forker '"LODGE_PIDS=40"' >"$T/low.yaml"
check "a service's LODGE_PIDS=40 lowers its limit" \
    to "$T/low.json" as alice deploy "$T/low.yaml" --timeout 60 --json
L2=$(jq -r '.orders[0].lease' "$T/low.json")
U2=$(jq -r '.orders[0].services.web' "$T/low.json")
check "its cgroup has pids.max 40" [ "$(cg pids.max "$L2")" = 40 ]
N2=$(forked "$U2")
check "it forked fewer than 40 ($N2)" sh -c "[ -n '$N2' ] && [ '$N2' -lt 40 ]"

forker '"LODGE_PIDS=5000"' >"$T/high.yaml"
check_fails "LODGE_PIDS above the provider's ceiling refuses the manifest" \
    "LODGE_PIDS: 5000 is above this provider's process limit 1000" \
    as alice deploy "$T/high.yaml" --timeout 60 --json

check "another lease deploys and forks as usual meanwhile" \
    to "$T/ok.json" as alice deploy examples/hello-perl/deploy.yaml \
    --timeout 60 --json
check "and answers" sh -c \
    "curl -sf -m 5 \$(jq -r '.orders[0].services.web' $T/ok.json) | grep -q hello"
finish
