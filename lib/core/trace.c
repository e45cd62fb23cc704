/*
** trace.c: see trace.h. Opens a trace file read-only and checks it is one
** this lowram reads before anyone queries it. Turning a spool into a trace
** is ingest's job (lr_import_open in import.h), so this module depends on
** nothing above it.
*/
#include "lowram/trace.h"

#include <assert.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/trace_internal.h"
#include "store/allocvt.h"

/* First bytes of the file: 0 on success, with *n the count read. */
static int sniff(const char *path, char *buf, size_t len, size_t *n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t r = read(fd, buf, len);
  close(fd);
  if (r < 0) return -1;
  *n = (size_t)r;
  return 0;
}

static LrTrace *open_db(const char *path, LrErr *err) {
  char head[16];
  size_t n = 0;
  struct stat st;
  if (stat(path, &st) != 0) {
    lr_err_set(err, "%s: %s", path, strerror(errno));
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    lr_err_set(err, "%s: not a regular file", path);
    return NULL;
  }
  if (sniff(path, head, sizeof head, &n) != 0) {
    lr_err_set(err, "%s: %s", path, strerror(errno));
    return NULL;
  }
  if (n < 16 || memcmp(head, "SQLite format 3", 16)) {
    lr_err_set(err, "%s: not a SQLite file", path);
    return NULL;
  }
  LrTrace *t = calloc(1, sizeof *t);
  if (!t || !(t->path = strdup(path))) {
    free(t);
    lr_err_set(err, "%s: out of memory", path);
    return NULL;
  }
  t->owns_db = 1;
  if (lr_allocvt_open(path, SQLITE_OPEN_READONLY, &t->db) != SQLITE_OK) {
    lr_err_set(err, "%s: cannot open: %s", path, t->db ? sqlite3_errmsg(t->db) : "?");
    lr_trace_close(t);
    return NULL;
  }
  sqlite3_busy_timeout(t->db, 2000);
  char fmt[32];
  if (lr_trace_meta_text(t, "format", fmt, sizeof fmt) != 0 || strcmp(fmt, "lowram-trace")) {
    lr_err_set(err, "%s: not a lowram trace", path);
    lr_trace_close(t);
    return NULL;
  }
  sqlite3_stmt *q = NULL;
  int64_t ver = -1;
  if (sqlite3_prepare_v2(t->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW)
    ver = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  if (ver == 1) {
    lr_err_set(err, "%s: v1 trace: re-import its spool with this lowram, or use lowram <= 0.1",
               path);
    lr_trace_close(t);
    return NULL;
  }
  if (ver != LR_SCHEMA_VERSION && ver != 2) { /* v2: a plain allocations table, same SQL */
    lr_err_set(err, "%s: trace schema version %lld, this lowram reads 2 and %d", path,
               (long long)ver, LR_SCHEMA_VERSION);
    lr_trace_close(t);
    return NULL;
  }
  int64_t c = 0;
  t->complete = lr_trace_meta_int(t, "complete", &c) == 0 && c == 1;
  if (lr_trace_select_process(t, 0, err) != 0) {
    lr_trace_close(t);
    return NULL;
  }
  return t;
}

LrTrace *lr_trace_open(const char *path, LrErr *err) {
  LrTrace *t = open_db(path, err);
  assert(!t || lr_trace_check(t));
  return t;
}

LrTrace *lr_trace_wrap(sqlite3 *db, const char *path) {
  LrTrace *t = calloc(1, sizeof *t);
  if (!t || !(t->path = strdup(path ? path : "(trace)"))) {
    free(t);
    return NULL;
  }
  t->db = db;
  t->process = 1;
  int64_t c = 0;
  t->complete = lr_trace_meta_int(t, "complete", &c) == 0 && c == 1;
  return t;
}

int lr_trace_check(const LrTrace *t) {
  return t && t->db && t->path && (t->complete == 0 || t->complete == 1) &&
         (t->owns_db == 0 || t->owns_db == 1) && (t->agg_ready == 0 || t->agg_ready == 1);
}

void lr_trace_close(LrTrace *t) {
  if (!t) return;
  if (t->owns_db) sqlite3_close(t->db);
  free(t->path);
  free(t);
}

sqlite3 *lr_trace_db(LrTrace *t) { return t->db; }
const char *lr_trace_path(const LrTrace *t) { return t->path; }
int lr_trace_complete(const LrTrace *t) { return t->complete; }

static sqlite3_stmt *meta_row(LrTrace *t, const char *key) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(t->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
      SQLITE_OK)
    return NULL;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL) {
    sqlite3_finalize(st);
    return NULL;
  }
  return st;
}

