"""Measure where lrelu should start using more than one thread.

For each array size (bytes per array) it times one thread against N threads, alternating
A B A B, with the threshold forced to 0 so the parallel path really runs, and prints the
median time of each and their ratio. The smallest size from which N threads win at every
larger size, for every operation and dtype, is the threshold to put in lrelu/_threads.pyx.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/threshold.py [--threads 2] [--rounds 41] \
        > bench/results/threshold.log
"""

import argparse
import statistics

import numpy as np

import lrelu
from lrelu import _threads
from lrelu.cli import timing

KIB = 1024
SIZES = [8 * KIB * 2 ** k for k in range(0, 11)]            # 8 KiB .. 8 MiB per array


def one_call(op, x):
    if op == "inplace":
        return lambda i: lrelu.leaky_relu_(x, timing.ALPHAS[i & 1])
    return lambda i: lrelu.leaky_relu(x, timing.ALPHAS[i & 1])   # fresh result, as users call it


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=lrelu.get_num_threads())
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args()
    old = _threads._set_parallel_threshold(0)
    threads_before = lrelu.get_num_threads()
    print(f"threads: 1 vs {args.threads}; {args.rounds} alternating rounds; median µs per call")
    print(f"{'op':8s} {'dtype':8s} {'bytes':>9s} {'1 thread':>10s} {f'{args.threads} threads':>10s} {'speedup':>8s}")
    try:
        for dtype in (np.float32, np.float64):
            for op in ("inplace", "out"):
                for nbytes in SIZES:
                    x = np.random.default_rng(0).standard_normal(nbytes // np.dtype(dtype).itemsize).astype(dtype)
                    fn = one_call(op, x)
                    counts = {"serial": 1, "parallel": args.threads}
                    times = timing.measure({"serial": fn, "parallel": fn}, rounds=args.rounds, target_seconds=2e-3,
                                           before=lambda name: lrelu.set_num_threads(counts[name]))
                    serial, parallel = times["serial"], times["parallel"]
                    s, p = statistics.median(serial), statistics.median(parallel)
                    ratio = timing.ratio(serial, parallel)
                    print(f"{op:8s} {np.dtype(dtype).name:8s} {nbytes:9d} {s * 1e6:10.2f} {p * 1e6:10.2f} {ratio:8.2f}",
                          flush=True)
    finally:
        _threads._set_parallel_threshold(old)
        lrelu.set_num_threads(threads_before)


if __name__ == "__main__":
    main()
