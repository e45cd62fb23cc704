/*
** test_cli.c: `lowram import` / `recover` as a user runs them (idempotent,
** one-line errors naming the file, exit codes), and `lowram record` end to
** end on a tiny program once the shim is built.
*/
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lrtest.h"
#include "test_import.h"

extern char **environ;

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

/* A shell that forks ls and then execs another program: three images, one
** trace with a processes row each (the exec'd one and the fork child as
** children of the first image). */
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
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM processes"), 3);
  int64_t pid = lrt_sql_int(db, "SELECT pid FROM processes WHERE id = 1");
  char buf[64];
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(db, "SELECT end_reason FROM processes WHERE id = 1", buf,
                                      sizeof buf) ? buf : "", "exec");
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT exec_index FROM processes WHERE id = 1"), 0);
  /* ls: a fork child of the first image */
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM processes WHERE ppid = %lld AND exec_index = 0 "
           "AND parent_id = 1 AND json_extract(argv, '$[0]') = 'ls'", (long long)pid);
  CU_ASSERT_EQUAL(lrt_sql_int(db, sql), 1);
  /* the exec'd image: same pid, image 1, its parent the image it replaced */
  snprintf(sql, sizeof sql, "SELECT count(*) FROM processes WHERE pid = %lld AND exec_index = 1 "
           "AND parent_id = 1 AND end_reason IN ('exit', '_exit')", (long long)pid);
  CU_ASSERT_EQUAL(lrt_sql_int(db, sql), 1);
  /* every row belongs to one of them, and each process's ids are its own */
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM allocations a JOIN processes p ON "
                                  "p.id = a.process_id WHERE a.id NOT BETWEEN p.alloc_first AND "
                                  "p.alloc_last OR a.stack_id NOT BETWEEN p.stack_first AND "
                                  "p.stack_last"), 0);
  DIR *d = opendir(dir);
  struct dirent *e;
  int traces = 0, spools = 0;
  while (d && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n > 6 && !strcmp(e->d_name + n - 6, ".spool")) spools++;
    if (n > 3 && !strcmp(e->d_name + n - 3, ".db")) traces++;
  }
  if (d) closedir(d);
  CU_ASSERT_EQUAL(traces, 1);
  CU_ASSERT_EQUAL(spools, 0);
  /* the summary: one line for the run, then the tree */
  char *err = slurp(err_path);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "fam.db: 3 processes"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "highest peak"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "  #1 pid "));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "    #2 pid "));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "ls /: peak "));
  free(err);
}

/* The traces (.db) in dir holding an allocation of `size` bytes; the last
** one's path into hit. */
static int traces_with_size(const char *dir, long size, char *hit, size_t len) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM allocations WHERE size = %ld", size);
  while (d && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 3 || strcmp(e->d_name + n - 3, ".db")) continue;
    char p[4600];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (lrt_sql_int(p, sql) > 0) {
      found++;
      snprintf(hit, len, "%s", p);
    }
  }
  if (d) closedir(d);
  return found;
}

/* Starts argv with envp (NULL: ours), stderr to err_path; its pid or -1. */
static pid_t spawn_err(char *const argv[], char *const envp[]) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp ? envp : environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

static int wait_status(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return status;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* SIGTERM to lowram while CMD runs reaches CMD (lowram returns 143 at
** once, and CMD's trace says it was killed); SIGTERM once CMD has exited
** (lowram waiting for a background child) ends lowram itself. */
static void test_record_signals(void) {
  const char *shim = getenv("LOWRAM_SHIM");
  if (!shim || access(shim, R_OK) != 0) return;
  char dir[4200], db[4300], db2[4300];
  snprintf(dir, sizeof dir, "%s/signals", ti_dir());
  mkdir(dir, 0755);
  snprintf(db, sizeof db, "%s/sig.db", dir);
  snprintf(db2, sizeof db2, "%s/sig2.db", dir);
  snprintf(err_path, sizeof err_path, "%s/sig.err", ti_dir());
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", db, "--", "sleep", "5", NULL,
                  NULL};
  double t0 = now_s();
  pid_t pid = spawn_err(argv, NULL);
  CU_ASSERT_FATAL(pid > 0);
  struct timespec ts = {0, 400 * 1000 * 1000};
  nanosleep(&ts, NULL);
  kill(pid, SIGTERM);
  int st = wait_status(pid);
  CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM);
  CU_ASSERT_TRUE(now_s() - t0 < 3.0);
  char buf[64];
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(db, "SELECT value FROM meta WHERE key = 'end_reason'", buf,
                                      sizeof buf) ? buf : "", "signal");
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'end_code'"), SIGTERM);

  argv[3] = db2;
  argv[5] = "/bin/sh";
  argv[6] = "-c";
  argv[7] = "sleep 2 & exit 0";
  t0 = now_s();
  pid = spawn_err(argv, NULL);
  CU_ASSERT_FATAL(pid > 0);
  nanosleep(&ts, NULL);
  kill(pid, SIGTERM);
  st = wait_status(pid);
  CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
  CU_ASSERT_TRUE(now_s() - t0 < 1.5);
  /* let the orphaned sleep end before the test directory goes */
  ts.tv_sec = 2;
  ts.tv_nsec = 0;
  nanosleep(&ts, NULL);
}

