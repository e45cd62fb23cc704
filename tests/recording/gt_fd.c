/*
** gt_fd.c: a program that treats file descriptors the way shells and
** daemons do, for the shim's fd-safety tests. Run it bare and under the
** shim: the files it writes in DIR must be byte-identical.
**
**   gt_fd close3   DIR   close fd 3 (bash `exec 3>&-`), open DIR/a.txt
**                        (which gets fd 3), write to it between allocations
**   gt_fd closeall DIR   close every fd >= 3 one by one up to the fd limit,
**                        then open DIR/a.txt and DIR/b.txt
**   gt_fd closefrom DIR  closefrom(3) (close_range), then as closeall
**   gt_fd dup2all  DIR   open DIR/a.txt and dup2 it onto every other open fd >= 3
**                        (so the shim's fd number names the program's file)
**   gt_fd lost     DIR SPOOL  100 x malloc(41), closefrom(3), rename SPOOL to
**                        SPOOL.moved (the shim can neither use its fd nor
**                        reopen it), then the loop
**
** In every mode a new thread then makes GT_FD_N x malloc(40)/free pairs,
** with GT_FD_N / 1000 lines written to the files in between, and exits 0.
** The files are opened read-write: a stray read through a reused fd
** number (libunwind's memory-validation pipe) would move their offset.
** Output is write(2) only.
*/
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GT_FD_N 60000

static volatile unsigned long sink;
static void *volatile hold; /* the blocks escape: no compiler elides the pairs */

static int open_in(const char *dir, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  /* read-write: a stray read through a reused number would move the offset */
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) _exit(90);
  return fd;
}

static void put(int fd, const char *s) {
  size_t n = strlen(s);
  if (write(fd, s, n) != (ssize_t)n) _exit(91);
}

static long fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 4096;
  return rl.rlim_cur > 65536 ? 65536 : (long)rl.rlim_cur;
}

static void close_from3(void) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0) return;
#endif
  for (long fd = 3; fd < fd_limit(); fd++) close((int)fd);
}

/* The allocation loop, writing a line to each file every 1000 pairs. */
static void churn(int a, int b) {
  char line[64];
  for (int i = 0; i < GT_FD_N; i++) {
    char *p = malloc(40);
    p[0] = (char)i;
    hold = p;
    sink += (unsigned char)p[0];
    free(hold);
    if (i % 1000 == 999) {
      snprintf(line, sizeof line, "line %d\n", i / 1000);
      put(a, line);
      if (b >= 0) put(b, line);
    }
  }
}

typedef struct Files {
  int a, b;
} Files;

static void *churn_thread(void *arg) {
  Files *f = arg;
  churn(f->a, f->b);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const char *mode = argv[1], *dir = argv[2];
  int a = -1, b = -1;
  /* allocations before the fd games: the shim (and libunwind, with its
  ** pipe) are at work before the program closes or reuses fds */
  for (int i = 0; i < 3; i++) {
    hold = malloc(33);
    free(hold);
  }
  if (!strcmp(mode, "close3")) {
    close(3);
    a = open_in(dir, "a.txt");
  } else if (!strcmp(mode, "closeall") || !strcmp(mode, "closefrom")) {
    if (!strcmp(mode, "closeall"))
      for (long fd = 3; fd < fd_limit(); fd++) close((int)fd);
    else
      close_from3();
    a = open_in(dir, "a.txt");
    b = open_in(dir, "b.txt");
  } else if (!strcmp(mode, "dup2all")) {
    a = open_in(dir, "a.txt");
    for (long fd = 3; fd < fd_limit(); fd++)
      if (fd != a && fcntl((int)fd, F_GETFD) >= 0) dup2(a, (int)fd);
  } else if (!strcmp(mode, "lost") && argc > 3) {
    for (int i = 0; i < 100; i++) {
      char *p = malloc(41);
      p[0] = (char)i;
      hold = p;
      sink += (unsigned char)p[0];
      free(hold);
    }
    close_from3();
    char moved[1024];
    snprintf(moved, sizeof moved, "%s.moved", argv[3]);
    (void)rename(argv[3], moved); /* absent in a bare run */
    a = open_in(dir, "a.txt");
  } else {
    return 2;
  }
  put(a, "a file of the program's own.\n"); /* 29 bytes */
  /* the loop runs in a new thread: its first unwinds are libunwind's
  ** first in that thread (it validates memory through its own pipe then) */
  Files f = {a, b};
  pthread_t th;
  if (pthread_create(&th, NULL, churn_thread, &f) || pthread_join(th, NULL)) return 4;
  put(a, "end\n");
  char msg[64];
  snprintf(msg, sizeof msg, "fd a=%d\n", a);
  put(1, msg);
  return 0;
}
