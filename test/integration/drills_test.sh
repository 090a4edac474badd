#!/usr/bin/env bash
# Drills end to end (issue 15) against the real sshd and the real PostgreSQL the connector tests
# use, on 127.0.0.1: `breakglass drill run` on ssh_ca logs in with a certificate for the canary
# principal only (host key accepted on first use and reported; a pinned known_hosts with another
# key fails the drill, exit 8); on postgres_role it logs in to the drill database with a role
# that is a member of no role and runs select 1, and the role is gone afterwards; on exec the
# check runs with the drill as JSON and the grant program does not run; a tier-2 drill waits for
# a real approval; the report, the inventory and the audit log (verified) know every drill.
# Exit 77 only when OpenSSH or PostgreSQL is absent.
HERE=$(cd "$(dirname "$0")" && pwd)
PG="$HERE/connectors_pg_server.sh"
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
for t in ssh ssh-keygen "$SSHD" psql oathtool jq curl; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not found"; exit 77; }
done
bash "$PG" available || { echo "SKIP: PostgreSQL server binaries not installed"; exit 77; }
source "$HERE/connectors_lib.sh"
SSHD_PID=
trap 'if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null || true; fi
      bash "$PG" stop "$WORK/pg" || true; cleanup' EXIT

# --- PostgreSQL, sshd, the exec programs -------------------------------------------------------
info=$(bash "$PG" start "$WORK/pg") || fail "PostgreSQL did not start"
sql() { bash "$PG" psql "$WORK/pg"; }
sql <<'SQL' || fail "setup SQL"
CREATE ROLE app_read NOLOGIN;
ALTER SYSTEM SET log_statement = 'ddl';
SELECT pg_reload_conf();
SQL
jq -r .admin_password <<<"$info" >"$WORK/pg-admin.secret"; chmod 600 "$WORK/pg-admin.secret"
dsn=$(jq -r .dsn <<<"$info")

S=$WORK/sshd; mkdir -p "$S/principals" /run/sshd
echo canary >"$S/principals/root"  # the drill principal, and nothing else, logs in as root here
: >"$S/ca.pub"
start_sshd

cat >"$WORK/grant.sh" <<SH
#!/bin/sh
touch "$WORK/grant-ran"
SH
cat >"$WORK/check.sh" <<SH
#!/bin/sh
cat >"$WORK/check-input.json"
SH
chmod 700 "$WORK/grant.sh" "$WORK/check.sh"

conn_config <<TOML
[connectors.bastion-ssh]
kind = "ssh_ca"
force_command = "echo never-for-a-drill"
[connectors.prod-pg]
kind = "postgres_role"
dsn = "$dsn"
password_file = "$WORK/pg-admin.secret"
[connectors.app-exec]
kind = "exec"
grant = ["$WORK/grant.sh"]
revoke = ["$WORK/grant.sh"]
TOML
conn_policy <<TOML
version = 1
[settings]
timezone = "UTC"
reason_min_length = 20
ticket_pattern = '^INC-[0-9]+\$'
[groups]
ops = ["alice"]
[pools]
approvers = ["carol"]
[[resources]]
name = "bastion"
connector = "bastion-ssh"
owner = "alice"
privileges = ["breakglass-root", "root"]
drill = { principal = "canary", user = "root", host = "127.0.0.1", port = $SPORT }
[[resources]]
name = "bastion-pinned"
connector = "bastion-ssh"
privileges = ["breakglass-root"]
drill = { principal = "canary", user = "root", host = "127.0.0.1", port = $SPORT, known_hosts = "$WORK/wrong_known_hosts" }
[[resources]]
name = "prod-db"
connector = "prod-pg"
privileges = ["app_read"]
drill = { database = "app" }
[[resources]]
name = "app"
connector = "app-exec"
privileges = ["deploy"]
drill = { check = ["$WORK/check.sh"] }
[[rules]]
resource = "bastion"
privileges = ["breakglass-root"]
requesters = ["group:ops"]
tier = 1
[[rules]]
resource = "bastion"
privileges = ["root"]
requesters = ["group:ops"]
tier = 2
pool = "approvers"
approvals = 1
[[rules]]
resource = "bastion-pinned"
privileges = ["breakglass-root"]
requesters = ["group:ops"]
tier = 1
[[rules]]
resource = "prod-db"
privileges = ["app_read"]
requesters = ["group:ops"]
tier = 1
[[rules]]
resource = "app"
privileges = ["deploy"]
requesters = ["group:ops"]
tier = 1
TOML
conn_user admin admin auditor
conn_user alice requester
conn_user carol approver
bg_start_server --config "$WORK/bg.toml"
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/ssh/ca" >"$S/ca.pub" || fail "GET /v1/ssh/ca"
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/ssh/krl" -o "$S/krl" || fail "GET /v1/ssh/krl"
"$SSHD" -t -f "$S/sshd_config" || fail "sshd config"
# The pinned resource's known_hosts holds a key that is not the server's.
ssh-keygen -q -t ed25519 -N '' -f "$WORK/otherhost"
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1-2 "$WORK/otherhost.pub")" >"$WORK/wrong_known_hosts"

