#!/usr/bin/env bash
# Throughput under load: the axum_app example (release build) on 127.0.0.1 with moto behind it,
# driven by tools/src/bin/load_gen.rs on GET /me, bounded in requests and time. Token mode and
# session mode, verified-token cache on and off: four runs of the same app, configured by its
# environment like any deployment. tools/src/bin/load_fixture.rs provides moto, the pool, a logged-in
# user and the session table.
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
cargo build --quiet --release -p cognito-session --example axum_app && cargo build --quiet --release -p cognito-session-tools --bin load_fixture --bin load_gen

# The fixture (and moto with it) lives until its standard input closes: keep a pipe open.
coproc FIXTURE { "$target/release/load_fixture"; }
app=
cleanup() {
  [ -n "$app" ] && kill "$app" 2>/dev/null || true
  exec {FIXTURE[1]}>&-
  wait "$FIXTURE_PID" 2>/dev/null || true
}
trap cleanup EXIT
read -r info <&"${FIXTURE[0]}"
cookie=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["cookie"])' "$info")
mapfile -t env < <(python3 -c 'import json,sys; [print(f"{k}={v}") for k, v in json.loads(sys.argv[1])["env"].items()]' "$info")

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) vCPU, $(rustc --version)" | tee "$out/results.jsonl"
for mode in "token 4096" "token 0" "session 4096" "session 0"; do
  read -r validation cache <<<"$mode"
  log="$out/axum_app-$validation-$cache.log"
  env -i PATH="$PATH" "${env[@]}" PORT=0 SESSION_VALIDATION="$validation" SESSION_TOKEN_CACHE="$cache" \
    RUST_LOG=warn "$target/release/examples/axum_app" > "$log" 2>&1 &
  app=$!
  for _ in $(seq 100); do grep -q '^listening on' "$log" && break; sleep 0.1; done
  url=$(sed -n 's/^listening on //p' "$log")
  [ -n "$url" ] || { cat "$log"; exit 1; }
  # A short warm-up (connections, JWKS, cache), then the measured run.
  "$target/release/load_gen" "$url/me" "$cookie" 200 5 4 > /dev/null
  "$target/release/load_gen" "$url/me" "$cookie" "$requests" "$seconds" "$connections" |
    python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r["mode"]=sys.argv[1]; print(json.dumps(r))' "$validation, cache $cache" |
    tee -a "$out/results.jsonl"
  kill "$app"; wait "$app" 2>/dev/null || true; app=
done
python3 - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\n{'mode':22} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses")
for r in rows:
    print(f"{r['mode']:22} {r['requests']:>9} {r['requests_per_second']:>9,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}  {r['statuses']}")
PY
