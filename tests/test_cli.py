"""The installed command line: `lrelu info`, `lrelu bench` (report, JSON, PNG), usage errors."""

import json
import os
import stat
import subprocess

import pytest

import lrelu
from lrelu import _config, _plot

from cli_helpers import WITHOUT, assert_one_line_error, lrelu_command, run_in_process, run_lrelu

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_info_from_the_console_script_names_version_numpy_openmp_threads_and_simd():
    done = subprocess.run([lrelu_command(), "info"], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(lrelu_command()))
    assert done.returncode == 0, done.stderr
    facts = _config.config()
    assert done.stdout.startswith(f"lrelu {lrelu.__version__}\n")
    for label, value in [("numpy:", facts["numpy"]), ("openmp:", "on" if facts["openmp"] else "off"),
                         ("threads:", str(facts["threads"])),
                         ("parallel threshold:", str(facts["parallel_threshold_bytes"])),
                         ("simd:", facts["simd_selected"])]:
        line = next(line for line in done.stdout.splitlines() if line.strip().startswith(label))
        assert value in line, (label, line)


def test_info_json_holds_the_same_facts_as_config():
    done = run_lrelu("info", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(_config.config()))


def test_python_dash_m_and_help_explain_the_in_place_guarantee():
    done = run_lrelu("apply", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for words in ["kill -9", "without applying the function twice", "journal", "fsync", "renamed"]:
        assert words in text, words


# ---- bench -----------------------------------------------------------------------------------

FAKE_MEMBW = """#!/bin/sh
echo "$2 n=$1 threads=2  inplace 1.000 ms 11.5 GB/s | out 1.000 ms 12.5 GB/s | out-fresh 2.000 ms 6.5 GB/s | backward 1.000 ms 13.5 GB/s"
"""


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """One tiny benchmark writing the report, JSON and PNG, shared by the tests below."""
    tmp = tmp_path_factory.mktemp("bench")
    tool = tmp / "membw"
    tool.write_text(FAKE_MEMBW)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    done = run_lrelu("bench", "--quick", "--sizes", "1000,2e3", "--dtype", "float32", "--threads", "1",
                     "--json", tmp / "r.json", "--plot", tmp / "r.png", "--membw", tool, timeout=120)
    return done, tmp


def test_bench_prints_a_table_per_operation_with_lrelu_and_the_listing(bench_run):
    done, _ = bench_run
    assert done.returncode == 0, done.stderr
    for op in ("inplace", "out"):
        section = done.stdout.split(f"### {op}, float32")[1].split("###")[0]
        header = next(line for line in section.splitlines() if line.startswith("| n |"))
        assert "lrelu" in header and "listing" in header
        assert "| 1e3 |" in section and "| 2,000 |" in section
    assert "100%" in done.stderr                      # the progress bar ran to the end


def test_bench_json_holds_every_measurement_and_the_memory_ceiling(bench_run):
    _, tmp = bench_run
    result = json.loads((tmp / "r.json").read_text())
    rows = result["rows"]
    assert {(r["op"], r["dtype"], r["n"]) for r in rows} == {
        (op, "float32", n) for op in ("inplace", "out") for n in (1000, 2000)}
    assert {"lrelu", "listing"} <= {r["contender"] for r in rows}
    assert all(r["seconds"] > 0 and r["gbps"] > 0 for r in rows)
    assert "threads 1" in result["machine"]
    assert result["memory_ceiling_gbps"] == {
        "float32": {"inplace": 11.5, "out": 12.5, "out-fresh": 6.5, "backward": 13.5}}


def test_bench_plot_is_a_png_matplotlib_can_read(bench_run):
    _, tmp = bench_run
    data = (tmp / "r.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    image = pytest.importorskip("matplotlib.image").imread(tmp / "r.png")
    height, width = image.shape[:2]
    assert height > 200 and width > 400


def test_plot_without_matplotlib_is_a_one_line_hint_before_any_benchmark(tmp_path):
    done = run_lrelu("bench", "--plot", tmp_path / "p.png", python_code=WITHOUT.format("matplotlib"))
    assert_one_line_error(done, 1, "matplotlib", "pip install")
    assert done.stdout == "" and os.listdir(tmp_path) == []


@pytest.mark.parametrize("args, words", [
    (["--sizes", "many"], ["positive number"]),
    (["--sizes", "0"], ["positive number"]),
    (["--dtype", "int8"], ["float32", "int8"]),
    (["--threads", "0"], ["at least 1"]),
    (["--frobnicate"], ["unrecognized"]),
])
def test_bad_bench_arguments_are_one_line_usage_errors(capsys, args, words):
    assert_one_line_error(run_in_process(capsys, "bench", *args), 2, *words)


def test_bench_output_into_a_missing_directory_fails_before_benchmarking(tmp_path):
    done = run_lrelu("bench", "--json", tmp_path / "nowhere" / "r.json")
    assert_one_line_error(done, 1, "no such directory")
    assert done.stdout == ""


def test_no_command_is_a_usage_error():
    assert_one_line_error(run_lrelu(), 2, "required")


# ---- the memory ceiling ---------------------------------------------------------------------

def test_membw_output_is_parsed_per_stream():
    # The line /work/shared/tools/membw.c prints.
    line = ("float64 n=8388608 threads=2  inplace 10.914 ms 12.3 GB/s | out 11.207 ms 12.0 GB/s | "
            "out-fresh 25.622 ms 5.2 GB/s | backward 14.880 ms 13.5 GB/s\n")
    assert _plot.parse_membw(line) == {"inplace": 12.3, "out": 12.0, "out-fresh": 5.2, "backward": 13.5}


def test_a_number_in_LRELU_MEMBW_is_the_ceiling_for_every_panel(monkeypatch):
    monkeypatch.setenv("LRELU_MEMBW", "9.5")
    ceilings = _plot.measure_ceilings(["float32"])
    assert set(ceilings["float32"]) == set(_plot.CEILING_STREAM.values())
    assert set(ceilings["float32"].values()) == {9.5}


def test_no_tool_means_no_ceiling(monkeypatch):
    monkeypatch.delenv("LRELU_MEMBW", raising=False)
    assert _plot.measure_ceilings(["float32"]) is None


@pytest.mark.parametrize("tool", ["/nonexistent/membw", "false"])
def test_a_failing_tool_is_a_ceiling_error(tool):
    with pytest.raises(_plot.CeilingError):
        _plot.measure_ceilings(["float64"], tool)


def test_a_plot_marks_the_ceiling_of_each_operation(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    result = {"machine": "test", "date": "today", "rows": [
        {"op": op, "dtype": "float64", "n": n, "contender": name, "gbps": g}
        for op in ("inplace", "backward") for n in (10, 100) for name, g in (("lrelu", 3.0), ("listing", 1.0))]}
    ceilings = {"float64": {"inplace": 7.0, "out-fresh": 5.0, "backward": 8.0}}
    drawn = []
    savefig = Figure.savefig

    def capture(fig, *args, **kwargs):   # what each panel holds: its title, each line's height
        drawn.extend((ax.get_title(), sorted(line.get_ydata()[0] for line in ax.get_lines())) for ax in fig.axes)
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", capture)
    _plot.plot(result, tmp_path / "p.png", ceilings)
    assert (tmp_path / "p.png").read_bytes().startswith(PNG_SIGNATURE)
    assert drawn == [("inplace, float64", [1.0, 3.0, 7.0]), ("backward, float64", [1.0, 3.0, 8.0])]
