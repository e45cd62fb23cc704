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
**   gt_small sigmalloc N   N malloc(2000..5999)/free pairs while SIGALRM
**                          every 100 us runs a handler that mallocs and
**                          frees 3000 bytes (undefined behaviour: bare, it
**                          deadlocks in the arena lock when the signal lands
**                          inside malloc); prints "sigmalloc N"
** Exit 0 unless a thread cannot be started.
*/
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

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

static void on_alrm(int sig) {
  (void)sig;
  void *volatile p = malloc(3000);
  free(p);
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
  fprintf(stderr, "usage: gt_small threads N K | as | sig | sigmalloc N\n");
  return 2;
}
