/*
** shim.c: liblowram.so's hooks and hot path.
**
** Every interposed function is listed once in LR_HOOKS, which generates the
** table of real entry points and their dlsym bootstrap. dlsym itself may
** call calloc/malloc before the real ones are known; those calls are served
** from a static pool whose blocks free() recognises and ignores.
**
** Hooked: the malloc family, the mmap family, mprotect/pkey_mprotect and
** madvise (committed memory), dlopen/dlclose (module
** map), execve (exec index), pthread_setname_np (thread names), exit/_exit/_Exit and __libc_start_main (how
** the run ended), pipe2/read/close (libunwind's pipe, see "libunwind's own
** fds"); fork and fatal signals are handled in shim_session.c.
**
** An allocation costs: the real call, one atomic add (sequence number), a
** cycle-counter read (the clock itself only every ~25 us, see
** lr_shim_event_ns), a stack-cache lookup (stack_cache.h: a walk of the
** shim's own 3-4 frame records, then a dozen loads compared; on a miss a
** frame-pointer walk plus a hash lookup, or a libunwind unw_backtrace for
** stacks not yet confirmed, see stack_checked), and ~6 bytes appended to
** the thread's own spool chunk. No lock, no syscall, no malloc (invariants
** in shim_internal.h). Measured on the -O2 no-frame-pointer churn bench:
** ~26 ns of CPU per event added (bench/overhead/run.sh).
*/
/* The hooks must define the plain symbols (mmap, not mmap64): meson's
** default -D_FILE_OFFSET_BITS=64 would rename them. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pyframes.h"
#include "shim_internal.h"
#include "unwind.h"

/* pvalloc is glibc's alone; mmap64 is glibc's and bionic's (bionic LP64
** has no valloc either: its hook falls back to memalign). */
#ifdef __GLIBC__
#define LR_HOOK_PVALLOC(X) X(void *, pvalloc, (size_t))
#else
#define LR_HOOK_PVALLOC(X)
#endif
#if defined(__GLIBC__) || defined(__BIONIC__)
#define LR_HAVE_MMAP64 1
#define LR_HOOK_MMAP64(X) X(void *, mmap64, (void *, size_t, int, int, int, off64_t))
#else
#define LR_HOOK_MMAP64(X)
#endif
/* pkey_mprotect: glibc 2.27 and later (bionic has no wrapper) */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 27))
#define LR_HAVE_PKEY_MPROTECT 1
#define LR_HOOK_PKEY(X) X(int, pkey_mprotect, (void *, size_t, int, int))
#else
#define LR_HOOK_PKEY(X)
#endif

/* bionic's malloc_usable_size takes a const pointer */
#ifdef __BIONIC__
#define LR_USABLE_ARG const void *
#else
#define LR_USABLE_ARG void *
#endif

/* return type, name, parameter types */
#define LR_HOOKS(X)                                                             \
  X(void *, malloc, (size_t))                                                   \
  X(void *, calloc, (size_t, size_t))                                           \
  X(void *, realloc, (void *, size_t))                                          \
  X(void *, reallocarray, (void *, size_t, size_t))                             \
  X(void, free, (void *))                                                       \
  X(int, posix_memalign, (void **, size_t, size_t))                             \
  X(void *, aligned_alloc, (size_t, size_t))                                    \
  X(void *, memalign, (size_t, size_t))                                         \
  X(void *, valloc, (size_t))                                                   \
  X(size_t, malloc_usable_size, (LR_USABLE_ARG))                                \
  X(void *, mmap, (void *, size_t, int, int, int, off_t))                       \
  X(int, munmap, (void *, size_t))                                              \
  X(void *, mremap, (void *, size_t, size_t, int, ...))                         \
  X(int, mprotect, (void *, size_t, int))                                       \
  X(int, madvise, (void *, size_t, int))                                        \
  X(void *, dlopen, (const char *, int))                                        \
  X(int, execve, (const char *, char *const[], char *const[]))                  \
  X(int, pthread_setname_np, (pthread_t, const char *))                          \
  X(int, dlclose, (void *))                                                     \
  X(int, pipe2, (int *, int))                                                   \
  X(ssize_t, read, (int, void *, size_t))                                       \
  X(int, close, (int))                                                          \
  X(void, exit, (int))                                                          \
  X(void, _exit, (int))                                                         \
  X(void, _Exit, (int))                                                         \
  LR_HOOK_PVALLOC(X)                                                            \
  LR_HOOK_MMAP64(X)                                                             \
  LR_HOOK_PKEY(X)

#define LR_REAL_FIELD(ret, name, params) ret(*name) params;
static struct { LR_HOOKS(LR_REAL_FIELD) } real;

LrShim g_shim;
__thread LrTls lr_tls __attribute__((tls_model("initial-exec")));

/* ---- bootstrap ------------------------------------------------------- */

static _Alignas(16) unsigned char boot_pool[64 * 1024];
static size_t boot_used;      /* atomic */
static int resolving;         /* atomic: dlsym in progress */

static int in_boot_pool(const void *p) {
  return (const unsigned char *)p >= boot_pool &&
         (const unsigned char *)p < boot_pool + sizeof boot_pool;
}

