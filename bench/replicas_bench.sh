#!/usr/bin/env bash
# Lifecycles per second through the HTTP API with 1, 2 and 3 replicas on one PostgreSQL on
# 127.0.0.1, beside one server on SQLite, in one run; authenticated reads on one and on two
# replicas (wrk); CPU per component (bench/replicas_bench.py; issue 16).
# Usage: BG=build/breakglass bash bench/replicas_bench.sh [LIFECYCLES] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
BG=$(realpath "${BG:-build/breakglass}")
here=test/integration
command -v wrk >/dev/null || { echo "needs wrk"; exit 77; }
bash "$here/connectors_pg_server.sh" available || { echo "needs the PostgreSQL server"; exit 77; }
WORK=$(mktemp -d /tmp/bg-bench.XXXXXX)
chmod 755 "$WORK"
trap 'bash "$here/connectors_pg_server.sh" stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
bash "$here/connectors_pg_server.sh" start "$WORK/pg" >"$WORK/pg.json"
port=$(jq -r .port "$WORK/pg.json")
pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" -v pw="$pw" >/dev/null <<'SQL'
CREATE ROLE bg LOGIN CREATEDB PASSWORD :'pw';
SQL
echo "PostgreSQL $(PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" -c 'SHOW server_version'), fsync $(PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" -c 'SHOW fsync'), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
mkdir -p "$WORK/runs"
python3 bench/replicas_bench.py --bg "$BG" --work "$WORK/runs" \
  --pg-base "postgresql://bg:$pw@127.0.0.1:$port" --lifecycles "${1:-400}" --clients "${2:-16}" \
  --createdb "echo \"CREATE DATABASE \$1 OWNER bg;\" | PGDB=postgres bash $here/connectors_pg_server.sh psql $WORK/pg >/dev/null"
