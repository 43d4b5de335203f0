# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""lrelu's NumPy ufuncs, made with the ufunc C API.

``leaky_relu(x, alpha)``, ``leaky_relu_derivative(x, alpha)`` and
``leaky_relu_backward(grad, x, alpha)`` are real :class:`numpy.ufunc` objects, so ``out=``,
``where=``, ``casting=``, ``dtype=``, broadcasting, overlap handling and ``__array_ufunc__``
dispatch (pandas, xarray, dask) all come from NumPy. They take alpha as a required argument
and do not validate it; ``lrelu.leaky_relu`` and friends add the default and the checks.
``leaky_relu_derivative_at_zero_alpha`` and ``leaky_relu_backward_at_zero_alpha`` are the same
loops with PyTorch's convention at 0 (slope 1 only for x > 0), for ``at_zero="alpha"``.
"""

cimport numpy as cnp
from libc.stdlib cimport malloc
from numpy cimport npy_intp, PyUFuncGenericFunction, PyUFunc_FromFuncAndData, PyUFunc_None

import numpy as np

from lrelu._kernels cimport AT_ZERO_ALPHA, kernel, converting_kernel, real, source, lrelu_half

cnp.import_array()
cnp.import_umath()

cdef enum Op:
    FORWARD
    DERIVATIVE
    BACKWARD

# What a ufunc's loops do, handed to every loop through NumPy's data pointer.
cdef struct Operation:
    int op
    int flags

cdef Operation _FORWARD = Operation(FORWARD, 0)
cdef Operation _DERIVATIVE = Operation(DERIVATIVE, 0)
cdef Operation _BACKWARD = Operation(BACKWARD, 0)
# PyTorch's and TensorFlow's convention: the same loops, slope(0) = alpha.
cdef Operation _DERIVATIVE_AT_ZERO_ALPHA = Operation(DERIVATIVE, AT_ZERO_ALPHA)
cdef Operation _BACKWARD_AT_ZERO_ALPHA = Operation(BACKWARD, AT_ZERO_ALPHA)


cdef inline real _one(real* tag) noexcept nogil:
    if real is lrelu_half:
        return 0x3c00           # 1.0 in binary16
    else:
        return 1


cdef inline void _float_loop(real* tag, char** args, const npy_intp* dims, const npy_intp* steps,
                             void* data) noexcept nogil:
    # args: (x, alpha, out) for forward and derivative, (grad, x, alpha, out) for backward.
    cdef Operation operation = (<Operation*>data)[0]
    cdef real one = _one(tag)
    if operation.op == BACKWARD:
        kernel(dims[0], <real*>args[0], steps[0], <real*>args[1], steps[1],
               <real*>args[2], steps[2], <real*>args[3], steps[3], operation.flags)
    elif operation.op == FORWARD:
        kernel(dims[0], <real*>args[0], steps[0], <real*>args[0], steps[0],
               <real*>args[1], steps[1], <real*>args[2], steps[2], operation.flags)
    else:
        kernel(dims[0], &one, 0, <real*>args[0], steps[0],
               <real*>args[1], steps[1], <real*>args[2], steps[2], operation.flags)


cdef inline void _converting_loop(source* tag, char** args, const npy_intp* dims,
                                  const npy_intp* steps, void* data) noexcept nogil:
    # (x, float64 alpha) -> float64, and (grad, x, float64 alpha) -> float64: the listing
    # computes these in float64, so x (and grad) are converted a block at a time.
    cdef Operation operation = (<Operation*>data)[0]
    cdef source one = 1
    if operation.op == BACKWARD:
        converting_kernel(dims[0], <source*>args[0], steps[0], <source*>args[1], steps[1],
                          <double*>args[2], steps[2], <double*>args[3], steps[3], operation.flags)
    elif operation.op == FORWARD:
        converting_kernel(dims[0], <source*>args[0], steps[0], <source*>args[0], steps[0],
                          <double*>args[1], steps[1], <double*>args[2], steps[2], operation.flags)
    else:
        converting_kernel(dims[0], &one, 0, <source*>args[0], steps[0],
                          <double*>args[1], steps[1], <double*>args[2], steps[2], operation.flags)


# One inner loop per (x type, result type), by NumPy's type characters.
cdef void _loop_ee(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _float_loop(<lrelu_half*>NULL, a, d, s, p)
cdef void _loop_ff(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _float_loop(<float*>NULL, a, d, s, p)
cdef void _loop_dd(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _float_loop(<double*>NULL, a, d, s, p)
cdef void _loop_gg(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _float_loop(<long double*>NULL, a, d, s, p)
cdef void _loop_bd(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<signed char*>NULL, a, d, s, p)
cdef void _loop_Bd(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<unsigned char*>NULL, a, d, s, p)
cdef void _loop_hd(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<short*>NULL, a, d, s, p)
cdef void _loop_Hd(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<unsigned short*>NULL, a, d, s, p)
cdef void _loop_id(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<int*>NULL, a, d, s, p)
cdef void _loop_Id(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<unsigned int*>NULL, a, d, s, p)
cdef void _loop_ld(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<long*>NULL, a, d, s, p)
cdef void _loop_Ld(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<unsigned long*>NULL, a, d, s, p)
cdef void _loop_qd(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<long long*>NULL, a, d, s, p)
cdef void _loop_Qd(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<unsigned long long*>NULL, a, d, s, p)
cdef void _loop_fd(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _converting_loop(<float*>NULL, a, d, s, p)

# bool is one byte of 0 or 1, so the unsigned char loop converts it right.
_LOOPS = {
    "ee": <size_t>_loop_ee, "ff": <size_t>_loop_ff, "dd": <size_t>_loop_dd, "gg": <size_t>_loop_gg,
    "?d": <size_t>_loop_Bd, "bd": <size_t>_loop_bd, "Bd": <size_t>_loop_Bd, "hd": <size_t>_loop_hd,
    "Hd": <size_t>_loop_Hd, "id": <size_t>_loop_id, "Id": <size_t>_loop_Id, "ld": <size_t>_loop_ld,
    "Ld": <size_t>_loop_Ld, "qd": <size_t>_loop_qd, "Qd": <size_t>_loop_Qd, "fd": <size_t>_loop_fd,
}

# ---- The dtype table: which loops each ufunc has, as data -----------------------------------
# One row per loop, "inputs->output" in NumPy's type characters (as numpy's generate_umath.py
# and ufunclab write them); a new dtype is new rows. Rows are in NumPy's search order: NumPy
# takes the first loop every input casts to safely, so the integer loops come first
# (otherwise int8 would match float16) and the float loops run small to large, as in SciPy.
# "fd->d" (float32 x, float64 alpha) comes before "dd->d", so that x is converted inside the
# loop, in parallel, rather than by NumPy's buffers, 8,192 elements at a time.
_INTEGERS = "?bBhHiIlLqQ"
UNARY_TYPES = [c + "d->d" for c in _INTEGERS] + ["ee->e", "ff->f", "fd->d", "dd->d", "gg->g"]
# (grad, x, alpha) -> out: floats; integer grad or x follow NumPy's safe casting.
BACKWARD_TYPES = ["eee->e", "fff->f", "ffd->d", "ddd->d", "ggg->g"]


cdef object _make_ufunc(list rows, Operation* operation, int nin, bytes name, bytes doc):
    """A ufunc with one loop per row. Its C arrays, like its docstring, must live as long as
    the ufunc, which keeps only pointers: they are allocated once and never freed."""
    cdef int n = len(rows), k, j
    cdef PyUFuncGenericFunction* loops = <PyUFuncGenericFunction*>malloc(n * sizeof(PyUFuncGenericFunction))
    cdef void** data = <void**>malloc(n * sizeof(void*))
    cdef char* types = <char*>malloc(n * (nin + 1))
    if loops == NULL or data == NULL or types == NULL:
        raise MemoryError()
    for k, row in enumerate(rows):
        inputs, output = row.split("->")
        assert len(inputs) == nin, row
        # the loop for (x type, result type); x is the last input but alpha
        loops[k] = <PyUFuncGenericFunction><size_t>_LOOPS[inputs[nin - 2] + output]
        data[k] = operation
        for j, code in enumerate(inputs + output):
            types[k * (nin + 1) + j] = np.dtype(code).num
    return PyUFunc_FromFuncAndData(loops, data, types, n, nin, 1, PyUFunc_None, name, doc, 0)


# The docstrings must outlive the ufuncs, which keep only the char pointer.
cdef bytes _FORWARD_DOC = b"""leaky_relu(x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Leaky ReLU, elementwise: x where x >= 0, alpha * x elsewhere.

Equal, value for value, to ``np.where(x >= 0.0, x, alpha * x)``. alpha is required here
and not validated; ``lrelu.leaky_relu`` adds the default 0.01 and checks it."""

cdef bytes _DERIVATIVE_DOC = b"""leaky_relu_derivative(x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Derivative of Leaky ReLU, elementwise: 1 where x >= 0 (so 1 at 0 and -0.0), alpha elsewhere
(NaN included), in the dtype of x (float64 for integer x)."""

cdef bytes _BACKWARD_DOC = b"""leaky_relu_backward(grad, x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Gradient through Leaky ReLU, fused in one pass: grad where x >= 0, alpha * grad elsewhere.
``out=grad`` works in place."""

cdef bytes _DERIVATIVE_AT_ZERO_ALPHA_DOC = b"""leaky_relu_derivative_at_zero_alpha(x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Derivative of Leaky ReLU with PyTorch's and TensorFlow's convention at 0: 1 where x > 0,
alpha elsewhere (so alpha at 0 and -0.0, and NaN), in the dtype of x (float64 for integer x).
``lrelu.leaky_relu_derivative(x, alpha, at_zero="alpha")`` calls it."""

cdef bytes _BACKWARD_AT_ZERO_ALPHA_DOC = b"""leaky_relu_backward_at_zero_alpha(grad, x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Gradient through Leaky ReLU with PyTorch's convention at 0, fused in one pass: grad where
x > 0, alpha * grad elsewhere (0 and -0.0 included), as
``torch.ops.aten.leaky_relu_backward(grad, x, alpha, False)``. ``out=grad`` works in place;
``lrelu.leaky_relu_backward(grad, x, alpha, at_zero="alpha")`` calls it."""

leaky_relu = _make_ufunc(UNARY_TYPES, &_FORWARD, 2, b"leaky_relu", _FORWARD_DOC)
leaky_relu_derivative = _make_ufunc(UNARY_TYPES, &_DERIVATIVE, 2, b"leaky_relu_derivative",
                                    _DERIVATIVE_DOC)
leaky_relu_backward = _make_ufunc(BACKWARD_TYPES, &_BACKWARD, 3, b"leaky_relu_backward",
                                  _BACKWARD_DOC)
# The same rows with the other convention at 0: a new dtype's rows serve both.
leaky_relu_derivative_at_zero_alpha = _make_ufunc(
    UNARY_TYPES, &_DERIVATIVE_AT_ZERO_ALPHA, 2, b"leaky_relu_derivative_at_zero_alpha",
    _DERIVATIVE_AT_ZERO_ALPHA_DOC)
leaky_relu_backward_at_zero_alpha = _make_ufunc(
    BACKWARD_TYPES, &_BACKWARD_AT_ZERO_ALPHA, 3, b"leaky_relu_backward_at_zero_alpha",
    _BACKWARD_AT_ZERO_ALPHA_DOC)
