/*
** gt_small.c: ground truth for the shim's own cost (issue 15, "small on a
** phone"). Modes:
**   gt_small threads N K   N short threads, 50 alive at a time, each making
**                          K malloc(1234)/free pairs; prints "threads N K"
**                          and then the process's VmPeak VmSize VmRSS
**   gt_small as            mallocs 1 MiB blocks (untouched) until malloc
**                          returns NULL (run it under RLIMIT_AS); prints
**                          "mib M": how many it got
**   gt_small sig           asks for and sets the actions of SIGSEGV, SIGBUS,
**                          SIGTERM, SIGABRT through sigaction() and signal(),
**                          then handles a raised SIGSEGV; prints what it saw
**                          (the same bare and under the shim)
**   gt_small sig99         gt_small_c99.c: signal() as glibc's __sysv_signal
**   gt_small sigsysv       sysv_signal, bsd_signal, ssignal, sigset (SIG_HOLD
**                          and a handler) on signals the shim catches, each
**                          printing the action it returned (glibc only)
**   gt_small sigintr       siginterrupt(SIGTERM, 1), then signal(SIGTERM, h):
**                          prints whether SA_RESTART is set (it is not)
**   gt_small vfork         a vfork child resets SIGTERM with signal() and
**                          exits: prints the parent's SIGTERM action before
**                          and after (the same)
**   gt_small rescue N      as sigmalloc, the handler calling malloc(40) (kept),
**                          valloc(64) and pvalloc(100) (glibc); prints how
**                          many of those were not page-aligned, and how
**                          many blocks malloc_usable_size says are smaller
**                          than asked (0 each); run under the shim only
**   gt_small sigmalloc N   N malloc(2000..5999)/free pairs while SIGALRM
**                          every 100 us runs a handler that mallocs and
**                          frees 3000 bytes (undefined behaviour: bare, it
**                          deadlocks in the arena lock when the signal lands
**                          inside malloc); prints "sigmalloc N"
** Exit 0 unless a thread cannot be started.
*/
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static long k_pairs;

static void *worker(void *arg) {
  (void)arg;
  for (long i = 0; i < k_pairs; i++) {
    void *volatile p = malloc(1234);
    free(p);
  }
  return NULL;
}

static void status(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmPeak:", 7) || !strncmp(line, "VmSize:", 7) ||
        !strncmp(line, "VmRSS:", 6))
      fputs(line, stdout);
  if (f) fclose(f);
}

static volatile sig_atomic_t handled;
static void on_sig(int sig) { handled = sig; }

static const char *name(void (*h)(int)) {
  return h == SIG_DFL ? "default" : h == SIG_IGN ? "ignore" : h == on_sig ? "mine" : "OTHER";
}

static int m_sig(void) {
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGTERM, SIGHUP, SIGABRT, SIGFPE, SIGILL};
  for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) {
    struct sigaction a;
    sigaction(sigs[i], NULL, &a);
    printf("%d: %s flags %#x\n", sigs[i],
           (a.sa_flags & SA_SIGINFO) ? "a SA_SIGINFO handler" : name(a.sa_handler),
           (unsigned)(a.sa_flags & (SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER |
                                    SA_RESETHAND)));
  }
  void (*was)(int) = signal(SIGBUS, on_sig);
  printf("signal(SIGBUS) was %s\n", name(was));
  was = signal(SIGBUS, was);
  printf("signal(SIGBUS) back: was %s\n", name(was));
  struct sigaction mine, prev;
  memset(&mine, 0, sizeof mine);
  mine.sa_handler = on_sig;
  sigaction(SIGSEGV, &mine, &prev);
  printf("sigaction(SIGSEGV) was %s\n", name(prev.sa_handler));
  sigaction(SIGSEGV, NULL, &prev);
  printf("SIGSEGV now %s\n", name(prev.sa_handler));
  raise(SIGSEGV);
  printf("handled %d\n", (int)handled);
  return 0;
}

static const char *action(int sig) {
  struct sigaction a;
  if (sigaction(sig, NULL, &a) != 0) return "ERROR";
  return (a.sa_flags & SA_SIGINFO) ? "a SA_SIGINFO handler" : name(a.sa_handler);
}

int gt_sig99(void);

#ifdef __GLIBC__
/* glibc has it; its <signal.h> declares it only before XOPEN2K8 */
extern void (*bsd_signal(int, void (*)(int)))(int);
#endif

