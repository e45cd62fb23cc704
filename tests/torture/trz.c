/* trz.c: see trz.h. */
#include "trz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lrtest.h"

int trz_long;

/* snprintf that may cut (paths here are far below the buffers' sizes). */
__attribute__((format(printf, 3, 4))) static void fmt(char *dst, size_t n, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsnprintf(dst, n, f, ap);
  va_end(ap);
}

static char g_root[512];  /* the run's directory */
static char g_cur[600];   /* the current test's directory */

void trz_fail(const char *file, int line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "    FAIL %s:%d: %s\n", file, line, msg);
  CU_assertImplementation(CU_FALSE, (unsigned)line, msg, file, "", CU_FALSE);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

const char *trz_root_dir(void);
const char *trz_root_dir(void) { return g_root; }

const char *trz_dir(const char *test) {
  if (!g_root[0]) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(g_root, sizeof g_root, "%s/lrtorture-XXXXXX", base);
    if (!mkdtemp(g_root)) {
      fprintf(stderr, "torture: mkdtemp %s: %s\n", g_root, strerror(errno));
      exit(2);
    }
    chmod(g_root, 0755);
  }
  snprintf(g_cur, sizeof g_cur, "%s/%s", g_root, test);
  if (mkdir(g_cur, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "torture: mkdir %s: %s\n", g_cur, strerror(errno));
    exit(2);
  }
  return g_cur;
}

