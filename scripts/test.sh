#!/usr/bin/env bash
# Every test: the doc examples, the unit tests, the integration tests against moto (each test
# process starts its own moto on a free 127.0.0.1 port), and the handler example run as a real
# Lambda process behind a Runtime API emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --quiet -p cognito-jwt -p cognito-session -p cognito-session-cli --doc
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast --lib --tests --examples
fi
