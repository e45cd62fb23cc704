/*
** membw.c: memory bandwidth figures the qrun bench divides the weight bytes
** per token by. Prints one line of three numbers, in bytes per second,
** each the best of several passes over buffers far larger than the caches:
**   memcpy   bytes copied per second by one thread (each byte is read and
**            written, so this is the conservative figure)
**   read1    bytes read per second by one thread (a sum over the buffer)
**   read2    the same with two threads, each reading half
** A decode step only reads weights, so read1/read2 are the tighter bounds.
*/
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct { const uint64_t *p; size_t n; uint64_t sum; } Part;

static void *read_part(void *arg) {
  Part *r = arg;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  /* Prefetching ahead as qrun's kernels do: without it one thread reads
  ** at about half the rate on the machine measured. */
  for (size_t i = 0; i + 4 <= r->n; i += 4) {
    if (i % 8 == 0) __builtin_prefetch(r->p + i + 512, 0, 3);
    s0 += r->p[i];
    s1 += r->p[i + 1];
    s2 += r->p[i + 2];
    s3 += r->p[i + 3];
  }
  r->sum = s0 + s1 + s2 + s3;
  return NULL;
}

/* Best time to read n bytes of p with `threads` threads. */
static double read_time(const char *p, size_t n, int threads, uint64_t *sink) {
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    Part parts[2];
    pthread_t tid;
    double t0 = now_s();
    for (int k = 0; k < threads; k++)
      parts[k] = (Part){(const uint64_t *)(p + n / threads * k), n / threads / 8, 0};
    if (threads == 2 && pthread_create(&tid, NULL, read_part, &parts[1]) != 0) threads = 1;
    read_part(&parts[0]);
    if (threads == 2) pthread_join(tid, NULL);
    double t = now_s() - t0;
    for (int k = 0; k < threads; k++) *sink += parts[k].sum;
    if (t < best) best = t;
  }
  return best;
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
  uint64_t sink = 0;
  double r1 = read_time(a, n, 1, &sink), r2 = read_time(a, n, 2, &sink);
  printf("%.0f %.0f %.0f\n", (double)n / best, (double)n / r1, (double)n / r2 + (double)(sink & 0));
  free(a);
  free(b);
  return 0;
}
