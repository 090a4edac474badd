#!/usr/bin/env bash
# Issue 13.34: a checkpoint GET /v1/audit/checkpoint hands out is durable before it leaves the
# server, and `audit verify --trusted-checkpoint` checks a trusted checkpoint against the entries a
# bundle holds (a false tamper alarm after a crash otherwise). The server is killed with SIGKILL
# right after a checkpoint is fetched; the data directory is then exported and verified offline.
source "$(dirname "$0")/lib.sh"
for tool in jq oathtool python3 curl; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# A long interval: the checkpointer signs once at start, so only the API's checkpoints are newer.
bg_start_server --checkpoint-interval 1h
login alice
for t in CHG-101 CHG-102; do
  "$BG" request --resource prod-db --privilege read_only --duration 10m --reason "crash test $t" \
    --ticket "$t" >/dev/null
done
login sam  # auditor
cp_get() { curl -sf --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $(token)" "$BREAKGLASS_SERVER/v1/audit/checkpoint"; }
cp_get >"$WORK/older.txt" || fail "GET /v1/audit/checkpoint"
cp "$HOME/.config/breakglass/credentials.json" "$WORK/sam.json"
login carol  # the log grows (auth.login)
cp "$WORK/sam.json" "$HOME/.config/breakglass/credentials.json"
cp_get >"$WORK/trusted.txt" || fail "GET /v1/audit/checkpoint"
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
older=$(sed -n 2p "$WORK/older.txt"); trusted=$(sed -n 2p "$WORK/trusted.txt")
[ "$trusted" -gt "$older" ] || fail "the log did not grow between the two checkpoints ($older, $trusted)"

"$BG" audit export --data-dir "$WORK/breakglass-data" --bundle "$WORK/off" >/dev/null || fail "offline export"
saved=$(sed -n 2p "$WORK/off/checkpoint.txt")
[ "$saved" -ge "$trusted" ] || fail "the data directory kept a checkpoint of size $saved, older than the one handed out ($trusted)"
"$BG" audit verify --bundle "$WORK/off" --trusted-checkpoint "$WORK/trusted.txt" >"$WORK/v.out" 2>&1 \
  || fail "verify against the checkpoint fetched before the kill: $(cat "$WORK/v.out")"

# A bundle whose own checkpoint is older than the trusted one (as a server that did not save what
# it handed out leaves): its entries are checked against the trusted root, no false alarm ...
cp "$WORK/older.txt" "$WORK/off/checkpoint.txt"
"$BG" --json audit verify --bundle "$WORK/off" --trusted-checkpoint "$WORK/trusted.txt" >"$WORK/v.json" 2>"$WORK/v.err" \
  || fail "a trusted checkpoint newer than the bundle's: $(cat "$WORK/v.err")"
jq -e --argjson t "$trusted" --argjson o "$older" '.ok and .trusted_size == $t and .checkpoint_size == $o' \
  "$WORK/v.json" >/dev/null || fail "verify --json: $(cat "$WORK/v.json")"
# ... a changed entry the trusted checkpoint covers is still caught ...
cp -r "$WORK/off" "$WORK/changed"
python3 - "$WORK/changed/entries.jsonl" "$older" <<'PY'
import base64, json, sys
path, k = sys.argv[1], int(sys.argv[2])
lines = open(path).read().splitlines()
e = json.loads(lines[k]); e.pop("hash", None)
leaf = bytearray(base64.b64decode(e["leaf"])); i = leaf.index(b'"time":"') + 8; leaf[i + 3] ^= 1
e["leaf"] = base64.b64encode(bytes(leaf)).decode()
lines[k] = json.dumps(e, separators=(",", ":"))
open(path, "w").write("\n".join(lines) + "\n")
PY
set +e; "$BG" audit verify --bundle "$WORK/changed" --trusted-checkpoint "$WORK/trusted.txt" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "older checkpoint of size $trusted is not a prefix" "$WORK/v.err" \
  || fail "a changed entry under the trusted checkpoint: exit $rc: $(cat "$WORK/v.err")"
# ... and entries really missing are reported as a truncation, where it starts.
cp -r "$WORK/off" "$WORK/short"
head -n $((trusted - 1)) "$WORK/off/entries.jsonl" >"$WORK/short/entries.jsonl"
set +e; "$BG" --json audit verify --bundle "$WORK/short" --trusted-checkpoint "$WORK/trusted.txt" >"$WORK/v.json" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "entry $((trusted - 1)): missing: the trusted checkpoint covers $trusted entries" "$WORK/v.err" \
  && [ "$(jq -r .first_bad_index "$WORK/v.json")" = $((trusted - 1)) ] \
  || fail "a truncated bundle: exit $rc: $(cat "$WORK/v.err")"
echo "audit checkpoint crash ok (older $older, trusted $trusted, saved $saved)"
