/*
** blockstore.h: writing allocations rows into a trace's alloc_blocks
** table (schema v3; the rows are read back through the `allocations`
** virtual table, allocvt.h).
**
** alloc_blocks holds one SQLite row per block of up to LR_BC_MAX_ROWS
** allocations rows of one process (blockcodec.h), with the block's ranges
** beside the bytes so that a query skips every block that cannot match:
** the ranges of id, alloc_seq and free_seq, and how many rows are still
** live (free_seq NULL).
**
** The writer groups rows by their lifetime's order of magnitude (level L:
** fewer than 16^(L+1) seqs; the last level: longer, or never freed). Rows
** come in the order lifetimes end, so within a level a block's alloc_seq
** range is narrow too, and the blocks live at a given seq are those of a
** few blocks per level: "what was live at the peak" reads a few blocks,
** not the trace (the hidden column live_at, allocvt.h).
*/
#ifndef LR_BLOCKSTORE_H
#define LR_BLOCKSTORE_H

#include <stdint.h>

#include "store/blockcodec.h"
#include "store/sqlite_api.h"

#define LR_BS_LEVELS 8

/* The table (schema `schema`: "main", "temp", ...). */
#define LR_BS_TABLE_SQL                                                                            \
  "CREATE TABLE IF NOT EXISTS \"%w\".alloc_blocks(id INTEGER PRIMARY KEY, process_id "             \
  "INTEGER NOT NULL, lvl INTEGER NOT NULL, n INTEGER NOT NULL, id_min INTEGER, id_max "            \
  "INTEGER, alloc_min INTEGER, alloc_max INTEGER, free_min INTEGER, free_max INTEGER, "            \
  "nlive INTEGER NOT NULL, data BLOB NOT NULL)"

/* The level of a lifetime (free_null: never freed). */
int lr_bs_level(int64_t alloc_seq, int free_null, int64_t free_seq);

/* Prepares the INSERT of one block into `schema`.alloc_blocks. */
int lr_bs_prepare_insert(sqlite3 *db, const char *schema, sqlite3_stmt **st);

/* Writes rows[0..n) (1 <= n <= LR_BC_MAX_ROWS) as one block through the
** statement of lr_bs_prepare_insert: 0, -1 on a SQLite error
** (sqlite3_errmsg says why) or out of memory (*oom set). */
int lr_bs_write_block(sqlite3_stmt *ins, LrBcEnc *enc, int64_t proc, int lvl, const LrBcRow *rows,
                      int n, int *oom);

/* A buffering writer for the rows of one process (the importer's). */
typedef struct LrBsWriter LrBsWriter;

/* NULL when the statement cannot be prepared (sqlite3_errmsg(db)) or
** memory runs out (*oom set). */
LrBsWriter *lr_bs_writer_new(sqlite3 *db, const char *schema, int64_t proc, int *oom);

/* Keeps a copy of row (strings included), writing its level's block when
** full. 0, or -1 as for lr_bs_write_block. */
int lr_bs_put(LrBsWriter *w, const LrBcRow *row, int *oom);

/* Writes every block still kept. */
int lr_bs_flush(LrBsWriter *w, int *oom);

void lr_bs_writer_free(LrBsWriter *w);

#endif
