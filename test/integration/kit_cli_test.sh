#!/usr/bin/env bash
# End-to-end test of the `kit` commands of the breakglass CLI.
#   kit_cli_test.sh PATH/TO/breakglass
# Exits 77 (skipped) only when jq is missing; zbarimg, when present, also reads the QR codes.
set -euo pipefail
BIN=${1:?usage: kit_cli_test.sh PATH/TO/breakglass}
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
kit() { "$BIN" kit "$@"; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
failures=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; failures=$((failures + 1)); }
# expect_exit CODE NAME MESSAGE-SUBSTRING -- command...  (stderr checked for the substring)
expect_exit() {
  local want=$1 name=$2 needle=$3; shift 4
  local rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  if [ "$rc" -ne "$want" ]; then fail "$name: exit $rc, want $want ($(cat err.txt))"; return; fi
  if [ -n "$needle" ] && ! grep -qF -- "$needle" err.txt; then
    fail "$name: stderr lacks '$needle': $(cat err.txt)"; return
  fi
  if [ -n "$needle" ] && [ "$(wc -l <err.txt)" -ne 1 ]; then
    fail "$name: error is not one line: $(cat err.txt)"; return
  fi
  pass "$name"
}

# A binary secret with NUL bytes and a trailing newline must come back byte for byte.
head -c 61 /dev/urandom >secret.bin
printf '\0x\n' >>secret.bin
kit split --threshold 3 --shares 5 --label "e2e kit" --json <secret.bin >split.json
jq -e '.kit_id and (.shares | length == 5) and .manifest.threshold == 3' split.json >/dev/null \
  && pass "split --json has kit_id, 5 shares, manifest" || fail "split --json shape"
jq -r '.shares[]' split.json >shares.txt
jq '.manifest' split.json >manifest.json
KIT_ID=$(jq -r .kit_id split.json)

# split --json | take 3 | combine == secret, for every 3-subset of the 5 shares.
subsets_ok=1
for a in 1 2 3 4 5; do for b in $(seq $((a + 1)) 5); do for c in $(seq $((b + 1)) 5); do
  sed -n "${a}p;${b}p;${c}p" shares.txt | kit combine >restored.bin
  cmp -s secret.bin restored.bin || { subsets_ok=0; echo "subset $a $b $c differs"; }
done; done; done
[ "$subsets_ok" = 1 ] && pass "every 3 of 5 shares restore the exact bytes" || fail "subsets"

jq -r '.shares[]' split.json | head -3 | kit combine | cmp -s secret.bin - \
  && pass "split --json | take 3 | combine == secret" || fail "pipeline"
{ echo; sed -n 2p shares.txt; echo "   "; sed -n 4p shares.txt; echo; sed -n 5p shares.txt; } \
  | kit combine | cmp -s secret.bin - && pass "blank lines are ignored" || fail "blank lines"
sed -n '1,4p' shares.txt | kit combine --manifest manifest.json | cmp -s secret.bin - \
  && pass "four shares with --manifest" || fail "four shares with --manifest"
sed -n '1,3p' shares.txt | kit combine --hex | grep -qx "$(od -An -v -tx1 secret.bin | tr -d ' \n')" \
  && pass "combine --hex" || fail "combine --hex"

# check: every share passes; modified shares and other kits' shares fail with a reason.
check_ok=1
while read -r line; do
  kit check "$line" --manifest manifest.json >/dev/null || check_ok=0
  echo "$line" | kit check - --manifest manifest.json >/dev/null || check_ok=0
done <shares.txt
[ "$check_ok" = 1 ] && pass "check passes for each share (argument and stdin)" || fail "check"
SHARE2=$(sed -n 2p shares.txt)
# Substitute the 30th character by another alphabet character.
c=${SHARE2:29:1}; r=7; [ "$c" = 7 ] && r=8
TYPO="${SHARE2:0:29}${r}${SHARE2:30}"
expect_exit 2 "check refuses a typo and names the group" "typo in group 5" -- \
  kit check "$TYPO" --manifest manifest.json
printf 'other secret' | kit split -m 3 -n 5 --json >other.json
OTHER=$(jq -r '.shares[0]' other.json)
expect_exit 2 "check refuses another kit's share" "this share belongs to kit" -- \
  kit check "$OTHER" --manifest manifest.json
kit check "$(sed -n 3p shares.txt)" --manifest manifest.json --json >check.json
jq -e '.ok == true and .index == 3' check.json >/dev/null && pass "check --json" || fail "check --json"

# combine errors, each specific, one line, non-zero.
expect_exit 2 "too few shares" "too few shares: kit $KIT_ID needs 3, got 2" -- \
  bash -c "sed -n '1,2p' shares.txt | '$BIN' kit combine"
expect_exit 2 "mixed kits" "mixed kits" -- \
  bash -c "{ sed -n '1,2p' shares.txt; echo '$OTHER'; } | '$BIN' kit combine"
expect_exit 2 "duplicate indices" "duplicate share index 2" -- \
  bash -c "sed -n '1p;2p;2p' shares.txt | '$BIN' kit combine"
expect_exit 2 "corrupted share names line and group" "line 2: corrupted share: typo in group 5" -- \
  bash -c "{ sed -n 1p shares.txt; echo '$TYPO'; sed -n 3p shares.txt; } | '$BIN' kit combine"
expect_exit 2 "no shares" "no shares given" -- bash -c "printf '\n\n' | '$BIN' kit combine"
expect_exit 2 "not a share" "not a breakglass kit share" -- \
  bash -c "echo hello | '$BIN' kit combine"

