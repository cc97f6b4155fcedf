#!/bin/sh
# Install the Debian packages coachfs needs to build, test and benchmark.
#   tools/deps.sh               install all (apt-get update first)
#   tools/deps.sh --if-missing  install only when something is missing
#   --bench                     also gocryptfs, bindfs, fio
set -eu
pkgs="build-essential pkg-config libfuse3-dev fuse3 libsodium-dev libsqlite3-dev sqlite3 libinih-dev attr util-linux passwd python3 clang libclang-rt-14-dev man-db groff-base mandoc chromium"
if_missing=0
for a in "$@"; do
	case "$a" in
	--if-missing) if_missing=1 ;;
	--bench) pkgs="$pkgs gocryptfs bindfs fio" ;;
	--fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
	-h|--help) sed -n '2,6p' "$0"; exit 0 ;;
	*) echo "deps.sh: unknown argument '$a'" >&2; exit 2 ;;
	esac
done
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ $if_missing = 1 ] && [ -z "$missing" ]; then exit 0; fi
[ -z "$missing" ] && missing="$pkgs"
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing — run as root to install them" >&2
	exit 1
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
