#!/usr/bin/env bash
# A local Cognito for the examples: `cognito-session dev` from this checkout, with moto in .venv
# (installed on first use, as scripts/setup.sh does). It prints the `export` lines for every
# variable; `scripts/dev.sh --app` also runs the web_app example on http://localhost:3000, and
# `scripts/dev.sh -- <command>` runs your own. Ctrl-C stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet -p cognito-session-cli -- dev --venv .venv "$@"
