#!/usr/bin/env bash
# Slow and hostile clients and the TLS offer, against the real server on loopback (issue 17):
# slowloris, bodies announced longer than sent, clients that never read, event streams that never
# read, the per-source connection limit (slow_clients_check.py runs the attacks while a
# well-behaved client must be served throughout); settings out of range refused at start; TLS
# 1.2+ with forward-secret AEAD suites only, checked with `openssl s_client`, and HSTS.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
ulimit -n 4096

# --- Settings out of range are refused at start, with one line naming the setting -----------
refused_at_start() {  # TOML_LINE(S) EXPECTED_TEXT
  printf '%s\n' "$1" >"$WORK/bad.toml"
  local rc=0
  "$BG" serve --config "$WORK/bad.toml" --listen "127.0.0.1:$(free_port)" \
    >"$WORK/bad.out" 2>"$WORK/bad.err" || rc=$?
  [ "$rc" -ne 0 ] || fail "serve started with: $1"
  grep -qF -- "$2" "$WORK/bad.err" || fail "serve's error for '$1' does not say '$2': $(cat "$WORK/bad.err")"
  [ "$(wc -l <"$WORK/bad.err")" -eq 1 ] || fail "more than one line for '$1': $(cat "$WORK/bad.err")"
}
refused_at_start 'http_header_timeout = "0s"' "bad.toml:1:23: 'http_header_timeout' must be from 1s to 10m"
refused_at_start 'http_write_timeout = "2h"' "'http_write_timeout' must be from 1s to 10m"
refused_at_start 'http_max_connections = 0' "'http_max_connections' must be an integer from 1 to 65536"
refused_at_start $'http_max_connections = 10\nhttp_max_connections_per_source = 20' \
  "'http_max_connections_per_source' (20) must not exceed 'http_max_connections' (10)"
echo "settings out of range: refused at start"

# --- The demo makes the data directory and its accounts; then a server with short limits -----
bg_start_server
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
LIMIT=50
cat >"$WORK/limits.toml" <<TOML
data_dir = "$WORK/breakglass-data"
http_max_connections_per_source = $LIMIT
http_header_timeout = "10s"
http_body_timeout = "5s"
http_write_timeout = "5s"
[connectors.bastion-ssh]
kind = "none"
[connectors.prod-pg]
kind = "none"
TOML
bg_start_server --config "$WORK/limits.toml"
login alice
python3 "$(dirname "$0")/slow_clients_check.py" --port "$PORT" --cacert "$BREAKGLASS_CACERT" \
  --token "$(token)" --limit "$LIMIT" --header-timeout 10 --body-timeout 5 --write-timeout 5 \
  -n "${SLOW_CLIENTS:-300}" >"$WORK/slow.out" 2>"$WORK/slow.err" ||
  fail "slow clients: $(cat "$WORK/slow.err") $(tail -3 "$WORK/slow.out")"
cat "$WORK/slow.out"
kill -0 "$SERVER_PID" || fail "the server died under the slow clients"

# --- TLS: versions and suites the server accepts (its own ECDSA certificate) ----------------
# handshake NAME ARGS...: 0 when s_client completes a handshake with these options.
handshake() {
  local name=$1; shift
  timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost "$@" \
    </dev/null >"$WORK/tls-$name.out" 2>&1 || return 1
  grep -q 'Cipher is [A-Z0-9]' "$WORK/tls-$name.out"  # "Cipher is (NONE)" when it failed
}
accepts() { handshake "$@" || fail "TLS: refused $* ($(tail -3 "$WORK/tls-$1.out"))"; }
# Refused by the server: it answered the client's offer with an alert (protocol_version or
# handshake_failure), not the client declining to offer it.
refuses() {
  ! handshake "$@" || fail "TLS: accepted $* ($(grep -m1 'Cipher' "$WORK/tls-$1.out"))"
  grep -q 'alert protocol version\|alert handshake failure' "$WORK/tls-$1.out" ||
    fail "TLS: $* failed without the server's alert: $(head -3 "$WORK/tls-$1.out")"
}
# Old versions need the client's own floor lowered to be offered at all.
refuses tls10 -tls1 -cipher 'DEFAULT:@SECLEVEL=0'
refuses tls11 -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
accepts tls13 -tls1_3
for s in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256; do
  accepts "13-$s" -tls1_3 -ciphersuites "$s"
done
# CCM is AEAD too, but not among the three suites the server names.
refuses 13-ccm -tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256
for c in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305; do
  accepts "12-$c" -tls1_2 -cipher "$c"
done
for c in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA384 AES256-SHA AES128-GCM-SHA256; do
  refuses "12-$c" -tls1_2 -cipher "$c:@SECLEVEL=0"
done
# HSTS on the page and on the API.
for p in / /healthz /v1/me; do
  curl -s --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $(token)" -D "$WORK/h" -o /dev/null "$BREAKGLASS_SERVER$p"
  grep -qi '^Strict-Transport-Security: max-age=31536000' "$WORK/h" || fail "no HSTS on $p: $(cat "$WORK/h")"
done
echo "TLS (ECDSA certificate): 1.0/1.1, non-AEAD and non-FS suites refused; ECDHE-GCM/CHACHA20 and 1.3 accepted; HSTS"

# --- TLS with an RSA certificate: RSA key exchange and CBC suites are still refused ----------
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/rsa.key" -out "$WORK/rsa.crt" -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
chmod 600 "$WORK/rsa.key"
{ echo "tls_cert = \"$WORK/rsa.crt\""; echo "tls_key = \"$WORK/rsa.key\""; cat "$WORK/limits.toml"; } >"$WORK/rsa.toml"
bg_start_server --config "$WORK/rsa.toml"
for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305; do
  accepts "rsa-$c" -tls1_2 -cipher "$c"
done
for c in AES128-GCM-SHA256 AES256-GCM-SHA384 AES256-SHA AES128-SHA256 ECDHE-RSA-AES128-SHA \
         ECDHE-RSA-AES256-SHA384 DHE-RSA-AES128-GCM-SHA256; do
  refuses "rsa-$c" -tls1_2 -cipher "$c:@SECLEVEL=0"
done
refuses rsa-tls11 -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
accepts rsa-tls13 -tls1_3
curl -s --cacert "$WORK/rsa.crt" -D "$WORK/h" -o /dev/null "$BREAKGLASS_SERVER/"
grep -qi '^Strict-Transport-Security: max-age=31536000' "$WORK/h" || fail "no HSTS on / (RSA)"
echo "TLS (RSA certificate): only ECDHE-RSA AEAD suites in 1.2; RSA key exchange, CBC, DHE refused"
echo "slow clients ok"
