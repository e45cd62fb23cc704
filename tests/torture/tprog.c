/*
** tprog.c: the torture suite's own programs, one mode each. Every mode
** allocates blocks of sizes nothing else in a process uses (3000+t, 4242,
** 5555 ...), so the driver (torture.c) can assert exact counts on the trace.
** stdout holds only what is the same on every run (the driver compares it
** byte for byte with a bare run); counts that vary (timer ticks, progress at
** a SIGKILL) go to the file named by $TRZ_INFO, as "key=value" lines.
**
**   tprog xfree N          16 threads free each other's blocks (3000+t, 3050+t)
**   tprog threads N        N threads alive at once, each malloc(777)/free
**   tprog forks N          N children at once; each allocates 3 x 4242
**   tprog vfork N | spawn N  N children that exec `tprog leaf 5555 5 5`
**   tprog leaf SIZE K CODE K blocks of SIZE, freed; exit(CODE)
**   tprog exec K           an exec chain of K+1 images (6000+k)
**   tprog sigprof N        SIGPROF every 100 us from a POSIX timer; the
**                          handler maps and unmaps 24576 bytes
**   tprog longjmp DEPTH    longjmp and siglongjmp out of deep recursion
**   tprog edge             malloc-family edge calls, one line each
**   tprog fdreuse N        closes every fd, reuses the numbers, allocates
**   tprog churn FILE T     T threads allocate until killed; progress in FILE
**   tprog fill N [FSIZE]   N malloc/free pairs (2222); with FSIZE, sets
**                          RLIMIT_FSIZE (SIGXFSZ ignored) first
*/
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *g_self;

static void die(const char *what) {
  fprintf(stderr, "tprog: %s: %s\n", what, strerror(errno));
  exit(99);
}

static void info(const char *key, long long v) {
  const char *p = getenv("TRZ_INFO");
  if (!p) return;
  FILE *f = fopen(p, "a");
  if (!f) die(p);
  fprintf(f, "%s=%lld\n", key, v);
  fclose(f);
}

/* Every block is stored here once, so no compiler elides a malloc/free pair. */
static void *volatile g_sink;

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) die("malloc");
  g_sink = p;
  memset(p, 0x5a, n < 64 ? n : 64);
  return p;
}

/* realloc(NULL, n) through this, or the compiler makes it malloc(n) */
static void *volatile g_null;

/* ---- xfree: 16 threads freeing each other's blocks ---------------------- */

#define XT 16
static long g_n;
static void **g_slots[XT];
static pthread_barrier_t g_bar;
/* phase 2: one single-producer single-consumer ring per thread pair t -> t+1 */
#define RING 256
static _Atomic(void *) g_ring[XT][RING];
static atomic_long g_head[XT], g_tail[XT];

static void *xfree_thread(void *arg) {
  long t = (long)arg;
  for (long i = 0; i < g_n; i++) {
    size_t sz = 3000 + (size_t)t;
    void *p = i % 3 == 0 ? malloc(sz) : i % 3 == 1 ? calloc(1, sz) : realloc(g_null, sz);
    if (!p) die("alloc");
    g_slots[t][i] = p;
  }
  pthread_barrier_wait(&g_bar);
  for (long i = 0; i < g_n; i++) free(g_slots[(t + 1) % XT][i]);
  pthread_barrier_wait(&g_bar);
  /* phase 2, concurrent: push own blocks to t+1, free what t-1 pushed */
  long in = (t + XT - 1) % XT, made = 0, freed = 0;
  while (made < g_n || freed < g_n) {
    if (made < g_n) {
      long h = atomic_load(&g_head[t]);
      if (h - atomic_load(&g_tail[t]) < RING) {
        atomic_store(&g_ring[t][h % RING], xmalloc(3050 + (size_t)t));
        atomic_store(&g_head[t], h + 1);
        made++;
      }
    }
    long tl = atomic_load(&g_tail[in]);
    if (freed < g_n && tl < atomic_load(&g_head[in])) {
      free(atomic_load(&g_ring[in][tl % RING]));
      atomic_store(&g_tail[in], tl + 1);
      freed++;
    }
  }
  return NULL;
}

