#!/usr/bin/env bash
# `make test`: a private PostgreSQL and Redis (scripts/services.sh, installed by apt when
# missing) on free 127.0.0.1 ports, pytest against them, then both stopped. Exits non-zero on
# any failure, and when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests need no durability: a crash loses only a throwaway database.
PG_EXTRA=(fsync=off synchronous_commit=off full_page_writes=off max_connections=200)
source scripts/services.sh
source scripts/nodes.sh  # anvil and litecoind for the chain adapter tests: FLUXA_ANVIL_BIN, FLUXA_LITECOIND_BIN
source scripts/browser.sh  # Debian's chromium for the browser tests: FLUXA_CHROMIUM_BIN

# The suite's webhook receivers listen on 127.0.0.1: the operator setting that allows private
# targets is on, and the tests of the SSRF refusal turn it off (docs/security.md).
export FLUXA_WEBHOOK_ALLOW_PRIVATE=true

set +e
"$ROOT/.venv/bin/python" -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
