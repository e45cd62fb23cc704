/*
** test_schema_doc.c: one run, one trace. `sh -c` runs allocprog three
** times (100000, 300000 and 200000 bytes): four processes (and the shell's
** fork children's exec'd images) in one file, whose rows are exact per
** process; then every SQL example of schemas/README.md runs, unchanged,
** on the connection lowram opens (the process with the highest peak
** selected, and another one) and its answer is checked.
*/
#include <CUnit/Basic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/trace_internal.h"
#include "lowram/import.h"
#include "lowram/trace.h"
#include "lrtest.h"
#include "test_import.h"

static char g_db[4300];
static int g_recorded;

/* Records the run once; 0 when the shim is not built (tests skip). */
static int recorded(void) {
  const char *shim = getenv("LOWRAM_SHIM");
  if (!shim || access(shim, R_OK) != 0) return 0;
  if (g_recorded) return g_recorded > 0;
  g_recorded = -1;
  char dir[4200], script[4096], out[4300], err[4300];
  snprintf(dir, sizeof dir, "%s/doc", ti_dir());
  mkdir(dir, 0755);
  snprintf(g_db, sizeof g_db, "%s/run.db", dir);
  snprintf(script, sizeof script, "%s 100000; %s 300000; %s 200000", LR_ALLOCPROG_BIN,
           LR_ALLOCPROG_BIN, LR_ALLOCPROG_BIN);
  snprintf(out, sizeof out, "%s/rec.out", dir);
  snprintf(err, sizeof err, "%s/rec.err", dir);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", g_db, "--", "/bin/sh", "-c",
                  script, NULL};
  int rc = lrt_run(argv, NULL, out, err);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc == 0) g_recorded = 1;
  return g_recorded > 0;
}

static int64_t q(const char *sql) { return lrt_sql_int(g_db, sql); }

/* The processes.id of the allocprog image that was given `size`. */
static int64_t prog_id(long size) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT id FROM processes WHERE json_extract(argv, '$[1]') = '%ld' "
           "AND json_extract(argv, '$[0]') LIKE '%%lr_allocprog'", size);
  return q(sql);
}

