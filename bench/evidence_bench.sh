#!/usr/bin/env bash
# Report generation for N finished grants (issue 15). evidence_gen (test/integration/
# evidence_gen.cc, built with BG_BUILD_TESTS=ON) makes a data directory of N finished grants
# through the service; then, RUNS times on that same directory, alternating:
#   anchor:  breakglass audit export --data-dir D --bundle B   (reads every leaf with its stored
#            hash, as the report does, and writes every entry with its hash: one pass, no proofs)
#   figure:  breakglass report evidence --data-dir D --since 90d --out R
# and the same for the offline checks: `audit verify --bundle B` (anchor) and `audit verify
# --report R`. Prints wall seconds, CPU seconds (user + system), max RSS and the ratios
# figure/anchor of wall and of CPU time (on a shared machine the CPU ratio is the steadier
# one). Files are written to
# $WORK (a temporary directory, removed at the end unless KEEP_WORK=1).
# Usage: BG=build/breakglass GEN=build/test/evidence_gen bash bench/evidence_bench.sh [N] [RUNS]
# (EVIDENCE_DATA=DIR: measure on the data directory DIR/data that `evidence_gen DIR N` made
# before, and its one-line output in DIR.out if kept, instead of making a new one)
set -euo pipefail
cd "$(dirname "$0")/.."
BG=$(realpath "${BG:-build/breakglass}")
GEN=$(realpath "${GEN:-build/test/evidence_gen}")
N=${1:-100000}
RUNS=${2:-3}
WORK=$(mktemp -d /tmp/bg-evidence-bench.XXXXXX)
trap '[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"' EXIT
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs /usr/bin/time (Debian: time)"; exit 77; }

# Runs a command; prints "<wall s> <cpu s> <max RSS MiB>".
measure() {
  "$TIME" -f '%e %U %S %M' -o "$WORK/time.txt" "$@" >/dev/null 2>"$WORK/err.txt" ||
    { cat "$WORK/err.txt" >&2; exit 1; }
  awk '{printf "%s %.2f %.1f\n", $1, $2 + $3, $4 / 1024}' "$WORK/time.txt"
}
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?'), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${EVIDENCE_DATA:-}" ]; then  # a directory evidence_gen made before (DIR, not DIR/data)
  grep -h '^{"data_dir"' "$EVIDENCE_DATA.out" 2>/dev/null >"$WORK/gen.out" || echo '{"data_dir":"'"$EVIDENCE_DATA"'/data"}' >"$WORK/gen.out"
  D=$EVIDENCE_DATA/data
else
  "$GEN" "$WORK/gen" "$N" 60 >"$WORK/gen.out" 2>/dev/null
  D=$WORK/gen/data
fi
grep '^{"data_dir"' "$WORK/gen.out"
echo "run | load | export --bundle wall/cpu s (MiB) | report evidence wall/cpu s (MiB) | ratio wall/cpu | verify --bundle wall/cpu s (MiB) | verify --report wall/cpu s (MiB) | ratio wall/cpu"
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/b" "$WORK/r"
  load=$(cut -d' ' -f1 /proc/loadavg)
  read -r ew ec em < <(measure "$BG" audit export --data-dir "$D" --bundle "$WORK/b")
  read -r rw rc rm_ < <(measure "$BG" report evidence --data-dir "$D" --since 90d --out "$WORK/r")
  read -r vw vc vm < <(measure "$BG" audit verify --bundle "$WORK/b")
  read -r ww wc wm < <(measure "$BG" audit verify --report "$WORK/r")
  echo "$run | $load | $ew/$ec ($em) | $rw/$rc ($rm_) | $(ratio "$rw" "$ew")/$(ratio "$rc" "$ec") | $vw/$vc ($vm) | $ww/$wc ($wm) | $(ratio "$ww" "$vw")/$(ratio "$wc" "$vc")"
done
echo "log: $(sqlite3 "$D/breakglass.db" 'SELECT count(*) FROM audit_leaves' 2>/dev/null || echo '?') entries; report: $(jq .counts.grants "$WORK/r/summary.json") grants, $(jq .counts.cited_entries "$WORK/r/summary.json") cited entries; sizes: $(du -sh "$WORK/r" | cut -f1) report ($(du -h "$WORK/r/proofs.jsonl" | cut -f1) proofs.jsonl), $(du -sh "$WORK/b" | cut -f1) bundle"
