"""at_zero="alpha": PyTorch's convention for the derivative and the backward (slope 1 only for
x > 0), against reference.der_lrelu_at_zero_alpha and against PyTorch itself."""

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import ALPHAS, FLOAT_DTYPES, SPECIALS, assert_same, sample


def all_halves():
    return np.arange(1 << 16, dtype=np.uint16).view(np.float16)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_derivative_matches_the_at_zero_alpha_reference(dtype, alpha):
    x = sample((300,), dtype, seed=3)
    assert_same(lrelu.leaky_relu_derivative(x, alpha, at_zero="alpha"),
                reference.der_lrelu_typed(x, alpha, at_zero="alpha"))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_derivative_in_place_matches_the_at_zero_alpha_reference(dtype):
    x = sample((300,), dtype, seed=4)
    expected = reference.der_lrelu_typed(x, 0.2, at_zero="alpha")
    assert lrelu.leaky_relu_derivative_(x, 0.2, at_zero="alpha") is x
    assert_same(x, expected)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_backward_matches_the_at_zero_alpha_reference(dtype, alpha):
    x, grad = sample((300,), dtype, seed=5), sample((300,), dtype, seed=6)
    with np.errstate(invalid="ignore", over="ignore"):
        expected = reference.backward(grad, x, alpha, at_zero="alpha")
    assert_same(lrelu.leaky_relu_backward(grad, x, alpha, at_zero="alpha"), expected)


def test_zeros_of_both_signs_get_alpha_and_the_default_still_gives_one():
    x = np.array([0.0, -0.0, 1.0, -1.0])
    assert_same(lrelu.leaky_relu_derivative(x, 0.5, at_zero="alpha"),
                reference.der_lrelu_at_zero_alpha(x, 0.5))
    assert_same(lrelu.leaky_relu_derivative(x, 0.5, at_zero="one"), reference.der_lrelu(x, 0.5))
    assert_same(lrelu.leaky_relu_derivative(x, 0.5), reference.der_lrelu(x, 0.5))


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64, np.bool_])
def test_integer_input_takes_the_converting_loop_with_the_convention(dtype):
    x = sample((200,), dtype, seed=7)
    assert_same(lrelu.leaky_relu_derivative(x, 0.3, at_zero="alpha"),
                reference.der_lrelu_typed(x, 0.3, at_zero="alpha"))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_strided_views_and_alpha_arrays_take_the_convention(dtype):
    x = sample((400,), dtype, seed=8)[::-3]
    grad = sample((134,), dtype, seed=9)
    alpha = np.linspace(-1, 1, 134).astype(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        expected = reference.backward(grad, x, alpha, at_zero="alpha")
    assert_same(lrelu.leaky_relu_backward(grad, x, alpha, at_zero="alpha"), expected)


def test_the_conventions_are_ufuncs_with_the_same_loops():
    ufuncs = lrelu.ufuncs
    assert isinstance(ufuncs.leaky_relu_derivative_at_zero_alpha, np.ufunc)
    assert isinstance(ufuncs.leaky_relu_backward_at_zero_alpha, np.ufunc)
    assert ufuncs.leaky_relu_derivative_at_zero_alpha.types == ufuncs.leaky_relu_derivative.types
    assert ufuncs.leaky_relu_backward_at_zero_alpha.types == ufuncs.leaky_relu_backward.types


def test_the_backward_of_the_forward_output_is_the_backward_of_x():
    # With x > 0 deciding, y = leaky_relu(x) has the same answer for alpha > 0 everywhere,
    # the underflow to -0.0 included (the default convention differs there).
    x = np.array([-1e-45, -1.0, 0.0, -0.0, 2.0], dtype=np.float32)
    grad = np.arange(1, 6, dtype=np.float32)
    y = lrelu.leaky_relu(x, 0.01)
    assert_same(lrelu.leaky_relu_backward(grad, y, 0.01, at_zero="alpha"),
                lrelu.leaky_relu_backward(grad, x, 0.01, at_zero="alpha"))


# ---- PyTorch --------------------------------------------------------------------------------

TORCH_DTYPES = [np.float16, np.float32, np.float64]


def _torch_backward(grad, x, alpha):
    torch = pytest.importorskip("torch")
    return torch.ops.aten.leaky_relu_backward(torch.from_numpy(grad), torch.from_numpy(x),
                                              alpha, False).numpy()


def _same_alpha(dtype, alpha):
    """alpha as lrelu computes with it: NumPy casts it to the array's dtype. PyTorch keeps
    it in float32 for float16, so it is handed the value lrelu uses (for float32 and float64
    that is what PyTorch does itself)."""
    return float(np.dtype(dtype).type(alpha))


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_backward_equals_torch_on_sampled_values(dtype, alpha):
    x, grad = sample((5000,), dtype, seed=10), sample((5000,), dtype, seed=11)
    x[::7] = 0.0
    x[1::7] = -0.0
    alpha = _same_alpha(dtype, alpha)
    expected = _torch_backward(grad, x, alpha)
    with np.errstate(over="ignore"):
        assert_same(lrelu.leaky_relu_backward(grad, x, alpha, at_zero="alpha"), expected)


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_backward_equals_torch_on_every_pair_of_special_values(dtype):
    with np.errstate(over="ignore"):
        specials = np.array(SPECIALS + [np.finfo(dtype).smallest_subnormal,
                                        -np.finfo(dtype).smallest_subnormal,
                                        np.finfo(dtype).tiny, -np.finfo(dtype).tiny]).astype(dtype)
    grad, x = (a.ravel().copy() for a in np.meshgrid(specials, specials))
    for alpha in (0.0, 0.25, -2.0, 3.5):
        expected = _torch_backward(grad, x, alpha)
        with np.errstate(over="ignore", invalid="ignore"):
            assert_same(lrelu.leaky_relu_backward(grad, x, alpha, at_zero="alpha"), expected)


@pytest.mark.parametrize("alpha", [0.01, 0.2, -0.5, 3.5])
def test_backward_equals_torch_on_every_float16_bit_pattern(alpha):
    alpha = _same_alpha(np.float16, alpha)
    x = all_halves()
    for grad in (np.random.default_rng(12).permutation(x), np.full_like(x, 1.5)):
        expected = _torch_backward(grad, x, alpha)
        with np.errstate(over="ignore", invalid="ignore"):
            assert_same(lrelu.leaky_relu_backward(grad, x, alpha, at_zero="alpha"), expected)
        expected = _torch_backward(x, grad, alpha)      # every pattern as the gradient too
        with np.errstate(over="ignore", invalid="ignore"):
            assert_same(lrelu.leaky_relu_backward(x, grad, alpha, at_zero="alpha"), expected)
