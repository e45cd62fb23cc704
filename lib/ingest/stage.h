/*
** stage.h: one spool into one stage file (import.c), the first half of an
** import; merge.c copies stage files into the run's trace (import.h).
**
** A stage file has the v1 layout (stage_sql.c: no process columns): the
** importer, the symbolizer and the aggregate builder work on it exactly as
** they did on a one-process trace, and merge.c adds the process column and
** shifts the ids while copying.
*/
#ifndef LR_STAGE_H
#define LR_STAGE_H

#include "lowram/import.h"

extern const char lr_stage_schema_sql[];

/* Imports spool_path into the empty file `stage` (created by the caller)
** with aggregates built; out_path only names the trace in messages. The
** caller removes `stage`. 0, or -1 with *err set. */
int lr_stage_import(const char *spool_path, const char *stage, const char *out_path,
                    const LrImportOpts *opts, LrImportStats *stats, LrErr *err);

#endif
