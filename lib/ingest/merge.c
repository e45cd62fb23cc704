/*
** merge.c: the spools of one run into one trace (import.h: lr_import_run).
**
** The trace is built in a hidden file beside out_path. Each spool is
** imported straight into its tables (stage.h, import.c) as one process:
**   - process_id = its processes.id on the rows that belong to a process
**     (allocations, threads, rss_samples, markers, params, agg_*);
**   - its ids shifted past the previous processes' (allocations, stacks,
**     frames, modules, markers), so every id is unique in the file and a
**     process's ids form one range, recorded in its processes row;
**   - its meta keys in process_meta, and one processes row.
** Its aggregates are then built from the rows the merge wrote, handed over
** in alloc_seq order (aggsort.h; read back through TEMP VIEWs of its rows
** only if that failed), into temp (query/agg.h), and copied with a
** process_id column leading their keys. Frames are named once, at the end,
** for every process.
**
** Invariants:
**   1. Nothing is under out_path until every spool is in and the trace is
**      complete (place(): link without replacing).
**   2. The first process keeps its ids (offsets 0), so a one-process trace
**      has the ids a v1 trace had.
**   3. The hidden file is removed whatever happens.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ingest/spool_read.h"
#include "ingest/stage.h"
#include "ingest/symtrace.h"
#include "query/agg.h"
#include "lowram/import.h"
#include "lowram/trace.h"
#include "store/allocvt.h"

extern const char lr_schema_sql[];

/* The aggregate tables (query/agg.h), built per process in temp. */
static const char *const agg_tables[] = {"agg_info", "agg_checkpoints", "agg_timeline",
                                         "agg_phases", "agg_stacks", "agg_largest",
                                         "agg_maps"};

static int xexec(sqlite3 *db, const char *out, const char *sql, LrErr *err) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    lr_err_set(err, "%s: import failed (merging processes): %s", out, msg ? msg : "?");
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

