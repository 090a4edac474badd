#!/usr/bin/env bash
# The README's walkthrough against a real server: login, request, M-of-N approval, the grant
# active, expiry within a second of its end, an emergency SSH certificate that ssh-keygen -L
# reads, the burst risk signal; plus the API's refusals and the audit log.
source "$(dirname "$0")/lib.sh"
bg_start_server
grep -q "TLS certificate SHA-256 fingerprint" "$WORK/serve.out" || fail "no fingerprint printed"
fp=$(openssl x509 -in "$BREAKGLASS_CACERT" -noout -fingerprint -sha256 | cut -d= -f2)
grep -q "$fp" "$WORK/serve.out" || fail "printed fingerprint differs from the certificate's"

login alice
# alice's event stream sees her request move
curl -sN --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $(token)" \
     "$BREAKGLASS_SERVER/v1/events" >"$WORK/alice.sse" 2>/dev/null &
SSE_PID=$!
trap 'kill $SSE_PID 2>/dev/null || true; cleanup' EXIT
sleep 0.3
out=$("$BG" request --resource prod-db --privilege dba --duration 8s \
      --reason "replication stuck after failover" --ticket INC-4711 --json)
id=$(jq -r .id <<<"$out")
[ "$(jq -r .state <<<"$out")" = pending ] || fail "new request not pending: $out"
need=$(jq -r .required_approvals <<<"$out")
[ "$need" -ge 2 ] || fail "tier 2 needs 2 approvals, got $need"

