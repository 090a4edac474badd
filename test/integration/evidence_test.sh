#!/usr/bin/env bash
# Evidence reports (issue 15) end to end: 10,000 finished grants made through the service
# (evidence_gen, a fake clock, durable SQLite), `report evidence` over the data directory
# offline, `audit verify --report` with nothing but the report (its own key, a pinned key, a
# checkpoint trusted from before), Go's sumdb/note and sumdb/tlog checking the report's
# checkpoint and every proof; then tampering, each caught and named by its entry: a fact edited
# in grants.jsonl, a cited leaf changed in the report, a leaf changed in the SQLite file (the
# report refuses to be made from it; its bytes put into a report fail `audit verify --report`).
# Last, a report from a live server (the auditor's saved login) of a grant made over the API.
# EVIDENCE_GRANTS overrides the 10,000.
source "$(dirname "$0")/lib.sh"
for tool in sqlite3 jq python3 oathtool; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
GEN=${EVIDENCE_GEN:?EVIDENCE_GEN must point at the evidence_gen binary}
N=${EVIDENCE_GRANTS:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$WORK/gen/data

# ---- 10,000 finished grants ----
"$GEN" "$WORK/gen" "$N" 30 >"$WORK/gen.out" 2>"$WORK/gen.err" || fail "evidence_gen: $(tail -3 "$WORK/gen.err")"
made=$(grep '^{"data_dir"' "$WORK/gen.out")
[ "$(jq .grants <<<"$made")" -eq "$N" ] || fail "evidence_gen made: $made"
echo "made: $made"

# ---- the report ----
"$BG" report evidence --data-dir "$DATA" --since 90d --out "$WORK/r" --progress \
  >"$WORK/report.out" 2>"$WORK/report.err" || fail "report evidence: $(cat "$WORK/report.err")"
cat "$WORK/report.out"
grep -q "^evidence for $N grants " "$WORK/report.out" || fail "report output: $(cat "$WORK/report.out")"
grep -q "^reading \[" "$WORK/report.err" || fail "no progress lines: $(cat "$WORK/report.err")"
[ "$(stat -c %a "$WORK/r")" = 700 ] || fail "report directory mode $(stat -c %a "$WORK/r")"
for f in checkpoint.txt key.txt proofs.jsonl grants.jsonl grants.csv summary.json summary.md; do
  [ -f "$WORK/r/$f" ] || fail "no $f"
  [ "$(stat -c %a "$WORK/r/$f")" = 600 ] || fail "$f mode $(stat -c %a "$WORK/r/$f")"
done
ls "$WORK" | grep -q partial && fail "a partial directory was left behind"
[ "$(wc -l <"$WORK/r/grants.jsonl")" -eq "$N" ] || fail "grants.jsonl has $(wc -l <"$WORK/r/grants.jsonl") lines"
[ "$(wc -l <"$WORK/r/grants.csv")" -eq $((N + 1)) ] || fail "grants.csv lines"
jq -e --argjson n "$N" '.counts.grants == $n and .counts.cited_entries > 8 * $n' "$WORK/r/summary.json" >/dev/null \
  || fail "summary counts: $(jq -c .counts "$WORK/r/summary.json")"
# Every fact carries its index; the service opened a review for every grant as it ended; those
# the generator left open, and the inappropriate verdicts, are exceptions.
jq -e 'select(.requested.audit_index >= 0 and .granted.audit_index > .requested.audit_index
              and (.approvals | all(.audit_index >= 0 and .mfa != "")) and .ended.audit_index > 0)' \
  "$WORK/r/grants.jsonl" | jq -s -e --argjson n "$N" 'length == $n' >/dev/null || fail "a record lacks a fact"
[ "$(jq -s '[.[] | select(.review == null)] | length' "$WORK/r/grants.jsonl")" -eq 0 ] || fail "a grant without a review"
jq -e '.checks.reviewed.exceptions | map(.why) | any(test("^review rev_.* open")) and any(test("inappropriate"))' \
  "$WORK/r/summary.json" >/dev/null || fail "review exceptions: $(jq -c '.checks.reviewed.exceptions[:3]' "$WORK/r/summary.json")"
jq -e '[.controls[] | select(.framework == "PCI DSS 4.0" and .id == "8.2.2")] | length == 6 and all(.status == "met")' \
  "$WORK/r/summary.json" >/dev/null || fail "PCI DSS 8.2.2: $(jq -c '.controls' "$WORK/r/summary.json")"
for id in 'AC-2(2)' 'AU-9(3)' 'AU-10' '164.312(a)(2)(ii)'; do
  grep -qF "| $id |" "$WORK/r/summary.md" || fail "summary.md has no row for $id"
done
grep -q "found it inappropriate" "$WORK/r/summary.md" || fail "summary.md lists no exception"
# No secret in it: the generator's password, TOTP seeds and tokens are never in the log.
! grep -rqiE 'generator-password|totp_secret|PRIVATE\+KEY' "$WORK/r" || fail "a secret in the report"

