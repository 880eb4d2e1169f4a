#!/usr/bin/env bash
# The arm64 (Graviton) build of the Node.js addon, cross-compiled with cargo-zigbuild against
# glibc 2.28, checked for glibc symbols newer than 2.34, and packed as its npm platform package.
# Kept out of .ci/run for time (a second full release build of the AWS SDK stack); run it before a
# release, and record its result in BENCHMARKS.md ("Node.js addon").
#
#   scripts/node-cross.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(scripts/node-build.sh aarch64)
file "$out"
scripts/node-glibc-check.sh "$out"
mkdir -p target/node/pack
(cd crates/cognito-session-node/npm/linux-arm64-gnu && npm pack --silent --pack-destination ../../../../target/node/pack)
ls -l target/node/pack/cognito-session-linux-arm64-gnu-*.tgz
