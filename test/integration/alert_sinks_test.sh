#!/usr/bin/env bash
# Alert sinks with real receivers on loopback (issue 14): a signed webhook, a Slack-shaped hook,
# an SMTP server (aiosmtpd) and a PagerDuty-shaped endpoint. A new request reaches the pool's
# chat and mail (the approvers' addresses), approvals and activation the requester; a tier-3
# activation pages and its revocation resolves the same incident; the webhook, down while all
# this happens, gets every message once each, in order, signed, after it comes back; no message
# holds a secret; `notify test` exits 0 when delivered and 8 when not; a webhook key that others
# may read is refused at start.
source "$(dirname "$0")/connectors_lib.sh"
for t in jq curl oathtool; do command -v $t >/dev/null || { echo "SKIP: $t"; exit 77; }; done
RX=$WORK/rx; mkdir -p "$RX"
printf 'whsec-%s\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$WORK/hook.key"
printf 'PDKEY%s\n' "$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$WORK/pd.key"
chmod 600 "$WORK/hook.key" "$WORK/pd.key"
touch "$RX/down.webhook" "$RX/down.pagerduty"  # these answer 503 until the files go
RX_PID=
trap 'if [ -n "$RX_PID" ]; then kill $RX_PID 2>/dev/null || true; fi; cleanup' EXIT
start_alert_receivers
# any_line FILE FILTER [jq args]: some JSON line of FILE passes FILTER (jq 1.6's -e misreads
# a select that drops the last line, so the lines are slurped).
any_line() { jq -s -e "${@:3}" "map(select($2)) | length > 0" "$1" >/dev/null 2>&1; }
cat >"$WORK/legacy" <<'SH'
#!/bin/sh
cat >/dev/null
exit 0
SH
chmod +x "$WORK/legacy"
conn_config <<TOML
public_url = "https://bg.example"
[connectors.prod-pg]
kind = "exec"
grant = ["$WORK/legacy", "grant"]
revoke = ["$WORK/legacy", "revoke"]
probe = ["$WORK/legacy", "probe"]
[notify.hook]
kind = "webhook"
url = "http://127.0.0.1:$HP/webhook"
secret_file = "$WORK/hook.key"
[notify.chat]
kind = "slack"
url = "http://127.0.0.1:$HP/slack/T000/B000/SLACKPATHSECRET"
events = ["request.created"]
audience = ["pool:dbas"]
[notify.mail]
kind = "smtp"
url = "smtp://127.0.0.1:$MP"
from = "breakglass@example.internal"
to = ["oncall@example.internal"]
[notify.pager]
kind = "pagerduty"
url = "http://127.0.0.1:$HP/pagerduty"
routing_key_file = "$WORK/pd.key"
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
security_contacts = ["sam"]
[groups]
sre = ["alice"]
[pools]
dbas = ["carol", "dave"]
[[resources]]
name = "prod-db"
connector = "prod-pg"
privileges = ["dba", "owner"]
[[rules]]
resource = "prod-db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dbas"
approvals = 1
[[rules]]
resource = "prod-db"
privileges = ["owner"]
requesters = ["group:sre"]
tier = 3
pool = "dbas"
approvals = 1
TOML
for u in alice:requester carol:approver dave:approver sam:auditor; do
  CONN_EMAIL=${u%%:*}@example.internal conn_user "${u%%:*}" "${u#*:}"
done
"$BG" user add eve --role requester --email 'not an address' --password-stdin --config "$WORK/bg.toml" \
  <<<"eve-long-password" >/dev/null 2>"$WORK/eve.err" && fail "a bad --email was accepted"
grep -q "email" "$WORK/eve.err" || fail "the refusal does not name email: $(cat "$WORK/eve.err")"

# A webhook key that others may read is refused at start, naming the setting.
chmod 644 "$WORK/hook.key"
"$BG" serve --config "$WORK/bg.toml" --listen 127.0.0.1:$(free_port) >/dev/null 2>"$WORK/refused.err" &&
  fail "serve started with a world-readable webhook key"
grep -q "notify.hook.secret_file" "$WORK/refused.err" || fail "no field named: $(cat "$WORK/refused.err")"
chmod 600 "$WORK/hook.key"
echo "ok - a readable webhook key and a bad e-mail address are refused"