const char *trz_path(const char *dir, const char *name) {
  static char buf[64][600];
  static int k;
  char *p = buf[k++ % 64];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

static int executable(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int trz_need(const char *prog, const char *package) {
  if (strchr(prog, '/')) {
    if (executable(prog)) return 0;
  } else {
    const char *path = getenv("PATH");
    char dir[4096];
    while (path && *path) {
      size_t n = strcspn(path, ":");
      snprintf(dir, sizeof dir, "%.*s/%s", (int)n, path, prog);
      if (n && executable(dir)) return 0;
      path += n + (path[n] == ':');
    }
  }
  trz_fail(__FILE__, __LINE__, "%s is not installed: the Debian package %s is needed "
           "(run.sh's PACKAGES)", prog, package);
  return -1;
}

/* ---- running ----------------------------------------------------------- */

static char *slurp(const char *path, size_t *len) {
  size_t n = 0;
  char *b = lrt_read_file(path, &n);
  if (!b) {
    b = calloc(1, 1);
    n = 0;
  }
  *len = n;
  return b;
}

void trz_start(TrzRun *r, const char *label, char *const argv[], const TrzOpts *o) {
  memset(r, 0, sizeof *r);
  r->rc = -1;
  const char *dir = g_cur[0] ? g_cur : trz_dir("misc");
  fmt(r->out_path, sizeof r->out_path, "%s/%s.stdout", dir, label);
  fmt(r->err_path, sizeof r->err_path, "%s/%s.stderr", dir, label);
  const char *cwd = o && o->cwd ? o->cwd : dir;
  const char *in = o && o->in ? o->in : "/dev/null";
  fflush(NULL);
  r->secs = now();
  pid_t pid = fork();
  if (pid < 0) {
    trz_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    return;
  }
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    int fi = open(in, O_RDONLY);
    int fo = open(r->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(r->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fi < 0 || fo < 0 || fe < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
      _exit(126);
    close(fi);
    close(fo);
    close(fe);
    if (chdir(cwd) != 0) {
      dprintf(2, "torture: chdir %s: %s\n", cwd, strerror(errno));
      _exit(126);
    }
    for (size_t i = 0; o && o->env && o->env[i]; i++) putenv(o->env[i]);
    execvp(argv[0], argv);
    dprintf(2, "torture: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  r->pid = pid;
}

void trz_finish(TrzRun *r, int timeout) {
  if (r->pid <= 0) {
    r->out = calloc(1, 1);
    r->err = calloc(1, 1);
    return;
  }
  if (timeout <= 0) timeout = 240;
  int st = 0, done = 0;
  double t0 = r->secs;
  while (!done) {
    pid_t w = waitpid(r->pid, &st, WNOHANG);
    if (w == r->pid) {
      done = 1;
      break;
    }
    if (w < 0 && errno != EINTR) break;
    if (now() - t0 > timeout) {
      kill(-r->pid, SIGKILL);
      waitpid(r->pid, &st, 0);
      r->rc = -2;
      break;
    }
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  /* nothing of the process group may outlive the run */
  kill(-r->pid, SIGKILL);
  if (done) r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
  r->secs = now() - t0;
  r->out = slurp(r->out_path, &r->out_len);
  r->err = slurp(r->err_path, &r->err_len);
  if (r->rc == -2)
    trz_fail(__FILE__, __LINE__, "timed out after %d s (killed): %s", timeout, r->err_path);
  r->pid = 0;
}

void trz_run(TrzRun *r, const char *label, char *const argv[], const TrzOpts *o) {
  trz_start(r, label, argv, o);
  trz_finish(r, o ? o->timeout : 0);
}

static char **record_argv(const char *db, char *const argv[]) {
  size_t n = 0;
  while (argv[n]) n++;
  char **a = calloc(n + 6, sizeof *a);
  a[0] = (char *)lrt_env("LOWRAM_BIN");
  a[1] = "record";
  a[2] = "-o";
  a[3] = (char *)db;
  a[4] = "--";
  memcpy(a + 5, argv, n * sizeof *a);
  return a;
}

static const char *label_of(const char *db) {
  static char l[256];
  const char *b = strrchr(db, '/');
  snprintf(l, sizeof l, "%s.rec", b ? b + 1 : db);
  return l;
}

void trz_start_record(TrzRun *r, const char *db, char *const argv[], const TrzOpts *o) {
  char **a = record_argv(db, argv);
  trz_start(r, label_of(db), a, o);
  free(a);
}

void trz_record(TrzRun *r, const char *db, char *const argv[], const TrzOpts *o) {
  trz_start_record(r, db, argv, o);
  trz_finish(r, o ? o->timeout : 0);
}

void trz_free(TrzRun *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

static const char *tail(const char *s, size_t len) {
  return len > 600 ? s + len - 600 : s;
}

void trz_same(const TrzRun *bare, const TrzRun *rec, const char *what) {
  TRZ_CHECK(bare->rc == rec->rc, "%s: exit status %d under lowram record, %d bare; stderr "
            "ends: %s", what, rec->rc, bare->rc, tail(rec->err, rec->err_len));
  size_t i = 0;
  while (i < bare->out_len && i < rec->out_len && bare->out[i] == rec->out[i]) i++;
  TRZ_CHECK(bare->out_len == rec->out_len && i == bare->out_len,
            "%s: stdout differs at byte %zu (bare %zu bytes, recorded %zu): %s vs %s", what, i,
            bare->out_len, rec->out_len, bare->out_path, rec->out_path);
}

void trz_same_file(const char *a, const char *b) {
  size_t la = 0, lb = 0;
  char *x = lrt_read_file(a, &la), *y = lrt_read_file(b, &lb);
  TRZ_CHECK(x && y, "cannot read %s or %s", a, b);
  if (x && y) {
    size_t i = 0;
    while (i < la && i < lb && x[i] == y[i]) i++;
    TRZ_CHECK(la == lb && i == la, "%s (%zu bytes) and %s (%zu bytes) differ at byte %zu", a,
              la, b, lb, i);
  }
  free(x);
  free(y);
}

/* ---- traces of a run ------------------------------------------------------ */

static int digits(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* name is STEM.db, STEM.PID.db or STEM.PID.N.db */
static int is_trace_of(const char *name, const char *stem) {
  size_t sl = strlen(stem), nl = strlen(name);
  if (nl < sl + 3 || strncmp(name, stem, sl) || strcmp(name + nl - 3, ".db")) return 0;
  const char *mid = name + sl;
  size_t ml = nl - sl - 3; /* "" or ".PID" or ".PID.N" */
  if (ml == 0) return 1;
  if (mid[0] != '.') return 0;
  const char *dot = memchr(mid + 1, '.', ml - 1);
  if (!dot) return digits(mid + 1, ml - 1);
  return digits(mid + 1, (size_t)(dot - mid - 1)) && digits(dot + 1, ml - (size_t)(dot - mid) - 1);
}

static int cmpstr(const void *a, const void *b) { return strcmp(a, b); }

static void split(const char *db, char *dir, size_t dl, char *stem, size_t sl) {
  const char *s = strrchr(db, '/');
  snprintf(dir, dl, "%.*s", s ? (int)(s - db) : 1, s ? db : ".");
  snprintf(stem, sl, "%s", s ? s + 1 : db);
  size_t n = strlen(stem);
  if (n > 3 && !strcmp(stem + n - 3, ".db")) stem[n - 3] = 0;
}

size_t trz_traces(const char *db, char paths[][600], size_t max) {
  char dir[600], stem[256];
  split(db, dir, sizeof dir, stem, sizeof stem);
  DIR *d = opendir(dir);
  size_t n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (is_trace_of(e->d_name, stem) && n < max)
      fmt(paths[n++], 600, "%s/%s", dir, e->d_name);
  if (d) closedir(d);
  qsort(paths, n, 600, cmpstr);
  return n;
}

/* Spools and import temp files the recording left (it must leave none). */
static size_t leftovers(const char *db, char *first, size_t fl) {
  char dir[600], stem[256];
  split(db, dir, sizeof dir, stem, sizeof stem);
  DIR *d = opendir(dir);
  size_t n = 0, sl = strlen(stem);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    const char *nm = e->d_name;
    size_t l = strlen(nm);
    int spool = !strncmp(nm, stem, sl) && l > 6 && !strcmp(nm + l - 6, ".spool");
    int tmp = nm[0] == '.' && !strncmp(nm + 1, stem, sl) && strstr(nm, ".import-");
    if (spool || tmp) {
      if (!n) snprintf(first, fl, "%s", nm);
      n++;
    }
  }
  if (d) closedir(d);
  return n;
}

static sqlite3 *open_ro(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    trz_fail(__FILE__, __LINE__, "%s: cannot open: %s", path, db ? sqlite3_errmsg(db) : "?");
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

/* First column of the first row; 0 for NULL or no row; -1 with *ok = 0 on
** an SQL error (reported unless quiet). */
static long long q_int(sqlite3 *db, const char *path, const char *sql, int *ok, int quiet) {
  sqlite3_stmt *st = NULL;
  long long v = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    if (!quiet) trz_fail(__FILE__, __LINE__, "%s: %s, in: %s", path, sqlite3_errmsg(db), sql);
    if (ok) *ok = 0;
    return -1;
  }
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  else if (rc != SQLITE_DONE) {
    if (!quiet) trz_fail(__FILE__, __LINE__, "%s: %s, in: %s", path, sqlite3_errmsg(db), sql);
    if (ok) *ok = 0;
    v = -1;
  }
  sqlite3_finalize(st);
  return v;
}

static int has_table(sqlite3 *db, const char *name) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM sqlite_master WHERE type IN ('table','view') AND name='%s'",
           name);
  int ok = 1;
  return q_int(db, "", sql, &ok, 1) > 0 && ok;
}

/* The column of allocations that says which process a row belongs to, in
** a one-file-per-run trace ("" in a one-file-per-process trace). */
static const char *proc_col(sqlite3 *db) {
  static const char *names[] = {"process_id", "process", "proc_id", "pid"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pragma_table_info('allocations') WHERE name='%s'", names[i]);
    int ok = 1;
    if (q_int(db, "", sql, &ok, 1) > 0 && ok) return names[i];
  }
  return "";
}

long long trz_int(const char *trace, const char *fmt, ...) {
  char sql[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  sqlite3 *db = open_ro(trace);
  if (!db) return -1;
  long long v = q_int(db, trace, sql, NULL, 0);
  sqlite3_close(db);
  return v;
}

long long trz_sum(const char *dbp, const char *fmt, ...) {
  char sql[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  static char paths[4096][600];
  size_t n = trz_traces(dbp, paths, 4096);
  TRZ_CHECK(n > 0, "%s: no trace file", dbp);
  long long sum = 0;
  for (size_t i = 0; i < n; i++) {
    sqlite3 *db = open_ro(paths[i]);
    if (!db) continue;
    sum += q_int(db, paths[i], sql, NULL, 0);
    sqlite3_close(db);
  }
  return sum;
}

static long long meta_int(sqlite3 *db, const char *key, long long dflt) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT coalesce((SELECT value FROM meta WHERE key='%s'), %lld)",
           key, dflt);
  int ok = 1;
  long long v = q_int(db, "", sql, &ok, 1);
  return ok ? v : dflt;
}

static void meta_text(sqlite3 *db, const char *key, char *out, size_t len) {
  out[0] = 0;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
}

static int proc_cmp(const void *a, const void *b) {
  const TrzProc *x = a, *y = b;
  if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
  return x->exec_index < y->exec_index ? -1 : x->exec_index > y->exec_index;
}

/* The first argv element of a JSON array of strings, unescaped roughly. */
static void first_arg(const char *json, char *out, size_t len) {
  out[0] = 0;
  const char *q = json ? strchr(json, '"') : NULL;
  if (!q) return;
  size_t k = 0;
  for (q++; *q && *q != '"' && k + 1 < len; q++) {
    if (*q == '\\' && q[1]) q++;
    out[k++] = *q;
  }
  out[k] = 0;
}

/* Rows of a `processes` table (one-file-per-run traces), read by column
** name so that the order and the extra columns of that table do not matter. */
static size_t procs_from_table(sqlite3 *db, const char *path, TrzProc **all, size_t *cap,
                               size_t n) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT * FROM processes", -1, &st, NULL) != SQLITE_OK) return n;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (n == *cap) {
      *cap = *cap ? 2 * *cap : 64;
      *all = realloc(*all, *cap * sizeof **all);
    }
    TrzProc *p = &(*all)[n++];
    memset(p, 0, sizeof *p);
    fmt(p->trace, sizeof p->trace, "%s", path);
    p->end_code = -1;
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const char *nm = sqlite3_column_name(st, c);
      long long v = sqlite3_column_int64(st, c);
      int null = sqlite3_column_type(st, c) == SQLITE_NULL;
      const unsigned char *t = sqlite3_column_text(st, c);
      if (!strcmp(nm, "id")) p->id = v;
      else if (!strcmp(nm, "pid")) p->pid = v;
      else if (!strcmp(nm, "ppid")) p->ppid = v;
      else if (!strcmp(nm, "exec_index")) p->exec_index = v;
      else if (!strcmp(nm, "end_code")) p->end_code = null ? -1 : v;
      else if (!strcmp(nm, "end_reason") && t) snprintf(p->end_reason, sizeof p->end_reason, "%s", t);
      else if (!strcmp(nm, "unmatched_frees")) p->unmatched_frees = v;
      else if (!strcmp(nm, "unmatched_allocs")) p->unmatched_allocs = v;
      else if (!strcmp(nm, "cut_short")) p->cut_short = v;
      else if (!strcmp(nm, "events")) p->events = v;
      else if (!strcmp(nm, "peak_heap")) p->peak_heap = v;
      else if (!strcmp(nm, "argv") && t) first_arg((const char *)t, p->argv0, sizeof p->argv0);
    }
  }
  sqlite3_finalize(st);
  return n;
}

TrzProc *trz_procs(const char *dbp, size_t *count) {
  static char paths[4096][600];
  size_t nt = trz_traces(dbp, paths, 4096), n = 0, cap = 0;
  TrzProc *all = NULL;
  for (size_t i = 0; i < nt; i++) {
    sqlite3 *db = open_ro(paths[i]);
    if (!db) continue;
    if (has_table(db, "processes")) {
      size_t first = n;
      n = procs_from_table(db, paths[i], &all, &cap, n);
      for (size_t k = first; k < n; k++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM allocations WHERE region = 'heap' "
                 "AND process_id = %lld", all[k].id);
        int ok = 1;
        all[k].heap_rows = q_int(db, paths[i], sql, &ok, 0);
      }
      sqlite3_close(db);
      continue;
    }
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      all = realloc(all, cap * sizeof *all);
    }
    TrzProc *p = &all[n++];
    memset(p, 0, sizeof *p);
    fmt(p->trace, sizeof p->trace, "%s", paths[i]);
    p->pid = meta_int(db, "pid", -1);
    p->ppid = meta_int(db, "ppid", -1);
    p->exec_index = meta_int(db, "exec_index", -1);
    p->end_code = meta_int(db, "end_code", -1);
    p->unmatched_frees = meta_int(db, "unmatched_frees", -1);
    p->unmatched_allocs = meta_int(db, "unmatched_allocs", -1);
    p->cut_short = meta_int(db, "cut_short", 0);
    p->events = meta_int(db, "events", -1);
    p->peak_heap = meta_int(db, "peak_heap", -1);
    int ok = 1;
    p->heap_rows = q_int(db, paths[i], "SELECT count(*) FROM allocations WHERE region='heap'", &ok, 0);
    meta_text(db, "end_reason", p->end_reason, sizeof p->end_reason);
    char av[4096];
    meta_text(db, "argv", av, sizeof av);
    first_arg(av, p->argv0, sizeof p->argv0);
    sqlite3_close(db);
  }
  if (n) qsort(all, n, sizeof *all, proc_cmp);
  *count = n;
  return all;
}

