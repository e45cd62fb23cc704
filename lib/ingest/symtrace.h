/*
** symtrace.h: the importer's entry into the symbolizer (symbolize.h is the
** public side). Internal: it takes the importer's own connection.
*/
#ifndef LR_SYMTRACE_H
#define LR_SYMTRACE_H

#include <sqlite3.h>

#include "lowram/symbolize.h"

/* Names the frames of the trace open read-write in db (inside the caller's
** transaction). symbols_dir may be NULL; use_module_paths says whether step
** 3 of symbolize.h applies. Frames no file names are left as they were. 0
** on success, -1 on a database error. */
int lr_sym_trace(sqlite3 *db, const char *trace_path, const char *symbols_dir,
                 int use_module_paths, LrSymStats *st, LrErr *err);

#endif
