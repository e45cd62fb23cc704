/*
** pyframes.h: Python frames in the import (spool minor 2; schemas/SPOOL.md,
** "Python frames").
**
** A STACK record with Python frames is [LR_PYREF_TAG | native id, Python
** frames innermost first]. Its native record may come later in the merge
** (it can sit in another thread's chunk), so such stacks are kept and
** written at the end of the process's import (lr_pyf_finish), once every
** native stack and every PYCODE record is in: the Python frames become
** frames of a module named "[python]" with function, file and line set, and
** are spliced into the native stack before the innermost frame inside
** CPython's evaluator (PYEVAL), or after the native frames without one.
*/
#ifndef LR_INGEST_PYFRAMES_H
#define LR_INGEST_PYFRAMES_H

#include <sqlite3.h>
#include <stdint.h>

#include "ingest/spool_read.h"
#include "ingest/stage.h"
#include "lowram/err.h"

typedef struct LrPyf LrPyf;

/* What the importer lends: frame ids and module rows come from its own
** counters (ids before the process's offsets). */
typedef struct LrPyfHost {
  void *ctx;
  uint64_t (*frame)(void *ctx, uint64_t ip);       /* 0: out of memory */
  uint64_t (*module)(void *ctx, const char *path); /* a new module row; 0: failed */
  /* writes stack id with frames[0..n) innermost first (ids shifted), or
  ** leaves a known id as it is: 0, or -1 failed */
  int (*stack)(void *ctx, int64_t id, const int64_t *frames, size_t n);
} LrPyfHost;

/* The name symbolize and reports know Python frames by. */
#define LR_PYF_MODULE "[python]"

LrPyf *lr_pyf_new(void);
void lr_pyf_free(LrPyf *p);

/* 1 if r is a STACK record with Python frames (kept) or a PYCODE/PYEVAL
** record (taken); 0 if it is none of these; -1 out of memory. */
int lr_pyf_take(LrPyf *p, const LrSpoolRec *r);

/* Writes the kept stacks into db (ids shifted by *off): 0, or -1 with *err
** set. *nstacks gets how many were written, *max_id raised to the largest. */
int lr_pyf_finish(LrPyf *p, sqlite3 *db, const LrIdOff *off, const LrPyfHost *h,
                  uint64_t *nstacks, uint64_t *max_id, const char *what, LrErr *err);

#endif
