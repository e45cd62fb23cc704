/*
** bench_agg.c: how long lr_agg_build takes on an existing trace, on its
** own, with the importer's connection settings (pragmas as in import.c).
** The trace is copied first so the original is never changed:
**   build/bench/import/bench_agg TRACE [COPY]   (COPY default TRACE.agg-bench)
** Prints seconds, rows in agg_stacks, and this process's peak RSS, so the
** analyzer's own memory stays visible next to its speed.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "query/agg.h"
#include "store/allocvt.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int copy(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
  if (!a || !b) {
    if (a) fclose(a);
    return -1;
  }
  static char buf[1 << 20];
  size_t n;
  int rc = 0;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0)
    if (fwrite(buf, 1, n, b) != n) rc = -1;
  fclose(a);
  if (fclose(b)) rc = -1;
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_agg TRACE [COPY]\n");
    return 2;
  }
  char dflt[4096];
  snprintf(dflt, sizeof dflt, "%s.agg-bench", argv[1]);
  const char *path = argc > 2 ? argv[2] : dflt;
  if (copy(argv[1], path)) {
    fprintf(stderr, "bench_agg: cannot copy %s to %s\n", argv[1], path);
    return 1;
  }
  sqlite3 *db;
  if (lr_allocvt_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, &db) != SQLITE_OK) {
    fprintf(stderr, "bench_agg: %s: cannot open\n", path);
    return 1;
  }
  /* the importer's settings (import.c run()) */
  sqlite3_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                   "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-65536;",
               NULL, NULL, NULL);
  LrErr err;
  double t0 = now();
  if (lr_agg_build(db, path, &err)) {
    fprintf(stderr, "bench_agg: %s\n", err.msg);
    return 1;
  }
  double dt = now() - t0;
  sqlite3_stmt *st;
  long long live = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM agg_stacks", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    live = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("lr_agg_build: %.2f s (%lld agg_stacks rows), peak RSS %ld MiB\n", dt, live,
         ru.ru_maxrss / 1024);
  if (argc <= 2) unlink(path);
  return 0;
}
