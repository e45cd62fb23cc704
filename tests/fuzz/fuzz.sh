#!/bin/sh
# Runs one libFuzzer target for a while from the built-in seed spools.
#   tests/fuzz/fuzz.sh BUILD_DIR spool|import [SECONDS] [CORPUS_DIR]
# BUILD_DIR must be a clang build with libFuzzer, ideally with sanitizers:
#   CC=clang meson setup build-hard -Db_sanitize=address,undefined -Db_lundef=false
# The corpus (default /tmp/lowram-fuzz-<target>) is kept between runs;
# crash-*/timeout-*/leak-* files land in the current directory.
set -eu
build=${1:?usage: fuzz.sh BUILD_DIR spool|import [SECONDS] [CORPUS_DIR]}
target=${2:?usage: fuzz.sh BUILD_DIR spool|import [SECONDS] [CORPUS_DIR]}
secs=${3:-180}
corpus=${4:-/tmp/lowram-fuzz-$target}
exe=$build/tests/fuzz/fuzz_$target
[ -x "$exe" ] || { echo "fuzz.sh: $exe not built (needs clang with -fsanitize=fuzzer)" >&2; exit 1; }
ninja -C "$build" "tests/fuzz/fuzz_$target" tests/fuzz/fuzz_mkseeds >/dev/null
mkdir -p "$corpus"
"$build/tests/fuzz/fuzz_mkseeds" "$corpus"
exec "$exe" -max_total_time="$secs" -max_len=65536 -timeout=20 -rss_limit_mb=1536 \
  -print_final_stats=1 "$corpus"
