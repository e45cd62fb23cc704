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
  if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
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
  if (ver != LR_SCHEMA_VERSION) {
    lr_err_set(err, "%s: trace schema version %lld, this lowram reads %d", path,
               (long long)ver, LR_SCHEMA_VERSION);
    lr_trace_close(t);
    return NULL;
  }
  int64_t c = 0;
  t->complete = lr_trace_meta_int(t, "complete", &c) == 0 && c == 1;
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
