/*
** fit.c: least squares over small monomial families with leave-one-out
** term selection (see fit.h for the rule and why).
*/
#include "lowram/fit.h"

#include <assert.h>

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct LrFitSpace {
  int nparams;
  int nobs;
  char names[LR_FIT_MAX_PARAMS][LR_FIT_NAME_MAX];
  const char *name_ptr[LR_FIT_MAX_PARAMS];
  int distinct[LR_FIT_MAX_PARAMS];
  LrFitRole role[LR_FIT_MAX_PARAMS];
  int nterms;
  LrFitTerm terms[LR_FIT_MAX_TERMS];
  double *x; /* nobs * nparams */
};

/* The invariants of fit.h, for assert() in debug builds: (1) sizes in
** range; (2) a term uses only parameters with >= 2 distinct values, and a
** square only of those with >= 3. */
static int space_check(const LrFitSpace *s) {
  if (s->nparams < 0 || s->nparams > LR_FIT_MAX_PARAMS || s->nobs < 1) return 0;
  if (s->nterms < 0 || s->nterms > LR_FIT_MAX_TERMS) return 0;
  for (int t = 0; t < s->nterms; t++)
    for (int p = 0; p < s->nparams; p++) {
      int e = s->terms[t].exp[p];
      if ((e >= 1 && s->distinct[p] < 2) || (e >= 2 && s->distinct[p] < 3)) return 0;
    }
  return 1;
}

void lr_fit_options_default(LrFitOptions *o) {
  o->rel_tol = 0.005;
  o->abs_tol = 64;
  o->irregular_tol = 0.05;
  o->max_terms = 4;
  o->max_degree = 0;
}

static int count_distinct(const double *x, int nobs, int stride, int col) {
  int d = 0;
  for (int i = 0; i < nobs; i++) {
    int seen = 0;
    for (int j = 0; j < i && !seen; j++)
      if (x[j * stride + col] == x[i * stride + col]) seen = 1;
    if (!seen) d++;
  }
  return d;
}

static void add_term(LrFitSpace *s, int p, int ep, int q, int eq, int r) {
  if (s->nterms >= LR_FIT_MAX_TERMS) return;
  LrFitTerm t;
  memset(&t, 0, sizeof t);
  if (p >= 0) t.exp[p] = (unsigned char)ep;
  if (q >= 0) t.exp[q] = (unsigned char)eq;
  if (r >= 0) t.exp[r] = 1;
  s->terms[s->nterms++] = t;
}

/* The family in order of growing degree, so that ties between subsets of
** equal size prefer the simpler terms. */
static void build_family(LrFitSpace *s) {
  int n = s->nparams;
  const int *d = s->distinct;
  add_term(s, -1, 0, -1, 0, -1);
  for (int p = 0; p < n; p++)
    if (d[p] >= 2) add_term(s, p, 1, -1, 0, -1);
  for (int p = 0; p < n; p++)
    for (int q = p + 1; q < n; q++)
      if (d[p] >= 2 && d[q] >= 2) add_term(s, p, 1, q, 1, -1);
  for (int p = 0; p < n; p++)
    if (d[p] >= 3) add_term(s, p, 2, -1, 0, -1);
  for (int p = 0; p < n; p++)
    for (int q = 0; q < n; q++)
      if (p != q && d[p] >= 3 && d[q] >= 2) add_term(s, p, 2, q, 1, -1);
  for (int p = 0; p < n; p++)
    for (int q = p + 1; q < n; q++)
      for (int r = q + 1; r < n; r++)
        if (d[p] >= 2 && d[q] >= 2 && d[r] >= 2) add_term(s, p, 1, q, 1, r);
}

