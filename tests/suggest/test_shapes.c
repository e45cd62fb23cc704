/*
** test_shapes.c: the shapes foreign programs give, on synthetic sweeps
** written in the trace schema (bytes known by construction):
**   - a V8-like site whose bytes jitter between runs (47, 35, 82 MB over
**     ctx 1024/2048/4096: the fit once drew a square through them) is
**     fitted without a square, marked noisy, and its range is reported;
**     named as V8's page allocator it is pooled as an arena;
**   - advice on a program that is not qrun names no qrun flag and no
**     "weights" without evidence, finds the KV cache from its scaling;
**     qrun gets its flags, a hint file maps them for another runner, and
**     a file mapping is what makes "the weights".
*/
#include <CUnit/CUnit.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "lowram/suggest.h"

extern const char lr_schema_sql[];

typedef struct Tr {
  sqlite3 *db;
  long seq, stack;
} Tr;

static void exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "sql: %s\n  in %s\n", msg, sql);
    sqlite3_free(msg);
    CU_FAIL("sql");
  }
}

static void tr_open(Tr *t, const char *path, const char *program, long ctx, long batch) {
  remove(path);
  memset(t, 0, sizeof *t);
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &t->db), SQLITE_OK);
  exec(t->db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN");
  exec(t->db, lr_schema_sql);
  char sql[1024];
  snprintf(sql, sizeof sql,
           "INSERT INTO meta VALUES('format','lowram-trace'),('schema_version',1),('complete',1),"
           "('argv','[\"/usr/local/bin/%s\"]'),('end_reason','exit'),('end_code',0);"
           "INSERT INTO modules(id, path, base, size, load_seq) VALUES(1, '/usr/local/bin/%s', 4096, 65536, 0);"
           "INSERT INTO params(seq, ns, name, value_int) VALUES(0, 0, 'ctx', %ld);",
           program, program, ctx);
  exec(t->db, sql);
  if (batch > 0) {
    snprintf(sql, sizeof sql, "INSERT INTO params(seq, ns, name, value_int) VALUES(0, 0, 'batch', %ld)", batch);
    exec(t->db, sql);
  }
}

/* One allocation from the stack f0 <- f1 <- main; returns its row id. */
static long tr_alloc(Tr *t, const char *f0, const char *f1, long size, const char *region,
                     const char *file) {
  char sql[1024];
  long st = ++t->stack, s = ++t->seq;
  snprintf(sql, sizeof sql, "INSERT INTO stacks(id, nframes) VALUES(%ld, 3)", st);
  exec(t->db, sql);
  const char *fn[3] = {f0, f1, "main"};
  for (int d = 0; d < 3; d++) {
    snprintf(sql, sizeof sql,
             "INSERT INTO frames(id, module_id, rel_pc, function) VALUES(%ld, 1, %ld, '%s');"
             "INSERT INTO stack_entries(stack_id, depth, frame_id) VALUES(%ld, %d, %ld)",
             st * 4 + d, st * 64 + d, fn[d], st, d, st * 4 + d);
    exec(t->db, sql);
  }
  snprintf(sql, sizeof sql,
           "INSERT INTO allocations(kind, region, address, size, alloc_seq, alloc_ns, thread_id, "
           "stack_id, file) VALUES('%s', '%s', %ld, %ld, %ld, %ld, 1, %ld, %s%s%s)",
           strcmp(region, "heap") ? "mmap" : "malloc", region, s * 65536, size, s, s * 10, st,
           file ? "'" : "", file ? file : "NULL", file ? "'" : "");
  exec(t->db, sql);
  return sqlite3_last_insert_rowid(t->db);
}

static void tr_free(Tr *t, long id) {
  char sql[256];
  long s = ++t->seq;
  snprintf(sql, sizeof sql,
           "UPDATE allocations SET free_seq = %ld, free_ns = %ld, free_kind = 'free' WHERE id = %ld",
           s, s * 10, id);
  exec(t->db, sql);
}

static void tr_close(Tr *t) {
  exec(t->db, "COMMIT");
  sqlite3_close(t->db);
}

/* ---- the V8 shape ---- */
static const double jitter[3] = {47.1e6, 35.5e6, 82.2e6}; /* bytes, run to run (convex: a square fits them) */

