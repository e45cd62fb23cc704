/*
** report.h: the report model: everything `lowram report` shows, as data.
** The CLI formats it as text or JSON; the TUI will draw the same structs.
**
** Definitions the report relies on (documented for readers of its output):
**  - peak: highest heap + anonymous-mmap live bytes (peak.h); file-backed
**    mappings are reported apart, under "mapped files";
**  - leaks: heap and anonymous blocks still live at the end of the trace
**    (file mappings never unmapped are listed under mapped files);
**  - temporary: a block its thread frees before allocating anything else
**    (agg.h), counted per stack;
**  - hot sites: stacks by number of allocations and by bytes allocated;
**  - phases: spans from one marker to the next (and "(start)" before the
**    first), each with its own peak and top contributors at that peak;
**  - residency of a mapped file: RssFile above its value before the first
**    file mapping appeared (or, with no sample that early, above the lowest
**    RssFile of the run), shared among the file mappings live at each
**    sample in proportion to their size, capped at their size; the highest
**    such share over the samples. An estimate: RssFile also holds other
**    file pages (code, other maps), which the baseline removes only if
**    they were already resident before the first mapping.
*/
#ifndef LR_REPORT_H
#define LR_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"
#include "lowram/peak.h"

typedef struct LrReportOpts {
  int top;            /* rows per section; 0 means 10 */
  LrBy by;            /* grouping of contributors, leaks and phase tops */
  const char *at;     /* moment (peak.h syntax); NULL: the peak */
  int64_t min_size;   /* contributors: ignore blocks smaller than this */
  int timeline_width; /* ticks; 0 means 60 */
  int phase_top;      /* contributors per phase; 0 means 3 */
  int phase_detail;   /* phases that get contributors (the highest occurrence of
                         each marker name, highest first); 0 means 8 */
} LrReportOpts;

typedef struct LrRun {
  char argv[1024];      /* the command line, words joined by spaces */
  char start_time[64];
  char end_reason[32];  /* "" when unknown */
  int64_t end_code;     /* -1 when unknown */
  int64_t pid, duration_ns, events, threads, allocs, frees, markers, samples;
  int complete;         /* meta.complete == 1 */
  int cut_short;        /* meta.cut_short == 1: the spool lost its tail */
} LrRun;

typedef struct LrRss {
  int found;
  int64_t seq, ns, rss, anon, file, shmem;
} LrRss;

typedef struct LrSite {
  const LrStack *stack;
  int64_t calls, bytes, max_size, temp_calls, temp_bytes;
} LrSite;

typedef struct LrBlock {
  int64_t id, size, alloc_seq, alloc_ns, free_seq; /* free_seq -1: live at exit */
  char kind[16], region[8];
  const LrStack *stack;
} LrBlock;

typedef struct LrPhase {
  char name[128];
  int64_t nth; /* occurrence of this marker name, 1-based */
  int64_t start_seq, end_seq, start_ns, end_ns;
  int64_t start_live, end_live, peak_live, peak_seq, peak_ns;
  int has_top;  /* top was computed (see LrReportOpts.phase_detail) */
  LrGroups top; /* contributors at the phase's peak */
} LrPhase;

typedef struct LrMapped {
  char *file;
  int64_t mappings, size, max_live, resident; /* resident: estimate, see above */
  int64_t live_at_end;
} LrMapped;

typedef struct LrTick {
  int64_t ns_start, ns_end;
  int64_t max_live, end_live; /* heap + anon */
  int64_t rss;                /* highest RSS sample in the tick; -1: none */
  int has_peak;
  char marker[64];            /* first marker in the tick, "" if none */
} LrTick;

typedef struct LrReport {
  LrRun run;
  LrMoment peak;       /* the run's peak */
  LrMoment at;         /* the moment asked for (the peak by default) */
  int64_t heap_peak, heap_peak_seq, file_peak;
  int64_t peak_reserved;  /* PROT_NONE address space live at the peak (not in it) */
  int64_t reserved_peak;  /* the most of it live at once */
  int64_t released_bytes, released_calls; /* madvise DONTNEED/FREE/REMOVE over
                                             committed anonymous mappings */
  LrRss rss_at;        /* the RSS sample nearest to `at` by seq */
  LrRss rss_max;       /* the highest RSS sample */
  LrGroups contributors;
  LrGroups leaks;
  LrSite *temporaries, *hot_calls, *hot_bytes;
  size_t ntemporaries, nhot_calls, nhot_bytes;
  int64_t temp_calls, temp_bytes; /* all stacks */
  LrBlock *largest;
  size_t nlargest;
  LrPhase *phases;
  size_t nphases;
  LrMapped *mapped;
  size_t nmapped;
  int64_t rss_file_baseline;    /* RssFile taken as "not the mapped files"; -1: no samples */
  int rss_file_baseline_lowest; /* 1: no sample came before the first mapping, so the
                                   baseline is the lowest RssFile of the run */
  LrTick *timeline;
  size_t ntimeline;
  LrStacks *stacks; /* owns every LrStack above */
} LrReport;

/* Builds the whole model of trace t. */
int lr_report_build(LrTrace *t, const LrReportOpts *opts, LrReport **out, LrErr *err);
void lr_report_free(LrReport *r);

#endif
