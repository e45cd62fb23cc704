/*
** rows.h: the allocations rows of an import, written into the trace's
** block store (store/blockstore.h: alloc_blocks, read back through the
** `allocations` virtual table). The rows wait in blocks of their
** lifetime's level and go out as a block is full or at lr_rows_flush.
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
