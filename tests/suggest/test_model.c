/*
** test_model.c: the suggest model on synthetic traces whose bytes are
** known by construction (written with SQL in the trace schema): per-phase
** site bytes, matching sites across runs by stack names, the predicted peak
** of configurations left out (inside and outside the sweep), the phase that
** sets it, budget search, advice figures, and bad sweeps.
*/
#include <CUnit/CUnit.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "memmodel.h"
#include "predict/sitebytes.h"
#include "lowram/suggest.h"

extern const char lr_schema_sql[];

/* The synthetic program: weights W (load, forever), KV cache 512*s*b
** (load, forever), attention scores 16*s^2*b (prefill only), logits
** 1024*b plus 3 temporaries of 4096 B alive at once out of 200 (decode). */
#define W 1000000.0
static double truth_prefill(double s, double b) { return W + 512 * s * b + 16 * s * s * b; }
static double truth_decode(double s, double b) { return W + 512 * s * b + 1024 * b + 3 * 4096; }

/* RSS samples per trace: enough to fit, or one (too sparse). */
static int rss_samples = 25;
/* When set, decode ends by freeing the logits and allocating a 20000 B
** buffer (as stdio does on its first flush), so the decode peak moves from
** the temporaries (batch >= 8) to that buffer (batch < 8). */
static int late_io = 0;

typedef struct Gen {
  sqlite3 *db;
  long seq;
} Gen;

static void exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "sql: %s\n  in %s\n", msg, sql);
    sqlite3_free(msg);
    CU_FAIL("sql");
  }
}

/* Stack ids: 1 weights, 2 kv, 3 scores, 4 logits, 5 temporaries; each
** gets a different id per trace (offset) so matching must use names. */
static long stack_id(int site, int offset) { return site * 7 + offset; }

static long alloc(Gen *g, int site, int offset, long size, const char *region) {
  char sql[512];
  long s = ++g->seq;
  snprintf(sql, sizeof sql,
           "INSERT INTO allocations(kind, region, address, size, alloc_seq, alloc_ns, thread_id, "
           "stack_id) VALUES('malloc', '%s', %ld, %ld, %ld, %ld, 1, %ld)",
           region, s * 4096, size, s, s * 10, stack_id(site, offset));
  exec(g->db, sql);
  return sqlite3_last_insert_rowid(g->db);
}

static void release(Gen *g, long id) {
  char sql[256];
  long s = ++g->seq;
  snprintf(sql, sizeof sql,
           "UPDATE allocations SET free_seq = %ld, free_ns = %ld, free_kind = 'free' WHERE id = %ld",
           s, s * 10, id);
  exec(g->db, sql);
}

static void mark(Gen *g, const char *name) {
  char sql[256];
  long s = ++g->seq;
  snprintf(sql, sizeof sql, "INSERT INTO markers(seq, ns, thread_id, name) VALUES(%ld, %ld, 1, '%s')",
           s, s * 10, name);
  exec(g->db, sql);
}