/* Zeroed 16-byte aligned memory for dlsym's own allocations, never freed;
** each block's size in the word before it (malloc_usable_size). */
static void *boot_alloc(size_t n) {
  if (n > sizeof boot_pool) return NULL;
  size_t want = ((n + 15) & ~(size_t)15) + 16;
  size_t off = __atomic_fetch_add(&boot_used, want, __ATOMIC_RELAXED);
  if (off + want > sizeof boot_pool) return NULL;
  unsigned char *p = boot_pool + off + 16;
  ((size_t *)p)[-1] = n;
  return p;
}

static void resolve(void) {
  if (__atomic_exchange_n(&resolving, 1, __ATOMIC_ACQ_REL)) return;
#define LR_RESOLVE(ret, name, params) *(void **)&real.name = dlsym(RTLD_NEXT, #name);
  LR_HOOKS(LR_RESOLVE)
  __atomic_store_n(&resolving, 0, __ATOMIC_RELEASE);
}

/* ---- a signal handler that allocates inside the allocator -----------------
A handler that calls malloc or free while its thread is inside the real
allocator (undefined behaviour, and common) deadlocks on the arena lock or
corrupts the heap, bare or traced. Under the shim every such call arrives
through a hook while the thread's guard says "inside the real allocator"
(LR_GUARD_REAL, set around each real call of the malloc family). So it is
served from a static rescue pool instead (bump allocation, never reused,
zeroed: it has never been touched; each block's size in the word before
it); free() of a rescued block does nothing, realloc() of one moves it to
the heap, free() of a heap block from such a handler is dropped (the block
stays allocated: better a leak than a deadlock), and realloc() of a heap
block there fails with ENOMEM. These calls are not recorded. reallocarray is
the exception: glibc's calls realloc through our hook, so it runs with the
plain guard (a handler landing inside it re-enters glibc, as without the
shim). When the pool is
used up the handler's malloc returns NULL. */
#define LR_GUARD_REAL 2
static _Alignas(16) unsigned char rescue_pool[64 * 1024];
static size_t rescue_used; /* atomic */

static int in_rescue(const void *p) {
  return (const unsigned char *)p >= rescue_pool &&
         (const unsigned char *)p < rescue_pool + sizeof rescue_pool;
}

/* n bytes aligned to align (at least 16, rounded up to a power of two)
** from the pool, with n stored in the word before them. */
static void *rescue_alloc(size_t n, size_t align) {
  if (align < 16) align = 16;
  if (n > sizeof rescue_pool || align > sizeof rescue_pool / 2) {
    errno = ENOMEM;
    return NULL;
  }
  while (align & (align - 1)) align += align & -align;
  size_t want = n + align + 16, off;
  size_t cur = __atomic_load_n(&rescue_used, __ATOMIC_RELAXED);
  do {
    off = cur;
    if (off + want > sizeof rescue_pool) {
      errno = ENOMEM;
      return NULL;
    }
  } while (!__atomic_compare_exchange_n(&rescue_used, &cur, off + want, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
  uintptr_t a = ((uintptr_t)(rescue_pool + off) + 16 + align - 1) & ~(uintptr_t)(align - 1);
  ((size_t *)a)[-1] = n;
  __atomic_add_fetch(&g_shim.rescued, 1, __ATOMIC_RELAXED);
  return (void *)a;
}

/* The thread is inside the real allocator: this call came from a signal
** handler that interrupted it. */
static inline int in_real_alloc(void) {
  return __builtin_expect(lr_tls.guard == LR_GUARD_REAL, 0);
}

/* True when the real malloc family is not known yet (bootstrap). */
static inline int booting(void) { return __builtin_expect(real.free == NULL, 0); }

/* ---- hot path -------------------------------------------------------- */

uint64_t lr_shim_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  return ns > g_shim.start_ns ? ns - g_shim.start_ns : 0;
}

/* The thread's key destructor. Other destructors (and libc's own frees
** after them) still run in the dying thread, so it re-arms itself until the
** last destructor round, then seals the chunk and keeps the guard taken:
** later frees go straight to libc, unrecorded, instead of claiming a chunk
** that nobody would ever seal or unmap. */
static void thread_gone(void *arg) {
  (void)arg;
  LrTls *t = &lr_tls;
  if (t->gen != __atomic_load_n(&g_shim.gen, __ATOMIC_ACQUIRE)) return;
  if (t->dtor_rounds < PTHREAD_DESTRUCTOR_ITERATIONS - 1) {
    t->dtor_rounds++;
    pthread_setspecific(g_shim.key, (void *)1);
    return;
  }
  t->guard = 1;
  /* a handler's mappings kept from the last hook go in before the seal;
  ** any made after it are lost (counted: the guard stays up from here) */
  if (__atomic_load_n(&t->npend, __ATOMIC_ACQUIRE)) lr_shim_flush_pending(t);
  t->pend_gone = 1;
  lr_sw_seal(&t->w);
  lr_shim_sc_retire();
}

LrSpoolWriter *lr_shim_writer_setup(LrTls *t) {
  uint32_t gen = __atomic_load_n(&g_shim.gen, __ATOMIC_ACQUIRE);
  if (t->gen == gen) return &t->w;
  t->tid = (uint32_t)syscall(SYS_gettid);
  lr_sw_init(&t->w, g_shim.spool, t->tid);
  t->clk_valid = 0; /* a fork child's times start from its own session */
  t->errp = &errno;
  lr_sc_free(t->sc); /* a fork child's stack ids are its own */
  t->sc = NULL;
  t->sc_credit = LR_SC_FILL_COST * LR_SC_FILL_BURST; /* a new thread may fill at once */
  memset(&t->scs, 0, sizeof t->scs);
  memset(t->sc_seen, 0, sizeof t->sc_seen);
  t->gen = gen;
  pthread_setspecific(g_shim.key, (void *)1);
  char name[17] = {0};
  prctl(PR_GET_NAME, name, 0, 0, 0);
  lr_sw_thread(&t->w, __atomic_load_n(&g_shim.seq, __ATOMIC_RELAXED), lr_shim_now(),
               t->tid, name, strlen(name));
  return &t->w;
}

static inline int in_shim(uintptr_t ip) {
  return ip >= g_shim.shim_lo && ip < g_shim.shim_hi;
}

/* Index of the first frame of the program: past the unwinder's own frames,
** then past the shim's. */
static int first_program_frame(const uintptr_t *buf, int n) {
  int j = 0;
  while (j < n && !in_shim(buf[j])) j++;
  if (j == n) j = 0;
  while (j < n && in_shim(buf[j])) j++;
  return j;
}

static int fp_walk(LrTls *t, uintptr_t *buf, int max, uintptr_t *stop) {
  if (!t->fp_bounds_done) {
    lr_unwind_fp_bounds(&t->stk_lo, &t->stk_hi);
    t->fp_bounds_done = 1;
  }
  return lr_unwind_fp(buf, max, t->stk_lo, t->stk_hi, stop);
}

static inline int in_start_code(uintptr_t ip) {
  return (ip >= g_shim.libc_lo && ip < g_shim.libc_hi) ||
         (ip >= g_shim.ld_lo && ip < g_shim.ld_hi);
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
      if (!in_shim(ips[i])) kept[k++] = ips[i];
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
    if (!in_start_code(ubuf[uj + i])) return id;
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
    if (!in_shim(ra)) {
      *ra0 = ra;
      *slot0 = (uintptr_t)&fp[1];
      *r0 = fp[0];
      return 1;
    }
    fp = (uintptr_t *)fp[0];
  }
  return 0;
}

