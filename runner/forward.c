/*
** forward.c: the forward pass. A step takes a list of rows (sequence,
** position, token); all rows go through each layer together, so the same
** code does a prefill chunk (batch x ubatch rows, matrix-matrix products)
** and a decode step (batch rows, one per sequence).
**
** Invariants:
**  1. Within a layer, K and V of every row are written to the cache before
**     any row attends, and a row at position p reads positions 0..p only;
**     so a chunk of consecutive positions of one sequence is causal.
**  2. Every row's output depends only on its own inputs and the cache, never
**     on how many rows share the step or which thread computed it: chunked
**     prefill, batching and thread count give bit-identical logits.
**  3. Buffers come only from the alloc.h sites, sized by the formulas in
**     forward.h; r->st tallies them.
*/
#include "forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// --- sizing ----------------------------------------------------------------

int qr_shape_ubatch(const QrShape *s) {
  return s->ubatch > 0 && s->ubatch < s->prompt_len ? s->ubatch : s->prompt_len;
}

size_t qr_kv_row_bytes(const QrConfig *c, int kv_quant) {
  return qr_row_bytes(kv_quant == QR_Q8 ? QR_Q8 : QR_F32, (size_t)qr_kv_dim(c));
}

size_t qr_kv_bytes(const QrConfig *c, const QrShape *s) {
  return 2 * (size_t)c->layers * (size_t)s->batch * (size_t)s->seq_len *
         qr_kv_row_bytes(c, s->kv_quant);
}

size_t qr_logits_bytes(const QrConfig *c, int batch) {
  return (size_t)batch * (size_t)c->vocab * sizeof(float);
}

size_t qr_acts_bytes(const QrConfig *c, int rows) {
  return (size_t)rows * (4 * (size_t)c->dim + 2 * (size_t)qr_kv_dim(c)) * sizeof(float);
}

size_t qr_scores_bytes(const QrConfig *c, int rows, int ctx) {
  return (size_t)rows * (size_t)c->heads * (size_t)ctx * sizeof(float);
}

size_t qr_scratch_bytes(const QrConfig *c, int rows) {
  size_t widest = (size_t)(c->hidden > c->dim ? c->hidden : c->dim);
  size_t b = (size_t)rows * 2 * (size_t)c->hidden * sizeof(float);
  if (c->quant != QR_F32) b += (size_t)rows * qr_row_bytes(QR_Q8, widest);
  return b;
}

void qr_sizes(const QrConfig *c, const QrShape *s, QrSizes *o) {
  int u = qr_shape_ubatch(s);
  int rows = s->batch * u;
  *o = (QrSizes){0};
  /* The largest chunk is the last full one or the shorter final one. */
  for (int c0 = 0; c0 < s->prompt_len; c0 += u) {
    int len = s->prompt_len - c0 < u ? s->prompt_len - c0 : u;
    size_t b = qr_scores_bytes(c, s->batch * len, c0 + len);
    if (b > o->prefill_scores) o->prefill_scores = b;
  }
  o->kv_cache = qr_kv_bytes(c, s);
  o->logits = qr_logits_bytes(c, s->batch);
  o->prefill_acts = qr_acts_bytes(c, rows);
  o->decode_acts = qr_acts_bytes(c, s->batch);
  o->decode_scores = qr_scores_bytes(c, s->batch, s->seq_len);
  o->scratch = qr_scratch_bytes(c, rows);
  o->arena = s->arena ? o->scratch : 0;
}

int qr_shape_check(const QrConfig *c, const QrShape *s, const char *what, QrErr *e) {
  if (s->batch < 1 || s->batch > 65536)
    return qr_err(e, "%s: batch %d must be between 1 and 65536", what, s->batch);
  if (s->seq_len < 1 || s->seq_len > c->max_seq)
    return qr_err(e, "%s: seq-len %d must be between 1 and the model's max %d", what,
                  s->seq_len, c->max_seq);
  if (s->prompt_len < 1 || s->prompt_len > s->seq_len)
    return qr_err(e, "%s: prompt length %d must be between 1 and seq-len %d", what,
                  s->prompt_len, s->seq_len);
  if (s->ubatch < 0) return qr_err(e, "%s: ubatch %d is negative", what, s->ubatch);
  if (s->kv_quant != QR_F32 && s->kv_quant != QR_Q8)
    return qr_err(e, "%s: kv cache type must be f32 or q8", what);
  if (s->kv_quant == QR_Q8 && qr_kv_dim(c) % QR_GROUP)
    return qr_err(e, "%s: --kv q8 needs kv_dim (%d) to be a multiple of %d", what,
                  qr_kv_dim(c), QR_GROUP);
  /* Row and task counts are ints, and every buffer must be addressable:
  ** bound the largest products (in double, which cannot overflow here). */
  double rows = (double)s->batch * qr_shape_ubatch(s);
  double kv = 2.0 * c->layers * s->batch * s->seq_len * (double)qr_kv_row_bytes(c, s->kv_quant);
  double sc = rows * c->heads * (double)s->prompt_len * 4;
  if (rows * c->heads > 1 << 30 || kv > 1e15 || sc > 1e15)
    return qr_err(e, "%s: batch %d x seq-len %d x prompt %d needs more memory than addressable",
                  what, s->batch, s->seq_len, s->prompt_len);
  return 0;
}

