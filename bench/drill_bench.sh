#!/usr/bin/env bash
# The machine part of time to access (issue 15): N tier-1 drills, one after the other, on ssh_ca
# (a real sshd on 127.0.0.1) and on postgres_role (a real PostgreSQL on 127.0.0.1), humans
# excluded (tier 1 approves itself). Prints p50/p99/max of time_to_access_ms (the server's own
# figure: request to verified use) and of each part: the request's commit, the connector's grant
# (credential - request), the use (use - credential). Anchors, in the same run: N bare logins the
# drill's use makes by itself (ssh with a certificate running `true`; a libpq login running
# select 1 through psql), so the ratio says what breakglass adds to the login it proves.
# Usage: BG=build/breakglass bash bench/drill_bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
export BG=$(realpath "${BG:-build/breakglass}")
N=${1:-200}
HERE=$(pwd)/test/integration
PG="$HERE/connectors_pg_server.sh"
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
source "$HERE/connectors_lib.sh"
SSHD_PID=
trap 'if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null || true; fi
      bash "$PG" stop "$WORK/pg" || true; cleanup' EXIT

info=$(bash "$PG" start "$WORK/pg")
echo "CREATE ROLE app_read NOLOGIN;" | bash "$PG" psql "$WORK/pg"
jq -r .admin_password <<<"$info" >"$WORK/pg-admin.secret"; chmod 600 "$WORK/pg-admin.secret"
dsn=$(jq -r .dsn <<<"$info")
S=$WORK/sshd; mkdir -p "$S/principals" /run/sshd
echo canary >"$S/principals/root"
: >"$S/ca.pub"
start_sshd "UseDNS no"

conn_config <<TOML
[connectors.bastion-ssh]
kind = "ssh_ca"
[connectors.prod-pg]
kind = "postgres_role"
dsn = "$dsn"
password_file = "$WORK/pg-admin.secret"
TOML
conn_policy <<TOML
version = 1
[[resources]]
name = "bastion"
connector = "bastion-ssh"
privileges = ["ops"]
drill = { principal = "canary", user = "root", host = "127.0.0.1", port = $SPORT }
[[resources]]
name = "prod-db"
connector = "prod-pg"
privileges = ["app_read"]
drill = { database = "app" }
[[rules]]
resource = "bastion"
privileges = ["ops"]
requesters = ["admin"]
tier = 1
[[rules]]
resource = "prod-db"
privileges = ["app_read"]
requesters = ["admin"]
tier = 1
TOML
conn_user admin admin auditor requester
bg_start_server --config "$WORK/bg.toml"
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/ssh/ca" >"$S/ca.pub"
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/ssh/krl" -o "$S/krl"
conn_login admin
TOKEN=$(token)
get() { curl -sf --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $TOKEN" "$BREAKGLASS_SERVER$1"; }

# One drill, followed until it finished; appends its JSON to $2.
drill() {  # RESOURCE PRIVILEGE OUT
  local id d
  id=$(curl -sf --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $TOKEN" \
         -H 'Content-Type: application/json' -d "{\"resource\":\"$1\",\"privilege\":\"$2\"}" \
         "$BREAKGLASS_SERVER/v1/drills" | jq -r .id)
  for _ in $(seq 1 600); do
    d=$(get "/v1/drills/$id")
    [ "$(jq -r .state <<<"$d")" = running ] || break
    sleep 0.05
  done
  jq -c . <<<"$d" >>"$3"
}
stats() {  # FILE LABEL: p50/p99/max of time_to_access and of the parts
  python3 - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in rows if r["ok"]]
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]
def step(r, name): return next(s["ms"] for s in r["steps"] if s["name"] == name)
parts = {
  "time_to_access": [r["time_to_access_ms"] for r in ok],
  "request": [step(r, "request") for r in ok],
  "grant (credential - request)": [step(r, "credential") - step(r, "request") for r in ok],
  "use (use - credential)": [step(r, "use") - step(r, "credential") for r in ok],
}
print(f"{sys.argv[2]}: {len(ok)} of {len(rows)} drills ok")
for k, v in parts.items():
    print(f"  {k:<30} p50 {pct(v, .5):5d} ms  p99 {pct(v, .99):5d} ms  max {max(v):5d} ms")
PY
}
anchor() {  # LABEL CMD...: N runs of CMD, p50/p99 ms
  local label=$1; shift
  : >"$WORK/anchor.txt"
  for _ in $(seq 1 "$N"); do
    local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000)) >>"$WORK/anchor.txt"
  done
  python3 - "$WORK/anchor.txt" "$label" <<'PY'
import sys
v = sorted(int(l) for l in open(sys.argv[1]))
pct = lambda p: v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]
print(f"{sys.argv[2]}: p50 {pct(.5)} ms  p99 {pct(.99)} ms  max {v[-1]} ms")
PY
}

for i in $(seq 1 "$N"); do drill bastion ops "$WORK/ssh.jsonl"; done
stats "$WORK/ssh.jsonl" "ssh_ca drills"
for i in $(seq 1 "$N"); do drill prod-db app_read "$WORK/pg.jsonl"; done
stats "$WORK/pg.jsonl" "postgres_role drills"

# Anchors: the login alone, with a certificate from a grant of the same CA.
req=$("$BG" request --resource bastion --privilege ops --duration 1h --reason "drill bench anchor" \
        --ticket BENCH-1 --json | jq -r .id)
wait_until 100 bash -c "\"$BG\" status $req --json | jq -e '.state == \"active\"'"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/anchor"
out=$(curl -sf --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' \
        -d "{\"public_key\":\"$(cat "$WORK/anchor.pub")\"}" "$BREAKGLASS_SERVER/v1/requests/$req/ssh-cert")
jq -r .certificate <<<"$out" >"$WORK/anchor-cert.pub"
echo ops >>"$S/principals/root"
anchor "bare ssh login (certificate, true)" ssh -F /dev/null -i "$WORK/anchor" \
  -o CertificateFile="$WORK/anchor-cert.pub" -o IdentitiesOnly=yes -o IdentityAgent=none \
  -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o GSSAPIAuthentication=no -o LogLevel=ERROR -p "$SPORT" -l root -- 127.0.0.1 true
anchor "ssh-keygen -t ed25519 (the drill's fresh key)" bash -c \
  "rm -f '$WORK/k' '$WORK/k.pub'; ssh-keygen -q -t ed25519 -N '' -f '$WORK/k'"
anchor "bare libpq login (psql, select 1)" env PGPASSWORD="$(cat "$WORK/pg-admin.secret")" \
  psql -X -q -At -h 127.0.0.1 -p "$(jq -r .port <<<"$info")" -U bg_admin -d app -c 'select 1'
