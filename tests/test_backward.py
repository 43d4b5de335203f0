"""leaky_relu_backward(grad, x) equals grad * f'(x), with f' from listing 2."""

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import ALPHAS, FLOAT_DTYPES, assert_same, sample


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_matches_grad_times_listing(dtype, alpha):
    x, grad = sample((300,), dtype, seed=1), sample((300,), dtype, seed=2)
    with np.errstate(invalid="ignore", over="ignore"):
        expected = reference.backward(grad, x, alpha)
    assert_same(lrelu.leaky_relu_backward(grad, x, alpha), expected)


def test_mixed_layouts_and_broadcast_grad():
    x = sample((8, 9), np.float64)[:, ::-1]
    grad = sample((9,), np.float64, seed=5)
    assert_same(lrelu.leaky_relu_backward(grad, x, 0.3), reference.backward(grad, x, 0.3))


def test_forward_output_gives_the_same_gradient_for_positive_alpha():
    x = sample((1000,), np.float32, seed=7)
    x = x[np.abs(x) > 1e-30]           # away from the documented underflow edge
    grad = sample(x.shape, np.float32, seed=8)
    y = lrelu.leaky_relu(x, 0.2)
    assert_same(lrelu.leaky_relu_backward(grad, y, 0.2), lrelu.leaky_relu_backward(grad, x, 0.2))


def test_forward_output_differs_only_where_alpha_x_underflows():
    # The documented edge: alpha * x rounds to -0.0, and -0.0 >= 0.
    x = np.array([-1e-45, -1.0], dtype=np.float32)
    y = lrelu.leaky_relu(x, 0.01)
    assert y[0] == 0 and np.signbit(y[0])
    grad = np.ones(2, np.float32)
    assert_same(lrelu.leaky_relu_backward(grad, x, 0.01), reference.backward(grad, x, 0.01))
    assert_same(lrelu.leaky_relu_backward(grad, y, 0.01), reference.backward(grad, y, 0.01))
    assert reference.backward(grad, y, 0.01)[0] == 1 and reference.backward(grad, x, 0.01)[0] != 1
