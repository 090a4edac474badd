#!/usr/bin/env bash
# A throw-away PostgreSQL for the connector tests, on 127.0.0.1 only.
#
#   connectors_pg_server.sh available          exit 0 when the server binaries are installed
#   connectors_pg_server.sh start DIR          initdb + start; prints {"dsn","admin_password",
#                                              "port","socket_dir"} (admin: CREATEROLE, not superuser)
#   connectors_pg_server.sh psql DIR [ARGS]    psql as the superuser (SQL on stdin)
#   connectors_pg_server.sh installation DIR PWFILE
#                                              a role "bg" (its random password written to PWFILE,
#                                              0600) owning a database "breakglass"; prints the
#                                              storage URI (password_file=PWFILE)
#   connectors_pg_server.sh halt DIR           stop the server, keep DIR (resume starts it again)
#   connectors_pg_server.sh resume DIR         start a halted server on the same port
#   connectors_pg_server.sh stop DIR           stop and delete DIR
#
# As root, the server runs as the "postgres" account (initdb refuses root).
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
cmd=${1:?usage}; dir=${2:-}
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  available)
    [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ] && command -v psql >/dev/null
    ;;
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres "$dir"
      chmod o+x "$(dirname "$dir")"  # the postgres account must reach DIR (temp dirs are 0700)
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    admin_pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
    echo "$port" >"$dir/port"
    bash "${BASH_SOURCE[0]}" resume "$dir"
    PGDB=postgres bash "${BASH_SOURCE[0]}" psql "$dir" -v pw="$admin_pw" >/dev/null <<'SQL'
CREATE ROLE bg_admin LOGIN CREATEROLE PASSWORD :'pw';
CREATE DATABASE app OWNER postgres;
SQL
    printf '{"dsn":"host=127.0.0.1 port=%s dbname=app user=bg_admin","admin_password":"%s","port":%s,"socket_dir":"%s"}\n' \
      "$port" "$admin_pw" "$port" "$dir"
    ;;
  psql)
    shift 2
    psql -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" -U postgres -d "${PGDB:-app}" "$@"
    ;;
  installation)
    pwfile=${3:?usage: installation DIR PWFILE}
    pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    (umask 077 && printf '%s\n' "$pw" >"$pwfile")
    PGDB=postgres bash "${BASH_SOURCE[0]}" psql "$dir" -v pw="$pw" >/dev/null <<'SQL'
CREATE ROLE bg LOGIN PASSWORD :'pw';
CREATE DATABASE breakglass OWNER bg;
SQL
    echo "postgresql://bg@127.0.0.1:$(cat "$dir/port")/breakglass?password_file=$pwfile"
    ;;
  halt)
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  resume)
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 300 \
      -o "-k $dir -p $(cat "$dir/port") -c listen_addresses=127.0.0.1" start >/dev/null
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
