# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The typed kernels: one for every operation and dtype, serial or OpenMP-parallel.

out = g * slope(x) with slope(x) = 1 if x >= 0 else alpha (see lrelu_simd.h for why one
formula is all three operations). Contiguous data with a scalar alpha goes to the SIMD loop
of lrelu_simd.h; every other layout takes the one strided loop below.
"""

from cython.parallel cimport prange, threadid
from libc.math cimport isfinite

from lrelu._threads cimport acquire_team, release_team

cdef extern from "<fenv.h>" nogil:
    int FE_INVALID
    int FE_OVERFLOW
    int FE_UNDERFLOW
    int FE_DIVBYZERO
    int FE_ALL_EXCEPT
    int fetestexcept(int excepts)
    int feclearexcept(int excepts)
    int feraiseexcept(int excepts)

cdef extern from "lrelu_half.h" nogil:
    float half_to_float "lrelu_half_to_float" (lrelu_half h)
    lrelu_half float_to_half "lrelu_float_to_half" (float f)

cdef extern from "lrelu_simd.h" nogil:
    float apply_float "LRELU_APPLY" (float g, float x, float alpha)
    double apply_double "LRELU_APPLY" (double g, double x, double alpha)
    long double apply_longdouble "LRELU_APPLY" (long double g, long double x, long double alpha)
    void contig_float "lrelu_contig_float" (Py_ssize_t n, const float* g, int g_scalar,
                                            const float* x, float alpha, float* out)
    void contig_double "lrelu_contig_double" (Py_ssize_t n, const double* g, int g_scalar,
                                              const double* x, double alpha, double* out)
    const char* lrelu_simd_init()
    const char* lrelu_simd_baseline()
    int lrelu_simd_avx2_compiled()

_SIMD_LEVEL = lrelu_simd_init().decode()


cdef inline real _apply(real g, real x, real alpha) noexcept nogil:
    if real is lrelu_half:
        return float_to_half(apply_float(half_to_float(g), half_to_float(x), half_to_float(alpha)))
    elif real is float:
        return apply_float(g, x, alpha)
    elif real is double:
        return apply_double(g, x, alpha)
    else:
        return apply_longdouble(g, x, alpha)


cdef inline const real* _at(const real* p, Py_ssize_t step, Py_ssize_t i) noexcept nogil:
    return <const real*>(<const char*>p + i * step)


cdef void _serial(Py_ssize_t n, const real* g, Py_ssize_t g_step, const real* x, Py_ssize_t x_step,
                  const real* alpha, Py_ssize_t alpha_step, real* out, Py_ssize_t out_step) noexcept nogil:
    cdef Py_ssize_t i
    cdef Py_ssize_t size = sizeof(real)
    if (alpha_step == 0 and x_step == size and out_step == size
            and (g_step == size or g_step == 0)):
        if real is float:
            contig_float(n, g, g_step == 0, x, alpha[0], out)
            return
        elif real is double:
            contig_double(n, g, g_step == 0, x, alpha[0], out)
            return
    for i in range(n):
        (<real*>(<char*>out + i * out_step))[0] = _apply(
            _at(g, g_step, i)[0], _at(x, x_step, i)[0], _at(alpha, alpha_step, i)[0])


cdef void kernel(Py_ssize_t n, const real* g, Py_ssize_t g_step, const real* x, Py_ssize_t x_step,
                 const real* alpha, Py_ssize_t alpha_step, real* out, Py_ssize_t out_step) noexcept nogil:
    # Comparing NaN raises the "invalid" flag in a vector compare, and NumPy would turn it
    # into a RuntimeWarning the listing never gives; drop it, as NumPy's own comparison loops
    # do. (The one real "invalid" here, 0 * inf for alpha = 0 and x = -inf, goes with it.)
    cdef int had_invalid = fetestexcept(FE_INVALID)
    cdef int threads = acquire_team(n * <Py_ssize_t>sizeof(real))
    cdef Py_ssize_t chunk, lo, c
    cdef int raised = 0
    if threads <= 1:
        _serial(n, g, g_step, x, x_step, alpha, alpha_step, out, out_step)
    else:
        # One contiguous block per thread, static schedule; a multiple of 64 elements, so no
        # two threads write the same cache line of a contiguous result.
        chunk = (n + threads - 1) // threads
        chunk = (chunk + 63) & ~(<Py_ssize_t>63)
        for c in prange(threads, schedule='static', num_threads=threads):
            lo = c * chunk
            if lo < n:
                if threadid() != 0:
                    feclearexcept(FE_ALL_EXCEPT)
                _serial(min(chunk, n - lo), _at(g, g_step, lo), g_step, _at(x, x_step, lo), x_step,
                        _at(alpha, alpha_step, lo), alpha_step,
                        <real*>_at(out, out_step, lo), out_step)
                # Overflow in a worker thread would be lost; NumPy reads the caller's flags.
                raised |= fetestexcept(FE_OVERFLOW | FE_UNDERFLOW | FE_DIVBYZERO)
        release_team()
        if raised:
            feraiseexcept(raised)
    if not had_invalid and fetestexcept(FE_INVALID):
        feclearexcept(FE_INVALID)


# ---- The Cython API: typed memoryviews, in place or out of place --------------------------

cdef int _check(const char* name, Py_ssize_t n_out, Py_ssize_t n_in, double alpha) except -1 nogil:
    if n_out != n_in:
        with gil:
            raise ValueError(f"{name.decode()}: out has {n_out} elements but the input has {n_in}")
    if not isfinite(alpha):
        with gil:
            raise ValueError(f"{name.decode()}: alpha must be finite, got {alpha}")
    return 0


cdef int _check_overlap(const char* name, const void* a, Py_ssize_t a_step, const void* b,
                        Py_ssize_t b_step, Py_ssize_t n) except -1 nogil:
    # The output may be the input itself (in place) or separate memory, nothing in between:
    # a partial overlap would read elements another thread or vector lane already wrote.
    if n == 0 or (a == b and a_step == b_step):
        return 0
    cdef const char* a_lo = <const char*>a + (0 if a_step >= 0 else (n - 1) * a_step)
    cdef const char* a_hi = <const char*>a + (0 if a_step < 0 else (n - 1) * a_step) + 1
    cdef const char* b_lo = <const char*>b + (0 if b_step >= 0 else (n - 1) * b_step)
    cdef const char* b_hi = <const char*>b + (0 if b_step < 0 else (n - 1) * b_step) + 1
    if a_lo < b_hi and b_lo < a_hi:
        with gil:
            raise ValueError(f"{name.decode()}: out partly overlaps an input; pass the input "
                             "itself for in place, or separate memory")
    return 0


cdef int leaky_relu(const floating_t[:] x, floating_t[:] out, floating_t alpha) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    _check(b"leaky_relu", out.shape[0], n, alpha)
    _check_overlap(b"leaky_relu", &out[0] if n else NULL, out.strides[0], &x[0] if n else NULL, x.strides[0], n)
    if n:
        kernel(n, &x[0], x.strides[0], &x[0], x.strides[0], &alpha, 0, &out[0], out.strides[0])
    return 0


cdef int leaky_relu_(floating_t[:] x, floating_t alpha) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    _check(b"leaky_relu_", n, n, alpha)
    if n:
        kernel(n, &x[0], x.strides[0], &x[0], x.strides[0], &alpha, 0, &x[0], x.strides[0])
    return 0


cdef int leaky_relu_derivative(const floating_t[:] x, floating_t[:] out, floating_t alpha) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    cdef floating_t one = 1
    _check(b"leaky_relu_derivative", out.shape[0], n, alpha)
    _check_overlap(b"leaky_relu_derivative", &out[0] if n else NULL, out.strides[0], &x[0] if n else NULL, x.strides[0], n)
    if n:
        kernel(n, &one, 0, &x[0], x.strides[0], &alpha, 0, &out[0], out.strides[0])
    return 0


cdef int leaky_relu_derivative_(floating_t[:] x, floating_t alpha) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    cdef floating_t one = 1
    _check(b"leaky_relu_derivative_", n, n, alpha)
    if n:
        kernel(n, &one, 0, &x[0], x.strides[0], &alpha, 0, &x[0], x.strides[0])
    return 0


cdef int leaky_relu_backward(const floating_t[:] grad, const floating_t[:] x, floating_t[:] out,
                             floating_t alpha) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    _check(b"leaky_relu_backward", grad.shape[0], n, alpha)
    _check(b"leaky_relu_backward", out.shape[0], n, alpha)
    _check_overlap(b"leaky_relu_backward", &out[0] if n else NULL, out.strides[0], &x[0] if n else NULL, x.strides[0], n)
    _check_overlap(b"leaky_relu_backward", &out[0] if n else NULL, out.strides[0], &grad[0] if n else NULL, grad.strides[0], n)
    if n:
        kernel(n, &grad[0], grad.strides[0], &x[0], x.strides[0], &alpha, 0, &out[0], out.strides[0])
    return 0


def _simd_info():
    """For show_config(): the compiler's baseline ISA and the loop chosen at import."""
    return {
        "baseline": lrelu_simd_baseline().decode(),
        "dispatch": ["avx2"] if lrelu_simd_avx2_compiled() else [],
        "selected": _SIMD_LEVEL,
    }
