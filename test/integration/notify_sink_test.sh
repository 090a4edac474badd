#!/usr/bin/env bash
# Notification sinks are fed from the durable audit log (issue 12.5): a syslog sink over TCP
# whose receiver is down gets every event, in order and once, when it returns, and events
# appended while the server was down reach it after the restart. /metrics shows the sink
# failing and its backlog, and passes promtool.
source "$(dirname "$0")/lib.sh"
cat >"$WORK/rx.py" <<'PY'
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(8)
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        conn, _ = srv.accept()
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data: break
            buf += data
            while b" " in buf:  # RFC 6587 octet counting: "<length> <message>"
                length, rest = buf.split(b" ", 1)
                n = int(length)
                if len(rest) < n: break
                out.write(rest[:n].replace(b"\n", b" ") + b"\n")
                buf = rest[n:]
        conn.close()
PY
RX_PID=
# Until the receiver starts, a bound socket that does not listen holds the port: connecting to
# it is refused, and no other process (the server's own free_port) can be handed it meanwhile.
# The holder binds port 0 itself and writes the port it got, so nothing races for it.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0))
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1]); time.sleep(600)' "$WORK/held.port" &
HOLD_PID=$!
# Every helper process ends with the test (a survivor would keep ctest's output pipe open).
trap 'kill $HOLD_PID $RX_PID 2>/dev/null || true; cleanup' EXIT
wait_until 30 test -s "$WORK/held.port" || fail "the port holder did not start"
SPORT=$(cat "$WORK/held.port")
metric() { curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# The receiver is down while the server starts and requests are made.
bg_start_server --syslog "tcp://127.0.0.1:$SPORT"
login alice
ids=()
for i in 1 2 3; do
  ids+=("$("$BG" request --resource prod-db --privilege read_only --duration 1h \
          --reason "sink delivery check $i" --ticket "INC-70$i" --json | jq -r .id)")
done
wait_until 60 bash -c "[ \"\$(curl -sf --cacert '$BREAKGLASS_CACERT' '$BREAKGLASS_SERVER/metrics' |
  awk '\$1 == \"breakglass_notify_sink_failing{sink=\\\"syslog\\\"}\" {print \$2}')\" = 1 ]" ||
  fail "the sink did not show as failing: $(metric 'breakglass_notify_sink_failing{sink="syslog"}')"
[ "$(metric 'breakglass_notify_backlog{sink="syslog"}')" -ge 3 ] || fail "no backlog while the receiver is down"
# The same state in GET /v1/sinks (the page's health view), for auditors only.
[ "$(api GET /v1/sinks | tail -1)" = 403 ] || fail "a requester read the sinks' state"
login sam
out=$(api GET /v1/sinks)
[ "$(tail -1 <<<"$out")" = 200 ] || fail "GET /v1/sinks: $out"
jq -e '.sinks[] | select(.name == "syslog") | .failing == true and .backlog >= 3 and .last_error != ""' \
  <<<"$(head -n -1 <<<"$out")" >/dev/null || fail "GET /v1/sinks does not show the failing sink: $out"
set +e; st=$("$BG" notify status 2>&1); rc=$?; set -e
[ "$rc" = 8 ] || fail "notify status with a failing sink: exit $rc, want 8: $st"
grep -q '^syslog .*FAILING' <<<"$st" || fail "notify status does not name the failing sink: $st"
login alice
if command -v promtool >/dev/null; then
  curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/metrics" | promtool check metrics ||
    fail "promtool refused /metrics with a sink"
fi

# It comes back: everything arrives (the backoff is at most 60 s).
: >"$WORK/rx.log"
kill "$HOLD_PID"; wait "$HOLD_PID" 2>/dev/null || true
python3 "$WORK/rx.py" "$SPORT" "$WORK/rx.log" & RX_PID=$!
for id in "${ids[@]}"; do
  wait_until 150 grep -q " request.created .*\"$id\"" "$WORK/rx.log" || fail "$id never reached the sink"
done
wait_until 90 bash -c "[ \"\$(curl -sf --cacert '$BREAKGLASS_CACERT' '$BREAKGLASS_SERVER/metrics' |
  awk '\$1 == \"breakglass_notify_backlog{sink=\\\"syslog\\\"}\" {print \$2}')\" = 0 ]" || fail "backlog not drained"
login sam
"$BG" notify status >/dev/null || fail "notify status after the backlog drained: exit $?"
login alice

# Down for a while: what is appended meanwhile (an account made offline, user.added) comes after restart.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
echo "yuki-long-password" | "$BG" user add yuki --role requester --password-stdin \
  --data-dir "$WORK/breakglass-data" >/dev/null || fail "user add yuki"
bg_start_server --syslog "tcp://127.0.0.1:$SPORT"
wait_until 60 grep -q " user.added .*yuki" "$WORK/rx.log" || fail "the offline user.added did not arrive"
wait_until 60 bash -c "[ \$(grep -c ' server.started ' '$WORK/rx.log') -ge 2 ]" || fail "no second server.started"

# Every event once, in log order, with no gap: the indices are consecutive.
grep -o 'index="[0-9]*"' "$WORK/rx.log" | tr -dc '0-9\n' >"$WORK/idx"
python3 - "$WORK/idx" <<'PY' || fail "delivery out of order, duplicated or with gaps: $(tr '\n' ' ' <"$WORK/idx")"
import sys
idx = [int(l) for l in open(sys.argv[1]) if l.strip()]
assert idx == list(range(idx[0], idx[0] + len(idx))), idx
PY
echo "notify sink: $(wc -l <"$WORK/idx") events delivered in order after an outage and a restart"
