"""The thin Python API: defaults, argument checks and clear errors around lrelu.ufuncs.

Every function here calls one of the ufuncs, so pandas, xarray and dask objects dispatch
through ``__array_ufunc__`` and come back as their own types. Checks run before the ufunc,
and NumPy itself checks shapes, dtypes and writeability before its loop writes anything, so
a call that fails leaves every array as it was. NumPy's own errors (no loop for a dtype,
shapes, read-only out, casting into out) are reworded in ``except`` blocks, so a call that
succeeds pays nothing for the clear messages; docs/guide/bad-input.md lists them.
"""

import decimal
import math
import numbers
import reprlib
import sys

import numpy as np

from . import _bfloat16
from . import _prelu
from . import ufuncs as _ufuncs
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


def _tensor_plain(name, label, t):
    """A CPU tensor's memory as a NumPy array (no copy), or lrelu's error for a tensor NumPy
    cannot share: one that requires grad, a sparse one, one of a dtype NumPy lacks."""
    if t.requires_grad:
        raise TypeError(f"{name}: {label} is a torch tensor that requires grad; lrelu computes "
                        f"outside autograd, so pass {label}.detach() (it shares the memory)")
    if t.layout != sys.modules["torch"].strided:
        raise TypeError(f"{name}: {label} is a sparse torch tensor ({t.layout}); pass "
                        f"{label}.to_dense()")
    return _tensor_array(name, label, t)


def _dtype_of(obj):
    """The one NumPy dtype of an operand (a DataFrame's common dtype), or None."""
    dtype = getattr(obj, "dtype", None)
    if dtype is None and getattr(obj, "ndim", None) == 2 and hasattr(obj, "dtypes"):
        dtypes = list(obj.dtypes)
        if dtypes and all(isinstance(d, np.dtype) for d in dtypes):
            return np.result_type(*dtypes)
    return dtype if isinstance(dtype, np.dtype) else None


def _refuse_without_loop(name, label, dtype):
    """A dtype NumPy does not know as real (ml_dtypes' float8 types, int4, structured...) and
    lrelu has no loop for: NumPy would cast it to another dtype and give that back unasked."""
    if (dtype is not None and dtype.kind in "fiuV" and type(dtype) not in _PLAIN_CLASSES
            and not _bfloat16.has_loops(dtype)):
        raise TypeError(f"{name}: {label} has dtype {dtype}, which lrelu has no loop for; "
                        f"convert it first, e.g. {label}.astype(np.float32), and back if you "
                        "need its dtype (lrelu computes float16, bfloat16, float32, float64, "
                        "longdouble, integers and bool)")


def _plain_operands(name, labels, operands, alpha):
    """The operands as the ufunc gets them, alpha by NEP 50's rule, and torch if one of the
    operands was a tensor; refuses tensors NumPy cannot share, pandas' missing values that
    would become numbers, and dtypes without a loop.

    A tensor passed as it is would reach torch's __array_wrap__, which NumPy 2 calls with
    arguments it does not take, and warns (DeprecationWarning) every time; _call wraps the
    result in a tensor itself.

    NEP 50: a Python number as alpha takes x's floating dtype. NumPy 2 does this for arrays,
    but NumPy 1.x compares a 0-d x and the number as two scalars (float64 wins), and pandas
    turns the number into a float64 array before a DataFrame's ufunc: either widens x. Given
    as a scalar of x's dtype, alpha is rounded exactly as the ufunc would round it."""
    torch = None
    plain = []
    for label, obj in zip(labels, operands):
        if _is_tensor(obj):
            torch = sys.modules["torch"]
            obj = _tensor_plain(name, label, obj)
        else:
            _refuse_lost_missing(name, label, obj)
        _refuse_without_loop(name, label, _dtype_of(obj))
        plain.append(obj)
    if type(alpha) in (int, float):
        dtypes = [_dtype_of(obj) for obj in plain]
        if all(d is not None and (d.kind == "f" or _bfloat16.has_loops(d)) for d in dtypes):
            dtype = np.result_type(*dtypes)
            alpha = _bfloat16.alpha_type(dtype)(alpha)
    return tuple(plain), alpha, torch


def _plain_out(name, out):
    """out as the ufunc gets it: a tensor's memory (returned as the tensor itself)."""
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    if _is_tensor(out):
        return _tensor_plain(name, "out", out)
    return out


