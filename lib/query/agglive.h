/*
** agglive.h: writes the rows of the agg_live table (agg.h) for lr_agg_build,
** which finds them in alloc_seq order, interleaving the LR_AGG_LEVELS
** levels.
**
** Why a module of its own: inserting rows into the WITHOUT ROWID table in
** that order costs about three times as much as inserting them in key order
** (lvl, alloc_seq, id). Every level but the last is then a point in the
** middle of the B-tree, and each leaf split there rebalances its siblings
** (in key order, every insert is an append: a cheap split, full pages).
** Within one level the rows already come in key order, so no sort is
** needed: each level's rows are spooled to a temporary file, compactly
** (varint deltas, about 10 bytes a row), and after the pass the levels are
** appended one after the other. Memory stays a few hundred KiB of buffers
** whatever the trace size; the temporary files need about 10 bytes per
** heap/anon allocation and are gone when the writer is freed (tmpfile(3)).
** If a temporary file cannot be made, that level's rows go straight into
** the table, so only speed is lost. Rows go in LIVE_BATCH at a time through
** one multi-row INSERT: one statement step per row costs more in statement
** setup than the B-tree insert itself.
*/
#ifndef LR_AGGLIVE_H
#define LR_AGGLIVE_H

#include <sqlite3.h>
#include <stdint.h>

#include "lowram/err.h"

typedef struct LrAggLive LrAggLive;

/* A writer for `schema`.agg_live (the table must exist); with proc > 0,
** for main.agg_live of a run's trace instead, whose rows lead with
** process_id = proc (the importer's, query/agg.h). `path` only names the
** trace in error messages. NULL with *err set on failure. */
LrAggLive *lr_agglive_new(sqlite3 *db, const char *schema, int64_t proc, const char *path,
                          LrErr *err);

/* One row; free_seq < 0 stands for NULL (never freed). lvl is
** lr_agg_level(alloc_seq, free_seq). Rows of one level must come in
** (alloc_seq, id) order. 0, or -1 with *err set. */
int lr_agglive_add(LrAggLive *w, int lvl, int64_t alloc_seq, int64_t id, int64_t size,
                   int64_t stack_id, int64_t free_seq);

/* Writes every row still waiting. 0, or -1 with *err set. */
int lr_agglive_finish(LrAggLive *w);

/* Frees the writer and its temporary files (rows not finished are lost). */
void lr_agglive_free(LrAggLive *w);

#endif
