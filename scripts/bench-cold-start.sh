#!/usr/bin/env bash
# Cold start of the `handler` example as a release build under the Runtime API emulator on
# 127.0.0.1 (JWKS preloaded with COGNITO_JWKS, token mode: no network but the emulator), its
# stripped size, and the init phase by phase.
#
#   scripts/bench-cold-start.sh [RUNS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
target=${CARGO_TARGET_DIR:-target}
out=bench/out/cold-start
mkdir -p "$out"
cargo build --quiet --release -p cognito-session --example handler && cargo build --quiet --release -p cognito-session-tools --bin cold_start
cp "$target/release/examples/handler" "$out/handler"
strip "$out/handler"
size=$(stat -c %s "$out/handler")
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) vCPU, $(rustc --version)"
echo "handler (release, stripped): $size bytes ($(python3 -c "print(f'{$size/2**20:.1f}')") MiB)"
"$target/release/cold_start" "$out/handler" "$runs" > "$out/runs.jsonl"
for i in 1 2 3 4 5; do "$target/release/cold_start" phases; done > "$out/phases.jsonl"
python3 - "$out" <<'PY'
import json, statistics, sys, collections
out = sys.argv[1]
runs = [json.loads(l) for l in open(f"{out}/runs.jsonl")]
first = sorted(r["first_response_ms"] for r in runs)
warm = sorted(r["warm_request_ms"] for r in runs)
p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]
print(f"spawn -> first response: median {statistics.median(first):.2f} ms, p90 {p(first, .9):.2f} ms ({len(runs)} runs)")
print(f"warm request round trip: median {statistics.median(warm):.2f} ms")
print(f"init (first response - warm request): median {statistics.median(first) - statistics.median(warm):.2f} ms")
phases = collections.defaultdict(list)
for l in open(f"{out}/phases.jsonl"):
    r = json.loads(l)
    phases[r["phase"]].append(r["ms"])
print("init phases in a fresh process (median of 5):")
for name, ms in phases.items():
    print(f"  {name:40} {statistics.median(ms):8.3f} ms")
PY
