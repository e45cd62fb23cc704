#!/usr/bin/env bash
# run.sh: the set-up and everyday entry points of lowram on Debian 12.
#
#   ./run.sh demo    install what is missing, build, profile the reference
#                    runner (qrun) and print the report
#   ./run.sh test    install what is missing, build from scratch with -Werror
#                    (gcc, clang, clang with ASan+UBSan), run every test, and
#                    the analyzer, runner and TUI tests again under ASan+UBSan
#   ./run.sh bench   recorder overhead and qrun speed, printed side by side
#   ./run.sh install PREFIX
#                    install what is missing, build (build/), then
#                    `meson install` lowram, liblowram.so, qrun, lowram.h and
#                    lowram.pc under PREFIX (e.g. /usr/local or ~/.local)
#   ./run.sh deps    only install the Debian packages
#   ./run.sh foreign [torch|llama|all]
#                    predictions on real programs (bench/foreign/foreign.sh):
#                    installs Debian's python3-torch and node-llama-cpp (npm,
#                    into ~/.cache/lowram-foreign), sweeps each twice, prints
#                    predicted vs measured peaks and the spread of the two
#                    sweeps (heavy: not in the tests)
#
# Installing packages needs root (it calls apt-get); as another user it uses
# sudo. Every package the build and the tests use is named below: apt-get runs
# with --no-install-recommends, so a Recommends is never counted on.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  # compilers; libc6-dev is only a Recommends of gcc
  gcc g++ libc6-dev clang
  # clang's libFuzzer and sanitizer runtimes (only a Recommends of clang):
  # without it the clang build leaves out the fuzzers (tests/fuzz)
  libclang-rt-dev
  # meson picks the Debian multiarch libdir (lib/x86_64-linux-gnu) through
  # dpkg-architecture; without dpkg-dev (a Recommends of meson) it uses lib/
  meson ninja-build pkg-config dpkg-dev
  libunwind-dev libsqlite3-dev libcunit1-dev libdw-dev libelf-dev
  # zlib: the trace's allocation blocks are deflated (lib/store/blockcodec.h);
  # libelf already links it, so it adds nothing to what lowram loads
  zlib1g-dev
  # ncurses with wide characters (libncursesw) for tui/; Debian 12 has no
  # separate libncursesw-dev
  libncurses-dev
  # the tests' tools: sqlite3 for SQL on traces, massif and heaptrack for the
  # cross-checks, readelf (binutils)
  sqlite3 heaptrack valgrind time binutils libc6-dbg
  # lowram suggest on programs nobody here wrote (tests/suggest/test_foreign.c);
  # tesseract-ocr Depends on its English data
  python3-numpy tesseract-ocr tesseract-ocr-eng
  # the arm64 test: cross compiler, its libc (only a Recommends), qemu-aarch64
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  # adb: the phone path over USB (tests/adb); tmux: driving tui/ in tests
  adb tmux chromium
  # the torture suite records real programs nobody here wrote (tests/torture)
  python3 git nodejs perl xz-utils
)

log() { printf '==> %s\n' "$*" >&2; }

