"""One table of cases against lrelu.reference, as bottleneck's unit_maker(fast, slow) does:
every operation (forward, derivative and backward, both conventions at 0, out of place and in
place) over dtypes x layouts x sizes around the parallel threshold x thread counts. Each test
is one operation; it walks the generated cases and names the one that fails.

The sizes straddle the threshold (just below, at, just above, and a few chunks past it with a
remainder), so the serial loop, the team's chunking and its last, shorter chunk all run; the
thread counts include one, the CPUs' and more than the CPUs."""

import itertools

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import (FLOAT_DTYPES as DTYPES, INTEGER_DTYPES, always_parallel, assert_same,
                     parallel_threshold_elements, sample)

LAYOUTS = {"contiguous": 1, "strided": 2, "reversed": -1}
THREADS = [1, 2, 3, 7]
ALPHA = 0.1


def sizes(dtype):
    # 16-bit data is planned as the float32 it is computed in (lrelu/_kernels.pyx)
    t = parallel_threshold_elements(np.float32 if np.dtype(dtype).itemsize < 4 else dtype)
    return [t - 3, t - 1, t, t + 1, 3 * t + 7]


def _typed(listing, dtype):
    def expected(*args, **kwargs):
        with np.errstate(all="ignore"):
            return np.asarray(listing(*args, **kwargs)).astype(dtype, copy=False)
    return expected


# name -> (call(grad, x, alpha, at_zero) returning the result, listing(grad, x, alpha, at_zero))
# In place, the call writes x (unary) or grad (backward) and returns it.
OPERATIONS = {
    "forward": (lambda g, x, a, z: lrelu.leaky_relu(x, a),
                lambda g, x, a, z: reference.lrelu(x, a)),
    "forward in place": (lambda g, x, a, z: lrelu.leaky_relu_(x, a),
                         lambda g, x, a, z: reference.lrelu(x, a)),
    "derivative": (lambda g, x, a, z: lrelu.leaky_relu_derivative(x, a, at_zero=z),
                   lambda g, x, a, z: reference.der_lrelu_typed(x, a, at_zero=z)),
    "derivative in place": (lambda g, x, a, z: lrelu.leaky_relu_derivative_(x, a, at_zero=z),
                            lambda g, x, a, z: reference.der_lrelu_typed(x, a, at_zero=z)),
    "backward": (lambda g, x, a, z: lrelu.leaky_relu_backward(g, x, a, at_zero=z),
                 lambda g, x, a, z: reference.backward(g, x, a, at_zero=z)),
    "backward out=grad": (lambda g, x, a, z: lrelu.leaky_relu_backward(g, x, a, out=g, at_zero=z),
                          lambda g, x, a, z: reference.backward(g, x, a, at_zero=z)),
}
CASES = [(name, at_zero) for name in OPERATIONS
         for at_zero in (["one"] if name.startswith("forward") else ["one", "alpha"])]


def cases():
    """(dtype, layout, n, threads, x, grad): every combination, x with zeros of both signs."""
    for dtype, layout in itertools.product(DTYPES, LAYOUTS):
        step = LAYOUTS[layout]
        for n in sizes(dtype):
            x = sample((n * abs(step),), dtype, seed=n)[::step]
            x[::7] = 0.0
            x[1::11] = -0.0
            grad = sample((n * abs(step),), dtype, seed=n + 1)[::step]
            for threads in THREADS:
                yield dtype, layout, n, threads, x, grad


@pytest.mark.parametrize("name, at_zero", CASES)
def test_operation_equals_its_listing_in_every_case(name, at_zero):
    call, listing = OPERATIONS[name]
    in_place = "place" in name or "out=" in name
    for dtype, layout, n, threads, x, grad in cases():
        x, grad = x.copy(), grad.copy()
        expected = _typed(listing, x.dtype)(grad.copy(), x.copy(), ALPHA, at_zero)
        with lrelu.threads(threads), always_parallel(), np.errstate(all="ignore"):
            result = call(grad, x, ALPHA, at_zero)
        try:
            if in_place:
                assert result is (grad if name.startswith("backward") else x)
            assert_same(result, expected)
        except AssertionError as exc:
            raise AssertionError(f"{name}, at_zero={at_zero}: {np.dtype(dtype).name}, {layout}, "
                                 f"n={n}, {threads} threads: {exc}") from None
        except pytest.fail.Exception as exc:
            pytest.fail(f"{name}, at_zero={at_zero}: {np.dtype(dtype).name}, {layout}, n={n}, "
                        f"{threads} threads: {exc}")


def test_every_row_of_the_loop_table_has_test_rows():
    # A loop added to lrelu/_loop_table.py without its dtype in the test table would go
    # untested by every table-driven test: the test table must name each x type.
    tested = {np.dtype(t).char for t in DTYPES + INTEGER_DTYPES}
    untested = [sig for sig in lrelu.ufuncs.UNARY_TYPES if sig[0] not in tested]
    assert not untested, f"loop table rows with no dtype in tests/helpers.py: {untested}"
