/*
** test_trace2.c: spools belong to a run (issue 10, part 1), as a user meets
** it from the command line:
**   - a stale spool at record's output name is refused before anything
**     runs, and left as it was;
**   - `import X.spool -o Y.db` where Y.db is another process's trace is an
**     error (and Y.db untouched); onto X's own trace it is "already
**     imported"; a spool whose default trace name holds another process's
**     trace is not opened as that trace;
**   - any number of processes (1500) in one record;
**   - import progress on a terminal (a pty), nothing on a pipe.
*/
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lowram/import.h"
#include "lrtest.h"
#include "test_import.h"

static char t2_out[4200], t2_err[4200];

static int run5(const char *a1, const char *a2, const char *a3, const char *a4,
                const char *a5) {
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), (char *)a1, (char *)a2, (char *)a3,
                  (char *)a4, (char *)a5, NULL};
  snprintf(t2_out, sizeof t2_out, "%s/t2.out", ti_dir());
  snprintf(t2_err, sizeof t2_err, "%s/t2.err", ti_dir());
  return lrt_run(argv, NULL, t2_out, t2_err);
}

static char *slurp(const char *p) {
  char *s = lrt_read_file(p, NULL);
  return s ? s : strdup("");
}

/* stderr is exactly one line and holds every needle */
static void one_line(const char *n1, const char *n2) {
  char *e = slurp(t2_err);
  char *nl = strchr(e, '\n');
  CU_ASSERT_TRUE(nl && nl[1] == 0);
  if (!strstr(e, n1) || (n2 && !strstr(e, n2))) {
    fprintf(stderr, "stderr \"%s\" lacks \"%s\" / \"%s\"\n", e, n1, n2 ? n2 : "");
    CU_FAIL("error line");
  }
  free(e);
}

static int shim_built(void) {
  const char *shim = getenv("LOWRAM_SHIM");
  return shim && access(shim, R_OK) == 0;
}

/* A spool of one process: pid, a start time, and `n` mallocs of `size`. */
static void small_spool(Gen *g, uint32_t pid, uint64_t start, int n, uint64_t size) {
  gen_init(g, 4096);
  gen_header(g)->pid = pid;
  gen_header(g)->start_realtime_ns = start;
  GW w;
  gw_init(&w, g, pid);
  for (int i = 0; i < n; i++) gw_alloc(&w, LR_EV_MALLOC, (uint64_t)i + 1, 0x1000 + 0x1000 * (uint64_t)i, size, 0);
}

static int count_suffix(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  size_t sl = strlen(suffix);
  while (d && (e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l > sl && !strcmp(e->d_name + l - sl, suffix)) n++;
  }
  if (d) closedir(d);
  return n;
}

/* A killed LOWRAM_OUT=run.db left run.db.spool: record -o run.db refuses
** (exit 2, one line naming the spool and `lowram import`), runs nothing,
** and the spool keeps every byte. */
static void test_stale_spool(void) {
  if (!shim_built()) return;
  char dir[4200], db[4300], spool[4400], marker[4400], cmd[4600];
  snprintf(dir, sizeof dir, "%s/stale", ti_dir());
  mkdir(dir, 0755);
  snprintf(db, sizeof db, "%s/run.db", dir);
  snprintf(spool, sizeof spool, "%s/run.db.spool", dir);
  snprintf(marker, sizeof marker, "%s/ran", dir);
  Gen g;
  small_spool(&g, 777, 1764043200000000000ull, 3, 100);
  CU_ASSERT_EQUAL_FATAL(gen_write(&g, spool, SIZE_MAX), 0);
  size_t before_len = 0, after_len = 0;
  char *before = lrt_read_file(spool, &before_len);
  snprintf(cmd, sizeof cmd, "touch %s", marker);
  CU_ASSERT_EQUAL(run5("record", "-o", db, "--", "/bin/true"), 2);
  one_line("run.db.spool: a spool of an earlier run", "lowram import");
  CU_ASSERT_EQUAL(access(db, F_OK), -1);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", db, "--", "sh", "-c", cmd, NULL};
  CU_ASSERT_EQUAL(lrt_run(argv, NULL, t2_out, t2_err), 2);
  CU_ASSERT_EQUAL(access(marker, F_OK), -1); /* nothing ran */
  char *after = lrt_read_file(spool, &after_len);
  CU_ASSERT_TRUE(before && after && before_len == after_len &&
                 !memcmp(before, after, before_len));
  CU_ASSERT_EQUAL(count_suffix(dir, ".db"), 0);
  CU_ASSERT_EQUAL(count_suffix(dir, ".spool"), 1);
  /* the way out the message gives: import it, then record runs */
  CU_ASSERT_EQUAL(run5("import", spool, NULL, NULL, NULL), 0);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'pid'"), 777);
  unlink(spool);
  snprintf(db, sizeof db, "%s/run2.db", dir);
  CU_ASSERT_EQUAL(run5("record", "-o", db, "--", "/bin/true"), 0);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'complete'"), 1);
  free(before);
  free(after);
  gen_free(&g);
}

