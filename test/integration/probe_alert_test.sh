#!/usr/bin/env bash
# A connector probe that starts failing is an alert: logged as alert.raised (probe_failed) and
# pushed over GET /v1/events to the policy's security contacts (here a plain requester) and to
# auditors, not to anybody else; a probe that keeps failing does not alert again.
source "$(dirname "$0")/connectors_lib.sh"
STREAMS=()
trap 'for p in "${STREAMS[@]}"; do kill "$p" 2>/dev/null || true; done; cleanup' EXIT

cat >"$WORK/legacy" <<SH
#!/bin/sh
# exec connector program: the probe fails while $WORK/broken exists.
cat >/dev/null
if [ "\$1" = probe ] && [ -e "$WORK/broken" ]; then echo "legacy app unreachable" >&2; exit 1; fi
exit 0
SH
chmod +x "$WORK/legacy"
conn_config <<TOML
[connectors.legacy-app]
kind = "exec"
grant = ["$WORK/legacy", "grant"]
revoke = ["$WORK/legacy", "revoke"]
probe = ["$WORK/legacy", "probe"]
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
security_contacts = ["oncall"]
[groups]
ops = ["alice"]
[[resources]]
name = "legacy"
connector = "legacy-app"
owner = "admin"
privileges = ["admin"]
[[rules]]
resource = "legacy"
privileges = ["admin"]
requesters = ["group:ops"]
tier = 1
max_duration = "1h"
TOML
conn_user oncall requester
conn_user bob requester
conn_user admin admin
bg_start_server --config "$WORK/bg.toml"

stream() {  # USER -> the SSE stream of USER into $WORK/USER.sse, in the background
  conn_login "$1"
  local t; t=$(jq -r .token "$HOME/.config/breakglass/credentials.json")
  curl -sN --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $t" \
       "$BREAKGLASS_SERVER/v1/events" >"$WORK/$1.sse" 2>/dev/null &
  STREAMS+=($!)
}
stream oncall
stream bob
conn_login admin
sleep 0.5

"$BG" probe --json | jq -e '.connectors[0].ok' >/dev/null || fail "first probe should pass"
touch "$WORK/broken"
"$BG" probe --json >"$WORK/probe.json" || true
jq -e '.connectors[0].ok == false' "$WORK/probe.json" >/dev/null || fail "probe did not fail: $(cat "$WORK/probe.json")"
wait_until 300 grep -q '^event: alert' "$WORK/oncall.sse" || fail "no alert for the security contact: $(cat "$WORK/oncall.sse")"
data=$(grep -A1 '^event: alert' "$WORK/oncall.sse" | sed -n 's/^data: //p' | head -1)
jq -e '.kind == "probe_failed" and (.message | test("legacy app unreachable")) and (has("request_id") | not)' \
  <<<"$data" >/dev/null || fail "alert body: $data"
echo "ok - the failing probe reached the security contact over /v1/events"

# Still failing: no second alert. Then bob, who is neither contact nor auditor, saw none.
"$BG" probe >/dev/null 2>&1 || true
sleep 1
[ "$(grep -c '^event: alert' "$WORK/oncall.sse")" -eq 1 ] || fail "a still-failing probe alerted again"
! grep -q '^event: alert' "$WORK/bob.sse" || fail "bob got the alert: $(cat "$WORK/bob.sse")"
echo "ok - one alert per failure, and only to its recipients"

"$BG" audit export --config "$WORK/bg.toml" --out "$WORK/audit.jsonl" 2>/dev/null || fail "audit export"
n=$(jq -r .leaf "$WORK/audit.jsonl" | while read -r l; do base64 -d <<<"$l"; echo; done |
    grep '"type":"alert.raised"' | grep -c '"kind":"probe_failed"')
[ "$n" -eq 1 ] || fail "want one probe_failed alert in the audit log, got $n"
echo "probe_alert_test: ok"
