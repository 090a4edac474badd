#!/usr/bin/env bash
# The data directory a command is given (issue 13, items 4, 5 and 31):
#  - a path that does not exist is never created (refused, naming it) unless --init;
#  - an existing directory without a database is initialised by a writing command (serve,
#    user add), never by a reading one (user list, audit ...);
#  - the demo (serve without flags) creates its own ./breakglass-data;
#  - one server per data directory: a second serve is refused naming the holder's pid, account
#    commands still work beside the running server, an offline writer's lock refuses serve, and
#    a SIGKILLed server's lock does not outlive it;
#  - every file the server creates is 0600 and every directory 0700 under umask 022, also in a
#    directory that existed before, and a database left readable by others is made 0600.
source "$(dirname "$0")/lib.sh"
umask 022

# expect CODE PATTERN CMD...: CMD exits with CODE and says one line on stderr matching PATTERN
# (a server that starts instead of refusing is stopped after 60 s and fails the test).
expect() {
  local want=$1 pattern=$2; shift 2
  set +e; timeout 60 "$@" >"$WORK/out" 2>"$WORK/err" <"$WORK/stdin"; local rc=$?; set -e
  [ "$rc" -eq "$want" ] || fail "$* exited $rc, wanted $want: $(cat "$WORK/err")"
  [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "$*: not one line on stderr: $(cat "$WORK/err")"
  grep -q -- "$pattern" "$WORK/err" || fail "$*: '$pattern' not in: $(cat "$WORK/err")"
}
pw() { echo "zoe-password-123456"; }
pw >"$WORK/stdin"  # what a command that reads a password gets in `expect`

# ---- 13.5: a mistyped --data-dir creates nothing ----
MISSING=$WORK/no-such-dir
P=$(free_port)
expect 2 "$MISSING does not exist" "$BG" user add zoe --role requester --password-stdin --data-dir "$MISSING"
expect 2 "$MISSING does not exist" "$BG" user list --data-dir "$MISSING"
expect 2 "$MISSING does not exist" "$BG" user disable zoe --data-dir "$MISSING"
expect 2 "$MISSING does not exist" "$BG" user enable zoe --data-dir "$MISSING"
expect 2 "$MISSING does not exist" "$BG" user reset zoe --data-dir "$MISSING"
expect 2 "$MISSING does not exist" "$BG" serve --data-dir "$MISSING" --listen 127.0.0.1:$P
printf 'data_dir = "%s"\n' "$MISSING" >"$WORK/missing.toml"
expect 2 "$MISSING does not exist" "$BG" serve --config "$WORK/missing.toml" --listen 127.0.0.1:$P
expect 2 "$MISSING does not exist" "$BG" user list --config "$WORK/missing.toml"
set +e; "$BG" audit export --data-dir "$MISSING" >/dev/null 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "$MISSING" "$WORK/err" || fail "audit export of a missing dir: $rc $(cat "$WORK/err")"
set +e; "$BG" audit verify --data-dir "$MISSING" >/dev/null 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "$MISSING" "$WORK/err" || fail "audit verify of a missing dir: $rc $(cat "$WORK/err")"
[ ! -e "$MISSING" ] || fail "a command created the mistyped $MISSING"

# An existing directory without a database: readers refuse it and leave it empty.
EMPTY=$WORK/empty
mkdir "$EMPTY"
expect 5 "$EMPTY holds no database" "$BG" user list --data-dir "$EMPTY"
expect 5 "$EMPTY holds no database" "$BG" user disable zoe --data-dir "$EMPTY"
expect 5 "$EMPTY holds no database" "$BG" user reset zoe --data-dir "$EMPTY"
set +e; "$BG" audit export --data-dir "$EMPTY" >/dev/null 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "$EMPTY" "$WORK/err" || fail "audit export of an empty dir: $rc $(cat "$WORK/err")"
[ -z "$(ls -A "$EMPTY")" ] || fail "a reading command wrote into $EMPTY: $(ls -A "$EMPTY")"

# A writer initialises an existing directory (as scripts do with mktemp -d), keeping the
# operator's other files beside it.
echo 'data_dir = "."' >"$EMPTY/breakglass.toml"
pw | "$BG" user add zoe --role requester --role admin --password-stdin --data-dir "$EMPTY" \
  >/dev/null || fail "user add could not initialise an existing empty directory"
[ -f "$EMPTY/breakglass.db" ] && [ -f "$EMPTY/breakglass.toml" ] || fail "init: $(ls -A "$EMPTY")"
"$BG" user list --data-dir "$EMPTY" --json | jq -e '.users[0].user == "zoe"' >/dev/null ||
  fail "user list after init"

# --init creates a missing directory, 0700.
pw | "$BG" user add zoe --role requester --password-stdin --data-dir "$MISSING/sub" --init \
  >/dev/null || fail "user add --init"
[ "$(stat -c %a "$MISSING")" = 700 ] && [ "$(stat -c %a "$MISSING/sub")" = 700 ] ||
  fail "--init made $(stat -c %a "$MISSING") / $(stat -c %a "$MISSING/sub"), not 700"
rm -rf "$MISSING"

# ---- 13.4: one server per data directory ----
bg_start_server  # the demo: cd $WORK, no flags but --listen: makes its own ./breakglass-data
DATA=$WORK/breakglass-data
[ -f "$DATA/breakglass.db" ] || fail "the demo did not create ./breakglass-data"
P2=$(free_port)
expect 6 "in use by \`breakglass serve\` (pid $SERVER_PID)" \
  "$BG" serve --data-dir "$DATA" --listen 127.0.0.1:$P2
(cd "$WORK" && expect 6 "pid $SERVER_PID" "$BG" serve --listen 127.0.0.1:$P2)
# Account commands are made to run beside the server.
pw | "$BG" user add yves --role requester --password-stdin --data-dir "$DATA" >/dev/null ||
  fail "user add beside the running server"
"$BG" user disable yves --data-dir "$DATA" >/dev/null || fail "user disable beside the server"
# A SIGKILLed server leaves the lock file, but not the lock.
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
[ -f "$DATA/breakglass.lock" ] || fail "no lock file"
bg_start_server
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=

# An offline writer holds the lock (here: this shell, as `breakglass user add` would): serve
# and other offline writers are refused naming it.
exec 9<>"$DATA/breakglass.lock"
flock -n 9 || fail "the lock is still held after the server stopped"
printf '%s user add\n' "$BASHPID" >"$DATA/breakglass.lock"
expect 6 "in use by \`breakglass user add\` (pid $BASHPID)" \
  "$BG" serve --data-dir "$DATA" --listen 127.0.0.1:$P2
expect 6 "pid $BASHPID" "$BG" user enable yves --data-dir "$DATA"
"$BG" user list --data-dir "$DATA" >/dev/null || fail "a reader needs no lock"
exec 9>&-
"$BG" user enable yves --data-dir "$DATA" >/dev/null || fail "user enable after the lock was released"

# ---- 13.31: file modes under umask 022, in a directory that existed before ----
PRE=$WORK/pre-existing
mkdir "$PRE"  # 0755 under umask 022
P3=$(free_port)
(exec "$BG" serve --data-dir "$PRE" --listen 127.0.0.1:$P3 >"$WORK/pre.out" 2>"$WORK/pre.err") &
PRE_PID=$!
wait_until 300 grep -q "listening on" "$WORK/pre.out" || { cat "$WORK/pre.err"; fail "serve on $PRE"; }
for f in breakglass.db breakglass.db-wal breakglass.db-shm master.key tls.key tls.crt \
         breakglass.lock demo-credentials.txt; do
  [ -f "$PRE/$f" ] || fail "$f was not created"
done
bad=$(find "$PRE" -mindepth 1 -type f ! -perm 600 -printf '%p %m\n')
[ -z "$bad" ] || fail "files not 0600 under umask 022: $bad"
bad=$(find "$PRE" -mindepth 1 -type d ! -perm 700 -printf '%p %m\n')
[ -z "$bad" ] || fail "directories not 0700: $bad"
kill "$PRE_PID"; wait "$PRE_PID" 2>/dev/null || true
# A database an older version left readable by others is made 0600 at the next start.
chmod 644 "$PRE/breakglass.db"
: >"$WORK/pre.out"  # now, not in the background: the wait must not read the first run's line
(exec "$BG" serve --data-dir "$PRE" --listen 127.0.0.1:$P3 >"$WORK/pre.out" 2>"$WORK/pre.err") &
PRE_PID=$!
wait_until 300 grep -q "listening on" "$WORK/pre.out" || { cat "$WORK/pre.err"; fail "restart on $PRE"; }
bad=$(find "$PRE" -mindepth 1 -type f ! -perm 600 -printf '%p %m\n')
[ -z "$bad" ] || fail "after restart, not 0600: $bad"
kill "$PRE_PID"; wait "$PRE_PID" 2>/dev/null || true
# Files an account command creates in a new directory, too.
pw | "$BG" user add zoe --role requester --password-stdin --data-dir "$WORK/fresh" --init >/dev/null
bad=$(find "$WORK/fresh" -type f ! -perm 600 -printf '%p %m\n'; find "$WORK/fresh" -type d ! -perm 700 -printf '%p %m\n')
[ -z "$bad" ] || fail "user add --init made: $bad"
echo "data dir ok"
