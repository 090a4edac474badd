#!/usr/bin/env bash
# Authenticated read (GET /v1/requests/{id}) over HTTPS under wrk -t2 -c64, as a ratio to nginx
# returning a constant 200 over TLS 1.3 on the same machine in the same run; also the CPU
# microseconds per request of each server (user + system, from /proc), the steadier figure on a
# machine that runs other work.
# Usage: BG=build/breakglass [ROUNDS=5] bash bench/http_bench.sh [seconds]
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

# CPU seconds (user + system) the processes have used so far, from /proc (clock ticks).
cpu_s() {
  local ticks=0 pid
  for pid in "$@"; do ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  python3 -c "print($ticks / $(getconf CLK_TCK))"
}
# run NAME PIDS... -- WRK-ARGS...: requests per second, and the servers' CPU microseconds per
# request (the figure that depends least on what else the machine runs).
run() {
  local name=$1 pids=() out before after; shift
  while [ "$1" != -- ]; do pids+=("$1"); shift; done; shift
  before=$(cpu_s "${pids[@]}")
  out=$(wrk -t2 -c64 -d"${DUR}s" "$@")
  after=$(cpu_s "${pids[@]}")
  echo "$out" >&2
  python3 - "$name" "$before" "$after" <<PY
import re, sys
out = """$out"""
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
n = int(re.search(r"([0-9]+) requests in", out).group(1))
print(f"{sys.argv[1]} {rps:.0f} {(float(sys.argv[3]) - float(sys.argv[2])) * 1e6 / n:.2f}")
PY
}
# ROUNDS rounds of nginx then breakglass, one line each, then the medians (a single run swings
# by 0.2 on a shared machine).
ROUNDS=${ROUNDS:-1}
case $ROUNDS in ''|*[!0-9]*|0) echo "ROUNDS must be a positive number, got '$ROUNDS'" >&2; exit 2 ;; esac
results=()
for round in $(seq "$ROUNDS"); do
  echo "== round $round: nginx (TLS 1.3, constant 200)" >&2
  read -r _ n n_cpu < <(run nginx $(pgrep -P "$(cat "$NG/nginx.pid")") -- "https://127.0.0.1:$NPORT/")
  echo "== round $round: breakglass GET /v1/requests/{id} (TLS, bearer token)" >&2
  read -r _ b b_cpu < <(run breakglass "$SERVER_PID" -- -H "Authorization: Bearer $TOKEN" \
    "$BREAKGLASS_SERVER/v1/requests/$id")
  python3 -c "print(f'nginx $n req/s ($n_cpu us CPU/request), breakglass $b req/s ($b_cpu us CPU/request), ratio {$b/$n:.2f} (CPU per request {$b_cpu/$n_cpu:.2f} of nginx)')"
  results+=("$n $n_cpu $b $b_cpu")
done
if [ "$ROUNDS" -gt 1 ]; then
  printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, line.split())) for line in sys.stdin]
ratio = statistics.median(b / n for n, _, b, _ in rows)
cpu = statistics.median(bc / nc for _, nc, _, bc in rows)
print(f"median of {len(rows)} rounds: ratio {ratio:.2f}, CPU per request {cpu:.2f} of nginx")'
fi
