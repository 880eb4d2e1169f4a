#!/usr/bin/env bash
# Builds the Node.js addon (crates/cognito-session-node) and puts it into its npm platform package
# folder, crates/cognito-session-node/npm/linux-<arch>-gnu/.
#
#   scripts/node-build.sh            release build for x86_64 against glibc 2.28 (cargo-zigbuild)
#   scripts/node-build.sh aarch64    the same for arm64 (see scripts/node-cross.sh)
#   scripts/node-build.sh debug      a quick debug build for this machine, for development
#
# NODE_PROFILE=node-ci builds the glibc-versioned addon unoptimised, for CI's tests (default
# `node`, the release profile the packages ship).
#
# The glibc-versioned targets need cargo-zigbuild (crates.io) and zig (the `ziglang` package on
# PyPI, in .venv): both are installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-x86_64}
npm_dir=crates/cognito-session-node/npm
target_dir=${CARGO_TARGET_DIR:-target}
GLIBC=2.28

if [ "$arch" = debug ]; then
  cargo build --quiet -p cognito-session-node
  case "$(uname -m)" in x86_64) node_arch=x64 ;; aarch64) node_arch=arm64 ;; *) node_arch=$(uname -m) ;; esac
  out=$npm_dir/linux-$node_arch-gnu/cognito-session.linux-$node_arch-gnu.node
  cp "$target_dir/debug/libcognito_session_node.so" "$out"
  echo "$out"
  exit 0
fi

case "$arch" in
  x86_64) node_arch=x64 ;;
  aarch64) node_arch=arm64 ;;
  *) echo "node-build: unknown architecture $arch (x86_64, aarch64 or debug)" >&2; exit 2 ;;
esac
triple=$arch-unknown-linux-gnu
scripts/setup.sh >/dev/null
if ! .venv/bin/python -m ziglang version >/dev/null 2>&1; then
  echo "node-build: installing zig (PyPI ziglang) into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check 'ziglang==0.14.1'
fi
if ! command -v cargo-zigbuild >/dev/null 2>&1; then
  echo "node-build: installing cargo-zigbuild" >&2
  cargo install --quiet --locked cargo-zigbuild --version 0.24.1
fi
rustup target list --installed | grep -q "^$triple\$" || rustup target add "$triple"
# cargo-zigbuild finds zig as `python3 -m ziglang` when no `zig` is on PATH: the .venv's.
profile=${NODE_PROFILE:-node}
PATH="$PWD/.venv/bin:$PATH" cargo zigbuild --quiet --profile "$profile" -p cognito-session-node \
  --target "$triple.$GLIBC"
out=$npm_dir/linux-$node_arch-gnu/cognito-session.linux-$node_arch-gnu.node
cp "$target_dir/$triple/$profile/libcognito_session_node.so" "$out"
echo "$out"