/* A key's second miss: libunwind's stack, interned, and an entry for it
** if the stack can be cached. */
static __attribute__((noinline)) uint64_t sc_fill(LrTls *t, LrSpoolWriter *w, uintptr_t ra0,
                                                  uintptr_t slot0, uintptr_t r0) {
  uintptr_t buf[LR_SPOOL_MAX_FRAMES + 24];
  int max = (int)g_shim.cfg.depth + 24;
  uint32_t depth = g_shim.cfg.depth;
  int un = lr_unwind_libunwind(buf, max);
  int uj = first_program_frame(buf, un);
  uint32_t um = (uint32_t)(un - uj), raw = um;
  if (um > depth) um = depth;
  uint64_t id = intern(w, buf + uj, um);
  if (um > LR_SC_CHECKS + 1) { /* more return-address slots than an entry holds */
    t->scs.refused++;
    t->sc_credit += LR_SC_FILL_COST; /* no walk was made: no charge */
    lr_sc_refuse(t->sc_seen, ra0, slot0);
    return id;
  }
  if (!t->fp_bounds_done) {
    lr_unwind_fp_bounds(&t->stk_lo, &t->stk_hi);
    t->fp_bounds_done = 1;
  }
  if (!t->sc) t->sc = lr_sc_new();
  if (lr_sc_fill(t->sc, ra0, slot0, r0, t->stk_lo, t->stk_hi, buf + uj, um,
                 raw > depth || un == max, id)) {
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
  if (g_shim.cfg.stack_cache && g_shim.cfg.unwinder == LR_UNWIND_LIBUNWIND &&
      g_shim.cfg.fp_check && hook_frame(&ra0, &slot0, &r0)) {
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
    /* an entry costs a cursor walk (10-100 us): only for a key's second
    ** miss, and only while the thread has credit (see LR_SC_FILL_COST;
    ** LOWRAM_STACK_CACHE=2, for tests, has no budget) */
    if ((t->sc_credit >= LR_SC_FILL_COST || g_shim.cfg.stack_cache == 2) &&
        lr_sc_seen(t->sc_seen, ra0, slot0) == LR_SC_FILL) {
      t->sc_credit -= LR_SC_FILL_COST;
      return sc_fill(t, w, ra0, slot0, r0);
    }
  }
#endif
  uintptr_t buf[LR_SPOOL_MAX_FRAMES + 24], buf2[LR_SPOOL_MAX_FRAMES + 24];
  int max = (int)g_shim.cfg.depth + 24, n;
  if (g_shim.cfg.unwinder == LR_UNWIND_FP)
    n = fp_walk(t, buf, max, NULL);
  else if (g_shim.cfg.unwinder == LR_UNWIND_EH) n = lr_unwind_eh(buf, max, __atomic_load_n(&g_shim.code_gen, __ATOMIC_ACQUIRE));
  else if (g_shim.fp_trusted)
    return stack_checked(t, w, buf, buf2, max);
  else
    n = lr_unwind_libunwind(buf, max);
  int j = first_program_frame(buf, n);
  uint32_t m = (uint32_t)(n - j);
  if (m > g_shim.cfg.depth) m = g_shim.cfg.depth;
  return intern(w, buf + j, m);
}

/* Records an event that obtained memory; ev->seq is taken here (after the
** real call) unless the caller set it. */
static __attribute__((noinline)) void record(LrTls *t, LrEvent *ev, int with_stack) {
  if (!ev->seq) ev->seq = lr_shim_next_seq();
  LrSpoolWriter *w = lr_shim_writer(t);
  if (with_stack) ev->stack = lr_py_stack_maybe(w, stack_id(t, w)); /* + Python frames */
  int fresh;
  ev->ns = lr_shim_event_ns(t, &fresh);
  lr_sw_event(w, ev);
  if (fresh) lr_shim_rss_tick(w, ev->ns);
}

/* ---- the malloc family ------------------------------------------------ */

/* rescue_n, rescue_align: what a block from the rescue pool must have */
#define LR_ALLOC_HOOK_R(KIND, call, size_expr, align_expr, rescue_n, rescue_align)   \
  LrTls *t = lr_shim_enter();                                                   \
  if (!t) return in_real_alloc() ? rescue_alloc((rescue_n), (rescue_align)) : call; \
  t->guard = LR_GUARD_REAL;                                                     \
  void *p = call;                                                               \
  t->guard = 1;                                                                 \
  int e = *t->errp;                                                             \
  if (p) {                                                                      \
    LrEvent ev;                                                                 \
    lr_ev_basic(&ev, (KIND), 0, (uintptr_t)p, (size_expr), (align_expr));       \
    record(t, &ev, 1);                                                          \
  }                                                                             \
  lr_shim_leave(t, e);                                                          \
  return p;
#define LR_ALLOC_HOOK(KIND, call, size_expr, align_expr) \
  LR_ALLOC_HOOK_R(KIND, call, size_expr, align_expr, size_expr, align_expr)

LR_EXPORT void *malloc(size_t n) {
  if (booting()) {
    if (__atomic_load_n(&resolving, __ATOMIC_ACQUIRE)) return boot_alloc(n);
    resolve();
  }
  LR_ALLOC_HOOK(LR_EV_MALLOC, real.malloc(n), n, 0)
}

LR_EXPORT void *calloc(size_t c, size_t n) {
  if (booting()) {
    if (__atomic_load_n(&resolving, __ATOMIC_ACQUIRE)) {
      if (n && c > SIZE_MAX / n) return NULL;
      return boot_alloc(c * n);
    }
    resolve();
  }
  if (in_real_alloc() && n && c > SIZE_MAX / n) {
    errno = ENOMEM;
    return NULL;
  }
  LR_ALLOC_HOOK(LR_EV_CALLOC, real.calloc(c, n), c * n, 0)
}

LR_EXPORT void free(void *p) {
  if (!p || in_boot_pool(p) || in_rescue(p)) return;
  if (booting()) resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    if (!in_real_alloc()) real.free(p);
    return;
  }
  int e = *t->errp;
  uint64_t seq = lr_shim_next_seq();
  t->guard = LR_GUARD_REAL;
  real.free(p);
  t->guard = 1;
  LrEvent ev;
  lr_ev_basic(&ev, LR_EV_FREE, seq, (uintptr_t)p, 0, 0);
  record(t, &ev, 0);
  lr_shim_leave(t, e);
}

