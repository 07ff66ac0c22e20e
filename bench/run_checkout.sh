#!/usr/bin/env bash
# Requests per second of the checkout status endpoint against a bare Django view
# (bench/checkout_status.py), one gunicorn worker, on a private PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
test -x .venv/bin/python || make install
source bench/services.sh
timeout --signal=TERM --kill-after=30 600 .venv/bin/python bench/checkout_status.py "$@"
