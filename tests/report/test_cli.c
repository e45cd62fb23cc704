/*
** test_cli.c: `lowram report`, `lowram export` and `lowram diff` run as
** commands on known traces. Exports are parsed back: CSV with a small
** RFC 4180 reader written here (quotes, doubled quotes, embedded commas
** and line breaks, formula defusing), folded stacks by summing the
** numbers after the last space. Bad inputs must give one line naming the
** file and a non-zero exit.
*/
#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lrtest.h"
#include "tbuild.h"

static char *dir;
static char fx_path[512], out_path[512], err_path[512];

/* Runs lowram with the arguments up to NULL; output to out_path, err_path. */
#define lowram(...) lrt_lowram(out_path, err_path, __VA_ARGS__)

static char *out(void) { return lrt_read_file(out_path, NULL); }
static char *errs(void) { return lrt_read_file(err_path, NULL); }

/* ---- a small RFC 4180 reader ---- */

typedef struct Csv {
  char ***rows; /* rows[i][j] */
  size_t *ncols;
  size_t nrows;
} Csv;

static void csv_free(Csv *c) {
  for (size_t i = 0; i < c->nrows; i++) {
    for (size_t j = 0; j < c->ncols[i]; j++) free(c->rows[i][j]);
    free(c->rows[i]);
  }
  free(c->rows);
  free(c->ncols);
  memset(c, 0, sizeof *c);
}

/* Returns 0 on a well-formed text; -1 on a stray quote or bad line end. */
static int csv_parse(const char *s, Csv *c) {
  memset(c, 0, sizeof *c);
  size_t cap = strlen(s) + 1;
  char *field = malloc(cap);
  size_t flen = 0;
  char **row = NULL;
  size_t nrow = 0;
  int in_q = 0, was_q = 0;
  for (const char *p = s;; p++) {
    if (in_q) {
      if (!*p) goto bad;
      if (*p == '"') {
        if (p[1] == '"') {
          field[flen++] = '"';
          p++;
        } else {
          in_q = 0;
        }
      } else {
        field[flen++] = *p;
      }
      continue;
    }
    if (*p == '"') {
      if (flen || was_q) goto bad;
      in_q = was_q = 1;
      continue;
    }
    if (*p == ',' || *p == '\r' || !*p) {
      if (!*p && !nrow && !flen && !was_q) break;
      field[flen] = 0;
      row = realloc(row, (nrow + 1) * sizeof *row);
      row[nrow++] = strdup(field);
      flen = 0;
      was_q = 0;
      if (*p == ',') continue;
      if (*p == '\r' && p[1] != '\n') goto bad;
      c->rows = realloc(c->rows, (c->nrows + 1) * sizeof *c->rows);
      c->ncols = realloc(c->ncols, (c->nrows + 1) * sizeof *c->ncols);
      c->rows[c->nrows] = row;
      c->ncols[c->nrows++] = nrow;
      row = NULL;
      nrow = 0;
      if (!*p) break;
      p++; /* the \n */
      if (!p[1]) break;
      continue;
    }
    if (*p == '\n' || was_q) goto bad;
    field[flen++] = *p;
  }
  free(field);
  return 0;
bad:
  free(field);
  for (size_t j = 0; j < nrow; j++) free(row[j]);
  free(row);
  csv_free(c);
  return -1;
}

static int col(const Csv *c, const char *name) {
  for (size_t j = 0; c->nrows && j < c->ncols[0]; j++)
    if (!strcmp(c->rows[0][j], name)) return (int)j;
  return -1;
}

static void test_csv_reader_itself(void) {
  Csv c;
  CU_ASSERT_EQUAL_FATAL(csv_parse("a,b\r\n\"x,\"\"y\"\"\r\nz\",2\r\n", &c), 0);
  CU_ASSERT_EQUAL(c.nrows, 2);
  CU_ASSERT_STRING_EQUAL(c.rows[1][0], "x,\"y\"\r\nz");
  CU_ASSERT_STRING_EQUAL(c.rows[1][1], "2");
  csv_free(&c);
  CU_ASSERT_EQUAL(csv_parse("a,\"b\r\n", &c), -1);
  CU_ASSERT_EQUAL(csv_parse("a,b\"c\"\r\n", &c), -1);
}

/* ---- report ---- */

