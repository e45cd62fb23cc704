/*
** allocvt.h: the `allocations` table of a v3 trace, a SQLite virtual table
** (module "lowram_allocations") over the blocks of alloc_blocks
** (blockstore.h). It has the columns of v2's plain table, in the same
** order, and one more, hidden: `live_at`. `WHERE live_at = S` keeps the
** rows live just after seq S (alloc_seq <= S and free_seq NULL or > S) and
** reads only the blocks that can hold one.
**
** Constraints on id (and rowid), alloc_seq, free_seq, size, stack_id,
** thread_id, process_id (=, <, <=, >, >=, IS NULL, IS NOT NULL) and on
** region and kind (=) are checked in C while a block is decoded, and the
** block ranges skip whole blocks; SQLite checks them again (the table
** only narrows what it returns). Rows come in storage order: ORDER BY
** what you need.
**
** Writes (INSERT, UPDATE, DELETE) work as on a plain table, for tests and
** tools that build traces by hand; the importer writes blocks directly.
** Inserted rows wait in memory until the transaction commits or the table
** is read, then go out as blocks.
**
** Every connection that reads a v3 trace registers the module first:
** lr_trace_open and the importer do; other programs load lowram_sqlite.so
** (`lowram sql`, schemas/README.md).
*/
#ifndef LR_ALLOCVT_H
#define LR_ALLOCVT_H

#include "store/sqlite_api.h"

/* Registers the module on db: SQLITE_OK or an SQLite error code. */
int lr_allocvt_register(sqlite3 *db);

/* sqlite3_open_v2(path, db, flags) with the module registered: every
** library call that opens a trace goes through here. SQLITE_OK or the
** error code (*db set, as sqlite3_open_v2 leaves it, for its message). */
int lr_allocvt_open(const char *path, int flags, sqlite3 **db);

/* Registers it on every connection this process opens from now on
** (sqlite3_auto_extension); for tests and tools that open traces with
** plain sqlite3_open. */
int lr_allocvt_register_all(void);

#endif
