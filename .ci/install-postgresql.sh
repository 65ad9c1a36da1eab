#!/usr/bin/env bash
# Install Debian's PostgreSQL server, used by tests/flows/test_work_pool.py (Prefect's database in
# a throwaway cluster). Idempotent: does nothing when initdb is already installed. Needs root (or
# sudo) and apt.
set -euo pipefail
bash "$(dirname "$0")/apt-install.sh" postgresql "/usr/lib/postgresql/*/bin/initdb" postgresql
