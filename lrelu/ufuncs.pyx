# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""lrelu's NumPy ufuncs, made with the ufunc C API.

``leaky_relu(x, alpha)``, ``leaky_relu_derivative(x, alpha)`` and
``leaky_relu_backward(grad, x, alpha)`` are real :class:`numpy.ufunc` objects, so ``out=``,
``where=``, ``casting=``, ``dtype=``, broadcasting, overlap handling and ``__array_ufunc__``
dispatch (pandas, xarray, dask) all come from NumPy. They take alpha as a required argument
and do not validate it; ``lrelu.leaky_relu`` and friends add the default and the checks.
bfloat16 loops are added when ml_dtypes is imported (lrelu/_bfloat16.py).
"""

cimport numpy as cnp
from libc.stdlib cimport malloc
from numpy cimport (npy_intp, PyUFuncGenericFunction, PyUFunc_FromFuncAndData, PyUFunc_None,
                   PyUFunc_RegisterLoopForType)

import numpy as np

from lrelu._kernels cimport kernel, converting_kernel, real, source, lrelu_half, lrelu_bfloat16

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


cdef enum:
    ALPHA_BLOCK = 1024      # float64 alphas narrowed at a time, on the stack


cdef inline real _one(real* tag) noexcept nogil:
    cdef real one
    if real is lrelu_half:
        return 0x3c00           # 1.0 in binary16
    elif real is lrelu_bfloat16:
        one.bits = 0x3f80       # 1.0 in bfloat16
        return one
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


cdef void _bfloat16_float64_alpha_loop(char** args, const npy_intp* dims, const npy_intp* steps,
                                       void* data) noexcept nogil:
    # bfloat16 x with a float64 alpha: the rule takes alpha as a float32, so it is narrowed,
    # once if it is one value, else a block at a time, and the float32-alpha loop runs.
    cdef Operation operation = (<Operation*>data)[0]
    cdef int a = 2 if operation.op == BACKWARD else 1      # alpha's operand; out follows
    cdef char* block_args[4]
    cdef npy_intp block_steps[4]
    cdef float alphas[ALPHA_BLOCK]
    cdef npy_intp n = dims[0], start = 0, m, i
    cdef int k
    for k in range(a + 2):
        block_args[k], block_steps[k] = args[k], steps[k]
    block_args[a] = <char*>alphas
    if steps[a] == 0:
        alphas[0] = <float>(<double*>args[a])[0]
        block_steps[a] = 0
        _float_loop(<lrelu_bfloat16*>NULL, block_args, dims, block_steps, data)
        return
    block_steps[a] = sizeof(float)
    while start < n:
        m = min(<npy_intp>ALPHA_BLOCK, n - start)
        for i in range(m):
            alphas[i] = <float>(<double*>(args[a] + (start + i) * steps[a]))[0]
        for k in range(a + 2):
            if k != a:
                block_args[k] = args[k] + start * steps[k]
        _float_loop(<lrelu_bfloat16*>NULL, block_args, &m, block_steps, data)
        start += m


# One inner loop per (x type, alpha type, result type), by NumPy's type characters; "E" is
# bfloat16 (ml_dtypes' own character for it).
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
cdef void _loop_Ef(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _float_loop(<lrelu_bfloat16*>NULL, a, d, s, p)
cdef void _loop_Ed(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _bfloat16_float64_alpha_loop(a, d, s, p)

# bool is one byte of 0 or 1, so the unsigned char loop converts it right.
_LOOPS = {
    "eee": <size_t>_loop_ee, "fff": <size_t>_loop_ff, "ddd": <size_t>_loop_dd, "ggg": <size_t>_loop_gg,
    "?dd": <size_t>_loop_Bd, "bdd": <size_t>_loop_bd, "Bdd": <size_t>_loop_Bd, "hdd": <size_t>_loop_hd,
    "Hdd": <size_t>_loop_Hd, "idd": <size_t>_loop_id, "Idd": <size_t>_loop_Id, "ldd": <size_t>_loop_ld,
    "Ldd": <size_t>_loop_Ld, "qdd": <size_t>_loop_qd, "Qdd": <size_t>_loop_Qd, "fdd": <size_t>_loop_fd,
    "EfE": <size_t>_loop_Ef, "EdE": <size_t>_loop_Ed,
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
# bfloat16, registered for ml_dtypes' user dtype when ml_dtypes is imported. Its alpha is a
# float32 ("Ef->E": a Python float alpha casts to it); "Ed->E" narrows a NumPy float64 alpha,
# which NumPy would not cast to float32 itself, so that it too gives bfloat16.
BFLOAT16_UNARY_TYPES = ["Ef->E", "Ed->E"]
BFLOAT16_BACKWARD_TYPES = ["EEf->E", "EEd->E"]

# Type numbers of the user dtypes with rows, by their character in the rows.
_USER_TYPES = {}


cdef tuple _row(str row, int nin):
    """(inner loop, type numbers of the operands) of one row."""
    inputs, output = row.split("->")
    assert len(inputs) == nin, row
    # the loop for (x type, alpha type, result type); x and alpha are the last two inputs
    loop = _LOOPS[inputs[nin - 2:] + output]
    return loop, [_USER_TYPES[c] if c in _USER_TYPES else np.dtype(c).num for c in inputs + output]


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
        loop, nums = _row(row, nin)
        loops[k] = <PyUFuncGenericFunction><size_t>loop
        data[k] = operation
        for j, num in enumerate(nums):
            types[k * (nin + 1) + j] = num
    return PyUFunc_FromFuncAndData(loops, data, types, n, nin, 1, PyUFunc_None, name, doc, 0)


cdef _register_rows(cnp.ufunc ufunc, list rows, Operation* operation, int nin, int usertype):
    """Adds a user dtype's rows to a ufunc; NumPy copies the type numbers."""
    cdef int types[4]
    cdef int j
    for row in rows:
        loop, nums = _row(row, nin)
        for j, num in enumerate(nums):
            types[j] = num
        PyUFunc_RegisterLoopForType(ufunc, usertype, <PyUFuncGenericFunction><size_t>loop, types,
                                    operation)


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

leaky_relu = _make_ufunc(UNARY_TYPES, &_FORWARD, 2, b"leaky_relu", _FORWARD_DOC)
leaky_relu_derivative = _make_ufunc(UNARY_TYPES, &_DERIVATIVE, 2, b"leaky_relu_derivative",
                                    _DERIVATIVE_DOC)
leaky_relu_backward = _make_ufunc(BACKWARD_TYPES, &_BACKWARD, 3, b"leaky_relu_backward",
                                  _BACKWARD_DOC)


def _register_bfloat16(dtype):
    """Gives the three ufuncs their bfloat16 rows, for `dtype` (ml_dtypes.bfloat16, a NumPy
    user dtype). Called by lrelu/_bfloat16.py, once; a second call changes nothing."""
    num = np.dtype(dtype).num
    if _USER_TYPES.get("E") == num:
        return
    if "E" in _USER_TYPES:
        raise RuntimeError(f"bfloat16 rows already registered for type number {_USER_TYPES['E']}")
    _USER_TYPES["E"] = num
    _register_rows(leaky_relu, BFLOAT16_UNARY_TYPES, &_FORWARD, 2, num)
    _register_rows(leaky_relu_derivative, BFLOAT16_UNARY_TYPES, &_DERIVATIVE, 2, num)
    _register_rows(leaky_relu_backward, BFLOAT16_BACKWARD_TYPES, &_BACKWARD, 3, num)
