#!/bin/sh
# qrun decode speed beside the memory-bandwidth bound.
#
#   bench/qrun/run.sh [BUILD_DIR]      (default: build)
#
# For a ~15M-parameter model (dim 288, 6 layers, 6 heads, hidden 768, vocab
# 32000) and a ~110M one (dim 768, 12 layers, 12 heads, hidden 2048, vocab
# 32000), each in f32, Q8_0 and Q4_0, with 1 and 2 threads, prints decode
# tokens/s next to the memory-bandwidth bounds: bandwidth / weight bytes
# read per token (a decode step reads every matrix once; the embedding only
# one row unless it is also the classifier). Two bandwidths (qrun_membw):
# memcpy (bytes copied per second, one thread: the conservative figure a
# model can beat, since decode only reads) and plain reading with as many
# threads as the run. Small models partly live in the caches and can beat
# both. Each figure is the best of REPS runs (default 3) of TOKENS decode
# steps (default 128). Also
# prints peak RSS of mmap vs --no-mmap. Models are generated in a temporary
# directory and removed.
set -eu
B=${1:-build}
QRUN=$B/runner/qrun
MEMBW=$B/bench/qrun/qrun_membw
[ -x "$QRUN" ] && [ -x "$MEMBW" ] || { echo "run.sh: build first: ninja -C $B" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
set -- $($MEMBW 256)
BW=$1 R1=$2 R2=$3
awk -v a="$BW" -v b="$R1" -v c="$R2" \
  'BEGIN{printf "memcpy bandwidth %.2f GB/s; read bandwidth %.2f GB/s (1 thread), %.2f GB/s (2 threads)\n", a/1e9, b/1e9, c/1e9}'
TOKENS=${TOKENS:-128}
REPS=${REPS:-3}
printf '%-6s %-5s %12s %8s %9s %13s %8s %11s %8s\n' model quant weight_bytes threads tok/s memcpy_bound of_it read_bound of_it
for m in 15M 110M; do
  case $m in
    15M) dims="--dim 288 --layers 6 --heads 6 --hidden 768 --vocab 32000 --max-seq 256" ;;
    110M) dims="--dim 768 --layers 12 --heads 12 --hidden 2048 --vocab 32000 --max-seq 256" ;;
  esac
  for q in f32 q8 q4; do
    f=$T/$m-$q.qr
    # shellcheck disable=SC2086
    $QRUN gen -o "$f" $dims --quant $q --seed 1
    bytes=$($QRUN run -m "$f" --prompt-len 1 --tokens 1 -v 2>&1 | sed -n 's/.*weights_per_token \([0-9]*\).*/\1/p')
    for t in 1 2; do
      # best of REPS runs: other processes only ever slow a run down
      tps=0
      for _ in $(seq "$REPS"); do
        one=$($QRUN run -m "$f" --prompt-len 1 --tokens "$TOKENS" --threads $t --temp 1 2>&1 >/dev/null |
              sed -n 's/.*decode [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tok\/s).*/\1/p')
        tps=$(awk -v a="$tps" -v b="$one" 'BEGIN{print (b > a) ? b : a}')
      done
      rb=$R1; [ $t = 2 ] && rb=$R2
      awk -v m=$m -v q=$q -v w="$(stat -c %s "$f")" -v t=$t -v s="$tps" -v bw="$BW" -v rb="$rb" -v b="$bytes" \
        'BEGIN{c=bw/b; r=rb/b; printf "%-6s %-5s %12d %8d %9.1f %13.1f %7.0f%% %11.1f %7.0f%%\n", m, q, w, t, s, c, 100*s/c, r, 100*s/r}'
    done
  done
  if [ "$m" = 15M ]; then
    for flag in "" --no-mmap; do
      "$QRUN" run -m "$T/15M-q8.qr" --prompt-len 1 --tokens 32 -v $flag 2>&1 >/dev/null |
        sed -n "s/^qrun: memory: /15M q8 ${flag:-mmap}: /p"
    done
  fi
  rm -f "$T"/$m-*.qr
done