static void test_report_text_and_json(void) {
  CU_ASSERT_EQUAL_FATAL(lowram("report", fx_path, NULL), 0);
  char *o = out();
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "= 69886 bytes (heap 4.25 KiB + anon mmap 64.0 KiB)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "seq 11, in \"decode\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "load_weights model.c:10 (app)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "Temporaries: 3 blocks, 560 B"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "/data/model.bin"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "<- peak"));
  CU_ASSERT_PTR_NULL(strstr(o, "unfinished"));
  /* no line over 100 columns */
  int longest = 0, cur = 0;
  for (char *p = o; *p; p++) {
    if (*p == '\n') {
      if (cur > longest) longest = cur;
      cur = 0;
    } else {
      cur++;
    }
  }
  CU_ASSERT(longest <= 100);
  free(o);

  CU_ASSERT_EQUAL_FATAL(lowram("report", fx_path, "--json", "--at", "decode#2", "--by",
                               "function", NULL), 0);
  o = out();
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "\"peak\":{\"seq\":11,\"ns\":11000,\"live\":69886,"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "\"at\":{\"seq\":18,"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "\"contributors\":{\"bytes\":66676,\"blocks\":4,"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "{\"key\":\"load_weights\",\"bytes\":66536,"));
  free(o);

  CU_ASSERT_EQUAL(lowram("report", fx_path, "--min-size", "1k", "--top", "1", NULL),
                  0);
  o = out();
  CU_ASSERT(o && strstr(o, "2 groups, 2 blocks, 66.9 KiB (blocks >= 1.00 KiB)"));
  free(o);
}

static void test_report_usage_errors(void) {
  CU_ASSERT_EQUAL(lowram("report", fx_path, "--by", "colour", NULL), 2);
  char *e = errs();
  CU_ASSERT(e && strstr(e, "--by wants"));
  free(e);
  CU_ASSERT_EQUAL(lowram("report", fx_path, "--at", "31", NULL), 1);
  e = errs();
  CU_ASSERT(e && strstr(e, "past the last event") && strstr(e, fx_path));
  free(e);
  CU_ASSERT_EQUAL(lowram("report", fx_path, "--top", "0", NULL), 2);
  CU_ASSERT_EQUAL(lowram("report", NULL), 2);
}

static int one_line(const char *s) {
  if (!s || !*s) return 0;
  const char *nl = strchr(s, '\n');
  return nl && nl[1] == 0;
}

static void test_bad_inputs(void) {
  char p[512];
  snprintf(p, sizeof p, "%s/missing.db", dir);
  CU_ASSERT_EQUAL(lowram("report", p, NULL), 1);
  char *e = errs();
  CU_ASSERT(one_line(e));
  CU_ASSERT(e && strstr(e, p));
  free(e);

  snprintf(p, sizeof p, "%s/text.db", dir);
  FILE *f = fopen(p, "w");
  fputs("this is not a database, just text long enough\n", f);
  fclose(f);
  CU_ASSERT_EQUAL(lowram("report", p, NULL), 1);
  e = errs();
  CU_ASSERT(one_line(e));
  CU_ASSERT(e && strstr(e, p));
  free(e);

  snprintf(p, sizeof p, "%s/other.db", dir);
  sqlite3 *db;
  sqlite3_open(p, &db);
  tb_exec(db, "CREATE TABLE songs(title TEXT); INSERT INTO songs VALUES('x')");
  sqlite3_close(db);
  CU_ASSERT_EQUAL(lowram("export", p, "--what", "stacks", NULL), 1);
  e = errs();
  CU_ASSERT(one_line(e));
  CU_ASSERT(e && strstr(e, p) && strstr(e, "not a lowram trace"));
  free(e);

  snprintf(p, sizeof p, "%s/future.db", dir);
  CU_ASSERT_EQUAL_FATAL(fx_write(p, 0, 1, 3000), 0);
  sqlite3_open(p, &db);
  tb_exec(db, "PRAGMA user_version = 4; UPDATE meta SET value = '4' WHERE key = 'schema_version'");
  sqlite3_close(db);
  CU_ASSERT_EQUAL(lowram("diff", fx_path, p, NULL), 1);
  e = errs();
  CU_ASSERT(one_line(e));
  CU_ASSERT(e && strstr(e, p));
  free(e);
}

