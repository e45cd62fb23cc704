#!/bin/sh
# run.sh: the shim's overhead beside heaptrack's, with and without frame
# pointers, in one run.
#
#   bench/overhead/run.sh [BUILD_DIR] [REPEATS]
#
# Each bench program is built twice (bench/overhead/meson.build): "no-fp"
# with -O2 -fomit-frame-pointer, what distributions ship and the headline,
# and "fp" with -fno-omit-frame-pointer. Each is run bare, under lowram
# (LD_PRELOAD, and `lowram record`) and under heaptrack, the four in turn,
# REPEATS times (default 5); each figure is the best of its runs, so a load
# spike on a shared machine hits all four alike. Measures:
#   in-process   main()'s own time, as the program prints it: wall, and CPU
#                (user + sys of its threads; steadier under load). What the
#                tracer costs the program while it runs. heaptrack's wall
#                includes waiting on its pipe, its CPU does not include its
#                interpreter (another process).
#   shim         the LD_PRELOAD run's wall time, start to exit (recording only)
#   end to end   the whole command's wall time: `lowram record` ("record":
#                recording plus the SQLite import), `heaptrack` (recording
#                plus its interpreter and compression; heaptrack_print not
#                included)
# Ratios are to the bare run. "vs ht" is lowram's added in-process time as
# a share of heaptrack's, wall/CPU (the target on the no-fp churn: <= 0.25).
# "ns/ev" is lowram's added in-process CPU time per recorded event (for the
# churn only: a few hundred events are lost in the noise). "hits" is the
# stack cache's hit rate (LOWRAM_STATS=1).
#
# Then, for the no-fp churn, the in-process CPU time of each unwinder
# setting: the default (stack cache, then checked frame-pointer walk, then
# libunwind), LOWRAM_STACK_CACHE=0, LOWRAM_UNWIND=libunwind-strict
# (unw_backtrace every event) and LOWRAM_UNWIND=fp (frame pointers only:
# fast but truncated stacks on this code).
set -eu
B=${1:-build}
R=${2:-5}
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

# once TAG CMD...: runs CMD once and folds "IN_WALL IN_CPU WALL" (seconds)
# into $TMP/TAG.best, keeping the least of each
once() {
  tag=$1
  shift
  s=$(date +%s%N)
  "$@" >"$TMP/out" 2>"$TMP/err" || { echo "run.sh: failed: $*" >&2; cat "$TMP/err" >&2; exit 1; }
  e=$(date +%s%N)
  rm -rf "$TMP"/run*
  awk -v s="$s" -v e="$e" -v f="$TMP/$tag.best" '
    BEGIN { w = 1e9; c = 1e9 } # a run that printed none (record may not pass them on)
    /^inproc_ns / { w = $2 / 1e9 } /^inproc_cpu_ns / { c = $2 / 1e9 }
    END { t = (e - s) / 1e9
      if ((getline line < f) > 0) { split(line, b, " ")
        if (b[1] < w) w = b[1]; if (b[2] < c) c = b[2]; if (b[3] < t) t = b[3] }
      close(f); printf "%.6f %.6f %.6f\n", w, c, t > f }' "$TMP/out"
}
best() { cat "$TMP/$1.best"; }
# ratio A B: "A/B" with two decimals below 2, else one
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) { print "-"; exit } r = a / b
    if (r < 2) printf "%.2fx", r; else printf "%.1fx", r }'
}
# share BARE LOWRAM HEAPTRACK: lowram's added time over heaptrack's
# ("-" when heaptrack adds under 5%: the share of noise is noise)
share() {
  awk -v b="$1" -v l="$2" -v h="$3" 'BEGIN { if (h > 1.05 * b) printf "%.2f", (l - b) / (h - b); else print "-" }'
}

printf '%-13s %-5s %8s | %-30s | %-22s | %-9s %6s %6s %s\n' "" "" "bare" \
  "lowram in-proc wall cpu  shim record" "heaptrack wall cpu e2e" "vs ht w/c" "ns/ev" "hits" \
  "bytes/event"
