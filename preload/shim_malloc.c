/*
** shim_malloc.c: the malloc family's hooks. Each forwards to the real call
** with the guard at LR_GUARD_REAL (a signal handler's call then is served
** from the rescue pool, shim_pools.h), then records the block (the stack
** for blocks obtained, none for frees). Before lr_real is known, dlsym's
** own calls are served from the boot pool.
*/
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim_pools.h"
#include "shim_real.h"
#include "shim_stack.h"

#define LR_ALLOC_HOOK_R(KIND, call, size_expr, align_expr, rescue_n, rescue_align)   \
  LrTls *t = lr_shim_enter();                                                   \
  if (!t) return lr_in_real_alloc() ? lr_rescue_alloc((rescue_n), (rescue_align)) : call; \
  t->guard = LR_GUARD_REAL;                                                     \
  void *p = call;                                                               \
  t->guard = 1;                                                                 \
  int e = *t->errp;                                                             \
  if (p) {                                                                      \
    LrEvent ev;                                                                 \
    lr_ev_basic(&ev, (KIND), 0, (uintptr_t)p, (size_expr), (align_expr));       \
    lr_shim_record(t, &ev, 1);                                                          \
  }                                                                             \
  lr_shim_leave(t, e);                                                          \
  return p;
#define LR_ALLOC_HOOK(KIND, call, size_expr, align_expr) \
  LR_ALLOC_HOOK_R(KIND, call, size_expr, align_expr, size_expr, align_expr)

LR_EXPORT void *malloc(size_t n) {
  if (lr_shim_booting()) {
    if (lr_shim_resolving()) return lr_boot_alloc(n);
    lr_shim_resolve();
  }
  LR_ALLOC_HOOK(LR_EV_MALLOC, lr_real.malloc(n), n, 0)
}

LR_EXPORT void *calloc(size_t c, size_t n) {
  if (lr_shim_booting()) {
    if (lr_shim_resolving()) {
      if (n && c > SIZE_MAX / n) return NULL;
      return lr_boot_alloc(c * n);
    }
    lr_shim_resolve();
  }
  if (lr_in_real_alloc() && n && c > SIZE_MAX / n) {
    errno = ENOMEM;
    return NULL;
  }
  LR_ALLOC_HOOK(LR_EV_CALLOC, lr_real.calloc(c, n), c * n, 0)
}

LR_EXPORT void free(void *p) {
  if (!p || lr_in_boot_pool(p) || lr_in_rescue(p)) return;
  if (lr_shim_booting()) lr_shim_resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    if (!lr_in_real_alloc()) lr_real.free(p);
    return;
  }
  int e = *t->errp;
  uint64_t seq = lr_shim_next_seq();
  t->guard = LR_GUARD_REAL;
  lr_real.free(p);
  t->guard = 1;
  LrEvent ev;
  lr_ev_basic(&ev, LR_EV_FREE, seq, (uintptr_t)p, 0, 0);
  lr_shim_record(t, &ev, 0);
  lr_shim_leave(t, e);
}

/* realloc and reallocarray: the old block stops being ours before the call
** (free_seq), the new one is ours after it (seq). */
static void *realloc_common(unsigned kind, void *old, size_t n, void *(*call)(void *, size_t, size_t),
                            size_t a, size_t b) {
  LrTls *t = lr_shim_enter();
  if (!t) {
    if (!lr_in_real_alloc()) return call(old, a, b);
    if (old) { /* a heap block cannot be moved from here */
      errno = ENOMEM;
      return NULL;
    }
    return lr_rescue_alloc(n, 0);
  }
  uint64_t free_seq = old ? lr_shim_next_seq() : 0;
  /* glibc's reallocarray calls realloc through the PLT (our hook): that
  ** nested call is the allocator's own, not a handler's, so reallocarray
  ** runs with the plain guard */
  if (kind == LR_EV_REALLOC) t->guard = LR_GUARD_REAL;
  void *p = call(old, a, b);
  t->guard = 1;
  int e = *t->errp;
  if (p || (old && n == 0)) {
    LrEvent ev = {.kind = kind, .addr = (uintptr_t)p, .size = p ? n : 0,
                  .old_addr = (uintptr_t)old};
    ev.seq = lr_shim_next_seq();
    ev.free_seq = old ? free_seq : ev.seq;
    lr_shim_record(t, &ev, p != NULL);
  }
  lr_shim_leave(t, e);
  return p;
}

static void *call_realloc(void *old, size_t a, size_t b) {
  (void)b;
  return lr_real.realloc(old, a);
}

