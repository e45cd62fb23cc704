/*
** rec_prog.c: an inference-shaped program with allocations known by
** construction, recorded by test_record.c (and run under massif):
**   load     load_weights: 4 MiB heap (kept to the end) + 2 MiB anonymous
**            mmap (unmapped at the end)
**   prefill  prefill_step x3: 1 MiB each, all live at once, then freed
**            -> the peak: 4 + 2 + 3 MiB = 9 MiB (heap-only peak 7 MiB)
**   decode   8 steps: kv_append 64 KiB (kept until the end) and
**            scratch 256 KiB freed before the next step (a temporary)
**   end      leak_it: 100 bytes never freed; everything else freed.
** No stdio: nothing but these blocks should be live at the peak.
** With the argument "kill" it dies by SIGKILL at the peak (after the third
** prefill block), so the trace ends there.
*/
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lowram.h"

#define NOINLINE __attribute__((noinline))

static void *volatile sink;

NOINLINE static void *load_weights(size_t n) {
  void *p = malloc(n);
  if (p) memset(p, 1, n);
  return p;
}

NOINLINE static void *map_weights(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED) memset(p, 2, n);
  return p;
}

NOINLINE static void *prefill_step(size_t n) {
  void *p = malloc(n);
  if (p) memset(p, 3, n);
  return p;
}

NOINLINE static void *kv_append(size_t n) {
  void *p = malloc(n);
  if (p) memset(p, 4, n);
  return p;
}

NOINLINE static void scratch(size_t n) {
  void *p = malloc(n);
  if (p) memset(p, 5, n);
  sink = p;
  free(p);
}

NOINLINE static void leak_it(void) { sink = malloc(100); }

int main(int argc, char **argv) {
  int die = argc > 1 && !strcmp(argv[1], "kill");
  lowram_mark("load");
  void *w = load_weights(4 << 20);
  void *m = map_weights(2 << 20);
  lowram_mark("prefill");
  void *a[3];
  for (int i = 0; i < 3; i++) a[i] = prefill_step(1 << 20);
  if (die) raise(SIGKILL);
  for (int i = 0; i < 3; i++) free(a[i]);
  lowram_mark("decode");
  void *kv[8];
  for (int i = 0; i < 8; i++) {
    kv[i] = kv_append(64 << 10);
    scratch(256 << 10);
  }
  for (int i = 0; i < 8; i++) free(kv[i]);
  munmap(m, 2 << 20);
  free(w);
  leak_it();
  return 0;
}
