#!/usr/bin/env bash
# Address derivation per address (bench/derivation.py), fluxa next to a bare reference in the
# same run; with --refill N, the pool refill into a private PostgreSQL (bench/services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
test -x .venv/bin/python || make install
if [[ " $* " == *" --refill "* ]]; then
  source bench/services.sh
fi
.venv/bin/python bench/derivation.py "$@"
