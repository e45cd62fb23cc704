/*
** shim_signals.c: how a run that dies of a signal is ended in its spool,
** and the shim's handlers hidden from the program (below).
*/
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim_session.h"
#include "shim_signals.h"
#include "sys_mmap.h"

static struct sigaction old_actions[NSIG];
/* Signals whose action is the shim's while the program believes it is
** old_actions[sig] (see the sigaction hook below); atomic. */
static int owned[NSIG];
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};


/* ---- the shim's signal handlers, and hiding them ---------------------------
The shim catches fatal signals (and SIGTERM/SIGHUP) left at their default
action, to write how the run ended. A program that asks what its SIGSEGV
action is must not see ours: it would take the shim's handler for a
debugger's or a sanitizer's, or chain to it. So sigaction() and signal()
are hooked: while a signal is the shim's (owned, and its action really is
one of our handlers), a query answers with what the program had (the
default), and a program that sets its own action gets it, and the shim lets
go of that signal; likewise signal() and glibc's __sysv_signal,
sysv_signal, sigset, bsd_signal and ssignal. Calls that bypass these
symbols (a raw rt_sigaction syscall, as Go's runtime makes) still see the
shim's handler; setting an action that way still
works, and the shim then never sees that signal. The main thread's
alternate signal stack (alt_stack below) stays visible to sigaltstack(). */

typedef int (*SigactionFn)(int, const struct sigaction *, struct sigaction *);
typedef void (*SighandlerFn)(int);
typedef SighandlerFn (*SignalFn)(int, SighandlerFn);
static SigactionFn real_sigaction_fn;
/* libc's signal() and, on glibc, its System V and BSD variants: each sets
** an action with its own flags (signal() also minds siginterrupt()), so the
** hooks call them and only hide the shim's handler in what they return.
** glibc's <signal.h> turns signal() into __sysv_signal without
** _DEFAULT_SOURCE (-std=c99). */
enum { SF_SIGNAL, SF_SYSV, SF_SYSV2, SF_SIGSET, SF_BSD, SF_SSIGNAL, SF_N };
static const char *const signal_fn_names[SF_N] = {"signal", "__sysv_signal", "sysv_signal",
                                                  "sigset",        "bsd_signal",  "ssignal"};
static SignalFn real_signal_fns[SF_N];

/* Called from the constructor before the session starts (and so before the
** shim owns any signal), so that a hook never calls dlsym, which is not
** async-signal-safe, from a signal handler. */
static void resolve_signal_fns(void) {
  if (!__atomic_load_n(&real_sigaction_fn, __ATOMIC_ACQUIRE)) {
    int g = lr_tls.guard;
    lr_tls.guard = 1; /* dlsym may allocate */
    SigactionFn f = (SigactionFn)dlsym(RTLD_NEXT, "sigaction");
    for (int i = 0; i < SF_N; i++) {
#ifndef __GLIBC__
      if (i != SF_SIGNAL) continue;
#endif
      *(void **)&real_signal_fns[i] = dlsym(RTLD_NEXT, signal_fn_names[i]);
    }
    lr_tls.guard = g;
    __atomic_store_n(&real_sigaction_fn, f, __ATOMIC_RELEASE);
  }
}

void lr_signals_resolve(void) { resolve_signal_fns(); }

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  SigactionFn f = __atomic_load_n(&real_sigaction_fn, __ATOMIC_ACQUIRE);
  if (!f) {
    resolve_signal_fns();
    f = __atomic_load_n(&real_sigaction_fn, __ATOMIC_ACQUIRE);
  }
  if (!f) {
    errno = ENOSYS;
    return -1;
  }
  return f(sig, act, old);
}

static void on_fatal(int sig, siginfo_t *si, void *uc);
static void on_term(int sig, siginfo_t *si, void *uc);

/* The shim no longer has sig. Not in a vfork child: it shares the parent's
** memory (owned[]) but not its actions, which stay the shim's. */
static void disown(int sig) {
  if (g_shim.spool && (uint64_t)syscall(SYS_getpid) != lr_spool_header(g_shim.spool)->pid) return;
  __atomic_store_n(&owned[sig], 0, __ATOMIC_RELEASE);
}

/* Whether sig is the shim's now: owned, and its action one of ours (a
** program that set its action another way took it back). */
static int shim_owns(int sig) {
  if (sig <= 0 || sig >= NSIG || !__atomic_load_n(&owned[sig], __ATOMIC_ACQUIRE)) return 0;
  struct sigaction cur;
  if (real_sigaction(sig, NULL, &cur) != 0) return 0;
  if ((cur.sa_flags & SA_SIGINFO) && (cur.sa_sigaction == on_fatal || cur.sa_sigaction == on_term))
    return 1;
  disown(sig);
  return 0;
}

