#!/usr/bin/env bash
# Login throttling against a real server (issue 13.11, 13.23, 13.29): a guesser gets 429 with
# Retry-After (at login and at an approval's step-up code), `breakglass user unlock` beside the
# running server forgets the failures (audited), and a password typed as the username reaches
# neither the audit log nor its JSONL or CEF export. The limits themselves are measured with a
# fake clock in src/auth/rate_limit_test.cc.
source "$(dirname "$0")/lib.sh"
bg_start_server
post() {  # post PATH BODY [TOKEN] -> prints the HTTP status; headers in $WORK/h, body in $WORK/b
  curl -s --cacert "$BREAKGLASS_CACERT" -D "$WORK/h" -o "$WORK/b" -w '%{http_code}' \
    -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} --data "$2" \
    "$BREAKGLASS_SERVER$1"
}
login_body() { jq -cn --arg u "$1" --arg p "$2" --arg c "$3" '{username:$u,password:$p,totp:$c}'; }
retry_after() { tr -d '\r' <"$WORK/h" | awk 'tolower($1) == "retry-after:" {print $2}'; }
# Fails until the answer is 429 (each failure beyond the first three doubles the wait, so a
# slow machine only takes a few more); checks its Retry-After and error body.
until_throttled() {  # until_throttled PATH BODY [TOKEN]
  local s
  for _ in $(seq 1 12); do
    s=$(post "$@")
    if [ "$s" = 429 ]; then
      [[ $(retry_after) =~ ^[1-9][0-9]*$ ]] || fail "429 without Retry-After: $(cat "$WORK/h")"
      jq -e '.error.code == "resource_exhausted"' "$WORK/b" >/dev/null || fail "429 body: $(cat "$WORK/b")"
      return 0
    fi
    [ "$s" = 401 ] || [ "$s" = 403 ] || fail "$1: status $s, $(cat "$WORK/b")"
    last=$(cat "$WORK/b")
  done
  fail "$1: never throttled (last answer: $last)"
}

# A guesser at carol's password: 401s, then 429 with Retry-After.
until_throttled /v1/auth/login "$(login_body carol wrong-password-1 000000)"
echo "ok - failed logins are answered 429 with Retry-After"

# `user unlock` beside the running server: carol's own password and code work at once again.
out=$("$BG" user unlock carol --data-dir "$WORK/breakglass-data" --json) || fail "user unlock"
jq -e '.user == "carol" and .unlocked == true' <<<"$out" >/dev/null || fail "user unlock --json: $out"
s=$(post /v1/auth/login "$(login_body carol carol-demo-pass "$(code carol)")")
[ "$s" = 200 ] || fail "carol after unlock: $s $(cat "$WORK/b")"
carol_token=$(jq -r .token "$WORK/b")
set +e; "$BG" user unlock nobody --data-dir "$WORK/breakglass-data" 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "unlock of no account: exit $rc, $(cat "$WORK/err")"
echo "ok - user unlock forgets the failures"

# Step-up codes of an approval count the same way.
login alice
id=$("$BG" request --resource prod-db --privilege dba --duration 5m \
      --reason "step-up throttle test" --ticket INC-4713 --json | jq -r .id)
until_throttled "/v1/requests/$id/approve" '{"totp":"000000"}' "$carol_token"
echo "ok - wrong step-up codes are answered 429 with Retry-After"

# A password typed into the username field.
typed='Tr0ub4dor-and-3-horses'
s=$(post /v1/auth/login "$(login_body "$typed" whatever 000000)")
[ "$s" = 401 ] || fail "unknown user: $s"
login sam
"$BG" audit export --format jsonl --out "$WORK/export.jsonl" >/dev/null || fail "jsonl export"
"$BG" audit export --format cef --out "$WORK/export.cef" >/dev/null || fail "cef export"
while read -r l; do jq -r .leaf <<<"$l" | base64 -d; echo; done <"$WORK/export.jsonl" >"$WORK/leaves"
for f in "$WORK/leaves" "$WORK/export.jsonl" "$WORK/export.cef"; do
  if grep -q "$typed" "$f"; then fail "the typed password is in $(basename "$f")"; fi
done
grep '"type":"auth.login_failed"' "$WORK/leaves" | grep -q '"actor":"hmac-sha256:' ||
  fail "the failed login of a stranger is not logged as a keyed hash"
grep '"type":"user.unlocked"' "$WORK/leaves" | grep -q '"user":"carol"' || fail "user.unlocked not logged"
echo "ok - a name that is no account is logged only as a keyed hash"
