"""Write BENCHMARKS.md: the full alternating benchmark (lrelu.cli.bench, the contender
registry and timer `lrelu bench` uses), the memory ceiling beside it, and the project's first speed targets
checked against the figures just measured, or re-rendered from a saved run (--from-json)
without measuring anything.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/report.py \
        [--membw PATH] --threshold-log bench/results/threshold.log -o BENCHMARKS.md

Peers are whatever is installed (the README's "Performance" says how). --membw (default
$LRELU_MEMBW) is an optional external ceiling tool, run as `lrelu bench --membw` runs it.
Logs and the saved JSON live in bench/results/.
"""

import os

import argparse
import json
import sys

import numpy as np

import lrelu
from lrelu.cli import bench, ceiling, timing


def row(rows, op, dtype, n, contender):
    return next((r for r in rows if (r["op"], r["dtype"], r["n"], r["contender"]) == (op, dtype, n, contender)), None)


def tables(result, ceilings, vectorized):
    rows = result["rows"]
    out = []
    for dt in dict.fromkeys(r["dtype"] for r in rows):
        for op in dict.fromkeys(r["op"] for r in rows):
            sel = [r for r in rows if r["dtype"] == dt and r["op"] == op]
            if not sel:
                continue
            names = list(dict.fromkeys(r["contender"] for r in sel))
            column = ceiling.FOR_OPERATION[op]
            out += [f"### {op}, {dt}", "",
                    f"GB/s counting {bench.STREAMS[op]} arrays per call; ceiling: membw `{column}`; "
                    "peers: GB/s (lrelu's speedup: peer's median time / lrelu's, the same rounds as the GB/s)", "",
                    "| n | ceiling | vectorized ceiling | lrelu | % of ceiling | " + " | ".join(names[1:]) + " |",
                    "|---" * (len(names) + 4) + "|"]
            for n in dict.fromkeys(r["n"] for r in sel):
                mine = row(rows, op, dt, n, "lrelu")
                ceil = ceilings.get((dt, n), {}).get(column)
                vec = vectorized.get((dt, n), {}).get(column)
                cells = [bench.size_label(sel, n), f"{ceil:.1f}" if ceil else "", f"{vec:.1f}" if vec else "",
                         f"**{bench.cell(mine, first=True)}**",
                         f"{100 * mine['gbps'] / ceil:.0f} %" if ceil else ""]
                for name in names[1:]:
                    r = row(rows, op, dt, n, name)
                    cells.append(bench.cell(r) if r else "")
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    return out


def targets(result, ceilings, small):
    """Issue #3's targets, each with the measured figure and whether it holds."""
    rows = result["rows"]
    checks = []

    def check(label, value, goal, ok):
        checks.append(f"| {label} | {value} | {goal} | {'met' if ok else '**missed**'} |")

    for dt in ("float32", "float64"):
        for n in (1_000, 100_000, 1_000_000, 10_000_000, 100_000_000):
            r = row(rows, "inplace", dt, n, "torch")
            if r:
                check(f"in place vs torch `leaky_relu_`, {dt}, n={bench._fmt_n(n)}", f"{r['ratio']:.2f}×", "≥ 1.00×", r["ratio"] >= 1.0)
        for n in (1_000, 100_000, 1_000_000, 10_000_000, 100_000_000):
            r = row(rows, "out", dt, n, "torch")
            if r:
                goal = 1.3 if n >= 10_000_000 else 1.0
                check(f"out of place vs torch `leaky_relu`, {dt}, n={bench._fmt_n(n)}", f"{r['ratio']:.2f}×", f"≥ {goal:.2f}×", r["ratio"] >= goal)
        for n in (1_000_000, 10_000_000, 100_000_000):
            r = row(rows, "backward", dt, n, "torch")
            if r:
                check(f"backward in place vs torch `leaky_relu_backward`, {dt}, n={bench._fmt_n(n)}", f"{r['ratio']:.2f}×", "≥ 1.00×", r["ratio"] >= 1.0)
        for n, goal in ((1_000_000, 25), (10_000_000, 10), (100_000_000, 10)):
            for op in ("inplace", "out"):
                r = row(rows, op, dt, n, "listing")
                if r:
                    check(f"{op} vs the document's np.where, {dt}, n={bench._fmt_n(n)}", f"{r['ratio']:.1f}×", f"≥ {goal}×", r["ratio"] >= goal)
        n = 100_000_000
        for op, column, goal in (("inplace", "inplace", 0.85), ("out", "out-fresh", 0.80)):
            r, ceil = row(rows, op, dt, n, "lrelu"), ceilings.get((dt, n), {}).get(column)
            if r and ceil:
                check(f"{op} at 1e8 vs membw `{column}`, {dt}", f"{100 * r['gbps'] / ceil:.0f} % ({r['gbps']:.1f} of {ceil:.1f} GB/s)",
                      f"≥ {goal:.0%}", r["gbps"] >= goal * ceil)
    if small:
        for dt, ratio in small.items():
            check(f"1,000 elements in place vs `np.multiply(x, 1, out=x)`, {dt}", f"{ratio:.2f}× the time", "≤ 1.25×", ratio <= 1.25)
    return ["| target | measured | goal | |", "|---|---|---|---|"] + checks


