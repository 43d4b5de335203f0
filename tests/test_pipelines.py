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

