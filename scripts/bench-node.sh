#!/usr/bin/env bash
# The Node.js package's `session()` (token mode, JWKS preloaded) against aws-jwt-verify's
# `verifySync`, both on Node, on the same tokens, on one pinned core, in one run: without and with
# our verified-token cache. The addon is the shipped build (scripts/node-build.sh).
#
#   scripts/bench-node.sh [TOKENS=1000] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
tokens=${1:-1000}
seconds=${2:-10}
out=bench/out/node
core=$(( $(nproc) - 1 ))
pin() { if command -v taskset >/dev/null; then taskset -c "$core" "$@"; else "$@"; fi; }

if [ ! -d bench/peer/node_modules/aws-jwt-verify ]; then
  (cd bench/peer && npm ci --no-audit --no-fund --silent)
fi
[ -n "${NODE_ADDON_BUILT:-}" ] || scripts/node-build.sh x86_64 >/dev/null
# Only to mint the tokens (the same as scripts/bench-peer.sh's): a debug build does.
cargo build --quiet -p cognito-session-tools --bin verify_bench
bin=${CARGO_TARGET_DIR:-target}/debug/verify_bench
"$bin" mint "$out" "$tokens"

# The package as npm lays it out, with this machine's addon beside its loader.
pkg=$out/cognito-session
rm -rf "$pkg" && cp -r crates/cognito-session-node/npm/cognito-session "$pkg"
cp crates/cognito-session-node/npm/linux-x64-gnu/cognito-session.linux-x64-gnu.node "$pkg/"

{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) vCPU, node $(node --version), $(rustc --version), load $(cut -d' ' -f1-3 /proc/loadavg)"
  pin node bench/peer/verify.mjs "$out" "$seconds"
  pin node bench/peer/session.mjs "$out" "$seconds" 0 "$PWD/$pkg"
  pin node bench/peer/session.mjs "$out" "$seconds" 4096 "$PWD/$pkg"
} | tee "$out/results.jsonl"

python3 - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
peer, ours, cached = rows
print(f"\n{'verifier':75} {'per s per core':>15} {'µs each':>9}")
for r in rows:
    print(f"{r['verifier']:75} {r['per_second_per_core']:>15,.0f} {r['microseconds_each']:>9.2f}")
print(f"\nsession() / aws-jwt-verify verifySync: {ours['per_second_per_core'] / peer['per_second_per_core']:.2f}x without "
      f"the cache (target 1.5x), {cached['per_second_per_core'] / peer['per_second_per_core']:.1f}x with it (target 10x)")
PY

# Cold start: `require` and the first session() in fresh processes (median of 20 each), with the
# JWKS preloaded and fetched from 127.0.0.1; and the addon's size.
python3 - "$out" "$PWD/$pkg" <<'PY'
import json, statistics, subprocess, sys
out, pkg = sys.argv[1], sys.argv[2]
print(f"\n{'cold start (median of 20 processes)':40} {'require':>9} {'1st call':>9} {'2nd call':>9}")
for mode in ("preload", "fetch"):
    runs = [json.loads(subprocess.run(["node", "bench/peer/cold.mjs", out, pkg, mode], check=True,
            capture_output=True, text=True).stdout) for _ in range(20)]
    med = lambda k: statistics.median(r[k] for r in runs)
    print(f"{'JWKS ' + mode:40} {med('require_ms'):>7.2f}ms {med('first_call_ms'):>7.2f}ms {med('second_call_ms'):>7.3f}ms")
PY
ls -l crates/cognito-session-node/npm/linux-*-gnu/*.node
