# The raw ufuncs: leaky_relu(x, alpha), leaky_relu_derivative(x, alpha) (nin=2, nout=1) and
# leaky_relu_backward(grad, x, alpha) (nin=3, nout=1), with every ufunc keyword.
from typing import Any

import numpy as np

leaky_relu: np.ufunc
leaky_relu_derivative: np.ufunc
leaky_relu_backward: np.ufunc
# The same with PyTorch's convention at 0 (slope 1 only for x > 0): at_zero="alpha".
leaky_relu_derivative_at_zero_alpha: np.ufunc
leaky_relu_backward_at_zero_alpha: np.ufunc

# The dtype table: one "inputs->output" row per loop, in NumPy's type characters.
UNARY_TYPES: list[str]
BACKWARD_TYPES: list[str]
# bfloat16's rows ("E"), registered for ml_dtypes' dtype once ml_dtypes is imported.
BFLOAT16_UNARY_TYPES: list[str]
BFLOAT16_BACKWARD_TYPES: list[str]

# Rows for a user dtype of the table ("E": bfloat16), and the type number they were given.
def register_dtype(code: str, dtype: Any) -> None: ...
def registered_dtype(code: str) -> int | None: ...
