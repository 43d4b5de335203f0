"""In-cache speed of lrelu's loop at each SIMD level: the portable wheel build (SSE2 baseline
plus the AVX2 copy chosen at run time), the same build forced to its baseline
(LRELU_SIMD=baseline), and a -march=native build if you give its Python.

Each variant runs in its own process, this module again (`python -m simd_levels --child`);
rounds alternate between them (A B C, C B A, ..., by lrelu.cli.timing) and each figure is the
median over rounds of the best of 5 batches. One thread, in place, data in L1/L2: the loop's
own speed.

    python bench/simd_levels.py [--native-python /path/to/venv-built-with-march-native/bin/python] \
        > bench/results/simd_levels.log
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def child():
    """{"simd": the loop in use, "times": {"DTYPE:N": best seconds per call}} of this process."""
    import numpy as np

    import lrelu
    from lrelu.cli import timing

    lrelu.set_num_threads(1)
    out = {"simd": lrelu.show_config(mode="dicts")["simd_selected"], "times": {}}
    for dtype in ("float32", "float64"):
        for n in (1000, 10000, 100000):
            x = np.random.default_rng(0).standard_normal(n).astype(dtype)
            times = timing.measure({"lrelu": lambda i: lrelu.leaky_relu_(x, timing.ALPHAS[i & 1])}, rounds=5,
                                   target_seconds=2e-3)
            out["times"][f"{dtype}:{n}"] = min(times["lrelu"])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--native-python", help="python of an environment where lrelu was built with CFLAGS=-march=native")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child()))
        return
    from lrelu.cli import timing

    variants = {"portable (dispatch)": (sys.executable, {}),
                "portable, LRELU_SIMD=baseline": (sys.executable, {"LRELU_SIMD": "baseline"})}
    if args.native_python:
        variants["-march=native build"] = (args.native_python, {})
    path = os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")]))

    def sampler(python, env):
        # From outside the checkout, so each imports its installed lrelu; this folder on the
        # path only for this module.
        return lambda: json.loads(subprocess.run(
            [python, "-m", "simd_levels", "--child"], env=dict(os.environ, PYTHONPATH=path, **env),
            cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True).stdout)

    samples = timing.alternate({label: sampler(*variant) for label, variant in variants.items()}, args.rounds)
    keys = list(samples[next(iter(variants))][0]["times"])
    print("| variant (loop in use) | " + " | ".join(k.replace(":", " n=") for k in keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for label, runs in samples.items():
        cells = []
        for k in keys:
            t = statistics.median(run["times"][k] for run in runs)
            n, item = int(k.split(":")[1]), 4 if k.startswith("float32") else 8
            cells.append(f"{t * 1e6:.2f} µs, {2 * n * item / t / 1e9:.0f} GB/s")
        print(f"| {label} ({runs[-1]['simd']}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
