"""In-place functions: same object back, nothing allocated, every layout."""

import tracemalloc

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import FLOAT_DTYPES, assert_same, parallel_threshold_elements, sample

IN_PLACE = [
    (lrelu.leaky_relu_, reference.lrelu),
    (lrelu.leaky_relu_derivative_, reference.der_lrelu_typed),
]


@pytest.mark.parametrize("function, oracle", IN_PLACE)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_returns_the_same_object_with_listing_values(function, oracle, dtype):
    x = sample((3, 50), dtype)
    expected = oracle(x, 0.3)
    assert function(x, 0.3) is x
    assert_same(x, expected)


@pytest.mark.parametrize("function, oracle", IN_PLACE)
@pytest.mark.parametrize("make_view", [
    lambda a: a[::3],
    lambda a: a[::-1],
    lambda a: a.reshape(10, -1).T,
    lambda a: a.reshape(10, -1)[:, 2:7],
])
def test_views_change_only_their_elements(function, oracle, make_view):
    base = sample((300,), np.float32)
    untouched = base.copy()
    view = make_view(base)
    expected_view = oracle(view.copy(), 0.2)
    function(view, 0.2)
    assert_same(view, expected_view)
    mask = np.ones(base.shape, bool)
    make_view(mask)[...] = False
    assert_same(base[mask], untouched[mask])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_byteswapped_and_fortran_in_place(dtype):
    for x in (sample((20, 30), dtype).astype(np.dtype(dtype).newbyteorder()),
              np.asfortranarray(sample((20, 30), dtype))):
        expected = reference.lrelu(x, 0.1).astype(x.dtype)
        lrelu.leaky_relu_(x, 0.1)
        assert_same(x, expected)


@pytest.mark.parametrize("n", [1000, None])
def test_allocates_nothing(n):
    n = n or 4 * parallel_threshold_elements(np.float64)
    x = sample((n,), np.float64)
    lrelu.leaky_relu_(x)                      # warm up: first-call caches
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        lrelu.leaky_relu_(x)
        lrelu.leaky_relu_derivative_(x)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    assert grown < x.nbytes // 10, f"in place allocated {grown} bytes"


def test_out_equal_to_input_is_in_place():
    x = sample((100,), np.float64)
    expected = reference.lrelu(x)
    assert lrelu.leaky_relu(x, out=x) is x
    assert_same(x, expected)


def test_out_partly_overlapping_the_input():
    # NumPy sees the overlap and computes as if from a copy.
    base = sample((200,), np.float64)
    expected = reference.lrelu(base[:150].copy(), 0.5)
    lrelu.leaky_relu(base[:150], 0.5, out=base[50:])
    assert_same(base[50:], expected)
