/*
** scan.h: every row of a trace's allocations blocks, in C: for the
** library's own whole-trace passes (predict/sitebytes.c), which SQL would
** make sort or group millions of rows through the virtual table (a GROUP
** BY stack over 5M rows: 3.2 s; the same pass here: ~0.1 s).
*/
#ifndef LR_STORE_SCAN_H
#define LR_STORE_SCAN_H

#include <stdint.h>

#include "store/blockcodec.h"
#include "store/sqlite_api.h"

/* Called once per block with its rows (the columns of `mask` at least). A
** non-zero return stops the scan and is returned. */
typedef int (*LrStoreBlockFn)(void *ctx, const LrBcCols *rows);

/* Decodes every block of main.alloc_blocks whose process_id is proc and
** hands it to fn. 0; -1 when a block is damaged, SQLite fails or memory
** runs out (*msg: what, sqlite3_mprintf'd, the caller frees); fn's
** non-zero return. */
int lr_store_scan(sqlite3 *db, int64_t proc, uint32_t mask, LrStoreBlockFn fn, void *ctx,
                  char **msg);

#endif