// --- run state -------------------------------------------------------------

typedef struct Row {
  int b;     /* sequence index */
  int pos;   /* position written and attended from */
  int tok;   /* input token */
  int want;  /* 1: compute this row's logits into logits[b] */
} Row;

struct QrRun {
  const QrModel *m;
  QrConfig c;
  QrShape s;
  QrPool *pool;
  QrAllocStats st;
  size_t kvrow;      /* bytes of one cached position */
  size_t kv_half;    /* bytes of the K (or V) cache */
  uint8_t *kc, *vc;  /* [layers][batch][seq_len][kvrow] */
  float *logits;     /* [batch][vocab] */
  uint8_t *arena;    /* scratch for rows_max rows, arena mode only */
  size_t arena_bytes;
  int rows_max;      /* batch x ubatch */
  Row *rows;         /* [rows_max] row table of the current step */
  int *ymap;         /* [batch] logits slot of each gathered row */
  size_t rows_bytes;
  int *pos;          /* [batch] positions filled per sequence */
  float *dacts;      /* decode activations, batch rows, NULL outside decode */
  float *dscores;    /* [batch x heads x seq_len], NULL outside decode */
};

int qr_run_new(const QrModel *m, const QrShape *s, QrPool *pool, QrRun **out, QrErr *e) {
  *out = NULL;
  if (qr_shape_check(&m->cfg, s, m->path, e)) return -1;
  QrRun *r = calloc(1, sizeof *r);
  if (!r) return qr_err(e, "%s: out of memory", m->path);
  r->m = m;
  r->c = m->cfg;
  r->s = *s;
  r->pool = pool;
  r->kvrow = qr_kv_row_bytes(&r->c, s->kv_quant);
  r->kv_half = qr_kv_bytes(&r->c, s) / 2;
  r->rows_max = s->batch * qr_shape_ubatch(s);
  r->rows_bytes = (size_t)r->rows_max * sizeof(Row) + (size_t)s->batch * sizeof(int) * 2;
  r->kc = qr_alloc_kv_cache(&r->st, r->kv_half);
  r->vc = qr_alloc_kv_cache(&r->st, r->kv_half);
  r->logits = qr_alloc_logits(&r->st, qr_logits_bytes(&r->c, s->batch));
  r->rows = qr_alloc_tokens(&r->st, r->rows_bytes);
  if (s->arena) {
    r->arena_bytes = qr_scratch_bytes(&r->c, r->rows_max);
    r->arena = qr_alloc_arena(&r->st, r->arena_bytes);
  }
  if (!r->kc || !r->vc || !r->logits || !r->rows || (s->arena && !r->arena)) {
    qr_run_free(r);
    return qr_err(e, "%s: out of memory for the run's buffers (kv cache %zu bytes)",
                  m->path, 2 * r->kv_half);
  }
  r->ymap = (int *)(r->rows + r->rows_max);
  r->pos = r->ymap + s->batch;
  *out = r;
  return 0;
}

void qr_run_free(QrRun *r) {
  if (!r) return;
  qr_run_decode_end(r);
  qr_site_free(&r->st, QR_SITE_KV, r->kc, r->kv_half);
  qr_site_free(&r->st, QR_SITE_KV, r->vc, r->kv_half);
  qr_site_free(&r->st, QR_SITE_LOGITS, r->logits, qr_logits_bytes(&r->c, r->s.batch));
  qr_site_free(&r->st, QR_SITE_TOKENS, r->rows, r->rows_bytes);
  qr_site_free(&r->st, QR_SITE_ARENA, r->arena, r->arena_bytes);
  free(r);
}

