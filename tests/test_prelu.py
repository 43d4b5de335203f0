"""prelu_backward: grad_x bit for bit the backward ufunc's, grad_alpha against a float64
NumPy reference (reference.prelu_backward), the same bits on any thread count, and both
gradients against finite differences of the forward."""

import math

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import FLOAT_DTYPES, always_parallel, assert_same, sample

# (x shape, alpha shape): per channel on (N, C, H, W) both ways, (N, C), a scalar, alpha
# broadcast along the last axis, alpha along the last axis, a row longer than one block,
# short rows, axes alpha keeps that are not next to each other, and alpha of x's shape.
LAYOUTS = [
    ((4, 6, 9, 11), (6, 1, 1)),
    ((4, 6, 9, 11), (1, 6, 1, 1)),
    ((50, 7), (7,)),
    ((333,), ()),
    ((5, 4, 80), (4, 1)),
    ((9, 5, 3), (3,)),
    ((2, 3, 20000), (3, 1)),
    ((6, 5, 7), (5, 1)),
    ((4, 6, 9, 11), (6, 1, 11)),
    ((3, 40), (3, 40)),
]


def finite_sample(shape, dtype, seed):
    """Normal values of both signs, zeros of both signs, no inf or NaN."""
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    flat = values.reshape(-1)
    flat[::11] = 0.0
    flat[1::11] = -0.0
    return values


def slopes(shape, dtype, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 1.5, shape).astype(dtype)


