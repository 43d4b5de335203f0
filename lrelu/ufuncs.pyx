# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""lrelu's NumPy ufuncs, made with the ufunc C API.

``leaky_relu(x, alpha)``, ``leaky_relu_derivative(x, alpha)`` and
``leaky_relu_backward(grad, x, alpha)`` are real :class:`numpy.ufunc` objects, so ``out=``,
``where=``, ``casting=``, ``dtype=``, broadcasting, overlap handling and ``__array_ufunc__``
dispatch (pandas, xarray, dask) all come from NumPy. They take alpha as a required argument
and do not validate it; ``lrelu.leaky_relu`` and friends add the default and the checks.
Because alpha is an input, ``reduce``, ``accumulate``, ``reduceat``, ``outer`` and ``at``
would read elements of x as alpha: they raise TypeError (see the end of this file).
"""

cimport numpy as cnp
from numpy cimport npy_intp, PyUFuncGenericFunction, PyUFunc_FromFuncAndData, PyUFunc_None

from lrelu._kernels cimport kernel, real, lrelu_half

cnp.import_array()
cnp.import_umath()

cdef extern from "numpy/ndarraytypes.h":
    int NPY_HALF      # not in Cython's numpy.pxd

cdef enum Op:
    FORWARD
    DERIVATIVE
    BACKWARD

cdef int _FORWARD = FORWARD, _DERIVATIVE = DERIVATIVE, _BACKWARD = BACKWARD

ctypedef fused integral:
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


cdef inline real _one(real* tag) noexcept nogil:
    if real is lrelu_half:
        return 0x3c00           # 1.0 in binary16
    else:
        return 1


cdef inline void _float_loop(real* tag, char** args, const npy_intp* dims, const npy_intp* steps,
                             void* data) noexcept nogil:
    # args: (x, alpha, out) for forward and derivative, (grad, x, alpha, out) for backward.
    cdef int op = (<int*>data)[0]
    cdef real one = _one(tag)
    if op == BACKWARD:
        kernel(dims[0], <real*>args[0], steps[0], <real*>args[1], steps[1],
               <real*>args[2], steps[2], <real*>args[3], steps[3])
    elif op == FORWARD:
        kernel(dims[0], <real*>args[0], steps[0], <real*>args[0], steps[0],
               <real*>args[1], steps[1], <real*>args[2], steps[2])
    else:
        kernel(dims[0], &one, 0, <real*>args[0], steps[0],
               <real*>args[1], steps[1], <real*>args[2], steps[2])


cdef inline void _integer_loop(integral* tag, char** args, const npy_intp* dims, const npy_intp* steps,
                               void* data) noexcept nogil:
    # The listing gives float64 for integer and bool x (alpha * x is float64), so these loops
    # are (int, float64) -> float64: convert a block to float64, then run the float64 kernel.
    cdef double block[1024]
    cdef double one = 1
    cdef npy_intp n = dims[0], start, i, m
    cdef int op = (<int*>data)[0]
    start = 0
    while start < n:
        m = min(<npy_intp>1024, n - start)
        for i in range(m):
            block[i] = <double>(<integral*>(args[0] + (start + i) * steps[0]))[0]
        if op == FORWARD:
            kernel(m, block, sizeof(double), block, sizeof(double),
                   <double*>(args[1] + start * steps[1]), steps[1],
                   <double*>(args[2] + start * steps[2]), steps[2])
        else:
            kernel(m, &one, 0, block, sizeof(double),
                   <double*>(args[1] + start * steps[1]), steps[1],
                   <double*>(args[2] + start * steps[2]), steps[2])
        start += m


# ---- The dtype table: one entry per loop, in NumPy's search order --------------------------
# NumPy takes the first loop every input casts to safely, so the integer loops come first
# (otherwise int8 would match float16) and the float loops run small to large, as in SciPy.

cdef void _loop_e(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _float_loop(<lrelu_half*>NULL, a, d, s, p)
cdef void _loop_f(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _float_loop(<float*>NULL, a, d, s, p)
cdef void _loop_d(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _float_loop(<double*>NULL, a, d, s, p)
cdef void _loop_g(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _float_loop(<long double*>NULL, a, d, s, p)
cdef void _loop_b(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<signed char*>NULL, a, d, s, p)
cdef void _loop_B(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<unsigned char*>NULL, a, d, s, p)
cdef void _loop_h(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<short*>NULL, a, d, s, p)
cdef void _loop_H(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<unsigned short*>NULL, a, d, s, p)
cdef void _loop_i(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<int*>NULL, a, d, s, p)
cdef void _loop_I(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<unsigned int*>NULL, a, d, s, p)
cdef void _loop_l(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<long*>NULL, a, d, s, p)
cdef void _loop_L(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<unsigned long*>NULL, a, d, s, p)
cdef void _loop_q(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<long long*>NULL, a, d, s, p)
cdef void _loop_Q(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: _integer_loop(<unsigned long long*>NULL, a, d, s, p)

cdef enum:
    N_INTEGER = 11
    N_FLOAT = 4
    N_UNARY = N_INTEGER + N_FLOAT

# bool is one byte of 0 or 1, so the unsigned char loop converts it right.
cdef char _integer_types[N_INTEGER]
cdef PyUFuncGenericFunction _integer_loops[N_INTEGER]
_integer_types[:] = [cnp.NPY_BOOL, cnp.NPY_BYTE, cnp.NPY_UBYTE, cnp.NPY_SHORT, cnp.NPY_USHORT,
                     cnp.NPY_INT, cnp.NPY_UINT, cnp.NPY_LONG, cnp.NPY_ULONG, cnp.NPY_LONGLONG,
                     cnp.NPY_ULONGLONG]
_integer_loops[:] = [<PyUFuncGenericFunction>_loop_B, <PyUFuncGenericFunction>_loop_b,
                     <PyUFuncGenericFunction>_loop_B, <PyUFuncGenericFunction>_loop_h,
                     <PyUFuncGenericFunction>_loop_H, <PyUFuncGenericFunction>_loop_i,
                     <PyUFuncGenericFunction>_loop_I, <PyUFuncGenericFunction>_loop_l,
                     <PyUFuncGenericFunction>_loop_L, <PyUFuncGenericFunction>_loop_q,
                     <PyUFuncGenericFunction>_loop_Q]

cdef char _float_types[N_FLOAT]
cdef PyUFuncGenericFunction _float_loops[N_FLOAT]
_float_types[:] = [NPY_HALF, cnp.NPY_FLOAT, cnp.NPY_DOUBLE, cnp.NPY_LONGDOUBLE]
_float_loops[:] = [<PyUFuncGenericFunction>_loop_e, <PyUFuncGenericFunction>_loop_f,
                   <PyUFuncGenericFunction>_loop_d, <PyUFuncGenericFunction>_loop_g]

# (x, alpha) -> out: integers as (int, float64) -> float64, floats as (T, T) -> T.
cdef PyUFuncGenericFunction _unary_loops[N_UNARY]
cdef char _unary_types[3 * N_UNARY]
cdef void* _forward_data[N_UNARY]
cdef void* _derivative_data[N_UNARY]
# (grad, x, alpha) -> out: floats only; integer grad or x follow NumPy's safe casting.
cdef char _backward_types[4 * N_FLOAT]
cdef void* _backward_data[N_FLOAT]

cdef int _k
for _k in range(N_INTEGER):
    _unary_loops[_k] = _integer_loops[_k]
    _unary_types[3 * _k] = _integer_types[_k]
    _unary_types[3 * _k + 1] = cnp.NPY_DOUBLE
    _unary_types[3 * _k + 2] = cnp.NPY_DOUBLE
for _k in range(N_FLOAT):
    _unary_loops[N_INTEGER + _k] = _float_loops[_k]
    _unary_types[3 * (N_INTEGER + _k)] = _float_types[_k]
    _unary_types[3 * (N_INTEGER + _k) + 1] = _float_types[_k]
    _unary_types[3 * (N_INTEGER + _k) + 2] = _float_types[_k]
    _backward_types[4 * _k] = _float_types[_k]
    _backward_types[4 * _k + 1] = _float_types[_k]
    _backward_types[4 * _k + 2] = _float_types[_k]
    _backward_types[4 * _k + 3] = _float_types[_k]
    _backward_data[_k] = &_BACKWARD
for _k in range(N_UNARY):
    _forward_data[_k] = &_FORWARD
    _derivative_data[_k] = &_DERIVATIVE

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

leaky_relu = PyUFunc_FromFuncAndData(
    _unary_loops, _forward_data, _unary_types, N_UNARY, 2, 1, PyUFunc_None,
    b"leaky_relu", _FORWARD_DOC, 0)
leaky_relu_derivative = PyUFunc_FromFuncAndData(
    _unary_loops, _derivative_data, _unary_types, N_UNARY, 2, 1, PyUFunc_None,
    b"leaky_relu_derivative", _DERIVATIVE_DOC, 0)
leaky_relu_backward = PyUFunc_FromFuncAndData(
    _float_loops, _backward_data, _backward_types, N_FLOAT, 3, 1, PyUFunc_None,
    b"leaky_relu_backward", _BACKWARD_DOC, 0)


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
# To port: call lrelu_elementwise_only(u) on each ufunc once PyUFunc_FromFuncAndData made it.
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

_elementwise_only(leaky_relu)
_elementwise_only(leaky_relu_derivative)
_elementwise_only(leaky_relu_backward)
