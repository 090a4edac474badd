#!/usr/bin/env bash
# Recorded sessions (issue 6) against a real server, driven through a real terminal (tmux):
# input and output in order in the recording, `asciinema cat` prints the same output, every
# chunk digest is in the audit log and its inclusion proof verifies; expiry and revocation end
# a session and the recording says so; a server killed mid-session loses nothing; malformed,
# out-of-order, oversized and late chunks are refused with nothing stored.
source "$(dirname "$0")/lib.sh"
for t in tmux asciinema jq python3 curl; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
T=(tmux -L "bgrec-$$" -f /dev/null)
cleanup_tmux() { "${T[@]}" kill-server 2>/dev/null || true; cleanup; }
trap cleanup_tmux EXIT
SPOOL=$WORK/spool

bg_start_server
restart_server() {  # the same port and data directory, as an operator would
  : >"$WORK/serve.out"  # now, not in the background: a wait must not read the last run's lines
  (cd "$WORK" && exec "$BG" serve --listen 127.0.0.1:$PORT >"$WORK/serve.out" 2>>"$WORK/serve.err") &
  SERVER_PID=$!
  wait_until 300 grep -q "listening on" "$WORK/serve.out" || fail "server did not restart"
}
# Each person logs in once (a TOTP code is good once); `as NAME` switches to their saved token.
as() { cp "$WORK/cred-$1.json" "$HOME/.config/breakglass/credentials.json"; }
for u in alice bob sam; do login $u; cp "$HOME/.config/breakglass/credentials.json" "$WORK/cred-$u.json"; done
api_file() {  # api_file METHOD PATH FILE -> "BODY\nSTATUS"
  curl -s --cacert "$BREAKGLASS_CACERT" -X "$1" -H "Authorization: Bearer $(token)" \
       -H 'Content-Type: application/json' --data-binary @"$3" -w '\n%{http_code}' "$BREAKGLASS_SERVER$2"
}
pane() { "${T[@]}" capture-pane -p -t "$1" -S -200; }
# rec_shell NAME REQUEST [flags]: a recorded bash in a tmux window; its exit code lands in NAME.exit.
rec_shell() {
  local name=$1 req=$2; shift 2
  "${T[@]}" new-session -d -s "$name" -x 120 -y 40 \
    "env PS1='$ ' '$BG' shell $req --spool-dir '$SPOOL' $* -- bash --norc --noprofile; echo \$? > '$WORK/$name.exit'; sleep 3600"
  wait_until 300 bash -c "${T[*]} capture-pane -p -t $name | grep -q '^\\$'" || fail "$name: no prompt: $(pane "$name")"
}
type_line() { "${T[@]}" send-keys -t "$1" -l "$2"; "${T[@]}" send-keys -t "$1" Enter; }
wait_pane() { wait_until "${3:-20}" bash -c "${T[*]} capture-pane -p -t $1 -S -200 | grep -q -e '$2'" || fail "$1: '$2' never shown: $(pane "$1")"; }
wait_exit() { wait_until "${2:-30}" test -f "$WORK/$1.exit" || fail "$1: the recorder did not end: $(pane "$1")"; }
session_of() { "$BG" sessions list --request "$1" --json | jq -r ".sessions[${2:-0}].id"; }
new_grant() {  # new_grant DURATION -> request id (tier 1: self-approved, active at once)
  local out id
  out=$("$BG" request --resource prod-db --privilege read_only --duration "$1" \
        --reason "recorded maintenance session" --ticket CHG-600 --json)
  id=$(jq -r .id <<<"$out")
  wait_until 300 bash -c "\"$BG\" status $id --json | jq -e '.state == \"active\"'" || fail "grant $id not active"
  echo "$id"
}
download() {  # download SESSION FILE -> prints the HTTP status and content type
  curl -s --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $(token)" -o "$2" \
       -w '%{http_code} %{content_type}' "$BREAKGLASS_SERVER/v1/sessions/$1/recording"
}
audit_check() {  # audit_check SESSION RECORDING (as the auditor sam)
  local dir=$WORK/audit-$1
  mkdir -p "$dir"
  as sam
  api GET "/v1/audit/checkpoint" | sed '$d' >"$dir/checkpoint"
  local size; size=$(sed -n 2p "$dir/checkpoint")
  api GET "/v1/audit/entries?start=0&end=$size" | sed '$d' >"$dir/entries.json"
  for i in $(jq -r '.entries[] | .index' "$dir/entries.json"); do
    api GET "/v1/audit/proof/inclusion?index=$i&size=$size" | sed '$d' >"$dir/$i.json"
  done
  python3 "$HERE/session_check.py" "$2" "$dir/entries.json" "$dir/checkpoint" "$dir" "$1" \
    || fail "audit check of $1"
  as alice
}

