#!/bin/sh
# OCI images end to end with the real daemons: Debian's docker-registry on
# loopback holding images built here without Docker (their root is the
# host's static busybox, so it really runs), a provider offering the "oci"
# runtime with `--registry-mirror docker.io=...`, and a tenant deploying
# awesome-akash's react SDL unchanged: its `nginx:alpine` is served by the
# mirror; the image expects root (binds :80, writes under /var, chowns)
# and runs as root of a user namespace whose ids are an unprivileged host
# range; it is reached through the gateway; lease.started names its
# digest.  Then a registry with Basic auth and the SDL's credentials (and
# a wrong password, never logged), a hostile image whose escapes fail, and
# the image cache collected down to its limit, sparing a running lease's
# layers.
. tests/e2e/lib.sh
CL=$T
. examples/local/cluster.sh
. tests/e2e/registry_lib.sh
trap 'cluster_stop; cleanup' EXIT

if [ "$(id -u)" != 0 ]; then
	echo "ok - skipped: images need a root provider"
	exit 0
fi
for tool in docker-registry skopeo htpasswd jq python3; do
	if ! command -v $tool > /dev/null; then
		notok "$tool is installed (make deps)"
		finish
	fi
done
BUSYBOX=$(command -v busybox)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2> /dev/null | grep -q static &&
    ! ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic'; then
	notok "a static busybox is installed (busybox-static, make deps)"
	finish
fi

SDL=$SHARED/corpus/sdl/awesome-akash/react/deploy.yaml
ID_BASE=1500000000
http_code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }
pstatus() { as alice status "$1" --json > "$T/st.json" 2> "$T/st.err"; }
# the workload: the child of the sandbox's init, whose pid the status gives
workload_pid() {
	sb=$(jq -r '.provider.replicas[0].pid' "$T/st.json")
	cut -d' ' -f1 "/proc/$sb/task/$sb/children" 2> /dev/null
}

# ---- images, built here ----------------------------------------------------
# image_spec OUT ENTRYPOINT_SCRIPT CMD_JSON: a 2-layer image: busybox with
# its applets, passwd/group (root, nginx 101), then the entrypoint.
image_spec() {
	applets=$(for a in sh id ls cat echo mkdir chown stat cp httpd sleep \
	    mount umount touch mknod unshare chroot rm dirname; do
		printf '["l", "bin/%s", "busybox"], ' "$a"
	done)
	python3 - "$1" "$2" "$3" "$BUSYBOX" "$applets" << 'EOF'
import json, sys
out, script, cmd, busybox, applets = sys.argv[1:]
base = [["d", "bin", 493], ["host", "bin/busybox", busybox, 493]] + \
    json.loads("[" + applets.rstrip(", ") + "]") + [
    ["d", "etc", 493],
    ["f", "etc/passwd", 420,
     "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/bin/sh\n"],
    ["f", "etc/group", 420, "root:x:0:\nnginx:x:101:\n"],
    ["d", "usr/sbin", 493], ["d", "var", 493]]
app = [["f", "docker-entrypoint.sh", 493, open(script).read()],
       ["f", "usr/sbin/nginx", 493,
        "#!/bin/sh\nexec httpd -f -p 80 -h /usr/share/nginx/html\n"],
       ["f", "usr/share/nginx/default/index.html", 420,
        "<h1>lodge runs nginx:alpine</h1>\n"]]
json.dump({"tag": "v1", "images": [{"arch": "amd64",
    "config": {"Entrypoint": ["/docker-entrypoint.sh"],
               "Cmd": json.loads(cmd),
               "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       "NGINX_VERSION=1.25.5"],
               "ExposedPorts": {"80/tcp": {}}},
    "layers": [base, app]}]}, open(out, "w"))
EOF
}

# nginx-like: wants root (binds :80, writes under /var, chowns), fills the
# SDL's volume at /usr/share/nginx/html, then execs its Cmd
cat > "$T/nginx-entry.sh" << 'EOF'
#!/bin/sh
set -e
mkdir -p /var/cache/nginx /var/run /usr/share/nginx/html
chown nginx:nginx /var/cache/nginx
echo $$ > /var/run/nginx.pid
cp /usr/share/nginx/default/index.html /usr/share/nginx/html/index.html
{
	echo "uid=$(id -u) gid=$(id -g)"
	echo "cache_owner=$(stat -c %U /var/cache/nginx)"
	echo "cmd=$*"
	echo "version=$NGINX_VERSION"
	echo "secret=${APP_SECRET:-none}"
} > /usr/share/nginx/html/whoami.txt
exec "$@"
EOF
# hostile: tries to get out, says what happened, then serves
cat > "$T/hostile-entry.sh" << 'EOF'
#!/bin/sh
try() {
	name=$1; shift
	if "$@" > /dev/null 2>&1; then echo "escape-$name: SUCCEEDED"
	else echo "escape-$name: blocked"; fi
}
mkdir -p /mnt /usr/share/nginx/html
try mount-tmpfs mount -t tmpfs none /mnt
try mount-bind mount -o bind / /mnt
try mount-proc mount -t proc proc /mnt
try unshare-user unshare -U true
try unshare-mount unshare -m true
try chroot-proc chroot /proc/1/root true
try mknod-disk mknod /tmp/sda b 8 0
try sysrq sh -c 'echo 1 > /proc/sys/kernel/sysrq'
try host-shadow cat /etc/shadow
try host-key cat "$HOST_KEY"
# the host's path, written inside: it must stay the container's own
mkdir -p "$(dirname "$HOST_PATH")" && echo pwned > "$HOST_PATH" &&
    echo "wrote-inside: $HOST_PATH"
