/* The float16 and bfloat16 loops of each SIMD level (src/half.c), for the one dispatch table
 * in src/simd.c. Same contract as lrelu_contig_half and lrelu_contig_bfloat16 (simd.h). */
#ifndef LRELU_SRC_HALF_H
#define LRELU_SRC_HALF_H

#include "contig.h"

#include <stddef.h>
#include <stdint.h>

typedef void (*lrelu_contig_16_fn)(ptrdiff_t, const uint16_t *, int, const uint16_t *, float,
                                   uint16_t *, int);

/* float16: software conversions on x86's baseline; NEON on aarch64 */
void lrelu_half_baseline(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                         float alpha, uint16_t *out, int flags);
void lrelu_bfloat16_baseline(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                             float alpha, uint16_t *out, int flags);
#if LRELU_X86_DISPATCH
void lrelu_half_f16c(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                     float alpha, uint16_t *out, int flags);
void lrelu_bfloat16_avx2(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                         float alpha, uint16_t *out, int flags);
#endif

#endif
