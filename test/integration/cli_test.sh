#!/usr/bin/env bash
# The CLI's contract: every failure exits with README's code and prints one line naming the
# problem (13.16); other people's text never reaches the terminal as control characters (13.28);
# approve/deny ask for a fresh TOTP code on a terminal, else name the flag (13.17); status shows
# what really happened (auto-approval, pending extension) (13.18); logout, whoami, renew,
# request --wait, list's header, local times, XDG_CONFIG_HOME, completion and man (13.19).
source "$(dirname "$0")/connectors_lib.sh"
for tool in script jq oathtool; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
failures=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; failures=$((failures + 1)); }
# expect CODE NEEDLE -- command...: exit code, and one line on stderr holding NEEDLE.
expect() {
  local want=$1 needle=$2; shift 3
  local rc=0
  "$@" >"$WORK/out" 2>"$WORK/err" </dev/null || rc=$?
  local what="$* -> exit $rc"
  if [ "$rc" -ne "$want" ]; then bad "$what, want $want: $(head -c 400 "$WORK/err")"; return; fi
  if ! grep -qF -- "$needle" "$WORK/err"; then bad "$what: stderr lacks '$needle': $(cat "$WORK/err")"; return; fi
  if [ "$(wc -l <"$WORK/err")" -ne 1 ]; then bad "$what: stderr is not one line: $(cat "$WORK/err")"; return; fi
  ok "exit $want '$needle': $*"
}
# as USER command...: runs with USER's own saved credentials ($XDG_CONFIG_HOME per user).
as() { local u=$1; shift; XDG_CONFIG_HOME="$WORK/cfg/$u" "$@"; }
login_as() {
  local u=$1
  mkdir -p "$WORK/cfg/$u"
  if ! echo "$u-long-password" | as "$u" "$BG" login --user "$u" --password-stdin \
      --totp "$(oathtool --totp -b "$(cat "$WORK/$u.totp")")" >/dev/null 2>&1; then
    sleep 30  # this step's code was used already
    echo "$u-long-password" | as "$u" "$BG" login --user "$u" --password-stdin \
      --totp "$(oathtool --totp -b "$(cat "$WORK/$u.totp")")" >/dev/null || fail "login $u"
  fi
}
# on_tty COMMAND-STRING: runs it under a pseudo-terminal (stdin is piped into the terminal).
on_tty() { script -qec "$1" /dev/null; }

cat >"$WORK/legacy" <<SH
#!/bin/sh
cat >/dev/null
if [ "\$1" = probe ] && [ -e "$WORK/broken" ]; then echo "legacy app unreachable" >&2; exit 1; fi
exit 0
SH
chmod +x "$WORK/legacy"
conn_config <<TOML
[connectors.legacy-app]
kind = "exec"
grant = ["$WORK/legacy", "grant"]
revoke = ["$WORK/legacy", "revoke"]
probe = ["$WORK/legacy", "probe"]
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
security_contacts = ["admin"]
[groups]
ops = ["alice"]
leads = ["carol", "dave"]
[pools]
leads = ["group:leads"]
[[resources]]
name = "legacy"
connector = "legacy-app"
owner = "admin"
privileges = ["read", "admin", "root"]
[[rules]]
resource = "legacy"
privileges = ["read"]
requesters = ["group:ops"]
tier = 1
max_duration = "1h"
[[rules]]
resource = "legacy"
privileges = ["admin"]
requesters = ["group:ops"]
tier = 2
pool = "leads"
approvals = 2
max_duration = "1h"
approval_window = "30m"
mfa_max_age = "10m"
emergency_auto_approve = true
[[rules]]
resource = "legacy"
privileges = ["root"]
requesters = ["group:ops"]
tier = 3
pool = "leads"
approvals = 1
max_duration = "30m"
approval_window = "15m"
mfa_max_age = "0s"
TOML
conn_user alice requester
conn_user carol approver
conn_user dave approver
conn_user admin admin
bg_start_server --config "$WORK/bg.toml"
unset BREAKGLASS_TOKEN
for u in alice carol dave admin; do login_as "$u"; done
req() {  # as alice: PRIVILEGE REASON [flags...] -> the new request's id
  local p=$1 reason=$2; shift 2
  as alice "$BG" request --resource legacy --privilege "$p" --duration 30m --reason "$reason" \
    --ticket INC-1234 --json "$@" | jq -r .id
}

