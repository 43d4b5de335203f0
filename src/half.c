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
 * The vector loops do their head (up to the first aligned store) and their last blocks in a
 * zero-padded buffer, so every element takes the same instructions (and raises
 * the same flags) whatever its position.
 */
#include "half.h"

#include "lrelu_half.h"

#include <string.h>

/* ---- The vector loops: each level's primitives for LRELU_DEFINE_VEC16 (src/contig.h) ----
 *
 * bfloat16 widens by a shift and narrows by integer rounding of the float32 bits
 * (lrelu_float_to_bfloat16, a vector at a time). On x86 the loads and stores keep every
 * element in its own 32-bit lane, without shuffles: a register of 16-bit elements gives its
 * even elements shifted into the top half of each lane (lo) and its odd elements masked in
 * place (hi); after the multiply each lane's rounded result sits in its top 16 bits, and the
 * store puts the even results back in the bottom halves and ORs in the odd ones. */
#define VEC8_INLINE LRELU_VEC_INLINE

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

/* float16 through F16C: vcvtph2ps/vcvtps2ph agree with the software conversions bit for bit
 * (file comment), 16 elements a block */
VEC8_INLINE LRELU_TARGET_AVX2_F16C void f16c_load2(const uint16_t *p, __m256 *lo, __m256 *hi)
{
    *lo = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    *hi = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 8)));
}

VEC8_INLINE LRELU_TARGET_AVX2_F16C void f16c_store2(uint16_t *p, __m256 lo, __m256 hi)
{
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(lo, _MM_FROUND_TO_NEAREST_INT));
    _mm_storeu_si128((__m128i *)(p + 8), _mm256_cvtps_ph(hi, _MM_FROUND_TO_NEAREST_INT));
}

/* bfloat16, 16 elements a block, even and odd elements in the two halves (above) */
VEC8_INLINE LRELU_TARGET_AVX2 void bfloat16_avx2_load2(const uint16_t *p, __m256 *lo, __m256 *hi)
{
    const __m256i v = _mm256_loadu_si256((const __m256i *)p);
    *lo = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    *hi = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xffff0000u)));
}

/* lrelu_float_to_bfloat16 on 8 lanes, the result in each lane's top 16 bits; NaN lanes are
 * tested only for a NaN alpha (nan_alpha, LRELU_DEFINE_VEC16 says why the rest need not be) */
VEC8_INLINE LRELU_TARGET_AVX2 __m256i bfloat16_avx2_round(__m256 v, const int nan_alpha)
{
    const __m256i bits = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), odd);
    const __m256i quiet = _mm256_or_si256(bits, _mm256_set1_epi32(0x00400000));
    if (!nan_alpha) {
        return rounded;
    }
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(rounded),
                                                _mm256_castsi256_ps(quiet),
                                                _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
}

/* the even results' top halves shifted down, the odd results' top halves blended in */
VEC8_INLINE LRELU_TARGET_AVX2 void bfloat16_avx2_store2(uint16_t *p, __m256 lo, __m256 hi,
                                                        const int nan_alpha)
{
    const __m256i even = _mm256_srli_epi32(bfloat16_avx2_round(lo, nan_alpha), 16);
    _mm256_storeu_si256((__m256i *)p,
                        _mm256_blend_epi16(even, bfloat16_avx2_round(hi, nan_alpha), 0xAA));
}

#define F16C_LOAD2(p, lo, hi) f16c_load2((p), &(lo), &(hi))
#define F16C_STORE2(p, lo, hi, nan_alpha) f16c_store2((p), (lo), (hi))
#define BFLOAT16_AVX2_LOAD2(p, lo, hi) bfloat16_avx2_load2((p), &(lo), &(hi))
#define BFLOAT16_AVX2_STORE2(p, lo, hi, nan_alpha) bfloat16_avx2_store2((p), (lo), (hi), (nan_alpha))

LRELU_DEFINE_VEC16(lrelu_half_f16c, LRELU_TARGET_AVX2_F16C, __m256, 16, F16C_LOAD2, F16C_STORE2,
                   avx_splat, avx_apply, lrelu_half_to_float, 0)
LRELU_DEFINE_VEC16(lrelu_bfloat16_avx2, LRELU_TARGET_AVX2, __m256, 16, BFLOAT16_AVX2_LOAD2,
                   BFLOAT16_AVX2_STORE2, avx_splat, avx_apply, lrelu_bfloat16_to_float, 1)

/* ---- AVX-512: the same loops, 16 float32 lanes, 32 elements a block ---- */

VEC8_INLINE LRELU_TARGET_AVX512 __m512 avx512_splat(float v)
{
    return _mm512_set1_ps(v);
}

