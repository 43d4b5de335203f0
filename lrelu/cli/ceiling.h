/* The memory ceiling of `lrelu bench`: how fast this machine streams arrays shaped like a
 * Leaky ReLU call, measured with loops that ship inside lrelu (no external tool).
 *
 * Every stream is out[i] = g[i] * (x[i] >= 0 ? 1 : s), the shape of all of lrelu's calls
 * (forward: g == x; backward: g = grad), one contiguous block per OpenMP thread. Each runs
 * with ordinary stores and with streaming (non-temporal) stores. An ordinary store first
 * reads the cache line it writes (write-allocate), so a loop writing a whole array moves
 * those bytes twice; a streaming store goes past the cache and skips that read, but leaves
 * the result out of the cache. Which is faster depends on the machine, so both are measured.
 *
 * Portable, as lrelu's own loops are: no -march=native. The
 * ordinary loop is compiled for the baseline ISA, plus an AVX2 copy on x86 gcc/clang picked
 * with __builtin_cpu_supports. Streaming stores exist only on x86: SSE2's _mm_stream_ps/pd
 * (part of the x86-64 baseline), and AVX's 32-byte _mm256_stream_ps/pd compiled with
 * __attribute__((target("avx"))) and picked at run time. On other CPUs there is no streaming
 * loop: lrelu_ceiling_loop() returns NULL and the report says "n/a".
 */
#ifndef LRELU_CEILING_H
#define LRELU_CEILING_H

#include <stddef.h>
#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define LRELU_CEILING_SSE2 1
#include <emmintrin.h>
#else
#define LRELU_CEILING_SSE2 0
#endif

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define LRELU_CEILING_DISPATCH 1
#include <immintrin.h>
#else
#define LRELU_CEILING_DISPATCH 0
#endif

/* One thread's block [lo, hi) of a pass; out may be x or g (in place). */
typedef void (*lrelu_ceiling_fn)(const void *g, const void *x, double s, void *out, size_t lo, size_t hi);

#define LRELU_CEILING_ORDINARY(T, NAME, ATTRIBUTES)                                          \
    ATTRIBUTES static void NAME(const void *g_, const void *x_, double s_, void *out_,       \
                                size_t lo, size_t hi)                                        \
    {                                                                                        \
        const T *g = (const T *)g_, *x = (const T *)x_;                                      \
        T *out = (T *)out_;                                                                  \
        const T s = (T)s_;                                                                   \
        size_t i;                                                                            \
        for (i = lo; i < hi; i++) out[i] = g[i] * (x[i] >= 0 ? (T)1 : s);                    \
    }

LRELU_CEILING_ORDINARY(float, lrelu_ceiling_f32, )
LRELU_CEILING_ORDINARY(double, lrelu_ceiling_f64, )

/* Streaming stores need an aligned destination: ordinary stores up to the first aligned
 * element and after the last whole vector, streaming ones between, then a store fence, so
 * the pass's writes are ordered before it counts as done. P and S spell the intrinsics
 * (P##loadu_##S is _mm_loadu_ps, _mm256_loadu_pd, ...); CMPGE is the vector x >= 0. */
