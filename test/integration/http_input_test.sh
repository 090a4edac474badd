#!/usr/bin/env bash
# What the HTTP layer answers to hostile input and which headers it always sends (issue 13):
# invalid UTF-8 in a path or query (13.27), security headers (13.30), recording-token and
# duplicate JSON keys (13.33).
source "$(dirname "$0")/lib.sh"
bg_start_server
S=$BREAKGLASS_SERVER
# get_status URL [curl args...] -> "STATUS" and the body in $WORK/body, headers in $WORK/headers
get_status() {
  local url=$1; shift
  curl -s --cacert "$BREAKGLASS_CACERT" -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' "$@" "$url"
}
expect_json_400() {  # URL [curl args...]
  local st; st=$(get_status "$@")
  [ "$st" = 400 ] || fail "$1 answered $st, not 400: $(cat "$WORK/body")"
  jq -e '.error.code == "invalid_argument" and (.error.field | length > 0)' "$WORK/body" >/dev/null ||
    fail "$1: not the JSON error body naming a field: $(cat "$WORK/body")"
}

# 13.27: invalid UTF-8 in a path or query is a 400 with the JSON error body, with or without a
# token, never a 500.
login alice
urls=("/v1/ssh/ca?connector=%ff" "/v1/ssh/krl?connector=%ff" "/v1/ssh/krl" "/v1/requests/%ff"
      "/v1/requests/%ffabc/approve" "/v1/requests/x/%ff" "/v1/sessions/%ff" "/v1/sessions/%ff/chunks"
      "/v1/requests?before=%ff" "/v1/sessions?request=%ff" "/v1/audit/entries?start=%ff"
      "/%c0%af" "/v1/requests/%ed%a0%80")
for u in "${urls[@]}"; do
  if [ "$u" = /v1/ssh/krl ]; then
    # Without a connector name it is the demo's only ssh_ca's KRL: never a 500.
    st=$(get_status "$S$u"); [ "$st" -lt 500 ] || fail "$u answered $st"
    continue
  fi
  expect_json_400 "$S$u"
  expect_json_400 "$S$u" -H "Authorization: Bearer $(token)"
  expect_json_400 "$S$u" -X POST -H "Authorization: Bearer $(token)" --data '{}'
done
echo "invalid UTF-8: 400 for ${#urls[@]} URLs"

# 13.30: every response says nosniff and, over TLS, HSTS; responses with tokens are no-store.
check_security_headers() {  # what
  grep -qi '^X-Content-Type-Options: nosniff' "$WORK/headers" || fail "$1: no X-Content-Type-Options: nosniff"
  grep -qi '^Strict-Transport-Security: max-age=' "$WORK/headers" || fail "$1: no Strict-Transport-Security"
}
for u in /healthz /metrics /v1/openapi.json /v1/me /v1/requests /nope "/v1/requests/%ff" /v1/ssh/ca; do
  get_status "$S$u" >/dev/null; check_security_headers "GET $u"
  get_status "$S$u" -H "Authorization: Bearer $(token)" >/dev/null; check_security_headers "GET $u with a token"
done
get_status "$S/v1/auth/login" -X POST --data '{"username":"x"}' >/dev/null; check_security_headers "a refused login"
# Oversized headers are the transport's own 431.
get_status "$S/healthz" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" >/dev/null || true
check_security_headers "431"
c=$(code bob)
st=$(get_status "$S/v1/auth/login" -X POST -H 'Content-Type: application/json' \
       --data "{\"username\":\"bob\",\"password\":\"bob-demo-pass\",\"totp\":\"$c\"}")
[ "$st" = 200 ] || fail "login as bob: $st $(cat "$WORK/body")"
check_security_headers "login"
grep -qi '^Cache-Control: no-store' "$WORK/headers" || fail "login: no Cache-Control: no-store"
BOB=$(jq -r .token "$WORK/body")
st=$(get_status "$S/v1/auth/renew" -X POST -H "Authorization: Bearer $BOB")
[ "$st" = 200 ] || fail "renew: $st $(cat "$WORK/body")"
grep -qi '^Cache-Control: no-store' "$WORK/headers" || fail "renew: no Cache-Control: no-store"
BOB=$(jq -r .token "$WORK/body")
"$BG" request --resource prod-db --privilege read_only --duration 30m --reason "recording token check" \
  --ticket INC-4242 --json >"$WORK/req.json"
