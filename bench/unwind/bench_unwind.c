/*
** bench_unwind.c: cost of one stack walk per unwinder, on stacks of known
** depth (a recursion at -O2 -fomit-frame-pointer, see meson.build), in ns
** per stack and per frame.
**
**   eh         lr_unwind_eh, rows from its shape cache (the steady state:
**              a program's allocation sites repeat)
**   eh-cold    lr_unwind_eh with a new code generation every walk: the
**              module table rebuilt (dl_iterate_phdr) and every row read
**              from .eh_frame again; an upper bound for a first walk
**   libunwind  unw_backtrace (its per-thread frame cache), when built in
**   fp         the frame-pointer walk (stops at the first frame without
**              one: its frame count is printed, it is not comparable)
**
** Usage: bench_unwind [ITERATIONS] (default 20000). Prints one line per
** unwinder and depth: frames walked, ns/stack, ns/frame (best of 5 runs).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unwind.h"

#define NOI __attribute__((noinline))
enum { U_EH, U_EH_COLD, U_LIBUNWIND, U_FP };
static const char *names[] = {"eh", "eh-cold", "libunwind", "fp"};
static volatile int sink;
static long iters = 20000;
static uintptr_t lo, hi;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* At the bottom: time `iters` walks, best of 5; *frames = frames per walk. */
NOI static double leaf(int u, int *frames) {
  uintptr_t ips[300];
  double best = 1e300;
  static uint32_t gen = 1;
  for (int r = 0; r < 5; r++) {
    double t0 = now_ns();
    int n = 0;
    for (long i = 0; i < iters; i++) {
      switch (u) {
      case U_EH: n = lr_unwind_eh(ips, 300, 0); break;
      case U_EH_COLD: n = lr_unwind_eh(ips, 300, gen++); break;
      case U_LIBUNWIND: n = lr_unwind_libunwind(ips, 300); break;
      default: n = lr_unwind_fp(ips, 300, lo, hi, NULL); break;
      }
    }
    double t = (now_ns() - t0) / (double)iters;
    if (t < best) best = t;
    *frames = n;
  }
  return best;
}

NOI static double rec(int d, int u, int *frames) {
  volatile char pad[24];
  pad[d % 24] = (char)d;
  double t = d ? rec(d - 1, u, frames) : leaf(u, frames);
  sink += pad[0];
  return t;
}

int main(int argc, char **argv) {
  if (argc > 1) iters = atol(argv[1]);
  if (iters < 1) iters = 1;
  lr_unwind_fp_bounds(&lo, &hi);
  static const int depths[] = {4, 16, 64};
  printf("%-10s %6s %8s %12s %10s\n", "unwinder", "depth", "frames", "ns/stack", "ns/frame");
  for (int u = U_EH; u <= U_FP; u++) {
    if (u == U_LIBUNWIND && !lr_unwind_available_libunwind()) continue;
    if ((u == U_EH || u == U_EH_COLD) && !lr_unwind_available_eh()) continue;
    long saved = iters;
    if (u == U_EH_COLD) iters = iters / 20 + 1; /* each walk rebuilds the module table */
    for (size_t k = 0; k < sizeof depths / sizeof *depths; k++) {
      int frames = 0;
      double t = rec(depths[k], u, &frames);
      printf("%-10s %6d %8d %12.1f %10.2f\n", names[u], depths[k], frames, t,
             frames ? t / frames : 0.0);
    }
    iters = saved;
  }
  return 0;
}
