"""lrelu where arrays live in pipelines: pandas, xarray, dask (local and on a cluster of
processes) and PyTorch (in place through t.numpy(), and in forked DataLoader workers)."""

import sys

import numpy as np
import pytest

import lrelu
from lrelu import reference

from helpers import run_python
from helpers import assert_same, parallel_threshold_elements, sample


# ---- pandas ----------------------------------------------------------------------------------

def test_pandas_series_comes_back_a_series_with_its_index_and_name():
    pd = pytest.importorskip("pandas")
    values = sample((50,), np.float32)
    s = pd.Series(values, index=pd.date_range("2024-01-01", periods=50), name="activation")
    for result, expect in [(lrelu.leaky_relu(s, 0.2), reference.lrelu(values, 0.2)),
                           (lrelu.leaky_relu_derivative(s, 0.2), reference.der_lrelu_typed(values, 0.2))]:
        assert isinstance(result, pd.Series)
        assert result.index.equals(s.index) and result.name == "activation"
        assert_same(result.to_numpy(), expect)


def test_pandas_dataframe_comes_back_a_dataframe_with_its_index_and_columns():
    pd = pytest.importorskip("pandas")
    values = sample((20, 3), np.float64)
    df = pd.DataFrame(values, index=[f"row{i}" for i in range(20)], columns=["a", "b", "c"])
    result = lrelu.leaky_relu(df)
    assert isinstance(result, pd.DataFrame)
    assert result.index.equals(df.index) and result.columns.equals(df.columns)
    assert_same(result.to_numpy(), reference.lrelu(values))
    grad = lrelu.leaky_relu_backward(pd.DataFrame(np.ones_like(values), index=df.index, columns=df.columns), df)
    assert isinstance(grad, pd.DataFrame) and grad.columns.equals(df.columns)
    assert_same(grad.to_numpy(), reference.backward(np.ones_like(values), values))


def _no_nan(n):
    """sample()'s values with its NaN made 0.5: pandas' nullable arrays read NaN as missing."""
    values = sample((n,), np.float64)
    values[np.isnan(values)] = 0.5
    return values


def _nullable(pd, values, dtype, missing):
    """values as a pandas Series of dtype, with pd.NA where missing is True."""
    return pd.Series(pd.array([pd.NA if m else v for v, m in zip(values.tolist(), missing)],
                              dtype=dtype), name="h")


FUNCTIONS = {
    "leaky_relu": lambda x, alpha: lrelu.leaky_relu(x, alpha),
    "leaky_relu_derivative": lambda x, alpha: lrelu.leaky_relu_derivative(x, alpha),
    "leaky_relu_backward": lambda x, alpha: lrelu.leaky_relu_backward(np.full(np.shape(x), 1.5), x, alpha),
}


def _reference(function, x, alpha):
    if function == "leaky_relu":
        return reference.lrelu(x, alpha)
    if function == "leaky_relu_derivative":
        return reference.der_lrelu_typed(x, alpha)
    return reference.backward(np.full_like(x, 1.5), x, alpha)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_nullable_series_keeps_its_missing_values_missing(function):
    pd = pytest.importorskip("pandas")
    values = _no_nan(30)
    missing = np.arange(30) % 4 == 1
    s = _nullable(pd, values, "Float64", missing)
    result = FUNCTIONS[function](s, 0.2)
    assert isinstance(result, pd.Series) and result.dtype == "Float64"
    assert np.array_equal(result.isna().to_numpy(), missing)
    expected = _reference(function, values, 0.2)
    assert_same(result[~missing].to_numpy(dtype=np.float64, na_value=np.nan), expected[~missing])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_pyarrow_series_with_missing_values_is_refused_by_name(function):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    s = _nullable(pd, _no_nan(10), "float64[pyarrow]", np.arange(10) == 3)
    with pytest.raises(ValueError, match=rf"{function}: x holds missing values \(<NA>\) in a "
                                         r"pyarrow-backed Series \(double\[pyarrow\]\).*"
                                         r"x\.astype\('Float64'\)"):
        FUNCTIONS[function](s, 0.2)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_pyarrow_series_without_missing_values_matches_the_listing(function):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    values = _no_nan(10)
    s = pd.Series(values, dtype="float64[pyarrow]")
    result = FUNCTIONS[function](s, 0.2)
    assert isinstance(result, pd.Series)
    assert_same(result.to_numpy(dtype=np.float64), _reference(function, values, 0.2))


