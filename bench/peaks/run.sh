#!/bin/sh
# run.sh: the peak each profiler reports for a program whose true peak is
# known by construction (peak_mix.c: weights in an anonymous mmap, a
# malloc'd KV cache, malloc'd per-step activations, an mmap'd scratch, and
# a 4 MiB file mapping that is in no one's peak).
#
#   bench/peaks/run.sh [BUILD_DIR]
#
# For each configuration, one row per tool:
#   true       `peak_mix --expect`: live heap + anon mmap, requested bytes
#   lowram     `lowram record`, then the report's peak (heap + anon)
#   heaptrack  heaptrack 1.4, "peak heap memory consumption" of heaptrack_print
#              (printed in 1000-based units, 3 digits; the exact bytes come
#              from its massif export when that agrees with the printed value).
#              It also counts a 72704 B block that libstdc++ allocates at
#              startup: heaptrack's preloaded library is C++, peak_mix is C.
#   massif     valgrind --tool=massif --peak-inaccuracy=0 --pages-as-heap=no:
#              mem_heap_B of the peak snapshot (+extra: allocator overhead)
#   massif-pages  the same with --pages-as-heap=yes: every mapped page,
#              code and the file mapping included (not a heap+anon peak)
#   RSS        context only: max RSS of a bare run (/usr/bin/time, KiB)
#              and lowram's highest RSS sample
# Tools that are not installed are listed as absent.
set -eu
B=${1:-build}
P=$B/bench/peaks/peak_mix
LOWRAM=$B/cli/lowram
[ -x "$P" ] || { echo "run.sh: build first: no $P" >&2; exit 1; }
[ -x "$LOWRAM" ] || { echo "run.sh: build first: no $LOWRAM" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lowram-peaks.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
head -c 4194304 /dev/zero >"$TMP/model.bin"

have() { command -v "$1" >/dev/null 2>&1; }

# row CONFIG TOOL BYTES TRUE NOTE
row() {
  awk -v c="$1" -v t="$2" -v b="$3" -v tr="$4" -v n="$5" 'BEGIN {
    if (b == "") { printf "%-9s %-14s %12s %11s %8s  %s\n", c, t, "-", "-", "-", n; exit }
    printf "%-9s %-14s %12d %7.2f MiB %7.1f%%  %s\n", c, t, b, b / 1048576, 100 * b / tr, n }'
}

# heaptrack_print's "7.42M" -> bytes (its units are powers of 1000)
si_bytes() {
  echo "$1" | awk '{ v = $1 + 0; u = substr($1, length($1)); m = 1
    if (u == "K") m = 1e3; else if (u == "M") m = 1e6; else if (u == "G") m = 1e9
    printf "%.0f\n", v * m }'
}

printf '%-9s %-14s %12s %11s %8s  %s\n' config tool "peak bytes" "peak" "of true" note
for cfg in "default" "small --weights 1310720 --kv 2097152 --act 1258291 --scratch 524288 --steps 4"; do
  set -- $cfg
  name=$1
  shift
  set -- "$@" --file "$TMP/model.bin"
  exp=$("$P" --expect "$@")
  truth=$(echo "$exp" | awk '{ print $1 }')
  theap=$(echo "$exp" | awk '{ print $2 }')
  tanon=$(echo "$exp" | awk '{ print $3 }')
  row "$name" true "$truth" "$truth" "heap $theap + anon mmap $tanon (file mapping not counted)"

  "$LOWRAM" record -o "$TMP/$name.db" -- "$P" "$@" >/dev/null 2>"$TMP/rec.err" ||
    { echo "run.sh: lowram record failed:" >&2; cat "$TMP/rec.err" >&2; exit 1; }
  "$LOWRAM" report "$TMP/$name.db" --json >"$TMP/$name.json"
  lpk=$(grep -o '"peak":{[^}]*}' "$TMP/$name.json" | sed 's/.*"live":\([0-9]*\).*/\1/')
  lheap=$(grep -o '"peak":{[^}]*}' "$TMP/$name.json" | sed 's/.*"heap":\([0-9]*\).*/\1/')
  lanon=$(grep -o '"peak":{[^}]*}' "$TMP/$name.json" | sed 's/.*"anon":\([0-9]*\).*/\1/')
  lrss=$(grep -o '"rss_max":[0-9]*' "$TMP/$name.json" | sed 's/.*://')
  row "$name" lowram "$lpk" "$truth" "heap $lheap + anon mmap $lanon"

  if ! have heaptrack || ! have heaptrack_print; then
    row "$name" heaptrack "" "$truth" "absent"
  elif ! heaptrack -o "$TMP/$name.ht" "$P" "$@" >/dev/null 2>&1; then
    row "$name" heaptrack "" "$truth" "heaptrack failed to run"
  else
    f=$(ls "$TMP/$name".ht.* | head -n 1)
    pr=$(heaptrack_print -f "$f" -M "$TMP/$name.htm" 2>/dev/null |
      sed -n 's/^peak heap memory consumption: *//p')
    approx=$(si_bytes "$pr")
    exact=$(awk -F= '/^mem_heap_B=/ { if ($2 + 0 > m) m = $2 + 0 } END { print m + 0 }' \
      "$TMP/$name.htm" 2>/dev/null || echo 0)
    # the export samples over time; trust its max only when it rounds to the print
    src=$(awk -v a="$approx" -v e="$exact" 'BEGIN { d = a - e; if (d < 0) d = -d
      print (e > 0 && d <= a * 0.005 + 5000) ? "exact" : "rounded" }')
    if [ "$src" = exact ]; then hb=$exact; else hb=$approx; fi
    row "$name" heaptrack "$hb" "$truth" "printed \"$pr\" ($src); heap $theap + $((hb - theap)) B; misses $((truth - hb)) B"
  fi

  if ! have valgrind; then
    row "$name" massif "" "$truth" "absent"
  elif ! valgrind --tool=massif --peak-inaccuracy=0 --pages-as-heap=no \
      --massif-out-file="$TMP/$name.ms" "$P" "$@" >/dev/null 2>&1; then
    # e.g. valgrind 3.19 cannot read clang 14's DWARF 5
    row "$name" massif "" "$truth" "valgrind failed to run peak_mix"
  else
    # the peak snapshot's mem_heap_B and mem_heap_extra_B precede "heap_tree=peak"
    mb=$(awk -F= '/^mem_heap_B=/ { h = $2 } /^mem_heap_extra_B=/ { x = $2 }
      /^heap_tree=peak/ { print h, x }' "$TMP/$name.ms")
    row "$name" massif "${mb% *}" "$truth" "+extra ${mb#* } B allocator overhead; misses $((truth - ${mb% *})) B"
    valgrind --tool=massif --peak-inaccuracy=0 --pages-as-heap=yes \
      --massif-out-file="$TMP/$name.msp" "$P" "$@" >/dev/null 2>&1
    mp=$(awk -F= '/^mem_heap_B=/ { h = $2 } /^heap_tree=peak/ { print h }' "$TMP/$name.msp")
    row "$name" massif-pages "$mp" "$truth" "all mapped pages: code, libraries, file mapping, valgrind's own"
  fi

  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o "$TMP/time" "$P" "$@" >/dev/null
    rk=$(tail -n 1 "$TMP/time")
    row "$name" "RSS(bare)" "$((rk * 1024))" "$truth" "max RSS of a bare run: touched pages incl. the 4 MiB file"
  fi
  [ -n "$lrss" ] && row "$name" "RSS(lowram)" "$lrss" "$truth" "lowram's highest RSS sample (10 ms interval)"
done
