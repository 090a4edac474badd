#!/usr/bin/env bash
# /metrics of a live server passes `promtool check metrics` and carries the issue's series.
source "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || exit 77
bg_start_server
login alice
"$BG" request --resource prod-db --privilege read_only --duration 2s --reason "metrics check run" --ticket INC-999 >/dev/null
sleep 4
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/metrics" >"$WORK/metrics.txt"
promtool check metrics <"$WORK/metrics.txt" || fail "promtool refused /metrics"
for m in breakglass_requests breakglass_approvals_total breakglass_grants_active \
         breakglass_expiry_lag_seconds_bucket breakglass_http_request_duration_seconds_bucket; do
  grep -q "^$m" "$WORK/metrics.txt" || fail "missing $m"
done
grep -q '^breakglass_expiry_lag_seconds_count 1' "$WORK/metrics.txt" || fail "expiry not measured"
echo "metrics ok"
