"""The thin Python API: defaults, argument checks and clear errors around lrelu.ufuncs.

Every function here calls one of the ufuncs, so pandas, xarray and dask objects dispatch
through ``__array_ufunc__`` and come back as their own types. Checks run before the ufunc,
and NumPy itself checks shapes, dtypes and writeability before its loop writes anything, so
a call that fails leaves every array as it was. NumPy's own errors (no loop for a dtype,
shapes, read-only out, casting into out) are reworded in ``except`` blocks, so a call that
succeeds pays nothing for the clear messages; docs/guide/bad-input.md lists them.
"""

import math
import numbers
import reprlib
import sys

import numpy as np

from . import _bfloat16
from . import _prelu
from .ufuncs import leaky_relu as _forward
from .ufuncs import leaky_relu_backward as _backward
from .ufuncs import leaky_relu_backward_at_zero_alpha as _backward_at_zero_alpha
from .ufuncs import leaky_relu_derivative as _derivative
from .ufuncs import leaky_relu_derivative_at_zero_alpha as _derivative_at_zero_alpha

# Bound once: a module attribute lookup per call (np.ndarray, ufuncs.leaky_relu) is a
# measurable part of a 1,000-element call (issue #3's small-array target).
_ndarray = np.ndarray

_SUPPORTED = "float16, float32, float64, longdouble, integer or bool"


# at_zero: f'(0) = 1 (the seed's, x >= 0 picks slope 1) or alpha (PyTorch's and TensorFlow's,
# x > 0 picks slope 1): two ufuncs with the same loops, chosen here.
_DERIVATIVES = {"one": _derivative, "alpha": _derivative_at_zero_alpha}
_BACKWARDS = {"one": _backward, "alpha": _backward_at_zero_alpha}


def _bad_at_zero(name, at_zero):
    kind = ValueError if isinstance(at_zero, str) else TypeError
    return kind(f"{name}: at_zero must be \"one\" (f'(0) = 1, the default) or \"alpha\" "
                f"(f'(0) = alpha, as in PyTorch and TensorFlow), got {_described(at_zero)}")


_KIND_WORDS = {"c": "complex", "U": "str", "S": "bytes", "O": "object", "M": "datetime64",
               "m": "timedelta64", "V": "void"}


def _kind_name(obj):
    dtype = getattr(obj, "dtype", None)
    if dtype is not None:
        dtype = np.dtype(dtype)
        word = _KIND_WORDS.get(dtype.kind)
        return f"dtype {dtype}" + (f" ({word})" if word and word != str(dtype) else "")
    return f"type {type(obj).__name__}"


def _described(obj):
    """What a user passed, in a few words: dtype <U1 (str), str '0.1', None."""
    if obj is None:
        return "None"
    if _is_tensor(obj):
        return f"a torch tensor of dtype {obj.dtype}"
    if isinstance(obj, np.ndarray):
        return _kind_name(obj)
    if isinstance(obj, np.generic):
        return f"NumPy {type(obj).__name__} scalar"
    if isinstance(obj, (str, bytes, numbers.Number, list, tuple)):
        return f"{type(obj).__name__} {reprlib.repr(obj)}"
    return type(obj).__name__


def _is_duck_array(obj):
    """An array-like that implements NumPy's protocols itself (dask, xarray, pandas, ...): its
    values may be lazy, so lrelu must not read them; the ufunc dispatches to it instead."""
    cls = type(obj)
    return (not isinstance(obj, (np.ndarray, np.generic))
            and (hasattr(cls, "__array_ufunc__") or hasattr(cls, "__array_function__")
                 or hasattr(obj, "__dask_graph__")))


def _is_tensor(obj):
    # By name, so that lrelu never imports torch (import lrelu stays fast).
    return any(c.__name__ == "Tensor" and c.__module__ == "torch" for c in type(obj).__mro__)


def _tensor_array(name, label, t):
    """A CPU tensor's memory as a NumPy array (t.numpy(): no copy), or an error that says what
    to do with a dtype NumPy lacks (bfloat16)."""
    try:
        return t.numpy()
    except TypeError as exc:
        if t.device.type != "cpu":
            raise                       # torch's own message says to call .cpu()
        raise TypeError(f"{name}: {label} is a torch tensor of dtype {t.dtype}, which NumPy has "
                        f"no type for; convert it first: {label}.float() gives a float32 result"
                        ) from exc