/* import B -o A.db where A.db is A's finished trace: exit 1, one line,
** A.db untouched; import A -o A.db: already imported, exit 0; a spool
** whose default trace name holds another process's trace is refused by
** every command that would open it. */
static void test_import_other_run(void) {
  char dir[4200], a_sp[4300], b_sp[4300], a_db[4300], b_at_a[4300];
  snprintf(dir, sizeof dir, "%s/other", ti_dir());
  mkdir(dir, 0755);
  snprintf(a_sp, sizeof a_sp, "%s/a.spool", dir);
  snprintf(b_sp, sizeof b_sp, "%s/b.spool", dir);
  snprintf(a_db, sizeof a_db, "%s/a.db", dir);
  snprintf(b_at_a, sizeof b_at_a, "%s/a.db.spool", dir);
  Gen a, b, b2;
  small_spool(&a, 1001, 1764043200000000000ull, 2, 111);
  small_spool(&b, 1002, 1764043201000000000ull, 5, 222);
  /* same pid as a, another start: a later process that reused the pid */
  small_spool(&b2, 1001, 1764043209000000000ull, 4, 333);
  CU_ASSERT_EQUAL_FATAL(gen_write(&a, a_sp, SIZE_MAX), 0);
  CU_ASSERT_EQUAL_FATAL(gen_write(&b, b_sp, SIZE_MAX), 0);
  CU_ASSERT_EQUAL(run5("import", a_sp, "-o", a_db, NULL), 0);
  CU_ASSERT_EQUAL(lrt_sql_int(a_db, "SELECT sum(size) FROM allocations"), 222);
  struct stat s1, s2;
  CU_ASSERT_EQUAL_FATAL(stat(a_db, &s1), 0);
  CU_ASSERT_EQUAL(run5("import", b_sp, "-o", a_db, NULL), 1);
  one_line("a.db: holds the trace of another process (pid 1001", "not of");
  CU_ASSERT_EQUAL_FATAL(stat(a_db, &s2), 0);
  CU_ASSERT_TRUE(s1.st_size == s2.st_size && s1.st_mtime == s2.st_mtime &&
                 s1.st_ino == s2.st_ino);
  CU_ASSERT_EQUAL(lrt_sql_int(a_db, "SELECT sum(size) FROM allocations"), 222);
  /* the very spool again: nothing to do, exit 0 */
  CU_ASSERT_EQUAL(run5("import", a_sp, "-o", a_db, NULL), 0);
  char *o = slurp(t2_out);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "already imported"));
  free(o);
  /* a reused pid is another process too */
  CU_ASSERT_EQUAL_FATAL(gen_write(&b2, b_sp, SIZE_MAX), 0);
  CU_ASSERT_EQUAL(run5("import", b_sp, "-o", a_db, NULL), 1);
  one_line("holds the trace of another process", NULL);
  /* b's spool where a.db's would be: report on the spool does not show a */
  CU_ASSERT_EQUAL_FATAL(gen_write(&b, b_at_a, SIZE_MAX), 0);
  CU_ASSERT_EQUAL(run5("import", b_at_a, NULL, NULL, NULL), 1);
  one_line("holds the trace of another process", NULL);
  CU_ASSERT_EQUAL(run5("report", b_at_a, NULL, NULL, NULL), 1);
  char *e = slurp(t2_err);
  CU_ASSERT_PTR_NOT_NULL(strstr(e, "another process"));
  free(e);
  CU_ASSERT_EQUAL(lrt_sql_int(a_db, "SELECT sum(size) FROM allocations"), 222);
  gen_free(&a);
  gen_free(&b);
  gen_free(&b2);
}

