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
 *   x86 avx2_f16c  F16C's vcvtph2ps/vcvtps2ph, 8 elements at a time. Both agree with the
 *                  software bit for bit: every half widens exactly, subnormals too, and the
 *                  narrowing rounds to nearest even (the immediate says so, not MXCSR) and
 *                  produces subnormals. They raise the same flags.
 *   aarch64        NEON, the baseline there: with half-precision vector arithmetic
 *                  (__ARM_FEATURE_FP16_VECTOR_ARITHMETIC, e.g. -march=armv8.2-a+fp16) one
 *                  half multiply, which is the same rule (see half_neon); without it,
 *                  vcvt_f32_f16/vcvt_f16_f32 around a float32 multiply.
 * bfloat16: integer arithmetic on the bits (lrelu_half.h): in C at the x86 baseline, where
 *   gcc and clang vectorize it with SSE2; AVX2 and NEON intrinsics elsewhere.
 *
 * The vector loops do their last partial vector in a zero-padded buffer, so every element
 * takes the same instructions (and raises the same flags) whatever its position.
 */
#include "half.h"

#include "lrelu_half.h"

#include <string.h>

/* ---- The vector loops: 8 elements at a time ---------------------------------------------
 *
 * Written once, as LRELU_DEFINE_VEC8, over what each architecture and format defines:
 *   V            8 values in the type the product is computed in
 *   LOAD(p)      8 elements from memory, widened to V
 *   STORE(p, v)  8 values rounded to the format and stored
 *   SPLAT(f)     a float (alpha, 1, a scalar g widened by WIDEN) in every lane
 *   APPLY(g, x, alpha, gt)  g * slope(x), slope(x) = 1 if x >= 0 (x > 0 with gt) else alpha
 *
 * kind: 0 the forward (g is x), 1 one g for every element (the derivative), 2 g an array
 * (the backward). kind and gt are constants at every call of NAME##_run, so each of the four
 * loops is compiled with its own compare and no branch inside. */
#define LRELU_DEFINE_VEC8(NAME, ATTRIBUTES, V, LOAD, STORE, SPLAT, APPLY, WIDEN)                \
    static inline __attribute__((always_inline)) ATTRIBUTES void NAME##_run(                    \
        ptrdiff_t n, const uint16_t *g, const uint16_t *x, float alpha, uint16_t *out,          \
        const int kind, const int gt)                                                           \
    {                                                                                           \
        const V a = SPLAT(alpha);                                                               \
        const V g0 = SPLAT(kind == 1 ? WIDEN(*g) : 0.0f);                                       \
        uint16_t xs[8] = {0}, gs[8] = {0}, os[8];                                               \
        ptrdiff_t i = 0, rest;                                                                  \
        LRELU_UNROLL                                                                            \
        for (; i + 8 <= n; i += 8) {                                                            \
            const V v = LOAD(x + i);                                                            \
            STORE(out + i, APPLY(kind == 0 ? v : kind == 1 ? g0 : LOAD(g + i), v, a, gt));      \
        }                                                                                       \
        rest = n - i;                                                                           \
        if (rest > 0) {                                                                         \
            V v;                                                                                \
            memcpy(xs, x + i, (size_t)rest * sizeof *x);                                        \
            if (kind == 2) {                                                                    \
                memcpy(gs, g + i, (size_t)rest * sizeof *g);                                    \
            }                                                                                   \
            v = LOAD(xs);                                                                       \
            STORE(os, APPLY(kind == 0 ? v : kind == 1 ? g0 : LOAD(gs), v, a, gt));              \
            memcpy(out + i, os, (size_t)rest * sizeof *out);                                    \
        }                                                                                       \
    }                                                                                           \
    ATTRIBUTES void NAME(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,       \
                         float alpha, uint16_t *out, int flags)                                 \
    {                                                                                           \
        const int gt = flags & LRELU_AT_ZERO_ALPHA;                                             \
        if (g == x && !g_scalar) {                                                              \
            NAME##_run(n, g, x, alpha, out, 0, 0);   /* the forward ignores gt (contig.h) */    \
        } else if (g_scalar) {                                                                  \
            if (gt) {                                                                           \
                NAME##_run(n, g, x, alpha, out, 1, 1);                                          \
            } else {                                                                            \
                NAME##_run(n, g, x, alpha, out, 1, 0);                                          \
            }                                                                                   \
        } else if (gt) {                                                                        \
            NAME##_run(n, g, x, alpha, out, 2, 1);                                              \
        } else {                                                                                \
            NAME##_run(n, g, x, alpha, out, 2, 0);                                              \
        }                                                                                       \
    }

