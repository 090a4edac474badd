#!/usr/bin/env bash
# No secret in clear anywhere the service writes (issue 17, "Secrets"): a run that creates every
# kind of secret breakglass handles (account passwords, a wrong password tried, TOTP seeds, bearer
# tokens, a renewed token, a recording credential, a webhook signing key, a Slack URL's secret
# path, a credential an exec connector hands out), then greps for each of them, byte for byte,
# every log line of the server, every audit leaf (JSONL and CEF exports, an offline bundle), an
# evidence report, every alert message the real webhook, Slack-shaped and SMTP receivers got, and
# every file of the data directory (the SQLite database and its WAL included, where sealed
# values and hashes must stand instead): zero hits. The test names the kind of secret and the
# file that holds it, never the secret.
source "$(dirname "$0")/connectors_lib.sh"
for t in jq curl oathtool; do command -v $t >/dev/null || { echo "SKIP: $t"; exit 77; }; done
rand() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }
declare -A SECRET  # kind -> value

RX=$WORK/rx; mkdir -p "$RX"
SECRET[webhook signing key]="whsec-$(rand)"
printf '%s\n' "${SECRET[webhook signing key]}" >"$WORK/hook.key"; chmod 600 "$WORK/hook.key"
SECRET[slack url path]="SLACK$(rand | tr -d '_-')"
SECRET[exec credential]="cred-$(rand)"
RX_PID=
trap 'if [ -n "$RX_PID" ]; then kill $RX_PID 2>/dev/null || true; fi; cleanup' EXIT
start_alert_receivers
cat >"$WORK/conn" <<SH
#!/bin/sh
cat >/dev/null
[ "\$1" = grant ] && printf '{"username":"svc_alice","password":"%s"}\n' '${SECRET[exec credential]}'
exit 0
SH
chmod 700 "$WORK/conn"
conn_config <<TOML
public_url = "https://bg.example"
[connectors.prod-exec]
kind = "exec"
grant = ["$WORK/conn", "grant"]
revoke = ["$WORK/conn", "revoke"]
probe = ["$WORK/conn", "probe"]
[notify.hook]
kind = "webhook"
url = "http://127.0.0.1:$HP/webhook"
secret_file = "$WORK/hook.key"
[notify.chat]
kind = "slack"
url = "http://127.0.0.1:$HP/slack/T000/B000/${SECRET[slack url path]}"
[notify.mail]
kind = "smtp"
url = "smtp://127.0.0.1:$MP"
from = "breakglass@example.internal"
to = ["oncall@example.internal"]
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
dbas = ["carol"]
[[resources]]
name = "prod-db"
connector = "prod-exec"
privileges = ["dba"]
[[rules]]
resource = "prod-db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dbas"
approvals = 1
TOML
for u in alice:requester carol:approver sam:auditor root:admin; do
  CONN_EMAIL=${u%%:*}@example.internal conn_user "${u%%:*}" "${u#*:}"
  SECRET[password of ${u%%:*}]="${u%%:*}-long-password"
  SECRET[totp seed of ${u%%:*}]=$(cat "$WORK/${u%%:*}.totp")
done
bg_start_server --config "$WORK/bg.toml"

# A wrong password, tried: it must not be logged either.
SECRET[a wrong password tried]="alice-wrong-$(rand)"
echo "${SECRET[a wrong password tried]}" | "$BG" login --user alice --password-stdin --totp 000000 \
  >/dev/null 2>&1 && fail "a wrong password logged in"

for u in alice carol sam root; do
  conn_login $u
  cp "$HOME/.config/breakglass/credentials.json" "$WORK/cred-$u.json"
  SECRET[token of $u]=$(token)
done
as() { cp "$WORK/cred-$1.json" "$HOME/.config/breakglass/credentials.json"; }

as alice
id=$("$BG" request --resource prod-db --privilege dba --duration 30m --reason "replica lag again" \
     --ticket INC-42 --json | jq -r .id)
