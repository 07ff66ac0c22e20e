#!/usr/bin/env bash
# In-process cost per request of the benchmarked endpoints (bench/percall.py), for tuning:
#   bash bench/percall.sh [--requests 400] [--cprofile charge|bare|list|bare-list]
# Starts the private PostgreSQL and Redis of bench/services.sh and stops them afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || make install
source bench/services.sh
timeout --signal=TERM --kill-after=30 600 .venv/bin/python bench/percall.py "$@"