size_t trz_npids(const TrzProc *p, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!i || p[i].pid != p[i - 1].pid) k++;
  return k;
}

const TrzProc *trz_root(const TrzProc *p, size_t n) {
  /* the last image of the pid whose parent is not in the run */
  const TrzProc *r = NULL;
  for (size_t i = 0; i < n; i++) {
    int parent_in = 0;
    for (size_t j = 0; j < n && !parent_in; j++) parent_in = p[j].pid == p[i].ppid;
    if (!parent_in && (!r || (r->pid == p[i].pid && p[i].exec_index > r->exec_index))) r = &p[i];
  }
  return r;
}

/* ---- consistency ------------------------------------------------------- */

/* Checks on the rows of one trace file, whichever processes they belong to. */
static void check_file(const char *path) {
  sqlite3 *db = open_ro(path);
  if (!db) return;
  int ok = 1;
  TRZ_CHECK(meta_int(db, "complete", 0) == 1, "%s: meta.complete is not 1", path);
  const char *pc = proc_col(db);
  char sql[2048];

  long long bad = q_int(db, path,
      "SELECT count(*) FROM allocations WHERE (free_seq IS NULL) <> (free_kind IS NULL) "
      "OR (free_seq IS NULL) <> (free_ns IS NULL) OR free_seq < alloc_seq OR size < 0",
      &ok, 0);
  TRZ_CHECK(bad == 0, "%s: %lld rows end before they start, have a negative size, or "
            "disagree on free_seq/free_kind/free_ns", path, bad);

  snprintf(sql, sizeof sql,
      "SELECT count(*) FROM (SELECT alloc_seq, lag(alloc_seq) OVER w AS pa, "
      "lag(free_seq) OVER w AS pf FROM allocations WHERE region = 'heap' "
      "WINDOW w AS (PARTITION BY %s%saddress ORDER BY alloc_seq)) "
      "WHERE pa IS NOT NULL AND (pf IS NULL OR pf > alloc_seq)", pc, *pc ? ", " : "");
  long long overlap = q_int(db, path, sql, &ok, 0);
  TRZ_CHECK(overlap == 0, "%s: %lld heap blocks start at an address still live", path, overlap);
  sqlite3_close(db);
}

