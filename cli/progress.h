/*
** progress.h: the import's progress line, shared by the subcommands that
** import (import, recover, record). Defined in import.c.
*/
#ifndef LR_CLI_PROGRESS_H
#define LR_CLI_PROGRESS_H

#include "lowram/import.h"

/* An LrImportProgressFn printing one line to stderr, rewritten in place at
** most 10 times a second; give it to the importer only when stderr is a
** terminal (isatty(2)). Called with p NULL once the import is over, it
** clears the line. Never cancels. */
int lr_cli_import_progress(void *ctx, const LrImportProgress *p);

#endif
