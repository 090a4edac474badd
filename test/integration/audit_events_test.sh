#!/usr/bin/env bash
# Issue 13.6: what was not audited. A real server with an ssh_ca and an exec connector, syslog
# and a witness: an SSH certificate issued ("ssh.cert_issued": serial, key fingerprint as
# ssh-keygen shows it, principals, validity), a one-time credential fetched ("credential.taken",
# never its value), refused requests and approvals of a logged-in person ("request.refused",
# "approval.refused" with the reason code), and account changes made by the CLI beside the
# running server and while it was down, which reach syslog and a witnessed checkpoint like the
# server's own events.
source "$(dirname "$0")/connectors_lib.sh"
for tool in jq oathtool python3 ssh-keygen curl; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

mkdir -p "$WORK/witness"
cat >"$WORK/witness.py" <<'PY'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        H.n += 1
        with open(os.path.join(sys.argv[2], "%06d.txt" % H.n), "wb") as f:
            f.write(body)
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
cat >"$WORK/syslog.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
PY
WPORT=$(free_port); SPORT=$(free_port)
python3 "$WORK/witness.py" "$WPORT" "$WORK/witness" & WITNESS_PID=$!
python3 "$WORK/syslog.py" "$SPORT" "$WORK/syslog.log" & SYSLOG_PID=$!
trap 'kill $WITNESS_PID $SYSLOG_PID 2>/dev/null || true; cleanup' EXIT
: >"$WORK/syslog.log"

cat >"$WORK/app.sh" <<'SH'
#!/bin/sh
cat >/dev/null
[ "$1" = grant ] && echo '{"username":"app_alice","password":"s3cret-one-time-pw"}'
exit 0
SH
chmod +x "$WORK/app.sh"
conn_config <<TOML
[audit]
checkpoint_interval = "1s"
witnesses = ["http://127.0.0.1:$WPORT/add-checkpoint"]
syslog = "udp://127.0.0.1:$SPORT"
[connectors.bastion-ssh]
kind = "ssh_ca"
[connectors.app]
kind = "exec"
grant = ["$WORK/app.sh", "grant"]
revoke = ["$WORK/app.sh", "revoke"]
TOML
conn_policy <<'TOML'
version = 1
[settings]
reason_min_length = 10
[pools]
approvers = ["bob", "carol"]
[[resources]]
name = "bastion"
connector = "bastion-ssh"
privileges = ["ops"]
[[resources]]
name = "app"
connector = "app"
privileges = ["admin", "root"]
[[rules]]
resource = "bastion"
privileges = ["ops"]
requesters = ["alice"]
tier = 1
max_duration = "1h"
[[rules]]
resource = "app"
privileges = ["admin"]
requesters = ["alice"]
tier = 1
max_duration = "1h"
[[rules]]
resource = "app"
privileges = ["root"]
requesters = ["alice"]
tier = 2
pool = "approvers"
approvals = 1
max_duration = "1h"
TOML
"$BG" policy check "$WORK/policy.toml" >/dev/null || fail "the test's policy"
conn_user alice requester
conn_user bob approver
conn_user carol approver
conn_user sam auditor
bg_start_server --config "$WORK/bg.toml"
# Audit events by type, decoded (the JSONL export carries "event"), read as the auditor.
events() {  # TYPE -> one JSON event a line
  cp "$HOME/.config/breakglass/credentials.json" "$WORK/current.json"
  cp "$WORK/sam.json" "$HOME/.config/breakglass/credentials.json"
  "$BG" audit export --out "$WORK/ev.jsonl" >/dev/null || fail "audit export"
  cp "$WORK/current.json" "$HOME/.config/breakglass/credentials.json"
  jq -c --arg t "$1" '.event | select(.type == $t)' "$WORK/ev.jsonl"
}
conn_login sam; cp "$HOME/.config/breakglass/credentials.json" "$WORK/sam.json"
conn_login alice

# ---- request.refused: refused by the policy's checks, with the reason code ----
set +e; "$BG" request --resource bastion --privilege ops --duration 5h --reason "too long a window" \
  --ticket INC-1 >/dev/null 2>&1; rc=$?; set -e
[ $rc -ne 0 ] || fail "a 5h request under a 1h maximum was accepted"
r=$(events request.refused | tail -1)
jq -e '.actor == "alice" and .details.resource == "bastion" and .details.privilege == "ops" and
       (.details.reason | length > 0) and (.details.message | length > 0) and (has("request") | not)' \
  <<<"$r" >/dev/null || fail "request.refused: $r"