LR_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (!shim_owns(sig)) return real_sigaction(sig, act, old);
  struct sigaction was = old_actions[sig]; /* act and old may be one struct */
  if (act) {
    int r = real_sigaction(sig, act, NULL);
    if (r != 0) return r;
    disown(sig);
  }
  if (old) *old = was;
  return 0;
}

/* One of libc's signal() family, the shim's handler hidden: what it
** returns is the program's action when the shim's was in place, and a call
** that sets an action (sets: not sigset's SIG_HOLD) lets go of the signal. */
static SighandlerFn call_signal_fn(int which, int sig, SighandlerFn h, int sets) {
  if (!__atomic_load_n(&real_sigaction_fn, __ATOMIC_ACQUIRE)) resolve_signal_fns();
  SignalFn f = real_signal_fns[which];
  if (!f) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  if (!shim_owns(sig)) return f(sig, h);
  SighandlerFn was = f(sig, h);
  if (was == SIG_ERR) return was;
  if (sets) disown(sig);
  if ((uintptr_t)was == (uintptr_t)on_fatal || (uintptr_t)was == (uintptr_t)on_term)
    was = old_actions[sig].sa_handler;
  return was;
}

LR_EXPORT SighandlerFn signal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SIGNAL, sig, h, 1);
}

#ifdef __GLIBC__
LR_EXPORT SighandlerFn __sysv_signal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SYSV, sig, h, 1);
}

LR_EXPORT SighandlerFn sysv_signal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SYSV2, sig, h, 1);
}

LR_EXPORT SighandlerFn sigset(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SIGSET, sig, h, h != SIG_HOLD);
}

LR_EXPORT SighandlerFn bsd_signal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_BSD, sig, h, 1);
}

LR_EXPORT SighandlerFn ssignal(int sig, SighandlerFn h) {
  return call_signal_fn(SF_SSIGNAL, sig, h, 1);
}
#endif

static void on_fatal(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  int e = errno, g = lr_tls.guard;
  lr_tls.guard = 1;
  if (g_shim.spool) lr_session_end(LR_END_SIGNAL, sig);
  lr_tls.guard = g;
  disown(sig);
  real_sigaction(sig, &old_actions[sig], NULL);
  /* a fault re-executes and meets the old action; a sent signal is re-sent */
  if (si->si_code <= 0 || sig == SIGABRT) raise(sig);
  errno = e;
}

/* SIGTERM and SIGHUP when their action is the default (terminate): the
** spool says which signal ended the run, then the signal is raised again
** with the default action, so the process dies of it as it would have. A
** program that installs its own handler later replaces this one (the shim
** then does not see the ending: "killed", or the recorder's status).
** SIGINT is left alone: Python, for one, installs its KeyboardInterrupt
** handler only when it finds SIGINT at SIG_DFL. */
static const int term_signals[] = {SIGTERM, SIGHUP};

static void on_term(int sig, siginfo_t *si, void *uc) {
  (void)si;
  (void)uc;
  int g = lr_tls.guard;
  lr_tls.guard = 1;
  if (g_shim.spool) lr_session_end(LR_END_SIGNAL, sig);
  lr_tls.guard = g;
  disown(sig);
  real_sigaction(sig, &old_actions[sig], NULL);
  raise(sig); /* blocked until we return: then the default action */
}

/* A stack overflow faults on the guard page, where no handler can run: the
** main thread gets an alternate signal stack (64 KiB of address space,
** touched only by a fatal signal) unless the program set one. Other threads
** have none: an overflow there ends the trace as "killed". */
static void alt_stack(void) {
  stack_t cur;
  if (sigaltstack(NULL, &cur) != 0 || !(cur.ss_flags & SS_DISABLE)) return;
  size_t sz = 64 * 1024;
  void *p = lr_sys_mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  stack_t ss = {.ss_sp = p, .ss_size = sz, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) lr_sys_munmap(p, sz);
}

void lr_signals_install(void) {
  resolve_signal_fns();
  alt_stack();
  struct sigaction st;
  memset(&st, 0, sizeof st);
  st.sa_sigaction = on_term;
  st.sa_flags = SA_SIGINFO;
  sigfillset(&st.sa_mask);
  for (size_t i = 0; i < sizeof term_signals / sizeof *term_signals; i++) {
    int s = term_signals[i];
    struct sigaction old;
    if (real_sigaction(s, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
        old.sa_handler != SIG_DFL)
      continue; /* ignored, or the program's own */
    old_actions[s] = old;
    if (real_sigaction(s, &st, NULL) == 0) __atomic_store_n(&owned[s], 1, __ATOMIC_RELEASE);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++) {
    int s = fatal_signals[i];
    struct sigaction old;
    if (real_sigaction(s, NULL, &old) != 0) continue;
    /* leave a program's (or a sanitizer's) own handler alone */
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL) continue;
    if ((old.sa_flags & SA_SIGINFO)) continue;
    old_actions[s] = old;
    if (real_sigaction(s, &sa, NULL) == 0) __atomic_store_n(&owned[s], 1, __ATOMIC_RELEASE);
  }
}
