#!/usr/bin/env bash
# The SSH CA in an offline kit, end to end: a server with an ssh_ca connector makes its CA;
# `breakglass ssh-ca kit` splits the CA key into 2-of-3 shares whose manifest names the CA; the
# server is stopped; on "a laptop" (no server) `breakglass kit ssh-cert` restores the key from
# two shares and signs a short-lived certificate, writing the signed offline record first; a
# real sshd that trusts the CA lets the holder in, for the named principal only; ssh-keygen -L
# shows the window, serial and key id. Wrong, too few and foreign shares, a wrong manifest and
# bad options are refused with nothing written. Back online, `kit reconcile` puts the use with
# the certificate's serial into the audit log (needs review), once.
# Exit 77 only when the OpenSSH tools are absent.
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
for t in ssh ssh-keygen "$SSHD" jq; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not found"; exit 77; }
done
source "$(dirname "$0")/connectors_lib.sh"
SSHD_PID=
trap 'if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null || true; fi; cleanup' EXIT
DATA=$WORK/breakglass-data

conn_config <<'TOML'
[connectors.bastion-ssh]
kind = "ssh_ca"
extensions = ["permit-pty"]
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
[groups]
ops = ["alice"]
[[resources]]
name = "bastion"
connector = "bastion-ssh"
owner = "admin"
privileges = ["breakglass-root"]
[[rules]]
resource = "bastion"
privileges = ["breakglass-root"]
requesters = ["group:ops"]
tier = 1
max_duration = "1h"
TOML

conn_user alice requester
conn_user admin admin
# The server creates the CA at its first start.
bg_start_server --config "$WORK/bg.toml"
S=$WORK/sshd; mkdir -p "$S/principals" /run/sshd
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/ssh/ca" >"$S/ca.pub" || fail "GET /v1/ssh/ca"
: >"$S/krl"
echo emergency-root >"$S/principals/root"

# --- the kit of the CA key (beside the running server: it only reads the store) ---------------
set +e
"$BG" ssh-ca kit --threshold 4 --shares 3 --config "$WORK/bg.toml" 2>"$WORK/err"; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "shares" "$WORK/err" || fail "threshold above shares: $rc $(cat "$WORK/err")"
"$BG" ssh-ca kit --threshold 2 --shares 3 --config "$WORK/bg.toml" --out-dir "$WORK/cakit" --json \
  >"$WORK/cakit.json" || fail "ssh-ca kit"
M=$WORK/cakit/manifest.json
[ "$(jq -r .protects.kind "$M")" = ssh-ca ] || fail "manifest protects: $(cat "$M")"
[ "$(jq -r .protects.connector "$M")" = bastion-ssh ] || fail "manifest connector"
[ "$(jq -r .protects.public_key "$M")" = "$(cut -d' ' -f1-2 "$S/ca.pub")" ] ||
  fail "manifest CA $(jq -r .protects.public_key "$M") is not the server's $(cat "$S/ca.pub")"
[ "$(stat -c %a "$WORK/cakit/share-1.txt")" = 600 ] || fail "share file mode"
for i in 1 2 3; do
  "$BG" kit check - --manifest "$M" <"$WORK/cakit/share-$i.txt" >/dev/null || fail "kit check share $i"
done
echo "ok - ssh-ca kit: 2 of 3 shares, the manifest names the server's CA, every share checks"

kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
echo "-- the server is down from here on"
# Its structured log: every line one JSON object, the stop included.
python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no log"
for l in lines:
    j = json.loads(l)
    assert list(j)[:3] == ["ts", "level", "event"] and "msg" not in j, l
assert any(json.loads(l)["event"] == "server.stopping" for l in lines)
' "$WORK/serve.err" || fail "server log is not JSON lines: $(cat "$WORK/serve.err")"

start_sshd
SSH_OPTS=(-F /dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes
          -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
          -o ConnectTimeout=10 -p "$SPORT")
L=$WORK/laptop; mkdir -p "$L"
ssh-keygen -q -t ed25519 -N '' -f "$L/id_ed25519"

