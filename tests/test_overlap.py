"""An out= that partly overlaps an input, past the parallel threshold, with a team forced.

NumPy does not copy when the input runs ahead of the output (out=b[:-1] with x=b[1:], out=b[:k]
with x=b[::2]): it hands the loop overlapping memory and counts on it running in order.
lrelu's loops then run in order on one thread (lrelu/_kernels.pyx, "Overlap"); a team would
overwrite input another thread has not read yet. Every result here is the listing applied to
a copy of the inputs. tests/test_simd_levels.py runs this module again at every SIMD level.
"""

import contextlib

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import (FLOAT_DTYPES, always_parallel, assert_same, parallel_threshold_elements,
                     round_to_bfloat16, sample)

# A team exists only where lrelu was built with OpenMP (LRELU_OPENMP=0 builds run serially).
needs_openmp = pytest.mark.skipif(not lrelu._threads._openmp_info()["enabled"],
                                  reason="serial build (no OpenMP): no team to keep")

try:
    import ml_dtypes
    BF16 = [pytest.param(np.dtype(ml_dtypes.bfloat16), id="bfloat16")]
except ImportError:     # pragma: no cover - ml_dtypes is a test extra
    BF16 = []

DTYPES = [pytest.param(np.dtype(d), id=np.dtype(d).name) for d in FLOAT_DTYPES] + BF16
ALPHA = 0.25


def _listing(listing, dtype, *arrays, alpha=ALPHA, **kwargs):
    """The listing on copies of the inputs, in `dtype`; bfloat16 by its rule (float32, then
    rounded once; tests/test_bfloat16.py)."""
    if dtype.name == "bfloat16":
        f32 = [np.asarray(a, dtype=np.float32) for a in arrays]
        a32 = np.asarray(alpha, dtype=np.float32) if np.ndim(alpha) else np.float32(alpha)
        with np.errstate(all="ignore"):
            exact = np.asarray(listing(*f32, a32, **kwargs), dtype=np.float32)
        return round_to_bfloat16(exact).view(dtype)
    with np.errstate(all="ignore"):
        return np.asarray(listing(*[a.copy() for a in arrays], alpha, **kwargs)).astype(dtype)


def _assert(result, expected):
    if result.dtype.name == "bfloat16":
        result, expected = result.astype(np.float32), expected.astype(np.float32)
    assert_same(result, expected)


def _size(dtype):
    # past the threshold (16-bit data is planned as the float32 it is computed in); odd, so
    # chunks do not end on a vector boundary
    return 3 * parallel_threshold_elements(np.float32 if dtype.itemsize < 4 else dtype) + 37


def _base(dtype, n, seed=0):
    # finite values of every sign and size, zeros of both signs included
    with np.errstate(over="ignore"):
        values = sample((n,), np.float64, seed).astype(np.float32 if dtype.itemsize < 4 else dtype)
    values[~np.isfinite(values)] = 1.5
    return values.astype(dtype)


@pytest.fixture(autouse=True)
def team():
    with lrelu.threads(2), always_parallel():
        yield


@contextlib.contextmanager
def in_order():
    """The call inside runs on the calling thread: a team's result would depend on which
    thread wins a race, so the values alone would catch it only sometimes."""
    before = lrelu._threads._parallel_region_count()
    yield
    assert lrelu._threads._parallel_region_count() == before, "an overlapping call ran on a team"


