/*
** import.h: turning a spool into a finished SQLite trace.
**
** lr_import() reads a spool (spool_read.h), merges the events of all its
** chunks in global sequence order, rebuilds the lifetime of every block and
** mapping (allocations rows), the stacks, frames and modules, RSS samples,
** markers, parameters and threads, names the frames (symbolize.h), builds
** the aggregates (agg.h), and only then puts the trace under its final
** name. The file is written under a temporary name in the same directory and
** linked into place without replacing anything, so a killed import never
** leaves a half trace, and an existing file is never overwritten.
*/
#ifndef LR_IMPORT_H
#define LR_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"

typedef struct LrImportOpts {
  const char *symbols_dir; /* extra unstripped copies (symbolize.h), or NULL */
  int no_symbolize;        /* 1: leave frames unnamed */
  int killed_by;           /* signal that killed the process, as its parent saw
                              (lowram record); used when the spool never ended */
} LrImportOpts;

typedef struct LrImportStats {
  uint64_t events;          /* allocation/mapping events imported */
  uint64_t records;         /* all records decoded */
  uint64_t stacks, frames, modules, allocations;
  uint64_t chunks, chunks_corrupt, chunks_truncated;
  uint64_t unmatched_frees; /* frees/munmaps of addresses never seen */
  uint64_t frames_named;    /* frames that got a function name */
  int64_t peak_heap;        /* most malloc-family bytes live at once */
  uint64_t peak_heap_seq;   /* the event that reached it */
  int64_t peak_rss;         /* largest VmRSS sample (0 if none) */
  char end_reason[16];      /* as stored in meta.end_reason */
  double agg_seconds;       /* of the import's time, spent in lr_agg_build */
} LrImportStats;

/* Imports the spool at spool_path into a new trace at out_path (which must
** not exist). opts and stats may be NULL. 0 on success; -1 with a one-line
** message naming the file in *err. */
int lr_import(const char *spool_path, const char *out_path, const LrImportOpts *opts,
              LrImportStats *stats, LrErr *err);

/* The trace path a spool imports to when none is given: "run.db.spool" ->
** "run.db", anything else -> spool_path + ".db". 0, or -1 if buf is short. */
int lr_import_default_out(const char *spool_path, char *buf, size_t len);

#endif
