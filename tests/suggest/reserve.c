/*
** reserve.c: 64 MiB of address space reserved with PROT_NONE (as V8
** reserves its heap) and 1 MiB malloc'd and touched. `lowram suggest` must
** count the 1 MiB and never the reservation (test_pick.c).
*/
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(void) {
  size_t res = (size_t)64 << 20, n = (size_t)1 << 20;
  void *r = mmap(NULL, res, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  char *p = malloc(n);
  if (r == MAP_FAILED || !p) return 1;
  memset(p, 1, n);
  /* the block escapes: clang (the ASan pass builds this with clang -O2)
  ** otherwise folds malloc + memset + free away, and no malloc is made */
  __asm__ volatile("" : : "r"(p) : "memory");
  free(p);
  munmap(r, res);
  return 0;
}
