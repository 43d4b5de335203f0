/* IEEE binary16 <-> binary32, bit for bit the same as NumPy's npy_half_to_float and
 * npy_float_to_half (round to nearest even, NaN payload kept and never turned into inf).
 * Written here rather than linked from libnpymath so that every wheel platform builds the
 * same way; tests/test_half.py checks it against NumPy over all 65,536 halves. */
#ifndef LRELU_HALF_H
#define LRELU_HALF_H

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
        return (lrelu_half)(sign | 0x7c00u);
    }
    if (magnitude >= 0x38800000u) {                 /* normal half range */
        half = (magnitude - 0x38000000u) >> 13;
        rest = magnitude & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) {
            half++;                                 /* a carry into the exponent is right, up to inf */
        }
        return (lrelu_half)(sign | half);
    }
    if (magnitude < 0x33000000u) {                  /* below 2^-25: rounds to zero */
        return (lrelu_half)sign;
    }
    {                                               /* subnormal half, in units of 2^-24 */
        uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - (magnitude >> 23);  /* 14 .. 24 */
        half = significand >> shift;
        rest = significand & ((1u << shift) - 1u);
        tie = 1u << (shift - 1u);
        if (rest > tie || (rest == tie && (half & 1u))) {
            half++;
        }
        return (lrelu_half)(sign | half);
    }
}

#endif
