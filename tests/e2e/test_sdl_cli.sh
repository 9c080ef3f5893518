#!/bin/sh
# bin/sdl from the outside: exit codes (0 ok, 1 invalid, 2 usage), every
# error and warning on stderr with file:line:col and path, the default
# (Akash's Go parser, schema findings as warnings) against --strict and
# --akash-go, canonical manifest and hash, orders, and Akash parity of
# `sdl akash groups|manifest`.
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

# ---- default, --strict, --akash-go --------------------------------------
# what only Akash's schema refuses: accepted with a warning, --strict refuses
sed 's/^    env: \[GREETING=hello\]$/    env: [GREETING=hello]\n    depends_on: [db]/' \
    "$T/app.yaml" >"$T/schema.yaml"
expect_rc "schema-only finding: accepted by default" 0 "$SDL" check "$T/schema.yaml"
if grep -q '^'"$T"'/schema.yaml:6:5: services.web: warning: unknown field "depends_on" (expected one of: .*); ignored, as Akash.s Go parser does (Akash.s schema and `sdl check --strict` refuse it)$' \
    "$T/.err" && [ "$(wc -l <"$T/.err")" -eq 1 ] && [ ! -s "$T/.out" ]; then
	ok "... with one warning on stderr: file:line:col, path, labelled"
else notok "... with one warning on stderr"; cat "$T/.err"; fi
expect_rc "--strict refuses it (exit 1)" 1 "$SDL" check --strict "$T/schema.yaml"
if grep -q 'schema.yaml:6:5: services.web: unknown field "depends_on"' "$T/.err" &&
    ! grep -q warning "$T/.err" && [ "$(wc -l <"$T/.err")" -eq 1 ]; then
	ok "... as one error, not a warning, and no false error about the service"
else notok "... as one error"; cat "$T/.err"; fi
expect_rc "--akash-go accepts it" 0 "$SDL" check --akash-go "$T/schema.yaml"
expect_rc "an unknown check option is a usage error" 2 "$SDL" check --frob "$T/app.yaml"
expect_rc "manifest of a file with warnings: exit 0" 0 "$SDL" manifest "$T/schema.yaml"
if grep -q warning: "$T/.err" && jq -e .services.web "$T/.out" >/dev/null; then
	ok "... the warning on stderr, the manifest alone on stdout"
else notok "... the warning on stderr, the manifest alone on stdout"; fi
# version: 2.0 unquoted
sed 's/^version: "2.0"$/version: 2.0/' "$T/app.yaml" >"$T/float.yaml"
expect_rc "version: 2.0 unquoted: accepted by default" 0 "$SDL" check "$T/float.yaml"
if grep -q 'float.yaml:1:10: version: warning: version 2.0 is a number in YAML; quote it: version: "2.0"' "$T/.err"
then ok "... saying to quote it"; else notok "... saying to quote it"; cat "$T/.err"; fi
expect_rc "... refused under --strict" 1 "$SDL" check --strict "$T/float.yaml"
if grep -q 'quote it: version: "2.0"' "$T/.err"; then ok "... saying to quote it"
else notok "... saying to quote it"; cat "$T/.err"; fi
# signedBy with an Akash address: refused in every Lodge mode
sed 's/^    dc:$/    dc:\n      signedBy:\n        anyOf: [akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63]/' \
    "$T/app.yaml" >"$T/akash1.yaml"
for mode in "" --strict; do
	expect_rc "signedBy with an Akash address: refused ${mode:+under }${mode:-by default}" \
	    1 "$SDL" check $mode "$T/akash1.yaml"
	if grep -q 'akash1.yaml:19:17: profiles.placement.dc.signedBy.anyOf\[0\]: "akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63" is an Akash address: Lodge cannot see Akash.s audits.  Lodge auditors are ed25519 keys, named "ed25519:<43 base64url characters>"' \
	    "$T/.err"; then ok "... saying how to name a Lodge auditor"
	else notok "... saying how to name a Lodge auditor"; cat "$T/.err"; fi
done
expect_rc "... Akash would accept it (--akash-go)" 0 "$SDL" check --akash-go "$T/akash1.yaml"
key=$("$BIN/ledger" keygen "$T/auditor.key")
sed "s/akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63/$key/" "$T/akash1.yaml" >"$T/auditor.yaml"
expect_rc "signedBy with a Lodge auditor key (ledger keygen): accepted" 0 \
    "$SDL" check --strict "$T/auditor.yaml"
if "$SDL" orders "$T/auditor.yaml" | jq -e --arg k "$key" '.[0].signed_by.any_of == [$k]' >/dev/null
then ok "... and named in the order"; else notok "... and named in the order"; fi
# the awesome-akash files only Akash's schema refuses
n=0; accepted=0; warned=0
for f in "dolly-v2-12b/deploy.yaml" "n8n/deploy.yml" "Redash/deploy.yaml" \
    "phoronix/deploy.yaml" "supabase/deploy.yaml"; do
	n=$((n + 1))
	"$SDL" check "$C/awesome-akash/$f" 2>"$T/.err" && accepted=$((accepted + 1))
	grep -q ': warning: ' "$T/.err" && ! grep -vq ': warning: ' "$T/.err" &&
	    warned=$((warned + 1))
	"$SDL" check --strict "$C/awesome-akash/$f" 2>/dev/null &&
	    echo "# --strict accepts $f"
done
if [ $accepted = $n ] && [ $warned = $n ]; then
	ok "awesome-akash files refused only by Akash's schema: accepted with warnings ($n)"
else notok "awesome-akash schema-only files ($accepted accepted, $warned warned, of $n)"; fi

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