/* A run that allocated nothing (e.g. /bin/true): a zero peak, no error. */
static void test_empty_trace(void) {
  char p[512];
  snprintf(p, sizeof p, "%s/empty.db", dir);
  sqlite3 *db = tb_create(p);
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  CU_ASSERT_EQUAL_FATAL(tb_finish(db, p, 1), 0);
  CU_ASSERT_EQUAL(lowram("report", p, NULL), 0);
  char *o = out();
  CU_ASSERT(o && strstr(o, "No allocations in this trace."));
  free(o);
  CU_ASSERT_EQUAL(lowram("report", p, "--json", NULL), 0);
  o = out();
  CU_ASSERT(o && strstr(o, "\"peak\":{\"seq\":0,\"ns\":0,\"live\":0,"));
  free(o);
  CU_ASSERT_EQUAL(lowram("export", p, "--what", "contributors", NULL), 0);
  o = out();
  Csv c;
  CU_ASSERT(o && csv_parse(o, &c) == 0 && c.nrows == 1);
  if (o) csv_free(&c);
  free(o);
  CU_ASSERT_EQUAL(lowram("diff", p, fx_path, NULL), 0);
  o = out();
  CU_ASSERT(o && strstr(o, "+68.2 KiB"));
  free(o);
}

static void test_unfinished(void) {
  char p[512];
  snprintf(p, sizeof p, "%s/unfinished.db", dir);
  CU_ASSERT_EQUAL_FATAL(fx_write(p, 0, 0, 3000), 0);
  CU_ASSERT_EQUAL(lowram("report", p, NULL), 0);
  char *o = out();
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "unfinished"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "lowram recover"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "= 69886 bytes"));
  free(o);
  CU_ASSERT_EQUAL(lrt_sql_int(p, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'agg%'"),
                  0);
}

/* ---- export ---- */

static void test_export_contributors_csv(void) {
  CU_ASSERT_EQUAL_FATAL(lowram("export", fx_path, "--what", "contributors", "--format", "csv",
                               "-o", out_path, NULL), 0);
  char *o = out();
  Csv c;
  CU_ASSERT_EQUAL_FATAL(csv_parse(o, &c), 0);
  int b = col(&c, "bytes"), k = col(&c, "key"), st = col(&c, "stack");
  CU_ASSERT_FATAL(b >= 0 && k >= 0 && st >= 0);
  CU_ASSERT_EQUAL(c.nrows, 5);
  int64_t sum = 0;
  for (size_t i = 1; i < c.nrows; i++) sum += strtoll(c.rows[i][b], NULL, 10);
  CU_ASSERT_EQUAL(sum, FX_PEAK);
  CU_ASSERT_STRING_EQUAL(c.rows[1][k], "#1");
  CU_ASSERT_STRING_EQUAL(c.rows[1][st], "main;load_weights");
  csv_free(&c);
  free(o);

  CU_ASSERT_EQUAL_FATAL(lowram("export", fx_path, "--what", "allocations", "--at", "9us",
                               NULL, NULL), 0);
  o = out();
  CU_ASSERT_EQUAL_FATAL(csv_parse(o, &c), 0);
  CU_ASSERT_EQUAL(c.nrows, 1 + 4); /* A, B, D, E live at seq 9 (file map excluded) */
  b = col(&c, "size");
  sum = 0;
  for (size_t i = 1; i < c.nrows; i++) sum += strtoll(c.rows[i][b], NULL, 10);
  CU_ASSERT_EQUAL(sum, 1000 + 65536 + 3000 + 100);
  csv_free(&c);
  free(o);

  CU_ASSERT_EQUAL_FATAL(lowram("export", fx_path, "--what", "allocations", NULL, NULL, NULL,
                               NULL), 0);
  o = out();
  CU_ASSERT_EQUAL_FATAL(csv_parse(o, &c), 0);
  CU_ASSERT_EQUAL(c.nrows, 1 + 10);
  int mf = col(&c, "mapped_file");
  int files = 0;
  for (size_t i = 1; i < c.nrows; i++) files += !strcmp(c.rows[i][mf], "/data/model.bin");
  CU_ASSERT_EQUAL(files, 1);
  csv_free(&c);
  free(o);

  CU_ASSERT_EQUAL_FATAL(lowram("export", fx_path, "--what", "timeline", NULL),
                        0);
  o = out();
  CU_ASSERT_EQUAL_FATAL(csv_parse(o, &c), 0);
  b = col(&c, "max_live");
  int64_t hi = 0;
  for (size_t i = 1; i < c.nrows; i++)
    if (strtoll(c.rows[i][b], NULL, 10) > hi) hi = strtoll(c.rows[i][b], NULL, 10);
  CU_ASSERT_EQUAL(hi, FX_PEAK);
  csv_free(&c);
  free(o);

  CU_ASSERT_EQUAL_FATAL(lowram("export", fx_path, "--what", "stacks", NULL), 0);
  o = out();
  CU_ASSERT_EQUAL_FATAL(csv_parse(o, &c), 0);
  CU_ASSERT_EQUAL(c.nrows, 5);
  b = col(&c, "calls");
  sum = 0;
  for (size_t i = 1; i < c.nrows; i++) sum += strtoll(c.rows[i][b], NULL, 10);
  CU_ASSERT_EQUAL(sum, 10);
  csv_free(&c);
  free(o);
}

