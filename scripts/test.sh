#!/usr/bin/env bash
# The test command of the README and of CI: set-up, type check, lint, Node bundles, the library (dist/lib),
# demo build, then every test (the package tests pack and install the library themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
# The suite's time, printed last even when a step fails (CI's log shows it; issue 12 holds it to 10 minutes).
started=$SECONDS
trap 'echo "suite: $((SECONDS - started)) s (set-up, checks and builds $((${tests_from:-$SECONDS} - started)) s, tests $((SECONDS - ${tests_from:-$SECONDS})) s)"' EXIT
bash scripts/ensure-setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export MNIST_DIR="${MNIST_DIR:-$(cd .. && pwd)/shared/mnist}"
npx tsc --noEmit -p .
npm run --silent lint
node scripts/build-node.mjs --quiet
node scripts/build-lib.mjs --quiet
if [ -f demo/vite.config.ts ]; then npx vite build --config demo/vite.config.ts --logLevel warn; fi
tests_from=$SECONDS
npx vitest run "$@"
