#!/usr/bin/env bash
# Post-incident reviews on a live server through the CLI (issue 15): an ended grant opens one
# review; only an independent auditor may give a verdict (findings required unless appropriate);
# past its deadline it escalates once (review.overdue, an alert, /metrics, `status`); an
# inappropriate verdict on an overdue open review blocks the person's new requests; the review
# closes with its verdicts and refuses more; `review show` checks the timeline's proofs itself and
# catches a leaf edited in the database afterwards.
source "$(dirname "$0")/connectors_lib.sh"
for t in jq curl oathtool sqlite3; do command -v $t >/dev/null || { echo "SKIP: $t"; exit 77; }; done
DATA=$WORK/breakglass-data
cat >"$WORK/noop" <<'SH'
#!/bin/sh
cat >/dev/null
exit 0
SH
chmod +x "$WORK/noop"
conn_config <<TOML
[connectors.app]
kind = "exec"
grant = ["$WORK/noop", "grant"]
revoke = ["$WORK/noop", "revoke"]
probe = ["$WORK/noop", "probe"]
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
security_contacts = ["sam"]
block_on_overdue_inappropriate = true
[groups]
sre = ["alice"]
[pools]
ops = ["carol"]
[[resources]]
name = "app"
connector = "app"
privileges = ["read_only", "admin"]
[[rules]]
resource = "app"
privileges = ["read_only"]
requesters = ["group:sre"]
tier = 1
max_duration = "1h"
review_within = "4s"
reviewers = 2
[[rules]]
resource = "app"
privileges = ["admin"]
requesters = ["group:sre"]
tier = 2
pool = "ops"
approvals = 1
mfa_max_age = "10m"
review_within = "24h"
TOML
"$BG" policy check "$WORK/policy.toml" --config "$WORK/bg.toml" >/dev/null || fail "policy check refused the policy"
conn_user alice requester
conn_user carol approver auditor
conn_user sam auditor
conn_user grace auditor
bg_start_server --config "$WORK/bg.toml"
as() { cp "$WORK/cred-$1.json" "$HOME/.config/breakglass/credentials.json"; }
for u in alice carol sam grace; do conn_login $u; cp "$HOME/.config/breakglass/credentials.json" "$WORK/cred-$u.json"; done
# run EXPECTED_EXIT CMD...: runs a CLI command, checks its exit code and that a failure printed
# exactly one line on stderr.
run() {
  local want=$1; shift
  local rc=0
  "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [ "$rc" = "$want" ] || fail "$* exited $rc, not $want: $(cat "$WORK/out" "$WORK/err")"
  if [ "$want" != 0 ]; then
    [ "$(wc -l <"$WORK/err")" = 1 ] || fail "$*: stderr is not one line: $(cat "$WORK/err")"
  fi
}

# 1. A self-approved grant revoked early opens exactly one review, for two reviewers.
as alice
id=$(conn_grant app read_only 30m)
run 0 "$BG" revoke "$id" --reason "done early"
as sam
run 0 "$BG" review list --json
jq -e --arg id "$id" '.reviews | length == 1 and .[0].request_id == $id and .[0].state == "open"
  and .[0].reviewers_needed == 2 and .[0].trigger == "revoked" and .[0].may_review' "$WORK/out" >/dev/null ||
  fail "review list: $(cat "$WORK/out")"
rid=$(jq -r '.reviews[0].id' "$WORK/out")
echo "ok - the revoked self-approved grant opened one review ($rid)"

# 2. Who may give a verdict, and findings.
as alice; run 4 "$BG" review list
as sam; run 2 "$BG" review submit "$rid" --verdict inappropriate
grep -q findings "$WORK/err" || fail "no word of findings: $(cat "$WORK/err")"
run 2 "$BG" review submit "$rid" --verdict fine
run 0 "$BG" review submit "$rid" --verdict inappropriate --findings "no incident at that time" --json
jq -e '.state == "open" and (.verdicts | length) == 1' "$WORK/out" >/dev/null || fail "after one verdict: $(cat "$WORK/out")"
run 6 "$BG" review submit "$rid" --verdict appropriate
echo "ok - requester refused (exit 4), findings required (exit 2), a second verdict of sam refused (exit 6)"

# 3. Past the deadline (4s): escalated once, in the log, /metrics and status; alice is blocked.
overdue() { as sam; "$BG" review list --json | jq -e '.reviews[0].overdue' >/dev/null; }
wait_until 300 overdue || fail "the review never became overdue"
leaves() { "$BG" audit export --data-dir "$DATA" | jq -r .leaf | while read -r l; do base64 -d <<<"$l"; echo; done; }
logged_overdue() { leaves >"$WORK/leaves.jsonl" && grep -q '"type":"review.overdue"' "$WORK/leaves.jsonl"; }
wait_until 300 logged_overdue || fail "no review.overdue in the log"
leaves >"$WORK/leaves.jsonl"
jq -s -e --arg rid "$rid" '[.[] | select(.type == "review.overdue" and .details.review == $rid)] | length == 1' \
  "$WORK/leaves.jsonl" >/dev/null || fail "review.overdue is not there exactly once"