# --- refusals: nothing is signed, nothing is written -------------------------------------------
refuse() {  # DESCRIPTION EXPECTED_STDERR_TEXT ARGS...
  local what=$1 want=$2; shift 2
  local rc
  set +e; (cd "$L" && exec "$BG" kit ssh-cert "$@") >"$WORK/out" 2>"$WORK/err"; rc=$?; set -e
  [ $rc -ne 0 ] || fail "$what: exit 0"
  [ "$(wc -l <"$WORK/err")" -ge 1 ] && grep -qi -- "$want" "$WORK/err" ||
    fail "$what: stderr lacks '$want': $(cat "$WORK/err")"
  [ ! -e "$L/id_ed25519-cert.pub" ] || fail "$what: a certificate was written"
  [ -z "$(ls "$L" | grep '^kor_' || true)" ] || fail "$what: a record was written"
  echo "ok - refused: $what"
}
common=(--manifest "$M" --public-key "$L/id_ed25519.pub" --principal emergency-root
        --who alice --why "SSO down, INC-9")
refuse "one share of two" "too few shares" "$WORK/cakit/share-2.txt" "${common[@]}"
cat "$WORK/cakit/share-1.txt" "$WORK/cakit/share-1.txt" >"$WORK/dup.txt"
refuse "the same share twice" "duplicate share index" "$WORK/dup.txt" "${common[@]}"
sed 's/-\(.\)\(....\)-/-\2\1-/3' "$WORK/cakit/share-3.txt" >"$WORK/typo.txt"
cmp -s "$WORK/typo.txt" "$WORK/cakit/share-3.txt" && fail "typo not made"
refuse "a mistyped share" "share-1.txt\|typo.txt\|check" "$WORK/cakit/share-1.txt" "$WORK/typo.txt" "${common[@]}"
# A kit of something else (a generic secret) cannot sign.
"$BG" kit split --threshold 2 --shares 2 --generate --out-dir "$WORK/other" >/dev/null
refuse "a kit that holds no CA" "does not hold an SSH CA key" "$WORK/other/share-1.txt" "$WORK/other/share-2.txt" \
  --manifest "$WORK/other/manifest.json" --public-key "$L/id_ed25519.pub" --principal emergency-root \
  --who alice --why "SSO down"
# Shares of the CA kit against another kit's manifest.
refuse "shares against a foreign manifest" "manifest is for kit\|does not hold" "$WORK/cakit/share-1.txt" \
  "$WORK/cakit/share-2.txt" --manifest "$WORK/other/manifest.json" --public-key "$L/id_ed25519.pub" \
  --principal emergency-root --who alice --why "SSO down"
refuse "no --why" "--who and --why" "$WORK/cakit/share-1.txt" "$WORK/cakit/share-2.txt" --manifest "$M" \
  --public-key "$L/id_ed25519.pub" --principal emergency-root --who alice
refuse "a 2-day certificate" "24h" "$WORK/cakit/share-1.txt" "$WORK/cakit/share-2.txt" "${common[@]}" \
  --valid-for 48h
refuse "a private key instead of a public key" "id_ed25519" "$WORK/cakit/share-1.txt" "$WORK/cakit/share-2.txt" \
  --manifest "$M" --public-key "$L/id_ed25519" --principal emergency-root --who alice --why x
refuse "an unknown extension" "extension" "$WORK/cakit/share-1.txt" "$WORK/cakit/share-2.txt" "${common[@]}" \
  --extension permit-everything

# --- the emergency certificate -----------------------------------------------------------------
(cd "$L" && cat "$WORK/cakit/share-3.txt" "$WORK/cakit/share-1.txt" |
  "$BG" kit ssh-cert "${common[@]}" --ticket INC-9 --valid-for 10m --json) >"$WORK/cert.json" \
  2>"$WORK/cert.err" || fail "kit ssh-cert: $(cat "$WORK/cert.err")"
