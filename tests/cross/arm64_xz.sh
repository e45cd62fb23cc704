#!/usr/bin/env bash
# tests/cross/arm64_xz.sh HOST_BUILD_DIR: the device shim's eh unwinder
# (preload/unwind_eh.c: the modules' own .eh_frame CFI, the default of
# -Dunwind=fp builds) on aarch64 under qemu-user, on a real Debian arm64
# program nobody here wrote and on code built without frame pointers.
#   1. Cross-builds liblowram.so (-Dunwind=fp, pac-ret) and checks that it
#      needs nothing but libc, libdl, libm (readelf -d).
#   2. tests/unwind/chain.c for aarch64 at -O2 -fomit-frame-pointer with
#      pac-ret: the in-process walk counts every frame of chains of known
#      depth up to main; recorded with the shim, the host's import shows
#      the same whole chains, and LOWRAM_UNWIND=fp on the same binary loses
#      the callers.
#   3. Debian's arm64 xz and liblzma (apt-get download xz-utils:arm64
#      liblzma5:arm64, cached in HOST_BUILD_DIR/cross-debs, dpkg -x), run
#      with qemu-aarch64 -L compressing a generated file: the output is
#      right, and the stacks of the largest allocations name liblzma's
#      exported entry point (lzma_stream_encoder; lzma_code and
#      lzma_index_append for the index) and go on through xz to its
#      outermost frame. liblzma is stripped (.dynsym only), so its inner,
#      hidden functions stay module+offset.
# Missing packages or a failed download FAIL the test, naming what is missing.
set -euo pipefail
host=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/lowram-arm64xz-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL arm64_xz: $*"; exit 1; }
. "$src/tests/cross/common.sh"
need xz xz-utils
need dpkg-deb dpkg
lowram=$host/cli/lowram

# ---- 1. the device shim ----------------------------------------------------
cross_build
shim=$work/build/preload/liblowram.so
needed=$(readelf -d "$shim" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
for lib in $needed; do
  case $lib in libc.so.6|libdl.so.2|libm.so.6) ;; *) fail "the device shim needs $lib (NEEDED: $needed)";; esac
done
echo "device shim: $(stat -c %s "$shim") bytes, NEEDED: $needed"

# ---- 2. code without frame pointers ---------------------------------------
chain=$work/chain
run "$work/chain.log" aarch64-linux-gnu-gcc -std=c11 -D_GNU_SOURCE -O2 -fomit-frame-pointer \
  -mbranch-protection=pac-ret -rdynamic -I"$src/preload" "$src/tests/unwind/chain.c" \
  "$src/preload/unwind_eh.c" "$src/preload/unwind_eh_cfi.c" "$src/preload/unwind_fp.c" "$src/preload/unwind_libunwind.c" \
  -o "$chain" -pthread -ldl || fail "cannot build tests/unwind/chain.c for aarch64 (output above)"
run "$work/chain-check.log" "${q[@]}" "$chain" check ||
  fail "the eh walk in-process on aarch64 does not see every frame (output above)"
for u in default fp; do
  env=(-E LD_PRELOAD="$shim" -E LOWRAM_OUT="$work/chain-$u.db")
  [ $u = fp ] && env+=(-E LOWRAM_UNWIND=fp)
  run "$work/chain-$u.log" "${q[@]}" "${env[@]}" "$chain" alloc || fail "chain alloc under the shim ($u) failed"
done
# chain frames and whether main is reached in the stack of the malloc of SIZE
chain_frames() {
  "$lowram" sql "$1" "SELECT count(*) FROM stack_frames f WHERE f.function LIKE 'chain%' AND f.stack_id =
    (SELECT stack_id FROM allocations WHERE size = $2 ORDER BY alloc_seq LIMIT 1)"
}
has_main() {
  "$lowram" sql "$1" "SELECT count(*) FROM stack_frames f WHERE f.function = 'main' AND f.stack_id =
    (SELECT stack_id FROM allocations WHERE size = $2 ORDER BY alloc_seq LIMIT 1)"
}
for db in chain-default chain-fp; do # report imports the spool
  "$lowram" report "$work/$db.db" >/dev/null 2>"$work/$db.err" ||
    { cat "$work/$db.err"; fail "import of the $db trace failed"; }
done
for spec in "1003 14" "1005 19" "1007 12"; do
  set -- $spec
  n=$(chain_frames "$work/chain-default.db" "$1")
  [ "$n" -ge "$2" ] && [ "$(has_main "$work/chain-default.db" "$1")" = 1 ] ||
    fail "aarch64 no-fp chain (malloc $1): $n chain frames under the default (eh) unwinder, want $2 and main"
done
nfp=$(chain_frames "$work/chain-fp.db" 1003)
[ "$nfp" -lt 14 ] || fail "LOWRAM_UNWIND=fp saw $nfp chain frames in code without frame pointers"
echo "chain (aarch64, -fomit-frame-pointer, pac-ret): malloc at depth 13: eh $(chain_frames "$work/chain-default.db" 1003) chain frames + main, fp $nfp"

