/*
** allocprog.c: a program whose allocations are known to the byte, for the
** one-run-one-trace tests (test_schema_doc.c). `allocprog SIZE`:
**   - parameter "size" = SIZE, marker "load";
**   - load_weights() mallocs SIZE bytes, never freed (a leak);
**   - make_scratch() mallocs SIZE / 2 bytes, freed at once (a temporary);
**   - maps the first 4096 bytes of its own executable, unmapped at exit.
** Peak heap: SIZE + SIZE / 2, with both live. Prints nothing.
*/
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lowram.h"

__attribute__((noinline)) static char *load_weights(size_t n) {
  char *p = malloc(n);
  if (p) memset(p, 1, n);
  return p;
}

__attribute__((noinline)) static char *make_scratch(size_t n) {
  char *p = malloc(n);
  if (p) memset(p, 2, n);
  return p;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  size_t n = (size_t)strtoul(argv[1], NULL, 10);
  lowram_param("size", (int64_t)n);
  lowram_mark("load");
  char *w = load_weights(n);
  char *s = make_scratch(n / 2);
  volatile char sink = (char)(w[n - 1] + s[0]);
  (void)sink;
  free(s);
  int fd = open("/proc/self/exe", O_RDONLY);
  void *m = fd >= 0 ? mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  if (fd >= 0) close(fd);
  if (m != MAP_FAILED) munmap(m, 4096);
  return 0;
}
