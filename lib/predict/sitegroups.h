/*
** sitegroups.h: the per-stack statistics sitebytes.c needs from every
** heap and anon row of a v3 trace, computed in one pass over the blocks
** (store/scan.h) instead of a SQL GROUP BY that sorts every row through the
** virtual table (3.2 s on 10M events; the pass, well under a second). The
** groups and numbers are those of
**   SELECT stack_id, COUNT(*), MAX(size), MAX(region = 'anon'),
**          SUM(free_seq - alloc_seq), COUNT(free_seq), region, ARENA_SIZED,
**          SUM(CASE WHEN free_seq IS NULL OR free_seq > late THEN size END)
**   FROM allocations WHERE region IN ('heap','anon') GROUP BY stack_id, region, 8
** in the same order.
*/
#ifndef LR_SITEGROUPS_H
#define LR_SITEGROUPS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"

typedef struct LrSiteGroup {
  int64_t stack;   /* -1: NULL */
  int anon;        /* region: 1 anon, 0 heap */
  int arena_sized; /* anon and 256 KiB or 1 MiB (sitebytes.c: ARENA_SIZED) */
  int64_t count, max_size, freed, late_bytes;
  int64_t life_sum; /* sum of free_seq - alloc_seq over the freed */
} LrSiteGroup;

/* The groups of the selected process's rows (lr_trace_views), sorted as
** SQL's GROUP BY gives them, *out malloc'd; "late" means freed after
** 3/4 of *span, the highest alloc_seq or free_seq, which is set too. v3:
** one pass over the blocks; a v2 trace: the SQL above. 0, or -1 with err
** naming path. */
int lr_site_groups(sqlite3 *db, const char *path, int64_t *span, LrSiteGroup **out, size_t *n,
                   LrErr *err);

#endif