# ---- ssh.cert_issued ----
id=$(conn_grant bastion ops 10m)
ssh-keygen -q -t ed25519 -N '' -f "$WORK/key"
out=$(api POST "/v1/requests/$id/ssh-cert" "{\"public_key\":\"$(cat "$WORK/key.pub")\"}")
[ "$(tail -1 <<<"$out")" = 200 ] || fail "ssh-cert: $out"
cert=$(head -1 <<<"$out")
fp=$(ssh-keygen -lf "$WORK/key.pub" | awk '{print $2}')
e=$(events ssh.cert_issued | tail -1)
jq -e --arg id "$id" --arg fp "$fp" --argjson c "$cert" \
  '.actor == "alice" and .request == $id and .details.serial == ($c.serial | tostring) and
   .details.key_fingerprint == $fp and .details.principals == "ops" and
   .details.valid_after == $c.valid_after and .details.valid_before == $c.valid_before' \
  <<<"$e" >/dev/null || fail "ssh.cert_issued: $e (certificate $cert, fingerprint $fp)"
grep -q "$(jq -r .certificate <<<"$cert" | cut -d' ' -f2 | cut -c1-40)" "$WORK/ev.jsonl" \
  && fail "the certificate itself is in the log"

# ---- credential.taken, never the credential ----
id2=$(conn_grant app admin 10m)
out=$(api GET "/v1/requests/$id2/credentials")
[ "$(tail -1 <<<"$out")" = 200 ] || fail "credentials: $out"
e=$(events credential.taken | tail -1)
jq -e --arg id "$id2" '.actor == "alice" and .request == $id and .details.connector == "app"' \
  <<<"$e" >/dev/null || fail "credential.taken: $e"
if grep -q "s3cret-one-time-pw" "$WORK/ev.jsonl" "$WORK/syslog.log"; then fail "the credential is in the log"; fi

# ---- approval.refused: approving one's own request ----
id3=$("$BG" request --resource app --privilege root --duration 10m --reason "needs root on app" \
      --ticket INC-2 --json | jq -r .id)
out=$(api POST "/v1/requests/$id3/approve" '{"comment":"self"}')
[ "$(tail -1 <<<"$out")" = 403 ] || fail "self-approval: $out"
e=$(events approval.refused | tail -1)
jq -e --arg id "$id3" '.actor == "alice" and .request == $id and .details.decision == "approve" and
       .details.reason == "permission_denied" and (.details.message | length > 0)' \
  <<<"$e" >/dev/null || fail "approval.refused: $e"
wait_until 300 grep -aq " approval.refused " "$WORK/syslog.log" || fail "approval.refused not in syslog"

# ---- the CLI beside the running server: reaches syslog and a witnessed checkpoint ----
# Index of the first syslog line of TYPE; then a witness checkpoint that covers it.
covered() {  # TYPE
  local line idx
  line=$(grep -a " $1 " "$WORK/syslog.log" | head -1)
  idx=$(sed -E 's/.*index="([0-9]+)".*/\1/' <<<"$line")
  for w in "$WORK/witness"/*.txt; do
    [ "$(sed -n 2p "$w")" -gt "$idx" ] && return 0
  done
  return 1
}
"$BG" user disable carol --config "$WORK/bg.toml" >/dev/null || fail "user disable beside the server"
wait_until 300 grep -aq " user.disabled " "$WORK/syslog.log" || fail "user.disabled from the CLI did not reach syslog"
wait_until 300 covered user.disabled || fail "no witnessed checkpoint covers the CLI's user.disabled"

# ---- ... and while the server is down: forwarded at its next start ----
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
"$BG" user enable carol --config "$WORK/bg.toml" >/dev/null || fail "user enable offline"
grep -aq " user.enabled " "$WORK/syslog.log" && fail "user.enabled forwarded by a stopped server?"
bg_start_server --config "$WORK/bg.toml"
wait_until 300 grep -aq " user.enabled " "$WORK/syslog.log" || fail "user.enabled made offline did not reach syslog"
wait_until 300 covered user.enabled || fail "no witnessed checkpoint covers the offline user.enabled"
# Each leaf once: no index twice in syslog.
dups=$(grep -ao 'index="[0-9]*"' "$WORK/syslog.log" | sort | uniq -d | head -3)
[ -z "$dups" ] || fail "leaves forwarded twice: $dups"
echo "audit events ok ($(grep -ac . "$WORK/syslog.log") syslog lines, $(ls "$WORK/witness" | wc -l) witness copies)"
