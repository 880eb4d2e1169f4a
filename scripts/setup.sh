#!/usr/bin/env bash
# Installs what the tests and the demo need: moto (DynamoDB + Cognito emulator) in .venv, pinned in
# crates/cognito-session-cli/moto-requirements.txt (which `cognito-session dev` installs too), and
# headless Chromium with chromedriver for the browser tests (scripts/browser-setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c 'import moto.server, flask_cors' 2>/dev/null; then
  echo "setup: installing moto into .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check \
    -r crates/cognito-session-cli/moto-requirements.txt
fi
scripts/browser-setup.sh
