#!/bin/sh
# A tenant's git+ and wasm+https images cannot read the provider's disk
# nor probe its network (issue 13, item 5).  A git smart-HTTP server runs
# on loopback (tests/e2e/git_http.py), which the owner allows
# (--allow-fetch 127.0.0.1:PORT), with a canary port that records any
# connection: nothing refused may reach it.
#  - git+file:// is refused at once, and so is plain http:// to a host
#    not allowed;
#  - https:// to loopback (literal, by name after DNS, IPv6), private and
#    link-local addresses, and this machine's own address, is refused at
#    connect time, and so is a redirect from the allowed host to loopback;
#  - what the remote answered (a 403 and its body) is not sent back;
#  - the allowed host serves a clone, directly and through a redirect.
. tests/e2e/lib.sh
CL=$T
. examples/local/cluster.sh
trap 'cluster_stop; cleanup' EXIT
[ "$(id -u)" = 0 ] || { echo "ok - skipped: the gateway needs root"; exit 0; }
[ -x /usr/bin/python3 ] && command -v git >/dev/null || {
	echo "ok - skipped: needs python3 and git"; exit 0; }

PRICE=cpu_ms=1000,mem_mb_s=1000,storage_mb_s=100
ZERO=0000000000000000000000000000000000000000000000000000000000000000

mkdir -p "$T/srv"
python3 tests/e2e/git_http.py "$T/srv" "$T/git.port" "$T/git.log" \
    >/dev/null 2>&1 &
PIDS="$PIDS $!"
until_ok 10 test -s "$T/git.port" >/dev/null
GP=$(cut -d' ' -f1 "$T/git.port")
CP=$(cut -d' ' -f2 "$T/git.port")
git init -q "$T/repo" && echo one >"$T/repo/app.txt" &&
    git -C "$T/repo" add app.txt &&
    git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qm one
C1=$(git -C "$T/repo" rev-parse HEAD)
git clone -q --bare "$T/repo" "$T/srv/repo.git"

# sdl NAME IMAGE: hello-http serving /app, from IMAGE
sdl() {
	sed -e "s|image: host|image: $2|" -e 's|"/tmp"|"/app"|' \
	    examples/hello-http/deploy.yaml >"$T/$1.yaml"
}
# refused NAME IMAGE: a deploy of IMAGE fails; its message in $T/NAME.err
refused() {
	sdl "$1" "$2"
	! as alice deploy "$T/$1.yaml" --timeout 30 --json >"$T/$1.out" \
	    2>"$T/$1.err"
}
said() { grep -q -- "$2" "$T/$1.err"; }
untouched() { ! grep -q CANARY "$T/git.log"; }

check "market starts" cluster_market
check "provider p1 starts, allowing the git server 127.0.0.1:$GP" \
    cluster_provider p1 region=eu $PRICE --allow-fetch "127.0.0.1:$GP"
check "tenant alice is funded" cluster_tenant alice 10000000000

check "git+file:// is refused" refused file "git+file://$T/repo#$C1"
check "  saying file:// URLs are refused (HTTP 422)" said file \
    "HTTP 422.*file:// URLs are refused"
check "git+http:// to a host not allowed is refused" \
    refused plain "git+http://127.0.0.1:$CP/repo.git#$C1"
check "  saying plain http is refused" said plain "plain http:// is refused"
check "https:// to 127.0.0.1 is refused" \
    refused lo "git+https://127.0.0.1:$CP/repo.git#$C1"
check "  at connect time: loopback" said lo "the address 127.0.0.1 is loopback"
check "https:// to a name that resolves to loopback is refused" \
    refused name "git+https://localhost:$CP/repo.git#$C1"
check "  after DNS: loopback" said name "is loopback"
check "https:// to [::1] is refused" \
    refused v6 "git+https://[::1]:$CP/repo.git#$C1"
check "  loopback" said v6 "the address ::1 is loopback"
check "https:// to a private address is refused" \
    refused priv "git+https://10.255.255.1/repo.git#$C1"
check "  private" said priv "the address 10.255.255.1 is private"
check "wasm+https:// to the link-local metadata address is refused" \
    refused meta "wasm+https://169.254.169.254/latest/m.wasm#sha256=$ZERO"
check "  link-local" said meta "the address 169.254.169.254 is link-local"
OWN=$(ip -o -4 addr show scope global 2>/dev/null |
    sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -1)
if [ -n "$OWN" ]; then
	check "https:// to this machine's own address ($OWN) is refused" \
	    refused own "git+https://$OWN:$CP/repo.git#$C1"
	# (by its class when it has one, else as this provider's own)
	check "  at connect time" said own "the address $OWN is "
fi
check "a redirect from the allowed host to loopback is refused" \
    refused redir \
    "git+http://127.0.0.1:$GP/redir/https/localhost:$CP/repo.git#$C1"
check "  at the redirect's connect" said redir \
    "localhost:$CP/repo.git.*is loopback"
check "the canary was never connected to" untouched
check "the remote's answer is not sent back: a 403 is refused" \
    refused secret "git+http://127.0.0.1:$GP/secret/repo.git#$C1"
check "  with a generic message" said secret "failed (the provider's log"
check "  without its status or body" sh -c \
    "! grep -qw '403\|SECRET\|hunter2' $T/secret.err"
check "  which the provider's log has" grep -q "HTTP 403" "$CL/p1.log"

sdl good "git+http://127.0.0.1:$GP/repo.git#$C1"
check "the allowed host serves a clone" \
    to "$T/good.json" as alice deploy "$T/good.yaml" --timeout 60 --json
check "  checked out at /app" sh -c \
    "curl -sf -m 5 \$(jq -r '.orders[0].services.web' $T/good.json)app.txt |
     grep -q one"
echo two >"$T/repo/app.txt"
git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qam two
C2=$(git -C "$T/repo" rev-parse HEAD)
git -C "$T/repo" push -q "$T/srv/repo.git" HEAD:refs/heads/master 2>/dev/null ||
    git -C "$T/repo" push -q "$T/srv/repo.git" HEAD:refs/heads/main
sdl hop "git+http://127.0.0.1:$GP/redir/http/127.0.0.1:$GP/repo.git#$C2"
check "a redirect within the allowed host is followed" \
    to "$T/hop.json" as alice deploy "$T/hop.yaml" --timeout 60 --json
check "  and checks out its commit" sh -c \
    "curl -sf -m 5 \$(jq -r '.orders[0].services.web' $T/hop.json)app.txt |
     grep -q two"
check "the canary still was never connected to" untouched
finish
