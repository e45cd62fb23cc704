/*
** stage.h: one spool into the run's trace (import.c), the first half of an
** import; merge.c (import.h: lr_import_run) calls it once per process,
** then builds that process's aggregates and its processes row.
**
** The rows go straight into the trace's tables (schemas/trace.sql) with
** process_id bound and every id shifted past the previous processes' (a
** process's ids form one range: processes.*_first .. *_last). Nothing is
** copied afterwards.
*/
#ifndef LR_STAGE_H
#define LR_STAGE_H

#include <sqlite3.h>
#include <stdint.h>

#include "ingest/aggsort.h"
#include "lowram/import.h"

/* Ids: the last one of each kind used so far (0: none). */
typedef struct LrIdOff {
  int64_t alloc, stack, frame, module, marker;
} LrIdOff;

/* Imports spool_path into db (a trace being built, schema applied, no
** transaction open) as process `proc`: allocations, stacks, frames,
** modules, markers, rss_samples, params, threads and process_meta rows,
** ids past *off; commits. *last gets the last id of each kind after it
** (equal to *off for a kind it has none of). No aggregates, no symbols:
** the caller builds them, from the rows `sorted` (if not NULL) was handed
** as they were written (aggsort.h). out_path only names the trace in
** messages. 0, or -1 with *err set (the caller discards the file). */
int lr_stage_import(sqlite3 *db, int64_t proc, const LrIdOff *off, LrIdOff *last,
                    const char *spool_path, const char *out_path, const LrImportOpts *opts,
                    LrImportStats *stats, LrAggSort *sorted, LrErr *err);

#endif