deps() {
  local missing=()
  # tests/cross/arm64_xz.sh downloads Debian's arm64 xz-utils and liblzma5:
  # the arm64 architecture added once, its package lists fetched once
  if ! dpkg --print-foreign-architectures | grep -qx arm64 ||
     ! apt-cache show liblzma5:arm64 >/dev/null 2>&1; then
    log "adding the arm64 architecture (for tests/cross/arm64_xz.sh)"
    $([ "$(id -u)" -eq 0 ] || echo sudo) dpkg --add-architecture arm64
    $([ "$(id -u)" -eq 0 ] || echo sudo) apt-get update -qq
  fi
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

# quiet CMD...: runs CMD with its output kept in a temp file, printed only
# when CMD fails (meson's or the compiler's own error, not just "failed").
quiet() {
  local out rc=0
  out=$(mktemp)
  "$@" >"$out" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    cat "$out" >&2
    log "failed (exit $rc): $*"
  fi
  rm -f "$out"
  return $rc
}

# build DIR COMPILER [meson args...]: a fresh configure when DIR is new.
build() {
  local dir=$1 compiler=$2
  shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    CC=$compiler CXX=$([ "$compiler" = clang ] && echo clang++ || echo g++) \
      quiet meson setup "$dir" "$@" || {
        [ -f "$dir/meson-logs/meson-log.txt" ] && tail -n 30 "$dir/meson-logs/meson-log.txt" >&2
        return 1
      }
  fi
  quiet ninja -C "$dir"
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

# Suites run again in build-asan: everything that exercises the analysis
# library, the CLI, the runner and the TUI model. Left out: recording (the
# shim's own tests: its test programs would be ASan-instrumented, and ASan's
# malloc in a program comes before the preloaded shim, so nothing would be
# recorded), peaks (peak_mix and its RSS figures to the byte, massif and
# heaptrack on it), torture, adb and unwind (the shim recording real,
# hostile and no-frame-pointer programs: the gcc run covers them), cross and
# install (cross builds and `meson install`: no code of ours runs
# differently). The tsan suite only
# exists in builds without -Db_sanitize (it runs in build-test).
ASAN_SUITES=(import report runner suggest tui html fuzz)
# suite/name of tests of those suites left out of the ASan pass, for time:
# suggest/foreign sweeps numpy and tesseract under the shim (3 min in
# build-test, 4-5 under ASan); the sweep and suggest code it reaches is run
# under ASan by suggest's proof, shapes, sweep and model tests.
ASAN_SKIP=(suggest/foreign)

# count_line FILE...: "N passed, N failed" over meson test outputs.
count_line() {
  local f ok=0 fail=0 v
  for f in "$@"; do
    v=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$f" | tail -1); ok=$((ok + ${v:-0}))
    v=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$f" | tail -1); fail=$((fail + ${v:-0}))
    v=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$f" | tail -1); fail=$((fail + ${v:-0}))
  done
  echo "$ok passed, $fail failed"
}

test_all() {
  deps
  rm -rf build-test build-clang build-asan
  log "gcc build (-Werror)"
  build build-test gcc --werror
  log "clang build (-Werror)"
  build build-clang clang --werror
  # clang: its ASan runtime is linked into each executable, so an
  # instrumented lowram still runs with the shim in LD_PRELOAD (gcc's
  # libasan.so must come first in the library list), and the fuzz harnesses
  # (libFuzzer) are clang's. The shim and the programs the tests record are
  # built without sanitizers (preload/meson.build, tests/sanitizers/).
  log "clang build with ASan+UBSan (-Werror)"
  build build-asan clang --werror -Db_sanitize=address,undefined -Db_lundef=false
  log "tests"
  local rc=0
  meson test -C build-test --print-errorlogs --num-processes 2 --timeout-multiplier 3 \
    >build-test/test-output.txt 2>&1 || rc=$?
  cat build-test/test-output.txt
  log "tests under ASan+UBSan: ${ASAN_SUITES[*]}"
  local suites=() names=() s t
  for s in "${ASAN_SUITES[@]}"; do suites+=(--suite "$s"); done
  # meson test runs the tests of those suites whose names are given: every
  # name listed there ("lowram:suite / name") but the skipped, once each
  while read -r t; do
    t=${t#*:}; t=${t/ \/ //}
    [[ " ${ASAN_SKIP[*]} " == *" $t "* ]] && continue
    [[ " ${names[*]} " == *" ${t#*/} "* ]] || names+=("${t#*/}")
  done < <(meson test -C build-asan --no-rebuild --list "${suites[@]}" 2>/dev/null | grep ' / ')
  # leaks fail a test (the CLI and the library are leak-free on these);
  # any UBSan report stops the program (tests check exit status and stderr)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan "${suites[@]}" "${names[@]}" --print-errorlogs --num-processes 2 \
    --timeout-multiplier 3 >build-asan/test-output.txt 2>&1 || rc=$?
  cat build-asan/test-output.txt
  # A plain closing line that any CI reader understands (both runs).
  count_line build-test/test-output.txt build-asan/test-output.txt
  return $rc
}

# bench/foreign only (heavy, not in the tests): PyTorch from Debian for
# /usr/bin/python3, and npm to install node-llama-cpp into a cache outside
# the repository (its prebuilt llama.cpp comes as an npm package).
FOREIGN_PACKAGES=(python3-torch)
# optional dependencies left out (the CUDA and Vulkan builds are hundreds of
# MB); the CPU build for x86-64 named instead
FOREIGN_NPM=(node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1)

foreign() {
  deps
  PACKAGES=("${FOREIGN_PACKAGES[@]}")
  command -v npm >/dev/null || PACKAGES+=(npm)
  deps
  local cache=${LOWRAM_FOREIGN_CACHE:-$HOME/.cache/lowram-foreign}
  mkdir -p "$cache"
  if [ ! -d "$cache/node_modules/node-llama-cpp" ]; then
    log "npm install ${FOREIGN_NPM[*]} into $cache"
    # never build llama.cpp from source or download anything at install time
    (cd "$cache" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true \
       quiet npm install --no-audit --no-fund --omit=optional "${FOREIGN_NPM[@]}")
  fi
  build build gcc
  LOWRAM_FOREIGN_CACHE=$cache bash bench/foreign/foreign.sh build "${1:-all}"
}

bench() {
  deps
  build build gcc
  for s in bench/*/run.sh; do
    log "$s"
    bash "$s" build
  done
}

# install_to PREFIX: `meson install` of build/ under PREFIX (made absolute);
# build/ is reconfigured for that prefix. Uses sudo when PREFIX is not
# writable and this is not root.
install_to() {
  local prefix=${1:-}
  if [ -z "$prefix" ]; then
    echo "usage: ./run.sh install PREFIX   (e.g. /usr/local, or \$HOME/.local)" >&2
    return 2
  fi
  deps
  local sudo=()
  if [ "$(id -u)" -ne 0 ] && ! { mkdir -p "$prefix" 2>/dev/null && [ -w "$prefix" ]; }; then
    sudo=(sudo)
  fi
  "${sudo[@]}" mkdir -p "$prefix"
  prefix=$(cd "$prefix" && pwd)
  build build gcc
  quiet meson configure build -Dprefix="$prefix"
  quiet ninja -C build
  "${sudo[@]}" meson install -C build --no-rebuild
  log "installed under $prefix: run $prefix/bin/lowram (pkg-config lowram for lowram.h)"
}

case "${1:-}" in
  demo) demo ;;
  test) test_all ;;
  bench) bench ;;
  install) install_to "${2:-}" ;;
  deps) deps ;;
  foreign) foreign "${2:-all}" ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