echo "hostile done"
echo hostile > /usr/share/nginx/html/index.html
exec httpd -f -p 80 -h /usr/share/nginx/html
EOF

registry_start plain || { notok "registry starts"; finish; }
R1=$REG
R1_PID=$rs_pid
ok "docker-registry listens on $R1"
image_spec "$T/nginx.json" "$T/nginx-entry.sh" '["nginx", "-g", "daemon off;"]'
check "push library/nginx:alpine (busybox root) to the local registry" \
    image_push "$T/nginx.json" "$R1" library/nginx:alpine
NGINX_DIGEST=$(skopeo inspect --tls-verify=false \
    "docker://$R1/library/nginx:alpine" | jq -r .Digest)
image_spec "$T/hostile.json" "$T/hostile-entry.sh" '[]'
check "push lodge/hostile:v1" image_push "$T/hostile.json" "$R1" \
    lodge/hostile:v1

htpasswd -Bbn alice 'b4sic-s3cret' > "$T/htpasswd" 2> /dev/null
registry_start basic "  htpasswd:
    realm: lodge-test
    path: $T/htpasswd" || notok "a registry with Basic auth starts"
R2=$REG
check "push private/app:v1 to the Basic-auth registry" \
    image_push "$T/nginx.json" "$R2" private/app:v1 alice:b4sic-s3cret

# ---- the cluster -------------------------------------------------------
check "market starts (uakt and uact, as Akash's SDL files price)" \
    cluster_market --denoms uakt,uact
# mirror and cache on init; the insecure registries and the id base on run
CLUSTER_RUN_ARGS="--insecure-registry $R1 --insecure-registry $R2 --id-base $ID_BASE"
check "provider starts with a docker.io mirror" cluster_provider p1 \
    region=eu denom=uact,cpu_ms=1000,mem_mb_s=1,storage_mb_s=1 \
    --registry-mirror "docker.io=http://$R1" --image-cache-max 1Mi
CLUSTER_RUN_ARGS=
check "the provider offers the oci runtime" sh -c \
    "curl -s -m 5 '$p1_URL/v1/info' | jq -e '.runtimes | index(\"oci\")'"
check "the market lists it with runtime oci" sh -c \
    "curl -s -m 5 '$MARKET/v1/providers' | jq -e '.[] | select(.ask.api_url == \"$p1_URL\") | .ask.runtimes | index(\"oci\")'"
check "tenant alice gets a key" cluster_tenant alice 1000000000
"$BIN/market" deposit --data "$CL/market" --denom uact "$alice_ADDR" \
    1000000000 > /dev/null

# ---- awesome-akash's react SDL, unchanged -----------------------------
check "the SDL names nginx:alpine and runtime oci" sh -c \
    "grep -q 'image: nginx:alpine' '$SDL' && $BIN/sdl orders '$SDL' | jq -e '.[0].runtimes == [\"oci\"]'"
check "alice deploys react/deploy.yaml (exit 0)" to "$T/d.json" timeout 90 \
    sh -c "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant deploy '$SDL' --timeout 60 --json"
sed 's/^/#   /' "$T/d.json.err" | tail -12
L1=$(jq -r '.orders[0].lease' "$T/d.json")
URL=$(jq -r '.orders[0].services.web' "$T/d.json")
check "the nginx image answers through the gateway" \
    [ "$(http_code "$URL")" = 200 ]
check "... with the page its entrypoint put in the SDL's volume" sh -c \
    "curl -s -m 10 '$URL' | grep -q 'lodge runs nginx:alpine'"
curl -s -m 10 "${URL}whoami.txt" > "$T/whoami" 2> /dev/null
check "the workload is root inside (uid 0, gid 0)" grep -qx 'uid=0 gid=0' \
    "$T/whoami"
check "its entrypoint chowned /var/cache/nginx to the image's nginx user" \
    grep -qx 'cache_owner=nginx' "$T/whoami"
