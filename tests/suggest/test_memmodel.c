/*
** test_memmodel.c: qrun's reader of the model file: a model emitted by
** `lowram suggest` reads back and predicts what the analyzer predicts;
** hand-written models give exact peaks and largest batches; every defect
** is a one-line error with the line number, never a crash.
*/
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "memmodel.h"

static char *dir;

static QrMemModel *load_text(const char *text, char *err, size_t len) {
  char path[4200];
  snprintf(path, sizeof path, "%s/m.txt", dir);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  return qr_memmodel_load(path, err, len);
}

static const char *good =
    "# comment\n"
    "lowram-memmodel 1\n"
    "program qrun\n"
    "params seq batch\n"
    "range seq 64 256\n"
    "margin 0.25\n"
    "phase prefill\n"
    "term 1 1000000\n"
    "term seq*batch 512\n"
    "term seq^2*batch 16\n"
    "end\n"
    "\n"
    "phase batch N\n"
    "term 1 1000000\n"
    "term seq*batch 512\n"
    "term batch 1024\n"
    "term 1 12288\n"
    "end\n";

static void test_good(void) {
  char err[512];
  QrMemModel *m = load_text(good, err, sizeof err);
  if (!m) fprintf(stderr, "%s\n", err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(qr_memmodel_nparams(m), 2);
  CU_ASSERT_EQUAL(qr_memmodel_seq_param(m), 0);
  CU_ASSERT_EQUAL(qr_memmodel_batch_param(m), 1);
  CU_ASSERT_DOUBLE_EQUAL(qr_memmodel_margin(m), 0.25, 0);
  CU_ASSERT_STRING_EQUAL(qr_memmodel_phase_name(m, 1), "batch N");
  double x[2] = {512, 4};
  int ph;
  double pre = 1e6 + 512.0 * 512 * 4 + 16.0 * 512 * 512 * 4;
  CU_ASSERT_DOUBLE_EQUAL(qr_memmodel_peak(m, x, &ph), pre, 1e-6);
  CU_ASSERT_EQUAL(ph, 0);
  x[0] = 8; /* short: the batch phase's constant temporaries win */
  CU_ASSERT_DOUBLE_EQUAL(qr_memmodel_peak(m, x, &ph), 1e6 + 512.0 * 8 * 4 + 1024 * 4 + 12288, 1e-6);
  CU_ASSERT_EQUAL(ph, 1);
  /* largest batch at seq 256 under 64 MiB with 25% kept free */
  x[0] = 256;
  long b;
  double lim = 64.0 * 1048576 * 0.75;
  CU_ASSERT_EQUAL(qr_memmodel_largest(m, x, 1, 64.0 * 1048576, 100000, &b), 1);
  double per_b = 512.0 * 256 + 16.0 * 256 * 256;
  CU_ASSERT_EQUAL(b, (long)floor((lim - 1e6) / per_b));
  CU_ASSERT_EQUAL(qr_memmodel_largest(m, x, 1, 1e6, 100000, &b), 0);
  /* what qrun --max-memory asks */
  double need = 0;
  CU_ASSERT_EQUAL(qr_memmodel_pick_batch(m, 256, 0, 64.0 * 1048576, 100000, &need, err, sizeof err),
                  (long)floor((lim - 1e6) / per_b));
  CU_ASSERT_EQUAL(qr_memmodel_pick_batch(m, 256, 0, 64.0 * 1048576, 3, &need, err, sizeof err), 3);
  CU_ASSERT_EQUAL(qr_memmodel_pick_batch(m, 256, 0, 1e6, 100, &need, err, sizeof err), 0);
  CU_ASSERT_DOUBLE_EQUAL(need, 1e6 + per_b, 1e-6);
  qr_memmodel_free(m);
  m = load_text("lowram-memmodel 1\nparams seq threads\nphase p\nterm seq 1\nend\n", err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(qr_memmodel_pick_batch(m, 256, 0, 1e9, 100, &need, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "no batch parameter"));
  qr_memmodel_free(m);
  m = load_text("lowram-memmodel 1\nparams seq batch threads\nphase p\nterm seq 1\nend\n", err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(qr_memmodel_pick_batch(m, 256, 0, 1e9, 100, &need, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'threads', which qrun cannot set"));
  qr_memmodel_free(m);
  double v;
  CU_ASSERT_EQUAL(qr_memmodel_parse_bytes("512MiB", &v), 0);
  CU_ASSERT_DOUBLE_EQUAL(v, 536870912, 0);
  CU_ASSERT_EQUAL(qr_memmodel_parse_bytes("1.5g", &v), 0);
  CU_ASSERT_DOUBLE_EQUAL(v, 1610612736, 0);
  CU_ASSERT_EQUAL(qr_memmodel_parse_bytes("300MB", &v), 0);
  CU_ASSERT_DOUBLE_EQUAL(v, 3e8, 0);
  const char *bad[] = {"", "-5M", "0", "12XB", "MiB", "1e30", "nan"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CU_ASSERT_EQUAL(qr_memmodel_parse_bytes(bad[i], &v), -1);
}

/* A model whose peak rises then falls (a hand-written negative square):
** the search returns the first crossing, not a far value that "fits". */
static void test_first_crossing(void) {
  char err[512];
  QrMemModel *m = load_text("lowram-memmodel 1\nparams batch\nmargin 0\nphase p\n"
                            "term batch 1000\nterm batch^2 -1\nend\n", err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  double x = 1;
  long b = 0;
  CU_ASSERT_EQUAL(qr_memmodel_largest(m, &x, 0, 100000, 100000, &b), 1);
  /* 1000 b - b^2 <= 100000 up to b = 112 */
  CU_ASSERT_EQUAL(b, 112);
  qr_memmodel_free(m);
}

static void test_bad(void) {
  struct {
    const char *text, *msg;
  } cases[] = {
    {"", "empty"},
    {"lowram-memmodel 2\n", ":1: model version 2"},
    {"hello 1\n", ":1: not a lowram memory model"},
    {"lowram-memmodel 1\nparams seq seq\n", ":2: params: seq given twice"},
    {"lowram-memmodel 1\nparams 9x\n", ":2: params: bad name"},
    {"lowram-memmodel 1\nphase p\n", ":2: phase before params"},
    {"lowram-memmodel 1\nparams s\nphase p\nterm q 1\nend\n", ":4: term 'q'"},
    {"lowram-memmodel 1\nparams s\nphase p\nterm s^3 1\nend\n", ":4: term 's^3'"},
    {"lowram-memmodel 1\nparams s\nphase p\nterm s^2*s 1\nend\n", ":4: term 's^2*s'"},
    {"lowram-memmodel 1\nparams s\nphase p\nterm s nan\nend\n", ":4: term s: coefficient 'nan'"},
    {"lowram-memmodel 1\nparams s\nphase p\nterm s 1e999\nend\n", "coefficient '1e999'"},
    {"lowram-memmodel 1\nparams s\nphase p\nterm s 1\n", "no 'end'"},
    {"lowram-memmodel 1\nparams s\nterm s 1\n", ":3: term outside a phase"},
    {"lowram-memmodel 1\nparams s\nmargin 1\n", ":3: margin"},
    {"lowram-memmodel 1\nparams s\nrange t 1 2\n", ":3: range"},
    {"lowram-memmodel 1\nparams s\nfoo\n", ":3: unknown directive 'foo'"},
    {"lowram-memmodel 1\nparams s\n", "no phase"},
    {"lowram-memmodel 1\nparams a b c d e\n", ":2: params: once, with 1 to 4"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[512] = "";
    QrMemModel *m = load_text(cases[i].text, err, sizeof err);
    CU_ASSERT_PTR_NULL(m);
    qr_memmodel_free(m);
    if (!strstr(err, cases[i].msg)) fprintf(stderr, "case %zu: got '%s'\n", i, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].msg));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "m.txt"));
  }
  /* a long line and binary junk */
  char *big = malloc(5000);
  memset(big, 'x', 4999);
  big[4999] = 0;
  char err[512];
  CU_ASSERT_PTR_NULL(load_text(big, err, sizeof err));
  free(big);
  char path[4200];
  snprintf(path, sizeof path, "%s/missing", dir);
  CU_ASSERT_PTR_NULL(qr_memmodel_load(path, err, sizeof err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing"));
}

int main(void) {
  dir = lrt_tmpdir("memmodel");
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("memmodel", NULL, NULL);
  CU_add_test(s, "a good model", test_good);
  CU_add_test(s, "bad models", test_bad);
  CU_add_test(s, "first crossing", test_first_crossing);
  return lrt_main();
}