# ---- 1. a recorded shell, typed into through a real terminal ----------------------------------
as alice
g1=$(new_grant 30m)
rec_shell s1 "$g1"
type_line s1 'echo hello-$((40+2))'
wait_pane s1 '^hello-42'
type_line s1 "printf 'tab\\tend\\n'; sleep 0.3; echo second-line"
wait_pane s1 '^second-line'
type_line s1 'exit 7'
wait_exit s1
[ "$(cat "$WORK/s1.exit")" = 7 ] || fail "exit code not passed on: $(cat "$WORK/s1.exit")"
sid=$(session_of "$g1")
list=$("$BG" sessions list --request "$g1" --json)
[ "$(jq -c '.sessions[0] | keys' <<<"$list")" = '["complete","ended_at","id","request_id","started_at","user"]' ] \
  || fail "session list shape: $list"
[ "$(jq -r '.sessions[0] | "\(.request_id) \(.user) \(.complete)"' <<<"$list")" = "$g1 alice true" ] \
  || fail "session list content: $list"
"$BG" sessions list --request "$g1" | grep -q "$sid  alice .* complete" || fail "human list"
api_out=$(api GET "/v1/sessions?request=$g1" | sed '$d')
[ "$(jq -c . <<<"$api_out")" = "$(jq -c . <<<"$list")" ] || fail "CLI --json differs from the API"

got=$(download "$sid" "$WORK/s1.cast")
[ "$got" = "200 application/x-asciicast" ] || fail "recording download: $got"
python3 - "$WORK/s1.cast" "$g1" <<'PY' || fail "recording content"
import json, sys
lines = open(sys.argv[1], encoding='utf-8').read().splitlines()
h = json.loads(lines[0])
assert h['version'] == 2 and h['width'] == 120 and h['height'] == 40, h
assert h['breakglass']['request_id'] == sys.argv[2] and h['breakglass']['user'] == 'alice', h
ev = [json.loads(l) for l in lines[1:]]
times = [e[0] for e in ev]
assert times == sorted(times), 'times go back'
assert 0 < times[-1] < 120, f'implausible duration {times[-1]}'
typed = ''.join(e[2] for e in ev if e[1] == 'i')
assert 'echo hello-$((40+2))\r' in typed and 'exit 7\r' in typed, repr(typed)
# The output of a command comes after the Enter that ran it, and the 0.3 s sleep shows. The
# terminal's output may reach the recorder in any pieces (a loaded machine splits lines): a
# text's time is that of the event that completes its first occurrence in the whole output.
enter = next(e[0] for e in ev if e[1] == 'i' and '\r' in e[2] and e[0] >= 0)
out, ends = '', []
for e in ev:
    if e[1] == 'o':
        out += e[2]
        ends.append((len(out), e[0]))
def when(text, not_after=None):
    at = out.find(text)
    while at >= 0 and not_after is not None and out[:at].endswith(not_after):
        at = out.find(text, at + 1)
    assert at >= 0, f'{text!r} is not in the output: {out!r}'
    return next((t, i) for i, (n, t) in enumerate(ends) if n >= at + len(text))
out42, _ = when('hello-42')  # the command's echo shows hello-$((40+2))
assert out42 >= enter, (enter, out42)
(tab, tab_event), (second, second_event) = when('tab\tend'), when('second-line', not_after='echo ')
# Only a recorder that was not scheduled for the whole sleep reads both in one piece: then the
# recording cannot show the sleep, and that is the machine's load, not the recorder's fault.
assert second - tab >= 0.25 or tab_event == second_event, (tab, second)
print('recording ok:', len(ev), 'events over', times[-1], 's')
PY
"$BG" replay "$sid" --cat >"$WORK/s1.cat" || fail "replay --cat"
grep -q "hello-42" "$WORK/s1.cat" || fail "replay --cat lacks the output"
"$BG" replay "$WORK/s1.cast" --speed 50 --idle-limit 0.1 >"$WORK/s1.play" || fail "replay of a file"
cmp -s "$WORK/s1.cat" "$WORK/s1.play" || fail "timed replay printed something else than --cat"
# asciinema needs a terminal of its own: run it in a tmux window.
"${T[@]}" new-session -d -s cat -x 120 -y 40 "asciinema cat '$WORK/s1.cast' >'$WORK/s1.asciinema'; touch '$WORK/cat.done'"
wait_until 300 test -f "$WORK/cat.done" || fail "asciinema cat did not finish"
cmp -s "$WORK/s1.cat" "$WORK/s1.asciinema" || fail "asciinema cat prints something else than the recording"
audit_check "$sid" "$WORK/s1.cast"

