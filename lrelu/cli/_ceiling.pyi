# The passes of `lrelu bench`'s memory ceiling (_ceiling.pyx): one kernel() call each.
from contextlib import AbstractContextManager

import numpy as np
from numpy.typing import NDArray

def run_pass(g: NDArray[np.float32] | NDArray[np.float64], x: NDArray[np.float32] | NDArray[np.float64],
             out: NDArray[np.float32] | NDArray[np.float64], s: float, streaming: bool) -> None: ...
def held(threads: int) -> AbstractContextManager[None]: ...
