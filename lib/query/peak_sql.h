/*
** peak_sql.h: the SQL pieces of peak.c that the other queries of lib/query
** (report, diff, export) build on. Internal: front ends never see SQL.
*/
#ifndef LR_PEAK_SQL_H
#define LR_PEAK_SQL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "lowram/peak.h"

/* A FROM-clause subquery "(...)" of the heap/anon blocks live at seq with
** size >= min_size, with columns id, size, stack_id (stack_id -1: none).
** Cost follows the number of live blocks near seq, not the trace: v3's
** allocations.live_at (store/allocvt.h); a v2 trace's agg_live levels. */
#define LR_PEAK_LIVE_SQL 2048
char *lr_peak_live_sql(sqlite3 *db, int64_t seq, int64_t min_size, char *buf, size_t len);

/* 1 if the trace's allocations table has the hidden column live_at (v3). */
int lr_peak_has_live_at(sqlite3 *db);

/* Groups the rows of an SQL query returning (stack_id, bytes, count), one
** row per stack (stack_id NULL or -1: no stack). For the other report
** sections (leaks, phases). */
int lr_peak_group_sql(sqlite3 *db, LrStacks *c, const char *sql, LrBy by, LrGroups *out,
                      LrErr *err);

#endif
