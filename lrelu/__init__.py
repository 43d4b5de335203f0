"""lrelu: Leaky ReLU and its derivative over NumPy arrays, as OpenMP-parallel NumPy ufuncs.

>>> import numpy as np, lrelu
>>> lrelu.leaky_relu(np.array([-1.0, 2.0]))
array([-0.01,  2.  ])
"""

from ._version import __version__
from ._api import (
    leaky_relu,
    leaky_relu_,
    leaky_relu_backward,
    leaky_relu_derivative,
    leaky_relu_derivative_,
)
from ._threads import get_num_threads, set_num_threads, threads
from ._config import show_config
from . import reference, ufuncs

# The source document's own names.
lrelu = leaky_relu
der_lrelu = leaky_relu_derivative

__all__ = [
    "__version__",
    "leaky_relu",
    "leaky_relu_",
    "leaky_relu_derivative",
    "leaky_relu_derivative_",
    "leaky_relu_backward",
    "lrelu",
    "der_lrelu",
    "get_num_threads",
    "set_num_threads",
    "threads",
    "show_config",
    "ufuncs",
    "reference",
]
