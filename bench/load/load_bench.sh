#!/usr/bin/env bash
# Mixed load against one server on loopback (issue 17): reads, lists, creates, approvals and SSE
# clients (bench/load/load_driver.py), first as fast as it goes (capacity), then a soak at half
# that rate with the server's memory and open descriptors sampled every 10 s. The connector is
# "none" (record-only): the figures are the service's, not a target's.
# Usage: BG=build/breakglass bash bench/load/load_bench.sh [CAPACITY_SECONDS] [SOAK_SECONDS]
#   (defaults 30 and 600; LOAD_WORKERS (8) driver processes, LOAD_SSE (4) event-stream clients)
# Prints one JSON line per phase on stdout (and a table on stderr); exit 1 when an operation
# failed or the soak's memory or descriptors grew (last minute > first minute by 10% + slack).
set -euo pipefail
cd "$(dirname "$0")/../.."
BG=$(realpath "${BG:-build/breakglass}")
CAP=${1:-30}
SOAK=${2:-600}
WORKERS=${LOAD_WORKERS:-8}
SSE=${LOAD_SSE:-4}
source test/integration/connectors_lib.sh
command -v python3 >/dev/null || { echo "needs python3"; exit 77; }

conn_config <<'TOML'
[connectors.prod-pg]
kind = "none"
TOML
{
  cat <<'TOML'
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
[risk]
off_hours_extra_approvals = 0
new_source_extra_approvals = 0
burst_extra_approvals = 0
[groups]
TOML
  printf 'load = [%s]\n' "$(for i in $(seq -w 1 16); do printf '"r%s",' "$i"; done | sed 's/,$//')"
  printf '[pools]\napprovers = [%s]\n' "$(for i in $(seq -w 1 8); do printf '"a%s",' "$i"; done | sed 's/,$//')"
  cat <<'TOML'
[[resources]]
name = "prod-db"
connector = "prod-pg"
privileges = ["dba"]
[[rules]]
resource = "prod-db"
privileges = ["dba"]
requesters = ["group:load"]
tier = 2
pool = "approvers"
approvals = 1
max_duration = "1h"
approval_window = "1h"
mfa_max_age = "12h"
review_within = "72h"
TOML
} >"$WORK/policy.toml"
mkdir -p "$WORK/users"
for i in $(seq -w 1 16); do conn_user "r$i" requester; cp "$WORK/r$i.totp" "$WORK/users/"; done
for i in $(seq -w 1 8); do conn_user "a$i" approver; cp "$WORK/a$i.totp" "$WORK/users/"; done
bg_start_server --config "$WORK/bg.toml"

drive() {
  python3 bench/load/load_driver.py "$@" --server "$BREAKGLASS_SERVER" --cacert "$BREAKGLASS_CACERT" \
    --users "$WORK/users" --workers "$WORKERS" --sse "$SSE" --pid "$SERVER_PID"
}
echo "== capacity: ${CAP}s, $WORKERS workers, $SSE SSE clients" >&2
drive capacity --seconds "$CAP" | tee "$WORK/capacity.json"
rate=$(jq '.ops_per_s / 2' "$WORK/capacity.json")
echo "== soak: ${SOAK}s at $rate ops/s (half the capacity)" >&2
drive soak --seconds "$SOAK" --rate "$rate" | tee "$WORK/soak.json"
# Flat: the last minute's memory and descriptors within 10% (plus 8 MiB / 16 descriptors of
# slack for allocator and connection churn) of the minute after the warm-up (the first third).
jq -e '(.rss_kb.last_minute <= .rss_kb.after_warmup * 1.10 + 8192) and
       (.fds.last_minute <= .fds.after_warmup * 1.10 + 16)' "$WORK/soak.json" >/dev/null ||
  { echo "the soak grew: $(jq -c '{rss_kb, fds}' "$WORK/soak.json")" >&2; exit 1; }
echo "flat: $(jq -c '{rss_kb, fds}' "$WORK/soak.json")" >&2
