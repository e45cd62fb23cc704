/*
** suggest_internal.h: the model's representation, shared by suggest.c
** (loading, fitting, predicting, emitting) and advice.c (advice, the rule
** of thumb, single-trace estimates). Not for other modules: use suggest.h.
*/
#ifndef LR_SUGGEST_INTERNAL_H
#define LR_SUGGEST_INTERNAL_H

#include "lowram/fit.h"
#include "predict/sitebytes.h"
#include "lowram/suggest.h"

struct LrSuggest {
  char program[256];
  int estimate;                 /* one trace: fits are estimates */
  int nruns;
  LrSiteBytes **runs;           /* the runs kept */
  LrPick *pick;                 /* per run kept: the process read (diff.h) */
  double *x;                    /* nruns * nparams */
  int nparams;
  char names[LR_FIT_MAX_PARAMS][64];
  int nphases;
  char phase[LR_SITEBYTES_MAX_PHASES][128]; /* names repeat: one entry per moment */
  int64_t phase_ord[LR_SITEBYTES_MAX_PHASES]; /* event ordinal of the moment, -1: each run's peak */
  int nsites;
  char **site_key;
  int small_site;               /* the pooled "(small sites)" */
  LrFitResult *fits;            /* nphases * nsites, phase-major */
  LrFitResult file_fit[LR_SITEBYTES_MAX_PHASES];
  LrFitResult rss_fit;
  int have_rss;
  double rss_ratio;             /* single trace: RSS / heap peak measured */
  int rss_gap_mode;             /* RSS = heap + rss_gap (samples too sparse to fit) */
  double rss_gap;
  int ref_run;                  /* the run with the highest peak */
  int *ref_site;                /* model site -> site index in ref_run, -1 */
  int coarse;                   /* sites keyed coarsely: stacks exploded */
  int nnotes;
  char notes[LR_SUGGEST_MAX_NOTES][400];
  LrFitSpace *space;
};

/* Single trace: fills m->fits, file_fit and rss_fit from one run's values
** (y: cells * 1, file: nphases * 1) by the divisibility rule of suggest.h. */
int lr_suggest_estimate_fits(LrSuggest *m, const double *y, const double *file);

/* suggest.c's helpers for suggest_load.c */
void lr_suggest_note_add(LrSuggest *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lr_suggest_add_run(LrSuggest *m, LrSiteBytes *r, LrErr *err);
/* a finite number >= 0: 0, else -1 */
int lr_suggest_parse_num(const char *s, double *out);

/* suggest_load.c: loading a sweep */
/* 0 if path is a regular file (checked without blocking on a FIFO); else
** -1 with a one-line reason naming it. */
int lr_suggest_regular_file(const char *path, LrErr *err);
/* Fills m->pick (ntraces entries) for the traces at paths (suggest.h,
** lr_suggest_load_process); words: ntraces * nwords parameter values. */
int lr_suggest_pick_processes(LrSuggest *m, char *const *paths, int ntraces,
                              const char *const *words, int nwords, const char *command,
                              int64_t process, LrErr *err);
/* The usable runs of sweep directory dir (m->runs, m->pick) and their raw
** parameter values (values_out: nruns * nraw strdup'd strings). */
int lr_suggest_load_sweep(LrSuggest *m, const char *dir, const LrSuggestFix *fix, int nfix,
                          const char *command, int64_t process, char ***values_out, int *nraw,
                          char (*raw_names)[64], LrErr *err);
/* Picks the numeric, varying parameters and fills m->x. */
int lr_suggest_choose_params(LrSuggest *m, char **values, int nraw, char (*raw)[64], LrErr *err);

#endif