def test_a_pyarrow_alpha_with_missing_values_is_refused_by_name():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    alpha = pd.Series([0.1, None, 0.2], dtype="float64[pyarrow]")
    with pytest.raises(ValueError, match=r"leaky_relu: alpha holds missing values \(<NA>\)"):
        lrelu.leaky_relu(np.array([-1.0, -2.0, 3.0]), alpha)


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("dtype", ["Float64", "float64[pyarrow]"])
def test_a_dataframe_with_nullable_or_pyarrow_columns_is_refused_by_name(function, dtype):
    pd = pytest.importorskip("pandas")
    if "pyarrow" in dtype:
        pytest.importorskip("pyarrow")
    values = _no_nan(6)
    df = pd.DataFrame({"a": _nullable(pd, values, dtype, np.arange(6) == 1),
                       "b": values, "c": _nullable(pd, values, dtype, np.zeros(6, bool))})
    with pytest.raises(TypeError, match=rf"{function}: x is a DataFrame with nullable or pyarrow "
                                        r"columns \(a, c\).*Call lrelu on each column"):
        FUNCTIONS[function](df, 0.2)


def test_each_column_of_a_nullable_dataframe_keeps_its_missing_values_missing():
    # What the refusal above tells a user to do.
    pd = pytest.importorskip("pandas")
    values = _no_nan(6)
    missing = np.arange(6) == 1
    df = pd.DataFrame({"a": _nullable(pd, values, "Float64", missing)})
    result = df.apply(lambda column: lrelu.leaky_relu_derivative(column, 0.2))
    assert result["a"].dtype == "Float64"
    assert np.array_equal(result["a"].isna().to_numpy(), missing)
    assert_same(result["a"][~missing].to_numpy(dtype=np.float64),
                reference.der_lrelu_typed(values, 0.2)[~missing])


# ---- xarray ----------------------------------------------------------------------------------

def test_xarray_dataarray_keeps_dims_coords_and_name():
    xr = pytest.importorskip("xarray")
    values = sample((4, 6), np.float32)
    da = xr.DataArray(values, dims=("time", "channel"), name="h",
                      coords={"time": np.arange(4), "channel": list("abcdef")})
    result = lrelu.leaky_relu(da, 0.1)
    assert isinstance(result, xr.DataArray)
    assert result.dims == da.dims and result.name == "h"
    assert all(result.coords[c].equals(da.coords[c]) for c in da.coords)
    assert_same(result.values, reference.lrelu(values, 0.1))


def test_a_per_channel_alpha_dataarray_broadcasts_by_dimension_name():
    xr = pytest.importorskip("xarray")
    values = sample((3, 5), np.float64)
    # channel comes first in x but alone in alpha: NumPy would line up alpha with the last
    # axis (and fail, 3 against 5); xarray matches it to "channel" by name.
    x = xr.DataArray(values, dims=("channel", "time"), coords={"channel": ["r", "g", "b"]})
    alpha = xr.DataArray([0.01, 0.1, 0.5], dims="channel", coords={"channel": ["r", "g", "b"]})
    result = lrelu.leaky_relu(x, alpha)
    assert result.dims == ("channel", "time")
    assert_same(result.values, reference.lrelu(values, alpha.values[:, None]))


# ---- dask ------------------------------------------------------------------------------------

def test_dask_array_stays_lazy_until_computed():
    da = pytest.importorskip("dask.array")
    values = sample((40_000,), np.float32)
    computed = []

    def load(block):                  # counts how often a block is actually computed
        computed.append(len(block))
        return block

    x = da.from_array(values, chunks=10_000).map_blocks(load, meta=np.empty(0, np.float32))
    y = lrelu.leaky_relu(x, 0.2)
    assert isinstance(y, da.Array) and y.chunks == x.chunks and y.dtype == np.float32
    assert computed == []
    assert_same(y.compute(), reference.lrelu(values, 0.2))
    assert sum(computed) == values.size


def _counted_dask_alpha(values, chunks, runs):
    """values as a dask array whose every block appends to runs when it is computed."""
    da = pytest.importorskip("dask.array")

    def load(block):
        runs.append(len(block))
        return block

    return da.from_array(values, chunks=chunks).map_blocks(load, meta=np.empty(0, values.dtype))


