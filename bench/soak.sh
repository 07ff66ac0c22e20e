#!/usr/bin/env bash
# The soak of docs/benchmarks.md: `make run DEVCHAIN=1` for N minutes (default 30) while test
# charges are paid on the local anvil and litecoind every few seconds (bench/soak.py).
#   bash bench/soak.sh [MINUTES] [more bench/soak.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s install
source scripts/nodes.sh  # anvil (into .nodes/) and litecoind: FLUXA_ANVIL_BIN, FLUXA_LITECOIND_BIN
minutes=${1:-30}
shift || true
exec nice -n 10 .venv/bin/python bench/soak.py --minutes "$minutes" "$@"
