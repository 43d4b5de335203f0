/* The fused PReLU backward: grad_x and the per-channel alpha gradient in one pass.
 *
 * Every element is read once: out = g * slope(x) (the same formula as the backward ufunc,
 * src/simd.h, so grad_x has its bits), and g * x is added to its channel's sum where the
 * slope is alpha (x < 0 or NaN; with at_zero_alpha also +-0, which adds +-0, or NaN when g
 * is inf or NaN, as PyTorch's does). The product is formed in the sum type: exact for half
 * (in float) and float (in double).
 *
 * Sums: float (half data) and double (double data) and long double keep a compensated sum
 * per lane (Knuth's TwoSum: the rounding error of every addition is added up beside it, and
 * the two are combined at the end, so the result is as if summed in twice the precision);
 * float data sums in plain double, which is exact enough (products are exact, and a float
 * result keeps 24 of double's 53 bits). The running sum itself is the plain sum, so an inf
 * or NaN among the products comes out as the plain sum would give it, not as the NaN that
 * inf - inf makes of the error term.
 *
 * Lanes are explicit arrays indexed by element position, so the bits do not depend on how
 * the compiler vectorizes: gcc turns the lane loops into vector code (SLP) without
 * reassociating anything. Like src/simd.c, float and double are also compiled for AVX2 and
 * picked at run time; the level is the one src/simd.c chose (lrelu_prelu_select). */
#include "prelu.h"

#include <string.h>

#include "lrelu_half.h"

#define BLOCK LRELU_PRELU_BLOCK
#define L LRELU_PRELU_LANES

#define SAME(v) (v)
#define HALF_IN(v) lrelu_half_to_float(v)
#define HALF_OUT(v) lrelu_float_to_half(v)

/* s += t, keeping the rounding error in c (TwoSum), or not */
#define ADD_TWOSUM(AT, s, c, t)                                                                \
    do {                                                                                       \
        const AT t_ = (t), u_ = (s) + t_, b_ = u_ - (s);                                       \
        (c) += ((s) - (u_ - b_)) + (t_ - b_);                                                  \
        (s) = u_;                                                                              \
    } while (0)
#define ADD_PLAIN(AT, s, c, t) ((s) += (t))

/* One contiguous run of n elements with one alpha: its sum and error into *sum, *comp.
 * Each group of L elements is loaded before any is stored, so out may be g or x itself. */
#define ROW_LOOP(ST, CT, AT, IN, OUT, ADD, CMP)                                                \
    for (; i + L <= n; i += L) {                                                               \
        CT gv[L], xv[L];                                                                       \
        for (j = 0; j < L; j++) {                                                              \
            gv[j] = IN(g[i + j]);                                                              \
            xv[j] = IN(x[i + j]);                                                              \
        }                                                                                      \
        for (j = 0; j < L; j++) {                                                              \
            const int pos = xv[j] CMP 0;                                                       \
            out[i + j] = OUT(gv[j] * (pos ? (CT)1 : alpha));                                   \
            ADD(AT, s[j], c[j], pos ? (AT)0 : (AT)gv[j] * (AT)xv[j]);                          \
        }                                                                                      \
    }                                                                                          \
    for (j = 0; i < n; i++, j++) {                                                             \
        const CT gv = IN(g[i]), xv = IN(x[i]);                                                 \
        const int pos = xv CMP 0;                                                              \
        out[i] = OUT(gv * (pos ? (CT)1 : alpha));                                              \
        ADD(AT, s[j], c[j], pos ? (AT)0 : (AT)gv * (AT)xv);                                    \
    }

#define DEFINE_ROW(NAME, ST, CT, AT, IN, OUT, ADD, ATTRIBUTES)                                 \
    ATTRIBUTES static void NAME(ptrdiff_t n, const ST *g, const ST *x, CT alpha, ST *out,      \
                                int gt, AT *sum, AT *comp)                                     \
    {                                                                                          \
        AT s[L], c[L], total = 0, error = 0;                                                   \
        ptrdiff_t i = 0;                                                                       \
        int j;                                                                                 \
        for (j = 0; j < L; j++) {                                                              \
            s[j] = 0;                                                                          \
            c[j] = 0;                                                                          \
        }                                                                                      \
        if (gt) {                                                                              \
            ROW_LOOP(ST, CT, AT, IN, OUT, ADD, >)                                              \
        } else {                                                                               \
            ROW_LOOP(ST, CT, AT, IN, OUT, ADD, >=)                                             \
        }                                                                                      \
        for (j = 0; j < L; j++) {                                                              \
            ADD_TWOSUM(AT, total, error, s[j]);                                                \
            error += c[j];                                                                     \
        }                                                                                      \
        *sum = total;                                                                          \
        *comp = error;                                                                         \
    }

