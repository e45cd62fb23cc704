/*
** membw.c: measures memcpy bandwidth (bytes copied per second, best of
** several copies of a buffer far larger than the caches), the figure the
** qrun bench divides the weight bytes per token by to get the
** memory-bandwidth bound on decode speed. Prints one number, in bytes/s.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
  if (mib < 16 || mib > 8192) {
    fprintf(stderr, "membw: buffer size %zu MiB outside [16, 8192]\n", mib);
    return 2;
  }
  size_t n = mib << 20;
  char *a = malloc(n), *b = malloc(n);
  if (!a || !b) {
    fprintf(stderr, "membw: cannot allocate 2 x %zu MiB\n", mib);
    return 1;
  }
  memset(a, 1, n);
  memset(b, 2, n);
  double best = 1e30;
  for (int i = 0; i < 6; i++) {
    double t0 = now_s();
    memcpy(i % 2 ? a : b, i % 2 ? b : a, n);
    double t = now_s() - t0;
    if (t < best) best = t;
  }
  printf("%.0f\n", (double)n / best + (a[n / 2] + b[n / 3]) * 0.0);
  free(a);
  free(b);
  return 0;
}
