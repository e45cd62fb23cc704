/*
** test_model.c: the report model (report.h) and the diff (diff.h) on
** traces with hand-computed numbers: leaks, temporaries (including two
** threads interleaving), hot sites, largest blocks, phases (with a
** "(start)" phase), mapped-file residency, the timeline, and a diff that
** matches sites by name across traces whose stack ids differ.
*/
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/agg.h"
#include "lowram/diff.h"
#include "fixture.h"
#include "lrtest.h"
#include "lowram/report.h"
#include "tbuild.h"

static char *dir;
static char fx_path[512];

static LrReport *build(LrTrace *t, const char *at) {
  LrReportOpts o = {0};
  o.at = at;
  LrReport *r = NULL;
  LrErr err = {{0}};
  if (lr_report_build(t, &o, &r, &err)) fprintf(stderr, "report: %s\n", err.msg);
  return r;
}

static void test_sections(void) {
  LrTrace *t = tb_open_ro(fx_path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrReport *r = build(t, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_STRING_EQUAL(r->run.argv, "./app --model m.bin");
  CU_ASSERT_EQUAL(r->run.threads, 2);
  CU_ASSERT_EQUAL(r->run.allocs, 10);
  CU_ASSERT_EQUAL(r->run.frees, 7);
  CU_ASSERT_EQUAL(r->run.markers, 3);
  CU_ASSERT(r->run.complete);
  CU_ASSERT_EQUAL(r->peak.live.heap + r->peak.live.anon, FX_PEAK);
  CU_ASSERT_EQUAL(r->at.seq, FX_PEAK_SEQ);
  CU_ASSERT_EQUAL(r->contributors.bytes, FX_PEAK);
  CU_ASSERT_EQUAL(r->heap_peak, FX_PEAK - 65536);
  CU_ASSERT_EQUAL(r->file_peak, FX_FILE_SIZE);
  /* RSS: the sample at seq 12 is nearest the peak at 11 */
  CU_ASSERT(r->rss_at.found);
  CU_ASSERT_EQUAL(r->rss_at.seq, 12);
  CU_ASSERT_EQUAL(r->rss_max.rss, 3000000);

  /* leaks: A (1000, LOAD) and I (40, KV); the file mapping is not one */
  CU_ASSERT_EQUAL(r->leaks.bytes, 1040);
  CU_ASSERT_EQUAL(r->leaks.count, 2);
  CU_ASSERT_EQUAL_FATAL(r->leaks.n, 2);
  CU_ASSERT_STRING_EQUAL(r->leaks.v[0].key, "#1");
  CU_ASSERT_EQUAL(r->leaks.v[0].bytes, 1000);
  CU_ASSERT_EQUAL(r->leaks.v[1].bytes, 40);

  /* temporaries: C (KV 500), G (TMP 50), H (TOK 10) */
  CU_ASSERT_EQUAL(r->temp_calls, 3);
  CU_ASSERT_EQUAL(r->temp_bytes, 560);
  CU_ASSERT_EQUAL_FATAL(r->ntemporaries, 3);
  CU_ASSERT_EQUAL(r->temporaries[0].stack->id, FX_KV);
  CU_ASSERT_EQUAL(r->temporaries[0].temp_bytes, 500);
  CU_ASSERT_EQUAL(r->temporaries[0].calls, 3);
  CU_ASSERT_EQUAL(r->temporaries[1].stack->id, FX_TMP);
  CU_ASSERT_EQUAL(r->temporaries[2].stack->id, FX_TOK);

  /* hot: LOAD and KV have 3 calls each; LOAD has more bytes */
  CU_ASSERT_EQUAL_FATAL(r->nhot_calls, 4);
  CU_ASSERT_EQUAL(r->hot_calls[0].stack->id, FX_LOAD);
  CU_ASSERT_EQUAL(r->hot_calls[0].calls, 3);
  CU_ASSERT_EQUAL(r->hot_calls[1].stack->id, FX_KV);
  CU_ASSERT_EQUAL(r->hot_calls[1].bytes, 3540);
  CU_ASSERT_EQUAL(r->hot_bytes[0].bytes, 1000 + 65536 + FX_FILE_SIZE);
  CU_ASSERT_EQUAL(r->hot_bytes[0].max_size, FX_FILE_SIZE);

  /* largest */
  CU_ASSERT_EQUAL_FATAL(r->nlargest, 10);
  CU_ASSERT_EQUAL(r->largest[0].size, FX_FILE_SIZE);
  CU_ASSERT_STRING_EQUAL(r->largest[0].region, "file");
  CU_ASSERT_EQUAL(r->largest[0].free_seq, -1);
  CU_ASSERT_EQUAL(r->largest[1].size, 65536);
  CU_ASSERT_EQUAL(r->largest[1].free_seq, 20);
  CU_ASSERT_EQUAL(r->largest[9].size, 10);

  /* phases */
  CU_ASSERT_EQUAL_FATAL(r->nphases, 3);
  LrPhase *p = r->phases;
  CU_ASSERT_STRING_EQUAL(p[0].name, "load");
  CU_ASSERT_EQUAL(p[0].start_seq, 1);
  CU_ASSERT_EQUAL(p[0].end_seq, 4);
  CU_ASSERT_EQUAL(p[0].start_live, 0);
  CU_ASSERT_EQUAL(p[0].peak_live, 66536);
  CU_ASSERT_EQUAL(p[0].peak_seq, 3);
  CU_ASSERT_STRING_EQUAL(p[1].name, "decode");
  CU_ASSERT_EQUAL(p[1].nth, 1);
  CU_ASSERT_EQUAL(p[1].start_live, 66536);
  CU_ASSERT_EQUAL(p[1].peak_live, FX_PEAK);
  CU_ASSERT_EQUAL(p[1].peak_seq, FX_PEAK_SEQ);
  CU_ASSERT_EQUAL(p[1].end_live, 66676);
  CU_ASSERT_EQUAL(p[1].end_seq, 17);
  CU_ASSERT_EQUAL(p[2].nth, 2);
  CU_ASSERT_EQUAL(p[2].start_live, 66676);
  CU_ASSERT_EQUAL(p[2].peak_live, 66676);
  CU_ASSERT_EQUAL(p[2].peak_seq, 18);
  CU_ASSERT_EQUAL(p[2].end_live, 1040);
  CU_ASSERT_EQUAL(p[2].end_seq, 30);
  /* contributors for each name's highest occurrence: load and decode#1 */
  for (int i = 0; i < 2; i++) {
    CU_ASSERT(p[i].has_top);
    CU_ASSERT_EQUAL(p[i].top.bytes, p[i].peak_live);
  }
  CU_ASSERT_FALSE(p[2].has_top);
  CU_ASSERT_STRING_EQUAL(p[1].top.v[0].key, "#1");
  CU_ASSERT_EQUAL(p[1].top.v[1].bytes, 3000);

  /* mapped files: baseline RssFile 100 KiB; highest excess 768 KiB */
  CU_ASSERT_EQUAL_FATAL(r->nmapped, 1);
  CU_ASSERT_STRING_EQUAL(r->mapped[0].file, "/data/model.bin");
  CU_ASSERT_EQUAL(r->mapped[0].max_live, FX_FILE_SIZE);
  CU_ASSERT_EQUAL(r->mapped[0].resident, 786432);
  CU_ASSERT_EQUAL(r->mapped[0].live_at_end, FX_FILE_SIZE);
  CU_ASSERT_EQUAL(r->rss_file_baseline, 102400);

  /* timeline: exactly one tick has the peak, and it is the highest */
  CU_ASSERT_EQUAL_FATAL(r->ntimeline, 60);
  int peaks = 0;
  int64_t hi = 0;
  for (size_t i = 0; i < r->ntimeline; i++) {
    if (r->timeline[i].has_peak) {
      peaks++;
      CU_ASSERT_EQUAL(r->timeline[i].max_live, FX_PEAK);
    }
    if (r->timeline[i].max_live > hi) hi = r->timeline[i].max_live;
  }
  CU_ASSERT_EQUAL(peaks, 1);
  CU_ASSERT_EQUAL(hi, FX_PEAK);
  CU_ASSERT_EQUAL(r->timeline[r->ntimeline - 1].end_live, 1040);
  lr_report_free(r);

  /* --at moves the contributors */
  r = build(t, "decode#2");
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->at.seq, 18);
  CU_ASSERT_EQUAL(r->contributors.bytes, 66676);
  CU_ASSERT_EQUAL(r->peak.seq, FX_PEAK_SEQ);
  lr_report_free(r);
  LrReportOpts o = {0};
  o.at = "nope";
  LrErr err = {{0}};
  CU_ASSERT_NOT_EQUAL(lr_report_build(t, &o, &r, &err), 0);
  CU_ASSERT_PTR_NULL(r);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no marker 'nope'"));
  lr_trace_close(t);
}

/* Two threads interleave; the rule is per thread. Plus events before the
** first marker, which make a "(start)" phase. */
static void test_threads_and_start_phase(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/threads.db", dir);
  sqlite3 *w = tb_create(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  tb_frame(w, 1, "/bin/t", "one", "t.c", 1);
  tb_frame(w, 2, "/bin/t", "two", "t.c", 2);
  tb_stack(w, 1, (int64_t)1, (int64_t)0);
  tb_stack(w, 2, (int64_t)2, (int64_t)0);
  tb_alloc(w, "heap", 100, 1, 3, 1, 1); /* X: temporary (t1 next allocates at 4) */
  tb_alloc(w, "heap", 7, 2, 5, 2, 2);   /* Y: temporary (t2 next allocates at 6) */
  tb_marker(w, 3, "go");
  tb_alloc(w, "heap", 50, 4, -1, 1, 1); /* Z: never freed */
  tb_alloc(w, "heap", 9, 6, 7, 2, 2);   /* W: temporary (t2's last) */
  tb_alloc(w, "heap", 30, 8, 9, 1, 1);  /* V: not: Z is t1's previous... V is t1's last */
  CU_ASSERT_EQUAL_FATAL(tb_finish(w, path, 1), 0);
  LrTrace *t = tb_open_ro(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrReport *r = build(t, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  /* X, Y, W and V (t1's last, freed) are temporaries; Z is not */
  CU_ASSERT_EQUAL(r->temp_calls, 4);
  CU_ASSERT_EQUAL(r->temp_bytes, 100 + 7 + 9 + 30);
  /* live: 1->100, 2->107 (peak), 3->7, 4->57, 5->50, 6->59, 7->50, 8->80, 9->50 */
  CU_ASSERT_EQUAL(r->peak.seq, 2);
  CU_ASSERT_EQUAL(r->peak.live.heap, 107);
  CU_ASSERT_STRING_EQUAL(r->peak.marker, "");
  CU_ASSERT_EQUAL_FATAL(r->nphases, 2);
  CU_ASSERT_STRING_EQUAL(r->phases[0].name, "(start)");
  CU_ASSERT_EQUAL(r->phases[0].start_seq, 1);
  CU_ASSERT_EQUAL(r->phases[0].end_seq, 2);
  CU_ASSERT_EQUAL(r->phases[0].peak_live, 107);
  CU_ASSERT_STRING_EQUAL(r->phases[1].name, "go");
  CU_ASSERT_EQUAL(r->phases[1].start_live, 7);
  CU_ASSERT_EQUAL(r->phases[1].peak_live, 80);
  CU_ASSERT_EQUAL(r->phases[1].peak_seq, 8);
  CU_ASSERT_EQUAL(r->phases[1].end_live, 50);
  CU_ASSERT_EQUAL(r->nmapped, 0);
  CU_ASSERT_EQUAL(r->leaks.bytes, 50);
  lr_report_free(r);
  lr_trace_close(t);
}

/* No RSS sample before the first mapping: the lowest RssFile is the
** baseline. Two files share the excess in proportion to their size. */
static void test_mapped_lowest_baseline(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/maps.db", dir);
  sqlite3 *w = tb_create(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  tb_map_file(w, "/m/big.bin", 3 << 20, 1, -1, 1, -1);
  tb_map_file(w, "/m/small.bin", 1 << 20, 2, 6, 1, -1);
  tb_alloc(w, "heap", 10, 3, 8, 1, -1);
  tb_rss(w, 3, 5 << 20, 1 << 20, 300 << 10);
  tb_rss(w, 4, 5 << 20, 1 << 20, 200 << 10); /* the lowest: baseline */
  tb_rss(w, 5, 5 << 20, 1 << 20, (200 << 10) + (2 << 20)); /* +2 MiB: 1.5 big, 0.5 small */
  tb_rss(w, 7, 5 << 20, 1 << 20, (200 << 10) + (1 << 20)); /* +1 MiB: big alone */
  CU_ASSERT_EQUAL_FATAL(tb_finish(w, path, 1), 0);
  LrTrace *t = tb_open_ro(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrReport *r = build(t, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  CU_ASSERT_EQUAL(r->rss_file_baseline, 200 << 10);
  CU_ASSERT(r->rss_file_baseline_lowest);
  CU_ASSERT_EQUAL_FATAL(r->nmapped, 2);
  CU_ASSERT_STRING_EQUAL(r->mapped[0].file, "/m/big.bin");
  CU_ASSERT_EQUAL(r->mapped[0].resident, 3 << 19);
  CU_ASSERT_EQUAL(r->mapped[0].live_at_end, 3 << 20);
  CU_ASSERT_STRING_EQUAL(r->mapped[1].file, "/m/small.bin");
  CU_ASSERT_EQUAL(r->mapped[1].resident, 1 << 19);
  CU_ASSERT_EQUAL(r->mapped[1].live_at_end, 0);
  /* no stack at all: one "[no stack]" group */
  CU_ASSERT_EQUAL_FATAL(r->contributors.n, 1);
  CU_ASSERT_STRING_EQUAL(r->contributors.v[0].key, "[no stack]");
  CU_ASSERT_EQUAL(r->contributors.bytes, 10);
  lr_report_free(r);
  lr_trace_close(t);
}

static void test_diff_by_name(void) {
  char pa[512], pb[512];
  snprintf(pa, sizeof pa, "%s/a.db", dir);
  snprintf(pb, sizeof pb, "%s/b.db", dir);
  /* B: other frame and stack ids, and block D is 5000 bytes, not 3000 */
  CU_ASSERT_EQUAL_FATAL(fx_write(pa, 0, 1, 3000), 0);
  CU_ASSERT_EQUAL_FATAL(fx_write(pb, 100, 1, 5000), 0);
  LrTrace *a = tb_open_ro(pa), *b = tb_open_ro(pb);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  LrDiff *d = NULL;
  LrErr err = {{0}};
  CU_ASSERT_EQUAL_FATAL(lr_diff_build(a, b, LR_BY_STACK, &d, &err), 0);
  CU_ASSERT_EQUAL(d->peak_a.live.heap + d->peak_a.live.anon, FX_PEAK);
  CU_ASSERT_EQUAL(d->peak_b.live.heap + d->peak_b.live.anon, FX_PEAK + 2000);
  CU_ASSERT_EQUAL(d->n, 4); /* the four stacks, each matched once */
  CU_ASSERT_STRING_EQUAL(d->rows[0].key, "main;decode;kv_alloc");
  CU_ASSERT_EQUAL(d->rows[0].peak_a, 3000);
  CU_ASSERT_EQUAL(d->rows[0].peak_b, 5000);
  CU_ASSERT_EQUAL(d->rows[0].bytes_b - d->rows[0].bytes_a, 2000);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d->rows[0].stack_a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d->rows[0].stack_b);
  CU_ASSERT_EQUAL(d->rows[0].stack_a->id, FX_KV);
  CU_ASSERT_EQUAL(d->rows[0].stack_b->id, 100 + FX_KV);
  for (size_t i = 1; i < d->n; i++) {
    CU_ASSERT_EQUAL(d->rows[i].peak_a, d->rows[i].peak_b);
    CU_ASSERT_PTR_NOT_NULL(d->rows[i].stack_a);
    CU_ASSERT_PTR_NOT_NULL(d->rows[i].stack_b);
  }
  lr_diff_free(d);
  CU_ASSERT_EQUAL_FATAL(lr_diff_build(a, b, LR_BY_FILE, &d, &err), 0);
  CU_ASSERT_EQUAL(d->n, 3);
  CU_ASSERT_STRING_EQUAL(d->rows[0].key, "kv.c");
  CU_ASSERT_EQUAL(d->rows[0].peak_a, 3250);
  CU_ASSERT_EQUAL(d->rows[0].peak_b, 5250);
  lr_diff_free(d);
  lr_trace_close(a);
  lr_trace_close(b);
}

int main(void) {
  dir = lrt_tmpdir("model");
  snprintf(fx_path, sizeof fx_path, "%s/fixture.db", dir);
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  if (fx_write(fx_path, 0, 1, 3000)) return 1;
  CU_pSuite s = CU_add_suite("model", NULL, NULL);
  CU_add_test(s, "every report section", test_sections);
  CU_add_test(s, "threads' temporaries and the (start) phase", test_threads_and_start_phase);
  CU_add_test(s, "mapped files against the lowest RssFile", test_mapped_lowest_baseline);
  CU_add_test(s, "diff matches sites by name", test_diff_by_name);
  int rc = lrt_main();
  return rc;
}