/* Copies temp.`tab` (an aggregate table of process `proc`) into main.`tab`,
** creating that one first (process_id leading its key) if it is not there
** yet. The ids in it are the trace's already (it was built on them). */
static int copy_agg(sqlite3 *db, const char *out, const char *tab, int64_t proc, LrErr *err) {
  char *q = sqlite3_mprintf("PRAGMA temp.table_info(\"%w\")", tab);
  sqlite3_stmt *st;
  int rc = q ? sqlite3_prepare_v2(db, q, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(q);
  if (rc != SQLITE_OK) return lr_err_set(err, "%s: import failed (merging %s): %s", out, tab,
                                         sqlite3_errmsg(db));
  char *cols = sqlite3_mprintf("%s", ""), *defs = sqlite3_mprintf("%s", "");
  char *pk = sqlite3_mprintf("%s", "");
  int pkn[16] = {0};
  char pkc[16][64];
  int npk = 0, ncols = 0;
  while (cols && defs && sqlite3_step(st) == SQLITE_ROW) {
    const char *c = (const char *)sqlite3_column_text(st, 1);
    const char *ty = (const char *)sqlite3_column_text(st, 2);
    int k = sqlite3_column_int(st, 5);
    char *a = sqlite3_mprintf("%s%s\"%w\"", cols, ncols ? ", " : "", c);
    char *d = sqlite3_mprintf("%s, \"%w\" %s", defs, c, ty ? ty : "");
    sqlite3_free(cols);
    sqlite3_free(defs);
    cols = a;
    defs = d;
    if (k > 0 && k <= 16 && npk < 16) {
      pkn[npk] = k;
      snprintf(pkc[npk], sizeof pkc[npk], "%s", c);
      npk++;
    }
    ncols++;
  }
  sqlite3_finalize(st);
  int ret = -1;
  if (!cols || !defs || !pk) {
    lr_err_set(err, "%s: out of memory", out);
    goto done;
  }
  for (int i = 1; i <= npk; i++)
    for (int j = 0; j < npk; j++)
      if (pkn[j] == i) {
        char *p2 = sqlite3_mprintf("%s, \"%w\"", pk, pkc[j]);
        sqlite3_free(pk);
        pk = p2;
      }
  char *sql = sqlite3_mprintf("CREATE TABLE IF NOT EXISTS main.\"%w\"(process_id INTEGER NOT "
                              "NULL%s, PRIMARY KEY(process_id%s)) WITHOUT ROWID;"
                              "INSERT INTO main.\"%w\"(%s, process_id) SELECT %s, %lld FROM "
                              "temp.\"%w\";",
                              tab, defs, pk ? pk : "", tab, cols, cols, (long long)proc, tab);
  ret = sql ? xexec(db, out, sql, err) : lr_err_set(err, "%s: out of memory", out);
  sqlite3_free(sql);
done:
  sqlite3_free(cols);
  sqlite3_free(defs);
  sqlite3_free(pk);
  return ret;
}

/* Process `proc`'s rows are in (lr_stage_import): its aggregates, built
** in temp on TEMP VIEWs of its rows and copied into main, its
** process_id key, and its processes row (ids off+1 .. last). */
static int finish_process(sqlite3 *db, const char *out, int64_t proc, const LrIdOff *o,
                          const LrIdOff *n, LrAggSort *sorted, double *agg_seconds,
                          LrErr *err) {
  char *sql = sqlite3_mprintf(
      "CREATE TEMP VIEW allocations AS SELECT * FROM main.allocations WHERE process_id = %lld;"
      "CREATE TEMP VIEW markers AS SELECT * FROM main.markers WHERE process_id = %lld;"
      "CREATE TEMP VIEW pm AS SELECT key, value FROM main.process_meta WHERE process_id = %lld;",
      (long long)proc, (long long)proc, (long long)proc);
  int bad = !sql || xexec(db, out, sql, err);
  sqlite3_free(sql);
  if (bad) return -1;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  /* from the merge's rows; read back with SQL if the sorter failed */
  if (lr_aggsort_finish(sorted) == 0)
    bad = lr_agg_build_rows(db, out, proc, lr_aggsort_next, sorted, err) != 0;
  else
    bad = lr_agg_build_temp(db, out, proc, err) != 0;
  clock_gettime(CLOCK_MONOTONIC, &b);
  *agg_seconds += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  if (!bad) bad = xexec(db, out, "DROP VIEW temp.allocations; DROP VIEW temp.markers; BEGIN", err);
  if (bad) return -1;
  for (size_t i = 0; i < sizeof agg_tables / sizeof agg_tables[0] && !bad; i++)
    bad = copy_agg(db, out, agg_tables[i], proc, err) != 0;
#define M(k) "(SELECT value FROM temp.pm WHERE key = '" k "')"
  sql = bad ? NULL : sqlite3_mprintf(
      /* the schema's views read the process meta's process_id names */
      "INSERT INTO main.process_meta(process_id, key, value) VALUES(%lld, 'process_id', %lld);"
      "INSERT INTO main.processes(id, pid, ppid, exec_index, argv, start_realtime_ns, start_ns, "
      "end_ns, end_reason, end_code, peak, peak_heap, peak_rss, events, cut_short, "
      "unmatched_frees, unmatched_allocs, spool_path, spool_bytes, alloc_first, alloc_last, "
      "stack_first, stack_last, frame_first, frame_last, module_first, module_last, "
      "marker_first, marker_last) SELECT %lld, " M("pid") ", " M("ppid") ", " M("exec_index")
      ", coalesce(" M("argv") ", '[]'), " M("start_realtime_ns") ", 0, " M("end_ns") ", "
      M("end_reason") ", " M("end_code") ", coalesce((SELECT value FROM temp.agg_info WHERE key = "
      "'peak'), 0), coalesce(" M("peak_heap") ", 0), coalesce(" M("peak_rss") ", 0), coalesce("
      M("events") ", 0), coalesce(" M("cut_short") ", 0), coalesce(" M("unmatched_frees")
      ", 0), coalesce(" M("unmatched_allocs") ", 0), " M("spool_path") ", " M("spool_bytes")
      ", %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld;",
      (long long)proc, (long long)proc, (long long)proc, (long long)o->alloc + 1, (long long)n->alloc, (long long)o->stack + 1,
      (long long)n->stack, (long long)o->frame + 1, (long long)n->frame, (long long)o->module + 1,
      (long long)n->module, (long long)o->marker + 1, (long long)n->marker);
#undef M
  if (!bad) bad = !sql || xexec(db, out, sql, err);
  sqlite3_free(sql);
  if (!bad) bad = xexec(db, out, "COMMIT", err);
  if (!bad) bad = xexec(db, out, "DROP VIEW temp.pm", err);
  if (bad) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  for (size_t i = 0; i < sizeof agg_tables / sizeof agg_tables[0]; i++) {
    sql = sqlite3_mprintf("DROP TABLE IF EXISTS temp.\"%w\"", agg_tables[i]);
    bad = !sql || xexec(db, out, sql, err);
    sqlite3_free(sql);
    if (bad) return -1;
  }
  return 0;
}
typedef struct RunProg {
  LrImportProgressFn fn;
  void *ctx;
  uint32_t process, processes;
} RunProg;

static int run_progress(void *ctx, const LrImportProgress *p) {
  const RunProg *r = ctx;
  LrImportProgress q = *p;
  q.process = r->process;
  q.processes = r->processes;
  return r->fn(r->ctx, &q);
}

/* Puts tmp at out without ever replacing out. */
static int place(const char *tmp, const char *out, LrErr *err) {
#ifdef RENAME_NOREPLACE
  if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_NOREPLACE) == 0) return 0;
  if (errno == EEXIST) return lr_err_set(err, "%s: already exists, not overwriting it", out);
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP && errno != EPERM)
    return lr_err_set(err, "%s: %s", out, strerror(errno));