# who sees what: bob sees nothing of alice's, the auditor everything
as bob
[ "$("$BG" sessions list --request "$g1" --json | jq '.sessions | length')" = 0 ] || fail "bob lists alice's sessions"
[ "$(download "$sid" "$WORK/bob.cast" | cut -d' ' -f1)" = 404 ] || fail "bob downloads alice's recording"
as sam
[ "$(download "$sid" "$WORK/sam.cast" | cut -d' ' -f1)" = 200 ] || fail "the auditor cannot download"
cmp -s "$WORK/s1.cast" "$WORK/sam.cast" || fail "the auditor got another recording"

# ---- 2. refusals: nothing stored half-way -------------------------------------------------------
as sam
size_before=$(api GET /v1/audit/checkpoint | sed -n 2p)
as alice
status_of() { tail -1 <<<"$1"; }
field_of() { head -1 <<<"$1" | jq -r .error.field; }
ev='[0.5, \"o\", \"x\"]\n'
r=$(api POST "/v1/sessions/$sid/chunks" "{\"seq\":99,\"data\":\"$ev\"}")
[ "$(status_of "$r")" = 409 ] || fail "chunk for an ended session: $r"
grep -q "has ended" <<<"$r" || fail "ended session not named: $r"
hdr=$(jq -cn --arg r "$g1" '{version:2,width:80,height:24,timestamp:now|floor,breakglass:{request_id:$r}}|tojson')
r=$(api POST /v1/sessions "{\"id\":\"ses_refusals\",\"request_id\":\"$g1\",\"header\":$hdr}")
[ "$(status_of "$r")" = 201 ] || fail "explicit session create: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks "{\"seq\":1,\"data\":\"$ev\"}")
[ "$(status_of "$r")" = 409 ] && grep -q "expects chunk 0" <<<"$r" || fail "out of order: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks '{"seq":0,"data":"not an event\n"}')
[ "$(status_of "$r")" = 400 ] && [ "$(field_of "$r")" = data ] || fail "malformed data: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks '{"seq":0,"data":"[1, \"o\", \"x\"]"}')
[ "$(status_of "$r")" = 400 ] || fail "data without a final newline: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks "{\"seq\":0,\"data\":\"$ev\",\"sha256\":\"00\"}")
[ "$(status_of "$r")" = 400 ] && [ "$(field_of "$r")" = sha256 ] || fail "wrong digest: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks '{"seq":0,"data":')
[ "$(status_of "$r")" = 400 ] || fail "broken JSON: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks "{\"seq\":-1,\"data\":\"$ev\"}")
[ "$(status_of "$r")" = 400 ] && [ "$(field_of "$r")" = seq ] || fail "negative seq: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks "{\"seq\":0,\"data\":\"$ev\",\"extra\":1}")
[ "$(status_of "$r")" = 400 ] && [ "$(field_of "$r")" = extra ] || fail "unknown field: $r"
python3 -c "import json; print(json.dumps({'seq':0,'data':'[0.1, \"o\", \"' + 'y'*600000 + '\"]\n'}))" >"$WORK/big.json"
r=$(api_file POST /v1/sessions/ses_refusals/chunks "$WORK/big.json")
[ "$(status_of "$r")" = 413 ] || fail "oversized chunk: $(tail -c 300 <<<"$r")"
python3 -c "import json; print(json.dumps({'seq':0,'data':'[0.1, \"o\", \"' + 'y'*1200000 + '\"]\n'}))" >"$WORK/huge.json"
r=$(api_file POST /v1/sessions/ses_refusals/chunks "$WORK/huge.json")
[ "$(status_of "$r")" = 413 ] || fail "over the body limit: $(tail -c 300 <<<"$r")"
as bob
r=$(api POST /v1/sessions/ses_refusals/chunks "{\"seq\":0,\"data\":\"$ev\"}")
[ "$(status_of "$r")" = 404 ] || fail "bob wrote into alice's session: $r"
as sam
r=$(api POST /v1/sessions/ses_refusals/chunks "{\"seq\":0,\"data\":\"$ev\"}")
[ "$(status_of "$r")" = 403 ] || fail "the auditor wrote into alice's session: $r"
r=$(api GET /v1/sessions/ses_refusals | sed '$d')
[ "$(jq -r '"\(.chunks) \(.bytes) \(.complete)"' <<<"$r")" = "0 0 false" ] || fail "something was stored: $r"
size_after=$(api GET /v1/audit/checkpoint | sed -n 2p)
# The one accepted write in between is the explicit create (session.started), plus sam's logins.
added=$(api GET "/v1/audit/entries?start=$size_before&end=$size_after" | sed '$d' \
        | jq -r '.entries[].leaf' | while read -r l; do base64 -d <<<"$l" | jq -r .type; done | sort | uniq -c | tr -s ' ')
