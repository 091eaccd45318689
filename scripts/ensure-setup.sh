#!/usr/bin/env bash
# Makes a fresh Debian 12 checkout ready to run: system packages (lavapipe, Chromium) when they are
# missing, then `npm ci` when node_modules is missing or was installed from another package-lock.json.
# (A content hash, not mtimes: a fresh checkout or a git worktree has new mtimes but the same lock.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh >&2
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
# A node_modules that is a link (a git worktree sharing another checkout's) is that checkout's to
# install: npm ci here would empty it under the other checkout's feet.
if [ -L node_modules ]; then
  [ "$(cat node_modules/.lock-hash 2>/dev/null)" = "$lock_hash" ] || echo "set-up: node_modules is a link to another checkout's, installed from another package-lock.json; not reinstalling it" >&2
  exit 0
fi
if [ ! -f node_modules/.package-lock.json ] || [ "$(cat node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund >&2
  echo "$lock_hash" > node_modules/.lock-hash
fi
