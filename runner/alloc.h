/*
** alloc.h: one allocation function per kind of runtime buffer, so that a
** profiler walking the stack tells the kinds apart by function name
** (qr_alloc_kv_cache, qr_alloc_logits, ...), and a per-run tally that tests
** compare with the sizing formulas in forward.h.
**
** Each function is noinline and does its bookkeeping after calling the
** allocator, which also keeps the compiler from turning it into a tail call
** (a tail call would drop the function's own frame from the stack).
*/
#ifndef QR_ALLOC_H
#define QR_ALLOC_H

#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__)
#define QR_ALLOC_SITE __attribute__((noinline, noclone))
#else
#define QR_ALLOC_SITE __attribute__((noinline))
#endif

enum {
  QR_SITE_KV,             /* K and V caches (two allocations) */
  QR_SITE_PREFILL_ACTS,   /* prefill activations, rows = batch x ubatch */
  QR_SITE_PREFILL_SCORES, /* attention scores of one prefill chunk */
  QR_SITE_DECODE_ACTS,    /* decode activations, rows = batch */
  QR_SITE_DECODE_SCORES,  /* decode attention scores, batch x heads x seq_len */
  QR_SITE_LOGITS,         /* batch x vocab floats */
  QR_SITE_SCRATCH,        /* per-layer temporaries, --scratch malloc */
  QR_SITE_ARENA,          /* the reused temporaries, --scratch arena */
  QR_SITE_TOKENS,         /* prompt and output token ids */
  QR_SITE_COUNT
};

/* Bytes per kind: live now, the most live at once, the largest single
** allocation, and how many allocations were made. */
typedef struct QrAllocStats {
  size_t live[QR_SITE_COUNT];
  size_t peak[QR_SITE_COUNT];
  size_t largest[QR_SITE_COUNT];
  size_t count[QR_SITE_COUNT];
  size_t total_live, total_peak; /* over all kinds */
} QrAllocStats;

const char *qr_site_name(int kind);

void *qr_alloc_kv_cache(QrAllocStats *s, size_t bytes);
void *qr_alloc_prefill_acts(QrAllocStats *s, size_t bytes);
void *qr_alloc_prefill_scores(QrAllocStats *s, size_t bytes);
void *qr_alloc_decode_acts(QrAllocStats *s, size_t bytes);
void *qr_alloc_decode_scores(QrAllocStats *s, size_t bytes);
void *qr_alloc_logits(QrAllocStats *s, size_t bytes);
void *qr_alloc_scratch(QrAllocStats *s, size_t bytes);
void *qr_alloc_arena(QrAllocStats *s, size_t bytes);
void *qr_alloc_tokens(QrAllocStats *s, size_t bytes);

/* Frees p (NULL is fine) allocated as `kind` with `bytes`. */
void qr_site_free(QrAllocStats *s, int kind, void *p, size_t bytes);

#endif
