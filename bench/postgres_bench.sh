#!/usr/bin/env bash
# Full lifecycles per second (create -> 2 approvals -> active -> revoke, durable commits) on SQLite
# and on a real PostgreSQL on 127.0.0.1, in the same run of build/bench/lifecycle_bench (issue 16).
# Usage: bash bench/postgres_bench.sh [RUNS]   (default 3; prints the ratio of each run)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BENCH=${BENCH:-build/bench/lifecycle_bench}
here=test/integration
bash "$here/connectors_pg_server.sh" available || { echo "needs the PostgreSQL server"; exit 77; }
WORK=$(mktemp -d /tmp/bg-bench.XXXXXX)
trap 'bash "$here/connectors_pg_server.sh" stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
bash "$here/connectors_pg_server.sh" start "$WORK/pg" >"$WORK/pg.json"
port=$(jq -r .port "$WORK/pg.json")
pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" -v pw="$pw" >/dev/null <<'SQL'
CREATE ROLE bg LOGIN CREATEDB PASSWORD :'pw';
SQL
echo "PostgreSQL $(PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" -c 'SHOW server_version'), fsync $(PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" -c 'SHOW fsync'), synchronous_commit $(PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" -c 'SHOW synchronous_commit')"
for run in $(seq 1 "$RUNS"); do
  PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" >/dev/null <<SQL
DROP DATABASE IF EXISTS bench$run;
CREATE DATABASE bench$run OWNER bg;
SQL
  BG_BENCH_POSTGRES="postgresql://bg:$pw@127.0.0.1:$port/bench$run" "$BENCH" \
    --benchmark_filter='BM_Lifecycles' --benchmark_out="$WORK/run$run.json" \
    --benchmark_out_format=json >/dev/null 2>&1
  python3 - "$WORK/run$run.json" "$run" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rate = {b["name"].split("/")[1]: b.get("lifecycles_per_s") for b in d["benchmarks"]}
print(f"run {sys.argv[2]}: sqlite {rate['sqlite']:.0f}/s, postgres {rate['postgres']:.0f}/s, "
      f"ratio {rate['postgres'] / rate['sqlite']:.2f} (load {sys.argv[3]})")
PY
done
