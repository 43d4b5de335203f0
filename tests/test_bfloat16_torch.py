"""lrelu's bfloat16 against PyTorch's bfloat16 leaky_relu, on every one of the 65,536 bit
patterns: the same bits, NaN for NaN (payloads aside: PyTorch's vector code makes every NaN
0xFFFF).

Where the two conventions part, the comparison leaves those elements out and says so:
PyTorch takes x > 0 where the listing takes x >= 0, so with a negative alpha PyTorch turns
both zeros into the other (alpha * 0), and its gradient at x = 0 is alpha (docs/guide/semantics.md,
"Special values")."""

import numpy as np
import pytest

import lrelu

from helpers import assert_same, every_bit_pattern

ml_dtypes = pytest.importorskip("ml_dtypes")
torch = pytest.importorskip("torch")
BF16 = np.dtype(ml_dtypes.bfloat16)

X = every_bit_pattern(BF16)
GRAD = np.random.default_rng(0).permutation(X)
ALPHAS = [0.01, 0.0, 0.2, 5.0, 1e-30, 3e-39, -0.3]


def to_torch(values):
    return torch.from_numpy(values.view(np.int16).copy()).view(torch.bfloat16)


def from_torch(tensor):
    return tensor.view(torch.int16).numpy().view(BF16)


def assert_same_as_torch(result, expected, where=slice(None)):
    assert result.dtype == BF16
    assert_same(result.astype(np.float32)[where], expected.astype(np.float32)[where])


def quietly(function, *args, **kwargs):
    with np.errstate(over="ignore", under="ignore"):
        return function(*args, **kwargs)


def zeros_left_out_for_negative_alpha(alpha):
    return (X.astype(np.float32) != 0) if alpha < 0 else slice(None)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_forward_equals_torch_on_every_bfloat16(alpha):
    expected = from_torch(torch.nn.functional.leaky_relu(to_torch(X), alpha))
    assert_same_as_torch(quietly(lrelu.leaky_relu, X, alpha), expected,
                         zeros_left_out_for_negative_alpha(alpha))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_forward_in_place_equals_torch_in_place(alpha):
    t = to_torch(X)
    torch.nn.functional.leaky_relu_(t, alpha)
    x = X.copy()
    quietly(lrelu.leaky_relu_, x, alpha)
    assert_same_as_torch(x, from_torch(t), zeros_left_out_for_negative_alpha(alpha))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_backward_equals_torch_where_x_is_not_zero(alpha):
    grad_input = torch.ops.aten.leaky_relu_backward(to_torch(GRAD), to_torch(X), alpha, False)
    nonzero = X.astype(np.float32) != 0
    assert_same_as_torch(quietly(lrelu.leaky_relu_backward, GRAD, X, alpha), from_torch(grad_input),
                         nonzero)
