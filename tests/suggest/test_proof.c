/*
** test_proof.c: the predictions checked against reality. `lowram sweep`
** records qrun (a tiny generated model) over seq x batch; `lowram suggest`
** predicts configurations left out of the sweep, inside and outside the
** swept range; those are then run and recorded, and the measured heap +
** anon peak must be within 5% of the prediction. Twice: a short prompt
** (the KV cache dominates, linear in seq) and a prompt filling the context
** in one prefill chunk (attention scores, quadratic in seq). Then the
** configurations `suggest --budget` says fit are run and must stay under
** the budget. A sweep run that fails is reported and left out.
*/
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "predict/sitebytes.h"

static const char *lowram, *qrun;
static char *dir, model[4200];

static int run_quiet(char *const argv[], const char *out) {
  char err[4300];
  snprintf(err, sizeof err, "%s/last.err", dir);
  int rc = lrt_run(argv, NULL, out ? out : "/dev/null", err);
  if (rc != 0) {
    char *e = lrt_read_file(err, NULL);
    fprintf(stderr, "exit %d: %s ...\n%s\n", rc, argv[0], e ? e : "");
    free(e);
  }
  return rc;
}

/* Measured heap + anon peak of qrun at (seq, batch); prompt = seq when
** full, else 8 tokens. */
static double measure(int seq, int batch, int full) {
  char trace[4300], s[32], b[32], p[32];
  static int n;
  snprintf(trace, sizeof trace, "%s/check-%d.db", dir, ++n);
  snprintf(s, sizeof s, "%d", seq);
  snprintf(b, sizeof b, "%d", batch);
  snprintf(p, sizeof p, "%d", full ? seq : 8);
  char *argv[] = {(char *)lowram, "record", "-o", trace, "--", (char *)qrun, "run", "-m", model,
                  "--seq-len", s, "--prompt-len", p, "--tokens", full ? "1" : "8", "--batch", b,
                  NULL};
  if (run_quiet(argv, NULL) != 0) return -1;
  LrErr err;
  LrSiteBytes *r = lr_sitebytes_read(trace, &err);
  if (!r) {
    fprintf(stderr, "%s\n", err.msg);
    return -1;
  }
  double peak = (double)lr_sitebytes_peak(r);
  lr_sitebytes_free(r);
  return peak;
}

