/*
** test_record.c: records rec_prog.c (known allocations) with
** `lowram record` and checks the report's numbers; then runs the same
** program under valgrind massif (--peak-inaccuracy=0) and checks that
** its heap peak matches lowram's heap-only peak within allocator rounding
** (valgrind missing is a failure naming the package). argv[1]: rec_prog.
*/
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "query/agg.h"
#include "lrtest.h"
#include "lowram/peak.h"
#include "lowram/report.h"
#include "tbuild.h"

#define MiB (1 << 20)

static const char *prog;
static char *dir;
static char trace[512];

static int recorded(void) {
  static int done = 0, ok = 0;
  if (done) return ok;
  done = 1;
  char out[600], err[600];
  snprintf(out, sizeof out, "%s/record.out", dir);
  snprintf(err, sizeof err, "%s/record.err", dir);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", trace, "--", (char *)prog,
                  NULL};
  int rc = lrt_run(argv, NULL, out, err);
  ok = rc == 0 && access(trace, R_OK) == 0;
  if (!ok) {
    char *e = lrt_read_file(err, NULL);
    fprintf(stderr, "lowram record failed (%d): %s\n", rc, e ? e : "?");
    free(e);
  }
  return ok;
}

static void test_recorded_peak(void) {
  CU_ASSERT_FATAL(recorded());
  LrTrace *t = tb_open_ro(trace);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrReportOpts o = {0};
  o.by = LR_BY_FUNCTION;
  LrReport *r = NULL;
  LrErr err = {{0}};
  CU_ASSERT_EQUAL_FATAL(lr_report_build(t, &o, &r, &err), 0);
  int64_t peak = r->peak.live.heap + r->peak.live.anon;
  /* 9 MiB by construction; the C runtime may hold a few small blocks */
  CU_ASSERT(peak >= 9 * MiB);
  CU_ASSERT(peak - 9 * MiB < 4096);
  CU_ASSERT_EQUAL(r->peak.live.anon, 2 * MiB);
  CU_ASSERT_STRING_EQUAL(r->peak.marker, "prefill");
  CU_ASSERT(r->heap_peak >= 7 * MiB && r->heap_peak - 7 * MiB < 4096);
  CU_ASSERT_EQUAL(r->contributors.bytes, peak);
  /* the importer counts its own heap peak while importing: two independent
     computations must agree to the byte */
  int64_t imp = lrt_sql_int(trace, "SELECT value FROM meta WHERE key = 'peak_heap'");
  if (imp != INT64_MIN) CU_ASSERT_EQUAL(imp, r->heap_peak);
  const LrGroup *g = tb_group(&r->contributors, "prefill_step");
  CU_ASSERT_PTR_NOT_NULL(g);
  if (g) {
    CU_ASSERT_EQUAL(g->bytes, 3 * MiB);
    CU_ASSERT_EQUAL(g->count, 3);
  }
  g = tb_group(&r->contributors, "load_weights");
  CU_ASSERT(g && g->bytes == 4 * MiB && g->count == 1);
  g = tb_group(&r->contributors, "map_weights");
  CU_ASSERT(g && g->bytes == 2 * MiB && g->count == 1);
  g = tb_group(&r->leaks, "leak_it");
  CU_ASSERT(g && g->bytes == 100 && g->count == 1);
  int scratch = 0;
  for (size_t i = 0; i < r->ntemporaries; i++) {
    const LrStack *s = r->temporaries[i].stack;
    if (s->nframes && s->frames[s->site].function &&
        !strcmp(s->frames[s->site].function, "scratch")) {
      scratch = 1;
      CU_ASSERT_EQUAL(r->temporaries[i].temp_calls, 8);
      CU_ASSERT_EQUAL(r->temporaries[i].temp_bytes, 8 * (256 << 10));
    }
  }
  CU_ASSERT(scratch);
  /* phases: prefill holds the run's peak */
  int seen = 0;
  for (size_t i = 0; i < r->nphases; i++)
    if (!strcmp(r->phases[i].name, "prefill")) {
      seen = 1;
      CU_ASSERT_EQUAL(r->phases[i].peak_live, peak);
    } else if (!strcmp(r->phases[i].name, "decode")) {
      CU_ASSERT(r->phases[i].peak_live - (6 * MiB + 8 * (64 << 10) + (256 << 10)) < 4096);
    }
  CU_ASSERT(seen);
  lr_report_free(r);
  lr_trace_close(t);
}

