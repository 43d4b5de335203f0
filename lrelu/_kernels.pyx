# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The typed kernels: one for every operation and dtype, serial or OpenMP-parallel.

out = g * slope(x) with slope(x) = 1 if x >= 0 else alpha (src/simd.h says why one formula
is all three operations). Contiguous data with a scalar alpha goes to the SIMD loops of
src/simd.c and src/half.c (long double has none); every other layout takes the one strided
loop below. Whether a call runs on one
thread or a team is asked once, at the top of the call (lrelu/_threads.pyx).
"""

from cython.parallel cimport prange, threadid
from libc.math cimport isfinite

from lrelu._threads cimport (lrelu_plan, plan_begin, plan_end, share_begin, share_end,
                             LRELU_PLAN_INPLACE, LRELU_PLAN_OUT, LRELU_PLAN_THREE,
                             LRELU_PLAN_CONVERT, LRELU_PLAN_GRAD_INPLACE)

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
    float bfloat16_to_float "lrelu_bfloat16_to_float" (unsigned short b)
    unsigned short float_to_bfloat16 "lrelu_float_to_bfloat16" (float f)

cdef extern from "simd.h" nogil:
    float apply_float "LRELU_APPLY" (float g, float x, float alpha)
    double apply_double "LRELU_APPLY" (double g, double x, double alpha)
    long double apply_longdouble "LRELU_APPLY" (long double g, long double x, long double alpha)
    float apply_gt_float "LRELU_APPLY_GT" (float g, float x, float alpha)
    double apply_gt_double "LRELU_APPLY_GT" (double g, double x, double alpha)
    long double apply_gt_longdouble "LRELU_APPLY_GT" (long double g, long double x, long double alpha)
    void contig_float "lrelu_contig_float" (Py_ssize_t n, const float* g, int g_scalar,
                                            const float* x, float alpha, float* out, int flags)
    void contig_double "lrelu_contig_double" (Py_ssize_t n, const double* g, int g_scalar,
                                              const double* x, double alpha, double* out, int flags)
    void contig_half "lrelu_contig_half" (Py_ssize_t n, const lrelu_half* g, int g_scalar,
                                          const lrelu_half* x, float alpha, lrelu_half* out, int flags)
    void contig_bfloat16 "lrelu_contig_bfloat16" (Py_ssize_t n, const lrelu_half* g, int g_scalar,
                                                  const lrelu_half* x, float alpha, lrelu_half* out,
                                                  int flags)
    const char* lrelu_simd_init()
    const char* lrelu_simd_baseline()
    const char* lrelu_simd_dispatchable()
    int LRELU_STREAM
    int lrelu_stream_built()
    Py_ssize_t lrelu_stream_min_bytes()
    void lrelu_set_stream_min_bytes(Py_ssize_t nbytes)
    Py_ssize_t lrelu_llc_bytes()
    const char* lrelu_llc_source()
    unsigned long lrelu_streamed_chunks()

_SIMD_LEVEL = lrelu_simd_init().decode()

cdef enum:
    CONVERT_BLOCK = 1024    # elements of converted input on each thread's stack


cdef inline float _apply_f(float g, float x, float alpha, int gt) noexcept nogil:
    return apply_gt_float(g, x, alpha) if gt else apply_float(g, x, alpha)


cdef inline float _alpha_f(const real* alpha) noexcept nogil:
    # The float alpha of the 16-bit formats' loops.
    if real is lrelu_half:
        return half_to_float(alpha[0])
    else:
        return (<const float*>alpha)[0]     # lrelu_bfloat16: alpha is a float32 (_kernels.pxd)


cdef inline real _apply(real g, real x, const real* alpha, int gt) noexcept nogil:
    cdef real r
    if real is lrelu_half:
        return float_to_half(_apply_f(half_to_float(g), half_to_float(x), _alpha_f(alpha), gt))
    elif real is lrelu_bfloat16:
        r.bits = float_to_bfloat16(_apply_f(bfloat16_to_float(g.bits), bfloat16_to_float(x.bits),
                                            _alpha_f(alpha), gt))
        return r
    elif real is float:
        return _apply_f(g, x, alpha[0], gt)
    elif real is double:
        return apply_gt_double(g, x, alpha[0]) if gt else apply_double(g, x, alpha[0])
    else:
        return apply_gt_longdouble(g, x, alpha[0]) if gt else apply_longdouble(g, x, alpha[0])


cdef inline const real* _at(const real* p, Py_ssize_t step, Py_ssize_t i) noexcept nogil:
    return <const real*>(<const char*>p + i * step)


cdef void _strided(Py_ssize_t n, const real* g, Py_ssize_t g_step, const real* x,
                   Py_ssize_t x_step, const real* alpha, Py_ssize_t alpha_step, real* out,
                   Py_ssize_t out_step, int flags) noexcept nogil:
    # One element at a time, in order: any layout, and the loop that stays right when out
    # partly overlaps an input (_partly_overlaps).
    cdef Py_ssize_t i
    cdef int gt = flags & AT_ZERO_ALPHA
    if g == x and g_step == x_step:
        gt = 0      # the forward: f(0) = 0 whatever the convention (src/contig.h)
    for i in range(n):
        (<real*>(<char*>out + i * out_step))[0] = _apply(
            _at(g, g_step, i)[0], _at(x, x_step, i)[0], _at(alpha, alpha_step, i), gt)


cdef void _serial(Py_ssize_t n, const real* g, Py_ssize_t g_step, const real* x, Py_ssize_t x_step,
                  const real* alpha, Py_ssize_t alpha_step, real* out, Py_ssize_t out_step,
                  int flags) noexcept nogil:
    cdef Py_ssize_t size = sizeof(real)
    if (alpha_step == 0 and x_step == size and out_step == size
            and (g_step == size or g_step == 0)):
        if real is float:
            contig_float(n, g, g_step == 0, x, alpha[0], out, flags)
            return
        elif real is double:
            contig_double(n, g, g_step == 0, x, alpha[0], out, flags)
            return
        elif real is lrelu_half:
            contig_half(n, g, g_step == 0, x, _alpha_f(alpha), out, flags)
            return
        elif real is lrelu_bfloat16:
            contig_bfloat16(n, <const lrelu_half*>g, g_step == 0, <const lrelu_half*>x,
                            _alpha_f(alpha), <lrelu_half*>out, flags)
            return
    _strided(n, g, g_step, x, x_step, alpha, alpha_step, out, out_step, flags)


# ---- Overlap ------------------------------------------------------------------------------
# NumPy hands a loop an out that partly overlaps an input without copying when the input runs
# ahead of the output (out=b[:-1] with x=b[1:], out=b[:k] with x=b[::2]): its rule
# (PyArray_EQUIVALENTLY_ITERABLE_OVERLAP_OK) holds only for a loop that reads and writes
# element by element, in order. A team breaks it (a later chunk overwrites input an earlier
# one has not read), and so may a vector loop; so a call whose out partly overlaps an input
# runs _strided on the calling thread. Exact in place (the same address and step) keeps the
# fast path: element i is then read before it is written, wherever it runs.

cdef inline bint _partly_overlaps(const void* a, Py_ssize_t a_step, Py_ssize_t a_size,
                                  const void* b, Py_ssize_t b_step, Py_ssize_t b_size,
                                  Py_ssize_t n) noexcept nogil:
    # Whether the bytes of n elements of a and of b intersect, a and b not being one array.
    if n == 0 or (a == b and a_step == b_step):
        return False
    cdef const char* a_lo = <const char*>a + (0 if a_step >= 0 else (n - 1) * a_step)
    cdef const char* a_hi = <const char*>a + (0 if a_step < 0 else (n - 1) * a_step) + a_size
    cdef const char* b_lo = <const char*>b + (0 if b_step >= 0 else (n - 1) * b_step)
    cdef const char* b_hi = <const char*>b + (0 if b_step < 0 else (n - 1) * b_step) + b_size
    return a_lo < b_hi and b_lo < a_hi


cdef inline bint _in_order(Py_ssize_t n, const void* g, Py_ssize_t g_step, Py_ssize_t g_size,
                           const void* x, Py_ssize_t x_step, Py_ssize_t x_size,
                           const void* alpha, Py_ssize_t alpha_step, Py_ssize_t alpha_size,
                           const void* out, Py_ssize_t out_step, Py_ssize_t out_size) noexcept nogil:
    # Whether out partly overlaps x, g (a separate array) or alpha (an array): then the call
    # must run in order (above). A scalar g or alpha (step 0) is read before anything is
    # written.
    return (_partly_overlaps(out, out_step, out_size, x, x_step, x_size, n)
            or (g_step != 0 and g != x
                and _partly_overlaps(out, out_step, out_size, g, g_step, g_size, n))
            or (alpha_step != 0
                and _partly_overlaps(out, out_step, out_size, alpha, alpha_step, alpha_size, n)))


cdef inline Py_ssize_t _chunk(Py_ssize_t n, int threads, Py_ssize_t grain) noexcept nogil:
    # One contiguous block per thread, static schedule, a multiple of grain units: with 64
    # elements, no two threads write the same cache line of a contiguous result.
    cdef Py_ssize_t chunk = (n + threads - 1) // threads
    return (chunk + grain - 1) // grain * grain


cdef inline int _stream_flag(Py_ssize_t nbytes, const void* g, const void* x, const void* out,
                             Py_ssize_t out_step, Py_ssize_t size) noexcept nogil:
    # Streaming stores (src/simd.c) for a contiguous result that is neither input (never in
    # place: there the line is read anyway, and they lose; BENCHMARKS.md) and larger than the
    # threshold, which src/simd.c sets from the last-level cache. Each thread's chunk then
    # streams its part and fences it.
    if out_step == size and out != x and out != g and nbytes > lrelu_stream_min_bytes():
        return LRELU_STREAM
    return 0


cdef inline int _plan_kind(const void* g, Py_ssize_t g_step, const void* x,
                           const void* out) noexcept nogil:
    # How many arrays the call streams through, which sets its cost per byte: the planner
    # times each kind apart (src/threads.c). g is a separate array only in a backward.
    cdef bint reads_g = g_step != 0 and g != x and g != out
    if out == x and not reads_g:
        return LRELU_PLAN_INPLACE
    if out != x and reads_g:
        return LRELU_PLAN_THREE
    if g_step != 0 and out == g and g != x:
        return LRELU_PLAN_GRAD_INPLACE
    return LRELU_PLAN_OUT


cdef inline const void* _result_end(int kind, const void* x, const void* out, Py_ssize_t out_step,
                                    Py_ssize_t size, Py_ssize_t n) noexcept nogil:
    # The last byte of a contiguous result that is no input: the planner asks whether its
    # page is in memory, to time a fresh result apart (src/threads.c, fresh()).
    if kind == LRELU_PLAN_OUT and out != x and out_step == size and n > 0:
        return <const char*>out + n * size - 1
    return NULL


# ---- The team: one loop for kernel(), converting_kernel() and PReLU (lrelu/_prelu.pyx) ------

cdef void team(const element* tag, Py_ssize_t nbytes, int kind, const void* result_end,
               bint in_order, Py_ssize_t n, Py_ssize_t grain,
               void (*run)(const element* tag, const void* job, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil,
               const void* job) noexcept nogil:
    # Comparing NaN raises the "invalid" flag in a vector compare, and NumPy would turn it
    # into a RuntimeWarning the listing never gives; drop it, as NumPy's own comparison loops
    # do. (The one real "invalid" here, 0 * inf for alpha = 0 and x = -inf, goes with it.)
    cdef int had_invalid = fetestexcept(FE_INVALID)
    cdef lrelu_plan plan
    cdef Py_ssize_t chunk, lo, c
    cdef int raised = 0
    cdef double t0
    if in_order:
        run(tag, job, 0, n)     # on this thread, unplanned: its time says nothing of a team
    else:
        plan = plan_begin(nbytes, kind, result_end)
        if plan.threads <= 1:
            run(tag, job, 0, n)
        else:
            # Each helper starts from clear floating-point flags and returns what its chunk
            # raised, since NumPy reads only the calling thread's flags and a helper's
            # overflow would be lost; they are raised on the caller below. The caller times
            # its own share for the planner (lrelu/_threads.pxd).
            chunk = _chunk(n, plan.threads, grain)
            for c in prange(plan.threads, schedule='static', num_threads=plan.threads):
                lo = c * chunk
                if lo < n:
                    if threadid() != 0:
                        feclearexcept(FE_ALL_EXCEPT)
                    t0 = share_begin()
                    run(tag, job, lo, min(lo + chunk, n))
                    share_end(&plan, t0)
                    raised |= fetestexcept(FE_OVERFLOW | FE_UNDERFLOW | FE_DIVBYZERO)
            if raised:
                feraiseexcept(raised)
        plan_end(&plan)
    if not had_invalid and fetestexcept(FE_INVALID):
        feclearexcept(FE_INVALID)


cdef inline const void* _at_bytes(const void* p, Py_ssize_t step, Py_ssize_t i) noexcept nogil:
    return <const char*>p + i * step


cdef void _kernel_range(const real* tag, const void* job, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef const Operands* a = <const Operands*>job
    if a.in_order:
        _strided(hi - lo, <const real*>_at_bytes(a.g, a.g_step, lo), a.g_step,
                 <const real*>_at_bytes(a.x, a.x_step, lo), a.x_step,
                 <const real*>_at_bytes(a.alpha, a.alpha_step, lo), a.alpha_step,
                 <real*>_at_bytes(a.out, a.out_step, lo), a.out_step, a.flags)
    else:
        _serial(hi - lo, <const real*>_at_bytes(a.g, a.g_step, lo), a.g_step,
                <const real*>_at_bytes(a.x, a.x_step, lo), a.x_step,
                <const real*>_at_bytes(a.alpha, a.alpha_step, lo), a.alpha_step,
                <real*>_at_bytes(a.out, a.out_step, lo), a.out_step, a.flags)


cdef void kernel(const real* tag, Py_ssize_t n, Operands* a) noexcept nogil:
    # bfloat16's alpha is a float32 (_kernels.pxd)
    cdef Py_ssize_t alpha_size = 4 if real is lrelu_bfloat16 else sizeof(real)
    a.in_order = _in_order(n, a.g, a.g_step, sizeof(real), a.x, a.x_step, sizeof(real),
                           a.alpha, a.alpha_step, alpha_size, a.out, a.out_step, sizeof(real))
    a.flags |= _stream_flag(n * <Py_ssize_t>sizeof(real), a.g, a.x, a.out, a.out_step,
                            sizeof(real))  # issue 13
    # 16-bit data is planned as the float32 it is computed in: converting each element costs
    # more per byte, so a team pays from half the bytes (BENCHMARKS.md, "float16 and
    # bfloat16"); the planner still decides above the threshold
    cdef int kind = _plan_kind(a.g, a.g_step, a.x, a.out)
    team[real](tag, n * <Py_ssize_t>(4 if sizeof(real) < 4 else sizeof(real)), kind,
               _result_end(kind, a.x, a.out, a.out_step, sizeof(real), n), a.in_order, n, 64,
               _kernel_range[real], a)


cdef inline const source* _src_at(const source* p, Py_ssize_t step, Py_ssize_t i) noexcept nogil:
    return <const source*>(<const char*>p + i * step)


cdef void _converting_range(const source* tag, const void* job, Py_ssize_t lo,
                            Py_ssize_t hi) noexcept nogil:
    # Elements lo..hi, a block at a time: convert x (and a separate g) to float64 on this
    # thread's stack, then the float64 loop. In order (out partly overlapping an input), one
    # element at a time.
    cdef const Operands* a = <const Operands*>job
    cdef const source* g = <const source*>a.g
    cdef const source* x = <const source*>a.x
    cdef Py_ssize_t g_step = a.g_step, x_step = a.x_step
    cdef double x_block[CONVERT_BLOCK]
    cdef double g_block[CONVERT_BLOCK]
    cdef const double* g_values
    cdef Py_ssize_t start, i, m, g_block_step
    cdef Py_ssize_t block = 1 if a.in_order else CONVERT_BLOCK
    cdef bint g_is_x = g == x and g_step == x_step
    cdef double g_scalar = <double>g[0] if g_step == 0 else 0.0
    start = lo
    while start < hi:
        m = min(block, hi - start)
        for i in range(m):
            x_block[i] = <double>_src_at(x, x_step, start + i)[0]
        if g_is_x:
            g_values, g_block_step = x_block, sizeof(double)
        elif g_step == 0:
            g_values, g_block_step = &g_scalar, 0
        else:
            for i in range(m):
                g_block[i] = <double>_src_at(g, g_step, start + i)[0]
            g_values, g_block_step = g_block, sizeof(double)
        _serial(m, g_values, g_block_step, <const double*>x_block, sizeof(double),
                <const double*>_at_bytes(a.alpha, a.alpha_step, start), a.alpha_step,
                <double*>_at_bytes(a.out, a.out_step, start), a.out_step, a.flags)
        start += m


cdef void converting_kernel(const source* tag, Py_ssize_t n, Operands* a) noexcept nogil:
    # The listing gives float64 for integer x and for float32 x with a float64 alpha, so
    # these are (source, float64) -> float64 loops. Planned once for the whole call and split
    # over threads like kernel(); before, NumPy's buffering or a 1,024-element block handed
    # the float64 kernel pieces too small to ever run in parallel.
    a.in_order = _in_order(n, a.g, a.g_step, sizeof(source), a.x, a.x_step, sizeof(source),
                           a.alpha, a.alpha_step, sizeof(double), a.out, a.out_step,
                           sizeof(double))
    team[source](tag, n * <Py_ssize_t>sizeof(double), LRELU_PLAN_CONVERT, NULL, a.in_order, n, 64,
                 _converting_range[source], a)


# ---- The Cython API: typed memoryviews, in place or out of place --------------------------

cdef int _check(const char* name, Py_ssize_t n_out, Py_ssize_t n_in, double alpha) except -1 nogil:
    if n_out != n_in:
        with gil:
            raise ValueError(f"{name.decode()}: out has {n_out} elements but the input has {n_in}")
    if not isfinite(alpha):
        with gil:
            raise ValueError(f"{name.decode()}: alpha must be finite, got {alpha}")
    return 0


cdef int _check_at_zero(const char* name, int at_zero) except -1 nogil:
    if at_zero != AT_ZERO_ONE and at_zero != AT_ZERO_ALPHA:
        with gil:
            raise ValueError(f"{name.decode()}: at_zero must be AT_ZERO_ONE ({AT_ZERO_ONE}) or "
                             f"AT_ZERO_ALPHA ({AT_ZERO_ALPHA}), got {at_zero}")
    return 0


cdef int _check_overlap(const char* name, const void* a, Py_ssize_t a_step, const void* b,
                        Py_ssize_t b_step, Py_ssize_t n) except -1 nogil:
    # The output may be the input itself (in place) or separate memory, nothing in between:
    # unlike NumPy, these functions do not know which way a partial overlap is safe.
    if _partly_overlaps(a, a_step, 1, b, b_step, 1, n):
        with gil:
            raise ValueError(f"{name.decode()}: out partly overlaps an input; pass the input "
                             "itself for in place, or separate memory")
    return 0


cdef inline void _run(Py_ssize_t n, const floating_t* g, Py_ssize_t g_step, const floating_t* x,
                      Py_ssize_t x_step, floating_t alpha, floating_t* out, Py_ssize_t out_step,
                      int flags) noexcept nogil:
    cdef Operands a = Operands(g, g_step, x, x_step, &alpha, 0, out, out_step, flags, False)
    if n:
        kernel(x, n, &a)


cdef int leaky_relu(const floating_t[:] x, floating_t[:] out, floating_t alpha) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    _check(b"leaky_relu", out.shape[0], n, alpha)
    _check_overlap(b"leaky_relu", &out[0] if n else NULL, out.strides[0], &x[0] if n else NULL, x.strides[0], n)
    if n:
        _run(n, &x[0], x.strides[0], &x[0], x.strides[0], alpha, &out[0], out.strides[0], 0)
    return 0


cdef int leaky_relu_(floating_t[:] x, floating_t alpha) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    _check(b"leaky_relu_", n, n, alpha)
    if n:
        _run(n, &x[0], x.strides[0], &x[0], x.strides[0], alpha, &x[0], x.strides[0], 0)
    return 0


cdef int leaky_relu_derivative(const floating_t[:] x, floating_t[:] out, floating_t alpha,
                               int at_zero=AT_ZERO_ONE) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    cdef floating_t one = 1
    _check(b"leaky_relu_derivative", out.shape[0], n, alpha)
    _check_at_zero(b"leaky_relu_derivative", at_zero)
    _check_overlap(b"leaky_relu_derivative", &out[0] if n else NULL, out.strides[0], &x[0] if n else NULL, x.strides[0], n)
    if n:
        _run(n, &one, 0, &x[0], x.strides[0], alpha, &out[0], out.strides[0], at_zero)
    return 0


cdef int leaky_relu_derivative_(floating_t[:] x, floating_t alpha, int at_zero=AT_ZERO_ONE) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    cdef floating_t one = 1
    _check(b"leaky_relu_derivative_", n, n, alpha)
    _check_at_zero(b"leaky_relu_derivative_", at_zero)
    if n:
        _run(n, &one, 0, &x[0], x.strides[0], alpha, &x[0], x.strides[0], at_zero)
    return 0


cdef int leaky_relu_backward(const floating_t[:] grad, const floating_t[:] x, floating_t[:] out,
                             floating_t alpha, int at_zero=AT_ZERO_ONE) except -1 nogil:
    cdef Py_ssize_t n = x.shape[0]
    _check(b"leaky_relu_backward", grad.shape[0], n, alpha)
    _check(b"leaky_relu_backward", out.shape[0], n, alpha)
    _check_at_zero(b"leaky_relu_backward", at_zero)
    _check_overlap(b"leaky_relu_backward", &out[0] if n else NULL, out.strides[0], &x[0] if n else NULL, x.strides[0], n)
    _check_overlap(b"leaky_relu_backward", &out[0] if n else NULL, out.strides[0], &grad[0] if n else NULL, grad.strides[0], n)
    if n:
        _run(n, &grad[0], grad.strides[0], &x[0], x.strides[0], alpha, &out[0], out.strides[0], at_zero)
    return 0


def _simd_info():
    """For show_config(): the compiler's baseline ISA, the levels compiled for run-time
    dispatch, the one chosen at import (LRELU_SIMD=<level> forces one this CPU has), and
    streaming stores: whether the chosen loops have them, from how many bytes written per
    call, and the last-level cache that threshold comes from (0 if unknown) and its source."""
    dispatch = lrelu_simd_dispatchable().decode()
    return {
        "baseline": lrelu_simd_baseline().decode(),
        "dispatch": dispatch.split(",") if dispatch else [],
        "selected": _SIMD_LEVEL,
        "stream": bool(lrelu_stream_built()),
        "stream_threshold_bytes": lrelu_stream_min_bytes(),
        "llc_bytes": lrelu_llc_bytes(),
        "llc_source": lrelu_llc_source().decode(),
    }


def _set_stream_threshold(nbytes):
    """Change the streaming-store threshold (bytes a call writes); returns the old one. For
    tests (small arrays through the streaming loop) and bench/streaming.py; not for users."""
    old = lrelu_stream_min_bytes()
    lrelu_set_stream_min_bytes(max(0, int(nbytes)))
    return old


def _streamed_chunks():
    """How many loop runs (one per thread per call) have used streaming stores in this
    process; tests use it to see which path a call took."""
    return lrelu_streamed_chunks()