grep -q "session.chunk" <<<"$added" && fail "a refused chunk reached the audit log: $added"
as alice
r=$(api POST /v1/sessions/ses_refusals/chunks "{\"seq\":0,\"data\":\"$ev\"}")
[ "$(status_of "$r")" = 201 ] || fail "a good chunk after the refusals: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks "{\"seq\":0,\"data\":\"$ev\"}")
[ "$(status_of "$r")" = 200 ] && [ "$(head -1 <<<"$r" | jq .duplicate)" = true ] || fail "a re-sent chunk: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks "{\"seq\":0,\"data\":\"[0.6, \\\"o\\\", \\\"z\\\"]\\n\"}")
[ "$(status_of "$r")" = 409 ] || fail "a different chunk 0: $r"
r=$(api POST /v1/sessions/ses_refusals/chunks '{"seq":1,"data":"[0.1, \"o\", \"x\"]\n"}')
[ "$(status_of "$r")" = 400 ] || fail "time going back across chunks: $r"

# ---- 3. expiry ends a session, after the warnings --------------------------------------------------
g2=$(new_grant 25s)
rec_shell s2 "$g2" --warn-before 10s --grace 2s
wait_exit s2 40
pane s2 | grep -q "ends in" || fail "no warning before expiry: $(pane s2)"
pane s2 | grep -q "has expired; ending this session" || fail "no end notice: $(pane s2)"
sid2=$(session_of "$g2")
r=$(api GET "/v1/sessions/$sid2" | sed '$d')
[ "$(jq -r '"\(.complete) \(.end_reason)"' <<<"$r")" = "true expired" ] || fail "expired session: $r"
download "$sid2" "$WORK/s2.cast" >/dev/null
grep -q 'has expired; ending this session' "$WORK/s2.cast" || fail "the recording does not say it expired"
grep -q '"m", "session ended: expired"' "$WORK/s2.cast" || fail "no end marker"

# ---- 4. revocation ends a session promptly --------------------------------------------------------
g3=$(new_grant 30m)
rec_shell s3 "$g3"
type_line s3 'echo before-revoke'
wait_pane s3 '^before-revoke'
"$BG" revoke "$g3" --reason "done" >/dev/null
start=$SECONDS
wait_exit s3 15
[ $((SECONDS - start)) -le 8 ] || fail "revocation took $((SECONDS - start))s to end the session"
sid3=$(session_of "$g3")
[ "$(api GET "/v1/sessions/$sid3" | sed '$d' | jq -r .end_reason)" = revoked ] || fail "not ended as revoked"