/* Past 1024 spools nothing is lost: sh runs /bin/true 1500 times. */
static void test_1500_processes(void) {
  if (!shim_built()) return;
  char dir[4200], db[4300];
  snprintf(dir, sizeof dir, "%s/many", ti_dir());
  mkdir(dir, 0755);
  snprintf(db, sizeof db, "%s/r.db", dir);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "record", "-o", db, "--", "/bin/sh", "-c",
                  "i=0; while [ $i -lt 1500 ]; do /bin/true; i=$((i+1)); done", NULL};
  snprintf(t2_out, sizeof t2_out, "%s/many.out", ti_dir());
  snprintf(t2_err, sizeof t2_err, "%s/many.err", ti_dir());
  CU_ASSERT_EQUAL_FATAL(lrt_run(argv, NULL, t2_out, t2_err), 0);
  CU_ASSERT_EQUAL(count_suffix(dir, ".spool"), 0);
  CU_ASSERT_EQUAL(count_suffix(dir, ".db"), 1);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'complete'"), 1);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM processes"), 1501);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'processes'"), 1501);
  /* the shell first, then 1500 /bin/true whose parent it is */
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM processes p JOIN processes s ON s.id = 1 "
                                  "WHERE p.id > 1 AND p.ppid = s.pid AND p.parent_id = 1 AND "
                                  "json_extract(p.argv, '$[0]') = '/bin/true' AND "
                                  "p.end_reason = 'exit' AND p.end_code = 0"), 1500);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(DISTINCT pid) FROM processes"), 1501);
}

/* Runs argv with stderr on a new pty (stdout to t2_out) and returns what
** the terminal got, malloc'd; *status is the exit status. */
static char *run_on_pty(char *const argv[], int *status) {
  int master, slave;
  if (openpty(&master, &slave, NULL, NULL, NULL) != 0) return NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, t2_out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, slave, 2);
  posix_spawn_file_actions_addclose(&fa, master);
  pid_t pid;
  extern char **environ;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(slave);
  if (rc != 0) {
    close(master);
    return NULL;
  }
  size_t len = 0, cap = 1 << 16;
  char *buf = malloc(cap + 1);
  for (;;) {
    ssize_t r = read(master, buf + len, cap - len);
    if (r <= 0) break; /* EIO once the child closed its side */
    len += (size_t)r;
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
    }
  }
  buf[len] = 0;
  close(master);
  while (waitpid(pid, status, 0) < 0 && errno == EINTR)
    ;
  *status = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128;
  return buf;
}

