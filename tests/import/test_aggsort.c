/*
** test_aggsort.c: the aggregates built from the merge's rows (aggsort.h,
** lr_agg_build_rows) are the aggregates built by reading `allocations`
** back with SQL, table by table and row by row; and the sorter hands back
** every row it was given, once, in (alloc_seq, id) order, through both its
** paths (the window's file and the long-lived array).
*/
#include <CUnit/CUnit.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/aggsort.h"
#include "lowram/import.h"
#include "lrtest.h"
#include "query/agg.h"
#include "test_import.h"

enum { NROWS = 20000 };

typedef struct TRow {
  LrLifeRow r;
  int seen;
} TRow;

static int by_free(const void *a, const void *b) {
  const TRow *x = a, *y = b;
  uint64_t fx = x->r.free_kind ? x->r.free_seq : UINT64_MAX;
  uint64_t fy = y->r.free_kind ? y->r.free_seq : UINT64_MAX;
  if (fx != fy) return fx < fy ? -1 : 1;
  return x->r.id < y->r.id ? -1 : x->r.id > y->r.id;
}

/* Rows of known values emitted in free_seq order (as lifetimes.c does),
** with `swaps` neighbours exchanged (emission that is not monotone), read
** back through a sorter of window 8. */
static void sort_rows(int swaps) {
  TRow *t = calloc(NROWS, sizeof *t);
  CU_ASSERT_FATAL(t != NULL);
  uint64_t x = 12345;
  for (int i = 0; i < NROWS; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    LrLifeRow *r = &t[i].r;
    r->id = (uint64_t)i + 1;
    r->alloc_seq = 2 * (uint64_t)i + 1;
    r->alloc_ns = r->alloc_seq * 10 + (x >> 60);
    r->size = 1 + (x >> 40) % 5000;
    r->tid = 100 + (uint32_t)((x >> 20) % 3);
    r->stack = (x >> 30) % 7; /* 0: no stack */
    r->region = (unsigned)((x >> 50) % 4);
    unsigned kind = (unsigned)((x >> 8) % 10);
    if (kind < 6) { /* short */
      r->free_kind = "free";
      r->free_seq = r->alloc_seq + 1 + (x >> 12) % 8;
    } else if (kind < 8) { /* long */
      r->free_kind = "free";
      r->free_seq = r->alloc_seq + 100 + (x >> 12) % 30000;
    } else if (kind == 8) { /* a file mapping */
      r->region = LR_REGION_FILE;
      r->free_kind = "munmap";
      r->free_seq = r->alloc_seq + 3;
      r->file = "/some/file";
      r->file_offset = 4096 * ((x >> 16) % 9);
    } /* else never freed */
    if (r->free_kind) r->free_ns = r->free_seq * 10;
  }
  qsort(t, NROWS, sizeof *t, by_free);
  for (int k = 0; k < swaps; k++) {
    int i = (k * 7919) % (NROWS - 1);
    TRow tmp = t[i];
    t[i] = t[i + 1];
    t[i + 1] = tmp;
  }
  LrAggSort *s = lr_aggsort_new(8);
  CU_ASSERT_FATAL(s != NULL);
  for (int i = 0; i < NROWS; i++) lr_aggsort_put(s, &t[i].r, 1000, 50);
  CU_ASSERT_EQUAL_FATAL(lr_aggsort_finish(s), 0);
  uint64_t kept, spilled;
  lr_aggsort_counts(s, &kept, &spilled);
  CU_ASSERT(kept > 0);
  CU_ASSERT(spilled > 0);
  CU_ASSERT_EQUAL(kept + spilled, NROWS);
  /* back to id order to find each row by id */
  TRow *byid = calloc(NROWS, sizeof *byid);
  CU_ASSERT_FATAL(byid != NULL);
  for (int i = 0; i < NROWS; i++) byid[t[i].r.id - 1] = t[i];
  LrAggRow row;
  int n = 0, bad = 0, rc;
  int64_t pseq = -1, pid = -1;
  while ((rc = lr_aggsort_next(s, &row)) == 1) {
    n++;
    if (row.alloc_seq < pseq || (row.alloc_seq == pseq && row.id <= pid)) bad++;
    pseq = row.alloc_seq;
    pid = row.id;
    int64_t i = row.id - 1000 - 1;
    if (i < 0 || i >= NROWS || byid[i].seen) {
      bad++;
      continue;
    }
    byid[i].seen = 1;
    const LrLifeRow *r = &byid[i].r;
    int ok = row.size == (int64_t)r->size && row.alloc_seq == (int64_t)r->alloc_seq &&
             row.alloc_ns == (int64_t)r->alloc_ns && row.freed == (r->free_kind != NULL) &&
             (!row.freed ||
              (row.free_seq == (int64_t)r->free_seq && row.free_ns == (int64_t)r->free_ns)) &&
             row.tid == r->tid && row.stack_id == (r->stack ? (int64_t)r->stack + 50 : -1) &&
             row.region == (int)r->region && (row.file != NULL) == (r->file != NULL) &&
             (!r->file || (!strcmp(row.file, r->file) && row.has_offset &&
                           row.file_offset == (int64_t)r->file_offset));
    if (!ok) bad++;
  }
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_EQUAL(n, NROWS);
  CU_ASSERT_EQUAL(bad, 0);
  lr_aggsort_free(s);
  free(byid);
  free(t);
}

