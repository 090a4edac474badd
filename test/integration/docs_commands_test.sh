#!/usr/bin/env bash
# Runs the commands that README.md and docs/*.md show in ```sh blocks against the built binary,
# so the docs cannot drift from it. Driven by the docs: every ```sh block runs, in file order,
# in one scratch directory per file (a block may use the files an earlier block of its file
# made), with `breakglass` on PATH, a copy of examples/, and ./breakglass-data: a copy of the
# data directory of a demo server that ran and stopped (no server runs while the blocks do). Lines that are synopses, not
# commands ([--FLAG], FILE-style placeholders, `a|b` alternatives, `...`) are not run; the blocks
# in SKIP are not run at all, each for the reason given. A block fails the test when a command
# in it fails (bash -e, pipefail).
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$WORK/bin"
ln -s "$(cd "$(dirname "$BG")" && pwd)/$(basename "$BG")" "$WORK/bin/breakglass"
export PATH="$WORK/bin:$PATH"
unset BREAKGLASS_SERVER BREAKGLASS_TOKEN BREAKGLASS_CACERT

# file | the block's first command line starts with | why it is not run
SKIP=(
  "README.md|bash scripts/run.sh|installs packages and builds; CI runs scripts/test.sh itself"
  "README.md|export BREAKGLASS_SERVER=|the walkthrough needs the demo server and minutes of real time: walkthrough_test.sh runs it"
  "README.md|breakglass serve --config|starts a server from /etc and signals it"
  "README.md|breakglass audit export --format cef|talks to a running server"
  "docs/audit-format.md|cd test/integration/go/auditcheck|builds the Go verifier: audit_test.sh runs it"
)

python3 - "$ROOT" "$WORK/blocks" <<'PY'
import os, re, sys
root, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
files = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(root, "docs"))
                               if f.endswith(".md"))
n = 0
for f in files:
    lines = open(os.path.join(root, f), encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            n += 1
            with open(os.path.join(out, "%03d" % n), "w", encoding="utf-8") as b:
                b.write("%s\n%d\n%s\n" % (f, start + 1, "\n".join(body)))
        i += 1
PY

# A synopsis line: [--flag] or [WORD], an upper-case placeholder word, a|b alternatives, "...".
is_synopsis() {
  grep -qE '\[(-|[A-Z])|(^|[[:space:]])[A-Z][A-Z0-9_]*[A-Z](=?[[:space:]]|$)|[a-z]\|[a-z]|\.\.\.' <<<"$1"
}

# The data directory of the fixture: the demo server's, after it signed a checkpoint and stopped.
bg_start_server --checkpoint-interval 1s
wait_until 300 breakglass audit export --data-dir "$WORK/breakglass-data" --bundle "$WORK/probe-bundle" ||
  fail "the server signed no checkpoint"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=

fixture() {  # the scratch directory of one doc file
  local dir=$1
  mkdir -p "$dir"
  cp -r "$ROOT/examples" "$dir/examples"
  cp -r "$WORK/breakglass-data" "$dir/breakglass-data"
}

ran=0 skipped_blocks=0
declare -A used_skip
for b in "$WORK"/blocks/*; do
  file=$(sed -n 1p "$b"); line=$(sed -n 2p "$b")
  body=$(tail -n +3 "$b")
  first=$(grep -vE '^[[:space:]]*(#|$)' <<<"$body" | head -1)
  reason=
  for s in "${SKIP[@]}"; do
    IFS='|' read -r sf sp sr <<<"$s"
    if [ "$sf" = "$file" ] && [ "${first#"$sp"}" != "$first" ]; then reason=$sr; used_skip[$s]=1; fi
  done
  if [ -n "$reason" ]; then
    echo "skip - $file:$line: $reason"
    skipped_blocks=$((skipped_blocks + 1))
    continue
  fi
  dir="$WORK/run/${file//\//_}"
  [ -d "$dir" ] || fixture "$dir"
  # Join continued lines, then keep the commands and drop the synopses.
  script="$WORK/script.sh"; : >"$script"; commands=0 synopses=0
  while IFS= read -r cmd; do
    if grep -qE '^[[:space:]]*(#|$)' <<<"$cmd"; then continue; fi
    if is_synopsis "$cmd"; then synopses=$((synopses + 1)); continue; fi
    printf '%s\n' "$cmd" >>"$script"
    commands=$((commands + 1))
  done < <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' <<<"$body")
  [ "$commands" -gt 0 ] || { echo "skip - $file:$line: only synopses ($synopses)"; continue; }
  if ! (cd "$dir" && bash -euo pipefail "$script") >"$WORK/block.out" 2>&1; then
    echo "--- $file:$line, the block as run:" >&2; cat "$script" >&2
    echo "--- its output:" >&2; tail -30 "$WORK/block.out" >&2
    fail "a command shown in $file:$line failed"
  fi
  echo "ok - $file:$line ($commands commands, $synopses synopsis lines not run)"
  ran=$((ran + commands))
done
for s in "${SKIP[@]}"; do
  [ -n "${used_skip[$s]:-}" ] || fail "SKIP entry matches no \`\`\`sh block any more: $s"
done
[ "$ran" -ge 10 ] || fail "only $ran commands from the docs ran: did the \`\`\`sh blocks move?"
echo "docs commands ok: $ran commands run, $skipped_blocks blocks skipped"
