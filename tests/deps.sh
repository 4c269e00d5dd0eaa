#!/bin/sh
# Installs the Debian packages Polku needs to build and test, when any are missing.
# As root it runs apt-get itself; otherwise it prints the exact command and fails.
# Usage: tests/deps.sh [build|test]   (test adds what the test suite needs)
set -eu
what=${1:-build}
pkgs="build-essential pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev"
if [ "$what" = test ]; then
    pkgs="$pkgs check libsubunit-dev python3 sqlite3 nodejs npm curl"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# nodejs/npm may come from elsewhere (nvm, nodesource): accept a working node >= 20 on PATH.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(printf '%s\n' $missing | grep -v -x -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing $missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
else
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run: sudo apt-get install -y $missing" >&2
    exit 1
fi