rid=$(jq -r .id "$WORK/req.json")
wait_until 300 sh -c "curl -s --cacert '$BREAKGLASS_CACERT' -H 'Authorization: Bearer $(token)' '$S/v1/requests/$rid' | jq -e '.state == \"active\"'" ||
  fail "request $rid never became active"
st=$(get_status "$S/v1/requests/$rid/recording-token" -X POST -H "Authorization: Bearer $(token)")
[ "$st" = 201 ] || fail "recording-token: $st $(cat "$WORK/body")"
grep -qi '^Cache-Control: no-store' "$WORK/headers" || fail "recording-token: no Cache-Control: no-store"
echo "security headers ok"

# 13.33: recording-token is 404 for a request the caller may not see, as for a missing one.
st=$(get_status "$S/v1/requests/$rid/recording-token" -X POST -H "Authorization: Bearer $BOB")
[ "$st" = 404 ] || fail "recording-token of an invisible request: $st $(cat "$WORK/body")"
st=$(get_status "$S/v1/requests/req-missing/recording-token" -X POST -H "Authorization: Bearer $BOB")
[ "$st" = 404 ] || fail "recording-token of a missing request: $st"
# Duplicate JSON keys are refused naming the key.
st=$(get_status "$S/v1/requests" -X POST -H "Authorization: Bearer $(token)" \
       --data '{"resource":"prod-db","resource":"other","privilege":"read_only","duration":"5m","reason":"duplicate keys","ticket":"INC-1"}')
[ "$st" = 400 ] && [ "$(jq -r .error.field "$WORK/body")" = resource ] || fail "duplicate key: $st $(cat "$WORK/body")"
# The demo listens only on loopback.
set +e; (cd "$WORK" && "$BG" serve --listen 0.0.0.0:0 >"$WORK/demo.out" 2>"$WORK/demo.err"); rc=$?; set -e
[ $rc -ne 0 ] && grep -q "loopback" "$WORK/demo.err" || fail "demo on 0.0.0.0: exit $rc $(cat "$WORK/demo.err")"
echo "13.33 ok"

# 13.1: an open /v1/events stream ends once its token is no longer valid.
# stream_ends TOKEN ACTION...: opens a stream, checks it is open, runs ACTION, waits for the end.
stream_ends() {
  local tok=$1; shift
  rm -f "$WORK/events.h"
  curl -sN --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $tok" --max-time 120 \
       -D "$WORK/events.h" "$S/v1/events" >"$WORK/events.out" 2>/dev/null &
  local pid=$!
  wait_until 300 grep -qi "text/event-stream" "$WORK/events.h" || fail "the stream did not open"
  kill -0 $pid 2>/dev/null || fail "the stream closed at once"
  "$@"
  local start=$(date +%s%N)
  wait_until 300 sh -c "! kill -0 $pid" || { kill $pid; fail "the stream outlived its token ($*)"; }
  wait $pid 2>/dev/null || true
  echo "stream ended $(( ($(date +%s%N) - start) / 1000000 )) ms after: $1"
}
logout_token() { curl -sf -o /dev/null --cacert "$BREAKGLASS_CACERT" -X POST -H "Authorization: Bearer $1" "$S/v1/auth/logout"; }
stream_ends "$BOB" logout_token "$BOB"
login carol; CAROL=$(token)
disable_carol() { "$BG" user disable carol --data-dir "$WORK/breakglass-data" >/dev/null; }
stream_ends "$CAROL" disable_carol
"$BG" user enable carol --data-dir "$WORK/breakglass-data" >/dev/null
# Expiry: a second server whose tokens live 5 s.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
P2=$(free_port)
cat >"$WORK/short.toml" <<TOML
data_dir = "$WORK/breakglass-data"
listen = "127.0.0.1:$P2"
token_ttl = "5s"
[connectors.bastion-ssh]
kind = "none"
[connectors.prod-pg]
kind = "none"
TOML
"$BG" serve --config "$WORK/short.toml" >"$WORK/serve2.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
S=https://127.0.0.1:$P2
wait_until 300 grep -q "listening on" "$WORK/serve2.out" || fail "the short-token server did not start"
export BREAKGLASS_SERVER=$S
login dave
token_expires() { :; }  # nothing to do: the token lives 5 s
stream_ends "$(token)" token_expires
echo "13.1 ok"

echo "http input ok"