static void test_sorter_in_order(void) { sort_rows(0); }
static void test_sorter_out_of_order(void) { sort_rows(500); }

/* A process's spool: two threads, blocks that live a few seqs, blocks
** that live past the importer's window (LR_AGGSORT_WINDOW), leaks,
** reallocs, a file mapping, an anonymous one, markers. */
static void busy_spool(Gen *g, uint32_t pid, uint64_t start, uint64_t n) {
  gen_init(g, 1 << 16);
  gen_header(g)->pid = pid;
  gen_header(g)->start_realtime_ns = start;
  GW w[2];
  gw_init(&w[0], g, pid);
  gw_init(&w[1], g, pid + 1);
  uint64_t ips[3] = {0x1000, 0x2000, 0x3000};
  for (uint64_t s = 1; s <= 5; s++) gw_stack(&w[s % 2], s, 3, ips);
  uint64_t seq = 0;
  gw_mmap(&w[0], ++seq, 0x7f0000000000, 1 << 20, 1, 1, 2, 8192, "/data/model.bin");
  gw_mmap(&w[1], ++seq, 0x7f1000000000, 1 << 16, 2, 3, 0x22, 0, NULL);
  for (uint64_t i = 0; seq < n; i++) {
    GW *t = &w[i % 2];
    uint64_t addr = 0x10000000 + (i % 64) * 4096 + (i % 2) * 0x1000000;
    if (i % 5000 == 0) gw_mark(t, ++seq, i % 10000 ? "step" : "layer");
    /* every 1000th: a block outside the ring, freed 40000 iterations
    ** (about 88000 seqs) later, or never (every third) */
    if (i % 1000 == 0) gw_alloc(t, LR_EV_MALLOC, ++seq, 0x50000000 + i * 16, 5000 + i, 4);
    if (i % 1000 == 0 && i >= 40000 && ((i - 40000) / 1000) % 3 != 0)
      gw_free(t, ++seq, 0x50000000 + (i - 40000) * 16);
    if (i >= 64) {
      if (i % 7 == 0) { /* the ring's block grows in place */
        gw_realloc(t, seq + 2, addr, 300 + i % 90, 3, addr, seq + 1);
        seq += 2;
        continue;
      }
      gw_free(t, ++seq, addr);
    }
    gw_alloc(t, LR_EV_MALLOC, ++seq, addr, 16 + (i * 37) % 200, 1 + i % 5);
  }
  gw_munmap(&w[0], ++seq, 0x7f0000000000, 1 << 19);
}

/* temp.`tab` (built with SQL) and main.`tab` of process `proc` hold the
** same rows. */
static void same_table(sqlite3 *db, const char *tab, int64_t proc) {
  sqlite3_stmt *st;
  char *q = sqlite3_mprintf("SELECT group_concat(name, ', ') FROM pragma_table_info('%q', 'temp')",
                            tab);
  CU_ASSERT_FATAL(sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK);
  sqlite3_free(q);
  CU_ASSERT_FATAL(sqlite3_step(st) == SQLITE_ROW);
  char *cols = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  q = sqlite3_mprintf("SELECT (SELECT count(*) FROM temp.%s), (SELECT count(*) FROM main.%s "
                      "WHERE process_id = %lld), (SELECT count(*) FROM (SELECT %s FROM temp.%s "
                      "EXCEPT SELECT %s FROM main.%s WHERE process_id = %lld))",
                      tab, tab, (long long)proc, cols, tab, cols, tab, (long long)proc);
  CU_ASSERT_FATAL(sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK);
  sqlite3_free(q);
  sqlite3_free(cols);
  CU_ASSERT_FATAL(sqlite3_step(st) == SQLITE_ROW);
  int64_t a = sqlite3_column_int64(st, 0), b = sqlite3_column_int64(st, 1);
  if (a != b || sqlite3_column_int64(st, 2) != 0)
    fprintf(stderr, "%s of process %lld: %lld rows by SQL, %lld from the merge, %lld differ\n",
            tab, (long long)proc, (long long)a, (long long)b,
            (long long)sqlite3_column_int64(st, 2));
  CU_ASSERT_EQUAL(a, b);
  CU_ASSERT_EQUAL(sqlite3_column_int64(st, 2), 0);
  sqlite3_finalize(st);
}

