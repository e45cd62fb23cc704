/*
** shim_stack.c: a recorded event's stack and its writing (lr_shim_record,
** shim_stack.h): the stack cache (stack_cache.h) first, then the
** configured unwinder, the frames of the shim cut, the stack interned in
** the process's stack table (its STACK record written when it is new).
** Runs with the thread's guard set; no lock, no malloc (libunwind's own
** first-use allocations are the shim's, guarded).
*/
#include <stdint.h>
#include <string.h>

#include "pyframes.h"
#include "shim_rss.h"
#include "shim_stack.h"
#include "unwind.h"

/* Index of the first frame of the program: past the unwinder's own frames,
** then past the shim's. */
static int first_program_frame(const uintptr_t *buf, int n) {
  int j = 0;
  while (j < n && !lr_in_shim(buf[j])) j++;
  if (j == n) j = 0;
  while (j < n && lr_in_shim(buf[j])) j++;
  return j;
}

static int fp_walk(LrTls *t, uintptr_t *buf, int max, uintptr_t *stop) {
  if (!t->fp_bounds_done) {
    lr_unwind_fp_bounds(&t->stk_lo, &t->stk_hi);
    t->fp_bounds_done = 1;
  }
  return lr_unwind_fp(buf, max, t->stk_lo, t->stk_hi, stop);
}

/* Interns ips[0..m) in the stack table, writing its STACK record first if
** it is new; returns its id. The record leaves out any frame of the shim
** still in the stack (main_wrapper, outermost, on glibc): users should see
** their program's stacks only. That filtering costs nothing per event, since
** the key stays the raw ips and records are written once per stack. */
static uint64_t intern(LrSpoolWriter *w, const uintptr_t *ips, uint32_t m) {
  int is_new;
  uint32_t slot;
  uint64_t id = lr_stack_intern(g_shim.stacks, ips, m, &is_new, &slot);
  if (is_new) {
    uintptr_t kept[LR_SPOOL_MAX_FRAMES];
    uint32_t k = 0;
    for (uint32_t i = 0; i < m && k < LR_SPOOL_MAX_FRAMES; i++)
      if (!lr_in_shim(ips[i])) kept[k++] = ips[i];
    lr_sw_stack(w, id, kept, k);
    lr_stack_publish(g_shim.stacks, slot, id);
  }
  return id;
}

/* The libunwind backend with a frame-pointer fast path.
**
** A frame-pointer walk is ~15x cheaper than unw_backtrace, but it silently
** skips the caller of any function built without frame pointers, and it
** stops in the C library's start code (__libc_start_main, start_thread),
** which keeps none. So a walk is only used as a key: the first time a key
** is seen, libunwind unwinds for real, and the key is remembered (mapped
** to libunwind's stack id) only if libunwind's stack is the walk's frames
** followed by nothing but C library or loader frames (plus the outermost
** one, _start). Such a tail is fixed by where the walk stopped, which is
** part of the key (the stack address of its last frame record). Any other
** difference (a skipped frame) means libunwind is used for that key every
** time. LOWRAM_UNWIND=libunwind-strict turns this off. */
static uint64_t stack_checked(LrTls *t, LrSpoolWriter *w, uintptr_t *fbuf, uintptr_t *ubuf,
                              int max) {
  uint32_t depth = g_shim.cfg.depth;
  uintptr_t stop = 0;
  int fn = fp_walk(t, fbuf, max - 1, &stop);
  int fj = first_program_frame(fbuf, fn);
  uint32_t fm = (uint32_t)(fn - fj);
  if (fm > depth) fm = depth;
  uintptr_t *key = fbuf + fj;
  key[fm] = stop;
  uint64_t tid = fm ? lr_stack_find(g_shim.fp_trusted, key, fm + 1) : 0;
  /* a key published with the overflow marker (~0 >> 1) has no map slot */
  if (tid && tid < g_shim.fp_map_len) return g_shim.fp_map[tid];
  int un = lr_unwind_libunwind(ubuf, max);
  int uj = first_program_frame(ubuf, un);
  uint32_t um = (uint32_t)(un - uj), raw = um;
  if (um > depth) um = depth;
  uint64_t id = intern(w, ubuf + uj, um);
  if (!fm || fm > um || memcmp(key, ubuf + uj, fm * sizeof *key)) return id;
  /* frames beyond the walk: start code only (the outermost may be _start) */
  uint32_t free_last = raw <= depth ? 1 : 0;
  for (uint32_t i = fm; i + free_last < um; i++)
    if (!lr_in_start_code(ubuf[uj + i])) return id;
  int is_new;
  uint32_t slot;
  tid = lr_stack_intern(g_shim.fp_trusted, key, fm + 1, &is_new, &slot);
  if (is_new && slot != UINT32_MAX && tid < g_shim.fp_map_len) {
    g_shim.fp_map[tid] = id;
    lr_stack_publish(g_shim.fp_trusted, slot, tid);
  } else if (is_new) {
    lr_stack_publish(g_shim.fp_trusted, slot, ~(uint64_t)0 >> 1);
  }
  return id;
}