def _refuse_lost_missing(name, label, obj):
    """Refuse pandas' missing values (pd.NA) where lrelu would give them back as numbers.

    A nullable ("Float64") Series keeps them: pandas' masked array runs the ufunc on its data
    and puts its mask back. A pyarrow-backed Series or Index hands the ufunc NaN for them, and
    f'(NaN) is alpha, so the derivative and backward would make them numbers. A DataFrame
    with nullable or pyarrow columns reaches the ufunc as one array: an object array no loop
    takes (pandas 3) or floats with NaN for the missing values (pandas 2). NaN in a
    NumPy-backed column is a value, and follows the listings."""
    if type(obj).__module__.partition(".")[0] != "pandas":
        return
    if getattr(obj, "ndim", None) == 2:
        columns = [str(c) for c, dtype in obj.dtypes.items() if not isinstance(dtype, np.dtype)]
        if columns:
            raise TypeError(
                f"{name}: {label} is a DataFrame with nullable or pyarrow columns "
                f"({', '.join(columns[:5])}{', ...' if len(columns) > 5 else ''}); pandas hands "
                "a ufunc one NumPy array for them, an object array or one with NaN for missing "
                "values. Call lrelu on each column instead (a nullable 'Float64' Series keeps "
                "missing values missing), or convert the DataFrame to NumPy dtypes")
    elif type(getattr(obj, "dtype", None)).__name__ == "ArrowDtype" and obj.hasnans:
        kind = obj.dtype.numpy_dtype.kind
        nullable = "Int64" if kind in "iu" else "boolean" if kind == "b" else "Float64"
        raise ValueError(
            f"{name}: {label} holds missing values (<NA>) in a pyarrow-backed "
            f"{type(obj).__name__} ({obj.dtype}); pandas hands a ufunc NaN for them, which "
            f"lrelu would give back as numbers. Convert it to a nullable dtype, which keeps "
            f"them missing ({label}.astype({nullable!r})), or fill them ({label}.fillna(...))")


def _plain_operands(name, **operands):
    """The operands as the ufunc gets them (torch tensors as NumPy arrays), and torch if one of
    them was a tensor, after refusing pandas' missing values that would become numbers.

    A tensor passed as it is would reach torch's __array_wrap__, which NumPy 2 calls with
    arguments it does not take, and warns (DeprecationWarning) every time; the caller wraps
    the result in a tensor itself."""
    torch = None
    plain = []
    for label, obj in operands.items():
        if _is_tensor(obj):
            torch = sys.modules["torch"]
            obj = _tensor_array(name, label, obj)
        else:
            _refuse_lost_missing(name, label, obj)
        plain.append(obj)
    return plain, torch


def _as_tensor(torch, result, out):
    """What a tensor operand gives: the NumPy result as a new tensor sharing its memory (as
    torch's own __array_wrap__ made it), unless it went into out or is another library's
    (a dask alpha makes the result a dask array). The callers get the result by calling
    themselves again with the NumPy arrays, so their checks and error messages apply."""
    if out is not None or not isinstance(result, (np.ndarray, np.generic)):
        return result
    return torch.from_numpy(np.asarray(result))


def _checked_alpha(name, alpha):
    """alpha as given, once it is known to be real and finite (scalar or array).

    A duck array (dask, xarray, pandas, ...) is checked by its dtype alone: reading its
    values would compute a lazy one here and again at .compute(). A torch tensor comes back
    as a NumPy array (see _plain_operands)."""
    if isinstance(alpha, (bool, np.bool_)):
        raise TypeError(f"{name}: alpha must be a real number, got bool {alpha!r}")
    if isinstance(alpha, numbers.Real) and not isinstance(alpha, np.generic):
        if not math.isfinite(alpha):
            raise ValueError(f"{name}: alpha must be finite, got {alpha!r}")
        return alpha
    if _is_duck_array(alpha):
        _refuse_lost_missing(name, "alpha", alpha)
        dtype = getattr(alpha, "dtype", None)
        if getattr(dtype, "kind", "f") not in "fiu":
            raise TypeError(f"{name}: alpha must be a real number or an array of them, got "
                            f"{type(alpha).__name__} of dtype {dtype}")
        return alpha
    if _is_tensor(alpha):
        alpha = _tensor_array(name, "alpha", alpha)
    try:
        values = np.asarray(alpha)
    except Exception as exc:  # e.g. a ragged list
        raise TypeError(f"{name}: alpha must be a real number or an array of them, "
                        f"got {_described(alpha)}") from exc
    if values.dtype.kind not in "fiu":
        what = _described(alpha)
        if isinstance(alpha, (list, tuple)):
            what += f" ({_KIND_WORDS.get(values.dtype.kind, values.dtype)})"
        raise TypeError(f"{name}: alpha must be a real number or an array of them, got {what}")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ValueError(f"{name}: alpha must be finite, got "
                         + (repr(alpha) if values.ndim == 0 else "an array containing NaN or inf"))
    return alpha