LrFitSpace *lr_fit_space_new(int nparams, const char *const *names, int nobs,
                             const double *x, LrErr *err) {
  if (nparams < 0 || nparams > LR_FIT_MAX_PARAMS) {
    lr_err_set(err, "fit: %d parameters (at most %d)", nparams, LR_FIT_MAX_PARAMS);
    return NULL;
  }
  if (nobs < 1) {
    lr_err_set(err, "fit: no runs to fit");
    return NULL;
  }
  for (int i = 0; i < nobs * nparams; i++)
    if (!isfinite(x[i]) || x[i] < 0) {
      lr_err_set(err, "fit: parameter %s of run %d is %g (need a finite value >= 0)",
                 names[i % nparams], i / nparams + 1, x[i]);
      return NULL;
    }
  LrFitSpace *s = calloc(1, sizeof *s);
  if (!s) {
    lr_err_set(err, "fit: out of memory");
    return NULL;
  }
  s->x = malloc(sizeof(double) * (size_t)(nobs * (nparams ? nparams : 1)));
  if (!s->x) {
    free(s);
    lr_err_set(err, "fit: out of memory");
    return NULL;
  }
  memcpy(s->x, x, sizeof(double) * (size_t)(nobs * nparams));
  s->nparams = nparams;
  s->nobs = nobs;
  for (int p = 0; p < nparams; p++) {
    snprintf(s->names[p], sizeof s->names[p], "%s", names[p]);
    s->name_ptr[p] = s->names[p];
    s->distinct[p] = count_distinct(x, nobs, nparams, p);
    s->role[p] = lr_fit_role_of(names[p]);
  }
  build_family(s);
  assert(space_check(s));
  return s;
}

void lr_fit_space_free(LrFitSpace *s) {
  if (!s) return;
  free(s->x);
  free(s);
}

int lr_fit_space_nparams(const LrFitSpace *s) { return s->nparams; }
const char *lr_fit_space_name(const LrFitSpace *s, int p) { return s->names[p]; }
int lr_fit_space_distinct(const LrFitSpace *s, int p) { return s->distinct[p]; }
int lr_fit_space_nterms(const LrFitSpace *s) { return s->nterms; }
LrFitTerm lr_fit_space_term(const LrFitSpace *s, int i) { return s->terms[i]; }

LrFitRole lr_fit_role_of(const char *name) {
  static const char *const seq[] = {"seq", "seq_len", "seqlen", "ctx", "n_ctx", "context",
                                    "ctx_len", "prompt", "prompt_len", "seq-len",
                                    "prompt-len", "len"};
  static const char *const batch[] = {"batch", "batch_size", "bs", "n_batch", "batch-size"};
  for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
    if (!strcasecmp(name, seq[i])) return LR_ROLE_SEQ;
  for (size_t i = 0; i < sizeof batch / sizeof batch[0]; i++)
    if (!strcasecmp(name, batch[i])) return LR_ROLE_BATCH;
  return LR_ROLE_OTHER;
}

double lr_fit_term_eval(LrFitTerm t, int nparams, const double *x) {
  double v = 1;
  for (int p = 0; p < nparams && p < LR_FIT_MAX_PARAMS; p++)
    for (int e = 0; e < t.exp[p]; e++) v *= x[p];
  return v;
}

double lr_fit_eval(const LrFitResult *r, int nparams, const double *x) {
  long double v = 0;
  for (int k = 0; k < r->nterms; k++)
    v += (long double)r->coef[k] * lr_fit_term_eval(r->term[k], nparams, x);
  return (double)v;
}

/* One least squares solve of y on the columns `cols` of the family.
** Returns 0 if full rank; fills coef, max |residual| and max |LOO error|
** (loo = -1 when some fold is not identifiable). */
typedef struct Solve {
  double coef[LR_FIT_MAX_SEL];
  double fit_err;
  double loo_err;
} Solve;