#endif
  /* filesystems without renameat2: link() fails if out exists */
  if (link(tmp, out) != 0) {
    if (errno == EEXIST) return lr_err_set(err, "%s: already exists, not overwriting it", out);
    return lr_err_set(err, "%s: %s", out, strerror(errno));
  }
  unlink(tmp);
  return 0;
}

/* A new empty hidden file beside out: ".NAME.<what>-XXXXXX" (malloc'd). */
static char *beside(const char *out, const char *what, LrErr *err) {
  size_t n = strlen(out) + strlen(what) + 16;
  char *tmp = malloc(n);
  if (!tmp) {
    lr_err_set(err, "%s: out of memory", out);
    return NULL;
  }
  const char *slash = strrchr(out, '/');
  size_t dirlen = slash ? (size_t)(slash - out) + 1 : 0;
  snprintf(tmp, n, "%.*s.%s.%s-XXXXXX", (int)dirlen, out, out + dirlen, what);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    lr_err_set(err, "%s: cannot create a file beside it: %s", out, strerror(errno));
    free(tmp);
    return NULL;
  }
  close(fd);
  return tmp;
}

/* The run-level part: parents, start/end times relative to the run,
** meta, indexes. */
static int finish(sqlite3 *db, const char *out, const char *indexes, size_t n, LrErr *err) {
  char *sql = sqlite3_mprintf(
      "UPDATE processes SET start_ns = start_realtime_ns - (SELECT min(start_realtime_ns) FROM "
      "processes);"
      "UPDATE processes SET end_ns = end_ns + start_ns;"
      "UPDATE processes SET parent_id = CASE WHEN exec_index > 0 THEN (SELECT q.id FROM "
      "processes q WHERE q.pid = processes.pid AND q.exec_index = processes.exec_index - 1 "
      "ORDER BY q.start_realtime_ns DESC LIMIT 1) ELSE (SELECT q.id FROM processes q WHERE "
      "q.pid = processes.ppid AND q.id <> processes.id AND q.start_realtime_ns <= "
      "processes.start_realtime_ns ORDER BY q.exec_index DESC LIMIT 1) END;"
      "INSERT INTO meta(key, value) VALUES('format', 'lowram-trace'), ('schema_version', %d), "
      "('lowram_version', '%q'), ('processes', %lld), ('default_process', (SELECT id FROM "
      "processes ORDER BY peak DESC, id LIMIT 1));"
      /* the default process's keys too, so plain SQL on meta describes the
      ** process lowram shows first (and a one-process trace reads as v1) */
      "INSERT INTO meta(key, value) SELECT key, value FROM process_meta WHERE process_id = "
      "(SELECT value FROM meta WHERE key = 'default_process');"
      "%s"
      "ANALYZE main.processes;"
      "INSERT INTO meta(key, value) VALUES('complete', 1);",
      LR_SCHEMA_VERSION, LOWRAM_VERSION, (long long)n, indexes ? indexes : "");
  int rc = sql ? xexec(db, out, sql, err) : lr_err_set(err, "%s: out of memory", out);
  sqlite3_free(sql);
  return rc;
}

