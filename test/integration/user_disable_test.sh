#!/usr/bin/env bash
# `breakglass user disable NAME` beside a running server (issue 13, items 2 and 6): it revokes
# the person's active grant (through the connector, audited as request.revoked with the
# reason), cancels their pending request, withdraws their approval of another person's pending
# request, and ends their recorded session (the recorder sees the revocation and stops the
# program); --json reports what it ended. The account commands name the operator in the log.
source "$(dirname "$0")/lib.sh"
for t in tmux jq curl oathtool; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
T=(tmux -L "bgdis-$$" -f /dev/null)
cleanup_tmux() { "${T[@]}" kill-server 2>/dev/null || true; cleanup; }
trap cleanup_tmux EXIT
DATA=$WORK/breakglass-data
bg_start_server
as() { cp "$WORK/cred-$1.json" "$HOME/.config/breakglass/credentials.json"; }
for u in alice bob carol sam; do login $u; cp "$HOME/.config/breakglass/credentials.json" "$WORK/cred-$u.json"; done
request() {  # request PRIVILEGE -> id
  "$BG" request --resource prod-db --privilege "$1" --duration 30m \
    --reason "disk full on the primary" --ticket INC-7001 --json | jq -r .id
}
leaves() {  # every audit event, one JSON object a line: the store itself, read offline
  "$BG" audit export --data-dir "$DATA" | jq -r .leaf | while read -r l; do base64 -d <<<"$l"; echo; done
}
state() { as sam; "$BG" status "$1" --json | jq -r .state; }
# has_event [jq args...] FILTER FILE: some event of the JSON-lines FILE passes FILTER.
has_event() { jq -s -e "${@:1:$#-2}" "map(select(${@: -2:1})) | length > 0" "${@: -1}" >/dev/null; }

# alice: an active grant with a recorded session running under it, and a pending request.
as alice
g1=$(request read_only)
wait_until 300 bash -c "\"$BG\" status $g1 --json | jq -e '.state == \"active\"'" || fail "$g1 not active"
p1=$(request dba)
[ "$("$BG" status "$p1" --json | jq -r .state)" = pending ] || fail "$p1 not pending"
rt=$("$BG" recording-token "$g1")
"${T[@]}" new-session -d -s rec -x 100 -y 30 \
  "env BREAKGLASS_TOKEN='$rt' '$BG' record --grant '$g1' --spool-dir '$WORK/spool' -- bash -c 'while :; do echo tick; sleep 1; done'; echo \$? > '$WORK/rec.exit'; sleep 3600"
wait_until 300 bash -c "\"$BG\" sessions list --request $g1 --json | jq -e '.sessions | length == 1'" ||
  fail "the recorded session did not start: $("${T[@]}" capture-pane -p -t rec)"
sid=$("$BG" sessions list --request "$g1" --json | jq -r '.sessions[0].id')
# bob: a pending request carol has approved.
as bob
p2=$(request dba)
as carol
"$BG" approve "$p2" --comment "looks right" >/dev/null || fail "carol's approval"
[ "$(as sam; "$BG" status "$p2" --json | jq '.approvals | length')" = 1 ] || fail "approval not counted"

# ---- disable alice beside the running server ----
"$BG" user disable alice --data-dir "$DATA" --operator admin --json >"$WORK/dis.json" ||
  fail "user disable alice"
jq -e --arg g "$g1" --arg p "$p1" --arg s "$sid" '
  .user == "alice" and .disabled == true and .was_disabled == false and
  .revoked == [$g] and .cancelled == [$p] and .approvals_withdrawn == [] and
  .sessions_ended == [$s]' "$WORK/dis.json" >/dev/null || fail "disable report: $(cat "$WORK/dis.json")"
wait_until 300 bash -c "[ \"\$(cp '$WORK/cred-sam.json' '$HOME/.config/breakglass/credentials.json'; '$BG' status $g1 --json | jq -r .state)\" = revoked ]" ||
  fail "the server does not show $g1 revoked"