/* Names a spreadsheet would run, or that break naive CSV. */
static void test_export_quoting(void) {
  char p[512];
  snprintf(p, sizeof p, "%s/weird.db", dir);
  sqlite3 *db = tb_create(p);
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  static const char *names[] = {"=cmd|' /C calc'!A0", "a,b \"q\"", "line\nbreak", "@SUM(A1)",
                                "+1", "-2", "plain", "\tTAB", "\rCR"};
  for (int i = 0; i < 9; i++) {
    tb_frame(db, i + 1, "/bin/w", names[i], "w.c", i);
    tb_stack(db, i + 1, (int64_t)(i + 1), (int64_t)0);
    tb_alloc(db, "heap", 100 + i, i + 1, -1, 1, i + 1);
  }
  CU_ASSERT_EQUAL_FATAL(tb_finish(db, p, 1), 0);
  CU_ASSERT_EQUAL_FATAL(lowram("export", p, "--what", "leaks", "--by", "function", NULL),
                        0);
  char *o = out();
  Csv c;
  CU_ASSERT_EQUAL_FATAL(csv_parse(o, &c), 0);
  CU_ASSERT_EQUAL_FATAL(c.nrows, 10);
  int k = col(&c, "key"), b = col(&c, "bytes");
  /* rows come largest first: names[8] has 108 bytes ... names[0] 100 */
  /* control characters are escaped (text.h), so these no longer start a formula */
  CU_ASSERT_STRING_EQUAL(c.rows[1][k], "\\x0dCR");
  CU_ASSERT_STRING_EQUAL(c.rows[2][k], "\\x09TAB");
  CU_ASSERT_STRING_EQUAL(c.rows[3][k], "plain");
  CU_ASSERT_STRING_EQUAL(c.rows[4][k], "'-2");
  CU_ASSERT_STRING_EQUAL(c.rows[5][k], "'+1");
  CU_ASSERT_STRING_EQUAL(c.rows[6][k], "'@SUM(A1)");
  CU_ASSERT_STRING_EQUAL(c.rows[7][k], "line\\x0abreak");
  CU_ASSERT_STRING_EQUAL(c.rows[8][k], "a,b \"q\"");
  CU_ASSERT_STRING_EQUAL(c.rows[9][k], "'=cmd|' /C calc'!A0");
  CU_ASSERT_STRING_EQUAL(c.rows[9][b], "100");
  for (size_t i = 1; i < c.nrows; i++) CU_ASSERT_EQUAL(c.ncols[i], c.ncols[0]);
  csv_free(&c);
  free(o);
}

/* Reserved address space (PROT_NONE, never committed) is not a leak: the
** leaks export counts heap and committed anon blocks only. */
static void test_export_leaks_not_reserved(void) {
  char p[512];
  snprintf(p, sizeof p, "%s/reserved.db", dir);
  sqlite3 *db = tb_create(p);
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  tb_frame(db, 1, "/bin/r", "reserve", "r.c", 1);
  tb_frame(db, 2, "/bin/r", "leak", "r.c", 2);
  tb_stack(db, 1, (int64_t)1, (int64_t)0);
  tb_stack(db, 2, (int64_t)2, (int64_t)0);
  tb_alloc(db, "reserved", (int64_t)512 << 20, 1, -1, 1, 1);
  tb_alloc(db, "anon", 65536, 2, -1, 1, 1);
  tb_alloc(db, "heap", 300, 3, -1, 1, 2);
  CU_ASSERT_EQUAL_FATAL(tb_finish(db, p, 1), 0);
  CU_ASSERT_EQUAL_FATAL(lowram("export", p, "--what", "leaks", "--by", "function", NULL), 0);
  char *o = out();
  Csv c;
  CU_ASSERT_EQUAL_FATAL(csv_parse(o, &c), 0);
  CU_ASSERT_EQUAL_FATAL(c.nrows, 3);
  int k = col(&c, "key"), b = col(&c, "bytes");
  CU_ASSERT_STRING_EQUAL(c.rows[1][k], "reserve");
  CU_ASSERT_STRING_EQUAL(c.rows[1][b], "65536");
  CU_ASSERT_STRING_EQUAL(c.rows[2][k], "leak");
  CU_ASSERT_STRING_EQUAL(c.rows[2][b], "300");
  csv_free(&c);
  free(o);
}

