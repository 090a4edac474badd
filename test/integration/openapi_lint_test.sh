#!/usr/bin/env bash
# The OpenAPI document the server serves passes @redocly/cli lint (installed from npm into a
# cache directory on first use).
source "$(dirname "$0")/lib.sh"
command -v npm >/dev/null || exit 77
CACHE=${BG_NPM_CACHE:-/tmp/bg-npm-tools}
if [ ! -x "$CACHE/node_modules/.bin/redocly" ]; then
  mkdir -p "$CACHE"
  (cd "$CACHE" && npm install --silent --no-audit --no-fund @redocly/cli@2 >/dev/null 2>&1) || { echo "npm install @redocly/cli failed: skipped"; exit 77; }
fi
bg_start_server
curl -sf --cacert "$BREAKGLASS_CACERT" "$BREAKGLASS_SERVER/v1/openapi.json" >"$WORK/openapi.json"
cmp -s "$WORK/openapi.json" "$(dirname "$0")/../../src/api/openapi.json" || fail "served document differs from the source"
cat >"$WORK/redocly.yaml" <<'YAML'
extends:
  - recommended
YAML
(cd "$WORK" && "$CACHE/node_modules/.bin/redocly" lint --config redocly.yaml openapi.json) || fail "redocly lint failed"
echo "openapi ok"
