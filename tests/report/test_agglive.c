/*
** test_agglive.c: the agg_live writer (agglive.h). lr_agg_build spools each
** level's rows to a temporary file and appends the levels in key order;
** these tests check that what comes out is exactly the rows that went in:
** every level, NULL frees, negative and extreme values (the varint deltas
** must round-trip any int64), more rows than one insert batch, and a level
** whose rows arrive interleaved with the others'.
*/
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "query/agg.h"
#include "query/agglive.h"
#include "lrtest.h"
#include "tbuild.h"

static char *dir;

static int64_t one_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = INT64_MIN;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return v;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* agg_live after lr_agg_build equals the rows computed in SQL from
** allocations (level by lifetime, file mappings left out). */
static void test_build_matches_allocations(void) {
  char path[600];
  snprintf(path, sizeof path, "%s/live.db", dir);
  sqlite3 *db = tb_create(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  /* one of each level, lifetimes just under and at each 16^(L+1) edge */
  int64_t seq = 10;
  for (int l = 0; l < LR_AGG_LEVELS - 1; l++) {
    int64_t span = (int64_t)1 << (4 * (l + 1));
    tb_alloc(db, "heap", 100 + l, seq, seq + span - 1, 1, 1);
    tb_alloc(db, "anon", 200 + l, seq + 1, seq + 1 + span, 1, -1);
    seq += 2;
  }
  tb_alloc(db, "heap", 7, seq, -1, 2, 3);                       /* never freed */
  tb_alloc(db, "heap", -5, seq + 1, seq - 2, 2, 3);              /* freed "before" */
  tb_alloc(db, "heap", (int64_t)1 << 62, seq + 2, -1, 2, INT64_MAX); /* absurd size */
  tb_map_file(db, "/w.bin", 4096, seq + 3, -1, 1, 1);            /* not in agg_live */
  seq += 4;
  /* 1000 short-lived blocks (several batches) interleaved with long ones */
  for (int i = 0; i < 1000; i++, seq += 3) {
    tb_alloc(db, "heap", 1000 + i, seq, seq + 2, 1 + i % 3, i % 7);
    if (i % 10 == 0) tb_alloc(db, "heap", 32, seq + 1, seq + 1 + 5000, 1, 2);
  }
  CU_ASSERT_EQUAL_FATAL(tb_finish(db, path, 1), 0);

  CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
  static const char expect[] =
      "SELECT CASE WHEN free_seq IS NULL THEN 7 WHEN free_seq - alloc_seq < 16 THEN 0"
      " WHEN free_seq - alloc_seq < 256 THEN 1 WHEN free_seq - alloc_seq < 4096 THEN 2"
      " WHEN free_seq - alloc_seq < 65536 THEN 3 WHEN free_seq - alloc_seq < 1048576 THEN 4"
      " WHEN free_seq - alloc_seq < 16777216 THEN 5"
      " WHEN free_seq - alloc_seq < 268435456 THEN 6 ELSE 7 END,"
      " alloc_seq, id, size, coalesce(stack_id, -1), free_seq"
      " FROM allocations WHERE region != 'file'";
  char sql[2048];
  int64_t n = one_int(db, "SELECT count(*) FROM allocations WHERE region != 'file'");
  CU_ASSERT_EQUAL(n, 14 + 3 + 1000 + 100);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM agg_live"), n);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT SELECT * FROM agg_live)", expect);
  CU_ASSERT_EQUAL(one_int(db, sql), 0);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT * FROM agg_live EXCEPT %s)", expect);
  CU_ASSERT_EQUAL(one_int(db, sql), 0);
  /* hand-checked corners */
  CU_ASSERT_EQUAL(one_int(db, "SELECT lvl FROM agg_live WHERE size = 100"), 0);
  CU_ASSERT_EQUAL(one_int(db, "SELECT lvl FROM agg_live WHERE size = 200"), 1);
  CU_ASSERT_EQUAL(one_int(db, "SELECT lvl FROM agg_live WHERE size = 206"), 7);
  CU_ASSERT_EQUAL(one_int(db, "SELECT lvl FROM agg_live WHERE size = -5"), 0);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM agg_live WHERE size = 7 AND lvl = 7 "
                              "AND free_seq IS NULL AND stack_id = 3"), 1);
  CU_ASSERT_EQUAL(one_int(db, "SELECT stack_id FROM agg_live WHERE size = 4611686018427387904"),
                  INT64_MAX);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM agg_live WHERE lvl = 3"), 100 + 2);
  sqlite3_close(db);
}

/* The writer alone, with values no trace would hold: every int64 edge
** must survive the zigzag varint deltas. */
static void test_extremes_round_trip(void) {
  sqlite3 *db;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &db), SQLITE_OK);
  tb_exec(db, "CREATE TABLE agg_live(lvl INTEGER, alloc_seq INTEGER, id INTEGER, size INTEGER,"
              " stack_id INTEGER, free_seq INTEGER, PRIMARY KEY(lvl, alloc_seq, id))"
              " WITHOUT ROWID");
  LrErr err = {{0}};
  LrAggLive *w = lr_agglive_new(db, "main", 0, "mem", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  const int64_t v[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, 127, 128, INT64_MAX - 1, INT64_MAX};
  const size_t nv = sizeof v / sizeof v[0];
  int64_t sum_size = 0, rows = 0;
  /* per level, alloc_seq ascending (the writer's contract); ids jump around */
  for (size_t i = 0; i < nv; i++) {
    for (int l = 0; l < LR_AGG_LEVELS; l++) {
      int64_t id = v[(i + (size_t)l) % nv], size = v[(i * 7 + (size_t)l) % nv] / 1024;
      int64_t fseq = l == 3 ? -1 : v[(i * 5 + 1) % nv];
      fseq = fseq < 0 ? -1 : fseq;
      CU_ASSERT_EQUAL_FATAL(lr_agglive_add(w, l, v[i], id, size, v[nv - 1 - i], fseq), 0);
      sum_size += size;
      rows++;
    }
  }
  CU_ASSERT_EQUAL_FATAL(lr_agglive_finish(w), 0);
  lr_agglive_free(w);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM agg_live"), rows);
  CU_ASSERT_EQUAL(one_int(db, "SELECT sum(size) FROM agg_live"), sum_size);
  CU_ASSERT_EQUAL(one_int(db, "SELECT count(*) FROM agg_live WHERE lvl = 3 AND free_seq IS NULL"),
                  (int64_t)nv);
  CU_ASSERT_EQUAL(one_int(db, "SELECT id FROM agg_live WHERE lvl = 0 AND alloc_seq = "
                              "-9223372036854775808"),
                  INT64_MIN);
  CU_ASSERT_EQUAL(one_int(db, "SELECT stack_id FROM agg_live WHERE lvl = 5 AND alloc_seq = "
                              "9223372036854775807"),
                  INT64_MIN);
  CU_ASSERT_EQUAL(one_int(db, "SELECT free_seq FROM agg_live WHERE lvl = 0 AND alloc_seq = 0"),
                  INT64_MAX - 1);
  sqlite3_close(db);
}

int main(void) {
  dir = lrt_tmpdir("agglive");
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("agglive", NULL, NULL);
  CU_add_test(s, "agg_live equals the allocations it indexes", test_build_matches_allocations);
  CU_add_test(s, "int64 extremes round-trip", test_extremes_round_trip);
  int rc = lrt_main();
  return rc;
}
