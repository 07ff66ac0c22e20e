# Sourced by scripts/test.sh: installs Debian's `chromium` when missing, for the browser tests
# (tests/test_api_docs.py drives it with Playwright, which cannot download browsers of its own
# here). Runs `apt-get update` once first; apt waits for the dpkg lock when another install
# holds it (and the update is retried while the package lists are locked) instead of failing.
#
# Sets: FLUXA_CHROMIUM_BIN (absolute path of chromium).

if ! command -v chromium >/dev/null; then
  echo "browser.sh: installing chromium"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  apt_wait=(-o DPkg::Lock::Timeout=900)
  for attempt in $(seq 60); do
    $SUDO apt-get "${apt_wait[@]}" update -qq && break
    [ "$attempt" -lt 60 ] || { echo "browser.sh: apt-get update kept failing" >&2; exit 1; }
    sleep 10
  done
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${apt_wait[@]}" install -y -qq chromium >/dev/null
fi
FLUXA_CHROMIUM_BIN=$(command -v chromium) || { echo "browser.sh: chromium is not on PATH after the install" >&2; exit 1; }
export FLUXA_CHROMIUM_BIN
