/* The contiguous loops, compiled once per SIMD level, and the run-time choice between them.
 *
 * The loop is written as a select of two constants and an unconditional multiply; gcc
 * vectorizes it once -fno-trapping-math lets it evaluate the comparison on a whole vector
 * (setup.py passes that flag); clang vectorizes it anyway.
 *
 * A wheel is built for the baseline ISA (SSE2 on x86-64, NEON on aarch64). On x86 gcc and
 * clang also compile an AVX2 copy with __attribute__((target)) and pick it at import with
 * __builtin_cpu_supports; the gain is measured in bench/simd_levels.py (BENCHMARKS.md). No
 * ifunc or target_clones: those need glibc (not musl), and Mach-O lacks them. MSVC and
 * non-x86 compilers get the baseline loop only.
 *
 * The dispatch state lives here, in the one extension that compiles this file, so there is
 * exactly one table, set by lrelu_simd_init at import of lrelu._kernels.
 */
#include "simd.h"

#include <stdlib.h>
#include <string.h>

/* gcc runs one vector per iteration unless told to unroll; unrolled by 4, in-cache float64
 * runs about twice as fast (bench/results/simd_levels.log). clang interleaves on its own;
 * MSVC would only warn about the pragma. */
#if defined(__GNUC__) && !defined(__clang__)
#define LRELU_UNROLL _Pragma("GCC unroll 4")
#else
#define LRELU_UNROLL
#endif

/* No restrict: out may equal x or g exactly (in place), and gcc's run-time alias check still
 * takes the vector loop for a distance of zero. The forward reads each element once (g ==
 * x), and ignores LRELU_AT_ZERO_ALPHA: f(0) = 0 either way, but 0 * alpha would turn +0.0
 * into -0.0 for a negative alpha. */
#define LRELU_DEFINE_CONTIG(T, NAME, ATTRIBUTES)                                               \
    ATTRIBUTES static void NAME(ptrdiff_t n, const T *g, int g_scalar, const T *x, T alpha,    \
                                T *out, int flags)                                             \
    {                                                                                          \
        ptrdiff_t i;                                                                           \
        const int gt = flags & LRELU_AT_ZERO_ALPHA;                                            \
        if (g == x && !g_scalar) {                                                             \
            LRELU_UNROLL                                                                       \
            for (i = 0; i < n; i++) { const T v = x[i]; out[i] = LRELU_APPLY(v, v, alpha); }   \
        } else if (g_scalar) {                                                                 \
            const T gv = *g;                                                                   \
            if (gt) {                                                                          \
                LRELU_UNROLL                                                                   \
                for (i = 0; i < n; i++) out[i] = LRELU_APPLY_GT(gv, x[i], alpha);              \
            } else {                                                                           \
                LRELU_UNROLL                                                                   \
                for (i = 0; i < n; i++) out[i] = LRELU_APPLY(gv, x[i], alpha);                 \
            }                                                                                  \
        } else if (gt) {                                                                       \
            LRELU_UNROLL                                                                       \
            for (i = 0; i < n; i++) out[i] = LRELU_APPLY_GT(g[i], x[i], alpha);                \
        } else {                                                                               \
            LRELU_UNROLL                                                                       \
            for (i = 0; i < n; i++) out[i] = LRELU_APPLY(g[i], x[i], alpha);                   \
        }                                                                                      \
    }

typedef void (*contig_float_fn)(ptrdiff_t, const float *, int, const float *, float, float *, int);
typedef void (*contig_double_fn)(ptrdiff_t, const double *, int, const double *, double, double *,
                                 int);

LRELU_DEFINE_CONTIG(float, contig_float_baseline, )
LRELU_DEFINE_CONTIG(double, contig_double_baseline, )

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define LRELU_X86_DISPATCH 1
LRELU_DEFINE_CONTIG(float, contig_float_avx2, __attribute__((target("avx2"))))
LRELU_DEFINE_CONTIG(double, contig_double_avx2, __attribute__((target("avx2"))))
#else
#define LRELU_X86_DISPATCH 0
#endif

/* One row per level, best last; a level is used if the CPU supports it. */
struct simd_level {
    const char *name;
    contig_float_fn contig_float;
    contig_double_fn contig_double;
};

static const struct simd_level levels[] = {
    {"baseline", contig_float_baseline, contig_double_baseline},
#if LRELU_X86_DISPATCH
    {"avx2", contig_float_avx2, contig_double_avx2},
#endif
};
#define N_LEVELS (sizeof levels / sizeof levels[0])

static const struct simd_level *selected = &levels[0];

static int cpu_supports(const char *level)
{
    if (strcmp(level, "baseline") == 0) {
        return 1;
    }
#if LRELU_X86_DISPATCH
    __builtin_cpu_init();
    if (strcmp(level, "avx2") == 0) {
        return __builtin_cpu_supports("avx2");
    }
#endif
    return 0;
}

const char *lrelu_simd_init(void)
{
    const char *forced = getenv("LRELU_SIMD");
    size_t k;
    selected = &levels[0];
    for (k = 0; k < N_LEVELS; k++) {
        if (forced != NULL && *forced != '\0') {
            if (strcmp(forced, levels[k].name) == 0 && cpu_supports(levels[k].name)) {
                selected = &levels[k];
            }
        } else if (cpu_supports(levels[k].name)) {
            selected = &levels[k];
        }
    }
    return selected->name;
}

void lrelu_contig_float(ptrdiff_t n, const float *g, int g_scalar, const float *x, float alpha,
                        float *out, int flags)
{
    selected->contig_float(n, g, g_scalar, x, alpha, out, flags);
}

void lrelu_contig_double(ptrdiff_t n, const double *g, int g_scalar, const double *x,
                         double alpha, double *out, int flags)
{
    selected->contig_double(n, g, g_scalar, x, alpha, out, flags);
}

const char *lrelu_simd_baseline(void)
{
#if defined(__AVX512F__)
    return "AVX512F";
#elif defined(__AVX2__)
    return "AVX2";
#elif defined(__AVX__)
    return "AVX";
#elif defined(__SSE4_2__)
    return "SSE4.2";
#elif defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
    return "SSE2";
#elif defined(__ARM_NEON) || defined(__ARM_NEON__) || defined(_M_ARM64)
    return "NEON";
#else
    return "scalar";
#endif
}

const char *lrelu_simd_dispatchable(void)
{
#if LRELU_X86_DISPATCH
    return "avx2";
#else
    return "";
#endif
}
