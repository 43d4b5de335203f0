"""float16 follows NumPy's rule: alpha becomes float16, and each product is computed in float32
and rounded once to float16. Every one of the 65,536 bit patterns, all three operations, in
place and out of place, against the listings computed by NumPy in float16.

tests/test_simd_levels.py runs this module again at every SIMD level the CPU has."""

import warnings

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import always_parallel, assert_same, every_bit_pattern, parallel_threshold_elements

# 0, negative, > 1, products that are subnormal (1e-4), an alpha that is itself subnormal
# in float16 (3e-5), and one that overflows most products (65504, the largest float16).
ALPHAS = [0.01, 0.0, -0.3, 5.0, 1e-4, 3e-5, 65504.0]

X = every_bit_pattern(np.float16)
# Every pattern again as the gradient, in another order, so each x meets many gradients.
GRAD = np.random.default_rng(0).permutation(X)


def listing(function, *args):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return function(*args)


def in_dtype(expected, dtype):
    """The listing's result as an in-place call stores it. Under NumPy 2 (NEP 50) it already
    is float16. NumPy 1's value-based casting makes the listing float32 for an alpha that
    float16 cannot hold as a "small" scalar (65504), and lrelu's call then takes the float32
    loop too; storing into float16 rounds once, exactly what the cast here does."""
    return expected.astype(dtype, copy=False)


def quietly(function, *args, **kwargs):
    with np.errstate(over="ignore", under="ignore"):
        return function(*args, **kwargs)


# operation: (out of place, in place, the listing)
UNARY = {"forward": (lrelu.leaky_relu, lrelu.leaky_relu_, reference.lrelu),
         "derivative": (lrelu.leaky_relu_derivative, lrelu.leaky_relu_derivative_,
                        reference.der_lrelu_typed)}


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("op", UNARY)
def test_matches_listing_on_every_float16(op, alpha):
    function, _, expected = UNARY[op]
    assert_same(quietly(function, X, alpha), listing(expected, X, alpha))


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("op", UNARY)
def test_in_place_matches_listing_on_every_float16(op, alpha):
    _, in_place, expected = UNARY[op]
    x = X.copy()
    assert quietly(in_place, x, alpha) is x
    assert_same(x, in_dtype(listing(expected, X, alpha), x.dtype))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_backward_rounds_once_like_numpy_on_every_float16(alpha):
    assert_same(quietly(lrelu.leaky_relu_backward, GRAD, X, alpha),
                listing(reference.backward, GRAD, X, alpha))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_backward_in_place_on_the_gradient_matches_listing(alpha):
    grad = GRAD.copy()
    quietly(lrelu.leaky_relu_backward, grad, X, alpha, out=grad)
    assert_same(grad, in_dtype(listing(reference.backward, GRAD, X, alpha), grad.dtype))


@pytest.mark.parametrize("alpha", [0.01, -0.3, 1e-4])
def test_strided_float16_matches_listing(alpha):
    # every other element of a doubled array: the strided loop, not the vector one
    x = np.repeat(X, 2)[::2]
    grad = np.repeat(GRAD, 2)[1::2]
    assert_same(quietly(lrelu.leaky_relu, x, alpha), listing(reference.lrelu, X, alpha))
    assert_same(lrelu.leaky_relu_derivative(x, alpha), listing(reference.der_lrelu_typed, X, alpha))
    assert_same(quietly(lrelu.leaky_relu_backward, grad, x, alpha),
                listing(reference.backward, GRAD, X, alpha))


@pytest.mark.parametrize("n", list(range(1, 18)) + [1001])
def test_every_length_matches_listing(n):
    # the vector loops work 8 halves at a time: lengths that leave every possible remainder
    x, grad = X[-n:], GRAD[:n]
    assert_same(quietly(lrelu.leaky_relu, x, 0.2), listing(reference.lrelu, x, 0.2))
    assert_same(lrelu.leaky_relu_derivative(x, 0.2), listing(reference.der_lrelu_typed, x, 0.2))
    assert_same(quietly(lrelu.leaky_relu_backward, grad, x, 0.2),
                listing(reference.backward, grad, x, 0.2))


def test_parallel_float16_matches_listing():
    copies = parallel_threshold_elements(np.float16) // X.size + 2
    x = np.tile(X, copies)
    grad = np.tile(GRAD, copies)
    with always_parallel():
        forward = quietly(lrelu.leaky_relu, x, -0.3)
        backward = quietly(lrelu.leaky_relu_backward, grad, x, -0.3)
        in_place = quietly(lrelu.leaky_relu_, x.copy(), -0.3)
    assert_same(forward, listing(reference.lrelu, x, -0.3))
    assert_same(in_place, listing(reference.lrelu, x, -0.3))
    assert_same(backward, listing(reference.backward, grad, x, -0.3))


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
