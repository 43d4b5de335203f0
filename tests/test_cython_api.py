"""The Cython API: another extension cimports lrelu's typed-memoryview kernels.

A small module is compiled the way _kernels.pxd tells users to (include_dirs from
lrelu.get_include() and numpy.get_include()) against the .pxd files of the lrelu this test
imported, so the installed package is what is checked: its .pxd and headers must ship.
"""

import importlib.machinery
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import assert_same, sample

pytest.importorskip("Cython", reason="compiling the Cython API test needs Cython")
pytest.importorskip("setuptools", reason="compiling the Cython API test needs setuptools")

# What a user's module does: every function, called without the GIL, float and double. It
# keeps no state, so it says it is free-threading compatible: importing it on 3.14t must not
# turn the GIL back on for the tests that run after it.
USER_MODULE = """
# cython: language_level=3, freethreading_compatible=True
from lrelu._kernels cimport (leaky_relu, leaky_relu_, leaky_relu_derivative,
                             leaky_relu_derivative_, leaky_relu_backward, AT_ZERO_ONE,
                             AT_ZERO_ALPHA)

ctypedef fused real_t:
    float
    double

def forward(const real_t[:] x, real_t[:] out, real_t alpha):
    with nogil:
        leaky_relu(x, out, alpha)

def forward_(real_t[:] x, real_t alpha):
    with nogil:
        leaky_relu_(x, alpha)

def derivative(const real_t[:] x, real_t[:] out, real_t alpha):
    with nogil:
        leaky_relu_derivative(x, out, alpha)

def derivative_(real_t[:] x, real_t alpha):
    with nogil:
        leaky_relu_derivative_(x, alpha)

def backward(const real_t[:] grad, const real_t[:] x, real_t[:] out, real_t alpha):
    with nogil:
        leaky_relu_backward(grad, x, out, alpha)

# The optional last argument: f'(0) = 1 (AT_ZERO_ONE, the default) or alpha (AT_ZERO_ALPHA).
AT_ZERO = {"one": AT_ZERO_ONE, "alpha": AT_ZERO_ALPHA}

def derivative_at(const real_t[:] x, real_t[:] out, real_t alpha, int at_zero):
    with nogil:
        leaky_relu_derivative(x, out, alpha, at_zero)

def derivative_at_(real_t[:] x, real_t alpha, int at_zero):
    with nogil:
        leaky_relu_derivative_(x, alpha, at_zero)

def backward_at(const real_t[:] grad, const real_t[:] x, real_t[:] out, real_t alpha, int at_zero):
    with nogil:
        leaky_relu_backward(grad, x, out, alpha, at_zero)
"""

# include_path: the directory holding the lrelu this test imported, so Cython reads its .pxd
# files even when Python finds lrelu through an import hook (an editable install).
SETUP = """
import sys
import numpy
import lrelu
from Cython.Build import cythonize
from setuptools import Extension, setup

name, source = sys.argv[1], sys.argv[2]
setup(
    ext_modules=cythonize(
        [Extension(name, [source], include_dirs=[lrelu.get_include(), numpy.get_include()])],
        include_path=[{lrelu_parent!r}],
    ),
    script_args=["--quiet", "build_ext", "--inplace"],
)
"""

# A C extension with no Cython and no lrelu in it: whether this machine builds extensions at all.
PLAIN_C_MODULE = """
#include <Python.h>
static struct PyModuleDef plain = {PyModuleDef_HEAD_INIT, "plain_c", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_plain_c(void) { return PyModule_Create(&plain); }
"""

DTYPES = [np.float32, np.float64]


def _build(directory, name, filename, source):
    """Build `source` as the extension `name` in `directory`, which is outside the source
    tree, so the build sees the installed lrelu; the completed process."""
    (directory / filename).write_text(source)
    lrelu_parent = os.path.dirname(os.path.dirname(os.path.abspath(lrelu.__file__)))
    (directory / "setup_user.py").write_text(SETUP.format(lrelu_parent=lrelu_parent))
    return subprocess.run([sys.executable, "setup_user.py", name, filename], cwd=directory,
                          capture_output=True, text=True, timeout=600)


def _load(directory, name):
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = directory / f"{name}{suffix}"
        if path.exists():
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise AssertionError(f"the build made no {name} extension in {directory}")


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cython_api")
    result = _build(directory, "lrelu_api_user", "lrelu_api_user.pyx", USER_MODULE)
    if result.returncode != 0:
        # Tell "this machine cannot build C extensions" (skip) from "the API does not
        # compile" (fail): a plain C extension builds with the same toolchain or not.
        plain = tmp_path_factory.mktemp("plain_c")
        probe = _build(plain, "plain_c", "plain_c.c", PLAIN_C_MODULE)
        if probe.returncode != 0:
            pytest.skip("no working C compiler for extensions:\n" + probe.stderr[-2000:])
        pytest.fail("the module cimporting lrelu._kernels did not build:\n"
                    + result.stdout[-4000:] + result.stderr[-4000:])
    return _load(directory, "lrelu_api_user")


def _alpha(dtype, alpha):
    # The API takes alpha in the array's dtype; the listing gets the same rounded value.
    return np.dtype(dtype).type(alpha)


