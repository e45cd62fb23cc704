/*
** test_cli.c: `lowram import` / `recover` as a user runs them (idempotent,
** one-line errors naming the file, exit codes), and `lowram record` end to
** end on a tiny program once the shim is built.
*/
#include <CUnit/Basic.h>
#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lrtest.h"
#include "test_import.h"

static char out_path[4200], err_path[4200];

static int lowram(const char *a1, const char *a2, const char *a3, const char *a4) {
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), (char *)a1, (char *)a2, (char *)a3, (char *)a4,
                  NULL};
  snprintf(out_path, sizeof out_path, "%s/cli.out", ti_dir());
  snprintf(err_path, sizeof err_path, "%s/cli.err", ti_dir());
  return lrt_run(argv, NULL, out_path, err_path);
}

static char *slurp(const char *p) {
  char *s = lrt_read_file(p, NULL);
  return s ? s : strdup("");
}

/* stderr holds exactly one line, containing needle */
static void one_line_error(const char *needle) {
  char *e = slurp(err_path);
  char *nl = strchr(e, '\n');
  CU_ASSERT_TRUE(nl && nl[1] == 0);
  if (!strstr(e, needle)) {
    fprintf(stderr, "stderr \"%s\" lacks \"%s\"\n", e, needle);
    CU_FAIL("error line");
  }
  free(e);
}

static void test_import_recover(void) {
  Gen g;
  gen_init(&g, 4096);
  gen_header(&g)->flags = 0; /* died */
  GW w;
  gw_init(&w, &g, 1);
  gw_alloc(&w, LR_EV_MALLOC, 1, 0x1000, 1000, 0);
  gw_alloc(&w, LR_EV_MALLOC, 2, 0x2000, 24, 0);
  gw_free(&w, 3, 0x1000);
  char spool[4200], db[4200];
  snprintf(spool, sizeof spool, "%s/died.db.spool", ti_dir());
  snprintf(db, sizeof db, "%s/died.db", ti_dir());
  CU_ASSERT_EQUAL_FATAL(gen_write(&g, spool, SIZE_MAX), 0);
  /* recover names the trace, as LOWRAM_OUT did */
  CU_ASSERT_EQUAL(lowram("recover", db, NULL, NULL), 0);
  char *o = slurp(out_path);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "3 events"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "peak heap 1.00 KiB"));
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "ended: killed"));
  free(o);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'complete'"), 1);
  /* idempotent: again, on the spool, and import on the trace */
  CU_ASSERT_EQUAL(lowram("recover", db, NULL, NULL), 0);
  o = slurp(out_path);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "nothing to do"));
  free(o);
  CU_ASSERT_EQUAL(lowram("import", spool, NULL, NULL), 0);
  o = slurp(out_path);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "already imported"));
  free(o);
  /* -o elsewhere */
  char other[4200];
  snprintf(other, sizeof other, "%s/other-name.db", ti_dir());
  CU_ASSERT_EQUAL(lowram("import", spool, "-o", other), 0);
  CU_ASSERT_EQUAL(lrt_sql_int(other, "SELECT count(*) FROM allocations"), 2);
  /* -o onto a file that is not a trace: refused, untouched */
  char junk[4200];
  snprintf(junk, sizeof junk, "%s/junk.txt", ti_dir());
  FILE *f = fopen(junk, "w");
  fputs("keep me", f);
  fclose(f);
  CU_ASSERT_EQUAL(lowram("import", spool, "-o", junk), 1);
  one_line_error(junk);
  char *kept = slurp(junk);
  CU_ASSERT_STRING_EQUAL(kept, "keep me");
  free(kept);
  /* junk as PATH, a missing PATH */
  CU_ASSERT_EQUAL(lowram("import", junk, NULL, NULL), 1);
  one_line_error("not a SQLite file");
  CU_ASSERT_EQUAL(lowram("recover", "/nonexistent/x.db", NULL, NULL), 1);
  one_line_error("/nonexistent/x.db: no such file");
  CU_ASSERT_EQUAL(lowram("import", NULL, NULL, NULL), 2);
  /* record's options are checked before anything runs */
  CU_ASSERT_EQUAL(lowram("record", "--depth", "0", "true"), 2);
  one_line_error("--depth 0");
  CU_ASSERT_EQUAL(lowram("record", "--unwind", "dwarf", "true"), 2);
  one_line_error("--unwind dwarf");
  CU_ASSERT_EQUAL(lowram("record", "--rss-interval", "-5", "true"), 2);
  CU_ASSERT_EQUAL(lowram("record", NULL, NULL, NULL), 2);
  CU_ASSERT_EQUAL(lowram("record", "-o", db, "true"), 1); /* died.db exists */
  one_line_error("already exists");
  gen_free(&g);
}

