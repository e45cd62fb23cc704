#!/usr/bin/env bash
# bench/python/overhead.sh BUILD [RUNS]: what Python frames cost, on
# Debian's /usr/bin/python3: the numpy recipe (tests/suggest/numpy_infer.py,
# batch 32 x seq 256) and a pure-Python churn (churn.py: 1000000 calls that
# malloc, 3000000 calls in all, plus fib(22): 57313 calls that allocate
# nothing). Three ways: bare; under the shim without Python frames
# (LOWRAM_PYFRAMES=0); with them. The program alone is timed (the shim
# writes its spool; the import is not counted), median of RUNS (7) of user+sys
# CPU seconds, the modes taken in turn; then one run's allocations and
# stacks with Python frames.
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-7}
src=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$src/../.." && pwd)
py=/usr/bin/python3
work=$(mktemp -d /tmp/lowram-pybench-XXXXXX)
trap 'rm -rf "$work"' EXIT
shim=$build/preload/liblowram.so
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
run_once() { # MODE CMD...: user+sys seconds of one run
  local mode=$1
  shift
  local -a e=(PYTHONPATH=)
  [ "$mode" = bare ] || e=(LD_PRELOAD="$shim" LOWRAM_OUT="$work/r.db" PYTHONPATH="$build/python")
  [ "$mode" = shim ] && e+=(LOWRAM_PYFRAMES=0)
  rm -f "$work"/r.db*
  /usr/bin/time -f "%U %S" -o "$work/t" env "${e[@]}" "$@" >/dev/null
  awk '{ print $1 + $2 }' "$work/t"
}
measure() { # NAME CMD...: the three modes in turn, RUNS rounds (drift hits all alike)
  local name=$1
  shift
  rm -f "$work"/bare.all "$work"/shim.all "$work"/frames.all
  for _ in $(seq "$runs"); do
    for mode in bare shim frames; do run_once "$mode" "$@" >>"$work/$mode.all"; done
  done
  for mode in bare shim frames; do median <"$work/$mode.all" >"$work/$mode"; done
  run_once frames "$@" >/dev/null # the trace of one run with Python frames
  "$build/cli/lowram" import "$work/r.db" >/dev/null 2>&1 || true
  local ev st
  ev=$(sqlite3 "$work/r.db" "SELECT count(*) FROM allocations" 2>/dev/null || echo ?)
  st=$(sqlite3 "$work/r.db" "SELECT count(*) FROM stacks" 2>/dev/null || echo ?)
  awk -v b="$(cat "$work/bare")" -v s="$(cat "$work/shim")" -v f="$(cat "$work/frames")" \
    -v n="$name" -v ev="$ev" -v st="$st" 'BEGIN { printf "%s: bare %.2f s, shim %.2f s (%+.0f%%), shim + Python frames %.2f s (%+.0f%% over the shim alone); %s allocations, %s stacks\n", n, b, s, (s / b - 1) * 100, f, (f / s - 1) * 100, ev, st }'
}
measure numpy "$py" "$root/tests/suggest/numpy_infer.py" 32 256
measure churn "$py" "$src/churn.py" 1000000
