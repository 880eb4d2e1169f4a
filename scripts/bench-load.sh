#!/usr/bin/env bash
# Throughput under load: examples/load_target.rs (a minimal HTTP app that checks the session of
# every request, moto behind it) on 127.0.0.1, driven by examples/load_gen.rs, bounded in
# requests and time. Token mode and session mode, verified-token cache on and off.
#
#   scripts/bench-load.sh [REQUESTS=20000] [SECONDS=20] [CONNECTIONS=16]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20000}
seconds=${2:-20}
connections=${3:-16}
target=${CARGO_TARGET_DIR:-target}
out=bench/out/load
mkdir -p "$out"
scripts/setup.sh
cargo build --quiet --release -p cognito-session --example load_target --example load_gen

# The target serves until its standard input closes: keep a pipe open, close it at the end.
coproc TARGET { MAX_SECONDS=600 "$target/release/examples/load_target"; }
trap 'exec {TARGET[1]}>&-; wait "$TARGET_PID" 2>/dev/null || true' EXIT
read -r info <&"${TARGET[0]}"
url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["url"])' "$info")
cookie=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["cookie"])' "$info")

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) vCPU, $(rustc --version)" | tee "$out/results.jsonl"
for path in token token/uncached session session/uncached; do
  # A short warm-up (connections, JWKS, cache), then the measured run.
  "$target/release/examples/load_gen" "$url/$path" "$cookie" 200 5 4 > /dev/null
  "$target/release/examples/load_gen" "$url/$path" "$cookie" "$requests" "$seconds" "$connections" | tee -a "$out/results.jsonl"
done
python3 - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\n{'path':22} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses")
for r in rows:
    path = r["url"].split("/", 3)[3]
    print(f"/{path:21} {r['requests']:>9} {r['requests_per_second']:>9,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}  {r['statuses']}")
PY
