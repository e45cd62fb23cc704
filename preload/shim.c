/*
** shim.c: liblowram.so's bootstrap: the real entry points (lr_real), the
** constructor that starts recording and the destructor that ends it, the
** thread state's setup and teardown, and the clock.
**
** Every interposed function is listed once in LR_HOOKS (shim_real.h), which
** generates the table of real entry points and their dlsym bootstrap.
** dlsym itself may call calloc/malloc before the real ones are known; those
** calls are served from the boot pool (shim_pools.h).
**
** The hooks, one file per family: shim_malloc.c (the malloc family),
** shim_mmap.c (the mmap family, mprotect/pkey_mprotect and madvise:
** committed memory), shim_process.c (dlopen/dlclose: module map; execve:
** exec index; pthread_setname_np: thread names; exit/_exit/_Exit and
** __libc_start_main: how the run ended), shim_unwpipe.c (pipe2/read/close:
** libunwind's pipe), shim_signals.c (sigaction and the signal() family);
** fork is handled in shim_session.c. shim_stack.c records an event.
**
** An allocation costs: the real call, one atomic add (sequence number), a
** cycle-counter read (the clock itself only every ~25 us, see
** lr_shim_event_ns), a stack-cache lookup (stack_cache.h: a walk of the
** shim's own 3-4 frame records, then a dozen loads compared; on a miss a
** frame-pointer walk plus a hash lookup, or a libunwind unw_backtrace for
** stacks not yet confirmed, see stack_checked in shim_stack.c), and ~6 bytes appended to
** the thread's own spool chunk. No lock, no syscall, no malloc (invariants
** in shim_internal.h). Measured on the -O2 no-frame-pointer churn bench:
** 26-40 ns of CPU per event added, by machine and load (bench/overhead/run.sh,
** "ns/ev"; 39 ns on the 2-core machine of the split into one file per
** family, as before it).
*/
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim_modules.h"
#include "shim_real.h"
#include "shim_session.h"
#include "shim_signals.h"
#include "shim_stack.h"
#include "unwind.h"

LrReal lr_real;
LrShim g_shim;
__thread LrTls lr_tls __attribute__((tls_model("initial-exec")));

/* ---- bootstrap ------------------------------------------------------- */

static int resolving; /* atomic: dlsym in progress */

int lr_shim_resolving(void) { return __atomic_load_n(&resolving, __ATOMIC_ACQUIRE); }

void lr_shim_resolve(void) {
  if (__atomic_exchange_n(&resolving, 1, __ATOMIC_ACQ_REL)) return;
#define LR_RESOLVE(ret, name, params) *(void **)&lr_real.name = dlsym(RTLD_NEXT, #name);
  LR_HOOKS(LR_RESOLVE)
  __atomic_store_n(&resolving, 0, __ATOMIC_RELEASE);
}

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
  if (lr_shim_booting()) lr_shim_resolve();
  LrTls *t = &lr_tls;
  t->guard = 1;
  /* the signal() family's hooks then never call dlsym (in a handler) */
  lr_signals_resolve();
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
  lr_modules_self_range(&g_shim.shim_lo, &g_shim.shim_hi);
  if (lr_unwind_libunwind_addr())
    lr_modules_text_range(lr_unwind_libunwind_addr(), &g_shim.unw_lo, &g_shim.unw_hi);
  lr_modules_text_range((uintptr_t)lr_real.malloc, &g_shim.libc_lo, &g_shim.libc_hi);
  /* the dynamic loader's text: __tls_get_addr lives there (glibc) */
  void *ld_fn = dlsym(RTLD_DEFAULT, "__tls_get_addr");
  if (ld_fn) lr_modules_text_range((uintptr_t)ld_fn, &g_shim.ld_lo, &g_shim.ld_hi);
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
  lr_signals_install();
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
