#!/usr/bin/env bash
# Configures and builds into build/ (or $BUILD_DIR). Extra arguments go to cmake.
# The page bundles asciinema-player from npm (src/web/package-lock.json): `npm ci` runs here
# when src/web/node_modules is missing or older than the lock file; the build itself needs no
# network after that.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
stamp=src/web/node_modules/.bg-lock-sha256
want=$(sha256sum src/web/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "npm ci in src/web (asciinema-player for the page)" >&2
  (cd src/web && npm ci --no-audit --no-fund --silent)
  echo "$want" >"$stamp"
fi
cmake -S . -B "$BUILD_DIR" -G Ninja "$@" >/dev/null
ninja -C "$BUILD_DIR"
