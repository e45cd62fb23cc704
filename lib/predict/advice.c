/*
** advice.c: what to change so a configuration fits, ranked by the bytes it
** saves at the predicted peak, each with the figure behind it; the usual
** rule of thumb for comparison; and the single-trace estimates.
** Byte ratios of the quantized formats: Q8_0 stores 32 int8 and one f16
** scale per group (8.5 bits per weight), Q4_0 32 int4 and a scale (4.5).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "predict/suggest_internal.h"

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

/* Measured prefill time at the smallest and the largest swept chunk, other
** parameters as in the run with the highest peak; 0 when not measured. */
static int ubatch_cost(const LrSuggest *m, int iu, LrAdvice *a) {
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
  if (lo < 0 || lo == hi || t[0] < 0 || t[1] < 0) return 0;
  a->cost_ns[0] = (double)t[0];
  a->cost_ns[1] = (double)t[1];
  a->cost_at[0] = m->x[lo * m->nparams + iu];
  a->cost_at[1] = m->x[hi * m->nparams + iu];
  a->cost_run[0] = lo;
  a->cost_run[1] = hi;
  return 1;
}

static LrAdvice *add(LrAdvice *out, int *n, int max, LrAdviceKind kind, double saved, int ph) {
  if (*n >= max || !(saved > 0)) return NULL;
  LrAdvice *a = &out[(*n)++];
  memset(a, 0, sizeof *a);
  a->kind = kind;
  a->saved = saved;
  a->phase = ph;
  a->param = -1;
  a->site = -1;
  return a;
}

