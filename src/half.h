/* The float16 and bfloat16 loops of each SIMD level (src/half.c), for the one dispatch table
 * in src/simd.c. Same contract as lrelu_contig_half and lrelu_contig_bfloat16 (simd.h). */
#ifndef LRELU_SRC_HALF_H
#define LRELU_SRC_HALF_H

#include "contig.h"

#include <stddef.h>
#include <stdint.h>

typedef void (*lrelu_contig_16_fn)(ptrdiff_t, const uint16_t *, int, const uint16_t *, float,
                                   uint16_t *, int);

#define LRELU_DECLARE_16(NAME)                                                              \
    void NAME(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x, float alpha,    \
              uint16_t *out, int flags);

/* float16: software conversions on x86's baseline; NEON on aarch64 */
LRELU_DECLARE_16(lrelu_half_baseline)
LRELU_DECLARE_16(lrelu_bfloat16_baseline)
#if LRELU_X86_DISPATCH
LRELU_DECLARE_16(lrelu_half_f16c)
LRELU_DECLARE_16(lrelu_bfloat16_avx2)
LRELU_DECLARE_16(lrelu_half_avx512)
LRELU_DECLARE_16(lrelu_bfloat16_avx512)
LRELU_DECLARE_16(lrelu_bfloat16_avx512_bf16)
#endif

#endif
