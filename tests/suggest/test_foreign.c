/*
** test_foreign.c: predictions on programs nobody here wrote, checked
** against measured runs. Each program is swept twice, identically; a
** configuration outside the sweep is predicted from each sweep and then
** recorded for real:
**   - numpy (Debian's python3-numpy): a small attention-with-KV-cache
**     inference over batch x seq, batch 32 x seq 256 from 4/8/16 x 32/64/128;
**   - tesseract (Debian's tesseract-ocr) reading a generated image of N
**     lines of digits, 32 lines from 8/12/16;
**   - the PyTorch shape (arena_standin.py, numpy): Python's 1 MiB obmalloc
**     arenas differing from run to run beside a batch*seq tensor, batch 8 x
**     seq 1024 from 1/2/4 x 128/256/512; the arenas must be pooled as a
**     site of their own, fitted without squares.
** Predictions must be within 5% of the measured peak and within 1% of each
** other across the two sweeps (2% for the stand-in, random by design). A missing package fails, naming it.
*/
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrtest.h"
#include "predict/sitebytes.h"

static const char *lowram, *srcdir;
static char *dir;
static char *const omp_env[] = {"OMP_THREAD_LIMIT=1", NULL};

static int run_quiet(char *const argv[], const char *out) {
  char err[4300];
  snprintf(err, sizeof err, "%s/last.err", dir);
  int rc = lrt_run(argv, omp_env, out ? out : "/dev/null", err);
  if (rc != 0) {
    char *e = lrt_read_file(err, NULL);
    fprintf(stderr, "exit %d: %s %s ...\n%s\n", rc, argv[0], argv[1] ? argv[1] : "", e ? e : "");
    free(e);
  }
  return rc;
}

/* 1 if the command runs with exit 0 (its output discarded). */
static int works(char *const argv[]) {
  return lrt_run(argv, NULL, "/dev/null", "/dev/null") == 0;
}

