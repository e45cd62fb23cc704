/*
** model.c: the qrun model file format (header + 64-byte aligned tensors),
** loading it by mmap or by read into malloc'd memory, reading llama2.c's
** fp32 checkpoints, and writing models row by row (gen, quantize).
**
** Invariants:
**  1. No pointer into the file is formed before the header passed
**     qr_config_check and the file size equals qr_layout_size (or the
**     llama2.c size formula), so every tensor lies inside the buffer.
**  2. weights_load is the only place weight memory is obtained: one mmap of
**     the whole file, or one malloc of the whole file.
*/
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

// --- errors ----------------------------------------------------------------

int qr_err(QrErr *e, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
  }
  return -1;
}

// --- configuration and layout ----------------------------------------------

int qr_config_check(const QrConfig *c, const char *what, QrErr *e) {
#define BOUND(f, lo, hi)                                                        \
  if (c->f < (lo) || c->f > (hi))                                               \
    return qr_err(e, "%s: header field " #f " = %d outside [%d, %d]", what, c->f, \
                  (int)(lo), (int)(hi));
  BOUND(dim, 2, 1 << 16);
  BOUND(hidden, 1, 1 << 18);
  BOUND(layers, 1, 4096);
  BOUND(heads, 1, c->dim);
  BOUND(kv_heads, 1, c->heads);
  BOUND(vocab, 1, 1 << 22);
  BOUND(max_seq, 1, 1 << 20);
  BOUND(quant, 0, 2);
  BOUND(shared, 0, 1);
#undef BOUND
  if (c->group != QR_GROUP)
    return qr_err(e, "%s: group size %d unsupported (only %d)", what, c->group, QR_GROUP);
  if (c->dim % c->heads || c->heads % c->kv_heads)
    return qr_err(e, "%s: dim %d, heads %d, kv heads %d do not divide evenly", what,
                  c->dim, c->heads, c->kv_heads);
  int hs = c->dim / c->heads;
  if (hs % 2 || hs > QR_MAX_HEAD)
    return qr_err(e, "%s: head size %d must be even and at most %d", what, hs, QR_MAX_HEAD);
  if (c->quant != QR_F32 && (c->dim % QR_GROUP || c->hidden % QR_GROUP))
    return qr_err(e, "%s: dim %d and hidden %d must be multiples of %d for %s", what,
                  c->dim, c->hidden, QR_GROUP, qr_quant_name(c->quant));
  return 0;
}

int qr_layout_count(const QrConfig *c) { return 1 + 9 * c->layers + 1 + !c->shared; }

static uint64_t align_up(uint64_t x) { return (x + QR_ALIGN - 1) / QR_ALIGN * QR_ALIGN; }

static void spec_shape(const QrConfig *c, int kind, int *rows, int *cols, int *quant) {
  int kv = qr_kv_dim(c);
  *quant = c->quant;
  *cols = c->dim;
  switch (kind) {
  case QR_T_EMB: case QR_T_CLS: *rows = c->vocab; break;
  case QR_T_WQ: case QR_T_WO: *rows = c->dim; break;
  case QR_T_WK: case QR_T_WV: *rows = kv; break;
  case QR_T_W1: case QR_T_W3: *rows = c->hidden; break;
  case QR_T_W2: *rows = c->dim; *cols = c->hidden; break;
  default: *rows = 1; *quant = QR_F32; break; /* norms */
  }
}

/* Tensor k given the end offset of tensor k - 1 (QR_HEADER_BYTES for the
** first); *off becomes the end of tensor k. Sizes fit in 64 bits by the
** config bounds: the largest tensor is 2^22 x 2^18 x 4 bytes = 2^42, times
** 9 x 4096 tensors. */
static void spec_next(const QrConfig *c, int k, uint64_t *off, QrTensorSpec *s) {
  if (k == 0) { s->kind = QR_T_EMB; s->layer = -1; }
  else if (k <= 9 * c->layers) { s->kind = QR_T_RMS_ATT + (k - 1) % 9; s->layer = (k - 1) / 9; }
  else if (k == 9 * c->layers + 1) { s->kind = QR_T_RMS_FINAL; s->layer = -1; }
  else { s->kind = QR_T_CLS; s->layer = -1; }
  spec_shape(c, s->kind, &s->rows, &s->cols, &s->quant);
  s->offset = align_up(*off);
  s->bytes = (uint64_t)s->rows * qr_row_bytes(s->quant, (size_t)s->cols);
  *off = s->offset + s->bytes;
}