static int m_xfree(long n) {
  g_n = n;
  pthread_barrier_init(&g_bar, NULL, XT);
  for (int t = 0; t < XT; t++) {
    g_slots[t] = calloc((size_t)n, sizeof(void *));
    if (!g_slots[t]) die("calloc");
  }
  pthread_t th[XT];
  for (long t = 0; t < XT; t++)
    if (pthread_create(&th[t], NULL, xfree_thread, (void *)t)) die("pthread_create");
  for (int t = 0; t < XT; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < XT; t++) free(g_slots[t]);
  printf("xfree threads=%d blocks=%ld\n", XT, 2 * n * XT);
  return 0;
}

/* ---- threads: N alive at once ------------------------------------------- */

static long g_started, g_want;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

static void *small_thread(void *arg) {
  (void)arg;
  char *p = xmalloc(777);
  /* everyone holds a block until all have started: N threads at once */
  pthread_mutex_lock(&g_mu);
  if (++g_started == g_want) pthread_cond_broadcast(&g_cv);
  while (g_started < g_want) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  p[776] = 1;
  free(p);
  return NULL;
}

static int m_threads(long n) {
  g_want = n;
  pthread_t *th = calloc((size_t)n, sizeof *th);
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, 64 * 1024);
  for (long i = 0; i < n; i++) {
    int e = pthread_create(&th[i], &a, small_thread, NULL);
    if (e) {
      errno = e;
      die("pthread_create");
    }
  }
  for (long i = 0; i < n; i++) pthread_join(th[i], NULL);
  free(th);
  printf("threads %ld\n", n);
  return 0;
}

/* ---- forks, vfork, posix_spawn, exec ------------------------------------ */

static int wait_all(long n, int want) {
  int bad = 0;
  for (long i = 0; i < n; i++) {
    int st;
    if (wait(&st) < 0) die("wait");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != want) bad++;
  }
  return bad;
}

static int m_forks(long n) {
  void *inherited[10];
  for (int i = 0; i < 10; i++) inherited[i] = xmalloc(4244);
  fflush(stdout);
  for (long i = 0; i < n; i++) {
    pid_t p = fork();
    if (p < 0) die("fork");
    if (p == 0) {
      void *a = xmalloc(4242), *b = xmalloc(4242), *c = xmalloc(4242);
      free(a);
      free(b);
      for (int k = 0; k < 10; k++) free(inherited[k]);
      (void)c; /* left live: a leak of 4242 bytes per child */
      exit(7);
    }
  }
  int bad = wait_all(n, 7);
  for (int i = 0; i < 10; i++) free(inherited[i]);
  printf("forks %ld bad %d\n", n, bad);
  return bad ? 1 : 0;
}

static int m_leaf(size_t size, long k, int code) {
  void **v = calloc((size_t)k, sizeof *v);
  for (long i = 0; i < k; i++) v[i] = xmalloc(size);
  for (long i = 0; i < k; i++) free(v[i]);
  free(v);
  return code;
}

static char *const *leaf_argv(void) {
  static char *av[6];
  av[0] = (char *)g_self;
  av[1] = "leaf";
  av[2] = "5555";
  av[3] = "5";
  av[4] = "5";
  av[5] = NULL;
  return av;
}

static int m_vfork(long n) {
  for (volatile long i = 0; i < n; i++) {
    void *p = xmalloc(5556); /* between the children */
    pid_t c = vfork();
    if (c < 0) die("vfork");
    if (c == 0) {
      execve(g_self, leaf_argv(), environ);
      _exit(127);
    }
    free(p);
  }
  int bad = wait_all(n, 5);
  printf("vfork %ld bad %d\n", n, bad);
  return bad ? 1 : 0;
}

static int m_spawn(long n) {
  for (long i = 0; i < n; i++) {
    void *p = xmalloc(5557);
    pid_t c;
    int e = posix_spawn(&c, g_self, NULL, NULL, leaf_argv(), environ);
    if (e) {
      errno = e;
      die("posix_spawn");
    }
    free(p);
  }
  int bad = wait_all(n, 5);
  printf("spawn %ld bad %d\n", n, bad);
  return bad ? 1 : 0;
}

