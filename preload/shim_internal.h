/*
** shim_internal.h: the state every part of the shim shares (g_shim, the
** thread's lr_tls) and the inline steps of every hook (enter, leave,
** sequence number, time). Not a public interface.
**
** Invariants:
**   1. g_shim.active is 1 only while a spool is open and recording is on;
**      every hook checks it (and the thread's guard) before recording.
**   2. A thread records only while its guard is 0; the guard is 1 during
**      any work the shim does, so allocations made by libc, libunwind or
**      the shim itself on the shim's behalf are never recorded or re-entered.
**   3. g_shim.gen changes when a fork child starts its own spool; a thread
**      whose tls.gen differs re-initialises its writer before writing.
*/
#ifndef LR_SHIM_INTERNAL_H
#define LR_SHIM_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "shim_config.h"
#include "spool_writer.h"
#include "stack_cache.h"
#include "stack_table.h"

#define LR_HIDDEN __attribute__((visibility("hidden")))
#define LR_EXPORT __attribute__((visibility("default")))

/* An mmap or munmap a signal handler made while its thread was inside a
** hook (guard set): kept until the hook leaves (lr_shim_leave), then
** recorded with the seq it took when it happened, and no stack (unwinding
** from there is not safe). A file mapping's path is read in the handler
** (readlink is async-signal-safe), cut to LR_PEND_PATH bytes, for the first
** LR_PEND_PATHS kept (later ones are recorded without it). */
#define LR_PEND_MAX 16
#define LR_PEND_PATHS 2
#define LR_PEND_PATH 200
typedef struct LrPend {
  uint32_t kind;            /* LR_EV_MMAP, LR_EV_MMAP64 or LR_EV_MUNMAP */
  uint32_t path_len;        /* bytes in pend_path[i] (i < LR_PEND_PATHS) */
  uint64_t seq, addr, len, prot, flags, off;
} LrPend;

typedef struct LrTls {
  int guard;
  uint32_t gen;             /* g_shim.gen when w was set up; 0 = never */
  uint32_t tid;
  uint32_t fp_bounds_done;
  uint32_t dtor_rounds;      /* key destructor rounds seen, see thread_gone */
  uintptr_t stk_lo, stk_hi;
  uint64_t clk_tick;         /* lr_ticks() at the last clock read (event_ns) */
  uint64_t clk_ns;           /* what that read gave */
  uint32_t clk_valid;        /* 0: read the clock at the next event */
  int *errp;                 /* this thread's errno (libc's __errno_location is a
                             ** call; the hooks save and restore errno per event) */
  uint32_t sc_gen;           /* g_shim.code_gen the cache was filled under */
  LrStackCache *sc;          /* mapped at the thread's first entry */
  LrScStats scs;
  uint32_t sc_seen[64];      /* keys of first misses (see lr_sc_seen) */
  int32_t sc_credit;         /* misses earn 1, an entry attempt costs
                             ** LR_SC_FILL_COST (stack_cache.h) */
  LrSpoolWriter w;
  /* A handler (maybe nested in another's pend_push) claims slot k by a CAS
  ** of npend k -> k+1, fills it, then sets pend_ready[k]; the flush takes
  ** ready slots from pend_head on and resets npend to 0 when it has taken
  ** all. All atomic against this thread's handlers. */
  uint32_t npend;            /* slots claimed: pend[0..npend) */
  uint32_t pend_head;        /* slots flushed (the flush's own) */
  uint8_t pend_ready[LR_PEND_MAX];
  uint32_t pend_lost;        /* handler events beyond LR_PEND_MAX (not recorded) */
  uint32_t pend_gone;        /* the thread's last chunk is sealed: nothing is kept */
  LrPend pend[LR_PEND_MAX];
  char pend_path[LR_PEND_PATHS][LR_PEND_PATH];
} LrTls;

