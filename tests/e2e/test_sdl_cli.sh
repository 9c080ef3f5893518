#!/bin/sh
# bin/sdl from the outside: exit codes (0 ok, 1 invalid, 2 usage), every
# error on stderr with file:line:col and path, canonical manifest and hash,
# orders, and Akash parity of `sdl akash groups|manifest`.
. tests/e2e/lib.sh
SDL=$BIN/sdl
C=$SHARED/corpus/sdl

expect_rc() { # expect_rc DESC RC CMD...
	desc=$1; want=$2; shift 2
	"$@" >"$T/.out" 2>"$T/.err"; rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$desc"; else
		notok "$desc (exit $rc, want $want)"
		sed 's/^/#   /' "$T/.err" | tail -5; fi
}

cat >"$T/app.yaml" <<'YAML'
version: "2.0"
services:
  web:
    image: nginx:1.25
    env: [GREETING=hello]
    expose:
      - port: 80
        to: [{global: true}]
profiles:
  compute:
    web:
      resources:
        cpu: {units: 0.5}
        memory: {size: 512Mi}
        storage: {size: 1Gi}
  placement:
    dc:
      pricing: {web: {denom: uakt, amount: 100}}
deployment:
  web: {dc: {profile: web, count: 2}}
YAML
# the same deployment, written differently
cat >"$T/same.yaml" <<'YAML'
# comment
deployment:
  web:
    dc:
      count: 2
      profile: web
profiles:
  placement: {dc: {pricing: {web: {amount: "100", denom: uakt}}}}
  compute: {web: {resources: {storage: {size: 1024Mi}, memory: {size: 0.5Gi},
    cpu: {units: "500m"}}}}
services:
  web:
    expose: [{port: 80, as: 80, to: [{global: true}]}]
    env: ["GREETING=hello"]
    image: docker.io/library/nginx:1.25
version: '2.0'
YAML
sed 's/port: 80$/port: 70000/' "$T/app.yaml" >"$T/bad.yaml"
sed -e 's/port: 80$/port: 0/' -e 's/count: 2/count: 0/' \
    -e 's/denom: uakt/denom: doge/' "$T/app.yaml" >"$T/bad2.yaml"

expect_rc "sdl check accepts a valid file" 0 "$SDL" check "$T/app.yaml"
expect_rc "sdl check rejects an invalid file with exit 1" 1 \
    "$SDL" check "$T/app.yaml" "$T/bad.yaml"
if grep -q "bad.yaml:7:15: services.web.expose\[0\].port: 70000 is out of range" \
    "$T/.err"; then ok "error names file, line, column and path"
else notok "error names file, line, column and path"; cat "$T/.err"; fi
"$SDL" check "$T/bad2.yaml" 2>"$T/.err"
if [ "$(wc -l <"$T/.err")" -ge 3 ]; then ok "every error is reported"
else notok "every error is reported"; cat "$T/.err"; fi
expect_rc "no arguments is a usage error" 2 "$SDL"
expect_rc "unknown command is a usage error" 2 "$SDL" frobnicate
expect_rc "check without files is a usage error" 2 "$SDL" check
expect_rc "hash with two files is a usage error" 2 "$SDL" hash a b
for c in check manifest hash orders akash; do
	expect_rc "sdl $c --help" 0 "$SDL" $c --help
done
expect_rc "sdl akash groups --help" 0 "$SDL" akash groups --help
expect_rc "missing file is invalid (exit 1)" 1 "$SDL" check "$T/nope.yaml"

h1=$("$SDL" hash "$T/app.yaml"); h2=$("$SDL" hash "$T/same.yaml")
if echo "$h1" | grep -qE '^[0-9a-f]{64}$' && [ "$h1" = "$h2" ]; then
	ok "equivalent files have the same manifest hash"
else notok "equivalent files have the same manifest hash ($h1 / $h2)"; fi
m=$("$SDL" manifest "$T/app.yaml")
if [ "$(printf %s "$m" | sha256sum | cut -d' ' -f1)" = "$h1" ]; then
	ok "hash is SHA-256 of the manifest bytes"
else notok "hash is SHA-256 of the manifest bytes"; fi
sed 's/GREETING=hello/GREETING=bye/' "$T/app.yaml" >"$T/other.yaml"
if [ "$("$SDL" hash "$T/other.yaml")" != "$h1" ]; then
	ok "a change of meaning changes the hash"
else notok "a change of meaning changes the hash"; fi

"$SDL" orders "$T/app.yaml" >"$T/orders.json"
if jq -e --arg h "$h1" '.[0].max_price == 200 and .[0].denom == "uakt"
    and .[0].resources[0].cpu_millis == 500 and .[0].manifest_hash == $h
    and .[0].runtimes == ["oci"]' "$T/orders.json" >/dev/null &&
    ! grep -q hello "$T/orders.json"; then
	ok "orders carry resources, max price and the manifest hash, not env"
else notok "orders"; cat "$T/orders.json"; fi

n=0; bad=0
for d in "$C"/akash-parity/input/v2.0/*/ "$C"/akash-parity/input/v2.1/*/; do
	name=$(basename "$d"); v=$(basename "$(dirname "$d")")
	out=$C/akash-parity/output-fixtures/$v/$name
	for k in groups manifest; do
		f=$out/group-specs.json; [ $k = manifest ] && f=$out/manifest.json
		n=$((n + 1))
		if ! "$SDL" akash $k "$d/input.yaml" >"$T/a.json" ||
		    [ "$(jq -S . "$T/a.json")" != "$(jq -S . "$f")" ]; then
			bad=$((bad + 1)); echo "# differs: $v/$name $k"
		fi
	done
done
if [ "$n" -gt 0 ] && [ "$bad" -eq 0 ]; then
	ok "sdl akash groups/manifest equal Akash's fixtures ($n)"
else notok "sdl akash groups/manifest parity ($bad of $n differ)"; fi

finish
