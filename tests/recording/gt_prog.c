/*
** gt_prog.c: ground-truth programs for the recording tests. Each mode makes
** a known set of calls from known, never-inlined functions, so a trace of
** it must hold exactly those events with those sizes and names:
**
**   basic    GT_BASIC_* below: the malloc family and a realloc chain
**   mmap     anonymous 5 MiB, a 64 KiB file mapping (argv[2]), a partial
**            munmap, an mremap that grows; plus annotations
**   threads  8 threads x 1000 malloc(64+t)/free pairs, all started at once
**   fork     3 x malloc(100) in the parent, 5 x malloc(200) in the child
**   exec     2 x malloc(300), then exec of itself in mode exec2 (4 x 400)
**   fork_exec  a fork child makes 2 x malloc(300), then execve's mode exec2
**            with an environment array copied before the fork
**   dlopen   dlopen argv[2], 4 x malloc(77) inside it, dlclose
**   leak     100 x malloc(1000), never freed
**   spawn    posix_spawn of itself in mode leak, then 1 x malloc(555)
**   kill     1000 x malloc(48), a marker, then SIGKILL to itself
**   abort    1 x malloc(4242), then abort()
**   _exit    1 x malloc(99), then _exit(7)
**   vfork    malloc(11), a vfork child that _exits, malloc(22)
**   segv     1 x malloc(123), then a store to an unmapped page
**   tsd N    N threads one after another, each with a key whose
**            destructor frees its malloc(32)
**   dlopen2  argv[2] opened twice and closed twice; exit 4 if still mapped
**   orphan   6 grandchildren whose parents exit at once, each malloc(201)
**   ret3     1 x malloc(33), then return 3 from main
**   exit5    1 x malloc(55), then exit(5)
**
** Nothing here uses stdio (it would allocate): output is write(2) only.
** Each mode prints "NAME=ADDRESS" lines for the functions that allocate,
** so the tests can place stack frames without a symbolizer.
*/
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lowram.h"

#define NOINLINE __attribute__((noinline))

extern char **environ;
static void *keep[4096];
static volatile int sink;

static void put(const char *s) {
  size_t n = strlen(s);
  if (write(1, s, n) < 0) _exit(99);
}

static void say_fn(const char *name, const void *fn) {
  char buf[80];
  size_t n = strlen(name);
  memcpy(buf, name, n);
  buf[n++] = '=';
  buf[n++] = '0';
  buf[n++] = 'x';
  uintptr_t v = (uintptr_t)fn;
  for (int i = (int)sizeof v * 2 - 1; i >= 0; i--) buf[n++] = "0123456789abcdef"[(v >> (4 * i)) & 15];
  buf[n++] = '\n';
  if (write(1, buf, n) < 0) _exit(99);
}
#define SAY(fn) say_fn(#fn, (const void *)(uintptr_t)fn)

/* ---- basic: 10 malloc(24), 5 calloc(16,64), 2 malloc(1 MiB), 1 each of
** posix_memalign(64,1000) aligned_alloc(256,4096) memalign(128,300)
** valloc(5000), a realloc chain NULL->100->200->5000, reallocarray(7,9);
** every block freed: 21 frees + the chain's last block + reallocarray's. */
NOINLINE static void gt_alloc_small(void) {
  for (int i = 0; i < 10; i++) keep[i] = malloc(24);
  sink++;
}
NOINLINE static void gt_alloc_zeroed(void) {
  for (int i = 0; i < 5; i++) keep[10 + i] = calloc(16, 64);
  sink++;
}
NOINLINE static void gt_alloc_big(void) {
  for (int i = 0; i < 2; i++) keep[15 + i] = malloc(1 << 20);
  sink++;
}
NOINLINE static void gt_alloc_aligned(void) {
  if (posix_memalign(&keep[17], 64, 1000)) _exit(98);
  keep[18] = aligned_alloc(256, 4096);
  keep[19] = memalign(128, 300);
  keep[20] = valloc(5000);
  sink++;
}
NOINLINE static void *gt_realloc_chain(void) {
  void *volatile none = NULL; /* or the compiler makes it a malloc */
  void *p = realloc(none, 100);
  p = realloc(p, 200);
  p = realloc(p, 5000);
  sink++;
  return p;
}
NOINLINE static void gt_free_all(void *chain) {
  for (int i = 0; i < 21; i++) free(keep[i]);
  free(chain);
  void *volatile none = NULL;
  void *q = reallocarray(none, 7, 9);
  free(q);
  sink++;
}

static int mode_basic(void) {
  SAY(gt_alloc_small);
  SAY(gt_alloc_zeroed);
  SAY(gt_alloc_big);
  SAY(gt_alloc_aligned);
  SAY(gt_realloc_chain);
  SAY(gt_free_all);
  gt_alloc_small();
  gt_alloc_zeroed();
  gt_alloc_big();
  gt_alloc_aligned();
  void *c = gt_realloc_chain();
  gt_free_all(c);
  return 0;
}