void qr_layout_tensor(const QrConfig *c, int i, QrTensorSpec *out) {
  uint64_t off = QR_HEADER_BYTES;
  for (int k = 0; k <= i && k < qr_layout_count(c); k++) spec_next(c, k, &off, out);
}

uint64_t qr_layout_size(const QrConfig *c) {
  QrTensorSpec s;
  qr_layout_tensor(c, qr_layout_count(c) - 1, &s);
  return s.offset + s.bytes;
}

// --- header parsing --------------------------------------------------------

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* A u32 header field as int, or -1 when it exceeds INT32_MAX (caught by the
** bounds check as "outside"). */
static int field(const uint8_t *h, int off) {
  uint32_t v = le32(h + off);
  return v > 0x7fffffffu ? -1 : (int)v;
}

static int parse_qrun(const uint8_t *h, uint64_t fsize, const char *path, QrConfig *c,
                      QrErr *e) {
  uint32_t ver = le32(h + 4);
  if (ver != QR_VERSION)
    return qr_err(e, "%s: format version %u unsupported (expected %d)", path, ver, QR_VERSION);
  c->dim = field(h, 8);
  c->hidden = field(h, 12);
  c->layers = field(h, 16);
  c->heads = field(h, 20);
  c->kv_heads = field(h, 24);
  c->vocab = field(h, 28);
  c->max_seq = field(h, 32);
  c->quant = field(h, 36);
  c->group = field(h, 40);
  c->shared = field(h, 44);
  if (qr_config_check(c, path, e)) return -1;
  uint64_t want = qr_layout_size(c), stated = le64(h + 48);
  if (stated != want)
    return qr_err(e, "%s: header says %llu bytes but its dims need %llu", path,
                  (unsigned long long)stated, (unsigned long long)want);
  if (fsize != want)
    return qr_err(e, "%s: file is %llu bytes but its header needs %llu (truncated or corrupt)",
                  path, (unsigned long long)fsize, (unsigned long long)want);
  return 0;
}

/* llama2.c checkpoint: 7 int32 (dim, hidden, layers, heads, kv_heads,
** vocab (negative: separate classifier), seq_len), then fp32 tensors:
** emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3 (each stacked over
** layers), rms_final, two unused rope tables of seq_len x head/2, [cls]. */
static uint64_t llama2c_size(const QrConfig *c) {
  uint64_t d = (uint64_t)c->dim, L = (uint64_t)c->layers, kv = (uint64_t)qr_kv_dim(c);
  uint64_t n = (uint64_t)c->vocab * d + L * d + L * d * d * 2 + L * d * kv * 2 + L * d +
               L * d * (uint64_t)c->hidden * 3 + d + (uint64_t)c->max_seq * qr_head_size(c);
  if (!c->shared) n += (uint64_t)c->vocab * d;
  return 28 + 4 * n;
}

static int parse_llama2c(const uint8_t *h, uint64_t fsize, const char *path, QrConfig *c,
                         QrErr *e) {
  int32_t v[7];
  for (int i = 0; i < 7; i++) v[i] = (int32_t)le32(h + 4 * i);
  *c = (QrConfig){.dim = v[0], .hidden = v[1], .layers = v[2], .heads = v[3],
                  .kv_heads = v[4], .vocab = v[5] < 0 ? (v[5] == INT32_MIN ? 0 : -v[5]) : v[5],
                  .max_seq = v[6], .quant = QR_F32, .group = QR_GROUP, .shared = v[5] > 0};
  if (qr_config_check(c, path, NULL))
    return qr_err(e, "%s: bad magic: neither a qrun model nor a llama2.c checkpoint", path);
  uint64_t want = llama2c_size(c);
  if (fsize != want)
    return qr_err(e, "%s: llama2.c checkpoint header needs %llu bytes but the file is %llu",
                  path, (unsigned long long)want, (unsigned long long)fsize);
  return 0;
}

// --- loading ---------------------------------------------------------------

