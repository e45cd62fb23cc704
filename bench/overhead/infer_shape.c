/*
** infer_shape.c: the inference-shaped overhead bench. Loads a 48 MiB
** "weights" file-like buffer (anonymous mmap) and a 16 MiB KV cache, then
** runs decode steps that are mostly compute (int8 matrix-vector products)
** with a few per-step scratch allocations, like a small quantized model.
** A tracer should cost it almost nothing: few events, much arithmetic.
** Built with and without frame pointers; prints main()'s own time.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>

#define DIM 2048
#define LAYERS 12
#define WEIGHTS ((size_t)DIM * DIM * LAYERS) /* 48 MiB of int8 */

static void matvec(const int8_t *w, const float *x, float *y) {
  for (int r = 0; r < DIM; r++) {
    const int8_t *row = w + (size_t)r * DIM;
    float acc = 0;
    for (int c = 0; c < DIM; c++) acc += (float)row[c] * x[c];
    y[r] = acc * (1.0f / 127.0f);
  }
}

static long long now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long long t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  int steps = argc > 1 ? atoi(argv[1]) : 16;
  int8_t *w = mmap(NULL, WEIGHTS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (w == MAP_FAILED) return 1;
  for (size_t i = 0; i < WEIGHTS; i++) w[i] = (int8_t)((i * 2654435761u) >> 25);
  float *kv = calloc((size_t)4 * 1024 * 1024, sizeof(float)); /* 16 MiB */
  float *x = malloc(DIM * sizeof *x);
  for (int i = 0; i < DIM; i++) x[i] = (float)(i % 17) / 17.0f;
  double check = 0;
  for (int s = 0; s < steps; s++) {
    for (int l = 0; l < LAYERS; l++) {
      float *scratch = malloc(DIM * sizeof *scratch);   /* per-step activations */
      float *logits = malloc(256 * sizeof *logits);
      matvec(w + (size_t)l * DIM * DIM, x, scratch);
      for (int i = 0; i < 256; i++) logits[i] = scratch[i * 8];
      memcpy(kv + ((size_t)(s * LAYERS + l) % 2048) * DIM, scratch, DIM * sizeof *scratch);
      for (int i = 0; i < DIM; i++) x[i] = scratch[i] * 0.001f + x[i] * 0.5f;
      check += logits[s % 256];
      free(logits);
      free(scratch);
    }
  }
  printf("infer_shape: %d steps, check %.3f\n", steps, check);
  /* main's own time, wall and CPU (all threads of this process): what a
  ** tracer costs the program, without its start and exit work (the bench
  ** reads these lines) */
  printf("inproc_ns %lld\ninproc_cpu_ns %lld\n", now_ns(CLOCK_MONOTONIC) - t0,
         now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0);
  free(x);
  free(kv);
  munmap(w, WEIGHTS);
  return 0;
}