# A non-empty --out is refused (exit 6), a missing data directory too (exit 2 or 5).
set +e; "$BG" report evidence --data-dir "$DATA" --out "$WORK/r" 2>/dev/null; rc=$?; set -e
[ $rc -eq 6 ] || fail "report into a non-empty directory: exit $rc, want 6"

# ---- verified offline ----
"$BG" audit verify --report "$WORK/r" --progress >"$WORK/v.out" 2>"$WORK/v.err" || fail "fresh report: $(cat "$WORK/v.err")"
cat "$WORK/v.out"
grep -q "^OK: evidence report .* verified .*: $N grants re-derived from" "$WORK/v.out" || fail "verify output"
grep -q "key in the report's own key.txt only" "$WORK/v.out" || fail "does not say the key is the report's own"
# The key pinned from elsewhere (a bundle exported from the data directory).
"$BG" audit export --data-dir "$DATA" --bundle "$WORK/b" >/dev/null
"$BG" --json audit verify --report "$WORK/r" --key "$WORK/b/key.txt" --save-checkpoint "$WORK/saved.txt" >"$WORK/v.json" \
  || fail "pinned key"
jq -e --argjson n "$N" '.ok and .grants == $n and .key == "pinned"' "$WORK/v.json" >/dev/null || fail "verify --json: $(cat "$WORK/v.json")"
grep -q "own key.txt only" <(jq -r .summary "$WORK/v.json") && fail "pinned, yet says the report's key only"
cmp -s "$WORK/saved.txt" "$WORK/r/checkpoint.txt" || fail "--save-checkpoint"
echo "other+8fb8c5e4+AdSLCN2HSZw7ZPp9PzrSWcqg8k0tELaVPsiHX0Y4xSnq" >"$WORK/other.key"
set +e; "$BG" audit verify --report "$WORK/r" --key "$WORK/other.key" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "a foreign pinned key: exit $rc, want 1"

# A checkpoint trusted from before: the report must carry the consistency proof from it.
early=$WORK/gen/early-checkpoint.txt
set +e; "$BG" audit verify --report "$WORK/r" --trusted-checkpoint "$early" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "no consistency proof from size" "$WORK/v.err" || fail "trusted, no proof: $rc $(cat "$WORK/v.err")"
"$BG" report evidence --data-dir "$DATA" --trusted-checkpoint "$early" --out "$WORK/rt" >/dev/null || fail "report --trusted-checkpoint"
"$BG" audit verify --report "$WORK/rt" --trusted-checkpoint "$early" --key "$WORK/b/key.txt" >"$WORK/v.out" \
  || fail "trusted checkpoint: $(cat "$WORK/v.out")"
grep -q "extends the trusted checkpoint of size $(sed -n 2p "$early")" "$WORK/v.out" || fail "trusted: $(cat "$WORK/v.out")"

# A window: the first ten minutes (the first batch of 500 grants).
first=$(head -1 "$WORK/r/grants.jsonl" | jq -r .requested.time)
until=$(date -u -d "$first + 10 minutes" +%Y-%m-%dT%H:%M:%SZ)
"$BG" report evidence --data-dir "$DATA" --since "$first" --until "$until" --out "$WORK/rw" >/dev/null
w=$(wc -l <"$WORK/rw/grants.jsonl")
[ "$w" -gt 0 ] && [ "$w" -lt "$N" ] || fail "window $first..$until: $w grants"
"$BG" audit verify --report "$WORK/rw" >/dev/null || fail "windowed report"

# ---- Go's sumdb/note and sumdb/tlog check the checkpoint and every proof ----
if command -v go >/dev/null; then
  (cd "$HERE/go/auditcheck" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$WORK/gocache \
     go build -o "$WORK/auditcheck" .) || fail "go build auditcheck"
  "$WORK/auditcheck" -report "$WORK/r" >"$WORK/go.out" 2>&1 || fail "Go rejects the report: $(cat "$WORK/go.out")"
  cat "$WORK/go.out"
else
  echo "note: go not installed, the Go check is skipped"
fi

