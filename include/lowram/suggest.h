/*
** suggest.h: the model behind `lowram suggest`: predicted peaks for
** configurations never run, what fits a memory budget, and ranked advice.
**
** Built from a sweep directory (sweep.h) or from a single trace:
**   - every usable run is reduced to per-phase, per-site live bytes at each
**     phase's peak moment (sitebytes.h; sites matched by stack key);
**   - for every phase and every site, bytes are fitted over the swept
**     parameters (fit.h); sites below LR_SUGGEST_SMALL of the largest peak
**     are pooled into one "(small sites)" site so noise does not cost fits;
**   - the predicted heap peak of a configuration x is
**         max over phases P of  sum over sites S of max(0, fit_{P,S}(x))
**     (sites peak at different moments, so per-site maxima are never
**     summed), and the phase reaching it is reported;
**   - a phase's peak moment may move between runs (a buffer of the
**     previous phase freed early, a late stdio buffer): when the phase holds
**     the same number of events in every run, each distinct peak event (its
**     ordinal in the phase) is read in every run and fitted as a moment of
**     its own, and the phase predicts the highest of its moments; phase
**     entries then repeat a name (lr_suggest_phase_name);
**   - the RSS estimate is the measured peak VmRSS of each run fitted over
**     the same parameters with the same term selection (so it carries the
**     allocator overhead and resident file pages as they scale), when every
**     run has >= 20 RSS samples and that fit is validated and regular;
**     otherwise (short runs: the sampler may miss the peak) it is the
**     predicted heap plus the median gap between sampled peak RSS and heap
**     peak over the runs, and a note says so. Either way an estimate.
** From one trace (no sweep) the model is an estimate: the parameters the
** program recorded with lowram_param() give the point, and each site's
** bytes are divided by seq*batch, seq or batch when they are a multiple of
** it (in that order: linear, since one run cannot show curvature).
*/
#ifndef LR_SUGGEST_H
#define LR_SUGGEST_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/err.h"
#include "lowram/fit.h"

#define LR_SUGGEST_SMALL 0.002 /* share of the largest peak below which sites pool */
#define LR_SUGGEST_MAX_NOTES 48

typedef struct LrSuggestFix {
  char name[64];
  char value[256];
} LrSuggestFix;

/* Invariants: (1) params are the numeric parameters that vary among the
** runs kept (at most LR_FIT_MAX_PARAMS); (2) fits hold nphases * nsites
** results in phase-major order; (3) every run kept has every phase. */
typedef struct LrSuggest LrSuggest;

/* path: a sweep directory (holding index.tsv) or one trace. `fix` keeps
** only the runs whose parameter has that value (and pins it). */
LrSuggest *lr_suggest_load(const char *path, const LrSuggestFix *fix, int nfix, LrErr *err);
void lr_suggest_free(LrSuggest *m);

int lr_suggest_is_estimate(const LrSuggest *m); /* single trace */
const char *lr_suggest_program(const LrSuggest *m);
int lr_suggest_nruns(const LrSuggest *m);
/* Remarks for people: runs left out, parameters that never change, thin sweeps. */
int lr_suggest_nnotes(const LrSuggest *m);
const char *lr_suggest_note(const LrSuggest *m, int i);

int lr_suggest_nparams(const LrSuggest *m);
const char *lr_suggest_param_name(const LrSuggest *m, int p);
int lr_suggest_param_index(const LrSuggest *m, const char *name); /* -1 if none */
LrFitRole lr_suggest_param_role(const LrSuggest *m, int p);
int lr_suggest_param_distinct(const LrSuggest *m, int p);
double lr_suggest_param_min(const LrSuggest *m, int p);
double lr_suggest_param_max(const LrSuggest *m, int p);
/* The swept values of p in increasing order; returns their count. */
int lr_suggest_param_values(const LrSuggest *m, int p, double *out, int max);
/* A recorded text parameter shared by the runs ("quant", "kv"), or NULL. */
const char *lr_suggest_recorded_text(const LrSuggest *m, const char *name);

