#!/usr/bin/env bash
# The first request of a fresh gunicorn worker (bench/coldstart.py) on a private PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
test -x .venv/bin/python || make install
source bench/services.sh
.venv/bin/python bench/coldstart.py "$@"