/* The number after "key": in text from `from` on; NAN if absent. */
static double json_num(const char *from, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(from, pat);
  return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* `lowram suggest SWEEP --at seq=S,batch=B [--budget X] --format json`. */
static char *suggest_json(const char *sweep, int seq, int batch, const char *budget) {
  char at[64], out[4300];
  snprintf(at, sizeof at, "seq=%d,batch=%d", seq, batch);
  snprintf(out, sizeof out, "%s/suggest.json", dir);
  char *argv[] = {(char *)lowram, "suggest", (char *)sweep, "--at", at, "--format", "json",
                  budget ? "--budget" : NULL, (char *)budget, NULL};
  if (run_quiet(argv, out) != 0) return NULL;
  return lrt_read_file(out, NULL);
}

static char *sweep(const char *tag, const char *seqs, const char *batches, int full) {
  static char path[4300];
  snprintf(path, sizeof path, "%s/%s", dir, tag);
  char ps[64], pb[64];
  snprintf(ps, sizeof ps, "seq=%s", seqs);
  snprintf(pb, sizeof pb, "batch=%s", batches);
  char *argv[] = {(char *)lowram, "sweep", "--param", ps, "--param", pb, "-o", path, "--",
                  (char *)qrun, "run", "-m", model, "--seq-len", "{seq}", "--prompt-len",
                  full ? "{seq}" : "8", "--tokens", full ? "1" : "8", "--batch", "{batch}", NULL};
  char out[4400], err[4400];
  snprintf(out, sizeof out, "%s.out", path);
  snprintf(err, sizeof err, "%s.err", path);
  int rc = lrt_run(argv, NULL, out, err);
  CU_ASSERT_EQUAL(rc, 0);
  return path;
}

static void check(const char *sw, int seq, int batch, int full, const char *want_phase) {
  char *j = suggest_json(sw, seq, batch, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  double pred = json_num(j, "predicted_heap");
  const char *ph = strstr(j, "\"phase\":\"");
  CU_ASSERT_PTR_NOT_NULL(ph);
  if (ph && want_phase) CU_ASSERT_EQUAL(strncmp(ph + 9, want_phase, strlen(want_phase)), 0);
  double meas = measure(seq, batch, full);
  double rel = fabs(pred - meas) / meas;
  printf("\n    %s seq=%d batch=%d: predicted %.0f, measured %.0f, error %.3f%%", full ? "full-prompt" : "short-prompt",
         seq, batch, pred, meas, 100 * rel);
  CU_ASSERT_TRUE(meas > 0);
  CU_ASSERT_TRUE(rel <= 0.05);
  free(j);
}

static void test_short_prompt(void) {
  /* 2000 exceeds the model's max-seq: those runs fail and are left out */
  const char *sw = sweep("short", "128,256,512,2000", "1,2,4", 0);
  char ix[4400];
  snprintf(ix, sizeof ix, "%s/index.tsv", sw);
  char *t = lrt_read_file(ix, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "10\t2000\t1\trun-10.db\texit "));
  free(t);
  /* a progress line per run on stderr, a summary naming the failures */
  snprintf(ix, sizeof ix, "%s.err", sw);
  t = lrt_read_file(ix, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "[1/12] seq=128 batch=1 ... ok"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "[12/12] seq=2000 batch=4 ... exit "));
  free(t);
  snprintf(ix, sizeof ix, "%s.out", sw);
  t = lrt_read_file(ix, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "9 of 12 runs ok"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "failed: run 11 (seq=2000 batch=2): exit "));
  free(t);
  char *j = suggest_json(sw, 384, 3, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  CU_ASSERT_PTR_NOT_NULL(strstr(j, "run 10 (seq=2000 batch=1) failed"));
  CU_ASSERT_EQUAL(json_num(j, "runs"), 9);
  free(j);
  check(sw, 384, 3, 0, NULL);  /* inside the sweep */
  check(sw, 1024, 6, 0, NULL); /* outside: twice the longest, 1.5x the largest batch */
  check(sw, 1000, 1, 0, NULL);
  /* one of those traces alone: estimates from its recorded parameters; the
  ** KV cache (2 x layers x seq x kv_dim x batch x 4 B) is a multiple of
  ** seq_len * batch and is classed so */
  char trace[4300], out[4300];
  snprintf(trace, sizeof trace, "%s/check-1.db", dir);
  snprintf(out, sizeof out, "%s/single.txt", dir);
  char *argv[] = {(char *)lowram, "suggest", trace, NULL};
  CU_ASSERT_EQUAL(run_quiet(argv, out), 0);
  t = lrt_read_file(out, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "(single trace: estimates)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "seq_len=384 batch=3 (estimate)"));
  /* fits in human units: 1024 B per token per sequence */
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "per-token-and-batch    1.00 KiB*seq_len*batch"));
  free(t);
}

static void test_full_prompt(void) {
  const char *sw = sweep("full", "64,128,256", "1,2,3", 1);
  check(sw, 192, 2, 1, "prefill");
  check(sw, 512, 2, 1, "prefill"); /* outside: scores 4x the largest swept */
  check(sw, 384, 4, 1, "prefill");
}

/* What `suggest --budget` says fits really fits when run. */
static void test_budget_holds(void) {
  char sw[4300];
  snprintf(sw, sizeof sw, "%s/full", dir);
  char *j = suggest_json(sw, 256, 2, "8MiB");
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  double budget = 8.0 * 1048576, limit = json_num(j, "limit");
  CU_ASSERT_DOUBLE_EQUAL(limit, budget * 0.9, 1);
  int checked = 0;
  for (const char *p = strstr(j, "\"kind\":\"largest_"); p; p = strstr(p + 1, "\"kind\":\"largest_")) {
    int seq = (int)json_num(p, "seq"), batch = (int)json_num(p, "batch");
    double pred = json_num(p, "predicted_heap");
    if (!(seq >= 1 && batch >= 1) || checked >= 3) continue;
    double meas = measure(seq, batch, 1);
    printf("\n    budget 8 MiB: seq=%d batch=%d predicted %.0f measured %.0f (limit %.0f)", seq,
           batch, pred, meas, limit);
    CU_ASSERT_TRUE(meas > 0 && meas <= budget);
    /* and it is the largest: close to the limit, not a timid guess */
    CU_ASSERT_TRUE(meas >= 0.75 * limit);
    checked++;
  }
  CU_ASSERT_EQUAL(checked, 3);
  /* the rule of thumb's batch, for comparison, is predicted to blow it */
  const char *rot = strstr(j, "\"kind\":\"rule_of_thumb\"");
  CU_ASSERT_PTR_NOT_NULL(rot);
  if (rot) CU_ASSERT_TRUE(json_num(rot, "predicted_heap") > budget);
  free(j);
  /* a budget below the constant part: nothing fits, said so */
  j = suggest_json(sw, 256, 2, "1KiB");
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"nothing_fits\":true"));
  free(j);
}

