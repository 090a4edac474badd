#!/usr/bin/env bash
# The audit log end to end against a real server: export bundles (live and offline) that
# `audit verify` accepts and whose tampering it names by index; a SQLite file changed under a
# running server caught by `audit verify --server` with a checkpoint trusted from before;
# witnesses receiving signed checkpoints; RFC 5424 syslog lines for events; the log checked by
# Go's sumdb/note and sumdb/tlog from what the live API serves; `audit show`.
source "$(dirname "$0")/lib.sh"
for tool in sqlite3 jq oathtool python3; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
# Every sqlite3 run waits for the server's write lock (10 s) instead of failing at once with
# "database is locked": the server writes a checkpoint every second.
sql() { sqlite3 -cmd '.timeout 10000' "$@"; }

# A witness: stores each POSTed checkpoint as witness/N.txt. A syslog receiver: one datagram a line.
mkdir -p "$WORK/witness"
cat >"$WORK/witness.py" <<'EOF'
import http.server, os, sys
out = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        H.n += 1
        with open(os.path.join(out, "%06d.txt" % H.n), "wb") as f:
            f.write(body)
        with open(os.path.join(out, "%06d.type" % H.n), "w") as f:
            f.write(self.headers.get("Content-Type", ""))
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok\n")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
cat >"$WORK/syslog.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
EOF
WPORT=$(free_port)
SPORT=$(free_port)
python3 "$WORK/witness.py" "$WPORT" "$WORK/witness" & WITNESS_PID=$!
python3 "$WORK/syslog.py" "$SPORT" "$WORK/syslog.log" & SYSLOG_PID=$!
trap 'kill $WITNESS_PID $SYSLOG_PID 2>/dev/null || true; cleanup' EXIT
wait_until 300 curl -s -o /dev/null "http://127.0.0.1:$WPORT/" || fail "witness receiver did not start"

bg_start_server --checkpoint-interval 1s --witness "http://127.0.0.1:$WPORT/add-checkpoint" \
  --syslog "udp://127.0.0.1:$SPORT"

# A little workflow: a self-approved tier-1 grant, revoked; a tier-2 request approved by two.
login alice
id1=$("$BG" request --resource prod-db --privilege read_only --duration 10m \
      --reason "read replica lag check" --ticket CHG-100 --json | jq -r .id)
wait_until 300 bash -c "\"$BG\" status $id1 --json | jq -e '.state == \"active\"'" || fail "tier 1 not active"
"$BG" revoke "$id1" --reason "done early" >/dev/null
cp "$HOME/.config/breakglass/credentials.json" "$WORK/alice.json"  # reused below: no second TOTP
id2=$("$BG" request --resource prod-db --privilege dba --duration 5m \
      --reason "replication stuck after failover" --ticket INC-4711 --json | jq -r .id)
for u in carol dave; do login $u; "$BG" approve "$id2" --comment "ok from $u" >/dev/null; done
login sam  # auditor
cp "$HOME/.config/breakglass/credentials.json" "$WORK/sam.json"

# ---- audit show ----
"$BG" audit show "$id1" >"$WORK/show.txt" || fail "audit show"
for t in request.created request.revoked; do grep -q "$t" "$WORK/show.txt" || fail "show lacks $t: $(cat "$WORK/show.txt")"; done
"$BG" --json audit show "$id2" >"$WORK/show.json"
jq -e --arg id "$id2" '.request == $id and ([.events[].type] | index("request.created") != null)' \
  "$WORK/show.json" >/dev/null || fail "show --json: $(cat "$WORK/show.json")"
jq -e '[.events[] | select(.type == "request.created")][0].details.ticket == "INC-4711"' \
  "$WORK/show.json" >/dev/null || fail "show: no ticket in request.created"
set +e; "$BG" audit show req_nope >/dev/null 2>&1; rc=$?; set -e
[ $rc -eq 5 ] || fail "show of an unknown request: exit $rc, want 5"

# ---- (a) live export, bundle, verify ----
"$BG" audit export --bundle "$WORK/b1" --out "$WORK/export.jsonl" >/dev/null || fail "export"
"$BG" audit export --format cef --out "$WORK/export.cef" >/dev/null || fail "cef export"
n=$(wc -l <"$WORK/b1/entries.jsonl")
[ "$n" -gt 10 ] || fail "only $n entries"
cmp -s "$WORK/b1/entries.jsonl" "$WORK/export.jsonl" || fail "jsonl export differs from the bundle's entries"
grep -q "^CEF:0|breakglass|breakglass|0.1.0|request.created|request.created|3|rt=[0-9]* suser=alice .*cs1=$id1 cs1Label=request" \
  "$WORK/export.cef" || fail "CEF line: $(grep request.created "$WORK/export.cef" | head -1)"
