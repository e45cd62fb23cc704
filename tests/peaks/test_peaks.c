/*
** test_peaks.c: lowram's peak against the true peak of peak_mix
** (bench/peaks/peak_mix.c), whose live heap + anonymous mmap is known by
** construction and printed by `peak_mix --expect`. Recorded with
** `lowram record`, the report's peak must equal it to the byte, split into
** the same heap and anon parts, with each block under its named function
** and the file mapping outside the peak. Then the heap-only profilers, each
** a failure naming its Debian package when not installed (run.sh installs
** both): massif's peak is the heap part to the byte,
** and heaptrack's printed peak falls short of the true peak by the anon
** mmap bytes (within its 3-digit print and its own startup blocks).
** argv[1]: peak_mix.
*/
#include <CUnit/CUnit.h>
#include <glob.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query/agg.h"
#include "lrtest.h"
#include "lowram/peak.h"
#include "lowram/report.h"

/* Sizes chosen so that every part is distinct and the malloc'd ones are
** not round; the anon part (5 MiB) is larger than the heap part (~1.7 MiB)
** so that a heap-only peak is far from the true one. */
#define W_BYTES (3 << 20)
#define KV_BYTES 1000003
#define ACT_BYTES 777777
#define SCRATCH_BYTES (2 << 20)
#define FILE_BYTES (1 << 20)

static const char *prog;
static char *dir;
static char trace[600], model[600];
static int64_t want_peak, want_heap, want_anon;
static char *mix_args[16];

/* argv: prefix words, then peak_mix and its options, NULL-terminated */
static char **with_mix(char **pre, size_t npre, char **buf) {
  size_t n = 0;
  for (size_t i = 0; i < npre; i++) buf[n++] = pre[i];
  for (size_t i = 0; mix_args[i]; i++) buf[n++] = mix_args[i];
  buf[n] = NULL;
  return buf;
}

static int setup(void) {
  static char w[32], kv[32], act[32], sc[32];
  snprintf(w, sizeof w, "%d", W_BYTES);
  snprintf(kv, sizeof kv, "%d", KV_BYTES);
  snprintf(act, sizeof act, "%d", ACT_BYTES);
  snprintf(sc, sizeof sc, "%d", SCRATCH_BYTES);
  char *a[] = {(char *)prog, "--weights", w, "--kv", kv, "--act", act, "--scratch", sc,
               "--steps", "3", "--file", model, NULL};
  memcpy(mix_args, a, sizeof a);
  static char zeros[FILE_BYTES];
  FILE *f = fopen(model, "wb");
  if (!f) return -1;
  size_t wrote = fwrite(zeros, 1, sizeof zeros, f);
  if (fclose(f) != 0 || wrote != sizeof zeros) return -1;
  /* the program's own account of its peak */
  char out[700];
  snprintf(out, sizeof out, "%s/expect.out", dir);
  char *ex[20];
  char *pre[] = {(char *)prog, "--expect"};
  /* "--expect" then the options (mix_args[0] is the program itself) */
  size_t n = 0;
  for (size_t i = 0; i < 2; i++) ex[n++] = pre[i];
  for (size_t i = 1; mix_args[i]; i++) ex[n++] = mix_args[i];
  ex[n] = NULL;
  if (lrt_run(ex, NULL, out, NULL) != 0) return -1;
  char *t = lrt_read_file(out, NULL);
  int ok = t && sscanf(t, "%" SCNd64 " %" SCNd64 " %" SCNd64, &want_peak, &want_heap,
                       &want_anon) == 3;
  free(t);
  return ok ? 0 : -1;
}

static const LrGroup *group(const LrGroups *g, const char *key) {
  for (size_t i = 0; i < g->n; i++)
    if (!strcmp(g->v[i].key, key)) return &g->v[i];
  return NULL;
}

static void test_expect(void) {
  /* the program's arithmetic, checked independently of it */
  CU_ASSERT_EQUAL(want_heap, KV_BYTES + ACT_BYTES);
  CU_ASSERT_EQUAL(want_anon, W_BYTES + SCRATCH_BYTES);
  CU_ASSERT_EQUAL(want_peak, want_heap + want_anon);
}

static int recorded = 0;

