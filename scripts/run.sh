#!/usr/bin/env bash
# Installs what is needed, builds, and runs the server on its embedded default:
# SQLite in ./breakglass-data, the demo policy (examples/policy.toml), demo users,
# HTTPS on 127.0.0.1:8443 with a self-signed certificate. Extra arguments go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --run
BUILD_DIR=build bash scripts/build.sh -DBG_BUILD_TESTS=OFF -DBG_BUILD_BENCH=OFF
exec ./build/breakglass serve "$@"
