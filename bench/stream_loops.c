/* lrelu's own contiguous loops (src/simd.c), with ordinary and with streaming stores, on the
 * layouts the Python API never streams: in place (out = x) and backward in place (out = g);
 * and out of place (out = f(x), preallocated) beside them for comparison.
 *
 *   stream_loops N float32|float64 THREADS ROUNDS
 *
 * bench/streaming.py builds it (with src/simd.c, -O3 -fno-trapping-math -fopenmp, as setup.py
 * does) and runs it. The loops are called the way kernel() calls them: one contiguous chunk
 * per OpenMP thread, a multiple of 64 elements. Each round times one pass of each variant,
 * ordinary and streaming, in the order A B, then B A in the next round; the figures are
 * medians over rounds, and the ratio is the median of per-round (ordinary / streaming)
 * times, so above 1 streaming is faster. Passes alternate alpha 0.01 and 100 so repeated
 * passes in place leave the values where they were (no decay into subnormals). The arrays
 * are asked for huge pages, as NumPy asks for its large arrays, so the loops run on the same
 * kind of pages as through the API (bench/results/streaming.md compares the two). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <omp.h>

#include "simd.h"

enum { INPLACE, BACKWARD, OUT, N_OPS };
static const char *op_names[N_OPS] = {"inplace", "backward", "out"};

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *huge_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, (size_t)2 << 20, bytes) != 0) {
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One pass over n elements on `threads` threads; returns seconds. */
static double pass(int f64, int op, void *x, void *g, void *y, ptrdiff_t n, int threads,
                   double alpha, int flags)
{
    ptrdiff_t chunk = ((n + threads - 1) / threads + 63) & ~(ptrdiff_t)63;
    double start = omp_get_wtime();
#pragma omp parallel num_threads(threads)
    {
        ptrdiff_t lo = omp_get_thread_num() * chunk, m = n - lo < chunk ? n - lo : chunk;
        if (m > 0) {
            if (f64) {
                double *xs = (double *)x + lo, *gs = (double *)g + lo, *ys = (double *)y + lo;
                if (op == INPLACE) lrelu_contig_double(m, xs, 0, xs, alpha, xs, flags);
                else if (op == BACKWARD) lrelu_contig_double(m, gs, 0, xs, alpha, gs, flags);
                else lrelu_contig_double(m, xs, 0, xs, alpha, ys, flags);
            } else {
                float *xs = (float *)x + lo, *gs = (float *)g + lo, *ys = (float *)y + lo;
                float a = (float)alpha;
                if (op == INPLACE) lrelu_contig_float(m, xs, 0, xs, a, xs, flags);
                else if (op == BACKWARD) lrelu_contig_float(m, gs, 0, xs, a, gs, flags);
                else lrelu_contig_float(m, xs, 0, xs, a, ys, flags);
            }
        }
    }
    return omp_get_wtime() - start;
}

int main(int argc, char **argv)
{
    ptrdiff_t n, i;
    int f64, threads, rounds, op, r, k, passes = 0;
    size_t size;
    void *x, *g, *y;
    double *times[2];
    if (argc != 5) {
        fprintf(stderr, "usage: stream_loops N float32|float64 THREADS ROUNDS\n");
        return 2;
    }
    n = (ptrdiff_t)strtod(argv[1], NULL);
    f64 = strcmp(argv[2], "float64") == 0;
    threads = atoi(argv[3]);
    rounds = atoi(argv[4]);
    size = f64 ? sizeof(double) : sizeof(float);
    x = huge_alloc((size_t)n * size);
    g = huge_alloc((size_t)n * size);
    y = huge_alloc((size_t)n * size);
    times[0] = malloc((size_t)rounds * sizeof(double));
    times[1] = malloc((size_t)rounds * sizeof(double));
    if (!x || !g || !y || !times[0] || !times[1]) {
        fprintf(stderr, "stream_loops: out of memory\n");
        return 1;
    }
    printf("simd %s, streaming loops %s\n", lrelu_simd_init(), lrelu_stream_built() ? "built" : "NOT built");
#pragma omp parallel for schedule(static) num_threads(threads)
    for (i = 0; i < n; i++) {   /* first touch on the threads that will use the pages */
        double v = (double)((long)((unsigned long)i * 2654435761u % 1000) - 500) / 100;
        if (f64) { ((double *)x)[i] = v; ((double *)g)[i] = 1 + v / 1000; ((double *)y)[i] = 0; }
        else { ((float *)x)[i] = (float)v; ((float *)g)[i] = (float)(1 + v / 1000); ((float *)y)[i] = 0; }
    }
    for (op = 0; op < N_OPS; op++) {
        double moved = (double)n * size * (op == BACKWARD ? 3 : 2), ordinary, streaming, ratio;
        double *ratios = malloc((size_t)rounds * sizeof(double));
        for (k = 0; k < 4; k++) {   /* warm-up, untimed, both variants */
            pass(f64, op, x, g, y, n, threads, passes++ % 2 ? 100.0 : 0.01, k % 2 ? LRELU_STREAM : 0);
        }
        for (r = 0; r < rounds; r++) {
            for (k = 0; k < 2; k++) {
                int variant = r % 2 ? 1 - k : k;
                times[variant][r] = pass(f64, op, x, g, y, n, threads, passes++ % 2 ? 100.0 : 0.01,
                                         variant ? LRELU_STREAM : 0);
            }
            ratios[r] = times[0][r] / times[1][r];
        }
        ratio = median(ratios, rounds);
        ordinary = median(times[0], rounds);
        streaming = median(times[1], rounds);
        printf("%-8s %s n=%.0e threads=%d: ordinary %.2f ms %.1f GB/s | streaming %.2f ms %.1f GB/s"
               " | ordinary/streaming %.3f\n", op_names[op], argv[2], (double)n, threads,
               ordinary * 1e3, moved / ordinary / 1e9, streaming * 1e3, moved / streaming / 1e9, ratio);
        fflush(stdout);
        free(ratios);
    }
    return 0;
}