/* ---- the stack cache (stack_cache.h) ------------------------------------ */

/* Adds a thread's cache counters to the process's and drops its cache. */
static void sc_retire(LrTls *t) {
  if (t->scs.lookups) {
    __atomic_add_fetch(&g_shim.scs.lookups, t->scs.lookups, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_shim.scs.hits, t->scs.hits, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_shim.scs.fills, t->scs.fills, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_shim.scs.refused, t->scs.refused, __ATOMIC_RELAXED);
  }
  memset(&t->scs, 0, sizeof t->scs);
  lr_sc_free(t->sc);
  t->sc = NULL;
  memset(t->sc_seen, 0, sizeof t->sc_seen);
}

void lr_shim_sc_retire(void) { sc_retire(&lr_tls); }

#ifdef LR_HAVE_STACK_CACHE
/* The program's first return address, the stack slot holding it, and the
** rbp the program had when it called the hook: walks the shim's own frame
** records (all its code keeps frame pointers) up to the first return
** address outside the shim. 0 if not found within a few frames. */
static __attribute__((always_inline)) inline int hook_frame(uintptr_t *ra0, uintptr_t *slot0,
                                                            uintptr_t *r0) {
  uintptr_t *fp = (uintptr_t *)__builtin_frame_address(0);
  for (int i = 0; i < 6 && fp; i++) {
    uintptr_t ra = fp[1];
    if (!lr_in_shim(ra)) {
      *ra0 = ra;
      *slot0 = (uintptr_t)&fp[1];
      *r0 = fp[0];
      return 1;
    }
    fp = (uintptr_t *)fp[0];
  }
  return 0;
}

/* A key's second miss: the unwinder's stack (libunwind's or eh's),
** interned, and an entry for it if the stack can be cached. */
static __attribute__((noinline)) uint64_t sc_fill(LrTls *t, LrSpoolWriter *w, uintptr_t ra0,
                                                  uintptr_t slot0, uintptr_t r0, int eh,
                                                  int32_t cost) {
  uintptr_t buf[LR_SPOOL_MAX_FRAMES + 24];
  int max = (int)g_shim.cfg.depth + 24;
  uint32_t depth = g_shim.cfg.depth;
  uint32_t cg = __atomic_load_n(&g_shim.code_gen, __ATOMIC_ACQUIRE);
  int un = eh ? lr_unwind_eh(buf, max, cg) : lr_unwind_libunwind(buf, max);
  int uj = first_program_frame(buf, un);
  uint32_t um = (uint32_t)(un - uj), raw = um;
  if (um > depth) um = depth;
  uint64_t id = intern(w, buf + uj, um);
  if (um > LR_SC_CHECKS + 1) { /* more return-address slots than an entry holds */
    t->scs.refused++;
    t->sc_credit += cost; /* no walk was made: no charge */
    lr_sc_refuse(t->sc_seen, ra0, slot0);
    return id;
  }
  if (!t->fp_bounds_done) {
    lr_unwind_fp_bounds(&t->stk_lo, &t->stk_hi);
    t->fp_bounds_done = 1;
  }
  if (!t->sc) t->sc = lr_sc_new();
  int cut = raw > depth || un == max;
  if (eh ? lr_sc_fill_eh(t->sc, ra0, slot0, r0, t->stk_lo, t->stk_hi, buf + uj, um, cut, cg, id)
         : lr_sc_fill(t->sc, ra0, slot0, r0, t->stk_lo, t->stk_hi, buf + uj, um, cut, id)) {
    t->scs.fills++;
  } else {
    t->scs.refused++;
    lr_sc_refuse(t->sc_seen, ra0, slot0); /* this key's stack: not again */
  }
  return id;
}
#endif

