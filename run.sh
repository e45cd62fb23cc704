#!/usr/bin/env bash
# run.sh: the set-up and everyday entry points of lowram on Debian 12.
#
#   ./run.sh demo    install what is missing, build, profile the reference
#                    runner (qrun) and print the report
#   ./run.sh test    install what is missing, build from scratch with -Werror
#                    (gcc, then clang), run every test
#   ./run.sh bench   recorder overhead and qrun speed, printed side by side
#   ./run.sh deps    only install the Debian packages
#
# Installing needs root (it calls apt-get); as another user it uses sudo.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(gcc g++ clang meson ninja-build pkg-config
          libunwind-dev libsqlite3-dev libcunit1-dev libdw-dev libelf-dev libncurses-dev
          sqlite3 heaptrack valgrind time binutils gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)

log() { printf '==> %s\n' "$*" >&2; }

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# build DIR COMPILER [meson args...]: a fresh configure when DIR is new.
build() {
  local dir=$1 compiler=$2
  shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    CC=$compiler CXX=$([ "$compiler" = clang ] && echo clang++ || echo g++) \
      meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}

demo() {
  deps
  build build gcc
  mkdir -p out
  local model=out/demo-q8.qrun trace=out/demo.db
  [ -f "$model" ] || build/runner/qrun gen -o "$model" --dim 288 --layers 6 --heads 6 \
    --kv-heads 6 --hidden 768 --vocab 32000 --max-seq 512 --quant q8 --seed 1
  rm -f "$trace" "$trace.spool"
  log "profiling qrun (seq 512, batch 4, prompt 64, 32 tokens)"
  build/cli/lowram record -o "$trace" -- build/runner/qrun run -m "$model" \
    --seq-len 512 --batch 4 --prompt-len 64 --tokens 32 >/dev/null
  build/cli/lowram report "$trace"
}

test_all() {
  deps
  rm -rf build-test build-clang
  log "gcc build (-Werror)"
  build build-test gcc --werror
  log "clang build (-Werror)"
  build build-clang clang --werror
  log "tests"
  local rc=0
  meson test -C build-test --print-errorlogs --num-processes 2 --timeout-multiplier 3 \
    >build-test/test-output.txt 2>&1 || rc=$?
  cat build-test/test-output.txt
  # A plain closing line that any CI reader understands.
  local ok fail timeout
  ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' build-test/test-output.txt | tail -1)
  fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' build-test/test-output.txt | tail -1)
  timeout=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' build-test/test-output.txt | tail -1)
  echo "${ok:-0} passed, $(( ${fail:-0} + ${timeout:-0} )) failed"
  return $rc
}

bench() {
  deps
  build build gcc
  for s in bench/*/run.sh; do
    log "$s"
    bash "$s" build
  done
}

case "${1:-}" in
  demo) demo ;;
  test) test_all ;;
  bench) bench ;;
  deps) deps ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
