# Sourced by the image tests and bench (after lib.sh or with T and PIDS
# set): Debian's docker-registry (distribution 2.8) on a free loopback
# port in a directory of $T, images written as OCI layouts by
# oci_image.py and pushed with skopeo, without Docker.
E2E=$ROOT/tests/e2e
DRV=${DRV:-$ROOT/build/release/e2e/drv_image}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# registry_start NAME [AUTH_YAML]: a registry storing under $T/NAME;
# sets REG (host:port) and REG_DIR.  AUTH_YAML is the config's "auth:"
# block, indented by two spaces.
registry_start() {
	rs_dir=$T/$1
	mkdir -p "$rs_dir/data"
	for rs_try in 1 2 3; do
		rs_port=$(free_port)
		cat > "$rs_dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $rs_dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$rs_port
  secret: lodge-test-secret
${2:+auth:
$2}
EOF
		docker-registry serve "$rs_dir/config.yml" > "$rs_dir/log" 2>&1 &
		rs_pid=$!
		PIDS="$PIDS $rs_pid"
		rs_end=$(($(date +%s) + 10))
		while kill -0 $rs_pid 2> /dev/null; do
			rs_code=$(curl -s -o /dev/null -w '%{http_code}' \
			    "http://127.0.0.1:$rs_port/v2/")
			if [ "$rs_code" != 000 ]; then
				REG=127.0.0.1:$rs_port
				REG_DIR=$rs_dir
				return 0
			fi
			[ "$(date +%s)" -ge $rs_end ] && break
			sleep 0.1
		done
		kill $rs_pid 2> /dev/null
	done
	echo "docker-registry did not start:"
	cat "$rs_dir/log"
	return 1
}

# image_push SPEC_JSON REG NAME:TAG [USER:PASS]: build the layout and
# push it (every platform of an index).
image_push() {
	ip_dir=$(mktemp -d "$T/layout-XXXXXX")
	python3 "$E2E/oci_image.py" "$1" "$ip_dir" > /dev/null || return 1
	ip_tag=$(jq -r .tag "$1")
	skopeo --insecure-policy copy -q --all --dest-tls-verify=false \
	    ${4:+--dest-creds "$4"} "oci:$ip_dir:$ip_tag" "docker://$2/$3"
}
