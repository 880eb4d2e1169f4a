#!/usr/bin/env bash
# Bounded fuzzing (not part of the default tests): cookie extraction and token verification,
# each for $1 seconds (default 60), starting from the seed corpus in fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz passes nightly-only sanitizer flags; the stable compiler accepts them with this.
export RUSTC_BOOTSTRAP=1
for target in cookie token; do
  work=$(mktemp -d)
  echo "== fuzzing $target for ${seconds}s"
  cargo fuzz run "$target" "$work" "fuzz/corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=4096 2>&1 | tail -n 5
  rm -rf "$work"
done