/* Unwinds, cuts the shim's frames, and returns the stack's id (writing its
** STACK record first if it is new). */
static __attribute__((noinline)) uint64_t stack_id(LrTls *t, LrSpoolWriter *w) {
#ifdef LR_HAVE_STACK_CACHE
  uintptr_t ra0, slot0, r0;
  int eh = g_shim.cfg.unwinder == LR_UNWIND_EH;
  if (g_shim.cfg.stack_cache &&
      ((g_shim.cfg.unwinder == LR_UNWIND_LIBUNWIND && g_shim.cfg.fp_check) || eh) &&
      hook_frame(&ra0, &slot0, &r0)) {
    uint32_t cg = __atomic_load_n(&g_shim.code_gen, __ATOMIC_ACQUIRE);
    if (__builtin_expect(t->sc_gen != cg, 0)) { /* code was unloaded since */
      lr_sc_free(t->sc);
      t->sc = NULL;
      memset(t->sc_seen, 0, sizeof t->sc_seen);
      t->sc_gen = cg;
    }
    t->scs.lookups++;
    if (t->sc_credit < LR_SC_FILL_COST * LR_SC_FILL_BURST) t->sc_credit++;
    if (t->sc) {
      uint64_t id = lr_sc_lookup(t->sc, ra0, slot0, r0);
      if (id) {
        t->scs.hits++;
        return id;
      }
    }
    /* an entry costs a cursor walk (libunwind: 10-100 us) or a second eh
    ** walk: only for a key's second miss, and only while the thread has
    ** credit (see LR_SC_FILL_COST; LOWRAM_STACK_CACHE=2, for tests, has no
    ** budget) */
    int32_t cost = eh ? LR_SC_FILL_COST_EH : LR_SC_FILL_COST;
    if ((t->sc_credit >= cost || g_shim.cfg.stack_cache == 2) &&
        lr_sc_seen(t->sc_seen, ra0, slot0) == LR_SC_FILL) {
      t->sc_credit -= cost;
      return sc_fill(t, w, ra0, slot0, r0, eh, cost);
    }
  }
#endif
  uintptr_t buf[LR_SPOOL_MAX_FRAMES + 24], buf2[LR_SPOOL_MAX_FRAMES + 24];
  int max = (int)g_shim.cfg.depth + 24, n;
  if (g_shim.cfg.unwinder == LR_UNWIND_FP)
    n = fp_walk(t, buf, max, NULL);
  else if (g_shim.cfg.unwinder == LR_UNWIND_EH)
    n = lr_unwind_eh(buf, max, __atomic_load_n(&g_shim.code_gen, __ATOMIC_ACQUIRE));
  else if (g_shim.fp_trusted)
    return stack_checked(t, w, buf, buf2, max);
  else
    n = lr_unwind_libunwind(buf, max);
  int j = first_program_frame(buf, n);
  uint32_t m = (uint32_t)(n - j);
  if (m > g_shim.cfg.depth) m = g_shim.cfg.depth;
  return intern(w, buf + j, m);
}

void lr_shim_record(LrTls *t, LrEvent *ev, int with_stack) {
  if (!ev->seq) ev->seq = lr_shim_next_seq();
  LrSpoolWriter *w = lr_shim_writer(t);
  if (with_stack) ev->stack = lr_py_stack_maybe(w, stack_id(t, w)); /* + Python frames */
  int fresh;
  ev->ns = lr_shim_event_ns(t, &fresh);
  lr_sw_event(w, ev);
  if (fresh) lr_rss_tick(w, ev->ns);
}
