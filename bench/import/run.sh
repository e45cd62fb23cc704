#!/bin/sh
# bench/import/run.sh: how long turning a spool into a finished trace takes,
# for one build or two side by side (e.g. before/after a change).
#   bench/import/run.sh BUILD [BUILD2] [EVENTS]    (EVENTS default 10000000)
# Per build it prints:
#   bench_import EVENTS   synthetic spool -> trace (lr_import, no symbols),
#                         total and the lr_agg_build part
#   bench_agg             lr_agg_build alone on a fresh copy of a synthetic
#                         trace (bench_report's inference-shaped one, built
#                         once by the first BUILD and stripped of its
#                         aggregates, so every build starts from the same file)
#   record malloc_heavy   `lowram record` of 2M malloc/free pairs (4M events)
#                         end to end, and `lowram import` of its kept spool
#   report                `lowram report` on the bench_report trace
#   e2e.sh                lowram beside heaptrack on malloc_heavy_nofp at 1M
#                         and 10M events: end to end (record + report vs
#                         heaptrack + heaptrack_print), the import alone
#                         (events/s, B/event, peak RSS), both files' sizes
# Times are wall clock, best of 3; the machine should be otherwise idle.
# same_output.sh checks that two builds import spools to identical traces.
set -eu
B1=${1:?usage: run.sh BUILD [BUILD2] [EVENTS]}
B2=${2:-}
case "$B2" in ''|*[!0-9]*) N=${3:-10000000} ;; *) N=$B2; B2= ;; esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lr-bench-import.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

best() { # best wall time of 3 runs of "$@" (a `rm -f` of $TMP/x.db first)
  b=
  for _ in 1 2 3; do
    rm -f "$TMP/x.db"
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
  done
  printf '%.2f' "$b"
}

# the shared input of bench_agg and report: built once
"$B1/bench/report/bench_report" "$N" "$TMP/rep.db" >/dev/null
"$B1/cli/lowram" sql "$TMP/rep.db" "DROP TABLE agg_info; DROP TABLE agg_checkpoints; DROP TABLE agg_timeline;
  DROP TABLE agg_phases; DROP TABLE agg_stacks; DROP TABLE agg_largest; DROP TABLE agg_maps;
  VACUUM; ANALYZE;"
# (ANALYZE: the planner statistics lowram's importer writes into every trace)
LOWRAM_SHIM=$B1/preload/liblowram.so "$B1/cli/lowram" record -o "$TMP/mh.db" --keep-spool \
  -- "$B1/bench/overhead/malloc_heavy" >/dev/null 2>&1

one() { # BUILD
  B=$1
  echo "== $B"
  "$B/tests/import/bench_import" "$N" "$TMP" | sed 's/^/  bench_import: /'
  for _ in 1 2 3; do "$B/bench/import/bench_agg" "$TMP/rep.db" "$TMP/agg.db"; done |
    sort -t: -k2 -n | head -1 | sed 's/^/  bench_agg: /'
  printf '  record malloc_heavy: %s s\n' "$(LOWRAM_SHIM=$B/preload/liblowram.so best \
    "$B/cli/lowram" record -o "$TMP/x.db" -- "$B/bench/overhead/malloc_heavy")"
  printf '  import malloc_heavy spool: %s s\n' "$(best "$B/cli/lowram" import \
    "$TMP/mh.db.spool" -o "$TMP/x.db")"
  printf '  report (%s events): %s s\n' "$N" "$(best "$B/cli/lowram" report "$TMP/agg.db")"
  rm -f "$TMP/agg.db"
  sh "$(dirname "$0")/e2e.sh" "$B" 1000000 10000000 | sed 's/^/  /'
}
one "$B1"
[ -z "$B2" ] || one "$B2"
