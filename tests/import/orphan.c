/*
** orphan.c: a program the `lowram record` subreaper test starts in the
** background of a shell that exits at once. It sleeps past its parent's
** exit, then allocates and touches one block of a size the test looks for
** (ORPHAN_BYTES), so its trace is complete only if lowram waited for it.
*/
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ORPHAN_BYTES 777777

int main(void) {
  struct timespec ts = {0, 300 * 1000 * 1000};
  while (nanosleep(&ts, &ts) != 0)
    ;
  char *volatile p = malloc(ORPHAN_BYTES);
  if (!p) return 1;
  memset(p, 1, ORPHAN_BYTES);
  free(p);
  return 0;
}
