/*
** diff.h: how two traces differ (e.g. seq_len 512 vs 128, int8 vs int4):
** their peaks, and per site the bytes live at each trace's peak and the
** calls and bytes allocated over the run. Sites are matched by name, never
** by id: LR_BY_STACK uses the whole symbolized stack path (function names
** outer to inner, "module+0xoffset" for unnamed frames), the other keys
** the site frame's function, module, file or file:line (peak.h).
*/
#ifndef LR_DIFF_H
#define LR_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"
#include "lowram/peak.h"
#include "lowram/trace.h"

typedef struct LrDiffRow {
  char *key;
  const LrStack *stack_a, *stack_b; /* NULL on the side without the site */
  int64_t peak_a, peak_b;           /* bytes live at that trace's peak */
  int64_t blocks_a, blocks_b;       /* blocks live at that trace's peak */
  int64_t calls_a, calls_b, bytes_a, bytes_b; /* allocated over the run */
} LrDiffRow;

typedef struct LrDiff {
  LrMoment peak_a, peak_b;
  int64_t heap_peak_a, heap_peak_b;
  LrDiffRow *rows; /* sorted by |peak_b - peak_a|, then |bytes_b - bytes_a| */
  size_t n;
  LrStacks *stacks_a, *stacks_b;
} LrDiff;

int lr_diff_build(LrTrace *a, LrTrace *b, LrBy by, LrDiff **out, LrErr *err);
void lr_diff_free(LrDiff *d);

/* ---- which process of each trace ----
** A trace holds every process of a run: `sh -c 'prog 512 | cat'` gives sh,
** prog and cat, a pyenv python3 a bash script and python. Comparing runs
** (diff, suggest) means comparing the same program in each, so
** lr_diff_pick chooses, in each of n traces, the process that runs the
** same command:
**   - `command` (a basename of argv[0]) names it; otherwise
**   - the candidates of a trace are its processes whose argv mentions every
**     one of that trace's `words` (a sweep's parameter values: the shell
**     and the program mention them, cat does not), and of those the ones
**     no other candidate descends from (the shell passes them down), or
**     all its processes when no process mentions them (or nwords is 0);
**     never, unless nothing else is left, an image that exec'd (ended by
**     exec, or a later image has its pid: a shell's fork before it became
**     cat) or that recorded no event;
**   - the command is the argv[0] basename found among the candidates of
**     every trace whose peaks, summed over the traces, are highest;
**   - in each trace, the process of that command with the same argv as the
**     first trace's, else the one with the highest peak.
** A trace without a processes table (made by hand) gets id 0 (the
** default). -1 with a one-line reason naming the trace and the processes
** it has when a trace has no process of the command. */
typedef struct LrPick {
  int64_t id;        /* processes.id (lr_trace_select_process); 0: no table */
  int64_t pid, peak;
  int nprocs;        /* processes in the trace */
  char command[128]; /* argv[0]'s basename (raw: escape before printing) */
  char argv[512];    /* as stored: a JSON array */
} LrPick;

/* words: n * nwords strings (trace i's are words[i * nwords ...]), "" ignored;
** NULL: each trace's words are those of its command (meta argv) that no
** other trace's command has (`prog 512` vs `prog 1024`: 512 and 1024). */
int lr_diff_pick(LrTrace *const *t, int n, const char *const *words, int nwords,
                 const char *command, LrPick *out, LrErr *err);
/* The words of a stored argv JSON array, joined by spaces, raw (JSON
** escapes undone; escape before printing); cut to len. */
void lr_diff_argv_words(const char *json, char *out, size_t len);

#endif
