#!/usr/bin/env bash
# A local Cognito for the examples: `cognito-session dev` from this checkout, with moto in .venv
# (installed on first use, as scripts/setup.sh does). It prints the `export` lines for every
# variable; `scripts/dev.sh --app` also runs the web_app example on http://localhost:3000, and
# `scripts/dev.sh -- <command>` runs your own. Ctrl-C stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
cli="${CARGO_TARGET_DIR:-target}/debug/cognito-session"
if [[ " $* " == *" --app "* ]]; then
  # One build for the CLI and the example: built apart, each would compile the library (with
  # other features) and the CLI again. `dev --app` then finds the example up to date.
  cargo build --quiet -p cognito-session-cli -p cognito-session -p testkit --bin cognito-session --bin account-fake --example web_app
  if [[ -x "$cli" ]]; then
    exec "$cli" dev --venv .venv "$@"
  fi
fi
exec cargo run --quiet -p cognito-session-cli -- dev --venv .venv "$@"
