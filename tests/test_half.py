"""float16 follows NumPy's rule: alpha becomes float16, and each product is computed in float32
and rounded once to float16, so the expected values are the listings computed by NumPy in
float16. The tests every 16-bit format shares (every bit pattern, all three operations, in
place and out of place) are in test_16bit.py, which takes its rule from here; what is
particular to float16 (its warnings) is below.

tests/test_simd_levels.py runs this module again at every SIMD level the CPU has."""

import warnings

import numpy as np
import pytest

import lrelu
from lrelu import reference

# 0, negative, > 1, products that are subnormal (1e-4), an alpha that is itself subnormal
# in float16 (3e-5), and one that overflows most products (65504, the largest float16).
ALPHAS = [0.01, 0.0, -0.3, 5.0, 1e-4, 3e-5, 65504.0]


def listing(function, *args):
    # alpha as NEP 50 hands it to the listings (reference.nep50_alpha): NumPy 1's value-based
    # casting would take an alpha float16 cannot hold as a "small" scalar (65504) as float32
    *arrays, alpha = args
    alpha = reference.nep50_alpha(np.empty(0, np.result_type(*arrays)), alpha)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return function(*arrays, alpha)


def in_dtype(expected, dtype):
    """The listing's result as an in-place call stores it (with NEP 50's alpha it already is
    x's dtype)."""
    return expected.astype(dtype, copy=False)


def quietly(function, *args, **kwargs):
    with np.errstate(over="ignore", under="ignore"):
        return function(*args, **kwargs)


def _warnings(function, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        function(*args)
    return sorted({str(w.message).split(" encountered")[0] for w in caught
                   if issubclass(w.category, RuntimeWarning)})


@pytest.mark.parametrize("n", [3, 40])
def test_float16_overflow_warns_as_the_listing_does(n):
    x = np.full(n, -60000.0, dtype=np.float16)
    assert _warnings(reference.lrelu, x, 2.0) == ["overflow"]
    assert _warnings(lrelu.leaky_relu, x, 2.0) == ["overflow"]


@pytest.mark.parametrize("n", [3, 40])
def test_float16_underflow_raises_where_numpy_is_told_to(n):
    x = np.full(n, -1e-7, dtype=np.float16)       # 1e-9 is no float16: underflows to -0.0
    with np.errstate(under="raise"):
        with pytest.raises(FloatingPointError, match="underflow"):
            reference.lrelu(x, 0.01)
        with pytest.raises(FloatingPointError, match="underflow"):
            lrelu.leaky_relu(x, 0.01)
