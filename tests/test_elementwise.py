"""leaky_relu(x) equals listing 1, np.where(x >= 0.0, x, alpha * x), and
leaky_relu_derivative(x) equals listing 2, np.where(x >= 0.0, 1.0, alpha), in the dtype listing
1 gives; value for value, for every dtype, layout, alpha and thread count."""

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import (ALPHAS, FLOAT_DTYPES, INTEGER_DTYPES, SPECIALS, assert_same,
                      parallel_threshold_elements, sample)

# name -> (function, its in-place form, the listing it must equal)
FUNCTIONS = {
    "leaky_relu": (lrelu.leaky_relu, lrelu.leaky_relu_, reference.lrelu),
    "leaky_relu_derivative": (lrelu.leaky_relu_derivative, lrelu.leaky_relu_derivative_,
                              reference.der_lrelu_typed),
}


@pytest.fixture(params=list(FUNCTIONS))
def fn(request):
    return FUNCTIONS[request.param]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INTEGER_DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_every_dtype_and_alpha_matches_the_listing(fn, dtype, alpha):
    function, _, listing = fn
    x = sample((257,), dtype)
    assert_same(function(x, alpha), listing(x, alpha))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_special_values_follow_the_listing(fn, dtype):
    function, _, listing = fn
    with np.errstate(over="ignore"):
        x = np.array(SPECIALS).astype(dtype)
    for alpha in ALPHAS:
        with np.errstate(invalid="ignore", over="ignore", under="ignore"):
            expected = listing(x, alpha)
            result = function(x, alpha)
        assert_same(result, expected)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_a_python_float_alpha_keeps_the_input_dtype(fn, dtype):
    function, _, _ = fn
    x = sample((10,), dtype)
    assert function(x, 0.3).dtype == dtype
    assert function(x).dtype == dtype


@pytest.mark.parametrize("alpha", [np.float64(0.01), np.array([0.01, 0.1, 0.3])])
def test_a_float64_alpha_promotes_like_the_listing(fn, alpha):
    function, _, listing = fn
    x = sample((4, 3), np.float32)
    assert_same(function(x, alpha), listing(x, alpha))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "strided", "reversed", "fortran", "transposed",
                                    "byteswapped", "zero-d", "empty", "broadcast-view"])
def test_every_layout_matches_the_listing(fn, dtype, layout):
    function, _, listing = fn
    base = sample((6, 7, 8), dtype)
    x = {
        "contiguous": base,
        "strided": base[:, ::2, 1::3],
        "reversed": base[::-1, :, ::-2],
        "fortran": np.asfortranarray(base),
        "transposed": base.transpose(2, 0, 1),
        "byteswapped": base.astype(np.dtype(dtype).newbyteorder()),
        "zero-d": base[1, 2, 3, ...],
        "empty": base[:0],
        "broadcast-view": np.broadcast_to(base[0, 0], (5, 8)),
    }[layout]
    assert_same(function(x, 0.2), listing(x, reference.nep50_alpha(x, 0.2)))


def test_in_place_returns_the_array_it_changed(fn):
    _, in_place, listing = fn
    x = sample((100,), np.float32)
    expected = listing(x)
    assert in_place(x) is x
    assert_same(x, expected)


def test_a_per_channel_alpha_broadcasts(fn):
    function, _, listing = fn
    x = sample((4, 3, 5, 6), np.float32)
    alpha = np.array([0.01, 0.1, 0.3], dtype=np.float32).reshape(3, 1, 1)
    assert_same(function(x, alpha), listing(x, alpha))


def test_lists_and_scalars_are_accepted(fn):
    function, _, listing = fn
    assert_same(function([-1.0, 2.0]), listing(np.array([-1.0, 2.0])))
    assert_same(function(-3.0), listing(np.float64(-3.0)))


def test_negative_zero_stays_negative_zero():
    y = lrelu.leaky_relu(np.array([-0.0, 0.0]))
    assert np.signbit(y[0]) and not np.signbit(y[1])


def test_nan_and_inf():
    y = lrelu.leaky_relu(np.array([np.nan, np.inf, -np.inf]), 0.5)
    assert np.isnan(y[0]) and y[1] == np.inf and y[2] == -np.inf


def test_the_slope_is_one_at_zero_and_negative_zero_and_alpha_at_nan():
    x = np.array([0.0, -0.0, np.nan, -1.0, 1.0])
    d = lrelu.leaky_relu_derivative(x, 0.25)
    assert_same(d, reference.der_lrelu(x, 0.25))
    assert d.tolist() == [1.0, 1.0, 0.25, 0.25, 1.0]    # the spec, spelled out


def test_alpha_outside_zero_one_is_not_max():
    # max(x, alpha*x) is a common shortcut; it is wrong for alpha > 1.
    x = np.array([-2.0, 3.0])
    for alpha in (2.0, 7.5):
        assert not np.array_equal(reference.lrelu(x, alpha), np.maximum(x, alpha * x))
        assert_same(lrelu.leaky_relu(x, alpha), reference.lrelu(x, alpha))


def test_document_names_are_aliases():
    assert lrelu.lrelu is lrelu.leaky_relu
    assert lrelu.der_lrelu is lrelu.leaky_relu_derivative


def test_no_warning_for_nan_input():
    # A vector compare on NaN raises the FP "invalid" flag; NumPy must not turn it into a
    # RuntimeWarning, since the listing gives none.
    x = np.full(4096, np.nan, dtype=np.float32)
    with np.errstate(all="raise"):
        assert np.isnan(lrelu.leaky_relu(x)).all()
        assert (lrelu.leaky_relu_derivative(x) == np.float32(0.01)).all()


def test_overflow_is_reported_like_the_listing():
    x = np.full(parallel_threshold_elements(np.float32) * 3, -3e38, dtype=np.float32)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            reference.lrelu(x, 10.0)
        with pytest.raises(FloatingPointError):
            lrelu.leaky_relu(x, 10.0)
