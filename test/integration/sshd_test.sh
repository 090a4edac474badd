#!/usr/bin/env bash
# Integration test of src/ssh (certificates, KRLs) against the real OpenSSH tools.
#
#   sshd_test.sh PATH/TO/ssh_ca_tool
#
# ssh-keygen must read our certificates (-L) and query our KRLs (-Q); a real sshd started here
# on 127.0.0.1 (free port, temp dir, its own config: TrustedUserCAKeys, AuthorizedPrincipalsFile,
# RevokedKeys) must let our certificate in, and refuse it once expired, once its serial is in the
# KRL, and when it names another principal. Exit 77 (skip) only when the OpenSSH tools are absent.
set -euo pipefail

TOOL=$(realpath "${1:?usage: sshd_test.sh PATH/TO/ssh_ca_tool}")
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
for t in ssh ssh-keygen "$SSHD"; do
  if ! command -v "$t" >/dev/null 2>&1; then
    echo "SKIP: $t not found"
    exit 77
  fi
done
export TZ=UTC

TMP=$(mktemp -d /tmp/bg-sshd-test.XXXXXX)
SSHD_PID=
cleanup() {
  if [ -n "$SSHD_PID" ] && kill -0 "$SSHD_PID" 2>/dev/null; then
    kill "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

FAILURES=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILURES=$((FAILURES + 1)); }
expect_contains() {  # file, fixed string, description
  if grep -qF -- "$2" "$1"; then pass "$3"; else fail "$3 (no \"$2\" in $1)"; cat "$1"; fi
}

NOW=$(date +%s)
AFTER=$((NOW - 60))
BEFORE=$((NOW + 3600))
fmt_time() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }

cd "$TMP"
# --- keys: the CA and an ephemeral user key, both written by us --------------------------------
"$TOOL" keygen ca "breakglass test CA"
"$TOOL" keygen user "ephemeral"
[ "$(stat -c %a user)" = 600 ] && pass "private key file is 0600" || fail "private key mode"
# ssh-keygen must read our private key file format and derive the same public key.
if [ "$(ssh-keygen -y -f ca | cut -d' ' -f1-2)" = "$(cut -d' ' -f1-2 ca.pub)" ]; then
  pass "ssh-keygen -y reads our OpenSSH private key file"
else
  fail "ssh-keygen -y disagrees with our public key"
fi
if [ "$("$TOOL" fingerprint ca.pub)" = "$(ssh-keygen -l -f ca.pub | cut -d' ' -f2)" ]; then
  pass "fingerprint matches ssh-keygen -l"
else
  fail "fingerprint differs from ssh-keygen -l"
fi
ssh-keygen -q -t ecdsa -b 384 -N '' -C ecdsa-user -f ecuser

# --- certificates ------------------------------------------------------------------------------
"$TOOL" sign ca user.pub 1001 "req_test alice" breakglass-root "$AFTER" "$BEFORE" \
  source-address=127.0.0.1/32 permit-pty > user-cert.pub
"$TOOL" sign ca ecuser.pub 1002 "req_test2 bob" breakglass-root "$AFTER" "$BEFORE" \
  > ecuser-cert.pub
"$TOOL" sign ca user.pub 1003 "req_old alice" breakglass-root $((NOW - 7200)) $((NOW - 3600)) \
  > expired-cert.pub
"$TOOL" sign ca user.pub 1004 "req_other alice" some-other-role "$AFTER" "$BEFORE" \
  > other-cert.pub
"$TOOL" sign ca user.pub 1005 "req_forced alice" breakglass-root "$AFTER" "$BEFORE" \
  "force-command=echo forced-by-certificate" permit-X11-forwarding permit-agent-forwarding \
  permit-port-forwarding permit-pty permit-user-rc > forced-cert.pub

ssh-keygen -L -f user-cert.pub > L1.txt
expect_contains L1.txt "Type: ssh-ed25519-cert-v01@openssh.com user certificate" "-L: type"
expect_contains L1.txt "Key ID: \"req_test alice\"" "-L: key id"
expect_contains L1.txt "Serial: 1001" "-L: serial"
expect_contains L1.txt "Valid: from $(fmt_time "$AFTER") to $(fmt_time "$BEFORE")" "-L: window"
expect_contains L1.txt "$(printf '        Principals: \n                breakglass-root')" "-L: principal"
expect_contains L1.txt "source-address 127.0.0.1/32" "-L: source-address"
expect_contains L1.txt "$(ssh-keygen -l -f ca.pub | cut -d' ' -f2)" "-L: signing CA"
ssh-keygen -L -f ecuser-cert.pub > L2.txt
expect_contains L2.txt "Type: ecdsa-sha2-nistp384-cert-v01@openssh.com user certificate" \
  "-L: ECDSA user key gives an ECDSA certificate"
ssh-keygen -L -f forced-cert.pub > L3.txt
expect_contains L3.txt "force-command echo forced-by-certificate" "-L: force-command"
# Extensions in the order ssh-keygen prints them (the order they are in the certificate).
sed -n '/Extensions:/,$p' L3.txt | tail -n +2 | tr -d ' \t' > L3ext.txt
printf '%s\n' permit-X11-forwarding permit-agent-forwarding permit-port-forwarding permit-pty \
  permit-user-rc > L3want.txt
