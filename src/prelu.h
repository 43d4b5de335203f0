/* The fused PReLU backward (src/prelu.c), private to the lrelu._prelu extension.
 *
 * x, grad and out are viewed as C-ordered (outer, channels, inner) arrays, and alpha as one
 * value per channel. One pass writes out = grad * slope(x) and sums grad * x where the slope
 * is alpha, per channel.
 *
 * Determinism: the sum is split into fixed pieces that depend only on the shape, never on
 * the thread count: with inner > 1, each row of `inner` elements in chunks of
 * LRELU_PRELU_BLOCK; with inner == 1 (alpha varies along the contiguous axis), blocks of
 * LRELU_PRELU_BLOCK / channels rows, a sum per column. Each piece is summed serially in
 * LRELU_PRELU_LANES fixed lanes, and the pieces are added in order by lrelu_prelu_reduce.
 * Threads only decide who computes which piece (lrelu_prelu_unit), so any team gives the
 * same bits. */
#ifndef LRELU_SRC_PRELU_H
#define LRELU_SRC_PRELU_H

#include <stddef.h>

#define LRELU_PRELU_BLOCK 8192      /* elements per piece */
#define LRELU_PRELU_LANES 16        /* partial sums within a piece */

/* the data types; the sums are float for half, double for float and double, long double
 * for long double */
enum { LRELU_PRELU_HALF, LRELU_PRELU_FLOAT, LRELU_PRELU_DOUBLE, LRELU_PRELU_LONGDOUBLE };

typedef struct {
    int type;
    int at_zero_alpha;          /* slope(x) = 1 only for x > 0 (PyTorch's convention) */
    ptrdiff_t outer, channels, inner;
    const void *grad, *x;
    const void *alpha;          /* channels values, in the compute type (float for half) */
    void *out;                  /* may be grad or x itself, nothing in between */
    void *sum, *comp;           /* lrelu_prelu_pieces() partial sums and their error terms,
                                   zeroed, in the sum type */
    /* set by lrelu_prelu_prepare */
    ptrdiff_t chunks;           /* inner > 1: pieces per row */
    ptrdiff_t rows_per_block;   /* inner == 1: rows per piece */
    ptrdiff_t units, pieces_per_unit;
} lrelu_prelu_job;

/* Fills in the piece layout; returns the number of partial sums (each of sum and comp). */
ptrdiff_t lrelu_prelu_prepare(lrelu_prelu_job *job);
/* Units of work, 0 .. job->units - 1, in any order, on any thread. */
void lrelu_prelu_unit(const lrelu_prelu_job *job, ptrdiff_t unit);
/* The per-channel totals, in the sum type, after every unit ran. */
void lrelu_prelu_reduce(const lrelu_prelu_job *job, void *totals);
/* Use the loops compiled for this SIMD level (the name src/simd.c chose). */
void lrelu_prelu_select(const char *level);

#endif
