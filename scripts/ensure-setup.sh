#!/usr/bin/env bash
# Makes a fresh Debian 12 checkout ready to run: system packages (lavapipe, Chromium) when they are
# missing, then `npm ci` when node_modules is missing or was installed from another package-lock.json.
# (A content hash, not mtimes: a fresh checkout or a git worktree has new mtimes but the same lock.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh >&2
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f node_modules/.package-lock.json ] || [ "$(cat node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund >&2
  echo "$lock_hash" > node_modules/.lock-hash
fi
