/*
** forward.h: the transformer forward pass over a batch of sequences, with
** its KV cache, batched prefill in chunks of `ubatch` prompt tokens, one
** token per sequence per decode step, and the sizing formulas of every
** runtime buffer (documented in runner/README.md, checked by the tests).
**
** Memory of a run (all exact, in bytes; f = 4, kvrow = kv_dim x 4 for an
** f32 cache or kv_dim / 32 x 34 for a q8 one):
**   kv cache        2 x layers x batch x seq_len x kvrow          (run)
**   logits          batch x vocab x f                             (run)
**   prefill acts    rows x (4 x dim + 2 x kv_dim) x f, rows = batch x U
**   prefill scores  batch x len x heads x ctx x f per chunk of len tokens
**                   ending at position ctx (U = P: batch x heads x P^2 x f)
**   decode acts     batch x (4 x dim + 2 x kv_dim) x f
**   decode scores   batch x heads x seq_len x f
**   scratch         rows x 2 x hidden x f + rows x max(dim, hidden)/32 x 34
**                   (the second term only for quantized weights), per layer
**                   and step with --scratch malloc, or once (the largest
**                   rows) as the arena
*/
#ifndef QR_FORWARD_H
#define QR_FORWARD_H

#include <stddef.h>

#include "alloc.h"
#include "model.h"
#include "quant.h"

typedef struct QrShape {
  int batch;      /* sequences run together (>= 1) */
  int seq_len;    /* KV cache positions per sequence (<= max_seq) */
  int prompt_len; /* longest prompt in the batch (1..seq_len) */
  int ubatch;     /* prompt tokens per sequence per prefill chunk; 0 = all */
  int kv_quant;   /* QR_F32 or QR_Q8 */
  int arena;      /* 1: one reused scratch arena; 0: malloc per layer */
} QrShape;

/* Checks a shape against a model: 0, or -1 with a message naming `what`. */
int qr_shape_check(const QrConfig *c, const QrShape *s, const char *what, QrErr *e);

/* Effective prefill chunk: min(ubatch, prompt_len), or prompt_len if 0. */
int qr_shape_ubatch(const QrShape *s);

/* The sizing formulas (see the file comment). */
size_t qr_kv_row_bytes(const QrConfig *c, int kv_quant);
size_t qr_kv_bytes(const QrConfig *c, const QrShape *s);          /* K + V */
size_t qr_logits_bytes(const QrConfig *c, int batch);
size_t qr_acts_bytes(const QrConfig *c, int rows);
size_t qr_scores_bytes(const QrConfig *c, int rows, int ctx);
size_t qr_scratch_bytes(const QrConfig *c, int rows);

typedef struct QrSizes {
  size_t kv_cache;       /* K + V */
  size_t logits;
  size_t prefill_acts;
  size_t prefill_scores; /* the largest chunk's: the last full or the final one */
  size_t decode_acts;
  size_t decode_scores;
  size_t scratch;        /* largest per-layer scratch (prefill chunk) */
  size_t arena;          /* 0 unless s->arena */
} QrSizes;
void qr_sizes(const QrConfig *c, const QrShape *s, QrSizes *out);

typedef struct QrRun QrRun;

/* Allocates the KV cache, the logits and (arena mode) the arena for a
** batch. The model and pool must outlive the run. */
int qr_run_new(const QrModel *m, const QrShape *s, QrPool *pool, QrRun **out, QrErr *e);
void qr_run_free(QrRun *r);

/* Prefill: prompts[b] has lens[b] tokens (1 <= lens[b] <= prompt_len),
** each < vocab. Afterwards qr_run_logits(b) predicts the token after the
** prompt. Allocates and frees the prefill buffers. */
int qr_run_prefill(QrRun *r, const int *const *prompts, const int *lens, QrErr *e);

/* One decode step: tokens[b] goes to the next position of sequence b.
** The decode buffers are allocated at the first step and kept until
** qr_run_decode_end (or qr_run_free). Fails when a sequence is full. */
int qr_run_decode(QrRun *r, const int *tokens, QrErr *e);
void qr_run_decode_end(QrRun *r);

const float *qr_run_logits(const QrRun *r, int b); /* [vocab] */
int qr_run_pos(const QrRun *r, int b);              /* positions filled */
const QrAllocStats *qr_run_stats(const QrRun *r);

#endif
