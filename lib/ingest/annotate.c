/*
** annotate.c: facts from outside the process stored with its trace
** (import.h lr_import_annotate): what a phone said about itself and why
** its low-memory killer ended the run. They are written by the import
** command right after the trace is made, in one transaction, into `meta`
** (run-level keys), so the trace carries the verdict wherever it goes.
*/
#include "lowram/import.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include "store/allocvt.h"

/* Keys are words of letters, digits, '.', '_' and '-': they become
** meta.key values that the report looks up by name. */
static int key_ok(const char *k) {
  if (!*k || strlen(k) > 128) return 0;
  for (; *k; k++)
    if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
          *k == '.' || *k == '_' || *k == '-'))
      return 0;
  return 1;
}

int lr_import_meta_key_check(const char *where, const char *key, LrErr *err) {
  if (!key_ok(key))
    return lr_err_set(err, "%s: bad meta key '%.40s' (letters, digits, . _ - only)", where, key);
  static const char *const reserved[] = {"format", "complete", "schema_version",
                                         "process_id", "default_process", NULL};
  for (int r = 0; reserved[r]; r++)
    if (!strcmp(key, reserved[r]))
      return lr_err_set(err, "%s: meta key '%s' is the trace's own", where, reserved[r]);
  return 0;
}

int lr_import_annotate(const char *trace_path, const char *const *kv, size_t n, LrErr *err) {
  for (size_t i = 0; i < n; i++)
    if (lr_import_meta_key_check(trace_path, kv[2 * i], err)) return -1;
  sqlite3 *db = NULL;
  if (lr_allocvt_open(trace_path, SQLITE_OPEN_READWRITE, &db) != SQLITE_OK) {
    lr_err_set(err, "%s: cannot open: %s", trace_path, db ? sqlite3_errmsg(db) : "?");
    sqlite3_close(db);
    return -1;
  }
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1,
                            &st, NULL);
  for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
    sqlite3_bind_text(st, 1, kv[2 * i], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kv[2 * i + 1], -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    lr_err_set(err, "%s: cannot store meta: %s", trace_path, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
  sqlite3_close(db);
  return rc == SQLITE_OK ? 0 : -1;
}