static int solve(const LrFitSpace *s, const double *y, const int *cols, int k,
                 long double *work, Solve *out) {
  int n = s->nobs;
  long double *q = work;          /* n * k, column-major */
  long double r[LR_FIT_MAX_SEL][LR_FIT_MAX_SEL];
  long double scale[LR_FIT_MAX_SEL];
  memset(r, 0, sizeof r);
  for (int j = 0; j < k; j++) {
    long double mx = 0;
    for (int i = 0; i < n; i++) {
      long double v = lr_fit_term_eval(s->terms[cols[j]], s->nparams, s->x + i * s->nparams);
      q[j * n + i] = v;
      if (fabsl(v) > mx) mx = fabsl(v);
    }
    if (mx == 0) return -1;
    scale[j] = mx;
    for (int i = 0; i < n; i++) q[j * n + i] /= mx;
  }
  /* modified Gram-Schmidt, twice, so Q stays orthogonal for near-collinear
  ** columns; a column that loses almost all its norm makes the subset
  ** rank-deficient for these runs */
  for (int j = 0; j < k; j++) {
    long double *v = q + j * n;
    long double norm0 = 0;
    for (int i = 0; i < n; i++) norm0 += v[i] * v[i];
    norm0 = sqrtl(norm0);
    for (int pass = 0; pass < 2; pass++)
      for (int m = 0; m < j; m++) {
        long double dot = 0;
        for (int i = 0; i < n; i++) dot += q[m * n + i] * v[i];
        r[m][j] += dot;
        for (int i = 0; i < n; i++) v[i] -= dot * q[m * n + i];
      }
    long double norm = 0;
    for (int i = 0; i < n; i++) norm += v[i] * v[i];
    norm = sqrtl(norm);
    if (norm <= 1e-9L * norm0 || norm == 0) return -1;
    r[j][j] = norm;
    for (int i = 0; i < n; i++) v[i] /= norm;
  }
  long double qty[LR_FIT_MAX_SEL];
  for (int j = 0; j < k; j++) {
    long double dot = 0;
    for (int i = 0; i < n; i++) dot += q[j * n + i] * (long double)y[i];
    qty[j] = dot;
  }
  long double c[LR_FIT_MAX_SEL];
  for (int j = k - 1; j >= 0; j--) {
    long double v = qty[j];
    for (int m = j + 1; m < k; m++) v -= r[j][m] * c[m];
    c[j] = v / r[j][j];
  }
  for (int j = 0; j < k; j++) out->coef[j] = (double)(c[j] / scale[j]);
  long double fit = 0, loo = 0;
  int loo_ok = 1;
  for (int i = 0; i < n; i++) {
    long double yhat = 0, h = 0;
    for (int j = 0; j < k; j++) {
      yhat += qty[j] * q[j * n + i];
      h += q[j * n + i] * q[j * n + i];
    }
    long double res = fabsl((long double)y[i] - yhat);
    if (res > fit) fit = res;
    if (h > 1 - 1e-9L) loo_ok = 0;
    else if (res / (1 - h) > loo) loo = res / (1 - h);
  }
  out->fit_err = (double)fit;
  out->loo_err = loo_ok ? (double)loo : -1;
  return 0;
}

/* A negative coefficient on a squared term makes bytes fall, and then go
** negative, as the parameter grows: no buffer does that, and extrapolating
** it (the budget search goes far beyond the sweep) would call huge
** configurations small. Such subsets are not candidates. */
static int bends_down(const LrFitSpace *s, const int *cols, int k, const Solve *sv) {
  for (int j = 0; j < k; j++)
    for (int p = 0; p < s->nparams; p++)
      if (s->terms[cols[j]].exp[p] >= 2 && sv->coef[j] < 0) return 1;
  return 0;
}

/* Next k-subset of {0..n-1} in lexicographic order; 0 when exhausted. */
static int next_subset(int *c, int k, int n) {
  int i = k - 1;
  while (i >= 0 && c[i] == n - k + i) i--;
  if (i < 0) return 0;
  c[i]++;
  for (int j = i + 1; j < k; j++) c[j] = c[j - 1] + 1;
  return 1;
}

static void take(LrFitResult *out, const LrFitSpace *s, const int *cols, int k,
                 const Solve *sv, int validated) {
  out->nterms = k;
  for (int j = 0; j < k; j++) {
    out->term[j] = s->terms[cols[j]];
    out->coef[j] = sv->coef[j];
  }
  out->fit_err = sv->fit_err;
  out->loo_err = validated ? sv->loo_err : -1;
  out->validated = validated;
}

static int term_degree(LrFitTerm t, int nparams) {
  int d = 0;
  for (int p = 0; p < nparams; p++) d += t.exp[p];
  return d;
}