#define VEC8_INLINE static inline __attribute__((always_inline))

#if LRELU_X86_DISPATCH
#include <immintrin.h>

VEC8_INLINE LRELU_TARGET_AVX2 __m256 avx_splat(float v)
{
    return _mm256_set1_ps(v);
}

VEC8_INLINE LRELU_TARGET_AVX2 __m256 avx_apply(__m256 g, __m256 x, __m256 alpha, const int gt)
{
    /* ordered, quiet compares: NaN takes alpha, as NaN >= 0 is false */
    const __m256 keep = gt ? _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ)
                           : _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_mul_ps(g, _mm256_blendv_ps(alpha, _mm256_set1_ps(1.0f), keep));
}

VEC8_INLINE LRELU_TARGET_AVX2_F16C __m256 f16c_load(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

VEC8_INLINE LRELU_TARGET_AVX2_F16C void f16c_store(uint16_t *p, __m256 v)
{
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

VEC8_INLINE LRELU_TARGET_AVX2 __m256 bfloat16_avx2_load(const uint16_t *p)
{
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

VEC8_INLINE LRELU_TARGET_AVX2 void bfloat16_avx2_store(uint16_t *p, __m256 v)
{
    /* lrelu_float_to_bfloat16, 8 at a time; every lane ends below 2^16, so the unsigned
     * saturating pack keeps it as it is */
    const __m256i bits = _mm256_castps_si256(v);
    const __m256i top = _mm256_srli_epi32(bits, 16);
    const __m256i odd = _mm256_and_si256(top, _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), odd), 16);
    const __m256i quiet = _mm256_or_si256(top, _mm256_set1_epi32(0x40));
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    const __m256i r = _mm256_blendv_epi8(rounded, quiet, _mm256_castps_si256(nan));
    _mm_storeu_si128((__m128i *)p, _mm_packus_epi32(_mm256_castsi256_si128(r),
                                                    _mm256_extracti128_si256(r, 1)));
}

LRELU_DEFINE_VEC8(lrelu_half_f16c, LRELU_TARGET_AVX2_F16C, __m256, f16c_load, f16c_store,
                  avx_splat, avx_apply, lrelu_half_to_float)
LRELU_DEFINE_VEC8(lrelu_bfloat16_avx2, LRELU_TARGET_AVX2, __m256, bfloat16_avx2_load,
                  bfloat16_avx2_store, avx_splat, avx_apply, lrelu_bfloat16_to_float)

#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define LRELU_NEON 1
#include <arm_neon.h>

typedef float32x4x2_t f32x8;

VEC8_INLINE f32x8 neon_splat(float v)
{
    f32x8 s;
    s.val[0] = s.val[1] = vdupq_n_f32(v);
    return s;
}

VEC8_INLINE f32x8 neon_apply(f32x8 g, f32x8 x, f32x8 alpha, const int gt)
{
    f32x8 r;
    int k;
    for (k = 0; k < 2; k++) {
        const uint32x4_t keep = gt ? vcgtq_f32(x.val[k], vdupq_n_f32(0))
                                   : vcgeq_f32(x.val[k], vdupq_n_f32(0));
        r.val[k] = vmulq_f32(g.val[k], vbslq_f32(keep, vdupq_n_f32(1), alpha.val[k]));
    }
    return r;
}

VEC8_INLINE f32x8 bfloat16_neon_load(const uint16_t *p)
{
    const uint16x8_t h = vld1q_u16(p);
    f32x8 v;
    v.val[0] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    v.val[1] = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
    return v;
}

VEC8_INLINE uint16x4_t bfloat16_neon_round(float32x4_t v)
{
    /* lrelu_float_to_bfloat16, 4 at a time */
    const uint32x4_t bits = vreinterpretq_u32_f32(v);
    const uint32x4_t odd = vandq_u32(vshrq_n_u32(bits, 16), vdupq_n_u32(1));
    const uint16x4_t rounded = vshrn_n_u32(vaddq_u32(vaddq_u32(bits, vdupq_n_u32(0x7fff)), odd), 16);
    const uint16x4_t quiet = vorr_u16(vshrn_n_u32(bits, 16), vdup_n_u16(0x40));
    const uint16x4_t nan = vmovn_u32(vmvnq_u32(vceqq_f32(v, v)));
    return vbsl_u16(nan, quiet, rounded);
}

VEC8_INLINE void bfloat16_neon_store(uint16_t *p, f32x8 v)
{
    vst1q_u16(p, vcombine_u16(bfloat16_neon_round(v.val[0]), bfloat16_neon_round(v.val[1])));
}

LRELU_DEFINE_VEC8(bfloat16_neon, , f32x8, bfloat16_neon_load, bfloat16_neon_store, neon_splat,
                  neon_apply, lrelu_bfloat16_to_float)

#if defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
/* float16 as half arithmetic. The exact product of two halves has at most 22 significant
 * bits and lies within 2^-48..2^32, so it is exact in float32, and rounding it once to half
 * (NumPy's rule) is exactly what an IEEE half multiply, round to nearest even (FPCR's
 * default), gives. */
VEC8_INLINE float16x8_t fp16_load(const uint16_t *p)
{
    return vreinterpretq_f16_u16(vld1q_u16(p));
}

VEC8_INLINE void fp16_store(uint16_t *p, float16x8_t v)
{
    vst1q_u16(p, vreinterpretq_u16_f16(v));
}

VEC8_INLINE float16x8_t fp16_splat(float v)
{
    return vdupq_n_f16((float16_t)v);   /* exact: v is a half widened, or 1 */
}

VEC8_INLINE float16x8_t fp16_apply(float16x8_t g, float16x8_t x, float16x8_t alpha, const int gt)
{
    const uint16x8_t keep = gt ? vcgtq_f16(x, vdupq_n_f16(0)) : vcgeq_f16(x, vdupq_n_f16(0));
    return vmulq_f16(g, vbslq_f16(keep, vdupq_n_f16(1), alpha));
}

LRELU_DEFINE_VEC8(half_neon, , float16x8_t, fp16_load, fp16_store, fp16_splat, fp16_apply,
                  lrelu_half_to_float)
#else
/* float16 through conversions around a float32 multiply (baseline AArch64) */
VEC8_INLINE f32x8 half_neon_load(const uint16_t *p)
{
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p));
    f32x8 v;
    v.val[0] = vcvt_f32_f16(vget_low_f16(h));
    v.val[1] = vcvt_high_f32_f16(h);
    return v;
}

