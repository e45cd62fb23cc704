/*
** quant.c: Q8_0 / Q4_0 formats, dot-product kernels (portable C11, AVX2 on
** x86-64 chosen at run time, NEON on aarch64) and the pthread pool that
** splits matrix products by output row.
**
** Invariants:
**  1. A quantized group stores its scale as fp16 and its values were rounded
**     against that fp16 scale (not the f32 one), so dequantize(quantize(x))
**     is within scale/2 of x for Q8_0 and within scale for Q4_0.
**  2. Q8_0 values are clamped to [-127, 127]: the AVX2 kernel takes |x|
**     with sign tricks and relies on -128 never occurring.
**  3. The kernel family is fixed at the first call and never changes during
**     a run unless a test forces the portable one.
*/
#include "quant.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QR_HAVE_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif
#if defined(__ARM_NEON) && defined(__aarch64__)
#define QR_HAVE_NEON 1
#include <arm_neon.h>
#endif

// --- names and sizes -------------------------------------------------------

const char *qr_quant_name(int quant) {
  switch (quant) {
  case QR_F32: return "f32";
  case QR_Q8: return "q8";
  case QR_Q4: return "q4";
  default: return "?";
  }
}

int qr_quant_parse(const char *s) {
  if (!strcmp(s, "f32")) return QR_F32;
  if (!strcmp(s, "q8") || !strcmp(s, "q8_0")) return QR_Q8;
  if (!strcmp(s, "q4") || !strcmp(s, "q4_0")) return QR_Q4;
  return -1;
}

size_t qr_row_bytes(int quant, size_t cols) {
  switch (quant) {
  case QR_Q8: return cols / QR_GROUP * QR_Q8_BLOCK;
  case QR_Q4: return cols / QR_GROUP * QR_Q4_BLOCK;
  default: return cols * sizeof(float);
  }
}

// --- fp16 ------------------------------------------------------------------

static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float qr_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t em = h & 0x7fff;
  if (em >= 0x7c00) return bits_f32(sign | 0x7f800000u | ((em & 0x3ff) << 13));
  /* Shifting exponent+mantissa into float position and scaling by 2^112
  ** rebiases the exponent (15 -> 127); subnormals come out right too. */
  return bits_f32(sign | f32_bits(bits_f32(em << 13) * 0x1p112f));
}

uint16_t qr_f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00;          /* NaN */
  if (x >= 0x477ff000u) return sign | 0x7c00;         /* rounds to inf */
  if (x < 0x38800000u) {                              /* fp16 subnormal */
    return sign | (uint16_t)lrintf(bits_f32(x) * 0x1p24f);
  }
  x += 0x0fffu + ((x >> 13) & 1u);                    /* round to nearest even */
  return sign | (uint16_t)((x - 0x38000000u) >> 13);
}

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

// --- quantize / dequantize -------------------------------------------------