/* On a terminal import shows its stages, events, rate and time left; on a
** pipe (or a file) nothing but the summary on stdout. */
static void test_progress(void) {
  char dir[4200], sp[4300], db[4300], db2[4300];
  snprintf(dir, sizeof dir, "%s/progress", ti_dir());
  mkdir(dir, 0755);
  snprintf(sp, sizeof sp, "%s/p.spool", dir);
  snprintf(db, sizeof db, "%s/p.db", dir);
  snprintf(db2, sizeof db2, "%s/p2.db", dir);
  Gen g;
  gen_init(&g, 1 << 16);
  GW w;
  gw_init(&w, &g, 7);
  uint64_t seq = 0;
  for (uint64_t i = 0; i < 150000; i++) {
    gw_alloc(&w, LR_EV_MALLOC, ++seq, 0x100000 + (i % 64) * 64, 32, 0);
    gw_free(&w, ++seq, 0x100000 + (i % 64) * 64);
  }
  CU_ASSERT_EQUAL_FATAL(gen_write(&g, sp, SIZE_MAX), 0);
  gen_free(&g);
  char *argv[] = {(char *)lrt_env("LOWRAM_BIN"), "import", sp, "-o", db, NULL};
  snprintf(t2_out, sizeof t2_out, "%s/prog.out", ti_dir());
  int status = -1;
  char *tty = run_on_pty(argv, &status);
  CU_ASSERT_PTR_NOT_NULL_FATAL(tty);
  CU_ASSERT_EQUAL(status, 0);
  /* 300000 events: merge progress (at most 10 lines a second), then each
  ** stage once with the final count */
  CU_ASSERT_PTR_NOT_NULL(strstr(tty, "\r\033[Klowram: importing: merging: "));
  CU_ASSERT_PTR_NOT_NULL(strstr(tty, "/s, "));
  CU_ASSERT_PTR_NOT_NULL(strstr(tty, "importing: indexing: 300.0k events"));
  CU_ASSERT_PTR_NOT_NULL(strstr(tty, "importing: naming frames: 300.0k events"));
  CU_ASSERT_PTR_NOT_NULL(strstr(tty, "importing: aggregates: 300.0k events"));
  CU_ASSERT_PTR_NOT_NULL(strstr(tty, "\r\033[K")); /* the line is cleared at the end */
  free(tty);
  char *o = slurp(t2_out);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "300000 events"));
  free(o);
  /* on a pipe: stderr stays empty */
  CU_ASSERT_EQUAL(run5("import", sp, "-o", db2, NULL), 0);
  size_t elen = 99;
  char *e = lrt_read_file(t2_err, &elen);
  CU_ASSERT_EQUAL(elen, 0);
  free(e);
  CU_ASSERT_EQUAL(lrt_sql_int(db2, "SELECT count(*) FROM allocations"), 150000);
}

/* The progress text itself: time left from the chunks read. */
static void test_progress_text(void) {
  char buf[160];
  LrImportProgress p = {LR_IMPORT_MERGE, 1500000, 25, 100, 2.0, 0, 0};
  CU_ASSERT_STRING_EQUAL(lr_import_progress_text(&p, buf, sizeof buf),
                         "merging: 1.50M events, 750k/s, 2.0 s, 6 s left");
  p.stage = LR_IMPORT_AGGREGATES;
  p.seconds = 3.0;
  CU_ASSERT_STRING_EQUAL(lr_import_progress_text(&p, buf, sizeof buf),
                         "aggregates: 1.50M events, 500k/s, 3.0 s");
  LrImportProgress z = {LR_IMPORT_MERGE, 0, 0, 0, 0, 0, 0};
  CU_ASSERT_STRING_EQUAL(lr_import_progress_text(&z, buf, sizeof buf),
                         "merging: 0 events, 0/s, 0.0 s");
  LrImportProgress r = {LR_IMPORT_SYMBOLS, 2500, 4, 4, 0.5, 3, 7};
  CU_ASSERT_STRING_EQUAL(lr_import_progress_text(&r, buf, sizeof buf),
                         "process 3 of 7, naming frames: 2.5k events, 5k/s, 0.5 s");
}