# Usage errors.
expect_exit 2 "threshold above shares" "--shares must be between" -- \
  bash -c "printf x | '$BIN' kit split -m 4 -n 3"
expect_exit 2 "empty secret" "no secret on stdin" -- bash -c "'$BIN' kit split -m 2 -n 3 </dev/null"
"$BIN" kit combine --help | grep -q "Exit codes: 0 ok; 1 internal error" && pass "--help documents exit codes" \
  || fail "--help exit codes"

# --out-dir with --qr: files, modes, QR codes that read back as the share line.
kit split -m 2 -n 3 --generate --secret-out gen.bin --out-dir kitA --qr --label A >split.txt
[ -f kitA/manifest.json ] && [ -f kitA/share-3.txt ] && [ -f kitA/share-3.png ] \
  && pass "out-dir files written" || fail "out-dir files"
[ "$(stat -c %a kitA/share-1.txt)" = 600 ] && [ "$(stat -c %a kitA/share-1.png)" = 600 ] \
  && [ "$(stat -c %a gen.bin)" = 600 ] && pass "share files are mode 0600" || fail "modes"
[ "$(stat -c %s gen.bin)" = 32 ] && pass "--generate makes 32 bytes" || fail "generate size"
cat kitA/share-1.txt kitA/share-3.txt | kit combine --manifest kitA/manifest.json | cmp -s gen.bin - \
  && pass "combine from share files" || fail "combine from files"
kit combine kitA/share-2.txt kitA/share-3.txt | cmp -s gen.bin - \
  && pass "combine FILE FILE" || fail "combine FILE FILE"
expect_exit 6 "refuses to overwrite a kit" "cannot create" -- \
  bash -c "'$BIN' kit split -m 2 -n 3 --generate --out-dir kitA"
if command -v zbarimg >/dev/null; then
  zbarimg --raw -q kitA/share-1.png >qr1.txt 2>/dev/null
  zbarimg --raw -q kitA/share-2.png >qr2.txt 2>/dev/null
  grep -qix "$(cat kitA/share-1.txt)" qr1.txt && pass "QR code holds the share line" \
    || fail "QR content: $(cat qr1.txt)"
  cat qr1.txt qr2.txt | kit combine | cmp -s gen.bin - && pass "shares read from QR codes combine" \
    || fail "QR combine"
else
  echo "note - zbarimg absent: QR codes not decoded"
fi

# rotate: a new kit, the old manifest retired.
kit rotate --manifest kitA/manifest.json --out-dir kitB --generate --json >rotate.json
NEW_ID=$(jq -r .kit_id rotate.json)
OLD_ID=$(jq -r .kit_id kitA/manifest.json)
jq -e --arg new "$NEW_ID" '.retired_at and .replaced_by == $new' kitA/manifest.json >/dev/null \
  && pass "rotate marks the old manifest retired" || fail "rotate retire: $(cat kitA/manifest.json)"
jq -e '.manifest.threshold == 2 and .manifest.share_count == 3 and .manifest.label == "A"' \
  rotate.json >/dev/null && pass "rotate keeps threshold, count and label" || fail "rotate defaults"
[ "$NEW_ID" != "$OLD_ID" ] && kit check "$(cat kitB/share-1.txt)" --manifest kitB/manifest.json >/dev/null \
  && pass "new kit checks" || fail "new kit"
kit check "$(cat kitA/share-1.txt)" --manifest kitA/manifest.json | grep -q "retired" \
  && pass "check notes a retired kit" || fail "retired note"
expect_exit 2 "rotating a retired kit is refused" "was retired" -- \
  kit rotate --manifest kitA/manifest.json --out-dir kitC --generate

# Offline record: signed with a fresh key or a given one, verifiable, tamper-evident.
sed -n '1,3p' shares.txt | kit combine --manifest manifest.json --record rec1.json \
  --who alice --why "server down" --ticket INC-7 2>rec.err | cmp -s secret.bin - \
  && pass "combine --record still writes the secret" || fail "combine --record"
grep -q "signed by the fresh key" rec.err && pass "fresh record key is printed" || fail "fresh key"
jq -e '.who == "alice" and .share_indices == [1,2,3] and .kit_label == "e2e kit"' rec1.json \
  >/dev/null && pass "record holds who and shares" || fail "record contents"
kit verify-record rec1.json >/dev/null && pass "verify-record accepts it" || fail "verify-record"
jq '.why = "routine"' rec1.json >rec1-tampered.json
expect_exit 2 "verify-record refuses a tampered record" "signature does not verify" -- \
  kit verify-record rec1-tampered.json
head -c 32 /dev/urandom | base64 >signing.key
sed -n '3,5p' shares.txt | kit combine --record rec2.json --who bob --why drill \
  --signing-key signing.key >/dev/null 2>&1
PUB=$(jq -r .public_key rec2.json)
kit verify-record rec2.json --public-key "$PUB" >/dev/null && pass "record signed by a given key" \
  || fail "given key"
expect_exit 2 "verify-record with another key" "not the expected" -- \
  kit verify-record rec2.json --public-key "$(jq -r .public_key rec1.json)"
expect_exit 2 "--record needs --who and --why" "--record needs --who and --why" -- \
  bash -c "sed -n '1,3p' shares.txt | '$BIN' kit combine --record rec3.json"

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all kit CLI tests passed"
