#!/usr/bin/env bash
# Install Debian packages the tests need, unless they are there:
#   apt-install.sh WHAT GLOB PACKAGE...
# does nothing when a file matches GLOB (WHAT names the packages in its messages; GLOB "-": the
# caller checked what is missing). Needs root (or sudo) and apt.
set -euo pipefail
what=$1 glob=$2
shift 2

if [ "$glob" != "-" ] && compgen -G "$glob" >/dev/null; then
    echo "$what already installed: $(compgen -G "$glob" | tr '\n' ' ')"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "apt-install.sh: need root or sudo to apt-get install $*" >&2; exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when apt does not know the package yet (a fresh image has
# empty lists); an update costs network time a warm CI runner does not need to spend.
if ! apt-cache show "$1" >/dev/null 2>&1; then
    $SUDO apt-get update
fi
$SUDO apt-get install -y --no-install-recommends "$@"
