/*
** err.h: how the analysis library reports failure without printing.
** A function that can fail takes an LrErr *, returns nonzero on failure and
** leaves a one-line message naming the file and what was wrong; the CLI
** prints it, the TUI would show it in a status line.
*/
#ifndef LR_ERR_H
#define LR_ERR_H

#include <stddef.h>

typedef struct LrErr {
  char msg[512];
} LrErr;

/* Formats into e->msg (e may be NULL). Always returns -1, so callers can
** write `return lr_err_set(e, "%s: not a lowram trace", path);`. */
int lr_err_set(LrErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
