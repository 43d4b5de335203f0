"""lrelu against PyTorch alone, at the sizes around and past the cache, in separate processes.

The full report times six contenders per round; this times only lrelu and torch (30
alternating rounds of single calls, order flipped every round) to tell a real gap from
noise. It prints median and best GB/s for each and the median of per-round ratios
(torch time / lrelu time: above 1, lrelu is faster), once per process.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/vs_torch.py [--processes 3] [--sizes 1e6,1e7,1e8]
        [--ops inplace,out,outarg,backward]

Ops: inplace (``leaky_relu_``), out (a fresh result), outarg (``out=`` a preallocated array,
against ``torch.ops.aten.leaky_relu.out``), backward (in place into grad).
"""

import argparse
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import sys, time, statistics, numpy as np, torch, lrelu
torch.set_num_threads(lrelu.get_num_threads())
n, dt, op = int(float(sys.argv[1])), sys.argv[2], sys.argv[3]
rng = np.random.default_rng(0)
x, g = rng.standard_normal(n).astype(dt), rng.standard_normal(n).astype(dt)
tx, tg = torch.from_numpy(x), torch.from_numpy(g)
grad_input = torch.ops.aten.leaky_relu_backward.grad_input
if op == "inplace":
    calls = {"lrelu": lambda a: lrelu.leaky_relu_(x, a), "torch": lambda a: torch.nn.functional.leaky_relu_(tx, a)}
elif op == "out":
    calls = {"lrelu": lambda a: lrelu.leaky_relu(x, a), "torch": lambda a: torch.nn.functional.leaky_relu(tx, a)}
elif op == "outarg":
    y, ty = np.empty_like(x), torch.empty_like(tx)
    calls = {"lrelu": lambda a: lrelu.leaky_relu(x, a, out=y),
             "torch": lambda a: torch.ops.aten.leaky_relu.out(tx, a, out=ty)}
else:
    calls = {"lrelu": lambda a: lrelu.leaky_relu_backward(g, x, a, out=g),
             "torch": lambda a: grad_input(tg, tx, a, False, grad_input=tg)}
nbytes = (3 if op == "backward" else 2) * x.nbytes
times = {k: [] for k in calls}
for r in range(30):
    for k, f in (list(calls.items()) if r % 2 else list(calls.items())[::-1]):
        s = time.perf_counter(); f(0.01 if r % 2 else 100.0); times[k].append(time.perf_counter() - s)
ratio = statistics.median(t / l for t, l in zip(times["torch"], times["lrelu"]))
print(" | ".join(f"{k} {nbytes / statistics.median(v) / 1e9:.1f} (best {nbytes / min(v) / 1e9:.1f})"
                 for k, v in times.items()) + f" | torch/lrelu {ratio:.3f}")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--sizes", default="1e6,1e7,1e8", help="comma-separated element counts")
    parser.add_argument("--ops", default="inplace,out,backward", help="comma-separated: inplace, out, outarg, backward")
    args = parser.parse_args()
    print("| op | dtype | n | GB/s per process: median (best) and ratio |")
    print("|---|---|---|---|")
    for op in args.ops.split(","):
        for dt in ("float32", "float64"):
            for n in args.sizes.split(","):
                runs = [subprocess.run([sys.executable, "-c", CHILD, n, dt, op], cwd=tempfile.gettempdir(),
                                       env=os.environ, capture_output=True, text=True, check=True).stdout.strip()
                        for _ in range(args.processes)]
                print(f"| {op} | {dt} | {n} | " + "<br>".join(runs) + " |", flush=True)


if __name__ == "__main__":
    main()