/* A background child that outlives CMD (sh exits at once, lr_orphan sleeps
** 300 ms then allocates 777777 bytes): lowram, its subreaper, waits for it
** and imports its whole trace; the status is still sh's. */
static void test_record_orphan(void) {
  const char *shim = getenv("LOWRAM_SHIM");
  if (!shim || access(shim, R_OK) != 0) return;
  char dir[4200], db[4300], script[4400], hit[4700] = "";
  snprintf(dir, sizeof dir, "%s/orphan", ti_dir());
  mkdir(dir, 0755);
  snprintf(db, sizeof db, "%s/orph.db", dir);
  snprintf(script, sizeof script, "%s & exit 4", LR_ORPHAN_BIN);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", db, "--", "/bin/sh", "-c",
                  script, NULL};
  snprintf(out_path, sizeof out_path, "%s/orph.out", ti_dir());
  snprintf(err_path, sizeof err_path, "%s/orph.err", ti_dir());
  CU_ASSERT_EQUAL_FATAL(lrt_run(argv, NULL, out_path, err_path), 4);
  CU_ASSERT_EQUAL_FATAL(traces_with_size(dir, 777777, hit, sizeof hit), 1);
  CU_ASSERT_EQUAL(lrt_sql_int(hit, "SELECT value FROM meta WHERE key = 'complete'"), 1);
  char buf[64];
  CU_ASSERT_STRING_EQUAL(lrt_sql_text(hit, "SELECT value FROM meta WHERE key = 'end_reason'", buf,
                                      sizeof buf) ? buf : "", "exit");
  /* allocated and freed: the free is there too, so the trace ran to the end */
  CU_ASSERT_EQUAL(lrt_sql_int(hit, "SELECT count(*) FROM allocations WHERE size = 777777"
                                   " AND free_seq IS NOT NULL"), 1);

  /* exec'd only after sh is gone: the image starts re-parented to lowram,
  ** so its spool's ppid is lowram's pid, and it is still this run's */
  snprintf(dir, sizeof dir, "%s/orphan2", ti_dir());
  mkdir(dir, 0755);
  snprintf(db, sizeof db, "%s/orph.db", dir);
  snprintf(script, sizeof script, "(sleep 0.2; exec %s) & exit 0", LR_ORPHAN_BIN);
  pid_t pid = spawn_err(argv, NULL);
  CU_ASSERT_FATAL(pid > 0);
  int st = wait_status(pid);
  CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CU_ASSERT_EQUAL_FATAL(traces_with_size(dir, 777777, hit, sizeof hit), 1);
  CU_ASSERT_EQUAL(lrt_sql_int(hit, "SELECT value FROM meta WHERE key = 'ppid'"), pid);
  CU_ASSERT_EQUAL(lrt_sql_int(hit, "SELECT value FROM meta WHERE key = 'exec_index'"), 1);
  CU_ASSERT_EQUAL(lrt_sql_int(hit, "SELECT value FROM meta WHERE key = 'complete'"), 1);
}

/* An environment holding LD_PRELOAD, LOWRAM_OUT and LOWRAM_EXEC_INDEX twice
** each (stale values): record must drop every copy, else CMD's getenv finds
** a stale one and writes elsewhere (or not at all). */
static void test_record_dup_env(void) {
  const char *shim = getenv("LOWRAM_SHIM");
  if (!shim || access(shim, R_OK) != 0) return;
  char dir[4200], db[4300], stale1[4400], stale2[4400], hit[4700] = "";
  snprintf(dir, sizeof dir, "%s/dupenv", ti_dir());
  mkdir(dir, 0755);
  snprintf(db, sizeof db, "%s/dup.db", dir);
  snprintf(stale1, sizeof stale1, "LOWRAM_OUT=%s/stale1.db", ti_dir());
  snprintf(stale2, sizeof stale2, "LOWRAM_OUT=%s/stale2.db", ti_dir());
  size_t n = 0;
  while (environ[n]) n++;
  char **envp = calloc(n + 7, sizeof *envp);
  CU_ASSERT_PTR_NOT_NULL_FATAL(envp);
  size_t j = 0;
  envp[j++] = "LD_PRELOAD=";
  envp[j++] = stale1;
  envp[j++] = "LOWRAM_EXEC_INDEX=3";
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "LOWRAM_OUT=", 11) &&
        strncmp(environ[i], "LOWRAM_EXEC_INDEX=", 18))
      envp[j++] = environ[i];
  envp[j++] = "LD_PRELOAD=";
  envp[j++] = stale2;
  envp[j++] = "LOWRAM_EXEC_INDEX=3";
  envp[j] = NULL;
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", db, "--", LR_ORPHAN_BIN, NULL};
  snprintf(err_path, sizeof err_path, "%s/dup.err", ti_dir());
  pid_t pid = spawn_err(argv, envp);
  free(envp);
  CU_ASSERT_FATAL(pid > 0);
  int status = wait_status(pid);
  CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CU_ASSERT_EQUAL(traces_with_size(dir, 777777, hit, sizeof hit), 1);
  CU_ASSERT_STRING_EQUAL(hit, db);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'exec_index'"), 0);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'complete'"), 1);
}

void ti_add_tests_cli(CU_pSuite s) {
  CU_add_test(s, "record: orphan outliving CMD is waited for", test_record_orphan);
  CU_add_test(s, "record: duplicate environment entries", test_record_dup_env);
  CU_add_test(s, "record: SIGTERM forwarded, then ends lowram", test_record_signals);
  CU_add_test(s, "record: fork and exec traces", test_record_family);
  CU_add_test(s, "import/recover CLI", test_import_recover);
  CU_add_test(s, "record end to end", test_record);
}
