/*
** aggsort.c: see aggsort.h.
**
** Invariants:
**   1. Every row put is in exactly one place: the heap, the file or the
**      long array (until read).
**   2. The file's rows are strictly increasing in (alloc_seq, id), and
**      every heap row's key is larger than the last one written (a row that
**      would break this goes to the long array instead).
**   3. heap[] is a min-heap on (alloc_seq, id).
*/
#include "ingest/aggsort.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(LR_REGION_HEAP == 0 && LR_REGION_ANON == 1 && LR_REGION_FILE == 2 &&
                   LR_REGION_RESERVED == 3,
               "LrAggRow.region uses the LR_REGION_* codes");

enum { BUF = 1 << 16 };

typedef struct SRow {
  int64_t id, size, aseq, ans, fseq, fns, tid, stack, foff;
  char *file; /* owned; long rows only */
  uint8_t region, freed, has_off, kind; /* kind: LrEventKind */
} SRow;

struct LrAggSort {
  int64_t window;
  int failed;
  SRow *heap;
  size_t nheap, capheap;
  SRow *lng;
  size_t nlng, caplng, lng_at;
  int64_t fmax;     /* the largest free_seq emitted so far */
  int64_t wait;     /* rows wait until fmax - wait: twice the longest short
                       lifetime seen (plus 16), at most window */
  int have_last;    /* a row was written to the file */
  SRow last;        /* the last row written (the deltas' base) */
  FILE *f;
  uint8_t buf[BUF];
  size_t bn, bpos;  /* bytes in buf; read position */
  uint64_t nfile, nread;
  SRow head;        /* the file's next row when reading */
  int have_head;
  SRow prev;        /* the deltas' base when reading */
};

static int less(const SRow *a, const SRow *b) {
  return a->aseq != b->aseq ? a->aseq < b->aseq : a->id < b->id;
}

LrAggSort *lr_aggsort_new(int64_t window) {
  LrAggSort *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->window = window > 0 ? window : 1;
  s->fmax = INT64_MIN;
  return s;
}

static int grow(SRow **v, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap * 2 : 1024;
  while (c < need) c *= 2;
  SRow *n = realloc(*v, c * sizeof *n);
  if (!n) return -1;
  *v = n;
  *cap = c;
  return 0;
}

/* ---- the file: varints, deltas from the previous row ---- */

