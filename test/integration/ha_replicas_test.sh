#!/usr/bin/env bash
# Issue 16: three replicas serving one installation on a real PostgreSQL on 127.0.0.1 started
# here (ha_replicas.py says what is held: one token everywhere, events across replicas, double
# and simultaneous approvals, HA_REQUESTS (default 1000) requests at once, the replica doing the
# background work SIGKILLed while grants end, PostgreSQL restarted under load); then the log is
# verified offline from PostgreSQL by `breakglass audit verify`, an evidence report and Go's
# sumdb/tlog and sumdb/note.
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
for tool in jq python3; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
bash "$here/connectors_pg_server.sh" available || { echo "SKIP: PostgreSQL server not installed"; exit 77; }
PGDIR=$WORK/pg
stop_all() {
  bash "$here/connectors_pg_server.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  cleanup
}
trap stop_all EXIT
bash "$here/connectors_pg_server.sh" start "$PGDIR" >/dev/null
URI=$(bash "$here/connectors_pg_server.sh" installation "$PGDIR" "$WORK/pg.pw")
pw=$(cat "$WORK/pg.pw")
restart="bash $here/connectors_pg_server.sh halt $PGDIR && sleep 2 &&
  bash $here/connectors_pg_server.sh resume $PGDIR"

python3 "$here/ha_replicas.py" --bg "$BG" --work "$WORK" --storage "$URI" \
  --requests "${HA_REQUESTS:-1000}" --pg-restart "$restart" || fail "replicas"

# The log as the replicas left it, verified offline (the servers are stopped).
verify_log_offline "$WORK/bg.toml"
entries=$ENTRIES
[ "$entries" -ge "$(jq .leaves "$WORK/figures.json")" ] || fail "fewer entries than the run saw"
for f in "$WORK"/replica*/serve.out "$WORK"/replica*/serve.err; do
  if grep -q -- "$pw" "$f"; then fail "the database password is in $f"; fi
done
echo "ok - $entries entries of $(jq .replicas "$WORK/figures.json") replicas verify offline (audit verify, evidence report, Go tlog)"
echo "PASS"