/* A noisy constant: a site live at the peak moment in some runs and not
** (or less) in others (an 8 MiB ArrayBuffer freed just before one run's
** peak, V8 pages just collected). The peak is planned with its largest
** value, not the mean, which moves with whichever runs happened to miss
** it; its leave-one-out error is that of this rule (each run against the
** largest of the others), so the range still reaches the smallest. */
static void at_largest(LrFitResult *out, const LrFitSpace *s, const double *y) {
  double top = y[0], low = y[0], loo = 0;
  for (int i = 0; i < s->nobs; i++) {
    if (y[i] > top) top = y[i];
    if (y[i] < low) low = y[i];
    double other = -1;
    for (int j = 0; j < s->nobs; j++)
      if (j != i && y[j] > other) other = y[j];
    if (other >= 0 && fabs(y[i] - other) > loo) loo = fabs(y[i] - other);
  }
  out->coef[0] = top;
  out->fit_err = top - low;
  if (out->validated) out->loo_err = loo;
}

static int has_square(const LrFitSpace *s, const int *cols, int k) {
  for (int j = 0; j < k; j++)
    for (int p = 0; p < s->nparams; p++)
      if (s->terms[cols[j]].exp[p] >= 2) return 1;
  return 0;
}

/* A square of a parameter with < 4 distinct values: in a noisy fit it
** would be curvature drawn through noise. */
static int square_unsupported(const LrFitSpace *s, const int *cols, int k) {
  for (int j = 0; j < k; j++)
    for (int p = 0; p < s->nparams; p++)
      if (s->terms[cols[j]].exp[p] >= 2 && s->distinct[p] < 4) return 1;
  return 0;
}

/* Best validated subset per size, over subsets of the allowed terms that
** pass `keep` (0: square-free only, 1: with a supported square). */
typedef struct ByK {
  double loo[LR_FIT_MAX_SEL + 1]; /* -1: none */
  int cols[LR_FIT_MAX_SEL + 1][LR_FIT_MAX_SEL];
  Solve sv[LR_FIT_MAX_SEL + 1];
} ByK;

/* The fewest terms whose error is within 10% (+ tol) of the best; -1 if none. */
static int parsimonious(const ByK *b, int kmax, double tol) {
  double best = -1;
  for (int k = 1; k <= kmax; k++)
    if (b->loo[k] >= 0 && (best < 0 || b->loo[k] < best)) best = b->loo[k];
  if (best < 0) return -1;
  for (int k = 1; k <= kmax; k++)
    if (b->loo[k] >= 0 && b->loo[k] <= best * 1.10 + tol) return k;
  return -1;
}

