#!/usr/bin/env bash
# Approvals from several groups and escalation on a live server (issue 14, policy): a peer AND
# a security lead must approve (two peers are not enough); a rule whose pool does not answer
# escalates after 3s (request.escalated in the log, a request_escalated alert, the on-call lead
# may then approve); a request the able approvers cannot complete is refused at once (409).
source "$(dirname "$0")/connectors_lib.sh"
for t in jq curl oathtool; do command -v $t >/dev/null || { echo "SKIP: $t"; exit 77; }; done
DATA=$WORK/breakglass-data
cat >"$WORK/legacy" <<'SH'
#!/bin/sh
cat >/dev/null
exit 0
SH
chmod +x "$WORK/legacy"
conn_config <<TOML
[connectors.prod-pg]
kind = "exec"
grant = ["$WORK/legacy", "grant"]
revoke = ["$WORK/legacy", "revoke"]
probe = ["$WORK/legacy", "probe"]
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
[groups]
sre = ["alice", "bob"]
[pools]
dbas = ["carol", "dave"]
secs = ["sam", "grace"]
leads = ["heidi"]
solo = ["carol"]
odd = ["carol", "bob"]
[[resources]]
name = "prod-db"
connector = "prod-pg"
privileges = ["dba", "owner", "read_only"]
[[rules]]
resource = "prod-db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
approvals = [{pool = "dbas", count = 1}, {pool = "secs", count = 1}]
mfa_max_age = "10m"
[[rules]]
resource = "prod-db"
privileges = ["owner"]
requesters = ["group:sre"]
tier = 2
pool = "solo"
approvals = 1
escalate_after = "3s"
escalate_to = "leads"
mfa_max_age = "10m"
[[rules]]
resource = "prod-db"
privileges = ["read_only"]
requesters = ["alice"]
tier = 2
approvals = [{pool = "solo", count = 1}, {pool = "odd", count = 1}]
TOML
"$BG" policy check "$WORK/policy.toml" --config "$WORK/bg.toml" >/dev/null || fail "policy check refused the policy"
conn_user alice requester
conn_user bob requester
for u in carol dave sam grace heidi; do conn_user $u approver; done
bg_start_server --config "$WORK/bg.toml"
as() { cp "$WORK/cred-$1.json" "$HOME/.config/breakglass/credentials.json"; }
for u in alice carol dave sam heidi; do conn_login $u; cp "$HOME/.config/breakglass/credentials.json" "$WORK/cred-$u.json"; done
code() { oathtool --totp -b "$(cat "$WORK/$1.totp")"; }
request() {  # request PRIVILEGE -> id
  "$BG" request --resource prod-db --privilege "$1" --duration 30m --reason "disk full again" \
    --ticket INC-1 --json | jq -r .id
}
state() { as alice; "$BG" status "$1" --json | jq -r .state; }
approve() {  # approve WHO ID
  as "$1"; "$BG" approve "$2" --totp "$(code "$1")" >/dev/null 2>"$WORK/approve.err" ||
    { sleep 30; "$BG" approve "$2" --totp "$(code "$1")" >/dev/null 2>"$WORK/approve.err"; }
}

# 1. Two groups: two peers leave it pending; a security lead completes it.
as alice
id=$(request dba)
as alice; "$BG" status "$id" --json | jq -e '.approval_groups | map(.pool) == ["dbas", "secs"]' >/dev/null ||
  fail "approval_groups: $("$BG" status "$id" --json | jq -c .approval_groups)"
approve carol "$id" || fail "carol: $(cat "$WORK/approve.err")"
approve dave "$id" || fail "dave: $(cat "$WORK/approve.err")"
[ "$(state "$id")" = pending ] || fail "two peers approved a two-group request: $(state "$id")"
# status names who may still approve: nobody more of the peers, the security leads.
as alice
"$BG" status "$id" --json | jq -e '.approval_groups | map(.may_approve) == [[], ["grace", "sam"]]' >/dev/null ||
  fail "may_approve: $("$BG" status "$id" --json | jq -c '.approval_groups')"
"$BG" status "$id" | grep -q 'may still approve: dbas: nobody.*; secs: grace, sam' ||
  fail "status does not say who may still approve: $("$BG" status "$id")"
approve sam "$id" || fail "sam: $(cat "$WORK/approve.err")"
st=$(state "$id"); [ "$st" != pending ] || fail "peer + security lead left it pending"
echo "ok - two peers: pending; a peer and a security lead: $st"

# 2. Escalation: nobody of 'solo' answers; after 3s heidi (leads) may approve.
as alice
eid=$(request owner)
escalated() { as alice; "$BG" status "$eid" --json | jq -e '.approval_groups[0].escalated' >/dev/null; }
wait_until 300 escalated || fail "the request never escalated"
approve heidi "$eid" || fail "heidi after the escalation: $(cat "$WORK/approve.err")"
st=$(state "$eid"); [ "$st" != pending ] || fail "heidi's approval did not count"
"$BG" audit export --data-dir "$DATA" | jq -r .leaf | while read -r l; do base64 -d <<<"$l"; echo; done >"$WORK/leaves.jsonl"
jq -s -e --arg id "$eid" 'map(select(.type == "request.escalated" and .request == $id and
  .details.escalate_to == "leads" and (.details.alerted | contains("heidi")))) | length == 1' \
  "$WORK/leaves.jsonl" >/dev/null || fail "no request.escalated event for $eid: $(grep -c . "$WORK/leaves.jsonl") leaves"
echo "ok - escalated after 3s, audited, and heidi's approval counted ($st)"

# 3. Unapprovable at once: carol is in both pools but counts for one; bob is no approver.
as alice
out=$(api POST /v1/requests '{"resource":"prod-db","privilege":"read_only","duration":"30m","reason":"disk full again","ticket":"INC-2"}')
status=$(tail -1 <<<"$out"); body=$(head -n -1 <<<"$out")
[ "$status" = 409 ] || fail "unapprovable request: HTTP $status $body"
jq -e '.error.message | contains("0 of 1")' <<<"$body" >/dev/null || fail "message: $body"
echo "ok - unapprovable multi-group request refused: $(jq -r .error.message <<<"$body")"
