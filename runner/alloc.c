/*
** alloc.c: the runtime allocation sites (see alloc.h). All use malloc or
** calloc, never mmap, so a heap profiler sees their exact sizes.
*/
#include "alloc.h"

#include <stdlib.h>

const char *qr_site_name(int kind) {
  static const char *names[QR_SITE_COUNT] = {
      "kv_cache", "prefill_acts", "prefill_scores", "decode_acts", "decode_scores",
      "logits", "scratch", "arena", "tokens"};
  return kind >= 0 && kind < QR_SITE_COUNT ? names[kind] : "?";
}

static void *note(QrAllocStats *s, int kind, void *p, size_t bytes) {
  if (p && s) {
    s->live[kind] += bytes;
    s->count[kind]++;
    if (s->live[kind] > s->peak[kind]) s->peak[kind] = s->live[kind];
    if (bytes > s->largest[kind]) s->largest[kind] = bytes;
    s->total_live += bytes;
    if (s->total_live > s->total_peak) s->total_peak = s->total_live;
  }
  return p;
}

void qr_site_free(QrAllocStats *s, int kind, void *p, size_t bytes) {
  if (!p) return;
  free(p);
  if (s) {
    s->live[kind] -= bytes;
    s->total_live -= bytes;
  }
}

/* Sizes of zero still return a unique pointer (malloc(1)) so callers never
** mistake an empty buffer for a failure. */
#define SITE(fn, kind, zero)                                              \
  QR_ALLOC_SITE void *fn(QrAllocStats *s, size_t bytes) {                 \
    void *p = zero ? calloc(1, bytes ? bytes : 1) : malloc(bytes ? bytes : 1); \
    return note(s, kind, p, bytes);                                       \
  }

SITE(qr_alloc_kv_cache, QR_SITE_KV, 1)
SITE(qr_alloc_prefill_acts, QR_SITE_PREFILL_ACTS, 0)
SITE(qr_alloc_prefill_scores, QR_SITE_PREFILL_SCORES, 0)
SITE(qr_alloc_decode_acts, QR_SITE_DECODE_ACTS, 0)
SITE(qr_alloc_decode_scores, QR_SITE_DECODE_SCORES, 0)
SITE(qr_alloc_logits, QR_SITE_LOGITS, 1)
SITE(qr_alloc_scratch, QR_SITE_SCRATCH, 0)
SITE(qr_alloc_arena, QR_SITE_ARENA, 0)
SITE(qr_alloc_tokens, QR_SITE_TOKENS, 1)