static void test_four_processes(void) {
  if (!recorded()) return;
  /* the shell and three children, in one file */
  CU_ASSERT_EQUAL(q("SELECT count(DISTINCT pid) FROM processes"), 4);
  CU_ASSERT_EQUAL(q("SELECT count(*) FROM processes WHERE json_extract(argv, '$[0]') LIKE "
                    "'%lr_allocprog'"), 3);
  static const long sizes[] = {100000, 300000, 200000};
  int64_t sh_pid = q("SELECT pid FROM processes WHERE id = 1");
  for (int i = 0; i < 3; i++) {
    long n = sizes[i];
    int64_t id = prog_id(n);
    CU_ASSERT_FATAL(id > 1);
    char sql[512];
    /* exact bytes and calls per process, from the rows */
    snprintf(sql, sizeof sql, "SELECT sum(size) FROM allocations WHERE process_id = %lld AND "
             "region = 'heap'", (long long)id);
    CU_ASSERT_EQUAL(q(sql), n + n / 2);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM allocations WHERE process_id = %lld AND "
             "region = 'heap'", (long long)id);
    CU_ASSERT_EQUAL(q(sql), 2);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM allocations WHERE process_id = %lld AND "
             "region = 'heap' AND free_seq IS NULL AND size = %ld", (long long)id, n);
    CU_ASSERT_EQUAL(q(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM allocations WHERE process_id = %lld AND "
             "region = 'file' AND size = 4096 AND free_kind = 'munmap'", (long long)id);
    CU_ASSERT_EQUAL(q(sql), 1);
    /* its own peak, parameters and marker */
    snprintf(sql, sizeof sql, "SELECT peak FROM processes WHERE id = %lld", (long long)id);
    CU_ASSERT_EQUAL(q(sql), n + n / 2);
    snprintf(sql, sizeof sql, "SELECT peak_heap FROM processes WHERE id = %lld", (long long)id);
    CU_ASSERT_EQUAL(q(sql), n + n / 2);
    snprintf(sql, sizeof sql, "SELECT value_int FROM params WHERE process_id = %lld AND "
             "name = 'size'", (long long)id);
    CU_ASSERT_EQUAL(q(sql), n);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM markers WHERE process_id = %lld AND "
             "name = 'load'", (long long)id);
    CU_ASSERT_EQUAL(q(sql), 1);
    /* a child of the shell, ended by exit 0 */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM processes WHERE id = %lld AND ppid = %lld "
             "AND end_reason = 'exit' AND end_code = 0", (long long)id, (long long)sh_pid);
    CU_ASSERT_EQUAL(q(sql), 1);
    /* the aggregates are its own */
    snprintf(sql, sizeof sql, "SELECT value FROM agg_info WHERE process_id = %lld AND "
             "key = 'peak'", (long long)id);
    CU_ASSERT_EQUAL(q(sql), n + n / 2);
  }
  /* the markers of the three are three rows, the params three */
  CU_ASSERT_EQUAL(q("SELECT count(*) FROM markers WHERE name = 'load'"), 3);
  /* the default process: the highest peak, 300000 + 150000 */
  CU_ASSERT_EQUAL(q("SELECT value FROM meta WHERE key = 'default_process'"), prog_id(300000));
  CU_ASSERT_EQUAL(q("SELECT value FROM meta WHERE key = 'peak_heap'"), 450000);
  /* ids are unique in the file and in each process's ranges */
  CU_ASSERT_EQUAL(q("SELECT count(*) FROM allocations a JOIN processes p ON p.id = a.process_id "
                    "WHERE a.id NOT BETWEEN p.alloc_first AND p.alloc_last OR (a.stack_id IS "
                    "NOT NULL AND a.stack_id NOT BETWEEN p.stack_first AND p.stack_last)"), 0);

  /* the library: default process, then --pid and --process */
  LrErr err = {{0}};
  LrTrace *t = lr_trace_open(g_db, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_EQUAL(lr_trace_process(t), prog_id(300000));
  int64_t v = 0;
  CU_ASSERT_EQUAL(lr_trace_meta_int(t, "peak_heap", &v), 0);
  CU_ASSERT_EQUAL(v, 450000);
  CU_ASSERT_EQUAL(lr_trace_select_process(t, prog_id(100000), &err), 0);
  CU_ASSERT_EQUAL(lr_trace_meta_int(t, "peak_heap", &v), 0);
  CU_ASSERT_EQUAL(v, 150000);
  CU_ASSERT_EQUAL(lr_trace_select_pid(t, sh_pid, &err), 0);
  CU_ASSERT_EQUAL(lr_trace_meta_int(t, "pid", &v), 0);
  CU_ASSERT_EQUAL(v, sh_pid);
  CU_ASSERT_NOT_EQUAL(lr_trace_select_process(t, 99, &err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no process 99"));
  LrProcess *ps = NULL;
  size_t np = 0;
  CU_ASSERT_EQUAL(lr_trace_processes(t, &ps, &np, &err), 0);
  CU_ASSERT_EQUAL(np, (size_t)q("SELECT count(*) FROM processes"));
  CU_ASSERT_TRUE(np > 0 && ps[0].id == 1 && ps[0].pid == sh_pid && ps[0].parent_id == 0);
  free(ps);
  lr_trace_close(t);

  /* the CLI: report and export take --pid / --process */
  char id[32], out[4400], errp[4400];
  snprintf(id, sizeof id, "%lld", (long long)prog_id(200000));
  snprintf(out, sizeof out, "%s.out", g_db);
  snprintf(errp, sizeof errp, "%s.err", g_db);
  char *rep[] = {(char *)lrt_env("LOWRAM_BIN"), "report", g_db, "--process", id, NULL};
  CU_ASSERT_EQUAL(lrt_run(rep, NULL, out, errp), 0);
  char *o = lrt_read_file(out, NULL);
  CU_ASSERT_TRUE(o && strstr(o, "300000 bytes"));
  free(o);
  char *exp[] = {(char *)lrt_env("LOWRAM_BIN"), "export", g_db, "--what", "leaks", "--process", id,
                 NULL};
  CU_ASSERT_EQUAL(lrt_run(exp, NULL, out, errp), 0);
  o = lrt_read_file(out, NULL);
  CU_ASSERT_TRUE(o && strstr(o, ",200000,"));
  free(o);
  rep[3] = "--pid";
  rep[4] = "999999999";
  CU_ASSERT_EQUAL(lrt_run(rep, NULL, out, errp), 1);
  o = lrt_read_file(errp, NULL);
  CU_ASSERT_TRUE(o && strstr(o, "no process with pid 999999999"));
  free(o);
}

/* ---- the README's examples ---- */

/* Every ```sql block of schemas/README.md, in order. */
static size_t doc_queries(char ***out) {
  char path[4200];
  snprintf(path, sizeof path, "%s/schemas/README.md", lrt_env("LOWRAM_SOURCE_ROOT"));
  char *doc = lrt_read_file(path, NULL);
  size_t n = 0;
  *out = NULL;
  for (char *p = doc; p && (p = strstr(p, "```sql\n"));) {
    p += 7;
    char *end = strstr(p, "```");
    if (!end) break;
    *out = realloc(*out, (n + 1) * sizeof **out);
    (*out)[n++] = strndup(p, (size_t)(end - p));
    p = end + 3;
  }
  free(doc);
  return n;
}

/* All rows of sql on db as "a|b|c\n" lines (NULL as "NULL"); malloc'd. */
static char *rows(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "query failed: %s\n%s\n", sqlite3_errmsg(db), sql);
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = calloc(1, cap);
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const char *v = (const char *)sqlite3_column_text(st, c);
      size_t need = len + (v ? strlen(v) : 4) + 4;
      if (need > cap) buf = realloc(buf, cap = need * 2);
      len += (size_t)sprintf(buf + len, "%s%s", c ? "|" : "", v ? v : "NULL");
    }
    buf[len++] = '\n';
    buf[len] = 0;
  }
  sqlite3_finalize(st);
  return buf;
}

