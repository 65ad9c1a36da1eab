#!/usr/bin/env bash
# Install Debian's headless-capable Chromium, used by tests/test_report.py to render report.html.
# Idempotent: does nothing when /usr/bin/chromium already exists. Needs root (or sudo) and apt.
set -euo pipefail
bash "$(dirname "$0")/apt-install.sh" chromium /usr/bin/chromium chromium fonts-dejavu-core
/usr/bin/chromium --version