static void quantize_q8(const float *x, uint8_t *out, size_t n) {
  for (size_t g = 0; g < n / QR_GROUP; g++, x += QR_GROUP, out += QR_Q8_BLOCK) {
    float amax = 0;
    for (int i = 0; i < QR_GROUP; i++) amax = fmaxf(amax, fabsf(x[i]));
    uint16_t dh = qr_f32_to_f16(amax / 127.0f);
    float d = qr_f16_to_f32(dh);
    float id = d != 0 ? 1.0f / d : 0;
    wr16(out, dh);
    int8_t *q = (int8_t *)(out + 2);
    for (int i = 0; i < QR_GROUP; i++) {
      long v = lrintf(x[i] * id);
      q[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
  }
}

static void quantize_q4(const float *x, uint8_t *out, size_t n) {
  for (size_t g = 0; g < n / QR_GROUP; g++, x += QR_GROUP, out += QR_Q4_BLOCK) {
    /* The value of largest magnitude maps to -8 exactly, so the asymmetric
    ** int4 range [-8, 7] is used in full on the side that needs it. */
    float big = 0;
    for (int i = 0; i < QR_GROUP; i++)
      if (fabsf(x[i]) > fabsf(big)) big = x[i];
    uint16_t dh = qr_f32_to_f16(big / -8.0f);
    float d = qr_f16_to_f32(dh);
    float id = d != 0 ? 1.0f / d : 0;
    wr16(out, dh);
    uint8_t *q = out + 2;
    for (int i = 0; i < QR_GROUP / 2; i++) {
      long a = lrintf(x[i] * id) + 8, b = lrintf(x[i + 16] * id) + 8;
      a = a < 0 ? 0 : a > 15 ? 15 : a;
      b = b < 0 ? 0 : b > 15 ? 15 : b;
      q[i] = (uint8_t)(a | (b << 4));
    }
  }
}

void qr_quantize_row(int quant, const float *x, void *out, size_t n) {
  if (quant == QR_Q8) quantize_q8(x, out, n);
  else if (quant == QR_Q4) quantize_q4(x, out, n);
  else memcpy(out, x, n * sizeof(float));
}

void qr_dequantize_row(int quant, const void *in, float *x, size_t n) {
  const uint8_t *p = in;
  if (quant == QR_F32) { memcpy(x, in, n * sizeof(float)); return; }
  for (size_t g = 0; g < n / QR_GROUP; g++, x += QR_GROUP) {
    float d = qr_f16_to_f32(rd16(p));
    if (quant == QR_Q8) {
      const int8_t *q = (const int8_t *)(p + 2);
      for (int i = 0; i < QR_GROUP; i++) x[i] = q[i] * d;
      p += QR_Q8_BLOCK;
    } else {
      const uint8_t *q = p + 2;
      for (int i = 0; i < QR_GROUP / 2; i++) {
        x[i] = ((q[i] & 15) - 8) * d;
        x[i + 16] = ((q[i] >> 4) - 8) * d;
      }
      p += QR_Q4_BLOCK;
    }
  }
}

// --- portable kernels ------------------------------------------------------

/* Weight rows stream from memory once per token; the hardware prefetcher
** alone leaves the single-thread kernels at about half the read bandwidth
** on the machine measured (runner/README.md), so the kernels ask for the
** weights a few KiB ahead. A prefetch never faults, even past the end. */
#define QR_PREFETCH(p) __builtin_prefetch((const char *)(p) + 4096, 0, 3)

static float dot_f32_portable(const float *a, const float *b, size_t n) {
  float s[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) s[k] += a[i + k] * b[i + k];
  for (; i < n; i++) s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

static void axpy_portable(float *y, float a, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

static float dot_q8_portable(const uint8_t *w, const uint8_t *x, size_t nb) {
  float sum = 0;
  for (size_t g = 0; g < nb; g++, w += QR_Q8_BLOCK, x += QR_Q8_BLOCK) {
    const int8_t *a = (const int8_t *)(w + 2), *b = (const int8_t *)(x + 2);
    int32_t acc = 0;
    for (int i = 0; i < QR_GROUP; i++) acc += a[i] * b[i];
    sum += (float)acc * (qr_f16_to_f32(rd16(w)) * qr_f16_to_f32(rd16(x)));
  }
  return sum;
}

static float dot_q4_portable(const uint8_t *w, const uint8_t *x, size_t nb) {
  float sum = 0;
  for (size_t g = 0; g < nb; g++, w += QR_Q4_BLOCK, x += QR_Q8_BLOCK) {
    const uint8_t *a = w + 2;
    const int8_t *b = (const int8_t *)(x + 2);
    int32_t acc = 0;
    for (int i = 0; i < QR_GROUP / 2; i++)
      acc += ((a[i] & 15) - 8) * b[i] + ((a[i] >> 4) - 8) * b[i + 16];
    sum += (float)acc * (qr_f16_to_f32(rd16(w)) * qr_f16_to_f32(rd16(x)));
  }
  return sum;
}

// --- AVX2 kernels (x86-64, selected at run time) ---------------------------

#ifdef QR_HAVE_X86
#define QR_AVX2 __attribute__((target("avx2,fma,f16c")))

/* Product of two fp16 scales (hardware conversion). */
QR_AVX2 static inline float scale2(const uint8_t *a, const uint8_t *b) {
  return _cvtsh_ss(rd16(a)) * _cvtsh_ss(rd16(b));
}

QR_AVX2 static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

QR_AVX2 static float dot_f32_avx2(const float *a, const float *b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    QR_PREFETCH(a + i);
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

QR_AVX2 static void axpy_avx2(float *y, float a, const float *x, size_t n) {
  __m256 va = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

/* Signed int8 x int8 products summed to 8 int32 lanes: maddubs wants an
** unsigned operand, so take |b| and move b's sign onto a (invariant 2). */
QR_AVX2 static inline __m256 i8dot(__m256i a, __m256i b) {
  __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(b, b), _mm256_sign_epi8(a, b));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* The Q8_0 and Q4_0 kernels, generated for AVX2 and for AVX-VNNI (which
** fuses the multiply-add pair into one instruction). Two groups per
** iteration into two accumulators, so consecutive FMAs do not wait on each
** other's latency. No int16 pair sum can saturate (|q| <= 127, invariant
** 2), so both variants give bit-identical results. */
#define QR_DEF_DOT_Q8(NAME, ATTR, I8DOT)                                              \
  ATTR static float NAME(const uint8_t *w, const uint8_t *x, size_t nb) {              \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                     \
    size_t g = 0;                                                                      \
    for (; g + 2 <= nb; g += 2, w += 2 * QR_Q8_BLOCK, x += 2 * QR_Q8_BLOCK) {          \
      QR_PREFETCH(w);                                                                  \
      __m256i a0 = _mm256_loadu_si256((const __m256i *)(w + 2));                       \
      __m256i b0 = _mm256_loadu_si256((const __m256i *)(x + 2));                       \
      __m256i a1 = _mm256_loadu_si256((const __m256i *)(w + QR_Q8_BLOCK + 2));         \
      __m256i b1 = _mm256_loadu_si256((const __m256i *)(x + QR_Q8_BLOCK + 2));         \
      acc0 = _mm256_fmadd_ps(I8DOT(a0, b0), _mm256_set1_ps(scale2(w, x)), acc0);      \
      acc1 = _mm256_fmadd_ps(I8DOT(a1, b1),                                            \
                             _mm256_set1_ps(scale2(w + QR_Q8_BLOCK, x + QR_Q8_BLOCK)), acc1); \
    }                                                                                  \
    if (g < nb) {                                                                      \
      __m256i a = _mm256_loadu_si256((const __m256i *)(w + 2));                        \
      __m256i b = _mm256_loadu_si256((const __m256i *)(x + 2));                        \
      acc0 = _mm256_fmadd_ps(I8DOT(a, b), _mm256_set1_ps(scale2(w, x)), acc0);        \
    }                                                                                  \
    return hsum256(_mm256_add_ps(acc0, acc1));                                         \
  }

QR_AVX2 static inline __m256i unpack_q4(const uint8_t *q) {
  const __m128i lo4 = _mm_set1_epi8(15);
  __m128i raw = _mm_loadu_si128((const __m128i *)q);
  __m128i lo = _mm_and_si128(raw, lo4), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), lo4);
  return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

#define QR_DEF_DOT_Q4(NAME, ATTR, I8DOT)                                              \
  ATTR static float NAME(const uint8_t *w, const uint8_t *x, size_t nb) {              \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                     \
    size_t g = 0;                                                                      \
    for (; g + 2 <= nb; g += 2, w += 2 * QR_Q4_BLOCK, x += 2 * QR_Q8_BLOCK) {          \
      QR_PREFETCH(w);                                                                  \
      __m256i b0 = _mm256_loadu_si256((const __m256i *)(x + 2));                       \
      __m256i b1 = _mm256_loadu_si256((const __m256i *)(x + QR_Q8_BLOCK + 2));         \
      acc0 = _mm256_fmadd_ps(I8DOT(unpack_q4(w + 2), b0), _mm256_set1_ps(scale2(w, x)), acc0); \
      acc1 = _mm256_fmadd_ps(I8DOT(unpack_q4(w + QR_Q4_BLOCK + 2), b1),                \
                             _mm256_set1_ps(scale2(w + QR_Q4_BLOCK, x + QR_Q8_BLOCK)), acc1); \
    }                                                                                  \
    if (g < nb) {                                                                      \
      __m256i b = _mm256_loadu_si256((const __m256i *)(x + 2));                        \
      acc0 = _mm256_fmadd_ps(I8DOT(unpack_q4(w + 2), b), _mm256_set1_ps(scale2(w, x)), acc0); \
    }                                                                                  \
    return hsum256(_mm256_add_ps(acc0, acc1));                                         \
  }

#define QR_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

QR_VNNI static inline __m256 i8dot_vnni(__m256i a, __m256i b) {
  return _mm256_cvtepi32_ps(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(),
                                                    _mm256_sign_epi8(b, b), _mm256_sign_epi8(a, b)));
}

QR_DEF_DOT_Q8(dot_q8_avx2, QR_AVX2, i8dot)
QR_DEF_DOT_Q4(dot_q4_avx2, QR_AVX2, i8dot)
QR_DEF_DOT_Q8(dot_q8_vnni, QR_VNNI, i8dot_vnni)
QR_DEF_DOT_Q4(dot_q4_vnni, QR_VNNI, i8dot_vnni)
#endif

// --- NEON kernels (aarch64) ------------------------------------------------

#ifdef QR_HAVE_NEON
static float dot_f32_neon(const float *a, const float *b, size_t n) {
  float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    QR_PREFETCH(a + i);
    s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
  }
  float s = vaddvq_f32(vaddq_f32(s0, s1));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

static inline int32_t neon_i8dot(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
  int32x4_t s = vdupq_n_s32(0);
  s = vpadalq_s16(s, vmull_s8(vget_low_s8(a0), vget_low_s8(b0)));
  s = vpadalq_s16(s, vmull_s8(vget_high_s8(a0), vget_high_s8(b0)));
  s = vpadalq_s16(s, vmull_s8(vget_low_s8(a1), vget_low_s8(b1)));
  s = vpadalq_s16(s, vmull_s8(vget_high_s8(a1), vget_high_s8(b1)));
  return vaddvq_s32(s);
}

static float dot_q8_neon(const uint8_t *w, const uint8_t *x, size_t nb) {
  float sum = 0;
  for (size_t g = 0; g < nb; g++, w += QR_Q8_BLOCK, x += QR_Q8_BLOCK) {
    QR_PREFETCH(w);
    const int8_t *a = (const int8_t *)(w + 2), *b = (const int8_t *)(x + 2);
    int32_t acc = neon_i8dot(vld1q_s8(a), vld1q_s8(a + 16), vld1q_s8(b), vld1q_s8(b + 16));
    sum += (float)acc * (qr_f16_to_f32(rd16(w)) * qr_f16_to_f32(rd16(x)));
  }
  return sum;
}

static float dot_q4_neon(const uint8_t *w, const uint8_t *x, size_t nb) {
  float sum = 0;
  for (size_t g = 0; g < nb; g++, w += QR_Q4_BLOCK, x += QR_Q8_BLOCK) {
    QR_PREFETCH(w);
    uint8x16_t raw = vld1q_u8(w + 2);
    int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15))), vdupq_n_s8(8));
    int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8));
    const int8_t *b = (const int8_t *)(x + 2);
    int32_t acc = neon_i8dot(lo, hi, vld1q_s8(b), vld1q_s8(b + 16));
    sum += (float)acc * (qr_f16_to_f32(rd16(w)) * qr_f16_to_f32(rd16(x)));
  }
  return sum;
}
#endif

