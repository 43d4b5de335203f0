"""The installed command line: `lrelu info`, `lrelu bench` (report, JSON, PNG), usage errors,
and how it behaves as a Unix tool (--version, closed pipes)."""

import ast
import re
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import lrelu
from lrelu.cli import bench, ceiling, plot, timing

from cli_helpers import OUTSIDE, assert_one_line_error, lrelu_command, run_in_process, run_lrelu
from helpers import run_python

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_info_names_version_numpy_openmp_threads_and_simd():
    done = run_lrelu("info", cwd=os.path.dirname(lrelu_command()))
    assert done.returncode == 0, done.stderr
    facts = lrelu.show_config(mode="dicts")
    assert done.stdout.startswith(f"lrelu {lrelu.__version__}\n")
    for label, value in [("numpy:", facts["numpy"]), ("openmp:", "on" if facts["openmp"] else "off"),
                         ("threads:", str(facts["threads"])),
                         ("parallel threshold:", str(facts["parallel_threshold_bytes"])),
                         ("simd:", facts["simd_selected"])]:
        line = next(line for line in done.stdout.splitlines() if line.strip().startswith(label))
        assert value in line, (label, line)


def test_info_says_what_numpy_lrelu_was_built_against():
    facts = lrelu.show_config(mode="dicts")
    assert facts["numpy_built_against"] and facts["compiler"] and facts["compile_args"]
    line = next(line for line in run_lrelu("info").stdout.splitlines() if "numpy:" in line)
    assert f"(built against {facts['numpy_built_against']})" in line


def test_info_json_holds_the_same_facts_as_show_config():
    done = run_lrelu("info", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(lrelu.show_config(mode="dicts")))


def test_show_config_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        lrelu.show_config(mode="yaml")


