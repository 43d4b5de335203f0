/* The one source of every contiguous loop: templates that src/simd.c (float, double) and
 * src/half.c (the 16-bit formats) instantiate once per SIMD level, each instance compiled
 * for its level with __attribute__((target)), as NumPy compiles one dispatch source per
 * target. A level contributes only its primitives (load, store, compare, select, convert);
 * the loop itself, its order of operations, its head and tail, are written once here, so
 * the AVX-512 loops cannot drift from the AVX2 or baseline ones. Private to the extensions
 * that compile src/simd.c (lrelu._kernels, and lrelu.cli._ceiling for the memory ceiling).
 */
#ifndef LRELU_SRC_CONTIG_H
#define LRELU_SRC_CONTIG_H

#include "simd.h"

#include <stdint.h>
#include <string.h>

/* gcc runs one vector per iteration unless told to unroll; unrolled by 4, in-cache float64
 * runs about twice as fast (bench/results/simd_levels.log). clang interleaves on its own;
 * MSVC would only warn about the pragma. */
#if defined(__GNUC__) && !defined(__clang__)
#define LRELU_UNROLL _Pragma("GCC unroll 4")
#define LRELU_UNROLL2 _Pragma("GCC unroll 2")
#else
#define LRELU_UNROLL
#define LRELU_UNROLL2
#endif

#define LRELU_AS_IS(v) (v)

/* How far ahead the 16-bit loops prefetch, in bytes. A conversion costs several vector
 * instructions per element, so the out-of-order window holds only a few cache lines of a
 * 16-bit loop, too few to cover memory latency where the hardware prefetcher does not run
 * far enough ahead (it stops at every 4 KiB page; under a hypervisor it may do less): there
 * the 16-bit loops ran far below the float32 loop over the same bytes, and software
 * prefetches closed the gap (BENCHMARKS.md, "float16 and bfloat16"). Prefetches never fault,
 * so the ones past the end of an array are harmless. */
#define LRELU_PREFETCH_BYTES 2048
/* Every cache line of `count` elements at p (an iteration of a 16-bit loop: one line
 * for AVX2, two for AVX-512), for writing (rw 1) or reading (rw 0). */
#define LRELU_PREFETCH_LINES(p, count, rw)                                                      \
    do {                                                                                        \
        size_t line_;                                                                           \
        for (line_ = 0; line_ < (size_t)(count) * sizeof *(p); line_ += 64) {                   \
            __builtin_prefetch((const char *)(p) + line_, (rw), 3);                             \
        }                                                                                       \
    } while (0)

/* The x86 levels: gcc and clang compile copies for them with __attribute__((target)) and
 * src/simd.c picks one at import. No ifunc or target_clones: those need glibc (not musl),
 * and Mach-O lacks them. MSVC and non-x86 compilers get the baseline loops only.
 * avx512 is F+BW+VL+DQ (every AVX-512 CPU since Skylake-SP and Zen 4 has all four);
 * avx512_bf16 adds AVX512_BF16's vcvtne2ps2bf16 for the bfloat16 rounding (src/half.c). */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define LRELU_X86_DISPATCH 1
#define LRELU_TARGET_AVX2 __attribute__((target("avx2")))
#define LRELU_TARGET_AVX2_F16C __attribute__((target("avx2,f16c")))
#if defined(__clang__)
#define LRELU_TARGET_AVX512 \
    __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")))
#define LRELU_TARGET_AVX512_BF16 \
    __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#else
/* gcc's generic tuning may prefer 256-bit vectors even where AVX-512 is enabled */
#define LRELU_TARGET_AVX512 __attribute__((target( \
    "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq,prefer-vector-width=512")))
#define LRELU_TARGET_AVX512_BF16 __attribute__((target( \
    "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,prefer-vector-width=512")))
#endif
#else
#define LRELU_X86_DISPATCH 0
#endif

