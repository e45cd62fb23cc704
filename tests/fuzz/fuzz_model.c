/*
** fuzz_model.c: libFuzzer target for qrun's model loader (runner/model.c):
** the bytes are a model file (qrun format or a llama2.c checkpoint),
** opened both ways (read into malloc'd memory and mapped). Refused: one
** line naming the file, nothing returned. Accepted: every tensor and norm
** vector the loader bound lies inside the file (its first and last byte are
** read, so ASan sees a bound that is off), and a one-token prefill and one
** decode step run on the weights, whatever their values.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "fuzz_util.h"
#include "model.h"
#include "quant.h"
#include "sample.h"

static volatile uint8_t g_sink;

static void inside(const QrModel *m, const void *p, uint64_t bytes) {
  const uint8_t *b = p;
  if (!b || b < m->base || bytes > m->size || (uint64_t)(b - m->base) > m->size - bytes) abort();
  if (bytes) g_sink ^= b[0] ^ b[bytes - 1];
}

static void tensor(const QrModel *m, const QrTensor *t) {
  if (t->rows < 1 || t->cols < 1) abort();
  inside(m, t->data, (uint64_t)t->rows * qr_row_bytes(t->quant, (size_t)t->cols));
}

static void check_bounds(const QrModel *m) {
  const QrConfig *c = &m->cfg;
  uint64_t norm = 4 * (uint64_t)c->dim;
  tensor(m, &m->emb);
  tensor(m, &m->cls);
  inside(m, m->rms_final, norm);
  for (int l = 0; l < c->layers; l++) {
    const QrLayer *L = &m->layer[l];
    inside(m, L->rms_att, norm);
    inside(m, L->rms_ffn, norm);
    const QrTensor *ts[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w2, &L->w3};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) tensor(m, ts[i]);
  }
}

static void forward(const QrModel *m) {
  QrShape s = {.batch = 1, .seq_len = m->cfg.max_seq < 4 ? m->cfg.max_seq : 4,
               .prompt_len = 1, .kv_quant = QR_F32, .arena = 1};
  QrRun *r;
  QrErr e;
  if (qr_run_new(m, &s, NULL, &r, &e) != 0) return;
  int p[1] = {m->cfg.vocab - 1}, lens[1] = {1};
  const int *pp[1] = {p};
  if (qr_run_prefill(r, pp, lens, &e) == 0) {
    int t = qr_argmax(qr_run_logits(r, 0), m->cfg.vocab);
    if (t < 0 || t >= m->cfg.vocab) abort();
    (void)qr_run_decode(r, &t, &e);
  }
  qr_run_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  int fd = fz_memfd(data, size, path, sizeof path);
  if (fd < 0) return 0;
  for (int use_mmap = 0; use_mmap < 2; use_mmap++) {
    QrModel *m = (QrModel *)1;
    QrErr e;
    memset(&e, 0, sizeof e);
    if (qr_model_open(path, use_mmap, &m, &e) != 0) {
      if (m || !memchr(e.msg, 0, sizeof e.msg) || !strstr(e.msg, path) || strchr(e.msg, '\n'))
        abort();
      continue;
    }
    if (!m || m->size != size) abort();
    check_bounds(m);
    if (!use_mmap) forward(m);
    qr_model_close(m);
  }
  close(fd);
  return 0;
}