VEC8_INLINE LRELU_TARGET_AVX512 __m512 avx512_apply(__m512 g, __m512 x, __m512 alpha,
                                                    const int gt)
{
    /* the same ordered, quiet compares, into a mask register */
    const __mmask16 keep = gt ? _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ)
                              : _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_mul_ps(g, _mm512_mask_mov_ps(alpha, keep, _mm512_set1_ps(1.0f)));
}

/* float16: AVX-512F's vcvtph2ps/vcvtps2ph, the same conversions as F16C on 16 lanes */
VEC8_INLINE LRELU_TARGET_AVX512 void half_avx512_load2(const uint16_t *p, __m512 *lo, __m512 *hi)
{
    *lo = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    *hi = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 16)));
}

VEC8_INLINE LRELU_TARGET_AVX512 void half_avx512_store2(uint16_t *p, __m512 lo, __m512 hi)
{
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtps_ph(lo, _MM_FROUND_TO_NEAREST_INT));
    _mm256_storeu_si256((__m256i *)(p + 16), _mm512_cvtps_ph(hi, _MM_FROUND_TO_NEAREST_INT));
}

VEC8_INLINE LRELU_TARGET_AVX512 void bfloat16_avx512_load2(const uint16_t *p, __m512 *lo,
                                                           __m512 *hi)
{
    const __m512i v = _mm512_loadu_si512((const void *)p);
    *lo = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    *hi = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)0xffff0000u)));
}

VEC8_INLINE LRELU_TARGET_AVX512 __m512i bfloat16_avx512_round(__m512 v, const int nan_alpha)
{
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff)), odd);
    if (!nan_alpha) {
        return rounded;
    }
    return _mm512_mask_or_epi32(rounded, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), bits,
                                _mm512_set1_epi32(0x00400000));
}

/* the even results' top halves shifted down, OR the odd results' top halves (0xF8: a | b & c) */
VEC8_INLINE LRELU_TARGET_AVX512 void bfloat16_avx512_merge(uint16_t *p, __m512i even, __m512i odd)
{
    _mm512_storeu_si512((void *)p, _mm512_ternarylogic_epi32(_mm512_srli_epi32(even, 16), odd,
                                                             _mm512_set1_epi32((int)0xffff0000u),
                                                             0xF8));
}

VEC8_INLINE LRELU_TARGET_AVX512 void bfloat16_avx512_store2(uint16_t *p, __m512 lo, __m512 hi,
                                                            const int nan_alpha)
{
    bfloat16_avx512_merge(p, bfloat16_avx512_round(lo, nan_alpha),
                          bfloat16_avx512_round(hi, nan_alpha));
}

#define HALF_AVX512_LOAD2(p, lo, hi) half_avx512_load2((p), &(lo), &(hi))
#define HALF_AVX512_STORE2(p, lo, hi, nan_alpha) half_avx512_store2((p), (lo), (hi))
#define BFLOAT16_AVX512_LOAD2(p, lo, hi) bfloat16_avx512_load2((p), &(lo), &(hi))
#define BFLOAT16_AVX512_STORE2(p, lo, hi, nan_alpha) \
    bfloat16_avx512_store2((p), (lo), (hi), (nan_alpha))

LRELU_DEFINE_VEC16(lrelu_half_avx512, LRELU_TARGET_AVX512, __m512, 32, HALF_AVX512_LOAD2,
                   HALF_AVX512_STORE2, avx512_splat, avx512_apply, lrelu_half_to_float, 0)
LRELU_DEFINE_VEC16(lrelu_bfloat16_avx512, LRELU_TARGET_AVX512, __m512, 32, BFLOAT16_AVX512_LOAD2,
                   BFLOAT16_AVX512_STORE2, avx512_splat, avx512_apply, lrelu_bfloat16_to_float,
                   1)

/* AVX512_BF16's vcvtne2ps2bf16 rounds to nearest even and quiets NaN exactly as
 * lrelu_float_to_bfloat16 does, but reads float32 subnormal inputs as zero (whatever MXCSR
 * says), where the rule keeps them as bfloat16 subnormals. So a block with any subnormal
 * product (vfpclassps, category 0x20) takes the integer rounding above instead; the rest
 * take the one instruction. It packs in memory order (lo's lanes, then hi's), so the result
 * is put back into the even/odd order of bfloat16_avx512_load2 by one word permutation. */
VEC8_INLINE LRELU_TARGET_AVX512_BF16 void bfloat16_avx512_bf16_store2(uint16_t *p, __m512 lo,
                                                                     __m512 hi,
                                                                     const int nan_alpha)
{
    if (_mm512_fpclass_ps_mask(lo, 0x20) | _mm512_fpclass_ps_mask(hi, 0x20)) {
        bfloat16_avx512_merge(p, bfloat16_avx512_round(lo, nan_alpha),
                              bfloat16_avx512_round(hi, nan_alpha));
    } else {
        /* packed word k < 16 is lo's lane k (element 2k), word 16 + k is hi's (element 2k+1) */
        const __m512i interleave = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
            23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
        const __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        _mm512_storeu_si512((void *)p, _mm512_permutexvar_epi16(interleave, packed));
    }
}