int lr_fit_site(const LrFitSpace *s, const double *y, const LrFitOptions *opt,
                LrFitResult *out, LrErr *err) {
  LrFitOptions def;
  if (!opt) {
    lr_fit_options_default(&def);
    opt = &def;
  }
  memset(out, 0, sizeof *out);
  double ymax = 0;
  for (int i = 0; i < s->nobs; i++) {
    if (!isfinite(y[i])) return lr_err_set(err, "fit: value %d is not finite", i + 1);
    if (fabs(y[i]) > ymax) ymax = fabs(y[i]);
  }
  out->ymax = ymax;
  out->loo_err = -1;
  if (ymax == 0) {
    out->cls = LR_FIT_ZERO;
    out->validated = s->nobs >= 2;
    out->loo_err = s->nobs >= 2 ? 0 : -1;
    return 0;
  }
  double tol = opt->abs_tol > opt->rel_tol * ymax ? opt->abs_tol : opt->rel_tol * ymax;
  /* the allowed terms, in family order */
  int allowed[LR_FIT_MAX_TERMS], nallowed = 0;
  for (int t = 0; t < s->nterms; t++)
    if (opt->max_degree <= 0 || term_degree(s->terms[t], s->nparams) <= opt->max_degree)
      allowed[nallowed++] = t;
  int kmax = opt->max_terms;
  if (kmax > LR_FIT_MAX_SEL) kmax = LR_FIT_MAX_SEL;
  if (kmax > nallowed) kmax = nallowed;
  if (kmax > s->nobs) kmax = s->nobs;
  long double *work = malloc(sizeof(long double) * (size_t)s->nobs * LR_FIT_MAX_SEL);
  if (!work) return lr_err_set(err, "fit: out of memory");

  ByK all, flat, curved; /* any subset; square-free; with a supported square */
  for (int k = 0; k <= LR_FIT_MAX_SEL; k++) all.loo[k] = flat.loo[k] = curved.loo[k] = -1;
  int have_thin = 0, thin_cols[LR_FIT_MAX_SEL], thin_k = 0;
  Solve thin = {{0}, 0, -1}; /* smallest k fitting within tol unchecked (step 3) */
  int done = 0;
  for (int k = 1; k <= kmax && !done; k++) {
    int c[LR_FIT_MAX_SEL], cols[LR_FIT_MAX_SEL];
    for (int j = 0; j < k; j++) c[j] = j;
    do {
      for (int j = 0; j < k; j++) cols[j] = allowed[c[j]];
      Solve sv;
      if (solve(s, y, cols, k, work, &sv) != 0 || bends_down(s, cols, k, &sv)) continue;
      int sq = has_square(s, cols, k);
      if (sv.loo_err >= 0) {
        ByK *grp[2] = {&all, sq ? (square_unsupported(s, cols, k) ? NULL : &curved) : &flat};
        for (int g = 0; g < 2; g++)
          if (grp[g] && (grp[g]->loo[k] < 0 || sv.loo_err < grp[g]->loo[k])) {
            grp[g]->loo[k] = sv.loo_err;
            memcpy(grp[g]->cols[k], cols, sizeof(int) * (size_t)k);
            grp[g]->sv[k] = sv;
          }
      } else if (!have_thin && !sq && sv.fit_err <= tol) {
        have_thin = 1;
        thin_k = k;
        memcpy(thin_cols, cols, sizeof(int) * (size_t)k);
        thin = sv;
      }
    } while (next_subset(c, k, nallowed));
    if (all.loo[k] >= 0 && all.loo[k] <= tol) {
      take(out, s, all.cols[k], k, &all.sv[k], 1);
      done = 1;
    }
  }
  if (!done && have_thin) {
    take(out, s, thin_cols, thin_k, &thin, 0);
    done = 1;
  }
  if (!done) {
    /* noisy: out-of-sample error decides, square-free first */
    int kf = parsimonious(&flat, kmax, tol), kc = parsimonious(&curved, kmax, tol);
    if (kf > 0 && kc > 0 && curved.loo[kc] * 2 <= flat.loo[kf]) kf = -1;
    /* shrink to the constant unless scaling halves its error: on a few
    ** noisy runs a line through the origin often "wins" by chance, and
    ** extrapolating it multiplies the noise */
    int c0 = 0;
    Solve sc;
    if (kf > 0 && !(kf == 1 && term_degree(s->terms[flat.cols[1][0]], s->nparams) == 0) &&
        solve(s, y, &c0, 1, work, &sc) == 0 && sc.loo_err >= 0 && flat.loo[kf] * 2 > sc.loo_err) {
      kf = -1;
      kc = -1;
      take(out, s, &c0, 1, &sc, 1);
      out->noisy = 1;
      done = 1;
    }
    if (done) {
    } else if (kf > 0) take(out, s, flat.cols[kf], kf, &flat.sv[kf], 1);
    else if (kc > 0) take(out, s, curved.cols[kc], kc, &curved.sv[kc], 1);
    if (!done && (kf > 0 || kc > 0)) {
      out->noisy = 1;
      done = 1;
    }
    if (out->noisy && out->nterms == 1 && term_degree(out->term[0], s->nparams) == 0)
      at_largest(out, s, y);
  }
  if (!done) {
    /* a single run, or nothing identifiable: the constant through the data */
    int c0 = 0;
    Solve sv;
    if (solve(s, y, &c0, 1, work, &sv) == 0) take(out, s, &c0, 1, &sv, 0);
  }
  free(work);
  out->band = out->validated && out->loo_err > opt->abs_tol ? out->loo_err : 0;
  LrFitRole roles[LR_FIT_MAX_PARAMS];
  for (int p = 0; p < s->nparams; p++) roles[p] = s->role[p];
  out->cls = lr_fit_classify(out->term, out->nterms, s->nparams, roles);
  double err_seen = out->validated ? out->loo_err : out->fit_err;
  if (err_seen > opt->irregular_tol * ymax && err_seen > opt->abs_tol)
    out->cls = LR_FIT_IRREGULAR;
  return 0;
}

