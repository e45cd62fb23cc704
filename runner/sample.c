/*
** sample.c: token choice and the xorshift-multiply random generator.
*/
#include "sample.h"

#include <math.h>

void qr_rng_seed(QrRng *r, uint64_t seed) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  r->s = (z ^ (z >> 31)) | 1; /* xorshift state must not be 0 */
}

uint64_t qr_rng_next(QrRng *r) {
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545f4914f6cdd1dull;
}

float qr_rng_float(QrRng *r) { return (float)(qr_rng_next(r) >> 40) / 16777216.0f; }

int qr_argmax(const float *logits, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (logits[i] > logits[best]) best = i;
  return best;
}

/* expf (not exp): with a 32000-word vocabulary the double-precision
** version took a tenth of a small model's decode step. The sums stay in
** double so that the two passes agree on where the target falls. */
int qr_sample(const float *logits, int n, float temp, QrRng *rng) {
  if (temp <= 0) return qr_argmax(logits, n);
  float mx = logits[qr_argmax(logits, n)], inv = 1.0f / temp;
  double sum = 0;
  for (int i = 0; i < n; i++) sum += expf((logits[i] - mx) * inv);
  double target = qr_rng_float(rng) * sum, acc = 0;
  for (int i = 0; i < n; i++) {
    acc += expf((logits[i] - mx) * inv);
    if (acc > target) return i;
  }
  return n - 1;
}
