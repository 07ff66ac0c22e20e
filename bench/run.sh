#!/usr/bin/env bash
# The benchmark of docs/benchmarks.md, bounded in time and on 127.0.0.1 only:
#   bash bench/run.sh [bench/run.py options]   (e.g. --duration 15 --workers 2 --threads 4)
# Starts a private PostgreSQL and Redis on free loopback ports under a temporary folder
# (bench/services.sh), runs bench/run.py (migrate, seed 1,000,000 orders, EXPLAIN, gunicorn,
# load phases, docs/benchmarks.md), then stops everything and removes the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || make install
source bench/services.sh
# The whole run takes about 5 minutes; 15 minutes is the hard stop.
timeout --signal=TERM --kill-after=30 900 .venv/bin/python bench/run.py --command "bash bench/run.sh $*" "$@"