static int by_saved(const void *a, const void *b) {
  double x = ((const LrAdvice *)a)->saved, y = ((const LrAdvice *)b)->saved;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Bits per value of a recorded format name; 0 when unknown. */
static double format_bits(const char *t) {
  if (!t) return 0;
  if (!strcasecmp(t, "f32") || !strcasecmp(t, "fp32") || !strcasecmp(t, "float32")) return BITS_F32;
  if (!strcasecmp(t, "f16") || !strcasecmp(t, "fp16") || !strcasecmp(t, "bf16") ||
      !strcasecmp(t, "float16"))
    return 16;
  if (!strcasecmp(t, "q8") || !strcasecmp(t, "q8_0") || !strcasecmp(t, "int8")) return BITS_Q8;
  if (!strcasecmp(t, "q4") || !strcasecmp(t, "q4_0") || !strcasecmp(t, "int4")) return BITS_Q4;
  return 0;
}

static int grows_with(const LrFitResult *r, int p) {
  if (p < 0) return 0;
  for (int k = 0; k < r->nterms; k++)
    if (r->term[k].exp[p] > 0) return 1;
  return 0;
}

int lr_suggest_advise(const LrSuggest *m, const double *x, double budget, LrAdvice *out,
                      int max) {
  LrSuggestPeak pk;
  lr_suggest_predict(m, x, &pk);
  if (pk.phase < 0 || pk.heap <= 0) return 0;
  int ph = pk.phase, n = 0;
  double P = pk.heap, kv = 0, quad = 0, seqdep = 0, batchdep = 0, wbytes = 0;
  int wsite = -1;
  int is = role_index(m, LR_ROLE_SEQ), ib = role_index(m, LR_ROLE_BATCH);
  for (int s = 0; s < m->nsites; s++) {
    double v = lr_suggest_site_at(m, ph, s, x);
    const LrFitResult *r = lr_suggest_fit(m, ph, s);
    LrFitClass c = r->cls;
    int plain = s != m->small_site && lr_suggest_site_arena(m, s) == LR_ARENA_NONE;
    /* the KV cache, from its scaling: per token (and per sequence of the
    ** batch when a batch is swept), held to the end, not a temporary */
    if (plain && (c == LR_FIT_PER_TOKEN_BATCH || (c == LR_FIT_PER_TOKEN && ib < 0)) &&
        is_cache(m, ph, s, x) && lr_suggest_site_is_held(m, ph, s))
      kv += v;
    if (c == LR_FIT_QUADRATIC_SEQ) quad += v;
    if (grows_with(r, is)) seqdep += v;
    if (grows_with(r, ib)) batchdep += v;
    if (plain && c == LR_FIT_CONSTANT && v > wbytes && lr_suggest_site_is_held(m, ph, s)) {
      wbytes = v;
      wsite = s;
    }
  }
  double xv[LR_FIT_MAX_PARAMS];
  LrAdvice *a;
  if (is >= 0 && x[is] >= 2) {
    double h = halved_heap(m, x, is, xv);
    if ((a = add(out, &n, max, LR_ADVICE_SEQ, P - h, ph))) {
      a->param = is;
      a->from = x[is];
      a->to = xv[is];
      a->peak_before = P;
      a->peak_after = h;
      a->bytes = seqdep;
      a->detail[0] = kv;
      a->detail[1] = quad;
      a->evidence = LR_EVIDENCE_PER_TOKEN;
    }
  }
  if (ib >= 0 && x[ib] >= 2) {
    double h = halved_heap(m, x, ib, xv);
    if ((a = add(out, &n, max, LR_ADVICE_BATCH, P - h, ph))) {
      a->param = ib;
      a->from = x[ib];
      a->to = xv[ib];
      a->peak_before = P;
      a->peak_after = h;
      a->bytes = batchdep;
      a->evidence = LR_EVIDENCE_PER_BATCH;
    }
  }
  /* weights: only with evidence, a file mapping live at the peak or a
  ** weight format the program recorded */
  static const char *const quant_names[] = {"quant", "weights", "wtype", "dtype", NULL};
  static const char *const kv_names[] = {"kv", "kv_type", "kvtype", "cache_type", NULL};
  const char *quant = text_param(m, quant_names);
  double file = pk.file;
  const char *mapped_name = lr_suggest_mapped_file(m, ph);
  int mapped = file > 0 && mapped_name[0] && file >= 0.5 * wbytes;
  int annotated = quant != NULL && wsite >= 0;
  double W = mapped ? file : annotated ? wbytes : 0;
  unsigned wev = (mapped ? LR_EVIDENCE_FILE_MAPPING : 0) | (quant ? LR_EVIDENCE_ANNOTATION : 0);
  double qbits = format_bits(quant);
  if (W > 0) {
    double from = qbits > 0 ? qbits : BITS_F32; /* unrecorded: the saving if they are f32 */
    double to = from > BITS_Q8 ? BITS_Q8 : from > BITS_Q4 ? BITS_Q4 : 0;
    if (to > 0 && (a = add(out, &n, max, LR_ADVICE_QUANT_WEIGHTS, W * (1 - to / from), ph))) {
      a->rss_only = mapped;
      a->bytes = W;
      a->site = mapped ? -1 : wsite;
      a->from_bits = from;
      a->to_bits = to;
      a->alt_saved = to == BITS_Q8 ? W * (1 - BITS_Q4 / from) : 0;
      a->evidence = wev | (qbits > 0 ? LR_EVIDENCE_RECORDED_TYPE : 0);
    }
  }
  const char *kvt = text_param(m, kv_names);
  double kbits = format_bits(kvt);
  if (kv > 0 && (!kvt || kbits > BITS_Q8)) {
    double from = kbits > 0 ? kbits : BITS_F32;
    if ((a = add(out, &n, max, LR_ADVICE_QUANT_KV, kv * (1 - BITS_Q8 / from), ph))) {
      a->bytes = kv;
      a->from_bits = from;
      a->to_bits = BITS_Q8;
      a->evidence = LR_EVIDENCE_PER_TOKEN | LR_EVIDENCE_HELD_TO_END |
                    (ib >= 0 ? LR_EVIDENCE_PER_BATCH : 0) | (kbits > 0 ? LR_EVIDENCE_RECORDED_TYPE : 0);
    }
  }
  if (!mapped && annotated && wbytes > 0.05 * P &&
      (a = add(out, &n, max, LR_ADVICE_MMAP, wbytes, ph))) {
    a->bytes = wbytes;
    a->site = wsite;
    a->evidence = LR_EVIDENCE_ANNOTATION | LR_EVIDENCE_HELD_TO_END;
  }
  for (int s = 0; s < m->nsites; s++) {
    if (s == m->small_site || lr_suggest_site_arena(m, s) != LR_ARENA_NONE) continue;
    int64_t allocs, live, maxb;
    lr_suggest_site_stats(m, ph, s, &allocs, &live, &maxb);
    double v = lr_suggest_site_at(m, ph, s, x);
    if (live >= 2 && allocs > 2 * live && v > (double)maxb && lr_suggest_site_is_temporary(m, s) &&
        (a = add(out, &n, max, LR_ADVICE_REUSE, v - (double)maxb, ph))) {
      a->site = s;
      a->bytes = v;
      a->allocs = allocs;
      a->live_blocks = live;
      a->max_block = maxb;
      a->run = m->ref_run;
    }
  }
  int iu = ubatch_index(m);
  if (iu >= 0 && x[iu] >= 2) {
    double u = fmax(1, floor(x[iu] / 4)), v;
    int fits = 0;
    if (budget > 0 && P > budget && lr_suggest_largest(m, x, iu, budget, x[iu], &v) && v < x[iu]) {
      u = v;
      fits = 1;
    }
    copy_x(m, xv, x);
    xv[iu] = u;
    LrSuggestPeak p2;
    lr_suggest_predict(m, xv, &p2);
    if ((a = add(out, &n, max, LR_ADVICE_UBATCH, P - p2.heap, ph))) {
      a->param = iu;
      a->from = x[iu];
      a->to = u;
      a->peak_before = P;
      a->peak_after = p2.heap;
      a->run = m->ref_run;
      a->evidence = (fits ? LR_EVIDENCE_FITS_BUDGET : 0) |
                    (ubatch_cost(m, iu, a) ? LR_EVIDENCE_MEASURED_COST : 0);
    }
  } else if (is >= 0 && quad > 0.05 * P && x[is] >= 2) {
    double s = x[is], u = ceil(s / 4);
    int fits = 0;
    if (budget > 0 && P > budget) {
      u = floor(s * (1 - (P - budget) / quad));
      fits = 1;
    }
    if (u >= 1 && u < s && (a = add(out, &n, max, LR_ADVICE_CHUNK_PREFILL, quad * (1 - u / s), ph))) {
      a->param = is;
      a->from = s;
      a->to = u;
      a->bytes = quad;
      a->peak_before = P;
      a->peak_after = P - quad * (1 - u / s);
      a->evidence = fits ? LR_EVIDENCE_FITS_BUDGET : 0;
    }
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