static void v8_trace(const char *path, long ctx, int run, int as_v8) {
  Tr t;
  tr_open(&t, path, "node", ctx, 0);
  long kv = tr_alloc(&t, "llama_kv_cache_init", "llama_new_context", 1024 * ctx, "heap", NULL);
  long w = tr_alloc(&t, "ggml_backend_alloc", "llama_model_load", 20000000, "heap", NULL);
  long page = as_v8 ? tr_alloc(&t, "v8::internal::MemoryAllocator::AllocatePage", "v8::internal::Heap::Grow",
                               (long)jitter[run], "anon", NULL)
                    : tr_alloc(&t, "js_heap_grow", "node_start", (long)jitter[run], "heap", NULL);
  long tmp = tr_alloc(&t, "decode_step", "llama_decode", 4096, "heap", NULL);
  tr_free(&t, tmp);
  tr_free(&t, page);
  tr_free(&t, w);
  tr_free(&t, kv);
  tr_close(&t);
}

static char *v8_sweep(const char *tag, int as_v8) {
  char *dir = lrt_tmpdir(tag);
  char path[4200];
  snprintf(path, sizeof path, "%s/index.tsv", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "# lowram sweep index v1\n# command: node run.js {ctx}\nrun\tctx\ttrace\tstatus\n");
  const long ctx[3] = {1024, 2048, 4096};
  for (int i = 0; i < 3; i++) {
    char tr[4300];
    snprintf(tr, sizeof tr, "%s/run-%d.db", dir, i + 1);
    v8_trace(tr, ctx[i], i, as_v8);
    fprintf(f, "%d\t%ld\trun-%d.db\tok\n", i + 1, ctx[i], i + 1);
  }
  fclose(f);
  return dir;
}

static int site_index(const LrSuggest *m, const char *prefix) {
  for (int s = 0; s < lr_suggest_nsites(m); s++)
    if (!strncmp(lr_suggest_site_key(m, s), prefix, strlen(prefix))) return s;
  return -1;
}

static int has_square(const LrFitResult *r) {
  for (int k = 0; k < r->nterms; k++)
    for (int p = 0; p < LR_FIT_MAX_PARAMS; p++)
      if (r->term[k].exp[p] >= 2) return 1;
  return 0;
}

static char *run_lowram(char *const argv[], const char *out) {
  char err[4300];
  snprintf(err, sizeof err, "%s.err", out);
  int rc = lrt_run(argv, NULL, out, err);
  if (rc != 0) {
    char *e = lrt_read_file(err, NULL);
    fprintf(stderr, "exit %d: %s\n", rc, e ? e : "");
    free(e);
    return NULL;
  }
  return lrt_read_file(out, NULL);
}

