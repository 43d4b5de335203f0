/* The contiguous loops of float and double, instantiated once per SIMD level from the
 * templates in src/contig.h, and the run-time choice between the levels, for every dtype
 * (src/half.c instantiates the 16-bit formats' loops).
 *
 * A wheel is built for the baseline ISA (SSE2 on x86-64, NEON on aarch64). On x86 gcc and
 * clang also compile copies for AVX2, AVX2 with F16C, AVX-512 (F, BW, VL, DQ) and AVX-512
 * with BF16, and pick one at import with __builtin_cpu_supports and cpuid; what each level
 * gains is measured in bench/simd_levels.py and bench/half.py (BENCHMARKS.md). A level has
 * its own float32/float64 loops only where they measured at least 10 % faster than the level
 * below's; the table at the end says which.
 *
 * The dispatch state lives here: one table per extension that compiles this file
 * (lrelu._kernels for the kernels, lrelu.cli._ceiling for the memory ceiling), each set by
 * lrelu_simd_init from the same CPU and the same LRELU_SIMD, so both pick the same loops.
 */
#include "contig.h"
#include "half.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if LRELU_X86_DISPATCH
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <stdio.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif
#if defined(_MSC_VER)
#include <intrin.h>
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

/* ---- streaming (non-temporal) stores ------------------------------------------------------
 *
 * An ordinary store first reads the cache line it writes (read for ownership), so writing a
 * result that does not fit in the cache moves it twice: a pass out = f(x) moves three arrays'
 * worth of memory, not two. A non-temporal store writes whole lines past the cache, without
 * that read. It pays only when the result would leave the cache anyway: below the threshold
 * (lrelu_stream_min_bytes, a multiple of the last-level cache) the result is better left in
 * the cache for whoever reads it next, and in cache the streaming loop is slower.
 * kernel() in lrelu/_kernels.pyx decides, once per call; the figures are in BENCHMARKS.md,
 * "Streaming stores".
 *
 * The streaming loop (LRELU_DEFINE_STREAM, src/contig.h) computes exactly what the ordinary
 * one does; each body iteration writes one 64-byte cache line.
 *
 * Non-temporal stores are weakly ordered: they may become visible after this thread's later
 * stores. _mm_sfence() before returning orders them before every store that follows, among
 * them the store with which an OpenMP team member announces that it reached the barrier at
 * the end of the parallel region. A thread that sees the barrier complete therefore sees all
 * the results (x86 does not reorder loads with older loads), and so does any thread the
 * caller later hands the array to through a lock or a queue. So each thread fences its own
 * chunk; no fence is needed after the team joins.
 *
 * aarch64 gets no streaming loop, on purpose. The Arm cores that run NumPy (Cortex-A53/A72/
 * A76, Neoverse N1/V1, ...) detect a stream of stores that fill whole cache lines and stop
 * allocating them ("write streaming mode" / "read allocate mode" in their technical
 * reference manuals), so the ordinary NEON loop already skips the read for ownership the x86
 * streaming store exists to avoid. glibc's aarch64 memcpy, likewise, uses plain ldp/stp at
 * every size, where x86 glibc switches to non-temporal stores above a threshold. STNP (the
 * non-temporal pair store, reachable from C only through inline asm) is only a hint, and
 * whether it helps or hurts depends on the core; with no aarch64 hardware here to measure it
 * (QEMU models no caches), it would ship unmeasured, so it does not ship. */

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define LRELU_STREAM_SSE2 1
#include <emmintrin.h>
#else
#define LRELU_STREAM_SSE2 0
#endif
#if LRELU_X86_DISPATCH
#include <immintrin.h>
#endif

static volatile long streamed_chunks = 0;

void lrelu_count_streamed_chunk(void)
{
#if defined(_MSC_VER)
    _InterlockedIncrement(&streamed_chunks);
#else
    __atomic_add_fetch(&streamed_chunks, 1, __ATOMIC_RELAXED);
#endif
}

/* Each level's vector compare and select, named by its width W for LRELU_DEFINE_STREAMS.
 * SSE2 has no blend: its select is (mask & a) | (~mask & b), the same bits. */
#define LRELU_CMP128_GE_PS(a, b) _mm_cmpge_ps(a, b)
#define LRELU_CMP128_GT_PS(a, b) _mm_cmpgt_ps(a, b)
#define LRELU_CMP128_GE_PD(a, b) _mm_cmpge_pd(a, b)
#define LRELU_CMP128_GT_PD(a, b) _mm_cmpgt_pd(a, b)
#define LRELU_SELECT128_PS(mask, a, b) _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b))
#define LRELU_SELECT128_PD(mask, a, b) _mm_or_pd(_mm_and_pd(mask, a), _mm_andnot_pd(mask, b))
#define LRELU_CMP256_GE_PS(a, b) _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define LRELU_CMP256_GT_PS(a, b) _mm256_cmp_ps(a, b, _CMP_GT_OQ)
#define LRELU_CMP256_GE_PD(a, b) _mm256_cmp_pd(a, b, _CMP_GE_OQ)
#define LRELU_CMP256_GT_PD(a, b) _mm256_cmp_pd(a, b, _CMP_GT_OQ)
#define LRELU_SELECT256_PS(mask, a, b) _mm256_blendv_ps(b, a, mask)
#define LRELU_SELECT256_PD(mask, a, b) _mm256_blendv_pd(b, a, mask)

