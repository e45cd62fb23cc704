/*
** shim_mmap.c: the mmap family's hooks (mmap, mmap64, munmap, mremap), the
** mappings a signal handler makes inside a hook (kept, recorded when the
** hook leaves), and committed memory (mprotect, pkey_mprotect, madvise).
*/
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim_real.h"
#include "shim_stack.h"

/* ---- the mmap family -------------------------------------------------- */

static void record_mmap(LrTls *t, unsigned kind, void *p, size_t len, int prot, int flags,
                        int fd, uint64_t off) {
  char path[LR_CONFIG_PATH_MAX];
  ssize_t pl = 0;
  if (!(flags & MAP_ANONYMOUS) && fd >= 0) {
    /* mmap is a syscall already: one more to name the file is fine */
    char link[40] = "/proc/self/fd/";
    size_t k = 14;
    char d[12];
    int nd = 0;
    for (unsigned v = (unsigned)fd; v || !nd; v /= 10) d[nd++] = (char)('0' + v % 10);
    while (nd) link[k++] = d[--nd];
    link[k] = 0;
    pl = readlink(link, path, sizeof path);
    if (pl < 0) pl = 0;
  }
  LrEvent ev = {.kind = kind, .addr = (uintptr_t)p, .size = len, .prot = (unsigned)prot,
                .flags = (unsigned)flags, .offset = off, .path = path,
                .path_len = (size_t)pl};
  lr_shim_record(t, &ev, 1);
}

/* ---- mappings made by a signal handler inside a hook ----------------------
The guard keeps the shim's own work (and libunwind's and libc's on its
behalf) out of the trace, but it also hid an mmap or munmap made by a signal
handler that interrupted the thread inside a hook. Such a call is told
apart by its caller: not the shim, libunwind, libc or the loader (whose
mappings are the shim's own or come through raw syscalls), while the guard
is set and recording is on. It is kept in the thread's pending list and
recorded when the hook leaves (shim_internal.h, LrPend). */
static int own_caller(uintptr_t ra) {
  return lr_in_shim(ra) || lr_in_start_code(ra) || (ra >= g_shim.unw_lo && ra < g_shim.unw_hi);
}

static int handler_event(uintptr_t ra) {
  return lr_tls.guard && __atomic_load_n(&g_shim.active, __ATOMIC_RELAXED) && !own_caller(ra);
}

/* Async-signal-safe and reentrant (a nested handler's push claims the next
** slot): readlink, a CAS, a release store. */
static void pend_push(unsigned kind, uint64_t seq, void *addr, size_t len, int prot, int flags,
                      int fd, uint64_t off) {
  LrTls *t = &lr_tls;
  uint32_t k = __atomic_load_n(&t->npend, __ATOMIC_RELAXED);
  do {
    if (k >= LR_PEND_MAX || t->pend_gone) {
      __atomic_add_fetch(&t->pend_lost, 1, __ATOMIC_RELAXED);
      __atomic_add_fetch(&g_shim.pend_lost, 1, __ATOMIC_RELAXED);
      return;
    }
  } while (!__atomic_compare_exchange_n(&t->npend, &k, k + 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED));
  __atomic_add_fetch(&g_shim.pend_kept, 1, __ATOMIC_RELAXED);
  LrPend *p = &t->pend[k];
  p->kind = kind;
  p->seq = seq;
  p->addr = (uintptr_t)addr;
  p->len = len;
  p->prot = (unsigned)prot;
  p->flags = (unsigned)flags;
  p->off = off;
  p->path_len = 0;
  if (k < LR_PEND_PATHS && kind != LR_EV_MUNMAP && !(flags & MAP_ANONYMOUS) && fd >= 0) {
    char link[40] = "/proc/self/fd/", d[12];
    size_t n = 14;
    int nd = 0;
    for (unsigned v = (unsigned)fd; v || !nd; v /= 10) d[nd++] = (char)('0' + v % 10);
    while (nd) link[n++] = d[--nd];
    link[n] = 0;
    ssize_t pl = readlink(link, t->pend_path[k], LR_PEND_PATH);
    p->path_len = pl > 0 ? (uint32_t)pl : 0;
  }
  __atomic_store_n(&t->pend_ready[k], 1, __ATOMIC_RELEASE);
}