echo "# 13.19 XDG_CONFIG_HOME, whoami, list header"
[ -f "$WORK/cfg/alice/breakglass/credentials.json" ] && [ ! -e "$HOME/.config/breakglass" ] &&
  [ "$(stat -c %a "$WORK/cfg/alice/breakglass/credentials.json")" = 600 ] &&
  ok "login writes \$XDG_CONFIG_HOME/breakglass/credentials.json (0600)" || bad "XDG_CONFIG_HOME"
as alice "$BG" whoami | grep -q "^alice (requester) on $BREAKGLASS_SERVER" && ok "whoami" ||
  bad "whoami: $(as alice "$BG" whoami 2>&1)"
as alice "$BG" whoami --json | jq -e '.user == "alice" and .token_source == "credentials_file" and (.expires_at | length) > 0' >/dev/null &&
  ok "whoami --json" || bad "whoami --json"

echo "# 13.28 other people's text is escaped (status, list, watch)"
as carol timeout 60 "$BG" watch --count 1 >"$WORK/watch.out" 2>&1 &
WATCH=$!
ESC_REASON=$'stuck \e[2J\e]0;owned\a\r\nfake: approved \xc2\x9b31m after failover'
# A request made before the stream is subscribed is not seen by it: make one (pending, so the
# approver carol sees it) until watch has seen one, instead of guessing how long subscribing takes.
id_esc=""
end=$((SECONDS + 300))
while kill -0 "$WATCH" 2>/dev/null && [ $SECONDS -lt $end ]; do
  id_esc=$(req admin "$ESC_REASON")
  for _ in $(seq 30); do kill -0 "$WATCH" 2>/dev/null || break; sleep 0.1; done
done
wait "$WATCH" || bad "watch --count 1 failed: $(cat "$WORK/watch.out")"
for view in "status $id_esc" "list" ; do
  as carol "$BG" $view >"$WORK/view.out" 2>&1 || bad "$view failed: $(cat "$WORK/view.out")"
  if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$WORK/view.out" || grep -qP '\xc2\x9b' "$WORK/view.out"; then
    bad "$view prints control characters: $(od -c "$WORK/view.out" | head -5)"
  elif grep -qF 'stuck \x1b[2J\x1b]0;owned\x07\r\nfake: approved \u009b31m' "$WORK/view.out"; then
    ok "$view shows the reason with its escapes visible"
  else
    bad "$view lacks the escaped reason: $(cat "$WORK/view.out")"
  fi
done
if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$WORK/watch.out"; then
  bad "watch prints control characters: $(od -c "$WORK/watch.out" | head -5)"
elif grep -qF 'stuck \x1b[2J' "$WORK/watch.out"; then ok "watch shows the reason escaped"
else bad "watch lacks the escaped reason: $(cat "$WORK/watch.out")"; fi
head -1 <(as carol "$BG" list) | grep -q '^ID  *STATE  *REQUESTER  *RESOURCE  *PRIVILEGE  *TICKET  *REASON' &&
  ok "list has a header row" || bad "list header: $(as carol "$BG" list | head -2)"
as carol "$BG" list --json | jq -e '.requests | length >= 1' >/dev/null && ok "list --json has no header" ||
  bad "list --json"

as admin "$BG" audit show "$id_esc" >"$WORK/show.out" 2>&1 || bad "audit show failed: $(cat "$WORK/show.out")"
if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$WORK/show.out"; then
  bad "audit show prints control characters: $(od -c "$WORK/show.out" | head -5)"
elif grep -qF 'stuck \u001b[2J' "$WORK/show.out" || grep -qF 'stuck \x1b[2J' "$WORK/show.out"; then
  ok "audit show shows the reason escaped"  # a value with spaces is JSON-quoted, hence \u001b
else bad "audit show lacks the escaped reason: $(cat "$WORK/show.out")"; fi

echo "# 13.18 status shows what happened"
id_em=$(req admin "emergency: the legacy app is down" --emergency)
wait_until 300 bash -c "XDG_CONFIG_HOME=$WORK/cfg/alice '$BG' status $id_em --json | jq -e '.state == \"active\"'" ||
  bad "emergency request never active"
as alice "$BG" status "$id_em" >"$WORK/em.out"
grep -q "approvals: none needed: emergency auto-approval" "$WORK/em.out" &&
  ! grep -q "0/2" "$WORK/em.out" && ! grep -q "approval deadline" "$WORK/em.out" &&
  ok "auto-approved emergency: no 0/2, no approval deadline" || bad "auto-approved view: $(cat "$WORK/em.out")"
as alice "$BG" extend "$id_em" --duration 10m --reason "still broken, need more" >/dev/null ||
  bad "extend failed"
