"""lrelu: Leaky ReLU and its derivative over NumPy arrays, as OpenMP-parallel NumPy ufuncs.

>>> import numpy as np, lrelu
>>> lrelu.leaky_relu(np.array([-1.0, 2.0]))
array([-0.01,  2.  ])
"""

import os as _os

from ._version import __version__

try:
    from . import ufuncs
except ImportError as _exc:  # a source checkout found first: hand over to the installed lrelu
    from ._shadowed import hand_over

    hand_over(_os.path.dirname(_os.path.abspath(__file__)), _exc)

from . import _bfloat16

_bfloat16.install()     # bfloat16 loops, now or when ml_dtypes is imported (_bfloat16.py)

from ._api import (
    leaky_relu,
    leaky_relu_,
    leaky_relu_backward,
    leaky_relu_derivative,
    leaky_relu_derivative_,
    prelu_backward,
)
from ._threads import get_num_threads, set_num_threads, thread_report, threads
from ._config import show_config
from . import reference



def get_include():
    """Directory of lrelu's C headers, for Cython code that cimports lrelu._kernels:
    ``Extension(..., include_dirs=[lrelu.get_include(), numpy.get_include()])``."""
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "include")


# The glossary entry's own names (lrelu.reference has its listings).
lrelu = leaky_relu
der_lrelu = leaky_relu_derivative

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