/* Differences wrap modulo 2^64: a hostile spool's seqs and ids can be
** anything, and signed overflow would be undefined; decoding wraps back. */
static uint64_t zz(int64_t a, int64_t b) {
  int64_t v = (int64_t)((uint64_t)a - (uint64_t)b);
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static int64_t unzz(int64_t base, uint64_t z) {
  return (int64_t)((uint64_t)base + ((z >> 1) ^ (0 - (z & 1))));
}
static uint64_t dif(int64_t a, int64_t b) { return (uint64_t)a - (uint64_t)b; }
static int64_t add(int64_t a, uint64_t d) { return (int64_t)((uint64_t)a + d); }

static void put_uv(LrAggSort *s, uint64_t v) {
  while (v >= 0x80) {
    s->buf[s->bn++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  s->buf[s->bn++] = (uint8_t)v;
}

static int write_row(LrAggSort *s, const SRow *r) {
  /* invariant 2 */
  assert(!s->have_last || less(&s->last, r));
  if (!s->f && !(s->f = tmpfile())) return -1;
  if (s->bn > BUF - 10 * 10) {
    if (fwrite(s->buf, 1, s->bn, s->f) != s->bn) return -1;
    s->bn = 0;
  }
  const SRow *p = &s->last; /* zero before the first row */
  put_uv(s, zz(r->id, p->id));
  put_uv(s, dif(r->aseq, p->aseq));
  put_uv(s, zz(r->ans, p->ans));
  put_uv(s, dif(r->fseq, r->aseq)); /* short rows: 0 .. window */
  put_uv(s, zz(r->fns, r->ans));
  put_uv(s, (uint64_t)r->size);
  put_uv(s, zz(r->tid, p->tid));
  put_uv(s, zz(r->stack, p->stack));
  put_uv(s, (uint64_t)r->region | (uint64_t)r->kind << 2);
  s->last = *r;
  s->have_last = 1;
  s->nfile++;
  return 0;
}

static int get_uv(LrAggSort *s, uint64_t *v) {
  uint64_t x = 0;
  for (int sh = 0; sh < 64; sh += 7) {
    if (s->bpos == s->bn) {
      s->bn = fread(s->buf, 1, BUF, s->f);
      s->bpos = 0;
      if (!s->bn) return -1;
    }
    uint8_t b = s->buf[s->bpos++];
    x |= (uint64_t)(b & 0x7f) << sh;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

/* The file's next row into s->head (have_head 0 at its end). */
static int read_head(LrAggSort *s) {
  s->have_head = 0;
  if (s->nread == s->nfile) return 0;
  uint64_t v[9];
  for (int i = 0; i < 9; i++)
    if (get_uv(s, &v[i])) return -1;
  SRow r;
  memset(&r, 0, sizeof r);
  r.id = unzz(s->prev.id, v[0]);
  r.aseq = add(s->prev.aseq, v[1]);
  r.ans = unzz(s->prev.ans, v[2]);
  r.fseq = add(r.aseq, v[3]);
  r.fns = unzz(r.ans, v[4]);
  r.size = (int64_t)v[5];
  r.tid = unzz(s->prev.tid, v[6]);
  r.stack = unzz(s->prev.stack, v[7]);
  r.region = (uint8_t)(v[8] & 3);
  r.kind = (uint8_t)(v[8] >> 2);
  r.freed = 1;
  s->prev = r;
  s->head = r;
  s->have_head = 1;
  s->nread++;
  return 0;
}

/* ---- the heap ---- */

static void heap_push(LrAggSort *s, const SRow *r) {
  size_t i = s->nheap++;
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (!less(r, &s->heap[up])) break;
    s->heap[i] = s->heap[up];
    i = up;
  }
  s->heap[i] = *r;
}

static SRow heap_pop(LrAggSort *s) {
  SRow top = s->heap[0], last = s->heap[--s->nheap];
  size_t i = 0, n = s->nheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && less(&s->heap[c + 1], &s->heap[c])) c++;
    if (!less(&s->heap[c], &last)) break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (n) s->heap[i] = last;
  return top;
}

void lr_aggsort_put(LrAggSort *s, const LrLifeRow *r, uint64_t alloc_off, uint64_t stack_off) {
  if (!s || s->failed) return;
  SRow x;
  memset(&x, 0, sizeof x);
  x.id = (int64_t)(r->id + alloc_off);
  x.size = (int64_t)r->size;
  x.aseq = (int64_t)r->alloc_seq;
  x.ans = (int64_t)r->alloc_ns;
  x.freed = r->free_kind != NULL;
  x.fseq = x.freed ? (int64_t)r->free_seq : -1;
  x.fns = x.freed ? (int64_t)r->free_ns : 0;
  x.tid = (int64_t)r->tid;
  x.stack = r->stack ? (int64_t)(r->stack + stack_off) : -1;
  x.region = (uint8_t)r->region;
  x.kind = r->kind < LR_EV__COUNT ? (uint8_t)r->kind : 0;
  x.has_off = r->file != NULL;
  x.foff = r->file ? (int64_t)r->file_offset : 0;
  if (x.freed && x.fseq > s->fmax) s->fmax = x.fseq;
  int is_short = x.freed && !r->file && x.fseq >= x.aseq && dif(x.fseq, x.aseq) <= (uint64_t)s->window &&
                 (!s->have_last || less(&s->last, &x));
  if (is_short) {
    if (grow(&s->heap, &s->capheap, s->nheap + 1)) goto fail;
    heap_push(s, &x);
    int64_t w = (int64_t)dif(x.fseq, x.aseq) * 2 + 16;
    if (w > s->wait) s->wait = w < s->window ? w : s->window;
  } else {
    if (r->file && !(x.file = strdup(r->file))) goto fail;
    if (grow(&s->lng, &s->caplng, s->nlng + 1)) {
      free(x.file);
      goto fail;
    }
    s->lng[s->nlng++] = x;
  }
  /* rows starting before fmax - wait go to the file. With wait below the
  ** window, a later row that starts before one already written is possible
  ** (its lifetime longer than any seen): it goes with the long rows, so the
  ** order stays exact; waiting only as long as the lifetimes seen keeps the
  ** heap small (~30K rows on malloc churn with the full window: a third
  ** of the import went to sifting it). */
  while (s->nheap && s->fmax > INT64_MIN + s->wait && s->heap[0].aseq < s->fmax - s->wait) {
    SRow top = heap_pop(s);
    if (write_row(s, &top)) goto fail;
  }
  return;
fail:
  s->failed = 1;
}

static int cmp_rows(const void *a, const void *b) {
  const SRow *x = a, *y = b;
  return less(x, y) ? -1 : less(y, x);
}

int lr_aggsort_finish(LrAggSort *s) {
  if (!s || s->failed) return -1;
  while (s->nheap) {
    SRow top = heap_pop(s);
    if (write_row(s, &top)) goto fail;
  }
  if (s->f) {
    if (s->bn && fwrite(s->buf, 1, s->bn, s->f) != s->bn) goto fail;
    if (fflush(s->f) || fseek(s->f, 0, SEEK_SET)) goto fail;
  }
  s->bn = s->bpos = 0;
  memset(&s->prev, 0, sizeof s->prev);
  if (s->nlng) qsort(s->lng, s->nlng, sizeof *s->lng, cmp_rows); /* qsort(NULL, 0) is UB */
  s->lng_at = 0;
  if (read_head(s)) goto fail;
  return 0;
fail:
  s->failed = 1;
  return -1;
}

int lr_aggsort_next(void *ctx, LrAggRow *row) {
  LrAggSort *s = ctx;
  if (s->failed) return -1;
  int from_lng = s->lng_at < s->nlng && (!s->have_head || less(&s->lng[s->lng_at], &s->head));
  if (!from_lng && !s->have_head) return 0;
  SRow r = from_lng ? s->lng[s->lng_at++] : s->head;
  *row = (LrAggRow){.id = r.id,
                    .size = r.size,
                    .alloc_seq = r.aseq,
                    .alloc_ns = r.ans,
                    .freed = r.freed,
                    .free_seq = r.fseq,
                    .free_ns = r.fns,
                    .tid = r.tid,
                    .stack_id = r.stack,
                    .region = r.region,
                    .kind = lr_event_kind_name(r.kind),
                    .file = r.file,
                    .has_offset = r.has_off,
                    .file_offset = r.foff};
  if (!from_lng && read_head(s)) {
    s->failed = 1;
    return -1;
  }
  return 1;
}

void lr_aggsort_counts(const LrAggSort *s, uint64_t *kept, uint64_t *spilled) {
  *kept = s ? s->nlng : 0;
  *spilled = s ? s->nfile : 0;
}

void lr_aggsort_free(LrAggSort *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nlng; i++) free(s->lng[i].file);
  free(s->lng);
  free(s->heap);
  if (s->f) fclose(s->f);
  free(s);
}
