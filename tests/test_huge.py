"""Arrays of more than 2**31 elements, and views reaching past byte offset 2**32: no index or
offset may wrap at 32 bits, in the serial loop (one call over all n elements) or the
parallel one (per-thread offsets past 2**31).

These need up to about 9 GB of memory and a few minutes, so they are marked slow and left out
of the default run: `pytest -m slow` runs them (one at a time, as pytest does).

Contents come from a pattern whose period (a prime) divides neither 2**31 nor 2**32, so an
element read or written at an index that wrapped would hold a different value. Every element
is checked against the listing, a chunk at a time, to keep the memory for the check small.
"""

import functools
import gc
import sys

import numpy as np
import pytest

import lrelu
from lrelu import _threads, reference

from helpers import always_parallel, assert_same, sample

pytestmark = pytest.mark.slow

N = 2**31 + 2**20 + 37            # past 2**31, and not a multiple of the 64-element chunks
CHUNK = 2**24
ALPHA = 0.1
THREADS = [pytest.param(1, id="serial"), pytest.param(2, id="parallel")]


@pytest.fixture(autouse=True)
def _free_memory_after_a_failure():
    # pytest keeps the failing test's frames (sys.last_traceback) and with them its arrays,
    # gigabytes each, while the next test allocates as much again.
    yield
    sys.last_type = sys.last_value = sys.last_traceback = None
    if hasattr(sys, "last_exc"):
        sys.last_exc = None
    gc.collect()


class Pattern:
    """Values repeating with a prime period: value(i) = values[i % period]."""

    def __init__(self, dtype, period, seed):
        self.values = sample((period,), dtype, seed)

    def fill(self, x):
        period = len(self.values)
        for lo in range(0, len(x), period):
            x[lo:lo + period] = self.values[:len(x) - lo]
        return x

    def at(self, lo, hi):
        """value(lo), ..., value(hi - 1)."""
        return np.resize(np.roll(self.values, -(lo % len(self.values))), hi - lo)


@functools.cache
def _first(dtype):
    return Pattern(dtype, 1_000_003, seed=1)


@functools.cache
def _second(dtype):
    return Pattern(dtype, 999_983, seed=2)


def _huge(dtype, pattern, n=N):
    return pattern.fill(np.empty(n, dtype))


def _on_threads(threads, call):
    regions = _threads._parallel_region_count()
    with lrelu.threads(threads), always_parallel():
        result = call()
    if _threads._openmp_info()["enabled"]:
        assert (_threads._parallel_region_count() > regions) == (threads > 1), "ran on the wrong path"
    return result


def _assert_chunks_equal(result, expected_chunk):
    """result[lo:hi] == expected_chunk(lo, hi) for every chunk of result."""
    for lo in range(0, len(result), CHUNK):
        hi = min(lo + CHUNK, len(result))
        try:
            assert_same(result[lo:hi], expected_chunk(lo, hi))
        except (AssertionError, pytest.fail.Exception) as exc:
            pytest.fail(f"elements {lo} to {hi} (index {lo} is element 0 below): {exc}")


IN_PLACE = [
    pytest.param(lrelu.leaky_relu_, reference.lrelu, id="forward"),
    pytest.param(lrelu.leaky_relu_derivative_, reference.der_lrelu_typed, id="derivative"),
]
OUT_OF_PLACE = [
    pytest.param(lrelu.leaky_relu, reference.lrelu, id="forward"),
    pytest.param(lrelu.leaky_relu_derivative, reference.der_lrelu_typed, id="derivative"),
]


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("function, listing", IN_PLACE)
def test_in_place_past_2_31_elements(function, listing, threads):
    # float32 takes the contiguous SIMD loop, called with n > 2**31 when serial. 8.6 GB.
    pattern = _first(np.float32)
    x = _huge(np.float32, pattern)
    assert _on_threads(threads, lambda: function(x, ALPHA)) is x
    _assert_chunks_equal(x, lambda lo, hi: listing(pattern.at(lo, hi), ALPHA))


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("function, listing", OUT_OF_PLACE)
def test_out_of_place_past_2_31_elements(function, listing, threads):
    # float16 keeps input and result to 8.6 GB together; it takes the strided loop.
    pattern = _first(np.float16)
    x = _huge(np.float16, pattern)
    y = _on_threads(threads, lambda: function(x, ALPHA))
    _assert_chunks_equal(y, lambda lo, hi: listing(pattern.at(lo, hi), ALPHA))


@pytest.mark.parametrize("threads", THREADS)
def test_backward_in_place_on_grad_past_2_31_elements(threads):
    grad_pattern, x_pattern = _first(np.float16), _second(np.float16)
    grad, x = _huge(np.float16, grad_pattern), _huge(np.float16, x_pattern)
    assert _on_threads(threads, lambda x=x: lrelu.leaky_relu_backward(grad, x, ALPHA, out=grad)) is grad
    del x     # the check needs only the patterns
    _assert_chunks_equal(grad, lambda lo, hi: reference.backward(grad_pattern.at(lo, hi),
                                                                 x_pattern.at(lo, hi), ALPHA))


# A float16 base of more than 2**32 bytes, and every 4099th element of it: a view of about
# 2**19 elements (just over the parallel threshold) whose byte offsets run past 2**31 and
# 2**32, forwards from the start or backwards from the end.
BASE = 2**31 + 2**21 + 11
STEPS = [pytest.param(4099, id="step4099"), pytest.param(-4099, id="step-4099")]


def _in_view(lo, hi, step):
    """Which of base elements lo..hi-1 the view base[::step] holds."""
    first = 0 if step > 0 else BASE - 1
    return (np.arange(lo, hi) - first) % abs(step) == 0


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("step", STEPS)
def test_in_place_on_a_view_past_byte_offset_2_32_changes_only_the_view(step, threads):
    pattern = _first(np.float16)
    base = _huge(np.float16, pattern, BASE)
    view = base[::step]
    assert abs(step) * base.itemsize * (len(view) - 1) > 2**32

    _on_threads(threads, lambda: lrelu.leaky_relu_(view, ALPHA))

    def expected(lo, hi):
        values = pattern.at(lo, hi)
        mask = _in_view(lo, hi, step)
        values[mask] = reference.lrelu(values[mask], ALPHA)
        return values
    _assert_chunks_equal(base, expected)


@pytest.mark.parametrize("step", STEPS)
def test_out_of_place_from_a_view_past_byte_offset_2_32(step):
    pattern = _first(np.float16)
    base = _huge(np.float16, pattern, BASE)
    view = base[::step]
    result = _on_threads(2, lambda: lrelu.leaky_relu(view, ALPHA))
    indices = np.arange(0, BASE, step) if step > 0 else np.arange(BASE - 1, -1, step)
    assert_same(result, reference.lrelu(pattern.values[indices % len(pattern.values)], ALPHA))
