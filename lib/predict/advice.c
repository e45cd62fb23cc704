/*
** advice.c: what to change so a configuration fits, ranked by the bytes it
** saves at the predicted peak, each with the figure behind it; the usual
** rule of thumb for comparison; and the single-trace estimates.
** Byte ratios of the quantized formats: Q8_0 stores 32 int8 and one f16
** scale per group (8.5 bits per weight), Q4_0 32 int4 and a scale (4.5).
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/suggest_internal.h"
#include "lowram/units.h"

#define BITS_F32 32.0
#define BITS_Q8 8.5
#define BITS_Q4 4.5

/* x holds nparams values (callers may pass exactly that many). */
static void copy_x(const LrSuggest *m, double *xv, const double *x) {
  for (int p = 0; p < LR_FIT_MAX_PARAMS; p++) xv[p] = p < m->nparams ? x[p] : 0;
}

/* The heap predicted with parameter p halved (rounded down) and the others
** as in x; xv receives that configuration. */
static double halved_heap(const LrSuggest *m, const double *x, int p, double *xv) {
  copy_x(m, xv, x);
  xv[p] = floor(x[p] / 2);
  LrSuggestPeak pk;
  lr_suggest_predict(m, xv, &pk);
  return pk.heap;
}

static int role_index(const LrSuggest *m, LrFitRole role) {
  for (int p = 0; p < m->nparams; p++)
    if (lr_fit_role_of(m->names[p]) == role) return p;
  return -1;
}

static const char *text_param(const LrSuggest *m, const char *const *names) {
  for (; *names; names++) {
    const char *v = lr_suggest_recorded_text(m, *names);
    if (v) return v;
  }
  return NULL;
}

/* A KV cache: held long (not a temporary, see suggest.h) and still live at
** the last phase's peak, unlike per-token activations of one phase and
** scratch that come and go. */
static int is_cache(const LrSuggest *m, int ph, int s, const double *x) {
  int64_t allocs, live, maxb;
  lr_suggest_site_stats(m, ph, s, &allocs, &live, &maxb);
  if (s == m->small_site || live < 1 || lr_suggest_site_is_temporary(m, s)) return 0;
  return lr_suggest_site_at(m, m->nphases - 1, s, x) > 0;
}

static int ubatch_index(const LrSuggest *m) {
  static const char *const names[] = {"ubatch", "n_ubatch", "chunk", "prefill_chunk",
                                      "micro_batch"};
  for (int p = 0; p < m->nparams; p++)
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (!strcmp(m->names[p], names[i])) return p;
  return -1;
}

/* The measured price of smaller chunks: time in the prefill phase at the
** smallest and the largest swept chunk, other parameters as in the run
** with the highest peak. */
static void ubatch_cost(const LrSuggest *m, int iu, char *buf, size_t len) {
  const double *ref = m->x + m->ref_run * m->nparams;
  int lo = -1, hi = -1;
  for (int r = 0; r < m->nruns; r++) {
    const double *xr = m->x + r * m->nparams;
    int same = 1;
    for (int p = 0; p < m->nparams; p++) same &= p == iu || xr[p] == ref[p];
    if (!same) continue;
    if (lo < 0 || xr[iu] < m->x[lo * m->nparams + iu]) lo = r;
    if (hi < 0 || xr[iu] > m->x[hi * m->nparams + iu]) hi = r;
  }
  int64_t t[2] = {-1, -1};
  for (int k = 0; k < 2 && lo >= 0; k++) {
    LrSiteBytes *rb = m->runs[k ? hi : lo];
    for (int ph = 0; ph < lr_sitebytes_nphases(rb); ph++)
      if (!strcmp(lr_sitebytes_phase_name(rb, ph), "prefill")) t[k] = lr_sitebytes_phase_ns(rb, ph);
  }
  if (lo < 0 || lo == hi || t[0] < 0 || t[1] < 0) {
    snprintf(buf, len, "the prefill time it costs was not measured (no 'prefill' phase, or one chunk size)");
    return;
  }
  char a[32], b[32];
  snprintf(buf, len, "measured cost: prefill took %s with %s %g and %s with %s %g (runs %d and %d)",
           lr_fmt_ns(a, sizeof a, t[0]), m->names[iu], m->x[lo * m->nparams + iu],
           lr_fmt_ns(b, sizeof b, t[1]), m->names[iu], m->x[hi * m->nparams + iu], lo + 1, hi + 1);
}

