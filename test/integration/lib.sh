# Shared helpers for the integration scripts: a server on a free loopback port in a temp dir.
# Usage: source lib.sh; bg_start_server [serve flags...]; ...; (cleanup runs on exit)
set -euo pipefail
BG=${BG:?BG must point at the breakglass binary}
WORK=$(mktemp -d /tmp/bg-it.XXXXXX)
export HOME=$WORK/home
mkdir -p "$HOME"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ "${KEEP_WORK:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/serve.err" ] && tail -20 "$WORK/serve.err" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Polls `cmd` until it succeeds or `secs` pass.
wait_until() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.1
  done
}
bg_start_server() {
  PORT=$(free_port)
  : >"$WORK/serve.out"  # now, not in the background: a wait must not read the last run's lines
  (cd "$WORK" && exec "$BG" serve --listen 127.0.0.1:$PORT "$@" >"$WORK/serve.out" 2>"$WORK/serve.err") &
  SERVER_PID=$!
  export BREAKGLASS_SERVER=https://127.0.0.1:$PORT
  export BREAKGLASS_CACERT=$WORK/breakglass-data/tls.crt
  # Until it listens, or has exited (then at once, not after the whole wait).
  wait_until 300 bash -c "grep -q 'listening on' '$WORK/serve.out' || ! kill -0 $SERVER_PID" ||
    fail "server did not start"
  grep -q "listening on" "$WORK/serve.out" || fail "server exited before listening"
}
# The current TOTP code of a demo user.
code() { oathtool --totp -b "$(awk -v u="$1" '$1==u {print $3}' "$WORK/breakglass-data/demo-credentials.txt")"; }
# Logs in as a demo user; waits for a fresh TOTP step when the user's last code was used.
login() {
  local u=$1
  local c; c=$(code "$u")
  if ! echo "$u-demo-pass" | "$BG" login --user "$u" --password-stdin --totp "$c" >/dev/null; then
    sleep 30
    echo "$u-demo-pass" | "$BG" login --user "$u" --password-stdin --totp "$(code "$u")" >/dev/null
  fi
}
token() { jq -r .token "$HOME/.config/breakglass/credentials.json"; }
api() {  # api METHOD PATH [BODY] -> prints "STATUS BODY"
  local m=$1 p=$2 b=${3:-}
  curl -s --cacert "$BREAKGLASS_CACERT" -X "$m" -H "Authorization: Bearer $(token)" \
       -H 'Content-Type: application/json' ${b:+--data "$b"} -w '\n%{http_code}' "$BREAKGLASS_SERVER$p"
}
# The log of the installation of CONFIG (servers stopped) verified offline: `audit export` and
# `audit verify`, an evidence report and its verification, and Go's sumdb/tlog and sumdb/note
# (test/integration/go/auditcheck) when go is installed. Sets ENTRIES.
verify_log_offline() {
  local config=$1 go_dir
  go_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/go/auditcheck
  "$BG" audit export --config "$config" --bundle "$WORK/bundle" >/dev/null || fail "audit export"
  "$BG" --json audit verify --bundle "$WORK/bundle" >"$WORK/v.json" || fail "verify: $(cat "$WORK/v.json")"
  ENTRIES=$(jq .entries "$WORK/v.json")
  "$BG" report evidence --config "$config" --since 1d --out "$WORK/report" >/dev/null ||
    fail "evidence report"
  "$BG" audit verify --report "$WORK/report" >/dev/null || fail "the evidence report does not verify"
  if command -v go >/dev/null; then
    (cd "$go_dir" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$WORK/gocache \
       go build -o "$WORK/auditcheck" .) || fail "go build auditcheck"
    "$WORK/auditcheck" -report "$WORK/report" >"$WORK/go.out" 2>&1 ||
      fail "Go rejects the log: $(cat "$WORK/go.out")"
  else
    echo "note: go not installed, the Go check is skipped"
  fi
}
