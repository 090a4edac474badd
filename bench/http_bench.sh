#!/usr/bin/env bash
# Authenticated read (GET /v1/requests/{id}) over HTTPS under wrk -t2 -c64, as a ratio to nginx
# returning a constant 200 over TLS 1.3 on the same machine in the same run.
# Usage: BG=build/breakglass bash bench/http_bench.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
BG=$(realpath "${BG:-build/breakglass}")
DUR=${1:-15}
source test/integration/lib.sh
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "needs wrk and nginx"; exit 77; }

# nginx: constant 200 over TLS 1.3, as many workers as cores
NG=$WORK/nginx; mkdir -p "$NG/logs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -keyout "$NG/key.pem" -out "$NG/cert.pem" 2>/dev/null
NPORT=$(free_port)
cat >"$NG/nginx.conf" <<CONF
worker_processes auto;
pid $NG/nginx.pid;
error_log $NG/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NPORT ssl;
    ssl_certificate $NG/cert.pem;
    ssl_certificate_key $NG/key.pem;
    ssl_protocols TLSv1.3;
    location / { return 200 "{\"ok\":true}"; }
  }
}
CONF
nginx -c "$NG/nginx.conf" -p "$NG"
stop_nginx() {  # SIGTERM to the master (what `nginx -s stop` sends), then wait for it to go
  local pid; pid=$(cat "$NG/nginx.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}
trap 'stop_nginx; cleanup' EXIT
sleep 0.5

bg_start_server
login alice
id=$("$BG" request --resource prod-db --privilege read_only --duration 1h \
     --reason "benchmark read target" --ticket INC-1000 --json | jq -r .id)
TOKEN=$(token)

rps() { awk '/Requests\/sec/ {print $2}'; }
echo "== nginx (TLS 1.3, constant 200)"
n=$(wrk -t2 -c64 -d"${DUR}s" "https://127.0.0.1:$NPORT/" | tee /dev/stderr | rps)
echo "== breakglass GET /v1/requests/{id} (TLS, bearer token)"
b=$(wrk -t2 -c64 -d"${DUR}s" -H "Authorization: Bearer $TOKEN" "$BREAKGLASS_SERVER/v1/requests/$id" | tee /dev/stderr | rps)
python3 -c "print(f'nginx {float(\"$n\"):.0f} req/s, breakglass {float(\"$b\"):.0f} req/s, ratio {float(\"$b\")/float(\"$n\"):.2f}')"