@pytest.mark.parametrize("function", ["leaky_relu", "leaky_relu_derivative", "leaky_relu_backward"])
def test_a_dask_alpha_is_computed_once_at_compute_and_not_by_the_call(function):
    da = pytest.importorskip("dask.array")
    values = sample((4_000,), np.float64)
    slopes = np.random.default_rng(1).uniform(0.0, 0.5, values.size)
    runs = []
    alpha = _counted_dask_alpha(slopes, 1_000, runs)
    x = da.from_array(values, chunks=1_000)
    if function == "leaky_relu_backward":
        grad = np.random.default_rng(2).standard_normal(values.size)
        y = lrelu.leaky_relu_backward(da.from_array(grad, chunks=1_000), x, alpha)
        expected = reference.backward(grad, values, slopes)
    else:
        y = getattr(lrelu, function)(x, alpha)
        expected = (reference.lrelu if function == "leaky_relu" else reference.der_lrelu_typed)(values, slopes)
    assert runs == [], "the call computed alpha"
    assert_same(y.compute(), expected)
    assert sorted(runs) == [1_000] * 4, "each block of alpha must be computed exactly once"


def test_a_dask_alpha_of_a_wrong_dtype_is_refused_by_its_dtype_without_computing_it():
    da = pytest.importorskip("dask.array")
    runs = []
    alpha = _counted_dask_alpha(np.full(10, 0.1 + 0j), 5, runs)
    with pytest.raises(TypeError, match=r"leaky_relu: alpha must be a real number or an array of "
                                        r"them, got Array of dtype complex128"):
        lrelu.leaky_relu(da.ones(10, chunks=5), alpha)
    assert runs == []


def test_a_nan_inside_a_lazy_alpha_gives_what_the_listing_gives():
    # lrelu cannot look inside a lazy alpha without computing it, so a NaN there is not refused:
    # it reaches the ufunc, which computes what the listing computes with it.
    da = pytest.importorskip("dask.array")
    values = sample((8,), np.float64)
    slopes = np.array([0.1, np.nan, 0.2, np.inf, 0.1, np.nan, -np.inf, 0.3])
    alpha = da.from_array(slopes, chunks=4)
    assert_same(lrelu.leaky_relu(da.from_array(values, chunks=4), alpha).compute(),
                reference.lrelu(values, slopes))


def test_dask_on_a_local_cluster_of_processes_computes_right():
    pytest.importorskip("dask.array")
    pytest.importorskip("distributed")
    # A fresh interpreter, so worker processes and their threads never outlive this test
    # inside pytest, and a hang fails on the timeout.
    done = run_python("""
        import os
        import numpy as np
        import dask.array as da
        from dask.distributed import Client, LocalCluster
        import lrelu
        from lrelu import reference

        if __name__ == "__main__":
            x = da.random.default_rng(0).standard_normal(200_000, chunks=25_000).astype(np.float32)
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                workers = client.run(os.getpid)
                assert len(workers) == 2 and os.getpid() not in workers.values()
                y = lrelu.leaky_relu(x, 0.3)
                got, expected = client.compute([y, reference.lrelu(x, 0.3)], sync=True)
            assert got.dtype == np.float32 and np.array_equal(got, expected)
            assert np.array_equal(np.signbit(got), np.signbit(expected))
            print("ok")
        """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# ---- PyTorch ---------------------------------------------------------------------------------

def test_torch_cpu_tensor_transformed_in_place_through_numpy_without_a_copy():
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(sample((64, 33), np.float32))
    original = t.clone().numpy()
    address = t.data_ptr()
    view = t.numpy()                  # shares t's memory
    assert lrelu.leaky_relu_(view, 0.2) is view
    assert t.data_ptr() == address
    assert_same(t.numpy(), reference.lrelu(original, 0.2))


def test_torch_strided_view_transformed_in_place_leaves_the_rest_alone():
    torch = pytest.importorskip("torch")
    base = sample((16, 10), np.float64)
    t = torch.from_numpy(base.copy())
    lrelu.leaky_relu_(t[:, ::3].numpy())
    expected = base.copy()
    expected[:, ::3] = reference.lrelu(base[:, ::3])
    assert_same(t.numpy(), expected)


@pytest.mark.filterwarnings("error")          # NumPy 2 warns calling torch's __array_wrap__
@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_tensor_passed_directly_gives_a_new_tensor_and_no_warning(function):
    torch = pytest.importorskip("torch")
    values = sample((40,), np.float32)
    t = torch.from_numpy(values.copy())
    if function == "leaky_relu_backward":
        result = lrelu.leaky_relu_backward(torch.full_like(t, 1.5), t, 0.2)
    else:
        result = FUNCTIONS[function](t, 0.2)
    assert isinstance(result, torch.Tensor) and result.dtype == torch.float32
    assert result.data_ptr() != t.data_ptr()
    assert_same(t.numpy(), values)                      # t itself is untouched
    assert_same(result.numpy(), _reference(function, values, 0.2))


def test_a_tensor_x_with_out_writes_into_out_and_returns_it():
    torch = pytest.importorskip("torch")
    values = sample((12,), np.float64)
    out = np.empty(12)
    assert lrelu.leaky_relu(torch.from_numpy(values), 0.2, out=out) is out
    assert_same(out, reference.lrelu(values, 0.2))


def test_a_tensor_alpha_beside_a_numpy_x_gives_a_numpy_array():
    torch = pytest.importorskip("torch")
    values = sample((3, 4), np.float64)
    slopes = np.array([0.1, 0.2, 0.3, 0.4])
    result = lrelu.leaky_relu(values, torch.from_numpy(slopes))
    assert type(result) is np.ndarray
    assert_same(result, reference.lrelu(values, slopes))


@pytest.mark.parametrize("name", ["leaky_relu_", "leaky_relu_derivative_"])
def test_in_place_on_a_tensor_points_at_t_numpy(name):
    torch = pytest.importorskip("torch")
    t = torch.tensor([-1.0, 2.0])
    with pytest.raises(TypeError, match=rf"{name} works in place on a NumPy array, got a torch "
                                        r"tensor of dtype torch.float32; pass x.numpy\(\), which "
                                        r"shares the tensor's memory"):
        getattr(lrelu, name)(t)
    assert t.tolist() == [-1.0, 2.0]


@pytest.mark.parametrize("call, label", [
    (lambda t: lrelu.leaky_relu(t), "x"),
    (lambda t: lrelu.leaky_relu_derivative(t), "x"),
    (lambda t: lrelu.leaky_relu_backward(t, t), "grad"),
    (lambda t: lrelu.leaky_relu(np.ones(2), t), "alpha")],
    ids=["leaky_relu x", "leaky_relu_derivative x", "leaky_relu_backward grad", "leaky_relu alpha"])
def test_a_bfloat16_tensor_gets_told_to_convert_it(call, label):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=rf"{label} is a torch tensor of dtype torch.bfloat16, which "
                                        rf"NumPy has no type for; convert it first: {label}\.float\(\)"):
        call(torch.tensor([-1.0, 0.5], dtype=torch.bfloat16))