def test_version_prints_the_version():
    done = run_lrelu("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"lrelu {lrelu.__version__}\n", "")


def test_a_reader_that_goes_away_is_no_error():
    # The read end is closed before lrelu writes anything, so every write meets a closed
    # pipe, as `lrelu info | head -1` does when head quits first.
    proc = subprocess.Popen([lrelu_command(), "info"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=OUTSIDE)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""


def test_help_explains_the_in_place_guarantee():
    done = run_lrelu("apply", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for words in ["kill -9", "without applying the function twice", "journal", "fsync", "renamed"]:
        assert words in text, words


def test_python_dash_m_runs_the_same_command_line():
    done = subprocess.run([sys.executable, "-m", "lrelu", "--version"], capture_output=True, text=True,
                          cwd=OUTSIDE, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"lrelu {lrelu.__version__}\n")


def test_python_dash_m_works_from_a_checkout_without_compiled_extensions(tmp_path):
    # The repository root after `pip install .`: its lrelu/ has the sources but none of the
    # extensions, and Python finds it first.
    package = Path(lrelu.__file__).parent
    shutil.copytree(package, tmp_path / "lrelu",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "_build_info*"))
    done = subprocess.run([sys.executable, "-m", "lrelu", "info"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"lrelu {lrelu.__version__}\n")
    # From a regular install, the checkout's lrelu hands over and says so. (An editable
    # install's import hook supplies the extensions to the checkout's lrelu by itself.)
    site = {Path(sysconfig.get_path(key)).resolve() for key in ("purelib", "platlib")}
    if package.resolve().parent in site:
        assert done.stderr.startswith(f"lrelu: {tmp_path / 'lrelu'} is a source checkout without compiled")


def test_importing_lrelu_loads_none_of_the_tools():
    done = run_python("""
        import sys, lrelu
        lrelu.leaky_relu([1.0]); lrelu.show_config(mode="dicts")
        print(sorted(name for name in sys.modules if name.startswith("lrelu.cli")))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _lrelu_names_used(tree):
    """(module, name) for every lrelu name the tools' code reaches: imports from lrelu and
    attributes of the name lrelu."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == "lrelu":
            used |= {(node.module, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            used |= {(alias.name, None) for alias in node.names if alias.name.startswith("lrelu.")}
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "lrelu":
            used.add(("lrelu", node.attr))
    return used


def test_the_tools_use_only_lrelus_public_api():
    sources = sorted((Path(lrelu.__file__).parent / "cli").glob("*.py"))
    assert len(sources) >= 5
    for source in sources:
        for module, name in _lrelu_names_used(ast.parse(source.read_text(encoding="utf-8"))):
            if module.startswith("lrelu.cli"):
                continue                          # the tools' own modules
            assert module == "lrelu" and name in lrelu.__all__, (source.name, module, name)


# ---- bench -----------------------------------------------------------------------------------

FAKE_MEMBW = """#!/bin/sh
echo "$2 n=$1 threads=2  inplace 1.000 ms 11.5 GB/s | out 1.000 ms 12.5 GB/s | out-fresh 2.000 ms 6.5 GB/s | backward 1.000 ms 13.5 GB/s"
"""
HAVE_MATPLOTLIB = plot.matplotlib_missing() is None


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """One tiny benchmark on 2 threads writing the report, the JSON and (with matplotlib) the
    PNG, shared by the tests below."""
    tmp = tmp_path_factory.mktemp("bench")
    tool = tmp / "membw"
    tool.write_text(FAKE_MEMBW)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    drawing = ["--plot", tmp / "r.png"] if HAVE_MATPLOTLIB else []
    done = run_lrelu("bench", "--quick", "--sizes", "1000,2e3", "--dtype", "float32", "--threads", "2",
                     "--ceiling-mb", "2", "--json", tmp / "r.json", "--membw", tool, *drawing, timeout=180)
    assert done.returncode == 0, done.stderr
    return done, tmp


def test_bench_prints_a_table_per_operation_with_lrelu_and_the_listing(bench_run):
    done, _ = bench_run
    for op in ("inplace", "out"):
        section = done.stdout.split(f"### {op}, float32")[1].split("###")[0]
        header = next(line for line in section.splitlines() if line.startswith("| n |"))
        assert "lrelu" in header and "listing" in header
        # A row is marked busy beside its size if other processes were busy meanwhile.
        assert re.search(r"^\| 1e3( \(busy[^|]*\))? \|", section, re.M), section
        assert re.search(r"^\| 2,000( \(busy[^|]*\))? \|", section, re.M), section


def test_bench_report_opens_by_saying_what_it_measures(bench_run):
    done, _ = bench_run
    header = done.stdout.split("Machine:")[0]
    for words in ["GB/s", "listing", "np.where(x >= 0, x, alpha * x)", "np.maximum", "×",
                  "Memory ceiling", "come from the cache"]:
        assert words in header, words


def test_bench_report_shows_the_memory_ceiling_of_every_stream(bench_run):
    done, _ = bench_run
    table = done.stdout.split("### Memory ceiling")[1].split("###")[0]
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "stream" not in line}
    assert rows == {name for stream in ceiling.STREAMS for name in (stream, stream + "-nt")}
    assert "float32, 1 thread" in table
    # Beside the best pass, the slowest and fastest: a ceiling read on a busy machine shows it.
    inplace = next(line for line in table.splitlines() if line.startswith("| inplace |"))
    assert re.search(r"\| [\d.]+ \([\d.]+–[\d.]+\) \|", inplace), inplace
    assert "memory ceiling" in done.stdout.split("### inplace, float32")[1].splitlines()[0]


def test_bench_draws_a_progress_bar_with_tqdm(bench_run):
    pytest.importorskip("tqdm")
    done, _ = bench_run
    assert "100%" in done.stderr


def test_bench_json_holds_every_measurement(bench_run):
    _, tmp = bench_run
    result = json.loads((tmp / "r.json").read_text())
    rows = result["rows"]
    assert {(r["op"], r["dtype"], r["n"]) for r in rows} == {
        (op, "float32", n) for op in ("inplace", "out") for n in (1000, 2000)}
    assert {"lrelu", "listing"} <= {r["contender"] for r in rows}
    assert all(r["seconds"] > 0 and r["gbps"] > 0 for r in rows)
    # Every round is kept, so a reader can check each figure: the median of them is the time.
    for r in rows:
        assert len(r["times"]) == r["rounds"] == 11            # --quick: 11 rounds a cell
        assert r["seconds"] == sorted(r["times"])[5]
        assert r["quartiles"][0] <= r["seconds"] == r["quartiles"][1] <= r["quartiles"][2]
        assert r["spread"] == max(r["times"]) / min(r["times"])
        lrelus = next(m for m in rows if m["contender"] == "lrelu" and (m["op"], m["n"]) == (r["op"], r["n"]))
        assert r["ratio"] == pytest.approx(lrelus["gbps"] / r["gbps"])
    threads = 2 if lrelu.show_config(mode="dicts")["openmp"] else 1     # a serial build runs on one
    assert f"threads {threads}" in result["machine"] and result["threads"] == threads


def test_bench_json_holds_the_built_in_memory_ceiling_and_the_tools(bench_run):
    _, tmp = bench_run
    found = json.loads((tmp / "r.json").read_text())["ceiling"]
    assert found["source"] == "built-in" and found["array_bytes"] == 2 * 2**20
    assert set(found["gbps"]) == ({"1", "2"} if found["stores"]["openmp"] else {"1"})
    for by_dtype in found["gbps"].values():
        figures = by_dtype["float32"]
        assert set(figures) == {name for stream in ceiling.STREAMS for name in (stream, stream + "-nt")}
        assert all(figures[stream] > 0 for stream in ceiling.STREAMS)
        streaming = [figures[stream + "-nt"] for stream in ceiling.STREAMS]
        assert all(g is None for g in streaming) if found["stores"]["streaming"] is None else all(streaming)
    # Every pass is kept (--quick: 4), and the ceiling is the best of them.
    for threads, by_dtype in found["passes"].items():
        for stream in ceiling.STREAMS:
            every = by_dtype["float32"][stream]
            assert len(every) == found["repetitions"] == 4
            assert found["gbps"][threads]["float32"][stream] == max(every)
    assert found["tool"]["gbps"] == {"float32": {"inplace": 11.5, "out": 12.5, "out-fresh": 6.5, "backward": 13.5}}


def test_bench_plot_is_a_png_matplotlib_can_read(bench_run):
    image = pytest.importorskip("matplotlib.image").imread(bench_run[1] / "r.png")
    assert (bench_run[1] / "r.png").read_bytes().startswith(PNG_SIGNATURE)
    height, width = image.shape[:2]
    assert height > 200 and width > 400


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_bench_times_16_bit_dtypes_with_lrelu_and_the_listing(tmp_path, dtype):
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    done = run_lrelu("bench", "--quick", "--sizes", "1000", "--dtype", dtype, "--ceiling-mb", "2",
                     "--json", tmp_path / "r.json", timeout=180)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert {(r["op"], r["dtype"], r["n"]) for r in rows} == {(op, dtype, 1000) for op in ("inplace", "out")}
    for op in ("inplace", "out"):
        names = {r["contender"] for r in rows if r["op"] == op}
        assert {"lrelu", "listing", "np.maximum"} <= names, (op, names)
        assert not names & {"numexpr", "numba"}           # neither has 16-bit floats
        if importlib.util.find_spec("torch"):
            assert "torch" in names, (op, names)
        section = done.stdout.split(f"### {op}, {dtype}")[1].split("###")[0]
        header = next(line for line in section.splitlines() if line.startswith("| n |"))
        assert "lrelu" in header and "listing" in header
        # The ceiling's loops are float32's: the same bytes bound the 16-bit tables.
        assert "float32 passes" in done.stdout.split(f"### {op}, {dtype}")[1].splitlines()[0]
    # GB/s counts 2 bytes an element.
    for r in rows:
        assert r["seconds"] > 0
        assert r["gbps"] == pytest.approx(bench.STREAMS[r["op"]] * r["n"] * 2 / r["seconds"] / 1e9)


def test_bench_alternates_alphas_that_16_bit_data_survives():
    assert bench.alphas("float32") == bench.alphas("float64") == timing.ALPHAS
    dtypes = ["float16"] + (["bfloat16"] if importlib.util.find_spec("ml_dtypes") else [])
    for name in dtypes:
        dtype = bench.numpy_dtype(name)
        assert dtype.itemsize == 2 and dtype.name == name
        x = np.random.default_rng(0).standard_normal(10_000).astype(dtype)
        x = x[np.abs(x.astype(np.float32)) >= 2.0**-13]       # none halves into a float16 subnormal
        for pair, kept in [(bench.alphas(dtype), True), (timing.ALPHAS, False)]:
            y = x.copy()
            for i in range(200):
                lrelu.leaky_relu_(y, pair[i & 1])
            assert np.array_equal(y.view(np.int16), x.view(np.int16)) == kept, (name, pair)


def test_bench_without_ml_dtypes_refuses_bfloat16_before_any_benchmark():
    # Without --quick the benchmark alone would take minutes: the timeout shows it never began.
    done = run_lrelu("bench", "--dtype", "float32,bfloat16", child=("without", "ml_dtypes"), timeout=60)
    # The hint names the package itself: lrelu's extras work only where lrelu came from an index.
    assert_one_line_error(done, 2, "bfloat16", "ml_dtypes", "pip install ml_dtypes")
    assert done.stdout == ""


def test_bench_help_says_how_long_the_default_run_takes_and_what_quick_skips(capsys):
    text = " ".join(run_in_process(capsys, "bench", "--help").stdout.split())
    assert "about 5 minutes per dtype" in text
    quick = text.split("--quick sizes")[1].split("--sizes")[0]
    for skipped in ("no 1e4, no 1e8", "no derivative, no backward", "11 rounds"):
        assert skipped in quick, skipped


def test_bench_runs_the_operations_and_peers_asked_for(tmp_path):
    done = run_lrelu("bench", "--sizes", "1000", "--dtype", "float64", "--ops", "outarg,backward",
                     "--peers", "np.maximum", "--ceiling-mb", "2", "--json", tmp_path / "r.json", timeout=180)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    # np.maximum has no backward: that table is lrelu's alone.
    assert {(r["op"], r["contender"]) for r in rows} == {
        ("outarg", "lrelu"), ("outarg", "np.maximum"), ("backward", "lrelu")}
    assert "### outarg, float64" in done.stdout and "memory ceiling" in done.stdout.split("### outarg")[1].splitlines()[0]


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="the busy mark reads /proc/stat (Linux)")
def test_bench_next_to_busy_processes_marks_its_rows_busy(tmp_path):
    spinners = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(2)]
    try:
        # 1e7 elements: the listing's rounds alone last well past the 0.2 s others_cpus needs.
        done = run_lrelu("bench", "--quick", "--sizes", "1e7", "--dtype", "float32", "--peers", "listing",
                         "--ceiling-mb", "2", "--json", tmp_path / "r.json", timeout=180)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["others_cpus"] > 0.5 and "Other processes kept" in done.stdout
    rows = result["rows"]
    assert all(r["busy"] and r["others_cpus"] > 0.5 for r in rows), [r["others_cpus"] for r in rows]
    assert "| 1e7 (busy: others" in done.stdout and "Not a quiet run" in done.stdout


def test_bench_help_names_the_four_dtypes(capsys):
    done = run_in_process(capsys, "bench", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for dtype in ("float32", "float64", "float16", "bfloat16"):
        assert dtype in text.split("--dtype DTYPE,...")[-1].split("--threads")[0], dtype


def test_plot_without_matplotlib_is_a_one_line_hint_before_any_benchmark(tmp_path):
    done = run_lrelu("bench", "--plot", tmp_path / "p.png", child=("without", "matplotlib"))
    assert_one_line_error(done, 1, "matplotlib", "pip install matplotlib")
    assert done.stdout == "" and os.listdir(tmp_path) == []


@pytest.mark.parametrize("args, words", [
    (["--sizes", "many"], ["positive number"]),
    (["--sizes", "0"], ["positive number"]),
    (["--dtype", "int8"], ["float32", "float64", "float16", "bfloat16", "int8"]),
    (["--threads", "0"], ["at least 1"]),
    (["--ceiling-mb", "-1"], ["--ceiling-mb", "positive number"]),
    (["--ops", "sideways"], ["--ops", "inplace", "outarg", "sideways"]),
    (["--peers", "tensorflow"], ["--peers", "torch", "tensorflow"]),
    (["--frobnicate"], ["unrecognized"]),
])
def test_bad_bench_arguments_are_one_line_usage_errors(capsys, args, words):
    assert_one_line_error(run_in_process(capsys, "bench", *args), 2, *words)


def test_bench_output_into_a_missing_directory_fails_before_benchmarking(tmp_path):
    done = run_lrelu("bench", "--json", tmp_path / "nowhere" / "r.json")
    assert_one_line_error(done, 1, "no such directory")
    assert done.stdout == ""


@pytest.mark.parametrize("tool", ["missing", "not executable", "fails"])
def test_a_membw_tool_that_cannot_run_fails_before_benchmarking(tmp_path, tool):
    path = {"missing": tmp_path / "no-such-tool", "not executable": tmp_path / "plain", "fails": "false"}[tool]
    (tmp_path / "plain").write_text(FAKE_MEMBW)
    # Without --quick the benchmark alone would take minutes: the timeout shows it never began.
    done = run_lrelu("bench", "--membw", path, timeout=60)
    assert_one_line_error(done, 1, "--membw", str(path))
    assert done.stdout == ""


def test_no_command_is_a_usage_error():
    assert_one_line_error(run_lrelu(), 2, "required")


# ---- the memory ceiling ---------------------------------------------------------------------

def test_a_membw_line_is_parsed_per_stream_with_and_without_streaming_stores():
    # The line a membw tool prints (the format --membw reads).
    line = ("float64 n=8388608 threads=2  inplace 10.914 ms 12.3 GB/s | out 11.207 ms 12.0 GB/s | "
            "out-fresh 25.622 ms 5.2 GB/s | backward 14.880 ms 13.5 GB/s | inplace-nt 9.1 ms 14.8 GB/s "
            "| out-nt 8.0 ms 16.8 GB/s | out-fresh-nt 20.0 ms 6.7 GB/s | backward-nt 12.0 ms 16.7 GB/s\n")
    assert ceiling.parse_tool_output(line) == {
        "inplace": 12.3, "out": 12.0, "out-fresh": 5.2, "backward": 13.5,
        "inplace-nt": 14.8, "out-nt": 16.8, "out-fresh-nt": 6.7, "backward-nt": 16.7}


def test_output_without_figures_is_a_ceiling_error():
    with pytest.raises(ceiling.CeilingError, match="no 'NAME X ms Y GB/s' figures"):
        ceiling.parse_tool_output("usage: membw N\n")


@pytest.mark.parametrize("tool", ["/nonexistent/membw", "false"])
def test_a_failing_tool_is_a_ceiling_error(tool):
    with pytest.raises(ceiling.CeilingError):
        ceiling.run_tool(tool, 1000, "float64")


def test_each_operation_is_bounded_by_the_faster_of_its_streams_stores():
    figures = {"inplace": 10.0, "inplace-nt": 12.0, "out-fresh": 6.0, "out-fresh-nt": None, "backward": 9.0}
    assert ceiling.for_operation(figures, "inplace") == (12.0, "inplace-nt")
    assert ceiling.for_operation(figures, "out") == (6.0, "out-fresh")
    assert ceiling.for_operation(figures, "derivative") == (6.0, "out-fresh")
    assert ceiling.for_operation({}, "backward") is None
    # out= into an array written before: no page faults, the "out" stream
    assert ceiling.for_operation({"out": 9.0, "out-fresh": 6.0}, "outarg") == (9.0, "out")


def test_a_plot_has_log_axes_the_ceilings_of_each_operation_and_its_legend_outside(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    result = {"machine": "test", "date": "today", "rows": [
        {"op": op, "dtype": "float64", "n": n, "contender": name, "gbps": g}
        for op in ("inplace", "backward") for n in (10, 100) for name, g in (("lrelu", 3.0), ("listing", 1.0))],
        "ceiling": {"gbps": {"1": {"float64": {"inplace": 7.0, "inplace-nt": 7.5, "backward": 8.0}},
                             "2": {"float64": {"inplace": 9.0, "backward": 10.0, "backward-nt": None}}},
                    "tool": {"gbps": {"float64": {"inplace": 6.0}}}}}
    drawn = []
    savefig = Figure.savefig

    def capture(fig, *args, **kwargs):   # what each panel holds, and where the legends are
        drawn.extend((ax.get_title(), ax.get_yscale(), sorted(line.get_ydata()[0] for line in ax.get_lines()),
                      ax.get_legend()) for ax in fig.axes)
        drawn.append(len(fig.legends))
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", capture)
    plot.plot(result, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes().startswith(PNG_SIGNATURE)
    assert drawn == [("inplace, float64", "log", [1.0, 3.0, 6.0, 7.5, 9.0], None),
                     ("backward, float64", "log", [1.0, 3.0, 8.0, 10.0], None), 1]


def test_a_plot_rings_the_points_the_report_marks_noisy_or_busy(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    rows = [{"op": "inplace", "dtype": "float32", "n": n, "contender": "lrelu", "gbps": 2.0 * n,
             "noisy": n == 10, "busy": n == 1000} for n in (10, 100, 1000)]
    rings = []
    savefig = Figure.savefig

    def capture(fig, *args, **kwargs):
        rings.extend(c.get_offsets().tolist() for ax in fig.axes for c in ax.collections)
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", capture)
    plot.plot({"rows": rows}, tmp_path / "p.png")
    assert rings == [[[10.0, 20.0], [1000.0, 2000.0]]]