/* realloc and reallocarray: the old block stops being ours before the call
** (free_seq), the new one is ours after it (seq). */
static void *realloc_common(unsigned kind, void *old, size_t n, void *(*call)(void *, size_t, size_t),
                            size_t a, size_t b) {
  LrTls *t = lr_shim_enter();
  if (!t) {
    if (!in_real_alloc()) return call(old, a, b);
    if (old) { /* a heap block cannot be moved from here */
      errno = ENOMEM;
      return NULL;
    }
    return rescue_alloc(n, 0);
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
    record(t, &ev, p != NULL);
  }
  lr_shim_leave(t, e);
  return p;
}

static void *call_realloc(void *old, size_t a, size_t b) {
  (void)b;
  return real.realloc(old, a);
}

static void *call_reallocarray(void *old, size_t a, size_t b) {
  if (real.reallocarray) return real.reallocarray(old, a, b);
  if (b && a > SIZE_MAX / b) {
    errno = ENOMEM;
    return NULL;
  }
  return real.realloc(old, a * b);
}

LR_EXPORT void *realloc(void *old, size_t n) {
  if (booting()) {
    if (__atomic_load_n(&resolving, __ATOMIC_ACQUIRE)) {
      void *p = boot_alloc(n);
      if (p && old && in_boot_pool(old)) {
        size_t had = ((const size_t *)old)[-1];
        memmove(p, old, had < n ? had : n);
      }
      return p;
    }
    resolve();
  }
  if (in_rescue(old)) { /* a rescued block: to the heap (or the pool) */
    size_t had = ((const size_t *)old)[-1];
    void *p = malloc(n);
    if (p) memcpy(p, old, had < n ? had : n);
    return p;
  }
  if (in_boot_pool(old)) { /* dlsym's block: move it to the real heap */
    void *p = malloc(n);
    size_t had = ((const size_t *)old)[-1];
    if (p) memcpy(p, old, had < n ? had : n);
    return p;
  }
  return realloc_common(LR_EV_REALLOC, old, n, call_realloc, n, 0);
}

LR_EXPORT void *reallocarray(void *old, size_t c, size_t n) {
  if (booting()) resolve();
  if (n && c > SIZE_MAX / n) {
    errno = ENOMEM;
    return NULL;
  }
  if (in_rescue(old)) return realloc(old, c * n);
  return realloc_common(LR_EV_REALLOCARRAY, old, c * n, call_reallocarray, c, n);
}