#define BFLOAT16_AVX512_BF16_STORE2(p, lo, hi, nan_alpha) \
    bfloat16_avx512_bf16_store2((p), (lo), (hi), (nan_alpha))

LRELU_DEFINE_VEC16(lrelu_bfloat16_avx512_bf16, LRELU_TARGET_AVX512_BF16, __m512, 32,
                   BFLOAT16_AVX512_LOAD2, BFLOAT16_AVX512_BF16_STORE2, avx512_splat,
                   avx512_apply, lrelu_bfloat16_to_float, 0)

#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define LRELU_NEON 1
#include <arm_neon.h>

VEC8_INLINE float32x4_t neon_splat(float v)
{
    return vdupq_n_f32(v);
}

VEC8_INLINE float32x4_t neon_apply(float32x4_t g, float32x4_t x, float32x4_t alpha, const int gt)
{
    const uint32x4_t keep = gt ? vcgtq_f32(x, vdupq_n_f32(0)) : vcgeq_f32(x, vdupq_n_f32(0));
    return vmulq_f32(g, vbslq_f32(keep, vdupq_n_f32(1), alpha));
}

VEC8_INLINE void bfloat16_neon_load2(const uint16_t *p, float32x4_t *lo, float32x4_t *hi)
{
    const uint16x8_t h = vld1q_u16(p);
    *lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    *hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
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

VEC8_INLINE void bfloat16_neon_store2(uint16_t *p, float32x4_t lo, float32x4_t hi)
{
    vst1q_u16(p, vcombine_u16(bfloat16_neon_round(lo), bfloat16_neon_round(hi)));
}

#define BFLOAT16_NEON_LOAD2(p, lo, hi) bfloat16_neon_load2((p), &(lo), &(hi))
#define BFLOAT16_NEON_STORE2(p, lo, hi, nan_alpha) bfloat16_neon_store2((p), (lo), (hi))

LRELU_DEFINE_VEC16(bfloat16_neon, , float32x4_t, 8, BFLOAT16_NEON_LOAD2, BFLOAT16_NEON_STORE2,
                   neon_splat, neon_apply, lrelu_bfloat16_to_float, 0)

#if defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
/* float16 as half arithmetic. The exact product of two halves has at most 22 significant
 * bits and lies within 2^-48..2^32, so it is exact in float32, and rounding it once to half
 * (NumPy's rule) is exactly what an IEEE half multiply, round to nearest even (FPCR's
 * default), gives. */
VEC8_INLINE void fp16_load2(const uint16_t *p, float16x8_t *lo, float16x8_t *hi)
{
    *lo = vreinterpretq_f16_u16(vld1q_u16(p));
    *hi = vreinterpretq_f16_u16(vld1q_u16(p + 8));
}

VEC8_INLINE void fp16_store2(uint16_t *p, float16x8_t lo, float16x8_t hi)
{
    vst1q_u16(p, vreinterpretq_u16_f16(lo));
    vst1q_u16(p + 8, vreinterpretq_u16_f16(hi));
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

#define FP16_LOAD2(p, lo, hi) fp16_load2((p), &(lo), &(hi))
#define FP16_STORE2(p, lo, hi, nan_alpha) fp16_store2((p), (lo), (hi))

LRELU_DEFINE_VEC16(half_neon, , float16x8_t, 16, FP16_LOAD2, FP16_STORE2, fp16_splat,
                   fp16_apply, lrelu_half_to_float, 0)
#else
/* float16 through conversions around a float32 multiply (baseline AArch64) */
VEC8_INLINE void half_neon_load2(const uint16_t *p, float32x4_t *lo, float32x4_t *hi)
{
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p));
    *lo = vcvt_f32_f16(vget_low_f16(h));
    *hi = vcvt_high_f32_f16(h);
}

VEC8_INLINE void half_neon_store2(uint16_t *p, float32x4_t lo, float32x4_t hi)
{
    vst1q_u16(p, vreinterpretq_u16_f16(vcvt_high_f16_f32(vcvt_f16_f32(lo), hi)));
}

#define HALF_NEON_LOAD2(p, lo, hi) half_neon_load2((p), &(lo), &(hi))
#define HALF_NEON_STORE2(p, lo, hi, nan_alpha) half_neon_store2((p), (lo), (hi))

LRELU_DEFINE_VEC16(half_neon, , float32x4_t, 8, HALF_NEON_LOAD2, HALF_NEON_STORE2, neon_splat,
                   neon_apply, lrelu_half_to_float, 0)
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