/* Killed by SIGKILL at its peak: the trace still says 9 MiB, made of the
** blocks live then. */
static void test_killed_at_peak(void) {
  char kt[600], out[600], err[600];
  snprintf(kt, sizeof kt, "%s/killed.db", dir);
  snprintf(out, sizeof out, "%s/kill.out", dir);
  snprintf(err, sizeof err, "%s/kill.err", dir);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", kt, "--", (char *)prog, "kill",
                  NULL};
  int rc = lrt_run(argv, NULL, out, err);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  CU_ASSERT_EQUAL_FATAL(access(kt, R_OK), 0);
  char *rep[] = {(char *)lrt_env("LOWRAM_BIN"), "report", kt, "--json", "--by", "function", NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(rep, NULL, out, err), 0);
  char *o = lrt_read_file(out, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "\"live\":9437184,\"heap\":7340032,\"anon\":2097152,"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "{\"key\":\"prefill_step\",\"bytes\":3145728,\"blocks\":3,"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "\"end_reason\":\"signal\""));
  free(o);
}

/* massif's peak snapshot: "heap_tree=peak" follows its mem_heap_B line. */
static int64_t massif_peak(const char *path) {
  char *t = lrt_read_file(path, NULL);
  if (!t) return -1;
  int64_t heap = -1, v = -1;
  for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strncmp(line, "mem_heap_B=", 11)) v = strtoll(line + 11, NULL, 10);
    if (!strcmp(line, "heap_tree=peak")) heap = v;
  }
  free(t);
  return heap;
}

/* valgrind missing fails the test, naming the Debian package. */
static int have_valgrind(void) {
  char *probe[] = {"valgrind", "--version", NULL};
  char devnull[] = "/dev/null";
  if (lrt_run(probe, NULL, devnull, devnull) == 0) return 1;
  fprintf(stderr, "test_record: valgrind not found: install the Debian package valgrind"
                  " (./run.sh deps)\n");
  CU_FAIL("valgrind is not installed (Debian package valgrind)");
  return 0;
}

/* valgrind could not run what: its own output (in err) goes to the test
** log, and the test fails, except in a clang build: valgrind 3.19 cannot
** read clang 14's DWARF 5, which is not lowram's fault. */
static void valgrind_failed(const char *what, const char *err) {
  char *t = lrt_read_file(err, NULL);
  fprintf(stderr, "test_record: valgrind could not run %s; its output:\n%s\n", what,
          t ? t : "(none)");
  free(t);
#ifdef __clang__
  fprintf(stderr, "test_record: (clang build: this massif cross-check skipped)\n");
#else
  CU_FAIL("valgrind could not run the program (its output is above)");
#endif
}

static void test_massif_agrees(void) {
  if (!have_valgrind()) return;
  CU_ASSERT_FATAL(recorded());
  char out[600], arg[700], verr[600];
  snprintf(out, sizeof out, "%s/massif.out", dir);
  snprintf(verr, sizeof verr, "%s/massif.err", dir);
  snprintf(arg, sizeof arg, "--massif-out-file=%s", out);
  char *argv[] = {"valgrind", "--tool=massif", "--peak-inaccuracy=0", "--threshold=100",
                  arg, (char *)prog, NULL};
  if (lrt_run(argv, NULL, verr, verr) != 0) {
    valgrind_failed(prog, verr);
    return;
  }
  int64_t m = massif_peak(out);
  LrTrace *t = tb_open_ro(trace);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrReportOpts o = {0};
  LrReport *r = NULL;
  LrErr err = {{0}};
  CU_ASSERT_EQUAL_FATAL(lr_report_build(t, &o, &r, &err), 0);
  fprintf(stderr, "heap-only peak: lowram %lld B, massif %lld B\n", (long long)r->heap_peak,
          (long long)m);
  CU_ASSERT(m > 0);
  /* massif counts requested bytes too; the runtime's own small blocks
     (e.g. loader or dlsym buffers) may differ between the two runs */
  int64_t d = r->heap_peak - m;
  CU_ASSERT(d < 4096 && d > -4096);
  lr_report_free(r);
  lr_trace_close(t);
}