// --- dispatch --------------------------------------------------------------

typedef float (*DotF32)(const float *, const float *, size_t);
typedef float (*DotQ)(const uint8_t *, const uint8_t *, size_t);

static int g_family = -1; /* 0 portable, 1 avx2, 2 neon, 3 avx-vnni (invariant 3) */
static int g_forced = -1; /* family a test asked for, -1: the best available */
static const char *const g_names[] = {"portable", "avx2", "neon", "avx-vnni"};

static int best_family(void) {
  int f = 0;
#ifdef QR_HAVE_X86
  __builtin_cpu_init();
  unsigned a, b, c, d;
  /* f16c via cpuid: not every compiler's __builtin_cpu_supports knows it. */
  int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) f = 1;
  if (f == 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4))) f = 3; /* AVX-VNNI */
#endif
#ifdef QR_HAVE_NEON
  f = 2;
#endif
  return f;
}

static int family(void) {
  int f = __atomic_load_n(&g_family, __ATOMIC_RELAXED);
  if (f >= 0) return f;
  f = g_forced >= 0 ? g_forced : best_family();
  __atomic_store_n(&g_family, f, __ATOMIC_RELAXED);
  return f;
}

int qr_kernel_force(const char *name) {
  int want = -1, best = best_family();
  for (int i = 0; name && i < 4; i++)
    if (!strcmp(name, g_names[i])) want = i;
  if (name && !(want == 0 || want == best || (want == 1 && best == 3))) return -1;
  g_forced = want;
  __atomic_store_n(&g_family, -1, __ATOMIC_RELAXED);
  return 0;
}

