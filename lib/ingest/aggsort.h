/*
** aggsort.h: the allocations rows of one process, handed from the merge to
** the aggregate pass (query/agg.h: lr_agg_build_rows) in (alloc_seq, id)
** order, so the aggregates are built from the rows the merge produced and
** not by reading the table back through its alloc_seq index.
**
** The lifetime model emits a row when its block ends (lifetimes.h), in
** free_seq order, while the pass wants alloc_seq order. Most blocks live a
** few thousand seqs (87% under 4096 on the churn), so:
**   - a row that lived at most LR_AGGSORT_WINDOW seqs waits in a min-heap
**     on (alloc_seq, id); once the merge has emitted a row freed at F, no
**     later short row can start before F - window, so every waiting row
**     below that is final and goes, in order, to a temporary file
**     (varint deltas, about 10 bytes a row);
**   - every other row (long-lived, never freed, a file mapping, or one that
**     comes after a row with a larger key was already written) is kept in
**     memory and sorted at the end;
**   - reading merges the file and the sorted array.
** Memory: the window's rows (bounded) plus the long-lived ones. If memory
** or the temporary file fails, the sorter says so at the end and the
** importer reads the rows back with SQL instead: only speed is lost.
*/
#ifndef LR_AGGSORT_H
#define LR_AGGSORT_H

#include <stdint.h>

#include "ingest/lifetimes.h"
#include "query/agg.h"

/* Seqs a short-lived row may span: the heap holds at most about this many
** rows. */
#define LR_AGGSORT_WINDOW 65536

typedef struct LrAggSort LrAggSort;

/* A sorter with the given window (LR_AGGSORT_WINDOW; tests use small
** ones). NULL when out of memory. */
LrAggSort *lr_aggsort_new(int64_t window);

/* One row as the trace stores it: id + alloc_off, stack + stack_off (NULL
** for stack 0). Never fails: a failure is remembered and reported by
** lr_aggsort_finish. */
void lr_aggsort_put(LrAggSort *s, const LrLifeRow *r, uint64_t alloc_off, uint64_t stack_off);

/* After the last row: 0 when every row put can be read back in order with
** lr_aggsort_next, -1 if the sorter failed (memory or temporary file). */
int lr_aggsort_finish(LrAggSort *s);

/* An LrAggNext over a finished sorter (ctx = the LrAggSort). */
int lr_aggsort_next(void *ctx, LrAggRow *row);

/* Rows kept in memory (long-lived) and rows that went through the file:
** for tests and benches. */
void lr_aggsort_counts(const LrAggSort *s, uint64_t *kept, uint64_t *spilled);

void lr_aggsort_free(LrAggSort *s);

#endif
