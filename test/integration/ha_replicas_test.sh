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
bash "$here/connectors_pg_server.sh" start "$PGDIR" >"$WORK/pg.json"
pgport=$(jq -r .port "$WORK/pg.json")
pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$PGDIR" -v pw="$pw" >/dev/null <<'SQL'
CREATE ROLE bg LOGIN PASSWORD :'pw';
CREATE DATABASE breakglass OWNER bg;
SQL
(umask 077 && printf '%s\n' "$pw" >"$WORK/pg.pw")
URI="postgresql://bg@127.0.0.1:$pgport/breakglass?password_file=$WORK/pg.pw"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg=""
[ "$(id -u)" = 0 ] && as_pg="runuser -u postgres --"
restart="$as_pg $PGBIN/pg_ctl -D $PGDIR/data -m fast -w stop >/dev/null && sleep 2 &&
  $as_pg $PGBIN/pg_ctl -D $PGDIR/data -l $PGDIR/server.log -w -t 300 \
    -o '-k $PGDIR -p $pgport -c listen_addresses=127.0.0.1' start"

python3 "$here/ha_replicas.py" --bg "$BG" --work "$WORK" --storage "$URI" \
  --requests "${HA_REQUESTS:-1000}" --pg-restart "$restart" || fail "replicas"

# The log as the replicas left it, verified offline (the servers are stopped).
"$BG" audit export --config "$WORK/bg.toml" --bundle "$WORK/bundle" >/dev/null || fail "audit export"
"$BG" --json audit verify --bundle "$WORK/bundle" >"$WORK/v.json" || fail "verify: $(cat "$WORK/v.json")"
entries=$(jq .entries "$WORK/v.json")
[ "$entries" -ge "$(jq .leaves "$WORK/figures.json")" ] || fail "fewer entries than the run saw"
"$BG" report evidence --config "$WORK/bg.toml" --since 1d --out "$WORK/report" >/dev/null ||
  fail "evidence report"
"$BG" audit verify --report "$WORK/report" >/dev/null || fail "the evidence report does not verify"
if command -v go >/dev/null; then
  (cd "$here/go/auditcheck" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$WORK/gocache \
     go build -o "$WORK/auditcheck" .) || fail "go build auditcheck"
  "$WORK/auditcheck" -report "$WORK/report" >"$WORK/go.out" 2>&1 ||
    fail "Go rejects the log of the replicas: $(cat "$WORK/go.out")"
else
  echo "note: go not installed, the Go check is skipped"
fi
for f in "$WORK"/replica*/serve.out "$WORK"/replica*/serve.err; do
  if grep -q -- "$pw" "$f"; then fail "the database password is in $f"; fi
done
echo "ok - $entries entries of $(jq .replicas "$WORK/figures.json") replicas verify offline (audit verify, evidence report, Go tlog)"
echo "PASS"
