# The compiled loops of `lrelu bench`'s memory ceiling (_ceiling.pyx).
from typing import Any

import numpy as np
from numpy.typing import NDArray

def stores() -> dict[str, Any]: ...
def run_pass(g: NDArray[np.float32] | NDArray[np.float64], x: NDArray[np.float32] | NDArray[np.float64],
             out: NDArray[np.float32] | NDArray[np.float64], s: float, streaming: bool, threads: int) -> None: ...