# (x view, out view) of one buffer: the input always ahead of the output. One element apart
# (as filed: wrong only where a chunk ends, when its last read loses the race), a quarter
# apart (the later chunk overwrites most of what the earlier one has still to read), and every
# second element into the first half.
LAYOUTS = {
    "shifted": (lambda b: b[1:], lambda b: b[:-1]),
    "quarter": (lambda b: b[b.size // 4:], lambda b: b[: b.size - b.size // 4]),
    "halved": (lambda b: b[::2], lambda b: b[: (b.size + 1) // 2]),
}
UNARY = [
    pytest.param(lrelu.leaky_relu, reference.lrelu, {}, id="forward"),
    pytest.param(lrelu.leaky_relu_derivative, reference.der_lrelu_typed, {}, id="derivative"),
    pytest.param(lrelu.leaky_relu_derivative, reference.der_lrelu_typed, {"at_zero": "alpha"},
                 id="derivative-at-zero-alpha"),
]
CONVENTIONS = [pytest.param({}, id="at-zero-one"), pytest.param({"at_zero": "alpha"}, id="at-zero-alpha")]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("function, listing, kwargs", UNARY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_with_out_trailing_x(dtype, function, listing, kwargs, layout):
    b = _base(dtype, _size(dtype))
    x_of, out_of = LAYOUTS[layout]
    x, out = x_of(b), out_of(b)
    expected = _listing(listing, dtype, x, **kwargs)
    with in_order():
        function(x, ALPHA, out=out, **kwargs)
    _assert(out, expected)


@pytest.mark.parametrize("operand", ["grad", "x", "both"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kwargs", CONVENTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_with_out_trailing_an_input(dtype, kwargs, layout, operand):
    n = _size(dtype)
    b = _base(dtype, n)
    other = _base(dtype, n, seed=1)
    in_of, out_of = LAYOUTS[layout]
    ahead = in_of(b)
    grad = ahead if operand in ("grad", "both") else other[: ahead.size]
    x = ahead if operand in ("x", "both") else other[: ahead.size]
    out = out_of(b)
    expected = _listing(reference.backward, dtype, grad, x, **kwargs)
    with in_order():
        lrelu.leaky_relu_backward(grad, x, ALPHA, out=out, **kwargs)
    _assert(out, expected)


@pytest.mark.parametrize("dtype", [pytest.param(np.dtype(d), id=np.dtype(d).name)
                                   for d in (np.float32, np.float64)])
def test_alpha_array_ahead_of_out(dtype):
    # alpha is an operand too: an array of alphas that out overwrites behind it
    n = _size(dtype)
    b = np.abs(_base(dtype, n + 1)) / 4
    x = -np.abs(_base(dtype, n, seed=1))
    expected = _listing(reference.lrelu, dtype, x, alpha=b[1:].copy())
    with in_order():
        lrelu.leaky_relu(x, b[1:], out=b[:-1])
    _assert(b[:-1], expected)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("function, listing, kwargs", UNARY)
def test_int64_into_a_float64_view_of_its_own_buffer(function, listing, kwargs, layout):
    # the converting loop (int64 -> float64) reads a block ahead of what it writes
    n = _size(np.dtype(np.float64))
    b = np.random.default_rng(2).integers(-1000, 1000, n)
    x_of, out_of = LAYOUTS[layout]
    x, out = x_of(b), out_of(b.view(np.float64))
    expected = _listing(listing, np.dtype(np.float64), x, **kwargs)
    with in_order():
        function(x, ALPHA, out=out, **kwargs)
    _assert(out, expected)


@needs_openmp
def test_int64_in_place_into_its_own_float64_view_keeps_a_team():
    # the same address and step: element i is read before it is written, so a team is safe
    # and is used (one parallel region)
    n = _size(np.dtype(np.float64))
    b = np.random.default_rng(3).integers(-1000, 1000, n)
    expected = _listing(reference.lrelu, np.dtype(np.float64), b)
    before = lrelu._threads._parallel_region_count()
    lrelu.leaky_relu(b, ALPHA, out=b.view(np.float64))
    assert lrelu._threads._parallel_region_count() == before + 1
    _assert(b.view(np.float64), expected)


@needs_openmp
@pytest.mark.parametrize("dtype", DTYPES)
def test_exact_in_place_still_runs_on_a_team(dtype):
    x = _base(dtype, _size(dtype))
    expected = _listing(reference.lrelu, dtype, x)
    before = lrelu._threads._parallel_region_count()
    lrelu.leaky_relu(x, ALPHA, out=x)
    assert lrelu._threads._parallel_region_count() == before + 1
    _assert(x, expected)


def test_the_issue_reproductions():
    # issue 20, reproduction 1, as filed
    x = np.random.default_rng(0).standard_normal(2_000_001)
    want = np.where(x[1:] >= 0, x[1:], 0.01 * x[1:])
    b = x.copy()
    with in_order():
        lrelu.leaky_relu(b[1:], 0.01, out=b[:-1])
    assert np.count_nonzero(b[:-1] != want) == 0
    y = np.random.default_rng(1).standard_normal(4_000_000)
    k = y.size // 2
    want = reference.lrelu(y[::2].copy(), 0.01)
    b = y.copy()
    with in_order():
        lrelu.leaky_relu(b[::2], 0.01, out=b[:k])
    assert np.count_nonzero(b[:k] != want) == 0
