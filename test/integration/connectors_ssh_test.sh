#!/usr/bin/env bash
# The ssh_ca connector end to end: a breakglass server issues certificates for grants; a real
# sshd on 127.0.0.1 trusts the CA from GET /v1/ssh/ca, maps principals with
# AuthorizedPrincipalsFile and reads the KRL from GET /v1/ssh/krl. The holder gets in during the
# grant (also through `breakglass ssh`), is refused after expiry, after revocation (KRL
# refetched) and with a certificate for another principal; ssh-keygen -L shows window,
# principals and key id. Exit 77 only when the OpenSSH tools are absent.
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
for t in ssh ssh-keygen "$SSHD" oathtool jq; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not found"; exit 77; }
done
source "$(dirname "$0")/connectors_lib.sh"
SSHD_PID=
trap 'if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null || true; fi; cleanup' EXIT

conn_config <<'TOML'
[connectors.bastion-ssh]
kind = "ssh_ca"
extensions = ["permit-pty"]
force_command = "echo granted-by-%g"
backdate = "1m"
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
[groups]
ops = ["alice"]
[[resources]]
name = "bastion"
connector = "bastion-ssh"
owner = "admin"
privileges = ["breakglass-root", "other-role"]
[[rules]]
resource = "bastion"
privileges = ["breakglass-root", "other-role"]
requesters = ["group:ops"]
tier = 1
max_duration = "1h"
review_within = "72h"
TOML
conn_user alice requester
conn_user admin admin auditor approver
bg_start_server --config "$WORK/bg.toml"

# --- the CA and the KRL, public ---------------------------------------------------------------
S=$WORK/sshd; mkdir -p "$S/principals" /run/sshd
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/ssh/ca" >"$S/ca.pub" || fail "GET /v1/ssh/ca"
grep -q '^ssh-ed25519 AAAA' "$S/ca.pub" || fail "CA line: $(cat "$S/ca.pub")"
"$BG" ssh-ca public-key | cmp -s - "$S/ca.pub" || fail "ssh-ca public-key differs from the API"
"$BG" ssh-ca public-key --config "$WORK/bg.toml" | cut -d' ' -f1-2 |
  cmp -s - <(cut -d' ' -f1-2 "$S/ca.pub") || fail "local ssh-ca public-key differs"
fetch_krl() {
  curl -sf --cacert "$BREAKGLASS_CACERT" -D "$S/krl.headers" "$BREAKGLASS_SERVER/v1/ssh/krl" \
    -o "$S/krl.tmp" && mv "$S/krl.tmp" "$S/krl"
}
fetch_krl || fail "GET /v1/ssh/krl"
grep -qi 'content-type: application/octet-stream' "$S/krl.headers" || fail "KRL content type"
ssh-keygen -Q -l -f "$S/krl" >/dev/null || fail "ssh-keygen cannot read the KRL"
echo breakglass-root >"$S/principals/root"

# --- sshd -------------------------------------------------------------------------------------
start_sshd

SSH_OPTS=(-F /dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes
          -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
          -o ConnectTimeout=10 -p "$SPORT")
try_ssh() {  # KEY CERT -> prints the remote output
  ssh "${SSH_OPTS[@]}" -i "$1" -o CertificateFile="$2" root@127.0.0.1 true 2>>"$S/ssh.err"
}
# Gets a certificate for grant $1 on key $2 into $2-cert.pub.
issue() {
  local r
  r=$(api POST "/v1/requests/$1/ssh-cert" "{\"public_key\":\"$(cat "$2.pub")\"}")
  [ "$(tail -1 <<<"$r")" = 200 ] || fail "ssh-cert for $1: $r"
  head -1 <<<"$r" | jq -r .certificate >"$2-cert.pub"
}
refused() {  # DESCRIPTION KEY CERT SSHD_LOG_TEXT
  local before; before=$(wc -l <"$S/sshd.log")
  if try_ssh "$2" "$3" >/dev/null; then fail "$1: logged in"; fi
  wait_until 300 bash -c "tail -n +$((before + 1)) '$S/sshd.log' | grep -qF -- '$4'" ||
    fail "$1: sshd did not log '$4': $(tail -5 "$S/sshd.log")"
  echo "ok - $1"
}

conn_login alice
# --- in during the grant; ssh-keygen -L ------------------------------------------------------
short=$(conn_grant bastion breakglass-root 25s)
ssh-keygen -q -t ed25519 -N '' -f "$S/k1"
issue "$short" "$S/k1"
out=$(try_ssh "$S/k1" "$S/k1-cert.pub") || fail "login during the grant: $(tail -5 "$S/sshd.log")"
[ "$out" = "granted-by-$short" ] || fail "force-command with %g: got '$out'"
echo "ok - in during the grant (force-command names the grant)"
st=$("$BG" status "$short" --json)
ssh-keygen -L -f "$S/k1-cert.pub" >"$S/L.txt"
starts=$(jq -r .starts_at <<<"$st"); ends=$(jq -r .ends_at <<<"$st")
want_from=$(date -u -d "@$(( $(date -d "$starts" +%s) - 60 ))" +%Y-%m-%dT%H:%M:%S)
want_to=$(date -u -d "$ends" +%Y-%m-%dT%H:%M:%S)
grep -qF "Valid: from $want_from to $want_to" "$S/L.txt" || fail "-L window: $(cat "$S/L.txt")"
grep -qF "Key ID: \"breakglass:$short:alice\"" "$S/L.txt" || fail "-L key id: $(cat "$S/L.txt")"
grep -A1 "Principals:" "$S/L.txt" | grep -q "breakglass-root" || fail "-L principals"
grep -q "permit-pty" "$S/L.txt" || fail "-L extensions"
grep -q "permit-port-forwarding" "$S/L.txt" && fail "port forwarding must be off"
echo "ok - ssh-keygen -L: window (back-dated 1m), principal, key id, extensions"

