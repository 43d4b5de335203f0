# cython: boundscheck=False, wraparound=False
"""The passes of `lrelu bench`'s memory ceiling: lrelu's own contiguous loops (src/simd.c and
src/half.c, compiled into this module from the same templates as the kernels, at the same
SIMD level: LRELU_SIMD and the CPU choose it the same way) run over whole arrays on a fixed
number of threads, with ordinary or with streaming (non-temporal) stores.

Every pass is out = g * slope(x), the shape of all of lrelu's calls (the forward: g is x).
An ordinary store first reads the cache line it writes (write-allocate), so a loop writing a
whole array moves those bytes twice; a streaming store goes past the cache and skips that
read, but leaves the result out of the cache. Which is faster depends on the machine, so the
ceiling measures both. The thread count is the caller's, not the planner's: the ceiling is
measured on one thread and on every thread."""

from cython.parallel cimport prange

cdef extern from "simd.h" nogil:
    enum:
        LRELU_STREAM
    void lrelu_contig_float(Py_ssize_t n, const float *g, int g_scalar, const float *x,
                            float alpha, float *out, int flags)
    void lrelu_contig_double(Py_ssize_t n, const double *g, int g_scalar, const double *x,
                             double alpha, double *out, int flags)
    const char *lrelu_simd_init()
    int lrelu_stream_built()

cdef extern from *:
    """
    #ifdef _OPENMP
    #define LRELU_CEILING_OPENMP 1
    #else
    #define LRELU_CEILING_OPENMP 0
    #endif
    """
    int LRELU_CEILING_OPENMP

ctypedef fused real:
    float
    double

_LEVEL = lrelu_simd_init().decode()


def stores():
    """{"ordinary": the SIMD level of the ordinary-store loop, "streaming": the level of the
    streaming-store loop or None where the loops have none (not x86), "openmp": whether passes
    can use several threads}."""
    return {"ordinary": _LEVEL, "streaming": _LEVEL if lrelu_stream_built() else None,
            "openmp": bool(LRELU_CEILING_OPENMP)}


cdef inline void _block(const real *g, const real *x, double s, real *out, Py_ssize_t n,
                        int flags) noexcept nogil:
    if real is float:
        lrelu_contig_float(n, g, 0, x, <float>s, out, flags)
    else:
        lrelu_contig_double(n, g, 0, x, s, out, flags)


def run_pass(real[::1] g, real[::1] x, real[::1] out, double s, bint streaming, int threads):
    """out = g * (x >= 0 ? 1 : s) over whole contiguous arrays of one dtype, without the GIL;
    out may be g or x. One contiguous block per thread, a whole multiple of 16 elements (64 or
    128 bytes), so no two threads write one cache line. One thread runs without a parallel
    region: that is also safe in a child forked after the parent used OpenMP, where GNU
    libgomp would hang. ValueError where the loops have no streaming stores."""
    cdef int flags = LRELU_STREAM if streaming else 0
    cdef Py_ssize_t n = out.shape[0], block, lo, hi
    cdef int t
    if streaming and not lrelu_stream_built():
        raise ValueError("this CPU has no streaming stores that lrelu knows")
    if not g.shape[0] == x.shape[0] == n:
        raise ValueError("g, x and out must have the same length")
    if n == 0:
        return
    with nogil:
        if threads > 1 and LRELU_CEILING_OPENMP:
            block = ((n + threads - 1) // threads + 15) // 16 * 16
            for t in prange(threads, num_threads=threads, schedule="static"):
                lo = min(t * block, n)
                hi = min(lo + block, n)
                if hi > lo:
                    _block(&g[lo], &x[lo], s, &out[lo], hi - lo, flags)
        else:
            _block(&g[0], &x[0], s, &out[0], n, flags)
