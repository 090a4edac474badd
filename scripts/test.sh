#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test (unit + integration).
#   scripts/test.sh              all tests
#   scripts/test.sh --sanitize   unit tests under ASan+UBSan (build-asan/)
#   scripts/test.sh --unit       unit tests only
#   scripts/test.sh --lint       clang-format check and clang-tidy on src/
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
bash scripts/deps.sh --test
case "$mode" in
  --sanitize)
    BUILD_DIR=build-asan bash scripts/build.sh -DBG_SANITIZE=ON -DBG_BUILD_TESTS=ON -DBG_BUILD_BENCH=OFF \
      -DCMAKE_BUILD_TYPE=Debug
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir build-asan -L unit --output-on-failure --no-tests=error -j2
    ;;
  --lint)
    BUILD_DIR=build bash scripts/build.sh -DBG_BUILD_TESTS=ON
    find src -name '*.h' -o -name '*.cc' | xargs clang-format --dry-run --Werror
    find src -name '*.cc' | xargs clang-tidy -p build --quiet
    ;;
  --unit)
    BUILD_DIR=build bash scripts/build.sh -DBG_BUILD_TESTS=ON
    ctest --test-dir build -L unit --output-on-failure --no-tests=error -j2
    ;;
  all)
    # Explicit: a build/ configured by scripts/run.sh has tests and benchmarks switched off.
    BUILD_DIR=build bash scripts/build.sh -DBG_BUILD_TESTS=ON -DBG_BUILD_BENCH=ON -DBG_WERROR=ON
    ctest --test-dir build --output-on-failure --no-tests=error -j2
    ;;
  *) echo "usage: scripts/test.sh [--sanitize|--unit|--lint]" >&2; exit 2 ;;
esac
