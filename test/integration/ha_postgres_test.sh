#!/usr/bin/env bash
# Issue 16, against a real PostgreSQL on 127.0.0.1 started here:
#   1. an installation made on SQLite is moved with `breakglass migrate` (refused while its server
#      runs, and into a database that holds an installation), the log verified after the move;
#   2. two servers on the moved installation: both serve the API, the first does the background
#      work and the second waits to take it; the first is SIGKILLed; the second takes the
#      background work over, with the tokens and grants the first issued, and a grant the first
#      made still expires;
#   3. PostgreSQL stopped under the server: clear JSON 503s for writes, never a 500; started
#      again: served again without a restart of breakglass;
#   4. the log verifies offline from PostgreSQL (audit export + verify, an evidence report and
#      Go's sumdb/tlog and sumdb/note).
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
for tool in jq oathtool curl python3 openssl; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
bash "$here/connectors_pg_server.sh" available || { echo "SKIP: PostgreSQL server not installed"; exit 77; }
PGDIR=$WORK/pg
B_PID=
stop_all() {
  if [ -n "$B_PID" ]; then kill -KILL "$B_PID" 2>/dev/null || true; wait "$B_PID" 2>/dev/null || true; fi
  bash "$here/connectors_pg_server.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  cleanup
}
trap stop_all EXIT
bash "$here/connectors_pg_server.sh" start "$PGDIR" >/dev/null
URI=$(bash "$here/connectors_pg_server.sh" installation "$PGDIR" "$WORK/pg.pw")
pw=$(cat "$WORK/pg.pw")
DATA=$WORK/breakglass-data
cat >"$WORK/offline.toml" <<EOF
data_dir = "$DATA"
storage = "$URI"
EOF

# ---- 1. an installation on SQLite, moved ----
bg_start_server --checkpoint-interval 1s
login alice
r1=$("$BG" request --resource prod-db --privilege read_only --duration 30m \
      --reason "made before the move to postgres" --ticket CHG-101 --json | jq -r .id)
[ "$("$BG" status "$r1" --json | jq -r .state)" = active ] || fail "tier-1 request not active"
alice_token=$(token)
sleep 2  # the checkpointer signs the log with the request in it
set +e
"$BG" migrate --from sqlite --to "$URI" --data-dir "$DATA" >/dev/null 2>"$WORK/m0.err"; rc=$?
set -e
[ $rc -ne 0 ] || fail "migrate ran beside the server"
grep -q "in use by \`breakglass serve\`" "$WORK/m0.err" || fail "migrate beside serve: $(cat "$WORK/m0.err")"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=

"$BG" --json migrate --from sqlite --to "$URI" --data-dir "$DATA" >"$WORK/m.json" 2>"$WORK/m.err" ||
  fail "migrate: $(cat "$WORK/m.err")"
jq -e '.ok and .audit.size > 0 and .audit.checkpoint_size > 0 and .tables.requests == 1
       and .tables.users >= 5 and .tables.audit_leaves == .audit.size' "$WORK/m.json" >/dev/null ||
  fail "migrate --json: $(cat "$WORK/m.json")"
moved_size=$(jq .audit.size "$WORK/m.json")
grep -q "$pw" "$WORK/m.json" "$WORK/m.err" && fail "the database password was printed"
set +e
"$BG" migrate --from sqlite --to "$URI" --data-dir "$DATA" >/dev/null 2>"$WORK/m2.err"; rc=$?
set -e
[ $rc -ne 0 ] || fail "a second migrate into the same database was accepted"
grep -q "already holds an installation" "$WORK/m2.err" || fail "second migrate: $(cat "$WORK/m2.err")"
[ "$(wc -l <"$WORK/m2.err")" -eq 1 ] || fail "not one line: $(cat "$WORK/m2.err")"
echo "ok - migrate moved $moved_size audit entries and verified them; refused beside serve and twice"

# ---- 2. two servers on PostgreSQL: both serve, one does the background work ----
bg_start_server --storage "$URI" --checkpoint-interval 1s
A_PID=$SERVER_PID
# The token of before the move works; the request made on SQLite is there.
export BREAKGLASS_TOKEN=$alice_token
[ "$("$BG" status "$r1" --json | jq -r .state)" = active ] || fail "the moved request is not active"
r2=$("$BG" request --resource prod-db --privilege read_only --duration 20s \
      --reason "made on the first server" --ticket CHG-102 --json | jq -r .id)