# ---- tampering ----
# (1) One fact of one grant edited in grants.jsonl: the reason of the 6th grant.
cp -r "$WORK/r" "$WORK/t1"
k=$(sed -n 6p "$WORK/r/grants.jsonl" | jq .requested.audit_index)
python3 - "$WORK/t1/grants.jsonl" <<'EOF'
import json, sys
path = sys.argv[1]
lines = open(path).read().splitlines()
g = json.loads(lines[5]); g["requested"]["reason"] = "routine maintenance"
lines[5] = json.dumps(g, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
open(path, "w").write("\n".join(lines) + "\n")
EOF
set +e; "$BG" --json audit verify --report "$WORK/t1" >"$WORK/v.json" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "edited grants.jsonl: exit $rc, want 1: $(cat "$WORK/v.err")"
grep -q "entry $k: grants.jsonl line 6 .*requested.reason says \"routine maintenance\"" "$WORK/v.err" \
  || fail "edited fact not named: $(cat "$WORK/v.err")"
[ "$(jq .first_bad_index "$WORK/v.json")" = "$k" ] || fail "first_bad_index: $(cat "$WORK/v.json")"
echo "caught: $(cat "$WORK/v.err")"

# (2) A leaf changed in the SQLite file under the data directory: the report is refused, naming it.
cp -r "$WORK/gen" "$WORK/gen2"
sqlite3 "$WORK/gen2/data/breakglass.db" \
  "UPDATE audit_leaves SET leaf = CAST(replace(CAST(leaf AS TEXT), 'evidence generator grant 5\"', 'evidence generator grant 55\"') AS BLOB) WHERE idx = $k"
[ "$(sqlite3 "$WORK/gen2/data/breakglass.db" "SELECT instr(CAST(leaf AS TEXT), 'grant 55') > 0 FROM audit_leaves WHERE idx = $k")" = 1 ] \
  || fail "the leaf was not changed"
set +e; "$BG" report evidence --data-dir "$WORK/gen2/data" --out "$WORK/t2r" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "entry $k: the stored leaf does not match its stored hash" "$WORK/v.err" \
  || fail "report from a changed store: exit $rc: $(cat "$WORK/v.err")"
[ ! -e "$WORK/t2r" ] || fail "a report was written from a changed store"
# (3) The changed leaf put into the report (both the leaf and the fact it gives): caught.
cp -r "$WORK/r" "$WORK/t3"
leaf=$(sqlite3 "$WORK/gen2/data/breakglass.db" "SELECT hex(leaf) FROM audit_leaves WHERE idx = $k")
python3 - "$WORK/t3" "$k" "$leaf" <<'EOF'
import base64, json, sys
d, k, leaf = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
path = d + "/proofs.jsonl"
lines = open(path).read().splitlines()
for i, line in enumerate(lines):
    p = json.loads(line)
    if p["index"] == k:
        p["leaf"] = base64.b64encode(leaf).decode()
        lines[i] = json.dumps(p, separators=(",", ":"), sort_keys=True)
open(path, "w").write("\n".join(lines) + "\n")
path = d + "/grants.jsonl"
lines = open(path).read().splitlines()
g = json.loads(lines[5]); g["requested"]["reason"] = "evidence generator grant 55"
lines[5] = json.dumps(g, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
open(path, "w").write("\n".join(lines) + "\n")
EOF
set +e; "$BG" --json audit verify --report "$WORK/t3" >"$WORK/v.json" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "changed leaf in the report: exit $rc, want 1"
grep -q "entry $k: its leaf and inclusion proof do not lead to the signed root" "$WORK/v.err" \
  || fail "changed leaf not named: $(cat "$WORK/v.err")"
[ "$(jq .first_bad_index "$WORK/v.json")" = "$k" ] || fail "first_bad_index: $(cat "$WORK/v.json")"
echo "caught: $(cat "$WORK/v.err")"
if command -v go >/dev/null; then
  if "$WORK/auditcheck" -report "$WORK/t3" >/dev/null 2>&1; then fail "Go accepted the changed leaf"; fi
fi
# (4) A summary figure changed.
cp -r "$WORK/r" "$WORK/t4"
sed -i 's/"status": "exceptions"/"status": "met"/' "$WORK/t4/summary.json"
set +e; "$BG" audit verify --report "$WORK/t4" 2>"$WORK/v.err"; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "summary.json line" "$WORK/v.err" || fail "edited summary: $rc $(cat "$WORK/v.err")"
# A missing report is a usage error (2), not a failed verification.
set +e; "$BG" audit verify --report "$WORK/nope" 2>/dev/null; rc=$?; set -e
[ $rc -eq 2 ] || fail "missing report: exit $rc, want 2"
# ---- from a live server: one self-approved grant, revoked; the auditor's saved login ----
bg_start_server --checkpoint-interval 1s
login alice
id=$("$BG" request --resource prod-db --privilege read_only --duration 10m \
      --reason "read replica lag check" --ticket CHG-100 --json | jq -r .id)
wait_until 300 bash -c "\"$BG\" status $id --json | jq -e '.state == \"active\"'" || fail "grant not active"
"$BG" revoke "$id" --reason "done" >/dev/null
login sam
"$BG" report evidence --out "$WORK/live" >"$WORK/live.out" 2>&1 || fail "live report: $(cat "$WORK/live.out")"
jq -e --arg id "$id" '.request == $id and .ended.how == "revoked" and .requested.ticket == "CHG-100"' \
  "$WORK/live/grants.jsonl" >/dev/null || fail "live report: $(cat "$WORK/live/grants.jsonl")"
"$BG" audit verify --report "$WORK/live" >/dev/null || fail "live report does not verify"
echo "PASS evidence ($N grants)"
