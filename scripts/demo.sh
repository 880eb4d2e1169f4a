#!/usr/bin/env bash
# The demo: moto plays AWS; one user logs in, is served, gets refreshed, logs out, is refused.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --quiet -p cognito-session-tools --bin demo