const float *qr_run_logits(const QrRun *r, int b) { return r->logits + (size_t)b * r->c.vocab; }
int qr_run_pos(const QrRun *r, int b) { return r->pos[b]; }
const QrAllocStats *qr_run_stats(const QrRun *r) { return &r->st; }

// --- layer pieces ----------------------------------------------------------

static void rmsnorm(float *o, const float *x, const float *w, int n) {
  float ss = 0;
  for (int i = 0; i < n; i++) ss += x[i] * x[i];
  ss = 1.0f / sqrtf(ss / n + 1e-5f);
  for (int i = 0; i < n; i++) o[i] = w[i] * (ss * x[i]);
}

/* Rotary positions: pairs (2i, 2i+1) of each head turn by pos x freq[i],
** freq[i] = 10000^(-2i/hs) (rope_freqs fills it once per step). */
static void rope_freqs(float *freq, int hs) {
  for (int i = 0; i < hs; i += 2) freq[i / 2] = 1.0f / powf(10000.0f, (float)i / (float)hs);
}

static void rope(float *q, float *k, int pos, const QrConfig *c, const float *freq) {
  int hs = qr_head_size(c), kv = qr_kv_dim(c);
  for (int i = 0; i < c->dim; i += 2) {
    float a = pos * freq[(i % hs) / 2], cr = cosf(a), ci = sinf(a);
    float *v = q + i;
    float v0 = v[0], v1 = v[1];
    v[0] = v0 * cr - v1 * ci;
    v[1] = v0 * ci + v1 * cr;
    if (i < kv) {
      v = k + i;
      v0 = v[0]; v1 = v[1];
      v[0] = v0 * cr - v1 * ci;
      v[1] = v0 * ci + v1 * cr;
    }
  }
}

/* n values of a cached row starting at element off, as floats. */
static const float *kv_slice(const uint8_t *row, int quant, int off, int n, float *tmp) {
  if (quant == QR_F32) return (const float *)row + off;
  for (int k = 0; k < n; k++) {
    int idx = off + k;
    const uint8_t *blk = row + (size_t)(idx / QR_GROUP) * QR_Q8_BLOCK;
    tmp[k] = (float)((const int8_t *)blk)[2 + idx % QR_GROUP] *
             qr_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
  }
  return tmp;
}

typedef struct {
  QrRun *r;
  const Row *rows;
  int layer;
  const float *q; /* [n x dim] */
  float *out;     /* [n x dim] */
  float *scores;  /* [n x heads x stride] */
  int stride;
} AttnJob;

static void attn_task(void *arg, int lo, int hi) {
  const AttnJob *j = arg;
  const QrRun *r = j->r;
  const QrConfig *c = &r->c;
  int hs = qr_head_size(c), group = c->heads / c->kv_heads, kq = r->s.kv_quant;
  float tmp[QR_MAX_HEAD], scale = 1.0f / sqrtf((float)hs);
  for (int t = lo; t < hi; t++) {
    int i = t / c->heads, h = t % c->heads, off = (h / group) * hs;
    const Row *row = &j->rows[i];
    size_t base = (((size_t)j->layer * r->s.batch + row->b) * r->s.seq_len) * r->kvrow;
    const float *qh = j->q + (size_t)i * c->dim + h * hs;
    float *sc = j->scores + (size_t)t * j->stride;
    float mx = -INFINITY;
    for (int p = 0; p <= row->pos; p++) {
      const float *k = kv_slice(r->kc + base + (size_t)p * r->kvrow, kq, off, hs, tmp);
      sc[p] = qr_dot_f32(qh, k, (size_t)hs) * scale;
      if (sc[p] > mx) mx = sc[p];
    }
    float sum = 0;
    for (int p = 0; p <= row->pos; p++) { sc[p] = expf(sc[p] - mx); sum += sc[p]; }
    float *o = j->out + (size_t)i * c->dim + h * hs;
    memset(o, 0, (size_t)hs * sizeof *o);
    for (int p = 0; p <= row->pos; p++) {
      const float *v = kv_slice(r->vc + base + (size_t)p * r->kvrow, kq, off, hs, tmp);
      qr_axpy_f32(o, sc[p] / sum, v, (size_t)hs);
    }
  }
}