void lr_shim_flush_pending(LrTls *t) {
  LrSpoolWriter *w = lr_shim_writer(t);
  uint32_t i = t->pend_head;
  for (;;) {
    uint32_t n = __atomic_load_n(&t->npend, __ATOMIC_ACQUIRE);
    if (i >= n) {
      /* done, unless a handler claimed one meanwhile */
      if (__atomic_compare_exchange_n(&t->npend, &n, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        i = 0;
        break;
      }
      continue;
    }
    /* claimed, not filled: its handler is interrupted beneath us (the
    ** guard keeps a flush out of handlers, so it should not happen); the
    ** next flush takes it */
    if (!__atomic_load_n(&t->pend_ready[i], __ATOMIC_ACQUIRE)) break;
    const LrPend *p = &t->pend[i];
    /* its seq was taken in the handler, maybe before the hook's own event
    ** was written: seq must not decrease within a chunk (SPOOL.md), so it
    ** goes into a new one then */
    if (p->seq < w->prev_seq) lr_sw_seal(w);
    LrEvent ev = {.kind = p->kind, .seq = p->seq, .ns = lr_shim_now(), .addr = p->addr,
                  .size = p->len, .prot = p->prot, .flags = p->flags, .offset = p->off,
                  .path = i < LR_PEND_PATHS ? t->pend_path[i] : NULL,
                  .path_len = p->path_len};
    lr_sw_event(w, &ev);
    __atomic_store_n(&t->pend_ready[i], 0, __ATOMIC_RELAXED);
    i++;
  }
  t->pend_head = i;
}

LR_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (lr_shim_booting()) lr_shim_resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    void *q = lr_real.mmap(addr, len, prot, flags, fd, off);
    if (q != MAP_FAILED && handler_event((uintptr_t)__builtin_return_address(0)))
      pend_push(LR_EV_MMAP, lr_shim_next_seq(), q, len, prot, flags, fd, (uint64_t)off);
    return q;
  }
  void *p = lr_real.mmap(addr, len, prot, flags, fd, off);
  int e = errno;
  if (p != MAP_FAILED) record_mmap(t, LR_EV_MMAP, p, len, prot, flags, fd, (uint64_t)off);
  lr_shim_leave(t, e);
  return p;
}

#ifdef LR_HAVE_MMAP64
LR_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
  if (lr_shim_booting()) lr_shim_resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    void *q = lr_real.mmap64(addr, len, prot, flags, fd, off);
    if (q != MAP_FAILED && handler_event((uintptr_t)__builtin_return_address(0)))
      pend_push(LR_EV_MMAP64, lr_shim_next_seq(), q, len, prot, flags, fd, (uint64_t)off);
    return q;
  }
  void *p = lr_real.mmap64(addr, len, prot, flags, fd, off);
  int e = errno;
  if (p != MAP_FAILED) record_mmap(t, LR_EV_MMAP64, p, len, prot, flags, fd, (uint64_t)off);
  lr_shim_leave(t, e);
  return p;
}
#endif

LR_EXPORT int munmap(void *addr, size_t len) {
  if (lr_shim_booting()) lr_shim_resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    if (!handler_event((uintptr_t)__builtin_return_address(0))) return lr_real.munmap(addr, len);
    uint64_t hseq = lr_shim_next_seq(); /* before: the range may be reused at once */
    int hr = lr_real.munmap(addr, len);
    if (hr == 0) pend_push(LR_EV_MUNMAP, hseq, addr, len, 0, 0, -1, 0);
    return hr;
  }
  uint64_t seq = lr_shim_next_seq();
  int r = lr_real.munmap(addr, len);
  int e = errno;
  if (r == 0) {
    LrEvent ev = {.kind = LR_EV_MUNMAP, .addr = (uintptr_t)addr, .size = len, .seq = seq};
    lr_shim_record(t, &ev, 0);
  }
  lr_shim_leave(t, e);
  return r;
}

