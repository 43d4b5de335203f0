"""The benchmark report's own parts that can be checked without timing anything."""

from lrelu import _bench


def test_parse_membw_reads_every_column():
    line = ("float32 n=1000 threads=2  inplace 0.002 ms 4.8 GB/s | out 0.001 ms 6.0 GB/s | "
            "out-fresh 0.009 ms 0.9 GB/s | backward 0.001 ms 8.2 GB/s")
    assert _bench.parse_membw(line) == {"inplace": 4.8, "out": 6.0, "out-fresh": 0.9, "backward": 8.2}


def test_every_operation_has_a_ceiling_column_and_stream_count():
    for op in _bench.OPERATIONS:
        assert _bench.CEILING_COLUMN[op] in ("inplace", "out-fresh", "backward")
        assert _bench.STREAMS[op] in (2, 3)


def test_report_has_a_table_per_operation_and_lrelu_first():
    result = _bench.run(sizes=(1000,), dtypes=("float32",), ops=("inplace", "backward"),
                        peers=["listing"], rounds=3)
    assert [r["contender"] for r in result["rows"]][:2] == ["lrelu", "listing"]
    text = _bench.format_report(result)
    assert "### inplace, float32" in text and "### backward, float32" in text


def test_contenders_never_share_the_data_they_change():
    # np.maximum(x, alpha*x) is wrong for alpha = 100 and drifts its array toward inf; on a
    # shared array every contender timed after it would run on that (and warn of overflow).
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = _bench.measure(1000, "float32", "inplace", ["np.maximum"], rounds=5)
    assert [r["contender"] for r in rows] == ["lrelu", "np.maximum"]
