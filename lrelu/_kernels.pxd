# lrelu's typed kernels, for the ufunc loops and for other Cython code.
#
# From Cython:
#     from lrelu._kernels cimport leaky_relu, leaky_relu_
#     leaky_relu_(x_view, 0.01)                 # x_view: float[:] or double[:], any stride
# The memoryview functions release nothing and take no GIL; they raise ValueError (taking the
# GIL) when shapes differ or alpha is not finite, before writing anything.

cdef extern from "lrelu_half.h" nogil:
    ctypedef unsigned short lrelu_half

# Every dtype with a loop of its own. float16 is computed in float32 and rounded once.
ctypedef fused real:
    lrelu_half
    float
    double
    long double

# out = g * slope(x), slope(x) = 1 if x >= 0 else alpha, over n elements with byte strides.
# forward: g = x; derivative: g = &one with g_step 0; backward: g = grad.
cdef void kernel(Py_ssize_t n, const real* g, Py_ssize_t g_step, const real* x, Py_ssize_t x_step,
                 const real* alpha, Py_ssize_t alpha_step, real* out, Py_ssize_t out_step) noexcept nogil

ctypedef fused floating_t:
    float
    double

cdef int leaky_relu(const floating_t[:] x, floating_t[:] out, floating_t alpha) except -1 nogil
cdef int leaky_relu_(floating_t[:] x, floating_t alpha) except -1 nogil
cdef int leaky_relu_derivative(const floating_t[:] x, floating_t[:] out, floating_t alpha) except -1 nogil
cdef int leaky_relu_derivative_(floating_t[:] x, floating_t alpha) except -1 nogil
cdef int leaky_relu_backward(const floating_t[:] grad, const floating_t[:] x, floating_t[:] out,
                             floating_t alpha) except -1 nogil