static void expect(const char *got, const char *want, size_t i) {
  if (!got || strcmp(got, want)) {
    fprintf(stderr, "README query %zu: got \"%s\", want \"%s\"\n", i, got ? got : "(failed)",
            want);
    CU_FAIL("README query answer");
  }
}

static void expect_has(const char *got, const char *needle, size_t i) {
  if (!got || !strstr(got, needle)) {
    fprintf(stderr, "README query %zu: \"%s\" lacks \"%s\"\n", i, got ? got : "(failed)",
            needle);
    CU_FAIL("README query answer");
  }
}

static void test_readme_queries(void) {
  if (!recorded()) return;
  char **qs = NULL;
  size_t n = doc_queries(&qs);
  CU_ASSERT_EQUAL_FATAL(n, 12);
  LrErr err = {{0}};
  LrTrace *t = lr_trace_open(g_db, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  sqlite3 *db = lr_trace_db(t);
  int64_t top = prog_id(300000);
  char *r, want[512], peak_seq[32] = "0";
  /* 0: processes, highest peak first: allocprog 300000 */
  r = rows(db, qs[0]);
  snprintf(want, sizeof want, "%lld|", (long long)top);
  CU_ASSERT_TRUE(r && !strncmp(r, want, strlen(want)));
  expect_has(r, "lr_allocprog|450000|exit", 0);
  free(r);
  /* 1: how it ended and its peak */
  r = rows(db, qs[1]);
  expect_has(r, "end_reason|exit\n", 1);
  expect_has(r, "peak_heap|450000\n", 1);
  expect_has(r, "300000\"]\n", 1); /* argv */
  free(r);
  /* 2: bytes and calls per kind: two mallocs and the file mapping (mmap64:
  ** meson builds with _FILE_OFFSET_BITS=64) */
  r = rows(db, qs[2]);
  expect(r, "malloc|heap|2|450000\nmmap64|file|1|4096\n", 2);
  free(r);
  /* 3: the heap peak, in phase 'load', at the seq and ns the rows give
  ** (the live_bytes window over every row: what the example replaced) */
  r = rows(db, qs[3]);
  CU_ASSERT_TRUE(r && strstr(r, "|450000|load\n"));
  char *slow = rows(db, "SELECT seq, ns, region_live FROM live_bytes WHERE region = 'heap' "
                        "ORDER BY region_live DESC, seq LIMIT 1");
  CU_ASSERT_TRUE(slow && r && !strncmp(r, slow, strlen(slow) - 1) &&
                 strlen(slow) > 8 && r[strlen(slow) - 1] == '|');
  free(slow);
  if (r) snprintf(peak_seq, sizeof peak_seq, "%.*s", (int)strcspn(r, "|"), r);
  free(r);
  /* 4: live at the peak by function (12345 replaced by the peak's seq) */
  char *q4 = malloc(strlen(qs[4]) + 32), *at = strstr(qs[4], "12345");
  CU_ASSERT_PTR_NOT_NULL_FATAL(at);
  sprintf(q4, "%.*s%s%s", (int)(at - qs[4]), qs[4], peak_seq, at + 5);
  at = strstr(q4 + (at - qs[4]) + strlen(peak_seq), "12345");
  if (at) {
    char *q5 = malloc(strlen(q4) + 32);
    sprintf(q5, "%.*s%s%s", (int)(at - q4), q4, peak_seq, at + 5);
    free(q4);
    q4 = q5;
  }
  r = rows(db, q4);
  expect(r, "load_weights|1|300000\nmake_scratch|1|150000\n", 4);
  free(r);
  free(q4);
  /* 5: through load_weights anywhere in the stack */
  r = rows(db, qs[5]);
  expect(r, "1|300000\n", 5);
  free(r);
  /* 6: the stack of the largest allocation */
  r = rows(db, qs[6]);
  CU_ASSERT_TRUE(r && !strncmp(r, "0|load_weights|", 15));
  expect_has(r, "\n1|main|", 6);
  free(r);
  /* 7: leaks by function: the weights */
  r = rows(db, qs[7]);
  expect(r, "load_weights|1|300000\n", 7);
  free(r);
  /* 8: file mappings: 4096 bytes of its own executable at offset 0, the
  ** one file row */
  r = rows(db, qs[8]);
  CU_ASSERT_TRUE(r && strstr(r, "lr_allocprog|0|4096|") && strchr(r, '\n') == r + strlen(r) - 1);
  free(r);
  /* 9: temporaries: the scratch block */
  r = rows(db, qs[9]);
  expect_has(r, "|1|150000\n", 9);
  free(r);
  /* 10: RSS next to allocated bytes: the start and exit samples at least,
  ** nothing allocated at the first, the leaked weights at the last, and
  ** every sample's bytes as the live_bytes window over the rows says */
  r = rows(db, qs[10]);
  int lines = 0;
  for (const char *p = r; p && (p = strchr(p, '\n')); p++) lines++;
  CU_ASSERT_TRUE(lines >= 2);
  CU_ASSERT_TRUE(r && strstr(r, "|0\n") && strstr(r, "|0\n") == strchr(r, '\n') - 2);
  CU_ASSERT_TRUE(r && lines >= 2 && strlen(r) > 8 && !strcmp(r + strlen(r) - 8, "|300000\n"));
  free(r);
  r = rows(db, "SELECT allocated FROM rss_samples ORDER BY seq, ns");
  slow = rows(db, "SELECT coalesce((SELECT total_live FROM live_bytes b WHERE b.seq <= s.seq "
                  "ORDER BY b.seq DESC, b.delta DESC LIMIT 1), 0) FROM rss_samples s "
                  "ORDER BY s.seq, s.ns");
  expect(r, slow ? slow : "(failed)", 10);
  free(slow);
  free(r);
  /* 11: parameters */
  r = rows(db, qs[11]);
  expect(r, "size|300000\n", 11);
  free(r);

  /* another process selected: the same SQL answers for it */
  CU_ASSERT_EQUAL(lr_trace_select_process(t, prog_id(100000), &err), 0);
  r = rows(db, qs[2]);
  expect(r, "malloc|heap|2|150000\nmmap64|file|1|4096\n", 2);
  free(r);
  r = rows(db, qs[7]);
  expect(r, "load_weights|1|100000\n", 7);
  free(r);
  r = rows(db, qs[3]);
  expect_has(r, "|150000|load\n", 3);
  free(r);
  r = rows(db, "SELECT allocated FROM rss_samples ORDER BY seq, ns");
  CU_ASSERT_TRUE(r && !strncmp(r, "0\n", 2) && strlen(r) > 8 &&
                 !strcmp(r + strlen(r) - 7, "100000\n"));
  free(r);
  r = rows(db, qs[11]);
  expect(r, "size|100000\n", 11);
  free(r);
  lr_trace_close(t);

  /* and on the plain file (sqlite3 -readonly run.db): the whole run */
  sqlite3 *raw;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(g_db, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  r = rows(raw, "SELECT count(*), sum(size) FROM allocations WHERE stack_id IN (SELECT stack_id "
                "FROM stack_frames WHERE function = 'load_weights')");
  expect(r, "3|600000\n", 100);
  free(r);
  r = rows(raw, qs[5]);
  expect(r, "3|600000\n", 5);
  free(r);
  /* per kind, the whole run: the three allocprogs' 450000 + 150000 +
  ** 300000 in six mallocs (and the shell's own), as the rows say */
  r = rows(raw, qs[2]);
  slow = rows(raw, "SELECT kind, region, count(*), sum(size) FROM allocations "
                         "GROUP BY kind, region ORDER BY 4 DESC, 1, 2");
  char *fast = rows(raw, "SELECT kind, region, sum(calls), sum(bytes) FROM agg_kinds "
                         "GROUP BY kind, region ORDER BY 4 DESC, 1, 2");
  expect(fast, slow ? slow : "(failed)", 2);
  CU_ASSERT_TRUE(r && slow && strlen(r) == strlen(slow));
  CU_ASSERT_TRUE(lrt_sql_int(g_db, "SELECT sum(bytes) FROM agg_kinds WHERE kind = 'malloc' AND "
                                   "process_id IN (SELECT id FROM processes WHERE "
                                   "json_extract(argv, '$[0]') LIKE '%lr_allocprog')") == 900000);
  free(fast);
  free(slow);
  free(r);
  sqlite3_close(raw);
  for (size_t i = 0; i < n; i++) free(qs[i]);
  free(qs);
}

void ti_add_tests_schema_doc(CU_pSuite s) {
  CU_add_test(s, "one run, one trace: four processes, exact rows", test_four_processes);
  CU_add_test(s, "schemas/README.md queries answer on a recorded run", test_readme_queries);
}
