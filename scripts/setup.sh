#!/usr/bin/env bash
# Installs what the tests and the demo need: moto (DynamoDB + Cognito emulator) in .venv, and
# headless Chromium with chromedriver for the browser tests (scripts/browser-setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_SPEC='moto[cognitoidp,dynamodb,kms]==5.2.5'
if ! .venv/bin/python -c 'import moto.server, flask_cors' 2>/dev/null; then
  echo "setup: installing moto into .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "$MOTO_SPEC" flask flask-cors
fi
scripts/browser-setup.sh