static void store_kv(QrRun *r, int layer, const Row *row, const float *k, const float *v) {
  size_t at = ((((size_t)layer * r->s.batch + row->b) * r->s.seq_len) + row->pos) * r->kvrow;
  int kq = r->s.kv_quant == QR_Q8 ? QR_Q8 : QR_F32;
  qr_quantize_row(kq, k, r->kc + at, (size_t)qr_kv_dim(&r->c));
  qr_quantize_row(kq, v, r->vc + at, (size_t)qr_kv_dim(&r->c));
}

static uint8_t *scratch_get(QrRun *r, int n) {
  return r->s.arena ? r->arena : qr_alloc_scratch(&r->st, qr_scratch_bytes(&r->c, n));
}
static void scratch_put(QrRun *r, int n, uint8_t *p) {
  if (!r->s.arena) qr_site_free(&r->st, QR_SITE_SCRATCH, p, qr_scratch_bytes(&r->c, n));
}

// --- the forward pass ------------------------------------------------------

/* Runs n rows through the model. acts holds `cap` rows (cap >= n);
** scores holds n x heads x stride floats. */
static int forward(QrRun *r, int n, float *acts, int cap, float *scores, int stride,
                   QrErr *e) {
  const QrModel *m = r->m;
  const QrConfig *c = &r->c;
  const Row *rows = r->rows;
  int dim = c->dim, kv = qr_kv_dim(c), hid = c->hidden;
  float *x = acts, *xb = x + (size_t)cap * dim, *xb2 = xb + (size_t)cap * dim;
  float *q = xb2 + (size_t)cap * dim, *k = q + (size_t)cap * dim, *v = k + (size_t)cap * kv;
  size_t erow = qr_row_bytes(m->emb.quant, (size_t)dim);
  float freq[QR_MAX_HEAD / 2];
  rope_freqs(freq, qr_head_size(c));
  for (int i = 0; i < n; i++)
    qr_dequantize_row(m->emb.quant, m->emb.data + (size_t)rows[i].tok * erow, x + (size_t)i * dim,
                      (size_t)dim);
  for (int l = 0; l < c->layers; l++) {
    const QrLayer *L = &m->layer[l];
    uint8_t *sp = scratch_get(r, n);
    if (!sp) return qr_err(e, "%s: out of memory for layer scratch", m->path);
    float *hb = (float *)sp, *hb2 = hb + (size_t)n * hid;
    uint8_t *xq = (uint8_t *)(hb2 + (size_t)n * hid);
    for (int i = 0; i < n; i++) rmsnorm(xb + (size_t)i * dim, x + (size_t)i * dim, L->rms_att, dim);
    float *qkv[3] = {q, k, v};
    const QrTensor *wqkv[3] = {&L->wq, &L->wk, &L->wv};
    qr_matmul_many(r->pool, 3, qkv, wqkv, xb, n, xq);
    for (int i = 0; i < n; i++) {
      rope(q + (size_t)i * dim, k + (size_t)i * kv, rows[i].pos, c, freq);
      store_kv(r, l, &rows[i], k + (size_t)i * kv, v + (size_t)i * kv);
    }
    AttnJob aj = {r, rows, l, q, xb, scores, stride};
    size_t work = (size_t)n * (size_t)dim * (size_t)(rows[n - 1].pos + 1);
    qr_pool_run(work >= 65536 ? r->pool : NULL, attn_task, &aj, n * c->heads);
    qr_matmul(r->pool, xb2, xb, &L->wo, n, xq, NULL);
    for (size_t i = 0; i < (size_t)n * dim; i++) x[i] += xb2[i];
    for (int i = 0; i < n; i++) rmsnorm(xb + (size_t)i * dim, x + (size_t)i * dim, L->rms_ffn, dim);
    float *gate_up[2] = {hb, hb2};
    const QrTensor *w13[2] = {&L->w1, &L->w3};
    qr_matmul_many(r->pool, 2, gate_up, w13, xb, n, xq);
    for (size_t i = 0; i < (size_t)n * hid; i++) {
      float g = hb[i];
      hb[i] = g / (1.0f + expf(-g)) * hb2[i];
    }
    qr_matmul(r->pool, xb2, hb, &L->w2, n, xq, NULL);
    for (size_t i = 0; i < (size_t)n * dim; i++) x[i] += xb2[i];
    scratch_put(r, n, sp);
  }
  /* Classifier only for rows that end a prompt or decode a token. */
  int want = 0;
  for (int i = 0; i < n; i++) {
    if (!rows[i].want) continue;
    rmsnorm(xb + (size_t)want * dim, x + (size_t)i * dim, m->rms_final, dim);
    r->ymap[want++] = rows[i].b;
  }
  if (want) {
    uint8_t *sp = scratch_get(r, n);
    if (!sp) return qr_err(e, "%s: out of memory for classifier scratch", m->path);
    uint8_t *xq = sp + (size_t)n * 2 * hid * sizeof(float);
    qr_matmul(r->pool, r->logits, xb, &m->cls, want, xq, r->ymap);
    scratch_put(r, n, sp);
  }
  return 0;
}

