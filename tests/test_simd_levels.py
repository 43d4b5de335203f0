"""The float16, bfloat16 and overlap tests again at every SIMD level compiled in, each in a
fresh interpreter with LRELU_SIMD forcing the level (it is chosen once, at import), with
simd_level_cases.py's every pattern at every head and tail offset of a 64-byte vector. A
level this CPU cannot run is skipped, saying so: LRELU_SIMD would fall back to another
level. (tests/test_streaming.py runs itself at every level for float32 and float64.)"""

import os
from pathlib import Path

import pytest

from lrelu import _kernels

from helpers import run_python

HERE = Path(__file__).resolve().parent
MODULES = ["test_16bit.py", "test_half.py", "test_bfloat16.py", "test_bfloat16_torch.py",
           "test_overlap.py", "simd_level_cases.py"]
LEVELS = ["baseline"] + _kernels._simd_info()["dispatch"]


@pytest.mark.parametrize("level", LEVELS)
def test_16_bit_formats_and_overlap_follow_their_rules_at_every_level(level):
    paths = [str(HERE / m) for m in MODULES]
    out = run_python(f"""
        import sys
        import pytest
        from lrelu import _kernels
        selected = _kernels._simd_info()["selected"]
        if selected != {level!r}:
            print("LEVEL NOT RUN; selected", selected)
            sys.exit(0)
        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *{paths!r}]))
        """, env=dict(os.environ, LRELU_SIMD=level), timeout=900)
    if "LEVEL NOT RUN" in out.stdout:
        pytest.skip(f"this CPU cannot run the {level} loops (compiled, but its instructions are "
                    f"missing here; the CPU runs {out.stdout.split()[-1]})")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout.splitlines()[-1], out.stdout[-2000:]
