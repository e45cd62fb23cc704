#!/bin/sh
# Runs one libFuzzer target for a while from its seeds.
#   tests/fuzz/fuzz.sh BUILD_DIR TARGET [SECONDS] [CORPUS_DIR]
# TARGET: spool, import (seeds built in: fuzz_mkseeds), model, memmodel,
# sweep_index, tui (seeds: the files in tests/fuzz/corpus/TARGET; memmodel
# and sweep_index also get their dictionary, TARGET.dict).
# BUILD_DIR must be a clang build with libFuzzer, ideally with sanitizers:
#   CC=clang meson setup build-hard -Db_sanitize=address,undefined -Db_lundef=false
# The corpus (default /tmp/lowram-fuzz-<target>) is kept between runs;
# crash-*/timeout-*/leak-* files land in the current directory.
set -eu
usage="usage: fuzz.sh BUILD_DIR spool|import|model|memmodel|sweep_index|tui [SECONDS] [CORPUS_DIR]"
build=${1:?$usage}
target=${2:?$usage}
secs=${3:-180}
corpus=${4:-/tmp/lowram-fuzz-$target}
here=$(cd "$(dirname "$0")" && pwd)
exe=$build/tests/fuzz/fuzz_$target
ninja -C "$build" "tests/fuzz/fuzz_$target" tests/fuzz/fuzz_mkseeds >/dev/null
[ -x "$exe" ] || { echo "fuzz.sh: $exe not built (needs clang with -fsanitize=fuzzer)" >&2; exit 1; }
mkdir -p "$corpus"
dict=
case $target in
  spool|import) "$build/tests/fuzz/fuzz_mkseeds" "$corpus" ;;
  *) cp "$here/corpus/$target"/* "$corpus"/
     [ -f "$here/$target.dict" ] && dict=-dict=$here/$target.dict ;;
esac
exec "$exe" -max_total_time="$secs" -max_len=65536 -timeout=20 -rss_limit_mb=1536 \
  -print_final_stats=1 $dict "$corpus"