LR_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...) {
  void *new_addr = NULL;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void *);
    va_end(ap);
  }
  if (lr_shim_booting()) lr_shim_resolve();
  LrTls *t = lr_shim_enter();
  if (!t) return lr_real.mremap(old, old_len, new_len, flags, new_addr);
  uint64_t free_seq = lr_shim_next_seq();
  void *p = lr_real.mremap(old, old_len, new_len, flags, new_addr);
  int e = errno;
  if (p != MAP_FAILED) {
    LrEvent ev = {.kind = LR_EV_MREMAP, .addr = (uintptr_t)p, .size = new_len,
                  .old_addr = (uintptr_t)old, .old_size = old_len,
                  .flags = (unsigned)flags, .free_seq = free_seq};
    ev.seq = lr_shim_next_seq();
    lr_shim_record(t, &ev, 1);
  }
  lr_shim_leave(t, e);
  return p;
}

/* ---- committed memory: mprotect, madvise ------------------------------

A range mapped PROT_NONE is reserved address space, not memory; mprotect
making part of it accessible commits those bytes, mprotect(PROT_NONE)
decommits them (lifetimes.c keeps the split exact to the page). Each call
that succeeded is one event, as cheap as an mmap's: no syscall of our own,
a stack only when bytes may become accessible (prot != PROT_NONE). madvise
is recorded only for the advice that hands pages back to the kernel
(MADV_DONTNEED, MADV_FREE, MADV_REMOVE): it lowers RSS, not committed bytes;
any other advice passes straight through. Like munmap, mprotect(PROT_NONE)
and madvise take their sequence number before the real call (they give
memory back), mprotect that opens bytes after it. */

static void record_protect(LrTls *t, unsigned kind, uint64_t seq, void *addr, size_t len,
                           int prot, int pkey) {
  LrEvent ev = {.kind = kind, .seq = seq, .addr = (uintptr_t)addr, .size = len,
                .prot = (unsigned)prot, .offset = (uint64_t)(unsigned)pkey};
  lr_shim_record(t, &ev, prot != PROT_NONE);
}

LR_EXPORT int mprotect(void *addr, size_t len, int prot) {
  if (lr_shim_booting()) lr_shim_resolve();
  LrTls *t = lr_shim_enter();
  if (!t) return lr_real.mprotect(addr, len, prot);
  uint64_t seq = prot == PROT_NONE ? lr_shim_next_seq() : 0; /* releases: before */
  int r = lr_real.mprotect(addr, len, prot);
  int e = *t->errp;
  if (r == 0) record_protect(t, LR_EV_MPROTECT, seq, addr, len, prot, 0);
  lr_shim_leave(t, e);
  return r;
}

#ifdef LR_HAVE_PKEY_MPROTECT
LR_EXPORT int pkey_mprotect(void *addr, size_t len, int prot, int pkey) {
  if (lr_shim_booting()) lr_shim_resolve();
  LrTls *t = lr_shim_enter();
  if (!t) return lr_real.pkey_mprotect(addr, len, prot, pkey);
  uint64_t seq = prot == PROT_NONE ? lr_shim_next_seq() : 0;
  int r = lr_real.pkey_mprotect(addr, len, prot, pkey);
  int e = *t->errp;
  if (r == 0) record_protect(t, LR_EV_PKEY_MPROTECT, seq, addr, len, prot, pkey);
  lr_shim_leave(t, e);
  return r;
}
#endif

static inline int releases_pages(int advice) {
  if (advice == MADV_DONTNEED) return 1;
#ifdef MADV_FREE
  if (advice == MADV_FREE) return 1;
#endif
#ifdef MADV_REMOVE
  if (advice == MADV_REMOVE) return 1;
#endif
  return 0;
}

LR_EXPORT int madvise(void *addr, size_t len, int advice) {
  if (lr_shim_booting()) lr_shim_resolve();
  if (!releases_pages(advice)) return lr_real.madvise(addr, len, advice);
  LrTls *t = lr_shim_enter();
  if (!t) return lr_real.madvise(addr, len, advice);
  uint64_t seq = lr_shim_next_seq();
  int r = lr_real.madvise(addr, len, advice);
  int e = *t->errp;
  if (r == 0) {
    LrEvent ev = {.kind = LR_EV_MADVISE, .seq = seq, .addr = (uintptr_t)addr, .size = len,
                  .flags = (unsigned)advice};
    lr_shim_record(t, &ev, 0);
  }
  lr_shim_leave(t, e);
  return r;
}
