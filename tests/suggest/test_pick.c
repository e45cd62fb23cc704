/*
** test_pick.c: `diff` and `suggest` compare the program, not the shell
** around it (issue 10). Each run of `sh -c 'allocprog N | cat'` is one
** trace of 5 processes: sh, two forks of sh, allocprog (peak N + N/2 by
** construction, tests/import/allocprog.c) and cat (a 128 KiB buffer, the
** highest peak of the run when N <= 80000, so the old "highest peak"
** choice read cat). Asserted:
**   - a sweep of such runs predicts exactly what the sweep of bare
**     allocprog runs predicts (240000 B at N = 160000) and says which
**     process it read;
**   - diff of two such traces reports allocprog's peaks, 60000 vs 120000 B,
**     through the library (lr_diff_pick + lr_diff_build) and the command;
**   - a trace with no matching process, or a --command no process runs, is
**     refused with one line naming the trace and the processes it has;
**   - reserved address space (PROT_NONE, as node's V8 reserves 511 MiB) is
**     in no site: reserve.c's 64 MiB reservation beside 1 MiB of heap reads
**     as a 1 MiB peak whose sites add up to it (it tripped sitebytes'
**     invariant, an abort in debug builds, on every real node run).
*/
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowram/diff.h"
#include "lowram/suggest.h"
#include "lowram/trace.h"
#include "lrtest.h"
#include "predict/sitebytes.h"

static const char *lowram, *allocprog;
static char *dir;

/* Runs argv; stdout to DIR/out.txt, stderr to DIR/err.txt; the exit code. */
static int run(char *const argv[]) {
  char out[4300], err[4300];
  snprintf(out, sizeof out, "%s/out.txt", dir);
  snprintf(err, sizeof err, "%s/err.txt", dir);
  return lrt_run(argv, NULL, out, err);
}

static char *slurp(const char *name) {
  char p[4300];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return lrt_read_file(p, NULL);
}

/* `sh -c 'ALLOCPROG SIZE | cat'` recorded into DIR/tag.db. */
static int record_wrapped(const char *tag, const char *size) {
  char trace[4300], sh[4400];
  snprintf(trace, sizeof trace, "%s/%s.db", dir, tag);
  snprintf(sh, sizeof sh, "%s %s | cat", allocprog, size);
  char *argv[] = {(char *)lowram, "record", "-o", trace, "--", "sh", "-c", sh, NULL};
  return run(argv);
}

static LrTrace *open_trace(const char *tag) {
  char trace[4300];
  LrErr err;
  snprintf(trace, sizeof trace, "%s/%s.db", dir, tag);
  LrTrace *t = lr_trace_open(trace, &err);
  if (!t) fprintf(stderr, "%s\n", err.msg);
  return t;
}