[ "$(wc -l <"$WORK/export.cef")" -eq "$n" ] || fail "CEF has not one line per entry"
"$BG" audit export --format cef --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --out "$WORK/none.cef" >/dev/null
[ ! -s "$WORK/none.cef" ] || fail "--since in the future exported events"
"$BG" audit verify --bundle "$WORK/b1" >"$WORK/v.out" || fail "fresh bundle does not verify: $(cat "$WORK/v.out")"
grep -q "^OK: $n entries verified" "$WORK/v.out" || fail "verify output: $(cat "$WORK/v.out")"
"$BG" audit verify --server "$BREAKGLASS_SERVER" --save-checkpoint "$WORK/trusted.txt" >/dev/null \
  || fail "live verify"
trusted_size=$(sed -n 2p "$WORK/trusted.txt")

# flip one byte of one leaf (a letter inside the actor's name) -> names that index
k=$(grep -n . "$WORK/b1/entries.jsonl" | while IFS=: read -r ln line; do
      jq -r .leaf <<<"$line" | base64 -d | grep -q '"actor":"alice"' && { echo $((ln - 1)); break; }
    done)
[ -n "$k" ] || fail "no entry by alice"
cp -r "$WORK/b1" "$WORK/flip"
python3 - "$WORK/flip/entries.jsonl" "$k" <<'EOF'
import base64, json, sys
path, k = sys.argv[1], int(sys.argv[2])
lines = open(path).read().splitlines()
e = json.loads(lines[k])
leaf = bytearray(base64.b64decode(e["leaf"]))
i = leaf.index(b'"actor":"alice"') + len(b'"actor":"')
leaf[i] ^= 0x02  # 'a' -> 'c'
e["leaf"] = base64.b64encode(bytes(leaf)).decode()
lines[k] = json.dumps(e, separators=(",", ":"))
open(path, "w").write("\n".join(lines) + "\n")
EOF
set +e; "$BG" --json audit verify --bundle "$WORK/flip" >"$WORK/v.json" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "flipped byte: exit $rc, want 1: $(cat "$WORK/v.err")"
[ "$(jq -r .first_bad_index "$WORK/v.json")" = "$k" ] || fail "flipped byte at $k not named: $(cat "$WORK/v.err")"
grep -q "entry $k:" "$WORK/v.err" || fail "message does not name entry $k: $(cat "$WORK/v.err")"

# delete the last two entries -> "missing"
cp -r "$WORK/b1" "$WORK/trunc"
head -n $((n - 2)) "$WORK/b1/entries.jsonl" >"$WORK/trunc/entries.jsonl"
set +e; "$BG" audit verify --bundle "$WORK/trunc" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "truncated: exit $rc"
grep -q "entry $((n - 2)): missing" "$WORK/v.err" || fail "truncation: $(cat "$WORK/v.err")"

# swap two entries -> names the first
cp -r "$WORK/b1" "$WORK/swap"
awk 'NR==4{l4=$0; next} NR==5{print; print l4; next} {print}' "$WORK/b1/entries.jsonl" >"$WORK/swap/entries.jsonl"
set +e; "$BG" audit verify --bundle "$WORK/swap" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "entry 3: expected index 3, found 4" "$WORK/v.err" || fail "swap: $(cat "$WORK/v.err")"

# a bundle signed by another key, and usage errors
cp -r "$WORK/b1" "$WORK/key2"
echo "other+8fb8c5e4+AdSLCN2HSZw7ZPp9PzrSWcqg8k0tELaVPsiHX0Y4xSnq" >"$WORK/key2/key.txt"
set +e; "$BG" audit verify --bundle "$WORK/key2" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -ne 0 ] || fail "a bundle verified with a foreign key"
set +e; "$BG" audit verify --bundle "$WORK/does-not-exist" 2>/dev/null; rc=$?; set -e
[ $rc -eq 2 ] || fail "missing bundle: exit $rc, want 2"