check "argv is Entrypoint + Cmd, env the image's" sh -c \
    "grep -qx 'cmd=nginx -g daemon off;' $T/whoami && grep -qx 'version=1.25.5' $T/whoami"
check "tenant status shows it running" pstatus "$L1"
WPID=$(workload_pid)
check "seen from the host, the workload's uid is the lease's unprivileged one ($ID_BASE)" \
    grep -q "^Uid:[[:space:]]*$ID_BASE[[:space:]]" "/proc/$WPID/status"
check "... its gid too, and it is in its own user namespace" sh -c \
    "grep -q '^Gid:[[:space:]]*$ID_BASE[[:space:]]' /proc/$WPID/status && [ \"\$(readlink /proc/$WPID/ns/user)\" != \"\$(readlink /proc/self/ns/user)\" ]"
check "its capabilities are the container default set, under seccomp" sh -c \
    "grep -q '^CapEff:[[:space:]]*00000000a80425fb' /proc/$WPID/status && grep -q '^CapBnd:[[:space:]]*00000000a80425fb' /proc/$WPID/status && grep -q '^Seccomp:[[:space:]]*2' /proc/$WPID/status && grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$WPID/status"
check "the status names the image's digest, pulled" jq -e \
    ".provider.images.web.state == \"ready\" and .provider.images.web.digest == \"$NGINX_DIGEST\" and .provider.images.web.reference == \"docker.io/library/nginx:alpine\"" \
    "$T/st.json"
check "tenant status prints the image and its digest" sh -c \
    "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET status $L1 | grep 'image' | grep -q '$NGINX_DIGEST'"
check "deploy showed the image pulled" grep -q "docker.io/library/nginx:alpine" \
    "$T/d.json.err"
# tenant exec in an image: its root, its user namespace, the workload's
# capabilities (an image's root keeps the container default set), no more
XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market "$MARKET" exec "$L1" web -- \
    sh -c 'id -u; cat /usr/share/nginx/html/whoami.txt; grep -E "^(CapEff|CapBnd):" /proc/self/status' \
    < /dev/null > "$T/exec.out" 2>&1
WL=$(workload_pid)
check "tenant exec in an image: root of its user namespace, the image's files" \
    sh -c "[ \"\$(head -1 $T/exec.out)\" = 0 ] && grep -q '^version=1.25.5' $T/exec.out"
check "tenant events shows the image's pull" sh -c \
    "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET events $L1 | grep 'provider  image.pulled' | grep -q '$NGINX_DIGEST'"