LR_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (booting()) resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    if (!in_real_alloc()) return real.posix_memalign(out, align, n);
    void *q = rescue_alloc(n, align);
    if (!q) return ENOMEM;
    *out = q;
    return 0;
  }
  t->guard = LR_GUARD_REAL;
  int r = real.posix_memalign(out, align, n);
  t->guard = 1;
  int e = *t->errp;
  if (r == 0) {
    LrEvent ev;
    lr_ev_basic(&ev, LR_EV_POSIX_MEMALIGN, 0, (uintptr_t)*out, n, align);
    record(t, &ev, 1);
  }
  lr_shim_leave(t, e);
  return r;
}

static void *call_aligned_alloc(size_t align, size_t n) {
  return real.aligned_alloc ? real.aligned_alloc(align, n) : real.memalign(align, n);
}

static void *call_valloc(size_t n) {
  return real.valloc ? real.valloc(n) : real.memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

LR_EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (booting()) resolve();
  LR_ALLOC_HOOK(LR_EV_ALIGNED_ALLOC, call_aligned_alloc(align, n), n, align)
}

LR_EXPORT void *memalign(size_t align, size_t n) {
  if (booting()) resolve();
  LR_ALLOC_HOOK(LR_EV_MEMALIGN, real.memalign(align, n), n, align)
}

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

LR_EXPORT void *valloc(size_t n) {
  if (booting()) resolve();
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
  if (booting()) resolve();
  LR_ALLOC_HOOK_R(LR_EV_PVALLOC, real.pvalloc(n), n, 0, page_round(n), page_size())
}
#endif

/* Not recorded: hooked because a block from the rescue or boot pool has no
** allocator header for libc to read (glibc would read garbage, scudo
** abort); its size is in the word before it. */
LR_EXPORT size_t malloc_usable_size(LR_USABLE_ARG p) {
  if (!p) return 0;
  if (in_rescue(p) || in_boot_pool(p)) return ((const size_t *)p)[-1];
  if (booting()) resolve();
  return real.malloc_usable_size ? real.malloc_usable_size(p) : 0;
}

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
  record(t, &ev, 1);
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
  return in_shim(ra) || in_start_code(ra) || (ra >= g_shim.unw_lo && ra < g_shim.unw_hi);
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
  if (booting()) resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    void *q = real.mmap(addr, len, prot, flags, fd, off);
    if (q != MAP_FAILED && handler_event((uintptr_t)__builtin_return_address(0)))
      pend_push(LR_EV_MMAP, lr_shim_next_seq(), q, len, prot, flags, fd, (uint64_t)off);
    return q;
  }
  void *p = real.mmap(addr, len, prot, flags, fd, off);
  int e = errno;
  if (p != MAP_FAILED) record_mmap(t, LR_EV_MMAP, p, len, prot, flags, fd, (uint64_t)off);
  lr_shim_leave(t, e);
  return p;
}

#ifdef LR_HAVE_MMAP64
LR_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
  if (booting()) resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    void *q = real.mmap64(addr, len, prot, flags, fd, off);
    if (q != MAP_FAILED && handler_event((uintptr_t)__builtin_return_address(0)))
      pend_push(LR_EV_MMAP64, lr_shim_next_seq(), q, len, prot, flags, fd, (uint64_t)off);
    return q;
  }
  void *p = real.mmap64(addr, len, prot, flags, fd, off);
  int e = errno;
  if (p != MAP_FAILED) record_mmap(t, LR_EV_MMAP64, p, len, prot, flags, fd, (uint64_t)off);
  lr_shim_leave(t, e);
  return p;
}
#endif