conn_login admin

# --- ssh_ca: a real login with the canary certificate -----------------------------------------
"$BG" drill run bastion --privilege breakglass-root --json >"$WORK/ssh.json" 2>"$WORK/ssh.err" ||
  fail "ssh drill: $(cat "$WORK/ssh.err") $(cat "$WORK/ssh.json")"
jq -e '.ok == true and .state == "ok" and (.time_to_access_ms | type) == "number"' "$WORK/ssh.json" >/dev/null ||
  fail "ssh drill report: $(cat "$WORK/ssh.json")"
jq -e '[.steps[].name] == ["request", "self-approval", "credential", "use", "revoke"]' \
  "$WORK/ssh.json" >/dev/null || fail "ssh drill steps: $(jq -c '[.steps[].name]' "$WORK/ssh.json")"
jq -e '.host_key | startswith("SHA256:")' "$WORK/ssh.json" >/dev/null ||
  fail "first-use host key not reported: $(jq -c .host_key "$WORK/ssh.json")"
host_fp=$(ssh-keygen -l -f "$S/hostkey.pub" | cut -d' ' -f2)
jq -e --arg fp "$host_fp" '.host_key | startswith($fp)' "$WORK/ssh.json" >/dev/null ||
  fail "reported host key $(jq -r .host_key "$WORK/ssh.json") is not sshd's $host_fp"
grep -q '^drill dr_[0-9]* of bastion started' "$WORK/ssh.err" || fail "no progress: $(cat "$WORK/ssh.err")"
grep -q '^  use ' "$WORK/ssh.err" || fail "no step on stderr: $(cat "$WORK/ssh.err")"
# sshd accepted a certificate (of the drill's request) for root.
req=$(jq -r .request_id "$WORK/ssh.json")
wait_until 50 grep -q "Accepted publickey for root.*ID breakglass:$req:" "$S/sshd.log" ||
  fail "sshd did not log the drill's login: $(tail -5 "$S/sshd.log")"
"$BG" status "$req" --json >"$WORK/req.json" || fail "status $req"
jq -e --arg d "$(jq -r .id "$WORK/ssh.json")" \
  '.state == "revoked" and .drill_id == $d and (.ticket | startswith("DRILL-")) and .duration == 60' \
  "$WORK/req.json" >/dev/null || fail "the drill's request: $(cat "$WORK/req.json")"
# Its certificate named the canary principal only, and it is in the log before it was used.
events() {  # TYPE -> one JSON event a line (admin is an auditor)
  "$BG" audit export --out "$WORK/ev.jsonl" >/dev/null || fail "audit export"
  jq -c --arg t "$1" '.event | select(.type == $t)' "$WORK/ev.jsonl"
}
events ssh.cert_issued >"$WORK/certs.jsonl"
jq -e -s --arg r "$req" 'map(select(.request == $r)) | length == 1' "$WORK/certs.jsonl" >/dev/null ||
  fail "the drill's certificate is not in the log: $(cat "$WORK/certs.jsonl")"
