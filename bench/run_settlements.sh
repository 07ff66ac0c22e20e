#!/usr/bin/env bash
# EVM settlements on anvil (bench/settlements.py): 1,000 paid ETH orders settled by the beat
# jobs, gas per settlement against bare transfers, value lost to the network; on a private
# PostgreSQL + Redis and a local anvil node, all on 127.0.0.1. Writes its section of
# docs/benchmarks.md (`--no-doc` only prints it; `--orders N` for a shorter run).
set -euo pipefail
cd "$(dirname "$0")/.."
test -x .venv/bin/python || make install
source bench/services.sh
source scripts/nodes.sh  # exports FLUXA_ANVIL_BIN
.venv/bin/python bench/settlements.py "$@"
