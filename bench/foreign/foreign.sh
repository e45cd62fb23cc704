#!/usr/bin/env bash
# bench/foreign/foreign.sh BUILD [torch|llama|all]: `lowram suggest` on a real
# program nobody here wrote (heavy: not a test; `./run.sh foreign` installs
# what it needs and runs it). For each program: two identical sweeps, a
# prediction outside them from each, the target recorded for real; prints
# predicted vs measured heap+anon peak and the spread of the two sweeps.
#   torch: bench/foreign/torch_decoder.py (Debian's python3-torch, a 4-layer
#          decoder with a KV cache), batch 4 x seq 256 from batch 1,2 x seq
#          64,128 (the issue's 8 x 1024 from 1,2,4 x 128..512 is far too slow
#          here: a recorded run takes ~4 minutes, suggest over 4 runs 16);
#          TORCH_GRID="batch=1,2,4 seq=64,128,256 batch=8,seq=512" for more;
#   llama: llama.cpp through node-llama-cpp (npm, installed by ./run.sh
#          foreign into LOWRAM_FOREIGN_CACHE) on a tiny random GGUF model
#          (tiny_gguf.py), ctx 16384 from ctx 1024,2048,4096.
# LOWRAM_DEPTH (default 12 here) bounds the frames per stack: torch's
# import makes ~2M events over ~2M distinct deep stacks, and full stacks
# make each recorded run ~6 minutes and a 1.9 GB trace on the 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
what=${2:-all}
lowram=$PWD/$build/cli/lowram
[ -x "$lowram" ] || { echo "bench/foreign: no $lowram (build first)" >&2; exit 2; }
export LOWRAM_DEPTH=${LOWRAM_DEPTH:-12}
work=${LOWRAM_FOREIGN_WORK:-$(mktemp -d /tmp/lowram-foreign.XXXXXX)}
mkdir -p "$work"
echo "bench/foreign: traces in $work (LOWRAM_DEPTH=$LOWRAM_DEPTH)"

# json_num FILE KEY: the first number after "KEY": in FILE
json_num() { grep -o "\"$2\":[-0-9.e+]*" "$1" | head -1 | cut -d: -f2; }

# program TAG P1 P2 AT TARGET_ARGS -- CMD...: sweeps, predicts, measures
# (P2 "" for one parameter).
program() {
  local tag=$1 p1=$2 p2=$3 at=$4 target=$5
  shift 6
  local k pred=() low=() high=()
  for k in 1 2; do
    rm -rf "$work/$tag-$k"
    local t0=$SECONDS
    local params=(--param "$p1")
    [ -z "$p2" ] || params+=(--param "$p2")
    "$lowram" sweep "${params[@]}" -o "$work/$tag-$k" -- "$@" >"$work/$tag-$k.log" 2>&1
    "$lowram" suggest "$work/$tag-$k" --at "$at" --format json >"$work/$tag-$k.json"
    "$lowram" suggest "$work/$tag-$k" --at "$at" >"$work/$tag-$k.txt"
    pred+=("$(json_num "$work/$tag-$k.json" predicted_heap)")
    low+=("$(json_num "$work/$tag-$k.json" predicted_low)")
    high+=("$(json_num "$work/$tag-$k.json" predicted_high)")
    echo "$tag: sweep $k: $((SECONDS - t0)) s"
  done
  # the target: the command with the sweep's {placeholders} filled from `at`
  local cmd=() a
  for a in "$@"; do
    local IFS=,
    for kv in $target; do a=${a//\{${kv%%=*}\}/${kv#*=}}; done
    unset IFS
    cmd+=("$a")
  done
  rm -f "$work/$tag-target.db"
  "$lowram" record -o "$work/$tag-target.db" -- "${cmd[@]}" >"$work/$tag-target.log" 2>&1
  local meas
  # the program's process, as suggest reads it (the first: node-llama-cpp
  # also runs a helper node process)
  meas=$(sqlite3 "$work/$tag-target.db" "SELECT peak FROM processes ORDER BY id LIMIT 1")
  awk -v t="$tag" -v at="$at" -v m="$meas" -v p1="${pred[0]}" -v p2="${pred[1]}" \
      -v l1="${low[0]}" -v h1="${high[0]}" -v l2="${low[1]}" -v h2="${high[1]}" 'BEGIN {
    printf "%s at %s: measured %.0f B (%.1f MiB)\n", t, at, m, m / 1048576
    printf "  sweep 1: predicted %.0f B (%+.2f%%), range %.0f .. %.0f\n", p1, 100 * (p1 - m) / m, l1, h1
    printf "  sweep 2: predicted %.0f B (%+.2f%%), range %.0f .. %.0f\n", p2, 100 * (p2 - m) / m, l2, h2
    d = p1 > p2 ? p1 - p2 : p2 - p1
    printf "  the two sweeps differ by %.3f%%\n", 100 * d / (p1 < p2 ? p1 : p2)
  }'
}

if [ "$what" = torch ] || [ "$what" = all ]; then
  if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "bench/foreign: torch: Debian's python3-torch is not installed (./run.sh foreign)" >&2
    exit 2
  fi
  read -r p1 p2 at <<<"${TORCH_GRID:-batch=1,2 seq=64,128 batch=4,seq=256}"
  program torch "$p1" "$p2" "$at" "$at" -- \
    /usr/bin/python3 "$PWD/bench/foreign/torch_decoder.py" '{batch}' '{seq}'
fi

if [ "$what" = llama ] || [ "$what" = all ]; then
  export LOWRAM_FOREIGN_CACHE=${LOWRAM_FOREIGN_CACHE:-$HOME/.cache/lowram-foreign}
  if [ ! -d "$LOWRAM_FOREIGN_CACHE/node_modules/node-llama-cpp" ]; then
    echo "bench/foreign: llama: node-llama-cpp is not in $LOWRAM_FOREIGN_CACHE (./run.sh foreign)" >&2
    exit 2
  fi
  /usr/bin/python3 bench/foreign/tiny_gguf.py "$work/tiny.gguf"
  program llama ctx=1024,2048,4096 "" ctx=16384 ctx=16384 -- \
    node "$PWD/bench/foreign/llama_ctx.mjs" "$work/tiny.gguf" '{ctx}'
fi