/* The float and double streaming loops of LEVEL, from its W-bit intrinsics (prefix P). */
#define LRELU_DEFINE_STREAMS(LEVEL, ATTRIBUTES, P, W)                                          \
    LRELU_DEFINE_STREAM(float, stream_float_##LEVEL, contig_float_##LEVEL, ATTRIBUTES, __m##W,  \
                        P##loadu_ps, P##set1_ps, P##setzero_ps, LRELU_CMP##W##_GE_PS,          \
                        LRELU_CMP##W##_GT_PS, LRELU_SELECT##W##_PS, P##mul_ps, P##stream_ps)   \
    LRELU_DEFINE_STREAM(double, stream_double_##LEVEL, contig_double_##LEVEL, ATTRIBUTES,      \
                        __m##W##d, P##loadu_pd, P##set1_pd, P##setzero_pd,                     \
                        LRELU_CMP##W##_GE_PD, LRELU_CMP##W##_GT_PD, LRELU_SELECT##W##_PD,      \
                        P##mul_pd, P##stream_pd)

#if LRELU_STREAM_SSE2
LRELU_DEFINE_STREAMS(baseline, , _mm_, 128)
#define STREAM_BASELINE stream_float_baseline, stream_double_baseline
#else
#define STREAM_BASELINE NULL, NULL
#endif

#if LRELU_X86_DISPATCH
LRELU_DEFINE_STREAMS(avx2, LRELU_TARGET_AVX2, _mm256_, 256)
#endif

/* The AVX-512 levels keep AVX2's float32 and float64 loops: 512-bit copies of them (the same
 * templates with LRELU_TARGET_AVX512) fell short of the 10 % above through lrelu's calls in
 * cache, and are memory-bound beyond (bench/simd_levels.py, BENCHMARKS.md), which does not
 * pay for the lower clock some AVX-512 CPUs run 512-bit multiplies at. The 16-bit formats gain
 * far more, as their conversions are the cost. */
#define AVX512_FLOAT_DOUBLE contig_float_avx2, contig_double_avx2
#define AVX512_STREAM stream_float_avx2, stream_double_avx2

/* One row per level, best last; a level is used if the CPU supports it. */
struct simd_level {
    const char *name;
    contig_float_fn contig_float;
    contig_double_fn contig_double;
    lrelu_contig_16_fn contig_half;
    lrelu_contig_16_fn contig_bfloat16;
    contig_float_fn stream_float;       /* NULL: this level has no streaming loop */
    contig_double_fn stream_double;
};

static const struct simd_level levels[] = {
    {"baseline", contig_float_baseline, contig_double_baseline, lrelu_half_baseline,
     lrelu_bfloat16_baseline, STREAM_BASELINE},
#if LRELU_X86_DISPATCH
    /* AVX2 without F16C exists only in emulators and odd VMs, but the flags are separate */
    {"avx2", contig_float_avx2, contig_double_avx2, lrelu_half_baseline, lrelu_bfloat16_avx2,
     stream_float_avx2, stream_double_avx2},
    {"avx2_f16c", contig_float_avx2, contig_double_avx2, lrelu_half_f16c, lrelu_bfloat16_avx2,
     stream_float_avx2, stream_double_avx2},
    {"avx512", AVX512_FLOAT_DOUBLE, lrelu_half_avx512, lrelu_bfloat16_avx512, AVX512_STREAM},
    {"avx512_bf16", AVX512_FLOAT_DOUBLE, lrelu_half_avx512, lrelu_bfloat16_avx512_bf16,
     AVX512_STREAM},
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
    if (strncmp(level, "avx512", 6) == 0) {
        /* __builtin_cpu_supports also checks that the OS saves the ZMM and mask registers.
         * AVX512_BF16 (cpuid leaf 7, subleaf 1, EAX bit 5) read directly, as F16C above. */
        unsigned int eax = 0, ebx, ecx, edx;
        const int f_bw_vl_dq = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                               && __builtin_cpu_supports("avx512vl")
                               && __builtin_cpu_supports("avx512dq") && cpu_supports("avx2_f16c");
        if (strcmp(level, "avx512") == 0) {
            return f_bw_vl_dq;
        }
        return strcmp(level, "avx512_bf16") == 0 && f_bw_vl_dq
               && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 5)) != 0;
    }
#endif
    return 0;
}

