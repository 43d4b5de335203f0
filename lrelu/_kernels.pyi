# The typed kernels are for Cython code (cimport lrelu._kernels; see _kernels.pxd). Python
# sees only what show_config() reads.
from typing import Any

_SIMD_LEVEL: str

def _simd_info() -> dict[str, Any]: ...
