"""Bad input: a clear error naming the problem, and the input left exactly as it was."""

import numpy as np
import pytest

import lrelu

from helpers import assert_same, sample


def _unchanged(x, before):
    assert_same(x, before)


@pytest.mark.parametrize("bad, exc, words", [
    (np.array([1 + 2j, -1j]), TypeError, "complex"),
    (np.array(["a", "b"]), TypeError, "str"),
    (np.array([object(), 1], dtype=object), TypeError, "object"),
    (None, TypeError, "None"),
    ({"a": 1}, TypeError, "dict"),
])
@pytest.mark.parametrize("function", [lrelu.leaky_relu, lrelu.leaky_relu_derivative])
def test_unsupported_input_types(function, bad, exc, words):
    with pytest.raises(exc, match=words):
        function(bad)


def test_unsupported_input_in_backward_names_the_operand():
    with pytest.raises(TypeError, match="grad"):
        lrelu.leaky_relu_backward(np.array([1j]), np.array([1.0]))


@pytest.mark.parametrize("alpha", [np.nan, np.inf, -np.inf, np.float32(np.nan), np.array([0.1, np.inf])])
@pytest.mark.parametrize("function", [lrelu.leaky_relu_, lrelu.leaky_relu_derivative_])
def test_non_finite_alpha_raises_before_writing(function, alpha):
    x = sample((2, 2), np.float64)
    before = x.copy()
    with pytest.raises(ValueError, match="alpha"):
        function(x, alpha)
    _unchanged(x, before)


@pytest.mark.parametrize("alpha", ["0.1", None, 1j, True, [1j], object()])
def test_alpha_of_the_wrong_type(alpha):
    x = sample((4,), np.float64)
    before = x.copy()
    with pytest.raises(TypeError, match="alpha"):
        lrelu.leaky_relu_(x, alpha)
    _unchanged(x, before)


def test_read_only_target():
    x = sample((10,), np.float32)
    before = x.copy()
    x.flags.writeable = False
    for function in (lrelu.leaky_relu_, lrelu.leaky_relu_derivative_):
        with pytest.raises(ValueError, match="read-only"):
            function(x)
    with pytest.raises(ValueError, match="read-only"):
        lrelu.leaky_relu(before, out=x)
    _unchanged(x, before)


def test_read_only_grad_for_backward_in_place():
    grad = sample((10,), np.float64)
    before = grad.copy()
    grad.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        lrelu.leaky_relu_backward(grad, sample((10,), np.float64), out=grad)
    _unchanged(grad, before)


def test_shapes_that_do_not_broadcast():
    x = sample((3, 4), np.float64)
    before = x.copy()
    with pytest.raises(ValueError, match="broadcast"):
        lrelu.leaky_relu_(x, np.full(5, 0.1))
    with pytest.raises(ValueError, match="broadcast"):
        lrelu.leaky_relu(x, out=np.empty((4, 3)))
    with pytest.raises(ValueError, match="broadcast"):
        lrelu.leaky_relu_backward(np.ones(5), x)
    _unchanged(x, before)


def test_alpha_that_would_grow_the_target():
    x = sample((3,), np.float64)
    before = x.copy()
    with pytest.raises(ValueError):
        lrelu.leaky_relu_(x, np.full((2, 3), 0.1))
    _unchanged(x, before)


def test_integer_out():
    x = sample((5,), np.float64)
    out = np.zeros(5, np.int64)
    with pytest.raises(TypeError, match="int64"):
        lrelu.leaky_relu(x, out=out)
    assert (out == 0).all()


@pytest.mark.parametrize("function", [lrelu.leaky_relu_, lrelu.leaky_relu_derivative_])
def test_integer_array_in_place(function):
    x = np.arange(-3, 3)
    before = x.copy()
    with pytest.raises(TypeError, match="floating"):
        function(x)
    assert (x == before).all()


@pytest.mark.parametrize("function", [lrelu.leaky_relu_, lrelu.leaky_relu_derivative_])
def test_list_in_place(function):
    x = [-1.0, 2.0]
    with pytest.raises(TypeError, match="list"):
        function(x)
    assert x == [-1.0, 2.0]