# ---- 3. Debian's arm64 xz -------------------------------------------------
debs=$host/cross-debs
mkdir -p "$debs"
if ! ls "$debs"/xz-utils_*_arm64.deb "$debs"/liblzma5_*_arm64.deb >/dev/null 2>&1; then
  (cd "$debs" && apt-get download xz-utils:arm64 liblzma5:arm64) >"$work/download.log" 2>&1 || {
    cat "$work/download.log"
    fail "cannot download xz-utils:arm64 and liblzma5:arm64 (needs Debian's mirror, \`dpkg --add-architecture arm64\` and \`apt-get update\`: ./run.sh deps does both)"
  }
fi
for d in "$debs"/xz-utils_*_arm64.deb "$debs"/liblzma5_*_arm64.deb; do
  dpkg-deb -x "$d" "$work/root" || fail "dpkg -x $d failed"
done
xzbin=$work/root/usr/bin/xz
libdir=$work/root/lib/aarch64-linux-gnu
[ -x "$xzbin" ] && [ -f "$libdir/liblzma.so.5" ] || fail "the packages hold no usr/bin/xz or lib/aarch64-linux-gnu/liblzma.so.5"
readelf -h "$xzbin" | grep -q AArch64 || fail "$xzbin is not aarch64"
# 2 MB of text that compresses (a word list in a fixed pseudo-random order)
awk 'BEGIN { s = 7; for (i = 0; i < 250000; i++) { s = (s * 1103515245 + 12345) % 2147483648;
  printf "%d lowram-%x\n", i, int(s / 65536) } }' >"$work/in.txt"
for u in default fp; do
  cp "$work/in.txt" "$work/in-$u.txt"
  env=(-E LD_LIBRARY_PATH="$libdir" -E LD_PRELOAD="$shim" -E LOWRAM_OUT="$work/xz-$u.db")
  [ $u = fp ] && env+=(-E LOWRAM_UNWIND=fp)
  run "$work/xz-$u.log" "${q[@]}" "${env[@]}" "$xzbin" -6 -T1 -k "$work/in-$u.txt" ||
    fail "xz under qemu-aarch64 with the shim ($u) failed (output above)"
  xz -dc "$work/in-$u.txt.xz" | cmp -s - "$work/in.txt" || fail "arm64 xz's output ($u) does not decompress to its input"
  "$lowram" report "$work/xz-$u.db" >"$work/xz-$u.report" 2>"$work/xz-$u.err" ||
    { cat "$work/xz-$u.err"; fail "lowram report of the arm64 xz trace ($u) failed"; }
done
db=$work/xz-default.db
# the stacks of the three largest allocations (the match finder's hash and
# the dictionary buffer, 90+ MiB at -6): liblzma's entry point, then xz, to
# xz's outermost frame
"$lowram" sql "$db" "SELECT a.size, (SELECT group_concat(x, ' ') FROM (SELECT coalesce(f.function,
    replace(f.module, rtrim(f.module, replace(f.module, '/', '')), '')) || '+' || printf('%x', f.rel_pc) AS x
    FROM stack_frames f WHERE f.stack_id = a.stack_id ORDER BY f.depth))
  FROM allocations a ORDER BY a.size DESC, a.alloc_seq LIMIT 6" >"$work/top.txt"
head -3 "$work/top.txt" | while IFS='|' read -r size stack; do
  case " $stack " in
    *" lzma_stream_encoder+"*) ;;
    *) cat "$work/top.txt"; fail "allocation of $size bytes: lzma_stream_encoder not in its stack";;
  esac
  first=${stack%% *}
  case $first in liblzma.so.5+*) ;; *) fail "allocation of $size bytes not made in liblzma: $stack";; esac
  last=${stack##* }
  case $last in xz+*) ;; *) fail "allocation of $size bytes: the stack ends in $last, not in xz's own outermost frame: $stack";; esac
  after=${stack#* lzma_stream_encoder+* }
  case $after in xz+*" "xz+*) ;; *) fail "allocation of $size bytes: fewer than two xz frames after lzma_stream_encoder: $stack";; esac
done
grep -q "[| ]lzma_index_append+[0-9a-f]* .* lzma_code+[0-9a-f]* xz+" "$work/top.txt" ||
  { cat "$work/top.txt"; fail "no stack lzma_index_append <- ... <- lzma_code <- xz among the largest allocations"; }
grep -q "lzma_stream_encoder" "$work/xz-default.report" || fail "lowram report does not name lzma_stream_encoder"
big=$("$lowram" sql "$db" "SELECT sum(size) FROM (SELECT size FROM allocations ORDER BY size DESC LIMIT 3)")
[ "$big" -gt 90000000 ] || fail "the three largest allocations total $big bytes, want > 90 MB (xz -6)"
depth_eh=$("$lowram" sql "$db" "SELECT count(*) FROM stack_frames WHERE stack_id = (SELECT stack_id FROM allocations ORDER BY size DESC LIMIT 1)")
depth_fp=$("$lowram" sql "$work/xz-fp.db" "SELECT count(*) FROM stack_frames WHERE stack_id = (SELECT stack_id FROM allocations ORDER BY size DESC LIMIT 1)")
echo "largest xz allocations (eh):"
head -3 "$work/top.txt" | sed 's/^/  /'
echo "ok arm64_xz: xz's largest allocation stack $depth_eh frames under eh (fp: $depth_fp: Debian's arm64 gcc keeps frame records); lzma_stream_encoder, lzma_code, lzma_index_append named"
