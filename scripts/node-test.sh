#!/usr/bin/env bash
# The Node.js package's tests, on the package as users get it: the platform package and the main
# package are `npm pack`ed, installed from the tarballs into an empty folder with no network (an
# unreachable registry and --offline), and the `node --test` suites (crates/cognito-session-node/
# test) run there against moto through testkit-server. Then the TypeScript declarations are
# checked by compiling a consumer (and refusing a wrong one) with `tsc`.
#
#   scripts/node-test.sh [debug]   with `debug`, a quick debug build of the addon (development)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
work=$target_dir/node
npm_dir=crates/cognito-session-node/npm

scripts/setup.sh >/dev/null
if [ "${1:-}" = debug ]; then
  scripts/node-build.sh debug >/dev/null
elif [ -z "${NODE_ADDON_BUILT:-}" ]; then
  scripts/node-build.sh x86_64 >/dev/null
fi
cargo build --quiet -p testkit --bin testkit-server

echo "== npm pack"
rm -rf "$work" && mkdir -p "$work/pack" "$work/app"
for package in cognito-session linux-x64-gnu; do
  (cd "$npm_dir/$package" && npm pack --silent --pack-destination "$work/pack" >/dev/null)
done
ls -l "$work/pack"

echo "== npm install from the tarballs, offline"
cd "$work/app"
printf '{ "name": "app", "private": true }\n' > package.json
npm_config_registry=http://127.0.0.1:9/ npm install --offline --no-audit --no-fund --loglevel=error \
  "$work"/pack/cognito-session-linux-x64-gnu-*.tgz "$work"/pack/cognito-session-0*.tgz
cp -r "$root/crates/cognito-session-node/test" test
cp "$root/deploy/node/index.mjs" test/lambda/example-handler.mjs

echo "== node --test"
coproc TESTKIT { "$target_dir/debug/testkit-server"; }
server=$TESTKIT_PID
trap 'kill "$server" 2>/dev/null || true' EXIT
read -r ready <&"${TESTKIT[0]}"
export TESTKIT_URL
TESTKIT_URL=$(node -e 'console.log(JSON.parse(process.argv[1]).url)' "$ready")
export LAMBDA_EVENTS=$root/crates/testkit/fixtures
node --test --test-concurrency=1 test/*.test.mjs
kill "$server" 2>/dev/null || true

echo "== TypeScript: the declarations as a consumer compiles them"
types=$work/types
mkdir -p "$types" && cd "$types"
printf '{ "name": "types", "private": true }\n' > package.json
npm install --no-audit --no-fund --loglevel=error typescript@5 "$work"/pack/cognito-session-linux-x64-gnu-*.tgz \
  "$work"/pack/cognito-session-0*.tgz
cp "$root"/crates/cognito-session-node/test/types/*.?ts .
npx tsc --strict --noEmit --module node16 --moduleResolution node16 consumer.mts consumer.cts 2>&1 ||
  { echo "node-test: the declarations do not compile for a correct consumer" >&2; exit 1; }
if npx tsc --strict --noEmit --module node16 --moduleResolution node16 wrong.mts >/dev/null 2>&1; then
  echo "node-test: a wrong use of the API compiled" >&2
  exit 1
fi
echo "TypeScript: consumer compiles, wrong use refused"