VEC8_INLINE void half_neon_store(uint16_t *p, f32x8 v)
{
    vst1q_u16(p, vreinterpretq_u16_f16(vcvt_high_f16_f32(vcvt_f16_f32(v.val[0]), v.val[1])));
}

LRELU_DEFINE_VEC8(half_neon, , f32x8, half_neon_load, half_neon_store, neon_splat, neon_apply,
                  lrelu_half_to_float)
#endif
#endif

/* ---- The loops of the baseline level --------------------------------------------------- */

#if LRELU_NEON
#define HALF_BASELINE half_neon
#define BFLOAT16_BASELINE bfloat16_neon
#else
/* The C loops: float16 one element at a time (the software conversion has branches), and
 * bfloat16, which gcc and clang vectorize (SSE2 on x86-64). */
LRELU_DEFINE_CONTIG(half_scalar, , uint16_t, float, lrelu_half_to_float, lrelu_float_to_half)
LRELU_DEFINE_CONTIG(bfloat16_c, , uint16_t, float, lrelu_bfloat16_to_float,
                    lrelu_float_to_bfloat16)
#define HALF_BASELINE half_scalar
#define BFLOAT16_BASELINE bfloat16_c
#endif

void lrelu_half_baseline(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                         float alpha, uint16_t *out, int flags)
{
    HALF_BASELINE(n, g, g_scalar, x, alpha, out, flags);
}

void lrelu_bfloat16_baseline(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                             float alpha, uint16_t *out, int flags)
{
    BFLOAT16_BASELINE(n, g, g_scalar, x, alpha, out, flags);
}
