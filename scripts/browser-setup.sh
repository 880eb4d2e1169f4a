#!/usr/bin/env bash
# Installs what the browser tests need: headless Chromium and its WebDriver (Debian packages
# `chromium` and `chromium-driver`, giving /usr/bin/chromium and /usr/bin/chromedriver), and
# `fonts-liberation` so that screenshots have real fonts. Does nothing when both binaries are
# there. Needs apt-get, and root or sudo.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser-setup: apt-get not found; install Chromium and chromedriver so that" \
    "/usr/bin/chromium and /usr/bin/chromedriver exist" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "browser-setup: installing chromium needs root: run as root or install sudo" >&2
    exit 1
  }
  sudo="sudo"
fi
apt() {
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get --yes --quiet --quiet "$@" >/dev/null
}
install_packages() {
  apt install --no-install-recommends chromium chromium-driver fonts-liberation
}
echo "browser-setup: installing chromium and chromium-driver" >&2
if ! install_packages; then
  echo "browser-setup: install failed, running apt-get update and retrying" >&2
  apt update
  install_packages
fi
for binary in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$binary" ] || { echo "browser-setup: $binary still missing after the install" >&2; exit 1; }
done
