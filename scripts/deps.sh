#!/usr/bin/env bash
# Installs every Debian package breakglass needs to build, run and test. Idempotent; as root.
#   scripts/deps.sh [--test|--run|--fuzz]   the build packages, plus those of the test run,
#                                           the server's run or the fuzz run
set -euo pipefail
BUILD_PKGS=(g++ cmake ninja-build pkg-config ccache libboost-dev libssl-dev libsodium-dev
  liboath-dev libqrencode-dev libpng-dev libre2-dev libsqlite3-dev libpq-dev nlohmann-json3-dev libtomlplusplus-dev
  libcli11-dev libspdlog-dev libfmt-dev libcurl4-openssl-dev libgtest-dev libgmock-dev
  libbenchmark-dev openssl)
RUN_PKGS=(oathtool curl jq tzdata ca-certificates)
# The fuzz build (scripts/test.sh --fuzz): clang with libFuzzer and the sanitizer runtimes
# (libclang-rt-14-dev is only recommended by clang, and recommends are not installed), and
# llvm-symbolizer (llvm) for readable stacks in crash reports.
FUZZ_PKGS=(clang libfuzzer-14-dev libclang-rt-14-dev llvm)
TEST_PKGS=(tzdata oathtool curl jq openssh-client openssh-server postgresql golang-go
  golang-golang-x-mod-dev prometheus asciinema tmux wrk nginx-light sqlite3 python3 python3-aiosmtpd zbar-tools rsync chromium)
want=("${BUILD_PKGS[@]}")
case "${1:-}" in
  --test) want+=("${RUN_PKGS[@]}" "${TEST_PKGS[@]}") ;;
  --run) want+=("${RUN_PKGS[@]}") ;;
  --fuzz) want+=("${FUZZ_PKGS[@]}") ;;
esac
# The build bundles asciinema-player into the page and the browser tests use playwright-core and
# axe-core, all from npm with lock files: Node.js and npm, Debian's unless the machine has its own.
if ! command -v npm >/dev/null; then want+=(nodejs npm); fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
