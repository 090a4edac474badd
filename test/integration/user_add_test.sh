#!/usr/bin/env bash
# `breakglass user add` on the data directory of a running server: the account works at once,
# the server keeps appending to the same audit log afterwards, and the log still verifies.
source "$(dirname "$0")/lib.sh"
bg_start_server
out=$(echo "zoe-password-123456" | "$BG" user add zoe --role requester --password-stdin \
        --data-dir "$WORK/breakglass-data" --json) || fail "user add beside a running server"
[ "$(jq -r .user <<<"$out")" = zoe ] || fail "user add --json: $out"
uri=$(jq -r .otpauth_uri <<<"$out")
[[ $uri == otpauth://totp/* && $uri == *issuer=breakglass* ]] || fail "otpauth uri: $uri"
secret=$(sed 's/.*secret=\([A-Z2-7]*\).*/\1/' <<<"$uri")
echo "zoe-password-123456" | "$BG" login --user zoe --password-stdin \
  --totp "$(oathtool --totp -b "$secret")" >/dev/null || fail "the new account cannot log in"
set +e; echo "short" | "$BG" user add bad --role requester --password-stdin \
  --data-dir "$WORK/breakglass-data" 2>"$WORK/err"; rc=$?; set -e
[ $rc -eq 2 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "weak password: exit $rc, $(cat "$WORK/err")"
login alice
"$BG" request --resource prod-db --privilege read_only --duration 5m --reason "after user add" \
  --ticket INC-5555 >/dev/null || fail "the server cannot append after an outside append"
login sam
"$BG" audit verify --server "$BREAKGLASS_SERVER" >/dev/null || fail "the log does not verify"
leaves=$(curl -sf --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $(token)" \
  "$BREAKGLASS_SERVER/v1/audit/entries?start=0" | jq -r '.entries[].leaf' |
  while read -r l; do base64 -d <<<"$l"; echo; done)
grep '"type":"user.added"' <<<"$leaves" | grep -q '"user":"zoe"' || fail "user.added not in the log"
if grep -q "zoe-password" <<<"$leaves"; then fail "a password is in the audit log"; fi
echo "user add ok"
