/*
** gt_commit.c: how allocators commit memory (issue 15, committed memory).
** Reserves 512 MiB PROT_NONE, commits three parts by mprotect and one by
** mmap(MAP_FIXED), touches them, then decommits one by mprotect(PROT_NONE),
** unmaps another, madvises the third away (MADV_DONTNEED), commits 1 MiB
** straddling a committed part and the reservation, and unmaps the whole
** reservation. No stdio, no malloc: the heap stays empty, so the trace's
** peak is exactly the committed bytes.
**
**   R + 0        1 MiB   mprotect RW      (A)  later madvise DONTNEED
**   R + 4 MiB    2 MiB   mprotect RW      (B)  later mprotect PROT_NONE
**   R + 16 MiB   3 MiB   mprotect RW      (C)  later munmap
**   R + 64 MiB   8 MiB   mmap MAP_FIXED   (D)
**   peak: 14 MiB committed, 498 MiB reserved
**   then R + 64 MiB - 512 KiB, 1 MiB mprotect RW: 512 KiB more committed
**
** With an argument, how a run ends (tests of the spool's end reason):
**   term       sends itself SIGTERM (default action)
**   overflow   recurses until the stack overflows (SIGSEGV on the guard page)
*/
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MiB (1024u * 1024u)

static int fail(const char *m) {
  (void)!write(2, m, strlen(m));
  return 1;
}

static volatile int depth_limit = 1 << 30; /* never reached: the stack ends first */

static int deep(volatile char *prev, int n) {
  volatile char frame[4096];
  frame[0] = (char)(prev ? prev[0] + 1 : 1);
  if (n >= depth_limit) return frame[0];
  return deep(frame, n + 1) + frame[1]; /* not a tail call */
}

int main(int argc, char **argv) {
  if (argc > 1) {
    void *p = malloc(100);
    if (!strcmp(argv[1], "term")) kill(getpid(), SIGTERM);
    if (!strcmp(argv[1], "overflow")) return deep(NULL, 0);
    free(p);
    return 3;
  }
  char *r = mmap(NULL, 512 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return fail("gt_commit: reserve failed\n");
  if (mprotect(r, 1 * MiB, PROT_READ | PROT_WRITE) || mprotect(r + 4 * MiB, 2 * MiB, PROT_READ | PROT_WRITE) ||
      mprotect(r + 16 * MiB, 3 * MiB, PROT_READ | PROT_WRITE))
    return fail("gt_commit: mprotect failed\n");
  if (mmap(r + 64 * MiB, 8 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
           -1, 0) != r + 64 * MiB)
    return fail("gt_commit: MAP_FIXED failed\n");
  memset(r, 1, 1 * MiB);
  memset(r + 4 * MiB, 2, 2 * MiB);
  memset(r + 16 * MiB, 3, 3 * MiB);
  memset(r + 64 * MiB, 4, 8 * MiB);
  if (mprotect(r + 4 * MiB, 2 * MiB, PROT_NONE)) return fail("gt_commit: decommit failed\n");
  if (munmap(r + 16 * MiB, 3 * MiB)) return fail("gt_commit: munmap failed\n");
  if (madvise(r, 1 * MiB, MADV_DONTNEED)) return fail("gt_commit: madvise failed\n");
  if (mprotect(r + 64 * MiB - 512 * 1024, 1 * MiB, PROT_READ | PROT_WRITE))
    return fail("gt_commit: straddling mprotect failed\n");
  if (munmap(r, 512 * MiB)) return fail("gt_commit: release failed\n");
  (void)!write(1, "gt_commit: done\n", 16);
  return 0;
}
