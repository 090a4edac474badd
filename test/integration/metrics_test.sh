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
         breakglass_drill_requests breakglass_drill_approvals_total \
         breakglass_expiry_lag_seconds_bucket breakglass_http_request_duration_seconds_bucket \
         breakglass_reviews_overdue 'breakglass_reviews{state="open"}' 'breakglass_background 1'; do
  grep -q "^$m" "$WORK/metrics.txt" || fail "missing $m"
done
grep -q '^breakglass_expiry_lag_seconds_count 1' "$WORK/metrics.txt" || fail "expiry not measured"
# 13.26: a path with invalid UTF-8 and a thousand random paths (with and without a token) add
# no series and leave /metrics valid: route labels are route patterns (unknown paths "other").
scrape() { curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/metrics"; }
random_paths() {  # random_paths N -> a curl config of N requests to random paths (0: one per shape)
  python3 - "$1" "$BREAKGLASS_SERVER" <<'PY'
import random, string, sys
n, base = int(sys.argv[1]), sys.argv[2]
r = random.Random()
def word(): return "".join(r.choice(string.ascii_letters + string.digits) for _ in range(r.randint(1, 12)))
shapes = [lambda: "/" + word(), lambda: "/v1/requests/" + word(), lambda: "/v1/requests/%s/%s" % (word(), word()),
          lambda: "/v1/sessions/%s/%%ff%s" % (word(), word()), lambda: "/v1/%s/%s/%s" % (word(), word(), word()),
          lambda: "/v1/requests/x/%ff" + word(), lambda: "/v1/ssh/ca?connector=%ff" + word()]
picks = [r.choice(shapes) for _ in range(n)] if n else shapes
for shape in picks:
    print('url = "%s%s"' % (base, shape()))
    print('output = "/dev/null"')
PY
}
curl -s -o /dev/null --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/requests/x/%ff"
scrape >"$WORK/m1.txt" || fail "scrape after %ff failed"
promtool check metrics <"$WORK/m1.txt" || fail "promtool refused /metrics after /v1/requests/x/%ff"
random_paths 0 >"$WORK/warm.cfg"  # every shape once: each (route label, status) pair appears before m2
curl -s --cacert "$BREAKGLASS_CACERT" -K "$WORK/warm.cfg"
curl -s --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $(token)" -K "$WORK/warm.cfg"
scrape >"$WORK/m2.txt"
random_paths 500 >"$WORK/many.cfg"
curl -s --cacert "$BREAKGLASS_CACERT" -K "$WORK/many.cfg"
curl -s --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $(token)" -K "$WORK/many.cfg"
scrape >"$WORK/m3.txt"
promtool check metrics <"$WORK/m3.txt" || fail "promtool refused /metrics after 1000 random paths"
# Series are compared as sets (name and labels, values dropped): counts gain digits, never series.
series() { grep -v '^#' "$1" | sed -E 's/[[:space:]]+[^[:space:]]+$//' | sort -u; }
series "$WORK/m2.txt" >"$WORK/s2.txt"; series "$WORK/m3.txt" >"$WORK/s3.txt"
echo "metrics series: $(wc -l <"$WORK/s2.txt") after one path of each shape, $(wc -l <"$WORK/s3.txt") after 1000 more"
added=$(comm -13 "$WORK/s2.txt" "$WORK/s3.txt")
[ -z "$added" ] || fail "random paths added series: $(echo "$added" | head -5 | tr '\n' ' ')"
echo "metrics ok"
