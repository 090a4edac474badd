#!/usr/bin/env bash
# Fail closed against a real storage failure: the running server's file-size limit is lowered
# (prlimit, as a full disk would do) so SQLite cannot write its WAL. While it cannot: a tier-1
# request (which would be granted at once) and an approval are refused with a JSON 5xx, nothing
# is granted, the pending request stays pending, reads still work and the server stays up.
# When the limit is lifted the same operations succeed, and the audit log verifies with no
# trace of the refused attempts. Exit 77 only when prlimit is absent.
command -v prlimit >/dev/null || { echo "SKIP: prlimit not found"; exit 77; }
source "$(dirname "$0")/lib.sh"
bg_start_server

login alice; TA=$(token)
login carol; TC=$(token)
as() {  # as TOKEN METHOD PATH [BODY] -> "BODY\nSTATUS"
  local t=$1 m=$2 p=$3 b=${4:-}
  curl -s --cacert "$BREAKGLASS_CACERT" -X "$m" -H "Authorization: Bearer $t" \
       -H 'Content-Type: application/json' ${b:+--data "$b"} -w '\n%{http_code}' "$BREAKGLASS_SERVER$p"
}
r=$(as "$TA" POST /v1/requests '{"resource":"prod-db","privilege":"dba","duration":"1h","reason":"pending before the disk fills","ticket":"INC-5001"}')
[ "$(tail -1 <<<"$r")" = 201 ] || fail "pending request: $r"
pending=$(head -1 <<<"$r" | jq -r .id)

# --- the disk is "full" ---------------------------------------------------------------------
prlimit --pid "$SERVER_PID" --fsize=1024: || fail "prlimit"
r=$(as "$TA" POST /v1/requests '{"resource":"prod-db","privilege":"read_only","duration":"10m","reason":"tier one while the disk is full","ticket":"INC-5002"}')
code=$(tail -1 <<<"$r")
[ "${code:0:1}" = 5 ] || fail "tier-1 request while writes fail: $r"
head -1 <<<"$r" | jq -e '.error.message | length > 0' >/dev/null || fail "no JSON error: $r"
r=$(as "$TC" POST "/v1/requests/$pending/approve" '{"comment":"approve while the disk is full"}')
code=$(tail -1 <<<"$r")
[ "${code:0:1}" = 5 ] || fail "approval while writes fail: $r"
kill -0 "$SERVER_PID" || fail "the server died"
r=$(as "$TA" GET "/v1/requests/$pending")
[ "$(tail -1 <<<"$r")" = 200 ] || fail "reads must still work: $r"
[ "$(head -1 <<<"$r" | jq -r .state)" = pending ] || fail "request not pending: $r"
[ "$(head -1 <<<"$r" | jq '.approvals | length')" = 0 ] || fail "an approval was kept: $r"
r=$(as "$TA" GET "/v1/requests?mine=true")
head -1 <<<"$r" | jq -e '[.requests[] | select(.ticket == "INC-5002")] | length == 0' >/dev/null ||
  fail "the refused tier-1 request exists: $r"
echo "ok - while SQLite cannot write: nothing granted, nothing approved, reads work, server up"

# --- space again ----------------------------------------------------------------------------
prlimit --pid "$SERVER_PID" --fsize=unlimited: || fail "prlimit lift"
ok=
for _ in $(seq 1 30); do  # the writer may back off after a failed commit
  r=$(as "$TA" POST /v1/requests '{"resource":"prod-db","privilege":"read_only","duration":"10m","reason":"tier one after the disk has room","ticket":"INC-5003"}')
  if [ "$(tail -1 <<<"$r")" = 201 ]; then ok=1; break; fi
  sleep 0.5
done
[ -n "$ok" ] || fail "no recovery after the limit was lifted: $r"
id=$(head -1 <<<"$r" | jq -r .id)
wait_until 300 bash -c "curl -sf --cacert '$BREAKGLASS_CACERT' -H 'Authorization: Bearer $TA' \
  '$BREAKGLASS_SERVER/v1/requests/$id' | jq -e '.state == \"active\"'" || fail "tier-1 never active"
r=$(as "$TC" POST "/v1/requests/$pending/approve" '{"comment":"approve after recovery"}')
[ "$(tail -1 <<<"$r")" = 200 ] || fail "approval after recovery: $r"
echo "ok - after the limit is lifted the same operations succeed"

# The log: consistent, verifiable, and without the refused attempts (the server's own stderr
# was under the same limit, so its log lines of that time may be cut).
login sam
"$BG" audit verify --server "$BREAKGLASS_SERVER" >"$WORK/verify.out" 2>&1 || fail "audit verify: $(cat "$WORK/verify.out")"
"$BG" audit export --data-dir "$WORK/breakglass-data" --out "$WORK/audit.jsonl" 2>/dev/null || fail "export"
leaves=$(jq -r .leaf "$WORK/audit.jsonl" | while read -r l; do base64 -d <<<"$l"; echo; done)
! grep -q 'INC-5002' <<<"$leaves" || fail "the refused request reached the audit log"
! grep -q 'approve while the disk is full' <<<"$leaves" || fail "the refused approval reached the audit log"
grep -q 'INC-5003' <<<"$leaves" || fail "the request after recovery is not in the log"
echo "fail_closed_test: ok"
