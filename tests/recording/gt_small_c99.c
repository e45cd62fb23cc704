/*
** gt_small_c99.c: gt_small's "sig99" mode, built with -std=c99 (no
** _DEFAULT_SOURCE), where glibc's <signal.h> makes signal() call
** __sysv_signal. It asks for SIGSEGV's action with signal(), then sets a
** SIGFPE handler that chains to the handler signal() returned (as crash
** reporters do) and raises SIGFPE. Prints what it saw (the same bare and
** under the shim).
*/
#include <signal.h>
#include <stdio.h>

#if defined(__GLIBC__) && defined(__USE_MISC)
#error "built with _DEFAULT_SOURCE: signal() would not be __sysv_signal"
#endif

int gt_sig99(void);

static void (*prev)(int);
static volatile sig_atomic_t chained, handled;

static void on_fpe(int sig) {
  if (prev != SIG_DFL && prev != SIG_IGN && prev != SIG_ERR) {
    chained = 1;
    prev(sig);
  }
  handled = sig;
}

static const char *name(void (*h)(int)) {
  return h == SIG_DFL ? "default" : h == SIG_IGN ? "ignore" : h == SIG_ERR ? "error" : "OTHER";
}

int gt_sig99(void) {
  void (*was)(int) = signal(SIGSEGV, SIG_IGN);
  printf("sig99 signal(SIGSEGV) was %s\n", name(was));
  was = signal(SIGSEGV, was);
  printf("sig99 signal(SIGSEGV) back: was %s\n", name(was));
  prev = signal(SIGFPE, on_fpe);
  printf("sig99 signal(SIGFPE) was %s\n", name(prev));
  fflush(stdout);
  raise(SIGFPE);
  printf("sig99 handled %d, chained %d\n", (int)handled, (int)chained);
  return 0;
}
