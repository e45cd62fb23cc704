/*
** fit.h: the per-site scaling model behind `lowram suggest`.
**
** A sweep gives, for one allocation site (or a phase total), its live bytes
** y_i in run i, whose parameters are x_i = (seq, batch, ...). We model
**     y = sum_k c_k * term_k(x)
** where each term is a monomial from a small family: 1, p, p^2, p*q, p^2*q
** and p*q*r over the swept parameters p, q, r (1, s, b, s*b, s^2, s^2*b for
** sequence s and batch b). A parameter that never changes gives no terms; a
** parameter with fewer than 3 distinct values gives no squares (curvature
** cannot be told from two points).
**
** Term selection (lr_fit_site), "the fewest terms that explain the data":
**   1. Tolerance tol = max(abs_tol, rel_tol * max|y|).
**   2. For k = 1, 2, ... max_terms, among the subsets of k terms whose least
**      squares fit is full rank and whose every leave-one-out fold is still
**      identifiable (hat value h_ii < 1), take the one with the smallest
**      maximum leave-one-out error |y_i - yhat_(-i)(x_i)|, computed exactly
**      from one QR as r_i / (1 - h_ii). The first k whose best error is
**      <= tol wins ("validated").
**   3. Otherwise, if some subset fits the runs themselves within tol but
**      cannot be cross-checked (as many terms as informative runs), the
**      smallest such one is taken and marked not validated: the sweep is
**      too thin to tell.
**      Such an unchecked model never holds a squared term: with as many
**      terms as runs any data is matched exactly, noise included, and a
**      square fitted to noise is what extrapolates worst.
**   4. Otherwise the data is noisy (the bytes differ from run to run by
**      more than tol, as allocator arenas and garbage-collected heaps do):
**      the model is chosen by its out-of-sample error among subsets of
**      multilinear terms (1, p, p*q, ...: no squares), the fewest terms
**      whose maximum leave-one-out error is within 10% (+ tol) of the best
**      ("shrink to lower order when noisy"), and the constant alone unless
**      that model's error is under half the constant's (a line drawn
**      through noise would multiply it when extrapolated). A square is admitted only for
**      a parameter with >= 4 distinct values (curvature cannot be told
**      from noise on 3 points) and only when it halves that error. The
**      result is marked noisy, its band is that leave-one-out error, and
**      the site is classed irregular when the error exceeds
**      irregular_tol * max|y|.
** band: half the width of the range around a prediction. 0 for data
** explained within abs_tol (exact sweeps give zero-width ranges); else the
** maximum leave-one-out error, the error seen on runs left out.
** Subsets giving a squared term a negative coefficient are never chosen
** (bytes would fall and go negative as the parameter grows, which no buffer
** does, and the budget search extrapolates far).
** Least squares uses modified Gram-Schmidt (applied twice) in long double
** on columns scaled to unit max, which is plenty for <= 6 terms and byte
** counts below 2^53.
*/
#ifndef LR_FIT_H
#define LR_FIT_H

#include <stddef.h>

#include "lowram/err.h"

#define LR_FIT_MAX_PARAMS 4
#define LR_FIT_MAX_TERMS 32 /* candidate family size bound */
#define LR_FIT_MAX_SEL 6    /* terms in one fitted model */
#define LR_FIT_NAME_MAX 64

/* How a parameter is read when classifying (by name, see lr_fit_role_of). */
typedef enum LrFitRole { LR_ROLE_OTHER, LR_ROLE_SEQ, LR_ROLE_BATCH } LrFitRole;

typedef enum LrFitClass {
  LR_FIT_ZERO,            /* never held bytes at this moment */
  LR_FIT_CONSTANT,        /* weights, tables */
  LR_FIT_PER_TOKEN,       /* grows with the sequence (KV cache of one sequence) */
  LR_FIT_PER_BATCH,       /* grows with the batch (activations, logits) */
  LR_FIT_PER_TOKEN_BATCH, /* grows with both (batched KV cache) */
  LR_FIT_QUADRATIC_SEQ,   /* square of the sequence (prefill attention scores) */
  LR_FIT_OTHER_SCALING,   /* grows only with other parameters (e.g. ubatch) */
  LR_FIT_IRREGULAR,       /* no small model explains it */
} LrFitClass;