static double json_num(const char *from, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = from ? strstr(from, pat) : NULL;
  return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* Records argv and returns its measured heap + anon peak, -1 on failure. */
static double measure(const char *tag, char *const *cmd) {
  char trace[4300];
  snprintf(trace, sizeof trace, "%s/%s.db", dir, tag);
  char *argv[64] = {(char *)lowram, "record", "-o", trace, "--"};
  int n = 5;
  for (int i = 0; cmd[i] && n < 63; i++) argv[n++] = cmd[i];
  argv[n] = NULL;
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

/* `lowram sweep --param P1 [--param P2] -o DIR/tag -- cmd...`; returns the
** path (static buffer per call site: the caller copies). */
static int sweep(const char *out, const char *p1, const char *p2, char *const *cmd) {
  char *argv[64] = {(char *)lowram, "sweep", "--param", (char *)p1};
  int n = 4;
  if (p2) {
    argv[n++] = "--param";
    argv[n++] = (char *)p2;
  }
  argv[n++] = "-o";
  argv[n++] = (char *)out;
  argv[n++] = "--";
  for (int i = 0; cmd[i] && n < 63; i++) argv[n++] = cmd[i];
  argv[n] = NULL;
  return run_quiet(argv, NULL);
}

/* The suggest JSON for `at` (malloc'd), NULL on failure. */
static char *suggest_json(const char *sw, const char *at) {
  char out[4300];
  snprintf(out, sizeof out, "%s/suggest.json", dir);
  char *argv[] = {(char *)lowram, "suggest", (char *)sw, "--at", (char *)at, "--format", "json",
                  "--top", "50", NULL};
  if (run_quiet(argv, out) != 0) return NULL;
  return lrt_read_file(out, NULL);
}

/* Two identical sweeps, a prediction at `at` from each, the measured run:
** within 5% and within 1% of each other. Returns the JSON of the first. */
static char *check_program(const char *tag, const char *p1, const char *p2, char *const *cmd,
                           const char *at, char *const *target, double repeat_tol) {
  char sw[2][4300];
  double pred[2], low[2], high[2];
  char *first = NULL;
  for (int k = 0; k < 2; k++) {
    snprintf(sw[k], sizeof sw[k], "%s/%s-%d", dir, tag, k + 1);
    CU_ASSERT_EQUAL_FATAL(sweep(sw[k], p1, p2, cmd), 0);
    char *j = suggest_json(sw[k], at);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    pred[k] = json_num(j, "predicted_heap");
    low[k] = json_num(j, "predicted_low");
    high[k] = json_num(j, "predicted_high");
    if (k == 0) first = j;
    else free(j);
  }
  double meas = measure(tag, target);
  CU_ASSERT_TRUE_FATAL(meas > 0);
  for (int k = 0; k < 2; k++) {
    double rel = (pred[k] - meas) / meas;
    printf("\n    %s at %s, sweep %d: predicted %.0f (range %.0f .. %.0f), measured %.0f, error %+.2f%%",
           tag, at, k + 1, pred[k], low[k], high[k], meas, 100 * rel);
    CU_ASSERT_TRUE(fabs(rel) <= 0.05);
    CU_ASSERT_TRUE(low[k] <= pred[k] && pred[k] <= high[k]);
  }
  double rep = fabs(pred[0] - pred[1]) / fmax(pred[0], pred[1]);
  printf("\n    %s: the two sweeps' predictions differ by %.3f%%", tag, 100 * rep);
  CU_ASSERT_TRUE(rep <= repeat_tol);
  return first;
}

static int have_numpy(void) {
  char *argv[] = {"/usr/bin/python3", "-c", "import numpy", NULL};
  if (works(argv)) return 1;
  CU_FAIL("python3-numpy is not installed (apt-get install python3-numpy, or ./run.sh deps)");
  fprintf(stderr, "python3-numpy is not installed: /usr/bin/python3 cannot import numpy "
                  "(apt-get install python3-numpy, or ./run.sh deps)\n");
  return 0;
}

static void test_numpy(void) {
  if (!have_numpy()) return;
  char script[4300];
  snprintf(script, sizeof script, "%s/tests/suggest/numpy_infer.py", srcdir);
  char *cmd[] = {"/usr/bin/python3", script, "{batch}", "{seq}", NULL};
  char *target[] = {"/usr/bin/python3", script, "32", "256", NULL};
  char *j = check_program("numpy", "batch=4,8,16", "seq=32,64,128", cmd, "batch=32,seq=256", target, 0.01);
  /* Python's arenas are pooled, not charged to an object */
  CU_ASSERT_TRUE(j && strstr(j, "\"site\":\"(arena) Python obmalloc arenas\"") != NULL);
  free(j);
}

/* The PyTorch shape: arenas that differ from run to run, pooled and fitted
** without squares, and a tensor that scales with batch*seq. */
static void test_arena_standin(void) {
  if (!have_numpy()) return;
  char script[4300];
  snprintf(script, sizeof script, "%s/tests/suggest/arena_standin.py", srcdir);
  char *cmd[] = {"/usr/bin/python3", script, "{batch}", "{seq}", NULL};
  /* The prediction plans a noisy site at its largest value, so the target
  ** is measured at the program's largest draw (23999 objects kept): one
  ** random draw measured once made the test fail when the draw was low
  ** (CI: predicted +5.36% over a run that kept few objects). */
  char *target[] = {"/usr/bin/python3", script, "8", "1024", "23999", NULL};
  /* the arenas are random by design: two sweeps agree within 2%, not 1% */
  char *j = check_program("arenas", "batch=1,2,4", "seq=128,256,512", cmd, "batch=8,seq=1024", target,
                          0.02);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  const char *a = strstr(j, "\"site\":\"(arena) Python obmalloc arenas\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  const char *end = strchr(a, '}');
  end = end ? strchr(end + 1, ']') : NULL; /* past its terms */
  CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"arena\":true"));
  const char *sq = strstr(a, "^2");
  CU_ASSERT_TRUE(end && (!sq || sq > end)); /* no square */
  /* the tensor is its own site, batch*seq */
  CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"class\":\"per-token-and-batch\""));
  free(j);
}

