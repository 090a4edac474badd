#!/usr/bin/env bash
# Issue 16: the Store conformance suite (src/store/store_conformance_test.cc) against a real
# PostgreSQL on 127.0.0.1, started here. Every test makes its own database as a role that may
# create databases (not a superuser), logging in with a password (scram-sha-256).
set -euo pipefail
STORE_TEST=${STORE_TEST:?STORE_TEST must point at the store_test binary}
here=$(dirname "$0")
bash "$here/connectors_pg_server.sh" available || { echo "SKIP: PostgreSQL server not installed"; exit 77; }
WORK=$(mktemp -d /tmp/bg-it.XXXXXX)
cleanup() { bash "$here/connectors_pg_server.sh" stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
bash "$here/connectors_pg_server.sh" start "$WORK/pg" >"$WORK/pg.json"
port=$(jq -r .port "$WORK/pg.json")
pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" -v pw="$pw" <<'SQL'
CREATE ROLE bg_store LOGIN CREATEDB PASSWORD :'pw';
SQL
BG_TEST_POSTGRES="postgresql://bg_store:$pw@127.0.0.1:$port" "$STORE_TEST" --gtest_filter='Postgres/*:PgLease*:PgMigrate*' \
  --gtest_brief=1
echo "PASS: the store conformance suite against PostgreSQL $(PGDB=postgres bash "$here/connectors_pg_server.sh" psql "$WORK/pg" -c 'SHOW server_version')"
