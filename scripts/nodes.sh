# Sourced by scripts/test.sh after scripts/services.sh: installs the local blockchain nodes the
# chain adapter tests run against into the git-ignored folder .nodes/ (once per pinned version;
# later runs only check it) and exports where they are. Installs Node.js and npm from Debian's
# packages when missing. The tests start and stop the nodes themselves (testing/anvil.py).
#
# Sets: FLUXA_ANVIL_BIN (absolute path of anvil, from the npm package @foundry-rs/anvil, whose
# per-platform optional dependency @foundry-rs/anvil-<os>-<arch> carries the binary).

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
ANVIL_VERSION=1.7.1
NODES_DIR="$ROOT/.nodes"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) anvil_platform=linux-amd64 ;;
  Linux-aarch64 | Linux-arm64) anvil_platform=linux-arm64 ;;
  Darwin-x86_64) anvil_platform=darwin-amd64 ;;
  Darwin-arm64) anvil_platform=darwin-arm64 ;;
  *) echo "nodes.sh: no anvil build for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
anvil_pkg="@foundry-rs/anvil-$anvil_platform"
export FLUXA_ANVIL_BIN="$NODES_DIR/node_modules/$anvil_pkg/bin/anvil"

nodes_installed() {  # the pinned anvil is there and runs
  [ -x "$FLUXA_ANVIL_BIN" ] && "$FLUXA_ANVIL_BIN" --version 2>/dev/null | grep -q "Version: $ANVIL_VERSION\b"
}

if ! nodes_installed; then
  if ! command -v npm >/dev/null; then
    echo "nodes.sh: installing nodejs npm"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
  fi
  echo "nodes.sh: installing @foundry-rs/anvil@$ANVIL_VERSION into .nodes/"
  mkdir -p "$NODES_DIR"
  # The wrapper package's postinstall script only looks for (or downloads) the platform
  # package, which we name ourselves, so no install scripts run. The lock keeps two
  # concurrent runs from installing over each other.
  (
    flock 9
    nodes_installed || npm install --prefix "$NODES_DIR" --no-save --no-package-lock \
      --no-audit --no-fund --ignore-scripts --loglevel=error \
      "@foundry-rs/anvil@$ANVIL_VERSION" "$anvil_pkg@$ANVIL_VERSION" >/dev/null
  ) 9>"$NODES_DIR/.lock"
  nodes_installed || { echo "nodes.sh: $FLUXA_ANVIL_BIN does not run as anvil $ANVIL_VERSION" >&2; exit 1; }
fi

# litecoind (Debian package `litecoind`, 0.21.x) for the UTXO adapter tests, run in regtest by
# testing/litecoind.py. Bitcoin Core is not packaged by Debian; litecoind answers the same
# bitcoind JSON-RPC. Installed system-wide by apt when missing (apt-get update only when the
# install fails without it).
# Sets: FLUXA_LITECOIND_BIN (absolute path of litecoind).
if ! command -v litecoind >/dev/null; then
  echo "nodes.sh: installing litecoind"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq litecoind >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq litecoind >/dev/null
  fi
fi
FLUXA_LITECOIND_BIN=$(command -v litecoind) || { echo "nodes.sh: litecoind is not on PATH after the install" >&2; exit 1; }
export FLUXA_LITECOIND_BIN
