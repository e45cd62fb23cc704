/*
** bench_report.c: how fast `lowram report` answers on a big trace.
**
** Writes a trace of EVENTS events (default 10 million) straight into
** SQLite through the real schema, shaped like an inference run: a load
** phase mapping weights (anonymous and file-backed), a prefill with large
** short-lived tensors, then decode steps (a marker each) with many small
** temporaries, KV-cache blocks that live to the end, and scratch buffers;
** four threads, a few thousand stacks 8-24 frames deep over five modules,
** RSS samples every 20k events. Rows go in alloc_seq order, as an importer
** writes them. Then it times lr_agg_build (done once, at import) and the
** report (lr_trace_open + lr_agg_ensure + lr_report_build at the peak,
** then at the middle of the run), and prints the report's peak RSS.
**
** Usage: bench_report [EVENTS] [PATH]   (PATH default /tmp/lowram-bench-report.db)
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/trace_internal.h"
#include "query/agg.h"
#include "lowram/report.h"
#include "lowram/trace.h"
#include "store/allocvt.h"

extern const char lr_schema_sql[];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void die(sqlite3 *db, const char *what) {
  fprintf(stderr, "bench_report: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
  exit(1);
}

static void exec(sqlite3 *db, const char *sql) {
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) die(db, sql);
}

/* Future seqs already promised to a free. */
static uint8_t *taken;
static int64_t nevents;

static int64_t reserve(int64_t want) {
  while (want < nevents && (taken[want >> 3] >> (want & 7) & 1)) want++;
  if (want >= nevents) return -1;
  taken[want >> 3] |= (uint8_t)(1 << (want & 7));
  return want;
}

static int64_t next_seq(int64_t s) {
  while (s < nevents && (taken[s >> 3] >> (s & 7) & 1)) s++;
  return s;
}

enum { NSTACKS = 3000, NFRAMES = 800 };

static sqlite3_stmt *ins;

static void row(const char *kind, const char *region, int64_t size, int64_t seq, int64_t fseq,
                int64_t tid, int64_t stack, const char *file) {
  static int64_t addr = 0x7f0000000000;
  addr += (size + 4095) & ~4095;
  sqlite3_bind_text(ins, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 2, region, -1, SQLITE_STATIC);
  sqlite3_bind_int64(ins, 3, addr);
  sqlite3_bind_int64(ins, 4, size);
  sqlite3_bind_int64(ins, 5, seq);
  if (fseq >= 0) {
    sqlite3_bind_int64(ins, 6, fseq);
    sqlite3_bind_int64(ins, 8, fseq * 250);
    sqlite3_bind_text(ins, 9, !strcmp(region, "heap") ? "free" : "munmap", -1, SQLITE_STATIC);
  } else {
    sqlite3_bind_null(ins, 6);
    sqlite3_bind_null(ins, 8);
    sqlite3_bind_null(ins, 9);
  }
  sqlite3_bind_int64(ins, 7, seq * 250);
  sqlite3_bind_int64(ins, 10, tid);
  sqlite3_bind_int64(ins, 11, stack);
  if (file) sqlite3_bind_text(ins, 12, file, -1, SQLITE_STATIC);
  else sqlite3_bind_null(ins, 12);
  if (sqlite3_step(ins) != SQLITE_DONE) die(NULL, "insert");
  sqlite3_reset(ins);
}

