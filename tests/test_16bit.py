"""The 16-bit formats, from one table: every one of the 65,536 bit patterns, all three
operations, in place and out of place, strided, every remainder of the vector loops, and on a
team, against each format's rule:

- float16 follows NumPy's: alpha becomes float16, each product is computed in float32 and
  rounded once to float16, so the expected values are the listings computed by NumPy in
  float16;
- bfloat16 (ml_dtypes' dtype) follows its own (tests/test_bfloat16.py): the listing in float32
  with alpha as a float32, rounded once to bfloat16 by tests/helpers.py's integer rounding.

What is particular to one format stays in test_half.py and test_bfloat16.py.
tests/test_simd_levels.py runs this module again at every SIMD level the CPU has."""

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import always_parallel, assert_same, every_bit_pattern, parallel_threshold_elements

import test_half
try:
    import test_bfloat16
except pytest.skip.Exception:       # no ml_dtypes: its module skips itself
    test_bfloat16 = None


@dataclass
class Format:
    dtype: np.dtype
    alphas: list                    # for every bit pattern
    forward: Callable               # (x, alpha) -> expected
    derivative: Callable
    backward: Callable              # (grad, x, alpha) -> expected
    stored: Callable                # (expected, dtype) -> as an in-place call stores it
    check: Callable                 # (result, expected)


def _float16():
    return Format(np.dtype(np.float16), test_half.ALPHAS,
                  lambda x, a: test_half.listing(reference.lrelu, x, a),
                  lambda x, a: test_half.listing(reference.der_lrelu_typed, x, a),
                  lambda g, x, a: test_half.listing(reference.backward, g, x, a),
                  test_half.in_dtype, assert_same)


def _bfloat16():
    b = test_bfloat16
    return Format(b.BF16, b.ALPHAS, b.forward_rule, b.derivative_rule, b.backward_rule,
                  lambda expected, dtype: expected, b.assert_same_bfloat16)


FORMATS = {"float16": _float16()}
if test_bfloat16 is not None:
    FORMATS["bfloat16"] = _bfloat16()
CASES = [(name, alpha) for name, f in FORMATS.items() for alpha in f.alphas]


def patterns(f):
    """Every bit pattern as x, and again in another order as the gradient, so that each x
    meets many gradients."""
    x = every_bit_pattern(f.dtype)
    return x, np.random.default_rng(0).permutation(x)


def quietly(function, *args, **kwargs):
    with np.errstate(over="ignore", under="ignore"):
        return function(*args, **kwargs)


# operation: (out of place, in place, the rule's name in Format)
UNARY = {"forward": (lrelu.leaky_relu, lrelu.leaky_relu_, "forward"),
         "derivative": (lrelu.leaky_relu_derivative, lrelu.leaky_relu_derivative_, "derivative")}


@pytest.mark.parametrize("in_place", [False, True], ids=["out-of-place", "in-place"])
@pytest.mark.parametrize("name, alpha", CASES)
@pytest.mark.parametrize("op", UNARY)
def test_matches_rule_on_every_bit_pattern(op, name, alpha, in_place):
    f = FORMATS[name]
    function, in_place_function, rule = UNARY[op]
    x, _ = patterns(f)
    expected = getattr(f, rule)(x, alpha)
    if in_place:
        y = x.copy()
        assert quietly(in_place_function, y, alpha) is y
        f.check(y, f.stored(expected, y.dtype))
    else:
        f.check(quietly(function, x, alpha), expected)


@pytest.mark.parametrize("in_place", [False, True], ids=["out-of-place", "out-is-grad"])
@pytest.mark.parametrize("name, alpha", CASES)
def test_backward_rounds_the_product_once_on_every_bit_pattern(name, alpha, in_place):
    f = FORMATS[name]
    x, grad = patterns(f)
    expected = f.backward(grad, x, alpha)
    if in_place:
        g = grad.copy()
        quietly(lrelu.leaky_relu_backward, g, x, alpha, out=g)
        f.check(g, f.stored(expected, g.dtype))
    else:
        f.check(quietly(lrelu.leaky_relu_backward, grad, x, alpha), expected)


@pytest.mark.parametrize("alpha", [0.01, -0.3, 1e-4])
@pytest.mark.parametrize("name", FORMATS)
def test_strided_matches_rule(name, alpha):
    # every other element of a doubled array: the strided loop, not the vector one
    f = FORMATS[name]
    x, grad = patterns(f)
    xs, gs = np.repeat(x, 2)[::2], np.repeat(grad, 2)[1::2]
    f.check(quietly(lrelu.leaky_relu, xs, alpha), f.forward(x, alpha))
    f.check(lrelu.leaky_relu_derivative(xs, alpha), f.derivative(x, alpha))
    f.check(quietly(lrelu.leaky_relu_backward, gs, xs, alpha), f.backward(grad, x, alpha))


@pytest.mark.parametrize("n", list(range(1, 18)) + [1001])
@pytest.mark.parametrize("name", FORMATS)
def test_every_length_matches_rule(name, n):
    # the vector loops work 8 or 16 elements at a time: lengths that leave every remainder
    f = FORMATS[name]
    x, grad = patterns(f)
    x, grad = x[-n:], grad[:n]
    f.check(quietly(lrelu.leaky_relu, x, 0.2), f.forward(x, 0.2))
    f.check(lrelu.leaky_relu_derivative(x, 0.2), f.derivative(x, 0.2))
    f.check(quietly(lrelu.leaky_relu_backward, grad, x, 0.2), f.backward(grad, x, 0.2))


@pytest.mark.parametrize("name", FORMATS)
def test_on_a_team_matches_rule(name):
    f = FORMATS[name]
    x, grad = patterns(f)
    copies = parallel_threshold_elements(f.dtype) // x.size + 2
    x, grad = np.tile(x, copies), np.tile(grad, copies)
    with always_parallel():
        forward = quietly(lrelu.leaky_relu, x, -0.3)
        backward = quietly(lrelu.leaky_relu_backward, grad, x, -0.3)
        in_place = quietly(lrelu.leaky_relu_, x.copy(), -0.3)
    f.check(forward, f.forward(x, -0.3))
    f.check(in_place, f.forward(x, -0.3))
    f.check(backward, f.backward(grad, x, -0.3))