LR_EXPORT int munmap(void *addr, size_t len) {
  if (booting()) resolve();
  LrTls *t = lr_shim_enter();
  if (!t) {
    if (!handler_event((uintptr_t)__builtin_return_address(0))) return real.munmap(addr, len);
    uint64_t hseq = lr_shim_next_seq(); /* before: the range may be reused at once */
    int hr = real.munmap(addr, len);
    if (hr == 0) pend_push(LR_EV_MUNMAP, hseq, addr, len, 0, 0, -1, 0);
    return hr;
  }
  uint64_t seq = lr_shim_next_seq();
  int r = real.munmap(addr, len);
  int e = errno;
  if (r == 0) {
    LrEvent ev = {.kind = LR_EV_MUNMAP, .addr = (uintptr_t)addr, .size = len, .seq = seq};
    record(t, &ev, 0);
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
  if (booting()) resolve();
  LrTls *t = lr_shim_enter();
  if (!t) return real.mremap(old, old_len, new_len, flags, new_addr);
  uint64_t free_seq = lr_shim_next_seq();
  void *p = real.mremap(old, old_len, new_len, flags, new_addr);
  int e = errno;
  if (p != MAP_FAILED) {
    LrEvent ev = {.kind = LR_EV_MREMAP, .addr = (uintptr_t)p, .size = new_len,
                  .old_addr = (uintptr_t)old, .old_size = old_len,
                  .flags = (unsigned)flags, .free_seq = free_seq};
    ev.seq = lr_shim_next_seq();
    record(t, &ev, 1);
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
  record(t, &ev, prot != PROT_NONE);
}

LR_EXPORT int mprotect(void *addr, size_t len, int prot) {
  if (booting()) resolve();
  LrTls *t = lr_shim_enter();
  if (!t) return real.mprotect(addr, len, prot);
  uint64_t seq = prot == PROT_NONE ? lr_shim_next_seq() : 0; /* releases: before */
  int r = real.mprotect(addr, len, prot);
  int e = *t->errp;
  if (r == 0) record_protect(t, LR_EV_MPROTECT, seq, addr, len, prot, 0);
  lr_shim_leave(t, e);
  return r;
}

#ifdef LR_HAVE_PKEY_MPROTECT
LR_EXPORT int pkey_mprotect(void *addr, size_t len, int prot, int pkey) {
  if (booting()) resolve();
  LrTls *t = lr_shim_enter();
  if (!t) return real.pkey_mprotect(addr, len, prot, pkey);
  uint64_t seq = prot == PROT_NONE ? lr_shim_next_seq() : 0;
  int r = real.pkey_mprotect(addr, len, prot, pkey);
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
  if (booting()) resolve();
  if (!releases_pages(advice)) return real.madvise(addr, len, advice);
  LrTls *t = lr_shim_enter();
  if (!t) return real.madvise(addr, len, advice);
  uint64_t seq = lr_shim_next_seq();
  int r = real.madvise(addr, len, advice);
  int e = *t->errp;
  if (r == 0) {
    LrEvent ev = {.kind = LR_EV_MADVISE, .seq = seq, .addr = (uintptr_t)addr, .size = len,
                  .flags = (unsigned)advice};
    record(t, &ev, 0);
  }
  lr_shim_leave(t, e);
  return r;
}

/* ---- libunwind's own fds ------------------------------------------------

libunwind validates memory it is unsure of by writing a byte of it into a
pipe it keeps open for the life of the process (mincore/msync, then a read
of the pipe's read end and a write to its write end; libunwind 1.6 on
x86-64), and when the read fails it closes both numbers and makes a new
pipe. The program does not know those fds: after its closefrom(3) and a
new open() on fd 3, that read took a byte of the program's file, the close
closed it, and the write could have put a byte of stack into it. So the
pipe is made above the program's range like the spool's fd, and while the
shim is at work (guard set), a read of either end or a close of either
number first checks (fstat: the pipe's inode) that the number still names
that pipe: if not, the read fails with EBADF (libunwind then makes a new
pipe) and the close does nothing. Only calls made from libunwind's code
while the shim is at work are looked at (a signal handler of the program
that runs then is left alone); the others pass straight through. */

static int unw_pipe[2] = {-1, -1};
static uint64_t unw_pipe_ino[2];

/* Whether the hook was called from libunwind's code. */
static inline int from_libunwind(const void *ra) {
  return (uintptr_t)ra >= g_shim.unw_lo && (uintptr_t)ra < g_shim.unw_hi;
}

static int unw_pipe_fd(int fd) {
  return fd >= 0 && (fd == __atomic_load_n(&unw_pipe[0], __ATOMIC_RELAXED) ||
                     fd == __atomic_load_n(&unw_pipe[1], __ATOMIC_RELAXED));
}

/* Whether fd (one of the pipe's numbers) still names the pipe made there. */
static int unw_pipe_ok(int fd) {
  struct stat st;
  int k = fd == unw_pipe[0] ? 0 : 1;
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && (uint64_t)st.st_ino == unw_pipe_ino[k];
}

LR_EXPORT int pipe2(int fds[2], int flags) {
  if (booting()) resolve();
  int r = real.pipe2 ? real.pipe2(fds, flags) : (int)syscall(SYS_pipe2, fds, flags);
  if (r != 0 || !lr_tls.guard || !from_libunwind(__builtin_return_address(0))) return r;
  /* libunwind's pipe, made while the shim is at work */
  int e = errno;
  for (int k = 0; k < 2; k++) {
    fds[k] = lr_fd_move_high(fds[k]);
    struct stat st;
    unw_pipe_ino[k] = fstat(fds[k], &st) == 0 ? (uint64_t)st.st_ino : 0;
    __atomic_store_n(&unw_pipe[k], fds[k], __ATOMIC_RELEASE);
  }
  errno = e;
  return 0;
}

LR_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  if (__builtin_expect(lr_tls.guard, 0) && unw_pipe_fd(fd) &&
      from_libunwind(__builtin_return_address(0)) &&
      !(unw_pipe_ok(unw_pipe[0]) && unw_pipe_ok(unw_pipe[1]))) {
    errno = EBADF; /* not the pipe any more: never touch the program's file */
    return -1;
  }
  if (__builtin_expect(!real.read, 0)) return syscall(SYS_read, fd, buf, n);
  return real.read(fd, buf, n);
}

LR_EXPORT int close(int fd) {
  if (__builtin_expect(lr_tls.guard, 0) && unw_pipe_fd(fd) &&
      from_libunwind(__builtin_return_address(0)) && !unw_pipe_ok(fd))
    return 0; /* the number is the program's now (or nobody's) */
  if (__builtin_expect(!real.close, 0)) return (int)syscall(SYS_close, fd);
  return real.close(fd);
}

/* ---- modules, exits --------------------------------------------------- */

/* dlopen searches a bare name with its *caller's* RPATH/RUNPATH, and the
** caller of the real dlopen is now the shim. So look the name up in the
** program's caller's search path first (what it would have found), after
** checking it is not already loaded under that name. Bionic will need its
** loader's caller-aware entry (__loader_dlopen) here instead. */
static void *dlopen_as_caller(const char *file, int mode, const void *caller) {
#ifdef __GLIBC__
  Dl_info info;
  struct link_map *lm = NULL;
  if (!file || strchr(file, '/') || !dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) ||
      !lm)
    return real.dlopen(file, mode);
  /* Already loaded: this call took the caller's one reference (and applied
  ** any promotion such as RTLD_GLOBAL); a second dlopen would take another
  ** that no dlclose ever drops. */
  void *loaded = real.dlopen(file, mode | RTLD_NOLOAD);
  if (loaded) return loaded;
  Dl_serinfo size;
  if (dlinfo(lm, RTLD_DI_SERINFOSIZE, &size) != 0) return real.dlopen(file, mode);
  Dl_serinfo *si = real.malloc(size.dls_size);
  void *h = NULL;
  if (si) {
    si->dls_size = size.dls_size;
    si->dls_cnt = size.dls_cnt;
    if (dlinfo(lm, RTLD_DI_SERINFO, si) == 0) {
      size_t fl = strlen(file);
      for (unsigned i = 0; i < si->dls_cnt && !h; i++) {
        char path[LR_CONFIG_PATH_MAX];
        const char *d = si->dls_serpath[i].dls_name;
        size_t dl = strlen(d);
        if (!dl || dl + fl + 2 > sizeof path) continue;
        memcpy(path, d, dl);
        path[dl] = '/';
        memcpy(path + dl + 1, file, fl + 1);
        if (access(path, F_OK) == 0) h = real.dlopen(path, mode);
      }
    }
    real.free(si);
  }
  return h ? h : real.dlopen(file, mode);
#else
  (void)caller;
  return real.dlopen(file, mode);
#endif
}

