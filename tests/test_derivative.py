"""leaky_relu_derivative(x) equals listing 2, np.where(x >= 0.0, 1.0, alpha), in x's dtype."""

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import (ALPHAS, FLOAT_DTYPES, INTEGER_DTYPES, SPECIALS, assert_same,
                      parallel_threshold_elements, sample)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INTEGER_DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_every_dtype_and_alpha_matches_listing(dtype, alpha):
    x = sample((257,), dtype)
    assert_same(lrelu.leaky_relu_derivative(x, alpha), reference.der_lrelu_typed(x, alpha))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_special_values(dtype):
    with np.errstate(over="ignore"):
        x = np.array(SPECIALS).astype(dtype)
    assert_same(lrelu.leaky_relu_derivative(x, 0.3), reference.der_lrelu_typed(x, 0.3))


def test_slope_is_one_at_zero_and_negative_zero_and_alpha_at_nan():
    x = np.array([0.0, -0.0, np.nan, -1.0, 1.0])
    d = lrelu.leaky_relu_derivative(x, 0.25)
    assert_same(d, reference.der_lrelu(x, 0.25))
    assert d.tolist() == [1.0, 1.0, 0.25, 0.25, 1.0]    # the spec, spelled out


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_keeps_the_input_dtype(dtype):
    assert lrelu.leaky_relu_derivative(sample((5,), dtype)).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sizes_around_the_parallel_threshold(dtype):
    for n in (parallel_threshold_elements(dtype) - 1, 2 * parallel_threshold_elements(dtype) + 5):
        x = sample((n,), dtype, seed=n)
        assert_same(lrelu.leaky_relu_derivative(x), reference.der_lrelu_typed(x))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_strided_and_reversed(dtype):
    x = sample((40, 30), dtype)[::-3, 1::2]
    assert_same(lrelu.leaky_relu_derivative(x, -0.5), reference.der_lrelu_typed(x, -0.5))


def test_in_place():
    x = sample((100,), np.float32)
    expected = reference.der_lrelu_typed(x)
    assert lrelu.leaky_relu_derivative_(x) is x
    assert_same(x, expected)