/* Writes a trace of the synthetic program at (s, b). */
static void make_trace(const char *path, const char *program, double s, double b, int offset,
                       const char *quant) {
  remove(path);
  Gen g = {NULL, 0};
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &g.db), SQLITE_OK);
  exec(g.db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN");
  exec(g.db, lr_schema_sql);
  char sql[1024];
  snprintf(sql, sizeof sql,
           "INSERT INTO meta VALUES('format','lowram-trace'),('schema_version',1),('complete',1),"
           "('argv','[\"/opt/bin/%s\",\"run\"]'),('end_reason','exit'),('end_code',0);"
           "INSERT INTO modules(id, path, base, size, load_seq) VALUES(1, '/opt/bin/%s', 4096, 65536, 0);"
           "INSERT INTO params(seq, ns, name, value_int) VALUES(0, 0, 'seq_len', %ld), (0, 0, 'batch', %ld);"
           "INSERT INTO params(seq, ns, name, value_text) VALUES(0, 0, 'quant', '%s');",
           program, program, (long)s, (long)b, quant);
  exec(g.db, sql);
  const char *fn[7][3] = {{0}, {"load_weights", "model_load", "main"}, {"kv_new", "model_load", "main"},
                          {"attn_scores", "prefill", "main"}, {"logits_new", "decode", "main"},
                          {"scratch_get", "layer_step", "decode"}, {"io_alloc", "flush", "main"}};
  for (int site = 1; site <= 6; site++) {
    long st = stack_id(site, offset);
    snprintf(sql, sizeof sql, "INSERT INTO stacks(id, nframes) VALUES(%ld, 3)", st);
    exec(g.db, sql);
    for (int d = 0; d < 3; d++) {
      /* frame ids and pcs differ per trace as well */
      long fid = st * 10 + d;
      snprintf(sql, sizeof sql,
               "INSERT INTO frames(id, module_id, rel_pc, function) VALUES(%ld, 1, %ld, '%s');"
               "INSERT INTO stack_entries(stack_id, depth, frame_id) VALUES(%ld, %d, %ld)",
               fid, fid * 16 + offset, fn[site][d], st, d, fid);
      exec(g.db, sql);
    }
  }
  mark(&g, "load");
  alloc(&g, 1, offset, (long)W, "anon");
  alloc(&g, 2, offset, (long)(512 * s * b), "heap");
  mark(&g, "prefill");
  long sc = alloc(&g, 3, offset, (long)(16 * s * s * b), "heap");
  release(&g, sc);
  mark(&g, "decode");
  long logits = alloc(&g, 4, offset, (long)(1024 * b), "heap");
  long tmp[3] = {0, 0, 0};
  for (int i = 0; i < 200; i++) {
    if (tmp[i % 3]) release(&g, tmp[i % 3]);
    tmp[i % 3] = alloc(&g, 5, offset, 4096, "heap");
  }
  for (int i = 0; i < 3; i++) release(&g, tmp[i]);
  if (late_io) {
    release(&g, logits);
    alloc(&g, 6, offset, 20000, "heap");
  }
  double peak = fmax(truth_prefill(s, b), truth_decode(s, b));
  for (int i = rss_samples; i > 0; i--) {
    snprintf(sql, sizeof sql,
             "INSERT INTO rss_samples(seq, ns, rss, anon, file, shmem) VALUES(%ld, 0, %.0f, 0, 0, 0)",
             g.seq, peak * 1.25 + 3000000 - (i - 1) * 1000.0);
    exec(g.db, sql);
  }
  exec(g.db, "COMMIT");
  sqlite3_close(g.db);
}

static char *sweep_dir(const char *tag, const double *seqs, int ns, const double *bs, int nb,
                       int fail_run, const char *other_program_run_name) {
  char *dir = lrt_tmpdir(tag);
  char path[4200];
  snprintf(path, sizeof path, "%s/index.tsv", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "# lowram sweep index v1\n# command: fakerun --seq {seq} --batch {batch}\n"
             "run\tseq\tbatch\ttrace\tstatus\n");
  int id = 0;
  for (int i = 0; i < ns; i++)
    for (int j = 0; j < nb; j++) {
      id++;
      char tr[4300];
      snprintf(tr, sizeof tr, "%s/run-%d.db", dir, id);
      if (id != fail_run)
        make_trace(tr, id == 2 && other_program_run_name ? other_program_run_name : "fakerun",
                   seqs[i], bs[j], id, "q8");
      fprintf(f, "%d\t%g\t%g\trun-%d.db\t%s\n", id, seqs[i], bs[j], id, id == fail_run ? "exit 1" : "ok");
    }
  fclose(f);
  return dir;
}