static void test_merge_aggregates_equal_sql(void) {
  const char *dir = ti_dir();
  Gen g;
  LrRunSpool sp[2];
  memset(sp, 0, sizeof sp);
  for (int k = 0; k < 2; k++) {
    busy_spool(&g, 300 + 10 * (uint32_t)k, 1000 + (uint64_t)k, k ? 20000 : 200000);
    snprintf(sp[k].path, sizeof sp[k].path, "%s/p%d.spool", dir, k);
    sp[k].pid = 300 + 10 * (uint64_t)k;
    CU_ASSERT_EQUAL_FATAL(gen_write(&g, sp[k].path, SIZE_MAX), 0);
    gen_free(&g);
  }
  char db_path[4200];
  snprintf(db_path, sizeof db_path, "%s/agg.db", dir);
  LrErr err;
  LrImportOpts opts = {.no_symbolize = 1};
  CU_ASSERT_EQUAL_FATAL(lr_import_run(sp, 2, db_path, &opts, NULL, &err), 0);
  /* long-lived rows, leaks and both processes' id offsets are there */
  CU_ASSERT(lrt_sql_int(db_path, "SELECT count(*) FROM allocations WHERE process_id = 1 AND "
                                 "free_seq - alloc_seq > 65536") > 0);
  CU_ASSERT(lrt_sql_int(db_path, "SELECT count(*) FROM allocations WHERE process_id = 1 AND "
                                 "free_seq IS NULL") >= 64 + 20);
  /* the file mapping, then its second half after the munmap of the first */
  CU_ASSERT_EQUAL(lrt_sql_int(db_path, "SELECT count(*) FROM agg_maps WHERE process_id = 1 AND "
                                       "file = '/data/model.bin'"), 2);
  CU_ASSERT_EQUAL(lrt_sql_int(db_path, "SELECT file_offset FROM agg_maps WHERE process_id = 1 "
                                       "AND free_seq IS NULL"), 8192 + 524288);
  CU_ASSERT(lrt_sql_int(db_path, "SELECT min(id) FROM allocations WHERE process_id = 2") >
            lrt_sql_int(db_path, "SELECT max(id) FROM allocations WHERE process_id = 1"));
  static const char *const tabs[] = {"agg_info", "agg_checkpoints", "agg_timeline", "agg_phases",
                                     "agg_stacks", "agg_largest", "agg_maps"};
  for (int64_t proc = 1; proc <= 2; proc++) {
    sqlite3 *db;
    CU_ASSERT_FATAL(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    char *q = sqlite3_mprintf(
        "CREATE TEMP VIEW allocations AS SELECT * FROM main.allocations WHERE process_id = %lld;"
        "CREATE TEMP VIEW markers AS SELECT * FROM main.markers WHERE process_id = %lld;",
        (long long)proc, (long long)proc);
    CU_ASSERT_FATAL(sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_free(q);
    /* the aggregates read back with SQL, all in temp */
    CU_ASSERT_EQUAL_FATAL(lr_agg_build_temp(db, db_path, 0, &err), 0);
    for (size_t i = 0; i < sizeof tabs / sizeof tabs[0]; i++) same_table(db, tabs[i], proc);
    sqlite3_close(db);
  }
  /* a phase before the first marker and one per marker */
  CU_ASSERT_EQUAL(lrt_sql_int(db_path, "SELECT count(*) FROM agg_phases WHERE process_id = 1"), 21);
  CU_ASSERT_EQUAL(lrt_sql_int(db_path, "SELECT count(*) FROM markers WHERE process_id = 1"), 20);
  /* v3 keeps no agg_live: the block store answers "live at" itself */
  CU_ASSERT_EQUAL(lrt_sql_int(db_path, "SELECT count(*) FROM sqlite_master WHERE name = "
                                       "'agg_live'"), 0);
}

void ti_add_tests_aggsort(CU_pSuite s) {
  CU_add_test(s, "aggsort: every row back once, in order", test_sorter_in_order);
  CU_add_test(s, "aggsort: emitted out of free order", test_sorter_out_of_order);
  CU_add_test(s, "aggregates from the merge equal those read back by SQL",
              test_merge_aggregates_equal_sql);
}
