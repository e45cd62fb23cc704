/*
** agg.h: aggregate tables built once, when a trace is completed, so that
** reports on traces of millions of events stay fast and do not hold the
** trace in memory. The importer calls lr_agg_build() on its read-write
** connection after the last row is in and before it sets meta.complete = 1;
** nothing else ever writes a trace.
*/
#ifndef LR_AGG_H
#define LR_AGG_H

#include <sqlite3.h>

#include "err.h"

/* Creates and fills the aggregate tables (idempotent: drops and rebuilds
** them). `trace_path` only names the file in error messages. */
int lr_agg_build(sqlite3 *db, const char *trace_path, LrErr *err);

#endif
