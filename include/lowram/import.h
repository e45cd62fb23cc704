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
#include "lowram/trace.h"

/* What the importer is doing, for a progress line; the stages come in this
** order and each may be reported many times. */
typedef enum LrImportStage {
  LR_IMPORT_MERGE,      /* decoding the spool and writing rows */
  LR_IMPORT_INDEX,      /* building the indexes */
  LR_IMPORT_SYMBOLS,    /* naming the frames */
  LR_IMPORT_AGGREGATES, /* building the aggregate tables */
} LrImportStage;

typedef struct LrImportProgress {
  LrImportStage stage;
  uint64_t events;   /* events merged so far */
  uint64_t chunks_done, chunks; /* spool chunks read to their end, and all */
  double seconds;    /* since the import started */
  uint32_t process, processes; /* the spool being imported (1-based) of a run's
                                  (lr_import_run); 0, 0 from lr_import_progress */
} LrImportProgress;

/* Called every LR_IMPORT_PROGRESS_EVENTS events and at each stage; a
** nonzero return cancels the import (lr_import fails with "cancelled" and
** leaves no file behind). */
typedef int (*LrImportProgressFn)(void *ctx, const LrImportProgress *p);
#define LR_IMPORT_PROGRESS_EVENTS 65536

typedef struct LrImportOpts {
  const char *symbols_dir; /* extra unstripped copies (symbolize.h), or NULL */
  int no_symbolize;        /* 1: leave frames unnamed */
  int killed_by;           /* signal that killed the process, as its parent saw
                              (lowram record); used when the spool never ended */
  LrImportProgressFn progress; /* NULL: none */
  void *progress_ctx;
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
** not exist): a trace of one process (lr_import_run with one spool). opts
** and stats may be NULL. 0 on success; -1 with a one-line message naming
** the file in *err. */
int lr_import(const char *spool_path, const char *out_path, const LrImportOpts *opts,
              LrImportStats *stats, LrErr *err);

/* One spool of a run, as lr_import_find_run finds them. */
typedef struct LrRunSpool {
  char path[4096];
  uint64_t pid, ppid, exec_index, start_realtime_ns;
  int killed_by; /* signal its parent saw kill it (0: none or unknown) */
} LrRunSpool;

/* Imports the spools of one run into one new trace at out_path, one
** `processes` row each (schemas/README.md), in the order given (the first
** is processes.id 1). opts->killed_by is ignored: each spool has its own.
** stats: counts summed over the processes; peaks, end_reason of the first.
** Nothing is under out_path unless every spool was imported. */
int lr_import_run(const LrRunSpool *spools, size_t n, const char *out_path,
                  const LrImportOpts *opts, LrImportStats *stats, LrErr *err);

/* The spools of one run in directory dir, by the naming rule of
** schemas/SPOOL.md (every name starts with `prefix` and ends in .spool) and
** by their headers: every image of `root_pid`, then every spool whose ppid
** is a pid already in the run (or `adopter`, a subreaper's pid, when
** nonzero), closed transitively; only spools that started at or after
** `since_ns` - 1 s (CLOCK_REALTIME ns) count, so a leftover of an earlier
** run with a reused pid stays out. Any number of spools. Sorted by start
** time (then exec index, pid); *out is malloc'd (caller frees). Returns how many, or
** -1 with *err set. */
long lr_import_find_run(const char *dir, const char *prefix, uint64_t root_pid,
                        uint64_t adopter, uint64_t since_ns, LrRunSpool **out, LrErr *err);

/* The run a spool starts, for plain LD_PRELOAD mode (a phone): the spool at
** spool_path ("DIR/run.db.spool") and, beside it, the spools its process
** and their descendants left ("DIR/run.PID.db.spool", "run.PID.N.db.spool":
** the naming rule of SPOOL.md), found by lr_import_find_run from its pid
** and start time. The given spool comes first. */
long lr_import_gather(const char *spool_path, LrRunSpool **out, LrErr *err);

/* Opens PATH for reading, importing first when it is not a trace yet:
**   - a finished or unfinished trace: opened (lr_trace_open);
**   - a spool: the trace it imports to (lr_import_default_out) is opened
**     when it exists and was made from it, else the spool and the spools of
**     its descendants beside it (lr_import_gather) are imported there first;
**   - a missing PATH whose spool (PATH + ".spool") exists: its run is
**     imported to PATH the same way.
** opts (may be NULL) carries progress and symbol options for the import. */
LrTrace *lr_import_open(const char *path, const LrImportOpts *opts, LrErr *err);

/* Whether the finished trace at trace_path was made from the spool at
** spool_path: the same process image (pid, exec index and start time, as
** the trace's meta and the spool's header record them; the spool's path
** and size may have changed since). 1 yes; 0 no, with *err saying whose
** trace it is; -1 when either file cannot be read as what it should be
** (message in *err). */
int lr_import_made_from(const char *trace_path, const char *spool_path, LrErr *err);

/* The progress line for p, for a terminal: the stage, the events merged,
** their rate and, while merging, the time left estimated from the chunks
** read ("merging: 1.20M events, 850k/s, 3 s left"). Always NUL-terminated;
** returns buf. */
char *lr_import_progress_text(const LrImportProgress *p, char *buf, size_t len);

/* Stores facts from outside the process (a phone's memory state, the
** low-memory killer's verdict: keys device.*, run.*, kill.*, log.*) in the
** trace's run-level meta table, right after import. kv holds n key/value
** pairs (kv[2i], kv[2i+1]); keys are letters, digits, '.', '_', '-', and
** never the trace's own (format, complete, ...). 0, or -1 with *err. */
int lr_import_annotate(const char *trace_path, const char *const *kv, size_t n, LrErr *err);
/* 0 when key may be stored by lr_import_annotate; else -1 with "WHERE: ...". */
int lr_import_meta_key_check(const char *where, const char *key, LrErr *err);

/* 1 when the file at path starts like a lowram spool, 0 otherwise. */
int lr_import_is_spool(const char *path);

/* The trace path a spool imports to when none is given: "run.db.spool" ->
** "run.db", anything else -> spool_path + ".db". 0, or -1 if buf is short. */
int lr_import_default_out(const char *spool_path, char *buf, size_t len);

#endif