static const char *B(char *buf, double v) { return lr_fmt_bytes(buf, 32, (int64_t)llround(v)); }

static int add(LrAdvice *out, int n, int max, LrAdviceKind kind, double saved, int rss_only,
               const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int add(LrAdvice *out, int n, int max, LrAdviceKind kind, double saved, int rss_only,
               const char *fmt, ...) {
  if (n >= max || saved <= 0) return n;
  out[n].kind = kind;
  out[n].saved = saved;
  out[n].rss_only = rss_only;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out[n].text, sizeof out[n].text, fmt, ap);
  va_end(ap);
  return n + 1;
}

static int by_saved(const void *a, const void *b) {
  double x = ((const LrAdvice *)a)->saved, y = ((const LrAdvice *)b)->saved;
  return x < y ? 1 : x > y ? -1 : 0;
}

int lr_suggest_advise(const LrSuggest *m, const double *x, double budget, LrAdvice *out,
                      int max) {
  LrSuggestPeak pk;
  lr_suggest_predict(m, x, &pk);
  if (pk.phase < 0 || pk.heap <= 0) return 0;
  int ph = pk.phase, n = 0;
  const char *phase = m->phase[ph];
  double P = pk.heap, kv = 0, quad = 0, seqdep = 0, batchdep = 0, wbytes = 0;
  int wsite = -1;
  int is = role_index(m, LR_ROLE_SEQ), ib = role_index(m, LR_ROLE_BATCH);
  for (int s = 0; s < m->nsites; s++) {
    double v = lr_suggest_site_at(m, ph, s, x);
    LrFitClass c = lr_suggest_fit(m, ph, s)->cls;
    if ((c == LR_FIT_PER_TOKEN || c == LR_FIT_PER_TOKEN_BATCH) && is_cache(m, ph, s, x)) kv += v;
    if (c == LR_FIT_QUADRATIC_SEQ) quad += v;
    if (c == LR_FIT_PER_TOKEN || c == LR_FIT_PER_TOKEN_BATCH || c == LR_FIT_QUADRATIC_SEQ)
      seqdep += v;
    if (ib >= 0) {
      const LrFitResult *r = lr_suggest_fit(m, ph, s);
      int grows = 0;
      for (int k = 0; k < r->nterms; k++) grows |= r->term[k].exp[ib] > 0;
      if (grows) batchdep += v;
    }
    if (c == LR_FIT_CONSTANT && s != m->small_site && v > wbytes) {
      wbytes = v;
      wsite = s;
    }
  }
  char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
  double xv[LR_FIT_MAX_PARAMS];
  if (is >= 0 && x[is] >= 2) {
    double h = halved_heap(m, x, is, xv);
    n = add(out, n, max, LR_ADVICE_SEQ, P - h, 0,
            "shorten the sequence: sites growing with %s hold %s (%.0f%% of the %s peak; KV "
            "cache %s, attention scores %s); %s %g -> %g saves %s (peak %s -> %s)",
            m->names[is], B(b1, seqdep), 100 * seqdep / P, phase, B(b2, kv), B(b3, quad),
            m->names[is], x[is], xv[is], B(b4, P - h), B(b5, P), B(b6, h));
  }
  if (ib >= 0 && x[ib] >= 2) {
    double h = halved_heap(m, x, ib, xv);
    n = add(out, n, max, LR_ADVICE_BATCH, P - h, 0,
            "lower the batch: sites growing with %s hold %s (%.0f%% of the peak); %s %g -> %g "
            "saves %s (peak %s -> %s)",
            m->names[ib], B(b1, batchdep), 100 * batchdep / P, m->names[ib], x[ib], xv[ib],
            B(b2, P - h), B(b3, P), B(b4, h));
  }
  static const char *const quant_names[] = {"quant", "weights", "wtype", "dtype", NULL};
  static const char *const kv_names[] = {"kv", "kv_type", "kvtype", "cache_type", NULL};
  const char *quant = text_param(m, quant_names);
  double file = pk.file;
  int mapped = file > 0.5 * wbytes && file > 0;
  double W = mapped ? file : wbytes;
  if (W > 0 && wsite >= 0) {
    const char *what = mapped ? "mapped weight file" : m->site_key[wsite];
    if (!quant || !strcmp(quant, "f32"))
      n = add(out, n, max, LR_ADVICE_QUANT_WEIGHTS, W * (1 - BITS_Q8 / BITS_F32), mapped,
              "quantize the weights f32 -> q8%s: the weights (%s) hold %s; Q8_0 keeps %.1f "
              "bits of 32, saving %s%s (q4: %s)",
              quant ? "" : " (if they are f32)", what, B(b1, W), BITS_Q8,
              B(b2, W * (1 - BITS_Q8 / BITS_F32)), mapped ? " of RSS" : "",
              B(b3, W * (1 - BITS_Q4 / BITS_F32)));
    else if (!strcmp(quant, "q8"))
      n = add(out, n, max, LR_ADVICE_QUANT_WEIGHTS, W * (1 - BITS_Q4 / BITS_Q8), mapped,
              "quantize the weights q8 -> q4: the weights (%s) hold %s measured; Q4_0 keeps "
              "%.1f bits per weight against %.1f, saving %s%s",
              what, B(b1, W), BITS_Q4, BITS_Q8, B(b2, W * (1 - BITS_Q4 / BITS_Q8)),
              mapped ? " of RSS" : "");
  }
  const char *kvt = text_param(m, kv_names);
  if (kv > 0 && (!kvt || !strcmp(kvt, "f32")))
    n = add(out, n, max, LR_ADVICE_QUANT_KV, kv * (1 - BITS_Q8 / BITS_F32), 0,
            "quantize the KV cache f32 -> q8%s (qrun --kv q8): the cache (per-token sites held to the end) holds %s at the "
            "%s peak; 8.5 bits of 32 saves %s",
            kvt ? "" : " (if it is f32)", B(b1, kv), phase, B(b2, kv * (1 - BITS_Q8 / BITS_F32)));
  if (!mapped && wsite >= 0 && wbytes > 0.05 * P)
    n = add(out, n, max, LR_ADVICE_MMAP, wbytes, 0,
            "map the weights instead of reading them (qrun: drop --no-mmap): %s holds %s of "
            "anonymous memory at the peak; as file-backed pages the kernel can drop and re-read "
            "them instead of killing the process",
            m->site_key[wsite], B(b1, wbytes));
  for (int s = 0; s < m->nsites; s++) {
    if (s == m->small_site) continue;
    int64_t allocs, live, maxb;
    lr_suggest_site_stats(m, ph, s, &allocs, &live, &maxb);
    double v = lr_suggest_site_at(m, ph, s, x);
    if (live >= 2 && allocs > 2 * live && v > (double)maxb && lr_suggest_site_is_temporary(m, s))
      n = add(out, n, max, LR_ADVICE_REUSE, v - (double)maxb, 0,
              "reuse temporaries: %s allocates and frees %lld buffers over run %d, %lld of them "
              "live at the %s peak (%s predicted here); one reused buffer of %s saves %s",
              m->site_key[s], (long long)allocs, m->ref_run + 1, (long long)live, phase,
              B(b1, v), B(b2, (double)maxb), B(b3, v - (double)maxb));
  }
  int iu = ubatch_index(m);
  if (iu >= 0 && x[iu] >= 2) {
    double u = fmax(1, floor(x[iu] / 4)), v;
    const char *why = "a quarter of the chunk";
    if (budget > 0 && P > budget && lr_suggest_largest(m, x, iu, budget, x[iu], &v) && v < x[iu]) {
      u = v;
      why = "the largest chunk that fits the budget";
    }
    copy_x(m, xv, x);
    xv[iu] = u;
    LrSuggestPeak p2;
    lr_suggest_predict(m, xv, &p2);
    char cost[300];
    ubatch_cost(m, iu, cost, sizeof cost);
    n = add(out, n, max, LR_ADVICE_UBATCH, P - p2.heap, 0,
            "prefill in smaller chunks: %s %g -> %g (%s) saves %s (peak %s -> %s); %s",
            m->names[iu], x[iu], u, why, B(b1, P - p2.heap), B(b2, P), B(b3, p2.heap), cost);
  } else if (is >= 0 && quad > 0.05 * P && x[is] >= 2) {
    double s = x[is], u = ceil(s / 4);
    const char *why = "a quarter of the prompt per chunk";
    if (budget > 0 && P > budget) {
      u = floor(s * (1 - (P - budget) / quad));
      why = "the largest chunk that fits the budget";
    }
    if (u >= 1 && u < s)
      n = add(out, n, max, LR_ADVICE_UBATCH, quad * (1 - u / s), 0,
              "prefill in chunks: attention scores (quadratic in %s) hold %s, %.0f%% of the %s "
              "peak; --ubatch %g (%s) keeps them to %s, saving %s; smaller chunks cost prefill "
              "speed (not measured: sweep --param ubatch=... to measure it)",
              m->names[is], B(b1, quad), 100 * quad / P, phase, u, why, B(b2, quad * u / s),
              B(b3, quad * (1 - u / s)));
  }
  qsort(out, (size_t)n, sizeof *out, by_saved);
  return n;
}

