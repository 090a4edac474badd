#!/usr/bin/env bash
# The postgres_role connector end to end against a real PostgreSQL on 127.0.0.1 (started here,
# admin role with CREATEROLE only): the one-time credential logs in and can do what the granted
# role allows and no more; it is shown once; after expiry the login fails and an open session is
# gone; a privilege name that needs quoting (app.read+x@y) works. Exit 77 only when the
# PostgreSQL server binaries are absent.
HERE=$(cd "$(dirname "$0")" && pwd)
PG="$HERE/connectors_pg_server.sh"
bash "$PG" available || { echo "SKIP: PostgreSQL server binaries not installed"; exit 77; }
for t in psql oathtool jq; do command -v "$t" >/dev/null || { echo "SKIP: $t not found"; exit 77; }; done
source "$HERE/connectors_lib.sh"
trap 'bash "$PG" stop "$WORK/pg" || true; cleanup' EXIT

info=$(bash "$PG" start "$WORK/pg") || fail "PostgreSQL did not start"
sql() { bash "$PG" psql "$WORK/pg"; }
sql <<'SQL' || fail "setup SQL"
CREATE TABLE t_read (x int); INSERT INTO t_read VALUES (42);
CREATE TABLE t_secret (x int); INSERT INTO t_secret VALUES (7);
CREATE ROLE app_read NOLOGIN; GRANT SELECT ON t_read TO app_read;
CREATE ROLE "app.read+x@y" NOLOGIN; GRANT SELECT ON t_secret TO "app.read+x@y";
SQL
jq -r .admin_password <<<"$info" >"$WORK/pg-admin.secret"; chmod 600 "$WORK/pg-admin.secret"
dsn=$(jq -r .dsn <<<"$info")
conn_config <<TOML
[connectors.prod-pg]
kind = "postgres_role"
dsn = "$dsn"
password_file = "$WORK/pg-admin.secret"
owned_objects = "reassign"
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
[groups]
dba = ["o.brien-x"]
[[resources]]
name = "prod-db"
connector = "prod-pg"
owner = "admin"
privileges = ["app_read", "app.read+x@y"]
[[rules]]
resource = "prod-db"
privileges = ["app_read", "app.read+x@y"]
requesters = ["group:dba"]
tier = 1
max_duration = "1h"
review_within = "72h"
TOML
conn_user o.brien-x requester
bg_start_server --config "$WORK/bg.toml"
conn_login o.brien-x

as_cred() {  # CRED_JSON SQL -> psql as the granted login over TCP
  PGPASSWORD=$(jq -r .password <<<"$1") psql -X -q -At -v ON_ERROR_STOP=1 \
    "host=$(jq -r .host <<<"$1") port=$(jq -r .port <<<"$1") dbname=$(jq -r .dbname <<<"$1") user=$(jq -r .username <<<"$1")" \
    -c "$2"
}

# --- the credential works, for what the role allows only ----------------------------------------
id=$(conn_grant prod-db app_read 25s)
cred=$("$BG" credentials "$id" --json) || fail "credentials"
user=$(jq -r .username <<<"$cred")
[[ "$user" == bg_o_brien_x_req_* ]] || fail "role name: $user"
[ "$(as_cred "$cred" 'SELECT x FROM t_read')" = 42 ] || fail "cannot read what app_read may"
as_cred "$cred" 'SELECT x FROM t_secret' 2>/dev/null && fail "read a table app_read may not"
as_cred "$cred" 'INSERT INTO t_read VALUES (1)' 2>/dev/null && fail "wrote with a read role"
as_cred "$cred" 'CREATE ROLE sneaky' 2>/dev/null && fail "created a role"
[ "$(sql <<<"SELECT string_agg(b.rolname, ',') FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '$user'")" = app_read ] ||
  fail "member of more than app_read"
echo "ok - the credential logs in and can do what app_read allows, no more"
set +e; "$BG" credentials "$id" >/dev/null 2>&1; rc=$?; set -e
[ $rc -ne 0 ] || fail "the credential was shown twice"
sql <<<"SELECT 1 FROM pg_authid WHERE rolname = '$user' AND rolpassword LIKE 'SCRAM-SHA-256%'" | grep -q 1 ||
  fail "password not stored as SCRAM"
grep -rqF "$(jq -r .password <<<"$cred")" "$WORK/breakglass-data" "$WORK/pg/server.log" &&
  fail "the password is stored or logged in clear"
echo "ok - shown once; never stored in clear (server data, PostgreSQL log)"

# --- expiry: open session ended, login refused ---------------------------------------------------
PGPASSWORD=$(jq -r .password <<<"$cred") psql -X -q "host=127.0.0.1 port=$(jq -r .port <<<"$cred") dbname=app user=$user" \
  -c 'SELECT pg_sleep(300)' >/dev/null 2>"$WORK/session.err" &
session=$!
wait_until 300 bash -c "bash '$PG' psql '$WORK/pg' <<<\"SELECT 1 FROM pg_stat_activity WHERE usename = '$user'\" | grep -q 1" ||
  fail "the open session did not show up"
wait_until 300 bash -c "\"$BG\" status $id --json | jq -e '.state == \"expired\"'" || fail "never expired"
wait_until 300 bash -c "! kill -0 $session 2>/dev/null" || fail "the open session survived expiry"
wait $session && fail "the open session ended normally"
as_cred "$cred" 'SELECT 1' 2>/dev/null && fail "login after expiry"
wait_until 300 bash -c "[ -z \"\$(bash '$PG' psql '$WORK/pg' <<<\"SELECT 1 FROM pg_roles WHERE rolname = '$user'\")\" ]" ||
  fail "the role was not dropped"
echo "ok - after expiry the session is gone, the login fails and the role is dropped"

# --- a privilege name that needs quoting --------------------------------------------------------
id2=$(conn_grant prod-db 'app.read+x@y' 10m)
cred2=$("$BG" credentials "$id2" --json) || fail "credentials 2"
[ "$(as_cred "$cred2" 'SELECT x FROM t_secret')" = 7 ] || fail "quoted role membership"
as_cred "$cred2" 'SELECT x FROM t_read' 2>/dev/null && fail "read beyond app.read+x@y"
"$BG" revoke "$id2" --reason "integration test revocation" >/dev/null
wait_until 300 bash -c "! PGPASSWORD='$(jq -r .password <<<"$cred2")' psql -X -q 'host=127.0.0.1 port=$(jq -r .port <<<"$cred2") dbname=app user=$(jq -r .username <<<"$cred2")' -c 'SELECT 1' 2>/dev/null" ||
  fail "login after revocation"
[ "$(sql <<<'SELECT count(*) FROM t_read')" = 1 ] || fail "t_read changed"
echo "ok - a privilege name that needs quoting; revocation ends the login"
"$BG" status --json | jq -e '.connectors[] | select(.connector == "prod-pg") | .state == "ok"' >/dev/null ||
  fail "status: $("$BG" status --json)"
echo "all postgres_role connector checks passed"