# self-approval refused, exit code 4 (permission denied)
set +e; "$BG" approve "$id" 2>"$WORK/err"; rc=$?; set -e
[ $rc -eq 4 ] || fail "self-approval: exit $rc, want 4"
[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "error not one line: $(cat "$WORK/err")"

approvers=(carol dave erin frank)
for ((i = 0; i < need; i++)); do
  login "${approvers[$i]}"
  "$BG" approve "$id" --comment "ok from ${approvers[$i]}" >/dev/null
done
wait_until 300 bash -c "\"$BG\" status $id --json | jq -e '.state == \"active\"'" || fail "never active"
st=$("$BG" status "$id" --json)
ends=$(jq -r .ends_at <<<"$st")
starts=$(jq -r .starts_at <<<"$st")
[ $(( $(date -d "$ends" +%s) - $(date -d "$starts" +%s) )) -eq 8 ] || fail "window is not 8s: $st"

grep -q "^data: .*\"id\":\"$id\".*\"state\":\"active\"" "$WORK/alice.sse" ||
  grep -q "^data: .*\"state\":\"active\".*\"id\":\"$id\"" "$WORK/alice.sse" ||
  fail "/v1/events did not show the request becoming active: $(head -c 600 "$WORK/alice.sse")"
echo "ok - /v1/events streams the request's changes"

# expiry within a second of the end
wait_until 300 bash -c "\"$BG\" status $id --json | jq -e '.state == \"expired\"'" || fail "never expired"
now=$(date +%s.%N)
lag=$(python3 -c "print($now - $(date -d "$ends" +%s))")
python3 -c "import sys; sys.exit(0 if $lag < 1.5 else 1)" || fail "expiry observed ${lag}s after the end"

# bad input: 4xx with a JSON body naming the field; nothing created
login alice
before=$("$BG" list --mine --json | jq '.requests | length')
r=$(api POST /v1/requests '{"resource":"prod-db","privilege":"dba","duration":"9h","reason":"long enough reason","ticket":"INC-1234"}')
[ "$(tail -1 <<<"$r")" = 400 ] || fail "over-long duration: $r"
[ "$(head -1 <<<"$r" | jq -r .error.field)" = duration ] || fail "field not named: $r"
r=$(api POST /v1/requests '{"resource":"prod-db","privilege":"dba","duration":"1h","reason":"long enough reason","ticket":"nope"}')
[ "$(head -1 <<<"$r" | jq -r .error.field)" = ticket ] || fail "bad ticket: $r"
r=$(api POST /v1/requests '{"resource":"prod-db","privilege":"dba","duration":"1h","reason":"long enough reason","ticket":"INC-1234","sneaky":1}')
[ "$(head -1 <<<"$r" | jq -r .error.field)" = sneaky ] || fail "unknown field accepted: $r"
r=$(api POST /v1/requests '{not json')
[ "$(tail -1 <<<"$r")" = 400 ] || fail "garbage accepted: $r"
r=$(api GET /v1/requests/req_doesnotexist)
[ "$(tail -1 <<<"$r")" = 404 ] || fail "unknown id: $r"
after=$("$BG" list --mine --json | jq '.requests | length')
[ "$before" = "$after" ] || fail "a refused request was stored"
r=$(curl -s --cacert "$BREAKGLASS_CACERT" -w '\n%{http_code}' "$BREAKGLASS_SERVER/v1/requests")
[ "$(tail -1 <<<"$r")" = 401 ] || fail "no token: $r"

# tier 1 is self-approved at once; revoke ends it; revoking twice is a conflict (exit 6)
out=$("$BG" request --resource prod-db --privilege read_only --duration 10m \
      --reason "read replica lag check" --ticket CHG-100 --json)
id1=$(jq -r .id <<<"$out")
wait_until 300 bash -c "\"$BG\" status $id1 --json | jq -e '.state == \"active\"'" || fail "tier 1 not active"
"$BG" revoke "$id1" --reason "done early" >/dev/null
set +e; "$BG" revoke "$id1" --reason "again" 2>/dev/null; rc=$?; set -e
[ $rc -eq 6 ] || fail "second revoke: exit $rc, want 6"

# README step 5: an emergency on bastion is granted at once with a real SSH certificate from the
# demo's ssh_ca connector, which ssh-keygen reads back.
out=$("$BG" request --resource bastion --privilege ops --duration 10m --emergency \
      --reason "bastion locked out after the failover" --ticket INC-4712 --json)
eid=$(jq -r .id <<<"$out")
wait_until 300 bash -c "\"$BG\" status $eid --json | jq -e '.state == \"active\"'" || fail "emergency not active: $out"
ssh-keygen -q -t ed25519 -N '' -C alice -f "$WORK/alice-key"
r=$(api POST "/v1/requests/$eid/ssh-cert" "{\"public_key\":\"$(cat "$WORK/alice-key.pub")\"}")
[ "$(tail -1 <<<"$r")" = 200 ] || fail "ssh-cert: $r"
head -1 <<<"$r" | jq -r .certificate >"$WORK/alice-key-cert.pub"
ssh-keygen -L -f "$WORK/alice-key-cert.pub" >"$WORK/cert.txt" || fail "ssh-keygen -L refused it"
grep -q "Type: ssh-ed25519-cert-v01@openssh.com user certificate" "$WORK/cert.txt" || fail "type: $(cat "$WORK/cert.txt")"
grep -q "Key ID: \"breakglass:$eid:alice\"" "$WORK/cert.txt" || fail "key id: $(cat "$WORK/cert.txt")"
grep -A1 "Principals:" "$WORK/cert.txt" | grep -qx "[[:space:]]*ops" || fail "principals: $(cat "$WORK/cert.txt")"
grep -q "permit-pty" "$WORK/cert.txt" || fail "extensions: $(cat "$WORK/cert.txt")"
ca=$("$BG" ssh-ca public-key)
ssh-keygen -L -f "$WORK/alice-key-cert.pub" | grep -q "Signing CA: ED25519 $(ssh-keygen -lf <(echo "$ca") | awk '{print $2}')" ||
  fail "not signed by the server's CA ($ca): $(cat "$WORK/cert.txt")"
echo "ok - the demo's bastion grant is an SSH certificate that ssh-keygen -L reads"

# README: the next request of alice within burst_window trips the burst risk signal.
out=$("$BG" request --resource prod-db --privilege dba --duration 1m \
      --reason "replication stuck again" --ticket INC-4713 --json)
jq -e '.risk_signals | index("burst")' <<<"$out" >/dev/null || fail "no burst signal: $out"
[ "$(jq -r .required_approvals <<<"$out")" -ge 3 ] || fail "burst did not add an approval: $out"
"$BG" cancel "$(jq -r .id <<<"$out")" >/dev/null

# the audit log: readable by auditors only, holds the request's story and no secrets
r=$(api GET /v1/audit/checkpoint)
[ "$(tail -1 <<<"$r")" = 403 ] || fail "requester read the audit log: $r"
login sam
r=$(api GET "/v1/audit/entries?start=0")
[ "$(tail -1 <<<"$r")" = 200 ] || fail "auditor cannot read entries: $r"
leaves=$(head -1 <<<"$r" | jq -r '.entries[].leaf' | while read -r l; do base64 -d <<<"$l"; echo; done)
for t in request.created approval.recorded request.approved request.activated request.expired request.revoked auth.login; do
  grep -q "\"type\":\"$t\"" <<<"$leaves" || fail "audit log lacks $t"
done
grep -q "$id" <<<"$leaves" || fail "audit log does not name the request"
if grep -q -e "-demo-pass" <<<"$leaves"; then fail "a password is in the audit log"; fi
r=$(api GET /v1/audit/checkpoint)
[ "$(tail -1 <<<"$r")" = 200 ] || fail "checkpoint: $r"
head -1 <<<"$r" | grep -q "breakglass/" || fail "checkpoint origin: $r"

# policy check: a bad file is refused with file:line:column; a failed SIGHUP keeps the old one
printf 'version = 1\n[settings]\nreason_min_length = "ten"\n' >"$WORK/bad.toml"
set +e; "$BG" policy check "$WORK/bad.toml" 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] || fail "bad policy accepted"
grep -q "bad.toml:3:" "$WORK/err" || fail "no location: $(cat "$WORK/err")"
"$BG" policy check "$(dirname "$0")/../../examples/policy.toml" >/dev/null || fail "example policy refused"

curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/healthz" >/dev/null || fail healthz
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/readyz" >/dev/null || fail readyz
echo "walkthrough ok"
