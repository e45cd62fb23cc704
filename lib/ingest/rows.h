/*
** rows.h: the allocations rows of an import, written to SQLite in batches.
**
** An import writes one row per block or mapping lifetime (lifetimes.h), a
** few million for a busy run. One INSERT per row spends most of its time in
** the statement machinery, not the B-tree, so the rows are kept and written
** LR_ROWS_BATCH at a time with one multi-row INSERT; the rows left over at
** the end go through a one-row INSERT. The table's contents are the same
** either way: every row keeps its id, values and NULLs.
*/
#ifndef LR_ROWS_H
#define LR_ROWS_H

#include <sqlite3.h>

#include "ingest/lifetimes.h"

typedef struct LrRows LrRows;

/* A writer into db's allocations table (main schema) for process `proc`:
** each row's id and stack_id shifted by alloc_off and stack_off. NULL if a statement
** cannot be prepared (sqlite3_errmsg(db) says why) or memory runs out
** (*oom set to 1). */
LrRows *lr_rows_new(sqlite3 *db, int64_t proc, int64_t alloc_off, int64_t stack_off, int *oom);

/* Keeps a copy of row (its strings included), writing the batch when full.
** 0, or -1 when writing failed (sqlite3_errmsg says why) or on out of
** memory (*oom set, as for lr_rows_new). */
int lr_rows_put(LrRows *w, const LrLifeRow *row, int *oom);

/* Writes every row still kept. 0 or -1 as for lr_rows_put. */
int lr_rows_flush(LrRows *w);

void lr_rows_free(LrRows *w);

#endif