int lr_trace_meta_int(LrTrace *t, const char *key, int64_t *out) {
  sqlite3_stmt *st = meta_row(t, key);
  if (!st) return -1;
  *out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return 0;
}

int lr_trace_meta_text(LrTrace *t, const char *key, char *buf, size_t len) {
  sqlite3_stmt *st = meta_row(t, key);
  if (!st) return -1;
  const unsigned char *v = sqlite3_column_text(st, 0);
  snprintf(buf, len, "%s", v ? (const char *)v : "");
  sqlite3_finalize(st);
  return 0;
}

/* ---- processes: one selected at a time, through TEMP VIEWs ---- */

static int xexec(LrTrace *t, const char *sql, LrErr *err) {
  char *msg = NULL;
  if (sqlite3_exec(t->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    lr_err_set(err, "%s: selecting a process: %s", t->path, msg ? msg : "?");
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

/* 1 when main.tab has a column named col. */
static int has_column(LrTrace *t, const char *tab, const char *col) {
  char *q = sqlite3_mprintf("SELECT count(*) FROM pragma_table_info(%Q, 'main') WHERE name = %Q",
                            tab, col);
  sqlite3_stmt *st;
  int yes = 0;
  if (q && sqlite3_prepare_v2(t->db, q, -1, &st, NULL) == SQLITE_OK) {
    yes = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
  }
  sqlite3_free(q);
  return yes;
}

static int64_t q_int(LrTrace *t, const char *sql, int64_t id, int64_t dflt) {
  sqlite3_stmt *st;
  int64_t v = dflt;
  if (sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
      v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  return v;
}

/* Drops every temp object: the views of the previous selection and any
** aggregates lr_agg_ensure built in temp for it. */
static int drop_temp(LrTrace *t, LrErr *err) {
  sqlite3_stmt *st;
  char *sql = sqlite3_mprintf("%s", "");
  if (sqlite3_prepare_v2(t->db, "SELECT type, name FROM temp.sqlite_master WHERE type IN "
                                "('view', 'table')", -1, &st, NULL) != SQLITE_OK) {
    sqlite3_free(sql);
    return lr_err_set(err, "%s: %s", t->path, sqlite3_errmsg(t->db));
  }
  while (sql && sqlite3_step(st) == SQLITE_ROW) {
    char *n = sqlite3_mprintf("%sDROP %s temp.\"%w\";", sql,
                              !strcmp((const char *)sqlite3_column_text(st, 0), "view") ? "VIEW"
                                                                                         : "TABLE",
                              (const char *)sqlite3_column_text(st, 1));
    sqlite3_free(sql);
    sql = n;
  }
  sqlite3_finalize(st);
  int rc = sql ? xexec(t, sql, err) : lr_err_set(err, "%s: out of memory", t->path);
  sqlite3_free(sql);
  t->agg_ready = 0;
  return rc;
}

/* Appends to *sql the CREATE TEMP VIEW of main.tab filtered by `where`,
** with every column but process_id when `drop_pid`. v3's allocations
** keeps its hidden live_at, which `*` leaves out (store/allocvt.h). */
static int add_view(LrTrace *t, char **sql, const char *tab, const char *where, int drop_pid) {
  char *cols = NULL;
  if (!drop_pid && !strcmp(tab, "allocations") &&
      q_int(t, "SELECT count(*) FROM pragma_table_xinfo('allocations', 'main') WHERE name = "
               "'live_at' AND ?1 = ?1", 0, 0) > 0 &&
      !(cols = sqlite3_mprintf("*, live_at")))
    return -1;
  if (drop_pid) {
    char *q = sqlite3_mprintf("SELECT group_concat('\"' || replace(name, '\"', '\"\"') || "
                              "'\"', ', ') FROM pragma_table_info(%Q, 'main') WHERE name <> "
                              "'process_id'", tab);
    sqlite3_stmt *st;
    if (q && sqlite3_prepare_v2(t->db, q, -1, &st, NULL) == SQLITE_OK) {
      if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        cols = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
      sqlite3_finalize(st);
    }
    sqlite3_free(q);
    if (!cols) return -1;
  }
  char *n = sqlite3_mprintf("%sCREATE TEMP VIEW \"%w\" AS SELECT %s FROM main.\"%w\" WHERE %s;\n",
                            *sql, tab, cols ? cols : "*", tab, where);
  sqlite3_free(cols);
  sqlite3_free(*sql);
  *sql = n;
  return n ? 0 : -1;
}

int lr_trace_select_process(LrTrace *t, int64_t id, LrErr *err) {
  int64_t n = has_column(t, "processes", "id")
                  ? q_int(t, "SELECT count(*) FROM main.processes", 0, 0) : 0;
  if (id == 0 && n > 0) {
    id = q_int(t, "SELECT value FROM main.meta WHERE key = 'default_process'", 0, 0);
    if (q_int(t, "SELECT count(*) FROM main.processes WHERE id = ?1", id, 0) == 0)
      id = q_int(t, "SELECT id FROM main.processes ORDER BY peak DESC, id LIMIT 1", 0, 1);
  }
  if (id == 0) id = 1;
  if (n > 0 ? q_int(t, "SELECT count(*) FROM main.processes WHERE id = ?1", id, 0) == 0
            : id != 1)
    return lr_err_set(err, "%s: no process %lld (the trace has %lld)", t->path, (long long)id,
                      (long long)(n > 0 ? n : 1));
  if (drop_temp(t, err)) return -1;
  t->process = id;
  if (!has_column(t, "allocations", "process_id")) return 0; /* nothing to filter */
  char *sql = sqlite3_mprintf("%s", "");
  char where[128];
  snprintf(where, sizeof where, "process_id = %lld", (long long)id);
  static const char *const per_process[] = {"allocations", "threads", "rss_samples", "markers",
                                            "params"};
  int bad = !sql;
  for (size_t i = 0; !bad && i < sizeof per_process / sizeof per_process[0]; i++)
    bad = add_view(t, &sql, per_process[i], where, 0);
  if (!bad && n > 0) {
    /* id-keyed tables: the process's range of ids */
    static const struct { const char *tab, *col, *range; } ranged[] = {
      {"stacks", "id", "stack"}, {"stack_entries", "stack_id", "stack"},
      {"frames", "id", "frame"}, {"modules", "id", "module"},
    };
    for (size_t i = 0; !bad && i < sizeof ranged / sizeof ranged[0]; i++) {
      char q[160], w[200];
      snprintf(q, sizeof q, "SELECT %s_first FROM main.processes WHERE id = ?1", ranged[i].range);
      int64_t a = q_int(t, q, id, 1);
      snprintf(q, sizeof q, "SELECT %s_last FROM main.processes WHERE id = ?1", ranged[i].range);
      int64_t b = q_int(t, q, id, 0);
      snprintf(w, sizeof w, "%s BETWEEN %lld AND %lld", ranged[i].col, (long long)a, (long long)b);
      bad = add_view(t, &sql, ranged[i].tab, w, 0);
    }
    if (!bad) {
      char *m = sqlite3_mprintf("%sCREATE TEMP VIEW meta AS SELECT key, value FROM "
                                "main.process_meta WHERE process_id = %lld UNION ALL "
                                "SELECT key, value FROM main.meta WHERE key NOT IN (SELECT key "
                                "FROM main.process_meta WHERE process_id = %lld);\n",
                                sql, (long long)id, (long long)id);
      sqlite3_free(sql);
      sql = m;
      bad = !sql;
    }
  }
  /* the aggregates stored per process, and the schema's views again in temp
  ** (a view in main reads main's tables, not the temp views) */
  sqlite3_stmt *st;
  if (!bad && sqlite3_prepare_v2(t->db, "SELECT type, name, sql FROM main.sqlite_master WHERE "
                                        "(type = 'table' AND name LIKE 'agg\\_%' ESCAPE '\\') "
                                        "OR type = 'view' ORDER BY rowid",
                                 -1, &st, NULL) == SQLITE_OK) {
    while (!bad && sqlite3_step(st) == SQLITE_ROW) {
      const char *type = (const char *)sqlite3_column_text(st, 0);
      const char *name = (const char *)sqlite3_column_text(st, 1);
      const char *def = (const char *)sqlite3_column_text(st, 2);
      if (!strcmp(type, "table")) {
        if (has_column(t, name, "process_id")) bad = add_view(t, &sql, name, where, 1);
      } else if (def && !strncmp(def, "CREATE VIEW ", 12)) {
        char *v = sqlite3_mprintf("%sCREATE TEMP VIEW %s;\n", sql, def + 12);
        sqlite3_free(sql);
        sql = v;
        bad = !sql;
      }
    }
    sqlite3_finalize(st);
  }
  if (bad) {
    sqlite3_free(sql);
    return lr_err_set(err, "%s: selecting process %lld: %s", t->path, (long long)id,
                      sqlite3_errmsg(t->db));
  }
  int rc = xexec(t, sql, err);
  sqlite3_free(sql);
  return rc;
}

int lr_trace_select_pid(LrTrace *t, int64_t pid, LrErr *err) {
  int64_t id = has_column(t, "processes", "id")
                   ? q_int(t, "SELECT id FROM main.processes WHERE pid = ?1 ORDER BY peak DESC, "
                              "id LIMIT 1", pid, 0)
                   : 0;
  if (id == 0) {
    int64_t own = -1;
    if (!has_column(t, "processes", "id") && lr_trace_meta_int(t, "pid", &own) == 0 && own == pid)
      return lr_trace_select_process(t, 1, err);
    return lr_err_set(err, "%s: no process with pid %lld in this trace", t->path, (long long)pid);
  }
  return lr_trace_select_process(t, id, err);
}

int64_t lr_trace_process(const LrTrace *t) { return t->process; }

int lr_trace_processes(LrTrace *t, LrProcess **out, size_t *n, LrErr *err) {
  *out = NULL;
  *n = 0;
  if (!has_column(t, "processes", "id")) return 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(t->db, "SELECT id, pid, ppid, exec_index, coalesce(parent_id, 0), argv, "
                                "start_ns, coalesce(end_ns, -1), end_reason, end_code, peak, "
                                "peak_heap, peak_rss, events FROM main.processes ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return lr_err_set(err, "%s: processes: %s", t->path, sqlite3_errmsg(t->db));
  size_t cap = 0;
  int rc = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      LrProcess *np = realloc(*out, cap * sizeof *np);
      if (!np) {
        rc = lr_err_set(err, "%s: out of memory", t->path);
        break;
      }
      *out = np;
    }
    LrProcess *p = &(*out)[(*n)++];
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    p->pid = sqlite3_column_int64(st, 1);
    p->ppid = sqlite3_column_int64(st, 2);
    p->exec_index = sqlite3_column_int64(st, 3);
    p->parent_id = sqlite3_column_int64(st, 4);
    snprintf(p->argv, sizeof p->argv, "%s",
             sqlite3_column_text(st, 5) ? (const char *)sqlite3_column_text(st, 5) : "[]");
    p->start_ns = sqlite3_column_int64(st, 6);
    p->end_ns = sqlite3_column_int64(st, 7);
    snprintf(p->end_reason, sizeof p->end_reason, "%s",
             sqlite3_column_text(st, 8) ? (const char *)sqlite3_column_text(st, 8) : "");
    p->end_code = sqlite3_column_type(st, 9) == SQLITE_NULL ? INT64_MIN
                                                            : sqlite3_column_int64(st, 9);
    p->peak = sqlite3_column_int64(st, 10);
    p->peak_heap = sqlite3_column_int64(st, 11);
    p->peak_rss = sqlite3_column_int64(st, 12);
    p->events = sqlite3_column_int64(st, 13);
  }
  sqlite3_finalize(st);
  if (rc) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int lr_trace_views(sqlite3 *db, const char *path, int64_t id, LrErr *err) {
  LrTrace tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.db = db;
  tmp.path = (char *)(path ? path : "(trace)");
  return lr_trace_select_process(&tmp, id, err);
}
