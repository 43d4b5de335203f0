"""lrelu against PyTorch alone, at the sizes around and past the cache, in separate processes.

The full report times six contenders per round; this times only lrelu and torch (30
alternating rounds of single calls, by lrelu.cli.timing) to tell a real gap from noise. It
prints median and best GB/s for each and the median of per-round ratios (torch time / lrelu
time: above 1, lrelu is faster), once per process. Each process is this module again, run
as `python -m vs_torch --child N DTYPE OP`.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/vs_torch.py [--processes 3] [--sizes 1e6,1e7,1e8] \
        [--ops inplace,out,outarg,backward] > bench/results/vs_torch.log

Ops: inplace (``leaky_relu_``), out (a fresh result), outarg (``out=`` a preallocated array,
against ``torch.ops.aten.leaky_relu.out``), backward (in place into grad).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def child(n, dt, op):
    """One process's line: lrelu and torch timed alternately on the same arrays."""
    import numpy as np
    import torch

    import lrelu
    from lrelu.cli import timing

    torch.set_num_threads(lrelu.get_num_threads())
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(n).astype(dt), rng.standard_normal(n).astype(dt)
    tx, tg = torch.from_numpy(x), torch.from_numpy(g)
    grad_input = torch.ops.aten.leaky_relu_backward.grad_input
    alpha = timing.ALPHAS
    if op == "inplace":
        calls = {"lrelu": lambda i: lrelu.leaky_relu_(x, alpha[i & 1]),
                 "torch": lambda i: torch.nn.functional.leaky_relu_(tx, alpha[i & 1])}
    elif op == "out":
        calls = {"lrelu": lambda i: lrelu.leaky_relu(x, alpha[i & 1]),
                 "torch": lambda i: torch.nn.functional.leaky_relu(tx, alpha[i & 1])}
    elif op == "outarg":
        y, ty = np.empty_like(x), torch.empty_like(tx)
        calls = {"lrelu": lambda i: lrelu.leaky_relu(x, alpha[i & 1], out=y),
                 "torch": lambda i: torch.ops.aten.leaky_relu.out(tx, alpha[i & 1], out=ty)}
    else:
        calls = {"lrelu": lambda i: lrelu.leaky_relu_backward(g, x, alpha[i & 1], out=g),
                 "torch": lambda i: grad_input(tg, tx, alpha[i & 1], False, grad_input=tg)}
    nbytes = (3 if op == "backward" else 2) * x.nbytes
    times = timing.measure(calls, rounds=30, batch=1)
    return (" | ".join(f"{k} {nbytes / statistics.median(v) / 1e9:.1f} (best {nbytes / min(v) / 1e9:.1f})"
                       for k, v in times.items())
            + f" | torch/lrelu {timing.ratio(times['torch'], times['lrelu']):.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--sizes", default="1e6,1e7,1e8", help="comma-separated element counts")
    parser.add_argument("--child", nargs=3, metavar=("N", "DTYPE", "OP"), help=argparse.SUPPRESS)
    parser.add_argument("--ops", default="inplace,out,backward", help="comma-separated: inplace, out, outarg, backward")
    args = parser.parse_args()
    if args.child:
        n, dt, op = args.child
        print(child(int(float(n)), dt, op))
        return
    # The children import the installed lrelu: run from outside the checkout, this folder on
    # the path only for this module.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")])))
    print("| op | dtype | n | GB/s per process: median (best) and ratio |")
    print("|---|---|---|---|")
    for op in args.ops.split(","):
        for dt in ("float32", "float64"):
            for n in args.sizes.split(","):
                runs = [subprocess.run([sys.executable, "-m", "vs_torch", "--child", n, dt, op], cwd=tempfile.gettempdir(),
                                       env=env, capture_output=True, text=True, check=True).stdout.strip()
                        for _ in range(args.processes)]
                print(f"| {op} | {dt} | {n} | " + "<br>".join(runs) + " |", flush=True)


if __name__ == "__main__":
    main()
