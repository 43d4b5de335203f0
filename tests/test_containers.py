"""The API matrix: every elementwise function, with every keyword, through every container.

Each container (ndarray, torch tensor, pandas Series and DataFrame, xarray DataArray, dask
array) gets the values of the ndarray case, and its result must equal, dtype and bits, what
the listings give for those values with that keyword (lrelu.reference). One envelope serves
them all (lrelu/_api.py), so a keyword dropped on one path fails here.
"""

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import assert_same, sample

ALPHA = 0.125       # exact in every float dtype, so a re-rounded alpha cannot hide


def _expected(operation, at_zero, grad, x, alpha):
    if operation == "leaky_relu":
        return reference.lrelu(x, alpha)
    if operation == "leaky_relu_derivative":
        return reference.der_lrelu_typed(x, alpha, at_zero)
    return reference.backward(grad, x, alpha, at_zero)


def _call(operation, at_zero, grad, x, **keywords):
    function = getattr(lrelu, operation)
    if operation == "leaky_relu":
        return function(x, ALPHA, **keywords)
    if operation == "leaky_relu_derivative":
        return function(x, ALPHA, at_zero=at_zero, **keywords)
    return function(grad, x, ALPHA, at_zero=at_zero, **keywords)


OPERATIONS = [("leaky_relu", "one"), ("leaky_relu_derivative", "one"),
              ("leaky_relu_derivative", "alpha"), ("leaky_relu_backward", "one"),
              ("leaky_relu_backward", "alpha")]


def _to_numpy(result):
    if hasattr(result, "compute"):
        result = result.compute()
    if hasattr(result, "detach"):
        return result.numpy()
    return np.asarray(result)


def _wrap(container, values):
    """values in the container, and the type its result must have."""
    if container == "ndarray":
        return values, np.ndarray
    if container == "torch":
        torch = pytest.importorskip("torch")
        return torch.from_numpy(values.copy()), torch.Tensor
    if container == "Series":
        pd = pytest.importorskip("pandas")
        return pd.Series(values.ravel()), pd.Series
    if container == "DataFrame":
        pd = pytest.importorskip("pandas")
        frame = values.reshape(-1, 4)
        return pd.DataFrame({f"c{i}": frame[:, i] for i in range(4)}), pd.DataFrame
    if container == "DataArray":
        xr = pytest.importorskip("xarray")
        return xr.DataArray(values, dims=("row", "col")), xr.DataArray
    da = pytest.importorskip("dask.array")
    return da.from_array(values, chunks=(3, 4)), da.Array


def _shaped(container, values):
    # Series are 1-D; every other container keeps the (6, 4) shape
    return values.ravel() if container == "Series" else values


CONTAINERS = ["ndarray", "torch", "Series", "DataFrame", "DataArray", "dask"]


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("operation,at_zero", OPERATIONS)
def test_every_container_gives_the_listings_result_in_xs_dtype(container, dtype, operation,
                                                              at_zero):
    x_values = sample((6, 4), dtype, seed=1)
    x_values[0, :2] = [0.0, -0.0]           # where the two conventions differ
    grad_values = sample((6, 4), dtype, seed=2)
    x, kind = _wrap(container, x_values)
    grad, _ = _wrap(container, grad_values)
    result = _call(operation, at_zero, grad, x)
    assert isinstance(result, kind), type(result)
    if container == "dask":
        assert result.dtype == np.dtype(dtype)          # known before computing
    expected = _expected(operation, at_zero, grad_values, x_values, ALPHA)
    assert_same(_to_numpy(result), _shaped(container, expected))


@pytest.mark.parametrize("container", ["ndarray", "torch"])
@pytest.mark.parametrize("operation,at_zero", OPERATIONS)
def test_out_and_where_reach_the_ufunc_through_every_container(container, operation, at_zero):
    x_values = sample((6, 4), np.float64, seed=3)
    x_values[1, :2] = [0.0, -0.0]
    grad_values = sample((6, 4), np.float64, seed=4)
    mask_values = (np.arange(24) % 3 != 0).reshape(6, 4)
    untouched = np.full((6, 4), 7.0)
    x, _ = _wrap(container, x_values)
    grad, _ = _wrap(container, grad_values)
    out, _ = _wrap(container, untouched.copy())
    mask, _ = _wrap(container, mask_values)
    result = _call(operation, at_zero, grad, x, out=out, where=mask)
    assert result is out
    expected = np.where(mask_values, _expected(operation, at_zero, grad_values, x_values, ALPHA),
                        untouched)
    assert_same(_to_numpy(out), expected)