def _not_real(name, label, what, kind):
    extra = "; Leaky ReLU is defined on real numbers" if kind == "c" else ""
    return TypeError(f"{name}: {label} must be an array of real numbers ({_SUPPORTED}), "
                     f"got {what}{extra}")


def _operand(obj):
    """(what, kind): an operand in a few words and its dtype kind (None for None)."""
    if obj is None:
        return "None", None
    try:
        values = obj if hasattr(obj, "dtype") else np.asarray(obj)
        kind = np.dtype(values.dtype).kind
        what = f"type {type(obj).__name__}" if kind == "O" and not isinstance(obj, np.ndarray) else _kind_name(values)
    except Exception:
        what, kind = f"type {type(obj).__name__}", "O"
    return what, kind


def _type_error(name, exc, out=None, **operands):
    """A TypeError naming the operand NumPy found no loop for, or the out it could not cast
    the result into; else the original error."""
    for label, obj in operands.items():
        what, kind = _operand(obj)
        if kind is None or kind not in "fiub":
            return _not_real(name, label, what, kind)
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    if out is not None and not isinstance(out, np.ndarray):
        return TypeError(f"{name}: out must be a NumPy array, got {type(out).__name__}")
    result_dtype = getattr(exc, "from_", None)      # NumPy's output casting error says these
    if out is not None and result_dtype is not None and hasattr(exc, "out_i"):
        return TypeError(f"{name}: out has dtype {out.dtype}, which cannot hold the "
                         f"{result_dtype} result (casting={getattr(exc, 'casting', 'same_kind')!r}); "
                         "use a floating-point out")
    return exc


def _value_error(name, exc, out=None, in_place=False, **operands):
    """A ValueError saying which array is read-only or which shapes do not fit; else the
    original error."""
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    target = "x" if in_place else "out"
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        return ValueError(f"{name}: {target} is read-only" + (", so it cannot be changed in place"
                                                              if in_place else ""))
    try:
        shapes = {label: np.shape(obj) for label, obj in operands.items()}
        out_shape = None if out is None else np.shape(out)
    except Exception:
        return exc
    listed = ", ".join(f"{label} {shape}" for label, shape in shapes.items())
    try:
        result = np.broadcast_shapes(*shapes.values())
    except ValueError:
        return ValueError(f"{name}: shapes do not broadcast together: {listed}")
    try:
        fits = out_shape is None or np.broadcast_shapes(result, out_shape) == out_shape
    except ValueError:
        fits = False
    if not fits:
        if in_place:
            return ValueError(f"{name}: the result would have shape {result} ({listed}), but x "
                              "is changed in place and keeps its shape")
        return ValueError(f"{name}: out has shape {out_shape}, but the result has shape {result} "
                          f"({listed})")
    return exc


def _checked_inplace_target(name, x):
    if type(x) is _ndarray and _bfloat16.has_loops(x.dtype):
        return          # bfloat16, whose loops exist once ml_dtypes is imported
    if _is_tensor(x):
        if x.dtype == sys.modules["torch"].bfloat16:
            raise TypeError(f"{name} cannot change a torch.bfloat16 tensor in place: NumPy has no "
                            f"bfloat16 type; {name.rstrip('_')}(x.float()) gives a new float32 "
                            "result")
        raise TypeError(f"{name} works in place on a NumPy array, got {_described(x)}; pass "
                        "x.numpy(), which shares the tensor's memory, to change the tensor itself")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} works in place on a NumPy array, got {_described(x)}; "
                        f"use {name.rstrip('_')}(x) for a new result")
    if x.dtype.kind in "biu":
        raise TypeError(f"{name} works in place on a floating-point array, got dtype {x.dtype}; "
                        f"use {name.rstrip('_')}(x) for a new float64 result")
    if x.dtype.kind != "f":
        raise _not_real(name, "x", _kind_name(x), x.dtype.kind)