for spec in "malloc_heavy" "infer_shape 8"; do
  set -- $spec
  name=$1
  shift
  for build in no-fp fp; do
    P=$D/$name
    [ "$build" = no-fp ] && P=${P}_nofp
    rm -f "$TMP"/*.best
    i=0
    while [ "$i" -lt "$R" ]; do
      once bare "$P" "$@"
      once lu env LD_PRELOAD="$SHIM" LOWRAM_OUT="$TMP/run.db" "$P" "$@"
      once rec "$LOWRAM" record -o "$TMP/run.db" -- "$P" "$@"
      [ "$HT" = 1 ] && once ht heaptrack -o "$TMP/run-ht" "$P" "$@"
      i=$((i + 1))
    done
    [ "$HT" = 1 ] || echo "0 0 0" >"$TMP/ht.best"
    env LD_PRELOAD="$SHIM" LOWRAM_STATS=1 LOWRAM_OUT="$TMP/bpe.db" "$P" "$@" >/dev/null 2>"$TMP/stats"
    bpe=$("$DUMP" "$TMP/bpe.db.spool" | awk '/^bytes\/event/ { print $2 }')
    evs=$("$DUMP" "$TMP/bpe.db.spool" | awk '/^chunks/ { print $8 }')
    hits=$(awk '/stack cache/ { for (i = 1; i <= NF; i++) if ($i == "lookups,") l = $(i - 1);
                               else if ($i == "hits") h = $(i - 1) }
               END { if (l > 0) printf "%.1f%%", 100 * h / l; else print "-" }' "$TMP/stats")
    rm -f "$TMP/bpe.db.spool"
    set -- $(best bare) $(best lu) $(best rec) $(best ht)
    # $1-3 bare (in wall, in cpu, wall), $4-6 lowram, $7-9 record, $10-12 heaptrack
    if [ "$HT" = 1 ]; then
      hcols=$(printf '%6s %6s %6s' "$(ratio "${10}" "$1")" "$(ratio "${11}" "$2")" "$(ratio "${12}" "$3")")
      vs="$(share "$1" "$4" "${10}")/$(share "$2" "$5" "${11}")"
    else
      hcols=absent
      vs=-
    fi
    nsev=$(awk -v b="$2" -v l="$5" -v n="$evs" 'BEGIN { if (n >= 100000) printf "%.1f", (l - b) * 1e9 / n; else print "-" }')
    printf '%-13s %-5s %7.3fs | %13s %6s %5s %6s | %-22s | %-9s %6s %6s %s (%s events)\n' \
      "$name" "$build" "$1" "$(ratio "$4" "$1")" "$(ratio "$5" "$2")" "$(ratio "$6" "$3")" \
      "$(ratio "$9" "$3")" "$hcols" "$vs" "$nsev" "$hits" "$bpe" "$evs"
    set -- $spec
    shift
  done
done

echo
echo "malloc_heavy no-fp, in-process CPU by unwinder setting (best of $R, interleaved):"
P=$D/malloc_heavy_nofp
rm -f "$TMP"/*.best
i=0
while [ "$i" -lt "$R" ]; do
  once bare "$P"
  once s1 env LD_PRELOAD="$SHIM" LOWRAM_OUT="$TMP/run.db" LOWRAM_STACK_CACHE=1 "$P"
  once s2 env LD_PRELOAD="$SHIM" LOWRAM_OUT="$TMP/run.db" LOWRAM_STACK_CACHE=0 "$P"
  once s3 env LD_PRELOAD="$SHIM" LOWRAM_OUT="$TMP/run.db" LOWRAM_UNWIND=libunwind-strict "$P"
  once s4 env LD_PRELOAD="$SHIM" LOWRAM_OUT="$TMP/run.db" LOWRAM_UNWIND=fp "$P"
  i=$((i + 1))
done
bare_cpu=$(best bare | awk '{ print $2 }')
for k in "s1 LOWRAM_STACK_CACHE=1 (default)" "s2 LOWRAM_STACK_CACHE=0" \
         "s3 LOWRAM_UNWIND=libunwind-strict" "s4 LOWRAM_UNWIND=fp"; do
  set -- $k
  c=$(best "$1" | awk '{ print $2 }')
  shift
  printf '  %-36s %.3fs  %s of bare\n' "$*" "$c" "$(ratio "$c" "$bare_cpu")"
done