/* rows x cols elements, rows `stride` apart, alpha per column: sums per column. */
#define COLS_LOOP(ST, CT, AT, IN, OUT, ADD, CMP)                                               \
    for (r = 0; r < rows; r++) {                                                               \
        const ST *gr = g + r * stride, *xr = x + r * stride;                                   \
        ST *outr = out + r * stride;                                                           \
        for (k = 0; k < cols; k++) {                                                           \
            const CT gv = IN(gr[k]), xv = IN(xr[k]);                                           \
            const int pos = xv CMP 0;                                                          \
            outr[k] = OUT(gv * (pos ? (CT)1 : alpha[k]));                                      \
            ADD(AT, sum[k], comp[k], pos ? (AT)0 : (AT)gv * (AT)xv);                           \
        }                                                                                      \
    }

#define DEFINE_COLS(NAME, ST, CT, AT, IN, OUT, ADD, ATTRIBUTES)                                \
    ATTRIBUTES static void NAME(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t stride, const ST *g,  \
                                const ST *x, const CT *restrict alpha, ST *out, int gt,        \
                                AT *restrict sum, AT *restrict comp)                           \
    {                                                                                          \
        ptrdiff_t r, k;                                                                        \
        if (gt) {                                                                              \
            COLS_LOOP(ST, CT, AT, IN, OUT, ADD, >)                                             \
        } else {                                                                               \
            COLS_LOOP(ST, CT, AT, IN, OUT, ADD, >=)                                            \
        }                                                                                      \
    }

typedef void (*row_float_fn)(ptrdiff_t, const float *, const float *, float, float *, int,
                             double *, double *);
typedef void (*cols_float_fn)(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *, const float *,
                              const float *, float *, int, double *, double *);
typedef void (*row_double_fn)(ptrdiff_t, const double *, const double *, double, double *, int,
                              double *, double *);
typedef void (*cols_double_fn)(ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *, const double *,
                               const double *, double *, int, double *, double *);

DEFINE_ROW(row_float_baseline, float, float, double, SAME, SAME, ADD_PLAIN, )
DEFINE_COLS(cols_float_baseline, float, float, double, SAME, SAME, ADD_PLAIN, )
DEFINE_ROW(row_double_baseline, double, double, double, SAME, SAME, ADD_TWOSUM, )
DEFINE_COLS(cols_double_baseline, double, double, double, SAME, SAME, ADD_TWOSUM, )
/* No vector loops for these: half converts element by element, long double is x87. */
DEFINE_ROW(row_half, lrelu_half, float, float, HALF_IN, HALF_OUT, ADD_TWOSUM, )
DEFINE_COLS(cols_half, lrelu_half, float, float, HALF_IN, HALF_OUT, ADD_TWOSUM, )
DEFINE_ROW(row_longdouble, long double, long double, long double, SAME, SAME, ADD_TWOSUM, )
DEFINE_COLS(cols_longdouble, long double, long double, long double, SAME, SAME, ADD_TWOSUM, )

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define LRELU_X86_DISPATCH 1
#define AVX2 __attribute__((target("avx2")))
DEFINE_ROW(row_float_avx2, float, float, double, SAME, SAME, ADD_PLAIN, AVX2)
DEFINE_COLS(cols_float_avx2, float, float, double, SAME, SAME, ADD_PLAIN, AVX2)
DEFINE_ROW(row_double_avx2, double, double, double, SAME, SAME, ADD_TWOSUM, AVX2)
DEFINE_COLS(cols_double_avx2, double, double, double, SAME, SAME, ADD_TWOSUM, AVX2)
#else
#define LRELU_X86_DISPATCH 0
#endif

static row_float_fn row_float = row_float_baseline;
static cols_float_fn cols_float = cols_float_baseline;
static row_double_fn row_double = row_double_baseline;
static cols_double_fn cols_double = cols_double_baseline;

void lrelu_prelu_select(const char *level)
{
    row_float = row_float_baseline;
    cols_float = cols_float_baseline;
    row_double = row_double_baseline;
    cols_double = cols_double_baseline;
#if LRELU_X86_DISPATCH
    if (strcmp(level, "avx2") == 0) {
        row_float = row_float_avx2;
        cols_float = cols_float_avx2;
        row_double = row_double_avx2;
        cols_double = cols_double_avx2;
    }
#else
    (void)level;
#endif
}