def small_array_overhead(dtypes, rounds=41):
    """Median over alternating rounds of time(leaky_relu_(x)) / time(np.multiply(x, 1, out=x))
    at 1,000 elements: the per-call overhead of the wrapper plus the ufunc."""
    ratios = {}
    for dt in dtypes:
        x = np.random.default_rng(0).standard_normal(1000).astype(dt)
        # alpha alternates 0.01 / 100, so 82,000 calls in place never decay x into subnormals
        times = timing.measure({"lrelu": lambda i: lrelu.leaky_relu_(x, timing.ALPHAS[i & 1]),
                                "numpy": lambda i: np.multiply(x, 1, out=x)},
                               rounds=rounds, batch=2000)
        ratios[dt] = timing.ratio(times["lrelu"], times["numpy"])
    return ratios


def tool_ceilings(tool, sizes, dtypes):
    """{(dtype, n): {stream: GB/s}} from running a membw-like tool once per size and dtype."""
    return {(dt, n): ceiling.run_tool(tool, n, dt) for dt in dtypes for n in sizes}


def included(path):
    """A hand-written markdown file, as written, or nothing if no path was given."""
    if not path:
        return []
    with open(path) as f:
        return [f.read().rstrip(), ""]


def log_section(path, title, intro, fenced=False):
    """A section quoting a bench script's saved output (a markdown table, or plain text to
    fence), or nothing if no path was given."""
    if not path:
        return []
    with open(path) as f:
        body = [f.read().rstrip()]
    return [f"## {title}", "", intro, ""] + (["```"] + body + ["```"] if fenced else body) + [""]


