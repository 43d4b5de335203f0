/* The shape of every contiguous loop, for src/simd.c (float, double) and src/half.c (the
 * 16-bit formats), private to the _kernels extension.
 *
 * The loop is written as a select of two constants and an unconditional multiply; gcc
 * vectorizes it once -fno-trapping-math lets it evaluate the comparison on a whole vector
 * (setup.py passes that flag); clang vectorizes it anyway.
 */
#ifndef LRELU_SRC_CONTIG_H
#define LRELU_SRC_CONTIG_H

#include "simd.h"

/* gcc runs one vector per iteration unless told to unroll; unrolled by 4, in-cache float64
 * runs about twice as fast (bench/results/simd_levels.log). clang interleaves on its own;
 * MSVC would only warn about the pragma. */
#if defined(__GNUC__) && !defined(__clang__)
#define LRELU_UNROLL _Pragma("GCC unroll 4")
#else
#define LRELU_UNROLL
#endif

#define LRELU_AS_IS(v) (v)

/* A loop over elements of type T computed in type C: LOAD widens one element to C, STORE
 * rounds a C result back to T (both LRELU_AS_IS for float and double). alpha is already a C.
 *
 * No restrict: out may equal x or g exactly (in place), and gcc's run-time alias check still
 * takes the vector loop for a distance of zero. The forward reads each element once (g ==
 * x), and ignores LRELU_AT_ZERO_ALPHA: f(0) = 0 either way, but 0 * alpha would turn +0.0
 * into -0.0 for a negative alpha. */
#define LRELU_DEFINE_CONTIG(NAME, ATTRIBUTES, T, C, LOAD, STORE)                               \
    ATTRIBUTES static void NAME(ptrdiff_t n, const T *g, int g_scalar, const T *x, C alpha,    \
                                T *out, int flags)                                             \
    {                                                                                          \
        ptrdiff_t i;                                                                           \
        const int gt = flags & LRELU_AT_ZERO_ALPHA;                                            \
        if (g == x && !g_scalar) {                                                             \
            LRELU_UNROLL                                                                       \
            for (i = 0; i < n; i++) {                                                          \
                const C v = LOAD(x[i]);                                                        \
                out[i] = STORE(LRELU_APPLY(v, v, alpha));                                      \
            }                                                                                  \
        } else if (g_scalar) {                                                                 \
            const C gv = LOAD(*g);                                                             \
            if (gt) {                                                                          \
                LRELU_UNROLL                                                                   \
                for (i = 0; i < n; i++) out[i] = STORE(LRELU_APPLY_GT(gv, LOAD(x[i]), alpha)); \
            } else {                                                                           \
                LRELU_UNROLL                                                                   \
                for (i = 0; i < n; i++) out[i] = STORE(LRELU_APPLY(gv, LOAD(x[i]), alpha));    \
            }                                                                                  \
        } else if (gt) {                                                                       \
            LRELU_UNROLL                                                                       \
            for (i = 0; i < n; i++)                                                            \
                out[i] = STORE(LRELU_APPLY_GT(LOAD(g[i]), LOAD(x[i]), alpha));                 \
        } else {                                                                               \
            LRELU_UNROLL                                                                       \
            for (i = 0; i < n; i++) out[i] = STORE(LRELU_APPLY(LOAD(g[i]), LOAD(x[i]), alpha)); \
        }                                                                                      \
    }

/* The x86 levels: gcc and clang compile copies for them with __attribute__((target)) and
 * src/simd.c picks one at import. No ifunc or target_clones: those need glibc (not musl),
 * and Mach-O lacks them. MSVC and non-x86 compilers get the baseline loops only. */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define LRELU_X86_DISPATCH 1
#define LRELU_TARGET_AVX2 __attribute__((target("avx2")))
#define LRELU_TARGET_AVX2_F16C __attribute__((target("avx2,f16c")))
#else
#define LRELU_X86_DISPATCH 0
#endif

#endif