/* sigset and siginterrupt are deprecated: the point is to call them */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static int m_sigsysv(void) {
#ifdef __GLIBC__
  printf("sysv_signal(SIGBUS) was %s\n", name(sysv_signal(SIGBUS, on_sig)));
  printf("SIGBUS now %s\n", action(SIGBUS));
  printf("bsd_signal(SIGILL) was %s\n", name(bsd_signal(SIGILL, SIG_IGN)));
  printf("ssignal(SIGHUP) was %s\n", name(ssignal(SIGHUP, SIG_IGN)));
  printf("sigset(SIGABRT, SIG_HOLD) was %s\n", name(sigset(SIGABRT, SIG_HOLD)));
  printf("SIGABRT now %s\n", action(SIGABRT));
  printf("sigset(SIGTERM, mine) was %s\n", name(sigset(SIGTERM, on_sig)));
  printf("SIGTERM now %s\n", action(SIGTERM));
  raise(SIGBUS);
  printf("handled %d\n", (int)handled);
#endif
  return 0;
}

static int m_sigintr(void) {
  siginterrupt(SIGTERM, 1);
  signal(SIGTERM, on_sig);
  struct sigaction a;
  sigaction(SIGTERM, NULL, &a);
  printf("SIGTERM SA_RESTART %d\n", !!(a.sa_flags & SA_RESTART));
  return 0;
}

static int m_vfork(void) {
  printf("before vfork: SIGTERM %s\n", action(SIGTERM));
  fflush(stdout);
  pid_t p = vfork();
  if (p == 0) {
    signal(SIGTERM, SIG_DFL); /* as spawners do before exec */
    _exit(0);
  }
  if (p < 0) return 2;
  waitpid(p, NULL, 0);
  printf("after vfork: SIGTERM %s\n", action(SIGTERM));
  return 0;
}

static void on_alrm(int sig) {
  (void)sig;
  void *volatile p = malloc(3000);
  free(p);
}

static void *kept[4096];
static volatile int nkept, misaligned, short_pages;

static void on_alrm_rescue(int sig) {
  (void)sig;
  void *q = malloc(40);
  if (q && nkept < 4096)
    kept[nkept++] = q;
  else
    free(q);
  void *v = valloc(64);
  misaligned += v && ((uintptr_t)v & 4095);
  free(v);
#ifdef __GLIBC__
  void *pv = pvalloc(100);
  misaligned += pv && ((uintptr_t)pv & 4095);
  short_pages += pv && malloc_usable_size(pv) < 4096;
  free(pv);
#endif
}

static int m_rescue(long n) {
  signal(SIGALRM, on_alrm_rescue);
  struct itimerval it = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &it, NULL);
  for (long i = 0; i < n; i++) {
    void *volatile p = malloc(16 + (size_t)(i % 2000));
    free(p);
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  int small = 0;
  for (int i = 0; i < nkept; i++) small += malloc_usable_size(kept[i]) < 40;
  printf("rescue %ld: not page-aligned %d, pvalloc under a page %d, usable under 40 %d\n", n,
         (int)misaligned, (int)short_pages, small);
  return 0;
}

static int m_sigmalloc(long n) {
  signal(SIGALRM, on_alrm);
  struct itimerval it = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &it, NULL);
  for (long i = 0; i < n; i++) {
    void *volatile p = malloc(2000 + (size_t)(i % 4000));
    free(p);
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("sigmalloc %ld\n", n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "sig")) return m_sig();
  if (argc >= 2 && !strcmp(argv[1], "sig99")) return gt_sig99();
  if (argc >= 2 && !strcmp(argv[1], "sigsysv")) return m_sigsysv();
  if (argc >= 2 && !strcmp(argv[1], "sigintr")) return m_sigintr();
  if (argc >= 2 && !strcmp(argv[1], "vfork")) return m_vfork();
  if (argc >= 3 && !strcmp(argv[1], "rescue")) return m_rescue(atol(argv[2]));
  if (argc >= 3 && !strcmp(argv[1], "sigmalloc")) return m_sigmalloc(atol(argv[2]));
  if (argc >= 4 && !strcmp(argv[1], "threads")) {
    long n = atol(argv[2]);
    k_pairs = atol(argv[3]);
    pthread_t t[50];
    for (long done = 0; done < n;) {
      long b = n - done < 50 ? n - done : 50;
      for (long i = 0; i < b; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0) return 2;
      for (long i = 0; i < b; i++) pthread_join(t[i], NULL);
      done += b;
    }
    printf("threads %ld %ld\n", n, k_pairs);
    status();
    return 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "as")) {
    long mib = 0;
    while (malloc(1 << 20)) mib++;
    printf("mib %ld\n", mib);
    return 0;
  }
  fprintf(stderr, "usage: gt_small threads N K | as | sig | sig99 | sigsysv | sigintr | vfork | rescue N | sigmalloc N\n");
  return 2;
}
