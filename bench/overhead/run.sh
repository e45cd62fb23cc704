#!/bin/sh
# run.sh: the shim's overhead, side by side, in one run.
#
#   bench/overhead/run.sh [BUILD_DIR] [REPEATS]
#
# For each bench program: the bare wall time, then the same program under
#   lowram (libunwind)  LD_PRELOAD=liblowram.so, default unwinder
#   lowram (fp)         LOWRAM_UNWIND=fp
#   lowram (strict)     LOWRAM_UNWIND=libunwind-strict (unw_backtrace every event)
#   record              `lowram record` end to end (recording + SQLite import)
#   heaptrack           Debian's heaptrack, end to end (if installed)
# as wall seconds (best of REPEATS, default 3: the machine is shared) and
# ratios to bare. The first three are what the profiled program itself
# pays; `record` and heaptrack include turning the data into their trace.
# Last column: the spool's payload bytes per event (tests' decoder).
set -eu
B=${1:-build}
R=${2:-3}
[ -x "$B/bench/overhead/malloc_heavy" ] || { echo "run.sh: build first: no $B/bench/overhead/malloc_heavy" >&2; exit 1; }
SHIM=$B/preload/liblowram.so
LOWRAM=$B/analyzer/lowram
DUMP=$B/tests/recording/lrt_spool_dump
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lowram-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

now() { date +%s.%N; }
# best wall time of R runs of "$@"; cleans $TMP between runs
best() {
  b=""
  i=0
  while [ "$i" -lt "$R" ]; do
    s=$(now)
    "$@" >/dev/null 2>&1 || { echo "run.sh: failed: $*" >&2; exit 1; }
    e=$(now)
    rm -rf "$TMP"/run*
    t=$(echo "$s $e" | awk '{printf "%.3f", $2 - $1}')
    b=$(awk -v b="$b" -v t="$t" 'BEGIN { if (b == "" || t + 0 < b + 0) print t; else print b }')
    i=$((i + 1))
  done
  echo "$b"
}
ratio() { echo "$1 $2" | awk '{ if ($1 > 0) printf "%.2fx", $2 / $1; else print "-" }'; }

printf '%-14s %8s  %-16s %-16s %-16s %-16s %-16s %s\n' program bare "lowram(libunw)" "lowram(fp)" \
  "lowram(strict)" "record(+import)" heaptrack "bytes/event"
for spec in "malloc_heavy" "infer_shape 4"; do
  set -- $spec
  P="$B/bench/overhead/$1"
  shift
  bare=$(best "$P" "$@")
  lu=$(best env LD_PRELOAD="$SHIM" LOWRAM_OUT="$TMP/run.db" "$P" "$@")
  fp=$(best env LD_PRELOAD="$SHIM" LOWRAM_UNWIND=fp LOWRAM_OUT="$TMP/run.db" "$P" "$@")
  st=$(best env LD_PRELOAD="$SHIM" LOWRAM_UNWIND=libunwind-strict LOWRAM_OUT="$TMP/run.db" "$P" "$@")
  rec=$(best "$LOWRAM" record -o "$TMP/run.db" -- "$P" "$@")
  if command -v heaptrack >/dev/null 2>&1; then
    ht=$(best heaptrack -o "$TMP/run-ht" "$P" "$@")
    htr=$(ratio "$bare" "$ht")
  else
    ht="-"
    htr="absent"
  fi
  env LD_PRELOAD="$SHIM" LOWRAM_OUT="$TMP/bpe.db" "$P" "$@" >/dev/null 2>&1
  bpe=$("$DUMP" "$TMP/bpe.db.spool" | awk '/^bytes\/event/ { print $2 }')
  evs=$("$DUMP" "$TMP/bpe.db.spool" | awk '/^chunks/ { print $8 }')
  rm -f "$TMP/bpe.db.spool"
  printf '%-14s %7ss  %-16s %-16s %-16s %-16s %-16s %s (%s events)\n' "$(basename "$P")" "$bare" \
    "${lu}s $(ratio "$bare" "$lu")" "${fp}s $(ratio "$bare" "$fp")" "${st}s $(ratio "$bare" "$st")" \
    "${rec}s $(ratio "$bare" "$rec")" "${ht}s $htr" "$bpe" "$evs"
done
