#!/usr/bin/env bash
# Crash consistency (issue 17): the real server with a real exec connector, lifecycles through the
# HTTP API, SIGKILL at random moments and a restart each time, every invariant checked after every
# restart (test/crash/README.md). CRASH_KILLS (default 200; 1000 is the long mode), CRASH_SEED.
# Exit 77 when python3 is absent.
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
source "$(dirname "$0")/../integration/lib.sh"
python3 "$(dirname "$0")/crash_driver.py" kills --bg "$BG" --work "$WORK" \
  --kills "${CRASH_KILLS:-200}" ${CRASH_SEED:+--seed "$CRASH_SEED"} || fail "crash test"
