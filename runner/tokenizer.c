/*
** tokenizer.c: reading tokenizer.bin and byte-pair encoding.
**
** File layout (llama2.c): int32 max_token_length, then per token: float32
** merge score, int32 byte length, the bytes (no terminator).
**
** Invariants:
**  1. Every piece is NUL-terminated in `text` and at most max_len bytes.
**  2. `sorted` holds every id once, ordered by piece, for bsearch lookup.
*/
#include "tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

struct QrTokenizer {
  int vocab;
  int max_len;       /* longest piece in bytes */
  char **piece;      /* [vocab] into text */
  float *score;      /* [vocab] merge priority */
  struct TokIdx *sorted; /* [vocab] (piece, id) ordered by piece */
  char *text;        /* all pieces, NUL-terminated */
};

/* The tokenizer's allocation site (one kind for all its tables). */
QR_ALLOC_SITE void *qr_tokenizer_alloc(size_t bytes, size_t *total) {
  void *p = calloc(1, bytes ? bytes : 1);
  if (p) *total += bytes;
  return p;
}

typedef struct TokIdx { const char *s; int id; } TokIdx;

static int cmp_idx(const void *a, const void *b) {
  return strcmp(((const TokIdx *)a)->s, ((const TokIdx *)b)->s);
}

int qr_tokenizer_open(const char *path, int vocab, QrTokenizer **out, QrErr *e) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return qr_err(e, "%s: cannot open: %s", path, strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return qr_err(e, "%s: cannot seek", path); }
  long sz = ftell(f);
  rewind(f);
  if (sz < 4 || sz > (1L << 30)) { fclose(f); return qr_err(e, "%s: bad size %ld", path, sz); }
  unsigned char *buf = malloc((size_t)sz);
  size_t got = buf ? fread(buf, 1, (size_t)sz, f) : 0;
  fclose(f);
  if (got != (size_t)sz) { free(buf); return qr_err(e, "%s: cannot read", path); }
  int32_t maxlen;
  memcpy(&maxlen, buf, 4);
  /* First pass: validate every entry and size the text. */
  size_t off = 4, text = 0;
  int rc = 0;
  if (maxlen < 1 || maxlen > 4096) rc = qr_err(e, "%s: max token length %d out of range", path, maxlen);
  for (int i = 0; rc == 0 && i < vocab; i++) {
    int32_t len;
    if ((size_t)sz - off < 8) { rc = qr_err(e, "%s: truncated at token %d of %d", path, i, vocab); break; }
    memcpy(&len, buf + off + 4, 4);
    if (len < 0 || len > maxlen || (size_t)sz - off - 8 < (size_t)len)
      rc = qr_err(e, "%s: token %d has bad length %d", path, i, len);
    off += 8 + (size_t)len;
    text += (size_t)len + 1;
  }
  QrTokenizer *t = NULL;
  size_t total = 0;
  if (rc == 0) {
    t = qr_tokenizer_alloc(sizeof *t, &total);
    if (t) {
      t->vocab = vocab;
      t->max_len = maxlen;
      t->piece = qr_tokenizer_alloc((size_t)vocab * sizeof *t->piece, &total);
      t->score = qr_tokenizer_alloc((size_t)vocab * sizeof *t->score, &total);
      t->sorted = qr_tokenizer_alloc((size_t)vocab * sizeof *t->sorted, &total);
      t->text = qr_tokenizer_alloc(text, &total);
    }
    if (!t || !t->piece || !t->score || !t->sorted || !t->text)
      rc = qr_err(e, "%s: out of memory", path);
  }
  if (rc == 0) {
    char *w = t->text;
    off = 4;
    for (int i = 0; i < vocab; i++) {
      int32_t len;
      memcpy(&t->score[i], buf + off, 4);
      memcpy(&len, buf + off + 4, 4);
      memcpy(w, buf + off + 8, (size_t)len);
      w[len] = 0;
      t->piece[i] = w;
      w += len + 1;
      off += 8 + (size_t)len;
      t->sorted[i] = (TokIdx){t->piece[i], i};
    }
    qsort(t->sorted, (size_t)vocab, sizeof *t->sorted, cmp_idx);
  }
  free(buf);
  if (rc) { qr_tokenizer_free(t); return -1; }
  *out = t;
  return 0;
}

void qr_tokenizer_free(QrTokenizer *t) {
  if (!t) return;
  free(t->piece);
  free(t->score);
  free(t->sorted);
  free(t->text);
  free(t);
}

static int lookup(const QrTokenizer *t, const char *s) {
  int lo = 0, hi = t->vocab - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2, c = strcmp(s, t->sorted[mid].s);
    if (c == 0) return t->sorted[mid].id;
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return -1;
}

int qr_tokenizer_encode(const QrTokenizer *t, const char *text, int *out) {
  int n = 0;
  char buf[2 * 4096 + 8];
  out[n++] = QR_BOS < t->vocab ? QR_BOS : 0;
  if (*text) {
    int sp = lookup(t, " ");
    if (sp >= 0) out[n++] = sp;
  }
  /* One id per UTF-8 code point when the vocabulary has it, else bytes
  ** (llama2.c's vocabularies put byte b at id b + 3). */
  for (const char *p = text; *p;) {
    size_t len = 1;
    while (len < 4 && ((unsigned char)p[len] & 0xc0) == 0x80) len++;
    memcpy(buf, p, len);
    buf[len] = 0;
    int id = lookup(t, buf);
    if (id >= 0) out[n++] = id;
    else
      for (size_t i = 0; i < len; i++) {
        int b = (unsigned char)p[i] + 3;
        out[n++] = b < t->vocab ? b : 0;
      }
    p += len;
  }
  /* Merge the adjacent pair with the best score until none merges. */
  for (;;) {
    float best = -1e30f;
    int at = -1, id = -1;
    for (int i = 0; i + 1 < n; i++) {
      snprintf(buf, sizeof buf, "%s%s", t->piece[out[i]], t->piece[out[i + 1]]);
      int m = lookup(t, buf);
      if (m >= 0 && t->score[m] > best) { best = t->score[m]; at = i; id = m; }
    }
    if (at < 0) break;
    out[at] = id;
    memmove(out + at + 1, out + at + 2, (size_t)(n - at - 2) * sizeof *out);
    n--;
  }
  return n;
}

const char *qr_tokenizer_piece(const QrTokenizer *t, int prev, int tok, char buf[2]) {
  if (tok < 0 || tok >= t->vocab) return "";
  const char *s = t->piece[tok];
  if (prev == QR_BOS && s[0] == ' ') s++;
  unsigned v;
  if (sscanf(s, "<0x%02X>", &v) == 1 && strlen(s) == 6) {
    buf[0] = (char)v;
    buf[1] = 0;
    return buf;
  }
  return s;
}

int qr_bytes_encode(const char *text, int vocab, int *out) {
  int n = 0;
  out[n++] = QR_BOS % vocab;
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) out[n++] = *p % vocab;
  return n;
}