def test_a_bfloat16_tensor_in_place_gets_told_what_works():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"leaky_relu_ cannot change a torch.bfloat16 tensor in "
                                        r"place: NumPy has no bfloat16 type; leaky_relu\(x.float\(\)\)"):
        lrelu.leaky_relu_(torch.tensor([-1.0, 0.5], dtype=torch.bfloat16))


def test_torch_dataloader_fork_workers_after_a_parallel_run_in_the_parent():
    pytest.importorskip("torch")
    if sys.platform != "linux":
        pytest.skip("fork start method: Linux")
    big = 4 * parallel_threshold_elements(np.float32)
    # Parent runs lrelu on several threads first; then forked workers call it. GNU OpenMP
    # hangs there unless lrelu goes serial in the child; the timeout turns a hang into a failure.
    done = run_python(f"""
        import multiprocessing
        import numpy as np
        import torch
        import lrelu
        from lrelu import _config, _threads, reference

        BIG = {big}

        class Noise(torch.utils.data.Dataset):
            def __len__(self):
                return 6
            def __getitem__(self, i):
                t = torch.from_numpy(np.random.default_rng(i).standard_normal(BIG).astype(np.float32))
                address = t.data_ptr()
                lrelu.leaky_relu_(t.numpy(), 0.1)
                assert t.data_ptr() == address
                return i, t, _config.config()["forked_child"]

        _threads._set_adaptive(False)     # the parent must run a team before it forks
        with lrelu.threads(2):
            before = _threads._parallel_region_count()
            lrelu.leaky_relu_(np.random.default_rng(99).standard_normal(BIG).astype(np.float32))
            ran_parallel = _threads._parallel_region_count() > before
        assert ran_parallel or not _threads._openmp_info()["enabled"]

        loader = torch.utils.data.DataLoader(Noise(), batch_size=None, num_workers=2, timeout=60,
                                             multiprocessing_context=multiprocessing.get_context("fork"))
        seen = 0
        for i, t, forked in loader:
            x = np.random.default_rng(int(i)).standard_normal(BIG).astype(np.float32)
            expected = reference.lrelu(x, 0.1)
            assert forked and np.array_equal(t.numpy(), expected)
            assert np.array_equal(np.signbit(t.numpy()), np.signbit(expected))
            seen += 1
        assert seen == 6
        print("ok")
        """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]