/* The CREATE INDEX statements of the schema, dropped for the load, to be
** run at the end (allocations has none: its blocks carry their ranges,
** store/blockstore.h). */
static char *drop_indexes(sqlite3 *db, const char *out, LrErr *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                             "sql IS NOT NULL", -1, &st, NULL) != SQLITE_OK) {
    lr_err_set(err, "%s: %s", out, sqlite3_errmsg(db));
    return NULL;
  }
  char *create = sqlite3_mprintf("%s", ""), *drop = sqlite3_mprintf("%s", "");
  while (create && drop && sqlite3_step(st) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    const char *isql = (const char *)sqlite3_column_text(st, 1);
    int now = 0;
    char *a = now ? sqlite3_mprintf("%s", create) : sqlite3_mprintf("%s%s;\n", create, isql);
    char *b = now ? sqlite3_mprintf("%sDROP INDEX \"%w\";\n%s;\n", drop, name, isql)
                  : sqlite3_mprintf("%sDROP INDEX \"%w\";\n", drop, name);
    sqlite3_free(create);
    sqlite3_free(drop);
    create = a;
    drop = b;
  }
  sqlite3_finalize(st);
  if (!create || !drop || xexec(db, out, drop, err)) {
    sqlite3_free(create);
    create = NULL;
  }
  sqlite3_free(drop);
  return create;
}

int lr_import_run(const LrRunSpool *spools, size_t n, const char *out_path,
                  const LrImportOpts *opts, LrImportStats *stats, LrErr *err) {
  struct stat sb;
  if (stats) memset(stats, 0, sizeof *stats);
  if (lstat(out_path, &sb) == 0)
    return lr_err_set(err, "%s: already exists, not overwriting it", out_path);
  if (n == 0) return lr_err_set(err, "%s: no spool to import", out_path);
  char *tmp = beside(out_path, "import", err);
  if (!tmp) return -1;
  sqlite3 *db = NULL;
  int rc = -1;
  char *indexes = NULL;
  if (lr_allocvt_open(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, &db) != SQLITE_OK) {
    lr_err_set(err, "%s: cannot open: %s", tmp, db ? sqlite3_errmsg(db) : "?");
    goto out;
  }
  if (xexec(db, out_path, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                          "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-65536;", err) ||
      xexec(db, out_path, lr_schema_sql, err) || !(indexes = drop_indexes(db, out_path, err)))
    goto out;
  LrIdOff o = {0, 0, 0, 0, 0};
  double agg_seconds = 0;
  for (size_t i = 0; i < n; i++) {
    LrImportOpts so = opts ? *opts : (LrImportOpts){0};
    so.killed_by = spools[i].killed_by;
    RunProg rp = {so.progress, so.progress_ctx, (uint32_t)i + 1, (uint32_t)n};
    if (so.progress) {
      so.progress = run_progress;
      so.progress_ctx = &rp;
    }
    LrImportStats s;
    LrIdOff last;
    LrAggSort *sorted = lr_aggsort_new(LR_AGGSORT_WINDOW);
    int bad = lr_stage_import(db, (int64_t)i + 1, &o, &last, spools[i].path, out_path, &so, &s,
                              sorted, err) ||
              finish_process(db, out_path, (int64_t)i + 1, &o, &last, sorted, &agg_seconds, err);
    lr_aggsort_free(sorted);
    if (bad) goto out;
    o = last;
    if (stats) {
      if (i == 0) {
        *stats = s;
      } else {
        stats->events += s.events;
        stats->records += s.records;
        stats->stacks += s.stacks;
        stats->frames += s.frames;
        stats->modules += s.modules;
        stats->allocations += s.allocations;
        stats->chunks += s.chunks;
        stats->chunks_corrupt += s.chunks_corrupt;
        stats->chunks_truncated += s.chunks_truncated;
        stats->unmatched_frees += s.unmatched_frees;
      }
    }
  }
  if (stats) stats->agg_seconds = agg_seconds;
  if (xexec(db, out_path, "BEGIN", err)) goto out;
  if (!opts || !opts->no_symbolize) {
    LrSymStats ss;
    LrErr e2;
    /* names are a bonus: a failure here leaves frames unnamed, not the import failed */
    if (lr_sym_trace(db, out_path, opts ? opts->symbols_dir : NULL, 1, &ss, &e2) != 0) {
      char *q = sqlite3_mprintf("INSERT OR REPLACE INTO process_meta(process_id, key, value) "
                                "SELECT id, 'symbolize_error', %Q FROM processes", e2.msg);
      int bad = !q || xexec(db, out_path, q, err);
      sqlite3_free(q);
      if (bad) goto out;
    } else if (stats) {
      stats->frames_named = ss.frames_named;
    }
  }
  if (finish(db, out_path, indexes, n, err) ||
      xexec(db, out_path, "COMMIT", err))
    goto out;
  rc = 0;
out:
  sqlite3_free(indexes);
  if (db && sqlite3_close(db) != SQLITE_OK && rc == 0)
    rc = lr_err_set(err, "%s: cannot close", tmp);
  if (rc == 0) {
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      fsync(fd);
      close(fd);
    }
    rc = place(tmp, out_path, err);
  }
  if (rc != 0) unlink(tmp);
  free(tmp);
  return rc;
}

