/*
** export.h: a trace's data as files for other tools: CSV (RFC 4180, a
** header row, CRLF line ends; text cells that a spreadsheet would run as a
** formula get a leading quote) or folded stacks ("outer;...;inner bytes",
** for flamegraph.pl, inferno and speedscope). Writes to the caller's FILE;
** never prints anything else.
*/
#ifndef LR_EXPORT_H
#define LR_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "lowram/err.h"
#include "lowram/peak.h"
#include "lowram/trace.h"

typedef enum LrExportWhat {
  LR_EXPORT_CONTRIBUTORS, /* blocks live at `at` (default: the peak), grouped by `by` */
  LR_EXPORT_ALLOCATIONS,  /* every allocation, or those live at `at` when given */
  LR_EXPORT_TIMELINE,     /* live bytes per time bucket (csv only) */
  LR_EXPORT_STACKS,       /* per stack: calls, bytes, temporaries, leaks */
  LR_EXPORT_LEAKS,        /* heap/anon blocks live at the end, grouped by `by` */
} LrExportWhat;

typedef enum LrExportFormat { LR_EXPORT_CSV, LR_EXPORT_FOLDED } LrExportFormat;

typedef struct LrExportOpts {
  LrExportWhat what;
  LrExportFormat format; /* folded output is always per stack */
  const char *at;        /* a moment (peak.h syntax) or NULL */
  LrBy by;
} LrExportOpts;

/* "contributors", "allocations", "timeline", "stacks", "leaks": 0, else -1. */
int lr_export_parse_what(const char *s, LrExportWhat *out);

/* Writes what o asks for to f. 0, or -1 with *err (write errors are the
** caller's to check with ferror/fflush). */
int lr_export(LrTrace *t, const LrExportOpts *o, FILE *f, LrErr *err);

/* Writes groups (peak.h) as CSV rows (csv = 1; share of `whole`) or folded
** lines: what the TUI's views export. */
int lr_export_groups(FILE *f, const LrGroups *g, int csv, int64_t whole);

/* One CSV text cell, quoted and defused as described above. */
void lr_csv_text(FILE *f, const char *s);

#endif
