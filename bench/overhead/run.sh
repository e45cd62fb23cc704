#!/bin/sh
# run.sh: the shim's overhead beside heaptrack's, with and without frame
# pointers, in one run.
#
#   bench/overhead/run.sh [BUILD_DIR] [REPEATS]
#
# Each bench program is built twice (bench/overhead/meson.build): "no-fp"
# with -O2 -fomit-frame-pointer, what distributions ship and the headline,
# and "fp" with -fno-omit-frame-pointer. Each is run bare, under lowram and
# under heaptrack. Two measures, best of REPEATS (default 3) each:
#   in-process   main()'s own time, which the program prints ("inproc_ns"):
#                what the tracer costs the program while it runs
#   end to end   the whole command's wall time: `lowram record` ("rec":
#                recording plus the SQLite import), `heaptrack` (recording
#                plus its interpreter and compression; heaptrack_print not
#                included)
#   shim         the LD_PRELOAD run's wall time (recording only, the spool)
# Ratios are to the bare run. "vs ht" is lowram's added in-process time as
# a share of heaptrack's (the target on the no-fp churn: <= 0.25).
# "ns/ev" is lowram's added in-process time per recorded event (for the
# churn only: a few hundred events are lost in the noise). "hits" is
# the stack cache's hit rate (LOWRAM_STATS=1). The machine may be shared:
# the best of several runs is the steadiest figure.
#
# Then, for the no-fp churn, the in-process time of each unwinder setting:
# the default (stack cache, then checked frame-pointer walk, then
# libunwind), LOWRAM_STACK_CACHE=0, LOWRAM_UNWIND=libunwind-strict
# (unw_backtrace every event) and LOWRAM_UNWIND=fp (frame pointers only:
# fast but truncated stacks on this code).
set -eu
B=${1:-build}
R=${2:-3}
D=$B/bench/overhead
for p in malloc_heavy malloc_heavy_nofp infer_shape infer_shape_nofp; do
  [ -x "$D/$p" ] || { echo "run.sh: build first: no $D/$p" >&2; exit 1; }
done
SHIM=$B/preload/liblowram.so
LOWRAM=$B/cli/lowram
[ -x "$LOWRAM" ] || LOWRAM=$B/analyzer/lowram
DUMP=$B/tests/recording/lrt_spool_dump
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lowram-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
HT=1
command -v heaptrack >/dev/null 2>&1 || HT=0

# best CMD...: runs CMD R times; prints "INPROC_S WALL_S" (each the best)
best() {
  bi=""
  bw=""
  i=0
  while [ "$i" -lt "$R" ]; do
    s=$(date +%s%N)
    "$@" >"$TMP/out" 2>"$TMP/err" || { echo "run.sh: failed: $*" >&2; cat "$TMP/err" >&2; exit 1; }
    e=$(date +%s%N)
    rm -rf "$TMP"/run*
    in=$(awk '/^inproc_ns / { v = $2 } END { printf "%.6f", v / 1e9 }' "$TMP/out")
    w=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.6f", (e - s) / 1e9 }')
    bi=$(awk -v b="$bi" -v t="$in" 'BEGIN { if (b == "" || t + 0 < b + 0) print t; else print b }')
    bw=$(awk -v b="$bw" -v t="$w" 'BEGIN { if (b == "" || t + 0 < b + 0) print t; else print b }')
    i=$((i + 1))
  done
  echo "$bi $bw"
}
# ratio A B: "A/B" with one decimal (or two below 2)
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) { print "-"; exit } r = a / b
    if (r < 2) printf "%.2fx", r; else printf "%.1fx", r }'
}

printf '%-13s %-6s %8s | %-27s | %-18s | %-5s %7s %6s %s\n' "" "" "bare" \
  "lowram  in-proc  shim  rec" "heaptrack in-proc  e2e" "vs ht" "ns/ev" "hits" "bytes/event"
for spec in "malloc_heavy" "infer_shape 8"; do
  set -- $spec
  name=$1
  shift
  for build in no-fp fp; do
    P=$D/$name
    [ "$build" = no-fp ] && P=${P}_nofp
    bare=$(best "$P" "$@")
    lu=$(best env LD_PRELOAD="$SHIM" LOWRAM_OUT="$TMP/run.db" "$P" "$@")
    rec=$(best "$LOWRAM" record -o "$TMP/run.db" -- "$P" "$@")
    if [ "$HT" = 1 ]; then
      ht=$(best heaptrack -o "$TMP/run-ht" "$P" "$@")
    else
      ht="0 0"
    fi
    env LD_PRELOAD="$SHIM" LOWRAM_STATS=1 LOWRAM_OUT="$TMP/bpe.db" "$P" "$@" >/dev/null 2>"$TMP/stats"
    bpe=$("$DUMP" "$TMP/bpe.db.spool" | awk '/^bytes\/event/ { print $2 }')
    evs=$("$DUMP" "$TMP/bpe.db.spool" | awk '/^chunks/ { print $8 }')
    hits=$(awk '/stack cache/ { for (i = 1; i <= NF; i++) if ($i == "lookups,") l = $(i - 1);
                               else if ($i == "hits") h = $(i - 1) }
               END { if (l > 0) printf "%.1f%%", 100 * h / l; else print "-" }' "$TMP/stats")
    rm -f "$TMP/bpe.db.spool"
    set -- $bare $lu $rec $ht
    # $1 bare in, $2 bare wall, $3 lowram in, $4 lowram wall, $5 record in,
    # $6 record wall, $7 heaptrack in, $8 heaptrack wall
    l_in=$(ratio "$3" "$1")
    l_shim=$(ratio "$4" "$2")
    l_e2e=$(ratio "$6" "$2")
    if [ "$HT" = 1 ]; then
      h_in=$(ratio "$7" "$1")
      h_e2e=$(ratio "$8" "$2")
      share=$(awk -v b="$1" -v l="$3" -v h="$7" 'BEGIN { if (h > b) printf "%.2f", (l - b) / (h - b); else print "-" }')
    else
      h_in=absent
      h_e2e=""
      share="-"
    fi
    # per event only where events dominate (a few hundred are lost in noise)
    nsev=$(awk -v b="$1" -v l="$3" -v n="$evs" 'BEGIN { if (n >= 100000) printf "%.1f", (l - b) * 1e9 / n; else print "-" }')
    printf '%-13s %-6s %7.3fs | %15s %5s %5s | %9s %8s | %5s %7s %6s %s (%s events)\n' \
      "$name" "$build" "$1" "$l_in" "$l_shim" "$l_e2e" "$h_in" "$h_e2e" "$share" "$nsev" "$hits" \
      "$bpe" "$evs"
    set -- $spec
    shift
  done
done

echo
echo "malloc_heavy no-fp, in-process, by unwinder setting (best of $R):"
P=$D/malloc_heavy_nofp
bare=$(best "$P")
for setting in "LOWRAM_STACK_CACHE=1" "LOWRAM_STACK_CACHE=0" "LOWRAM_UNWIND=libunwind-strict" "LOWRAM_UNWIND=fp"; do
  r=$(best env LD_PRELOAD="$SHIM" LOWRAM_OUT="$TMP/run.db" "$setting" "$P")
  set -- $bare $r
  printf '  %-32s %.3fs  %s of bare\n' "$setting" "$3" "$(ratio "$3" "$1")"
done