/* ---- the last-level cache, and the streaming threshold ------------------------------------- */

/* A call streams when it writes more than half the last-level cache: past that, its input
 * and its result (an out-of-place pass moves at least those two) no longer fit in the cache
 * together, so the result cannot stay there for whoever reads it next, and writing it past
 * the cache saves the read for ownership. Below, streaming loses and evicts a result that
 * could have stayed. On a VM whose L3 is shared with the host's other tenants it can win from
 * a smaller share of the reported cache; a threshold taken from that would lose on a machine
 * whose L3 is its own. Figures: BENCHMARKS.md, "Streaming stores". */
#define STREAM_LLC_DIVISOR 2
#define DEFAULT_LLC_BYTES ((ptrdiff_t)32 << 20)   /* when no source below answers */

static ptrdiff_t llc_bytes = 0;
static const char *llc_source = "default";
static ptrdiff_t stream_min_bytes = DEFAULT_LLC_BYTES / STREAM_LLC_DIVISOR;

#if defined(__linux__)
/* One sysfs value of cpu0's cache indexK: an integer with an optional K/M/G suffix. */
static long long read_cache_value(int index, const char *name)
{
    char path[80];
    char unit = 0;
    long long value = -1;
    FILE *f;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", index, name);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    if (fscanf(f, "%lld%c", &value, &unit) < 1) {
        value = -1;
    }
    fclose(f);
    return unit == 'K' ? value << 10 : unit == 'M' ? value << 20 : unit == 'G' ? value << 30 : value;
}

/* The largest cache of the highest level cpu0 has (instruction caches are level 1). Read
 * before sysconf: glibc's figure comes from CPUID and, on some VMs, is the whole socket's L3
 * where the kernel reports the part this core shares. */
static ptrdiff_t llc_from_sysfs(void)
{
    int index, best_level = 0;
    long long level, size, best = 0;
    for (index = 0; index < 16; index++) {
        level = read_cache_value(index, "level");
        size = read_cache_value(index, "size");
        if (level < 0) {
            break;
        }
        if (size > 0 && (level > best_level || (level == best_level && size > best))) {
            best_level = (int)level;
            best = size;
        }
    }
    return (ptrdiff_t)best;
}
#endif

static ptrdiff_t llc_from_sysconf(void)
{
#if defined(_SC_LEVEL3_CACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
    long size = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (size <= 0) {
        size = sysconf(_SC_LEVEL2_CACHE_SIZE);
    }
    return size > 0 ? (ptrdiff_t)size : 0;
#else
    return 0;
#endif
}

static void find_llc(void)
{
    ptrdiff_t size = 0;
#if defined(__linux__)
    size = llc_from_sysfs();
    llc_source = "sysfs";
#endif
    if (size <= 0) {
        size = llc_from_sysconf();
        llc_source = "sysconf";
    }
    if (size <= 0) {
        llc_source = "default";
    }
    llc_bytes = size > 0 ? size : 0;
    stream_min_bytes = (size > 0 ? size : DEFAULT_LLC_BYTES) / STREAM_LLC_DIVISOR;
}

int lrelu_stream_built(void) { return selected->stream_float != NULL; }
ptrdiff_t lrelu_stream_min_bytes(void) { return stream_min_bytes; }
void lrelu_set_stream_min_bytes(ptrdiff_t nbytes) { stream_min_bytes = nbytes; }
ptrdiff_t lrelu_llc_bytes(void) { return llc_bytes; }
const char *lrelu_llc_source(void) { return llc_source; }

unsigned long lrelu_streamed_chunks(void)
{
#if defined(_MSC_VER)
    return (unsigned long)streamed_chunks;
#else
    return (unsigned long)__atomic_load_n(&streamed_chunks, __ATOMIC_RELAXED);
#endif
}

/* ---- the choice of level -------------------------------------------------------------------- */

const char *lrelu_simd_init(void)
{
    const char *forced = getenv("LRELU_SIMD");
    size_t k;
    find_llc();
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

/* The selected level's loop for type T: its streaming copy where the call asks for streaming
   stores and the level has one, else its ordinary loop. */
#define SELECTED_LOOP(T, flags)                                                                 \
    (((flags) & LRELU_STREAM) && selected->stream_##T != NULL ? selected->stream_##T             \
                                                               : selected->contig_##T)

void lrelu_contig_float(ptrdiff_t n, const float *g, int g_scalar, const float *x, float alpha,
                        float *out, int flags)
{
    SELECTED_LOOP(float, flags)(n, g, g_scalar, x, alpha, out, flags);
}

void lrelu_contig_double(ptrdiff_t n, const double *g, int g_scalar, const double *x,
                         double alpha, double *out, int flags)
{
    SELECTED_LOOP(double, flags)(n, g, g_scalar, x, alpha, out, flags);
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
    return "avx2,avx2_f16c,avx512,avx512_bf16";
#else
    return "";
#endif
}
