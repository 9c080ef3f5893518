#!/bin/sh
# The operator's side: `make install DESTDIR=... PREFIX=...` puts the
# binaries, man pages and bash completion where GNU conventions say and
# they work from there; `make uninstall` takes them away; every man page
# passes `mandoc -T lint`; the systemd units verify; logs under journald
# ($JOURNAL_STREAM) carry a syslog priority and no time stamp of their
# own; `provider init` names the URL it advertises; `ledger attest`
# signs an auditor's provider.attest.
. tests/e2e/lib.sh
need_tools mandoc man bash jq curl systemd-analyze
D=$T/stage
P=/opt/lodge-test

make -s install DESTDIR="$D" PREFIX=$P > "$T/install.out" 2>&1 ||
    { notok "make install"; sed 's/^/#   /' "$T/install.out" | tail -5; finish; }
ok "make install DESTDIR=... PREFIX=..."
for b in market provider tenant ledger sdl; do
	[ -x "$D$P/bin/$b" ] && [ -f "$D$P/share/man/man1/$b.1" ] &&
	    [ -f "$D$P/share/bash-completion/completions/$b" ] ||
	    notok "$b: binary, man page and completion installed"
done
ok "binaries in bindir, pages in man1dir, completion in bash-completion"
check "the installed binaries run" sh -c "
	$D$P/bin/sdl --help | grep -q 'usage: sdl' &&
	$D$P/bin/tenant --help | grep -q 'usage: tenant' &&
	$D$P/bin/provider --help | grep -q 'usage: provider' &&
	$D$P/bin/ledger --help 2>&1 | grep -q 'usage: ledger' &&
	$D$P/bin/market --help 2>&1 | grep -q 'usage: market'"
check "the installed provider's front finds provider-full beside it" sh -c "
	$D$P/bin/provider init --help 2>&1 | grep -q 'usage: provider init'"
check "the console is installed where the installed market looks" \
    test -f "$D$P/share/lodge/console/index.html" -a \
    -f "$D$P/share/lodge/console/verify.js"
ti_bin=$BIN; ti_cl=$CL; BIN=$D$P/bin; CL=$T/installed; mkdir -p "$CL"
check "the installed market starts" cluster_market
check "the installed market serves the installed console at /" sh -c \
    "curl -sf $MARKET/ | grep -qi '<html'"
kill "$MARKET_PID"; wait "$MARKET_PID" 2>/dev/null
BIN=$ti_bin; CL=$ti_cl
check "man finds the installed pages" sh -c "
	MANPATH=$D$P/share/man MANWIDTH=80 man -P cat tenant 2>/dev/null |
	    grep -q 'deploy SDL files' &&
	MANPATH=$D$P/share/man MANWIDTH=80 man -P cat provider 2>/dev/null |
	    grep -q 'wildcard DNS'"
