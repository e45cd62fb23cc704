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

#endif