as alice "$BG" status "$id_em" | grep -q "extension asked: 10m more, reason: still broken, need more; approvals 0/2; decide by" &&
  ok "a pending extension is shown" || bad "extension view: $(as alice "$BG" status "$id_em")"

echo "# 13.18 approve --comment / --reason, deny --reason / --comment; 13.19 request --wait"
as alice "$BG" request --resource legacy --privilege admin --duration 30m --reason "wait for two approvals" \
  --ticket INC-1235 --wait >"$WORK/wait.out" 2>"$WORK/wait.err" </dev/null &
WAITER=$!
wait_until 300 bash -c "XDG_CONFIG_HOME=$WORK/cfg/carol '$BG' list --state pending --json | jq -e '[.requests[] | select(.reason == \"wait for two approvals\")] | length == 1'" ||
  bad "the waited-for request is not pending"
id_w=$(as carol "$BG" list --state pending --json | jq -r '.requests[] | select(.reason == "wait for two approvals") | .id')
kill -0 "$WAITER" 2>/dev/null && ok "request --wait blocks while pending" || bad "request --wait returned early"
as carol "$BG" approve "$id_w" --reason "seen it" >/dev/null || bad "approve --reason"
as dave "$BG" approve "$id_w" --comment "agreed" >/dev/null || bad "approve --comment"
rc=0; wait "$WAITER" || rc=$?
[ "$rc" = 0 ] && grep -q "^$id_w  active" "$WORK/wait.out" && ok "request --wait exits 0 when active" ||
  bad "request --wait: exit $rc, $(cat "$WORK/wait.out" "$WORK/wait.err")"
grep -q '(carol ("seen it"), dave ("agreed"))' "$WORK/wait.out" && ok "approvals show their comments" ||
  bad "comments: $(cat "$WORK/wait.out")"
! grep -q $'\r' "$WORK/wait.err" && ok "no spinner when stderr is not a terminal" || bad "spinner on a pipe"
as alice "$BG" request --resource legacy --privilege admin --duration 30m --reason "this one gets denied" \
  --ticket INC-1236 --wait >/dev/null 2>"$WORK/deny.err" </dev/null &
WAITER=$!
wait_until 300 bash -c "XDG_CONFIG_HOME=$WORK/cfg/carol '$BG' list --state pending --json | jq -e '[.requests[] | select(.reason == \"this one gets denied\")] | length == 1'" ||
  bad "the second request is not pending"
id_d=$(as carol "$BG" list --state pending --json | jq -r '.requests[] | select(.reason == "this one gets denied") | .id')
as carol "$BG" deny "$id_d" --comment "not during the freeze" >/dev/null || bad "deny --comment"
rc=0; wait "$WAITER" || rc=$?
[ "$rc" = 9 ] && grep -q "breakglass: request $id_d denied by carol: not during the freeze" "$WORK/deny.err" &&
  ok "request --wait exits 9 when denied, naming who and why" || bad "wait denied: exit $rc, $(cat "$WORK/deny.err")"
expect 10 "is still pending after --wait-timeout 1s" -- as alice "$BG" request --resource legacy \
  --privilege admin --duration 30m --reason "nobody approves this" --ticket INC-1237 --wait --wait-timeout 1s
id_p=$(as alice "$BG" list --state pending --json | jq -r '.requests[] | select(.reason == "nobody approves this") | .id')
sleep 4 | as alice on_tty "'$BG' request --resource legacy --privilege admin --duration 30m --reason 'spinner on a terminal' --ticket INC-1238 --wait --wait-timeout 2s" >"$WORK/spin.out" 2>&1 || true
grep -q 'waiting: req_[a-z0-9]* pending, approvals 0/2' "$WORK/spin.out" && grep -q 'after --wait-timeout 2s' "$WORK/spin.out" &&
  ok "request --wait shows a spinner on a terminal" || bad "spinner: $(cat -v "$WORK/spin.out" | head -5)"

echo "# 13.17 a fresh TOTP code: prompted on a terminal, else the flag is named"
id_root=$(req root "root for the incident")
expect 6 "needs a fresh TOTP code: pass --totp CODE" -- as carol "$BG" approve "$id_root"
echo 000000 | as carol on_tty "'$BG' approve $id_root" >"$WORK/tty.out" 2>&1 && rc=0 || rc=$?
grep -q "TOTP code: " "$WORK/tty.out" && grep -q "TOTP code is wrong" "$WORK/tty.out" && [ "$rc" = 4 ] &&
  ok "on a terminal approve asks for the code and sends it" || bad "tty prompt: exit $rc, $(cat "$WORK/tty.out")"