static void generate(const char *path) {
  unlink(path);
  sqlite3 *db;
  /* v3: allocations and stack_entries are virtual tables (store/) */
  if (lr_allocvt_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db) != SQLITE_OK)
    die(db, path);
  exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
  exec(db, lr_schema_sql);
  exec(db, "BEGIN");
  char sql[512];
  static const char *const mods[] = {"/usr/bin/qrun", "/usr/lib/libggml.so", "/usr/lib/libtok.so",
                                     "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/libstdc++.so.6"};
  for (int m = 0; m < 5; m++) {
    snprintf(sql, sizeof sql, "INSERT INTO modules VALUES(%d, '%s', NULL, %lld, 16777216, 0, NULL)",
             m + 1, mods[m], (long long)(0x400000 + m * 0x10000000LL));
    exec(db, sql);
  }
  for (int f = 1; f <= NFRAMES; f++) {
    int m = f % 5;
    snprintf(sql, sizeof sql, "INSERT INTO frames VALUES(%d, %d, %d, 'fn_%d', 'src/file_%d.c', %d)",
             f, m + 1, f * 64, f, f % 60, 10 + f % 400);
    exec(db, sql);
  }
  sqlite3_stmt *se;
  sqlite3_prepare_v2(db, "INSERT INTO stack_entries VALUES(?1, ?2, ?3)", -1, &se, NULL);
  for (int s = 1; s <= NSTACKS; s++) {
    int depth = 8 + (int)(rnd() % 17);
    /* the stacks row first: stack_entries appends to it (stackvt.h) */
    snprintf(sql, sizeof sql, "INSERT INTO stacks(id, nframes) VALUES(%d, %d)", s, depth);
    exec(db, sql);
    for (int d = 0; d < depth; d++) {
      sqlite3_bind_int(se, 1, s);
      sqlite3_bind_int(se, 2, d);
      /* shared outer frames (main, run loop) and varied inner ones */
      int f = d >= depth - 3 ? 1 + (depth - d) : 10 + (int)((s * 7 + d * 131 + rnd() % 3) % (NFRAMES - 10));
      sqlite3_bind_int(se, 3, f);
      if (sqlite3_step(se) != SQLITE_DONE) die(db, "stack");
      sqlite3_reset(se);
    }
  }
  sqlite3_finalize(se);
  for (int t = 1; t <= 4; t++) {
    snprintf(sql, sizeof sql, "INSERT INTO threads(tid, name, first_seq) VALUES(%d, 'worker', 0)", 1000 + t);
    exec(db, sql);
  }
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO allocations(kind, region, address, size, alloc_seq, free_seq,"
                         " alloc_ns, free_ns, free_kind, thread_id, stack_id, file) "
                         "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
                         -1, &ins, NULL) != SQLITE_OK)
    die(db, "prepare");
  sqlite3_stmt *mk, *rss;
  sqlite3_prepare_v2(db, "INSERT INTO markers(seq, ns, thread_id, name) VALUES(?1, ?1 * 250, 1001, ?2)",
                     -1, &mk, NULL);
  sqlite3_prepare_v2(db, "INSERT INTO rss_samples(seq, ns, rss, anon, file, shmem) VALUES(?1, ?1 * 250, ?2, ?3, ?4, 0)", -1, &rss,
                     NULL);
  taken = calloc((size_t)(nevents / 8 + 1), 1);
  int64_t s = 0, live = 0, last_rss = 0, allocs = 0;
  int64_t load_end = nevents / 100, prefill_end = nevents / 10;
  int64_t token_len = (nevents - prefill_end) / 256 + 1, next_token = prefill_end;
  int phase = 0, token = 0;
  for (;;) {
    s = next_seq(s);
    if (s >= nevents) break;
    if (phase == 0) {
      sqlite3_bind_int64(mk, 1, s);
      sqlite3_bind_text(mk, 2, "load", -1, SQLITE_STATIC);
      sqlite3_step(mk);
      sqlite3_reset(mk);
      phase = 1;
      s++;
      continue;
    }
    if (phase == 1 && s >= load_end) {
      sqlite3_bind_int64(mk, 1, s);
      sqlite3_bind_text(mk, 2, "prefill", -1, SQLITE_STATIC);
      sqlite3_step(mk);
      sqlite3_reset(mk);
      phase = 2;
      s++;
      continue;
    }
    if (phase >= 2 && s >= next_token && s >= prefill_end) {
      sqlite3_bind_int64(mk, 1, s);
      sqlite3_bind_text(mk, 2, "decode", -1, SQLITE_STATIC);
      sqlite3_step(mk);
      sqlite3_reset(mk);
      phase = 3;
      token++;
      next_token += token_len;
      s++;
      continue;
    }
    int64_t tid = 1001 + (int64_t)(rnd() % 4), size, life, stack;
    const char *kind = "malloc", *region = "heap", *file = NULL;
    uint64_t r = rnd() % 1000;
    if (phase == 1) {
      if (r < 20) {
        region = "anon"; kind = "mmap"; size = 4 << 20; life = -1; stack = 1 + (int64_t)(r % 5);
      } else if (r == 20 && allocs < 200000) {
        region = "file"; kind = "mmap"; size = 256 << 20; life = -1; stack = 6; file = "/models/q4.bin";
      } else {
        size = 16 + (int64_t)(rnd() % 2048); life = 1 + (int64_t)(rnd() % 2000); stack = 10 + (int64_t)(rnd() % 300);
      }
    } else if (phase == 2) {
      if (r < 50) {
        size = 1 << 20; life = 10 + (int64_t)(rnd() % 20000); stack = 400 + (int64_t)(r % 20);
      } else {
        size = 32 + (int64_t)(rnd() % 4096); life = 1 + (int64_t)(rnd() % 64); stack = 500 + (int64_t)(rnd() % 800);
      }
    } else {
      if (r < 3) {
        size = 16384; life = -1; stack = 1400 + (int64_t)(r % 3); /* KV cache grows */
      } else if (r < 30) {
        size = 65536 + (int64_t)(rnd() % 65536); life = 1 + (int64_t)(rnd() % 5000); stack = 1500 + (int64_t)(rnd() % 100);
      } else {
        size = 8 + (int64_t)(rnd() % 1024); life = 1 + (int64_t)(rnd() % 16); stack = 1600 + (int64_t)(rnd() % 1400);
      }
    }
    int64_t fseq = life < 0 ? -1 : reserve(s + life);
    row(kind, region, size, s, fseq, tid, stack, file);
    allocs++;
    if (strcmp(region, "file")) live += size;
    if (s - last_rss >= 20000) {
      sqlite3_bind_int64(rss, 1, s);
      sqlite3_bind_int64(rss, 2, live + (64 << 20));
      sqlite3_bind_int64(rss, 3, live + (8 << 20));
      sqlite3_bind_int64(rss, 4, 56 << 20);
      sqlite3_step(rss);
      sqlite3_reset(rss);
      last_rss = s;
    }
    s++;
  }
  sqlite3_finalize(ins);
  sqlite3_finalize(mk);
  sqlite3_finalize(rss);
  free(taken);
  snprintf(sql, sizeof sql,
           "INSERT INTO meta VALUES('format', 'lowram-trace'), ('schema_version', 1), "
           "('argv', '[\"qrun\",\"--bench\"]'), ('pid', 1), ('end_reason', 'exit'), "
           "('end_code', 0), ('events', %lld), ('end_ns', %lld)",
           (long long)nevents, (long long)nevents * 250);
  exec(db, sql);
  printf("generated %lld events (%lld allocations, %d decode steps)\n", (long long)nevents,
         (long long)allocs, token);
  double t0 = now();
  LrErr err = {{0}};
  if (lr_agg_build(db, path, &err)) {
    fprintf(stderr, "bench_report: %s\n", err.msg);
    exit(1);
  }
  exec(db, "INSERT INTO meta VALUES('complete', 1)");
  exec(db, "COMMIT");
  printf("lr_agg_build (once, at import): %.2f s\n", now() - t0);
  sqlite3_close(db);
}

