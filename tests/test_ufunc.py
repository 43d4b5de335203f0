"""lrelu.ufuncs are real NumPy ufuncs: NumPy supplies out=, where=, casting=, dtype=,
broadcasting and __array_ufunc__ dispatch; the wrappers call through them."""

import pickle

import numpy as np
import pytest

import lrelu
from lrelu import reference, ufuncs

from helpers import assert_same, sample


@pytest.mark.parametrize("name, nin", [("leaky_relu", 2), ("leaky_relu_derivative", 2),
                                       ("leaky_relu_backward", 3)])
def test_are_numpy_ufuncs(name, nin):
    u = getattr(ufuncs, name)
    assert isinstance(u, np.ufunc)
    assert u.__name__ == name and u.nin == nin and u.nout == 1
    for dtype in "efdg":
        assert dtype * nin + "->" + dtype in u.types


def test_where_leaves_unselected_out_elements():
    x = sample((20,), np.float64)
    out = np.full(20, 7.0)
    mask = np.arange(20) % 3 == 0
    lrelu.leaky_relu(x, 0.2, out=out, where=mask)
    assert_same(out[mask], reference.lrelu(x[mask], 0.2))
    assert (out[~mask] == 7.0).all()


def test_dtype_and_casting():
    x = sample((10,), np.float64)
    y = lrelu.leaky_relu(x, 0.1, dtype=np.float32, casting="unsafe")
    assert_same(y, reference.lrelu(x.astype(np.float32), 0.1))
    with pytest.raises(TypeError):
        lrelu.leaky_relu(x, 0.1, dtype=np.float32, casting="safe")


def test_order():
    x = sample((6, 5), np.float32)
    assert lrelu.leaky_relu(x, order="F").flags.f_contiguous


def test_out_tuple_and_out_of_another_float_dtype():
    x = sample((10,), np.float32)
    out = np.empty(10, np.float64)
    lrelu.ufuncs.leaky_relu(x, 0.1, out=(out,))
    assert_same(out, reference.lrelu(x, 0.1).astype(np.float64))


def test_array_ufunc_dispatch_reaches_other_types():
    class Tagged:
        def __init__(self, a):
            self.a = np.asarray(a)

        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            raw = [i.a if isinstance(i, Tagged) else i for i in inputs]
            return Tagged(getattr(ufunc, method)(*raw, **kwargs)), ufunc

    result, seen = lrelu.leaky_relu(Tagged([-1.0, 2.0]))
    assert seen is ufuncs.leaky_relu
    assert_same(result.a, reference.lrelu(np.array([-1.0, 2.0])))
    result, seen = lrelu.leaky_relu_backward(Tagged([1.0, 1.0]), np.array([-1.0, 2.0]))
    assert seen is ufuncs.leaky_relu_backward


def test_subclass_comes_back_as_subclass():
    m = np.ma.masked_array(sample((5,), np.float64), mask=[0, 1, 0, 0, 1])
    y = lrelu.leaky_relu(m)
    assert isinstance(y, np.ma.MaskedArray)
    assert (y.mask == m.mask).all()


UFUNCS = [ufuncs.leaky_relu, ufuncs.leaky_relu_derivative, ufuncs.leaky_relu_backward]


@pytest.mark.parametrize("u", UFUNCS, ids=lambda u: u.__name__)
@pytest.mark.parametrize("method, args", [
    ("reduce", lambda x: (x,)), ("accumulate", lambda x: (x,)),
    ("reduceat", lambda x: (x, [0, 2])), ("outer", lambda x: (x, x)),
    ("at", lambda x: (x, [0, 1], 0.5))], ids=lambda v: v if isinstance(v, str) else "")
def test_reduce_accumulate_reduceat_outer_and_at_are_refused(u, method, args):
    # Each would read elements of x as alpha; "at" would also write into x: it stays as it was.
    x = sample((6,), np.float64)
    before = x.copy()
    with pytest.raises(TypeError, match=rf"lrelu\.ufuncs\.{u.__name__}\.{method} is not supported: "
                                        "alpha is an input"):
        getattr(u, method)(*args(x))
    assert_same(x, before)


@pytest.mark.parametrize("u", UFUNCS, ids=lambda u: u.__name__)
def test_a_ufunc_pickles_to_itself(u):
    # Refusing the methods gives the ufuncs a subtype of np.ufunc, which NumPy's copyreg
    # reducer (registered for np.ufunc exactly) does not cover; dask's workers need this.
    assert pickle.loads(pickle.dumps(u)) is u
