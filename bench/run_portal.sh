#!/usr/bin/env bash
# The portal's server time next to the API's at 1,000,000 orders (bench/portal.py) on a private
# PostgreSQL + Redis; writes the "Merchant portal" section of docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
test -x .venv/bin/python || make install
source bench/services.sh
timeout --signal=TERM --kill-after=30 1200 .venv/bin/python bench/portal.py "$@"