bg_start_server --config "$WORK/bg.toml"
for u in alice carol; do conn_login $u; cp "$HOME/.config/breakglass/credentials.json" "$WORK/cred-$u.json"; done
as() { cp "$WORK/cred-$1.json" "$HOME/.config/breakglass/credentials.json"; }
code() { oathtool --totp -b "$(cat "$WORK/$1.totp")"; }
approve() {
  as carol; "$BG" approve "$1" --totp "$(code carol)" >/dev/null 2>"$WORK/approve.err" ||
    { sleep 30; "$BG" approve "$1" --totp "$(code carol)" >/dev/null 2>"$WORK/approve.err"; } ||
    fail "approve $1: $(cat "$WORK/approve.err")"
}
active() { as alice; "$BG" status "$1" --json | jq -e '.state == "active"' >/dev/null; }

as alice
id=$("$BG" request --resource prod-db --privilege dba --duration 30m --reason "replica lag again" \
     --ticket INC-42 --json | jq -r .id)
approve "$id"
wait_until 120 active "$id" || fail "$id never active"
as alice
big=$("$BG" request --resource prod-db --privilege owner --duration 30m --reason "restore the primary" \
      --ticket INC-43 --json | jq -r .id)
approve "$big"
wait_until 120 active "$big" || fail "$big never active"
as alice; "$BG" revoke "$big" --reason "primary restored" >/dev/null || fail "revoke $big"

# Chat: the two new requests, for the pool, each with a link to the request on the page.
wait_until 60 bash -c "[ \$(grep -c . '$RX/slack.jsonl' 2>/dev/null || echo 0) -ge 2 ]" ||
  fail "slack got $(cat "$RX/slack.jsonl" 2>/dev/null)"
sleep 0.5
[ "$(grep -c . "$RX/slack.jsonl")" = 2 ] || fail "slack got more than the new requests: $(cat "$RX/slack.jsonl")"
any_line "$RX/slack.jsonl" '.body.text | contains("https://bg.example/requests/" + $id)' --arg id "$id" || fail "no slack link to $id: $(cat "$RX/slack.jsonl")"
echo "ok - chat: the pool hears the 2 new requests, with links"

# Mail: the pool's new request to oncall, carol and dave (never alice, the requester); the
# approval to alice.
wait_until 60 any_line "$RX/smtp.jsonl" '(.data | contains("X-Breakglass-Event: request.created")) and (.data | contains($id))' --arg id "$id" ||
  fail "no mail for $id: $(cat "$RX/smtp.jsonl" 2>/dev/null)"
any_line "$RX/smtp.jsonl" '(.data | contains("X-Breakglass-Event: request.created")) and (.data | contains($id))
  and (.to | sort == ["carol@example.internal", "dave@example.internal", "oncall@example.internal"])' --arg id "$id" || fail "wrong recipients: $(jq -c .to "$RX/smtp.jsonl")"
wait_until 60 any_line "$RX/smtp.jsonl" '(.data | contains("X-Breakglass-Event: request.approved")) and (.to | index("alice@example.internal"))' ||
  fail "alice was not mailed her approval: $(jq -c .to "$RX/smtp.jsonl")"
# The webhook has failed three times in a row: an alert reaches the security contacts by mail.
wait_until 60 any_line "$RX/smtp.jsonl" '(.data | contains("X-Breakglass-Event: alert.raised")) and
  (.data | contains("sink_failing")) and (.data | contains("hook")) and (.to | index("sam@example.internal"))' ||
  fail "no sink_failing alert by mail: $(jq -c .to "$RX/smtp.jsonl")"
echo "ok - mail: the approvers hear the request, the requester her approval, sam the failing webhook"

# The webhook is down: nothing was accepted yet; the pager was refused too. Back up: everything.
rm "$RX/down.webhook" "$RX/down.pagerduty"
wait_until 150 any_line "$RX/webhook.jsonl" '.body.event == "grant.revoked" and .body.request.id == $id' --arg id "$big" ||
  fail "the webhook never got the revocation: $(jq -c .body.event "$RX/webhook.jsonl" 2>/dev/null | tr '\n' ' ')"
wait_until 60 any_line "$RX/pagerduty.jsonl" '.body.event_action == "resolve"' ||
  fail "the pager never resolved: $(cat "$RX/pagerduty.jsonl" 2>/dev/null)"
