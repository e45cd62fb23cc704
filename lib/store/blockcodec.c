/*
** blockcodec.c: see blockcodec.h for the format.
*/
#include "store/blockcodec.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/grow.h"

enum { VERSION = 1, NULLS_NONE = 0, NULLS_SOME = 1, NULLS_ALL = 2 };
enum { PACK_RAW = 0, PACK_DEFLATE = 1 };
/* No block is larger: 1024 rows of 17 ten-byte values and four strings
** of at most PATH_MAX each; a damaged length beyond it is refused. */
#define MAX_BLOCK ((size_t)64 << 20)

int lr_bc_is_text(int col) {
  return col == LR_BC_KIND || col == LR_BC_REGION || col == LR_BC_FREE_KIND || col == LR_BC_FILE;
}

/* The column a stored value is a distance from (-1: none). */
static int base_of(int col) {
  return col == LR_BC_FREE_SEQ ? LR_BC_ALLOC_SEQ : col == LR_BC_FREE_NS ? LR_BC_ALLOC_NS : -1;
}

/* ---- bytes ------------------------------------------------------------ */

typedef struct Buf {
  uint8_t *p;
  size_t len, cap;
  int oom;
} Buf;

static void need(Buf *b, size_t more) {
  if (b->oom) return;
  if (b->len + more < b->len) {
    b->oom = 1;
    return;
  }
  void *q = lr_grow(b->p, &b->cap, b->len + more, 1);
  if (!q)
    b->oom = 1;
  else
    b->p = q;
}

