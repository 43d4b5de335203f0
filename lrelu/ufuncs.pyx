# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""lrelu's NumPy ufuncs, made with the ufunc C API.

``leaky_relu(x, alpha)``, ``leaky_relu_derivative(x, alpha)`` and
``leaky_relu_backward(grad, x, alpha)`` are real :class:`numpy.ufunc` objects, so ``out=``,
``where=``, ``casting=``, ``dtype=``, broadcasting, overlap handling and ``__array_ufunc__``
dispatch (pandas, xarray, dask) all come from NumPy. They take alpha as a required argument
and do not validate it; ``lrelu.leaky_relu`` and friends add the default and the checks.
Because alpha is an input, ``reduce``, ``accumulate``, ``reduceat``, ``outer`` and ``at``
would read elements of x as alpha: they raise TypeError (see the end of this file).
bfloat16 loops are added when ml_dtypes is imported (lrelu/_bfloat16.py, register_dtype).
Which loops each ufunc has is one table, lrelu/_loop_table.py.
``leaky_relu_derivative_at_zero_alpha`` and ``leaky_relu_backward_at_zero_alpha`` are the same
loops with PyTorch's convention at 0 (slope 1 only for x > 0), for ``at_zero="alpha"``.
"""

cimport numpy as cnp
from libc.stdlib cimport malloc
from numpy cimport (npy_intp, PyUFuncGenericFunction, PyUFunc_FromFuncAndData, PyUFunc_None,
                   PyUFunc_RegisterLoopForType)

import numpy as np

from lrelu import _loop_table
# lrelu_half and lrelu_bfloat16: C types the loop table's rows name
from lrelu._kernels cimport (AT_ZERO_ALPHA, Operands, kernel, converting_kernel, one_of, real,
                             source, lrelu_half, lrelu_bfloat16)

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


cdef enum:
    ALPHA_BLOCK = 1024      # float64 alphas narrowed at a time, on the stack


cdef inline Operands _operands(void* data, char** args, const npy_intp* steps,
                               const void* one) noexcept nogil:
    # The one mapping of a ufunc's operands to the kernel's: (x, alpha, out) for forward and
    # derivative, (grad, x, alpha, out) for backward. `one` is the derivative's g.
    cdef Operation operation = (<Operation*>data)[0]
    cdef int k = 1 if operation.op == BACKWARD else 0      # x's operand; alpha and out follow
    cdef Operands a = Operands(args[k], steps[k], args[k], steps[k], args[k + 1], steps[k + 1],
                               args[k + 2], steps[k + 2], operation.flags, False)
    if operation.op == BACKWARD:
        a.g, a.g_step = args[0], steps[0]
    elif operation.op == DERIVATIVE:
        a.g, a.g_step = one, 0
    return a


cdef inline void _float_loop(real* tag, char** args, const npy_intp* dims, const npy_intp* steps,
                             void* data) noexcept nogil:
    cdef real one = one_of(tag)
    cdef Operands a = _operands(data, args, steps, &one)
    kernel(tag, dims[0], &a)


cdef inline void _converting_loop(source* tag, char** args, const npy_intp* dims,
                                  const npy_intp* steps, void* data) noexcept nogil:
    # (x, float64 alpha) -> float64, and (grad, x, float64 alpha) -> float64: the listing
    # computes these in float64, so x (and grad) are converted a block at a time.
    cdef source one = 1
    cdef Operands a = _operands(data, args, steps, &one)
    converting_kernel(tag, dims[0], &a)


cdef inline void _narrowing_loop(lrelu_bfloat16* tag, char** args, const npy_intp* dims,
                                 const npy_intp* steps, void* data) noexcept nogil:
    # bfloat16 x with a float64 alpha: the rule takes alpha as a float32, so it is narrowed,
    # once if it is one value, else a block at a time, and the float32-alpha loop runs.
    cdef lrelu_bfloat16 one = one_of(tag)
    cdef Operands all = _operands(data, args, steps, &one), a
    cdef float alphas[ALPHA_BLOCK]
    cdef npy_intp n = dims[0], start = 0, m, i
    if all.alpha_step == 0:
        alphas[0] = <float>(<const double*>all.alpha)[0]
        all.alpha = alphas
        kernel(tag, n, &all)
        return
    while start < n:
        m = min(<npy_intp>ALPHA_BLOCK, n - start)
        for i in range(m):
            alphas[i] = <float>(<const double*>(<const char*>all.alpha + (start + i) * all.alpha_step))[0]
        a = all
        a.g = <const char*>all.g + start * all.g_step
        a.x = <const char*>all.x + start * all.x_step
        a.out = <char*>all.out + start * all.out_step
        a.alpha, a.alpha_step = alphas, sizeof(float)
        kernel(tag, m, &a)
        start += m


# ---- The loops of the loop table (lrelu/_loop_table.py) ------------------------------------
# setup.py writes one function per row into _loops.pxi, which calls _<kind>_loop above with
# the row's C type, and _LOOP_TABLE: (signature, backward, loop address) per row, in order.
include "_loops.pxi"


def _rows(int nin, str user=""):
    """(signature, loop) of the table for ufuncs of nin inputs: NumPy's own types, or the
    rows of the user dtype whose character is `user`."""
    return [(sig[0] * (nin - 1) + sig[1:], loop) for sig, backward, loop in _LOOP_TABLE
            if (nin == 2 or backward) and ((sig[0] == user) if user else sig[0] not in _USER_CODES)]


# The characters of user dtypes with rows, and their type numbers once registered.
_USER_CODES = "".join(_loop_table.USER_DTYPES)
_USER_TYPES = {}

# The signatures, as data for users and tests ("inputs->output").
UNARY_TYPES = [sig for sig, _ in _rows(2)]
BACKWARD_TYPES = [sig for sig, _ in _rows(3)]
BFLOAT16_UNARY_TYPES = [sig for sig, _ in _rows(2, "E")]
BFLOAT16_BACKWARD_TYPES = [sig for sig, _ in _rows(3, "E")]


cdef list _type_numbers(str signature):
    inputs, output = signature.split("->")
    return [_USER_TYPES[c] if c in _USER_TYPES else np.dtype(c).num for c in inputs + output]


# ---- No reduce, accumulate, reduceat, outer or at -------------------------------------------
# alpha is an input, so these methods would read elements of x as alpha (reduce computes
# f(f(x0, x1), x2)...) and return meaningless numbers. NumPy (1.23 to 2.x) has no per-ufunc
# switch that refuses them and keeps where=: a signature "(),()->()" is parsed as no signature
# at all (core_enabled stays 0), and a real one makes NumPy's argument parser drop where=; the
# legacy type_resolver is consulted only when no loop matches exactly, and outer and at hand
# it the same operands as a call; ArrayMethod's get_reduction_initial needs NumPy >= 1.25 and
# covers only the reductions. What every NumPy does is look the methods up on the ufunc's
# type, as Python does for any method. So once made, each ufunc gets a subtype of numpy.ufunc
# as its type: a static C type with np.ufunc as its base, so PyType_Ready gives it every slot
# of np.ufunc (size, call and vectorcall, repr, attributes, dealloc), and its own reduce,
# accumulate, reduceat, outer and at, which raise TypeError. isinstance(u, np.ufunc) holds,
# calls take NumPy's own C path unchanged, and __array_ufunc__ implementations that call
# getattr(ufunc, method) (pandas, ndarray subclasses) get the same error. NumPy registers its
# pickle reducer with copyreg for np.ufunc exactly, so the subtype has __reduce__ doing the
# same: the name, which pickle finds again in lrelu.ufuncs (dask's workers need this).
# _make_ufunc gives every ufunc this type.
cdef extern from *:
    """
    static PyObject *
    lrelu_refused_method(PyObject *self, const char *method)
    {
        PyObject *name = PyObject_GetAttrString(self, "__name__");
        if (name == NULL) {
            return NULL;
        }
        PyErr_Format(PyExc_TypeError,
            "lrelu.ufuncs.%U.%s is not supported: alpha is an input of lrelu's ufuncs, not "
            "a second x to combine with, so only calls are defined. Call lrelu.ufuncs.%U(...) "
            "itself: it broadcasts, and out= and where= choose what it writes",
            name, method, name);
        Py_DECREF(name);
        return NULL;
    }

    #define LRELU_REFUSE(method) \\
        static PyObject *lrelu_refuse_##method(PyObject *self, PyObject *args, PyObject *kwargs) \\
        { (void)args; (void)kwargs; return lrelu_refused_method(self, #method); }
    LRELU_REFUSE(reduce)
    LRELU_REFUSE(accumulate)
    LRELU_REFUSE(reduceat)
    LRELU_REFUSE(outer)
    LRELU_REFUSE(at)

    static PyObject *
    lrelu_ufunc_pickle(PyObject *self, PyObject *unused)
    {
        (void)unused;
        return PyObject_GetAttrString(self, "__name__");
    }

    #define LRELU_REFUSED(method) \\
        {#method, (PyCFunction)(void (*)(void))lrelu_refuse_##method, METH_VARARGS | METH_KEYWORDS, NULL}
    static PyMethodDef lrelu_ufunc_methods[] = {
        LRELU_REFUSED(reduce), LRELU_REFUSED(accumulate), LRELU_REFUSED(reduceat),
        LRELU_REFUSED(outer), LRELU_REFUSED(at),
        {"__reduce__", lrelu_ufunc_pickle, METH_NOARGS, NULL},
        {NULL, NULL, 0, NULL}
    };

    /* np.ufunc's __doc__ is a descriptor in its type's dict (the docstring each ufunc was made
       with); PyType_Ready would put a plain __doc__ (tp_doc, or None) in the subtype's dict,
       which would hide it, so the subtype hands __doc__ to np.ufunc's own descriptor. */
    static PyObject *lrelu_ufunc_doc_descr = NULL;

    static PyObject *
    lrelu_ufunc_get_doc(PyObject *self, void *closure)
    {
        (void)closure;
        return Py_TYPE(lrelu_ufunc_doc_descr)->tp_descr_get(
            lrelu_ufunc_doc_descr, self, (PyObject *)Py_TYPE(self));
    }

    static int
    lrelu_ufunc_set_doc(PyObject *self, PyObject *value, void *closure)
    {
        (void)closure;
        return Py_TYPE(lrelu_ufunc_doc_descr)->tp_descr_set(lrelu_ufunc_doc_descr, self, value);
    }

    static PyGetSetDef lrelu_ufunc_getset[] = {
        {"__doc__", lrelu_ufunc_get_doc, lrelu_ufunc_set_doc, NULL, NULL},
        {NULL, NULL, NULL, NULL, NULL}
    };

    static PyTypeObject lrelu_ufunc_type = {
        PyVarObject_HEAD_INIT(NULL, 0)
        "lrelu.ufuncs.elementwise_ufunc",   /* tp_name; everything not set here is inherited */
    };

    static int
    lrelu_elementwise_only(PyObject *ufunc)
    {
        if (lrelu_ufunc_type.tp_base == NULL) {
            lrelu_ufunc_type.tp_doc = "A numpy.ufunc whose last input is alpha: "
                "reduce, accumulate, reduceat, outer and at raise TypeError.";
            lrelu_ufunc_type.tp_flags = Py_TPFLAGS_DEFAULT;
            lrelu_ufunc_type.tp_methods = lrelu_ufunc_methods;
            lrelu_ufunc_type.tp_getset = lrelu_ufunc_getset;
            lrelu_ufunc_type.tp_base = &PyUFunc_Type;
            PyObject *base_dict = PyObject_GetAttrString((PyObject *)&PyUFunc_Type, "__dict__");
            if (base_dict == NULL) {
                return -1;
            }
            lrelu_ufunc_doc_descr = PyMapping_GetItemString(base_dict, "__doc__");  /* kept */
            Py_DECREF(base_dict);
            if (lrelu_ufunc_doc_descr == NULL) {
                return -1;
            }
            if (Py_TYPE(lrelu_ufunc_doc_descr)->tp_descr_get == NULL
                    || Py_TYPE(lrelu_ufunc_doc_descr)->tp_descr_set == NULL) {
                PyErr_SetString(PyExc_TypeError, "numpy.ufunc.__doc__ is not a descriptor");
                return -1;
            }
            if (PyType_Ready(&lrelu_ufunc_type) < 0) {
                return -1;
            }
        }
        if (!PyObject_TypeCheck(ufunc, &PyUFunc_Type)
                || lrelu_ufunc_type.tp_basicsize != Py_TYPE(ufunc)->tp_basicsize) {
            PyErr_SetString(PyExc_TypeError, "lrelu_elementwise_only: not a numpy.ufunc");
            return -1;
        }
        Py_SET_TYPE(ufunc, &lrelu_ufunc_type);
        return 0;
    }
    """
    int _elementwise_only "lrelu_elementwise_only" (object ufunc) except -1


# Every ufunc made, with its operation (as an address) and number of inputs, so that a dtype
# registered later (bfloat16, register_dtype) gets rows in all of them.
cdef list _MADE = []


cdef object _make_ufunc(bytes name, int op, int flags, int nin, bytes doc):
    """A ufunc with a loop per row of the table for nin inputs. Its C arrays and its
    Operation, like its name and docstring, must live as long as the ufunc, which keeps only
    pointers: they are allocated once and never freed."""
    cdef list rows = _rows(nin)
    cdef int n = len(rows), k, j
    cdef PyUFuncGenericFunction* loops = <PyUFuncGenericFunction*>malloc(n * sizeof(PyUFuncGenericFunction))
    cdef void** data = <void**>malloc(n * sizeof(void*))
    cdef char* types = <char*>malloc(n * (nin + 1))
    cdef Operation* operation = <Operation*>malloc(sizeof(Operation))
    if loops == NULL or data == NULL or types == NULL or operation == NULL:
        raise MemoryError()
    operation[0] = Operation(op, flags)
    for k, (signature, loop) in enumerate(rows):
        loops[k] = <PyUFuncGenericFunction><size_t>loop
        data[k] = operation
        for j, num in enumerate(_type_numbers(signature)):
            types[k * (nin + 1) + j] = num
    ufunc = PyUFunc_FromFuncAndData(loops, data, types, n, nin, 1, PyUFunc_None, name, doc, 0)
    _elementwise_only(ufunc)
    _MADE.append((ufunc, <size_t>operation, nin))
    return ufunc


cdef _register_rows(cnp.ufunc ufunc, Operation* operation, int nin, str code, int usertype):
    """Adds a user dtype's rows to a ufunc; NumPy copies the type numbers."""
    cdef int types[4]
    cdef int j
    for signature, loop in _rows(nin, code):
        for j, num in enumerate(_type_numbers(signature)):
            types[j] = num
        PyUFunc_RegisterLoopForType(ufunc, usertype, <PyUFuncGenericFunction><size_t>loop, types,
                                    operation)


# ---- The ufuncs: one row each ------------------------------------------------------------
# (name, operation, flags, inputs, docstring); every row gets every loop of the loop table.
# Another operation g * slope(x) is a row and, for a new g, an Op and its branch in
# _operands. The rows stay referenced: each ufunc keeps pointers to its name and docstring.
_UFUNCS = (
    (b"leaky_relu", FORWARD, 0, 2, b"""leaky_relu(x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Leaky ReLU, elementwise: x where x >= 0, alpha * x elsewhere.

Equal, value for value, to ``np.where(x >= 0.0, x, alpha * x)``. alpha is required here
and not validated; ``lrelu.leaky_relu`` adds the default 0.01 and checks it."""),
    (b"leaky_relu_derivative", DERIVATIVE, 0, 2, b"""leaky_relu_derivative(x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Derivative of Leaky ReLU, elementwise: 1 where x >= 0 (so 1 at 0 and -0.0), alpha elsewhere
(NaN included), in the dtype of x (float64 for integer x)."""),
    (b"leaky_relu_backward", BACKWARD, 0, 3, b"""leaky_relu_backward(grad, x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Gradient through Leaky ReLU, fused in one pass: grad where x >= 0, alpha * grad elsewhere.
``out=grad`` works in place."""),
    # PyTorch's and TensorFlow's convention: the same loops, slope(0) = alpha.
    (b"leaky_relu_derivative_at_zero_alpha", DERIVATIVE, AT_ZERO_ALPHA, 2, b"""leaky_relu_derivative_at_zero_alpha(x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Derivative of Leaky ReLU with PyTorch's and TensorFlow's convention at 0: 1 where x > 0,
alpha elsewhere (so alpha at 0 and -0.0, and NaN), in the dtype of x (float64 for integer x).
``lrelu.leaky_relu_derivative(x, alpha, at_zero="alpha")`` calls it."""),
    (b"leaky_relu_backward_at_zero_alpha", BACKWARD, AT_ZERO_ALPHA, 3, b"""leaky_relu_backward_at_zero_alpha(grad, x, alpha, /, out=None, *, where=True, casting='same_kind', order='K', dtype=None)

Gradient through Leaky ReLU with PyTorch's convention at 0, fused in one pass: grad where
x > 0, alpha * grad elsewhere (0 and -0.0 included), as
``torch.ops.aten.leaky_relu_backward(grad, x, alpha, False)``. ``out=grad`` works in place;
``lrelu.leaky_relu_backward(grad, x, alpha, at_zero="alpha")`` calls it."""),
)
for _name, _op, _flags, _nin, _doc in _UFUNCS:
    globals()[_name.decode()] = _make_ufunc(_name, _op, _flags, _nin, _doc)
del _name, _op, _flags, _nin, _doc


def register_dtype(code, dtype):
    """Gives every ufunc the table's rows for the user dtype of character `code` ("E":
    bfloat16), as `dtype` (a NumPy user dtype, e.g. ml_dtypes.bfloat16). lrelu/_bfloat16.py
    calls it when ml_dtypes is imported; a second call for the same dtype changes nothing, one
    for another dtype raises RuntimeError."""
    if code not in _USER_CODES:
        raise ValueError(f"register_dtype: no rows for {code!r}; the table has {_USER_CODES!r}")
    num = np.dtype(dtype).num
    if _USER_TYPES.get(code) == num:
        return
    if code in _USER_TYPES:
        raise RuntimeError(f"{code!r} rows already registered for type number {_USER_TYPES[code]}")
    _USER_TYPES[code] = num
    for ufunc, operation, nin in _MADE:
        _register_rows(ufunc, <Operation*><size_t>operation, nin, code, num)


def registered_dtype(code):
    """The type number register_dtype(code, ...) registered rows for, or None."""
    return _USER_TYPES.get(code)


def _register_bfloat16(dtype):
    # bench/import_time.py times this name
    register_dtype("E", dtype)
