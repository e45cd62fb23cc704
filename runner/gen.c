/*
** gen.c: model writers for `qrun gen` and `qrun quantize`, both row
** streams into qr_model_write, so neither holds a whole model in memory.
**
** Generated weights: matrices uniform in +-sqrt(3 / cols) (unit-variance
** outputs for unit-variance inputs, so activations neither vanish nor blow
** up with depth), embeddings uniform in +-1, norm weights 1.
*/
#include "gen.h"

#include <math.h>
#include <string.h>

#include "sample.h"

typedef struct { QrRng rng; } GenCtx;

static int gen_fill(void *arg, const QrTensorSpec *s, int row, float *out) {
  GenCtx *g = arg;
  (void)row;
  if (s->kind == QR_T_RMS_ATT || s->kind == QR_T_RMS_FFN || s->kind == QR_T_RMS_FINAL) {
    for (int i = 0; i < s->cols; i++) out[i] = 1.0f;
    return 0;
  }
  float a = s->kind == QR_T_EMB ? 1.0f : sqrtf(3.0f / (float)s->cols);
  for (int i = 0; i < s->cols; i++) out[i] = (2.0f * qr_rng_float(&g->rng) - 1.0f) * a;
  return 0;
}

int qr_gen_model(const char *path, const QrConfig *c, uint64_t seed, QrErr *e) {
  GenCtx g;
  qr_rng_seed(&g.rng, seed);
  return qr_model_write(path, c, gen_fill, &g, e);
}

typedef struct { const QrModel *m; } QuantCtx;

static int quant_fill(void *arg, const QrTensorSpec *s, int row, float *out) {
  const QrModel *m = ((QuantCtx *)arg)->m;
  const QrLayer *L = s->layer >= 0 ? &m->layer[s->layer] : NULL;
  const QrTensor *t = NULL;
  const float *v = NULL;
  switch (s->kind) {
  case QR_T_EMB: t = &m->emb; break;
  case QR_T_RMS_ATT: v = L->rms_att; break;
  case QR_T_WQ: t = &L->wq; break;
  case QR_T_WK: t = &L->wk; break;
  case QR_T_WV: t = &L->wv; break;
  case QR_T_WO: t = &L->wo; break;
  case QR_T_RMS_FFN: v = L->rms_ffn; break;
  case QR_T_W1: t = &L->w1; break;
  case QR_T_W2: t = &L->w2; break;
  case QR_T_W3: t = &L->w3; break;
  case QR_T_RMS_FINAL: v = m->rms_final; break;
  default: t = &m->cls; break;
  }
  if (v) memcpy(out, v, (size_t)s->cols * sizeof *out);
  else qr_dequantize_row(t->quant, t->data + (size_t)row * qr_row_bytes(t->quant, (size_t)t->cols),
                         out, (size_t)s->cols);
  return 0;
}

int qr_quantize_model(const char *in, const char *out, int quant, QrErr *e) {
  QrModel *m;
  if (qr_model_open(in, 1, &m, e)) return -1;
  if (m->cfg.quant != QR_F32) {
    qr_err(e, "%s: already %s; quantize takes an f32 model", in, qr_quant_name(m->cfg.quant));
    qr_model_close(m);
    return -1;
  }
  QrConfig c = m->cfg;
  c.quant = quant;
  QuantCtx q = {m};
  int rc = qr_model_write(out, &c, quant_fill, &q, e);
  qr_model_close(m);
  return rc;
}
