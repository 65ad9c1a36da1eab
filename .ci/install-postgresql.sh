#!/usr/bin/env bash
# Install Debian's PostgreSQL server, used by tests/flows/test_work_pool.py (Prefect's database in
# a throwaway cluster). Idempotent: does nothing when initdb is already installed. Needs root (or
# sudo) and apt.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "postgresql already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-postgresql.sh: need root or sudo to apt-get install postgresql" >&2; exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show postgresql >/dev/null 2>&1; then
    $SUDO apt-get update
fi
$SUDO apt-get install -y --no-install-recommends postgresql

ls -d /usr/lib/postgresql/*/bin/initdb
