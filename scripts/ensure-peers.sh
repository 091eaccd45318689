#!/usr/bin/env bash
# Installs bench/peers' own dependencies (the libraries `npm run bench:peers` compares the engine
# with, kept out of the engine's package) when bench/peers/node_modules is missing or was installed
# from another lock file (a content hash, as scripts/ensure-setup.sh does). Needs the npm registry
# then, and only then.
set -euo pipefail
cd "$(dirname "$0")/../bench/peers"
lock_hash="$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ ! -f node_modules/.package-lock.json ] || [ "$(cat node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund >&2
  echo "$lock_hash" > node_modules/.lock-hash
fi