/* ---- The scalar loop, vectorized by the compiler ---------------------------------------
 *
 * A loop over elements of type T computed in type C: LOAD widens one element to C, STORE
 * rounds a C result back to T (both LRELU_AS_IS for float and double). alpha is already a C.
 * Written as a select of two constants and an unconditional multiply; gcc vectorizes it once
 * -fno-trapping-math lets it evaluate the comparison on a whole vector (setup.py passes that
 * flag); clang vectorizes it anyway.
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

/* ---- The streaming-store loop (src/simd.c says when and why it runs) --------------------
 *
 * It computes exactly what the ordinary one does: the same compare (ordered x >= 0, or
 * x > 0), the same select of 1 or alpha, the same multiply g * slope; the unaligned head and
 * the tail are the ordinary loop itself. Each body iteration writes one 64-byte cache line,
 * so every line leaves the write-combining buffer whole; _mm_sfence() orders the streamed
 * stores before every later store of this thread (src/simd.c has the argument).
 * VEC holds some values of T; the other arguments are the intrinsics of the level; SELECT
 * takes what CMP_GE/CMP_GT give (a vector mask, or an AVX-512 mask register). */
#define LRELU_LINE 64   /* bytes in a cache line */

#define LRELU_DEFINE_STREAM(T, NAME, ORDINARY, ATTRIBUTES, VEC, LOADU, SET1, ZERO, CMP_GE,       \
                            CMP_GT, SELECT, MUL, STORE_NT)                                        \
    ATTRIBUTES static void NAME(ptrdiff_t n, const T *g, int g_scalar, const T *x, T alpha,      \
                                T *out, int flags)                                               \
    {                                                                                            \
        const ptrdiff_t lanes = (ptrdiff_t)(sizeof(VEC) / sizeof(T));                            \
        const ptrdiff_t per_line = LRELU_LINE / (ptrdiff_t)sizeof(T);                            \
        const int plain = flags & ~LRELU_STREAM;                                                 \
        const int forward = g == x && !g_scalar;                                                 \
        const int gt = (flags & LRELU_AT_ZERO_ALPHA) && !forward;                                \
        ptrdiff_t head, body, i, k;                                                              \
        if ((uintptr_t)out % sizeof(T) != 0) {      /* can never reach a line boundary */        \
            ORDINARY(n, g, g_scalar, x, alpha, out, plain);                                      \
            return;                                                                              \
        }                                                                                        \
        head = (ptrdiff_t)((LRELU_LINE - (uintptr_t)out % LRELU_LINE) % LRELU_LINE / sizeof(T)); \
        if (head > n) {                                                                          \
            head = n;                                                                            \
        }                                                                                        \
        ORDINARY(head, g, g_scalar, x, alpha, out, plain);                                       \
        x += head;                                                                               \
        out += head;                                                                             \
        g = g_scalar ? g : g + head;                                                             \
        body = (n - head) / per_line * per_line;                                                 \
        {                                                                                        \
            const VEC one = SET1((T)1), slope_neg = SET1(alpha), zero = ZERO();                  \
            const VEC g_all = SET1(g_scalar ? *g : (T)0);                                        \
            for (i = 0; i < body; i += per_line) {                                               \
                for (k = i; k < i + per_line; k += lanes) {                                      \
                    const VEC v = LOADU(x + k);                                                  \
                    const VEC gv = forward ? v : g_scalar ? g_all : LOADU(g + k);                \
                    const VEC slope = gt ? SELECT(CMP_GT(v, zero), one, slope_neg)               \
                                         : SELECT(CMP_GE(v, zero), one, slope_neg);              \
                    STORE_NT(out + k, MUL(gv, slope));                                           \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        ORDINARY(n - head - body, g_scalar ? g : g + body, g_scalar, x + body, alpha,            \
                 out + body, plain);                                                             \
        _mm_sfence();                                                                            \
        lrelu_count_streamed_chunk();                                                            \
    }

/* ---- The 16-bit loops: one register of 16-bit elements at a time ------------------------
 *
 * A level gives, for its format:
 *   V                 float32 values (or whatever type the product is computed in)
 *   BLOCK             elements of the format in one load
 *   LOAD2(p, lo, hi)  BLOCK elements from memory, widened into two V, in any order the
 *                     level likes (in-lane unpacking is cheapest), as long as STORE2 undoes it
 *   STORE2(p, lo, hi, nan_alpha)  the two V rounded to the format, in LOAD2's order, and
 *                     stored; nan_alpha is 0 when alpha is not NaN (below)
 *   SPLAT(f)          a float (alpha, 1, a scalar g widened by WIDEN) in every lane
 *   APPLY(g, x, alpha, gt)  g * slope(x), slope(x) = 1 if x >= 0 (x > 0 with gt) else alpha
 * Every operation is elementwise, so the order LOAD2 chooses is invisible in the result.
 *
 * kind: 0 the forward (g is x), 1 one g for every element (the derivative), 2 g an array
 * (the backward). kind and gt are constants at every call of NAME##_run, so each of the five
 * loops is compiled with its own compare and no branch inside. The head before the first
 * vector-aligned store (so that no store splits a cache line) and what is left after the
 * last pair of blocks run in a zero-padded buffer, a block at a time, so every element takes
 * the same instructions (and raises the same flags) whatever its position. Each iteration of
 * the main loop loads two blocks before storing either and prefetches LRELU_PREFETCH_BYTES
 * ahead (above).
 *
 * NAN_ALPHA_APART (1 or 0): whether the format's rounding can be cheaper when alpha is not
 * NaN; then every loop is compiled twice, and STORE2 gets nan_alpha = 0 or 1 as a constant
 * (with 0, always nan_alpha = 1: a STORE2 that tests NaN lanes keeps testing them).
 * bfloat16 can: every product is a multiply by 1 or alpha of a value widened from bfloat16,
 * whose low 16 bits are 0, and x86 and Arm return a NaN operand (quieted) as the product, or
 * the default NaN, so with alpha not NaN no NaN product has a low bit set, the round-to-
 * nearest-even carry cannot reach the exponent, and the NaN test of every lane can go. A NaN
 * alpha's own payload has low bits, so that case keeps the test. */
#define LRELU_DEFINE_VEC16(NAME, ATTRIBUTES, V, BLOCK, LOAD2, STORE2, SPLAT, APPLY, WIDEN,      \
                           NAN_ALPHA_APART)                                                     \
    /* count <= BLOCK elements through a zero-padded block */                                   \
    static inline __attribute__((always_inline)) ATTRIBUTES void NAME##_part(                   \
        ptrdiff_t count, const uint16_t *g, const uint16_t *x, V a, V g0, uint16_t *out,        \
        const int kind, const int gt, const int nan_alpha)                                      \
    {                                                                                           \
        uint16_t xs[BLOCK] = {0}, gs[BLOCK] = {0}, os[BLOCK];                                   \
        V xl, xh, gl, gh;                                                                       \
        memcpy(xs, x, (size_t)count * sizeof *x);                                               \
        LOAD2(xs, xl, xh);                                                                      \
        if (kind == 2) {                                                                        \
            memcpy(gs, g, (size_t)count * sizeof *g);                                           \
            LOAD2(gs, gl, gh);                                                                  \
        } else {                                                                                \
            gl = kind == 0 ? xl : g0;                                                           \
            gh = kind == 0 ? xh : g0;                                                           \
        }                                                                                       \
        STORE2(os, APPLY(gl, xl, a, gt), APPLY(gh, xh, a, gt), nan_alpha);                      \
        memcpy(out, os, (size_t)count * sizeof *out);                                           \
    }                                                                                           \
    static inline __attribute__((always_inline)) ATTRIBUTES void NAME##_run(                    \
        ptrdiff_t n, const uint16_t *g, const uint16_t *x, float alpha, uint16_t *out,          \
        const int kind, const int gt, const int nan_alpha)                                      \
    {                                                                                           \
        const V a = SPLAT(alpha);                                                               \
        const V g0 = SPLAT(kind == 1 ? WIDEN(*g) : 0.0f);                                       \
        const size_t vector = (BLOCK) * sizeof *out;                                            \
        const ptrdiff_t ahead = LRELU_PREFETCH_BYTES / (ptrdiff_t)sizeof *out;                  \
        ptrdiff_t i = 0;                                                                        \
        V xl, xh, gl, gh, xl1, xh1, gl1, gh1;                                                   \
        if ((uintptr_t)out % sizeof *out == 0 && (uintptr_t)out % vector != 0) {                \
            i = (ptrdiff_t)((vector - (uintptr_t)out % vector) / sizeof *out);                  \
            i = i < n ? i : n;                                                                  \
            NAME##_part(i, g, x, a, g0, out, kind, gt, nan_alpha);                              \
        }                                                                                       \
        for (; i + 2 * (BLOCK) <= n; i += 2 * (BLOCK)) {                                        \
            LRELU_PREFETCH_LINES(out + i + ahead, 2 * (BLOCK), 1);                              \
            if (x != out) {                                                                     \
                LRELU_PREFETCH_LINES(x + i + ahead, 2 * (BLOCK), 0);                            \
            }                                                                                   \
            LOAD2(x + i, xl, xh);                                                               \
            LOAD2(x + i + (BLOCK), xl1, xh1);                                                   \
            if (kind == 2) {                                                                    \
                if (g != out) {                                                                 \
                    LRELU_PREFETCH_LINES(g + i + ahead, 2 * (BLOCK), 0);                        \
                }                                                                               \
                LOAD2(g + i, gl, gh);                                                           \
                LOAD2(g + i + (BLOCK), gl1, gh1);                                               \
            } else {                                                                            \
                gl = kind == 0 ? xl : g0;                                                       \
                gh = kind == 0 ? xh : g0;                                                       \
                gl1 = kind == 0 ? xl1 : g0;                                                     \
                gh1 = kind == 0 ? xh1 : g0;                                                     \
            }                                                                                   \
            STORE2(out + i, APPLY(gl, xl, a, gt), APPLY(gh, xh, a, gt), nan_alpha);             \
            STORE2(out + i + (BLOCK), APPLY(gl1, xl1, a, gt), APPLY(gh1, xh1, a, gt),           \
                   nan_alpha);                                                                  \
        }                                                                                       \
        for (; i < n; i += (BLOCK)) {   /* the last one or two blocks, padded */                \
            NAME##_part(n - i < (BLOCK) ? n - i : (BLOCK), kind == 2 ? g + i : g, x + i, a, g0, \
                        out + i, kind, gt, nan_alpha);                                          \
        }                                                                                       \
    }                                                                                           \
    static inline __attribute__((always_inline)) ATTRIBUTES void NAME##_kinds(                  \
        ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x, float alpha,           \
        uint16_t *out, const int gt, const int nan_alpha)                                       \
    {                                                                                           \
        if (g == x && !g_scalar) {                                                              \
            NAME##_run(n, g, x, alpha, out, 0, 0, nan_alpha);   /* the forward ignores gt */    \
        } else if (g_scalar) {                                                                  \
            if (gt) {                                                                           \
                NAME##_run(n, g, x, alpha, out, 1, 1, nan_alpha);                               \
            } else {                                                                            \
                NAME##_run(n, g, x, alpha, out, 1, 0, nan_alpha);                               \
            }                                                                                   \
        } else if (gt) {                                                                        \
            NAME##_run(n, g, x, alpha, out, 2, 1, nan_alpha);                                   \
        } else {                                                                                \
            NAME##_run(n, g, x, alpha, out, 2, 0, nan_alpha);                                   \
        }                                                                                       \
    }                                                                                           \
    ATTRIBUTES void NAME(ptrdiff_t n, const uint16_t *g, int g_scalar, const uint16_t *x,       \
                         float alpha, uint16_t *out, int flags)                                 \
    {                                                                                           \
        const int gt = flags & LRELU_AT_ZERO_ALPHA;                                             \
        if (!(NAN_ALPHA_APART) || alpha != alpha) {   /* 1: every lane's NaN test kept */      \
            NAME##_kinds(n, g, g_scalar, x, alpha, out, gt, 1);                                 \
        } else {                                                                                \
            NAME##_kinds(n, g, g_scalar, x, alpha, out, gt, 0);                                 \
        }                                                                                       \
    }

#define LRELU_VEC_INLINE static inline __attribute__((always_inline))

/* Defined in src/simd.c: counts loop runs that streamed (tests read it). */
void lrelu_count_streamed_chunk(void);

#endif