static void test_export_folded(void) {
  CU_ASSERT_EQUAL_FATAL(lowram("export", fx_path, "--what", "contributors", "--format", "folded",
                               "--at", "decode", NULL), 0);
  char *o = out();
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  int64_t sum = 0;
  int lines = 0, load = 0;
  for (char *line = strtok(o, "\n"); line; line = strtok(NULL, "\n")) {
    char *sp = strrchr(line, ' ');
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    sum += strtoll(sp + 1, NULL, 10);
    lines++;
    *sp = 0;
    if (!strcmp(line, "main;load_weights")) load = 1;
  }
  /* at marker decode (seq 5): A and B, both from load_weights */
  CU_ASSERT_EQUAL(sum, 66536);
  CU_ASSERT_EQUAL(lines, 1);
  CU_ASSERT(load);
  free(o);
  CU_ASSERT_EQUAL_FATAL(lowram("export", fx_path, "--what", "contributors", "--format", "folded",
                               NULL, NULL), 0);
  o = out();
  sum = 0;
  for (char *line = strtok(o, "\n"); line; line = strtok(NULL, "\n"))
    sum += strtoll(strrchr(line, ' ') + 1, NULL, 10);
  CU_ASSERT_EQUAL(sum, FX_PEAK);
  free(o);
  CU_ASSERT_EQUAL(lowram("export", fx_path, "--what", "timeline", "--format", "folded", NULL,
                         NULL), 2);
  CU_ASSERT_EQUAL(lowram("export", fx_path, "--what", "stacks", "-o", fx_path, NULL), 2);
  CU_ASSERT_EQUAL(lrt_sql_int(fx_path, "SELECT count(*) FROM allocations"), 10);
}

static void test_diff_cli(void) {
  char pb[512];
  snprintf(pb, sizeof pb, "%s/b.db", dir);
  CU_ASSERT_EQUAL_FATAL(fx_write(pb, 100, 1, 5000), 0);
  CU_ASSERT_EQUAL_FATAL(lowram("diff", fx_path, pb, NULL), 0);
  char *o = out();
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "+1.95 KiB (+2.9%)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "kv_alloc kv.c:20"));
  CU_ASSERT_PTR_NULL(strstr(o, "only in"));
  free(o);
}

int main(void) {
  dir = lrt_tmpdir("rcli");
  snprintf(fx_path, sizeof fx_path, "%s/fixture.db", dir);
  snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
  snprintf(err_path, sizeof err_path, "%s/err.txt", dir);
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  if (fx_write(fx_path, 0, 1, 3000)) return 1;
  CU_pSuite s = CU_add_suite("cli", NULL, NULL);
  CU_add_test(s, "the test's CSV reader", test_csv_reader_itself);
  CU_add_test(s, "report text and json", test_report_text_and_json);
  CU_add_test(s, "report usage errors", test_report_usage_errors);
  CU_add_test(s, "bad inputs", test_bad_inputs);
  CU_add_test(s, "unfinished trace", test_unfinished);
  CU_add_test(s, "trace without allocations", test_empty_trace);
  CU_add_test(s, "export csv parsed back", test_export_contributors_csv);
  CU_add_test(s, "export quoting and formulas", test_export_quoting);
  CU_add_test(s, "export folded parsed back", test_export_folded);
  CU_add_test(s, "export leaks: reserved address space is no leak", test_export_leaks_not_reserved);
  CU_add_test(s, "diff command", test_diff_cli);
  int rc = lrt_main();
  return rc;
}
