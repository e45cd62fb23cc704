/*
** sample.h: choosing the next token from logits (greedy or with a
** temperature) and the small deterministic random generator that gen and
** the sampler share.
*/
#ifndef QR_SAMPLE_H
#define QR_SAMPLE_H

#include <stdint.h>

typedef struct QrRng { uint64_t s; } QrRng;

/* Seeds with splitmix64 so that nearby seeds give unrelated streams. */
void qr_rng_seed(QrRng *r, uint64_t seed);
uint64_t qr_rng_next(QrRng *r);
/* Uniform in [0, 1) with 24 bits. */
float qr_rng_float(QrRng *r);

/* Index of the largest logit (the first one on ties). */
int qr_argmax(const float *logits, int n);

/* temp <= 0: argmax. Otherwise samples softmax(logits / temp) without
** modifying logits (one pass for the max, one for the sum, one to draw). */
int qr_sample(const float *logits, int n, float temp, QrRng *rng);

#endif
