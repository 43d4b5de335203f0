/* The float16 and bfloat16 contiguous loops of each SIMD level; src/simd.c's table picks one.
 *
 * Both formats are computed in float32 and rounded once (lrelu_half.h has the conversions):
 *   float16   NumPy's rule: alpha becomes float16, the product is computed in float32 and
 *             rounded once to float16 (round to nearest even).
 *   bfloat16  alpha is a float32 and the product is rounded once to bfloat16, as PyTorch
 *             computes its bfloat16 leaky_relu; alpha is not first rounded to bfloat16.
 *
 * float16:
 *   x86 baseline   the software conversions, one element at a time.
 *   x86 avx2_f16c  F16C's vcvtph2ps/vcvtps2ph, 8 elements at a time. Both are exact in the
 *                  way the software is: every half widens exactly (subnormals too, whatever
 *                  MXCSR.DAZ says), and the narrowing rounds to nearest even (the immediate
 *                  says so, not MXCSR) and produces subnormals. They raise the same flags.
 *   aarch64        NEON, the baseline there. With half-precision vector arithmetic
 *                  (__ARM_FEATURE_FP16_VECTOR_ARITHMETIC, e.g. -march=armv8.2-a+fp16) the
 *                  product is one half multiply: the exact product of two halves has at
 *                  most 22 significant bits and lies within 2^-48..2^32, so it is exact in
 *                  float32, and rounding it once to half is exactly what an IEEE half
 *                  multiply (round to nearest even, FPCR's default) gives. Without it,
 *                  vcvt_f32_f16/vcvt_f16_f32 around a float32 multiply.
 * bfloat16: integer arithmetic on the bits, written once in C; gcc and clang vectorize it
 *   (SSE2 at the baseline, AVX2 in the avx2 levels, NEON on aarch64).
 *
 * The vector loops do their last partial vector in a zero-padded buffer, so every element
 * takes the same instructions (and raises the same flags) whatever its position.
 */
#include "half.h"

#include "lrelu_half.h"

#include <string.h>

/* ---- bfloat16: the C loop, one copy per level ------------------------------------------- */

LRELU_DEFINE_CONTIG(bfloat16_loop, , uint16_t, float, lrelu_bfloat16_to_float,
                    lrelu_float_to_bfloat16)

void lrelu_bfloat16_baseline(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                             float alpha, uint16_t *out, int flags)
{
    bfloat16_loop(n, g, g_scalar, x, alpha, out, flags);
}

#if LRELU_X86_DISPATCH
LRELU_DEFINE_CONTIG(bfloat16_loop_avx2, LRELU_TARGET_AVX2, uint16_t, float,
                    lrelu_bfloat16_to_float, lrelu_float_to_bfloat16)

LRELU_TARGET_AVX2 void lrelu_bfloat16_avx2(ptrdiff_t n, const uint16_t *g, int g_scalar,
                                           const uint16_t *x, float alpha, uint16_t *out,
                                           int flags)
{
    bfloat16_loop_avx2(n, g, g_scalar, x, alpha, out, flags);
}
#endif

/* ---- float16 -------------------------------------------------------------------------- */

/* The vector float16 loops are written once over these, which each architecture defines:
 *   half8           8 values in the type the product is computed in
 *   half8_load      8 halves from memory, widened
 *   half8_store     8 values rounded to half and stored
 *   half8_splat     a float (alpha, 1, a scalar g) in every lane
 *   half8_apply     g * slope(x), slope(x) = 1 if x >= 0 (x > 0 with gt) else alpha */
#if LRELU_X86_DISPATCH
#include <immintrin.h>
#define LRELU_HALF8 1
#define HALF8_TARGET LRELU_TARGET_AVX2_F16C
#define HALF8_INLINE static inline __attribute__((always_inline)) HALF8_TARGET

typedef __m256 half8;

HALF8_INLINE half8 half8_load(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

HALF8_INLINE void half8_store(uint16_t *p, half8 v)
{
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

HALF8_INLINE half8 half8_splat(float v)
{
    return _mm256_set1_ps(v);
}

HALF8_INLINE half8 half8_apply(half8 g, half8 x, half8 alpha, const int gt)
{
    /* ordered, quiet compares: NaN takes alpha, as NaN >= 0 is false */
    const half8 keep = gt ? _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ)
                          : _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_mul_ps(g, _mm256_blendv_ps(alpha, _mm256_set1_ps(1.0f), keep));
}

#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#include <arm_neon.h>
#define LRELU_HALF8 1
#define HALF8_TARGET
#define HALF8_INLINE static inline __attribute__((always_inline))

#if defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
typedef float16x8_t half8;

HALF8_INLINE half8 half8_load(const uint16_t *p)
{
    return vreinterpretq_f16_u16(vld1q_u16(p));
}

HALF8_INLINE void half8_store(uint16_t *p, half8 v)
{
    vst1q_u16(p, vreinterpretq_u16_f16(v));
}

HALF8_INLINE half8 half8_splat(float v)
{
    return vdupq_n_f16((float16_t)v);   /* exact: v is a half widened, or 1 */
}

HALF8_INLINE half8 half8_apply(half8 g, half8 x, half8 alpha, const int gt)
{
    const uint16x8_t keep = gt ? vcgtq_f16(x, vdupq_n_f16(0)) : vcgeq_f16(x, vdupq_n_f16(0));
    return vmulq_f16(g, vbslq_f16(keep, vdupq_n_f16(1), alpha));
}

#else   /* baseline AArch64: conversions around float32 */
typedef float32x4x2_t half8;

HALF8_INLINE half8 half8_load(const uint16_t *p)
{
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p));
    half8 v;
    v.val[0] = vcvt_f32_f16(vget_low_f16(h));
    v.val[1] = vcvt_high_f32_f16(h);
    return v;
}

