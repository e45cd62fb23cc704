/*
** malloc_heavy.c: the allocation-bound overhead bench. 2,000,000
** malloc/free pairs (argv[1] overrides) from four call sites, each at the
** bottom of a 12-deep chain of distinct functions, with block sizes that
** vary like a real program's. Built with and without frame pointers
** (meson.build); prints main()'s own time for run.sh.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile uintptr_t sink;
static void *volatile hold; /* blocks escape here: no compiler elides the pairs */

/* four leaves: distinct call sites */
NOINLINE static void leaf_a(int n, int seed) {
  for (int i = 0; i < n; i++) {
    char *p = malloc(16 + (size_t)((seed + i) & 63));
    p[0] = (char)i;
    hold = p;
    sink += (uintptr_t)p[0];
    free(hold);
  }
}
NOINLINE static void leaf_b(int n, int seed) {
  void *keep[8];
  for (int i = 0; i < n; i += 8) {
    for (int k = 0; k < 8; k++) hold = keep[k] = malloc(64 + (size_t)((seed * 7 + k) & 255));
    for (int k = 0; k < 8; k++) {
      hold = keep[k];
      free(hold);
    }
  }
}
NOINLINE static void leaf_c(int n, int seed) {
  for (int i = 0; i < n; i++) {
    int *p = calloc(8, 4 + (size_t)((seed + i) & 7));
    hold = p;
    sink += (uintptr_t)p[1];
    free(hold);
  }
}
NOINLINE static void leaf_d(int n, int seed) {
  for (int i = 0; i < n; i++) {
    char *p = malloc(1024 + (size_t)((seed ^ i) & 1023));
    p[5] = 1;
    hold = p;
    sink += (uintptr_t)p[5];
    free(hold);
  }
}

typedef void (*leaf_fn)(int, int);

/* a 12-deep chain: each level is its own function (its own return address) */
#define LEVEL(name, next)                                                     \
  NOINLINE static void name(leaf_fn f, int n, int seed) {                     \
    next(f, n, seed + 1);                                                     \
    sink++;                                                                   \
  }
NOINLINE static void l11(leaf_fn f, int n, int seed) {
  f(n, seed);
  sink++;
}
LEVEL(l10, l11) LEVEL(l9, l10) LEVEL(l8, l9) LEVEL(l7, l8) LEVEL(l6, l7)
LEVEL(l5, l6) LEVEL(l4, l5) LEVEL(l3, l4) LEVEL(l2, l3) LEVEL(l1, l2)

static long long now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long long t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  long total = argc > 1 ? atol(argv[1]) : 2000000;
  leaf_fn leaves[4] = {leaf_a, leaf_b, leaf_c, leaf_d};
  const int batch = 1000;
  long done = 0;
  for (int round = 0; done < total; round++) {
    l1(leaves[round & 3], batch, round);
    done += batch;
  }
  printf("malloc_heavy: %ld malloc/free pairs\n", done);
  /* main's own time, wall and CPU (all threads of this process): what a
  ** tracer costs the program, without its start and exit work (the bench
  ** reads these lines) */
  printf("inproc_ns %lld\ninproc_cpu_ns %lld\n", now_ns(CLOCK_MONOTONIC) - t0,
         now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0);
  return 0;
}