/* Checks on one process image's rows: live bytes, its peak, its events. */
static void check_proc(const TrzProc *p, unsigned flags) {
  sqlite3 *db = open_ro(p->trace);
  if (!db) return;
  int ok = 1;
  char where[96] = "";
  if (p->id) snprintf(where, sizeof where, " AND process_id = %lld", p->id);
  char sql[2048];
  /* the running sums of the rows, at equal seq decreases first (as the
  ** schema's live_bytes view): per region, over all regions */
  snprintf(sql, sizeof sql,
      "WITH ch AS (SELECT alloc_seq AS seq, region, size AS d FROM allocations WHERE 1%s "
      "UNION ALL SELECT free_seq, region, -size FROM allocations WHERE free_seq IS NOT NULL%s), "
      "r AS (SELECT region, sum(d) OVER (PARTITION BY region ORDER BY seq, d ROWS UNBOUNDED "
      "PRECEDING) AS rl, sum(d) OVER (ORDER BY seq, d ROWS UNBOUNDED PRECEDING) AS tl FROM ch) "
      "SELECT count(*) FROM r WHERE rl < 0 OR tl < 0", where, where);
  long long neg = q_int(db, p->trace, sql, &ok, 0);
  TRZ_CHECK(neg == 0, "%s (pid %lld): live bytes go negative at %lld changes", p->trace, p->pid,
            neg);
  snprintf(sql, sizeof sql,
      "WITH ch AS (SELECT alloc_seq AS seq, size AS d FROM allocations WHERE region = 'heap'%s "
      "UNION ALL SELECT free_seq, -size FROM allocations WHERE region = 'heap' AND free_seq IS "
      "NOT NULL%s) SELECT coalesce(max(l), 0) FROM (SELECT sum(d) OVER (ORDER BY seq, d ROWS "
      "UNBOUNDED PRECEDING) AS l FROM ch)", where, where);
  long long peak = q_int(db, p->trace, sql, &ok, 0);
  TRZ_CHECK(peak == p->peak_heap, "%s (pid %lld): peak_heap %lld stored, the rows say %lld",
            p->trace, p->pid, p->peak_heap, peak);
  /* each heap row and each free call is one event (realloc: both in one) */
  snprintf(sql, sizeof sql,
      "SELECT (SELECT count(*) FROM allocations WHERE region = 'heap'%s) + "
      "(SELECT count(*) FROM allocations WHERE free_kind = 'free'%s)", where, where);
  long long need = q_int(db, p->trace, sql, &ok, 0);
  TRZ_CHECK(p->events >= need, "%s (pid %lld): %lld events < heap rows + frees %lld", p->trace,
            p->pid, p->events, need);
  if (!(flags & TRZ_CUT))
    TRZ_CHECK(p->unmatched_allocs == 0, "%s (pid %lld): unmatched_allocs = %lld (a free was "
              "lost)", p->trace, p->pid, p->unmatched_allocs);
  sqlite3_close(db);
}

