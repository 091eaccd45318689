#!/usr/bin/env bash
# Makes a fresh Debian 12 checkout ready to run: system packages (lavapipe, Chromium) when they are
# missing, then `npm ci` when node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh >&2
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