static void test_sitebytes(void) {
  char *dir = lrt_tmpdir("sitebytes");
  char path[4200];
  snprintf(path, sizeof path, "%s/t.db", dir);
  make_trace(path, "fakerun", 128, 2, 3, "q8");
  LrErr err;
  LrSiteBytes *r = lr_sitebytes_read(path, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_STRING_EQUAL(lr_sitebytes_program(r), "fakerun");
  CU_ASSERT_EQUAL(lr_sitebytes_nphases(r), 4); /* (start), load, prefill, decode */
  CU_ASSERT_STRING_EQUAL(lr_sitebytes_phase_name(r, 2), "prefill");
  CU_ASSERT_EQUAL(lr_sitebytes_phase_peak(r, 2), (int64_t)truth_prefill(128, 2));
  CU_ASSERT_EQUAL(lr_sitebytes_phase_peak(r, 3), (int64_t)truth_decode(128, 2));
  CU_ASSERT_EQUAL(lr_sitebytes_peak(r), (int64_t)truth_prefill(128, 2));
  int64_t v;
  CU_ASSERT_EQUAL(lr_sitebytes_param_int(r, "seq_len", &v), 0);
  CU_ASSERT_EQUAL(v, 128);
  CU_ASSERT_STRING_EQUAL(lr_sitebytes_param_text(r, "quant"), "q8");
  /* sites by name; the decode peak holds 3 temporaries out of 200 */
  int found = 0;
  for (int s = 0; s < lr_sitebytes_nsites(r); s++) {
    if (!strcmp(lr_sitebytes_site_key(r, s), "scratch_get;layer_step;decode")) {
      found = 1;
      CU_ASSERT_EQUAL(lr_sitebytes_bytes(r, 3, s), 3 * 4096);
      CU_ASSERT_EQUAL(lr_sitebytes_blocks(r, 3, s), 3);
      CU_ASSERT_EQUAL(lr_sitebytes_site_allocs(r, s), 200);
      CU_ASSERT_EQUAL(lr_sitebytes_site_max_block(r, s), 4096);
    }
    if (!strcmp(lr_sitebytes_site_key(r, s), "attn_scores;prefill;main")) {
      CU_ASSERT_EQUAL(lr_sitebytes_bytes(r, 2, s), 16 * 128 * 128 * 2);
      CU_ASSERT_EQUAL(lr_sitebytes_bytes(r, 3, s), 0);
    }
  }
  CU_ASSERT_TRUE(found);
  lr_sitebytes_free(r);
  /* not a trace */
  snprintf(path, sizeof path, "%s/index.tsv", dir);
  FILE *f = fopen(path, "w");
  fputs("hello\n", f);
  fclose(f);
  CU_ASSERT_PTR_NULL(lr_sitebytes_read(path, &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
  free(dir);
}

static void test_predict_left_out(void) {
  double seqs[] = {64, 128, 256}, bs[] = {1, 2, 4};
  char *dir = sweep_dir("model", seqs, 3, bs, 3, 5 /* seq=128 batch=2 failed */, NULL);
  LrErr err;
  LrSuggest *m = lr_suggest_load(dir, NULL, 0, &err);
  if (!m) fprintf(stderr, "%s\n", err.msg);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(lr_suggest_nruns(m), 8);
  CU_ASSERT_EQUAL(lr_suggest_nparams(m), 2);
  CU_ASSERT_STRING_EQUAL(lr_suggest_program(m), "fakerun");
  int failed_note = 0;
  for (int i = 0; i < lr_suggest_nnotes(m); i++)
    if (strstr(lr_suggest_note(m, i), "run 5 (seq=128 batch=2) failed: exit 1")) failed_note = 1;
  CU_ASSERT_TRUE(failed_note);
  /* left out (128, 2), inside; (1024, 8) and (2048, 1) far outside */
  double pts[][2] = {{128, 2}, {1024, 8}, {2048, 1}, {16, 16}};
  for (size_t i = 0; i < 4; i++) {
    double s = pts[i][0], b = pts[i][1];
    LrSuggestPeak pk;
    lr_suggest_predict(m, pts[i], &pk);
    double want = fmax(truth_prefill(s, b), truth_decode(s, b));
    CU_ASSERT_DOUBLE_EQUAL(pk.heap, want, want * 1e-6);
    const char *ph = lr_suggest_phase_name(m, pk.phase);
    CU_ASSERT_STRING_EQUAL(ph, truth_prefill(s, b) > truth_decode(s, b) ? "prefill" : "decode");
    CU_ASSERT_DOUBLE_EQUAL(pk.rss, want * 1.25 + 3000000, want * 1e-3);
  }
  LrSuggestPeak pk;
  lr_suggest_predict(m, pts[1], &pk);
  CU_ASSERT_TRUE(pk.extrapolated);
  CU_ASSERT_STRING_EQUAL(lr_suggest_rss_method(m), "fitted");
  /* classes of the sites at the prefill peak */
  int ph = -1;
  for (int p = 0; p < lr_suggest_nphases(m); p++)
    if (!strcmp(lr_suggest_phase_name(m, p), "prefill")) ph = p;
  CU_ASSERT_FATAL(ph >= 0);
  int checked = 0;
  for (int s = 0; s < lr_suggest_nsites(m); s++) {
    const char *k = lr_suggest_site_key(m, s);
    LrFitClass c = lr_suggest_fit(m, ph, s)->cls;
    if (!strcmp(k, "load_weights;model_load;main")) checked += c == LR_FIT_CONSTANT;
    if (!strcmp(k, "kv_new;model_load;main")) checked += c == LR_FIT_PER_TOKEN_BATCH;
    if (!strcmp(k, "attn_scores;prefill;main")) checked += c == LR_FIT_QUADRATIC_SEQ;
  }
  CU_ASSERT_EQUAL(checked, 3);
  /* budget search: the largest seq at batch 2 under 64 MiB is the s with
  ** max(prefill, decode) <= limit < at s + 1 */
  double limit = 64.0 * 1048576, x[2] = {0, 2}, best;
  CU_ASSERT_EQUAL(lr_suggest_largest(m, x, 0, limit, 1048576, &best), 1);
  CU_ASSERT_TRUE(fmax(truth_prefill(best, 2), truth_decode(best, 2)) <= limit);
  CU_ASSERT_TRUE(fmax(truth_prefill(best + 1, 2), truth_decode(best + 1, 2)) > limit);
  /* below the constant part nothing fits */
  CU_ASSERT_EQUAL(lr_suggest_largest(m, x, 0, 900000, 1048576, &best), 0);
  double at[2] = {512, 4};
  CU_ASSERT_DOUBLE_EQUAL(lr_suggest_constant_part(m, at), W, 1);
  /* advice: figures equal the model's own differences */
  LrAdvice adv[16];
  int n = lr_suggest_advise(m, at, 0, adv, 16);
  CU_ASSERT_TRUE(n >= 4);
  double p0 = fmax(truth_prefill(512, 4), truth_decode(512, 4));
  int seen_seq = 0, seen_ubatch = 0, seen_quant = 0;
  for (int i = 0; i < n; i++) {
    if (i) CU_ASSERT_TRUE(adv[i - 1].saved >= adv[i].saved);
    if (adv[i].kind == LR_ADVICE_SEQ) {
      seen_seq = 1;
      CU_ASSERT_DOUBLE_EQUAL(adv[i].saved, p0 - fmax(truth_prefill(256, 4), truth_decode(256, 4)), 1);
    }
    if (adv[i].kind == LR_ADVICE_CHUNK_PREFILL) {
      seen_ubatch = 1; /* no chunk parameter: a quarter of the prompt, scores * 3/4 */
      CU_ASSERT_EQUAL(adv[i].to, 128);
      CU_ASSERT_DOUBLE_EQUAL(adv[i].saved, 16.0 * 512 * 512 * 4 * 0.75, 1);
    }
    if (adv[i].kind == LR_ADVICE_QUANT_WEIGHTS) {
      seen_quant = 1; /* recorded q8: q8 -> q4 */
      CU_ASSERT_DOUBLE_EQUAL(adv[i].saved, W * (1 - 4.5 / 8.5), 1);
      CU_ASSERT_EQUAL(adv[i].from_bits, 8.5); /* q8 -> q4, from the recorded format */
      CU_ASSERT_EQUAL(adv[i].to_bits, 4.5);
      CU_ASSERT_TRUE(adv[i].evidence & LR_EVIDENCE_ANNOTATION);
      CU_ASSERT_TRUE(adv[i].evidence & LR_EVIDENCE_RECORDED_TYPE);
      CU_ASSERT_STRING_EQUAL(lr_suggest_site_key(m, adv[i].site), "load_weights;model_load;main");
    }
  }
  CU_ASSERT_TRUE(seen_seq && seen_ubatch && seen_quant);
  /* where decode sets the peak, its 3 live temporaries could be one */
  double small[2] = {8, 16};
  n = lr_suggest_advise(m, small, 0, adv, 16);
  int seen_reuse = 0;
  for (int i = 0; i < n; i++)
    if (adv[i].kind == LR_ADVICE_REUSE) {
      seen_reuse = 1;
      CU_ASSERT_DOUBLE_EQUAL(adv[i].saved, 2 * 4096, 1e-6);
      CU_ASSERT_STRING_EQUAL(lr_suggest_site_key(m, adv[i].site), "scratch_get;layer_step;decode");
      CU_ASSERT_EQUAL(adv[i].allocs, 200);
      CU_ASSERT_EQUAL(adv[i].live_blocks, 3);
      CU_ASSERT_EQUAL(adv[i].max_block, 4096);
      CU_ASSERT_STRING_EQUAL(lr_suggest_phase_name(m, adv[i].phase), "decode");
    }
  CU_ASSERT_TRUE(seen_reuse);
  /* rule of thumb: 0.4 * 64 MiB / (3 * 512 * 4) */
  LrRuleOfThumb rot;
  double at2[2] = {512, 1};
  CU_ASSERT_EQUAL(lr_suggest_rule_of_thumb(m, at2, 64.0 * 1048576, &rot), 0);
  CU_ASSERT_DOUBLE_EQUAL(rot.batch, floor(0.4 * 64 * 1048576 / (3 * 2048.0)), 0);
  CU_ASSERT_TRUE(rot.predicted.heap > 64.0 * 1048576); /* the guess does not fit */
  /* the emitted model, read by qrun's reader, predicts the same peaks */
  char path[4200], msg[512];
  snprintf(path, sizeof path, "%s/model.txt", dir);
  CU_ASSERT_EQUAL(lr_suggest_emit(m, path, 15, &err), 0);
  QrMemModel *mm = qr_memmodel_load(path, msg, sizeof msg);
  if (!mm) fprintf(stderr, "%s\n", msg);
  CU_ASSERT_PTR_NOT_NULL_FATAL(mm);
  CU_ASSERT_DOUBLE_EQUAL(qr_memmodel_margin(mm), 0.15, 1e-12);
  for (size_t i = 0; i < 4; i++) {
    LrSuggestPeak p1;
    int ph;
    lr_suggest_predict(m, pts[i], &p1);
    CU_ASSERT_DOUBLE_EQUAL(qr_memmodel_peak(mm, pts[i], &ph), p1.heap, p1.heap * 1e-9);
    CU_ASSERT_STRING_EQUAL(qr_memmodel_phase_name(mm, ph), lr_suggest_phase_name(m, p1.phase));
  }
  qr_memmodel_free(mm);
  lr_suggest_free(m);
  free(dir);
}

static void test_bad_sweeps(void) {
  double seqs[] = {64, 128}, bs[] = {1, 2};
  LrErr err;
  char *dir = sweep_dir("mixed", seqs, 2, bs, 2, 0, "otherprog");
  CU_ASSERT_PTR_NULL(lr_suggest_load(dir, NULL, 0, &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "different programs"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "otherprog"));
  free(dir);
  /* batch never changes: a note, and batch is no parameter of the model */
  double one[] = {2};
  double seq3[] = {64, 128, 256};
  rss_samples = 1;
  dir = sweep_dir("const", seq3, 3, one, 1, 0, NULL);
  rss_samples = 25;
  LrSuggest *m = lr_suggest_load(dir, NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(lr_suggest_nparams(m), 1);
  int noted = 0;
  for (int i = 0; i < lr_suggest_nnotes(m); i++)
    noted |= strstr(lr_suggest_note(m, i), "batch never changes (always 2)") != NULL;
  CU_ASSERT_TRUE(noted);
  double x = 512;
  LrSuggestPeak pk;
  lr_suggest_predict(m, &x, &pk);
  CU_ASSERT_DOUBLE_EQUAL(pk.heap, truth_prefill(512, 2), 1);
  /* one RSS sample a run: heap + the median RSS-heap gap (the seq=128 run) */
  CU_ASSERT_DOUBLE_EQUAL(pk.rss, pk.heap + truth_prefill(128, 2) * 0.25 + 3000000, 1);
  CU_ASSERT_STRING_EQUAL(lr_suggest_rss_method(m), "heap + median gap");
  lr_suggest_free(m);
  /* --fix to a value no run has */
  LrSuggestFix fx = {"seq", "999"};
  CU_ASSERT_PTR_NULL(lr_suggest_load(dir, &fx, 1, &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no run matches --fix"));
  free(dir);
  /* every run failed */
  dir = sweep_dir("allfail", seqs, 1, one, 1, 1, NULL);
  CU_ASSERT_PTR_NULL(lr_suggest_load(dir, NULL, 0, &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no usable run (failed: 1)"));
  free(dir);
}

/* A text parameter that varies must be pinned with --fix; then the runs
** with that value make the model. */
static void test_text_param(void) {
  char *dir = lrt_tmpdir("textparam");
  char path[4200];
  snprintf(path, sizeof path, "%s/index.tsv", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "# lowram sweep index v1\nrun\tseq\tquant\ttrace\tstatus\n");
  const double seqs[] = {64, 128, 256};
  int id = 0;
  for (int q = 0; q < 2; q++)
    for (int i = 0; i < 3; i++) {
      char tr[4300];
      snprintf(tr, sizeof tr, "%s/run-%d.db", dir, ++id);
      make_trace(tr, "fakerun", seqs[i], 1, id, q ? "q4" : "q8");
      fprintf(f, "%d\t%g\t%s\trun-%d.db\tok\n", id, seqs[i], q ? "q4" : "q8", id);
    }
  fclose(f);
  LrErr err;
  CU_ASSERT_PTR_NULL(lr_suggest_load(dir, NULL, 0, &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "parameter quant is not a number"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--fix quant=VALUE"));
  LrSuggestFix fx = {"quant", "q4"};
  LrSuggest *m = lr_suggest_load(dir, &fx, 1, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(lr_suggest_nruns(m), 3);
  CU_ASSERT_EQUAL(lr_suggest_nparams(m), 1);
  CU_ASSERT_STRING_EQUAL(lr_suggest_recorded_text(m, "quant"), "q4");
  lr_suggest_free(m);
  LrSuggestFix bad = {"nope", "1"};
  CU_ASSERT_PTR_NULL(lr_suggest_load(dir, &bad, 1, &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "has no parameter nope"));
  free(dir);
}

/* The decode peak moves between runs (temporaries at batch >= 8, the late
** buffer below): each run's peak event becomes a moment of its own, and
** the prediction is exact on both sides of the switch. */
static void test_moving_peak(void) {
  double seqs[] = {4, 8, 16}, bs[] = {1, 4, 8, 16};
  late_io = 1;
  char *dir = sweep_dir("moving", seqs, 3, bs, 4, 0, NULL);
  late_io = 0;
  LrErr err;
  LrSuggest *m = lr_suggest_load(dir, NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  int moments = 0;
  for (int ph = 0; ph < lr_suggest_nphases(m); ph++)
    moments += !strcmp(lr_suggest_phase_name(m, ph), "decode");
  CU_ASSERT_EQUAL(moments, 2);
  for (int i = 0; i < lr_suggest_nnotes(m); i++)
    CU_ASSERT_PTR_NULL(strstr(lr_suggest_note(m, i), "irregular"));
  double pts[][2] = {{12, 2}, {12, 12}, {32, 32}, {6, 5}};
  for (size_t i = 0; i < 4; i++) {
    double s = pts[i][0], b = pts[i][1], best = 0;
    for (int ph = 0; ph < lr_suggest_nphases(m); ph++) {
      if (strcmp(lr_suggest_phase_name(m, ph), "decode")) continue;
      double sum = 0;
      for (int k = 0; k < lr_suggest_nsites(m); k++) sum += lr_suggest_site_at(m, ph, k, pts[i]);
      if (sum > best) best = sum;
    }
    double want = fmax(W + 512 * s * b + 20000, truth_decode(s, b));
    CU_ASSERT_DOUBLE_EQUAL(best, want, 1e-6 * want);
  }
  lr_suggest_free(m);
  free(dir);
}

static void test_single_trace(void) {
  char *dir = lrt_tmpdir("single");
  char path[4200];
  snprintf(path, sizeof path, "%s/t.db", dir);
  make_trace(path, "fakerun", 100, 3, 0, "f32");
  LrErr err;
  LrSuggest *m = lr_suggest_load(path, NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_TRUE(lr_suggest_is_estimate(m));
  CU_ASSERT_EQUAL(lr_suggest_nparams(m), 2);
  /* at the recorded point the estimate is the measurement */
  double x[2] = {100, 3};
  LrSuggestPeak pk;
  lr_suggest_predict(m, x, &pk);
  CU_ASSERT_DOUBLE_EQUAL(pk.heap, truth_prefill(100, 3), 1);
  /* the KV cache (512*s*b) is a multiple of s*b: it doubles with batch */
  x[1] = 6;
  lr_suggest_predict(m, x, &pk);
  CU_ASSERT_TRUE(pk.heap >= truth_prefill(100, 3) + 512 * 100 * 3 - 1);
  lr_suggest_free(m);
  free(dir);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("model", NULL, NULL);
  CU_add_test(s, "per-phase site bytes of one trace", test_sitebytes);
  CU_add_test(s, "predictions of configurations left out", test_predict_left_out);
  CU_add_test(s, "bad sweeps", test_bad_sweeps);
  CU_add_test(s, "single trace estimates", test_single_trace);
  CU_add_test(s, "text parameters and --fix", test_text_param);
  CU_add_test(s, "a phase whose peak moves", test_moving_peak);
  return lrt_main();
}
