#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test (unit + integration).
#   scripts/test.sh              all tests
#   scripts/test.sh --sanitize   unit tests under ASan+UBSan (build-asan/)
#   scripts/test.sh --unit       unit tests only
#   scripts/test.sh --lint       clang-format check and clang-tidy on src/
#   scripts/test.sh --fuzz       every libFuzzer target (fuzz/) under ASan+UBSan for
#                                FUZZ_SECONDS seconds each (default 30), build-fuzz/ with clang
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
if [ "$mode" = --fuzz ]; then bash scripts/deps.sh --fuzz; else bash scripts/deps.sh --test; fi
case "$mode" in
  --sanitize)
    BUILD_DIR=build-asan bash scripts/build.sh -DBG_SANITIZE=ON -DBG_BUILD_TESTS=ON -DBG_BUILD_BENCH=OFF \
      -DCMAKE_BUILD_TYPE=Debug
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir build-asan -L unit --output-on-failure --no-tests=error -j2
    # The PostgreSQL backend reads what a server sends: its conformance suite under the
    # sanitizers too, against a real server the script starts.
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
      STORE_TEST=build-asan/src/store/store_test bash test/integration/store_postgres_test.sh ||
      [ $? = 77 ]
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
  --fuzz)
    # docs/fuzzing.md. Each target starts from its seed corpus (fuzz/corpus/NAME, only read)
    # and keeps what it finds in build-fuzz/fuzz-work/NAME; a crash, a broken invariant, a leak
    # or a unit slower than 10 s fails the run, its input saved as
    # build-fuzz/fuzz-work/crashes/NAME-crash-*.
    CC=clang CXX=clang++ BUILD_DIR=build-fuzz bash scripts/build.sh -DBG_BUILD_FUZZ=ON \
      -DBG_BUILD_TESTS=OFF -DBG_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
    seconds=${FUZZ_SECONDS:-30}
    # FUZZ_SEED fixes libFuzzer's mutation sequence (CI sets it, so that a run explores the
    # same inputs each time and a finding is not a matter of luck); unset, each run is new.
    seed=${FUZZ_SEED:-0}
    case $seed in ''|*[!0-9]*) echo "FUZZ_SEED must be a number, got '$seed'" >&2; exit 2 ;; esac
    work=build-fuzz/fuzz-work
    mkdir -p "$work/crashes"
    failed=()
    for bin in build-fuzz/fuzz/fuzz_*; do
      name=${bin##*/fuzz_}
      mkdir -p "$work/$name"
      if UBSAN_OPTIONS=print_stacktrace=1 "$bin" -seed="$seed" -max_total_time="$seconds" -timeout=10 \
          -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/crashes/$name-" \
          "$work/$name" "fuzz/corpus/$name" >"$work/$name.log" 2>&1; then
        echo "fuzz $name: $(grep -m1 -E '^#[0-9]+[[:space:]]+DONE' "$work/$name.log" || echo done)"
      else
        failed+=("$name")
        tail -n 60 "$work/$name.log" >&2
        echo "fuzz $name: FAILED (log: $work/$name.log)" >&2
      fi
    done
    if [ "${#failed[@]}" -gt 0 ]; then
      echo "fuzz targets that failed: ${failed[*]}" >&2
      exit 1
    fi
    ;;
  *) echo "usage: scripts/test.sh [--sanitize|--unit|--lint|--fuzz]" >&2; exit 2 ;;
esac