/* A monomial: the exponent of each parameter (all zero: the constant). */
typedef struct LrFitTerm {
  unsigned char exp[LR_FIT_MAX_PARAMS];
} LrFitTerm;

typedef struct LrFitOptions {
  double rel_tol;       /* share of max|y| a LOO error may reach (0.005) */
  double abs_tol;       /* bytes always tolerated (64) */
  double irregular_tol; /* share of max|y| above which the site is irregular (0.05) */
  int max_terms;        /* at most this many terms (4, capped at LR_FIT_MAX_SEL) */
  int max_degree;       /* terms of total degree <= this only; 0: the whole family (0).
                        ** Allocator arenas are fitted with 1: a constant or a line */
} LrFitOptions;

/* Fills the defaults given in LrFitOptions' comments. */
void lr_fit_options_default(LrFitOptions *o);

typedef struct LrFitResult {
  int nterms;
  LrFitTerm term[LR_FIT_MAX_SEL];
  double coef[LR_FIT_MAX_SEL];
  double ymax;     /* max |y| over the runs */
  double fit_err;  /* max |residual| over the runs (bytes) */
  double loo_err;  /* max leave-one-out error (bytes); -1 if not validated */
  int validated;   /* 1: leave-one-out checked; 0: too few runs to check */
  int noisy;       /* no model within tol: chosen by out-of-sample error (step 4) */
  double band;     /* half-width of the range at the sweep's scale (bytes), see above */
  LrFitClass cls;
} LrFitResult;

/* The design of one sweep: parameter names and each run's values.
** Invariants: (1) nparams <= LR_FIT_MAX_PARAMS, nobs >= 1;
** (2) the candidate family only uses parameters that take >= 2 distinct
** values, and squares only of those with >= 3. */
typedef struct LrFitSpace LrFitSpace;

/* x is nobs rows of nparams values (row-major). NULL with a reason on bad
** input (too many parameters, non-finite or negative values). */
LrFitSpace *lr_fit_space_new(int nparams, const char *const *names, int nobs,
                             const double *x, LrErr *err);
void lr_fit_space_free(LrFitSpace *s);

int lr_fit_space_nparams(const LrFitSpace *s);
const char *lr_fit_space_name(const LrFitSpace *s, int param);
int lr_fit_space_distinct(const LrFitSpace *s, int param); /* distinct values */
int lr_fit_space_nterms(const LrFitSpace *s);              /* candidate family */
LrFitTerm lr_fit_space_term(const LrFitSpace *s, int i);

/* Sequence, batch or other, from the name: "seq", "seq_len", "ctx",
** "context", "prompt", "prompt_len", "n_ctx", "len" are sequence;
** "batch", "batch_size", "bs", "n_batch" are batch; anything else ("ubatch")
** is other. Case-insensitive. */
LrFitRole lr_fit_role_of(const char *name);

/* Fits y (nobs values, in the space's run order) as described above. */
int lr_fit_site(const LrFitSpace *s, const double *y, const LrFitOptions *opt,
                LrFitResult *out, LrErr *err);

/* The fitted bytes at parameters x (nparams values; not clamped). */
double lr_fit_eval(const LrFitResult *r, int nparams, const double *x);
double lr_fit_term_eval(LrFitTerm t, int nparams, const double *x);

/* Class from the selected terms and the parameters' roles. */
LrFitClass lr_fit_classify(const LrFitTerm *terms, int nterms, int nparams,
                           const LrFitRole *roles);
const char *lr_fit_class_name(LrFitClass c); /* "per-token", ... */

/* "1", "seq", "seq*batch", "seq^2*batch" (names from `names`). */
char *lr_fit_term_name(LrFitTerm t, int nparams, const char *const *names,
                       char *buf, size_t len);
/* Parses the form above back; 0 on success, -1 for an unknown name,
** an exponent other than 1 or 2, or junk. */
int lr_fit_term_parse(const char *s, int nparams, const char *const *names,
                      LrFitTerm *out);

#endif