static ptrdiff_t min_size(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static ptrdiff_t ceil_div(ptrdiff_t a, ptrdiff_t b) { return (a + b - 1) / b; }

/* inner == 1: pieces are (block of rows, block of columns); the partial sums are one per
 * (block of rows, column), so splitting the columns changes no sum. */
static ptrdiff_t col_blocks(const lrelu_prelu_job *job) { return ceil_div(job->channels, BLOCK); }

ptrdiff_t lrelu_prelu_prepare(lrelu_prelu_job *job)
{
    ptrdiff_t row_blocks;
    if (job->inner > 1) {
        job->chunks = ceil_div(job->inner, BLOCK);
        job->rows_per_block = 0;
        job->pieces_per_unit = BLOCK / min_size(job->inner, BLOCK);
        job->units = ceil_div(job->outer * job->channels * job->chunks, job->pieces_per_unit);
        return job->outer * job->channels * job->chunks;
    }
    job->chunks = 0;
    job->rows_per_block = job->channels >= BLOCK ? 1 : BLOCK / job->channels;
    row_blocks = ceil_div(job->outer, job->rows_per_block);
    job->pieces_per_unit = 1;
    job->units = row_blocks * col_blocks(job);
    return row_blocks * job->channels;
}

#define DEFINE_UNIT(NAME, ST, CT, AT, ROW, COLS)                                               \
    static void NAME(const lrelu_prelu_job *job, ptrdiff_t unit)                               \
    {                                                                                          \
        const ST *g = (const ST *)job->grad, *x = (const ST *)job->x;                          \
        const CT *alpha = (const CT *)job->alpha;                                              \
        ST *out = (ST *)job->out;                                                              \
        AT *sum = (AT *)job->sum, *comp = (AT *)job->comp;                                     \
        ptrdiff_t p, first, last, row, lo, offset, rb, cb, c0;                                 \
        if (job->inner > 1) {                                                                  \
            first = unit * job->pieces_per_unit;                                               \
            last = min_size(first + job->pieces_per_unit,                                      \
                            job->outer * job->channels * job->chunks);                         \
            for (p = first; p < last; p++) {                                                   \
                row = p / job->chunks;                                                         \
                lo = (p % job->chunks) * BLOCK;                                                \
                offset = row * job->inner + lo;                                                \
                ROW(min_size(BLOCK, job->inner - lo), g + offset, x + offset,                  \
                    alpha[row % job->channels], out + offset, job->at_zero_alpha, &sum[p],     \
                    &comp[p]);                                                                 \
            }                                                                                  \
        } else {                                                                               \
            rb = unit / col_blocks(job);                                                       \
            cb = unit % col_blocks(job);                                                       \
            row = rb * job->rows_per_block;                                                    \
            c0 = cb * BLOCK;                                                                   \
            offset = row * job->channels + c0;                                                 \
            COLS(min_size(job->rows_per_block, job->outer - row),                              \
                 min_size(BLOCK, job->channels - c0), job->channels, g + offset, x + offset,   \
                 alpha + c0, out + offset, job->at_zero_alpha, sum + rb * job->channels + c0,  \
                 comp + rb * job->channels + c0);                                              \
        }                                                                                      \
    }

DEFINE_UNIT(unit_half, lrelu_half, float, float, row_half, cols_half)
DEFINE_UNIT(unit_float, float, float, double, row_float, cols_float)
DEFINE_UNIT(unit_double, double, double, double, row_double, cols_double)
DEFINE_UNIT(unit_longdouble, long double, long double, long double, row_longdouble,
            cols_longdouble)

void lrelu_prelu_unit(const lrelu_prelu_job *job, ptrdiff_t unit)
{
    switch (job->type) {
    case LRELU_PRELU_HALF: unit_half(job, unit); break;
    case LRELU_PRELU_FLOAT: unit_float(job, unit); break;
    case LRELU_PRELU_DOUBLE: unit_double(job, unit); break;
    default: unit_longdouble(job, unit); break;
    }
}

/* The pieces of each channel in a fixed order (the order of the elements), compensated;
 * a non-finite plain sum is returned as it is (x - x == 0 holds only for finite x). */
#define DEFINE_REDUCE(NAME, AT)                                                                \
    static void NAME(const lrelu_prelu_job *job, AT *totals)                                   \
    {                                                                                          \
        const AT *sum = (const AT *)job->sum, *comp = (const AT *)job->comp;                   \
        ptrdiff_t ch, o, k, p, rb, row_blocks;                                                 \
        for (ch = 0; ch < job->channels; ch++) {                                               \
            AT total = 0, error = 0;                                                           \
            if (job->inner > 1) {                                                              \
                for (o = 0; o < job->outer; o++) {                                             \
                    for (k = 0; k < job->chunks; k++) {                                        \
                        p = (o * job->channels + ch) * job->chunks + k;                        \
                        ADD_TWOSUM(AT, total, error, sum[p]);                                  \
                        error += comp[p];                                                      \
                    }                                                                          \
                }                                                                              \
            } else {                                                                           \
                row_blocks = ceil_div(job->outer, job->rows_per_block);                        \
                for (rb = 0; rb < row_blocks; rb++) {                                          \
                    p = rb * job->channels + ch;                                               \
                    ADD_TWOSUM(AT, total, error, sum[p]);                                      \
                    error += comp[p];                                                          \
                }                                                                              \
            }                                                                                  \
            totals[ch] = total - total == 0 ? total + error : total;                           \
        }                                                                                      \
    }

DEFINE_REDUCE(reduce_float, float)
DEFINE_REDUCE(reduce_double, double)
DEFINE_REDUCE(reduce_longdouble, long double)

void lrelu_prelu_reduce(const lrelu_prelu_job *job, void *totals)
{
    switch (job->type) {
    case LRELU_PRELU_HALF: reduce_float(job, (float *)totals); break;
    case LRELU_PRELU_FLOAT:
    case LRELU_PRELU_DOUBLE: reduce_double(job, (double *)totals); break;
    default: reduce_longdouble(job, (long double *)totals); break;
    }
}