/* The reference runner (qrun, a small q8 model) under both tools. */
static void test_massif_qrun(void) {
  const char *qrun = getenv("QRUN_BIN");
  char devnull[] = "/dev/null";
  if (!qrun || !*qrun) { /* a build without qrun (tests/meson.build) */
    fprintf(stderr, "test_record: QRUN_BIN not set: no qrun in this build, qrun check skipped\n");
    return;
  }
  if (!have_valgrind()) return;
  char model[600], qt[600], out[600], arg[700], verr[600];
  snprintf(verr, sizeof verr, "%s/qrun.massif.err", dir);
  snprintf(model, sizeof model, "%s/tiny.bin", dir);
  snprintf(qt, sizeof qt, "%s/qrun.db", dir);
  snprintf(out, sizeof out, "%s/qrun.massif", dir);
  snprintf(arg, sizeof arg, "--massif-out-file=%s", out);
  char *gen[] = {(char *)qrun, "gen", "-o", model, "--quant", "q8", NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(gen, NULL, devnull, devnull), 0);
  char *rec[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", qt, "--", (char *)qrun, "run",
                 "-m", model, "--seq-len", "64", "--tokens", "16", "--threads", "1",
                 "--scratch", "malloc", NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(rec, NULL, devnull, devnull), 0);
  char *vg[] = {"valgrind", "--tool=massif", "--peak-inaccuracy=0", "--threshold=100", arg,
                (char *)qrun, "run", "-m", model, "--seq-len", "64", "--tokens", "16",
                "--threads", "1", "--scratch", "malloc", NULL};
  if (lrt_run(vg, NULL, verr, verr) != 0) {
    valgrind_failed(qrun, verr);
    return;
  }
  int64_t m = massif_peak(out);
  LrErr err = {{0}};
  LrTrace *t = lr_trace_open(qt, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrReportOpts o = {0};
  LrReport *r = NULL;
  CU_ASSERT_EQUAL_FATAL(lr_report_build(t, &o, &r, &err), 0);
  fprintf(stderr, "qrun heap-only peak: lowram %lld B, massif %lld B\n", (long long)r->heap_peak,
          (long long)m);
  int64_t d = r->heap_peak - m, tol = m / 100 > 4096 ? m / 100 : 4096;
  CU_ASSERT(m > 0 && d < tol && d > -tol);
  lr_report_free(r);
  lr_trace_close(t);
}

/* How many names in d end with suffix. */
static int count_suffix(const char *d, const char *suffix) {
  DIR *dd = opendir(d);
  int n = 0;
  size_t sl = strlen(suffix);
  for (struct dirent *e; dd && (e = readdir(dd));) {
    size_t l = strlen(e->d_name);
    n += l >= sl && !strcmp(e->d_name + l - sl, suffix);
  }
  if (dd) closedir(dd);
  return n;
}

/* RSS from outside (issue 15): qrun's demo run makes 41 events, nearly all
** before decoding; under `lowram record` with LOWRAM_RSS_INTERVAL=5 the
** recorder samples /proc/PID/status itself, so the trace has a timeline
** (>= 10 samples) although the program has one thread and no sampler. Each
** sample carries the seq of the last event before it (non-decreasing in
** time, never past the last event); no sample file is left behind, and with
** --keep-spool the spool's SPOOL.rss stays and `lowram import` of the kept
** spool gives the same samples. */
static void test_outside_rss(void) {
  const char *qrun = getenv("QRUN_BIN");
  char devnull[] = "/dev/null";
  if (!qrun || !*qrun) {
    fprintf(stderr, "test_record: QRUN_BIN not set: outside RSS check skipped\n");
    return;
  }
  char sub[600], model[700], qt[700], kept[700], spool[800], side[800], q[300];
  snprintf(sub, sizeof sub, "%s/outside", dir);
  CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
  snprintf(model, sizeof model, "%s/demo.qrun", sub);
  snprintf(qt, sizeof qt, "%s/demo.db", sub);
  char *gen[] = {(char *)qrun, "gen", "-o", model, "--dim", "288", "--layers", "6", "--heads",
                 "6", "--kv-heads", "6", "--hidden", "768", "--vocab", "32000", "--max-seq",
                 "512", "--quant", "q8", "--seed", "1", NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(gen, NULL, devnull, devnull), 0);
  char *env[] = {"LOWRAM_RSS_INTERVAL=5", NULL};
  char *rec[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", qt, "--", (char *)qrun, "run",
                 "-m", model, "--seq-len", "512", "--batch", "4", "--prompt-len", "64",
                 "--tokens", "32", NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(rec, env, devnull, devnull), 0);
  int64_t events = lrt_sql_int(qt, "SELECT value FROM meta WHERE key = 'events'");
  int64_t n = lrt_sql_int(qt, "SELECT count(*) FROM rss_samples");
  fprintf(stderr, "test_record: qrun demo: %lld events, %lld RSS samples\n", (long long)events,
          (long long)n);
  CU_ASSERT(events == 41);
  CU_ASSERT(n >= 10);
  CU_ASSERT(lrt_sql_int(qt, "SELECT count(*) FROM threads") == 1);
  CU_ASSERT(lrt_sql_int(qt, "SELECT value FROM meta WHERE key = 'rss_interval_ms'") == 0);
  CU_ASSERT(lrt_sql_int(qt, "SELECT count(*) FROM rss_samples a JOIN rss_samples b "
                            "ON a.ns < b.ns AND a.seq > b.seq") == 0);
  CU_ASSERT(lrt_sql_int(qt, "SELECT count(*) FROM rss_samples WHERE seq > "
                            "(SELECT value FROM meta WHERE key = 'last_seq')") == 0);
  /* samples between the first and the last event, at their seqs */
  CU_ASSERT(lrt_sql_int(qt, "SELECT count(DISTINCT seq) FROM rss_samples") >= 3);
  CU_ASSERT(lrt_sql_int(qt, "SELECT count(*) FROM rss_samples WHERE rss <= 0 OR anon <= 0") ==
            0);
  /* VmSwap in every sample, the recorder's and the shim's (0 without swap) */
  CU_ASSERT(lrt_sql_int(qt, "SELECT count(*) FROM rss_samples WHERE swap IS NULL OR swap < 0") ==
            0);
  CU_ASSERT(count_suffix(sub, ".rss") == 0);
  CU_ASSERT(count_suffix(sub, ".spool") == 0);
  /* kept: the spool's samples file stays beside it and imports the same */
  snprintf(kept, sizeof kept, "%s/kept.db", sub);
  char *rec2[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "--keep-spool", "-o", kept, "--",
                  (char *)qrun, "run", "-m", model, "--seq-len", "512", "--batch", "4",
                  "--prompt-len", "64", "--tokens", "32", NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(rec2, env, devnull, devnull), 0);
  snprintf(spool, sizeof spool, "%s/kept.db.spool", sub);
  snprintf(side, sizeof side, "%s/kept.db.spool.rss", sub);
  CU_ASSERT(access(side, R_OK) == 0);
  CU_ASSERT(count_suffix(sub, ".rss") == 1);
  int64_t n2 = lrt_sql_int(kept, "SELECT count(*) FROM rss_samples");
  char again[800];
  snprintf(again, sizeof again, "%s/again.db", sub);
  char *imp[] = {(char *)lrt_env("LOWRAM_BIN"), "import", "-o", again, spool, NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(imp, NULL, devnull, devnull), 0);
  snprintf(q, sizeof q, "SELECT count(*) FROM rss_samples");
  CU_ASSERT(n2 >= 10 && lrt_sql_int(again, q) == n2);
}

/* `env -i /bin/true` under record: env's shim never sees its end (it execs
** a program that is not traced, by a path the shim does not hook), and
** the recorder saw the exit: the trace says exit 0, not killed. */
static void test_env_exit(void) {
  char t[600], devnull[] = "/dev/null";
  snprintf(t, sizeof t, "%s/env-true.db", dir);
  char *rec[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", t, "--", "env", "-i",
                 "/bin/true", NULL};
  CU_ASSERT_EQUAL_FATAL(lrt_run(rec, NULL, devnull, devnull), 0);
  CU_ASSERT(lrt_sql_int(t, "SELECT count(*) FROM processes") == 1);
  CU_ASSERT(lrt_sql_int(t, "SELECT count(*) FROM processes WHERE end_reason = 'exit' AND "
                           "end_code = 0") == 1);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_record REC_PROG\n");
    return 2;
  }
  prog = argv[1];
  dir = lrt_tmpdir("record");
  snprintf(trace, sizeof trace, "%s/rec.db", dir);
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("record", NULL, NULL);
  CU_add_test(s, "recorded program's peak and sections", test_recorded_peak);
  CU_add_test(s, "killed at its peak", test_killed_at_peak);
  CU_add_test(s, "massif's heap peak agrees", test_massif_agrees);
  CU_add_test(s, "massif agrees on qrun", test_massif_qrun);
  CU_add_test(s, "RSS sampled from outside, no thread in the target", test_outside_rss);
  CU_add_test(s, "env -i /bin/true under record ends by exit", test_env_exit);
  int rc = lrt_main();
  return rc;
}