int lr_import(const char *spool_path, const char *out_path, const LrImportOpts *opts,
              LrImportStats *stats, LrErr *err) {
  LrRunSpool one;
  memset(&one, 0, sizeof one);
  if (snprintf(one.path, sizeof one.path, "%s", spool_path) >= (int)sizeof one.path)
    return lr_err_set(err, "%s: path too long", spool_path);
  one.killed_by = opts ? opts->killed_by : 0;
  return lr_import_run(&one, 1, out_path, opts, stats, err);
}

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int run_cmp(const void *a, const void *b) {
  const LrRunSpool *x = a, *y = b;
  if (x->start_realtime_ns != y->start_realtime_ns)
    return x->start_realtime_ns < y->start_realtime_ns ? -1 : 1;
  if (x->exec_index != y->exec_index) return x->exec_index < y->exec_index ? -1 : 1;
  return x->pid < y->pid ? -1 : x->pid > y->pid;
}

long lr_import_find_run(const char *dir, const char *prefix, uint64_t root_pid,
                        uint64_t adopter, uint64_t since_ns, LrRunSpool **out, LrErr *err) {
  size_t n = 0, cap = 0;
  LrRunSpool *all = NULL;
  unsigned char *taken = NULL;
  *out = NULL;
  DIR *d = opendir(dir);
  if (!d) return lr_err_set(err, "%s: %s", dir, strerror(errno));
  struct dirent *e;
  size_t pl = strlen(prefix), sl = strlen(LR_SPOOL_SUFFIX);
  uint64_t floor_ns = since_ns > 1000000000u ? since_ns - 1000000000u : 0;
  while ((e = readdir(d))) {
    size_t el = strlen(e->d_name);
    if (el <= sl || strncmp(e->d_name, prefix, pl) ||
        strcmp(e->d_name + el - sl, LR_SPOOL_SUFFIX))
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      LrRunSpool *na = realloc(all, cap * sizeof *na);
      unsigned char *nt = realloc(taken, cap);
      if (!na || !nt) {
        free(na ? na : all);
        free(nt ? nt : taken);
        closedir(d);
        return lr_err_set(err, "%s: out of memory", dir);
      }
      all = na;
      taken = nt;
    }
    LrRunSpool *f = &all[n];
    memset(f, 0, sizeof *f);
    if (snprintf(f->path, sizeof f->path, "%s/%s", dir, e->d_name) >= (int)sizeof f->path)
      continue;
    LrSpool *sp = lr_spool_open(f->path, NULL);
    if (!sp) continue;
    const LrSpoolHeader *h = lr_spool_header(sp);
    f->pid = h->pid;
    f->ppid = h->ppid;
    f->exec_index = h->exec_index;
    f->start_realtime_ns = h->start_realtime_ns;
    lr_spool_close(sp);
    if (f->start_realtime_ns < floor_ns) continue; /* an earlier run's */
    /* ppid == adopter: an orphan that started after its parent died */
    taken[n] = f->pid == root_pid || (adopter && f->ppid == adopter);
    n++;
  }
  closedir(d);
  /* close the family: a spool whose parent is in it is in it */
  uint64_t *pids = malloc((n + 1) * sizeof *pids);
  if (!pids) {
    free(all);
    free(taken);
    return lr_err_set(err, "%s: out of memory", dir);
  }
  for (int more = 1; more;) {
    more = 0;
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
      if (taken[i]) pids[np++] = all[i].pid;
    qsort(pids, np, sizeof *pids, u64_cmp);
    for (size_t i = 0; i < n; i++)
      if (!taken[i] && bsearch(&all[i].ppid, pids, np, sizeof *pids, u64_cmp))
        taken[i] = 1, more = 1;
  }
  free(pids);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (taken[i]) all[k++] = all[i];
  free(taken);
  if (k) qsort(all, k, sizeof *all, run_cmp);
  *out = all;
  return (long)k;
}

