/*
** ext.c: the entry point of lowram_sqlite.so, the loadable extension that
** registers the `allocations` virtual table (allocvt.h) on a connection:
**   sqlite3 trace.db -cmd '.load /usr/lib/x86_64-linux-gnu/lowram/lowram_sqlite'
**   conn.enable_load_extension(True); conn.load_extension(path)   (Python)
** `lowram sql TRACE` does the first for you.
*/
#include "store/allocvt.h"

SQLITE_EXTENSION_INIT1

/* The name SQLite derives from the file name lowram_sqlite.so. */
int sqlite3_lowramsqlite_init(sqlite3 *db, char **err, const sqlite3_api_routines *api);

int sqlite3_lowramsqlite_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  (void)err;
  SQLITE_EXTENSION_INIT2(api);
  return lr_allocvt_register(db);
}
