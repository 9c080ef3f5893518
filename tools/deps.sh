#!/bin/sh
# make deps: install the Debian 12 packages that are missing, group by
# group, one line each ("deps: GROUP: ok" or what it installed), instead of
# apt's stream.  When apt fails, the line names the package and apt's
# error, and the exit status is non-zero.
#   tools/deps.sh 'GROUP: what it is for' 'PKG...' ['GROUP...' 'PKG...']...
installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null |
	    grep -q '^install ok installed'
}
log=$(mktemp); trap 'rm -f "$log"' EXIT INT TERM
updated=0; rc=0
while [ $# -ge 2 ]; do
	group=$1; pkgs=$2; shift 2
	missing=
	for p in $pkgs; do installed "$p" || missing="$missing $p"; done
	if [ -z "$missing" ]; then
		echo "deps: $group: ok"
		continue
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "deps: $group: missing$missing (run make deps as root)"
		rc=1; continue
	fi
	if [ $updated = 0 ]; then
		if ! apt-get update -qq > "$log" 2>&1; then
			echo "deps: apt-get update failed:"
			grep -E '^(E|W|Err):' "$log" | head -5 | sed 's/^/  /'
			exit 1
		fi
		updated=1
	fi
	printf 'deps: %s: installing%s ... ' "$group" "$missing"
	# shellcheck disable=SC2086
	if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing > "$log" 2>&1; then
		echo ok
		continue
	fi
	echo failed
	rc=1
	# one at a time, to name the package apt cannot install
	for p in $missing; do
		installed "$p" && continue
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends "$p" > "$log" 2>&1; then
			echo "deps: cannot install $p: $(grep -E '^E:' "$log" |
			    head -3 | tr '\n' ' ')"
		fi
	done
done
exit $rc