@pytest.mark.parametrize("container", ["ndarray", "torch", "DataArray", "dask"])
@pytest.mark.parametrize("operation,at_zero", OPERATIONS)
def test_dtype_reaches_the_ufunc_through_every_container(container, operation, at_zero):
    x_values = sample((6, 4), np.float64, seed=5)
    grad_values = sample((6, 4), np.float64, seed=6)
    x, _ = _wrap(container, x_values)
    grad, _ = _wrap(container, grad_values)
    result = _call(operation, at_zero, grad, x, dtype=np.float32)
    expected = _expected(operation, at_zero, grad_values.astype(np.float32),
                         x_values.astype(np.float32), ALPHA)
    assert_same(_to_numpy(result), expected)


# ---- NEP 50: a Python number as alpha never widens a floating x ----------------------------

@pytest.mark.parametrize("alpha", [0.1, 3, 1e-3])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("operation,at_zero", OPERATIONS)
def test_a_python_alpha_keeps_a_0d_xs_dtype(dtype, operation, at_zero, alpha):
    # NumPy 1.x compares a 0-d x and a Python number as two scalars (float64 wins); NEP 50,
    # NumPy 2's rule, rounds alpha to x's dtype: the listing's result in x's dtype
    for value in (-1.5, 2.0, -0.0):
        x = np.array(value, dtype=dtype)
        function = getattr(lrelu, operation)
        if operation == "leaky_relu":
            result = function(x, alpha)
        elif operation == "leaky_relu_derivative":
            result = function(x, alpha, at_zero=at_zero)
        else:
            result = function(np.array(1.5, dtype), x, alpha, at_zero=at_zero)
        assert np.asarray(result).dtype == np.dtype(dtype)
        a = reference.nep50_alpha(x, alpha)
        if operation == "leaky_relu":
            expected = reference.lrelu(x, a)
        elif operation == "leaky_relu_derivative":
            expected = reference.der_lrelu_typed(x, a, at_zero)
        else:
            expected = reference.backward(np.array(1.5, dtype), x, a, at_zero)
        assert_same(result, np.asarray(expected).astype(dtype))


