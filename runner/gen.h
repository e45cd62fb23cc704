/*
** gen.h: writing models: deterministic pseudo-random weights from given
** dims (`qrun gen`), and quantizing an f32 model or llama2.c checkpoint to
** Q8_0 / Q4_0 (`qrun quantize`).
*/
#ifndef QR_GEN_H
#define QR_GEN_H

#include <stdint.h>

#include "model.h"

/* The same seed and dims give the same f32 values whatever c->quant is, so
** `gen --quant q8` equals `quantize` of the f32 model with that seed. */
int qr_gen_model(const char *path, const QrConfig *c, uint64_t seed, QrErr *e);

/* in: an f32 qrun model or llama2.c checkpoint; out: the same model with
** every matrix in `quant`. */
int qr_quantize_model(const char *in, const char *out, int quant, QrErr *e);

#endif
