"""bfloat16 (ml_dtypes' dtype) follows its rule: the listing computed in float32, with x and
grad converted exactly and alpha as a float32, then rounded once to bfloat16 (nearest, ties
to even); NaN stays NaN, subnormals included. The tests every 16-bit format shares (every
one of the 65,536 bit patterns, all three operations, in place and out of place) are in
test_16bit.py, which takes its rule from here; what is particular to bfloat16 is below.

The expected values are NumPy's float32 listings rounded by tests/helpers.py's integer
rounding. tests/test_simd_levels.py runs this module again at every SIMD level."""

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import assert_same, every_bit_pattern, round_to_bfloat16, sample

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)

# 0, negative, > 1, products that are subnormal (1e-30: x near 1e-10 gives 1e-40), an alpha
# that is itself a float32 subnormal, and one that overflows float32 (3e38).
ALPHAS = [0.01, 0.0, -0.3, 5.0, 1e-30, 3e-39, 3e38]

X = every_bit_pattern(BF16)
GRAD = np.random.default_rng(0).permutation(X)


def f32(values):
    return np.asarray(values).astype(np.float32)


def rule(listing, *args):
    """The listing in float32 (x, grad and alpha as float32), rounded once to bfloat16."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        exact = np.asarray(listing(*args), dtype=np.float32)
    return round_to_bfloat16(exact).view(BF16)


def forward_rule(x, alpha):
    return rule(reference.lrelu, f32(x), np.float32(alpha))


def derivative_rule(x, alpha):
    return rule(reference.der_lrelu, f32(x), np.float32(alpha))


def backward_rule(grad, x, alpha):
    return rule(reference.backward, f32(grad), f32(x), np.float32(alpha))


def assert_same_bfloat16(result, expected):
    """bfloat16 results, compared through float32 (exact): values, zero signs, NaN places."""
    assert result.dtype == BF16, result.dtype
    assert_same(f32(result), f32(expected))


def quietly(function, *args, **kwargs):
    with np.errstate(over="ignore", under="ignore"):
        return function(*args, **kwargs)


def test_rounding_reference_agrees_with_ml_dtypes():
    # The expected values' rounding, checked against ml_dtypes' own float32 -> bfloat16 on
    # ties, subnormals, values next to overflow and random bit patterns.
    rng = np.random.default_rng(1)
    bits = np.concatenate([rng.integers(0, 2**32, 200_000, dtype=np.uint64),
                           (np.arange(1 << 16, dtype=np.uint64) << 16) | 0x8000,       # ties
                           (np.arange(1 << 16, dtype=np.uint64) << 16) | 0x7FFF,
                           np.arange(0, 0x00800000, 997, dtype=np.uint64),          # subnormals
                           0x7F7F0000 + np.arange(0x10000, dtype=np.uint64)]).astype(np.uint32)
    values = bits.view(np.float32)
    with np.errstate(invalid="ignore"):         # NaN in a cast
        by_ml_dtypes = values.astype(BF16)
    assert_same(f32(round_to_bfloat16(values).view(BF16)), f32(by_ml_dtypes))


def test_alpha_is_taken_as_float32_not_rounded_to_bfloat16():
    # 0.01 is 0.0099999998 in float32 and 0.010009766 in bfloat16; the two rules part on
    # thousands of inputs, and the result follows the float32 one on all
    result = quietly(lrelu.leaky_relu, X, 0.01)
    assert_same_bfloat16(result, forward_rule(X, 0.01))
    alpha_in_bfloat16 = f32(round_to_bfloat16(np.float32(0.01)).view(BF16))
    with np.errstate(invalid="ignore"):
        parted = f32(result) != f32(forward_rule(X, alpha_in_bfloat16))
    assert parted.sum() > 1000


@pytest.mark.parametrize("alpha", [np.float64(0.01), np.float32(0.01), 0.01, 2])
def test_every_kind_of_scalar_alpha_gives_bfloat16_by_the_rule(alpha):
    assert_same_bfloat16(lrelu.ufuncs.leaky_relu(X, alpha), forward_rule(X, alpha))
    assert_same_bfloat16(lrelu.ufuncs.leaky_relu_derivative(X, alpha), derivative_rule(X, alpha))
    assert_same_bfloat16(quietly(lrelu.ufuncs.leaky_relu_backward, GRAD, X, alpha),
                         backward_rule(GRAD, X, alpha))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_alpha_per_element_is_narrowed_to_float32(dtype):
    # float64 alphas that vary along the loop are narrowed a block at a time: more than one
    # block (1,024), strided
    alphas = np.random.default_rng(2).uniform(-2, 2, 2 * X.size).astype(dtype)[::2]
    assert_same_bfloat16(quietly(lrelu.leaky_relu, X, alphas), forward_rule(X, f32(alphas)))
    assert_same_bfloat16(quietly(lrelu.leaky_relu_backward, GRAD, X, alphas),
                         backward_rule(GRAD, X, f32(alphas)))


def test_per_channel_alphas_broadcast():
    x = X[:3 * 4 * 5].reshape(3, 4, 5)
    alphas = np.array([0.01, -0.5, 3.0]).reshape(3, 1, 1)
    assert_same_bfloat16(quietly(lrelu.leaky_relu, x, alphas), forward_rule(x, f32(alphas)))


def test_float32_overflow_of_the_product_warns():
    x = np.array([-3e38], dtype=BF16)
    with pytest.warns(RuntimeWarning, match="overflow"):
        result = lrelu.leaky_relu(x, 10.0)
    assert_same_bfloat16(result, forward_rule(x, 10.0))


# ---- pipelines: what works with bfloat16 arrays -----------------------------------------------

def test_xarray_dataarray_of_bfloat16_stays_bfloat16():
    xr = pytest.importorskip("xarray")
    values = sample((4, 6), np.float32).astype(BF16)
    da = xr.DataArray(values, dims=("time", "channel"), name="h")
    result = quietly(lrelu.leaky_relu, da, 0.1)
    assert isinstance(result, xr.DataArray) and result.dims == da.dims and result.name == "h"
    assert_same_bfloat16(result.values, forward_rule(values, 0.1))


def test_dask_array_of_bfloat16_stays_bfloat16():
    da = pytest.importorskip("dask.array")
    values = sample((10_000,), np.float32).astype(BF16)
    x = da.from_array(values, chunks=2_500)
    y = quietly(lrelu.leaky_relu, x, 0.2)
    assert y.dtype == BF16
    assert_same_bfloat16(quietly(y.compute), forward_rule(values, 0.2))
    grad = quietly(lrelu.leaky_relu_backward, da.ones_like(x), x, 0.2).compute()
    assert_same_bfloat16(grad, backward_rule(np.ones(values.shape, BF16), values, 0.2))


def test_pandas_series_of_bfloat16_values():
    pd = pytest.importorskip("pandas")
    values = sample((50,), np.float32).astype(BF16)
    s = pd.Series(values, name="h")
    result = quietly(lrelu.leaky_relu, s, 0.2)
    assert isinstance(result, pd.Series) and result.name == "h"
    assert_same_bfloat16(result.to_numpy(), forward_rule(values, 0.2))
