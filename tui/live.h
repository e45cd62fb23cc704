/*
** live.h: following a run while it is recorded, without curses (the loop in
** tui.c draws; tests/tui drives this directly).
**
** A few times a second the loop asks lt_live_poll for a newer trace: when
** the run's spools changed since the last look (their sizes and mtimes, or a
** half a second passed: a record written into a page already touched does not
** change the mtime), the run is imported again, as it is now, into a new
** temporary trace in a private directory (mkdtemp under $TMPDIR), never
** under the run's own trace name. The loop swaps the model onto it
** (lt_model_swap) and the previous temporary is deleted at the next poll.
** Frames are named while that stays fast; once one import takes more than
** half a second the later ones skip naming (the final import names them).
**
** What is followed: a spool and the run it starts (lr_import_gather: `lowram
** tui --live SPOOL`), or the run of `lowram record` (lr_import_find_run with
** record's directory, prefix, root pid and start time).
*/
#ifndef LT_LIVE_H
#define LT_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"
#include "lowram/import.h"
#include "lowram/trace.h"

typedef struct LtLive {
  /* the source: spool[0] set for --live SPOOL, else record's run */
  char spool[4096];
  char dir[4096], prefix[1024];
  uint64_t root_pid, adopter, since_ns;
  int root_only;         /* record --no-follow: the root pid's images only */
  /* state */
  char tmpdir[4096];
  char cur[4200], stale[4200]; /* the newest temporary, the one before it */
  unsigned made;         /* temporaries made */
  uint64_t sig;          /* the spools at the last import */
  double last_import;    /* monotonic seconds at its end (0: none yet) */
  double import_secs;    /* how long it took */
  int symbols;           /* temporaries name frames */
  int64_t events;        /* events of the last import (all processes) */
  size_t nspools;        /* spools of the run at the last import */
  int ended;             /* every process of the last import ended or is gone */
} LtLive;

/* Makes the private temporary directory. 0, or -1 with *err. */
int lt_live_init(LtLive *lv, LrErr *err);

/* Imports the run now if force, or if its spools changed, or if half a
** second passed since the last import. 1 with *out (opened; the caller owns it)
** when there is a newer trace, 0 when nothing is new (or no spool has a
** whole header yet), -1 with *err. */
int lt_live_poll(LtLive *lv, int force, LrTrace **out, LrErr *err);

/* Deletes every temporary and the directory. */
void lt_live_free(LtLive *lv);

/* Monotonic seconds. */
double lt_live_now(void);

#endif
