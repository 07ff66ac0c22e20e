#!/usr/bin/env bash
# Scan throughput with 1,000 and 100,000 watched addresses (bench/scan.py) on a private
# PostgreSQL + Redis and a local anvil node, all on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
test -x .venv/bin/python || make install
source bench/services.sh
source scripts/nodes.sh  # exports FLUXA_ANVIL_BIN
.venv/bin/python bench/scan.py "$@"
