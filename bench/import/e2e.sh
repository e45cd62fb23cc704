#!/bin/sh
# bench/import/e2e.sh: lowram end to end beside heaptrack on the churn
# program built without frame pointers (bench/overhead/malloc_heavy_nofp,
# -O2 -fomit-frame-pointer: bench/overhead/meson.build).
#   bench/import/e2e.sh BUILD [EVENTS...]     (EVENTS default 1000000 10000000)
# For each size (malloc/free pairs = EVENTS / 2), best of 3 wall times of:
#   bare        the program alone
#   lowram      `lowram record` (recording + import) + `lowram report`
#               (end to end: until the report answers)
#   heaptrack   `heaptrack` (recording + compression) + `heaptrack_print`
# then `lowram import` of the kept spool on its own: events/s, its CPU
# seconds (user + sys: on a loaded machine wall time also counts the time
# other jobs held the CPU), trace bytes per event, and the import's peak RSS
# (GNU time's maximum resident set); and the two files' sizes. The machine
# should be otherwise idle.
set -eu
B=${1:?usage: e2e.sh BUILD [EVENTS...]}
shift
[ $# -gt 0 ] || set -- 1000000 10000000
P=$B/bench/overhead/malloc_heavy_nofp
L=$B/cli/lowram
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lr-bench-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
command -v heaptrack >/dev/null 2>&1 || { echo "e2e.sh: heaptrack not installed" >&2; exit 1; }

now() { date +%s.%N; }
# best3 CMD: the least wall time of 3 runs of the shell command CMD
best3() {
  b=
  for _ in 1 2 3; do
    rm -rf "$TMP"/r.*
    s=$(now); sh -c "$1" >/dev/null 2>&1 || { echo "e2e.sh: failed: $1" >&2; exit 1; }; e=$(now)
    t=$(echo "$e - $s" | bc)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
  done
  echo "$b"
}

printf '%-9s %7s | %-24s | %-24s | %-9s | %s\n' events bare "lowram rec+report = e2e" \
  "heaptrack +print = e2e" "lr/ht" "import alone: events/s  CPU s  B/event  trace MB (ht MB)  peak RSS"
for ev in "$@"; do
  n=$((ev / 2))
  bare=$(best3 "$P $n")
  rec=$(best3 "LOWRAM_SHIM=$B/preload/liblowram.so $L record -o $TMP/r.db -- $P $n")
  LOWRAM_SHIM=$B/preload/liblowram.so "$L" record -o "$TMP/k.db" --keep-spool -- "$P" "$n" \
    >/dev/null 2>&1
  rep=$(best3 "cp $TMP/k.db $TMP/r.db && $L report $TMP/r.db")
  cp=$(best3 "cp $TMP/k.db $TMP/r.db")
  ht=$(best3 "heaptrack -o $TMP/r.ht $P $n")
  heaptrack -o "$TMP/h.ht" "$P" "$n" >/dev/null 2>&1
  hf=$(ls "$TMP"/h.ht* | head -1)
  htp=$(best3 "heaptrack_print $hf")
  # the import alone, of the kept spool
  rm -f "$TMP/i.db"
  s=$(now)
  /usr/bin/time -f '%M %U %S' -o "$TMP/rss" "$L" import "$TMP/k.db.spool" -o "$TMP/i.db" \
    >"$TMP/imp" 2>&1
  e=$(now)
  evs=$(sed -n 's/.*: \([0-9]*\) events,.*/\1/p' "$TMP/imp" | head -1)
  tsz=$(stat -c %s "$TMP/i.db")
  hsz=$(stat -c %s "$hf")
  awk -v ev="$ev" -v bare="$bare" -v rec="$rec" -v rep="$rep" -v cp="$cp" -v ht="$ht" \
    -v htp="$htp" -v t="$(echo "$e - $s" | bc)" -v evs="$evs" -v tsz="$tsz" -v hsz="$hsz" \
    -v rss="$(cut -d' ' -f1 "$TMP/rss")" -v cpu="$(awk '{print $2 + $3}' "$TMP/rss")" 'BEGIN {
      r = rep - cp; if (r < 0) r = 0; le = rec + r; he = ht + htp
      printf "%-9d %6.2fs | %5.2f + %5.2f = %6.2fs | %5.2f + %5.2f = %6.2fs | %8.2fx | %9.2fM/s %6.2f %6.1f %8.1f (%5.1f) %6.0f MB\n",
        ev, bare, rec, r, le, ht, htp, he, le / he, evs / t / 1e6, cpu, tsz / evs, tsz / 1e6,
        hsz / 1e6, rss / 1024 }'
  rm -f "$TMP"/k.* "$TMP"/h.* "$TMP/i.db"
done