# The saved outputs the report quotes after its tables, in order: (option, section title, what
# made it, fenced as plain text). A title of None includes a hand-written markdown file as it is.
LOGS = (
    ("simd_log", "SIMD levels, in cache",
     "`bench/simd_levels.py`: one thread, in place, median over alternating rounds of the "
     "best of 5 batches; the portable build forced to each SIMD level this CPU runs "
     "(LRELU_SIMD), and the other builds named in the log's first line, each at its own "
     "level.", False),
    ("threshold_log", "Parallel threshold",
     "`bench/threshold.py`: one thread against all, alternating, threshold forced to 0; "
     "median µs per call. lrelu goes parallel from the threshold in the header above; the "
     "comment on the threshold in src/threads.c says how this log chose it.", True),
    ("streaming", None, None, False),
    ("load_log", "Under load",
     "`bench/load.py`: float32 in place with lrelu's default (the planner), "
     "a team for every call (`fixed`, lrelu before the planner) and one thread, alternating "
     "round by round, beside other processes; then inputs NumPy hands over in pieces, 2 "
     "threads against 1. Below 1 in the first table, faster than one thread.", False),
    ("half_log", "float16 and bfloat16",
     "`bench/half.py`: lrelu against PyTorch's float16 and bfloat16 tensors of "
     "the same values, alternating round by round; ratio = torch time / lrelu time "
     "(above 1, lrelu is faster).", False),
    ("training_log", "Training kernels",
     "`bench/training.py`: the `at_zero=\"alpha\"` backward and `prelu_backward` "
     "against PyTorch, in one process, contenders alternating "
     "round by round after an untimed settling batch each; medians, and the ratio of the "
     "medians (torch time / lrelu time: above 1, lrelu is faster).", False),
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--membw", default=os.environ.get("LRELU_MEMBW"),
                        help="an external membw-like tool for the ceiling columns (default: $LRELU_MEMBW)")
    parser.add_argument("--membw-vectorized", help="the same tool built with -fno-trapping-math "
                        "(bench/membw_vectorized.sh), whose loop vectorizes: a second ceiling column")
    parser.add_argument("--sizes", default=",".join(str(n) for n in bench.DEFAULT_SIZES))
    parser.add_argument("--dtype", default="float32,float64")
    parser.add_argument("--threshold-log", help="output of bench/threshold.py to include")
    parser.add_argument("--simd-log", help="output of bench/simd_levels.py to include")
    parser.add_argument("--training-log", help="output of bench/training.py to include")
    parser.add_argument("--load-log", help="output of bench/load.py to include")
    parser.add_argument("--half-log", help="output of bench/half.py to include")
    parser.add_argument("--notes", help="a hand-written markdown file of findings to include after the targets")
    parser.add_argument("--streaming", help="bench/results/streaming.md: the streaming-store section, included as written")
    parser.add_argument("--from-json", help="render a run saved earlier with --json instead of measuring")
    parser.add_argument("--json", help="also save the raw rows here")
    parser.add_argument("-o", "--output", default="BENCHMARKS.md")
    args = parser.parse_args()
    sizes = tuple(int(float(s)) for s in args.sizes.split(","))
    dtypes = tuple(args.dtype.split(","))

    unpack = lambda saved: {(k.split(":")[0], int(k.split(":")[1])): v for k, v in saved.items()}
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        result, small = saved["result"], saved["small"]
        # Runs saved before ratios came from the medians: recompute them so they agree with the GB/s.
        result["rows"] = bench.consistent(result["rows"])
        ceilings, vectorized = unpack(saved["ceilings"]), unpack(saved.get("vectorized", {}))
        cfg = saved["config"]           # the build that ran, not the one rendering
        sizes = tuple(dict.fromkeys(r["n"] for r in result["rows"]))
        dtypes = tuple(dict.fromkeys(r["dtype"] for r in result["rows"]))
    else:
        progress = lambda i, total, label: print(f"[{i}/{total}] {label}", file=sys.stderr, flush=True)
        small = small_array_overhead(dtypes)
        result = bench.run(sizes, dtypes, bench.OPERATIONS, progress=progress)
        ceilings = tool_ceilings(args.membw, sizes, dtypes) if args.membw else {}
        vectorized = {}
        cfg = {k: v for k, v in lrelu.show_config(mode="dicts").items()
               if k in ("lrelu", "openmp", "threads", "simd_selected", "simd_baseline",
                        "parallel_threshold_bytes")}
    if args.membw_vectorized and not vectorized:
        vectorized = tool_ceilings(args.membw_vectorized, sizes, dtypes)
    if args.json:
        pack = lambda table: {f"{k[0]}:{k[1]}": v for k, v in table.items()}
        with open(args.json, "w") as f:
            json.dump({"result": result, "small": small, "ceilings": pack(ceilings),
                       "vectorized": pack(vectorized), "config": cfg}, f, indent=1)

    lines = [
        "# Benchmarks", "",
        f"Measured {result['date']} on: {result['machine']}.",
        f"lrelu {cfg['lrelu']}, OpenMP {'on' if cfg['openmp'] else 'off'}, {cfg['threads']} threads, "
        f"SIMD {cfg['simd_selected']} (baseline {cfg['simd_baseline']}), parallel threshold {cfg['parallel_threshold_bytes']} bytes.",
        "Every peer ran with the same thread count (torch.set_num_threads, numexpr, numba). "
        "Timing alternates contenders round by round; figures are medians; a ratio is the peer's median "
        "time / lrelu's from the same rounds (so lrelu's GB/s / the peer's), above 1 when lrelu is faster. "
        "A figure marked noisy had rounds spreading more than 3×; a size marked busy was timed while other "
        "processes kept more than half a CPU busy (runs saved with every round only). "
        "In-place calls alternate alpha 0.01 / 100 so repeated calls never decay into subnormals.",
        "The ceiling is an external membw tool, `PATH N dtype` (best of 10, -O3 -march=native, OpenMP, all cores), "
        "for the stream of the same shape: in place, a fresh result (out-fresh), or backward. "
        "Its loop `a[i] >= 0 ? a[i] : s*a[i]` does not vectorize under gcc's default -ftrapping-math, "
        "so in cache it is a scalar loop's speed, not the memory's; the vectorized ceiling column is the "
        "same source built with -fno-trapping-math (bench/membw_vectorized.sh). The issue's targets use "
        "the tool as given.", "",
        "Reproduce:", "", "```sh",
        "pip install torch==2.13.0 && pip install '.[bench]'   # the CPU torch first (README, Performance)",
        "export LRELU_MEMBW=/path/to/membw MEMBW_SOURCE=/path/to/membw.c   # optional: an external ceiling tool",
        "OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/threshold.py > bench/results/threshold.log",
        "OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/report.py \\",
        "    --membw-vectorized \"$(bench/membw_vectorized.sh)\" --threshold-log bench/results/threshold.log \\",
        "    --simd-log bench/results/simd_levels.log --notes bench/notes.md \\",
        "    --streaming bench/results/streaming.md --training-log bench/results/training.log \\",
        "    --load-log bench/results/load.log --half-log bench/results/half.log --json bench/results/results.json",
        "python bench/simd_levels.py [--python LABEL=<python of another build>] > bench/results/simd_levels.log",
        "OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= lrelu bench --peers torch --ops inplace,out,outarg,backward "
        "--sizes 1e6,1e7,1e8   # lrelu against PyTorch alone",
        "python bench/ceiling_vs_membw.py > bench/results/ceiling_vs_membw.log",
        "OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/training.py > bench/results/training.log",
        "OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/load.py > bench/results/load.log",
        "OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/half.py > bench/results/half.log",
        "# bench/results/streaming.md says how its logs were made (bench/streaming.py, lrelu bench --ops outarg)",
        "python bench/report.py --from-json bench/results/results.json ...   # re-render without measuring",
        "```", "",
        "## Targets", "",
    ]
    lines += targets(result, ceilings, small) + [""]
    lines += included(args.notes)
    lines += ["## Tables", ""] + bench.noisy_note(result["rows"]) + tables(result, ceilings, vectorized)
    for option, title, intro, fenced in LOGS:
        path = getattr(args, option)
        lines += included(path) if title is None else log_section(path, title, intro, fenced)
    for name, why in result["skipped"].items():
        lines.append(f"Skipped {name}: {why}")
    with open(args.output, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