# (function of the user module, its listing): the forward and the derivative.
OUT_OF_PLACE = [("forward", reference.lrelu), ("derivative", reference.der_lrelu_typed)]
IN_PLACE = [("forward_", reference.lrelu), ("derivative_", reference.der_lrelu_typed)]


@pytest.mark.parametrize("name, oracle", OUT_OF_PLACE)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.3, -0.5, 2.0])
def test_out_of_place_equals_the_listing(user, name, oracle, dtype, alpha):
    x = sample((257,), dtype)
    out = np.empty_like(x)
    getattr(user, name)(x, out, alpha)
    assert_same(out, oracle(x, _alpha(dtype, alpha)))


@pytest.mark.parametrize("name, oracle", IN_PLACE)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.3, -0.5, 2.0])
def test_in_place_equals_the_listing(user, name, oracle, dtype, alpha):
    x = sample((257,), dtype)
    expected = oracle(x, _alpha(dtype, alpha))
    getattr(user, name)(x, alpha)
    assert_same(x, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_equals_the_listing(user, dtype):
    grad, x = sample((257,), dtype, seed=1), sample((257,), dtype, seed=2)
    out = np.empty_like(x)
    user.backward(grad, x, out, 0.1)
    assert_same(out, reference.backward(grad, x, _alpha(dtype, 0.1)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_and_reversed_views(user, dtype):
    x = sample((600,), dtype)[::3]
    out_base = np.full(600, 7.0, dtype=dtype)
    out = out_base[::-3]
    user.forward(x, out, 0.2)
    assert_same(out, reference.lrelu(x, _alpha(dtype, 0.2)))
    untouched = np.ones(600, dtype=bool)
    untouched[::-3] = False
    assert (out_base[untouched] == 7.0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place_on_a_strided_view_changes_only_its_elements(user, dtype):
    base = sample((300,), dtype)
    expected = base.copy()
    expected[1::4] = reference.lrelu(base[1::4], _alpha(dtype, 0.2))
    user.forward_(base[1::4], 0.2)
    assert_same(base, expected)


@pytest.mark.parametrize("function", ["forward", "derivative"])
def test_mismatched_lengths_raise_value_error_and_write_nothing(user, function):
    x = sample((6,), np.float64)
    out = np.full(5, 7.0)
    with pytest.raises(ValueError, match="out has 5 elements but the input has 6"):
        getattr(user, function)(x, out, 0.1)
    assert (out == 7.0).all()


def test_backward_with_a_short_gradient_raises_value_error(user):
    x = sample((6,), np.float32)
    out = np.full(6, 7.0, dtype=np.float32)
    with pytest.raises(ValueError, match="leaky_relu_backward"):
        user.backward(x[:4], x, out, 0.1)
    assert (out == 7.0).all()


@pytest.mark.parametrize("alpha", [np.nan, np.inf, -np.inf])
def test_non_finite_alpha_raises_value_error_and_writes_nothing(user, alpha):
    x = sample((8,), np.float64)
    before = x.copy()
    with pytest.raises(ValueError, match="alpha must be finite"):
        user.forward_(x, alpha)
    assert_same(x, before)


def test_partly_overlapping_output_raises_value_error(user):
    buffer = sample((10,), np.float64)
    before = buffer.copy()
    with pytest.raises(ValueError, match="partly overlaps"):
        user.forward(buffer[:8], buffer[2:], 0.1)
    assert_same(buffer, before)


@pytest.mark.parametrize("at_zero", ["one", "alpha"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_derivative_takes_the_convention_at_zero(user, dtype, at_zero):
    x = sample((257,), dtype)
    x[::4] = 0.0
    x[1::4] = -0.0
    out = np.empty_like(x)
    user.derivative_at(x, out, 0.3, user.AT_ZERO[at_zero])
    assert_same(out, reference.der_lrelu_typed(x, _alpha(dtype, 0.3), at_zero=at_zero))


@pytest.mark.parametrize("at_zero", ["one", "alpha"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_derivative_in_place_takes_the_convention_at_zero(user, dtype, at_zero):
    x = sample((257,), dtype)
    x[::4] = 0.0
    expected = reference.der_lrelu_typed(x, _alpha(dtype, 0.3), at_zero=at_zero)
    user.derivative_at_(x, 0.3, user.AT_ZERO[at_zero])
    assert_same(x, expected)


@pytest.mark.parametrize("at_zero", ["one", "alpha"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_takes_the_convention_at_zero(user, dtype, at_zero):
    grad, x = sample((257,), dtype, seed=1), sample((257,), dtype, seed=2)
    x[::4] = 0.0
    x[1::4] = -0.0
    out = np.empty_like(x)
    user.backward_at(grad, x, out, 0.1, user.AT_ZERO[at_zero])
    assert_same(out, reference.backward(grad, x, _alpha(dtype, 0.1), at_zero=at_zero))


@pytest.mark.parametrize("function", ["derivative_at", "backward_at"])
def test_an_unknown_at_zero_raises_value_error_and_writes_nothing(user, function):
    x = sample((6,), np.float64)
    out = np.full(6, 7.0)
    args = (x, x, out) if function == "backward_at" else (x, out)
    with pytest.raises(ValueError, match="at_zero must be AT_ZERO_ONE .* or AT_ZERO_ALPHA"):
        getattr(user, function)(*args, 0.1, 2)
    assert (out == 7.0).all()
