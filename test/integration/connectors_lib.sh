# Helpers for the connector integration tests, on top of lib.sh: a server with a configuration
# file and a policy of the test's own, accounts made with `breakglass user add`, and logins.
#   source connectors_lib.sh
#   conn_config <<'TOML' ... TOML     (connector tables; data_dir/policy are filled in)
#   conn_policy <<'TOML' ... TOML
#   conn_user NAME ROLE...; bg_start_server --config "$WORK/bg.toml"; conn_login NAME
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export TZ=UTC
conn_config() {
  mkdir -p -m 700 "$WORK/breakglass-data"  # provisioned, as a named data directory must be
  { printf 'data_dir = "%s"\npolicy = "%s"\n' "$WORK/breakglass-data" "$WORK/policy.toml"; cat; } \
    >"$WORK/bg.toml"
}
conn_policy() { cat >"$WORK/policy.toml"; }
# Creates an account (password NAME-long-password) and keeps its TOTP secret in $WORK/NAME.totp;
# with CONN_EMAIL set, the account's e-mail address.
conn_user() {
  local name=$1; shift
  local roles=()
  for r in "$@"; do roles+=(--role "$r"); done
  local out
  # The exit status is not trusted alone: what counts is the enrolment printed once.
  out=$(echo "$name-long-password" | stdbuf -oL "$BG" user add "$name" "${roles[@]}" \
        ${CONN_EMAIL:+--email "$CONN_EMAIL"} --password-stdin \
        --config "$WORK/bg.toml" --json) || true
  grep -q 'otpauth://' <<<"$out" || fail "user add $name: $out"
  jq -r .otpauth_uri <<<"$out" | sed -E 's/.*secret=([A-Z2-7]+).*/\1/' >"$WORK/$name.totp"
}
conn_login() {
  local u=$1
  if ! echo "$u-long-password" | "$BG" login --user "$u" --password-stdin \
      --totp "$(oathtool --totp -b "$(cat "$WORK/$u.totp")")" >/dev/null 2>&1; then
    sleep 30  # the code of this step was used already
    echo "$u-long-password" | "$BG" login --user "$u" --password-stdin \
      --totp "$(oathtool --totp -b "$(cat "$WORK/$u.totp")")" >/dev/null || fail "login $u"
  fi
}
# Creates a tier-1 (self-approved) request and waits until it is active; prints its id.
conn_grant() {  # RESOURCE PRIVILEGE DURATION
  local out id
  out=$("$BG" request --resource "$1" --privilege "$2" --duration "$3" \
        --reason "integration test of connectors" --ticket INC-1000 --json) || fail "request $*"
  id=$(jq -r .id <<<"$out")
  wait_until 300 bash -c "\"$BG\" status $id --json | jq -e '.state == \"active\"'" ||
    fail "request $id never active: $("$BG" status "$id" --json)"
  echo "$id"
}

# Starts a real sshd on a free loopback port that trusts the CA in $S/ca.pub, maps principals
# through $S/principals/%u and honours the KRL in $S/krl. Extra sshd_config lines may be given
# as arguments. Sets SPORT and SSHD_PID (the caller's trap kills it).
start_sshd() {
  ssh-keygen -q -t ed25519 -N '' -f "$S/hostkey"
  SPORT=$(free_port)
  {
    cat <<CONF
Port $SPORT
ListenAddress 127.0.0.1
HostKey $S/hostkey
PidFile $S/sshd.pid
TrustedUserCAKeys $S/ca.pub
AuthorizedPrincipalsFile $S/principals/%u
AuthorizedKeysFile none
RevokedKeys $S/krl
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
CONF
    for line in "$@"; do echo "$line"; done
  } >"$S/sshd_config"
  "$SSHD" -t -f "$S/sshd_config" || fail "sshd config"
  "$SSHD" -D -e -f "$S/sshd_config" 2>"$S/sshd.log" &
  SSHD_PID=$!
  wait_until 300 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SPORT" || fail "sshd did not start"
}

# Starts the loopback alert receivers (alert_receivers.py: a signed webhook checked with the key
# in $WORK/hook.key, a Slack-shaped and a PagerDuty-shaped hook, an SMTP server), recording into
# $RX; sets HP (HTTP port), MP (SMTP port) and RX_PID. Exits 77 without python3-aiosmtpd.
start_alert_receivers() {
  local py=/usr/bin/python3; [ -x "$py" ] || py=python3
  "$py" -c 'import aiosmtpd' 2>/dev/null || { echo "SKIP: python3-aiosmtpd"; exit 77; }
  "$py" "$(dirname "${BASH_SOURCE[0]}")/alert_receivers.py" "$WORK/http.port" "$WORK/smtp.port" \
    "$RX" "$WORK/hook.key" 2>"$WORK/rx.err" &
  RX_PID=$!
  wait_until 60 test -s "$WORK/http.port" || fail "the receivers did not start: $(cat "$WORK/rx.err")"
  HP=$(cat "$WORK/http.port"); MP=$(cat "$WORK/smtp.port")
}
