#!/usr/bin/env bash
# The test command of the README and of CI: set-up, type check, Node bundles, demo build, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export MNIST_DIR="${MNIST_DIR:-$(cd .. && pwd)/shared/mnist}"
npx tsc --noEmit -p .
npm run --silent lint
node scripts/build-node.mjs --quiet
if [ -f demo/vite.config.ts ]; then npx vite build --config demo/vite.config.ts --logLevel warn; fi
npx vitest run "$@"