// --- prefill and decode ----------------------------------------------------

int qr_run_prefill(QrRun *r, const int *const *prompts, const int *lens, QrErr *e) {
  const QrConfig *c = &r->c;
  int B = r->s.batch, P = 0;
  for (int b = 0; b < B; b++) {
    if (r->pos[b] != 0) return qr_err(e, "%s: prefill on a run that already has tokens", r->m->path);
    if (lens[b] < 1 || lens[b] > r->s.prompt_len)
      return qr_err(e, "%s: prompt %d has %d tokens, outside 1..%d", r->m->path, b, lens[b],
                    r->s.prompt_len);
    for (int i = 0; i < lens[b]; i++)
      if (prompts[b][i] < 0 || prompts[b][i] >= c->vocab)
        return qr_err(e, "%s: prompt %d token %d is %d, outside the vocabulary (%d)",
                      r->m->path, b, i, prompts[b][i], c->vocab);
    if (lens[b] > P) P = lens[b];
  }
  int U = qr_shape_ubatch(&r->s);
  float *acts = qr_alloc_prefill_acts(&r->st, qr_acts_bytes(c, r->rows_max));
  if (!acts) return qr_err(e, "%s: out of memory for prefill activations", r->m->path);
  int rc = 0;
  for (int c0 = 0; rc == 0 && c0 < P; c0 += U) {
    int len = P - c0 < U ? P - c0 : U, ctx = c0 + len, n = 0;
    for (int b = 0; b < B; b++)
      for (int p = c0; p < ctx && p < lens[b]; p++)
        r->rows[n++] = (Row){b, p, prompts[b][p], p == lens[b] - 1};
    size_t sb = qr_scores_bytes(c, n, ctx);
    float *scores = qr_alloc_prefill_scores(&r->st, sb);
    if (!scores) rc = qr_err(e, "%s: out of memory for %zu bytes of attention scores", r->m->path, sb);
    else rc = forward(r, n, acts, r->rows_max, scores, ctx, e);
    qr_site_free(&r->st, QR_SITE_PREFILL_SCORES, scores, sb);
  }
  qr_site_free(&r->st, QR_SITE_PREFILL_ACTS, acts, qr_acts_bytes(c, r->rows_max));
  if (rc == 0)
    for (int b = 0; b < B; b++) r->pos[b] = lens[b];
  return rc;
}

int qr_run_decode(QrRun *r, const int *tokens, QrErr *e) {
  const QrConfig *c = &r->c;
  int B = r->s.batch;
  for (int b = 0; b < B; b++) {
    if (r->pos[b] >= r->s.seq_len)
      return qr_err(e, "%s: sequence %d is full (seq-len %d)", r->m->path, b, r->s.seq_len);
    if (tokens[b] < 0 || tokens[b] >= c->vocab)
      return qr_err(e, "%s: token %d outside the vocabulary", r->m->path, tokens[b]);
  }
  if (!r->dacts) {
    r->dacts = qr_alloc_decode_acts(&r->st, qr_acts_bytes(c, B));
    r->dscores = qr_alloc_decode_scores(&r->st, qr_scores_bytes(c, B, r->s.seq_len));
    if (!r->dacts || !r->dscores) {
      qr_run_decode_end(r);
      return qr_err(e, "%s: out of memory for decode buffers", r->m->path);
    }
  }
  for (int b = 0; b < B; b++) r->rows[b] = (Row){b, r->pos[b], tokens[b], 1};
  if (forward(r, B, r->dacts, B, r->dscores, r->s.seq_len, e)) return -1;
  for (int b = 0; b < B; b++) r->pos[b]++;
  return 0;
}

void qr_run_decode_end(QrRun *r) {
  qr_site_free(&r->st, QR_SITE_DECODE_ACTS, r->dacts, qr_acts_bytes(&r->c, r->s.batch));
  qr_site_free(&r->st, QR_SITE_DECODE_SCORES, r->dscores,
               qr_scores_bytes(&r->c, r->s.batch, r->s.seq_len));
  r->dacts = NULL;
  r->dscores = NULL;
}
