#!/usr/bin/env bash
# tests/unwind/test_record.sh BUILD CHAIN: records `CHAIN alloc` (chain.c at
# -O2 -fomit-frame-pointer: malloc at the end of call chains of known depth,
# sizes 1001..1008, each chain twice) under LOWRAM_UNWIND=eh and under
# libunwind-strict, and asserts that every allocation's stack is the same in
# both traces (function and pc, frame for frame), that the chains are whole
# (their recursive frames counted, main reached) and that the fp walker, on
# the same program, loses the callers (what eh is for).
set -euo pipefail
build=$(cd "$1" && pwd)
chain=$2
lowram=${LOWRAM_BIN:-$build/cli/lowram}
work=$(mktemp -d /tmp/lowram-unwind-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL unwind_record: $*"; exit 1; }
command -v sqlite3 >/dev/null || fail "sqlite3 not found: install the Debian package sqlite3"

for u in eh libunwind-strict fp; do
  LOWRAM_UNWIND=$u "$lowram" record -o "$work/$u.db" -- "$chain" alloc \
    >"$work/$u.out" 2>"$work/$u.err" || { cat "$work/$u.err"; fail "record with LOWRAM_UNWIND=$u failed"; }
done

# one line per allocation of the chains: size, then function@rel_pc per frame
stacks() {
  "$lowram" sql "$1" "SELECT a.alloc_seq || ' ' || a.size || ' ' ||
      (SELECT group_concat(x, ' ') FROM (SELECT coalesce(f.function, '?') || '@' || f.rel_pc AS x
         FROM stack_frames f WHERE f.stack_id = a.stack_id ORDER BY f.depth))
    FROM allocations a WHERE a.size BETWEEN 1001 AND 1008 ORDER BY a.alloc_seq"
}
stacks "$work/eh.db" | cut -d' ' -f2- >"$work/eh.txt"
stacks "$work/libunwind-strict.db" | cut -d' ' -f2- >"$work/lu.txt"
stacks "$work/fp.db" | cut -d' ' -f2- >"$work/fp.txt"
[ "$(wc -l <"$work/eh.txt")" -eq 16 ] || { cat "$work/eh.txt"; fail "want 16 chain allocations under eh"; }
if ! cmp -s "$work/eh.txt" "$work/lu.txt"; then
  diff "$work/eh.txt" "$work/lu.txt" | head -20
  fail "stacks under LOWRAM_UNWIND=eh differ from libunwind-strict's"
fi
# whole chains: frames of the recursion, then main
count() { # SIZE FUNCTION-PREFIX: frames of that name in the first such allocation's stack
  grep -m1 "^$1 " "$2" | tr ' ' '\n' | grep -c "^$3" || true
}
for spec in "1002 8" "1003 13" "1005 18" "1008 61"; do
  set -- $spec
  n=$(count "$1" "$work/eh.txt" chain_)
  want=$(( $2 + 1 )) # the recursion's frames and chain_leaf
  [ "$1" = 1008 ] && want=62
  [ "$n" -ge "$want" ] || fail "size $1: $n chain frames under eh, want $want"
  [ "$1" = 1008 ] || grep -m1 "^$1 " "$work/eh.txt" | grep -q " main@" || fail "size $1: main not reached under eh"
done
# the fp walker on the same code cannot see the callers (no frame pointers)
nfp=$(count 1003 "$work/fp.txt" chain_)
[ "$nfp" -lt 14 ] || fail "fp walker found $nfp chain frames at -fomit-frame-pointer: the test program keeps frame pointers?"
# Debian's xz (x86-64 packages keep no frame pointers)
command -v xz >/dev/null || fail "xz not found: install the Debian package xz-utils"
awk 'BEGIN { s = 7; for (i = 0; i < 50000; i++) { s = (s * 1103515245 + 12345) % 2147483648;
  printf "%d lowram-%x\n", i, int(s / 65536) } }' >"$work/in.txt"
k=0
for u in eh libunwind-strict fp; do # input paths of one length: equal allocation sizes
  k=$((k + 1))
  mkdir "$work/r$k"
  cp "$work/in.txt" "$work/r$k/in.txt"
  LOWRAM_UNWIND=$u "$lowram" record -o "$work/xz-$u.db" -- xz -6 -T1 -k "$work/r$k/in.txt" \
    >"$work/xz-$u.out" 2>"$work/xz-$u.err" || { cat "$work/xz-$u.err"; fail "record of xz with LOWRAM_UNWIND=$u failed"; }
done
xzstacks() {
  "$lowram" sql "$1" "SELECT a.size || ' ' || coalesce((SELECT group_concat(x, ' ') FROM (SELECT
      coalesce(f.function, '?') || '@' || f.rel_pc AS x FROM stack_frames f
      WHERE f.stack_id = a.stack_id ORDER BY f.depth)), '')
    FROM allocations a ORDER BY a.alloc_seq"
}
xzstacks "$work/xz-eh.db" >"$work/xz-eh.txt"
xzstacks "$work/xz-libunwind-strict.db" >"$work/xz-lu.txt"
[ "$(wc -l <"$work/xz-eh.txt")" -gt 50 ] || fail "xz under eh: only $(wc -l <"$work/xz-eh.txt") allocations"
if ! cmp -s "$work/xz-eh.txt" "$work/xz-lu.txt"; then
  diff "$work/xz-eh.txt" "$work/xz-lu.txt" | head -20
  fail "xz's stacks under LOWRAM_UNWIND=eh differ from libunwind-strict's"
fi
big() { "$lowram" sql "$1" "SELECT group_concat(coalesce(f.function, '?'), ' ') FROM stack_frames f
  WHERE f.stack_id = (SELECT stack_id FROM allocations ORDER BY size DESC LIMIT 1)"; }
case " $(big "$work/xz-eh.db") " in
  *" lzma_stream_encoder "*" __libc_start_main "*) ;;
  *) fail "xz's largest allocation under eh: $(big "$work/xz-eh.db")";;
esac
nxfp=$("$lowram" sql "$work/xz-fp.db" "SELECT count(*) FROM stack_frames WHERE stack_id = (SELECT stack_id FROM allocations ORDER BY size DESC LIMIT 1)")
nxeh=$("$lowram" sql "$work/xz-eh.db" "SELECT count(*) FROM stack_frames WHERE stack_id = (SELECT stack_id FROM allocations ORDER BY size DESC LIMIT 1)")
[ "$nxfp" -lt "$nxeh" ] || fail "fp walker saw $nxfp frames of xz's largest allocation, eh $nxeh"
echo "ok unwind_record: xz: $(wc -l <"$work/xz-eh.txt") allocations, stacks equal to libunwind-strict's; largest: eh $nxeh frames, fp $nxfp"
echo "ok unwind_record: 16 chain stacks under eh equal libunwind-strict's (rec12: 14 chain frames + main; the fp walker: $nfp)"