/* Chunked prefill: with ubatch swept, the scores grow with seq*ubatch;
** the advice names the largest chunk that fits, with its measured prefill
** time, and that chunk really fits when run. */
static void test_ubatch(void) {
  char path[4300];
  snprintf(path, sizeof path, "%s/ubatch", dir);
  char *argv[] = {(char *)lowram, "sweep", "--param", "seq=128,256,512", "--param",
                  "ubatch=16,64,128", "-o", path, "--", (char *)qrun, "run", "-m", model,
                  "--seq-len", "{seq}", "--prompt-len", "{seq}", "--ubatch", "{ubatch}",
                  "--tokens", "1", NULL};
  CU_ASSERT_EQUAL_FATAL(run_quiet(argv, NULL), 0);
  char out[4400];
  snprintf(out, sizeof out, "%s/ubatch.txt", dir);
  char *sg[] = {(char *)lowram, "suggest", path, "--at", "seq=1024,ubatch=128", "--budget", "2MiB",
                NULL};
  CU_ASSERT_EQUAL_FATAL(run_quiet(sg, out), 0);
  char *t = lrt_read_file(out, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "16 B*seq*ubatch")); /* heads x chunk x context x 4 B */
  /* the trace says qrun: its own flag is named */
  CU_ASSERT_PTR_NOT_NULL(strstr(t, "; with qrun: --ubatch "));
  const char *a = strstr(t, "prefill in smaller chunks: ubatch 128 -> ");
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL(strstr(a, "measured cost: prefill took"));
  int u = atoi(a + strlen("prefill in smaller chunks: ubatch 128 -> "));
  CU_ASSERT_TRUE(u >= 1 && u < 128);
  free(t);
  char ub[32], trace[4400];
  snprintf(ub, sizeof ub, "%d", u);
  snprintf(trace, sizeof trace, "%s/ubatch-check.db", dir);
  char *rec[] = {(char *)lowram, "record", "-o", trace, "--", (char *)qrun, "run", "-m", model,
                 "--seq-len", "1024", "--prompt-len", "1024", "--ubatch", ub, "--tokens", "1", NULL};
  CU_ASSERT_EQUAL_FATAL(run_quiet(rec, NULL), 0);
  LrErr err;
  LrSiteBytes *r = lr_sitebytes_read(trace, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  printf("\n    ubatch %d at seq 1024: measured %lld (budget 2 MiB)", u, (long long)lr_sitebytes_peak(r));
  CU_ASSERT_TRUE(lr_sitebytes_peak(r) <= 2 * 1048576);
  lr_sitebytes_free(r);
}