cert=$L/id_ed25519-cert.pub
[ -f "$cert" ] || fail "no certificate at $cert"
record=$(jq -r .record_file "$WORK/cert.json"); record=$L/${record#./}
[ -f "$record" ] || fail "no record: $(cat "$WORK/cert.json")"
serial=$(jq -r .serial "$WORK/cert.json")
rec_id=$(jq -r .record_id "$record")
ssh-keygen -L -f "$cert" >"$WORK/L.txt" || fail "ssh-keygen -L"
grep -qF "Signing CA: ED25519 $(ssh-keygen -l -f "$S/ca.pub" | awk '{print $2}')" "$WORK/L.txt" ||
  fail "-L signing CA: $(cat "$WORK/L.txt")"
grep -qF "Serial: $serial" "$WORK/L.txt" || fail "-L serial $serial: $(cat "$WORK/L.txt")"
python3 -c "assert 2**63 <= int('$serial') < 2**64" || fail "offline serial $serial is not in [2^63, 2^64)"
grep -qF "Key ID: \"breakglass-kit:$rec_id:alice\"" "$WORK/L.txt" || fail "-L key id: $(cat "$WORK/L.txt")"
grep -A1 "Principals:" "$WORK/L.txt" | grep -q "emergency-root" || fail "-L principals"
grep -q "permit-pty" "$WORK/L.txt" || fail "-L extensions"
from=$(sed -n 's/.*Valid: from \([^ ]*\) to \([^ ]*\).*/\1/p' "$WORK/L.txt")
to=$(sed -n 's/.*Valid: from \([^ ]*\) to \([^ ]*\).*/\2/p' "$WORK/L.txt")
span=$(( $(date -u -d "$to" +%s) - $(date -u -d "$from" +%s) ))
[ "$span" -eq $((600 + 300)) ] || fail "window $from..$to is $span s, want 10m plus 5m back-dating"
echo "ok - ssh-keygen -L: our CA, serial $serial (offline range), key id names the record, 10m window"

# The record: signed, names the shares and the certificate; written before the certificate.
"$BG" kit verify-record "$record" >/dev/null || fail "verify-record"
jq -e --arg s "$serial" '.ssh_certificate.serial == $s and .share_indices == [1,3] and .who == "alice"
  and .ticket == "INC-9" and .ssh_certificate.principals == ["emergency-root"]' "$record" >/dev/null ||
  fail "record: $(cat "$record")"
[ "$(jq -r .ssh_certificate.key_fingerprint "$record")" = "$(ssh-keygen -l -f "$L/id_ed25519.pub" | awk '{print $2}')" ] ||
  fail "record key fingerprint"
echo "ok - the signed offline record describes the certificate"

out=$(ssh "${SSH_OPTS[@]}" -i "$L/id_ed25519" root@127.0.0.1 'echo in-as-$(id -un)' 2>"$WORK/ssh.err") ||
  fail "emergency login: $(cat "$WORK/ssh.err") $(tail -5 "$S/sshd.log")"
[ "$out" = "in-as-root" ] || fail "emergency login output: $out"
grep -qF "breakglass-kit:$rec_id:alice" "$S/sshd.log" || fail "sshd did not log the key id"
echo "ok - a real sshd that trusts the CA lets the holder in (and logs the record's key id)"

# Not for a principal it does not name.
echo someone-else >"$S/principals/root"
if ssh "${SSH_OPTS[@]}" -i "$L/id_ed25519" root@127.0.0.1 true 2>/dev/null; then
  fail "logged in without an authorized principal"
fi
echo "ok - refused where its principal is not authorized"

# --- back online: reconcile --------------------------------------------------------------------
"$BG" kit reconcile "$record" --config "$WORK/bg.toml" --json >"$WORK/rec.json" || fail "reconcile"
[ "$(jq -r .record_id "$WORK/rec.json")" = "$rec_id" ] || fail "reconcile output: $(cat "$WORK/rec.json")"
set +e; "$BG" kit reconcile "$record" --config "$WORK/bg.toml" 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "already reconciled" "$WORK/err" || fail "second reconcile: $rc $(cat "$WORK/err")"
"$BG" audit export --config "$WORK/bg.toml" --out "$WORK/audit.jsonl" 2>/dev/null || fail "audit export"
leaves=$(jq -r .leaf "$WORK/audit.jsonl" | while read -r l; do base64 -d <<<"$l"; echo; done)
kit_id=$(jq -r .kit_id "$M")
created=$(grep '"type":"kit.created"' <<<"$leaves" || true)
[ "$(grep -c . <<<"$created")" -eq 1 ] || fail "want one kit.created event: $created"
for want in "\"kit_id\":\"$kit_id\"" '"protects":"ssh-ca"' '"connector":"bastion-ssh"' '"threshold":"2"' \
            "\"manifest_sha256\":\"$(sha256sum "$M" | cut -d' ' -f1)\""; do
  grep -qF "$want" <<<"$created" || fail "kit.created lacks $want: $created"
done
for i in 1 2 3; do
  ! grep -qiF "$(cut -c1-30 "$WORK/cakit/share-$i.txt")" <<<"$leaves" || fail "share $i is in the audit log"
done
echo "ok - making the CA kit was audited (kit.created, manifest hash, no share)"
ev=$(grep '"type":"kit.offline_use"' <<<"$leaves" || true)
[ "$(grep -c . <<<"$ev")" -eq 1 ] || fail "want one kit.offline_use event: $ev"
for want in "\"ssh_cert_serial\":\"$serial\"" '"ssh_cert_principals":"emergency-root"' \
            "\"record_id\":\"$rec_id\"" '"needs_review":"true"' '"ssh_cert_key_fingerprint":"SHA256:'; do
  grep -qF "$want" <<<"$ev" || fail "kit.offline_use lacks $want: $ev"
done
# Its post-incident review opened with it, once (issue 15): subject kit:<record id>.
opened=$(grep '"type":"review.opened"' <<<"$leaves" | grep -F "\"record_id\":\"$rec_id\"" || true)
[ "$(grep -c . <<<"$opened")" -eq 1 ] || fail "want one review.opened for the offline use: $opened"
grep -qF '"trigger":"offline_use"' <<<"$opened" || fail "review.opened trigger: $opened"
[ "$(sqlite3 "$DATA/breakglass.db" "SELECT COUNT(*) FROM reviews WHERE subject = 'kit:$rec_id' AND state = 'open'" 2>/dev/null || echo none)" = 1 ] ||
  fail "no open review of kit:$rec_id in the store"
"$BG" audit export --config "$WORK/bg.toml" --bundle "$WORK/bundle" >/dev/null 2>&1 || fail "audit bundle"
"$BG" audit verify --bundle "$WORK/bundle" >/dev/null || fail "audit verify after reconcile"
echo "ok - reconciled once into the audit log with the certificate's serial, marked for review"
# --- the incident is over: revoke the emergency certificate before it ends ----------------------
bg_start_server --config "$WORK/bg.toml"
echo emergency-root >"$S/principals/root"
ssh "${SSH_OPTS[@]}" -i "$L/id_ed25519" root@127.0.0.1 true 2>/dev/null || fail "login before the revocation"
conn_login alice
set +e; "$BG" ssh-ca revoke --record "$record" --reason "incident over" 2>"$WORK/err"; rc=$?; set -e
[ $rc -eq 4 ] || fail "a requester revoked a certificate: exit $rc $(cat "$WORK/err")"
conn_login admin
set +e; "$BG" ssh-ca revoke --serial 0123 --valid-before 2030-01-01T00:00:00Z --reason x 2>"$WORK/err"; rc=$?; set -e
[ $rc -eq 2 ] && grep -q serial "$WORK/err" || fail "a malformed serial: exit $rc $(cat "$WORK/err")"
set +e; "$BG" ssh-ca revoke --record "$record" --connector no-such-ca --reason x 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "no-such-ca" "$WORK/err" || fail "revoke on an unknown connector: $rc $(cat "$WORK/err")"
"$BG" ssh-ca revoke --record "$record" --reason "incident over" --json >"$WORK/revoke.json" ||
  fail "ssh-ca revoke"
[ "$(jq -r .serial "$WORK/revoke.json")" = "$serial" ] || fail "revoke output: $(cat "$WORK/revoke.json")"
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/ssh/krl" -o "$S/krl" || fail "GET /v1/ssh/krl"
ssh-keygen -Q -f "$S/krl" "$cert" >/dev/null 2>&1 && fail "ssh-keygen -Q: the emergency certificate is not in the KRL"
before=$(wc -l <"$S/sshd.log")
if ssh "${SSH_OPTS[@]}" -i "$L/id_ed25519" root@127.0.0.1 true 2>/dev/null; then
  fail "logged in with a revoked emergency certificate"
fi
wait_until 300 bash -c "tail -n +$((before + 1)) '$S/sshd.log' | grep -q 'revoked'" ||
  fail "sshd did not refuse it as revoked: $(tail -5 "$S/sshd.log")"
"$BG" audit export --config "$WORK/bg.toml" --out "$WORK/audit2.jsonl" 2>/dev/null || fail "audit export"
jq -r .leaf "$WORK/audit2.jsonl" | while read -r l; do base64 -d <<<"$l"; echo; done |
  grep '"type":"ssh.certificate_revoked"' | grep -qF "\"serial\":\"$serial\"" ||
  fail "no ssh.certificate_revoked event for $serial"
echo "ok - an admin revokes the emergency certificate by its record; the KRL refuses it; audited"
echo "kit_ssh_cert_test: ok"