static void test_sweep_wrapped(void) {
  char sw[4300], bare[4300], sh[4400];
  snprintf(sw, sizeof sw, "%s/sw", dir);
  snprintf(bare, sizeof bare, "%s/bare", dir);
  snprintf(sh, sizeof sh, "%s {size} | cat", allocprog);
  char *a1[] = {(char *)lowram, "sweep", "--param", "size=20000,40000,80000", "-o", sw, "--",
                "sh", "-c", sh, NULL};
  CU_ASSERT_EQUAL_FATAL(run(a1), 0);
  char *a2[] = {(char *)lowram, "sweep", "--param", "size=20000,40000,80000", "-o", bare, "--",
                (char *)allocprog, "{size}", NULL};
  CU_ASSERT_EQUAL_FATAL(run(a2), 0);
  LrErr err;
  double x = 160000;
  LrSuggestPeak pw, pb;
  LrSuggest *mw = lr_suggest_load(sw, NULL, 0, &err);
  LrSuggest *mb = lr_suggest_load(bare, NULL, 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(mw);
  CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
  CU_ASSERT_STRING_EQUAL(lr_suggest_program(mw), "lr_allocprog");
  CU_ASSERT_EQUAL(lr_suggest_nruns(mw), 3);
  for (int r = 0; r < 3; r++) {
    const LrPick *p = lr_suggest_pick(mw, r);
    CU_ASSERT_EQUAL(p->nprocs, 5);
    CU_ASSERT_STRING_EQUAL(p->command, "lr_allocprog");
    CU_ASSERT_EQUAL(p->peak, r == 0 ? 30000 : r == 1 ? 60000 : 120000);
    CU_ASSERT_EQUAL(lr_suggest_pick(mb, r)->nprocs, 1);
  }
  lr_suggest_predict(mw, &x, &pw);
  lr_suggest_predict(mb, &x, &pb);
  CU_ASSERT_DOUBLE_EQUAL(pw.heap, 240000, 0.5);
  CU_ASSERT_DOUBLE_EQUAL(pb.heap, 240000, 0.5);
  lr_suggest_free(mw);
  lr_suggest_free(mb);
  /* the command says which process it read; cat when asked for cat */
  char *a3[] = {(char *)lowram, "suggest", sw, "--at", "size=160000", NULL};
  CU_ASSERT_EQUAL(run(a3), 0);
  char *out = slurp("out.txt");
  CU_ASSERT_TRUE(out && strstr(out, "process read: lr_allocprog (run 1: lr_allocprog 20000), "));
  free(out);
  LrSuggest *mc = lr_suggest_load_process(sw, NULL, 0, "cat", 0, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
  CU_ASSERT_STRING_EQUAL(lr_suggest_program(mc), "cat");
  for (int r = 0; r < 3; r++) CU_ASSERT_TRUE(lr_suggest_pick(mc, r)->peak > 131072);
  lr_suggest_free(mc);
  /* no process of that name: one line naming the run's trace */
  char *a4[] = {(char *)lowram, "suggest", sw, "--command", "nosuch", NULL};
  CU_ASSERT_EQUAL(run(a4), 1);
  char *e = slurp("err.txt");
  CU_ASSERT_TRUE(e && strstr(e, "/sw/run-1.db: no process runs nosuch (its processes: cat, "
                                        "lr_allocprog, sh)\n"));
  CU_ASSERT_TRUE(e && strchr(e, '\n') == e + strlen(e) - 1);
  free(e);
}

static void test_diff_wrapped(void) {
  CU_ASSERT_EQUAL_FATAL(record_wrapped("a", "40000"), 0);
  CU_ASSERT_EQUAL_FATAL(record_wrapped("b", "80000"), 0);
  LrTrace *t[2] = {open_trace("a"), open_trace("b")};
  CU_ASSERT_PTR_NOT_NULL_FATAL(t[0]);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t[1]);
  LrPick pick[2];
  LrErr err;
  CU_ASSERT_EQUAL_FATAL(lr_diff_pick(t, 2, NULL, 0, NULL, pick, &err), 0);
  for (int k = 0; k < 2; k++) {
    CU_ASSERT_STRING_EQUAL(pick[k].command, "lr_allocprog");
    CU_ASSERT_EQUAL(pick[k].nprocs, 5);
    CU_ASSERT_EQUAL(lr_trace_select_process(t[k], pick[k].id, &err), 0);
  }
  LrDiff *d = NULL;
  CU_ASSERT_EQUAL_FATAL(lr_diff_build(t[0], t[1], LR_BY_STACK, &d, &err), 0);
  CU_ASSERT_EQUAL(d->peak_a.live.heap, 60000);
  CU_ASSERT_EQUAL(d->peak_b.live.heap, 120000);
  lr_diff_free(d);
  lr_trace_close(t[0]);
  lr_trace_close(t[1]);
  char ta[4300], tb[4300];
  snprintf(ta, sizeof ta, "%s/a.db", dir);
  snprintf(tb, sizeof tb, "%s/b.db", dir);
  char *a1[] = {(char *)lowram, "diff", ta, tb, NULL};
  CU_ASSERT_EQUAL(run(a1), 0);
  char *out = slurp("out.txt");
  CU_ASSERT_TRUE(out && strstr(out, "of 5, "));
  CU_ASSERT_TRUE(out && strstr(out, "lr_allocprog 40000\n"));
  CU_ASSERT_TRUE(out && strstr(out, "lr_allocprog 80000\n"));
  CU_ASSERT_TRUE(out && strstr(out, "58.6 KiB      117 KiB  +58.6 KiB (+100.0%)"));
  free(out);
  /* --command cat: cat's 128 KiB buffer in both, no change */
  char *a2[] = {(char *)lowram, "diff", ta, tb, "--command", "cat", NULL};
  CU_ASSERT_EQUAL(run(a2), 0);
  out = slurp("out.txt");
  CU_ASSERT_TRUE(out && strstr(out, ", cat\n"));
  CU_ASSERT_TRUE(out && strstr(out, "(+0.0%)"));
  free(out);
}

static void test_refused(void) {
  CU_ASSERT_EQUAL_FATAL(record_wrapped("a2", "40000"), 0);
  char tc[4300], ta[4300];
  snprintf(ta, sizeof ta, "%s/a2.db", dir);
  snprintf(tc, sizeof tc, "%s/c.db", dir);
  char *rec[] = {(char *)lowram, "record", "-o", tc, "--", "sh", "-c", "cat </dev/null", NULL};
  CU_ASSERT_EQUAL_FATAL(run(rec), 0);
  /* the program of A (what differs: allocprog 40000) is not in C */
  char *a1[] = {(char *)lowram, "diff", ta, tc, NULL};
  CU_ASSERT_EQUAL(run(a1), 1);
  char *e = slurp("err.txt");
  char want[4400];
  snprintf(want, sizeof want, "lowram diff: %s: no process runs lr_allocprog (its processes: cat, "
                              "sh)\n", tc);
  CU_ASSERT_PTR_NOT_NULL(e);
  if (e) CU_ASSERT_STRING_EQUAL(e, want);
  free(e);
  char *a2[] = {(char *)lowram, "diff", ta, ta, "--command", "nosuch", NULL};
  CU_ASSERT_EQUAL(run(a2), 1);
  e = slurp("err.txt");
  snprintf(want, sizeof want, "lowram diff: %s: no process runs nosuch (its processes: cat, "
                              "lr_allocprog, sh)\n", ta);
  if (e) CU_ASSERT_STRING_EQUAL(e, want);
  free(e);
  char *a3[] = {(char *)lowram, "diff", ta, ta, "--command", "cat", "--pid", "1", NULL};
  CU_ASSERT_EQUAL(run(a3), 2);
}

static void test_reserved(void) {
  char trace[4300];
  snprintf(trace, sizeof trace, "%s/reserve.db", dir);
  char *rec[] = {(char *)lowram, "record", "-o", trace, "--", (char *)lrt_env("LR_RESERVE"), NULL};
  CU_ASSERT_EQUAL_FATAL(run(rec), 0);
  LrErr err;
  LrSiteBytes *r = lr_sitebytes_read(trace, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(lr_sitebytes_peak(r), 1 << 20);
  CU_ASSERT_EQUAL(lr_sitebytes_nphases(r), 1);
  int64_t sum = 0;
  for (int s = 0; s < lr_sitebytes_nsites(r); s++) sum += lr_sitebytes_bytes(r, 0, s);
  CU_ASSERT_EQUAL(sum, 1 << 20);
  lr_sitebytes_free(r);
  char *sg[] = {(char *)lowram, "suggest", trace, NULL};
  CU_ASSERT_EQUAL(run(sg), 0);
  char *out = slurp("out.txt");
  CU_ASSERT_TRUE(out && strstr(out, "  heap + anon     1.00 MiB"));
  free(out);
}

int main(void) {
  lowram = lrt_env("LOWRAM_BIN");
  allocprog = lrt_env("LR_ALLOCPROG");
  dir = lrt_tmpdir("pick");
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("pick", NULL, NULL);
  CU_add_test(s, "sweep of sh -c 'allocprog N | cat' predicts as the bare runs", test_sweep_wrapped);
  CU_add_test(s, "diff of two wrapped runs compares allocprog", test_diff_wrapped);
  CU_add_test(s, "no matching process: one line, refused", test_refused);
  CU_add_test(s, "reserved address space is in no site", test_reserved);
  return lrt_main();
}
