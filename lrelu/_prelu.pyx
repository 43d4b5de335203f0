# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The fused PReLU backward: grad_x = grad * f'(x) and the alpha gradient in one pass.

``backward`` takes arrays that lrelu/_api.py has checked, finds a layout the kernel
(src/prelu.c) can walk without copying, and sums the per-channel results back to alpha's
shape. Whether the call runs on one thread or a team is asked once (lrelu/_threads.pyx);
the result has the same bits either way (src/prelu.h says how).
"""

cimport numpy as cnp

import math

import numpy as np

from lrelu._kernels cimport team
from lrelu._threads cimport LRELU_PLAN_PRELU

from lrelu import _kernels

cnp.import_array()

cdef extern from "prelu.h" nogil:
    enum:
        LRELU_PRELU_HALF
        LRELU_PRELU_FLOAT
        LRELU_PRELU_DOUBLE
        LRELU_PRELU_LONGDOUBLE
    ctypedef struct lrelu_prelu_job:
        int type
        int at_zero_alpha
        Py_ssize_t outer, channels, inner
        const void* grad
        const void* x
        const void* alpha
        void* out
        void* sum
        void* comp
        Py_ssize_t units
    Py_ssize_t lrelu_prelu_prepare(lrelu_prelu_job* job)
    void lrelu_prelu_unit(const lrelu_prelu_job* job, Py_ssize_t unit)
    void lrelu_prelu_reduce(const lrelu_prelu_job* job, void* totals)
    void lrelu_prelu_select(const char* level)

lrelu_prelu_select(_kernels._SIMD_LEVEL.encode())

# The dtype table: data dtype -> (kernel type, dtype of alpha in the loop, dtype of the sums).
# float16 computes in float32 (as the ufunc loops do) and sums in float32.
TYPES = {
    np.dtype(np.float16): (LRELU_PRELU_HALF, np.dtype(np.float32), np.dtype(np.float32)),
    np.dtype(np.float32): (LRELU_PRELU_FLOAT, np.dtype(np.float32), np.dtype(np.float64)),
    np.dtype(np.float64): (LRELU_PRELU_DOUBLE, np.dtype(np.float64), np.dtype(np.float64)),
    np.dtype(np.longdouble): (LRELU_PRELU_LONGDOUBLE, np.dtype(np.longdouble), np.dtype(np.longdouble)),
}

# Runs of one alpha shorter than this go through the column loop with alpha repeated: a
# call of the row loop, and its 16 lanes to add up, per few elements cost more than the
# elements.
ROW_MIN = 64


cdef void _units(const unsigned char* tag, const void* job, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t u
    for u in range(lo, hi):
        lrelu_prelu_unit(<const lrelu_prelu_job*>job, u)


cdef object _run(cnp.ndarray grad, cnp.ndarray x, cnp.ndarray alpha, cnp.ndarray out,
                 Py_ssize_t outer, Py_ssize_t channels, Py_ssize_t inner, int at_zero_alpha):
    """The kernel on C-contiguous grad, x, out of one dtype, seen as (outer, channels,
    inner), alpha one value per channel: the per-channel sums, in the sum dtype."""
    kind, alpha_dtype, sum_dtype = TYPES[x.dtype]
    cdef Py_ssize_t repeat = 1
    if 1 < inner < ROW_MIN:
        repeat, channels, inner = inner, channels * inner, 1
        alpha = np.repeat(alpha, repeat)
    # a private copy: out may be the memory alpha came from
    cdef cnp.ndarray alpha_c = np.array(alpha, dtype=alpha_dtype, order="C")
    cdef lrelu_prelu_job job
    job.type = kind
    job.at_zero_alpha = at_zero_alpha
    job.outer, job.channels, job.inner = outer, channels, inner
    job.grad, job.x, job.out = cnp.PyArray_DATA(grad), cnp.PyArray_DATA(x), cnp.PyArray_DATA(out)
    job.alpha = cnp.PyArray_DATA(alpha_c)
    cdef Py_ssize_t partials = lrelu_prelu_prepare(&job)
    cdef cnp.ndarray sums = np.zeros(partials, sum_dtype)
    cdef cnp.ndarray comps = np.zeros(partials, sum_dtype)
    cdef cnp.ndarray totals = np.empty(channels, sum_dtype)
    job.sum, job.comp = cnp.PyArray_DATA(sums), cnp.PyArray_DATA(comps)
    cdef void* totals_data = cnp.PyArray_DATA(totals)
    cdef Py_ssize_t nbytes = x.nbytes
    with nogil:
        # units in any order on any thread give the same bits (src/prelu.h)
        team(<const unsigned char*>NULL, nbytes, LRELU_PLAN_PRELU, NULL, False, job.units, 1, _units,
             &job)
        lrelu_prelu_reduce(&job, totals_data)
    if repeat > 1:
        totals = totals.reshape(-1, repeat).sum(axis=1)
    return totals


def _axis_order(x):
    """Axes of x from the largest stride to the smallest: x.transpose(order) is C-ordered
    when x is contiguous in any axis order (C, Fortran, channels-last...)."""
    return sorted(range(x.ndim), key=lambda axis: -abs(x.strides[axis]))


def _exact_alias(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides and a.dtype == b.dtype)


def backward(grad, x, alpha, out, dtype, at_zero_alpha):
    """(grad_x, sums): grad_x = grad * f'(x) in ``out`` (or a new array), and the sums of
    grad * x where f'(x) = alpha over the axes alpha is broadcast along, with alpha's shape,
    in the sum dtype (TYPES).

    grad and x: ndarrays of x's shape; alpha: an ndarray that broadcasts to x's shape without
    growing it; out: None or a writeable ndarray of x's shape and ``dtype``. Inputs that are
    not of ``dtype`` or not contiguous in one shared axis order are copied to C order first;
    everything else is read in place.
    """
    grad = np.asarray(grad, dtype=dtype)
    x = np.asarray(x, dtype=dtype)
    order = _axis_order(x)
    gt, xt = grad.transpose(order), x.transpose(order)
    if not (xt.flags.c_contiguous and gt.flags.c_contiguous):
        grad, x = np.ascontiguousarray(grad), np.ascontiguousarray(x)
        order = list(range(x.ndim))
        gt, xt = grad, x
    target = None
    if out is not None:
        ot = out.transpose(order)
        aliased = np.may_share_memory(out, grad) or np.may_share_memory(out, x)
        if ot.flags.c_contiguous and (not aliased or _exact_alias(out, grad) or _exact_alias(out, x)):
            target = ot
    result = np.empty(xt.shape, dtype) if target is None else target

    # alpha in the same axis order; the axes it varies along are kept in its sums
    shape = xt.shape
    a = np.asarray(alpha).reshape((1,) * (x.ndim - np.ndim(alpha)) + np.shape(alpha)).transpose(order)
    kept = [axis for axis in range(len(shape)) if a.shape[axis] != 1]
    first, last = (min(kept), max(kept) + 1) if kept else (len(shape), len(shape))
    block = shape[first:last]
    # the alpha values of the block of axes first..last, one per element of the block, in
    # the result dtype first, as the ufunc casts them (float16's then go to float32 exactly)
    alpha_block = np.broadcast_to(a[(0,) * first + (slice(None),) * (last - first) + (0,) * (len(shape) - last)],
                                  block).astype(dtype).ravel()
    if x.size:
        sums = _run(gt.reshape(-1), xt.reshape(-1), alpha_block, result.reshape(-1),
                    math.prod(shape[:first]), math.prod(block), math.prod(shape[last:]),
                    at_zero_alpha)
    else:
        sums = np.zeros(math.prod(block), TYPES[np.dtype(dtype)][2])
    # within the block, add up the axes alpha is broadcast along; then alpha's own shape
    broadcast = tuple(axis for axis in range(last - first) if a.shape[first + axis] == 1)
    sums = sums.reshape(block).sum(axis=broadcast, keepdims=True) if broadcast else sums.reshape(block)
    sums = sums.reshape(a.shape).transpose(np.argsort(order)).reshape(np.shape(alpha))

    grad_x = result.transpose(np.argsort(order))
    if out is not None and target is None:
        np.copyto(out, grad_x)
        grad_x = out
    elif out is not None:
        grad_x = out
    return grad_x, sums