as carol
"$BG" approve "$id" --totp "$(oathtool --totp -b "$(cat "$WORK/carol.totp")")" >/dev/null 2>&1 ||
  { sleep 30; "$BG" approve "$id" --totp "$(oathtool --totp -b "$(cat "$WORK/carol.totp")")" >/dev/null; } ||
  fail "approve $id"
as alice
wait_until 120 bash -c "\"$BG\" status $id --json | jq -e '.state == \"active\"'" || fail "$id never active"
out=$(api GET "/v1/requests/$id/credentials")
[ "$(tail -1 <<<"$out")" = 200 ] || fail "credentials: $(tail -1 <<<"$out")"
head -1 <<<"$out" | grep -qF "${SECRET[exec credential]}" || fail "the credential was not handed out"
out=$(api POST "/v1/requests/$id/recording-token" '{}')
[ "$(tail -1 <<<"$out")" = 201 ] || fail "recording-token: $(tail -1 <<<"$out")"
SECRET[recording credential]=$(head -1 <<<"$out" | jq -r .token)
out=$(api POST /v1/auth/renew)
[ "$(tail -1 <<<"$out")" = 200 ] || fail "renew: $(tail -1 <<<"$out")"
SECRET[renewed token]=$(head -1 <<<"$out" | jq -r .token)
jq --arg t "${SECRET[renewed token]}" '.token = $t' "$WORK/cred-alice.json" >"$WORK/cred-alice.new"
mv "$WORK/cred-alice.new" "$WORK/cred-alice.json"; as alice
"$BG" revoke "$id" --reason "lag gone" >/dev/null || fail "revoke $id"
as carol; "$BG" logout >/dev/null 2>&1 || fail "logout"
# Every alert that can be delivered has been: the webhook got the revocation.
wait_until 60 grep -q '"grant.revoked"' "$RX/webhook.jsonl" || fail "no webhook delivery of the revocation"
wait_until 60 test -s "$RX/smtp.jsonl" || fail "no mail"

# The exports and reports, written as an auditor would.
as sam
"$BG" audit export --out "$WORK/out/audit.jsonl" >/dev/null 2>&1 ||
  { mkdir -p "$WORK/out"; "$BG" audit export --out "$WORK/out/audit.jsonl" >/dev/null; } || fail "audit export"
"$BG" audit export --format cef --out "$WORK/out/audit.cef" >/dev/null || fail "audit export cef"
jq -r .leaf "$WORK/out/audit.jsonl" | while read -r l; do base64 -d <<<"$l"; echo; done >"$WORK/out/leaves.jsonl"
"$BG" audit export --data-dir "$WORK/breakglass-data" --bundle "$WORK/out/bundle" >/dev/null || fail "bundle"
"$BG" report evidence --data-dir "$WORK/breakglass-data" --since 1d --out "$WORK/out/evidence" >/dev/null ||
  fail "report evidence"
grep -q '"type":"credential.taken"' "$WORK/out/leaves.jsonl" || fail "the credential taken is not audited"
grep -q '"type":"auth.login_failed"' "$WORK/out/leaves.jsonl" || fail "the failed login is not audited"
kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
# What the server wrote, the alerts as sent (a receiver records the URL it was called on, the
# Slack path among it: that is the receiver's, so the path is left out), the exports and the
# whole data directory.
mkdir -p "$WORK/out/alerts"
for f in "$RX"/*.jsonl; do jq -c 'del(.path)' "$f" >"$WORK/out/alerts/${f##*/}"; done
files=("$WORK/serve.out" "$WORK/serve.err" "$WORK/rx.err")
while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$WORK/out" "$WORK/breakglass-data" -type f -print0)
[ "${#files[@]}" -gt 15 ] || fail "too few artefacts: ${files[*]}"
hits=0
for f in "${files[@]}"; do
  for kind in "${!SECRET[@]}"; do
    if grep -aqF -- "${SECRET[$kind]}" "$f"; then
      echo "LEAK: the $kind stands in clear in ${f#"$WORK"/}" >&2
      hits=$((hits + 1))
    fi
  done
done
[ "$hits" = 0 ] || fail "$hits secrets in clear"
echo "ok - ${#SECRET[@]} secrets, ${#files[@]} artefacts, 0 hits"