static void test_v8_jitter(void) {
  char *dir = v8_sweep("v8", 0);
  LrErr err;
  LrSuggest *m = lr_suggest_load(dir, NULL, 0, &err);
  if (!m) fprintf(stderr, "%s\n", err.msg);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  int s = site_index(m, "js_heap_grow"), kv = site_index(m, "llama_kv_cache_init");
  CU_ASSERT_FATAL(s >= 0 && kv >= 0);
  const LrFitResult *r = lr_suggest_fit(m, 0, s);
  CU_ASSERT_FALSE(has_square(r)); /* noise is not curvature */
  CU_ASSERT_TRUE(r->noisy);
  CU_ASSERT_TRUE(r->band > 0);
  /* the KV cache is exact: its range has no width */
  CU_ASSERT_EQUAL(lr_suggest_fit(m, 0, kv)->band, 0);
  CU_ASSERT_EQUAL(lr_suggest_fit(m, 0, kv)->cls, LR_FIT_PER_TOKEN);
  double x[1] = {16384};
  LrSuggestPeak pk;
  lr_suggest_predict(m, x, &pk);
  /* kv 16 MiB + 20 MB + the 4096-byte step + the jittering site, planned
  ** at its largest (82.2 MB: fit.c, at_largest), its range reaching its
  ** smallest (35.5 MB) */
  double base = 1024.0 * 16384 + 20e6 + 4096;
  printf("\n    V8 shape at ctx 16384: predicted %.0f, range %.0f .. %.0f", pk.heap, pk.low, pk.high);
  CU_ASSERT_TRUE(pk.low < pk.heap && pk.heap < pk.high);
  CU_ASSERT_DOUBLE_EQUAL(pk.heap, base + 82.2e6, 0.5);
  CU_ASSERT_TRUE(pk.low <= base + 35.5e6 + 1 && pk.high >= base + 82.2e6 - 1);
  lr_suggest_free(m);
  /* the range in every format */
  char out[4300];
  snprintf(out, sizeof out, "%s/s.txt", dir);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "suggest", dir, "--at", "ctx=16384", NULL};
  char *t = run_lowram(argv, out);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "  range  "));
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "+/- "));
  CU_ASSERT_PTR_NULL(strstr(t, "e+0")); /* numbers for people */
  free(t);
  char *jargv[] = {(char *)lrt_env("LOWRAM_BIN"), "suggest", dir, "--at", "ctx=16384", "--format", "json", NULL};
  t = run_lowram(jargv, out);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"predicted_low\":"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"noisy\":true"));
  free(t);
  char *cargv[] = {(char *)lrt_env("LOWRAM_BIN"), "suggest", dir, "--at", "ctx=16384", "--format", "csv", NULL};
  t = run_lowram(cargv, out);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, ",predicted_heap,predicted_low,predicted_high,"));
  free(t);
  free(dir);
  /* named as V8's page allocator: pooled as an arena, a constant or a line */
  dir = v8_sweep("v8arena", 1);
  m = lr_suggest_load(dir, NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  s = site_index(m, "(arena) V8 heap pages");
  CU_ASSERT_FATAL(s >= 0);
  CU_ASSERT_EQUAL(lr_suggest_site_arena(m, s), LR_ARENA_V8);
  r = lr_suggest_fit(m, 0, s);
  for (int k = 0; k < r->nterms; k++) {
    int deg = 0;
    for (int p = 0; p < LR_FIT_MAX_PARAMS; p++) deg += r->term[k].exp[p];
    CU_ASSERT_TRUE(deg <= 1);
  }
  CU_ASSERT_TRUE(r->band > 0);
  CU_ASSERT_EQUAL(site_index(m, "v8::internal"), -1);
  lr_suggest_free(m);
  free(dir);
}

/* ---- advice ---- */
/* A runner with a KV cache of 1024 B per token per sequence (held to the
** end), a constant 8 MB table, and, when `mapped`, a 30 MB model file
** mapped for the whole run. */
static void adv_trace(const char *path, const char *program, long ctx, long batch, int mapped) {
  Tr t;
  tr_open(&t, path, program, ctx, batch);
  long file = mapped ? tr_alloc(&t, "model_map", "model_open", 30000000, "file", "/models/m.bin") : 0;
  long table = tr_alloc(&t, "dict_load", "init", 8000000, "heap", NULL);
  long kv = tr_alloc(&t, "kv_alloc", "ctx_new", 1024 * ctx * batch, "heap", NULL);
  for (int i = 0; i < 50; i++) tr_free(&t, tr_alloc(&t, "scratch", "step", 512 * batch, "heap", NULL));
  tr_free(&t, kv);
  tr_free(&t, table);
  if (file) tr_free(&t, file);
  tr_close(&t);
}

static char *adv_sweep(const char *tag, const char *program, int mapped) {
  char *dir = lrt_tmpdir(tag);
  char path[4200];
  snprintf(path, sizeof path, "%s/index.tsv", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "# lowram sweep index v1\n# command: %s {ctx} {batch}\nrun\tctx\tbatch\ttrace\tstatus\n",
          program);
  const long ctx[3] = {256, 512, 1024}, b[3] = {1, 2, 4};
  int id = 0;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      char tr[4300];
      snprintf(tr, sizeof tr, "%s/run-%d.db", dir, ++id);
      adv_trace(tr, program, ctx[i], b[j], mapped);
      fprintf(f, "%d\t%ld\t%ld\trun-%d.db\tok\n", id, ctx[i], b[j], id);
    }
  fclose(f);
  return dir;
}

static char *advice_text(const char *dir, const char *hints) {
  char out[4300];
  snprintf(out, sizeof out, "%s/advice.txt", dir);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "suggest", (char *)dir, "--at", "ctx=4096,batch=4",
                  hints ? "--hints" : NULL, (char *)hints, NULL};
  char *t = run_lowram(argv, out);
  const char *a = t ? strstr(t, "\nAdvice at") : NULL;
  char *r = a ? strdup(a) : NULL;
  free(t);
  return r;
}