/* ---- mmap ------------------------------------------------------------- */
NOINLINE static void *gt_map_anon(void) {
  void *p = mmap(NULL, 5 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) _exit(97);
  memset(p, 1, 5 << 20);
  /* hold it long enough for the RSS sampler to see it */
  struct timespec ts = {0, 120 * 1000 * 1000};
  nanosleep(&ts, NULL);
  return p;
}
NOINLINE static void *gt_map_file(const char *path) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, 128 << 10)) _exit(96);
  void *p = mmap(NULL, 64 << 10, PROT_READ, MAP_SHARED, fd, 64 << 10);
  if (p == MAP_FAILED) _exit(95);
  close(fd);
  return p;
}
NOINLINE static void *gt_grow(void *p) {
  void *q = mremap(p, 1 << 20, 8 << 20, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) _exit(94);
  return q;
}

static int mode_mmap(const char *file) {
  SAY(gt_map_anon);
  SAY(gt_map_file);
  SAY(gt_grow);
  lowram_param("seq_len", 512);
  lowram_param_str("quant", "q8");
  lowram_mark("load");
  char *a = gt_map_anon();
  void *f = gt_map_file(file);
  lowram_mark("compute");
  /* partial: drop the last 4 MiB of the 5, then grow the first 1 MiB to 8 */
  if (munmap(a + (1 << 20), 4 << 20)) _exit(93);
  void *g = gt_grow(a);
  munmap(f, 64 << 10);
  munmap(g, 8 << 20);
  return 0;
}

/* ---- threads ---------------------------------------------------------- */
static pthread_barrier_t barrier;

NOINLINE static void gt_thread_work(size_t size) {
  for (int i = 0; i < 1000; i++) {
    void *p = malloc(size);
    sink += p != NULL;
    free(p);
  }
}
static void *thread_main(void *arg) {
  pthread_barrier_wait(&barrier);
  gt_thread_work(64 + (size_t)(uintptr_t)arg);
  pthread_setname_np(pthread_self(), "gt-done"); /* a rename after its events */
  return NULL;
}
static int mode_threads(void) {
  SAY(gt_thread_work);
  pthread_t th[8];
  pthread_barrier_init(&barrier, NULL, 8);
  for (uintptr_t i = 0; i < 8; i++)
    if (pthread_create(&th[i], NULL, thread_main, (void *)i)) return 1;
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  return 0;
}