/* The weights allocation site (invariant 2): file-backed pages shared with
** the page cache when mapped, anonymous pages when read. */
QR_ALLOC_SITE uint8_t *qr_weights_load(int fd, size_t size, int use_mmap) {
  if (use_mmap) {
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    return p == MAP_FAILED ? NULL : p;
  }
  uint8_t *p = malloc(size);
  if (!p) return NULL;
  size_t got = 0;
  while (got < size) {
    ssize_t r = pread(fd, p + got, size - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { free(p); return NULL; }
    got += (size_t)r;
  }
  return p;
}

static QrTensor tensor_at(const QrModel *m, uint64_t off, int rows, int cols, int quant) {
  return (QrTensor){m->base + off, rows, cols, quant};
}

static void bind_qrun(QrModel *m) {
  const QrConfig *c = &m->cfg;
  int n = qr_layout_count(c);
  uint64_t off = QR_HEADER_BYTES;
  for (int i = 0; i < n; i++) {
    QrTensorSpec s;
    spec_next(c, i, &off, &s);
    QrTensor t = tensor_at(m, s.offset, s.rows, s.cols, s.quant);
    QrLayer *L = s.layer >= 0 ? &m->layer[s.layer] : NULL;
    switch (s.kind) {
    case QR_T_EMB: m->emb = t; break;
    case QR_T_RMS_ATT: L->rms_att = (const float *)t.data; break;
    case QR_T_WQ: L->wq = t; break;
    case QR_T_WK: L->wk = t; break;
    case QR_T_WV: L->wv = t; break;
    case QR_T_WO: L->wo = t; break;
    case QR_T_RMS_FFN: L->rms_ffn = (const float *)t.data; break;
    case QR_T_W1: L->w1 = t; break;
    case QR_T_W2: L->w2 = t; break;
    case QR_T_W3: L->w3 = t; break;
    case QR_T_RMS_FINAL: m->rms_final = (const float *)t.data; break;
    case QR_T_CLS: m->cls = t; break;
    }
  }
  if (c->shared) m->cls = m->emb;
}

static void bind_llama2c(QrModel *m) {
  const QrConfig *c = &m->cfg;
  uint64_t d = (uint64_t)c->dim, kv = (uint64_t)qr_kv_dim(c), h = (uint64_t)c->hidden;
  uint64_t off = 28;
#define TAKE(n) (off += 4 * (uint64_t)(n), off - 4 * (uint64_t)(n))
  m->emb = tensor_at(m, TAKE((uint64_t)c->vocab * d), c->vocab, c->dim, QR_F32);
  for (int l = 0; l < c->layers; l++) m->layer[l].rms_att = (const float *)(m->base + TAKE(d));
  for (int l = 0; l < c->layers; l++) m->layer[l].wq = tensor_at(m, TAKE(d * d), c->dim, c->dim, QR_F32);
  for (int l = 0; l < c->layers; l++) m->layer[l].wk = tensor_at(m, TAKE(kv * d), (int)kv, c->dim, QR_F32);
  for (int l = 0; l < c->layers; l++) m->layer[l].wv = tensor_at(m, TAKE(kv * d), (int)kv, c->dim, QR_F32);
  for (int l = 0; l < c->layers; l++) m->layer[l].wo = tensor_at(m, TAKE(d * d), c->dim, c->dim, QR_F32);
  for (int l = 0; l < c->layers; l++) m->layer[l].rms_ffn = (const float *)(m->base + TAKE(d));
  for (int l = 0; l < c->layers; l++) m->layer[l].w1 = tensor_at(m, TAKE(h * d), c->hidden, c->dim, QR_F32);
  for (int l = 0; l < c->layers; l++) m->layer[l].w2 = tensor_at(m, TAKE(d * h), c->dim, c->hidden, QR_F32);
  for (int l = 0; l < c->layers; l++) m->layer[l].w3 = tensor_at(m, TAKE(h * d), c->hidden, c->dim, QR_F32);
  m->rms_final = (const float *)(m->base + TAKE(d));
  TAKE((uint64_t)c->max_seq * qr_head_size(c)); /* rope tables, recomputed at run time */
  m->cls = c->shared ? m->emb : tensor_at(m, TAKE((uint64_t)c->vocab * d), c->vocab, c->dim, QR_F32);
#undef TAKE
}

int qr_model_open(const char *path, int use_mmap, QrModel **out, QrErr *e) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return qr_err(e, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  uint8_t h[QR_HEADER_BYTES] = {0};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return qr_err(e, "%s: not a regular file", path);
  }
  uint64_t fsize = (uint64_t)st.st_size;
  ssize_t got = pread(fd, h, sizeof h, 0);
  QrModel *m = calloc(1, sizeof *m);
  if (!m) { close(fd); return qr_err(e, "%s: out of memory", path); }
  snprintf(m->path, sizeof m->path, "%s", path);
  int rc;
  if (got >= 4 && !memcmp(h, QR_MAGIC, 4)) {
    rc = got < QR_HEADER_BYTES
             ? qr_err(e, "%s: truncated header (%zd of %d bytes)", path, got, QR_HEADER_BYTES)
             : parse_qrun(h, fsize, path, &m->cfg, e);
  } else if (got >= 28) {
    m->llama2c = 1;
    rc = parse_llama2c(h, fsize, path, &m->cfg, e);
  } else {
    rc = qr_err(e, "%s: too short to be a model (%zd bytes)", path, got < 0 ? 0 : got);
  }
  if (rc == 0 && fsize > SIZE_MAX / 2) rc = qr_err(e, "%s: too large for this machine", path);
  if (rc == 0) {
    m->layer = calloc((size_t)m->cfg.layers, sizeof *m->layer);
    m->size = (size_t)fsize;
    m->base = m->layer ? qr_weights_load(fd, m->size, use_mmap) : NULL;
    m->mapped = use_mmap;
    if (!m->base) rc = qr_err(e, "%s: cannot %s %zu bytes of weights: %s", path,
                              use_mmap ? "map" : "read", m->size, strerror(errno ? errno : ENOMEM));
  }
  close(fd);
  if (rc) {
    m->base = NULL;
    qr_model_close(m);
    return -1;
  }
  if (m->llama2c) bind_llama2c(m);
  else bind_qrun(m);
  *out = m;
  return 0;
}

