#!/usr/bin/env bash
# The test command of the README and of CI: set-up, type check, lint, Node bundles, the library (dist/lib),
# demo build, then every test (the package tests pack and install the library themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export MNIST_DIR="${MNIST_DIR:-$(cd .. && pwd)/shared/mnist}"
npx tsc --noEmit -p .
npm run --silent lint
node scripts/build-node.mjs --quiet
node scripts/build-lib.mjs --quiet
if [ -f demo/vite.config.ts ]; then npx vite build --config demo/vite.config.ts --logLevel warn; fi
npx vitest run "$@"
