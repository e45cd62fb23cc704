/*
** trace_internal.h: the trace handle as the library's own modules see it.
** Nothing outside lib/ includes this: the CLI and the TUI hold an opaque
** LrTrace * and reach the data through the public query calls.
**
** Invariants (checked by lr_trace_check in debug builds):
**   (1) db is an open connection and path a NUL-terminated string;
**   (2) complete is 0 or 1 and mirrors meta.complete when the handle opened;
**   (3) agg_ready is 1 only after aggregates were found or built on db.
*/
#ifndef LR_TRACE_INTERNAL_H
#define LR_TRACE_INTERNAL_H

#include <sqlite3.h>

#include "lowram/trace.h"

struct LrTrace {
  sqlite3 *db;
  char *path;
  int complete;
  int owns_db;   /* 0 for lr_trace_wrap handles: close leaves db open */
  int agg_ready; /* aggregates exist on db (main or temp schema) */
  int64_t process; /* the selected process (temp views over main: trace.c) */
};

/* The connection; owned by the trace. */
sqlite3 *lr_trace_db(LrTrace *t);

/* A handle over a connection the caller keeps owning (the importer's own
** read-write connection, white-box tests). lr_trace_close frees the handle
** and leaves db open. NULL when out of memory. */
LrTrace *lr_trace_wrap(sqlite3 *db, const char *path);

/* For modules that keep their own read-only connection to a trace file
** (predict/sitebytes.c): the TEMP VIEWs of lr_trace_select_process on db,
** so its unqualified SQL sees process `id` only (0: the default, the
** highest peak). 0, or -1 with *err. */
int lr_trace_views(sqlite3 *db, const char *path, int64_t id, LrErr *err);

/* 1 when the invariants above hold; used as assert(lr_trace_check(t)). */
int lr_trace_check(const LrTrace *t);

#endif
