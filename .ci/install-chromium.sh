#!/usr/bin/env bash
# Install Debian's headless-capable Chromium, used by tests/test_report.py to render report.html.
# Idempotent: does nothing when /usr/bin/chromium already exists. Needs root (or sudo) and apt.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

bash "$(dirname "$0")/apt-install.sh" chromium fonts-dejavu-core

/usr/bin/chromium --version