grep "$req" "$WORK/certs.jsonl" | grep -q canary || fail "the drill certificate's principals"
if grep "$req" "$WORK/certs.jsonl" | grep -q breakglass-root; then
  fail "the drill certificate carried the real principal"
fi
# Nobody can take the drill grant's certificate for themselves.
ssh-keygen -q -t ed25519 -N '' -f "$WORK/mine"
out=$(api POST "/v1/requests/$req/ssh-cert" "{\"public_key\":\"$(cat "$WORK/mine.pub")\"}")
[ "$(tail -1 <<<"$out")" = 403 ] || fail "ssh-cert for a drill grant: $out"

# --- ssh_ca with a pinned, wrong host key: the drill fails, exit 8 ----------------------------
set +e
"$BG" drill run bastion-pinned --privilege breakglass-root --json >"$WORK/pinned.json" 2>"$WORK/pinned.err"
rc=$?
set -e
[ "$rc" = 8 ] || fail "a failed drill exits $rc, not 8: $(cat "$WORK/pinned.err")"
jq -e '.ok == false and (.failure | test("^use: .*(Host key verification failed|REMOTE HOST IDENTIFICATION)"))' \
  "$WORK/pinned.json" >/dev/null || fail "pinned drill: $(cat "$WORK/pinned.json")"
jq -e '.steps[-1].name == "revoke" and .steps[-1].ok' "$WORK/pinned.json" >/dev/null ||
  fail "a failed drill still revokes: $(jq -c .steps "$WORK/pinned.json")"
grep -q '^breakglass: drill .* failed: use:' "$WORK/pinned.err" || fail "stderr: $(cat "$WORK/pinned.err")"

# --- postgres_role: select 1 in the drill database, with no role membership -------------------
"$BG" drill run prod-db --privilege app_read --json >"$WORK/pg.json" 2>"$WORK/pg.err" ||
  fail "pg drill: $(cat "$WORK/pg.err") $(cat "$WORK/pg.json")"
jq -e '.ok and (.steps[] | select(.name == "use") | .detail | test("select 1"))' "$WORK/pg.json" >/dev/null ||
  fail "pg drill: $(cat "$WORK/pg.json")"
events credential.taken >"$WORK/taken.jsonl"
grep -q "$(jq -r .request_id "$WORK/pg.json")" "$WORK/taken.jsonl" ||
  fail "the taken credential is not in the log: $(cat "$WORK/taken.jsonl")"
wait_until 100 bash -c "[ \"\$(echo \"SELECT count(*) FROM pg_roles WHERE rolname LIKE 'bg_admin_req%'\" |
  bash '$PG' psql '$WORK/pg')\" = 0 ]" || fail "the drill's login role was not dropped"

# While granted, the drill role was a member of no role: its CREATE ROLE named none.
grep 'CREATE ROLE' "$WORK/pg/server.log" | grep 'bg_admin_req' >"$WORK/create-role.log" ||
  fail "no CREATE ROLE of the drill logged"
if grep -q 'IN ROLE' "$WORK/create-role.log"; then fail "the drill role joined a role"; fi

# --- exec: the check runs, the grant program does not -----------------------------------------
"$BG" drill run app --privilege deploy --json >"$WORK/exec.json" 2>"$WORK/exec.err" ||
  fail "exec drill: $(cat "$WORK/exec.err")"
jq -e --arg d "$(jq -r .id "$WORK/exec.json")" '.action == "drill" and .drill_id == $d' \
  "$WORK/check-input.json" >/dev/null || fail "the check's input: $(cat "$WORK/check-input.json")"
[ ! -e "$WORK/grant-ran" ] || fail "the exec grant program ran for a drill"