void qr_model_close(QrModel *m) {
  if (!m) return;
  if (m->base) {
    if (m->mapped) munmap(m->base, m->size);
    else free(m->base);
  }
  free(m->layer);
  free(m);
}

// --- writing ---------------------------------------------------------------

int qr_model_write(const char *path, const QrConfig *c, QrRowFill fill, void *ctx,
                   QrErr *e) {
  if (qr_config_check(c, path, e)) return -1;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return qr_err(e, "%s: path too long", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return qr_err(e, "%s: cannot create: %s", tmp, strerror(errno));
  uint8_t h[QR_HEADER_BYTES] = {0};
  memcpy(h, QR_MAGIC, 4);
  int vals[] = {QR_VERSION, c->dim, c->hidden, c->layers, c->heads, c->kv_heads,
                c->vocab, c->max_seq, c->quant, c->group, c->shared};
  for (int i = 0; i < 11; i++) put32(h + 4 + 4 * i, (uint32_t)vals[i]);
  put64(h + 48, qr_layout_size(c));
  int rc = fwrite(h, 1, sizeof h, f) == sizeof h ? 0 : -1;
  size_t maxc = (size_t)(c->hidden > c->dim ? c->hidden : c->dim);
  float *row = malloc(maxc * sizeof *row);
  uint8_t *q = malloc(maxc * sizeof(float));
  uint64_t pos = QR_HEADER_BYTES;
  static const uint8_t zeros[QR_ALIGN];
  if (!row || !q) rc = -1;
  uint64_t end = QR_HEADER_BYTES;
  for (int i = 0; rc == 0 && i < qr_layout_count(c); i++) {
    QrTensorSpec s;
    spec_next(c, i, &end, &s);
    if (s.offset > pos && fwrite(zeros, 1, (size_t)(s.offset - pos), f) != s.offset - pos) rc = -1;
    size_t rb = qr_row_bytes(s.quant, (size_t)s.cols);
    for (int r = 0; rc == 0 && r < s.rows; r++) {
      if (fill(ctx, &s, r, row)) { rc = -2; break; }
      qr_quantize_row(s.quant, row, q, (size_t)s.cols);
      if (fwrite(q, 1, rb, f) != rb) rc = -1;
    }
    pos = s.offset + s.bytes;
  }
  free(row);
  free(q);
  if (fclose(f) != 0 && rc == 0) rc = -1;
  if (rc == 0 && rename(tmp, path) != 0) rc = -1;
  if (rc) {
    int err = errno;
    unlink(tmp);
    if (rc == -2) return -1; /* fill() already said why */
    return qr_err(e, "%s: cannot write: %s", path, strerror(err));
  }
  return 0;
}
