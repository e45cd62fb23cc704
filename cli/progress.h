/*
** progress.h: what the subcommands that import or open a run share: the
** import's progress line (import, recover, record), the run summary, and
** choosing a process of a trace (--pid / --process of report, export,
** diff). Defined in import.c.
*/
#ifndef LR_CLI_PROGRESS_H
#define LR_CLI_PROGRESS_H

#include <stdio.h>

#include "lowram/import.h"

/* An LrImportProgressFn printing one line to stderr, rewritten in place at
** most 10 times a second; give it to the importer only when stderr is a
** terminal (isatty(2)). Called with p NULL once the import is over, it
** clears the line. Never cancels. */
int lr_cli_import_progress(void *ctx, const LrImportProgress *p);

/* The summary of a finished import of a run into trace_path (`shown` is
** how to name it): one line for the run, the process with the highest
** peak (the one report shows first), then every process as a tree (pid,
** command, peak, how it ended), with command words escaped. */
void lr_cli_run_summary(FILE *f, const char *cmd, const char *shown, const char *trace_path,
                        const LrImportStats *s);

/* Selects the process --pid PID or --process N named (both NULL: keep the
** default, the highest peak). 0; 2 after printing a usage error (not a
** number); 1 after printing that the trace has no such process. */
int lr_cli_select(const char *cmd, LrTrace *t, const char *pid, const char *process);

#endif