#define LRELU_CEILING_STREAMING(T, NAME, ATTRIBUTES, VEC, P, S, CMPGE, ORDINARY)             \
    ATTRIBUTES static void NAME(const void *g_, const void *x_, double s_, void *out_,       \
                                size_t lo, size_t hi)                                        \
    {                                                                                        \
        const T *g = (const T *)g_, *x = (const T *)x_;                                      \
        T *out = (T *)out_;                                                                  \
        const size_t width = sizeof(VEC) / sizeof(T);                                        \
        size_t i = lo;                                                                       \
        while (i < hi && (uintptr_t)(out + i) % sizeof(VEC) != 0) i++;                       \
        ORDINARY(g_, x_, s_, out_, lo, i);                                                   \
        const VEC one = P##set1_##S((T)1), s = P##set1_##S((T)s_), zero = P##setzero_##S();  \
        for (; i + width <= hi; i += width) {                                                \
            const VEC ge = CMPGE(P##loadu_##S(x + i), zero);                                 \
            const VEC slope = P##or_##S(P##and_##S(ge, one), P##andnot_##S(ge, s));          \
            P##stream_##S(out + i, P##mul_##S(P##loadu_##S(g + i), slope));                  \
        }                                                                                    \
        ORDINARY(g_, x_, s_, out_, i, hi);                                                   \
        _mm_sfence();                                                                        \
    }

#if LRELU_CEILING_SSE2
#define LRELU_CMPGE_SSE_PS(a, b) _mm_cmpge_ps(a, b)
#define LRELU_CMPGE_SSE_PD(a, b) _mm_cmpge_pd(a, b)
LRELU_CEILING_STREAMING(float, lrelu_ceiling_f32_sse2_nt, , __m128, _mm_, ps, LRELU_CMPGE_SSE_PS, lrelu_ceiling_f32)
LRELU_CEILING_STREAMING(double, lrelu_ceiling_f64_sse2_nt, , __m128d, _mm_, pd, LRELU_CMPGE_SSE_PD, lrelu_ceiling_f64)
#endif

#if LRELU_CEILING_DISPATCH
#define LRELU_CMPGE_AVX_PS(a, b) _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define LRELU_CMPGE_AVX_PD(a, b) _mm256_cmp_pd(a, b, _CMP_GE_OQ)
LRELU_CEILING_ORDINARY(float, lrelu_ceiling_f32_avx2, __attribute__((target("avx2"))))
LRELU_CEILING_ORDINARY(double, lrelu_ceiling_f64_avx2, __attribute__((target("avx2"))))
LRELU_CEILING_STREAMING(float, lrelu_ceiling_f32_avx_nt, __attribute__((target("avx"))), __m256, _mm256_, ps,
                        LRELU_CMPGE_AVX_PS, lrelu_ceiling_f32)
LRELU_CEILING_STREAMING(double, lrelu_ceiling_f64_avx_nt, __attribute__((target("avx"))), __m256d, _mm256_, pd,
                        LRELU_CMPGE_AVX_PD, lrelu_ceiling_f64)
#endif

/* The loop for float64 (f64 != 0) or float32, with streaming or ordinary stores: the fastest
 * this CPU runs, its ISA's name in *level; NULL ("n/a") for streaming stores where the CPU
 * has none. */
static lrelu_ceiling_fn lrelu_ceiling_loop(int f64, int streaming, const char **level)
{
#if LRELU_CEILING_DISPATCH
    __builtin_cpu_init();
    if (streaming && __builtin_cpu_supports("avx")) {
        *level = "avx";
        return f64 ? lrelu_ceiling_f64_avx_nt : lrelu_ceiling_f32_avx_nt;
    }
    if (!streaming && __builtin_cpu_supports("avx2")) {
        *level = "avx2";
        return f64 ? lrelu_ceiling_f64_avx2 : lrelu_ceiling_f32_avx2;
    }
#endif
    if (!streaming) {
        *level = "baseline";
        return f64 ? lrelu_ceiling_f64 : lrelu_ceiling_f32;
    }
#if LRELU_CEILING_SSE2
    *level = "sse2";
    return f64 ? lrelu_ceiling_f64_sse2_nt : lrelu_ceiling_f32_sse2_nt;
#else
    *level = "n/a";
    return NULL;
#endif
}

/* One pass over n elements on `threads` threads, a contiguous block each. Blocks are whole
 * multiples of 16 elements (64 or 128 bytes), so no two threads write one cache line. One
 * thread runs without a parallel region at all: that is also safe in a child process forked
 * after the parent used OpenMP, where GNU libgomp would hang (lrelu's own calls run serially
 * there for the same reason). */
static void lrelu_ceiling_pass(lrelu_ceiling_fn fn, const void *g, const void *x, double s, void *out,
                               size_t n, int threads)
{
#ifdef _OPENMP
    if (threads > 1) {
        #pragma omp parallel num_threads(threads)
        {
            size_t count = (size_t)omp_get_num_threads(), me = (size_t)omp_get_thread_num();
            size_t block = ((n + count - 1) / count + 15) / 16 * 16;
            size_t lo = me * block < n ? me * block : n;
            size_t hi = lo + block < n ? lo + block : n;
            fn(g, x, s, out, lo, hi);
        }
        return;
    }
#endif
    fn(g, x, s, out, 0, n);
}

static int lrelu_ceiling_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

#endif
