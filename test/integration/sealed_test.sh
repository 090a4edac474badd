#!/usr/bin/env bash
# Sealed mode end to end: kit seal-master on a real server's data directory, serve --sealed
# (only /healthz and /v1/sys/unseal), refused shares leave it sealed, M shares unseal it over
# the API, then the demo login and a tier-1 grant work and the unseal submissions are in the
# audit log. Then kit reconcile of an offline record (idempotent), on a sealed data directory.
source "$(dirname "$0")/lib.sh"
DATA=$WORK/breakglass-data

# A fresh server creates its data (master key, audit keys, demo users); stop it.
bg_start_server
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
[ -f "$DATA/master.key" ] || fail "no master.key after a first start"

# Refusals first: bad threshold; a missing key.
set +e
"$BG" kit seal-master --threshold 4 --shares 3 --data-dir "$DATA" 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 2 ] || fail "threshold > shares: exit $rc"
[ -f "$DATA/master.key" ] || fail "a refused seal-master removed the key"
# Another offline writer holds the data directory: seal-master waits for nobody and changes
# nothing (exit 6, naming the holder).
echo "$$ user reset" >"$DATA/breakglass.lock"
exec 9<"$DATA/breakglass.lock"
flock -n 9 || fail "the test could not take the data directory's lock"
set +e
"$BG" kit seal-master --threshold 2 --shares 3 --data-dir "$DATA" --out-dir "$WORK/kit-locked" 2>"$WORK/err"; rc=$?
set -e
flock -u 9; exec 9<&-
[ $rc -eq 6 ] && grep -q "in use by .breakglass user reset" "$WORK/err" ||
  fail "seal-master beside another writer: exit $rc $(cat "$WORK/err")"
[ -f "$DATA/master.key" ] && [ ! -e "$DATA/master-kit.json" ] && [ ! -e "$WORK/kit-locked" ] ||
  fail "a seal-master refused for the lock changed something"

"$BG" kit seal-master --threshold 2 --shares 3 --data-dir "$DATA" --out-dir "$WORK/kit" >"$WORK/seal.out"
[ ! -e "$DATA/master.key" ] || fail "master.key still on disk after seal-master"
[ -f "$DATA/master-kit.json" ] || fail "no master-kit.json"
grep -q "master-kit.json" "$WORK/seal.out" || fail "manifest path not printed: $(cat "$WORK/seal.out")"
for i in 1 2 3; do [ "$(stat -c %a "$WORK/kit/share-$i.txt")" = 600 ] || fail "share-$i.txt not 0600"; done
kit_id=$(jq -r .kit_id "$DATA/master-kit.json")
"$BG" kit check - --manifest "$DATA/master-kit.json" <"$WORK/kit/share-2.txt" >/dev/null || fail "kit check of a master share"
set +e; "$BG" kit seal-master --threshold 2 --shares 3 --data-dir "$DATA" 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "already sealed" "$WORK/err" || fail "sealing twice: exit $rc $(cat "$WORK/err")"

# A share of another kit (same shape, different secret).
"$BG" kit split --threshold 2 --shares 3 --generate --json | jq -r '.shares[0]' >"$WORK/foreign.txt"

# serve --sealed
PORT=$(free_port)
(cd "$WORK" && exec "$BG" serve --sealed --listen 127.0.0.1:$PORT >"$WORK/serve.out" 2>"$WORK/serve.err") &
SERVER_PID=$!
export BREAKGLASS_SERVER=https://127.0.0.1:$PORT
export BREAKGLASS_CACERT=$DATA/tls.crt
wait_until 300 grep -q "breakglass sealed on" "$WORK/serve.out" || fail "sealed server did not start"
get() { curl -s --cacert "$BREAKGLASS_CACERT" -w '\n%{http_code}' "$BREAKGLASS_SERVER$1"; }
unseal_raw() { curl -s --cacert "$BREAKGLASS_CACERT" -X POST -H 'Content-Type: application/json' \
                 --data "$1" -w '\n%{http_code}' "$BREAKGLASS_SERVER/v1/sys/unseal"; }
r=$(get /healthz)
[ "$(head -1 <<<"$r" | jq -r .status)" = sealed ] || fail "healthz not sealed: $r"
[ "$(head -1 <<<"$r" | jq -r .threshold)" = 2 ] || fail "healthz threshold: $r"
[ "$(head -1 <<<"$r" | jq -r .shares_received)" = 0 ] || fail "healthz count: $r"
r=$(get /v1/requests)
[ "$(tail -1 <<<"$r")" = 503 ] || fail "/v1/requests while sealed: $r"

