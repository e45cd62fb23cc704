/*
** quant.h: weight formats and the kernels that read them.
**
** qrun stores matrices in one of three formats, chosen per model:
**   QR_F32  plain float, 4 bytes per weight;
**   QR_Q8   Q8_0: groups of 32 int8 values sharing one fp16 scale
**           (34 bytes per 32 weights = 8.5 bits per weight);
**   QR_Q4   Q4_0: groups of 32 int4 values, two per byte, value = (nibble-8)
**           x scale, one fp16 scale per group (18 bytes per 32 = 4.5 bits).
** Quantized matrices multiply activations that are themselves quantized to
** Q8_0 on the fly, so the inner loop is an integer dot product.
**
** Matrix products run on a small pthread pool (QrPool): output rows are cut
** into chunks that the threads (the caller included) claim one at a time,
** and every output element is computed whole by one thread with the same
** instruction sequence, so results are bit-identical whatever the thread
** count or which thread took which chunk.
*/
#ifndef QR_QUANT_H
#define QR_QUANT_H

#include <stddef.h>
#include <stdint.h>

enum { QR_F32 = 0, QR_Q8 = 1, QR_Q4 = 2 };

#define QR_GROUP 32        /* values per quantization group */
#define QR_Q8_BLOCK 34     /* bytes of one Q8_0 group: fp16 scale + 32 int8 */
#define QR_Q4_BLOCK 18     /* bytes of one Q4_0 group: fp16 scale + 16 bytes */

/* Name of a quant type ("f32", "q8", "q4"), and the reverse (-1 if unknown). */
const char *qr_quant_name(int quant);
int qr_quant_parse(const char *s);

/* Bytes one row of `cols` values takes in format `quant` (cols must be a
** multiple of QR_GROUP for the quantized formats). */
size_t qr_row_bytes(int quant, size_t cols);

/* fp16 <-> fp32, portable (round to nearest even). */
float qr_f16_to_f32(uint16_t h);
uint16_t qr_f32_to_f16(float f);

/* Quantize / dequantize one row of n values (n multiple of QR_GROUP for the
** quantized formats; QR_F32 copies). */
void qr_quantize_row(int quant, const float *x, void *out, size_t n);
void qr_dequantize_row(int quant, const void *in, float *x, size_t n);

/* A weight matrix: rows x cols, row-major, each row qr_row_bytes() long. */
typedef struct QrTensor {
  const uint8_t *data; /* rows * qr_row_bytes(quant, cols) bytes */
  int rows;            /* output features */
  int cols;            /* input features */
  int quant;           /* QR_F32 / QR_Q8 / QR_Q4 */
} QrTensor;

/* f32 dot product of n values, and y += a * x (SIMD when the CPU has it). */
float qr_dot_f32(const float *a, const float *b, size_t n);
void qr_axpy_f32(float *y, float a, const float *x, size_t n);

/* Which kernel family is in use: "portable", "avx2", "avx-vnni", "neon". */
const char *qr_kernel_name(void);
/* Forces a family by name (tests compare them); NULL returns to the best
** one. -1 if this CPU or build lacks it. Not thread-safe: call between
** runs. */
int qr_kernel_force(const char *name);

typedef struct QrPool QrPool;

/* A pool of n-1 worker threads plus the caller (n >= 1; n == 1 starts no
** thread). Returns NULL if a thread cannot be started. */
QrPool *qr_pool_new(int n);
void qr_pool_free(QrPool *p);
int qr_pool_threads(const QrPool *p);

/* Runs fn(ctx, lo, hi) over [0, total) cut into contiguous chunks (up to 4
** per thread) claimed by whichever thread is free, and returns when all are
** done. NULL or a 1-thread pool runs fn(ctx, 0, total) in the caller. */
typedef void (*QrTaskFn)(void *ctx, int lo, int hi);
void qr_pool_run(QrPool *p, QrTaskFn fn, void *ctx, int total);

/* y[n x w->rows] = x[n x w->cols] * w^T. For quantized w, xq must hold
** n * qr_row_bytes(QR_Q8, w->cols) bytes (the quantized activations); it is
** unused (may be NULL) for f32 weights. ymap (may be NULL) sends input row
** i to output row ymap[i] instead of i. */
void qr_matmul(QrPool *p, float *y, const float *x, const QrTensor *w, int n,
               uint8_t *xq, const int *ymap);

/* Several products of the same x at once (count <= QR_MAT_MAX, all w with
** the same cols and quant): y[k] = x * w[k]^T, bit-identical to separate
** qr_matmul calls, with one quantization of x and one dispatch. */
#define QR_MAT_MAX 4
void qr_matmul_many(QrPool *p, int count, float *const *y, const QrTensor *const *w,
                    const float *x, int n, uint8_t *xq);

#endif