LrFitClass lr_fit_classify(const LrFitTerm *terms, int nterms, int nparams,
                           const LrFitRole *roles) {
  int seq = 0, batch = 0, both = 0, quad = 0, other = 0, any = 0;
  for (int k = 0; k < nterms; k++) {
    int ts = 0, tb = 0;
    for (int p = 0; p < nparams; p++) {
      if (!terms[k].exp[p]) continue;
      any = 1;
      if (roles[p] == LR_ROLE_SEQ) {
        ts = 1;
        if (terms[k].exp[p] >= 2) quad = 1;
      } else if (roles[p] == LR_ROLE_BATCH) {
        tb = 1;
      } else {
        other = 1;
      }
    }
    seq |= ts;
    batch |= tb;
    both |= ts && tb;
  }
  if (nterms == 0) return LR_FIT_ZERO;
  if (!any) return LR_FIT_CONSTANT;
  if (quad) return LR_FIT_QUADRATIC_SEQ;
  if (both || (seq && batch)) return LR_FIT_PER_TOKEN_BATCH;
  if (seq) return LR_FIT_PER_TOKEN;
  if (batch) return LR_FIT_PER_BATCH;
  (void)other;
  return LR_FIT_OTHER_SCALING;
}

const char *lr_fit_class_name(LrFitClass c) {
  switch (c) {
  case LR_FIT_ZERO: return "absent";
  case LR_FIT_CONSTANT: return "constant";
  case LR_FIT_PER_TOKEN: return "per-token";
  case LR_FIT_PER_BATCH: return "per-batch";
  case LR_FIT_PER_TOKEN_BATCH: return "per-token-and-batch";
  case LR_FIT_QUADRATIC_SEQ: return "quadratic-in-sequence";
  case LR_FIT_OTHER_SCALING: return "scales-with-other";
  case LR_FIT_IRREGULAR: return "irregular";
  }
  return "?";
}

char *lr_fit_term_name(LrFitTerm t, int nparams, const char *const *names, char *buf,
                       size_t len) {
  size_t used = 0;
  buf[0] = 0;
  /* squared factors first: "seq^2*batch" reads as the family in fit.h */
  for (int pass = 2; pass >= 1; pass--)
    for (int p = 0; p < nparams; p++) {
      if (t.exp[p] != pass) continue;
      int w = snprintf(buf + used, used < len ? len - used : 0, "%s%s%s", used ? "*" : "",
                       names[p], pass == 2 ? "^2" : "");
      if (w > 0) used += (size_t)w;
    }
  if (!used) snprintf(buf, len, "1");
  return buf;
}

int lr_fit_term_parse(const char *s, int nparams, const char *const *names, LrFitTerm *out) {
  memset(out, 0, sizeof *out);
  if (!strcmp(s, "1")) return 0;
  if (!*s) return -1;
  const char *p = s;
  while (*p) {
    const char *end = p;
    while (*end && *end != '*' && *end != '^') end++;
    size_t n = (size_t)(end - p);
    int which = -1;
    for (int i = 0; i < nparams; i++)
      if (strlen(names[i]) == n && !strncmp(names[i], p, n)) which = i;
    if (which < 0 || n == 0) return -1;
    int e = 1;
    if (*end == '^') {
      if ((end[1] != '1' && end[1] != '2') || (end[2] && end[2] != '*')) return -1;
      e = end[1] - '0';
      end += 2;
    }
    if (out->exp[which] + e > 2) return -1;
    out->exp[which] = (unsigned char)(out->exp[which] + e);
    if (*end == '*') {
      end++;
      if (!*end) return -1;
    } else if (*end) {
      return -1;
    }
    p = end;
  }
  return 0;
}