# ---- (b) Go's sumdb/note and sumdb/tlog accept what the live server serves ----
if command -v go >/dev/null; then
  GODIR=$WORK/go
  mkdir -p "$GODIR/data"
  (cd "$HERE/go/auditcheck" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$WORK/gocache \
     go build -o "$GODIR/auditcheck" .) || fail "go build auditcheck"
  get() { curl -sf --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $(token)" "$BREAKGLASS_SERVER$1"; }
  get /v1/audit/key >"$GODIR/data/key.txt"
  get /v1/audit/checkpoint >"$GODIR/data/checkpoint.txt"
  size=$(sed -n 2p "$GODIR/data/checkpoint.txt")
  : >"$GODIR/data/entries.jsonl"
  next="/v1/audit/entries?start=0&end=$size"
  while [ -n "$next" ] && [ "$next" != null ]; do
    page=$(get "$next")
    jq -c '.entries[] | {index, leaf}' <<<"$page" >>"$GODIR/data/entries.jsonl"
    next=$(jq -r .next <<<"$page")
  done
  [ "$(wc -l <"$GODIR/data/entries.jsonl")" -eq "$size" ] || fail "go: entries paging"
  : >"$GODIR/data/inclusion.jsonl"; : >"$GODIR/data/consistency.jsonl"
  for i in 0 1 $((size / 2)) $((size - 1)); do
    get "/v1/audit/proof/inclusion?index=$i&size=$size" | jq -c . >>"$GODIR/data/inclusion.jsonl"
  done
  for m in 1 2 $((size / 3)) "$trusted_size" $((size - 1)); do
    get "/v1/audit/proof/consistency?first=$m&second=$size" | jq -c . >>"$GODIR/data/consistency.jsonl"
  done
  "$GODIR/auditcheck" -dir "$GODIR/data" >"$WORK/go.out" 2>&1 || fail "Go rejects the live log: $(cat "$WORK/go.out")"
  # and rejects a leaf changed in transit
  cp -r "$GODIR/data" "$GODIR/bad"
  python3 - "$GODIR/bad/entries.jsonl" <<'EOF'
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
e = json.loads(lines[1]); leaf = bytearray(base64.b64decode(e["leaf"])); leaf[-3] ^= 1
e["leaf"] = base64.b64encode(bytes(leaf)).decode(); lines[1] = json.dumps(e)
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF
  if "$GODIR/auditcheck" -dir "$GODIR/bad" >/dev/null 2>&1; then fail "Go accepted a changed leaf"; fi
else
  echo "note: go not installed, Go interop part skipped"
fi

# ---- (c) witnesses got signed checkpoints that verify with the key ----
wait_until 300 bash -c "ls '$WORK/witness'/*.txt >/dev/null 2>&1" || fail "no checkpoint reached the witness"
last=$(ls "$WORK/witness"/*.txt | tail -1)
grep -q "^text/plain" "${last%.txt}.type" || fail "witness content type: $(cat "${last%.txt}.type")"
"$BG" audit export --bundle "$WORK/wb" >/dev/null
for w in "$WORK/witness"/*.txt; do
  cp "$w" "$WORK/wb/checkpoint.txt"
  "$BG" audit verify --bundle "$WORK/wb" >/dev/null 2>"$WORK/v.err" || fail "witness copy $w does not verify: $(cat "$WORK/v.err")"
done
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/metrics" | grep -q "^breakglass_witness_push_failures_total 0" \
  || fail "witness failure metric missing or non-zero"

# ---- (d) syslog: RFC 5424 lines for the events ----
wait_until 300 grep -q "request.revoked" "$WORK/syslog.log" || fail "no syslog line for request.revoked"
line=$(grep -a " request.created " "$WORK/syslog.log" | grep -a "request=\"$id1\"" | head -1)
[[ "$line" =~ ^\<85\>1\ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\ [^\ ]+\ breakglass\ [0-9]+\ request\.created\ \[breakglass@32473\ index=\"[0-9]+\"\ actor=\"alice\"\ request=\"$id1\"\]\  ]] \
  || fail "syslog line is not RFC 5424 as documented: $line"
grep -aq '"type":"request.created"' <<<"$line" || fail "syslog message is not the leaf"
slines=$(grep -ac . "$WORK/syslog.log")
[ "$slines" -ge "$n" ] || fail "syslog has $slines lines for $n events"

# ---- the SQLite file changed under the running server ----
cp "$WORK/alice.json" "$HOME/.config/breakglass/credentials.json"
"$BG" request --resource prod-db --privilege read_only --duration 10m --reason "after the trusted checkpoint" \
  --ticket CHG-101 >/dev/null
cp "$WORK/sam.json" "$HOME/.config/breakglass/credentials.json"
wait_until 300 bash -c "[ \"\$(curl -sf --cacert '$BREAKGLASS_CACERT' -H 'Authorization: Bearer $(token)' '$BREAKGLASS_SERVER/v1/audit/checkpoint' | sed -n 2p)\" -gt $trusted_size ]" \
  || fail "log did not grow"
"$BG" audit verify --trusted-checkpoint "$WORK/trusted.txt" >/dev/null || fail "untampered live verify"
DB=$WORK/breakglass-data/breakglass.db
# 13.7: a leaf and its stored hash both rewritten (at an odd index, where the binary search over
# consistency proofs named the entry before it): the live check names that entry exactly or a
# range holding it, never another entry.
cat >"$WORK/rewrite.py" <<'EOF'
import hashlib, json, sqlite3, sys
db, mode, saved = sys.argv[1], sys.argv[2], sys.argv[3]
c = sqlite3.connect(db, timeout=30, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
if mode == "rewrite":
    k = int(sys.argv[4])
    for j in range(1, c.execute("SELECT COUNT(*) FROM audit_leaves").fetchone()[0], 2):
        if j == k:
            continue
        leaf = bytes(c.execute("SELECT leaf FROM audit_leaves WHERE idx = ?", (j,)).fetchone()[0])
        old_hash = bytes(c.execute("SELECT hash FROM audit_nodes WHERE level = 0 AND idx = ?", (j,)).fetchone()[0])
        new = bytearray(leaf); i = new.index(b'"actor":"') + 9; new[i] ^= 0x02  # a letter, still canonical
        new = bytes(new)
        c.execute("UPDATE audit_leaves SET leaf = ? WHERE idx = ?", (new, j))
        c.execute("UPDATE audit_nodes SET hash = ? WHERE level = 0 AND idx = ?", (hashlib.sha256(b"\0" + new).digest(), j))
        json.dump({"idx": j, "leaf": leaf.hex(), "hash": old_hash.hex()}, open(saved, "w"))
        print(j)
        break
else:
    o = json.load(open(saved))
    c.execute("UPDATE audit_leaves SET leaf = ? WHERE idx = ?", (bytes.fromhex(o["leaf"]), o["idx"]))
    c.execute("UPDATE audit_nodes SET hash = ? WHERE level = 0 AND idx = ?", (bytes.fromhex(o["hash"]), o["idx"]))
c.execute("COMMIT")
EOF
j=$(python3 "$WORK/rewrite.py" "$DB" rewrite "$WORK/rewritten.json" "$k") || fail "rewrite of a leaf and its hash"
set +e; "$BG" --json audit verify --trusted-checkpoint "$WORK/trusted.txt" >"$WORK/v.json" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "live verify after rewriting leaf $j and its hash: exit $rc: $(cat "$WORK/v.err")"
jq -e --argjson j "$j" '(.first_bad_index == $j) or (.first_bad_index == null and .bad_range[0] <= $j and $j <= .bad_range[1])' \
  "$WORK/v.json" >/dev/null || fail "leaf $j and its hash rewritten: named $(cat "$WORK/v.json")"
if jq -e '.first_bad_index == null' "$WORK/v.json" >/dev/null; then
  grep -q "entries $(jq -r '.bad_range[0]' "$WORK/v.json")\.\.$(jq -r '.bad_range[1]' "$WORK/v.json"): one of these leaves" "$WORK/v.err" \
    || fail "the range is not in the message: $(cat "$WORK/v.err")"
fi
python3 "$WORK/rewrite.py" "$DB" restore "$WORK/rewritten.json" || fail "restore of leaf $j"
"$BG" audit verify --trusted-checkpoint "$WORK/trusted.txt" >/dev/null 2>"$WORK/v.err" || fail "restored log: $(cat "$WORK/v.err")"
# Another writer holds the database's write lock while the tamper step starts (as the server's
# checkpointer does, every second): the step must wait for it, not fail with "database is locked".
python3 - "$DB" "$WORK/locked" <<'EOF' & LOCKER_PID=$!
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(1)  # released well inside the step's 10 s busy timeout
db.execute("COMMIT")
EOF
wait_until 300 test -e "$WORK/locked" || fail "the lock holder did not take the lock"
sql "$DB" "UPDATE audit_leaves SET leaf = CAST(replace(CAST(leaf AS TEXT), '\"actor\":\"alice\"', '\"actor\":\"mallory\"') AS BLOB) WHERE idx = $k" \
  || fail "tamper step failed while another writer held the lock"
wait "$LOCKER_PID" || fail "the lock holder failed"
set +e; "$BG" --json audit verify --trusted-checkpoint "$WORK/trusted.txt" >"$WORK/v.json" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "live verify after tampering: exit $rc: $(cat "$WORK/v.err")"
[ "$(jq -r .first_bad_index "$WORK/v.json")" = "$k" ] || fail "live tamper at $k not named: $(cat "$WORK/v.err")"
# the live export refuses too, naming the entry
set +e; "$BG" audit export --bundle "$WORK/bad-live" >/dev/null 2>"$WORK/e.err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "entry $k differs" "$WORK/e.err" || fail "live export of a tampered log: $(cat "$WORK/e.err")"

# ---- offline, from the data directory (server stopped) ----
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
grep -q "server.stopped" <(sql "$DB" "SELECT CAST(leaf AS TEXT) FROM audit_leaves ORDER BY idx DESC LIMIT 1") \
  || fail "no server.stopped leaf"
"$BG" audit export --data-dir "$WORK/breakglass-data" --bundle "$WORK/off" >/dev/null || fail "offline export"
set +e; "$BG" --json audit verify --bundle "$WORK/off" >"$WORK/v.json" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] && [ "$(jq -r .first_bad_index "$WORK/v.json")" = "$k" ] || fail "offline tamper at $k: $(cat "$WORK/v.err")"
sql "$DB" "UPDATE audit_leaves SET leaf = CAST(replace(CAST(leaf AS TEXT), '\"actor\":\"mallory\"', '\"actor\":\"alice\"') AS BLOB) WHERE idx = $k"
"$BG" audit export --data-dir "$WORK/breakglass-data" --bundle "$WORK/off" --progress >/dev/null 2>"$WORK/progress.err"
grep -q "100%" "$WORK/progress.err" || fail "no progress output"
"$BG" audit verify --bundle "$WORK/off" --trusted-checkpoint "$WORK/trusted.txt" >"$WORK/v.out" \
  || fail "restored log does not verify: $(cat "$WORK/v.out")"
# the final checkpoint, signed at shutdown, covers server.stopped: nothing unsigned
total=$(sql "$DB" "SELECT COUNT(*) FROM audit_leaves")
[ "$(sed -n 2p "$WORK/off/checkpoint.txt")" = "$total" ] || fail "last checkpoint does not cover the whole log"
# swap two stored rows -> the first is named
sql "$DB" "BEGIN; UPDATE audit_leaves SET idx = -1 WHERE idx = 5; UPDATE audit_leaves SET idx = 5 WHERE idx = 6; UPDATE audit_leaves SET idx = 6 WHERE idx = -1; COMMIT;"
"$BG" audit export --data-dir "$WORK/breakglass-data" --bundle "$WORK/off2" >/dev/null
set +e; "$BG" audit verify --bundle "$WORK/off2" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "entry 5: leaf does not match its stored hash" "$WORK/v.err" || fail "row swap: $(cat "$WORK/v.err")"
sql "$DB" "BEGIN; UPDATE audit_leaves SET idx = -1 WHERE idx = 5; UPDATE audit_leaves SET idx = 5 WHERE idx = 6; UPDATE audit_leaves SET idx = 6 WHERE idx = -1; COMMIT;"
# delete the last rows -> missing entries named
sql "$DB" "DELETE FROM audit_leaves WHERE idx >= $((total - 3))"
"$BG" audit export --data-dir "$WORK/breakglass-data" --bundle "$WORK/off3" >/dev/null 2>&1 || true
set +e; "$BG" audit verify --bundle "$WORK/off3" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "entry $((total - 3)): missing: the checkpoint covers $total entries" "$WORK/v.err" \
  || fail "deleted rows: exit $rc: $(cat "$WORK/v.err")"
echo "audit ok ($n entries; witness copies: $(ls "$WORK/witness"/*.txt | wc -l); syslog lines: $slines)"