size_t trz_check(const char *dbp, unsigned flags) {
  static char paths[4096][600];
  size_t nt = trz_traces(dbp, paths, 4096);
  TRZ_CHECK(nt > 0, "%s: the recording left no trace", dbp);
  char first[300] = "";
  size_t left = leftovers(dbp, first, sizeof first);
  TRZ_CHECK(left == 0, "%s: %zu spool or import temp files left (%s)", dbp, left, first);
  for (size_t i = 0; i < nt; i++) check_file(paths[i]);

  size_t n = 0;
  TrzProc *p = trz_procs(dbp, &n);
  long long allowed = flags & TRZ_ENV ? 1 : 0;
  for (size_t i = 0; i < n; i++) {
    check_proc(&p[i], flags);
    const TrzProc *parent = NULL;
    for (size_t j = 0; j < n; j++)
      if (p[j].pid == p[i].ppid) parent = &p[j]; /* its last image: the one that forked */
    int forked = p[i].exec_index == 0 && parent;
    if (!forked || !parent) {
      TRZ_CHECK(p[i].unmatched_frees >= 0 && p[i].unmatched_frees <= allowed,
                "%s (pid %lld, exec %lld, %s): %lld frees of blocks it never allocated", p[i].trace,
                p[i].pid, p[i].exec_index, p[i].argv0, p[i].unmatched_frees);
    } else {
      /* a fork child frees what it inherited; a spawned child that exec'd
      ** right away inherited nothing it can free */
      TRZ_CHECK(p[i].unmatched_frees >= 0 && p[i].unmatched_frees <= parent->heap_rows + allowed,
                "%s (pid %lld, %s): %lld unmatched frees, more than its parent's %lld heap rows",
                p[i].trace, p[i].pid, p[i].argv0, p[i].unmatched_frees, parent->heap_rows);
    }
  }
  free(p);
  return n;
}

