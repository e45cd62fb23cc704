/*
** test_hostile.c: names from a trace never reach a terminal or a file raw.
** A trace whose symbols, source file, module, mapped file, marker, command
** line and parameter hold terminal escapes (OSC retitle, clear screen,
** colours, BEL), a UTF-8-encoded C1 control and invalid UTF-8 goes through
** every text output: report (text, each --by), diff, export (folded and
** CSV), suggest (text and CSV) and an error message. Each output is checked
** byte by byte: no control byte but the line ends, nothing but valid
** UTF-8, and the escaped form of each hostile name where that output shows it.
*/
#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowram/text.h"
#include "lrtest.h"
#include "tbuild.h"

static char *dir;
static char trace[512], out_path[512], err_path[512];

#define OSC "\x1b]0;pwned\x07"
#define CLS "\x1b[2J\x1b[31mRED"
#define C1 "csi\xc2\x9bX"
#define BAD "bad\xff\xfe"

/* Runs lowram with the arguments up to NULL; output to out_path, err_path. */
#define lowram(...) lrt_lowram(out_path, err_path, __VA_ARGS__)

/* 1 when every byte is printable ASCII, '\n' (and "\r\n" when crlf), or
** part of valid UTF-8 that is not a C1 control; else 0 and the offset. */
static int clean(const char *s, int crlf, size_t *bad) {
  for (size_t i = 0; s[i];) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n' || (crlf && c == '\r' && s[i + 1] == '\n') || (c >= 0x20 && c < 0x7f)) {
      i++;
      continue;
    }
    char one[8] = {0};
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    memcpy(one, s + i, n);
    if (c < 0x80 || strlen(one) != n || !lr_text_is_clean(one)) {
      *bad = i;
      return 0;
    }
    i += n;
  }
  return 1;
}