[ -s "$RX/refused.jsonl" ] || fail "the receivers were never down"
[ ! -s "$RX/bad_signature.jsonl" ] || fail "a webhook signature did not verify: $(cat "$RX/bad_signature.jsonl")"
jq -s -e 'map(.body.id) | length == (unique | length)' "$RX/webhook.jsonl" >/dev/null ||
  fail "a message was delivered twice: $(jq -c .body.id "$RX/webhook.jsonl" | tr '\n' ' ')"
# In order: the ids' leaf indices increase.
jq -s -e 'map(.body.id | split("/") | last | tonumber) | . == sort' "$RX/webhook.jsonl" >/dev/null ||
  fail "out of order: $(jq -c .body.id "$RX/webhook.jsonl" | tr '\n' ' ')"
for ev in request.created request.approved request.active grant.revoked; do
  any_line "$RX/webhook.jsonl" '.body.event == $ev and .body.request.id == $id and
      .body.url == "https://bg.example/requests/" + $id and (.body.at | test("Z$"))' --arg id "$big" --arg ev "$ev" || fail "no $ev for $big: $(jq -c '[.body.event, .body.request.id]' "$RX/webhook.jsonl" | tr '\n' ' ')"
done
any_line "$RX/webhook.jsonl" '.body.request.id == $id and .body.event == "request.active" and .body.request.tier == 3' --arg id "$big" || fail "the body's request is not the request"
echo "ok - webhook down meanwhile: $(grep -c . "$RX/webhook.jsonl") messages after it came back, signed, once each, in order"

# The pager: triggered by the tier-3 activation, resolved (same dedup key) by its revocation;
# the tier-2 grant did not page.
trig=$(jq -r 'select(.body.event_action == "trigger") | .body.dedup_key' "$RX/pagerduty.jsonl" | sort -u)
res=$(jq -r 'select(.body.event_action == "resolve") | .body.dedup_key' "$RX/pagerduty.jsonl" | sort -u)
[ "$trig" = "breakglass/$big" ] && [ "$res" = "breakglass/$big" ] ||
  fail "pager: trigger '$trig', resolve '$res' (want breakglass/$big)"
any_line "$RX/pagerduty.jsonl" '.body.routing_key == $k' --arg k "$(head -c -1 "$WORK/pd.key")" ||
  fail "the pager events do not carry the routing key"
echo "ok - pager: tier-3 activation triggers, revocation resolves"

# No secret in any message (the pager's own routing key is its address, not in the message
# text): not the hook key, bearer tokens, TOTP seeds or passwords.
secrets=("$(head -c -1 "$WORK/hook.key")" "$(jq -r .token "$WORK/cred-alice.json")"
         "$(jq -r .token "$WORK/cred-carol.json")" "$(cat "$WORK/alice.totp")" "alice-long-password")
for s in "${secrets[@]}"; do
  for f in webhook slack smtp; do
    ! grep -qF -- "$s" "$RX/$f.jsonl" || fail "a secret appeared in a $f message"
  done
  ! jq -r '.body.payload // empty | tostring' "$RX/pagerduty.jsonl" | grep -qF -- "$s" || fail "a secret in a page"
done
! grep -q SLACKPATHSECRET "$WORK/serve.out" "$WORK/serve.err" || fail "the slack hook's path was logged"
echo "ok - no secret in any message or in the server's log"

# notify test: 0 when delivered, 8 when the receiver is down, 5 for an unknown sink.
"$BG" notify test hook --config "$WORK/bg.toml" >/dev/null || fail "notify test hook failed"
any_line "$RX/webhook.jsonl" '.body.event == "notify.test" and .body.request == null' ||
  fail "the test message did not arrive"
touch "$RX/down.slack"
rc=0; "$BG" notify test chat --config "$WORK/bg.toml" >/dev/null 2>"$WORK/test.err" || rc=$?
[ "$rc" = 8 ] || fail "notify test against a down receiver: exit $rc $(cat "$WORK/test.err")"
! grep -q SLACKPATHSECRET "$WORK/test.err" || fail "the error shows the hook's secret path"
rc=0; "$BG" notify test nosuch --config "$WORK/bg.toml" >/dev/null 2>&1 || rc=$?
[ "$rc" = 5 ] || fail "notify test of an unknown sink: exit $rc"
echo "ok - notify test: 0 delivered, 8 down, 5 unknown"
