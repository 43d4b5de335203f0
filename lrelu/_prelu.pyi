# The fused PReLU backward kernel, for lrelu.prelu_backward (lrelu/_api.py), which checks the
# arguments first.
from typing import Any

import numpy as np
from numpy.typing import NDArray

TYPES: dict[np.dtype[Any], tuple[int, np.dtype[Any], np.dtype[Any]]]
ROW_MIN: int

def backward(grad: NDArray[Any], x: NDArray[Any], alpha: NDArray[Any], out: NDArray[Any] | None,
             dtype: np.dtype[Any], at_zero_alpha: bool) -> tuple[NDArray[Any], NDArray[Any]]: ...
