#!/bin/sh
# Install what tendo needs to build and test on Debian/Ubuntu.
# As root it installs with apt-get; otherwise it prints the exact command.
# Called by the Makefile before the first build; safe to run again.
set -eu

PKGS="make gcc flex bison pkg-config libpcre2-dev libjansson-dev nettle-dev python3 time"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || true
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >&2
    exit 0
fi

echo "deps: missing packages:$missing" >&2
echo "deps: install them with:  sudo apt-get install$missing" >&2
exit 1
