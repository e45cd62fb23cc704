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
** Allocator arenas (Python's obmalloc arenas, glibc's malloc heaps, V8's
** heap pages) are pooled into one site per allocator (sitebytes.h) and
** fitted with low-order terms only (a constant or a line: max_degree 1),
** never charged to the object that happened to trigger them. When stacks
** explode in any run (an interpreter), every run is keyed coarsely
** (lr_sitebytes_read_coarse) and a note says so.
** Each prediction carries a range: for every site the band of its fit
** (fit.h: 0 on exactly explained data, else its leave-one-out error),
** scaled up with the site's prediction when that exceeds the sweep's
** largest value; the phase's low and high are its sum minus and plus the
** bands, and the peak's range is the highest low and the highest high.
** From one trace (no sweep) the model is an estimate: the parameters the
** program recorded with lowram_param() give the point, and each site's
** bytes are divided by seq*batch, seq or batch when they are a multiple of
** it (in that order: linear, since one run cannot show curvature).
*/
#ifndef LR_SUGGEST_H
#define LR_SUGGEST_H

#include <stddef.h>
#include <stdint.h>

#include "lowram/diff.h" /* LrPick */
#include "lowram/err.h"
#include "lowram/fit.h"

#define LR_SUGGEST_SMALL 0.002 /* share of the largest peak below which sites pool */
#define LR_SUGGEST_MAX_NOTES 48

/* Allocator arenas pooled as sites of their own (see above). */
typedef enum LrArena {
  LR_ARENA_NONE, LR_ARENA_PYTHON, LR_ARENA_GLIBC, LR_ARENA_V8, LR_ARENA_KINDS
} LrArena;

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
/* The same, reading in each trace the process that runs the program: the
** one `process` (processes.id) names in every trace when > 0, else the
** process running the same command in every run (`command`, a basename of
** argv[0], when given), found by the run's parameter values in its argv
** (lr_diff_pick). A trace with no such process fails the load. */
LrSuggest *lr_suggest_load_process(const char *path, const LrSuggestFix *fix, int nfix,
                                   const char *command, int64_t process, LrErr *err);
/* The process read in run `run` (0-based, runs kept); id 0 for a trace
** without a processes table. NULL when run is out of range. */
const LrPick *lr_suggest_pick(const LrSuggest *m, int run);
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
/* 1 if at least half of what the site holds at phase ph's peak (in the
** kept run with the highest peak) is never freed or freed only in the
** run's last quarter: held to the end, as a cache or weights are. */
int lr_suggest_site_is_held(const LrSuggest *m, int ph, int s);
/* The allocator arena a site pools, LR_ARENA_NONE for an ordinary site. */
LrArena lr_suggest_site_arena(const LrSuggest *m, int s);
/* Half-width of site s's range at phase ph for x (0 on exact data). */
double lr_suggest_site_band(const LrSuggest *m, int ph, int s, const double *x);
/* 1 when the sites are keyed coarsely because stacks exploded. */
int lr_suggest_coarse(const LrSuggest *m);
/* The file with the most bytes mapped at phase ph's peak in the kept run
** with the highest peak ("" when none): evidence of mapped weights. */
const char *lr_suggest_mapped_file(const LrSuggest *m, int ph);

typedef struct LrSuggestPeak {
  double heap;  /* predicted heap + anon peak */
  double low, high; /* its range (low <= heap <= high; equal on exact data) */
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

/* ---- advice ----
** Kinds and numbers only: no sentences and no tool flags (the front end
** words them, and adds a runner's flags when it knows the runner). */
typedef enum LrAdviceKind {
  LR_ADVICE_SEQ,           /* lower the sequence parameter: param, from -> to */
  LR_ADVICE_BATCH,         /* lower the batch parameter: param, from -> to */
  LR_ADVICE_QUANT_WEIGHTS, /* store the weights in fewer bits: from_bits -> to_bits */
  LR_ADVICE_QUANT_KV,      /* store the KV cache in fewer bits: from_bits -> to_bits */
  LR_ADVICE_MMAP,          /* map the weights from their file instead of reading them */
  LR_ADVICE_REUSE,         /* one reused buffer instead of many live temporaries */
  LR_ADVICE_UBATCH,        /* lower the chunk parameter (param, from -> to) */
  LR_ADVICE_CHUNK_PREFILL, /* no chunk parameter: prefill `to` tokens at a time */
  LR_ADVICE_KINDS
} LrAdviceKind;

/* Evidence behind an advice (bit flags). */
enum {
  LR_EVIDENCE_FILE_MAPPING = 1 << 0, /* the weights are a file mapping live at the peak */
  LR_EVIDENCE_ANNOTATION = 1 << 1,   /* the program recorded a weight format (quant...) */
  LR_EVIDENCE_RECORDED_TYPE = 1 << 2,/* from_bits come from a recorded format, not a guess */
  LR_EVIDENCE_PER_TOKEN = 1 << 3,    /* the bytes grow with the sequence parameter */
  LR_EVIDENCE_PER_BATCH = 1 << 4,    /* ... and with the batch parameter */
  LR_EVIDENCE_HELD_TO_END = 1 << 5,  /* held to the end of the run (not a temporary) */
  LR_EVIDENCE_MEASURED_COST = 1 << 6,/* cost_ns holds measured phase times */
  LR_EVIDENCE_FITS_BUDGET = 1 << 7,  /* `to` is the largest value that fits the budget */
};

typedef struct LrAdvice {
  LrAdviceKind kind;
  double saved;      /* bytes saved at the peak (RSS for file-backed weights) */
  int rss_only;      /* the saving shows in RSS, not in the heap peak */
  unsigned evidence; /* LR_EVIDENCE_* */
  int phase;         /* the phase whose peak it concerns */
  int param;         /* the model parameter concerned, -1 */
  double from, to;   /* its value now and the value advised (kinds with a param, chunk) */
  double peak_before, peak_after; /* predicted heap peak now and with the change */
  double bytes;      /* what the advice acts on: bytes growing with param, the KV
                     ** cache, the weights, the live temporaries, the scores */
  double detail[2];  /* SEQ: KV cache bytes and quadratic (scores) bytes in `bytes` */
  int site;          /* the site concerned (weights, reuse), -1 */
  double from_bits, to_bits; /* QUANT_*: bits per value now and advised */
  double alt_saved;  /* QUANT_WEIGHTS from f32: the saving at 4.5 bits */
  int64_t allocs, live_blocks, max_block; /* REUSE: over the reference run */
  int run;           /* REUSE, UBATCH: the 0-based run the figures come from */
  double cost_ns[2], cost_at[2]; /* UBATCH: prefill time at two swept chunk sizes */
  int cost_run[2];
} LrAdvice;

/* Advice for configuration x, most bytes saved first; budget 0 = none (then
** the chunk advice aims at a quarter). Returns the count. Weights are named
** only with evidence (a file mapping live at the peak, or a recorded weight
** format); the KV cache is every site that grows with the sequence (and
** with the batch when one is swept), is held to the end and is not
** a temporary. */
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
