/*
** test_peak.c: peak, live bytes at any moment, --at parsing and
** contributors (every grouping) on traces whose numbers are known by
** construction: the fixture (fixture.c) and a random trace checked
** against a brute-force recount.
*/
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/agg.h"
#include "fixture.h"
#include "lrtest.h"
#include "lowram/peak.h"
#include "tbuild.h"

static char *dir;
static char fx_path[512];

static void test_peak_exact(void) {
  LrTrace *t = tb_open_ro(fx_path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrMoment m;
  LrErr err = {{0}};
  CU_ASSERT_EQUAL_FATAL(lr_peak_moment(t, NULL, &m, &err), 0);
  CU_ASSERT_EQUAL(m.seq, FX_PEAK_SEQ);
  CU_ASSERT_EQUAL(m.ns, FX_PEAK_SEQ * 1000);
  CU_ASSERT_EQUAL(m.live.heap + m.live.anon, FX_PEAK);
  CU_ASSERT_EQUAL(m.live.anon, 65536);
  CU_ASSERT_EQUAL(m.live.file, FX_FILE_SIZE);
  CU_ASSERT(m.is_peak);
  CU_ASSERT_STRING_EQUAL(m.marker, "decode");
  CU_ASSERT_EQUAL(m.marker_nth, 1);
  CU_ASSERT_EQUAL(m.marker_seq, 5);
  lr_trace_close(t);
}

static void test_at_moments(void) {
  LrTrace *t = tb_open_ro(fx_path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrMoment m;
  LrErr err = {{0}};
  CU_ASSERT_EQUAL(lr_peak_moment(t, "9", &m, &err), 0);
  CU_ASSERT_EQUAL(m.seq, 9);
  CU_ASSERT_EQUAL(m.live.heap, 4100);
  CU_ASSERT_EQUAL(m.live.anon, 65536);
  CU_ASSERT_FALSE(m.is_peak);
  /* 9.5us: the last event at or before it is seq 9 */
  CU_ASSERT_EQUAL(lr_peak_moment(t, "9.5us", &m, &err), 0);
  CU_ASSERT_EQUAL(m.seq, 9);
  CU_ASSERT_EQUAL(lr_peak_moment(t, "0.011ms", &m, &err), 0);
  CU_ASSERT_EQUAL(m.seq, 11);
  CU_ASSERT(m.is_peak);
  CU_ASSERT_EQUAL(lr_peak_moment(t, "decode", &m, &err), 0);
  CU_ASSERT_EQUAL(m.seq, 5);
  CU_ASSERT_EQUAL(m.live.heap, 1000);
  CU_ASSERT_EQUAL(m.live.anon, 65536);
  CU_ASSERT_EQUAL(lr_peak_moment(t, "decode#2", &m, &err), 0);
  CU_ASSERT_EQUAL(m.seq, 18);
  CU_ASSERT_EQUAL(m.live.heap, 1140);
  CU_ASSERT_STRING_EQUAL(m.marker, "decode");
  CU_ASSERT_EQUAL(m.marker_nth, 2);
  CU_ASSERT_EQUAL(lr_peak_moment(t, "peak", &m, &err), 0);
  CU_ASSERT_EQUAL(m.seq, FX_PEAK_SEQ);
  /* after everything: the leaks and the file mapping are live */
  CU_ASSERT_EQUAL(lr_peak_moment(t, "30", &m, &err), 0);
  CU_ASSERT_EQUAL(m.live.heap, 1040);
  CU_ASSERT_EQUAL(m.live.anon, 0);
  CU_ASSERT_EQUAL(m.live.file, FX_FILE_SIZE);

  /* moments that are not in the trace */
  CU_ASSERT_NOT_EQUAL(lr_peak_moment(t, "31", &m, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "past the last event"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, fx_path));
  CU_ASSERT_NOT_EQUAL(lr_peak_moment(t, "2s", &m, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "after the end"));
  CU_ASSERT_NOT_EQUAL(lr_peak_moment(t, "500ns", &m, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "before the first event"));
  CU_ASSERT_NOT_EQUAL(lr_peak_moment(t, "prefill", &m, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no marker 'prefill'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "decode x2"));
  CU_ASSERT_NOT_EQUAL(lr_peak_moment(t, "decode#3", &m, &err), 0);
  CU_ASSERT_NOT_EQUAL(lr_peak_moment(t, "5parsecs", &m, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bad moment"));
  lr_trace_close(t);
}

static void expect(const LrGroups *g, const char *key, int64_t bytes, int64_t count) {
  const LrGroup *x = tb_group(g, key);
  CU_ASSERT_PTR_NOT_NULL(x);
  if (!x) {
    fprintf(stderr, "missing group %s\n", key);
    return;
  }
  CU_ASSERT_EQUAL(x->bytes, bytes);
  CU_ASSERT_EQUAL(x->count, count);
  if (x->bytes != bytes) fprintf(stderr, "group %s: %lld bytes\n", key, (long long)x->bytes);
}

static void test_contributors_by(void) {
  LrTrace *t = tb_open_ro(fx_path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrStacks *c = lr_peak_stacks_new(t);
  LrGroups g;
  LrErr err = {{0}};
  CU_ASSERT_EQUAL_FATAL(lr_peak_contributors(t, c, FX_PEAK_SEQ, LR_BY_STACK, 0, &g, &err), 0);
  CU_ASSERT_EQUAL(g.bytes, FX_PEAK);
  CU_ASSERT_EQUAL(g.count, 6);
  CU_ASSERT_EQUAL(g.n, 4);
  int64_t sum = 0;
  for (size_t i = 0; i < g.n; i++) sum += g.v[i].bytes;
  CU_ASSERT_EQUAL(sum, FX_PEAK);
  CU_ASSERT_STRING_EQUAL(g.v[0].key, "#1");
  expect(&g, "#1", 66536, 2);
  expect(&g, "#2", 3000, 1);
  expect(&g, "#4", 250, 2);
  expect(&g, "#3", 100, 1);
  char *path = lr_peak_stack_path(g.v[0].stack);
  CU_ASSERT_STRING_EQUAL(path, "main;load_weights");
  free(path);
  const LrGroup *tok = tb_group(&g, "#3");
  if (tok) {
    path = lr_peak_stack_path(tok->stack);
    CU_ASSERT_STRING_EQUAL(path, "main;tokenize;strdup");
    free(path);
    CU_ASSERT_EQUAL(tok->stack->site, 1); /* strdup in libc is skipped */
  }
  lr_peak_groups_free(&g);

  CU_ASSERT_EQUAL(lr_peak_contributors(t, c, FX_PEAK_SEQ, LR_BY_FUNCTION, 0, &g, &err), 0);
  CU_ASSERT_EQUAL(g.n, 4);
  expect(&g, "load_weights", 66536, 2);
  expect(&g, "kv_alloc", 3000, 1);
  expect(&g, "tmp_buf", 250, 2);
  expect(&g, "tokenize", 100, 1);
  lr_peak_groups_free(&g);

  CU_ASSERT_EQUAL(lr_peak_contributors(t, c, FX_PEAK_SEQ, LR_BY_FILE, 0, &g, &err), 0);
  CU_ASSERT_EQUAL(g.n, 3);
  expect(&g, "model.c", 66536, 2);
  expect(&g, "kv.c", 3250, 3);
  expect(&g, "tok.c", 100, 1);
  lr_peak_groups_free(&g);

  CU_ASSERT_EQUAL(lr_peak_contributors(t, c, FX_PEAK_SEQ, LR_BY_LINE, 0, &g, &err), 0);
  CU_ASSERT_EQUAL(g.n, 4);
  expect(&g, "kv.c:20", 3000, 1);
  expect(&g, "kv.c:40", 250, 2);
  lr_peak_groups_free(&g);

  CU_ASSERT_EQUAL(lr_peak_contributors(t, c, FX_PEAK_SEQ, LR_BY_MODULE, 0, &g, &err), 0);
  CU_ASSERT_EQUAL(g.n, 2);
  expect(&g, "/opt/app/bin/app", 69786, 5);
  expect(&g, "/opt/app/lib/libtok.so", 100, 1);
  lr_peak_groups_free(&g);

  /* --min-size drops the small blocks */
  CU_ASSERT_EQUAL(lr_peak_contributors(t, c, FX_PEAK_SEQ, LR_BY_STACK, 1000, &g, &err), 0);
  CU_ASSERT_EQUAL(g.bytes, 69536);
  CU_ASSERT_EQUAL(g.n, 2);
  lr_peak_groups_free(&g);

  LrBy by;
  CU_ASSERT_EQUAL(lr_peak_parse_by("line", &by), 0);
  CU_ASSERT_EQUAL(by, LR_BY_LINE);
  CU_ASSERT_EQUAL(lr_peak_parse_by("lines", &by), -1);
  lr_peak_stacks_free(c);
  lr_trace_close(t);
}

/* A random trace over several checkpoints, checked against a recount. */
#define RN 30000
static void test_random_bruteforce(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/random.db", dir);
  sqlite3 *db = tb_create(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  tb_frame(db, 1, "/bin/r", "f1", "r.c", 1);
  tb_frame(db, 2, "/bin/r", "f2", "r.c", 2);
  tb_stack(db, 1, (int64_t)1, (int64_t)0);
  tb_stack(db, 2, (int64_t)2, (int64_t)0);
  static int64_t size[RN], as[RN], fs[RN];
  static int reg[RN];
  srand(7);
  int64_t seq = 1;
  for (int i = 0; i < RN; i++) {
    as[i] = seq;
    seq += 1 + rand() % 3;
    size[i] = 1 + rand() % 5000;
    reg[i] = rand() % 10 == 0 ? 1 : 0;
    int r = rand() % 100;
    fs[i] = r < 5 ? -1 : as[i] + 1 + (r < 60 ? rand() % 4 : rand() % 20000);
    tb_alloc(db, reg[i] ? "anon" : "heap", size[i], as[i], fs[i], 1 + (i % 3), 1 + (i % 2));
  }
  CU_ASSERT_EQUAL_FATAL(tb_finish(db, path, 1), 0);
  /* recount: live at every seq through a delta array */
  int64_t maxseq = seq + 20010;
  int64_t *delta = calloc((size_t)maxseq + 2, sizeof *delta);
  for (int i = 0; i < RN; i++) {
    delta[as[i]] += size[i];
    if (fs[i] >= 0) delta[fs[i]] -= size[i];
  }
  int64_t live = 0, peak = 0, peak_seq = 0;
  int64_t *at = calloc((size_t)maxseq + 2, sizeof *at);
  for (int64_t s = 0; s <= maxseq; s++) {
    live += delta[s];
    at[s] = live;
    if (live > peak) {
      peak = live;
      peak_seq = s;
    }
  }
  LrTrace *t = tb_open_ro(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrMoment m;
  LrErr err = {{0}};
  CU_ASSERT_EQUAL(lr_peak_moment(t, "peak", &m, &err), 0);
  CU_ASSERT_EQUAL(m.seq, peak_seq);
  CU_ASSERT_EQUAL(m.live.heap + m.live.anon, peak);
  int64_t last = 0;
  for (int i = 0; i < RN; i++) {
    if (as[i] > last) last = as[i];
    if (fs[i] > last) last = fs[i];
  }
  int bad = 0;
  for (int k = 0; k < 200; k++) {
    int64_t s = rand() % (last + 1);
    LrLive l;
    CU_ASSERT_EQUAL(lr_peak_live_at(t, s, &l, &err), 0);
    if (l.heap + l.anon != at[s]) bad++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  LrStacks *c = lr_peak_stacks_new(t);
  LrGroups g;
  CU_ASSERT_EQUAL(lr_peak_contributors(t, c, peak_seq, LR_BY_FUNCTION, 0, &g, &err), 0);
  CU_ASSERT_EQUAL(g.bytes, peak);
  CU_ASSERT_EQUAL(g.n, 2);
  lr_peak_groups_free(&g);
  lr_peak_stacks_free(c);
  lr_trace_close(t);
  free(delta);
  free(at);
}

/* Sizes near INT64_MAX (a damaged or crafted trace): grouping three stacks
** of one function saturates at INT64_MAX instead of overflowing (UBSan). */
static void test_group_saturates(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/huge.db", dir);
  sqlite3 *db = tb_create(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  tb_frame(db, 1, "/bin/h", "huge", "h.c", 1);
  tb_frame(db, 2, "/bin/h", "a", "h.c", 2);
  tb_frame(db, 3, "/bin/h", "b", "h.c", 3);
  tb_frame(db, 4, "/bin/h", "c", "h.c", 4);
  for (int i = 0; i < 3; i++) {
    tb_stack(db, i + 1, (int64_t)1, (int64_t)(i + 2), (int64_t)0);
    tb_alloc(db, "heap", INT64_MAX / 2, i + 1, -1, 1, i + 1);
  }
  CU_ASSERT_EQUAL_FATAL(tb_finish(db, path, 1), 0);
  LrTrace *t = tb_open_ro(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrStacks *c = lr_peak_stacks_new(t);
  LrGroups g;
  LrErr err = {{0}};
  CU_ASSERT_EQUAL_FATAL(lr_peak_contributors(t, c, 3, LR_BY_FUNCTION, 0, &g, &err), 0);
  CU_ASSERT_EQUAL(g.n, 1);
  CU_ASSERT_EQUAL(g.v[0].bytes, INT64_MAX);
  CU_ASSERT_EQUAL(g.v[0].count, 3);
  CU_ASSERT_EQUAL(g.bytes, INT64_MAX);
  lr_peak_groups_free(&g);
  lr_peak_stacks_free(c);
  lr_trace_close(t);
}

/* An unfinished trace: no aggregates in the file; the reader builds them
** in memory and leaves the file as it was. */
static void test_unfinished_untouched(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/unfinished.db", dir);
  CU_ASSERT_EQUAL_FATAL(fx_write(path, 0, 0, 3000), 0);
  size_t n1 = 0, n2 = 0;
  char *before = lrt_read_file(path, &n1);
  LrTrace *t = tb_open_ro(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  LrMoment m;
  LrErr err = {{0}};
  CU_ASSERT_EQUAL(lr_peak_moment(t, NULL, &m, &err), 0);
  CU_ASSERT_EQUAL(m.live.heap + m.live.anon, FX_PEAK);
  lr_trace_close(t);
  char *after = lrt_read_file(path, &n2);
  CU_ASSERT_EQUAL(n1, n2);
  CU_ASSERT(before && after && n1 == n2 && !memcmp(before, after, n1));
  CU_ASSERT_EQUAL(lrt_sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'agg_%'"),
                  0);
  free(before);
  free(after);
}

int main(void) {
  dir = lrt_tmpdir("peak");
  snprintf(fx_path, sizeof fx_path, "%s/fixture.db", dir);
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("peak", NULL, NULL);
  if (fx_write(fx_path, 0, 1, 3000)) {
    fprintf(stderr, "cannot write the fixture\n");
    return 1;
  }
  CU_add_test(s, "grouping saturates at INT64_MAX", test_group_saturates);
  CU_add_test(s, "peak is exact", test_peak_exact);
  CU_add_test(s, "--at seq, time, marker", test_at_moments);
  CU_add_test(s, "contributors by every key", test_contributors_by);
  CU_add_test(s, "random trace vs recount", test_random_bruteforce);
  CU_add_test(s, "unfinished trace untouched", test_unfinished_untouched);
  int rc = lrt_main();
  return rc;
}