# --- tier 2: the drill waits for carol's real approval ----------------------------------------
ADMIN_TOKEN=$(token)
out=$(api POST /v1/drills '{"resource":"bastion","privilege":"root"}')
[ "$(tail -1 <<<"$out")" = 202 ] || fail "POST /v1/drills: $out"
drill=$(head -1 <<<"$out" | jq -r .id)
drill_state() {
  curl -sf --cacert "$BREAKGLASS_CACERT" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$BREAKGLASS_SERVER/v1/drills/$drill"
}
wait_until 100 bash -c "$(declare -f drill_state); BREAKGLASS_CACERT='$BREAKGLASS_CACERT' \
  BREAKGLASS_SERVER='$BREAKGLASS_SERVER' ADMIN_TOKEN='$ADMIN_TOKEN' drill='$drill' drill_state |
  jq -e '.request_id != null'" >/dev/null || fail "the tier-2 drill made no request"
req2=$(drill_state | jq -r .request_id)
conn_login carol
"$BG" approve "$req2" --comment "drill approval" >/dev/null || fail "carol's approval"
wait_until 300 bash -c "$(declare -f drill_state); BREAKGLASS_CACERT='$BREAKGLASS_CACERT' \
  BREAKGLASS_SERVER='$BREAKGLASS_SERVER' ADMIN_TOKEN='$ADMIN_TOKEN' drill='$drill' drill_state |
  jq -e '.state != \"running\"'" >/dev/null || fail "the tier-2 drill did not finish"
drill_state >"$WORK/t2.json"
jq -e '.ok and .tier == 2 and ([.steps[].name] | index("approval 1 (carol)") != null)' "$WORK/t2.json" \
  >/dev/null || fail "tier-2 drill: $(cat "$WORK/t2.json")"

# --- the report, the inventory, the log -------------------------------------------------------
conn_login admin
"$BG" drill report --json >"$WORK/report.json" || fail "drill report"
jq -e '[.resources[] | select(.resource == "bastion" and .tier == 1)][0] |
       .drills == 1 and .failed == 0 and .time_to_access.count == 1 and .last_success != null' \
  "$WORK/report.json" >/dev/null || fail "report: $(cat "$WORK/report.json")"
jq -e '[.resources[] | select(.resource == "bastion-pinned")][0] | .failed == 1 and .last_success == null' \
  "$WORK/report.json" >/dev/null || fail "report of the failed drill: $(cat "$WORK/report.json")"
jq -e '[.resources[] | select(.resource == "bastion" and .tier == 2)][0].approvals[0].count == 1' \
  "$WORK/report.json" >/dev/null || fail "report of the approval: $(cat "$WORK/report.json")"
"$BG" drill report >"$WORK/report.txt" || fail "drill report (text)"
grep -q '^bastion tier 1: 1 drills, 0 failed' "$WORK/report.txt" || fail "report text: $(cat "$WORK/report.txt")"
"$BG" drill list >"$WORK/list.txt" || fail "drill list"
[ "$(grep -c '^dr_' "$WORK/list.txt")" = 5 ] || fail "drill list: $(cat "$WORK/list.txt")"
set +e
"$BG" inventory --json >"$WORK/inv.json"
set -e
jq -e '[.resources[] | select(.name == "bastion")][0].last_drill != null' "$WORK/inv.json" >/dev/null ||
  fail "inventory last_drill: $(cat "$WORK/inv.json")"
jq -e '[.resources[] | select(.name == "bastion-pinned")][0].last_drill == null' "$WORK/inv.json" >/dev/null ||
  fail "a failed drill is no successful drill"
# A requester may not run a drill of a resource they do not own... but alice owns bastion.
conn_login alice
"$BG" drill run bastion --privilege breakglass-root --json >/dev/null 2>"$WORK/alice.err" ||
  fail "the owner's drill: $(cat "$WORK/alice.err")"
set +e
"$BG" drill run prod-db --privilege app_read 2>"$WORK/alice2.err"
rc=$?
set -e
[ "$rc" = 4 ] || fail "a requester's drill of another resource exits $rc: $(cat "$WORK/alice2.err")"
conn_login admin
"$BG" audit verify >/dev/null 2>&1 || fail "audit verify"
echo "all drill checks passed"
