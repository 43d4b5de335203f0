# The facts of this build, compiled in by setup.py (see _build_info.pyx).
from typing import Any

BUILD_INFO: dict[str, Any]
