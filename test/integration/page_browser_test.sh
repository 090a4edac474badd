#!/usr/bin/env bash
# The web page in Debian's chromium (playwright-core from npm, installed from the committed lock
# file into a cache directory): test/browser/page_test.mjs against a real server on loopback
# with a policy of two approval groups, three accounts and a real (exec) connector; one approver
# uses a passkey on Chromium's virtual authenticator.
# Screenshots are kept in $BG_ARTIFACTS (default: build/test-artifacts/page).
source "$(dirname "$0")/connectors_lib.sh"
HERE=$(cd "$(dirname "$0")/../browser" && pwd)
for t in node npm jq oathtool; do command -v $t >/dev/null || { echo "SKIP: $t"; exit 77; }; done
[ -x /usr/bin/chromium ] || { echo "SKIP: /usr/bin/chromium"; exit 77; }
# npm ci into a cache keyed by the lock file, so repeated runs need no network.
CACHE=${BG_NPM_CACHE:-/tmp/bg-npm-browser}/$(sha256sum "$HERE/package-lock.json" | cut -c1-16)
if [ ! -d "$CACHE/node_modules/playwright-core" ] || [ ! -d "$CACHE/node_modules/axe-core" ]; then
  mkdir -p "$CACHE"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$CACHE/"
  (cd "$CACHE" && npm ci --no-audit --no-fund --silent) || fail "npm ci in $CACHE"
fi
cp "$HERE/page_test.mjs" "$CACHE/"
cat >"$WORK/grant.sh" <<'SH'
#!/bin/sh
cat >/dev/null
exit 0
SH
chmod +x "$WORK/grant.sh"
conn_config <<TOML
plain_http = true
[connectors.prod-pg]
kind = "exec"
grant = ["$WORK/grant.sh"]
revoke = ["$WORK/grant.sh"]
probe = ["$WORK/grant.sh"]
TOML
conn_policy <<'TOML'
version = 1
[settings]
timezone = "UTC"
reason_min_length = 10
ticket_pattern = '^(INC|CHG)-[0-9]{3,}$'
[groups]
sre = ["alice"]
[pools]
dbas = ["carol"]
managers = ["dave"]
[[resources]]
name = "prod-db"
connector = "prod-pg"
privileges = ["read_only", "dba"]
[[rules]]
resource = "prod-db"
privileges = ["read_only"]
requesters = ["group:sre"]
tier = 1
max_duration = "1h"
[[rules]]
resource = "prod-db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
approvals = [{pool = "dbas", count = 1}, {pool = "managers", count = 1}]
max_duration = "2h"
mfa_max_age = "0s"
TOML
conn_user alice requester
conn_user carol approver
conn_user dave approver
conn_user erin auditor
bg_start_server --config "$WORK/bg.toml"
# localhost, not 127.0.0.1: a WebAuthn RP ID is a host name (the server's default relying party
# for a loopback listener without public_url is http://localhost:PORT).
export BG_URL=http://localhost:$PORT BG_WORK=$WORK
export BG_ARTIFACTS=${BG_ARTIFACTS:-$(dirname "$BG")/test-artifacts/page}
rm -rf "$BG_ARTIFACTS" && mkdir -p "$BG_ARTIFACTS"  # this run's screenshots only
curl -sf "http://127.0.0.1:$PORT/" >/dev/null || fail "the page is not served"
(cd "$CACHE" && node page_test.mjs) || fail "browser checks failed (screenshots in $BG_ARTIFACTS)"