# `breakglass ssh`: ephemeral key in memory, the real ssh, temp files removed.
before_tmp=$(find /tmp -maxdepth 1 -name 'breakglass-ssh.*' | wc -l)
out=$("$BG" ssh "$short" root@127.0.0.1 -- "${SSH_OPTS[@]}" true 2>"$WORK/bgssh.err") ||
  fail "breakglass ssh: $(cat "$WORK/bgssh.err") $(tail -5 "$S/sshd.log")"
[ "$out" = "granted-by-$short" ] || fail "breakglass ssh output: '$out'"
after_tmp=$(find /tmp -maxdepth 1 -name 'breakglass-ssh.*' | wc -l)
[ "$before_tmp" = "$after_tmp" ] || fail "breakglass ssh left its temp dir"
echo "ok - breakglass ssh logs in and cleans up"

# --- another principal -----------------------------------------------------------------------
other=$(conn_grant bastion other-role 10m)
ssh-keygen -q -t ed25519 -N '' -f "$S/k2"
issue "$other" "$S/k2"
refused "refused for another principal" "$S/k2" "$S/k2-cert.pub" \
  "Certificate does not contain an authorized principal"

# --- revocation through the KRL --------------------------------------------------------------
long=$(conn_grant bastion breakglass-root 10m)
ssh-keygen -q -t ed25519 -N '' -f "$S/k3"
issue "$long" "$S/k3"
try_ssh "$S/k3" "$S/k3-cert.pub" >/dev/null || fail "login before revocation"
v0=$(grep -i '^x-krl-version' "$S/krl.headers" | tr -dc 0-9)
"$BG" revoke "$long" --reason "test revocation" >/dev/null
wait_until 300 bash -c "\"$BG\" status $long --json | jq -e '.state == \"revoked\"'" || fail "not revoked"
# The revoke job runs from the outbox: refetch until the KRL version moves.
wait_until 300 bash -c "curl -sf --cacert '$BREAKGLASS_CACERT' -D - -o /dev/null \
  '$BREAKGLASS_SERVER/v1/ssh/krl' | grep -i '^x-krl-version' | tr -dc 0-9 | grep -qvx '$v0'" ||
  fail "KRL version never moved"
fetch_krl
ssh-keygen -Q -f "$S/krl" "$S/k3-cert.pub" >/dev/null 2>&1 && fail "ssh-keygen -Q: not revoked"
refused "refused after revocation (KRL refetched)" "$S/k3" "$S/k3-cert.pub" "revoked by file"
"$BG" ssh-ca krl --config "$WORK/bg.toml" -o "$WORK/local.krl"
ssh-keygen -Q -f "$WORK/local.krl" "$S/k3-cert.pub" >/dev/null 2>&1 && fail "local KRL lacks the serial"
try_ssh "$S/k2" "$S/k2-cert.pub" >/dev/null 2>&1 || true
r=$(api POST "/v1/requests/$long/ssh-cert" "{\"public_key\":\"$(cat "$S/k3.pub")\"}")
[ "$(tail -1 <<<"$r")" = 409 ] || [ "$(tail -1 <<<"$r")" = 412 ] || [ "$(tail -1 <<<"$r")" = 400 ] ||
  fail "certificate for a revoked grant: $r"
echo "ok - no certificate for a revoked grant"

# --- someone else's grant ----------------------------------------------------------------------
conn_login admin
r=$(api POST "/v1/requests/$other/ssh-cert" "{\"public_key\":\"$(cat "$S/k2.pub")\"}")
[ "$(tail -1 <<<"$r")" = 403 ] || fail "admin got a certificate for alice's grant: $r"
echo "ok - only the requester gets certificates"
# status without an id: connector health, no failing jobs
"$BG" status --json | jq -e '.connectors[] | select(.connector == "bastion-ssh") | .state == "ok"' \
  >/dev/null || fail "status health: $("$BG" status --json)"
"$BG" probe --json | jq -e '.connectors[0].ok' >/dev/null || fail "probe"
echo "ok - status shows connector health; probe works"

# --- expiry ------------------------------------------------------------------------------------
wait_until 300 bash -c "\"$BG\" status $short --json | jq -e '.state == \"expired\"'" || fail "never expired"
sleep 1
refused "refused after expiry" "$S/k1" "$S/k1-cert.pub" "expired"
echo "all ssh_ca connector checks passed"
