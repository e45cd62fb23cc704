/*
** bench_import.c: how long importing a big spool takes. Builds a synthetic
** spool of N events (default 10 million: malloc/free pairs over 4 threads,
** 1000 distinct stacks, a few thousand blocks live), imports it, and prints
** the time, the rate, and the bytes per event of spool and trace. A check
** to run by hand, not a timed test:
**   build/tests/import/bench_import [N] [DIR]
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lowram/import.h"
#include "spoolgen.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ull;
  const char *dir = argc > 2 ? argv[2] : "/tmp";
  char spool[4096], db[4096];
  snprintf(spool, sizeof spool, "%s/bench-import-%d.spool", dir, (int)getpid());
  snprintf(db, sizeof db, "%s/bench-import-%d.db", dir, (int)getpid());
  Gen g;
  gen_init(&g, 1 << 20);
  enum { T = 4, LIVE = 1024 };
  GW w[T];
  for (int t = 0; t < T; t++) gw_init(&w[t], &g, 1000 + (uint32_t)t);
  const uint8_t bid[] = {0xab, 0xcd};
  gw_module(&w[0], 0, 0x400000, 0x100000, bid, 2, "/nonexistent/bench");
  for (uint64_t s = 1; s <= 1000; s++) {
    uint64_t ips[12];
    for (int i = 0; i < 12; i++) ips[i] = 0x400000 + (s * 7 + (uint64_t)i * 131) % 0x100000;
    gw_stack(&w[s % T], s, 12, ips);
  }
  /* each thread keeps a ring of LIVE blocks: malloc into a slot, free it
  ** when the slot comes round again */
  uint64_t seq = 0;
  for (uint64_t i = 0; seq < n; i++) {
    int t = (int)(i % T);
    uint64_t slot = (i / T) % LIVE;
    uint64_t addr = 0x10000000 + ((uint64_t)t << 24) + slot * 256;
    if (i / T >= LIVE) gw_free(&w[t], ++seq, addr);
    gw_alloc(&w[t], LR_EV_MALLOC, ++seq, addr, 16 + (i * 37) % 200, 1 + i % 1000);
  }
  if (gen_write(&g, spool, SIZE_MAX) != 0) {
    perror(spool);
    return 1;
  }
  size_t spool_bytes = g.size;
  gen_free(&g);
  double t0 = now();
  LrErr err;
  LrImportStats st;
  LrImportOpts opts = {.no_symbolize = 1};
  if (lr_import(spool, db, &opts, &st, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    unlink(spool);
    return 1;
  }
  double dt = now() - t0;
  struct stat sb;
  stat(db, &sb);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("imported %llu events (%llu rows) in %.2f s: %.2f M events/s\n",
         (unsigned long long)st.events, (unsigned long long)st.allocations, dt,
         st.events / dt / 1e6);
  printf("spool %.1f MB (%.2f B/event), trace %.1f MB (%.1f B/event), max RSS %ld MB\n",
         spool_bytes / 1e6, (double)spool_bytes / st.events, sb.st_size / 1e6,
         (double)sb.st_size / st.events, ru.ru_maxrss / 1024);
  printf("of which aggregates (lr_agg_build): %.2f s\n", st.agg_seconds);
  unlink(spool);
  unlink(db);
  return 0;
}