LR_EXPORT void *dlopen(const char *file, int mode) {
  if (booting()) resolve();
  const void *caller = __builtin_return_address(0);
  /* the loader's allocations and the library's constructors' are the
  ** program's: they are recorded (the search itself uses real malloc) */
  void *h = dlopen_as_caller(file, mode, caller);
  LrTls *t = h ? lr_shim_enter() : NULL;
  if (t) {
    int e = errno;
    lr_session_modules_sync();
    lr_shim_leave(t, e);
  }
  return h;
}

LR_EXPORT int dlclose(void *h) {
  if (booting()) resolve();
  int r = real.dlclose(h);
  /* code may be gone: no stack cache entry made before may be trusted */
  if (r == 0) __atomic_add_fetch(&g_shim.code_gen, 1, __ATOMIC_RELEASE);
  LrTls *t = r == 0 ? lr_shim_enter() : NULL;
  if (t) {
    int e = errno;
    lr_session_modules_sync();
    lr_shim_leave(t, e);
  }
  return r;
}

/* A thread that renames itself gets a new THREAD record (a rename of
** another thread is not seen: its kernel tid is not known portably). */
LR_EXPORT int pthread_setname_np(pthread_t th, const char *name) {
  if (booting()) resolve();
  int r = real.pthread_setname_np(th, name);
  LrTls *t = r == 0 && pthread_equal(th, pthread_self()) ? lr_shim_enter() : NULL;
  if (t) {
    int e = errno;
    size_t n = 0;
    while (name[n] && n < 15) n++;
    lr_sw_thread(&t->w, __atomic_load_n(&g_shim.seq, __ATOMIC_RELAXED), lr_shim_now(), t->tid,
                 name, n);
    lr_shim_leave(t, e);
  }
  return r;
}

/* A program that execs with its own environment array (a shell does)
** passes the LOWRAM_EXEC_INDEX it saw at start, which is stale in a fork
** child. Pass the current one, so the new image knows it replaces this
** one. Only touched when the array names it or preloads something. */
LR_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  if (booting()) resolve();
  const char *cur = lr_session_exec_env_entry();
  LrTls *t = lr_shim_enter();
  if (t) { /* this image's last word on resident memory, if exec succeeds */
    lr_session_sample_rss();
    lr_shim_leave(t, errno);
  }
  if (!__atomic_load_n(&g_shim.active, __ATOMIC_ACQUIRE) || !envp || !cur[0])
    return real.execve(path, argv, envp);
  size_t n = 0, at = SIZE_MAX, nl = sizeof LR_EXEC_ENV; /* "NAME=" */
  int preload = 0;
  for (; envp[n]; n++) {
    if (!strncmp(envp[n], cur, nl)) at = n;
    if (!strncmp(envp[n], "LD_PRELOAD=", 11)) preload = 1;
  }
  if ((at != SIZE_MAX && !strcmp(envp[at], cur)) || (at == SIZE_MAX && !preload))
    return real.execve(path, argv, envp);
  char **e = real.malloc((n + 2) * sizeof *e); /* not the program's: real malloc */
  if (!e) return real.execve(path, argv, envp);
  memcpy(e, envp, n * sizeof *e);
  e[at != SIZE_MAX ? at : n] = (char *)cur;
  e[at != SIZE_MAX ? n : n + 1] = NULL;
  int r = real.execve(path, argv, e);
  int err = errno;
  real.free(e);
  errno = err;
  return r;
}