check "  with exactly the workload's capabilities" sh -c "
	[ -n '$WL' ] &&
	[ \"\$(grep '^CapEff:' $T/exec.out)\" = \"\$(grep '^CapEff:' /proc/$WL/status)\" ] &&
	[ \"\$(grep '^CapBnd:' $T/exec.out)\" = \"\$(grep '^CapBnd:' /proc/$WL/status)\" ]"
check "lease.started in the ledger names the digest" sh -c \
    "$BIN/ledger show $CL/market/ledger.db --json | jq -se 'any(.[]; .entry.kind == \"lease.started\" and .entry.body.lease == \"$L1\" and .entry.body.images.web == \"$NGINX_DIGEST\")'"
check "the mirror served it: the registry's log has the manifest request" \
    grep -q 'library/nginx/manifests/alpine' "$T/plain/log"

# ---- Basic auth with the SDL's credentials ----------------------------
cred_sdl() {
	cat << EOF
version: "2.0"
services:
  app:
    image: $R2/private/app:v1
    credentials:
      host: $R2
      email: alice@example.org
      username: alice
      password: "$1"
    env:
      - APP_SECRET=from-the-sdl
    expose:
      - port: 80
        as: 80
        to:
          - global: true
profiles:
  compute:
    app:
      resources:
        cpu:
          units: 0.1
        memory:
          size: 128Mi
        storage:
          size: 64Mi
  placement:
    dc:
      pricing:
        app:
          denom: uact
          amount: 100000
deployment:
  app:
    dc:
      profile: app
      count: 1
EOF
}
cred_sdl 'b4sic-s3cret' > "$T/cred.yaml"
check "alice deploys a private image with the SDL's credentials" \
    to "$T/c.json" timeout 90 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant deploy $T/cred.yaml --timeout 60 --json"
sed 's/^/#   /' "$T/c.json.err" | tail -3
CURL=$(jq -r '.orders[0].services.app' "$T/c.json")
check "it answers through the gateway, with the SDL's env over the image's" \
    sh -c "curl -s -m 10 '${CURL}whoami.txt' | grep -qx 'secret=from-the-sdl'"
cred_sdl 'wrong-pa55word' > "$T/bad.yaml"
XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET timeout 90 $BIN/tenant deploy \
    "$T/bad.yaml" --timeout 60 > "$T/bad.out" 2> "$T/bad.err"
rc=$?
sed 's/^/#   /' "$T/bad.err" | tail -2
check "a wrong password: the deploy fails (exit 5) naming the refusal" sh -c \
    "[ $rc = 5 ] && grep -qi 'unauthorized\|401\|denied\|credentials' $T/bad.err"
check "no password in the provider's log nor the tenant's output" sh -c \
    "! grep -q 'b4sic-s3cret\|wrong-pa55word' $CL/p1.log $T/bad.err $T/c.json.err"

# ---- a hostile image -------------------------------------------------
cat > "$T/hostile.yaml" << EOF
version: "2.0"
services:
  evil:
    image: lodge/hostile:v1
    env:
      - HOST_PATH=$T/escaped-from-the-container
      - HOST_KEY=$CL/p1/provider.key
    expose:
      - port: 80
        as: 80
        to:
          - global: true
profiles:
  compute:
    evil:
      resources:
        cpu:
          units: 0.1
        memory:
          size: 128Mi
        storage:
          size: 64Mi
  placement:
    dc:
      pricing:
        evil:
          denom: uact
          amount: 100000
deployment:
  evil:
    dc:
      profile: evil
      count: 1
EOF
check "alice deploys the hostile image" to "$T/h.json" timeout 90 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant deploy $T/hostile.yaml --timeout 60 --json"
sed 's/^/#   /' "$T/h.json.err" | tail -3
LH=$(jq -r '.orders[0].lease' "$T/h.json")
until_ok 10 sh -c "XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET logs $LH | grep -q 'hostile done'" > /dev/null
XDG_CONFIG_HOME=$CL/alice $BIN/tenant --market $MARKET logs "$LH" > "$T/hostile.log" 2>&1
for e in mount-tmpfs mount-bind mount-proc unshare-user unshare-mount \
    chroot-proc mknod-disk sysrq host-shadow host-key; do
	check "hostile: $e is blocked" grep -qx "escape-$e: blocked" \
	    "$T/hostile.log"
done
check "hostile: what it wrote at a host path stayed inside" sh -c \
    "grep -q 'wrote-inside' $T/hostile.log && [ ! -e $T/escaped-from-the-container ]"
check "the provider is still healthy" sh -c \
    "curl -sf -m 5 '$p1_URL/healthz' > /dev/null && [ \"\$(curl -s -m 10 -o /dev/null -w '%{http_code}' '$URL')\" = 200 ]"

# ---- the cache, collected down to its limit (1 MiB) --------------------
layer_dirs() {
	skopeo inspect --raw --tls-verify=false "docker://$R1/$1" |
	    jq -r '.layers[].digest' | sed "s|sha256:|$CL/p1/cache/images/layers/sha256/|"
}
HOSTILE_TOP=$(layer_dirs lodge/hostile:v1 | tail -1)
check "the hostile image's own layer is cached while it runs" \
    test -d "$HOSTILE_TOP"
check "alice closes the hostile deployment" timeout 20 sh -c \
    "XDG_CONFIG_HOME=$CL/alice LODGE_MARKET=$MARKET $BIN/tenant close $(jq -r .deployment "$T/h.json")"
check "over the limit, the closed lease's layer is collected" until_ok 15 \
    sh -c "[ ! -e '$HOSTILE_TOP' ]"
check "the running leases' layers are spared" sh -c \
    "for d in $(layer_dirs library/nginx:alpine | tr '\n' ' '); do [ -d \$d/fs ] || exit 1; done"
check "and nginx still answers" [ "$(http_code "$URL")" = 200 ]
check "ledger audit passes" until_ok 10 timeout 10 "$BIN/ledger" audit \
    --market "$MARKET"

# ---- a restart runs the same bytes, from the cache ---------------------
kill "$R1_PID" 2> /dev/null
cluster_kill "$p1_PID"
CLUSTER_RUN_ARGS="--insecure-registry $R1 --insecure-registry $R2 --id-base $ID_BASE"
check "the provider restarts with its registry gone" cluster_provider_start p1
CLUSTER_RUN_ARGS=
check "nginx runs again, pinned to its digest, from the cache" until_ok 20 \
    sh -c "[ \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' '$p1_URL/l/$L1/web/')\" = 200 ]"
check "... and the provider did not pull (nothing fetched)" sh -c \
    "grep 'lease $L1: web: .* is $NGINX_DIGEST' $CL/p1.log | tail -1 | grep -q '0 bytes fetched'"
check "the digest pinned for the lease is the one that ran" sh -c \
    "jq -e '.web == \"$NGINX_DIGEST\"' $CL/p1/leases/$L1/images.json"
finish
