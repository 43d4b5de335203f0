"""Measure where lrelu should switch to streaming (non-temporal) stores, and whether in place
and backward in place would gain from them.

``threshold`` (the default): through the Python API, ordinary stores against streaming
stores, the threshold forced to 0 for one and out of reach for the other, alternating
A B / B A round by round, at sizes from 1e5 to 1e8 elements, float32 and float64, on 1 and
2 threads. The thread mode is held fixed (``_threads._set_adaptive(False)``: every call
above the parallel threshold runs on the team, or on one thread inside
``lrelu.threads(1)``), so the planner's choice does not mix into the comparison. Ops:
``out`` (forward into a preallocated ``out=``), ``fresh`` (forward into a new result),
``backward`` (backward into a preallocated ``out=``). Printed: median µs per call of each,
the median of per-round ratios (ordinary / streaming: above 1, streaming is faster), and
the CPUs other processes kept busy meanwhile (``others``; above ~0.1 the row is disturbed).

``loops``: builds bench/stream_loops.c against src/simd.c and runs it, because the API never
streams in place (out is an input): lrelu's loop in place, backward in place and out of
place, with and without LRELU_STREAM, on 1 and 2 threads.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/streaming.py threshold --dtype float32 --threads 1
    python bench/streaming.py loops --n 1e8

Timed by lrelu.cli.timing (alternating rounds, batches of about --batch-ms); the mode is
switched by the timer's ``before`` hook, untimed, before each batch.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np

import lrelu
from lrelu import _kernels, _threads
from lrelu.cli import timing

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SIZES = "1e5,3e5,1e6,2e6,4e6,6e6,8e6,1.2e7,1.6e7,3e7,1e8"
NEVER = 1 << 62


def make_call(op, x, g, out):
    alpha = timing.ALPHAS
    if op == "out":
        return lambda i: lrelu.leaky_relu(x, alpha[i & 1], out=out)
    if op == "fresh":
        return lambda i: lrelu.leaky_relu(x, alpha[i & 1])
    return lambda i: lrelu.leaky_relu_backward(g, x, alpha[i & 1], out=out)


def others(before):
    """The CPUs other processes kept busy since ``before`` (timing.cpu_snapshot), as text: a
    busy neighbour ruins two-thread figures (a team waits at the barrier for the member the
    OS did not schedule), so each row says."""
    cpus = timing.others_cpus(before, timing.cpu_snapshot())
    return "?" if cpus is None else f"{cpus:.2f}"


def threshold(args):
    llc = _kernels._simd_info()["llc_bytes"]
    print(f"ordinary vs streaming stores; {args.threads} thread(s), planner fixed; {args.rounds} "
          f"alternating rounds; median µs per call; last-level cache {llc} bytes")
    print(f"{'op':8s} {'dtype':7s} {'n':>9s} {'written':>10s} {'x LLC':>6s} {'ordinary':>10s} "
          f"{'streaming':>10s} {'ord/str':>8s} {'others':>6s}")
    dtype = np.dtype(args.dtype)
    old_adaptive = _threads._set_adaptive(False)
    old_threshold = _kernels._set_stream_threshold(NEVER)
    try:
        with lrelu.threads(args.threads):
            for op in args.ops.split(","):
                for size in args.sizes.split(","):
                    n = int(float(size))
                    x = np.random.default_rng(0).standard_normal(n).astype(dtype)
                    g = np.ones(n, dtype) if op == "backward" else None
                    out = np.empty(n, dtype)
                    call = make_call(op, x, g, out)
                    before = timing.cpu_snapshot()
                    samples = timing.measure(
                        {"ordinary": call, "streaming": call}, rounds=args.rounds,
                        target_seconds=args.batch_ms * 1e-3,
                        before=lambda mode: _kernels._set_stream_threshold(0 if mode == "streaming" else NEVER))
                    _kernels._set_stream_threshold(NEVER)
                    ordinary, streaming = (statistics.median(samples[k]) for k in ("ordinary", "streaming"))
                    ratio = timing.ratio(samples["ordinary"], samples["streaming"])
                    print(f"{op:8s} {dtype.name:7s} {n:9.3g} {out.nbytes:10d} {out.nbytes / llc:6.2f} "
                          f"{ordinary * 1e6:10.1f} {streaming * 1e6:10.1f} {ratio:8.3f} {others(before):>6s}", flush=True)
                    del x, g, out, call
    finally:
        _kernels._set_stream_threshold(old_threshold)
        _threads._set_adaptive(old_adaptive)


def loops(args):
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    work = tempfile.mkdtemp(prefix="lrelu-stream-")
    try:
        binary = os.path.join(work, "stream_loops")
        subprocess.run([cc, "-O3", "-fno-trapping-math", "-fopenmp", "-I", os.path.join(ROOT, "src"),
                        os.path.join(HERE, "stream_loops.c"), os.path.join(ROOT, "src", "simd.c"),
                        "-o", binary], check=True)
        for dtype in args.dtypes.split(","):
            for threads in args.thread_counts.split(","):
                subprocess.run([binary, args.n, dtype, threads, str(args.rounds)], check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode")
    t = sub.add_parser("threshold", help="ordinary vs streaming through the API, across sizes")
    t.add_argument("--dtype", default="float32")
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--ops", default="out")
    t.add_argument("--sizes", default=SIZES, help="comma-separated element counts")
    t.add_argument("--rounds", type=int, default=21)
    t.add_argument("--batch-ms", type=float, default=5.0)
    lo = sub.add_parser("loops", help="lrelu's loop in place / backward in place, ordinary vs streaming")
    lo.add_argument("--n", default="1e8")
    lo.add_argument("--dtypes", default="float32,float64")
    lo.add_argument("--thread-counts", default="1,2")
    lo.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args(sys.argv[1:] or ["threshold"])
    (loops if args.mode == "loops" else threshold)(args)


if __name__ == "__main__":
    main()