/* A PGM of `lines` lines of digits (5x7 glyphs, scaled). */
static int write_image(const char *path, int lines, int sc) {
  static const char *const glyph[10][7] = {
      {"01110", "10001", "10011", "10101", "11001", "10001", "01110"},
      {"00100", "01100", "00100", "00100", "00100", "00100", "01110"},
      {"01110", "10001", "00001", "00010", "00100", "01000", "11111"},
      {"11110", "00001", "00001", "01110", "00001", "00001", "11110"},
      {"00010", "00110", "01010", "10010", "11111", "00010", "00010"},
      {"11111", "10000", "11110", "00001", "00001", "10001", "01110"},
      {"00110", "01000", "10000", "11110", "10001", "10001", "01110"},
      {"11111", "00001", "00010", "00100", "01000", "01000", "01000"},
      {"01110", "10001", "10001", "01110", "10001", "10001", "01110"},
      {"01110", "10001", "10001", "01111", "00001", "00010", "01100"}};
  const char *text = "3141592653 5897932384";
  int len = (int)strlen(text), w = (len * 6 + 4) * sc, h = (lines * 10 + 4) * sc;
  unsigned char *img = malloc((size_t)w * (size_t)h);
  if (!img) return -1;
  memset(img, 255, (size_t)w * (size_t)h);
  for (int l = 0; l < lines; l++)
    for (int c = 0; c < len; c++) {
      char ch = text[(c + l % 7) % len];
      if (ch == ' ') continue;
      for (int y = 0; y < 7; y++)
        for (int x = 0; x < 5; x++)
          if (glyph[ch - '0'][y][x] == '1')
            for (int dy = 0; dy < sc; dy++)
              for (int dx = 0; dx < sc; dx++)
                img[((l * 10 + 2 + y) * sc + dy) * w + (2 + c * 6 + x) * sc + dx] = 0;
    }
  FILE *f = fopen(path, "wb");
  int rc = f ? 0 : -1;
  if (f) {
    fprintf(f, "P5\n%d %d\n255\n", w, h);
    if (fwrite(img, 1, (size_t)w * (size_t)h, f) != (size_t)w * (size_t)h) rc = -1;
    if (fclose(f)) rc = -1;
  }
  free(img);
  return rc;
}

static void test_tesseract(void) {
  char *probe[] = {"tesseract", "--version", NULL};
  if (!works(probe)) {
    CU_FAIL("tesseract-ocr is not installed (apt-get install tesseract-ocr, or ./run.sh deps)");
    fprintf(stderr, "tesseract-ocr is not installed: no working `tesseract` in PATH "
                    "(apt-get install tesseract-ocr, or ./run.sh deps)\n");
    return;
  }
  const int lines[] = {8, 12, 16, 32};
  for (size_t i = 0; i < 4; i++) {
    char img[4300];
    snprintf(img, sizeof img, "%s/lines%d.pgm", dir, lines[i]);
    CU_ASSERT_EQUAL_FATAL(write_image(img, lines[i], 10), 0);
  }
  char pattern[4300], target_img[4300];
  snprintf(pattern, sizeof pattern, "%s/lines{lines}.pgm", dir);
  snprintf(target_img, sizeof target_img, "%s/lines32.pgm", dir);
  char *cmd[] = {"tesseract", pattern, "-", NULL};
  char *target[] = {"tesseract", target_img, "-", NULL};
  char *j = check_program("tesseract", "lines=8,12,16", NULL, cmd, "lines=32", target, 0.01);
  /* its dictionaries are no "weights": nothing says so */
  CU_ASSERT_TRUE(j && strstr(j, "weights") == NULL);
  free(j);
}

int main(void) {
  lowram = lrt_env("LOWRAM_BIN");
  srcdir = lrt_env("LOWRAM_SOURCE_ROOT");
  dir = lrt_tmpdir("foreign");
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("foreign", NULL, NULL);
  CU_add_test(s, "numpy: predicted vs measured, twice", test_numpy);
  CU_add_test(s, "the PyTorch shape: arenas pooled, prediction holds", test_arena_standin);
  CU_add_test(s, "tesseract: predicted vs measured, twice", test_tesseract);
  return lrt_main();
}
