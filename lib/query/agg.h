/*
** agg.h: aggregate tables built once, when a trace is completed, so that
** reports on traces of millions of events stay fast and do not hold the
** trace in memory. The importer calls lr_agg_build_rows() on its
** read-write connection after a process's last row is in and before it
** sets meta.complete = 1, handing over the rows it wrote (ingest/aggsort.h)
** instead of reading them back; nothing else ever writes a trace.
**
** One streaming pass over the rows of `allocations` in alloc_seq order
** (pending frees kept in a heap of the blocks live at that moment) fills:
**   agg_info        key/value: peak (heap+anon) seq/ns/bytes, heap-only peak,
**                   file-backed peak, totals at the end, counts.
**   agg_checkpoints live heap/anon/file after every LR_AGG_CHECKPOINT-th
**                   distinct event seq (plus seq -1 = all zero), so live bytes
**                   at any seq cost one lookup and two short index ranges.
**   agg_timeline    up to LR_AGG_BUCKETS time buckets: highest live bytes and
**                   live bytes at the bucket's end.
**   agg_phases      spans between markers, each with its own peak.
**   agg_stacks      per stack: calls, bytes, largest block, temporaries, leaks.
**   agg_largest     the LR_AGG_LARGEST largest single allocations (ids).
**   agg_maps        every file-backed mapping.
**   agg_kinds       calls and bytes per (kind, region), every region: the
**                   schema README's "bytes per kind" without a scan. The
**                   importer's go straight into main.agg_kinds, process_id
**                   leading the key.
** (v2 traces also have agg_live, the blocks by lifetime level; in v3 the
** block store is kept that way itself: allocations.live_at, store/.)
** Names are unqualified in queries, so a copy built in the `temp` schema
** (lr_agg_ensure on a read-only connection to an unfinished trace) is found
** the same way as the one the importer stored.
**
** Temporary allocation (the rule the report documents): a block that its
** thread frees before that thread allocates anything else.
*/
#ifndef LR_AGG_H
#define LR_AGG_H

#include <sqlite3.h>
#include <stdint.h>

#include "lowram/err.h"

#define LR_AGG_VERSION 2
#define LR_AGG_CHECKPOINT 4096
#define LR_AGG_BUCKETS 512
#define LR_AGG_LARGEST 100

/* One allocations row as the pass reads it. */
typedef struct LrAggRow {
  int64_t id, size, alloc_seq, alloc_ns;
  int freed;                /* 0: never freed (free_seq, free_ns unused) */
  int64_t free_seq, free_ns;
  int64_t tid;
  int64_t stack_id;         /* -1: NULL */
  int region;               /* 0 heap, 1 anon, 2 file, 3 reserved (LR_REGION_* order) */
  const char *kind;         /* allocations.kind; NULL: unknown; valid until the next call */
  const char *file;         /* NULL: NULL; valid until the next call */
  int has_offset;           /* 0: file_offset is NULL */
  int64_t file_offset;
} LrAggRow;

/* A source of rows in (alloc_seq, id) order: 1 with *row set, 0 at the
** end, -1 on failure. */
typedef int (*LrAggNext)(void *ctx, LrAggRow *row);

/* Creates and fills the aggregate tables (idempotent: drops and rebuilds
** them). `trace_path` only names the file in error messages. */
int lr_agg_build(sqlite3 *db, const char *trace_path, LrErr *err);

/* The same, into the connection's `temp` schema whatever main holds: the
** importer builds one process's aggregates there (reading TEMP VIEWs
** allocations and markers of that process) and copies them into main. */
int lr_agg_build_temp(sqlite3 *db, const char *trace_path, int64_t proc, LrErr *err);

/* lr_agg_build_temp, with the rows of process `proc` handed over by
** `next` instead of read back from `allocations`: the importer's, which
** has them from the merge (ingest/aggsort.h). The rows must be exactly
** those of the process's allocations, in (alloc_seq, id) order. */
int lr_agg_build_rows(sqlite3 *db, const char *trace_path, int64_t proc, LrAggNext next,
                      void *ctx, LrErr *err);

/* For readers: if the trace holds no current aggregates (an unfinished
** trace), builds them in the connection's `temp` schema, leaving the file
** untouched. 0 on success. */
int lr_agg_ensure(sqlite3 *db, const char *trace_path, LrErr *err);

#endif
