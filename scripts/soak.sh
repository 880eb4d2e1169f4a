#!/usr/bin/env bash
# The reliability soak (see RELIABILITY.md): `scripts/soak.sh [requests]` (default 10000) session
# checks across 200 users against moto behind the fault-injecting proxy (10% of calls faulted).
# Bounded in requests and in time (20 minutes). Prints the counts; exits non-zero if a session
# was wrongly deleted, a request wrongly authorized, or a request that met no fault refused.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
requests="${1:-10000}"
cargo build --quiet -p cognito-session-tools --bin soak
exec timeout 1500 cargo run --quiet -p cognito-session-tools --bin soak -- "$requests"