def _checked_alpha(name, alpha):
    """alpha as given, once it is known to be real and finite (scalar or array).

    A duck array (dask, xarray, pandas, ...) is checked by its dtype alone: reading its
    values would compute a lazy one here and again at .compute(). A torch tensor comes back
    as a NumPy array (see _plain_operands)."""
    if isinstance(alpha, (bool, np.bool_)):
        raise TypeError(f"{name}: alpha must be a real number, got bool {alpha!r}")
    if isinstance(alpha, (numbers.Real, decimal.Decimal)) and not isinstance(alpha, np.generic):
        # Every Python number is checked alike; a Fraction or Decimal becomes the nearest
        # float, which NumPy would otherwise take as an object and find no loop for.
        try:
            value = float(alpha)
        except (OverflowError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(f"{name}: alpha must be finite, got {reprlib.repr(alpha)}")
        return alpha if type(alpha) in (int, float) else value
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


def _named(name, exc):
    """NumPy's own error, led by the public function's name as every lrelu error is."""
    if str(exc).startswith(name + ":"):
        return exc
    # NumPy's own subclasses (_UFuncNoLoopError, ...) take other constructor arguments
    return (TypeError if isinstance(exc, TypeError) else ValueError)(f"{name}: {exc}")


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
    return _named(name, exc)


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
        return _named(name, exc)
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
    return _named(name, exc)


def _checked_inplace_target(name, x):
    if type(x) is _ndarray and _bfloat16.has_loops(x.dtype):
        return          # a user dtype (bfloat16), whose loops exist once ml_dtypes is imported
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
    _refuse_without_loop(name, "x", x.dtype)
    if x.dtype.kind != "f":
        raise _not_real(name, "x", _kind_name(x), x.dtype.kind)


# NumPy 1.x casts a Python alpha by its value (a 0-d x and alpha are two scalars, float64
# wins; 1e5 does not fit float16, so float32 wins): there every call takes the envelope's
# slow path, which applies NEP 50 (_plain_operands).
_NUMPY_2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"
# The dtypes with loops, by dtype class (one per type, byte order aside), from the loop table:
# every x type of NumPy's own rows (plain), and those whose rows keep x's type (floating). A
# user dtype is plain once its rows are registered; before that the envelope looks at it:
# ml_dtypes' float8_e5m2 has kind "f" and float8_e4m3b11fnuz the type character "L" of
# NumPy's unsigned long.
_SIGNATURES = [sig.split("->") for sig in _ufuncs.UNARY_TYPES]
_FLOAT_CLASSES = {type(np.dtype(ins[0])) for ins, result in _SIGNATURES if ins[0] == result}
_PLAIN_CLASSES = _FLOAT_CLASSES | {type(np.dtype(ins[0])) for ins, _ in _SIGNATURES}


def _with_loops(dtype):
    # A user dtype (bfloat16), once the ufuncs have its loops, is as plain as NumPy's floats:
    # the fast paths take it straight to the ufunc, where a Python float alpha resolves to the
    # alpha of its loop, as NEP 50's step in the envelope makes it (without this, a
    # 1,000-element bfloat16 call paid the envelope, several times the ufunc's own cost).
    _FLOAT_CLASSES.add(type(dtype))
    _PLAIN_CLASSES.add(type(dtype))


_bfloat16.on_register(_with_loops)
_NO_KEYWORDS: dict = {}


def _cast(name, label, obj, keywords):
    casting = keywords.get("casting", "same_kind")
    dtype = np.dtype(keywords["dtype"])
    if not np.can_cast(obj.dtype, dtype, casting):
        raise TypeError(f"{name}: cannot cast {label} from {obj.dtype} to {dtype} "
                        f"(casting={casting!r})")
    return obj.astype(dtype)


def _is_plain(x):
    # An ndarray of one of NumPy's real dtypes: the ufunc takes it as it is, with nothing to
    # unwrap, refuse or re-type.
    return _NUMPY_2 and type(x) is _ndarray and type(x.dtype) in _PLAIN_CLASSES


def _call(name, ufunc, labels, operands, alpha, out=None, keywords=_NO_KEYWORDS):
    """The one envelope every elementwise function goes through: alpha checked, containers
    unwrapped (torch) or refused where they would lose data, NEP 50 for a Python alpha, the
    ufunc called with every keyword, NumPy's errors reworded with the function's name, and a
    tensor result for tensor operands.

    Plain ndarrays with a finite Python float alpha skip straight to the ufunc: the
    1,000-element call pays two type checks (BENCHMARKS.md, small arrays)."""
    if type(alpha) is not float or alpha - alpha != 0.0:
        alpha = _checked_alpha(name, alpha)
    torch = None
    if not all(map(_is_plain, operands)):
        operands, alpha, torch = _plain_operands(name, labels, operands, alpha)
        if "dtype" in keywords and any(map(_is_dask, operands)):
            # dask takes dtype= as the result's dtype and casts the result; the ufunc computes
            # in that dtype, which differs where the cast changes an input (-1e-310 to -0.0)
            operands = tuple(_cast(name, label, obj, keywords) if _is_dask(obj) else obj
                             for label, obj in zip(labels, operands))
    result_tensor = None
    if out is not None and type(out) is not _ndarray:
        if _is_tensor(out):
            result_tensor, out = out, _plain_out(name, out)
        elif isinstance(out, tuple) and len(out) == 1 and _is_tensor(out[0]):
            result_tensor, out = out[0], _plain_out(name, out)
    where = keywords.get("where", True) if keywords else True
    if where is not True and _is_tensor(where):
        keywords = dict(keywords, where=_tensor_plain(name, "where", where))
    try:
        result = ufunc(*operands, alpha, out=out, **keywords)
    except TypeError as exc:
        raise _type_error(name, exc, out, **dict(zip(labels, operands))) from exc
    except ValueError as exc:
        where = {} if where is True else {"where": where}
        raise _value_error(name, exc, out, in_place=out is operands[-1] and name.endswith("_"),
                           **dict(zip(labels, operands)), alpha=alpha, **where) from exc
    if result_tensor is not None:
        return result_tensor
    if torch is not None and out is None and isinstance(result, (np.ndarray, np.generic)):
        # a new tensor sharing the result's memory, as torch's own __array_wrap__ made it; a
        # result of another library (a dask alpha makes a dask array) is left as it is
        return torch.from_numpy(np.asarray(result))
    return result


def _fast(x, alpha, out, classes=_PLAIN_CLASSES):
    """Whether a call on ndarrays with a Python float alpha may go straight to the ufunc: a
    finite alpha, NumPy's own dtype, a plain out. Each public function asks this before the
    envelope, whose function calls cost more than the ufunc itself on a 1,000-element array
    (BENCHMARKS.md, small arrays); whatever fails goes through the envelope."""
    return (_NUMPY_2 and alpha - alpha == 0.0 and type(x.dtype) in classes
            and (out is None or type(out) is _ndarray))


def _in_place(name, ufunc, x, alpha):
    """An in-place call: a floating ndarray with a finite Python float alpha goes straight to
    the ufunc (as _fast; the ufunc refuses a read-only x before writing), anything else is
    checked as an in-place target and goes through the envelope."""
    if (type(x) is _ndarray and type(alpha) is float and alpha - alpha == 0.0
            and type(x.dtype) in _FLOAT_CLASSES and _NUMPY_2):
        try:
            return ufunc(x, alpha, x)    # out positionally: NumPy parses no keyword
        except ValueError:
            pass        # nothing was written: the envelope runs the call again and says why
    else:
        _checked_inplace_target(name, x)
    return _call(name, ufunc, ("x",), (x,), alpha, out=x)


def _chosen(name, table, at_zero):
    ufunc = table.get(at_zero) if type(at_zero) is str else None
    if ufunc is None:
        raise _bad_at_zero(name, at_zero)
    return ufunc


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
    if type(x) is _ndarray and type(alpha) is float and not kwargs and _fast(x, alpha, out):
        try:
            return _forward(x, alpha, out)
        except (TypeError, ValueError):
            pass        # nothing was written: the envelope runs the call again and says why
    return _call("leaky_relu", _forward, ("x",), (x,), alpha, out, kwargs)


def leaky_relu_(x, alpha=0.01):
    """Leaky ReLU in place: overwrites ``x`` (a writeable floating ndarray) and returns it.

    >>> import numpy as np, lrelu
    >>> x = np.array([-2.0, 3.0])
    >>> lrelu.leaky_relu_(x) is x
    True
    >>> x
    array([-0.02,  3.  ])
    """
    return _in_place("leaky_relu_", _forward, x, alpha)


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
    ufunc = _chosen("leaky_relu_derivative", _DERIVATIVES, at_zero)
    if type(x) is _ndarray and type(alpha) is float and not kwargs and _fast(x, alpha, out):
        try:
            return ufunc(x, alpha, out)
        except (TypeError, ValueError):
            pass        # nothing was written: the envelope runs the call again and says why
    return _call("leaky_relu_derivative", ufunc,
                 ("x",), (x,), alpha, out, kwargs)


def leaky_relu_derivative_(x, alpha=0.01, *, at_zero="one"):
    """Derivative of Leaky ReLU in place: overwrites ``x`` with f'(x) and returns it.
    ``at_zero`` as for :func:`leaky_relu_derivative`."""
    ufunc = _chosen("leaky_relu_derivative_", _DERIVATIVES, at_zero)
    return _in_place("leaky_relu_derivative_", ufunc, x, alpha)


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
    ufunc = _chosen("leaky_relu_backward", _BACKWARDS, at_zero)
    if (type(grad) is _ndarray and type(x) is _ndarray and type(alpha) is float and not kwargs
            and _is_plain(grad) and _fast(x, alpha, out)):
        try:
            return ufunc(grad, x, alpha, out)
        except (TypeError, ValueError):
            pass        # nothing was written: the envelope runs the call again and says why
    return _call("leaky_relu_backward", ufunc,
                 ("grad", "x"), (grad, x), alpha, out, kwargs)


def _real_array(name, label, obj):
    _refuse_lost_missing(name, label, obj)
    _refuse_without_loop(name, label, _dtype_of(obj))
    what, kind = _operand(obj)
    if kind is None or kind not in "fiub":
        raise _not_real(name, label, what, kind)
    return np.asarray(obj)


def _is_dask(obj):
    return hasattr(obj, "__dask_graph__") and type(obj).__module__.startswith("dask.")


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
        Torch tensors in give tensors out; dask arrays give lazy dask arrays.

    Notes
    -----
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

    Examples
    --------
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
    operands = {"grad": grad, "x": x, "alpha": alpha, "out": out}
    if any(map(_is_dask, operands.values())):
        from ._prelu_dask import prelu_backward as lazy
        if out is not None:
            raise TypeError(f"{name}: out= cannot take a dask result, which is computed lazily; "
                            "call without out and store the result (e.g. da.store)")
        return lazy(name, grad, x, alpha, at_zero, _prelu_numpy)
    for label, obj in operands.items():
        if label != "alpha" and obj is not None and _is_duck_array(obj) and not _is_tensor(obj):
            raise TypeError(f"{name}: {label} is a {type(obj).__module__.partition('.')[0]} "
                            f"{type(obj).__name__}; grad_alpha sums over axes, which it labels "
                            f"its own way: pass NumPy arrays ({label}.to_numpy() or "
                            f"np.asarray({label})), or dask or torch arrays")
    torch = None
    if any(map(_is_tensor, operands.values())):
        torch = sys.modules["torch"]
        operands = {label: _tensor_plain(name, label, obj) if _is_tensor(obj) else obj
                    for label, obj in operands.items()}
    grad_x, grad_alpha = _prelu_numpy(name, operands["grad"], operands["x"], operands["alpha"],
                                      at_zero, operands["out"])
    if torch is None:
        return grad_x, grad_alpha
    # tensors in, tensors out: grad_x shares the result's memory (or is the out tensor), and
    # grad_alpha is a tensor of alpha's shape unless alpha was a Python number
    grad_x = out if _is_tensor(out) else torch.from_numpy(grad_x)
    if isinstance(grad_alpha, (np.ndarray, np.generic)):
        grad_alpha = torch.from_numpy(np.asarray(grad_alpha))
    return grad_x, grad_alpha


def check_prelu_shapes(name, grad_shape, x_shape, alpha_shape):
    """grad and x of one shape, and alpha broadcasting to it without growing it."""
    if grad_shape != x_shape:
        raise ValueError(f"{name}: grad has shape {grad_shape} but x has shape {x_shape}; "
                         "they must be equal")
    try:
        shape = np.broadcast_shapes(x_shape, alpha_shape)
    except ValueError:
        raise ValueError(f"{name}: alpha has shape {alpha_shape}, which does not broadcast to "
                         f"x's shape {x_shape}") from None
    if shape != x_shape:
        raise ValueError(f"{name}: alpha has shape {alpha_shape}, which would broadcast x's "
                         f"shape {x_shape} to {shape}; alpha must broadcast to x's shape "
                         "(grad_alpha sums over the axes alpha is broadcast along)")


def _prelu_numpy(name, grad, x, alpha, at_zero, out, raw=False):
    """prelu_backward on NumPy operands (alpha already checked); raw: the sums unrounded, in
    their own precision (lrelu/_prelu_dask.py adds those of several blocks)."""
    grad_values = _real_array(name, "grad", grad)
    x_values = _real_array(name, "x", x)
    alpha_values = np.asarray(alpha)
    check_prelu_shapes(name, grad_values.shape, x_values.shape, alpha_values.shape)
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
    if raw:
        return grad_x, sums
    grad_alpha = sums.astype(dtype)
    if python_number:
        return grad_x, float(grad_alpha)
    if isinstance(alpha, np.generic):
        return grad_x, grad_alpha[()]
    return grad_x, grad_alpha
