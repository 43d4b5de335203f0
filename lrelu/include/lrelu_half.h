/* The 16-bit float formats <-> binary32, in software.
 *
 * IEEE binary16 (float16): bit for bit the same as NumPy's npy_half_to_float and
 * npy_float_to_half (round to nearest even, NaN payload kept and never turned into inf), and
 * the same floating-point flags: overflow to inf, and underflow where a nonzero result is
 * below the normal range and inexact, as NumPy's conversion and F16C's raise them. Written
 * here rather than linked from libnpymath so that every wheel platform builds the same way;
 * tests/test_half.py checks it against NumPy over all 65,536 halves.
 *
 * bfloat16: the top 16 bits of a binary32, so widening is a shift and rounding is integer
 * arithmetic on the bits (round to nearest even; a NaN stays NaN, made quiet). Integer
 * arithmetic rather than a hardware conversion, because some (AVX512_BF16's) flush
 * subnormals to zero, which the rule does not allow. No flags: ml_dtypes' and PyTorch's
 * conversions raise none either. */
#ifndef LRELU_HALF_H
#define LRELU_HALF_H

#include <fenv.h>
#include <stdint.h>
#include <string.h>

typedef uint16_t lrelu_half;

static inline float lrelu_half_to_float(lrelu_half h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exponent == 0x1fu) {            /* inf or NaN: keep the payload */
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {         /* normal: rebias 15 -> 127 */
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else {                            /* zero or subnormal: mantissa * 2^-24 is exact */
        f = (float)mantissa * 5.9604644775390625e-08f;
        memcpy(&bits, &f, sizeof bits);
        bits |= sign;
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline lrelu_half lrelu_float_to_half(float f)
{
    uint32_t bits, magnitude, sign, half, rest, tie;
    memcpy(&bits, &f, sizeof bits);
    sign = (bits >> 16) & 0x8000u;
    magnitude = bits & 0x7fffffffu;
    if (magnitude >= 0x7f800000u) {                 /* inf or NaN */
        if (magnitude == 0x7f800000u) {
            return (lrelu_half)(sign | 0x7c00u);
        }
        half = 0x7c00u | ((magnitude & 0x7fffffu) >> 13);
        if (half == 0x7c00u) {                      /* payload lost its top bits: stay NaN */
            half++;
        }
        return (lrelu_half)(sign | half);
    }
    if (magnitude >= 0x47800000u) {                 /* >= 65536: overflow to inf */
        feraiseexcept(FE_OVERFLOW);
        return (lrelu_half)(sign | 0x7c00u);
    }
    if (magnitude >= 0x38800000u) {                 /* normal half range */
        half = (magnitude - 0x38000000u) >> 13;
        rest = magnitude & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) {
            half++;                                 /* a carry into the exponent is right, up to inf */
            if (half == 0x7c00u) {
                feraiseexcept(FE_OVERFLOW);
            }
        }
        return (lrelu_half)(sign | half);
    }
    if (magnitude < 0x33000000u) {                  /* below 2^-25: rounds to zero */
        if (magnitude != 0) {
            feraiseexcept(FE_UNDERFLOW);
        }
        return (lrelu_half)sign;
    }
    {                                               /* subnormal half, in units of 2^-24 */
        uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - (magnitude >> 23);  /* 14 .. 24 */
        half = significand >> shift;
        rest = significand & ((1u << shift) - 1u);
        tie = 1u << (shift - 1u);
        if (rest != 0) {
            feraiseexcept(FE_UNDERFLOW);
        }
        if (rest > tie || (rest == tie && (half & 1u))) {
            half++;
        }
        return (lrelu_half)(sign | half);
    }
}

/* A distinct type, so that Cython's fused types tell it from lrelu_half. */
typedef struct {
    uint16_t bits;
} lrelu_bfloat16;

static inline float lrelu_bfloat16_to_float(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t lrelu_float_to_bfloat16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {       /* NaN: keep sign and top payload, quiet */
        return (uint16_t)((bits >> 16) | 0x40u);
    }
    /* Adding 0x7fff, plus 1 when the kept part is odd, carries into bit 16 exactly when the
     * dropped half is above the tie, or at the tie with an odd result; a carry through the
     * exponent gives the next binade, or inf past the largest bfloat16. */
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

#endif