for m in docs/man/*.1; do
	check "mandoc -T lint $(basename "$m"): no warning" \
	    mandoc -T lint -W warning "$m"
done
for b in market provider tenant ledger sdl; do
	check "$b.1 describes every command $b --help lists" sh -c "
		$BIN/$b --help 2>&1 | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' |
		while read -r c; do
			grep -q \"Cm.*\\<\$c\\>\" docs/man/$b.1 || { echo \"no \$c\"; exit 1; }
		done"
done

# bash completion, as bash-completion loads it
cat > "$T/comp.bash" <<EOS
PATH=$D$P/bin:\$PATH
. $D$P/share/bash-completion/completions/tenant
t() { COMP_WORDS=("\$@"); COMP_CWORD=\$((\$# - 1)); COMPREPLY=(); _lodge; echo "\${COMPREPLY[*]}"; }
t tenant de
t provider init --do
t provider wasm r
t ledger att
t sdl akash g
EOS
bash "$T/comp.bash" > "$T/comp.out" 2>&1
check "bash completes commands and options" sh -c "
	printf 'deploy\n--domain\nrun\nattest\ngroups\n' | diff - $T/comp.out"

make -s uninstall DESTDIR="$D" PREFIX=$P > "$T/uninstall.out" 2>&1
check "make uninstall leaves no file" sh -c \
    "[ -z \"\$(find $D -type f)\" ]"

for u in examples/systemd/*.service; do
	sed "s|/usr/local/bin/|$BIN/|" "$u" > "$T/$(basename "$u")"
	check "systemd-analyze verify $(basename "$u")" sh -c \
	    "systemd-analyze verify --man=no $T/$(basename "$u") 2>&1 |
	     { ! grep .; }"
done

# logs: with stderr the journal's stream, "<6>INFO ..." and no time
check "market starts" cluster_market
jl=$T/journal.log
: > "$jl"
( JOURNAL_STREAM=$(stat -L -c '%d:%i' "$jl") exec $BIN/provider init \
    --market "$MARKET" --data "$T/pj" --listen 127.0.0.1:0 > "$T/pj.init" \
    2>/dev/null )
( JOURNAL_STREAM=$(stat -L -c '%d:%i' "$jl") exec $BIN/provider run \
    --data "$T/pj" 2>> "$jl" ) &
PIDS="$PIDS $!"
check "under journald: syslog priorities, no time stamps" until_ok 10 sh -c "
	grep -q '^<[3467]>' $jl && ! grep -q '^20[0-9][0-9]-' $jl"
check "elsewhere: time stamps" sh -c "
	grep -q '^20[0-9][0-9]-[0-9-]*T' $CL/market.log"
check "a JOURNAL_STREAM that is not stderr changes nothing" sh -c "
	JOURNAL_STREAM=1:1 $BIN/provider run --data $T/nowhere 2>&1 |
	    { ! grep -q '^<'; }"

# provider init: the advertised URL, the domain explained
to "$T/init.out" $BIN/provider init --market "$MARKET" --data "$T/pi" \
    --listen 0.0.0.0:18443 --domain lodge.example.org
check "provider init prints the URL it will advertise" \
    grep -q '^API URL: http://0.0.0.0:18443' "$T/init.out"
check "  and warns a wildcard address is no address for tenants" \
    grep -q 'give --api-url' "$T/init.out"
check "  and says where deployments are served and what DNS it needs" \
    grep -q 'lease>-<service>.lodge.example.org (a wildcard DNS record \*.lodge.example.org' "$T/init.out"
$BIN/provider init --data "$T/pi" --api-url https://node1.example.org > "$T/init2.out" 2>&1
check "  --api-url is what is advertised" sh -c "
	grep -q '^API URL: https://node1.example.org$' $T/init2.out &&
	grep -q '\"api_url\": \"https://node1.example.org\"' $T/init2.out"
check "provider init --help explains --domain" sh -c \
    "$BIN/provider init --help | grep -q 'wildcard'"

# ledger attest: an auditor's attestation, then its revocation
check "a provider advertises" cluster_provider pa region=eu \
    cpu_ms=1000,mem_mb_s=1000
PK=$pa_KEY
AUD=$($BIN/ledger keygen "$T/auditor.key")
$BIN/market deposit --data "$CL/market" "$AUD" 1000000 > /dev/null
att() { # the attributes AUD attests for PK, on the market
	curl -s "$MARKET/v1/providers" | jq -c ".[] | select(.key == \"$PK\") |
	    .attested_by[] | select(.auditor == \"$AUD\") | .attributes"
}
check "ledger attest posts provider.attest" sh -c \
    "$BIN/ledger attest --key $T/auditor.key --market $MARKET $PK region=eu,tier=gold | grep -q 'attested $PK (ledger index'"
check "  the market shows the attestation" \
    [ "$(att)" = '{"region":"eu","tier":"gold"}' ]
check_fails "ledger attest refuses a bad attribute" "expected KEY=VALUE" \
    $BIN/ledger attest --key "$T/auditor.key" --market "$MARKET" "$PK" region
check_fails "ledger attest refuses a bad provider key" "PROVIDER 'nobody'" \
    $BIN/ledger attest --key "$T/auditor.key" --market "$MARKET" nobody a=b
check "ledger attest --revoke" sh -c \
    "$BIN/ledger attest --key $T/auditor.key --market $MARKET $PK --revoke | grep -q 'revoked'"
check "  the attestation is gone" [ -z "$(att)" ]
finish
