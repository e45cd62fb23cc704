/*
** model.h: the qrun model file (format in runner/README.md), its loader
** (mmap in place or read into malloc'd memory), the llama2.c fp32
** checkpoint reader, and a streaming writer used by `gen` and `quantize`.
**
** Every reader of a model file checks each header field against fixed
** bounds, computes every tensor offset with overflow-checked 64-bit
** arithmetic, and requires the file size to equal the computed layout,
** before any pointer into the file is formed.
*/
#ifndef QR_MODEL_H
#define QR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

#define QR_MAGIC "QRUN"
#define QR_VERSION 1
#define QR_HEADER_BYTES 64
#define QR_ALIGN 64
#define QR_MAX_HEAD 512   /* largest head size the attention kernel takes */

/* Error text: one line, names the file. */
typedef struct QrErr { char msg[512]; } QrErr;
int qr_err(QrErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct QrConfig {
  int dim;       /* model width */
  int hidden;    /* feed-forward width */
  int layers;    /* transformer blocks */
  int heads;     /* query heads; head size = dim / heads */
  int kv_heads;  /* key/value heads (heads % kv_heads == 0) */
  int vocab;     /* vocabulary size */
  int max_seq;   /* longest context the model supports */
  int quant;     /* QR_F32 / QR_Q8 / QR_Q4 for every matrix */
  int group;     /* quantization group size, always QR_GROUP */
  int shared;    /* 1: classifier is the token embedding */
} QrConfig;

static inline int qr_head_size(const QrConfig *c) { return c->dim / c->heads; }
static inline int qr_kv_dim(const QrConfig *c) { return c->dim / c->heads * c->kv_heads; }

/* Checks dims against bounds and divisibility; 0 or -1 with a message
** prefixed by `what` (usually the file name). */
int qr_config_check(const QrConfig *c, const char *what, QrErr *e);

/* Tensors in file order. Norm vectors are always f32 (rows = 1). */
enum {
  QR_T_EMB, QR_T_RMS_ATT, QR_T_WQ, QR_T_WK, QR_T_WV, QR_T_WO,
  QR_T_RMS_FFN, QR_T_W1, QR_T_W2, QR_T_W3, QR_T_RMS_FINAL, QR_T_CLS
};
typedef struct QrTensorSpec {
  int kind;        /* QR_T_* */
  int layer;       /* block index, -1 for global tensors */
  int rows, cols;  /* matrix shape (norms: 1 x dim) */
  int quant;       /* storage format */
  uint64_t offset; /* from file start, multiple of QR_ALIGN */
  uint64_t bytes;  /* rows * row bytes */
} QrTensorSpec;

/* Number of tensors, and the i-th one's spec; qr_layout_size is the file
** size (0 if it would overflow 2^62). */
int qr_layout_count(const QrConfig *c);
void qr_layout_tensor(const QrConfig *c, int i, QrTensorSpec *out);
uint64_t qr_layout_size(const QrConfig *c);

typedef struct QrLayer {
  const float *rms_att;  /* [dim] */
  QrTensor wq;           /* [dim x dim] */
  QrTensor wk;           /* [kv_dim x dim] */
  QrTensor wv;           /* [kv_dim x dim] */
  QrTensor wo;           /* [dim x dim] */
  const float *rms_ffn;  /* [dim] */
  QrTensor w1;           /* [hidden x dim] gate */
  QrTensor w2;           /* [dim x hidden] down */
  QrTensor w3;           /* [hidden x dim] up */
} QrLayer;

typedef struct QrModel {
  QrConfig cfg;
  char path[256];         /* file name, for messages */
  int mapped;             /* 1: base is an mmap of the file, else malloc'd */
  int llama2c;            /* 1: read from a llama2.c checkpoint */
  uint8_t *base;          /* whole file, `size` bytes */
  size_t size;
  QrTensor emb;           /* [vocab x dim] token embedding */
  QrLayer *layer;         /* [layers] */
  const float *rms_final; /* [dim] */
  QrTensor cls;           /* [vocab x dim] classifier (== emb when shared) */
} QrModel;

/* Opens a qrun model or a llama2.c fp32 checkpoint (recognized by its
** header). use_mmap: map the file read-only and use it in place; else read
** it into one malloc'd buffer. */
int qr_model_open(const char *path, int use_mmap, QrModel **out, QrErr *e);
void qr_model_close(QrModel *m);

/* The weights allocation site: mmap of the whole file (use_mmap) or one
** malloc filled by pread. NULL on failure (errno set). */
uint8_t *qr_weights_load(int fd, size_t size, int use_mmap);

/* The bytes the weights occupy (the file size). */
static inline size_t qr_model_weight_bytes(const QrModel *m) { return m->size; }

/* Streams a model to `path`: for each tensor in file order, fill(ctx, spec,
** row, out) supplies row `row` as `spec->cols` floats, which the writer
** stores in spec->quant. Writes via a temporary name and renames. */
typedef int (*QrRowFill)(void *ctx, const QrTensorSpec *spec, int row, float *out);
int qr_model_write(const char *path, const QrConfig *c, QrRowFill fill, void *ctx,
                   QrErr *e);

#endif