# ---- 5. the server dies mid-session: nothing is lost ----------------------------------------------
g4=$(new_grant 30m)
rec_shell s4 "$g4" --upload-wait 30s
type_line s4 'echo before-outage'
wait_pane s4 '^before-outage'
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
for i in 1 2 3; do type_line s4 "echo during-outage-$i"; wait_pane s4 "^during-outage-$i"; sleep 1; done
wait_pane s4 'cannot upload the recording'
ls "$SPOOL"/*/ >/dev/null 2>&1 || fail "nothing spooled during the outage"
restart_server
type_line s4 'echo after-restart'
wait_pane s4 '^after-restart'
type_line s4 'exit'
wait_exit s4 40
as alice
sid4=$(session_of "$g4")
download "$sid4" "$WORK/s4.cast" >/dev/null
for w in before-outage during-outage-1 during-outage-2 during-outage-3 after-restart; do
  grep -q "$w" "$WORK/s4.cast" || fail "the recording lost '$w'"
done
[ "$(api GET "/v1/sessions/$sid4" | sed '$d' | jq -r .complete)" = true ] || fail "outage session not complete"
[ -z "$(ls -A "$SPOOL" 2>/dev/null)" ] || fail "spool not emptied: $(ls -R "$SPOOL")"
audit_check "$sid4" "$WORK/s4.cast"

# ---- 6. a spool left behind is sent by itself once the server is back (no manual upload) -------
g5=$(new_grant 30m)
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
"$BG" record --grant "$g5" --spool-dir "$SPOOL" --upload-wait 1s --until "$(date -u -d '+10 min' +%Y-%m-%dT%H:%M:%SZ)" \
  -- sh -c 'echo offline-$((1+1))' </dev/null >"$WORK/s5.out" 2>"$WORK/s5.err" || fail "offline record: $(cat "$WORK/s5.err")"
[ "$(cat "$WORK/s5.out")" = "offline-2" ] || fail "offline output: $(od -c "$WORK/s5.out" | head -3)"
grep -q "sent in the background as soon as the server is reachable" "$WORK/s5.err" ||
  fail "no background upload: $(cat "$WORK/s5.err")"
ls "$SPOOL"/*/ >/dev/null 2>&1 || fail "nothing spooled while the server was down"
restart_server
wait_until 300 bash -c "\"$BG\" sessions list --request $g5 --json | jq -e '.sessions[0].complete'" ||
  fail "the spool was not uploaded by itself: $("$BG" sessions list --request "$g5" --json); spool: $(ls -R "$SPOOL")"
sid5=$(session_of "$g5")
[ "$("$BG" replay "$sid5" --cat)" = "offline-2" ] || fail "late upload: $("$BG" replay "$sid5" --cat)"
wait_until 300 bash -c "[ -z \"\$(ls -A '$SPOOL')\" ]" || fail "spool not emptied: $(ls -R "$SPOOL")"
echo "ok - a spool left behind while the server was down is uploaded without manual action"

# ---- 7. recording = "required": no session unless the server committed its first chunk -----------
g6=$(new_grant 30m)
rec_required() {  # rec_required MARKER [record flags] -> the recorder's exit code
  set +e
  "$BG" record --grant "$g6" --spool-dir "$WORK/spool-req" --upload-wait 3s "${@:2}" \
    -- sh -c "touch '$WORK/$1'; echo ran" </dev/null >"$WORK/$1.out" 2>"$WORK/$1.err"
  echo $?
  set -e
}
openssl req -x509 -newkey ed25519 -nodes -keyout "$WORK/other.key" -out "$WORK/other.crt" \
  -subj /CN=127.0.0.1 -days 1 2>/dev/null
# an unverifiable server (TLS: another CA)
rc=$(BREAKGLASS_CACERT=$WORK/other.crt rec_required m-tls --recording required)
[ "$rc" = 8 ] || fail "required, unverifiable server: exit $rc, want 8: $(cat "$WORK/m-tls.err")"
[ ! -e "$WORK/m-tls" ] || fail "required: the command ran although the server could not be verified"
grep -q 'requires a recorded session.*the session does not start' "$WORK/m-tls.err" || fail "message: $(cat "$WORK/m-tls.err")"
rc=$(BREAKGLASS_CACERT=$WORK/other.crt rec_required m-tls-be --recording best_effort)
[ "$rc" = 0 ] && [ -e "$WORK/m-tls-be" ] || fail "best effort, unverifiable server: exit $rc: $(cat "$WORK/m-tls-be.err")"
# reachable: the command runs, its recording is on the server
rc=$(rec_required m-ok --recording required)
[ "$rc" = 0 ] && [ -e "$WORK/m-ok" ] || fail "required, server up: exit $rc: $(cat "$WORK/m-ok.err")"
# an unreachable server
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
rc=$(rec_required m-down --recording required)
[ "$rc" = 8 ] || fail "required, server down: exit $rc, want 8: $(cat "$WORK/m-down.err")"
[ ! -e "$WORK/m-down" ] || fail "required: the command ran with the server down"
rc=$(rec_required m-down-be)
[ "$rc" = 0 ] && [ -e "$WORK/m-down-be" ] || fail "best effort (default), server down: exit $rc: $(cat "$WORK/m-down-be.err")"
restart_server
n=$("$BG" sessions list --request "$g6" --json | jq '[.sessions[] | select(.complete)] | length')
[ "$n" -ge 1 ] || fail "the required session is not on the server"
echo "ok - recording = required refuses to start without a committed first chunk; best_effort runs"

echo "session_test: ok"
