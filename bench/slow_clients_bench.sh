#!/usr/bin/env bash
# Resident memory of a live server before, at peak and after N slow clients of four kinds
# (slowloris headers, a slow body, SSE readers that never read, readers of big responses that
# never read); see bench/slow_clients.py. What a phase leaves behind is rss_after - rss_before.
# Usage: BG=build/breakglass bash bench/slow_clients_bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
BG=$(realpath "${BG:-build/breakglass}")
N=${1:-300}
source test/integration/lib.sh
ulimit -n 4096
bg_start_server
login alice
python3 bench/slow_clients.py --url "$BREAKGLASS_SERVER" --cacert "$BREAKGLASS_CACERT" \
  --token "$(token)" --pid "$SERVER_PID" -n "$N"
