# lrelu's typed kernels, for the ufunc loops and for other Cython code.
#
# From Cython:
#     from lrelu._kernels cimport leaky_relu, leaky_relu_
#     leaky_relu_(x_view, 0.01)                 # x_view: float[:] or double[:], any stride
# The memoryview functions release nothing and take no GIL; they raise ValueError (taking the
# GIL) when shapes differ, alpha is not finite or at_zero is neither AT_ZERO_ONE nor
# AT_ZERO_ALPHA, before writing anything.

cdef extern from "lrelu_half.h" nogil:
    ctypedef unsigned short lrelu_half
    ctypedef struct lrelu_bfloat16:
        unsigned short bits

# Every dtype with a loop of its own. float16 and bfloat16 are computed in float32 and
# rounded once. bfloat16's alpha is a float32 (the rule, src/half.c): for lrelu_bfloat16,
# kernel()'s alpha points at float values, which kernel() only moves by byte strides.
ctypedef fused real:
    lrelu_half
    lrelu_bfloat16
    float
    double
    long double

# 1 in each type (the derivative's g = 1): 16-bit formats by their bits.
cdef inline real one_of(const real* tag) noexcept nogil:
    cdef real one
    if real is lrelu_half:
        return 0x3c00           # 1.0 in binary16
    elif real is lrelu_bfloat16:
        one.bits = 0x3f80       # 1.0 in bfloat16
        return one
    else:
        return 1

# The dtypes converted to float64 a block at a time (integer and bool x, and float32 x with a
# float64 alpha): the listing computes those in float64.
ctypedef fused source:
    signed char
    unsigned char
    short
    unsigned short
    int
    unsigned int
    long
    unsigned long
    long long
    unsigned long long
    float

# flags: AT_ZERO_ALPHA makes slope(0) = alpha (x > 0 picks 1), PyTorch's convention for the
# derivative and the backward; the forward ignores it. AT_ZERO_ONE (no flag) is the seed's
# f'(0) = 1. The memoryview functions below take either as their optional last argument.
cdef enum:
    AT_ZERO_ONE = 0
    AT_ZERO_ALPHA = 1

# One call's operands, by address and byte step: out = g * slope(x), slope(x) = 1 if x >= 0
# else alpha. forward: g = x; derivative: g = &one with g_step 0; backward: g = grad. A step
# of 0 is one value for every element. kernel() fills in_order.
cdef struct Operands:
    const void* g
    Py_ssize_t g_step
    const void* x
    Py_ssize_t x_step
    const void* alpha
    Py_ssize_t alpha_step
    void* out
    Py_ssize_t out_step
    int flags           # AT_ZERO_ALPHA, LRELU_STREAM
    bint in_order       # out partly overlaps an input: one thread, element by element

# The typed kernel over n elements; tag (its value unused) picks the element type. The
# thread count is decided here, once per call.
cdef void kernel(const real* tag, Py_ssize_t n, Operands* a) noexcept nogil
# The same, with g and x of a source type converted to float64 on the fly (alpha and out
# are float64).
cdef void converting_kernel(const source* tag, Py_ssize_t n, Operands* a) noexcept nogil

# Every element type of a team's chunks: the tag that picks run's specialization (PReLU
# passes an unsigned char one it does not read).
ctypedef fused element:
    real
    source

# The one team loop: plans nbytes of a `kind` of call (lrelu/_threads.pxd; result_end: the
# last byte of a result that is no input, or NULL), then runs
# run(tag, job, lo, hi) over 0..n on one thread, or on a team in chunks of a multiple of
# grain; raises every thread's floating-point flags on the caller, except a NaN compare's
# "invalid". in_order: run(tag, job, 0, n) on the calling thread, unplanned.
cdef void team(const element* tag, Py_ssize_t nbytes, int kind, const void* result_end,
               bint in_order, Py_ssize_t n, Py_ssize_t grain,
               void (*run)(const element* tag, const void* job, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil,
               const void* job) noexcept nogil

ctypedef fused floating_t:
    float
    double

cdef int leaky_relu(const floating_t[:] x, floating_t[:] out, floating_t alpha) except -1 nogil
cdef int leaky_relu_(floating_t[:] x, floating_t alpha) except -1 nogil
# at_zero: AT_ZERO_ONE (the default) or AT_ZERO_ALPHA, e.g.
#     leaky_relu_backward(grad_view, x_view, out_view, 0.01, AT_ZERO_ALPHA)   # PyTorch's
cdef int leaky_relu_derivative(const floating_t[:] x, floating_t[:] out, floating_t alpha,
                               int at_zero=*) except -1 nogil
cdef int leaky_relu_derivative_(floating_t[:] x, floating_t alpha, int at_zero=*) except -1 nogil
cdef int leaky_relu_backward(const floating_t[:] grad, const floating_t[:] x, floating_t[:] out,
                             floating_t alpha, int at_zero=*) except -1 nogil