# wrong shares: a typo, another kit's share, junk JSON; each a 4xx naming "share", still sealed
typo=$(sed 's/\(.\{20\}\)./\1Q/' "$WORK/kit/share-1.txt")
[ "$typo" != "$(cat "$WORK/kit/share-1.txt")" ] || typo=$(sed 's/\(.\{20\}\)./\1R/' "$WORK/kit/share-1.txt")
r=$(unseal_raw "$(jq -cn --arg s "$typo" '{share:$s}')")
[ "$(tail -1 <<<"$r")" = 400 ] && [ "$(head -1 <<<"$r" | jq -r .error.field)" = share ] || fail "typo share: $r"
set +e; "$BG" unseal - <"$WORK/foreign.txt" 2>"$WORK/err"; rc=$?; set -e
[ $rc -eq 2 ] || fail "foreign share: exit $rc $(cat "$WORK/err")"
grep -q "share" "$WORK/err" && grep -q "$kit_id" "$WORK/err" || fail "foreign share error unclear: $(cat "$WORK/err")"
r=$(unseal_raw '{"share":"x","extra":1}')
[ "$(tail -1 <<<"$r")" = 400 ] && [ "$(head -1 <<<"$r" | jq -r .error.field)" = extra ] || fail "unknown field: $r"
[ "$(get /healthz | head -1 | jq -r .status)" = sealed ] || fail "unsealed by wrong shares"

# share 1 via the CLI, again (duplicate, 409), then share 3 unseals
"$BG" unseal --json - <"$WORK/kit/share-1.txt" >"$WORK/u1.json" || fail "share 1 refused"
[ "$(jq -r .status "$WORK/u1.json")" = sealed ] && [ "$(jq -r .shares_received "$WORK/u1.json")" = 1 ] || fail "after share 1: $(cat "$WORK/u1.json")"
r=$(unseal_raw "$(jq -cn --arg s "$(cat "$WORK/kit/share-1.txt")" '{share:$s}')")
[ "$(tail -1 <<<"$r")" = 409 ] && [ "$(head -1 <<<"$r" | jq -r .error.field)" = share ] || fail "duplicate share: $r"
[ "$(get /healthz | head -1 | jq -r .shares_received)" = 1 ] || fail "duplicate counted"
# While the last share goes in, a client keeps asking /healthz: the listening socket is handed
# from the sealed server to the normal one, so no attempt may be refused (curl exit 7).
(
  end=$((SECONDS + 60))
  while [ $SECONDS -lt $end ] && ! grep -q "breakglass listening on" "$WORK/serve.out"; do
    rc=0
    curl -s -o /dev/null --cacert "$BREAKGLASS_CACERT" --max-time 20 "$BREAKGLASS_SERVER/healthz" || rc=$?
    echo "$rc" >>"$WORK/probe.codes"
  done
) &
PROBE_PID=$!
"$BG" unseal "$(cat "$WORK/kit/share-3.txt")" >"$WORK/u3.txt" || fail "share 3 refused"
grep -q unsealed "$WORK/u3.txt" || fail "not unsealed: $(cat "$WORK/u3.txt")"

# the normal server takes over on the same port
wait_until 300 grep -q "breakglass listening on" "$WORK/serve.out" || fail "server did not open after unseal"
wait "$PROBE_PID" || true
[ -s "$WORK/probe.codes" ] || fail "the handover probe never ran"
if grep -qvx 0 "$WORK/probe.codes"; then
  fail "a client was refused or failed during the handover: curl exit codes $(sort | uniq -c <"$WORK/probe.codes" | tr '\n' ' ')"
fi
echo "ok - $(wc -l <"$WORK/probe.codes") health checks across the unseal handover, none refused"
r=$(get /healthz)
[ "$(tail -1 <<<"$r")" = 200 ] && [ "$(head -1 <<<"$r" | jq -r .status)" != sealed ] || fail "healthz after unseal: $r"
[ ! -e "$DATA/master.key" ] || fail "unsealing wrote master.key"
login alice
out=$("$BG" request --resource prod-db --privilege read_only --duration 10m \
      --reason "read replica lag check" --ticket CHG-100 --json)
id=$(jq -r .id <<<"$out")
wait_until 300 bash -c "\"$BG\" status $id --json | jq -e '.state == \"active\"'" || fail "tier 1 not active after unseal"