const char *qr_kernel_name(void) { return g_names[family()]; }

static DotF32 pick_f32(void) {
  switch (family()) {
#ifdef QR_HAVE_X86
  case 1: case 3: return dot_f32_avx2;
#endif
#ifdef QR_HAVE_NEON
  case 2: return dot_f32_neon;
#endif
  default: return dot_f32_portable;
  }
}

static DotQ pick_q(int quant) {
  switch (family()) {
#ifdef QR_HAVE_X86
  case 1: return quant == QR_Q8 ? dot_q8_avx2 : dot_q4_avx2;
  case 3: return quant == QR_Q8 ? dot_q8_vnni : dot_q4_vnni;
#endif
#ifdef QR_HAVE_NEON
  case 2: return quant == QR_Q8 ? dot_q8_neon : dot_q4_neon;
#endif
  default: return quant == QR_Q8 ? dot_q8_portable : dot_q4_portable;
  }
}

float qr_dot_f32(const float *a, const float *b, size_t n) { return pick_f32()(a, b, n); }

void qr_axpy_f32(float *y, float a, const float *x, size_t n) {
#ifdef QR_HAVE_X86
  if (family() == 1 || family() == 3) { axpy_avx2(y, a, x, n); return; }
#endif
  axpy_portable(y, a, x, n);
}