static int m_exec(long k) {
  /* k+1 blocks of 6000+k, left live: exec discards them */
  for (long i = 0; i <= k; i++) (void)xmalloc(6000 + (size_t)k);
  if (k == 0) {
    printf("exec chain done\n");
    return 3;
  }
  char num[32];
  snprintf(num, sizeof num, "%ld", k - 1);
  char *av[] = {(char *)g_self, "exec", num, NULL};
  fflush(stdout);
  execve(g_self, av, environ);
  die("execve");
  return 1;
}

/* ---- sigprof: a POSIX timer sends SIGPROF every 100 us ------------------- */

static atomic_long g_ticks, g_maps;

static void on_prof(int sig) {
  (void)sig;
  int e = errno;
  atomic_fetch_add(&g_ticks, 1);
  void *m = mmap(NULL, 24576, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m != MAP_FAILED) {
    atomic_fetch_add(&g_maps, 1);
    munmap(m, 24576);
  }
  errno = e;
}

static long g_iters;

static void *prof_worker(void *arg) {
  size_t base = (size_t)(uintptr_t)arg;
  for (long i = 0; i < g_iters; i++) {
    char *p = malloc(base);
    if (!p) die("malloc");
    g_sink = p;
    char *q = realloc(p, base + 1);
    if (!q) die("realloc");
    g_sink = q;
    free(q);
  }
  return NULL;
}

static int m_sigprof(long iters) {
  g_iters = iters;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prof;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPROF, &sa, NULL);
  timer_t tm;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGPROF;
  if (timer_create(CLOCK_MONOTONIC, &sev, &tm)) die("timer_create");
  struct itimerspec its = {{0, 100000}, {0, 100000}};
  if (timer_settime(tm, 0, &its, NULL)) die("timer_settime");
  pthread_t th;
  if (pthread_create(&th, NULL, prof_worker, (void *)(uintptr_t)335)) die("pthread_create");
  prof_worker((void *)(uintptr_t)333);
  pthread_join(th, NULL);
  struct itimerspec off = {{0, 0}, {0, 0}};
  timer_settime(tm, 0, &off, NULL);
  timer_delete(tm);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGPROF);
  sigprocmask(SIG_BLOCK, &s, NULL); /* no tick after the count is taken */
  info("ticks", atomic_load(&g_ticks));
  info("maps", atomic_load(&g_maps));
  printf("sigprof iterations %ld x 2 threads\n", iters);
  return 0;
}

/* ---- longjmp out of deep recursion --------------------------------------- */

static jmp_buf g_jb;
static sigjmp_buf g_sjb;
static void **g_deep;
static long g_depth;

static void on_alrm(int sig) {
  (void)sig;
  siglongjmp(g_sjb, 1);
}

__attribute__((noinline)) static void dive(long level, int how) {
  if (level >= g_depth) return;
  g_deep[level] = xmalloc(4848);
  if (level + 1 == g_depth) {
    if (how == 0) longjmp(g_jb, 1);
    raise(SIGALRM); /* the handler siglongjmps out */
  }
  dive(level + 1, how);
  __asm__ volatile("" ::: "memory"); /* not a tail call */
}

static int m_longjmp(long depth) {
  g_depth = depth;
  g_deep = calloc((size_t)depth, sizeof *g_deep);
  signal(SIGALRM, on_alrm);
  volatile long jumps = 0;
  for (volatile int round = 0; round < 4; round++) {
    int how = round & 1;
    if (how == 0) {
      if (setjmp(g_jb) == 0) dive(0, 0);
      else jumps++;
    } else {
      if (sigsetjmp(g_sjb, 1) == 0) dive(0, 1);
      else jumps++;
    }
    for (long i = 0; i < depth; i++) free(g_deep[i]);
  }
  free(g_deep);
  printf("longjmp depth %ld jumps %ld\n", depth, jumps);
  return jumps == 4 ? 0 : 1;
}