HALF8_INLINE void half8_store(uint16_t *p, half8 v)
{
    vst1q_u16(p, vreinterpretq_u16_f16(vcvt_high_f16_f32(vcvt_f16_f32(v.val[0]), v.val[1])));
}

HALF8_INLINE half8 half8_splat(float v)
{
    half8 s;
    s.val[0] = s.val[1] = vdupq_n_f32(v);
    return s;
}

HALF8_INLINE half8 half8_apply(half8 g, half8 x, half8 alpha, const int gt)
{
    half8 r;
    int k;
    for (k = 0; k < 2; k++) {
        const uint32x4_t keep = gt ? vcgtq_f32(x.val[k], vdupq_n_f32(0))
                                   : vcgeq_f32(x.val[k], vdupq_n_f32(0));
        r.val[k] = vmulq_f32(g.val[k], vbslq_f32(keep, vdupq_n_f32(1), alpha.val[k]));
    }
    return r;
}
#endif
#else
#define LRELU_HALF8 0
#endif

#if !LRELU_HALF8 || LRELU_X86_DISPATCH
/* The software loop: the baseline on x86, and wherever no vector loop is compiled. */
LRELU_DEFINE_CONTIG(half_loop_scalar, , uint16_t, float, lrelu_half_to_float,
                    lrelu_float_to_half)
#endif

#if LRELU_HALF8
/* kind: 0 the forward (g is x), 1 one g for every element (the derivative), 2 g an array
 * (the backward); gt: slope(0) = alpha. Constants at every call, so each of the four loops
 * below is compiled with its own compare and no branch inside. */
HALF8_INLINE void half8_run(ptrdiff_t n, const uint16_t *g, const uint16_t *x, float alpha,
                            uint16_t *out, const int kind, const int gt)
{
    const half8 a = half8_splat(alpha);
    const half8 g0 = half8_splat(kind == 1 ? lrelu_half_to_float(*g) : 0.0f);
    uint16_t xs[8] = {0}, gs[8] = {0}, os[8];
    ptrdiff_t i = 0, rest;
    LRELU_UNROLL
    for (; i + 8 <= n; i += 8) {
        const half8 v = half8_load(x + i);
        half8_store(out + i, half8_apply(kind == 0 ? v : kind == 1 ? g0 : half8_load(g + i),
                                         v, a, gt));
    }
    rest = n - i;
    if (rest > 0) {
        half8 v;
        memcpy(xs, x + i, (size_t)rest * sizeof *x);
        if (kind == 2) {
            memcpy(gs, g + i, (size_t)rest * sizeof *g);
        }
        v = half8_load(xs);
        half8_store(os, half8_apply(kind == 0 ? v : kind == 1 ? g0 : half8_load(gs), v, a, gt));
        memcpy(out + i, os, (size_t)rest * sizeof *out);
    }
}

HALF8_TARGET static void half_loop_vector(ptrdiff_t n, const uint16_t *g, int g_scalar,
                                          const uint16_t *x, float alpha, uint16_t *out,
                                          int flags)
{
    const int gt = flags & LRELU_AT_ZERO_ALPHA;
    if (g == x && !g_scalar) {
        half8_run(n, g, x, alpha, out, 0, 0);   /* the forward ignores gt (contig.h) */
    } else if (g_scalar) {
        if (gt) {
            half8_run(n, g, x, alpha, out, 1, 1);
        } else {
            half8_run(n, g, x, alpha, out, 1, 0);
        }
    } else if (gt) {
        half8_run(n, g, x, alpha, out, 2, 1);
    } else {
        half8_run(n, g, x, alpha, out, 2, 0);
    }
}
#endif

void lrelu_half_baseline(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                         float alpha, uint16_t *out, int flags)
{
#if LRELU_HALF8 && !LRELU_X86_DISPATCH
    half_loop_vector(n, g, g_scalar, x, alpha, out, flags);
#else
    half_loop_scalar(n, g, g_scalar, x, alpha, out, flags);
#endif
}

#if LRELU_X86_DISPATCH
HALF8_TARGET void lrelu_half_f16c(ptrdiff_t n, const uint16_t *g, int g_scalar,
                                  const uint16_t *x, float alpha, uint16_t *out, int flags)
{
    half_loop_vector(n, g, g_scalar, x, alpha, out, flags);
}
#endif