/* ---- fork, exec, spawn ------------------------------------------------ */
NOINLINE static void gt_parent_alloc(void) {
  for (int i = 0; i < 3; i++) keep[i] = malloc(100);
  sink++;
}
NOINLINE static void gt_child_alloc(void) {
  for (int i = 0; i < 5; i++) keep[10 + i] = malloc(200);
  sink++;
}
static int mode_fork(void) {
  SAY(gt_parent_alloc);
  SAY(gt_child_alloc);
  gt_parent_alloc();
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    gt_child_alloc();
    exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

NOINLINE static void gt_exec_alloc(size_t size, int n) {
  for (int i = 0; i < n; i++) keep[i] = malloc(size);
  sink++;
}
static int mode_exec(const char *self) {
  SAY(gt_exec_alloc);
  gt_exec_alloc(300, 2);
  char *args[] = {(char *)self, "exec2", NULL};
  execve(self, args, environ);
  return 1;
}
/* A shell's way: exec from a fork child with an environment array copied
** at start (its LOWRAM_EXEC_INDEX names the parent, not the child). */
static int mode_fork_exec_envp(const char *self) {
  size_t n = 0;
  while (environ[n]) n++;
  char **copy = malloc((n + 1) * sizeof *copy);
  for (size_t i = 0; i <= n; i++) copy[i] = environ[i] ? strdup(environ[i]) : NULL;
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    gt_exec_alloc(300, 2);
    char *args[] = {(char *)self, "exec2", NULL};
    execve(self, args, copy);
    _exit(1);
  }
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static int mode_exec2(void) {
  gt_exec_alloc(400, 4);
  return 0;
}

NOINLINE static void gt_leak_alloc(void) {
  for (int i = 0; i < 100; i++) keep[i] = malloc(1000);
  sink++;
}
static int mode_leak(void) {
  SAY(gt_leak_alloc);
  gt_leak_alloc();
  return 0;
}

NOINLINE static void gt_after_spawn(void) {
  keep[0] = malloc(555);
  sink++;
}
static int mode_spawn(const char *self) {
  pid_t pid;
  char *args[] = {(char *)self, "leak", NULL};
  if (posix_spawn(&pid, self, NULL, NULL, args, environ)) return 1;
  int st;
  waitpid(pid, &st, 0);
  gt_after_spawn();
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* ---- dlopen ----------------------------------------------------------- */
static int mode_dlopen(const char *lib) {
  void *h = dlopen(lib, RTLD_NOW);
  if (!h) return 1;
  void (*fn)(int, size_t);
  *(void **)&fn = dlsym(h, "gt_plugin_alloc");
  if (!fn) return 1;
  SAY(fn);
  fn(4, 77);
  return dlclose(h) ? 1 : 0;
}

/* ---- tsd: N threads each set a pthread key to a malloc(32) that the
** key's destructor frees; the frees happen as each thread exits ---------- */
static pthread_key_t tsd_key;
static void tsd_free(void *p) { free(p); }
static void *tsd_main(void *arg) {
  (void)arg;
  pthread_setspecific(tsd_key, malloc(32));
  return NULL;
}
static int mode_tsd(int n) {
  if (pthread_key_create(&tsd_key, tsd_free)) return 1;
  for (int i = 0; i < n; i++) { /* one at a time: exits never overlap */
    pthread_t th;
    if (pthread_create(&th, NULL, tsd_main, NULL)) return 1;
    pthread_join(th, NULL);
  }
  return 0;
}

/* ---- dlopen2: the same library opened twice by name and closed twice must
** be unmapped (exit 4 if it is still in /proc/self/maps) ------------------ */
static int mapped(const char *needle) {
  static char buf[1 << 16];
  int fd = open("/proc/self/maps", O_RDONLY);
  if (fd < 0) return -1;
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
  close(fd);
  buf[n] = 0;
  return strstr(buf, needle) != NULL;
}
static int mode_dlopen2(const char *lib) {
  void *a = dlopen(lib, RTLD_NOW);
  void *b = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
  if (!a || !b) return 2;
  if (a != b || mapped("gt_plugin") != 1) return 3;
  if (dlclose(b) || mapped("gt_plugin") != 1) return 5;
  if (dlclose(a)) return 6;
  return mapped("gt_plugin") ? 4 : 0;
}

/* ---- orphan: 6 times, a child forks a grandchild and exits at once; the
** grandchild mallocs(201) after it is reparented. The pipe's end of file
** says every grandchild has exited. ------------------------------------- */
static int mode_orphan(void) {
  int fds[2];
  if (pipe(fds)) return 1;
  for (int i = 0; i < 6; i++) {
    pid_t mid = fork();
    if (mid < 0) return 1;
    if (mid == 0) {
      pid_t me = getpid();
      pid_t g = fork();
      if (g != 0) syscall(SYS_exit_group, 0); /* as soon as possible */
      close(fds[0]);
      for (int k = 0; k < 2000 && getppid() == me; k++) usleep(1000);
      keep[0] = malloc(201);
      exit(0);
    }
    int st;
    waitpid(mid, &st, 0);
  }
  close(fds[1]);
  char c;
  while (read(fds[0], &c, 1) > 0) {
  }
  return 0;
}

/* ---- endings ----------------------------------------------------------- */
NOINLINE static void gt_before_kill(void) {
  for (int i = 0; i < 1000; i++) keep[i] = malloc(48);
  sink++;
}
static int mode_kill(void) {
  SAY(gt_before_kill);
  gt_before_kill();
  lowram_mark("before_kill");
  kill(getpid(), SIGKILL);
  return 1;
}

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "basic";
  if (!strcmp(m, "basic")) return mode_basic();
  if (!strcmp(m, "mmap") && argc > 2) return mode_mmap(argv[2]);
  if (!strcmp(m, "threads")) return mode_threads();
  if (!strcmp(m, "fork")) return mode_fork();
  if (!strcmp(m, "exec")) return mode_exec(argv[0]);
  if (!strcmp(m, "exec2")) return mode_exec2();
  if (!strcmp(m, "fork_exec")) return mode_fork_exec_envp(argv[0]);
  if (!strcmp(m, "leak")) return mode_leak();
  if (!strcmp(m, "spawn")) return mode_spawn(argv[0]);
  if (!strcmp(m, "dlopen") && argc > 2) return mode_dlopen(argv[2]);
  if (!strcmp(m, "kill")) return mode_kill();
  if (!strcmp(m, "tsd") && argc > 2) return mode_tsd(atoi(argv[2]));
  if (!strcmp(m, "dlopen2") && argc > 2) return mode_dlopen2(argv[2]);
  if (!strcmp(m, "orphan")) return mode_orphan();
  if (!strcmp(m, "abort")) {
    keep[0] = malloc(4242);
    abort();
  }
  if (!strcmp(m, "vfork")) {
    keep[0] = malloc(11);
    pid_t pid = vfork();
    if (pid == 0) _exit(0); /* shares the parent's memory: must not end its spool */
    int st;
    waitpid(pid, &st, 0);
    keep[1] = malloc(22);
    return 0;
  }
  if (!strcmp(m, "segv")) {
    keep[0] = malloc(123);
    *(volatile int *)(uintptr_t)sink = 1; /* sink is small: an unmapped page */
    return 1;
  }
  if (!strcmp(m, "ret3")) {
    keep[0] = malloc(33);
    return 3;
  }
  if (!strcmp(m, "exit5")) {
    keep[0] = malloc(55);
    exit(5);
  }
  if (!strcmp(m, "_exit")) {
    keep[0] = malloc(99);
    _exit(7);
  }
  put("gt_prog: unknown mode\n");
  return 2;
}