[ "$(state "$p1")" = cancelled ] || fail "$p1 not cancelled"
# The recorder saw the revocation: the program was stopped and the session ended as revoked.
wait_until 300 test -f "$WORK/rec.exit" || fail "the recorded session kept running: $("${T[@]}" capture-pane -p -t rec)"
as sam
wait_until 300 bash -c "curl -sf --cacert '$BREAKGLASS_CACERT' -H \"Authorization: Bearer \$(jq -r .token '$HOME/.config/breakglass/credentials.json')\" '$BREAKGLASS_SERVER/v1/sessions/$sid' | jq -e '.end_reason == \"revoked\"'" ||
  fail "session $sid not ended as revoked: $(api GET "/v1/sessions/$sid")"
# The running server revoked the credential through the connector.
wait_until 300 bash -c "BG='$BG' DATA='$DATA'; $(declare -f leaves); leaves | jq -s -e 'map(select(.type == \"connector.revoke\" and .request == \"$g1\" and .details.outcome == \"ok\")) | length > 0' >/dev/null" ||
  fail "no connector.revoke for $g1"
leaves >"$WORK/leaves"
has_event --arg g "$g1" '.type == "request.revoked" and .request == $g and
  .actor == "admin" and .details.reason == "account alice disabled"' "$WORK/leaves" ||
  fail "request.revoked of $g1: $(grep "$g1" "$WORK/leaves" | grep revoked)"
has_event '.type == "user.disabled" and .details.user == "alice" and .actor == "admin"' \
  "$WORK/leaves" || fail "user.disabled not by admin"
# alice's own token stopped working.
as alice
set +e; "$BG" list >/dev/null 2>&1; rc=$?; set -e
[ $rc -eq 3 ] || fail "alice's token still works (exit $rc)"

# ---- disable carol: her approval of bob's pending request no longer counts ----
"$BG" user disable carol --data-dir "$DATA" --operator admin --json >"$WORK/dis2.json"
jq -e --arg p "$p2" '.approvals_withdrawn == [$p] and .revoked == [] and .cancelled == []' \
  "$WORK/dis2.json" >/dev/null || fail "disable carol: $(cat "$WORK/dis2.json")"
wait_until 300 bash -c "cp '$WORK/cred-sam.json' '$HOME/.config/breakglass/credentials.json'; '$BG' status $p2 --json | jq -e '(.approvals | length) == 0 and .state == \"pending\"'" ||
  fail "carol's approval still counts: $(as sam; "$BG" status "$p2" --json)"
# Disabling again ends nothing more and says so.
"$BG" user disable carol --data-dir "$DATA" --operator admin --json |
  jq -e '.was_disabled == true and .approvals_withdrawn == []' >/dev/null || fail "second disable"
"$BG" user disable carol --data-dir "$DATA" --operator admin | grep -q "approvals withdrawn: none" ||
  fail "human report"

# ---- 13.6: who the log names ----
set +e; "$BG" user enable carol --data-dir "$DATA" --operator alice 2>"$WORK/err"; rc=$?; set -e
[ $rc -eq 4 ] && grep -q "operator" "$WORK/err" && [ "$(wc -l <"$WORK/err")" -eq 1 ] ||
  fail "--operator naming a disabled non-admin: exit $rc $(cat "$WORK/err")"
set +e; "$BG" user enable carol --data-dir "$DATA" --operator nobody 2>"$WORK/err"; rc=$?; set -e
[ $rc -eq 2 ] && grep -q "nobody" "$WORK/err" || fail "--operator nobody: exit $rc $(cat "$WORK/err")"
me=$(id -un)
"$BG" user enable carol --data-dir "$DATA" >/dev/null
echo "ops-password-123456" | "$BG" user add "$me" --role admin --password-stdin --data-dir "$DATA" \
  --operator admin >/dev/null || fail "user add $me"
"$BG" user reset bob --data-dir "$DATA" >/dev/null  # the OS user, now an admin account
leaves >"$WORK/leaves"
has_event --arg me "cli:$me" '.type == "user.enabled" and .details.user == "carol" and .actor == $me' \
  "$WORK/leaves" || fail "user.enabled without an account for the OS user is not cli:$me"
has_event --arg me "$me" '.type == "user.added" and .details.user == $me and .actor == "admin"' \
  "$WORK/leaves" || fail "user.added --operator admin"
has_event --arg me "$me" '.type == "user.reset" and .details.user == "bob" and .actor == $me' \
  "$WORK/leaves" || fail "user.reset by the OS user's admin account"
if grep -q '"actor":"cli:root"' "$WORK/leaves" && [ "$me" != root ]; then fail "cli:root in the log"; fi
echo "user disable ok"
