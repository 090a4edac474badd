#!/usr/bin/env bash
# Alert latency and throughput to a loopback webhook (issue 14). N requests (default 1000) are
# created one after another over one keep-alive TLS connection; for each, the time from sending
# POST /v1/requests to its request.created message arriving at the webhook receiver
# (test/integration/alert_receivers.py, which checks every signature). The anchor, in the same
# run, is the POST's own answer time: the ratio says what delivery adds to the request itself.
# Then the receiver is down while N more requests are made, comes back, and the backlog drains:
# messages per second through the outbox, beside the rate the receiver takes direct posts from
# one client (its own ceiling).
# Usage: BG=build/breakglass bash bench/notify_bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
BG=$(realpath "${BG:-build/breakglass}")
N=${1:-1000}
source test/integration/connectors_lib.sh
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
RX=$WORK/rx; mkdir -p "$RX"
printf 'whsec-bench\n' >"$WORK/hook.key"; chmod 600 "$WORK/hook.key"
"$PY" test/integration/alert_receivers.py "$WORK/http.port" "$WORK/smtp.port" "$RX" "$WORK/hook.key" &
RX_PID=$!
trap 'kill $RX_PID 2>/dev/null || true; cleanup' EXIT
wait_until 60 test -s "$WORK/http.port"
HP=$(cat "$WORK/http.port")
printf '#!/bin/sh\ncat >/dev/null\n' >"$WORK/ok"; chmod +x "$WORK/ok"
conn_config <<TOML
public_url = "https://bg.example"
[connectors.app]
kind = "exec"
grant = ["$WORK/ok"]
revoke = ["$WORK/ok"]
probe = ["$WORK/ok"]
[notify.hook]
kind = "webhook"
url = "http://127.0.0.1:$HP/webhook"
secret_file = "$WORK/hook.key"
events = ["request.created"]
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
[groups]
sre = ["alice"]
[pools]
ops = ["carol", "dave"]
[[resources]]
name = "app"
connector = "app"
privileges = ["read"]
[[rules]]
resource = "app"
privileges = ["read"]
requesters = ["group:sre"]
tier = 2
pool = "ops"
approvals = 1
TOML
conn_user alice requester; conn_user carol approver; conn_user dave approver
bg_start_server --config "$WORK/bg.toml"
conn_login alice
"$PY" - "$BREAKGLASS_SERVER" "$BREAKGLASS_CACERT" "$(token)" "$N" "$RX" "$HP" <<'PYB'
import http.client, json, os, ssl, statistics, sys, time, urllib.parse
server, cacert, token, n, rx, hp = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
u = urllib.parse.urlparse(server)
ctx = ssl.create_default_context(cafile=cacert); ctx.check_hostname = False
conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
def create(i):
    body = json.dumps({"resource": "app", "privilege": "read", "duration": "10m",
                       "reason": "notify bench %d" % i, "ticket": "INC-%d" % i})
    t0 = time.time(); conn.request("POST", "/v1/requests", body, hdr)
    r = conn.getresponse(); data = r.read(); t1 = time.time()
    assert r.status == 201, (r.status, data)
    return json.loads(data)["id"], t0, t1
def arrivals():
    out = {}
    try:
        for line in open(os.path.join(rx, "webhook.jsonl")):
            e = json.loads(line); out[e["body"]["request"]["id"]] = e["rx"]
    except FileNotFoundError:
        pass
    return out
def pct(xs, p): xs = sorted(xs); return xs[min(len(xs) - 1, int(p * len(xs)))]
sent = []
for i in range(n):
    sent.append(create(i))
deadline = time.time() + 120
while len(arrivals()) < n and time.time() < deadline: time.sleep(0.2)
got = arrivals()
assert len(got) >= n, "only %d of %d arrived" % (len(got), n)
lat = [(got[i] - t0) * 1000 for i, t0, _ in sent]
ans = [(t1 - t0) * 1000 for _, t0, t1 in sent]
print("requests: %d" % n)
print("POST answer (anchor) p50 %.1f ms p99 %.1f ms" % (pct(ans, .5), pct(ans, .99)))
print("POST -> webhook     p50 %.1f ms p99 %.1f ms (ratio to the anchor p50 %.2f, p99 %.2f)" %
      (pct(lat, .5), pct(lat, .99), pct(lat, .5) / pct(ans, .5), pct(lat, .99) / pct(ans, .99)))
# Throughput: the receiver down while n more are made, then the backlog drains.
open(os.path.join(rx, "down.webhook"), "w").close()
before = len(got)
for i in range(n): create(n + i)
os.remove(os.path.join(rx, "down.webhook"))
deadline = time.time() + 240
while len(arrivals()) < before + n and time.time() < deadline: time.sleep(0.2)
times = sorted(arrivals().values())[before:]
assert len(times) >= n, "backlog: only %d of %d" % (len(times), n)
drain = times[-1] - times[0]
# The receiver's own ceiling: one client posting the same size of body, signed, directly.
import hashlib, hmac
sample = open(os.path.join(rx, "webhook.jsonl")).readline()
raw = json.loads(sample)["raw"].encode()
d = http.client.HTTPConnection("127.0.0.1", hp)
t0 = time.time()
for _ in range(n):
    t = int(time.time())
    sig = hmac.new(b"whsec-bench", str(t).encode() + b"." + raw, hashlib.sha256).hexdigest()
    d.request("POST", "/webhook", raw, {"X-Breakglass-Signature": "t=%d,v1=%s" % (t, sig),
                                         "Content-Type": "application/json"})
    d.getresponse().read()
direct = n / (time.time() - t0)
print("outbox drain: %.0f messages/s; direct posts to the receiver %.0f/s (ratio %.2f)" %
      (n / drain, direct, (n / drain) / direct))
PYB