LR_EXPORT void exit(int status) {
  if (booting()) resolve();
  g_shim.exit_status = status;
  __atomic_store_n(&g_shim.exit_known, 1, __ATOMIC_RELEASE);
  real.exit(status);
  __builtin_unreachable();
}

static _Noreturn void quick_exit_common(void (*fn)(int), int status) {
  if (__atomic_load_n(&g_shim.active, __ATOMIC_ACQUIRE)) {
    /* restored: a vfork child runs on its parent's thread state */
    int g = lr_tls.guard;
    lr_tls.guard = 1;
    lr_session_end(LR_END__EXIT, status);
    lr_tls.guard = g;
  }
  if (fn) fn(status);
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

LR_EXPORT void _exit(int status) {
  if (booting()) resolve();
  quick_exit_common(real._exit, status);
}

LR_EXPORT void _Exit(int status) {
  if (booting()) resolve();
  quick_exit_common(real._Exit, status);
}

#ifdef __GLIBC__
/* Wraps main so that a return from it yields the exit status too (exit()
** inside libc is not reached through our exit hook). */
typedef int (*lr_main_fn)(int, char **, char **);
static lr_main_fn real_main;

static int main_wrapper(int argc, char **argv, char **envp) {
  int r = real_main(argc, argv, envp);
  g_shim.exit_status = r;
  __atomic_store_n(&g_shim.exit_known, 1, __ATOMIC_RELEASE);
  return r;
}

LR_EXPORT int __libc_start_main(lr_main_fn main_fn, int argc, char **argv, void (*init)(void),
                                void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
  int (*next)(lr_main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void),
              void *);
  *(void **)&next = dlsym(RTLD_NEXT, "__libc_start_main");
  real_main = main_fn;
  return next(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}
#endif

/* ---- start and end ---------------------------------------------------- */

static const char *env_get(const char *name, void *ctx) {
  (void)ctx;
  return getenv(name);
}

static void say(const char *msg) {
  size_t n = strlen(msg);
  while (n) {
    ssize_t w = write(2, msg, n);
    if (w <= 0) return;
    msg += w;
    n -= (size_t)w;
  }
}

__attribute__((constructor(101))) static void lr_shim_init(void) {
  if (booting()) resolve();
  LrTls *t = &lr_tls;
  t->guard = 1;
  /* the signal() family's hooks then never call dlsym (in a handler) */
  lr_session_resolve_signals();
  if (getauxval(AT_SECURE)) {
    say("lowram: secure-mode (setuid/setgid) process: not tracing it\n");
    return;
  }
#ifdef LR_HAVE_LIBUNWIND
  int fp_only = 0;
#else
  int fp_only = 1;
#endif
  char err[200];
  lr_config_parse(&g_shim.cfg, env_get, NULL, LR_DEFAULT_UNWINDER, fp_only, err, sizeof err);
  if (err[0]) {
    say(err);
    say("\n");
  }
  /* how long an event may reuse its thread's last clock read (see
  ** lr_shim_event_ns): 2^16 TSC ticks (13-65 us for a 1-5 GHz TSC, 25 us
  ** on a 2.6 GHz one), 25 us of the arm64 generic timer, 0 elsewhere */
#if defined(__x86_64__) || defined(__i386__)
  g_shim.tick_window = 1u << 16;
#elif defined(__aarch64__)
  uint64_t frq;
  __asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(frq));
  g_shim.tick_window = frq / 40000;
#else
  g_shim.tick_window = 0;
#endif
  lr_session_self_range(&g_shim.shim_lo, &g_shim.shim_hi);
  if (lr_unwind_libunwind_addr())
    lr_session_text_range(lr_unwind_libunwind_addr(), &g_shim.unw_lo, &g_shim.unw_hi);
  lr_session_text_range((uintptr_t)real.malloc, &g_shim.libc_lo, &g_shim.libc_hi);
  /* the dynamic loader's text: __tls_get_addr lives there (glibc) */
  void *ld_fn = dlsym(RTLD_DEFAULT, "__tls_get_addr");
  if (ld_fn) lr_session_text_range((uintptr_t)ld_fn, &g_shim.ld_lo, &g_shim.ld_hi);
  if (pthread_key_create(&g_shim.key, thread_gone) != 0) {
    say("lowram: no thread key: not tracing\n");
    return;
  }
  char prev[LR_CONFIG_PATH_MAX];
  uint64_t exec_index =
      lr_config_exec_index(getenv(LR_EXEC_ENV), (long)getpid(), prev, sizeof prev);
  if (lr_session_start((long)getppid(), exec_index) != 0) return;
  if (exec_index && prev[0]) lr_session_mark_prev_exec(prev);
  lr_session_exec_env();
  pthread_atfork(lr_session_before_fork, NULL, lr_session_after_fork);
  lr_session_install_signals();
  __atomic_store_n(&g_shim.active, 1, __ATOMIC_RELEASE);
  t->guard = 0;
}

__attribute__((destructor(101))) static void lr_shim_fini(void) {
  if (!__atomic_load_n(&g_shim.active, __ATOMIC_ACQUIRE)) return;
  LrTls *t = &lr_tls;
  int g = t->guard;
  t->guard = 1;
  int known = __atomic_load_n(&g_shim.exit_known, __ATOMIC_ACQUIRE);
  lr_session_end(LR_END_EXIT, known ? g_shim.exit_status : 0);
  t->guard = g;
}
