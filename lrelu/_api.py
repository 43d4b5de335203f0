"""The thin Python API: defaults, argument checks and clear errors around lrelu.ufuncs.

Every function here calls one of the ufuncs, so pandas, xarray and dask objects dispatch
through ``__array_ufunc__`` and come back as their own types. Checks run before the ufunc,
and NumPy itself checks shapes, dtypes and writeability before its loop writes anything, so
a call that fails leaves every array as it was.
"""

import math
import numbers

import numpy as np

from .ufuncs import leaky_relu as _forward
from .ufuncs import leaky_relu_backward as _backward
from .ufuncs import leaky_relu_derivative as _derivative

# Bound once: a module attribute lookup per call (np.ndarray, ufuncs.leaky_relu) is a
# measurable part of a 1,000-element call (issue #3's small-array target).
_ndarray = np.ndarray

_SUPPORTED = "float16, float32, float64, longdouble, integer or bool"


_KIND_WORDS = {"c": "complex", "U": "str", "S": "bytes", "O": "object", "M": "datetime64",
               "m": "timedelta64", "V": "void"}


def _kind_name(obj):
    dtype = getattr(obj, "dtype", None)
    if dtype is not None:
        dtype = np.dtype(dtype)
        word = _KIND_WORDS.get(dtype.kind)
        return f"dtype {dtype}" + (f" ({word})" if word and word != str(dtype) else "")
    return f"type {type(obj).__name__}"


def _checked_alpha(alpha):
    """alpha as given, once it is known to be real and finite (scalar or array)."""
    if isinstance(alpha, (bool, np.bool_)):
        raise TypeError(f"alpha must be a real number, got bool {alpha!r}")
    if isinstance(alpha, numbers.Real) and not isinstance(alpha, np.generic):
        if not math.isfinite(alpha):
            raise ValueError(f"alpha must be finite, got {alpha!r}")
        return alpha
    try:
        values = np.asarray(alpha)
    except Exception as exc:  # e.g. a ragged list
        raise TypeError(f"alpha must be a real number or an array of them, got {type(alpha).__name__}") from exc
    if values.dtype.kind not in "fiu":
        what = type(alpha).__name__ if values.dtype.kind == "O" else f"dtype {values.dtype}"
        raise TypeError(f"alpha must be a real number or an array of them, got {what}")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ValueError("alpha must be finite, got "
                         + (repr(alpha) if values.ndim == 0 else "an array containing NaN or inf"))
    return alpha


def _unsupported(name, exc, **operands):
    """A TypeError naming the operand NumPy found no loop for, or else the original error."""
    for label, obj in operands.items():
        if obj is None:
            what, kind = "None", None
        else:
            try:
                values = obj if hasattr(obj, "dtype") else np.asarray(obj)
                kind = np.dtype(values.dtype).kind
                what = f"type {type(obj).__name__}" if kind == "O" and not isinstance(obj, np.ndarray) else _kind_name(values)
            except Exception:
                what, kind = f"type {type(obj).__name__}", "O"
        if kind is None or kind not in "fiub":
            extra = "; Leaky ReLU is defined on real numbers" if kind == "c" else ""
            return TypeError(f"{name}: {label} must be an array of real numbers ({_SUPPORTED}), "
                             f"got {what}{extra}")
    return exc


def _checked_inplace_target(name, x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} works in place on a NumPy array, got {type(x).__name__}; "
                        f"use {name.rstrip('_')}(x) for a new result")
    if x.dtype.kind != "f":
        raise TypeError(f"{name} works in place on a floating-point array, got dtype {x.dtype}; "
                        f"use {name.rstrip('_')}(x) for a new float64 result")
    if not x.flags.writeable:
        raise ValueError(f"{name}: the array is read-only, so it cannot be changed in place")


def _readonly_error(name, x, exc):
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        return ValueError(f"{name}: the array is read-only, so it cannot be changed in place")
    return exc


