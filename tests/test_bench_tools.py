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
    assert timing.ratio([2.0, 9.0, 4.0], [1.0, 3.0, 1.0]) == 3.0


# A report's rows from made-up rounds: what is checked is the arithmetic, not a timing.
LRELU_ROUNDS = [1.0, 1.2, 1.1, 0.9, 1.0]


def test_a_rows_speedup_and_gbps_come_from_the_same_median_so_they_never_disagree():
    # Per-round ratios here would say 2.0x (median of 4, 0.5, 2, 2, 0.25) while the medians
    # say the peer is 1.0 / 2.0: the row must not print both.
    peer = [4.0, 0.6, 2.2, 1.8, 0.25]
    rows = bench.summarize("inplace", "float64", 1000, {"lrelu": LRELU_ROUNDS, "peer": peer})
    mine, theirs = rows
    assert mine["contender"] == "lrelu" and mine["ratio"] == 1.0
    assert theirs["ratio"] == pytest.approx(mine["gbps"] / theirs["gbps"])
    assert theirs["ratio"] == pytest.approx(1.8 / 1.0)
    assert mine["gbps"] == pytest.approx(2 * 1000 * 8 / 1.0 / 1e9)


def test_rows_keep_every_round_and_the_quartiles():
    rows = bench.summarize("backward", "float32", 10, {"lrelu": LRELU_ROUNDS})
    assert rows[0]["times"] == LRELU_ROUNDS and rows[0]["rounds"] == 5
    assert rows[0]["quartiles"] == pytest.approx([1.0, 1.0, 1.1])


def test_rounds_spread_more_than_three_times_mark_the_row_and_its_peers_noisy():
    steady, spread = [1.0, 1.1, 1.0], [1.0, 3.5, 1.0]
    rows = bench.summarize("out", "float32", 10, {"lrelu": steady, "a": steady, "b": spread})
    assert [r["noisy"] for r in rows] == [False, False, True]
    rows = bench.summarize("out", "float32", 10, {"lrelu": spread, "a": steady})
    assert [r["noisy"] for r in rows] == [True, True]            # a's ratio rests on lrelu's rounds


def test_a_cell_timed_while_other_processes_were_busy_is_marked_busy():
    rounds = {"lrelu": LRELU_ROUNDS, "listing": LRELU_ROUNDS}
    assert not any(r["busy"] for r in bench.summarize("out", "float32", 10, rounds, others=0.2))
    assert not any(r["busy"] for r in bench.summarize("out", "float32", 10, rounds, others=None))
    result = {"machine": "m", "date": "d", "rows": bench.summarize("out", "float32", 10, rounds, others=1.9)}
    text = bench.format_report(result)
    assert "| 1e1 (busy: others 1.9 CPUs) |" in text and "Not a quiet run" in text


def test_the_report_marks_noisy_figures_and_says_so():
    rows = bench.summarize("inplace", "float32", 1000, {"lrelu": LRELU_ROUNDS, "listing": [5.0, 5.0, 20.0, 5.0, 5.0]})
    text = bench.format_report({"machine": "m", "date": "d", "rows": rows})
    assert "| 1e3 | 0.0 | 0.0 (5.00×) noisy |" in text
    assert "Not a quiet run: of 2 figures, 1 are noisy" in text
    quiet = bench.summarize("inplace", "float32", 1000, {"lrelu": LRELU_ROUNDS, "listing": [5.0] * 5})
    assert "noisy" not in bench.format_report({"machine": "m", "date": "d", "rows": quiet}).split(bench.HEADER)[1]


def test_others_cpus_is_the_machines_busy_time_less_this_processs_over_the_wall_time():
    assert timing.others_cpus((0.0, 100.0, 5.0), (2.0, 103.0, 6.0)) == pytest.approx(1.0)
    assert timing.others_cpus((0.0, 100.0, 5.0), (0.1, 103.0, 6.0)) is None     # too short to tell
    assert timing.others_cpus(None, (2.0, 103.0, 6.0)) is None
    assert timing.others_cpus((0.0, 100.0, 5.0), (2.0, 100.0, 6.0)) == 0.0


def test_ratios_saved_the_old_way_are_recomputed_from_the_medians():
    rows = [{"op": "out", "dtype": "float32", "n": 10, "contender": "lrelu", "seconds": 2.0, "ratio": 1.0},
            {"op": "out", "dtype": "float32", "n": 10, "contender": "torch", "seconds": 3.0, "ratio": 0.8}]
    assert [r["ratio"] for r in bench.consistent(rows)] == [1.0, 1.5]


def test_every_contender_is_in_one_registry_and_each_computes_what_the_listing_does():
    # Each returns its result (in place or into out=, the array it wrote; a tensor for torch).
    x = np.random.default_rng(1).standard_normal(64)
    x[:3] = [0.5, -0.5, 2.0]
    peers, _ = bench.available_peers()
    for name in ["lrelu"] + peers:
        for op in bench.ALL_OPERATIONS:
            fn = bench.contender(name, op, "float64")
            if fn is None:
                continue
            mine_x, g = x.copy(), np.linspace(-1, 1, 64)
            got = fn(mine_x, g, 0.25)
            expect = {"inplace": reference.lrelu(x, 0.25), "out": reference.lrelu(x, 0.25),
                      "outarg": reference.lrelu(x, 0.25), "derivative": reference.der_lrelu(x, 0.25),
                      "backward": reference.backward(np.linspace(-1, 1, 64), x, 0.25)}[op]
            np.testing.assert_array_equal(np.asarray(got, dtype=np.float64), expect, err_msg=f"{name} {op}")


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
    if streaming and ceiling.stores()["streaming"] is None:
        pytest.skip("this CPU has no streaming stores")
    n = 1000 + start
    x = np.random.default_rng(start).standard_normal(n).astype(dtype)[start:]
    x[:4] = [0.0, -0.0, np.nan, -np.inf]
    g = np.random.default_rng(9).standard_normal(n).astype(dtype)[start:]
    out = np.empty(n, dtype)[start:]
    ceiling.run_pass(x, x, out, 0.3, streaming, threads)
    assert_same(out, reference.lrelu(x, dtype(0.3)))
    ceiling.run_pass(g, x, g, 0.3, streaming, threads)                    # in place, as backward
    assert_same(g, reference.backward(np.random.default_rng(9).standard_normal(n).astype(dtype)[start:], x,
                                      dtype(0.3)))


def test_the_ceiling_has_every_stream_with_both_stores():
    figures = ceiling.measure(4096, "float64", threads=1, repetitions=2)
    assert set(figures) == {name for stream in ceiling.STREAMS for name in (stream, stream + "-nt")}
    assert all(figures[stream] > 0 for stream in ceiling.STREAMS)
