#!/usr/bin/env bash
# Install Debian's headless-capable Chromium, used by tests/test_report.py to render report.html.
# Idempotent: does nothing when /usr/bin/chromium already exists. Needs root (or sudo) and apt.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-chromium.sh: need root or sudo to apt-get install chromium" >&2; exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when apt does not know the package yet (a fresh image has
# empty lists); an update costs network time a warm CI runner does not need to spend.
if ! apt-cache show chromium >/dev/null 2>&1; then
    $SUDO apt-get update
fi
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core

/usr/bin/chromium --version
