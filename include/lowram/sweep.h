/*
** sweep.h: `lowram sweep`, recording one command over a grid of parameters.
**
** A sweep is a list of parameters, each with its values ("seq=128,256,512"),
** and a command whose arguments may hold "{name}" placeholders. Every
** combination of values is one run, numbered from 1 with the first
** parameter varying slowest. Run N is recorded by the lowram binary itself,
**     LOWRAM record -o DIR/run-N.db -- CMD...
** so recording stays in one place; its stdout and stderr go to DIR/run-N.log
** and its stdin comes from a file (default /dev/null: runs must not race for
** the terminal).
**
** The index, DIR/index.tsv, is rewritten after every run so that a sweep cut
** short still describes the runs it made. Format (UTF-8 text, one record a
** line, fields separated by one TAB):
**     # lowram sweep index v1
**     # command: <the templated command, arguments joined by spaces>
**     run <TAB> <param 1> ... <TAB> trace <TAB> status      (header row)
**     1 <TAB> 128 ... <TAB> run-1.db <TAB> ok
** `trace` is relative to DIR; `status` is "ok", "exit N" (record or the
** program failed with N), "signal N", "no trace" (exit 0 but no file) or
** "not run". Only "ok" runs are used by `lowram suggest`. Parameter values
** are any text without TAB, newline, comma, '{' or '}'.
*/
#ifndef LR_SWEEP_H
#define LR_SWEEP_H

#include <stddef.h>

#include "lowram/err.h"

#define LR_SWEEP_MAX_PARAMS 4
#define LR_SWEEP_MAX_VALUES 64
#define LR_SWEEP_MAX_RUNS 4096
#define LR_SWEEP_INDEX "index.tsv"

/* A sweep being defined and run.
** Invariants: (1) parameter names are unique identifiers ([A-Za-z_][A-Za-z0-9_]*)
** other than run/trace/status; (2) each has 1..LR_SWEEP_MAX_VALUES values;
** (3) the product of the value counts is <= LR_SWEEP_MAX_RUNS;
** (4) once the command is set, every parameter appears in it as {name}. */
typedef struct LrSweep LrSweep;

LrSweep *lr_sweep_new(void);
void lr_sweep_free(LrSweep *s);

/* "name=v1,v2,..." */
int lr_sweep_add_param(LrSweep *s, const char *spec, LrErr *err);
/* The command template (copied). Fails if it is empty or a parameter is
** never used as {name}. */
int lr_sweep_set_command(LrSweep *s, int argc, char *const *argv, LrErr *err);

int lr_sweep_nparams(const LrSweep *s);
const char *lr_sweep_param_name(const LrSweep *s, int p);
size_t lr_sweep_nruns(const LrSweep *s);
/* Value of parameter p in run `run` (0-based run index). */
const char *lr_sweep_value(const LrSweep *s, size_t run, int p);

/* The command of run `run` with every {name} replaced: a malloc'd
** NULL-terminated argv, freed with lr_sweep_argv_free. */
char **lr_sweep_command(const LrSweep *s, size_t run, LrErr *err);
void lr_sweep_argv_free(char **argv);

/* Outcome of one run, kept for the index. */
typedef struct LrSweepRun {
  int started;     /* 0: not run yet */
  int exit_code;   /* valid when !signal */
  int signal;      /* nonzero: killed by this signal */
  int have_trace;  /* the trace file exists */
  double seconds;  /* wall time */
} LrSweepRun;

/* "ok", "exit N", "signal N", "no trace", "not run" into buf. */
const char *lr_sweep_status(const LrSweepRun *r, char *buf, size_t len);

/* Records run `run` into dir (which must exist) with `lowram_bin record`.
** stdin_path NULL means /dev/null. Returns 0 when the run could be started
** and waited for (whatever its status, see *out), -1 if not. */
int lr_sweep_run(const LrSweep *s, size_t run, const char *lowram_bin, const char *dir,
                 const char *stdin_path, LrSweepRun *out, LrErr *err);

/* Writes DIR/index.tsv for runs[0..nruns) atomically (temp file + rename). */
int lr_sweep_write_index(const LrSweep *s, const char *dir, const LrSweepRun *runs,
                         LrErr *err);

/* A sweep index read back.
** Invariants: (1) every row has exactly nparams values; (2) run ids are
** unique and > 0; (3) trace paths are joined with the index's directory. */
typedef struct LrSweepIndex LrSweepIndex;

/* Reads DIR/index.tsv; NULL with "DIR/index.tsv:LINE: ..." on any defect. */
LrSweepIndex *lr_sweep_index_read(const char *dir, LrErr *err);
void lr_sweep_index_free(LrSweepIndex *ix);
int lr_sweep_index_nparams(const LrSweepIndex *ix);
const char *lr_sweep_index_param(const LrSweepIndex *ix, int p);
size_t lr_sweep_index_nruns(const LrSweepIndex *ix);
int lr_sweep_index_run_id(const LrSweepIndex *ix, size_t i);
const char *lr_sweep_index_value(const LrSweepIndex *ix, size_t i, int p);
const char *lr_sweep_index_trace(const LrSweepIndex *ix, size_t i); /* DIR/run-N.db */
const char *lr_sweep_index_status(const LrSweepIndex *ix, size_t i);
const char *lr_sweep_index_command(const LrSweepIndex *ix); /* "" if absent */

#endif