long long trz_meta(const char *dbp, const char *key) {
  static char paths[8][600];
  size_t n = trz_traces(dbp, paths, 8);
  long long v = LLONG_MIN;
  sqlite3 *db = n ? open_ro(paths[0]) : NULL;
  if (db) {
    char sql[300];
    int ok = 1;
    if (has_table(db, "process_meta"))
      snprintf(sql, sizeof sql, "SELECT value FROM process_meta WHERE key = '%s' "
               "ORDER BY process_id LIMIT 1", key);
    else
      snprintf(sql, sizeof sql, "SELECT value FROM meta WHERE key = '%s'", key);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    (void)ok;
    sqlite3_close(db);
  }
  TRZ_CHECK(v != LLONG_MIN, "%s: no %s in its meta", dbp, key);
  return v;
}

long long trz_info(const char *path, const char *key) {
  size_t len;
  char *b = lrt_read_file(path, &len);
  long long v = LLONG_MIN;
  size_t kl = strlen(key);
  for (char *l = b; l && *l;) {
    char *nl = strchr(l, '\n');
    if (!strncmp(l, key, kl) && l[kl] == '=') v = atoll(l + kl + 1);
    l = nl ? nl + 1 : l + strlen(l);
  }
  free(b);
  TRZ_CHECK(v != LLONG_MIN, "%s: no %s= line", path, key);
  return v;
}