def leaky_relu(x, alpha=0.01, out=None, **kwargs):
    """Leaky ReLU, elementwise: ``x`` where ``x >= 0``, ``alpha * x`` elsewhere.

    Equal, value for value, to the listing ``np.where(x >= 0.0, x, alpha * x)``: -0.0 stays
    -0.0, NaN stays NaN, and the result keeps a floating x's dtype (float64 for integer x).

    Parameters
    ----------
    x : array_like
        Real input. pandas, xarray and dask objects come back as their own types.
    alpha : float or array_like, default 0.01
        Slope for negative inputs; any finite real number. An array broadcasts against x
        (per-channel slopes, e.g. shape (C, 1, 1) against (N, C, H, W)).
    out : ndarray, optional
        Where to write the result; ``out=x`` works in place (see also :func:`leaky_relu_`).
    **kwargs
        ``where=``, ``casting=``, ``order=``, ``dtype=``, passed to the ufunc.

    Examples
    --------
    >>> import numpy as np, lrelu
    >>> lrelu.leaky_relu(np.array([-2.0, -0.0, 0.0, 3.0]))
    array([-0.02, -0.  ,  0.  ,  3.  ])
    """
    if type(alpha) is not float or alpha - alpha != 0.0:  # fast path: a finite Python float
        alpha = _checked_alpha(alpha)
    try:
        return _forward(x, alpha, out=out, **kwargs)
    except TypeError as exc:
        raise _unsupported("leaky_relu", exc, x=x) from exc


def leaky_relu_(x, alpha=0.01):
    """Leaky ReLU in place: overwrites ``x`` (a writeable floating ndarray) and returns it.

    >>> import numpy as np, lrelu
    >>> x = np.array([-2.0, 3.0])
    >>> lrelu.leaky_relu_(x) is x
    True
    >>> x
    array([-0.02,  3.  ])
    """
    if type(x) is not _ndarray or x.dtype.kind != "f":
        _checked_inplace_target("leaky_relu_", x)
    if type(alpha) is not float or alpha - alpha != 0.0:
        alpha = _checked_alpha(alpha)
    try:
        return _forward(x, alpha, out=x)
    except ValueError as exc:
        raise _readonly_error("leaky_relu_", x, exc) from exc


def leaky_relu_derivative(x, alpha=0.01, out=None, **kwargs):
    """Derivative of Leaky ReLU: 1 where ``x >= 0`` (so f'(0) = f'(-0.0) = 1), ``alpha``
    elsewhere, NaN included (the listing's ``np.where(x >= 0.0, 1.0, alpha)``).

    The result has the dtype :func:`leaky_relu` would give (the listing always gives
    float64).

    >>> import numpy as np, lrelu
    >>> lrelu.leaky_relu_derivative(np.array([-1.0, 0.0, 2.0], dtype=np.float32))
    array([0.01, 1.  , 1.  ], dtype=float32)
    """
    if type(alpha) is not float or alpha - alpha != 0.0:
        alpha = _checked_alpha(alpha)
    try:
        return _derivative(x, alpha, out=out, **kwargs)
    except TypeError as exc:
        raise _unsupported("leaky_relu_derivative", exc, x=x) from exc


def leaky_relu_derivative_(x, alpha=0.01):
    """Derivative of Leaky ReLU in place: overwrites ``x`` with f'(x) and returns it."""
    if type(x) is not _ndarray or x.dtype.kind != "f":
        _checked_inplace_target("leaky_relu_derivative_", x)
    if type(alpha) is not float or alpha - alpha != 0.0:
        alpha = _checked_alpha(alpha)
    try:
        return _derivative(x, alpha, out=x)
    except ValueError as exc:
        raise _readonly_error("leaky_relu_derivative_", x, exc) from exc


def leaky_relu_backward(grad, x, alpha=0.01, out=None, **kwargs):
    """Gradient through Leaky ReLU, ``grad * f'(x)``, fused in one pass.

    ``out=grad`` works in place. For ``alpha > 0`` the forward output ``y = leaky_relu(x)``
    may be passed instead of ``x`` (same signs), which is what training code that ran the
    forward in place has. The one difference: where ``alpha * x`` underflows to -0.0 (x
    negative and tiny, e.g. -1e-45 in float32), ``y >= 0`` holds, so that element gets
    ``grad`` rather than ``alpha * grad``.

    >>> import numpy as np, lrelu
    >>> lrelu.leaky_relu_backward(np.ones(3), np.array([-1.0, 0.0, 1.0]))
    array([0.01, 1.  , 1.  ])
    """
    if type(alpha) is not float or alpha - alpha != 0.0:
        alpha = _checked_alpha(alpha)
    try:
        return _backward(grad, x, alpha, out=out, **kwargs)
    except TypeError as exc:
        raise _unsupported("leaky_relu_backward", exc, grad=grad, x=x) from exc
    except ValueError as exc:
        raise _readonly_error("leaky_relu_backward", out, exc) from exc
