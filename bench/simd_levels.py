"""In-cache speed of lrelu's loops at each SIMD level: the portable build forced to each level
this CPU runs (LRELU_SIMD=baseline, avx2, avx2_f16c, avx512, avx512_bf16), and optionally
other builds (a -march=native build, or another checkout's build to compare against) given
by their Python.

Each variant runs in its own process, this module again (`python -m simd_levels --child`);
rounds alternate between them (A B C, C B A, ..., by lrelu.cli.timing) and each figure is the
median over rounds of the best of 5 batches. One thread, in place, data in L1/L2: the loop's
own speed. float16 and bfloat16 need ml_dtypes for bfloat16.

    python bench/simd_levels.py [--levels avx2_f16c,avx512] [--dtypes float32,bfloat16]
        [--python LABEL=/path/to/other/bin/python ...] > bench/results/simd_levels.log
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


DTYPES = "float16,bfloat16,float32,float64"
SIZES = (1000, 10000, 100000)


def child(dtypes):
    """{"simd": the loop in use, "times": {"DTYPE:N": best seconds per call}} of this process."""
    import numpy as np

    import lrelu
    from lrelu.cli import timing

    lrelu.set_num_threads(1)
    out = {"simd": lrelu.show_config(mode="dicts")["simd_selected"], "times": {}}
    for dtype in dtypes.split(","):
        if dtype == "bfloat16":
            import ml_dtypes
            dtype = ml_dtypes.bfloat16
        for n in SIZES:
            x = np.random.default_rng(0).standard_normal(n).astype(dtype)
            times = timing.measure({"lrelu": lambda i: lrelu.leaky_relu_(x, timing.ALPHAS[i & 1])}, rounds=5,
                                   target_seconds=2e-3)
            out["times"][f"{np.dtype(dtype).name}:{n}"] = min(times["lrelu"])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", help="the levels to force (default: every level this CPU runs)")
    parser.add_argument("--dtypes", default=DTYPES)
    parser.add_argument("--python", action="append", default=[], metavar="LABEL=PATH",
                        help="another build to time, e.g. a -march=native one (repeatable)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.dtypes)))
        return
    from lrelu import _kernels
    from lrelu.cli import timing

    levels = args.levels.split(",") if args.levels else ["baseline"] + _kernels._simd_info()["dispatch"]
    variants = {}
    for level in levels:
        chosen = subprocess.run([sys.executable, "-c", "import lrelu; print(lrelu.show_config(mode='dicts')"
                                 "['simd_selected'])"], env=dict(os.environ, LRELU_SIMD=level),
                                cwd=tempfile.gettempdir(), capture_output=True, text=True).stdout.strip()
        if chosen == level:
            variants[f"LRELU_SIMD={level}"] = (sys.executable, {"LRELU_SIMD": level})
        else:
            print(f"# {level}: not measured, this CPU cannot run it")
    for spec in args.python:
        label, python = spec.split("=", 1)
        variants[label] = (python, {})
    path = os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")]))

    def sampler(python, env):
        # From outside the checkout, so each imports its installed lrelu; this folder on the
        # path only for this module.
        return lambda: json.loads(subprocess.run(
            [python, "-m", "simd_levels", "--child", "--dtypes", args.dtypes], env=dict(os.environ, PYTHONPATH=path, **env),
            cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True).stdout)

    from half import cpu_name
    print(f"# {cpu_name()}; one thread, in place; {args.rounds} rounds")
    samples = timing.alternate({label: sampler(*variant) for label, variant in variants.items()}, args.rounds)
    keys = list(samples[next(iter(variants))][0]["times"])
    print("| variant (loop in use) | " + " | ".join(k.replace(":", " n=") for k in keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for label, runs in samples.items():
        cells = []
        for k in keys:
            t = statistics.median(run["times"][k] for run in runs)
            n, item = int(k.split(":")[1]), {"float32": 4, "float64": 8}.get(k.split(":")[0], 2)
            cells.append(f"{t * 1e6:.2f} µs, {2 * n * item / t / 1e9:.0f} GB/s")
        print(f"| {label} ({runs[-1]['simd']}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
