/* lrelu's contiguous loops (src/simd.c), private to the _kernels extension.
 *
 * Every operation is out = g * slope(x), slope(x) = 1 if x >= 0 else alpha:
 *   forward     g = x        x*1 == x bit for bit (-0.0, NaN, inf), so this is the listing's
 *                            np.where(x >= 0, x, alpha*x)
 *   derivative  g = 1        (g_scalar: g points at one value used for every element)
 *   backward    g = grad
 * so one loop serves all three. */
#ifndef LRELU_SRC_SIMD_H
#define LRELU_SRC_SIMD_H

#include <stddef.h>
#include <stdint.h>

/* flags for the loops */
#define LRELU_AT_ZERO_ALPHA 1   /* slope(x) = 1 only if x > 0: 0 and -0.0 get alpha (PyTorch's
                                   backward); the forward ignores it */
#define LRELU_STREAM 2          /* write out with non-temporal (streaming) stores where this build
                                   has them (x86 SSE2 and AVX2); the caller decides
                                   (kernel() in lrelu/_kernels.pyx, lrelu_stream_min_bytes) */

/* The scalar formula, for the strided loop in _kernels.pyx. */
#define LRELU_APPLY(g, x, alpha) ((g) * ((x) >= 0 ? 1 : (alpha)))
#define LRELU_APPLY_GT(g, x, alpha) ((g) * ((x) > 0 ? 1 : (alpha)))

void lrelu_contig_float(ptrdiff_t n, const float *g, int g_scalar, const float *x, float alpha,
                        float *out, int flags);
void lrelu_contig_double(ptrdiff_t n, const double *g, int g_scalar, const double *x,
                         double alpha, double *out, int flags);
/* The 16-bit formats, as raw bits, computed in float: alpha is the float16 alpha widened
 * (exactly) for float16, and the float32 alpha itself for bfloat16 (src/half.c says why). */
void lrelu_contig_half(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                       float alpha, uint16_t *out, int flags);
void lrelu_contig_bfloat16(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                           float alpha, uint16_t *out, int flags);

/* Chooses the loops for this CPU; call once before any loop runs. LRELU_SIMD=<level> forces
 * a level (one that this CPU can run). Returns the level chosen. */
const char *lrelu_simd_init(void);
/* The compiler's baseline ISA, and the comma-separated levels compiled for run-time dispatch. */
const char *lrelu_simd_baseline(void);
const char *lrelu_simd_dispatchable(void);

/* Streaming stores. A call that writes more than lrelu_stream_min_bytes into an output that
 * is not one of its inputs sets LRELU_STREAM (the threshold is set by lrelu_simd_init from the
 * last-level cache size; bench/streaming.py and BENCHMARKS.md say why there). */
int lrelu_stream_built(void);               /* 1 if the loops honour LRELU_STREAM */
ptrdiff_t lrelu_stream_min_bytes(void);
void lrelu_set_stream_min_bytes(ptrdiff_t nbytes);
ptrdiff_t lrelu_llc_bytes(void);            /* the last-level cache found, 0 if unknown */
const char *lrelu_llc_source(void);         /* where it was found: "sysfs", "sysconf", ... */
unsigned long lrelu_streamed_chunks(void);  /* loop runs that streamed (tests) */

#endif