echo "# 13.19 local time beside UTC on a terminal only"
# stdin stays open while the command runs (script may end early on an empty stdin).
sleep 2 | TZ=Europe/Berlin as alice on_tty "'$BG' status $id_em" >"$WORK/tty-status.out" 2>&1 || true
grep -q 'window: [0-9T:-]*Z ([0-9: -]*CES\?T)' "$WORK/tty-status.out" &&
  ok "a terminal shows the local time beside UTC" || bad "local time: $(od -c "$WORK/tty-status.out" | head -20)"
TZ=Europe/Berlin as alice "$BG" status "$id_em" | grep -q 'CES\?T' && bad "local time on a pipe" ||
  ok "a pipe gets UTC only"

echo "# 13.16 every failure: its code and one line"
expect 2 "unknown command 'frobnicate'" -- "$BG" frobnicate
expect 2 "a command is required" -- "$BG"
expect 2 "unknown command 'user frob'" -- "$BG" user frob
expect 2 "--resource is required" -- as alice "$BG" request --privilege read --duration 1m --reason x --ticket y
expect 2 "--wait-timeout" -- as alice "$BG" request --resource legacy --privilege read --duration 1m \
  --reason "a reason that is long enough" --ticket INC-1000 --wait-timeout 1m
expect 2 "duration" -- as alice "$BG" request --resource legacy --privilege read --duration soon \
  --reason "a reason that is long enough" --ticket INC-1000
expect 2 "--reason is required" -- as carol "$BG" deny "$id_p"
expect 2 "no server" -- env -u BREAKGLASS_SERVER XDG_CONFIG_HOME="$WORK/cfg/nobody" "$BG" status "$id_p"
expect 3 "no token" -- as nobody "$BG" status "$id_p"
expect 3 "" -- "$BG" status "$id_p" --token not-a-token
expect 4 "your own request" -- as alice "$BG" approve "$id_p"
expect 5 "" -- as carol "$BG" status req_doesnotexist
expect 5 "" -- as carol "$BG" approve req_doesnotexist
expect 6 "" -- as alice "$BG" cancel "$id_d"
expect 8 "cannot reach" -- as alice "$BG" status "$id_p" --server https://127.0.0.1:1 --token t
expect 2 "fish not in {bash,zsh}" -- "$BG" completion fish
expect 5 "" -- as carol "$BG" credentials req_doesnotexist
expect 5 "" -- as carol "$BG" recording-token req_doesnotexist
expect 5 "" -- as admin "$BG" replay sess_doesnotexist
# A file that does not exist is "not found" (5), named with the OS's reason, wherever it is read.
expect 5 "$WORK/missing.toml: No such file" -- "$BG" policy check "$WORK/missing.toml"
expect 5 "$WORK/missing.toml: No such file" -- "$BG" serve --config "$WORK/missing.toml"
expect 5 "$WORK/missing.token: No such file" -- "$BG" record --grant req_x --token-file "$WORK/missing.token" -- true
expect 3 "no token" -- as nobody "$BG" sessions list --request "$id_p"
expect 4 "" -- as alice "$BG" audit show "$id_p"
expect 4 "" -- as alice "$BG" probe
expect 2 "'sessions' needs a command" -- "$BG" sessions
expect 2 "DESTINATION is required" -- "$BG" ssh req_x
expect 2 "listen: must be HOST:PORT" -- "$BG" serve --listen nonsense --data-dir "$WORK/nowhere"
expect 2 "format: must be jsonl or cef" -- as admin "$BG" audit export --format bogus
# kit: README's codes (2 rejected or bad input, 5 missing file, 6 existing file).
printf 'kit secret' | "$BG" kit split -m 2 -n 3 --out-dir "$WORK/kit" >/dev/null || bad "kit split"
expect 2 "too few shares" -- bash -c "head -1 '$WORK/kit/share-1.txt' | '$BG' kit combine"
expect 2 "not a breakglass kit share" -- bash -c "echo garbage | '$BG' kit combine"
expect 2 "--threshold must be between" -- bash -c "printf s | '$BG' kit split -m 1 -n 3"
expect 5 "No such file" -- "$BG" kit combine "$WORK/kit/share-9.txt"
expect 6 "exists" -- bash -c "printf s | '$BG' kit split -m 2 -n 3 --out-dir '$WORK/kit'"
expect 2 "manifest" -- bash -c "echo '{' >'$WORK/bad.json'; '$BG' kit check x --manifest '$WORK/bad.json'"
# status and probe with a failing connector: 8 and the connector named.
as admin "$BG" status >/dev/null && ok "status: all healthy exits 0" || bad "healthy status"
touch "$WORK/broken"
expect 8 "failing connector(s): legacy-app" -- as admin "$BG" probe
expect 8 "failing connector(s): legacy-app" -- as admin "$BG" status
grep -q "legacy app unreachable" "$WORK/out" && ok "status still prints the table" || bad "status table: $(cat "$WORK/out")"
rm -f "$WORK/broken"
# The exit codes in --help, README and the man page are one table.
help_codes=$("$BG" --help | tr '\n' ' ' | grep -o 'Exit codes:.*' | sed 's/  */ /g')
for n in 0 1 2 3 4 5 6 7 8 9 10; do
  grep -q " $n [a-z]" <<<"$help_codes" || bad "--help lacks exit code $n"
  grep -q "^| $n |" "$(dirname "$0")/../../README.md" || bad "README's table lacks exit code $n"
  "$BG" man | grep -A1 '^\.B '"$n"'$' >"$WORK/man-code" || true
  [ "$(wc -l <"$WORK/man-code")" -ge 2 ] || bad "man lacks exit code $n"