// --- thread pool -----------------------------------------------------------

/* A job is cut into chunks that threads claim one at a time, the caller
** included, so a worker that the OS has descheduled (other processes, a
** little core) only delays the chunk it holds, never the whole job: the
** caller takes the chunks it did not get to. Claims go through one 64-bit
** ticket, generation << 32 | next chunk, so a late worker can never claim
** a chunk of a job other than the one whose fields it read (the CAS fails).
** Idle threads spin briefly on the generation before sleeping: a decode
** step runs ~100 short jobs, and a futex wake-up per job costs more than
** the job. */
#define QR_SPIN 4000
#define QR_CHUNKS_PER_THREAD 4

struct QrPool {
  int n;              /* threads including the caller */
  pthread_t *tid;     /* [n-1] workers */
  pthread_mutex_t mu;
  pthread_cond_t go;  /* a new generation started (for sleeping workers) */
  pthread_cond_t done;/* the last chunk finished (for a sleeping caller) */
  uint64_t ticket;    /* atomic: generation << 32 | next unclaimed chunk */
  int ndone;          /* atomic: chunks finished in the current job */
  int sleepers;       /* workers blocked on `go`; under mu */
  int quit;           /* atomic */
  QrTaskFn fn;        /* the current job; atomic (relaxed) fields, valid */
  void *ctx;          /*   for a claim whose CAS on ticket succeeds */
  int total;
  int nchunks;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Claims and runs chunks of generation `gen` until none is left. */
static void run_chunks(QrPool *p, uint32_t gen) {
  uint64_t v = __atomic_load_n(&p->ticket, __ATOMIC_ACQUIRE);
  for (;;) {
    if ((uint32_t)(v >> 32) != gen) return;
    QrTaskFn fn = LD(p->fn);
    void *ctx = LD(p->ctx);
    int total = LD(p->total), nchunks = LD(p->nchunks);
    uint32_t c = (uint32_t)v;
    if ((int)c >= nchunks) return;
    if (!__atomic_compare_exchange_n(&p->ticket, &v, v + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      continue; /* v now holds the current ticket */
    long lo = (long)total * c / nchunks, hi = (long)total * (c + 1) / nchunks;
    if (hi > lo) fn(ctx, (int)lo, (int)hi);
    if (__atomic_add_fetch(&p->ndone, 1, __ATOMIC_ACQ_REL) == nchunks) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
    v = __atomic_load_n(&p->ticket, __ATOMIC_ACQUIRE);
  }
}

static uint32_t ticket_gen(QrPool *p) {
  return (uint32_t)(__atomic_load_n(&p->ticket, __ATOMIC_ACQUIRE) >> 32);
}

static void *worker(void *arg) {
  QrPool *p = arg;
  uint32_t seen = 0;
  for (;;) {
    int spins = 0;
    while (ticket_gen(p) == seen && !__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE)) {
      if (++spins < QR_SPIN) { cpu_relax(); continue; }
      pthread_mutex_lock(&p->mu);
      p->sleepers++;
      while (ticket_gen(p) == seen && !__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE))
        pthread_cond_wait(&p->go, &p->mu);
      p->sleepers--;
      pthread_mutex_unlock(&p->mu);
    }
    if (__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE)) break;
    seen = ticket_gen(p);
    run_chunks(p, seen);
  }
  return NULL;
}