static void test_advice_evidence(void) {
  char *dir = adv_sweep("adv", "myrunner", 0);
  LrErr err;
  LrSuggest *m = lr_suggest_load(dir, NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  double x[2] = {4096, 4};
  LrAdvice adv[16];
  int n = lr_suggest_advise(m, x, 0, adv, 16), kv = 0;
  for (int i = 0; i < n; i++) {
    /* no weights without evidence: no mapping, no recorded format */
    CU_ASSERT_NOT_EQUAL(adv[i].kind, LR_ADVICE_QUANT_WEIGHTS);
    CU_ASSERT_NOT_EQUAL(adv[i].kind, LR_ADVICE_MMAP);
    if (adv[i].kind == LR_ADVICE_QUANT_KV) {
      kv = 1; /* found from its scaling: per token, per batch, held to the end */
      CU_ASSERT_DOUBLE_EQUAL(adv[i].bytes, 1024.0 * 4096 * 4, 1);
      CU_ASSERT_TRUE(adv[i].evidence & LR_EVIDENCE_PER_TOKEN);
      CU_ASSERT_TRUE(adv[i].evidence & LR_EVIDENCE_PER_BATCH);
      CU_ASSERT_TRUE(adv[i].evidence & LR_EVIDENCE_HELD_TO_END);
    }
  }
  CU_ASSERT_TRUE(kv);
  lr_suggest_free(m);
  char *t = advice_text(dir, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  printf("\n%s", t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "quantize the KV cache"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "KV cache 16.0 MiB"));
  const char *qrun_only[] = {"qrun", "--kv", "--no-mmap", "--ubatch", "weights", NULL};
  for (const char **q = qrun_only; *q; q++) {
    if (strstr(t, *q)) fprintf(stderr, "'%s' in advice for myrunner\n", *q);
    CU_ASSERT_PTR_NULL(strstr(t, *q));
  }
  free(t);
  /* a hint file for this runner maps the advice to its flags */
  char hints[4300];
  snprintf(hints, sizeof hints, "%s/hints", dir);
  FILE *f = fopen(hints, "w");
  fputs("# myrunner's flags\nrunner=myrunner\nkv_quant = --cache-type q8_0\nbatch=-b {to}\n", f);
  fclose(f);
  t = advice_text(dir, hints);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "; with myrunner: --cache-type q8_0\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "; with myrunner: -b 2\n"));
  CU_ASSERT_PTR_NULL(strstr(t, "--kv"));
  free(t);
  /* for another runner the file is not used */
  f = fopen(hints, "w");
  fputs("runner=otherrunner\nkv_quant=--other\n", f);
  fclose(f);
  t = advice_text(dir, hints);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NULL(strstr(t, "--other"));
  free(t);
  free(dir);
  /* the same program called qrun gets qrun's flags */
  dir = adv_sweep("advq", "qrun", 0);
  t = advice_text(dir, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "; with qrun: --kv q8"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "; with qrun: --batch 2"));
  free(t);
  free(dir);
  /* a mapped model file is evidence of weights */
  dir = adv_sweep("advmap", "myrunner", 1);
  m = lr_suggest_load(dir, NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  n = lr_suggest_advise(m, x, 0, adv, 16);
  int w = 0;
  for (int i = 0; i < n; i++)
    if (adv[i].kind == LR_ADVICE_QUANT_WEIGHTS) {
      w = 1;
      CU_ASSERT_TRUE(adv[i].evidence & LR_EVIDENCE_FILE_MAPPING);
      CU_ASSERT_TRUE(adv[i].rss_only);
      CU_ASSERT_DOUBLE_EQUAL(adv[i].bytes, 30000000, 1);
    }
  CU_ASSERT_TRUE(w);
  lr_suggest_free(m);
  t = advice_text(dir, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "the weights (mapped from /models/m.bin) hold 28.6 MiB"));
  CU_ASSERT_PTR_NULL(strstr(t, "dict_load")); /* the table is not called the weights */
  free(t);
  free(dir);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("shapes", NULL, NULL);
  CU_add_test(s, "a jittering site: no square, a range", test_v8_jitter);
  CU_add_test(s, "advice names what the program has", test_advice_evidence);
  return lrt_main();
}
