/*
** stepalloc.c: allocates N blocks of SIZE bytes, one every MS milliseconds,
** keeps them all, then frees them and exits: a run whose live bytes grow
** in steps slowly enough to be watched live (tests/tui/tmux.sh).
** usage: stepalloc N SIZE MS
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10;
  size_t size = argc > 2 ? (size_t)atol(argv[2]) : 100000;
  long ms = argc > 3 ? atol(argv[3]) : 200;
  char **b = calloc((size_t)n, sizeof *b);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  for (int i = 0; i < n && b; i++) {
    b[i] = malloc(size);
    if (b[i]) memset(b[i], i, size);
    printf("block %d of %zu bytes\n", i + 1, size);
    fflush(stdout);
    nanosleep(&ts, NULL);
  }
  for (int i = 0; i < n && b; i++) free(b[i]);
  free(b);
  return 0;
}
