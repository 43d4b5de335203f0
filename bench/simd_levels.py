"""In-cache speed of lrelu's loop at each SIMD level: the portable wheel build (SSE2 baseline
plus the AVX2 copy chosen at run time), the same build forced to its baseline
(LRELU_SIMD=baseline), and a -march=native build if you give its Python.

Each variant runs in its own process; rounds alternate between them (A B C A B C ...) and
each figure is the median over rounds of the best of 5 batches. One thread (lrelu.threads(1)),
in place, data in L1/L2: the loop's own speed.

    python bench/simd_levels.py [--native-python /path/to/venv-built-with-march-native/bin/python]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, timeit
import numpy as np, lrelu
from lrelu import _kernels
lrelu.set_num_threads(1)
out = {"simd": _kernels._simd_info()["selected"], "times": {}}
for dtype in ("float32", "float64"):
    for n in (1000, 10000, 100000):
        x = np.random.default_rng(0).standard_normal(n).astype(dtype)
        alphas = [0.01, 100.0]
        f = lambda: [lrelu.leaky_relu_(x, a) for a in alphas]
        calls = max(1, int(2e-3 / (min(timeit.repeat(f, number=1, repeat=3)) + 1e-9)))
        best = min(timeit.repeat(f, number=calls, repeat=5)) / calls / 2
        out["times"][f"{dtype}:{n}"] = best
print(json.dumps(out))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--native-python", help="python of an environment where lrelu was built with CFLAGS=-march=native")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    variants = [("portable (dispatch)", sys.executable, {}),
                ("portable, LRELU_SIMD=baseline", sys.executable, {"LRELU_SIMD": "baseline"})]
    if args.native_python:
        variants.append(("-march=native build", args.native_python, {}))
    samples = {label: [] for label, _, _ in variants}
    simd = {}
    for r in range(args.rounds):
        for label, python, env in (variants if r % 2 == 0 else variants[::-1]):
            run = subprocess.run([python, "-c", CHILD], env=dict(os.environ, **env), cwd=tempfile.gettempdir(),
                                 capture_output=True, text=True, check=True)
            data = json.loads(run.stdout)
            simd[label] = data["simd"]
            samples[label].append(data["times"])
    keys = list(samples[variants[0][0]][0])
    print("| variant (loop in use) | " + " | ".join(k.replace(":", " n=") for k in keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for label, _, _ in variants:
        cells = []
        for k in keys:
            t = statistics.median(s[k] for s in samples[label])
            n, item = int(k.split(":")[1]), 4 if k.startswith("float32") else 8
            cells.append(f"{t * 1e6:.2f} µs, {2 * n * item / t / 1e9:.0f} GB/s")
        print(f"| {label} ({simd[label]}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