/* ---- edge: the malloc family's edge calls -------------------------------- */

/* One line per call: "SIZE KIND ok|null [errno]"; the size is unique to the
** call, so the driver can look for its row. */
static int g_edge_bad;

static void edge(size_t size, const char *kind, void *p, int want_ok, int want_errno) {
  int e = errno;
  printf("%zu %s %s", size, kind, p ? "ok" : "null");
  if (!p) printf(" %s", e == ENOMEM ? "ENOMEM" : e == EINVAL ? "EINVAL" : "other");
  printf("\n");
  if (!!p != want_ok || (!p && want_errno && e != want_errno)) g_edge_bad++;
}

static int pm(void **p, size_t al, size_t sz) {
  *p = NULL;
  int r = posix_memalign(p, al, sz);
  if (r) {
    errno = r;
    *p = NULL;
  }
  return r;
}

/* through a volatile, so the compiler neither warns nor folds the calls */
static volatile size_t g_max = SIZE_MAX;

static int m_edge(void) {
  void *p, *q;
  const size_t max = g_max;
  errno = 0;
  p = malloc(0);
  edge(0, "malloc", p, 1, 0);
  free(p);
  free(NULL);
  errno = 0;
  p = calloc(max / 8, 16); /* nmemb * size overflows */
  edge(max / 8 * 16, "calloc", p, 0, ENOMEM);
  errno = 0;
  p = calloc((size_t)1 << 22, (size_t)1 << 22); /* 16 TiB: no overflow, no memory */
  edge((size_t)1 << 44, "calloc", p, 0, ENOMEM);
  errno = 0;
  p = reallocarray(NULL, max / 2, 4);
  edge(max / 2 * 4, "reallocarray", p, 0, ENOMEM);
  errno = 0;
  p = malloc(max - 4096);
  edge(max - 4096, "malloc", p, 0, ENOMEM);

  /* NULL under RLIMIT_AS: the soft limit 48 MiB above what is mapped now */
  struct rlimit old, lim;
  getrlimit(RLIMIT_AS, &old);
  long vm = 0;
  FILE *st = fopen("/proc/self/statm", "r");
  if (!st || fscanf(st, "%ld", &vm) != 1) die("statm");
  fclose(st);
  lim = old;
  lim.rlim_cur = (rlim_t)vm * (rlim_t)sysconf(_SC_PAGESIZE) + (48u << 20);
  if (setrlimit(RLIMIT_AS, &lim)) die("setrlimit");
  errno = 0;
  p = malloc((64u << 20) + 1);
  edge((64u << 20) + 1, "malloc", p, 0, ENOMEM);
  errno = 0;
  p = calloc(1, (64u << 20) + 2);
  edge((64u << 20) + 2, "calloc", p, 0, ENOMEM);
  errno = 0;
  p = mmap(NULL, (64u << 20) + 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  edge((64u << 20) + 4096, "mmap", p == MAP_FAILED ? NULL : p, 0, ENOMEM);
  errno = 0;
  p = malloc((1u << 20) + 1); /* still fits */
  edge((1u << 20) + 1, "malloc", p, 1, 0);
  free(p);
  if (setrlimit(RLIMIT_AS, &old)) die("setrlimit");

  /* realloc */
  errno = 0;
  p = realloc(g_null, 10004);
  edge(10004, "realloc", p, 1, 0);
  free(p);
  p = xmalloc(10003);
  errno = 0;
  q = realloc(p, 0); /* glibc: frees p, returns NULL */
  edge(0, "realloc", q, 0, 0);
  free(q);
  p = xmalloc(10005);
  errno = 0;
  q = realloc(p, 10005); /* same size */
  edge(10005, "realloc", q, 1, 0);
  free(q);
  p = xmalloc(10020);
  errno = 0;
  q = realloc(p, max - 8192); /* fails: p stays valid and live */
  edge(max - 8192, "realloc", q, 0, ENOMEM);
  free(p);

  /* alignments */
  pm(&p, 3, 10006);
  edge(10006, "posix_memalign", p, 0, EINVAL);
  pm(&p, 24, 10007);
  edge(10007, "posix_memalign", p, 0, EINVAL);
  pm(&p, 4, 10008);
  edge(10008, "posix_memalign", p, 0, EINVAL);
  pm(&p, 8192, 10009);
  edge(10009, "posix_memalign", p, 1, 0);
  if (p && ((uintptr_t)p & 8191)) g_edge_bad++;
  free(p);
  pm(&p, (size_t)1 << 20, 10010);
  edge(10010, "posix_memalign", p, 1, 0);
  if (p && ((uintptr_t)p & ((1u << 20) - 1))) g_edge_bad++;
  free(p);
  pm(&p, 64, max - 65536);
  edge(max - 65536, "posix_memalign", p, 0, ENOMEM);
  errno = 0;
  p = aligned_alloc(64, 10012);
  edge(10012, "aligned_alloc", p, 1, 0);
  free(p);
  errno = 0;
  p = aligned_alloc(4096, 10011);
  edge(10011, "aligned_alloc", p, 1, 0);
  if (p && ((uintptr_t)p & 4095)) g_edge_bad++;
  free(p);
  errno = 0;
  volatile size_t odd = 48;
  p = memalign(odd, 10013); /* glibc rounds a non-power of two up (64) */
  edge(10013, "memalign", p, 1, 0);
  if (p && ((uintptr_t)p & 63)) g_edge_bad++;
  free(p);
  errno = 0;
  p = memalign(1, 10014);
  edge(10014, "memalign", p, 1, 0);
  free(p);
  errno = 0;
  p = valloc(10016);
  edge(10016, "valloc", p, 1, 0);
  free(p);
  errno = 0;
  p = pvalloc(10017);
  edge(10017, "pvalloc", p, 1, 0);
  free(p);

  /* malloc_usable_size: the shim must not change the allocator's blocks */
  p = xmalloc(10018);
  printf("usable %zu %zu %d\n", malloc_usable_size(p), malloc_usable_size(NULL),
         malloc_usable_size(p) >= 10018);
  free(p);
  printf("edge bad %d\n", g_edge_bad);
  return g_edge_bad ? 1 : 0;
}

/* ---- fdreuse: the program closes every fd and reuses the numbers --------- */

static atomic_int g_stop;
static const char *g_mine;

static void *fd_juggler(void *arg) {
  (void)arg;
  long rounds = 0;
  while (!atomic_load(&g_stop)) {
    /* the lowest free numbers: where a careless shim's fd used to be */
    int a = open(g_mine, O_RDONLY);
    int b = open("/dev/null", O_RDONLY);
    if (a >= 0) close(a);
    if (b >= 0) close(b);
    rounds++;
  }
  return (void *)rounds;
}

static int m_fdreuse(long n) {
  const char *dir = getenv("TRZ_DIR");
  if (!dir) dir = ".";
  static char mine[4096];
  snprintf(mine, sizeof mine, "%s/mine.txt", dir);
  g_mine = mine;
  for (int fd = 3; fd < 1024; fd++) close(fd);
  int fd = open(mine, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) die(mine);
  if (write(fd, "hello\n", 6) != 6) die("write");
  /* every low number now names a file of ours */
  int extra[16];
  for (int i = 0; i < 16; i++) extra[i] = dup(fd);
  pthread_t th;
  pthread_create(&th, NULL, fd_juggler, NULL);
  for (long i = 0; i < n; i++) {
    void *p = xmalloc(5000);
    free(p);
    if (i % 4096 == 0) {
      close(extra[i / 4096 % 16]);
      extra[i / 4096 % 16] = open(mine, O_RDONLY);
    }
  }
  atomic_store(&g_stop, 1);
  pthread_join(th, NULL);
  for (int i = 0; i < 16; i++) close(extra[i]);
  struct stat s;
  char buf[16] = {0};
  if (fstat(fd, &s) || pread(fd, buf, sizeof buf - 1, 0) < 0) die("fstat");
  close(fd);
  printf("mine %lld bytes: %s", (long long)s.st_size, buf);
  return s.st_size == 6 && !strcmp(buf, "hello\n") ? 0 : 1;
}

/* ---- churn: allocate until killed; progress in a shared file ------------- */

#define CHURN_MAX 16
typedef struct {
  volatile long pid;
  volatile long allocated[CHURN_MAX]; /* malloc(1111) calls that returned */
  volatile long freed[CHURN_MAX];     /* free calls that returned */
} Churn;
static Churn *g_churn;

static void *churn_thread(void *arg) {
  long t = (long)arg;
  void *ring[64] = {0};
  for (long i = 0;; i++) {
    void *p = malloc(1111);
    if (!p) die("malloc");
    g_sink = p;
    __atomic_store_n(&g_churn->allocated[t], i + 1, __ATOMIC_SEQ_CST);
    if (ring[i % 64]) {
      free(ring[i % 64]);
      __atomic_add_fetch(&g_churn->freed[t], 1, __ATOMIC_SEQ_CST);
    }
    ring[i % 64] = p;
    if (i % 64 == 63) { /* about 64k mallocs a second: imports stay short */
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
    if (i % 1000 == 0) { /* and some mappings */
      void *m = mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m != MAP_FAILED) munmap(m, 12288);
    }
  }
  return NULL;
}

static int m_churn(const char *file, long threads) {
  if (threads < 1 || threads > CHURN_MAX) threads = 4;
  int fd = open(file, O_RDWR);
  if (fd < 0) die(file);
  g_churn = mmap(NULL, sizeof(Churn), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (g_churn == MAP_FAILED) die("mmap");
  close(fd);
  pthread_t th;
  for (long t = 1; t < threads; t++) pthread_create(&th, NULL, churn_thread, (void *)t);
  __atomic_store_n(&g_churn->pid, (long)getpid(), __ATOMIC_SEQ_CST);
  churn_thread((void *)0);
  return 0;
}

/* ---- fill: many events, optionally under RLIMIT_FSIZE -------------------- */

static int m_fill(long n, long fsize) {
  if (fsize > 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit r = {(rlim_t)fsize, (rlim_t)fsize};
    if (setrlimit(RLIMIT_FSIZE, &r)) die("setrlimit");
  }
  for (long i = 0; i < n; i++) {
    char *p = malloc(2222);
    if (!p) die("malloc");
    g_sink = p;
    free(p);
  }
  printf("fill %ld\n", n);
  return 0;
}

int main(int argc, char **argv) {
  g_self = "/proc/self/exe";
  static char self[4096];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl > 0) {
    self[sl] = 0;
    g_self = self;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: tprog MODE [ARGS]\n");
    return 2;
  }
  const char *m = argv[1];
  long a = argc > 2 ? atol(argv[2]) : 0;
  if (!strcmp(m, "xfree")) return m_xfree(a ? a : 2000);
  if (!strcmp(m, "threads")) return m_threads(a ? a : 1000);
  if (!strcmp(m, "forks")) return m_forks(a ? a : 200);
  if (!strcmp(m, "vfork")) return m_vfork(a ? a : 20);
  if (!strcmp(m, "spawn")) return m_spawn(a ? a : 20);
  if (!strcmp(m, "leaf") && argc == 5) return m_leaf((size_t)a, atol(argv[3]), atoi(argv[4]));
  if (!strcmp(m, "exec")) return m_exec(a);
  if (!strcmp(m, "sigprof")) return m_sigprof(a ? a : 200000);
  if (!strcmp(m, "longjmp")) return m_longjmp(a ? a : 10000);
  if (!strcmp(m, "edge")) return m_edge();
  if (!strcmp(m, "fdreuse")) return m_fdreuse(a ? a : 100000);
  if (!strcmp(m, "churn") && argc >= 3) return m_churn(argv[2], argc > 3 ? atol(argv[3]) : 4);
  if (!strcmp(m, "fill")) return m_fill(a, argc > 3 ? atol(argv[3]) : 0);
  fprintf(stderr, "tprog: unknown mode %s\n", m);
  return 2;
}