done
ok "exit codes 0-10 in --help, README and man"

echo "# 13.19 completion, man, renew, logout"
bash -c "source <('$BG' completion bash); COMP_WORDS=(breakglass req); COMP_CWORD=1; _breakglass; echo \${COMPREPLY[*]}" |
  grep -qw request && ok "bash completes 'req' to request" || bad "bash completion"
bash -c "source <('$BG' completion bash); COMP_WORDS=(breakglass request --wa); COMP_CWORD=2; _breakglass; echo \${COMPREPLY[*]}" |
  grep -q -- "--wait" && ok "bash completes request's flags" || bad "bash flag completion"
"$BG" completion zsh >"$WORK/_breakglass"
if command -v zsh >/dev/null; then
  zsh -n "$WORK/_breakglass" && ok "zsh completion parses" || bad "zsh completion syntax"
fi
grep -q '^#compdef breakglass' "$WORK/_breakglass" && grep -qF '_breakglass_subs["^request"]=' "$WORK/_breakglass" &&
  ok "zsh completion has the command table" || bad "zsh completion: $(head -5 "$WORK/_breakglass")"
"$BG" man >"$WORK/breakglass.1"
groff -man -Tutf8 -ww -z "$WORK/breakglass.1" 2>"$WORK/groff.err" && [ ! -s "$WORK/groff.err" ] &&
  ok "man page renders without warnings" || bad "groff: $(head -5 "$WORK/groff.err")"
grep -q '^\.SS "breakglass request"' "$WORK/breakglass.1" && grep -q 'wait\\-timeout' "$WORK/breakglass.1" &&
  grep -q '^\.SS "breakglass kit combine"' "$WORK/breakglass.1" &&
  ok "man page lists the commands and their options" || bad "man content"
old=$(jq -r .token "$WORK/cfg/alice/breakglass/credentials.json")
as alice "$BG" renew >/dev/null || bad "renew"
new=$(jq -r .token "$WORK/cfg/alice/breakglass/credentials.json")
[ "$old" != "$new" ] && as alice "$BG" whoami >/dev/null && ok "renew saves a new working token" || bad "renew token"
# A saved token close to its expiry is renewed by the next command.
jq --arg t "$(date -u -d '+2 minutes' +%Y-%m-%dT%H:%M:%SZ)" '.expires_at = $t' \
  "$WORK/cfg/alice/breakglass/credentials.json" >"$WORK/c.json" && cat "$WORK/c.json" >"$WORK/cfg/alice/breakglass/credentials.json"
as alice "$BG" list >/dev/null || bad "list with a nearly expired token"
[ "$(jq -r .token "$WORK/cfg/alice/breakglass/credentials.json")" != "$new" ] &&
  ok "a token with under 5 minutes left is renewed by itself" || bad "auto renew"
tok=$(jq -r .token "$WORK/cfg/alice/breakglass/credentials.json")
as alice "$BG" logout >/dev/null && [ ! -e "$WORK/cfg/alice/breakglass/credentials.json" ] &&
  ok "logout deletes the credentials file" || bad "logout"
expect 3 "no token" -- as alice "$BG" whoami
expect 3 "" -- "$BG" whoami --token "$tok"

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all passed"
