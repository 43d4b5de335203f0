"""Leaky ReLU over a dask array, on local threads and then on a local cluster of two worker
processes: the same lazy graph, checked against the glossary entry's listing both times.

    python examples/dask_cluster.py                  # 10,000,000 elements in 10 chunks
    python examples/dask_cluster.py --n 100000
"""

import argparse

import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster

import lrelu
from lrelu import reference


def main(n: int) -> None:
    x = da.random.default_rng(0).standard_normal(n, chunks=max(n // 10, 1))
    y = lrelu.leaky_relu(x, 0.2)                 # lazy: nothing runs yet
    expected = reference.lrelu(x.compute(), 0.2)

    local = y.compute()                          # local threads
    assert np.array_equal(local, expected)

    # One thread per worker, and lrelu's OpenMP threads inside each chunk: with several
    # workers on one machine, OMP_NUM_THREADS=1 keeps them from competing for cores.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        on_cluster = y.compute()                 # the same graph, on two worker processes
    assert np.array_equal(on_cluster, expected)
    print(f"{n} elements: local threads and a 2-worker cluster both equal the listing; "
          f"sum {float(on_cluster.sum()):.6g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="number of elements")
    main(parser.parse_args().n)