QrPool *qr_pool_new(int n) {
  if (n < 1 || n > 256) return NULL;
  QrPool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->n = n;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->go, NULL);
  pthread_cond_init(&p->done, NULL);
  if (n > 1) {
    p->tid = calloc((size_t)n - 1, sizeof *p->tid);
    if (!p->tid) { free(p); return NULL; }
    for (int i = 1; i < n; i++) {
      if (pthread_create(&p->tid[i - 1], NULL, worker, p) != 0) {
        p->n = i;
        qr_pool_free(p);
        return NULL;
      }
    }
  }
  return p;
}

void qr_pool_free(QrPool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  __atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->tid[i - 1], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  free(p->tid);
  free(p);
}

int qr_pool_threads(const QrPool *p) { return p ? p->n : 1; }

void qr_pool_run(QrPool *p, QrTaskFn fn, void *ctx, int total) {
  if (!p || p->n == 1 || total < 2) { if (total > 0) fn(ctx, 0, total); return; }
  int nchunks = p->n * QR_CHUNKS_PER_THREAD < total ? p->n * QR_CHUNKS_PER_THREAD : total;
  ST(p->fn, fn);
  ST(p->ctx, ctx);
  ST(p->total, total);
  ST(p->nchunks, nchunks);
  __atomic_store_n(&p->ndone, 0, __ATOMIC_RELAXED);
  uint32_t gen = ticket_gen(p) + 1;
  __atomic_store_n(&p->ticket, (uint64_t)gen << 32, __ATOMIC_RELEASE);
  pthread_mutex_lock(&p->mu);
  if (p->sleepers) pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  run_chunks(p, gen);
  int spins = 0;
  while (__atomic_load_n(&p->ndone, __ATOMIC_ACQUIRE) < nchunks) {
    if (++spins < QR_SPIN) { cpu_relax(); continue; }
    pthread_mutex_lock(&p->mu);
    while (__atomic_load_n(&p->ndone, __ATOMIC_ACQUIRE) < nchunks) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
}

// --- matrix products -------------------------------------------------------

/* Up to QR_MAT_MAX products of the same input run as one job (q, k and v;
** gate and up): one quantization of x, one pool dispatch, and row r of the
** job is row r - start[k] of product k. */
typedef struct {
  int count;                     /* products */
  const QrTensor *w[QR_MAT_MAX]; /* all with the same cols and quant */
  float *y[QR_MAT_MAX];          /* [n x w[k]->rows] */
  int start[QR_MAT_MAX + 1];     /* first job row of each product; start[count] = total */
  const float *x;                /* [n x cols] */
  int n;
  const uint8_t *xq;             /* x as Q8_0 rows (quantized weights only) */
  const int *ymap;               /* output row of input row i, or NULL */
  DotF32 df;
  DotQ dq;
} MatJob;

static void mat_rows(void *arg, int lo, int hi) {
  const MatJob *j = arg;
  int cols = j->w[0]->cols, quant = j->w[0]->quant;
  size_t rb = qr_row_bytes(quant, (size_t)cols);
  size_t xb = qr_row_bytes(QR_Q8, (size_t)cols);
  size_t nb = (size_t)cols / QR_GROUP;
  int k = 0;
  /* Weight row outer, activation row inner: one weight row is read from
  ** memory once and reused for all n activations (prefill, batch). */
  for (int r = lo; r < hi; r++) {
    while (r >= j->start[k + 1]) k++;
    const QrTensor *w = j->w[k];
    int lr = r - j->start[k];
    const uint8_t *wr = w->data + (size_t)lr * rb;
    for (int i = 0; i < j->n; i++) {
      float v;
      if (quant == QR_F32)
        v = j->df((const float *)wr, j->x + (size_t)i * cols, (size_t)cols);
      else
        v = j->dq(wr, j->xq + (size_t)i * xb, nb);
      j->y[k][(size_t)(j->ymap ? j->ymap[i] : i) * w->rows + lr] = v;
    }
  }
}

static void quant_rows(void *arg, int lo, int hi) {
  const MatJob *j = arg;
  int cols = j->w[0]->cols;
  size_t xb = qr_row_bytes(QR_Q8, (size_t)cols);
  for (int i = lo; i < hi; i++)
    quantize_q8(j->x + (size_t)i * cols, (uint8_t *)j->xq + (size_t)i * xb, (size_t)cols);
}

static void run_job(QrPool *p, MatJob *j) {
  const QrTensor *w = j->w[0];
  j->df = pick_f32();
  j->dq = pick_q(w->quant);
  /* Splitting tiny jobs costs more than it saves; the split never changes
  ** results (each output is computed whole by one thread). */
  QrPool *big = (size_t)j->n * (size_t)w->cols >= 16384 ? p : NULL;
  if (w->quant != QR_F32) qr_pool_run(big, quant_rows, j, j->n);
  int total = j->start[j->count];
  qr_pool_run((size_t)j->n * (size_t)total * (size_t)w->cols >= 65536 ? p : NULL, mat_rows, j,
              total);
}

void qr_matmul(QrPool *p, float *y, const float *x, const QrTensor *w, int n,
               uint8_t *xq, const int *ymap) {
  MatJob j = {.count = 1, .w = {w}, .y = {y}, .start = {0, w->rows}, .x = x, .n = n,
              .xq = xq, .ymap = ymap};
  run_job(p, &j);
}

void qr_matmul_many(QrPool *p, int count, float *const *y, const QrTensor *const *w,
                    const float *x, int n, uint8_t *xq) {
  MatJob j = {.count = count, .x = x, .n = n, .xq = xq};
  for (int k = 0; k < count; k++) {
    j.w[k] = w[k];
    j.y[k] = y[k];
    j.start[k + 1] = j.start[k] + w[k]->rows;
  }
  run_job(p, &j);
}