def assert_close_to_reference(grad_alpha, expected, grad, x, alpha, at_zero):
    """The stated tolerance: |got - expected| <= (2 + log2 n) * eps(dtype) * sum |grad * x|
    over the summed elements, per element of alpha. The reference's own pairwise float64 sum
    is off by up to log2(n) * eps(float64) times that sum, and the result is rounded once to
    its dtype."""
    dtype = np.asarray(grad_alpha).dtype
    # sum |grad * x| by the reference: x keeps which side it is on, and every product is <= 0
    side = ~(x > 0) if at_zero == "alpha" else ~(x >= 0)
    _, magnitude = reference.prelu_backward(np.abs(grad), np.where(side, -np.abs(x), np.abs(x)),
                                            alpha, at_zero)
    n = max(2, x.size // max(1, np.size(alpha)))
    tolerance = (2 + math.log2(n)) * np.finfo(dtype).eps * np.abs(magnitude) + np.finfo(dtype).tiny
    error = np.abs(np.asarray(grad_alpha, dtype=expected.dtype) - expected)
    assert (error <= tolerance).all(), (error.max(), tolerance.min())


@pytest.mark.parametrize("at_zero", ["one", "alpha"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape, alpha_shape", LAYOUTS)
def test_grad_x_is_the_backward_of_the_broadcast_alpha(shape, alpha_shape, dtype, at_zero):
    x, grad = sample(shape, dtype, seed=1), sample(shape, dtype, seed=2)
    alpha = slopes(alpha_shape, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        grad_x, _ = lrelu.prelu_backward(grad, x, alpha, at_zero=at_zero)
        expected = reference.backward(grad, x, alpha, at_zero=at_zero)
    assert_same(grad_x, expected)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_a_python_float_alpha_is_rounded_to_the_dtype_as_the_ufunc_rounds_it(dtype):
    x, grad = sample((40, 3), dtype, seed=1), sample((40, 3), dtype, seed=2)
    with np.errstate(invalid="ignore", over="ignore"):
        grad_x, _ = lrelu.prelu_backward(grad, x, 0.01)
        expected = reference.backward(grad, x, 0.01)
    assert_same(grad_x, expected)


@pytest.mark.parametrize("at_zero", ["one", "alpha"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape, alpha_shape", LAYOUTS)
def test_grad_alpha_matches_the_float64_reference(shape, alpha_shape, dtype, at_zero):
    x, grad = finite_sample(shape, dtype, 3), finite_sample(shape, dtype, 4)
    alpha = slopes(alpha_shape, dtype)
    _, grad_alpha = lrelu.prelu_backward(grad, x, alpha, at_zero=at_zero)
    assert grad_alpha.shape == alpha.shape and grad_alpha.dtype == dtype
    _, expected = reference.prelu_backward(grad, x, alpha, at_zero)
    assert_close_to_reference(grad_alpha, expected, grad, x, alpha, at_zero)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_grad_alpha_keeps_what_a_sum_in_the_data_type_loses(dtype):
    # big + 1 rounds back to big in the data's own type (a tie, to even), so a plain sum of
    # big, 1, -big, big, 1, -big, ... in that type loses every 1; wider or compensated sums
    # keep them, and the exact answer, -1024, is a number every dtype holds.
    big = 2.0 ** (np.finfo(dtype).nmant + 1)
    grad = np.tile(np.array([big, 1.0, -big], dtype=dtype), 1024)
    x = -np.ones_like(grad)
    _, grad_alpha = lrelu.prelu_backward(grad, x, 0.1)
    assert grad_alpha == math.fsum(grad.astype(np.float64) * -1.0) == -1024.0


@pytest.mark.parametrize("shape, alpha_shape", [((8, 16, 64, 64), (16, 1, 1)), ((20000, 48), (48,)),
                                                ((600000,), ()), ((4, 3, 40000), (3, 1)),
                                                ((2000, 9, 30), (9, 1))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_alpha_has_the_same_bits_on_1_to_4_threads_and_every_call(shape, alpha_shape, dtype):
    x, grad = finite_sample(shape, dtype, 5), finite_sample(shape, dtype, 6)
    alpha = slopes(alpha_shape, dtype)
    results = []
    with always_parallel():
        for threads in (1, 2, 3, 4, 1, 4):
            regions = lrelu._threads._parallel_region_count()
            with lrelu.threads(threads):
                grad_x, grad_alpha = lrelu.prelu_backward(grad, x, alpha)
            ran_on_a_team = lrelu._threads._parallel_region_count() > regions
            assert ran_on_a_team == (threads > 1 and lrelu._threads._openmp_info()["enabled"])
            results.append((grad_x.tobytes(), grad_alpha.tobytes()))
    assert all(result == results[0] for result in results)


def central_differences(function, values, h=1e-6):
    """d function / d values, element by element, by central differences."""
    numeric = np.empty_like(values)
    for i in np.ndindex(values.shape):
        up, down = values.copy(), values.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (function(up) - function(down)) / (2 * h)
    return numeric


@pytest.mark.parametrize("at_zero", ["one", "alpha"])
def test_both_gradients_match_finite_differences(at_zero):
    # L = sum(w * leaky_relu(x, alpha)), so dL/dy = w; central differences in float64,
    # away from x = 0 where f is not differentiable.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 5))
    x[np.abs(x) < 0.05] = 0.5
    w = rng.standard_normal(x.shape)
    alpha = rng.uniform(0.05, 0.5, (4, 1))
    loss = lambda x_, alpha_: float(np.sum(w * lrelu.leaky_relu(x_, alpha_)))
    grad_x, grad_alpha = lrelu.prelu_backward(w, x, alpha, at_zero=at_zero)
    np.testing.assert_allclose(grad_x, central_differences(lambda v: loss(v, alpha), x),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grad_alpha, central_differences(lambda v: loss(x, v), alpha),
                               rtol=1e-6, atol=1e-8)


def test_zeros_count_for_alpha_only_with_at_zero_alpha():
    # grad * (+-0) adds nothing, but inf * 0 is NaN: PyTorch's grad_alpha is NaN there too.
    x = np.array([0.0, -0.0, -2.0, 3.0])
    grad = np.array([np.inf, 1.0, 1.0, 1.0])
    for at_zero in ("one", "alpha"):
        _, grad_alpha = lrelu.prelu_backward(grad, x, np.array([0.5]), at_zero=at_zero)
        _, expected = reference.prelu_backward(grad, x, np.array([0.5]), at_zero)
        assert_same(grad_alpha, expected)
    assert np.isnan(lrelu.prelu_backward(grad, x, 0.5, at_zero="alpha")[1])
    assert lrelu.prelu_backward(grad, x, 0.5, at_zero="one")[1] == -2.0


def test_nan_input_makes_its_channel_nan_like_the_reference():
    x = np.array([[1.0, -1.0], [np.nan, -2.0], [3.0, 4.0]])
    grad = np.ones_like(x)
    _, grad_alpha = lrelu.prelu_backward(grad, x, np.array([0.1, 0.2]))
    _, expected = reference.prelu_backward(grad, x, np.array([0.1, 0.2]))
    assert_same(grad_alpha, expected)
    assert np.isnan(grad_alpha[0]) and grad_alpha[1] == -3.0


def test_infinite_products_stay_infinite_in_the_compensated_sum():
    x = np.array([-1.0, -2.0, -3.0])
    grad = np.array([1.0, np.inf, 1.0])
    _, grad_alpha = lrelu.prelu_backward(grad, x, 0.5)
    assert grad_alpha == -np.inf == reference.prelu_backward(grad, x, 0.5)[1]


def test_scalar_alpha_gives_a_scalar_of_its_kind():
    x, grad = finite_sample((10, 3), np.float32, 8), finite_sample((10, 3), np.float32, 9)
    _, expected = reference.prelu_backward(grad, x, 0.25)
    python = lrelu.prelu_backward(grad, x, 0.25)[1]
    assert type(python) is float
    numpy_scalar = lrelu.prelu_backward(grad, x, np.float32(0.25))[1]
    assert type(numpy_scalar) is np.float32
    zero_d = lrelu.prelu_backward(grad, x, np.array(0.25, dtype=np.float32))[1]
    assert type(zero_d) is np.ndarray and zero_d.shape == () and zero_d.dtype == np.float32
    listed = lrelu.prelu_backward(grad, x, [0.1, 0.2, 0.3])[1]
    assert type(listed) is np.ndarray and listed.shape == (3,)
    for value in (python, numpy_scalar, zero_d):
        assert_close_to_reference(np.float32(value), expected, grad, x, 0.25, "one")


def test_results_take_the_promoted_dtype():
    x = finite_sample((5, 4), np.float32, 10)
    grad_x, grad_alpha = lrelu.prelu_backward(x, x, np.full(4, 0.1))   # float64 alpha array
    assert grad_x.dtype == grad_alpha.dtype == np.float64
    assert_same(grad_x, reference.backward(x, x, np.full(4, 0.1)))
    ints = np.arange(-10, 10).reshape(5, 4)
    grad_x, grad_alpha = lrelu.prelu_backward(ints, ints, 0.5)
    assert grad_x.dtype == np.float64 and type(grad_alpha) is float
    assert_same(grad_x, reference.backward(ints, ints, 0.5))
    assert grad_alpha == reference.prelu_backward(ints, ints, 0.5)[1]


@pytest.mark.parametrize("layout", ["fortran", "channels_last", "strided", "reversed"])
def test_any_memory_layout_gives_the_c_order_result(layout):
    x, grad = finite_sample((4, 6, 9, 11), np.float64, 11), finite_sample((4, 6, 9, 11), np.float64, 12)
    alpha = slopes((6, 1, 1), np.float64)
    views = {
        "fortran": lambda a: np.asfortranarray(a),
        "channels_last": lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
        "strided": lambda a: np.repeat(a, 2, axis=3)[..., ::2],
        "reversed": lambda a: np.ascontiguousarray(a[:, ::-1])[:, ::-1],
    }[layout]
    grad_x, grad_alpha = lrelu.prelu_backward(views(grad), views(x), alpha)
    assert_same(grad_x, reference.backward(grad, x, alpha))
    _, expected = reference.prelu_backward(grad, x, alpha)
    assert_close_to_reference(grad_alpha, expected, grad, x, alpha, "one")


def test_out_grad_works_in_place():
    x, grad = finite_sample((4, 6, 50), np.float32, 13), finite_sample((4, 6, 50), np.float32, 14)
    alpha = slopes((6, 1), np.float32)
    expected_x, expected_alpha = lrelu.prelu_backward(grad, x, alpha)
    grad_x, grad_alpha = lrelu.prelu_backward(grad, x, alpha, out=grad)
    assert grad_x is grad
    assert_same(grad, expected_x)
    assert_same(grad_alpha, expected_alpha)


@pytest.mark.parametrize("make_out", [lambda shape: np.empty(shape, np.float32, order="F"),
                                      lambda shape: np.empty(shape[:-1] + (2 * shape[-1],), np.float32)[..., ::2]],
                         ids=["fortran", "strided"])
def test_out_of_any_layout_gets_the_result(make_out):
    x, grad = finite_sample((4, 6, 50), np.float32, 15), finite_sample((4, 6, 50), np.float32, 16)
    alpha = slopes((6, 1), np.float32)
    out = make_out(x.shape)
    grad_x, _ = lrelu.prelu_backward(grad, x, alpha, out=out)
    assert grad_x is out
    assert_same(out, reference.backward(grad, x, alpha))


def test_out_overlapping_grad_partly_still_gets_the_right_result():
    base = finite_sample((101,), np.float64, 17)
    grad, x = base[:100].copy(), finite_sample((100,), np.float64, 18)
    out = base[1:]
    base[:100] = grad
    expected = reference.backward(grad, x, 0.3)
    lrelu.prelu_backward(base[:100], x, 0.3, out=out)
    assert_same(out, expected)


def test_empty_input_gives_empty_grad_x_and_zero_grad_alpha():
    x = np.empty((0, 3, 4), np.float32)
    grad_x, grad_alpha = lrelu.prelu_backward(x, x, np.full((3, 1), 0.1, np.float32))
    assert grad_x.shape == (0, 3, 4) and grad_x.dtype == np.float32
    assert_same(grad_alpha, np.zeros((3, 1), np.float32))


def test_equals_torch_prelu_backward():
    torch = pytest.importorskip("torch")
    x, grad = finite_sample((4, 6, 9, 11), np.float32, 19), finite_sample((4, 6, 9, 11), np.float32, 20)
    weight = slopes(6, np.float32)
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(weight).requires_grad_()
    expected_x, expected_alpha = torch.autograd.grad(torch.nn.functional.prelu(tx, tw), (tx, tw),
                                                     torch.from_numpy(grad))
    grad_x, grad_alpha = lrelu.prelu_backward(grad, x, weight.reshape(6, 1, 1), at_zero="alpha")
    assert_same(grad_x, expected_x.numpy())
    # torch sums in float32; the float64 reference is the judge of lrelu's own sum above
    np.testing.assert_allclose(grad_alpha.ravel(), expected_alpha.numpy(), rtol=1e-5, atol=1e-4)
