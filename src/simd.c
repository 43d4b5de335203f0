/* The contiguous loops of float and double, compiled once per SIMD level, and the run-time
 * choice between the levels, for every dtype (src/half.c has the 16-bit formats' loops).
 *
 * A wheel is built for the baseline ISA (SSE2 on x86-64, NEON on aarch64). On x86 gcc and
 * clang also compile copies for AVX2, and for AVX2 with F16C, and pick one at import with
 * __builtin_cpu_supports and cpuid; the gain is measured in bench/simd_levels.py and
 * bench/half.py (BENCHMARKS.md). There is no AVX-512 level: no machine this project is
 * measured on has AVX-512, and a loop nobody has run does not ship.
 *
 * The dispatch state lives here, in the one extension that compiles this file, so there is
 * exactly one table, set by lrelu_simd_init at import of lrelu._kernels.
 */
#include "contig.h"
#include "half.h"

#include <stdlib.h>
#include <string.h>

#if LRELU_X86_DISPATCH
#include <cpuid.h>
#endif

typedef void (*contig_float_fn)(ptrdiff_t, const float *, int, const float *, float, float *, int);
typedef void (*contig_double_fn)(ptrdiff_t, const double *, int, const double *, double, double *,
                                 int);

LRELU_DEFINE_CONTIG(contig_float_baseline, , float, float, LRELU_AS_IS, LRELU_AS_IS)
LRELU_DEFINE_CONTIG(contig_double_baseline, , double, double, LRELU_AS_IS, LRELU_AS_IS)

#if LRELU_X86_DISPATCH
LRELU_DEFINE_CONTIG(contig_float_avx2, LRELU_TARGET_AVX2, float, float, LRELU_AS_IS, LRELU_AS_IS)
LRELU_DEFINE_CONTIG(contig_double_avx2, LRELU_TARGET_AVX2, double, double, LRELU_AS_IS,
                    LRELU_AS_IS)
#endif

/* One row per level, best last; a level is used if the CPU supports it. */
struct simd_level {
    const char *name;
    contig_float_fn contig_float;
    contig_double_fn contig_double;
    lrelu_contig_16_fn contig_half;
    lrelu_contig_16_fn contig_bfloat16;
};

static const struct simd_level levels[] = {
    {"baseline", contig_float_baseline, contig_double_baseline, lrelu_half_baseline,
     lrelu_bfloat16_baseline},
#if LRELU_X86_DISPATCH
    /* AVX2 without F16C exists only in emulators and odd VMs, but the flags are separate */
    {"avx2", contig_float_avx2, contig_double_avx2, lrelu_half_baseline, lrelu_bfloat16_avx2},
    {"avx2_f16c", contig_float_avx2, contig_double_avx2, lrelu_half_f16c, lrelu_bfloat16_avx2},
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
    if (strcmp(level, "avx2_f16c") == 0) {
        /* cpuid leaf 1, ECX bit 29, read directly: not every gcc and clang release knows
         * "f16c" in __builtin_cpu_supports. The AVX2 check covers the OS saving YMM. */
        unsigned int eax, ebx, ecx, edx;
        return __builtin_cpu_supports("avx2") && __get_cpuid(1, &eax, &ebx, &ecx, &edx)
               && (ecx & bit_F16C) != 0;
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

void lrelu_contig_half(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                       float alpha, uint16_t *out, int flags)
{
    selected->contig_half(n, g, g_scalar, x, alpha, out, flags);
}

void lrelu_contig_bfloat16(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,
                           float alpha, uint16_t *out, int flags)
{
    selected->contig_bfloat16(n, g, g_scalar, x, alpha, out, flags);
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
#elif defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
    return "NEON+FP16";
#elif defined(__ARM_NEON) || defined(__ARM_NEON__) || defined(_M_ARM64)
    return "NEON";
#else
    return "scalar";
#endif
}

const char *lrelu_simd_dispatchable(void)
{
#if LRELU_X86_DISPATCH
    return "avx2,avx2_f16c";
#else
    return "";
#endif
}
