"""float16 is computed in float32 and rounded once, as NumPy's float16 arithmetic is."""

import numpy as np

import lrelu
from lrelu import reference

from helpers import assert_same


def all_halves():
    return np.arange(1 << 16, dtype=np.uint16).view(np.float16)


def test_every_float16_value_matches_listing():
    x = all_halves()
    for alpha in (0.01, 0.2, 1.0, 5.0, -0.3, 0.0):
        with np.errstate(over="ignore", invalid="ignore"):
            expected = reference.lrelu(x, alpha)
            result = lrelu.leaky_relu(x, alpha)
        assert_same(result, expected)
        assert_same(lrelu.leaky_relu_derivative(x, alpha), reference.der_lrelu_typed(x, alpha))


def test_float16_backward_rounds_once_like_numpy():
    x = all_halves()
    grad = np.random.default_rng(0).permutation(x)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = reference.backward(grad, x, 3.0)
        result = lrelu.leaky_relu_backward(grad, x, 3.0)
    assert_same(result, expected)
