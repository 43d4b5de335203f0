# cython: boundscheck=False, wraparound=False
"""The compiled loops of `lrelu bench`'s memory ceiling (ceiling.h has the why)."""

cdef extern from "ceiling.h" nogil:
    ctypedef void (*lrelu_ceiling_fn)(const void *g, const void *x, double s, void *out,
                                      size_t lo, size_t hi)
    lrelu_ceiling_fn lrelu_ceiling_loop(int f64, int streaming, const char **level)
    void lrelu_ceiling_pass(lrelu_ceiling_fn fn, const void *g, const void *x, double s, void *out,
                            size_t n, int threads)
    int lrelu_ceiling_openmp()

ctypedef fused real:
    float
    double


def stores():
    """{"ordinary": ISA of the ordinary-store loop, "streaming": ISA of the streaming-store
    loop or None where the CPU has none, "openmp": whether passes can use several threads}."""
    cdef const char *ordinary = NULL
    cdef const char *streaming = NULL
    lrelu_ceiling_loop(0, 0, &ordinary)
    found = lrelu_ceiling_loop(0, 1, &streaming) != NULL
    return {"ordinary": ordinary.decode(), "streaming": streaming.decode() if found else None,
            "openmp": bool(lrelu_ceiling_openmp())}


def run_pass(real[::1] g, real[::1] x, real[::1] out, double s, bint streaming, int threads):
    """out = g * (x >= 0 ? 1 : s) over whole contiguous arrays of one dtype, without the GIL;
    out may be g or x. ValueError where the CPU has no streaming stores."""
    cdef const char *level = NULL
    cdef int f64 = real is double
    cdef lrelu_ceiling_fn fn = lrelu_ceiling_loop(f64, streaming, &level)
    if fn == NULL:
        raise ValueError("this CPU has no streaming stores that lrelu knows")
    if not g.shape[0] == x.shape[0] == out.shape[0]:
        raise ValueError("g, x and out must have the same length")
    if out.shape[0] == 0:
        return
    with nogil:
        lrelu_ceiling_pass(fn, &g[0], &x[0], s, &out[0], out.shape[0], threads)