static void test_lowram_exact(void) {
  char out[700], err[700], *argv[24];
  snprintf(out, sizeof out, "%s/record.out", dir);
  snprintf(err, sizeof err, "%s/record.err", dir);
  char *pre[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", trace, "--"};
  int rc = lrt_run(with_mix(pre, 5, argv), NULL, out, err);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  recorded = 1;
  LrErr e = {{0}};
  LrTrace *t = lr_trace_open(trace, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrReportOpts o = {0};
  o.by = LR_BY_FUNCTION;
  LrReport *r = NULL;
  CU_ASSERT_EQUAL_FATAL(lr_report_build(t, &o, &r, &e), 0);
  fprintf(stderr, "true peak %lld B; lowram %lld B (heap %lld + anon %lld), file %lld\n",
          (long long)want_peak, (long long)(r->peak.live.heap + r->peak.live.anon),
          (long long)r->peak.live.heap, (long long)r->peak.live.anon,
          (long long)r->peak.live.file);
  CU_ASSERT_EQUAL(r->peak.live.heap + r->peak.live.anon, want_peak);
  CU_ASSERT_EQUAL(r->peak.live.heap, want_heap);
  CU_ASSERT_EQUAL(r->peak.live.anon, want_anon);
  CU_ASSERT_EQUAL(r->peak.live.file, FILE_BYTES);
  CU_ASSERT_EQUAL(r->heap_peak, want_heap);
  CU_ASSERT_EQUAL(r->file_peak, FILE_BYTES);
  /* every live byte at the peak is one of peak_mix's four blocks */
  CU_ASSERT_EQUAL(r->contributors.bytes, want_peak);
  CU_ASSERT_EQUAL(r->contributors.count, 4);
  const struct {
    const char *fn;
    int64_t bytes;
  } parts[] = {{"load_weights", W_BYTES}, {"map_scratch", SCRATCH_BYTES},
               {"alloc_kv_cache", KV_BYTES}, {"step_activations", ACT_BYTES}};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    const LrGroup *g = group(&r->contributors, parts[i].fn);
    CU_ASSERT_PTR_NOT_NULL(g);
    if (!g) {
      fprintf(stderr, "no contributor named %s\n", parts[i].fn);
      continue;
    }
    CU_ASSERT_EQUAL(g->bytes, parts[i].bytes);
    CU_ASSERT_EQUAL(g->count, 1);
  }
  /* the whole run, block by block: weights, file, KV cache, then per step
     (3) the activations and the scratch; nothing else was traced */
  CU_ASSERT_EQUAL(lrt_sql_int(trace, "SELECT count(*) FROM allocations"), 3 + 2 * 3);
  CU_ASSERT_EQUAL(lrt_sql_int(trace, "SELECT count(*) FROM allocations WHERE region = 'anon'"
                                     " AND kind LIKE 'mmap%' AND free_kind = 'munmap'"),
                  1 + 3);
  CU_ASSERT_EQUAL(lrt_sql_int(trace, "SELECT sum(size) FROM allocations WHERE region = 'file'"),
                  FILE_BYTES);
  lr_report_free(r);
  lr_trace_close(t);
}

static int have(const char *tool) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "command -v %s", tool);
  char *argv[] = {"sh", "-c", cmd, NULL};
  char devnull[] = "/dev/null";
  return lrt_run(argv, NULL, devnull, devnull) == 0;
}

/* A missing tool fails the test and names the package that brings it. */
static int need(const char *tool, const char *package) {
  if (have(tool)) return 1;
  fprintf(stderr, "test_peaks: %s not found: install the Debian package %s (./run.sh deps)\n",
          tool, package);
  CU_FAIL("a tool the test needs is not installed (its package is named above)");
  return 0;
}

/* A tool that is there but could not run `prog`: its own errors (saved in
** err) go to the test log. A failure, except for valgrind under clang:
** valgrind 3.19 cannot read clang 14's DWARF 5, which is not lowram's fault. */
static void could_not_run(const char *tool, const char *err, int clang_excuse) {
  char *t = lrt_read_file(err, NULL);
  fprintf(stderr, "test_peaks: %s could not run %s; its output:\n%s\n", tool, prog,
          t ? t : "(none)");
  free(t);
#ifdef __clang__
  if (clang_excuse) {
    fprintf(stderr, "test_peaks: (clang build: %s check skipped)\n", tool);
    return;
  }
#else
  (void)clang_excuse;
#endif
  CU_FAIL("the profiler could not run the program (its output is above)");
}