typedef struct LrShim {
  int active;               /* atomic; invariant 1 */
  uint32_t gen;             /* invariant 3 */
  LrSpool *spool;
  LrStackTable *stacks;
  LrStackTable *fp_trusted;  /* fp walks libunwind confirmed; NULL: not used */
  uint64_t *fp_map;          /* fp_trusted id -> stacks id */
  uint64_t fp_map_len;
  uintptr_t libc_lo, libc_hi, ld_lo, ld_hi; /* start code, see stack_checked */
  uintptr_t unw_lo, unw_hi;  /* libunwind's code: its pipe2/read/close calls */
  uint64_t seq;             /* atomic: last sequence number handed out */
  uint64_t start_ns;        /* CLOCK_MONOTONIC at start */
  uint32_t code_gen;        /* atomic: bumped when code is unloaded (dlclose):
                            ** stack caches made before are dropped */
  LrScStats scs;            /* atomic sums of ended threads' counters */
  uint64_t rescued;         /* atomic: blocks served from the rescue pool (shim_pools.c) */
  uint64_t pend_kept, pend_lost; /* atomic: handler mmaps kept / lost (LrPend) */
  uint64_t tick_window;     /* counter ticks an event may reuse a clock read for */
  uint64_t next_rss_ns;     /* atomic: when the next on-path RSS sample is due
                            ** (UINT64_MAX: none, see shim_rss.c) */
  LrShimConfig cfg;
  uintptr_t shim_lo, shim_hi; /* the shim's own code, cut from stacks */
  pthread_key_t key;
  int exit_known;
  int exit_status;
  char trace[LR_CONFIG_PATH_MAX];
  char spool_path[LR_CONFIG_PATH_MAX];
} LrShim;

extern LrShim g_shim LR_HIDDEN;
extern __thread LrTls lr_tls __attribute__((tls_model("initial-exec"))) LR_HIDDEN;

uint64_t lr_shim_now(void) LR_HIDDEN;

/* ---- time without a clock read per event ----------------------------------
** The seq orders events; ns places them in time. A vDSO clock_gettime costs
** 25-40 ns, as much as the rest of an event, so events read a cheap
** per-core counter instead (x86 TSC, arm64 CNTVCT_EL0: no syscall, no
** fence) and read the clock only when the counter says more than
** tick_window has passed since the thread's last read: an event's ns is
** then the thread's last clock read, at most ~25 us old (schemas/SPOOL.md,
** "Time"). Elsewhere (no such counter) every event reads the clock. */
static inline uint64_t lr_ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
  uint64_t v;
  __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
  return 0;
#endif
}

/* The ns of an event of thread t; *fresh says whether the clock was read
** for it (so that work paced by time, the RSS samples, is only checked
** against fresh reads). */
static inline uint64_t lr_shim_event_ns(LrTls *t, int *fresh) {
  uint64_t k = lr_ticks();
  if (__builtin_expect(t->clk_valid && k - t->clk_tick < g_shim.tick_window, 1)) {
    *fresh = 0;
    return t->clk_ns;
  }
  t->clk_tick = k;
  t->clk_ns = lr_shim_now();
  t->clk_valid = 1;
  *fresh = 1;
  return t->clk_ns;
}
/* The thread's writer, set up (with a THREAD record) on first use, and
** again in a fork child (another gen). */
LrSpoolWriter *lr_shim_writer_setup(LrTls *t) LR_HIDDEN;
static inline LrSpoolWriter *lr_shim_writer(LrTls *t) {
  if (__builtin_expect(t->gen == __atomic_load_n(&g_shim.gen, __ATOMIC_ACQUIRE), 1))
    return &t->w;
  return lr_shim_writer_setup(t);
}
static inline uint64_t lr_shim_next_seq(void) {
  return __atomic_add_fetch(&g_shim.seq, 1, __ATOMIC_RELAXED);
}

/* Enters the shim for recording: returns the thread state with its guard
** taken, or NULL to just forward the call. */
static inline LrTls *lr_shim_enter(void) {
  LrTls *t = &lr_tls;
  if (t->guard || !__atomic_load_n(&g_shim.active, __ATOMIC_RELAXED)) return NULL;
  t->guard = 1;
  /* a new thread's THREAD record goes first, before this call takes a
  ** sequence number (seq never decreases within a chunk) */
  lr_shim_writer(t);
  return t;
}

/* Records the handler events kept in t->pend (guard still set). */
void lr_shim_flush_pending(LrTls *t) LR_HIDDEN;

static inline void lr_shim_leave(LrTls *t, int saved_errno) {
  if (__builtin_expect(__atomic_load_n(&t->npend, __ATOMIC_RELAXED) != 0, 0))
    lr_shim_flush_pending(t);
  t->guard = 0;
  *t->errp = saved_errno;
}

/* The rest, by module: shim_real.h (the hooked functions, lr_real),
** shim_pools.h (boot and rescue pools), shim_stack.h (recording an event),
** shim_rss.h, shim_modules.h, shim_session.h, shim_signals.h. */

#endif /* LR_SHIM_INTERNAL_H */