def _where(kwargs):
    where = kwargs.get("where", True)
    return {} if where is True else {"where": where}


def leaky_relu(x, alpha=0.01, out=None, **kwargs):
    """Leaky ReLU, elementwise: ``x`` where ``x >= 0``, ``alpha * x`` elsewhere.

    Equal, value for value, to the listing ``np.where(x >= 0.0, x, alpha * x)``: -0.0 stays
    -0.0, NaN stays NaN, and the result keeps a floating x's dtype (float64 for integer x).

    Parameters
    ----------
    x : array_like
        Real input. pandas, xarray and dask objects come back as their own types; a torch
        tensor gives a new tensor. pandas' missing values stay missing or are refused.
    alpha : float or array_like, default 0.01
        Slope for negative inputs; any finite real number. An array broadcasts against x
        (per-channel slopes, e.g. shape (C, 1, 1) against (N, C, H, W)). A lazy or foreign
        array (dask, xarray, pandas) is checked by its dtype only and its values are left to
        the ufunc, so a NaN or inf in it is not refused: it gives what the listing gives.
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
        alpha = _checked_alpha("leaky_relu", alpha)
    if type(x) is not _ndarray:
        (x,), torch = _plain_operands("leaky_relu", x=x)
        if torch:
            return _as_tensor(torch, leaky_relu(x, alpha, out, **kwargs), out)
    try:
        return _forward(x, alpha, out=out, **kwargs)
    except TypeError as exc:
        raise _type_error("leaky_relu", exc, out, x=x) from exc
    except ValueError as exc:
        raise _value_error("leaky_relu", exc, out, x=x, alpha=alpha, **_where(kwargs)) from exc


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
        alpha = _checked_alpha("leaky_relu_", alpha)
    try:
        return _forward(x, alpha, out=x)
    except ValueError as exc:
        raise _value_error("leaky_relu_", exc, x, in_place=True, x=x, alpha=alpha) from exc


def leaky_relu_derivative(x, alpha=0.01, out=None, *, at_zero="one", **kwargs):
    """Derivative of Leaky ReLU: 1 where ``x >= 0`` (so f'(0) = f'(-0.0) = 1), ``alpha``
    elsewhere, NaN included (the listing's ``np.where(x >= 0.0, 1.0, alpha)``).

    ``at_zero="alpha"`` takes PyTorch's and TensorFlow's convention instead: 1 only where
    ``x > 0``, so 0 and -0.0 get alpha. Both run the same loops (the raw ufuncs
    ``lrelu.ufuncs.leaky_relu_derivative`` and ``leaky_relu_derivative_at_zero_alpha``).

    The result has the dtype :func:`leaky_relu` would give (the listing always gives
    float64).

    >>> import numpy as np, lrelu
    >>> lrelu.leaky_relu_derivative(np.array([-1.0, 0.0, 2.0], dtype=np.float32))
    array([0.01, 1.  , 1.  ], dtype=float32)
    >>> lrelu.leaky_relu_derivative(np.array([-1.0, 0.0, 2.0], dtype=np.float32), at_zero="alpha")
    array([0.01, 0.01, 1.  ], dtype=float32)
    """
    derivative = _DERIVATIVES.get(at_zero) if type(at_zero) is str else None
    if derivative is None:
        raise _bad_at_zero("leaky_relu_derivative", at_zero)
    if type(alpha) is not float or alpha - alpha != 0.0:
        alpha = _checked_alpha("leaky_relu_derivative", alpha)
    if type(x) is not _ndarray:
        (x,), torch = _plain_operands("leaky_relu_derivative", x=x)
        if torch:
            return _as_tensor(torch, leaky_relu_derivative(x, alpha, out, **kwargs), out)
    try:
        return derivative(x, alpha, out=out, **kwargs)
    except TypeError as exc:
        raise _type_error("leaky_relu_derivative", exc, out, x=x) from exc
    except ValueError as exc:
        raise _value_error("leaky_relu_derivative", exc, out, x=x, alpha=alpha, **_where(kwargs)) from exc


def leaky_relu_derivative_(x, alpha=0.01, *, at_zero="one"):
    """Derivative of Leaky ReLU in place: overwrites ``x`` with f'(x) and returns it.
    ``at_zero`` as for :func:`leaky_relu_derivative`."""
    derivative = _DERIVATIVES.get(at_zero) if type(at_zero) is str else None
    if derivative is None:
        raise _bad_at_zero("leaky_relu_derivative_", at_zero)
    if type(x) is not _ndarray or x.dtype.kind != "f":
        _checked_inplace_target("leaky_relu_derivative_", x)
    if type(alpha) is not float or alpha - alpha != 0.0:
        alpha = _checked_alpha("leaky_relu_derivative_", alpha)
    try:
        return derivative(x, alpha, out=x)
    except ValueError as exc:
        raise _value_error("leaky_relu_derivative_", exc, x, in_place=True, x=x, alpha=alpha) from exc


def leaky_relu_backward(grad, x, alpha=0.01, out=None, *, at_zero="one", **kwargs):
    """Gradient through Leaky ReLU, ``grad * f'(x)``, fused in one pass.

    ``out=grad`` works in place. For ``alpha > 0`` the forward output ``y = leaky_relu(x)``
    may be passed instead of ``x`` (same signs), which is what training code that ran the
    forward in place has. The one difference: where ``alpha * x`` underflows to -0.0 (x
    negative and tiny, e.g. -1e-45 in float32), ``y >= 0`` holds, so that element gets
    ``grad`` rather than ``alpha * grad``.

    ``at_zero="alpha"`` takes PyTorch's convention (``grad`` only where ``x > 0``, so 0 and
    -0.0 get ``alpha * grad``): bit for bit ``torch.ops.aten.leaky_relu_backward(grad, x,
    alpha, False)`` for the same alpha value. For float16, NumPy rounds alpha to float16
    (the ufunc's alpha operand takes the array's dtype) where PyTorch keeps it in float32,
    so they agree for alphas that float16 holds exactly (0.25, 0.125, 2**-7...). With
    ``at_zero="alpha"`` the y-for-x substitution holds without the -0.0 exception.

    >>> import numpy as np, lrelu
    >>> lrelu.leaky_relu_backward(np.ones(3), np.array([-1.0, 0.0, 1.0]))
    array([0.01, 1.  , 1.  ])
    >>> lrelu.leaky_relu_backward(np.ones(3), np.array([-1.0, 0.0, 1.0]), at_zero="alpha")
    array([0.01, 0.01, 1.  ])
    """
    backward = _BACKWARDS.get(at_zero) if type(at_zero) is str else None
    if backward is None:
        raise _bad_at_zero("leaky_relu_backward", at_zero)
    if type(alpha) is not float or alpha - alpha != 0.0:
        alpha = _checked_alpha("leaky_relu_backward", alpha)
    if type(grad) is not _ndarray or type(x) is not _ndarray:
        (grad, x), torch = _plain_operands("leaky_relu_backward", grad=grad, x=x)
        if torch:
            return _as_tensor(torch, leaky_relu_backward(grad, x, alpha, out, **kwargs), out)
    try:
        return backward(grad, x, alpha, out=out, **kwargs)
    except TypeError as exc:
        raise _type_error("leaky_relu_backward", exc, out, grad=grad, x=x) from exc
    except ValueError as exc:
        raise _value_error("leaky_relu_backward", exc, out, grad=grad, x=x, alpha=alpha,
                           **_where(kwargs)) from exc


def _real_array(name, label, obj):
    what, kind = _operand(obj)
    if kind is None or kind not in "fiub":
        raise _not_real(name, label, what, kind)
    return np.asarray(obj)


def prelu_backward(grad, x, alpha, *, at_zero="one", out=None):
    """The backward pass of PReLU (Leaky ReLU with a learned alpha), in one pass over the
    data: ``(grad_x, grad_alpha)``.

    - ``grad_x = grad * f'(x)``, bit for bit :func:`leaky_relu_backward` with the same
      ``at_zero``, alpha broadcast against x.
    - ``grad_alpha`` is dL/dalpha: ``grad * x`` summed over the elements where f'(x) is
      alpha, over the axes alpha is broadcast along; it has alpha's shape. Those elements
      are x < 0 and NaN x (NaN makes the sum NaN, as it should); with ``at_zero="alpha"``
      also 0 and -0.0, as in PyTorch, where ``grad * x`` is +-0 and adds nothing unless
      grad is inf or NaN (then NaN, PyTorch's result too).

    Parameters
    ----------
    grad, x : array_like of equal shape
        The gradient arriving at PReLU's output and PReLU's input.
    alpha : float or array_like
        The slopes: a number, or an array that broadcasts to x's shape without growing it,
        e.g. (C, 1, 1) or (1, C, 1, 1) against (N, C, H, W), (C,) against (N, C). Finite.
    at_zero : {"one", "alpha"}
        f'(0): 1 (the seed's convention) or alpha (PyTorch's and TensorFlow's).
    out : ndarray, optional
        Where to write grad_x: x's shape and the result dtype. ``out=grad`` works in place.
        grad_alpha, alpha's size, is always a new result.

    Returns
    -------
    grad_x : ndarray
        In the dtype NumPy's promotion gives grad, x and alpha (float64 for integer input),
        as :func:`leaky_relu_backward` returns.
    grad_alpha : ndarray, NumPy scalar or float
        alpha's shape, in grad_x's dtype: an ndarray for an array alpha (0-d included), a
        NumPy scalar for a NumPy scalar alpha, a Python float for a Python number.

    Accuracy and determinism: float16 products are formed and summed in float32, float32's in
    float64 (exact products, a plain float64 sum), float64 and longdouble in their own type.
    The float16, float64 and longdouble sums are compensated (TwoSum: each addition's
    rounding error is kept and added back, as if summed in twice the precision). Each result
    is rounded once to grad_x's dtype. The sum is split into fixed blocks of the array,
    whatever the thread count; each block is summed serially and the blocks are added in a
    fixed order, so the same inputs give the same bits on 1 thread or many, in every call.

    Speed: grad and x of the result dtype, contiguous in one shared axis order (C, Fortran,
    channels-last or any transpose) are read in place in one pass, whatever alpha's shape.
    Other grad and x (strided views, other dtypes) are first copied to C order.

    >>> import numpy as np, lrelu
    >>> x = np.array([[-2.0, 3.0], [-1.0, 0.0]])
    >>> grad_x, grad_alpha = lrelu.prelu_backward(np.ones_like(x), x, np.array([0.1, 0.2]))
    >>> grad_x
    array([[0.1, 1. ],
           [0.1, 1. ]])
    >>> grad_alpha
    array([-3.,  0.])
    """
    name = "prelu_backward"
    if type(at_zero) is not str or at_zero not in _DERIVATIVES:
        raise _bad_at_zero(name, at_zero)
    alpha = _checked_alpha(name, alpha)
    grad_values = _real_array(name, "grad", grad)
    x_values = _real_array(name, "x", x)
    alpha_values = np.asarray(alpha)
    if grad_values.shape != x_values.shape:
        raise ValueError(f"{name}: grad has shape {grad_values.shape} but x has shape "
                         f"{x_values.shape}; they must be equal")
    try:
        shape = np.broadcast_shapes(x_values.shape, alpha_values.shape)
    except ValueError:
        raise ValueError(f"{name}: alpha has shape {alpha_values.shape}, which does not "
                         f"broadcast to x's shape {x_values.shape}") from None
    if shape != x_values.shape:
        raise ValueError(f"{name}: alpha has shape {alpha_values.shape}, which would broadcast "
                         f"x's shape {x_values.shape} to {shape}; alpha must broadcast to x's "
                         "shape (grad_alpha sums over the axes alpha is broadcast along)")
    python_number = isinstance(alpha, numbers.Number) and not isinstance(alpha, np.generic)
    dtype = np.result_type(grad_values, x_values, alpha if python_number else alpha_values)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"{name}: out must be a NumPy array, got {type(out).__name__}")
        if out.shape != x_values.shape:
            raise ValueError(f"{name}: out has shape {out.shape}, but grad_x has x's shape "
                             f"{x_values.shape}")
        if out.dtype != dtype:
            raise TypeError(f"{name}: out has dtype {out.dtype}, but grad_x is {dtype} (the "
                            "dtype of grad, x and alpha together)")
        if not out.flags.writeable:
            raise ValueError(f"{name}: out is read-only")
    grad_x, sums = _prelu.backward(grad_values, x_values, alpha_values, out, dtype,
                                   at_zero == "alpha")
    grad_alpha = sums.astype(dtype)
    if python_number:
        return grad_x, float(grad_alpha)
    if isinstance(alpha, np.generic):
        return grad_x, grad_alpha[()]
    return grad_x, grad_alpha
