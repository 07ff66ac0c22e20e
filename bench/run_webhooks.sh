#!/usr/bin/env bash
# Webhook deliveries per second (bench/webhooks.py) on a private PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
test -x .venv/bin/python || make install
source bench/services.sh
.venv/bin/python bench/webhooks.py "$@"
