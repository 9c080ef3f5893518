#!/bin/sh
# test_image_registry: libimage (through tests/e2e/drv_image) against
# Debian's docker-registry (distribution 2.8) started here on loopback,
# with images built without Docker (OCI layouts by oci_image.py, pushed
# with skopeo): a multi-layer image with whiteouts, opaque dirs and hard
# links, mounted with overlayfs as root and in an unprivileged user
# namespace; an index with amd64 and arm64 entries; pulls by two
# processes at once; a corrupted blob; Basic auth (htpasswd); the Bearer
# flow with a token server; a docker.io mirror; hostile layers; the
# cache's collection.
. tests/e2e/lib.sh
. tests/e2e/registry_lib.sh

for tool in docker-registry skopeo htpasswd openssl python3 jq; do
	if ! command -v $tool > /dev/null; then
		notok "$tool is installed (make deps)"
		finish
	fi
done
if [ ! -x "$DRV" ]; then
	notok "$DRV is built (make drivers)"
	finish
fi

# pull CACHE REF [options]: the driver's JSON to $T/pull.json, its
# messages to $T/pull.err
pull() {
	pc=$1 pr=$2
	shift 2
	"$DRV" pull --cache "$pc" "$@" "$pr" > "$T/pull.json" 2> "$T/pull.err"
}
field() { jq -r "$1" "$T/pull.json"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

registry_start plain || { notok "registry starts"; finish; }
R1=$REG
R1_DIR=$REG_DIR
ok "docker-registry listens on $R1"

# ---- a multi-layer image ---------------------------------------------
cat > "$T/multi.json" <<'EOF'
{"tag": "v1", "images": [{"arch": "amd64",
 "config": {"Entrypoint": ["/bin/app"], "Cmd": ["--serve"],
            "Env": ["PATH=/usr/bin:/bin", "MODE=test"], "WorkingDir": "/srv",
            "User": "101:101", "ExposedPorts": {"80/tcp": {}, "53/udp": {}}},
 "layers": [
  [["d", "etc", 493], ["f", "etc/old.conf", 420, "old\n"],
   ["f", "etc/keep.conf", 420, "keep\n"], ["d", "var/cache/app", 493],
   ["f", "var/cache/app/stale", 420, "stale\n"],
   ["f", "usr/bin/tool", 493, "#!/bin/sh\necho tool\n"],
   ["h", "usr/bin/tool-alias", "usr/bin/tool"],
   ["l", "bin", "usr/bin"]],
  [["wh", "etc", "old.conf"], ["opq", "var/cache/app"],
   ["f", "var/cache/app/fresh", 420, "fresh\n"],
   ["f", "usr/bin/su", 2541, "setuid\n"],
   ["h", "usr/bin/su-link", "usr/bin/su"]],
  [["d", "srv", 493], ["f", "srv/index.html", 420, "<h1>lodge</h1>\n"],
   ["wh", "usr/bin", "tool-alias"]]
 ]}]}
EOF
check "skopeo pushes a 3-layer image" image_push "$T/multi.json" "$R1" \
    lodge/multi:v1
want=$(skopeo inspect --tls-verify=false "docker://$R1/lodge/multi:v1" |
    jq -r .Digest)
check "pull lodge/multi:v1" pull "$T/c1" "$R1/lodge/multi:v1" \
    --insecure "$R1"
if [ "$(field .manifest_digest)" = "$want" ] &&
    [ "$(field .index_digest)" = null ]; then
	ok "the manifest digest is the registry's ($want)"
else
	notok "manifest digest $(field .manifest_digest), registry says $want"
fi
if [ "$(field '.layers | length')" = 3 ] &&
    [ "$(field '.config.entrypoint[0]')" = /bin/app ] &&
    [ "$(field '.config.cmd[0]')" = --serve ] &&
    [ "$(field '.config.env[1]')" = MODE=test ] &&
    [ "$(field .config.working_dir)" = /srv ] &&
    [ "$(field .config.user)" = 101:101 ] &&
    [ "$(field '[.config.ports[] | "\(.port)/\(.proto)"] | join(",")')" = \
        53/udp,80/tcp ]; then
	ok "the config gives entrypoint, cmd, env, workdir, user, ports"
else
	notok "config: $(field .config)"
fi
[ "$(field .setid_stripped)" = 1 ] && ok "the setuid bit is stripped" ||
    notok "setid_stripped: $(field .setid_stripped)"
LOWER=$(field .lowerdir)
L2=$(field '.layers[1].dir')
if [ -c "$L2/etc/old.conf" ] &&
    [ "$(stat -c %t:%T "$L2/etc/old.conf")" = 0:0 ] &&
    [ "$(python3 -c 'import os, sys
print(os.getxattr(sys.argv[1], "user.overlay.opaque").decode())' \
        "$L2/var/cache/app")" = y ]; then
	ok "a whiteout is a 0/0 device, an opaque dir has user.overlay.opaque"
else
	notok "whiteout/opaque forms in $L2"
fi

# the layers as overlayfs sees them: as root, and as an unprivileged
# user in a user namespace (userxattr), which is how a sandbox mounts
check_tree() {
	m=$1
	[ ! -e "$m/etc/old.conf" ] && [ -f "$m/etc/keep.conf" ] &&
	    [ "$(ls "$m/var/cache/app")" = fresh ] &&
	    [ "$(cat "$m/srv/index.html")" = "<h1>lodge</h1>" ] &&
	    [ ! -e "$m/usr/bin/tool-alias" ] && [ -x "$m/bin/tool" ] &&
	    [ "$(stat -c %i "$m/usr/bin/su")" = \
	        "$(stat -c %i "$m/usr/bin/su-link")" ] &&
	    [ "$(stat -c %a "$m/usr/bin/su")" = 755 ]
}
mkdir -p "$T/mnt"
if [ "$(id -u)" = 0 ]; then
	if mount -t overlay overlay -o "lowerdir=$LOWER" "$T/mnt" 2> "$T/mnt.err"; then
		if check_tree "$T/mnt"; then
			ok "overlayfs (privileged) shows the image's tree"
		else
			notok "overlayfs tree: $(ls -laR "$T/mnt" | head -40)"
		fi
		umount "$T/mnt"
	else
		echo "ok - overlayfs mount # SKIP $(cat "$T/mnt.err")"
	fi
fi
if unshare --user --map-root-user --mount true 2> /dev/null; then
	export LOWER
	if unshare --user --map-root-user --mount sh -c '
	    mount -t overlay overlay -o "userxattr,lowerdir=$LOWER" "$1" &&
	    [ ! -e "$1/etc/old.conf" ] &&
	    [ "$(ls "$1/var/cache/app")" = fresh ] &&
	    [ ! -e "$1/usr/bin/tool-alias" ]' sh "$T/mnt" 2> "$T/mnt.err"; then
		ok "overlayfs in a user namespace (userxattr) shows the tree"
	else
		notok "userns overlay: $(cat "$T/mnt.err")"
	fi
fi
# a provider without root: unpacked as uid 65534, mounted by it in its
# own user namespace
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
	mkdir -p "$T/u" && chown 65534:65534 "$T/u" && chmod 755 "$T"
	if setpriv --reuid 65534 --regid 65534 --clear-groups \
	    "$DRV" pull --cache "$T/u/cache" --insecure "$R1" \
	    "$R1/lodge/multi:v1" > "$T/u/pull.json" 2> "$T/mnt.err" &&
	    setpriv --reuid 65534 --regid 65534 --clear-groups \
	    unshare --user --map-root-user --mount sh -c '
	    mkdir -p "$2" &&
	    mount -t overlay overlay -o "userxattr,lowerdir=$1" "$2" &&
	    [ ! -e "$2/etc/old.conf" ] &&
	    [ "$(ls "$2/var/cache/app")" = fresh ] &&
	    [ "$(stat -c %u "$2/srv/index.html")" = 0 ]' sh \
	    "$(jq -r .lowerdir "$T/u/pull.json")" "$T/u/mnt" 2>> "$T/mnt.err"
	then
		ok "unpacked and mounted by an unprivileged uid in a user namespace"
	else
		notok "unprivileged unpack + mount: $(cat "$T/mnt.err")"
	fi
fi

check "a second pull finds every layer in the cache" sh -c "
	'$DRV' pull --cache '$T/c1' --insecure '$R1' '$R1/lodge/multi:v1' |
	jq -e '[.layers[].cached] == [true, true, true] and
	    .bytes_downloaded == 0'"

# ---- an index with amd64 and arm64 images ------------------------------
cat > "$T/multiarch.json" <<'EOF'
{"tag": "v1", "images": [
 {"arch": "amd64", "layers": [[["f", "arch", 420, "amd64\n"]]]},
 {"arch": "arm64", "variant": "v8", "layers": [[["f", "arch", 420, "arm64\n"]]]}
]}
EOF
check "skopeo pushes an index (amd64, arm64)" image_push "$T/multiarch.json" \
    "$R1" lodge/multiarch:v1
host=$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
other=$([ "$host" = amd64 ] && echo arm64 || echo amd64)
if pull "$T/c1" "$R1/lodge/multiarch:v1" --insecure "$R1" &&
    [ "$(cat "$(field '.layers[0].dir')/arch")" = "$host" ] &&
    [ "$(field .index_digest)" != null ] &&
    [ "$(field .config.architecture)" = "$host" ]; then
	ok "the index gives this host's platform ($host)"
else
	notok "index pull: $(cat "$T/pull.err") $(field .layers)"
fi
if pull "$T/c1" "$R1/lodge/multiarch:v1" --insecure "$R1" \
    --platform "linux/$other" &&
    [ "$(cat "$(field '.layers[0].dir')/arch")" = "$other" ]; then
	ok "and linux/$other when asked"
else
	notok "index pull for $other: $(cat "$T/pull.err")"
fi
check_fails "no linux/riscv64 entry: the platforms it has are named" \
    "it has linux/amd64, linux/arm64/v8" \
    "$DRV" pull --cache "$T/c1" --insecure "$R1" --platform linux/riscv64 \
    "$R1/lodge/multiarch:v1"

# ---- two processes pull one image at once: each blob fetched once ------
: > "$R1_DIR/log"
"$DRV" pull --cache "$T/c2" --insecure "$R1" "$R1/lodge/multi:v1" \
    > "$T/p1.json" 2>&1 &
p1=$!
"$DRV" pull --cache "$T/c2" --insecure "$R1" "$R1/lodge/multi:v1" \
    > "$T/p2.json" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
layer_gets=0
for d in $(jq -r '.layers[].digest' "$T/p1.json" 2> /dev/null); do
	n=$(grep -ac "GET /v2/lodge/multi/blobs/$d" "$R1_DIR/log")
	layer_gets=$((layer_gets + n))
done
if [ $r1 = 0 ] && [ $r2 = 0 ] && [ "$layer_gets" = 3 ] &&
    [ "$(jq -r .lowerdir "$T/p1.json")" = "$(jq -r .lowerdir "$T/p2.json")" ]; then
	ok "two processes pulling at once fetch each layer once"
else
	notok "concurrent pulls: rc $r1 $r2, layer GETs $layer_gets"
	cat "$T/p1.json" "$T/p2.json" | tail -5
fi

# ---- a corrupted blob in the registry's storage ------------------------
cat > "$T/corrupt.json" <<'EOF'
{"tag": "v1", "images": [{"arch": "amd64",
 "layers": [[["text", "big.txt", 200000]]]}]}
EOF
check "push an image whose blob is then corrupted" image_push \
    "$T/corrupt.json" "$R1" lodge/corrupt:v1
pull "$T/c3" "$R1/lodge/corrupt:v1" --insecure "$R1" || true
layer=$(skopeo inspect --tls-verify=false --raw "docker://$R1/lodge/corrupt:v1" |
    jq -r '.layers[0].digest')
data=$(find "$R1_DIR/data" -path "*/blobs/sha256/*/${layer#sha256:}/data")
rm -rf "$T/c3"
if [ -f "$data" ]; then
	python3 -c "
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0xff
open(p, 'wb').write(bytes(b))" "$data"
fi
check_fails "a corrupted layer is refused, its digest named" \
    "blob $layer .*digest mismatch" \
    "$DRV" pull --cache "$T/c3" --insecure "$R1" "$R1/lodge/corrupt:v1"
left=$(find "$T/c3/layers/sha256" "$T/c3/tmp" -mindepth 1)
if [ -z "$left" ]; then
	ok "nothing of the corrupted layer is kept"
else
	notok "left in the cache: $left"
fi

# ---- hostile layers through the registry -------------------------------
cat > "$T/devices.json" <<'EOF'
{"tag": "v1", "images": [{"arch": "amd64", "layers": [[
 ["c", "dev/mem", 1, 1], ["f", "bin/sudo", 3565, "x"]]]}]}
EOF
cat > "$T/escape.json" <<'EOF'
{"tag": "v1", "images": [{"arch": "amd64", "layers": [[
 ["l", "evil", "/tmp"], ["f", "evil/lodge-image-pwned", 420, "x"]]]}]}
EOF
cat > "$T/dotdot.json" <<'EOF'
{"tag": "v1", "images": [{"arch": "amd64", "layers": [[
 ["f", "../../lodge-image-pwned", 420, "x"]]]}]}
EOF
cat > "$T/bomb.json" <<'EOF'
{"tag": "v1", "images": [{"arch": "amd64", "layers": [[
 ["zeros", "zeros", 67108864]]]}]}
EOF
for n in devices escape dotdot bomb; do
	image_push "$T/$n.json" "$R1" "hostile/$n:v1" ||
	    notok "push hostile/$n"
done
if pull "$T/c4" "$R1/hostile/devices:v1" --insecure "$R1" &&
    [ "$(field '.skipped[0]' | sed 's/^sha256:[0-9a-f]*: //')" = \
        "dev/mem: character device 1:1 not created" ] &&
    [ ! -e "$(field '.layers[0].dir')/dev/mem" ] &&
    [ "$(stat -c %a "$(field '.layers[0].dir')/bin/sudo")" = 755 ]; then
	ok "device nodes are not created (reported), setuid/setgid stripped"
else
	notok "devices: $(cat "$T/pull.err") $(field .skipped)"
fi
check_fails "a write through an absolute symlink is refused" \
    '"evil/lodge-image-pwned".*symlink' \
    "$DRV" pull --cache "$T/c4" --insecure "$R1" "$R1/hostile/escape:v1"
check_fails "a ../ path is refused" '"\.\."' \
    "$DRV" pull --cache "$T/c4" --insecure "$R1" "$R1/hostile/dotdot:v1"
if [ -e /tmp/lodge-image-pwned ] || [ -e "$T/lodge-image-pwned" ]; then
	notok "a hostile layer wrote outside its root"
else
	ok "no hostile layer wrote outside its root"
fi
check_fails "a gzip bomb stops at the size cap" "more than 10000000 bytes" \
    "$DRV" pull --cache "$T/c4" --insecure "$R1" --max-unpacked 10000000 \
    "$R1/hostile/bomb:v1"
check_fails "a layer over the per-layer cap is not downloaded" \
    "more than the limit of 10$" \
    "$DRV" pull --cache "$T/c4" --insecure "$R1" --max-layer 10 \
    "$R1/lodge/multi:v1"

# ---- HTTPS unless the registry is insecure -----------------------------
check_fails "without --insecure the registry is spoken to over HTTPS" \
    "https://$R1/v2/" \
    "$DRV" pull --cache "$T/c5" --timeout 5 "$R1/lodge/multi:v1"

# ---- Basic auth (htpasswd) ---------------------------------------------
htpasswd -Bbn alice 'b4sic-s3cret' > "$T/htpasswd" 2> /dev/null
registry_start basic "  htpasswd:
    realm: lodge-basic
    path: $T/htpasswd" || notok "a registry with Basic auth starts"
R2=$REG
check "push to the Basic-auth registry" image_push "$T/multiarch.json" \
    "$R2" private/app:v1 alice:b4sic-s3cret
check_fails "Basic: anonymous is refused" "no credentials are given" \
    "$DRV" pull --cache "$T/c6" --insecure "$R2" "$R2/private/app:v1"
export DRV_IMAGE_PASSWORD=wrong-pass-123
check_fails "Basic: a wrong password is refused" \
    "access refused (HTTP 401" \
    "$DRV" pull --cache "$T/c6" --insecure "$R2" --cred "$R2=alice" \
    "$R2/private/app:v1"
grep -q wrong-pass-123 "$T/.out" && notok "the password appears in a message"
export DRV_IMAGE_PASSWORD=b4sic-s3cret
check "Basic: the SDL's credentials pull it" pull "$T/c6" \
    "$R2/private/app:v1" --insecure "$R2" --cred "$R2=alice" --progress
if grep -q b4sic-s3cret "$T/pull.json" "$T/pull.err"; then
	notok "the password appears in the output"
else
	ok "the password appears in no output"
fi
unset DRV_IMAGE_PASSWORD
# the attack: the private image is now in the cache; another caller
# names its digest (the ledger publishes it) without credentials, or
# under a public repository: the registry is asked, nothing is handed out
pdig=$(field .manifest_digest)
check_fails "Basic: the cached private image by digest, anonymous, is refused" \
    "no credentials are given" \
    "$DRV" pull --cache "$T/c6" --insecure "$R2" "$R2/private/app@$pdig"
check_fails "the cached private digest under a public repository is refused" \
    "lodge/multi" \
    "$DRV" pull --cache "$T/c6" --insecure "$R1" "$R1/lodge/multi@$pdig"
export DRV_IMAGE_PASSWORD=b4sic-s3cret
check "Basic: by digest with the credentials it runs" pull "$T/c6" \
    "$R2/private/app@$pdig" --insecure "$R2" --cred "$R2=alice"
unset DRV_IMAGE_PASSWORD

# ---- Bearer: a token server --------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tok.key" \
    -out "$T/tok.crt" -days 2 -subj /CN=lodge-token > /dev/null 2>&1
python3 "$E2E/registry_token.py" "$T/tok.port" "$T/tok.key" "$T/tok.crt" \
    lodge-token 'bob:t0ken-s3cret' public > "$T/tok.log" 2>&1 &
PIDS="$PIDS $!"
until_ok 10 test -s "$T/tok.port" || notok "the token server starts"
TOK=127.0.0.1:$(cat "$T/tok.port")
registry_start bearer "  token:
    realm: http://$TOK/token
    service: lodge-registry
    issuer: lodge-token
    rootcertbundle: $T/tok.crt" || notok "a registry with token auth starts"
R3=$REG
check "push through the token flow" image_push "$T/multiarch.json" "$R3" \
    public/app:v1 bob:t0ken-s3cret
check "push a private image" image_push "$T/multiarch.json" "$R3" \
    private/app:v1 bob:t0ken-s3cret
check "Bearer: an anonymous token pulls a public image" pull "$T/c7" \
    "$R3/public/app:v1" --insecure "$R3"
check_fails "Bearer: an anonymous token does not pull a private one" \
    "access refused (HTTP 401.*no credentials given" \
    "$DRV" pull --cache "$T/c7" --insecure "$R3" "$R3/private/app:v1"
export DRV_IMAGE_PASSWORD=not-the-pass
check_fails "Bearer: the token server refuses a wrong password" \
    "token server http://$TOK/token refused the credentials" \
    "$DRV" pull --cache "$T/c7" --insecure "$R3" --cred "$R3=bob" \
    "$R3/private/app:v1"
grep -q not-the-pass "$T/.out" && notok "the password appears in a message"
export DRV_IMAGE_PASSWORD=t0ken-s3cret
check "Bearer: with the credentials the private image is pulled" pull \
    "$T/c7" "$R3/private/app:v1" --insecure "$R3" --cred "$R3=bob"
unset DRV_IMAGE_PASSWORD

# ---- a mirror for docker.io --------------------------------------------
cat > "$T/nginx.json" <<'EOF'
{"tag": "1.25", "images": [{"arch": "amd64",
 "config": {"Entrypoint": ["/docker-entrypoint.sh"],
            "Cmd": ["nginx", "-g", "daemon off;"],
            "ExposedPorts": {"80/tcp": {}}},
 "layers": [[["f", "etc/nginx/nginx.conf", 420, "events {}\n"]]]},
 {"arch": "arm64", "variant": "v8",
 "layers": [[["f", "etc/nginx/nginx.conf", 420, "events {}\n"]]]}]}
EOF
check "push library/nginx:1.25 to the mirror" image_push "$T/nginx.json" \
    "$R1" library/nginx:1.25
if pull "$T/c8" nginx:1.25 --mirror "docker.io=http://$R1" &&
    [ "$(field .reference)" = docker.io/library/nginx:1.25 ] &&
    [ "$(field '.config.cmd[0]')" = nginx ]; then
	ok "nginx:1.25 is docker.io/library/nginx:1.25, served by the mirror"
else
	notok "mirror pull: $(cat "$T/pull.err")"
fi
check "docker.io/library/nginx:1.25 too" pull "$T/c8" \
    docker.io/library/nginx:1.25 --mirror "docker.io=http://$R1/"
# the images of an Akash SDL, their names unchanged, through the mirror
SDL=$SHARED/corpus/sdl/awesome-akash/CodiMD/deploy.yaml
if [ -f "$SDL" ] && "$BIN/sdl" manifest "$SDL" > "$T/sdl.json" 2> /dev/null; then
	for svc in $(jq -r '.services | keys[]' "$T/sdl.json"); do
		i=".services[\"$svc\"].image"
		reg=$(jq -r "$i.registry" "$T/sdl.json")
		name=$(jq -r "$i.name" "$T/sdl.json")
		tag=$(jq -r "$i.tag" "$T/sdl.json")
		raw=$(sed -n 's/^ *image: *\([^ #]*\).*/\1/p' "$SDL" |
		    grep -F "${name#library/}:$tag" | head -1)
		sed "s/\"tag\": \"1.25\"/\"tag\": \"$tag\"/" "$T/nginx.json" \
		    > "$T/sdl-$svc.json"
		if image_push "$T/sdl-$svc.json" "$R1" "$name:$tag" &&
		    pull "$T/c8" "$raw" --mirror "$reg=http://$R1" &&
		    [ "$(field .reference)" = "$reg/$name:$tag" ]; then
			ok "CodiMD's $svc image \"$raw\" is pulled through the mirror"
		else
			notok "SDL image $raw: $(cat "$T/pull.err")"
		fi
	done
else
	notok "$SDL is there and parses"
fi

# ---- the cache's collection --------------------------------------------
"$DRV" pull --cache "$T/c1" --insecure "$R1" "$R1/lodge/multi:v1" > "$T/keep.json"
keep=""
for d in $(jq -r '.manifest_digest, .config_digest, .layers[].digest' "$T/keep.json"); do
	keep="$keep --keep $d"
done
all_dirs() {
	for d in $(jq -r '.layers[].dir' "$1"); do
		[ -d "$d" ] || return 1
	done
}
# shellcheck disable=SC2086
if "$DRV" gc --cache "$T/c1" --max 0 $keep > "$T/gc.json" &&
    [ "$(jq .layers_removed "$T/gc.json")" -ge 2 ] &&
    "$DRV" usage --cache "$T/c1" | jq -e '.layers == 3' > /dev/null &&
    all_dirs "$T/keep.json"; then
	ok "collection under a limit of 0 keeps only the layers in use"
else
	notok "gc: $(cat "$T/gc.json")"
fi

finish