static void *call_reallocarray(void *old, size_t a, size_t b) {
  if (lr_real.reallocarray) return lr_real.reallocarray(old, a, b);
  if (b && a > SIZE_MAX / b) {
    errno = ENOMEM;
    return NULL;
  }
  return lr_real.realloc(old, a * b);
}

LR_EXPORT void *realloc(void *old, size_t n) {
  if (lr_shim_booting()) {
    if (lr_shim_resolving()) {
      void *p = lr_boot_alloc(n);
      if (p && old && lr_in_boot_pool(old)) {
        size_t had = ((const size_t *)old)[-1];
        memmove(p, old, had < n ? had : n);
      }
      return p;
    }
    lr_shim_resolve();
  }
  if (lr_in_rescue(old)) { /* a rescued block: to the heap (or the pool) */
    size_t had = ((const size_t *)old)[-1];
    void *p = malloc(n);
    if (p) memcpy(p, old, had < n ? had : n);
    return p;
  }
  if (lr_in_boot_pool(old)) { /* dlsym's block: move it to the real heap */
    void *p = malloc(n);
    size_t had = ((const size_t *)old)[-1];
    if (p) memcpy(p, old, had < n ? had : n);
    return p;
  }
  return realloc_common(LR_EV_REALLOC, old, n, call_realloc, n, 0);
}

LR_EXPORT void *reallocarray(void *old, size_t c, size_t n) {
  if (lr_shim_booting()) lr_shim_resolve();
  if (n && c > SIZE_MAX / n) {
    errno = ENOMEM;
    return NULL;
  }
  if (lr_in_rescue(old)) return realloc(old, c * n);
  return realloc_common(LR_EV_REALLOCARRAY, old, c * n, call_reallocarray, c, n);
}

LR_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (lr_shim_booting()) lr_shim_resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    if (!lr_in_real_alloc()) return lr_real.posix_memalign(out, align, n);
    void *q = lr_rescue_alloc(n, align);
    if (!q) return ENOMEM;
    *out = q;
    return 0;
  }
  t->guard = LR_GUARD_REAL;
  int r = lr_real.posix_memalign(out, align, n);
  t->guard = 1;
  int e = *t->errp;
  if (r == 0) {
    LrEvent ev;
    lr_ev_basic(&ev, LR_EV_POSIX_MEMALIGN, 0, (uintptr_t)*out, n, align);
    lr_shim_record(t, &ev, 1);
  }
  lr_shim_leave(t, e);
  return r;
}

static void *call_aligned_alloc(size_t align, size_t n) {
  return lr_real.aligned_alloc ? lr_real.aligned_alloc(align, n) : lr_real.memalign(align, n);
}

static void *call_valloc(size_t n) {
  return lr_real.valloc ? lr_real.valloc(n) : lr_real.memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

LR_EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (lr_shim_booting()) lr_shim_resolve();
  LR_ALLOC_HOOK(LR_EV_ALIGNED_ALLOC, call_aligned_alloc(align, n), n, align)
}

LR_EXPORT void *memalign(size_t align, size_t n) {
  if (lr_shim_booting()) lr_shim_resolve();
  LR_ALLOC_HOOK(LR_EV_MEMALIGN, lr_real.memalign(align, n), n, align)
}

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

LR_EXPORT void *valloc(size_t n) {
  if (lr_shim_booting()) lr_shim_resolve();
  LR_ALLOC_HOOK_R(LR_EV_VALLOC, call_valloc(n), n, 0, n, page_size())
}

#ifdef __GLIBC__
/* n rounded up to whole pages, at least one (as glibc's pvalloc) */
static size_t page_round(size_t n) {
  size_t pg = page_size();
  if (n > SIZE_MAX - pg) return SIZE_MAX; /* rescue_alloc refuses it */
  return n ? (n + pg - 1) & ~(pg - 1) : pg;
}

LR_EXPORT void *pvalloc(size_t n) {
  if (lr_shim_booting()) lr_shim_resolve();
  LR_ALLOC_HOOK_R(LR_EV_PVALLOC, lr_real.pvalloc(n), n, 0, page_round(n), page_size())
}
#endif

/* Not recorded: hooked because a block from the rescue or boot pool has no
** allocator header for libc to read (glibc would read garbage, scudo
** abort); its size is in the word before it. */
LR_EXPORT size_t malloc_usable_size(LR_USABLE_ARG p) {
  if (!p) return 0;
  if (lr_in_rescue(p) || lr_in_boot_pool(p)) return ((const size_t *)p)[-1];
  if (lr_shim_booting()) lr_shim_resolve();
  return lr_real.malloc_usable_size ? lr_real.malloc_usable_size(p) : 0;
}
