/*
** trace.h: the opaque handle every public call of the analysis library
** takes: one lowram trace (a SQLite file made by the importer), read-only.
**
** lr_trace_open(PATH):
**   - PATH is a finished trace: it is opened read-only and never modified.
**   - PATH is an unfinished trace (meta.complete != 1, e.g. the importer was
**     killed): it is opened and lr_trace_complete() says so, so the caller
**     can print that `lowram recover` completes it.
**   - anything else (missing, not SQLite, not a lowram trace, another
**     schema version): NULL, with a one-line reason in *err.
** To open a spool, or a trace whose spool has not been imported yet, use
** lr_import_open() (import.h): it imports first, with progress.
**
** A trace holds every process of a run (schemas/README.md, "Processes").
** A handle shows one of them at a time: every query of the library (and
** any unqualified SQL on its connection) sees that process's rows only.
** lr_trace_open selects the process with the highest peak; the
** lr_trace_select_* calls choose another.
*/
#ifndef LR_TRACE_H
#define LR_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"

#define LR_SCHEMA_VERSION 3

typedef struct LrTrace LrTrace;

LrTrace *lr_trace_open(const char *path, LrErr *err);
void lr_trace_close(LrTrace *t);

/* The trace file's path (after any spool import). */
const char *lr_trace_path(const LrTrace *t);
/* 1 when the import finished and aggregates exist, 0 otherwise. */
int lr_trace_complete(const LrTrace *t);

/* meta table lookups: 0 on success, -1 if the key is missing. The text is
** copied into buf (cut to len-1 bytes). */
int lr_trace_meta_int(LrTrace *t, const char *key, int64_t *out);
int lr_trace_meta_text(LrTrace *t, const char *key, char *buf, size_t len);

/* One process image of the run (a `processes` row). */
typedef struct LrProcess {
  int64_t id;          /* processes.id: what lr_trace_select_process takes */
  int64_t pid, ppid, exec_index;
  int64_t parent_id;   /* the image that forked it or that it replaced; 0 none */
  char argv[512];      /* JSON array as stored (cut to fit; escape before printing) */
  int64_t start_ns, end_ns; /* ns since the run's first process started; end -1 unknown */
  char end_reason[16];
  int64_t end_code;    /* INT64_MIN when unknown */
  int64_t peak, peak_heap, peak_rss, events;
} LrProcess;

/* The processes of the trace, by id (malloc'd array, caller frees); a
** trace without a processes table (built by hand) has none. 0 or -1. */
int lr_trace_processes(LrTrace *t, LrProcess **out, size_t *n, LrErr *err);

/* Shows process `id` (processes.id) from now on; 0 selects the default
** (the highest peak). -1 with *err if there is no such process. */
int lr_trace_select_process(LrTrace *t, int64_t id, LrErr *err);

/* Selects the image of pid `pid` with the highest peak. -1 with *err if
** no process of the trace has that pid. */
int lr_trace_select_pid(LrTrace *t, int64_t pid, LrErr *err);

/* The selected process's id (1 for a trace without a processes table). */
int64_t lr_trace_process(const LrTrace *t);

#endif
