# Types of lrelu's public API (the functions live in _api.py, which is untyped).
# A NumPy array in gives a NumPy array out; anything else (lists, scalars, pandas, xarray or
# dask objects) comes back as whatever NumPy or the object's __array_ufunc__ makes of it.
from typing import Any, Literal, TypeVar, overload

import numpy as np
from _typeshed import SupportsWrite
from numpy.typing import ArrayLike, NDArray

from . import reference as reference
from . import ufuncs as ufuncs
from ._threads import get_num_threads as get_num_threads
from ._threads import set_num_threads as set_num_threads
from ._threads import thread_report as thread_report
from ._threads import threads as threads

__version__: str
# The same list as __init__.py; stubtest (tests/test_typing.py) fails if the two differ.
__all__ = [
    "__version__",
    "leaky_relu",
    "leaky_relu_",
    "leaky_relu_derivative",
    "leaky_relu_derivative_",
    "leaky_relu_backward",
    "prelu_backward",
    "lrelu",
    "der_lrelu",
    "get_num_threads",
    "set_num_threads",
    "threads",
    "thread_report",
    "show_config",
    "ufuncs",
    "reference",
    "get_include",
]

_Array = TypeVar("_Array", bound=NDArray[np.floating[Any]])

@overload
def leaky_relu(x: NDArray[Any], alpha: ArrayLike = 0.01, out: NDArray[Any] | None = None, **kwargs: Any) -> NDArray[Any]: ...
@overload
def leaky_relu(x: Any, alpha: ArrayLike = 0.01, out: NDArray[Any] | None = None, **kwargs: Any) -> Any: ...
def leaky_relu_(x: _Array, alpha: ArrayLike = 0.01) -> _Array: ...
# f'(0): "one" (the seed's, the default) or "alpha" (PyTorch's and TensorFlow's).
_AtZero = Literal["one", "alpha"]

@overload
def leaky_relu_derivative(x: NDArray[Any], alpha: ArrayLike = 0.01, out: NDArray[Any] | None = None, *, at_zero: _AtZero = "one", **kwargs: Any) -> NDArray[Any]: ...
@overload
def leaky_relu_derivative(x: Any, alpha: ArrayLike = 0.01, out: NDArray[Any] | None = None, *, at_zero: _AtZero = "one", **kwargs: Any) -> Any: ...
def leaky_relu_derivative_(x: _Array, alpha: ArrayLike = 0.01, *, at_zero: _AtZero = "one") -> _Array: ...
@overload
def leaky_relu_backward(grad: NDArray[Any], x: ArrayLike, alpha: ArrayLike = 0.01, out: NDArray[Any] | None = None, *, at_zero: _AtZero = "one", **kwargs: Any) -> NDArray[Any]: ...
@overload
def leaky_relu_backward(grad: Any, x: Any, alpha: ArrayLike = 0.01, out: NDArray[Any] | None = None, *, at_zero: _AtZero = "one", **kwargs: Any) -> Any: ...
# (grad_x, grad_alpha); grad_alpha has alpha's shape: an array for an array alpha, a float
# for a Python number, a NumPy scalar for a NumPy scalar.
@overload
def prelu_backward(grad: ArrayLike, x: ArrayLike, alpha: NDArray[Any], *, at_zero: _AtZero = "one", out: NDArray[Any] | None = None) -> tuple[NDArray[Any], NDArray[Any]]: ...
@overload
def prelu_backward(grad: ArrayLike, x: ArrayLike, alpha: float, *, at_zero: _AtZero = "one", out: NDArray[Any] | None = None) -> tuple[NDArray[Any], float]: ...
@overload
def prelu_backward(grad: ArrayLike, x: ArrayLike, alpha: ArrayLike, *, at_zero: _AtZero = "one", out: NDArray[Any] | None = None) -> tuple[NDArray[Any], Any]: ...

# The glossary entry's own names (lrelu.reference has its listings).
lrelu = leaky_relu
der_lrelu = leaky_relu_derivative

@overload
def show_config(file: SupportsWrite[str] | None = None, mode: Literal["stdout"] = "stdout") -> None: ...
@overload
def show_config(file: None = None, *, mode: Literal["dicts"]) -> dict[str, Any]: ...
def get_include() -> str: ...