static void put_varint(Buf *b, uint64_t v) {
  need(b, 10);
  if (b->oom) return;
  while (v >= 0x80) {
    b->p[b->len++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  b->p[b->len++] = (uint8_t)v;
}

static void put_bytes(Buf *b, const void *p, size_t n) {
  need(b, n);
  if (b->oom || n == 0) return;
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

/* A run head: a 64-bit zigzag value and the `more` flag, 65 bits: the
** first byte holds the flag and 6 value bits, LEB128 goes on from there. */
static void put_head(Buf *b, uint64_t zz, int more) {
  uint64_t rest = zz >> 6;
  uint8_t first = (uint8_t)((unsigned)more | (unsigned)(zz & 0x3f) << 1);
  if (rest) first |= 0x80;
  put_bytes(b, &first, 1);
  if (rest) put_varint(b, rest);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

/* Reads a varint from *p (< end): 0, or -1 if it runs past end or is
** longer than 64 bits. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return -1;
    uint8_t c = *(*p)++;
    if (shift == 63 && c > 1) return -1;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

static int get_head(const uint8_t **p, const uint8_t *end, uint64_t *zz, int *more) {
  if (*p >= end) return -1;
  uint8_t c = *(*p)++;
  uint64_t rest = 0;
  if ((c & 0x80) && (get_varint(p, end, &rest) || rest >> 58 || rest == 0)) return -1;
  *more = c & 1;
  *zz = (uint64_t)(c >> 1 & 0x3f) | rest << 6;
  return 0;
}

/* ---- the encoder -------------------------------------------------------- */

struct LrBcEnc {
  Buf out, col, pack;
  /* one deflate state for every block: compress2() sets up and frees ~270
  ** KB per call, and freeing it trimmed the heap each time (a third of a
  ** churn import went to that and to faulting the pages back in) */
  z_stream z;
  int z_ready;
  /* the block's strings: open addressing over `slot` (index + 1) */
  uint32_t *slot;
  size_t nslot;
  const char **sp;
  uint32_t *sl;
  size_t nstr, cap_str;
  uint32_t code[LR_BC_NCOLS][LR_BC_MAX_ROWS]; /* text columns: string index */
  uint64_t val[LR_BC_MAX_ROWS];
};

LrBcEnc *lr_bc_enc_new(void) { return calloc(1, sizeof(LrBcEnc)); }

void lr_bc_enc_free(LrBcEnc *e) {
  if (!e) return;
  free(e->out.p);
  free(e->col.p);
  free(e->pack.p);
  if (e->z_ready) deflateEnd(&e->z);
  free(e->slot);
  free(e->sp);
  free(e->sl);
  free(e);
}

static uint64_t hash_bytes(const char *s, uint32_t n) {
  uint64_t h = 1469598103934665603ull ^ n;
  for (uint32_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return lr_mix64(h);
}

/* The index of string s[0..n) in the block's list, added if new; -1 when
** memory runs out. */
static int64_t intern(LrBcEnc *e, const char *s, uint32_t n) {
  size_t mask = e->nslot - 1;
  for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
    uint32_t k = e->slot[i];
    if (k == 0) {
      void *a = lr_grow(e->sp, &e->cap_str, e->nstr + 1, sizeof *e->sp);
      if (!a) return -1;
      e->sp = a;
      size_t c2 = e->cap_str;
      uint32_t *l = realloc(e->sl, c2 * sizeof *e->sl);
      if (!l) return -1;
      e->sl = l;
      e->sp[e->nstr] = s;
      e->sl[e->nstr] = n;
      e->slot[i] = (uint32_t)++e->nstr;
      return (int64_t)e->nstr - 1;
    }
    if (e->sl[k - 1] == n && (n == 0 || !memcmp(e->sp[k - 1], s, n))) return k - 1;
  }
}

/* Column col's payload into e->col. */
static void encode_col(LrBcEnc *e, const LrBcRow *rows, int n, int col) {
  Buf *b = &e->col;
  b->len = 0;
  uint32_t bit = 1u << col;
  int nulls = 0;
  for (int i = 0; i < n; i++) nulls += (rows[i].nulls & bit) != 0;
  if (nulls == n) {
    put_bytes(b, (uint8_t[]){NULLS_ALL}, 1);
    return;
  }
  put_bytes(b, (uint8_t[]){nulls ? NULLS_SOME : NULLS_NONE}, 1);
  if (nulls) {
    size_t nb = ((size_t)n + 7) / 8;
    need(b, nb);
    if (b->oom) return;
    memset(b->p + b->len, 0, nb);
    for (int i = 0; i < n; i++)
      if (rows[i].nulls & bit) b->p[b->len + (size_t)i / 8] |= (uint8_t)(1u << (i % 8));
    b->len += nb;
  }
  int base = base_of(col), m = 0;
  for (int i = 0; i < n; i++) {
    if (rows[i].nulls & bit) continue;
    uint64_t v = lr_bc_is_text(col) ? e->code[col][i] : (uint64_t)rows[i].v[col];
    if (base >= 0 && !(rows[i].nulls & (1u << base))) v -= (uint64_t)rows[i].v[base];
    e->val[m++] = v;
  }
  uint64_t prev = 0;
  for (int i = 0; i < m;) {
    uint64_t d = e->val[i] - prev;
    int run = 1;
    while (i + run < m && e->val[i + run] - e->val[i + run - 1] == d) run++;
    put_head(b, zigzag((int64_t)d), run > 1);
    if (run > 1) put_varint(b, (uint64_t)run - 2);
    prev = e->val[i + run - 1];
    i += run;
  }
}

const uint8_t *lr_bc_encode(LrBcEnc *e, const LrBcRow *rows, int n, size_t *len) {
  assert(n >= 1 && n <= LR_BC_MAX_ROWS);
  e->out.len = 0;
  e->out.oom = e->col.oom = 0;
  /* the strings: at most 4 per row */
  size_t want = 16;
  while (want < (size_t)n * 8) want *= 2;
  if (want != e->nslot) {
    free(e->slot);
    e->nslot = 0;
    if (!(e->slot = malloc(want * sizeof *e->slot))) return NULL;
    e->nslot = want;
  }
  memset(e->slot, 0, e->nslot * sizeof *e->slot);
  e->nstr = 0;
  for (int c = 0; c < LR_BC_NCOLS; c++) {
    if (!lr_bc_is_text(c)) continue;
    for (int i = 0; i < n; i++) {
      if (rows[i].nulls & (1u << c)) continue;
      int64_t k = intern(e, rows[i].s[c] ? rows[i].s[c] : "", rows[i].s[c] ? rows[i].len[c] : 0);
      if (k < 0) return NULL;
      e->code[c][i] = (uint32_t)k;
    }
  }
  Buf *o = &e->out;
  put_varint(o, VERSION);
  put_varint(o, (uint64_t)n);
  put_varint(o, e->nstr);
  for (size_t i = 0; i < e->nstr; i++) {
    put_varint(o, e->sl[i]);
    put_bytes(o, e->sp[i], e->sl[i]);
  }
  for (int c = 0; c < LR_BC_NCOLS; c++) {
    encode_col(e, rows, n, c);
    if (e->col.oom) return NULL;
    put_varint(o, e->col.len);
    put_bytes(o, e->col.p, e->col.len);
  }
  if (o->oom) return NULL;
  *len = o->len;
  return o->p;
}

/* ---- packing ---------------------------------------------------------- */

const uint8_t *lr_bc_pack(LrBcEnc *e, const uint8_t *b, size_t len, size_t *out_len) {
  Buf *k = &e->pack;
  k->len = 0;
  k->oom = 0;
  if (!e->z_ready) {
    memset(&e->z, 0, sizeof e->z);
    if (deflateInit(&e->z, 1) != Z_OK) return NULL;
    e->z_ready = 1;
  } else if (deflateReset(&e->z) != Z_OK) {
    return NULL;
  }
  uLong zlen = deflateBound(&e->z, (uLong)len);
  need(k, 1 + 10 + (size_t)zlen);
  if (k->oom) return NULL;
  k->p[k->len++] = PACK_DEFLATE;
  put_varint(k, len);
  e->z.next_in = (Bytef *)b;
  e->z.avail_in = (uInt)len;
  e->z.next_out = k->p + k->len;
  e->z.avail_out = (uInt)zlen;
  if (deflate(&e->z, Z_FINISH) == Z_STREAM_END && k->len + e->z.total_out < len + 1) {
    *out_len = k->len + (size_t)e->z.total_out;
    return k->p;
  }
  /* deflate did not pay: the block as it is */
  k->len = 0;
  put_bytes(k, (uint8_t[]){PACK_RAW}, 1);
  put_bytes(k, b, len);
  if (k->oom) return NULL;
  *out_len = k->len;
  return k->p;
}

int lr_bc_unpack(const uint8_t *p, size_t len, uint8_t **buf, size_t *cap, size_t *out_len,
                 int *oom) {
  const uint8_t *end = p + len;
  if (len < 1) return -1;
  uint8_t how = *p++;
  uint64_t raw = (uint64_t)(end - p);
  if (how == PACK_DEFLATE && (get_varint(&p, end, &raw) || raw == 0)) return -1;
  if ((how != PACK_RAW && how != PACK_DEFLATE) || raw > MAX_BLOCK) return -1;
  if (raw > *cap) {
    uint8_t *b = realloc(*buf, (size_t)raw);
    if (!b) return *oom = 1, -1;
    *buf = b;
    *cap = (size_t)raw;
  }
  if (how == PACK_RAW) {
    if (raw) memcpy(*buf, p, (size_t)raw);
  } else {
    uLongf got = (uLongf)raw;
    int rc = uncompress(*buf, &got, p, (uLong)(end - p));
    if (rc == Z_MEM_ERROR) return *oom = 1, -1;
    if (rc != Z_OK || got != raw) return -1;
  }
  *out_len = (size_t)raw;
  return 0;
}

/* ---- the decoder -------------------------------------------------------- */

void lr_bc_cols_free(LrBcCols *c) {
  free(c->vbuf);
  free(c->nbuf);
  free(c->str);
  free(c->slen);
  memset(c, 0, sizeof *c);
}

static int make_room(LrBcCols *c, int n, uint64_t nstr, int *oom) {
  if ((size_t)n > c->cap_rows) {
    free(c->vbuf);
    free(c->nbuf);
    c->vbuf = malloc(sizeof(int64_t) * LR_BC_NCOLS * LR_BC_MAX_ROWS);
    c->nbuf = malloc((size_t)LR_BC_NCOLS * LR_BC_MAX_ROWS);
    c->cap_rows = c->vbuf && c->nbuf ? LR_BC_MAX_ROWS : 0;
    if (!c->cap_rows) return *oom = 1, -1;
  }
  if (nstr > c->cap_str) {
    free(c->str);
    free(c->slen);
    c->str = malloc(nstr * sizeof *c->str);
    c->slen = malloc(nstr * sizeof *c->slen);
    c->cap_str = c->str && c->slen ? nstr : 0;
    if (!c->cap_str) return *oom = 1, -1;
  }
  for (int k = 0; k < LR_BC_NCOLS; k++) {
    c->v[k] = c->vbuf + (size_t)k * LR_BC_MAX_ROWS;
    c->null[k] = c->nbuf + (size_t)k * LR_BC_MAX_ROWS;
  }
  return 0;
}

/* One column's payload p[0..end) into c (column col, n rows). */
static int decode_col(const uint8_t *p, const uint8_t *end, int col, LrBcCols *c) {
  int n = c->n;
  int64_t *v = c->v[col];
  uint8_t *nl = c->null[col];
  if (p >= end) return -1;
  uint8_t flag = *p++;
  if (flag == NULLS_ALL) {
    memset(nl, 1, (size_t)n);
    return p == end ? 0 : -1;
  }
  if (flag == NULLS_SOME) {
    size_t nb = ((size_t)n + 7) / 8;
    if ((size_t)(end - p) < nb) return -1;
    for (int i = 0; i < n; i++) nl[i] = (p[i / 8] >> (i % 8)) & 1;
    p += nb;
  } else if (flag == NULLS_NONE) {
    memset(nl, 0, (size_t)n);
  } else {
    return -1;
  }
  int m = 0, i = 0;
  for (int k = 0; k < n; k++) m += !nl[k];
  uint64_t prev = 0;
  for (int placed = 0; placed < m;) {
    uint64_t zz, run = 1;
    int more;
    if (get_head(&p, end, &zz, &more)) return -1;
    if (more && (get_varint(&p, end, &run) || run > (uint64_t)n)) return -1;
    if (more) run += 2;
    if (run > (uint64_t)(m - placed)) return -1; /* more values than rows */
    uint64_t d = (uint64_t)unzigzag(zz);
    for (uint64_t r = 0; r < run; r++) {
      while (nl[i]) v[i++] = 0;
      prev += d;
      v[i++] = (int64_t)prev;
    }
    placed += (int)run;
  }
  while (i < n) v[i++] = 0;
  if (p != end) return -1;
  int base = base_of(col);
  if (base >= 0)
    for (i = 0; i < n; i++)
      if (!nl[i] && !c->null[base][i]) v[i] = (int64_t)((uint64_t)v[i] + (uint64_t)c->v[base][i]);
  if (lr_bc_is_text(col))
    for (i = 0; i < n; i++)
      if (!nl[i] && (uint64_t)v[i] >= c->nstr) return -1;
  return 0;
}

int lr_bc_decode(const uint8_t *p, size_t len, uint32_t mask, LrBcCols *c, int *oom) {
  const uint8_t *end = p + len;
  uint64_t ver, n, nstr;
  if (mask & (1u << LR_BC_FREE_SEQ)) mask |= 1u << LR_BC_ALLOC_SEQ;
  if (mask & (1u << LR_BC_FREE_NS)) mask |= 1u << LR_BC_ALLOC_NS;
  if (get_varint(&p, end, &ver) || ver != VERSION || get_varint(&p, end, &n) || n < 1 ||
      n > LR_BC_MAX_ROWS || get_varint(&p, end, &nstr) || nstr > (uint64_t)(end - p))
    return -1;
  if (make_room(c, (int)n, nstr, oom)) return -1;
  c->n = (int)n;
  c->nstr = (uint32_t)nstr;
  c->have = 0;
  for (uint64_t i = 0; i < nstr; i++) {
    uint64_t l;
    if (get_varint(&p, end, &l) || l > (uint64_t)(end - p) || l > UINT32_MAX) return -1;
    c->str[i] = p;
    c->slen[i] = (uint32_t)l;
    p += l;
  }
  for (int col = 0; col < LR_BC_NCOLS; col++) {
    uint64_t l;
    if (get_varint(&p, end, &l) || l > (uint64_t)(end - p)) return -1;
    if (mask & (1u << col)) {
      if (decode_col(p, p + l, col, c)) return -1;
      c->have |= 1u << col;
    }
    p += l;
  }
  return p == end ? 0 : -1;
}

void lr_bc_row(const LrBcCols *c, int i, LrBcRow *out) {
  memset(out, 0, sizeof *out);
  for (int col = 0; col < LR_BC_NCOLS; col++) {
    if (!(c->have & (1u << col)) || c->null[col][i]) {
      out->nulls |= 1u << col;
      continue;
    }
    out->v[col] = c->v[col][i];
    if (lr_bc_is_text(col)) {
      out->s[col] = (const char *)c->str[c->v[col][i]];
      out->len[col] = c->slen[c->v[col][i]];
    }
  }
}
