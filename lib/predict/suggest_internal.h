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

#endif
