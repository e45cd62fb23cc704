/*
** tui.h: the entries of `lowram tui` and of `lowram record --tui`, called by
** the lowram command (cli/main.c, cli/record.c). Return exit statuses.
*/
#ifndef LT_TUI_H
#define LT_TUI_H

#include <stdint.h>

int lt_main(int argc, char **argv);

/* `lowram record --tui`: CMD already runs (its stdout and stderr in `log`,
** stdin /dev/null), started by record with these. */
typedef struct LtRecordRun {
  const char *dir, *prefix;  /* where its spools appear (lr_import_find_run) */
  uint64_t pid, adopter, since_ns;
  int root_only;             /* --no-follow */
  const char *command;       /* CMD as typed */
  const char *log;           /* where CMD's output goes */
  const char *out;           /* the trace's final name */
} LtRecordRun;

/* Shows the run live (the run re-imported into temporary traces a few
** times a second) until CMD and every process it left have ended: returns 1
** with CMD's wait status in *status, every child reaped, the terminal
** restored (record then imports the trace under its final name and calls
** lt_record_browse). `q` returns 0 at once with the terminal restored and a
** line on stderr: CMD keeps running and record goes on as without --tui
** (waits, imports, prints its summary). Ctrl-C reaches CMD from the
** terminal, as without --tui: it ends, and the live view with it. */
int lt_record_live(const LtRecordRun *r, int *status);

/* The final trace replaces the live one in the same browser (view, sort,
** grouping, selection, process kept), until `q`. Returns 0, or 1 when the
** trace cannot be opened (message on stderr). */
int lt_record_browse(const char *trace);

#endif