if cmp -s L3ext.txt L3want.txt; then pass "-L: extensions, sorted"; else
  fail "-L: extensions"; cat L3.txt; fi
# Our parser verifies what we issued.
"$TOOL" show user-cert.pub ca.pub | grep -qx "serial: 1001" && pass "our parser verifies" ||
  fail "our parser"

# --- KRL ---------------------------------------------------------------------------------------
"$TOOL" krl ca.pub 1 "$NOW" krl.empty
"$TOOL" krl ca.pub 2 "$NOW" krl.revoked 1001 7 8 9
rc=0; ssh-keygen -Q -f krl.revoked user-cert.pub > Q1.txt || rc=$?
[ "$rc" = 1 ] && grep -q "REVOKED" Q1.txt && pass "ssh-keygen -Q: serial 1001 revoked" ||
  { fail "ssh-keygen -Q revoked (rc=$rc)"; cat Q1.txt; }
rc=0; ssh-keygen -Q -f krl.revoked ecuser-cert.pub > Q2.txt || rc=$?
[ "$rc" = 0 ] && grep -q ": ok" Q2.txt && pass "ssh-keygen -Q: serial 1002 ok" ||
  { fail "ssh-keygen -Q ok (rc=$rc)"; cat Q2.txt; }
ssh-keygen -Q -l -f krl.revoked > Ql.txt
expect_contains Ql.txt "serial: 7-9" "ssh-keygen -Ql: run stored as a range"
expect_contains Ql.txt "serial: 1001" "ssh-keygen -Ql: single serial"
expect_contains Ql.txt "# KRL version 2" "ssh-keygen -Ql: version"

# --- a real sshd -------------------------------------------------------------------------------
mkdir -p /run/sshd principals
echo breakglass-root > principals/root
cp krl.empty krl
ssh-keygen -q -t ed25519 -N '' -f hostkey
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > sshd_config <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/hostkey
PidFile $TMP/sshd.pid
TrustedUserCAKeys $TMP/ca.pub
AuthorizedPrincipalsFile $TMP/principals/%u
AuthorizedKeysFile none
RevokedKeys $TMP/krl
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
CONF
"$SSHD" -t -f sshd_config
"$SSHD" -D -e -f sshd_config 2> sshd.log &
SSHD_PID=$!
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$SSHD_PID" 2>/dev/null; then echo "sshd died"; cat sshd.log; exit 1; fi
  sleep 0.1
done

try_ssh() {  # key cert [command]; prints the command's output, returns ssh's status
  ssh -F /dev/null -i "$1" -o CertificateFile="$2" -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o BatchMode=yes -o PasswordAuthentication=no -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 \
    -p "$PORT" root@127.0.0.1 "${3:-true}" 2>>ssh.err
}
expect_login() {  # description key cert
  if try_ssh "$2" "$3" > /dev/null; then pass "$1"; else fail "$1"; tail -20 sshd.log; fi
}
expect_refused() {  # description key cert sshd-log-line (logged for this attempt)
  local rc=0 before
  before=$(wc -l < sshd.log)
  try_ssh "$2" "$3" > /dev/null || rc=$?
  if [ "$rc" = 255 ] && tail -n +"$((before + 1))" sshd.log | grep -qF -- "$4" &&
    ! tail -n +"$((before + 1))" sshd.log | grep -qF "Accepted publickey"; then pass "$1"; else
    fail "$1 (ssh exit $rc; expected 255 and \"$4\" in sshd.log)"; tail -20 sshd.log; fi
}

expect_login "sshd accepts our ed25519 certificate (our private key file)" user user-cert.pub
expect_contains sshd.log "ID req_test alice (serial 1001)" "sshd logs our key id and serial"
expect_login "sshd accepts our certificate on an ssh-keygen ECDSA key" ecuser ecuser-cert.pub
out=$(try_ssh user forced-cert.pub "echo not-this" || true)
[ "$out" = "forced-by-certificate" ] && pass "sshd applies force-command" ||
  fail "force-command: got '$out'"
expect_refused "sshd refuses an expired certificate" user expired-cert.pub \
  "Certificate invalid: expired"
expect_refused "sshd refuses a certificate for another principal" user other-cert.pub \
  "Certificate does not contain an authorized principal"
# Revocation: publish the KRL with serial 1001; sshd reads RevokedKeys on each login.
cp krl.revoked krl.tmp && mv krl.tmp krl
expect_refused "sshd refuses a certificate whose serial is in the KRL" user user-cert.pub \
  "revoked by file $TMP/krl"
expect_login "sshd still accepts a certificate not in the KRL" ecuser ecuser-cert.pub
# A missing RevokedKeys file fails closed: every certificate is refused (docs/ssh-ca.md says so).
rm krl
expect_refused "sshd refuses everything when the KRL file is missing" ecuser ecuser-cert.pub \
  "revoked keys file"

if [ "$FAILURES" -ne 0 ]; then
  echo "$FAILURES check(s) failed; sshd log:"
  cat sshd.log
  exit 1
fi
if [ -n "${BG_TEST_VERBOSE:-}" ]; then cat sshd.log; fi
echo "all sshd/ssh-keygen checks passed"
