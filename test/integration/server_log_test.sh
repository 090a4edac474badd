#!/usr/bin/env bash
# Issue 13.10: every line the server writes to its log (stderr) is one JSON object of the same
# shape: "ts", "level", "event" first, then the event's fields; never a "msg" that is sometimes a
# string and sometimes an object, never a plain-text line (a failed policy reload wrote some).
# A server run at debug level: start, requests (refused ones too), a failed reload, a good one,
# a stop; then every line is parsed.
source "$(dirname "$0")/lib.sh"
for tool in jq python3 curl; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
EXAMPLES=$(cd "$(dirname "$0")/../../examples" && pwd)
cp "$EXAMPLES/policy.toml" "$WORK/policy.toml"
cat >"$WORK/breakglass.toml" <<CONF
data_dir = "$WORK/breakglass-data"
policy = "$WORK/policy.toml"
log_level = "debug"
[audit]
checkpoint_interval = "1s"
[connectors.prod-pg]
kind = "none"
[connectors.bastion-ssh]
kind = "none"
CONF
mkdir -p "$WORK/breakglass-data"
bg_start_server --config "$WORK/breakglass.toml"
curl -s -o /dev/null --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/healthz"
curl -s -o /dev/null --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/requests"  # 401
curl -s -o /dev/null --cacert "$BREAKGLASS_CACERT" -X POST -d '{"user":"x\"y","password":"p","totp":"1"}' \
  "$BREAKGLASS_SERVER/v1/auth/login"

# A reload that fails (a type error in the policy) and one that succeeds.
printf 'version = 1\n[settings]\nreason_min_length = "ten"\n' >"$WORK/policy.toml"
kill -HUP "$SERVER_PID"
wait_until 300 grep -q '"policy.reload_failed"' "$WORK/serve.err" || fail "no policy.reload_failed line"
cp "$EXAMPLES/policy.toml" "$WORK/policy.toml"
n=$(grep -c '"policy.loaded"' "$WORK/serve.err")
kill -HUP "$SERVER_PID"
wait_until 300 bash -c "[ \$(grep -c '\"policy.loaded\"' '$WORK/serve.err') -gt $n ]" || fail "no policy.loaded after the good reload"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=

python3 - "$WORK/serve.err" <<'PY' || fail "the server's log has lines of another shape"
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "the log does not end with a newline"
bad = 0
events = set()
for n, raw in enumerate(lines[:-1], 1):
    try:
        j = json.loads(raw)
        keys = list(j)
        assert isinstance(j, dict), "not an object"
        assert keys[:3] == ["ts", "level", "event"], "keys start %r" % keys[:3]
        assert isinstance(j["ts"], str) and j["ts"].endswith("Z"), "ts"
        assert j["level"] in ("trace", "debug", "info", "warning", "error", "critical"), "level"
        assert isinstance(j["event"], str) and j["event"], "event"
        assert "msg" not in j, "a msg key"
        events.add(j["event"])
    except Exception as e:  # noqa
        bad += 1
        print("line %d: %s: %r" % (n, e, raw[:200]), file=sys.stderr)
need = {"server.listening", "policy.reload_failed", "policy.loaded", "server.stopping", "http.request"}
missing = need - events
if missing:
    print("events missing from the log: %s (have %s)" % (sorted(missing), sorted(events)), file=sys.stderr)
print("%d lines, %d events" % (len(lines) - 1, len(events)))
sys.exit(1 if bad or missing else 0)
PY
# The failed reload says why, as a field.
jq -se '[.[] | select(.event == "policy.reload_failed")] | length == 1 and (.[0].error | test("reason_min_length"))' \
  "$WORK/serve.err" >/dev/null \
  || fail "policy.reload_failed does not carry the error: $(grep reload_failed "$WORK/serve.err")"
echo "server log ok ($(wc -l <"$WORK/serve.err") lines)"
