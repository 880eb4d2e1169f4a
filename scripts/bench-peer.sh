#!/usr/bin/env bash
# aws-jwt-verify (npm, on Node) and cognito-session's verifier on the same tokens, on the same
# machine, in one run: each on one pinned core, JWKS preloaded, every token fully verified.
# Prints verifications per second per core for both (and ours with the verified-token cache).
#
#   scripts/bench-peer.sh [TOKENS=1000] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
tokens=${1:-1000}
seconds=${2:-10}
out=bench/out/peer
core=$(( $(nproc) - 1 ))
pin() { if command -v taskset >/dev/null; then taskset -c "$core" "$@"; else "$@"; fi; }

if [ ! -d bench/peer/node_modules/aws-jwt-verify ]; then
  (cd bench/peer && npm ci --no-audit --no-fund --silent)
fi
cargo build --quiet --release -p cognito-session-tools --bin verify_bench
bin=${CARGO_TARGET_DIR:-target}/release/verify_bench

"$bin" mint "$out" "$tokens"
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) vCPU, node $(node --version), $(rustc --version)"
  pin node bench/peer/verify.mjs "$out" "$seconds"
  pin "$bin" run "$out" "$seconds" 0
  pin "$bin" run "$out" "$seconds" 4096
} | tee "$out/results.jsonl"

python3 - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
peer, ours, cached = rows
print(f"\n{'verifier':45} {'verifications/s/core':>22} {'µs each':>9}")
for r in rows:
    print(f"{r['verifier']:45} {r['per_second_per_core']:>22,.0f} {r['microseconds_each']:>9.2f}")
print(f"\nours / aws-jwt-verify: {ours['per_second_per_core'] / peer['per_second_per_core']:.2f}x without the cache, "
      f"{cached['per_second_per_core'] / peer['per_second_per_core']:.1f}x with it")
PY