/* qrun --stream --max-memory --memory-model: the batch qrun picks from the
** model that `suggest --emit` wrote is the one `suggest` says is the
** largest that fits, and the run stays under the limit. */
static void test_qrun_max_memory(void) {
  char prompts[4300], sw[4300], mfile[4300], out[4300];
  snprintf(prompts, sizeof prompts, "%s/prompts.txt", dir);
  FILE *f = fopen(prompts, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  for (int i = 0; i < 24; i++) fprintf(f, "prompt number %02d of the stream test\n", i);
  fclose(f);
  snprintf(sw, sizeof sw, "%s/stream", dir);
  char *sweep_argv[] = {(char *)lowram, "sweep", "--param", "seq=128,256,512", "--param",
                        "batch=1,2,4", "-o", sw, "--stdin", prompts, "--", (char *)qrun, "run",
                        "-m", model, "--stream", "--seq-len", "{seq}", "--tokens", "4",
                        "--batch", "{batch}", NULL};
  CU_ASSERT_EQUAL_FATAL(run_quiet(sweep_argv, NULL), 0);
  snprintf(mfile, sizeof mfile, "%s/stream.model", dir);
  snprintf(out, sizeof out, "%s/stream.json", dir);
  char *sg[] = {(char *)lowram, "suggest", sw, "--at", "seq=512,batch=1", "--budget", "3MiB",
                "--format", "json", "--emit", mfile, NULL};
  CU_ASSERT_EQUAL_FATAL(run_quiet(sg, out), 0);
  char *j = lrt_read_file(out, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  int want = -1;
  for (const char *p = strstr(j, "\"kind\":\"largest_batch\""); p;
       p = strstr(p + 1, "\"kind\":\"largest_batch\""))
    if ((int)json_num(p, "seq") == 512) want = (int)json_num(p, "batch");
  free(j);
  CU_ASSERT_FATAL(want >= 1);
  char trace[4300], err[4300];
  snprintf(trace, sizeof trace, "%s/maxmem.db", dir);
  snprintf(err, sizeof err, "%s/maxmem.err", dir);
  char *run[] = {(char *)lowram, "record", "-o", trace, "--", (char *)qrun, "run", "-m", model,
                 "--stream", "--seq-len", "512", "--tokens", "4", "--max-memory", "3MiB",
                 "--memory-model", mfile, NULL};
  /* stdin: the prompts; lrt_run has no stdin redirect, so go through sh */
  char cmd[20000];
  size_t u = 0;
  for (char **a = run; *a; a++) u += (size_t)snprintf(cmd + u, sizeof cmd - u, "'%s' ", *a);
  snprintf(cmd + u, sizeof cmd - u, "< '%s'", prompts);
  char *sh[] = {"/bin/sh", "-c", cmd, NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(sh, NULL, "/dev/null", err), 0);
  char *e = lrt_read_file(err, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  char expect[128];
  snprintf(expect, sizeof expect, "--max-memory 3145728: batch %d ", want);
  if (!strstr(e, expect)) fprintf(stderr, "want '%s' in:\n%s\n", expect, e);
  CU_ASSERT_PTR_NOT_NULL(strstr(e, expect));
  free(e);
  LrErr le;
  LrSiteBytes *r = lr_sitebytes_read(trace, &le);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  printf("\n    qrun --max-memory 3 MiB at seq 512: batch %d, measured peak %lld", want,
         (long long)lr_sitebytes_peak(r));
  CU_ASSERT_TRUE(lr_sitebytes_peak(r) <= 3 * 1048576);
  lr_sitebytes_free(r);
  /* a limit below the constant part, a broken model file: clear errors */
  char *tiny[] = {(char *)qrun, "run", "-m", model, "--stream", "--seq-len", "512",
                  "--max-memory", "1KiB", "--memory-model", mfile, NULL};
  CU_ASSERT_EQUAL(lrt_run(tiny, NULL, "/dev/null", err), 1);
  e = lrt_read_file(err, NULL);
  CU_ASSERT_TRUE(e && strstr(e, "nothing fits") != NULL);
  free(e);
  FILE *bf = fopen(mfile, "w");
  fputs("lowram-memmodel 1\nparams seq batch\nphase p\nterm seq*bogus 3\nend\n", bf);
  fclose(bf);
  CU_ASSERT_EQUAL(lrt_run(tiny, NULL, "/dev/null", err), 1);
  e = lrt_read_file(err, NULL);
  CU_ASSERT_TRUE(e && strstr(e, "stream.model:4: term 'seq*bogus'") != NULL);
  free(e);
}

/* 1 if this qrun takes --max-memory (getopt does not reject it). */
static int qrun_has_max_memory(void) {
  char out[4300];
  snprintf(out, sizeof out, "%s/probe.txt", dir);
  char *argv[] = {(char *)qrun, "run", "-m", "/nonexistent/model", "--max-memory", "1MiB", NULL};
  lrt_run(argv, NULL, "/dev/null", out);
  char *t = lrt_read_file(out, NULL);
  int has = t && !strstr(t, "unrecognized option") && !strstr(t, "bad option");
  free(t);
  return has;
}

int main(void) {
  lowram = lrt_env("LOWRAM_BIN");
  qrun = lrt_env("QRUN_BIN");
  dir = lrt_tmpdir("proof");
  snprintf(model, sizeof model, "%s/tiny.qr", dir);
  char *gen[] = {(char *)qrun, "gen", "-o", model, "--dim", "64", "--layers", "2", "--heads", "4",
                 "--kv-heads", "4", "--hidden", "128", "--vocab", "256", "--max-seq", "1024",
                 "--quant", "q8", NULL};
  if (run_quiet(gen, NULL) != 0) return 1;
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("proof", NULL, NULL);
  CU_add_test(s, "short prompt: predicted vs measured", test_short_prompt);
  CU_add_test(s, "full-context prompt: predicted vs measured", test_full_prompt);
  CU_add_test(s, "what fits the budget stays under it", test_budget_holds);
  CU_add_test(s, "the prefill chunk that fits", test_ubatch);
  if (qrun_has_max_memory())
    CU_add_test(s, "qrun --max-memory picks the batch suggest says fits", test_qrun_max_memory);
  else
    printf("note: this qrun has no --max-memory; its test is not registered\n");
  return lrt_main();
}
