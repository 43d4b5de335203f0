"""The thread layer under load: lrelu's default against one thread, beside other
processes, and the inputs NumPy hands over in pieces.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/load.py > bench/results/load.log
    python bench/load.py --loads none,busy1 --sizes 1e6,1e7 --rounds 11     # a shorter run

``loads`` (the first table): float32 in place (``leaky_relu_``), at each size, three ways of
running the same call, each compared with one thread in its own alternating rounds:

- ``default``: what a user gets, the planner deciding per call;
- ``fixed``: a team for every call above the parallel threshold (the planner off,
  ``_threads._set_adaptive(False)``), which is how lrelu behaved before the planner;
- ``one``: one thread (``lrelu.set_num_threads(1)``).

beside each load, started before and killed after its rows:

- ``none``: nothing else running;
- ``busy1`` / ``busy2``: one or two processes spinning in a Python loop;
- ``lrelu``: another process calling lrelu's default in a loop on 1e6 float32 elements;
- ``omp``: another process running lrelu's kernel on a team for every call (the planner off),
  standing for any OpenMP program that keeps its threads busy.

Printed: median µs per call, and the median of per-round ratios default / one and fixed / one
(below 1: faster than one thread), each pair timed alternately on its own. The goal is default / one ≤ 1 under every load (never
lose to one thread) and well below 1 with none.

``pieces`` (the second table): inputs that NumPy converts or casts in blocks, at 1e7
elements, 2 threads against 1 (the planner off for the 2-thread runs, so the table shows
whether the pieces can run in parallel at all): int32 in, float64 out; float32 x with a
float64 array alpha; a byteswapped float32 array; and ``where=`` a mask. The ratio is one
thread's time / two threads' time (above 1: two are faster).

Timed by lrelu.cli.timing; the mode is switched by its ``before`` hook, untimed.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

import lrelu
from lrelu import _threads
from lrelu.cli import timing

LOADS = {
    "none": [],
    "busy1": ["while True: pass"],
    "busy2": ["while True: pass"] * 2,
    "lrelu": ["import numpy as np, lrelu\n"
              "x = np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32)\n"
              "while True:\n    lrelu.leaky_relu_(x, 0.5); lrelu.leaky_relu_(x, 2.0)\n"],
    "omp": ["import numpy as np, lrelu\nfrom lrelu import _threads\n_threads._set_adaptive(False)\n"
            "x = np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32)\n"
            "while True:\n    lrelu.leaky_relu_(x, 0.5); lrelu.leaky_relu_(x, 2.0)\n"],
}


def set_mode(mode):
    """One thread, the planner, or a team for every call: process-wide, between batches."""
    lrelu.set_num_threads(1 if mode == "one" else None)
    _threads._set_adaptive(mode != "fixed")


def loads(args):
    print(f"loads: float32 leaky_relu_ in place; {lrelu.get_num_threads()} threads at most; "
          f"median µs per call; ratios are medians of per-round ratios (below 1: faster than one thread)")
    print("| load | n | default µs | fixed µs | one µs | default / one | fixed / one |")
    print("|---|---|---|---|---|---|---|")
    for load in args.loads.split(","):
        procs = [subprocess.Popen([sys.executable, "-c", code], cwd=os.path.expanduser("~"))
                 for code in LOADS[load]]
        try:
            time.sleep(1.0)     # the load is up (the lrelu ones have imported)
            for size in args.sizes.split(","):
                n = int(float(size))
                x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
                call = lambda i: lrelu.leaky_relu_(x, timing.ALPHAS[i & 1])   # noqa: E731
                # Two pairs, each alternating with one thread, never three in one rotation: the
                # planner learns across batches, and a batch right after a team's (whose helper
                # still spins for a while) taught it wrong under load, which one thread, with no
                # memory, never shows.
                _threads._reset_learning()
                times = timing.measure({"default": call, "one": call}, rounds=args.rounds,
                                       target_seconds=args.batch_ms * 1e-3, before=set_mode)
                fixed = timing.measure({"fixed": call, "one": call}, rounds=args.rounds,
                                       target_seconds=args.batch_ms * 1e-3, before=set_mode)
                med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
                med["fixed"] = statistics.median(fixed["fixed"]) * 1e6
                print(f"| {load} | {n:.0e} | {med['default']:.1f} | {med['fixed']:.1f} | {med['one']:.1f} | "
                      f"{timing.ratio(times['default'], times['one']):.2f} | "
                      f"{timing.ratio(fixed['fixed'], fixed['one']):.2f} |", flush=True)
        finally:
            set_mode("default")
            for p in procs:
                p.kill()
                p.wait()


def pieces(args):
    n = int(float(args.pieces_n))
    rng = np.random.default_rng(2)
    f32 = rng.standard_normal(n).astype(np.float32)
    mask = rng.random(n) < 0.5
    alphas = [np.full(n, a) for a in timing.ALPHAS]     # float64 arrays, made once
    cases = {
        "int32 -> float64": (lambda: rng.integers(-100, 100, n).astype(np.int32),
                             lambda x, i: lrelu.leaky_relu(x, timing.ALPHAS[i & 1])),
        "float32 x, float64 array alpha": (lambda: f32,
                                           lambda x, i: lrelu.leaky_relu(x, alphas[i & 1])),
        "byteswapped float32": (lambda: f32.astype(">f4"),
                                lambda x, i: lrelu.leaky_relu(x, timing.ALPHAS[i & 1])),
        "where= a mask": (lambda: f32,
                          lambda x, i: lrelu.leaky_relu(x, timing.ALPHAS[i & 1], out=np.zeros_like(x),
                                                        where=mask)),
    }
    print(f"\npieces: n = {n:.0e}; 2 threads (a team for every call) against 1; median ms per call")
    print("| input | 2 threads ms | 1 thread ms | 1 / 2 threads |")
    print("|---|---|---|---|")
    for name, (make, fn) in cases.items():
        x = make()
        call = lambda i: fn(x, i)   # noqa: E731
        times = timing.measure({"two": call, "one": call}, rounds=args.rounds,
                               before=lambda m: (lrelu.set_num_threads(2 if m == "two" else 1),
                                                 _threads._set_adaptive(False)))
        set_mode("default")
        print(f"| {name} | {statistics.median(times['two']) * 1e3:.2f} | "
              f"{statistics.median(times['one']) * 1e3:.2f} | {timing.ratio(times['one'], times['two']):.2f} |",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", default=",".join(LOADS))
    parser.add_argument("--sizes", default="1e5,1e6,1e7")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--batch-ms", type=float, default=20.0)
    parser.add_argument("--pieces-n", default="1e7")
    parser.add_argument("--only", choices=["loads", "pieces"])
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, lrelu {lrelu.__version__}, "
          f"NumPy {np.__version__}; {time.strftime('%Y-%m-%d')}; {args.rounds} rounds")
    if args.only != "pieces":
        loads(args)
    if args.only != "loads":
        pieces(args)


if __name__ == "__main__":
    main()
