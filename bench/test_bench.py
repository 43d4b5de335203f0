"""For exploring, not for the figures: a pytest-benchmark suite of lrelu and every installed
peer, per operation, size and dtype, from the contender registry `lrelu bench` uses.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= pytest bench/ --benchmark-only \
        --benchmark-group-by=param:op,param:dtype,param:n --benchmark-columns=median,iqr,ops

pytest-benchmark times one contender after another, not alternately; use it to explore and
compare runs (--benchmark-autosave, --benchmark-compare). The figures quoted in
BENCHMARKS.md come from `lrelu bench` (bench/report.py), which alternates contenders round by
round.
"""

import numpy as np
import pytest

from lrelu.cli import bench, timing

SIZES = [1_000, 100_000, 1_000_000, 10_000_000]
PEERS, SKIPPED = bench.available_peers()
CONTENDERS = ["lrelu"] + PEERS


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", bench.ALL_OPERATIONS)
@pytest.mark.parametrize("contender", CONTENDERS)
def test_leaky_relu(benchmark, contender, op, dtype, n):
    fn = bench.contender(contender, op, dtype)
    if fn is None:
        pytest.skip(f"{contender} has no {op}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)     # the gradient, or the out= of "outarg"
    flip = [0]

    def call():
        # In-place calls alternate alpha 0.01 / 100 so values never decay into subnormals.
        flip[0] ^= 1
        return fn(x, g, timing.ALPHAS[flip[0]])

    benchmark.extra_info["bytes"] = bench.STREAMS[op] * n * np.dtype(dtype).itemsize
    benchmark(call)
