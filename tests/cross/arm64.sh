#!/usr/bin/env bash
# tests/cross/arm64.sh HOST_BUILD_DIR: the phone path without a phone.
# Cross-builds liblowram.so (-Dunwind=fp: no libunwind needed on the device;
# its default unwinder reads the modules' own .eh_frame, unwind_eh.c, with
# the frame-pointer walk as fallback) and qrun for aarch64, runs qrun under qemu-user in plain
# LD_PRELOAD mode, then imports and reports the spool with the host's lowram,
# which names the arm64 frames from the arm64 binary. Asserts real numbers:
# the KV cache bytes equal 2 x layers x seq x kv_dim x batch x 4, and the
# tokens match the host's x86-64 run of the same model.
set -euo pipefail
host=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/lowram-arm64-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL arm64: $*"; exit 1; }
. "$src/tests/cross/common.sh"
cross_build

qrun_arm=$work/build/runner/qrun
run "$work/gen.log" "${q[@]}" "$qrun_arm" gen -o "$work/m.qrun" --dim 64 --layers 2 --heads 4 \
  --kv-heads 4 --hidden 128 --vocab 256 --max-seq 128 --quant q4 --seed 7 ||
  fail "qrun gen under qemu-aarch64 failed (output above)"
args=(run -m "$work/m.qrun" --seq-len 64 --prompt-len 8 --tokens 8 --batch 2)
"${q[@]}" -E LD_PRELOAD="$work/build/preload/liblowram.so" -E LOWRAM_OUT="$work/arm.db" \
  "$qrun_arm" "${args[@]}" >"$work/arm.out" 2>"$work/arm.err" || {
  cat "$work/arm.err"
  fail "qrun run under qemu-aarch64 with the shim failed (its errors above)"
}
"$host/runner/qrun" "${args[@]}" >"$work/host.out" 2>"$work/host.err" || {
  cat "$work/host.err"
  fail "the host's qrun run failed (its errors above)"
}
cmp -s "$work/arm.out" "$work/host.out" || fail "tokens differ between aarch64 and the host"

"$host/cli/lowram" report "$work/arm.db" >"$work/report.txt" 2>"$work/report.err" || {
  cat "$work/report.err"
  fail "lowram report of the aarch64 trace failed (its errors above)"
}
arch=$("$host/cli/lowram" sql "$work/arm.db" "SELECT value FROM meta WHERE key='arch'")
[ "$arch" = aarch64 ] || fail "meta.arch is '$arch'"
kv=$("$host/cli/lowram" sql "$work/arm.db" "SELECT sum(a.size) FROM allocations a JOIN stack_frames f
       ON f.stack_id = a.stack_id AND f.depth = 0 WHERE f.function = 'qr_alloc_kv_cache'")
want=$((2 * 2 * 64 * 64 * 2 * 4))
[ "$kv" = "$want" ] || fail "KV cache bytes $kv, want $want"
echo "ok arm64: qrun tokens match the host; KV cache $kv bytes named from the arm64 binary"