static void test_massif_heap_only(void) {
  if (!need("valgrind", "valgrind")) return;
  char out[700], arg[800], err[700], *argv[24];
  snprintf(out, sizeof out, "%s/massif.out", dir);
  snprintf(err, sizeof err, "%s/massif.err", dir);
  snprintf(arg, sizeof arg, "--massif-out-file=%s", out);
  char *pre[] = {"valgrind", "--tool=massif", "--peak-inaccuracy=0", "--pages-as-heap=no", arg};
  if (lrt_run(with_mix(pre, 5, argv), NULL, err, err) != 0) {
    could_not_run("valgrind", err, 1);
    return;
  }
  char *t = lrt_read_file(out, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  int64_t m = -1, v = -1;
  for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strncmp(line, "mem_heap_B=", 11)) v = strtoll(line + 11, NULL, 10);
    if (!strcmp(line, "heap_tree=peak")) m = v;
  }
  free(t);
  fprintf(stderr, "massif peak %lld B: the heap part %lld, misses %lld of %lld\n",
          (long long)m, (long long)want_heap, (long long)(want_peak - m), (long long)want_peak);
  CU_ASSERT_EQUAL(m, want_heap);
  CU_ASSERT_EQUAL(want_peak - m, want_anon);
}

/* heaptrack_print's "peak heap memory consumption: 1.80M": powers of 1000 */
static int64_t heaptrack_peak(const char *path) {
  char *t = lrt_read_file(path, NULL);
  if (!t) return -1;
  const char *key = "peak heap memory consumption: ";
  char *p = strstr(t, key);
  int64_t b = -1;
  if (p) {
    char *end;
    double v = strtod(p + strlen(key), &end);
    double mult = *end == 'K' ? 1e3 : *end == 'M' ? 1e6 : *end == 'G' ? 1e9 : *end == 'B' ? 1 : -1;
    if (end != p + strlen(key) && mult > 0) b = (int64_t)(v * mult + 0.5);
  }
  free(t);
  return b;
}

static void test_heaptrack_misses_mmap(void) {
  if (!need("heaptrack", "heaptrack") || !need("heaptrack_print", "heaptrack")) return;
  char base[700], out[700], pat[720], err[700], *argv[24];
  snprintf(base, sizeof base, "%s/ht", dir);
  snprintf(out, sizeof out, "%s/ht.txt", dir);
  snprintf(err, sizeof err, "%s/heaptrack.err", dir); /* not ht.*: globbed */
  snprintf(pat, sizeof pat, "%s.*", base);
  char *pre[] = {"heaptrack", "-o", base};
  if (lrt_run(with_mix(pre, 3, argv), NULL, err, err) != 0) {
    could_not_run("heaptrack", err, 0);
    return;
  }
  glob_t g;
  CU_ASSERT_EQUAL_FATAL(glob(pat, 0, NULL, &g), 0);
  CU_ASSERT_FATAL(g.gl_pathc == 1);
  char *pr[] = {"heaptrack_print", "-f", g.gl_pathv[0], NULL};
  int rc = lrt_run(pr, NULL, out, err);
  globfree(&g);
  if (rc != 0) {
    char *t = lrt_read_file(err, NULL);
    fprintf(stderr, "test_peaks: heaptrack_print failed (exit %d):\n%s\n", rc, t ? t : "");
    free(t);
  }
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  int64_t h = heaptrack_peak(out);
  fprintf(stderr, "heaptrack peak %lld B (printed to 3 digits), true %lld: short by %lld, "
          "anon mmap %lld\n", (long long)h, (long long)want_peak, (long long)(want_peak - h),
          (long long)want_anon);
  CU_ASSERT_FATAL(h > 0);
  /* heaptrack adds its own startup blocks (libstdc++'s 72704 B pool under
     heaptrack 1.4) and rounds its print to 3 digits: 128 KiB + 0.5% */
  int64_t tol = (128 << 10) + h / 200;
  int64_t d = (want_peak - h) - want_anon;
  CU_ASSERT(h < want_peak);
  CU_ASSERT(d > -tol && d < tol);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_peaks PEAK_MIX\n");
    return 2;
  }
  prog = argv[1];
  dir = lrt_tmpdir("peaks");
  snprintf(trace, sizeof trace, "%s/mix.db", dir);
  snprintf(model, sizeof model, "%s/model.bin", dir);
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("peaks", NULL, NULL);
  CU_add_test(s, "peak_mix --expect", test_expect);
  CU_add_test(s, "lowram's peak is exact, mmap included", test_lowram_exact);
  CU_add_test(s, "massif's peak is the heap part", test_massif_heap_only);
  CU_add_test(s, "heaptrack's peak misses the anon mmap", test_heaptrack_misses_mmap);
  if (setup()) {
    fprintf(stderr, "test_peaks: %s --expect failed\n", prog);
    return 1;
  }
  return lrt_main();
}