@pytest.mark.parametrize("name", ["leaky_relu_", "leaky_relu_derivative_"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_a_python_alpha_in_place_on_a_0d_x_rounds_once(name, dtype):
    x = np.array(-1.5, dtype=dtype)
    getattr(lrelu, name)(x, 0.1)
    source = np.array(-1.5, dtype=dtype)
    a = reference.nep50_alpha(source, 0.1)
    expected = reference.lrelu(source, a) if name == "leaky_relu_" else reference.der_lrelu_typed(source, a)
    assert_same(x, np.asarray(expected).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_a_float32_dataframe_stays_float32_with_a_python_alpha(dtype):
    pd = pytest.importorskip("pandas")
    values = sample((5, 2), dtype)
    frame = pd.DataFrame({"a": values[:, 0], "b": values[:, 1]})
    for operation in ("leaky_relu", "leaky_relu_derivative"):
        result = getattr(lrelu, operation)(frame, 0.1)
        assert list(result.dtypes) == [np.dtype(dtype)] * 2
        expected = (reference.lrelu(values, dtype(0.1)) if operation == "leaky_relu"
                    else reference.der_lrelu_typed(values, dtype(0.1)))
        assert_same(result.to_numpy(), expected)
    result = lrelu.leaky_relu_backward(frame, frame, 0.1)
    assert list(result.dtypes) == [np.dtype(dtype)] * 2


# ---- dtypes without a loop ------------------------------------------------------------------

def _loopless_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    names = ["float8_e4m3fn", "float8_e5m2", "float8_e4m3b11fnuz", "float8_e5m2fnuz",
             "float8_e4m3fnuz", "float8_e3m4", "float8_e4m3", "float8_e8m0fnu",
             "float6_e2m3fn", "float4_e2m1fn", "int4", "uint4"]
    return [np.dtype(getattr(ml_dtypes, n)) for n in names if hasattr(ml_dtypes, n)]


@pytest.mark.parametrize("name", ["leaky_relu", "leaky_relu_", "leaky_relu_derivative",
                                  "leaky_relu_derivative_", "leaky_relu_backward",
                                  "prelu_backward"])
def test_a_dtype_without_a_loop_is_refused_by_name_and_left_unchanged(name):
    for dtype in _loopless_dtypes():
        x = np.array([-1, 2, 1, -2], dtype=np.float32).astype(dtype)
        before = x.copy()
        function = getattr(lrelu, name)
        with pytest.raises(TypeError, match=rf"^{name}: \w+ has dtype {dtype}, which lrelu has "
                                            r"no loop for; convert it first"):
            if name in ("leaky_relu_backward", "prelu_backward"):
                function(x, x, 0.25)
            else:
                function(x, 0.25)
        assert x.tobytes() == before.tobytes()


def test_a_dtype_without_a_loop_inside_a_container_is_refused_too():
    torch = pytest.importorskip("torch")
    da = pytest.importorskip("dask.array")
    del torch
    dtype = _loopless_dtypes()[0]
    x = da.from_array(np.array([-1.0, 2.0], np.float32).astype(dtype))
    with pytest.raises(TypeError, match=rf"leaky_relu: x has dtype {dtype}"):
        lrelu.leaky_relu(x, 0.25)


# ---- every error names the function; every number is an alpha ------------------------------

@pytest.mark.parametrize("alpha", ["Fraction", "Decimal"])
def test_a_fraction_or_decimal_alpha_is_the_nearest_float(alpha):
    import decimal
    import fractions
    value = fractions.Fraction(1, 10) if alpha == "Fraction" else decimal.Decimal("0.1")
    x = sample((50,), np.float64)
    assert_same(lrelu.leaky_relu(x, value), reference.lrelu(x, 0.1))
    assert_same(lrelu.leaky_relu_backward(x, x, value), reference.backward(x, x, 0.1))
    grad_x, grad_alpha = lrelu.prelu_backward(x, x, value)
    assert_same(grad_x, reference.backward(x, x, 0.1))
    assert type(grad_alpha) is float


@pytest.mark.parametrize("alpha", ["Decimal('NaN')", "Decimal('sNaN')",
                                   "Decimal('Infinity')", "10**400"])
def test_a_non_finite_number_of_any_type_is_refused_by_name(alpha):
    import decimal
    import fractions
    value = eval(alpha, {"Decimal": decimal.Decimal, "Fraction": fractions.Fraction})
    x = np.array([-1.0, 2.0])
    for name in ("leaky_relu", "leaky_relu_", "prelu_backward"):
        with pytest.raises(ValueError, match=rf"^{name}: alpha must be finite"):
            if name == "prelu_backward":
                lrelu.prelu_backward(x, x, value)
            else:
                getattr(lrelu, name)(x, value)
    assert x.tolist() == [-1.0, 2.0]


@pytest.mark.parametrize("call", [
    "lrelu.leaky_relu(np.ones(3), 0.1, casting='bogus')",
    "lrelu.leaky_relu(np.ones(3), 0.1, order='Q')",
    "lrelu.leaky_relu_derivative(np.ones(3), 0.1, subok=3, dtype='bogus')",
    "lrelu.leaky_relu_backward(np.ones(3), np.ones(3), 0.1, casting='no', dtype=np.float32)",
])
def test_numpys_own_errors_are_led_by_the_functions_name(call):
    name = call.split("(")[0].split(".")[1]
    with pytest.raises((TypeError, ValueError), match=rf"^{name}: "):
        eval(call, {"lrelu": lrelu, "np": np})


# ---- torch ----------------------------------------------------------------------------------

@pytest.mark.parametrize("operation,at_zero", OPERATIONS)
def test_a_tensor_that_requires_grad_is_told_to_detach(operation, at_zero):
    torch = pytest.importorskip("torch")
    t = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=rf"^{operation}: \w+ is a torch tensor that requires "
                                        r"grad; .*\.detach\(\)"):
        _call(operation, at_zero, t, t)


@pytest.mark.parametrize("operation,at_zero", OPERATIONS)
def test_a_sparse_tensor_is_told_to_densify(operation, at_zero):
    torch = pytest.importorskip("torch")
    t = torch.tensor([-1.0, 0.0, 2.0]).to_sparse()
    with pytest.raises(TypeError, match=rf"^{operation}: \w+ is a sparse torch tensor .*"
                                        r"\.to_dense\(\)"):
        _call(operation, at_zero, t, t)


# ---- prelu_backward through containers ------------------------------------------------------

def _prelu_case(dtype=np.float32):
    x = sample((6, 3, 5, 4), dtype, seed=7)
    x[0, :, 0, 0] = [0.0, -0.0, 0.0]
    grad = sample(x.shape, dtype, seed=8)
    alpha = np.array([0.125, 0.25, 0.5], dtype).reshape(3, 1, 1)
    return grad, x, alpha


def _prelu_expected(grad, x, alpha, at_zero):
    # grad_x: the listings; grad_alpha: grad * x summed where the slope is alpha, over the
    # axes alpha is broadcast along, in float64 and rounded once
    slope_is_alpha = ~(x > 0) if at_zero == "alpha" else ~(x >= 0)
    products = np.where(slope_is_alpha, grad.astype(np.float64) * x.astype(np.float64), 0.0)
    return (reference.backward(grad, x, alpha, at_zero),
            products.sum(axis=(0, 2, 3)).reshape(alpha.shape))


@pytest.mark.parametrize("at_zero", ["one", "alpha"])
def test_prelu_backward_takes_tensors_and_gives_tensors(at_zero):
    torch = pytest.importorskip("torch")
    grad, x, alpha = _prelu_case()
    grad_x, grad_alpha = lrelu.prelu_backward(torch.from_numpy(grad), torch.from_numpy(x),
                                              torch.from_numpy(alpha), at_zero=at_zero)
    assert isinstance(grad_x, torch.Tensor) and isinstance(grad_alpha, torch.Tensor)
    want_x, want_alpha = _prelu_expected(grad, x, alpha, at_zero)
    assert_same(grad_x.numpy(), want_x)
    np.testing.assert_allclose(grad_alpha.numpy(), want_alpha, rtol=1e-6)
    assert grad_alpha.dtype == torch.float32
    out = torch.zeros(x.shape)
    assert lrelu.prelu_backward(torch.from_numpy(grad), torch.from_numpy(x), 0.25,
                                at_zero=at_zero, out=out)[0] is out


@pytest.mark.parametrize("at_zero", ["one", "alpha"])
@pytest.mark.parametrize("alpha_kind", ["ndarray", "dask", "number"])
def test_prelu_backward_on_dask_stays_lazy_until_computed(at_zero, alpha_kind):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    grad, x, alpha = _prelu_case()
    alpha_arg = {"ndarray": alpha, "dask": da.from_array(alpha),
                 "number": 0.25}[alpha_kind]
    computed = []

    def counted(block):
        if block.size:              # dask's meta inference calls it on an empty block
            computed.append(block.shape)
        return block

    lazy_x = da.from_array(x, chunks=(2, 2, 5, 2)).map_blocks(counted, dtype=x.dtype)
    lazy_grad = da.from_array(grad, chunks=(3, 3, 5, 4))
    grad_x, grad_alpha = lrelu.prelu_backward(lazy_grad, lazy_x, alpha_arg, at_zero=at_zero)
    assert isinstance(grad_x, da.Array) and isinstance(grad_alpha, da.Array)
    assert computed == []                                   # nothing ran yet
    want_x, want_alpha = lrelu.prelu_backward(grad, x, alpha_arg if alpha_kind == "number"
                                              else alpha, at_zero=at_zero)
    got_x, got_alpha = dask.compute(grad_x, grad_alpha, scheduler="threads")
    assert_same(got_x, want_x)
    np.testing.assert_allclose(got_alpha, want_alpha, rtol=1e-6)
    assert np.shape(got_alpha) == np.shape(want_alpha) and got_alpha.dtype == np.float32
    # the same chunks give the same bits, whatever the scheduler
    again = dask.compute(grad_alpha, scheduler="sync")[0]
    assert np.asarray(again).tobytes() == np.asarray(got_alpha).tobytes()


@pytest.mark.parametrize("container", ["Series", "DataArray"])
def test_prelu_backward_refuses_labelled_containers_by_name(container):
    values = np.array([-1.0, 2.0, -3.0, 4.0] * 6).reshape(6, 4)
    x, _ = _wrap(container, values)
    with pytest.raises(TypeError, match=r"^prelu_backward: grad is a \w+ \w+; .*to_numpy"):
        lrelu.prelu_backward(x, x, 0.25)


def test_the_readmes_dataframe_advice_works_for_pyarrow_columns_with_missing_values():
    pd = pytest.importorskip("pandas")
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:          # absent, or built for another NumPy
        pytest.skip(f"pyarrow: {exc}")
    frame = pd.DataFrame({"a": pd.array([-1.0, None, 2.0], dtype="float64[pyarrow]"),
                          "b": pd.array([-4.0, 8.0, None], dtype="float64[pyarrow]")})
    result = frame.astype("Float64").apply(lambda column: lrelu.leaky_relu(column, 0.1))
    assert result["a"].isna().tolist() == [False, True, False]
    assert result["b"].isna().tolist() == [False, False, True]
    assert_same(result["a"].dropna().to_numpy(float), reference.lrelu(np.array([-1.0, 2.0]), 0.1))
    assert_same(result["b"].dropna().to_numpy(float), reference.lrelu(np.array([-4.0, 8.0]), 0.1))