long lr_import_gather(const char *spool_path, LrRunSpool **out, LrErr *err) {
  *out = NULL;
  LrSpool *sp = lr_spool_open(spool_path, err);
  if (!sp) return -1;
  uint64_t pid = lr_spool_header(sp)->pid, start = lr_spool_header(sp)->start_realtime_ns;
  lr_spool_close(sp);
  char dir[4096], prefix[4096];
  const char *slash = strrchr(spool_path, '/');
  if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - spool_path), spool_path);
  else snprintf(dir, sizeof dir, ".");
  if (!dir[0]) snprintf(dir, sizeof dir, "/");
  const char *name = slash ? slash + 1 : spool_path;
  /* run.db.spool -> "run.": forks are run.PID.db.spool, images run.PID.N.db.spool */
  size_t nl = strlen(name), sl = strlen(".db" LR_SPOOL_SUFFIX);
  if (nl > sl && !strcmp(name + nl - sl, ".db" LR_SPOOL_SUFFIX)) nl -= sl;
  else if (nl > strlen(LR_SPOOL_SUFFIX) && !strcmp(name + nl - strlen(LR_SPOOL_SUFFIX),
                                                    LR_SPOOL_SUFFIX))
    nl -= strlen(LR_SPOOL_SUFFIX);
  snprintf(prefix, sizeof prefix, "%.*s.", (int)nl, name);
  LrRunSpool *all = NULL;
  long n = lr_import_find_run(dir, prefix, pid, 0, start, &all, err);
  if (n < 0) return -1;
  /* the spool given first (it may not be the oldest of the run's) */
  char real[PATH_MAX], other[PATH_MAX];
  long at = -1;
  if (realpath(spool_path, real))
    for (long i = 0; i < n && at < 0; i++)
      if (realpath(all[i].path, other) && !strcmp(real, other)) at = i;
  if (at < 0) { /* not found by name (an unusual name): just that spool */
    LrRunSpool *one = realloc(all, sizeof *one * (size_t)(n + 1));
    if (!one) {
      free(all);
      return lr_err_set(err, "%s: out of memory", spool_path);
    }
    all = one;
    memmove(all + 1, all, sizeof *all * (size_t)n);
    memset(all, 0, sizeof *all);
    snprintf(all[0].path, sizeof all[0].path, "%s", spool_path);
    all[0].pid = pid;
    all[0].start_realtime_ns = start;
    n++;
  } else if (at > 0) {
    LrRunSpool first = all[at];
    memmove(all + 1, all, sizeof *all * (size_t)at);
    all[0] = first;
  }
  *out = all;
  return n;
}
