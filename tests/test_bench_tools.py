"""The benchmark's parts that can be checked without trusting a timing: the timer's order and
bookkeeping, the report's shape, and that the memory-ceiling loops compute Leaky ReLU."""

import warnings

import numpy as np
import pytest

from lrelu import reference
from lrelu.cli import bench, ceiling, timing

from helpers import assert_same


def test_every_operation_has_a_ceiling_stream_and_a_stream_count():
    for op in bench.OPERATIONS:
        assert ceiling.FOR_OPERATION[op] in ceiling.STREAMS
        assert bench.STREAMS[op] == ceiling.ARRAYS[ceiling.FOR_OPERATION[op]]


def test_rounds_alternate_the_order_of_the_contenders():
    seen = []
    samples = timing.alternate({name: (lambda name=name: seen.append(name) or len(seen)) for name in "abc"}, 4)
    assert seen == list("abccbaabccba")
    assert samples == {"a": [1, 6, 7, 12], "b": [2, 5, 8, 11], "c": [3, 4, 9, 10]}


def test_each_contender_counts_its_own_calls_across_rounds():
    calls = {"a": [], "b": []}
    timing.measure({name: calls[name].append for name in calls}, rounds=3, batch=2, target_seconds=1e-4)
    for seen in calls.values():
        timed = seen[-6:]                     # after the warm-up's untimed pairs
        assert timed == list(range(6))        # 0, 1 | 2, 3 | 4, 5: alpha alternates throughout


def test_ratio_is_the_median_of_per_round_ratios():
    assert timing.ratio([2.0, 9.0, 3.0], [1.0, 3.0, 1.0]) == 3.0


def test_report_has_a_header_a_table_per_operation_and_lrelu_first():
    result = bench.run(sizes=(1000,), dtypes=("float32",), ops=("inplace", "backward"), peers=["listing"], rounds=3)
    assert [r["contender"] for r in result["rows"]][:2] == ["lrelu", "listing"]
    text = bench.format_report(result)
    assert text.startswith(bench.HEADER)
    assert "### inplace, float32" in text and "### backward, float32" in text


def test_contenders_never_share_the_data_they_change():
    # np.maximum(x, alpha*x) is wrong for alpha = 100 and drifts its array toward inf; on a
    # shared array every contender timed after it would run on that (and warn of overflow).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = bench.measure(1000, "float32", "inplace", ["np.maximum"], rounds=5)
    assert [r["contender"] for r in rows] == ["lrelu", "np.maximum"]


# The ceiling's loops must do the real work, or they would measure something lighter.
@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("start", [0, 1, 3])              # unaligned results, to the element
def test_the_ceiling_loops_compute_leaky_relu_and_backward(dtype, threads, streaming, start):
    from lrelu.cli import _ceiling
    if streaming and ceiling.stores()["streaming"] is None:
        pytest.skip("this CPU has no streaming stores")
    n = 1000 + start
    x = np.random.default_rng(start).standard_normal(n).astype(dtype)[start:]
    x[:4] = [0.0, -0.0, np.nan, -np.inf]
    g = np.random.default_rng(9).standard_normal(n).astype(dtype)[start:]
    out = np.empty(n, dtype)[start:]
    _ceiling.run_pass(x, x, out, 0.3, streaming, threads)
    assert_same(out, reference.lrelu(x, dtype(0.3)))
    _ceiling.run_pass(g, x, g, 0.3, streaming, threads)                   # in place, as backward
    assert_same(g, reference.backward(np.random.default_rng(9).standard_normal(n).astype(dtype)[start:], x,
                                      dtype(0.3)))


def test_the_ceiling_has_every_stream_with_both_stores():
    figures = ceiling.measure(4096, "float64", threads=1, repetitions=2)
    assert set(figures) == {name for stream in ceiling.STREAMS for name in (stream, stream + "-nt")}
    assert all(figures[stream] > 0 for stream in ceiling.STREAMS)