static void expect_clean(const char *what, int crlf, const char *const *want) {
  size_t n = 0, bad = 0;
  char *o = lrt_read_file(out_path, &n), *e = lrt_read_file(err_path, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_EQUAL(strlen(o), n); /* no NUL inside */
  if (!clean(o, crlf, &bad)) {
    fprintf(stderr, "%s: raw byte 0x%02x at %zu\n", what, (unsigned char)o[bad], bad);
    CU_FAIL("raw control byte on stdout");
  }
  if (e && !clean(e, 0, &bad)) {
    fprintf(stderr, "%s: raw byte 0x%02x at %zu of stderr\n", what, (unsigned char)e[bad], bad);
    CU_FAIL("raw control byte on stderr");
  }
  for (int i = 0; want && want[i]; i++)
    if (!strstr(o, want[i])) {
      fprintf(stderr, "%s: missing %s\n", what, want[i]);
      CU_FAIL("escaped name missing");
    }
  free(o);
  free(e);
}

static void build(void) {
  snprintf(trace, sizeof trace, "%s/hostile.db", dir);
  sqlite3 *db = tb_create(trace);
  CU_ASSERT_PTR_NOT_NULL_FATAL(db);
  tb_frame(db, 1, "/lib/\x1b[31mevil.so", OSC, "src/" CLS ".c", 7);
  tb_frame(db, 2, "/bin/app", C1, "app.c", 3);
  tb_frame(db, 3, "/bin/app", BAD, "app.c", 9);
  tb_stack(db, 1, (int64_t)1, (int64_t)2, (int64_t)0);
  tb_stack(db, 2, (int64_t)3, (int64_t)2, (int64_t)0);
  tb_marker(db, 1, "dec\x1b[2Jode");
  tb_alloc(db, "heap", 4000, 2, -1, 1, 1);
  tb_alloc(db, "heap", 3000, 3, 6, 1, 2);
  tb_map_file(db, "/data/\x07" "bell.bin", 8192, 4, -1, 1, 1);
  tb_rss(db, 5, 100000, 20000, 8192);
  tb_meta(db, "argv", "[\"app\",\"\\u001b]0;argv\\u0007\"]");
  tb_exec(db, "INSERT INTO params(seq, ns, name, value_int, value_text) "
              "VALUES(1, 1000, 'seq\x1b[2J', 128, NULL)");
  CU_ASSERT_EQUAL_FATAL(tb_finish(db, trace, 1), 0);
}

static void test_text_outputs(void) {
  build();
  static const char *const report_want[] = {"\\x1b]0;pwned\\x07", "\\x1b[2J\\x1b[31mRED",
                                            "dec\\x1b[2Jode", "\\x07bell.bin", NULL};
  CU_ASSERT_EQUAL(lowram("report", trace, NULL), 0);
  expect_clean("report", 0, report_want);
  static const char *const by[] = {"function", "module", "file", "line"};
  static const char *const by_want[][2] = {{"\\x1b]0;pwned\\x07", NULL},
                                           {"\\x1b[31mevil.so", NULL},
                                           {"\\x1b[2J\\x1b[31mRED.c", NULL},
                                           {"\\x1b[2J\\x1b[31mRED.c:7", NULL}};
  for (int i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL(lowram("report", trace, "--by", by[i], NULL), 0);
    expect_clean(by[i], 0, by_want[i]);
  }
  static const char *const fn_want[] = {"\\x1b]0;pwned\\x07", "csi\\xc2\\x9bX", "bad\\xff\\xfe",
                                        NULL};
  CU_ASSERT_EQUAL(lowram("report", trace, "--by", "function", NULL), 0);
  expect_clean("report --by function", 0, fn_want);
  CU_ASSERT_EQUAL(lowram("diff", trace, trace, NULL), 0);
  expect_clean("diff", 0, NULL);
  CU_ASSERT_EQUAL(lowram("export", trace, "--what", "allocations", "--format", "folded", NULL),
                  0);
  /* folded paths turn a ; inside a name into _ (peak.h) */
  static const char *const folded_want[] = {"csi\\xc2\\x9bX;\\x1b]0_pwned\\x07 4000", NULL};
  expect_clean("folded", 0, folded_want);
  CU_ASSERT_EQUAL(lowram("export", trace, "--what", "contributors", "--by", "file", NULL), 0);
  static const char *const csv_want[] = {"src/\\x1b[2J\\x1b[31mRED.c", NULL};
  expect_clean("csv", 1, csv_want);
  CU_ASSERT_EQUAL(lowram("export", trace, "--what", "allocations", NULL), 0);
  static const char *const alloc_want[] = {"/data/\\x07bell.bin", NULL};
  expect_clean("csv allocations", 1, alloc_want);
  lowram("suggest", trace, NULL);
  expect_clean("suggest", 0, NULL);
  lowram("suggest", trace, "--format", "csv", NULL);
  expect_clean("suggest csv", 1, NULL);
}

static void test_error_message(void) {
  char p[600];
  snprintf(p, sizeof p, "%s/no\x1b[2Jsuch.db", dir);
  CU_ASSERT_NOT_EQUAL(lowram("report", p, NULL), 0);
  char *e = lrt_read_file(err_path, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_PTR_NOT_NULL(strstr(e, "no\\x1b[2Jsuch.db"));
  CU_ASSERT_PTR_NULL(strchr(e, '\x1b'));
  char *nl = strchr(e, '\n');
  CU_ASSERT(nl && nl[1] == '\0'); /* one line */
  free(e);
}

/* The escaper itself, byte by byte. */
static void test_escape_unit(void) {
  char b[64];
  CU_ASSERT_STRING_EQUAL(lr_text_escape(OSC, b, sizeof b), "\\x1b]0;pwned\\x07");
  CU_ASSERT_STRING_EQUAL(lr_text_escape("a\\b\x7f", b, sizeof b), "a\\\\b\\x7f");
  CU_ASSERT_STRING_EQUAL(lr_text_escape("\xc3\xa9t\xc3\xa9 \xe2\x82\xac", b, sizeof b),
                         "\xc3\xa9t\xc3\xa9 \xe2\x82\xac"); /* UTF-8 kept */
  CU_ASSERT_STRING_EQUAL(lr_text_escape("\xc0\xaf\xed\xa0\x80", b, sizeof b),
                         "\\xc0\\xaf\\xed\\xa0\\x80"); /* overlong, surrogate */
  CU_ASSERT_STRING_EQUAL(lr_text_escape(C1, b, sizeof b), "csi\\xc2\\x9bX");
  CU_ASSERT_STRING_EQUAL(lr_text_escape(NULL, b, sizeof b), "");
  CU_ASSERT_STRING_EQUAL(lr_text_escape("ab\x1b", b, 6), "ab"); /* never half an escape */
  CU_ASSERT_STRING_EQUAL(lr_text_escape("a\xe2\x82\xac", b, 4), "a"); /* nor half a character */
  CU_ASSERT_TRUE(lr_text_is_clean("plain \xe2\x82\xac"));
  CU_ASSERT_FALSE(lr_text_is_clean("tab\there"));
  CU_ASSERT_FALSE(lr_text_is_clean("back\\slash"));
}

int main(void) {
  CU_initialize_registry();
  dir = lrt_tmpdir("hostile");
  snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
  snprintf(err_path, sizeof err_path, "%s/err.txt", dir);
  CU_pSuite s = CU_add_suite("hostile names", NULL, NULL);
  CU_add_test(s, "escaper byte by byte", test_escape_unit);
  CU_add_test(s, "report, diff, export, suggest: nothing raw", test_text_outputs);
  CU_add_test(s, "error message: one escaped line", test_error_message);
  return lrt_main();
}