login sam
r=$(api GET "/v1/audit/entries?start=0")
[ "$(tail -1 <<<"$r")" = 200 ] || fail "audit entries: $r"
leaves=$(head -1 <<<"$r" | jq -r '.entries[].leaf' | while read -r l; do base64 -d <<<"$l"; echo; done)
n=$(grep -c '"type":"sys.unseal"' <<<"$leaves" || true)
[ "$n" -eq 5 ] || fail "want 5 sys.unseal events (typo, foreign, 1, duplicate, 3), got $n"
grep '"type":"sys.unseal"' <<<"$leaves" | grep -q '"outcome":"unsealed"' || fail "no unsealed outcome"
grep '"type":"sys.unseal"' <<<"$leaves" | grep '"outcome":"accepted"' | grep -q "\"kit_id\":\"$kit_id\"" || fail "accepted event lacks kit id"
grep '"type":"sys.unseal"' <<<"$leaves" | grep -q '"source":"127.0.0.1"' || fail "no source address"
for i in 1 2 3; do
  if grep -qF "$(cut -c10-40 "$WORK/kit/share-$i.txt")" <<<"$leaves"; then fail "share $i is in the audit log"; fi
done
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=

# ---- reconcile: an offline use of the kit, appended to the (sealed) data directory's log ----
cat "$WORK/kit/share-1.txt" "$WORK/kit/share-2.txt" |
  "$BG" kit combine --manifest "$DATA/master-kit.json" --record "$WORK/record.json" \
    --who carol --why "server down, needed the connector secrets" --ticket INC-77 >/dev/null 2>"$WORK/combine.err"
rec_id=$(jq -r .record_id "$WORK/record.json")
set +e; "$BG" kit reconcile "$WORK/record.json" --data-dir "$DATA" 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] && grep -q -- "--shares" "$WORK/err" || fail "reconcile on a sealed dir without shares: $rc $(cat "$WORK/err")"
cat "$WORK/kit/share-2.txt" "$WORK/kit/share-3.txt" >"$WORK/two.txt"
"$BG" kit reconcile "$WORK/record.json" --data-dir "$DATA" --shares "$WORK/two.txt" --json >"$WORK/rec.json" || fail "reconcile"
[ "$(jq -r .record_id "$WORK/rec.json")" = "$rec_id" ] || fail "reconcile output: $(cat "$WORK/rec.json")"
set +e; "$BG" kit reconcile "$WORK/record.json" --data-dir "$DATA" --shares "$WORK/two.txt" 2>"$WORK/err"; rc=$?; set -e
[ $rc -eq 6 ] && grep -q "already reconciled" "$WORK/err" || fail "second reconcile: exit $rc $(cat "$WORK/err")"
# A tampered record is refused.
jq '.why = "nothing to see"' "$WORK/record.json" >"$WORK/tampered.json"
set +e; "$BG" kit reconcile "$WORK/tampered.json" --data-dir "$DATA" --shares "$WORK/two.txt" 2>"$WORK/err"; rc=$?; set -e
[ $rc -ne 0 ] || fail "tampered record reconciled"
[ ! -e "$DATA/master.key" ] || fail "reconcile wrote master.key"

# the event is in the log: start sealed again, unseal, read it as the auditor
rm -f "$WORK/serve.out"
(cd "$WORK" && exec "$BG" serve --sealed --listen 127.0.0.1:$PORT >"$WORK/serve.out" 2>"$WORK/serve.err") &
SERVER_PID=$!
wait_until 300 grep -q "breakglass sealed on" "$WORK/serve.out" || fail "second sealed start"
"$BG" unseal - <"$WORK/kit/share-2.txt" >/dev/null
"$BG" unseal - <"$WORK/kit/share-1.txt" >/dev/null
wait_until 300 grep -q "breakglass listening on" "$WORK/serve.out" || fail "second unseal"
login sam
r=$(api GET "/v1/audit/entries?start=0")
leaves=$(head -1 <<<"$r" | jq -r '.entries[].leaf' | while read -r l; do base64 -d <<<"$l"; echo; done)
ev=$(grep '"type":"kit.offline_use"' <<<"$leaves" || true)
[ "$(wc -l <<<"$ev")" -eq 1 ] && [ -n "$ev" ] || fail "want one kit.offline_use event: $ev"
for want in "\"record_id\":\"$rec_id\"" '"needs_review":"true"' '"who":"carol"' '"ticket":"INC-77"' \
            "\"kit_id\":\"$kit_id\"" '"share_indices":"1,2"' '"record_sha256":"'; do
  grep -qF "$want" <<<"$ev" || fail "kit.offline_use lacks $want: $ev"
done
echo "sealed_test: ok"
