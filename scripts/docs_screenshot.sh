#!/usr/bin/env bash
# Retakes docs/api-docs.png, the README's picture of the API docs page with a signed answer:
# runs the browser test (tests/test_api_docs.py) with FLUXA_DOCS_SCREENSHOT set, on the same
# private servers as `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
make install >/dev/null
FLUXA_DOCS_SCREENSHOT=docs/api-docs.png bash scripts/test.sh -q tests/test_api_docs.py -k try_it_out
echo "docs_screenshot.sh: wrote docs/api-docs.png"