jq -s -e '[.[] | select(.type == "alert.raised" and .details.kind == "review_overdue" and .details.recipients == "sam")] | length == 1' \
  "$WORK/leaves.jsonl" >/dev/null || fail "no review_overdue alert to sam"
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/metrics" >"$WORK/metrics.txt"
grep -q '^breakglass_reviews_overdue 1' "$WORK/metrics.txt" || fail "/metrics: $(grep reviews "$WORK/metrics.txt")"
as sam; run 0 "$BG" status
grep -q "reviews: 1 open, 1 OVERDUE" "$WORK/out" || fail "status: $(cat "$WORK/out")"
as alice
run 6 "$BG" request --resource app --privilege read_only --duration 10m --reason "look again" --ticket INC-2
grep -q "blocked" "$WORK/err" || fail "not told why: $(cat "$WORK/err")"
echo "ok - overdue: escalated once (log, alert to sam, /metrics, status); alice's new request blocked"

# 4. The second verdict closes it; alice may ask again; a closed review takes no more verdicts.
as grace; run 0 "$BG" review submit "$rid" --verdict appropriate_with_findings --findings "ticket filed late" --follow-up-ticket CHG-1 --json
jq -e '.state == "done"' "$WORK/out" >/dev/null || fail "not done: $(cat "$WORK/out")"
as carol; run 6 "$BG" review submit "$rid" --verdict appropriate
as alice; run 0 "$BG" request --resource app --privilege read_only --duration 10m --reason "look again" --ticket INC-3 --json
echo "ok - closed with two verdicts; alice unblocked; a closed review refuses more (exit 6)"

# 5. An approved grant: its approver may not review it; review show verifies the timeline here.
as alice
aid=$("$BG" request --resource app --privilege admin --duration 30m --reason "restart the app" --ticket INC-4 --json | jq -r .id)
as carol; run 0 "$BG" approve "$aid"  # her login is within mfa_max_age: no code needed
as alice
wait_until 300 bash -c "\"$BG\" status $aid --json | jq -e '.state == \"active\"'" || fail "never active"
run 0 "$BG" revoke "$aid" --reason "restarted"
as sam
arid=$("$BG" review list --json | jq -r --arg id "$aid" '.reviews[] | select(.request_id == $id) | .id')
[ -n "$arid" ] || fail "no review of $aid"
as carol; run 4 "$BG" review submit "$arid" --verdict appropriate
grep -q "approved this request" "$WORK/err" || fail "carol not told why: $(cat "$WORK/err")"
as sam; run 0 "$BG" review show "$arid"
grep -q "verified here" "$WORK/out" || fail "review show: $(cat "$WORK/out")"
grep -q "connector.grant" "$WORK/out" || fail "no connector action shown: $(cat "$WORK/out")"
run 0 "$BG" review show "$arid" --json
jq -e '.timeline.client_verified and .timeline.verified and .request.id != null' "$WORK/out" >/dev/null ||
  fail "review show --json: $(jq -c .timeline "$WORK/out")"
# A leaf of that request edited in the database afterwards: review show says so and fails.
idx=$(jq -r '.timeline.events[] | select(.type == "request.created") | .index' "$WORK/out")
sqlite3 "$DATA/breakglass.db" "UPDATE audit_leaves SET leaf = CAST(REPLACE(CAST(leaf AS TEXT), 'restart the app', 'restart the ap!') AS BLOB) WHERE idx = $idx"
run 1 "$BG" review show "$arid"
grep -q "DOES NOT VERIFY" "$WORK/out" || fail "the edited leaf went unnoticed: $(cat "$WORK/out")"
echo "ok - the approver may not review (exit 4); review show verified the timeline and caught an edited leaf"

# 6. Attestation through the CLI: sam (the security contact: ops has no owner) removes carol
#    from the pool; the tier-2 rule can then not be approved by anyone (refused at once).
as sam
run 0 "$BG" attest start --scope pools --due 72h --json
att=$(jq -r .id "$WORK/out")
jq -e '.items | length == 1 and .[0].subject == "ops" and .[0].principal == "carol" and .[0].owners == ["sam"]' \
  "$WORK/out" >/dev/null || fail "attest start: $(cat "$WORK/out")"
as alice; run 0 "$BG" attest list --json
jq -e '.campaigns == []' "$WORK/out" >/dev/null || fail "alice sees a campaign she owns nothing in: $(cat "$WORK/out")"
as carol; run 4 "$BG" attest answer "$att" i1 --confirm  # an auditor, but not the owner
as sam; run 2 "$BG" attest answer "$att" i1 --remove
run 0 "$BG" attest answer "$att" i1 --remove --note "moved to another team"
as alice
run 6 "$BG" request --resource app --privilege admin --duration 30m --reason "restart the app" --ticket INC-5
as sam; run 0 "$BG" attest show "$att" --csv
head -1 "$WORK/out" | grep -q '^campaign,scope,item,kind,subject,principal,owners,answer' || fail "csv: $(cat "$WORK/out")"
grep -q ',i1,pool_member,ops,carol,sam,remove,sam,' "$WORK/out" || fail "csv row: $(cat "$WORK/out")"
echo "ok - attestation: the owner removed carol from ops (in force at once: the tier-2 rule is unapprovable); CSV export"