/* Plain LD_PRELOAD mode (a phone): run.db.spool and the spools its
** descendants left beside it, by the naming rule, gathered into one trace;
** an earlier run's spool (older) and a stranger's (another parent) stay out. */
static void test_gather_phone_spools(void) {
  char dir[4200], p[4400], db[4600];
  snprintf(dir, sizeof dir, "%s/phone", ti_dir());
  mkdir(dir, 0755);
  const uint64_t t0 = 1764043200000000000ull;
  static const struct { const char *name; uint32_t pid, ppid, exec; int64_t dt; uint64_t size; } sp[] = {
    {"run.db.spool", 500, 1, 0, 0, 1000},
    {"run.501.db.spool", 501, 500, 0, 1000000, 2000},
    {"run.501.1.db.spool", 501, 500, 1, 2000000, 3000},
    {"run.502.db.spool", 502, 501, 0, 3000000, 4000},
    {"run.503.db.spool", 503, 500, 0, -60000000000, 5000}, /* an earlier run's */
    {"run.600.db.spool", 600, 999, 0, 4000000, 6000},      /* not of this run */
  };
  for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) {
    Gen g;
    small_spool(&g, sp[i].pid, t0 + (uint64_t)sp[i].dt, 1, sp[i].size);
    gen_header(&g)->ppid = sp[i].ppid;
    gen_header(&g)->exec_index = sp[i].exec;
    snprintf(p, sizeof p, "%s/%s", dir, sp[i].name);
    CU_ASSERT_EQUAL_FATAL(gen_write(&g, p, SIZE_MAX), 0);
    gen_free(&g);
  }
  snprintf(p, sizeof p, "%s/run.db.spool", dir);
  snprintf(db, sizeof db, "%s/run.db", dir);
  CU_ASSERT_EQUAL(run5("import", p, NULL, NULL, NULL), 0);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM processes"), 4);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT group_concat(pid || ':' || exec_index || ':' || "
                                  "coalesce(parent_id, 0), ' ') = '500:0:0 501:0:1 501:1:2 502:0:3' "
                                  "FROM (SELECT * FROM processes ORDER BY id)"), 1);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT sum(size) FROM allocations"), 10000);
  /* 502 was forked by 501's second image, the one running then; the
  ** highest peak is the default: pid 502's 4000 bytes */
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT value FROM meta WHERE key = 'pid'"), 502);
  char *o = slurp(t2_out);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "run.db: 4 processes"));
  free(o);
  /* -o names the trace of that one spool; --follow gathers anyway */
  snprintf(db, sizeof db, "%s/one.db", dir);
  CU_ASSERT_EQUAL(run5("import", p, "-o", db, NULL), 0);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM processes"), 1);
  snprintf(db, sizeof db, "%s/all.db", dir);
  CU_ASSERT_EQUAL(run5("import", p, "-o", db, "--follow"), 0);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM processes"), 4);
  /* report on the name LOWRAM_OUT gave, with only the spools there */
  char dir2[4300], p2[4500];
  snprintf(dir2, sizeof dir2, "%s/phone2", ti_dir());
  mkdir(dir2, 0755);
  for (size_t i = 0; i < 3; i++) {
    char a[4400];
    snprintf(a, sizeof a, "%s/%s", dir, sp[i].name);
    snprintf(p2, sizeof p2, "%s/%s", dir2, sp[i].name);
    size_t len;
    char *bytes = lrt_read_file(a, &len);
    lrt_write_file(p2, bytes, len);
    free(bytes);
  }
  snprintf(db, sizeof db, "%s/run.db", dir2);
  CU_ASSERT_EQUAL(run5("report", db, "--pid", "501", NULL), 0);
  CU_ASSERT_EQUAL(lrt_sql_int(db, "SELECT count(*) FROM processes"), 3);
  o = slurp(t2_out);
  CU_ASSERT_PTR_NOT_NULL(strstr(o, "3000 bytes")); /* pid 501's image with the highest peak */
  free(o);
}

void ti_add_tests_trace2(CU_pSuite s) {
  CU_add_test(s, "trace2: a phone's spools gathered into one trace", test_gather_phone_spools);
  CU_add_test(s, "trace2: progress text", test_progress_text);
  CU_add_test(s, "trace2: progress on a terminal only", test_progress);
  CU_add_test(s, "trace2: stale spool refused by record", test_stale_spool);
  CU_add_test(s, "trace2: import into another process's trace", test_import_other_run);
  CU_add_test(s, "trace2: 1500 processes", test_1500_processes);
}