int lr_suggest_rule_of_thumb(const LrSuggest *m, const double *x, double budget,
                             LrRuleOfThumb *out) {
  int is = role_index(m, LR_ROLE_SEQ), ib = role_index(m, LR_ROLE_BATCH);
  memset(out, 0, sizeof *out);
  if (is < 0 || ib < 0) return -1;
  out->input_bytes = x[is] * 4;
  out->batch = floor(0.4 * budget / (3 * out->input_bytes));
  double xv[LR_FIT_MAX_PARAMS];
  copy_x(m, xv, x);
  xv[ib] = out->batch;
  if (out->batch >= 1) lr_suggest_predict(m, xv, &out->predicted);
  else out->predicted.phase = -1;
  return 0;
}

int lr_suggest_estimate_fits(LrSuggest *m, const double *y, const double *file) {
  int is = role_index(m, LR_ROLE_SEQ), ib = role_index(m, LR_ROLE_BATCH);
  LrFitRole roles[LR_FIT_MAX_PARAMS];
  for (int p = 0; p < m->nparams; p++) roles[p] = lr_fit_role_of(m->names[p]);
  size_t cells = (size_t)m->nphases * (size_t)m->nsites;
  for (size_t c = 0; c < cells; c++) {
    LrFitResult *r = &m->fits[c];
    double v = y[c];
    memset(r, 0, sizeof *r);
    r->loo_err = -1;
    r->ymax = fabs(v);
    if (v == 0) {
      r->cls = LR_FIT_ZERO;
      continue;
    }
    LrFitTerm t;
    memset(&t, 0, sizeof t);
    /* seq*batch, then seq, then batch: each only when the factor is > 1, so
    ** a divisibility by 1 says nothing */
    double sv = is >= 0 ? m->x[is] : 1, bv = ib >= 0 ? m->x[ib] : 1;
    if (sv > 1 && bv > 1 && fmod(v, sv * bv) == 0) {
      t.exp[is] = 1;
      t.exp[ib] = 1;
    } else if (sv > 1 && fmod(v, sv) == 0) {
      t.exp[is] = 1;
    } else if (bv > 1 && fmod(v, bv) == 0) {
      t.exp[ib] = 1;
    }
    r->nterms = 1;
    r->term[0] = t;
    r->coef[0] = v / lr_fit_term_eval(t, m->nparams, m->x);
    r->cls = lr_fit_classify(r->term, 1, m->nparams, roles);
  }
  for (int ph = 0; ph < m->nphases; ph++) {
    LrFitResult *r = &m->file_fit[ph];
    memset(r, 0, sizeof *r);
    r->nterms = 1;
    r->coef[0] = file[ph];
    r->cls = LR_FIT_CONSTANT;
  }
  int64_t rss = lr_sitebytes_rss_peak(m->runs[0]);
  m->have_rss = rss >= 0;
  memset(&m->rss_fit, 0, sizeof m->rss_fit);
  if (m->have_rss) {
    /* RSS scales like the heap peak: the same ratio at other points */
    int64_t peak = lr_sitebytes_peak(m->runs[0]);
    m->rss_fit.nterms = 0;
    m->rss_ratio = peak > 0 ? (double)rss / (double)peak : 1;
  }
  return 0;
}
