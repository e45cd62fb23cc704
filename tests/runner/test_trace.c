/*
** test_trace.c: qrun recorded by `lowram record` ($LOWRAM_BIN): the bytes
** the trace attributes to each qrun allocation site equal the sizing
** formulas of runner/forward.h, computed here by hand for the model used,
** and the run's parameters and phases are in the trace.
*/
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"

static char *g_dir;

static char *path_in(const char *name) { return lrt_path_in(g_dir, name); }

/* Bytes allocated by the function `fn` (innermost program frame) over the
** run, and the largest single allocation there. */
static int64_t site_sum(const char *db, const char *fn, const char *agg) {
  char sql[1024];
  snprintf(sql, sizeof sql,
           "SELECT coalesce(%s(a.size), 0) FROM allocations a JOIN stack_entries e ON "
           "e.stack_id = a.stack_id AND e.depth = 0 JOIN frames f ON f.id = e.frame_id "
           "WHERE f.function = '%s'", agg, fn);
  return lrt_sql_int(db, sql);
}

static int record(const char *db, char *const qargs[]) {
  char *argv[48];
  int n = 0;
  argv[n++] = (char *)lrt_env("LOWRAM_BIN");
  argv[n++] = "record";
  argv[n++] = "-o";
  argv[n++] = (char *)db;
  argv[n++] = "--";
  argv[n++] = (char *)lrt_env("QRUN_BIN");
  for (int i = 0; qargs[i] && n < 47; i++) argv[n++] = qargs[i];
  argv[n] = NULL;
  return lrt_run(argv, NULL, path_in("rec.out"), path_in("rec.err"));
}

/* dim 64, hidden 192, 2 layers, 4 heads, 2 kv heads (kv_dim 32), vocab
** 256, max seq 128, Q8_0. */
static void gen(void) {
  char *argv[] = {(char *)lrt_env("QRUN_BIN"), "gen", "-o", path_in("m.qr"), "--dim", "64",
                  "--layers", "2", "--heads", "4", "--kv-heads", "2", "--hidden", "192",
                  "--vocab", "256", "--max-seq", "128", "--quant", "q8", "--unshared", NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(argv, NULL, NULL, NULL), 0);
}

static void test_kv_logits_scores(void) {
  gen();
  /* seq 96, batch 3, prompt 40 in chunks of 16 (16, 16, 8), kv f32. */
  char *db = path_in("a.db");
  char *q[] = {"run", "-m", path_in("m.qr"), "--seq-len", "96", "--batch", "3", "--prompt-len", "40",
               "--ubatch", "16", "--tokens", "4", "--scratch", "malloc", NULL};
  CU_ASSERT_EQUAL_FATAL(record(db, q), 0);
  /* KV: 2 x 2 layers x 3 x 96 x 32 x 4 bytes */
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_kv_cache", "sum"), 2 * 2 * 3 * 96 * 32 * 4);
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_kv_cache", "count"), 2);
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_logits", "sum"), 3 * 256 * 4);
  /* Scores per chunk: 3 x len x 4 heads x ctx x 4: (16,16), (16,32), (8,40). */
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_prefill_scores", "max"), 3 * 16 * 4 * 32 * 4);
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_prefill_scores", "sum"),
                  3 * 4 * 4 * (16 * 16 + 16 * 32 + 8 * 40));
  /* Activations: rows x (4 x 64 + 2 x 32) x 4; prefill rows 3 x 16. */
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_prefill_acts", "sum"), 48 * 320 * 4);
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_decode_acts", "sum"), 3 * 320 * 4);
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_decode_scores", "sum"), 3 * 4 * 96 * 4);
  /* Scratch per layer per step: 3 prefill chunks x 2 layers + 1 classifier
  ** pass, 3 decode steps x (2 + 1). The biggest: 48 rows x (2 x 192 x 4 +
  ** 6 x 34). */
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_scratch", "count"), 3 * 2 + 1 + 3 * 3);
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_scratch", "max"), 48 * (2 * 192 * 4 + 6 * 34));
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_arena", "count"), 0);
  /* Weights: one file mapping of the whole model. */
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM allocations WHERE region = 'file' "
                                  "AND file LIKE '%m.qr'"), 1);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value_int FROM params WHERE name = 'seq_len'"), 96);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value_int FROM params WHERE name = 'ubatch'"), 16);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM markers WHERE name IN "
                                  "('load', 'prefill', 'decode')"), 3);
  char buf[64];
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(db, "SELECT value_text FROM params WHERE name = 'quant'",
                                      buf, sizeof buf), "q8");
}

static void test_kv_q8_no_mmap_stream(void) {
  char *db = path_in("b.db");
  /* Stream of 5 prompts in batches of 2: three KV caches (2, 2, 1
  ** sequences), each freed before the next batch. q8 KV: 34 bytes per
  ** 32 values. */
  FILE *f = fopen(path_in("in.txt"), "w");
  fputs("one\ntwo\nthree\nfour\nfive\n", f);
  fclose(f);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' record -o '%s' -- '%s' run -m '%s' --stream --batch 2 --seq-len 64 "
           "--kv q8 --no-mmap --tokens 3 < '%s'", lrt_env("LOWRAM_BIN"), db, lrt_env("QRUN_BIN"),
           path_in("m.qr"), path_in("in.txt"));
  char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(argv, NULL, path_in("b.out"), path_in("b.err")), 0);
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_kv_cache", "count"), 6);
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_kv_cache", "sum"), (2 + 2 + 1) * 2 * 2 * 64 * 34);
  CU_ASSERT_EQUAL(site_sum(db, "qr_alloc_kv_cache", "max"), 2 * 2 * 64 * 34);
  /* Never two batches' caches live at once. */
  CU_ASSERT_EQUAL(lrt_sql_int(db,
      "SELECT count(*) FROM allocations a JOIN allocations b ON a.id < b.id "
      "JOIN stack_entries ea ON ea.stack_id = a.stack_id AND ea.depth = 0 "
      "JOIN stack_entries eb ON eb.stack_id = b.stack_id AND eb.depth = 0 "
      "JOIN frames fa ON fa.id = ea.frame_id JOIN frames fb ON fb.id = eb.frame_id "
      "WHERE fa.function = 'qr_alloc_kv_cache' AND fb.function = 'qr_alloc_kv_cache' "
      "AND b.alloc_seq > a.free_seq"), 12); /* pairs from different batches, all disjoint */
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM markers WHERE name LIKE 'batch %'"), 3);
  /* --no-mmap: the weights are one heap block the size of the file. */
  size_t len;
  char *m = lrt_read_file(path_in("m.qr"), &len);
  free(m);
  CU_ASSERT_EQUAL(site_sum(db, "qr_weights_load", "sum"), (int64_t)len);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM allocations WHERE region = 'file'"), 0);
}

int main(void) {
  g_dir = lrt_tmpdir("runner-trace");
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("runner_trace", NULL, NULL);
  CU_add_test(s, "trace: kv, logits, scores = formula", test_kv_logits_scores);
  CU_add_test(s, "trace: q8 kv, --no-mmap, stream batches", test_kv_q8_no_mmap_stream);
  return lrt_main();
}
