#!/usr/bin/env bash
# Every test: unit, integration against moto (each test binary starts its own moto on a free
# 127.0.0.1 port), the example run as a real Lambda process, and the doc examples.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast --lib --tests --examples
fi
cargo test --workspace --doc
