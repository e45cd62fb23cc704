/*
** gt_pss.c: two processes sharing 8 MiB of a file (PSS from outside). Maps
** FILE (8 MiB, written first) MAP_SHARED, forks; the child reads every page
** and says so through a pipe, then the parent reads every page: from there
** both map all 8 MiB and nobody else does, so each one's PSS holds 4 MiB of
** it. Both then sleep 600 ms (PSS is sampled every 10th round, at least
** 100 ms apart: several times in that window even when a loaded machine
** stretches the rounds) and the parent waits for the child. Exit 0, or 1 with a line on stderr.
**
**   gt_pss FILE
*/
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIZE (8u << 20)

static volatile unsigned sink;

static void touch(const unsigned char *p) {
  long pg = sysconf(_SC_PAGESIZE);
  unsigned s = 0;
  for (size_t i = 0; i < SIZE; i += (size_t)pg) s += p[i];
  sink += s;
}

static void nap(void) {
  struct timespec ts = {0, 600 * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {}
}

int main(int argc, char **argv) {
  if (argc != 2) return fprintf(stderr, "usage: gt_pss FILE\n"), 1;
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return perror(argv[1]), 1;
  static unsigned char block[1 << 16];
  memset(block, 7, sizeof block);
  for (size_t off = 0; off < SIZE; off += sizeof block)
    if (write(fd, block, sizeof block) != (ssize_t)sizeof block) return perror("write"), 1;
  unsigned char *p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return perror("mmap"), 1;
  close(fd);
  int pp[2];
  if (pipe(pp) != 0) return perror("pipe"), 1;
  pid_t c = fork();
  if (c < 0) return perror("fork"), 1;
  if (c == 0) {
    close(pp[0]);
    touch(p);
    close(pp[1]); /* the parent's read ends: every page is mapped here */
    nap();
    _exit(0);
  }
  close(pp[1]);
  char b;
  if (read(pp[0], &b, 1) != 0) return fprintf(stderr, "gt_pss: pipe\n"), 1;
  touch(p);
  nap();
  int st;
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return fprintf(stderr, "gt_pss: child failed\n"), 1;
  return 0;
}
