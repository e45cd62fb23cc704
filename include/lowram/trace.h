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
*/
#ifndef LR_TRACE_H
#define LR_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"

#define LR_SCHEMA_VERSION 1

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

#endif