/* LR_BENCH_PROFILE=1 prints every statement slower than 20 ms. */
static int slow_sql(unsigned type, void *ctx, void *p, void *x) {
  (void)ctx;
  if (type == SQLITE_TRACE_PROFILE && *(int64_t *)x > 20000000) {
    char *sql = sqlite3_expanded_sql((sqlite3_stmt *)p);
    fprintf(stderr, "  %7.3f s  %.150s\n", (double)*(int64_t *)x / 1e9, sql ? sql : "?");
    sqlite3_free(sql);
  }
  return 0;
}

static void report(const char *path, const char *at) {
  double t0 = now();
  LrErr err = {{0}};
  LrTrace *t = lr_trace_open(path, &err);
  if (!t) {
    fprintf(stderr, "bench_report: %s\n", err.msg);
    exit(1);
  }
  if (getenv("LR_BENCH_PROFILE"))
    sqlite3_trace_v2(lr_trace_db(t), SQLITE_TRACE_PROFILE, slow_sql, NULL);
  LrReportOpts o = {0};
  o.at = at;
  LrReport *r = NULL;
  if (lr_report_build(t, &o, &r, &err)) {
    fprintf(stderr, "bench_report: %s\n", err.msg);
    exit(1);
  }
  double dt = now() - t0;
  printf("report at %-6s %.2f s  (peak %lld B at seq %lld; %zu contributor groups, %zu phases)\n",
         at ? at : "peak", dt, (long long)(r->peak.live.heap + r->peak.live.anon),
         (long long)r->peak.seq, r->contributors.n, r->nphases);
  lr_report_free(r);
  lr_trace_close(t);
}

int main(int argc, char **argv) {
  nevents = argc > 1 ? atoll(argv[1]) : 10000000;
  const char *path = argc > 2 ? argv[2] : "/tmp/lowram-bench-report.db";
  if (nevents < 1000) {
    fprintf(stderr, "usage: bench_report [EVENTS>=1000] [PATH]\n");
    return 2;
  }
  double t0 = now();
  if (!getenv("LR_BENCH_REUSE")) {
    generate(path);
    printf("generate + build: %.1f s\n", now() - t0);
  }
  report(path, NULL);
  char mid[32];
  snprintf(mid, sizeof mid, "%lld", (long long)nevents / 2);
  report(path, mid);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("bench peak RSS (includes the generator): %ld MiB\n", ru.ru_maxrss / 1024);
  return 0;
}
