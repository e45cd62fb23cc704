#!/bin/sh
# shim_cost.sh: what the shim itself costs a program in memory, address
# space and spool (issue 15, "small on a phone"), bare against LD_PRELOAD.
#
#   sh bench/overhead/shim_cost.sh [BUILD_DIR]
#
# Each figure is read by the program itself from /proc/self/status at exit
# (a destructor in a small preloaded library built here; gt_small prints its
# own). Runs:
#   qrun         ./run.sh demo's run (seq 512, batch 4, prompt 64, 32 tokens)
#   1000 threads gt_small threads 1000 200: 1000 short threads, 50 alive at
#                a time, 400 events each. MALLOC_ARENA_MAX=1 in both runs:
#                glibc reserves 64 MiB of address space per malloc arena and
#                makes more of them when malloc is slower (a tracer's), which
#                is glibc's reservation, not the shim's (without it VmSize
#                differs by hundreds of MiB from run to run)
#   RLIMIT_AS    gt_small as under `ulimit -v 131072`: MiB of 1 MiB mallocs
#                the program gets before NULL
set -eu
B=$(cd "${1:-build}" && pwd)
SHIM=$B/preload/liblowram.so
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/st.c" <<'C'
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
__attribute__((destructor)) static void st(void) {
  const char *o = getenv("ST_OUT");
  char buf[8192];
  if (!o) return;
  int fd = open("/proc/self/status", O_RDONLY), n = (int)read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  int of = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
    if (!strncmp(l, "VmSize", 6) || !strncmp(l, "VmRSS", 5) || !strncmp(l, "VmHWM", 5)) {
      if (write(of, l, strlen(l)) < 0 || write(of, "\n", 1) < 0) break;
    }
  close(of);
}
C
cc -shared -fPIC -O1 -o "$T/st.so" "$T/st.c"
kb() { awk -v k="$1:" '$1 == k { print $2 }' "$2"; }
"$B/runner/qrun" gen -o "$T/m.qrun" --dim 288 --layers 6 --heads 6 --kv-heads 6 --hidden 768 \
  --vocab 32000 --max-seq 512 --quant q8 --seed 1 > /dev/null
printf '%-13s %13s %13s %13s %13s %13s\n' run "VmSize bare" "+ shim" "VmRSS bare" "+ shim" spool
for run in qrun threads; do
  for mode in bare shim; do
    pre=$T/st.so
    [ $mode = shim ] && pre="$SHIM $T/st.so"
    rm -f "$T/$mode.db.spool"
    if [ $run = qrun ]; then
      ST_OUT=$T/$mode.st LD_PRELOAD=$pre LOWRAM_OUT=$T/$mode.db "$B/runner/qrun" run -m "$T/m.qrun" \
        --seq-len 512 --batch 4 --prompt-len 64 --tokens 32 > /dev/null 2>&1
    else
      ST_OUT=$T/$mode.st MALLOC_ARENA_MAX=1 LD_PRELOAD=$pre LOWRAM_OUT=$T/$mode.db \
        "$B/tests/recording/gt_small" threads 1000 200 > /dev/null
    fi
  done
  vb=$(kb VmSize "$T/bare.st"); vs=$(kb VmSize "$T/shim.st")
  rb=$(kb VmRSS "$T/bare.st"); rs=$(kb VmRSS "$T/shim.st")
  printf '%-13s %10s kB %10s kB %10s kB %10s kB %13s\n' "$run" "$vb" "$((vs - vb))" "$rb" \
    "$((rs - rb))" "$(stat -c %s "$T/shim.db.spool") B"
done
bare=$(sh -c "ulimit -v 131072; exec '$B/tests/recording/gt_small' as" | awk '{print $2}')
shim=$(sh -c "ulimit -v 131072; LD_PRELOAD='$SHIM' LOWRAM_OUT='$T/as.db' exec '$B/tests/recording/gt_small' as" |
  awk '{print $2}')
echo "RLIMIT_AS 128 MiB: the program gets $bare MiB bare, $shim MiB under the shim"