r2_end=$(date -d "$("$BG" status "$r2" --json | jq -r .ends_at)" +%s)
portb=$(free_port)
(cd "$WORK" && exec "$BG" serve --listen 127.0.0.1:$portb --storage "$URI" --checkpoint-interval 1s \
   >"$WORK/b.out" 2>"$WORK/b.err") &
B_PID=$!
# The second server serves the API at once; the first keeps the background work.
wait_until 120 grep -q "listening on" "$WORK/b.out" || fail "the second server does not listen: $(tail -5 "$WORK/b.err")"
wait_until 60 grep -q '"server.standby"' "$WORK/b.err" || fail "no background standby: $(tail -5 "$WORK/b.err")"
grep -q '"holder"' "$WORK/b.err" || fail "the standby does not say who does the background work"
grep -q '"server.background"' "$WORK/b.err" && fail "two servers do the background work"
[ "$(BREAKGLASS_SERVER=https://127.0.0.1:$portb "$BG" status "$r2" --json | jq -r .state)" = active ] ||
  fail "the second server does not serve the first one's grant"
kill -KILL "$A_PID"; wait "$A_PID" 2>/dev/null || true; SERVER_PID=
killed_at=$(date +%s)
wait_until 120 grep -q '"server.background"' "$WORK/b.err" ||
  fail "the second server did not take the background work over: $(tail -5 "$WORK/b.err")"
echo "ok - the second server served beside the first and took its background work $(( $(date +%s) - killed_at ))s after the SIGKILL"
SERVER_PID=$B_PID; B_PID=
export BREAKGLASS_SERVER=https://127.0.0.1:$portb  # BREAKGLASS_TOKEN: issued by the first server
[ "$("$BG" status "$r2" --json | jq -r .state)" = active ] ||
  [ "$(date +%s)" -ge "$r2_end" ] || fail "the first server's grant is not active on the second"
wait_until 180 bash -c "\"$BG\" status $r2 --json | jq -e '.state == \"expired\"'" ||
  fail "the first server's grant never expired on the second"
echo "ok - a token and a grant of the first server, on the second; the grant expired"

# ---- 3. PostgreSQL stopped under the server ----
bash "$here/connectors_pg_server.sh" halt "$PGDIR"
body='{"resource":"prod-db","privilege":"read_only","duration":"5m","reason":"while the database is down","ticket":"CHG-103"}'
for i in 1 2 3; do
  r=$(api POST /v1/requests "$body")
  code=$(tail -1 <<<"$r")
  [ "$code" = 503 ] || fail "a write with PostgreSQL down: $r"
  head -1 <<<"$r" | jq -e '.error.message | length > 0' >/dev/null || fail "503 without a JSON error: $r"
done
r=$(api GET "/v1/requests/$r2")
case "$(tail -1 <<<"$r")" in 200|503) ;; *) fail "a read with PostgreSQL down: $r" ;; esac
kill -0 "$SERVER_PID" || fail "the server stopped when PostgreSQL did"
bash "$here/connectors_pg_server.sh" resume "$PGDIR"
wait_until 120 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$BREAKGLASS_CACERT' \
  -H 'Authorization: Bearer $(token)' '$BREAKGLASS_SERVER/v1/requests/$r2')\" = 200 ]" ||
  fail "not served again after PostgreSQL came back"
r3=""
for i in $(seq 1 60); do  # the first writes after the restart may still meet the old connections
  r=$(api POST /v1/requests "${body/CHG-103/CHG-104}")
  if [ "$(tail -1 <<<"$r")" = 201 ]; then r3=$(head -1 <<<"$r" | jq -r .id); break; fi
  [ "$(tail -1 <<<"$r")" = 503 ] || fail "after the restart: $r"
  sleep 1
done
[ -n "$r3" ] || fail "no write accepted after PostgreSQL came back"
kill -0 "$SERVER_PID" || fail "the server stopped"
echo "ok - PostgreSQL stopped: 503s with JSON errors; started again: served without a restart"

# ---- 4. the log, from PostgreSQL, offline ----
unset BREAKGLASS_TOKEN
login sam  # an auditor: the checkpoint covers what the servers wrote
sleep 2
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
verify_log_offline "$WORK/offline.toml"
entries=$ENTRIES
[ "$entries" -gt "$moved_size" ] || fail "the log did not grow on PostgreSQL: $(cat "$WORK/v.json")"
for f in "$WORK"/serve.out "$WORK"/serve.err "$WORK"/b.out "$WORK"/b.err; do
  if grep -q -- "$pw" "$f"; then fail "the database password is in $f"; fi
done
echo "ok - $entries entries verify offline from PostgreSQL (audit verify, evidence report, Go tlog)"
echo "PASS"