int lr_suggest_nphases(const LrSuggest *m);
const char *lr_suggest_phase_name(const LrSuggest *m, int ph);
int lr_suggest_nsites(const LrSuggest *m);
const char *lr_suggest_site_key(const LrSuggest *m, int s);
const LrFitResult *lr_suggest_fit(const LrSuggest *m, int ph, int s);
/* Predicted bytes of site s at phase ph's peak for x (clamped at 0). */
double lr_suggest_site_at(const LrSuggest *m, int ph, int s, const double *x);
/* Run statistics of site s from the kept run with the highest peak:
** allocations over the run, blocks live at phase ph's peak, largest block. */
void lr_suggest_site_stats(const LrSuggest *m, int ph, int s, int64_t *allocs,
                           int64_t *live_blocks, int64_t *max_block);
/* 1 if the site's blocks live, on average, under 1/LR_SUGGEST_TEMP_SHARE of
** that run (temporaries: per-step scratch), 0 otherwise. */
#define LR_SUGGEST_TEMP_SHARE 20
int lr_suggest_site_is_temporary(const LrSuggest *m, int s);

typedef struct LrSuggestPeak {
  double heap;  /* predicted heap + anon peak */
  int phase;    /* the phase that sets it */
  double file;  /* file-mapped bytes at that moment (fitted) */
  double rss;   /* estimated peak RSS; -1 without RSS samples */
  int extrapolated; /* some parameter lies outside its swept range */
} LrSuggestPeak;

/* How the RSS estimate is made: "fitted", "heap + median gap",
** "heap x measured ratio" (single trace) or "none" (no samples). */
const char *lr_suggest_rss_method(const LrSuggest *m);

/* x: one value per model parameter. */
void lr_suggest_predict(const LrSuggest *m, const double *x, LrSuggestPeak *out);

/* Largest integer value v in [1, cap] of parameter p (others from x) whose
** predicted heap peak is <= limit: doubling from 1 until it does not fit,
** then bisecting, so the first crossing counts.
** Returns 1 and *out (cap when even cap fits), or 0 when v = 1 does not fit. */
int lr_suggest_largest(const LrSuggest *m, const double *x, int p, double limit, double cap,
                       double *out);

/* The bytes no parameter changes: the constant terms of the phase that
** peaks at x. */
double lr_suggest_constant_part(const LrSuggest *m, const double *x);

/* ---- advice ---- */
typedef enum LrAdviceKind {
  LR_ADVICE_SEQ, LR_ADVICE_BATCH, LR_ADVICE_QUANT_WEIGHTS, LR_ADVICE_QUANT_KV,
  LR_ADVICE_MMAP, LR_ADVICE_REUSE, LR_ADVICE_UBATCH
} LrAdviceKind;

typedef struct LrAdvice {
  LrAdviceKind kind;
  double saved;      /* bytes saved at the peak (RSS for file-backed weights) */
  int rss_only;      /* the saving shows in RSS, not in the heap peak */
  char text[600];    /* one sentence with the figures */
} LrAdvice;

/* Advice for configuration x, most bytes saved first; budget 0 = none (then
** the ubatch advice aims at a quarter of the scores). Returns the count. */
int lr_suggest_advise(const LrSuggest *m, const double *x, double budget, LrAdvice *out,
                      int max);

/* The usual rule of thumb: batch = 0.4 * budget / (3 * one input's bytes),
** one input being a sequence of seq int32 token ids. */
typedef struct LrRuleOfThumb {
  double input_bytes;
  double batch;
  LrSuggestPeak predicted; /* at that batch (and x's other values) */
} LrRuleOfThumb;
/* 0, or -1 when the model has no sequence or no batch parameter. */
int lr_suggest_rule_of_thumb(const LrSuggest *m, const double *x, double budget,
                             LrRuleOfThumb *out);

/* Writes the model file read by runner/memmodel.c (format in memmodel.h). */
int lr_suggest_emit(const LrSuggest *m, const char *path, double margin_pct, LrErr *err);

#endif
