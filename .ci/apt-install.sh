#!/usr/bin/env bash
# apt-get install the Debian packages named (no recommends), as root or through sudo; the package
# lists are refreshed only when apt does not know the first package yet (a fresh image has empty
# lists; a warm CI runner need not spend the network time). Run by the install-*.sh scripts.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "apt-install.sh: need root or sudo to apt-get install $*" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show "$1" >/dev/null 2>&1; then
    $SUDO apt-get update
fi
$SUDO apt-get install -y --no-install-recommends "$@"
