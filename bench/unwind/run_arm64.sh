#!/usr/bin/env bash
# bench/unwind/run_arm64.sh: bench_unwind for aarch64 (no libunwind: eh and
# fp), cross-built with Debian's gcc-aarch64-linux-gnu and run under
# qemu-user. qemu translates the code: the figures are an emulator's, not a
# phone's, and say how eh compares with fp there. -cpu max emulates
# pointer authentication with the QARMA5 cipher (each paciasp/autiasp in a
# prologue/epilogue costs microseconds), pauth-impdef=on with a cheap one,
# and cortex-a72 has none (the instructions are no-ops).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d /tmp/lowram-bench-unwind-XXXXXX)
trap 'rm -rf "$out"' EXIT
aarch64-linux-gnu-gcc -std=c11 -D_GNU_SOURCE -O2 -fomit-frame-pointer -mbranch-protection=pac-ret \
  -I"$src/preload" "$src/bench/unwind/bench_unwind.c" "$src/preload/unwind_eh.c" \
  "$src/preload/unwind_fp.c" "$src/preload/unwind_libunwind.c" -o "$out/bench_unwind" -pthread -ldl
for cpu in max max,pauth-impdef=on cortex-a72; do
  echo "== qemu-aarch64 -cpu $cpu"
  qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$out/bench_unwind" "${1:-5000}"
done