static void test_record(void) {
  const char *shim = getenv("LOWRAM_SHIM");
  if (!shim || access(shim, R_OK) != 0) {
    fprintf(stderr, "(no shim built: record test skipped)\n");
    return;
  }
  const char *target = ti_symtarget();
  char db[4200];
  snprintf(db, sizeof db, "%s/rec.db", ti_dir());
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", db, "--", (char *)target, "a",
                  "b", NULL};
  snprintf(out_path, sizeof out_path, "%s/rec.out", ti_dir());
  snprintf(err_path, sizeof err_path, "%s/rec.err", ti_dir());
  /* symtarget prints argc + ... and exits 0 */
  CU_ASSERT_EQUAL(lrt_run(argv, NULL, out_path, err_path), 0);
  char *e = slurp(err_path);
  CU_ASSERT_PTR_NOT_NULL(strstr(e, "rec.db"));
  CU_ASSERT_PTR_NOT_NULL(strstr(e, "peak heap"));
  free(e);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'complete'"), 1);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT json_array_length(value) FROM meta WHERE"
                                  " key = 'argv'"), 3);
  char buf[64];
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(db, "SELECT value FROM meta WHERE key = 'end_reason'", buf,
                                      sizeof buf) ? buf : "", "exit");
  CU_ASSERT_TRUE(lrt_sql_int(db, "SELECT count(*) FROM modules") >= 2);
  /* the spool is gone once imported; a second record onto the same OUT is refused */
  char spool[4300];
  snprintf(spool, sizeof spool, "%s.spool", db);
  CU_ASSERT_NOT_EQUAL(access(spool, F_OK), 0);
  CU_ASSERT_EQUAL(lrt_run(argv, NULL, out_path, err_path), 1);
  /* the exit status is forwarded */
  char *fail[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", db, "--", "sh", "-c", "exit 3",
                  NULL};
  snprintf(db, sizeof db, "%s/rec3.db", ti_dir());
  fail[3] = db;
  CU_ASSERT_EQUAL(lrt_run(fail, NULL, out_path, err_path), 3);
  /* killed by a signal: 128+sig, and the trace says which */
  snprintf(db, sizeof db, "%s/rec15.db", ti_dir());
  fail[7] = "kill -TERM $$";
  CU_ASSERT_EQUAL(lrt_run(fail, NULL, out_path, err_path), 128 + 15);
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(db, "SELECT value FROM meta WHERE key = 'end_reason'", buf,
                                      sizeof buf) ? buf : "", "signal");
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'end_code'"), 15);
}

/* A shell that forks ls and then execs another program: three images, three
** traces (the exec'd one and the fork child under derived names). */
static void test_record_family(void) {
  const char *shim = getenv("LOWRAM_SHIM");
  if (!shim || access(shim, R_OK) != 0) return;
  char dir[4200], db[4300];
  snprintf(dir, sizeof dir, "%s/family", ti_dir());
  mkdir(dir, 0755);
  snprintf(db, sizeof db, "%s/fam.db", dir);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", db, "--", "sh", "-c",
                  "ls / >/dev/null; exec sh -c 'exit 0'", NULL};
  snprintf(out_path, sizeof out_path, "%s/fam.out", ti_dir());
  snprintf(err_path, sizeof err_path, "%s/fam.err", ti_dir());
  CU_ASSERT_EQUAL_FATAL(lrt_run(argv, NULL, out_path, err_path), 0);
  int64_t pid = lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'pid'");
  char buf[64];
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(db, "SELECT value FROM meta WHERE key = 'end_reason'", buf,
                                      sizeof buf) ? buf : "", "exec");
  DIR *d = opendir(dir);
  struct dirent *e;
  int traces = 0, execd = 0, child = 0, spools = 0;
  while (d && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n > 6 && !strcmp(e->d_name + n - 6, ".spool")) spools++;
    if (n < 3 || strcmp(e->d_name + n - 3, ".db")) continue;
    traces++;
    char p[4600];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    int64_t tp = lrt_sql_int(p, "SELECT value FROM meta WHERE key = 'pid'");
    int64_t tpp = lrt_sql_int(p, "SELECT value FROM meta WHERE key = 'ppid'");
    int64_t ex = lrt_sql_int(p, "SELECT value FROM meta WHERE key = 'exec_index'");
    if (tp == pid && ex == 1) execd++;
    if (tpp == pid && ex == 0) child++;
  }
  if (d) closedir(d);
  CU_ASSERT_EQUAL(traces, 3);
  CU_ASSERT_EQUAL(execd, 1);
  CU_ASSERT_EQUAL(child, 1);
  CU_ASSERT_EQUAL(spools, 0);
}

void ti_add_tests_cli(CU_pSuite s) {
  CU_add_test(s, "record: fork and exec traces", test_record_family);
  CU_add_test(s, "import/recover CLI", test_import_recover);
  CU_add_test(s, "record end to end", test_record);
}
