"""The training kernels against PyTorch: the at_zero="alpha" backward and prelu_backward.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/training.py [--rounds 21] > bench/results/training.log

- backward: ``lrelu.leaky_relu_backward(g, x, a, out=g, at_zero="alpha")`` against
  ``torch.ops.aten.leaky_relu_backward.grad_input(g, x, a, False, grad_input=g)`` (the
  contender registry's, lrelu.cli.bench), in place
  on grad, float32, 1e6 and 1e8 elements, and lrelu's default convention beside them (the
  two should run at one speed). alpha alternates between 0.01 and 100 so that repeated
  calls on the same grad neither decay into subnormals nor grow.
- prelu: ``lrelu.prelu_backward(g, x, alpha)`` with per-channel alpha (C, 1, 1) against
  PyTorch's PReLU backward computing both gradients, on a (32, 64, 56, 56) float32 batch:
  autograd on ``torch.nn.functional.prelu`` (``torch.autograd.grad`` with retain_graph, so
  only the backward is timed), and the aten kernel ``_prelu_kernel_backward`` plus its sum
  over (0, 2, 3). Both sides make a fresh grad_x, as autograd does; lrelu with ``out=``
  a preallocated buffer is timed too.

Timing: lrelu.cli.timing, contenders alternating (A B, B A, ...) round by round, each timed
batch preceded by untimed calls of the same contender (settling: lrelu's libgomp and the one
bundled with torch are two runtimes on the same cores, and the one that ran last leaves its
threads spinning for a while); the figure is the median over rounds and the ratio the ratio
of the medians (torch's median time / lrelu's: above 1, lrelu is faster), as `lrelu bench`
computes it, so it agrees with the GB/s beside it.
"""

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

import lrelu
from lrelu.cli import bench, timing

ALPHAS = timing.ALPHAS


def alternate(calls, rounds, batch):
    """{name: [seconds per call, one per round]}: batches of ``batch`` calls, each after
    settling for about as long as the batch takes."""
    per_call = max(timing.settle(call, 0.01) for call in calls.values())
    return timing.measure(calls, rounds=rounds, batch=batch, target_seconds=per_call * batch,
                          settle_first=True)


def report(title, samples, nbytes, base="lrelu"):
    print(f"\n{title}")
    print("| contender | median ms | GB/s | best ms | vs lrelu (their time / lrelu's) |")
    print("|---|---|---|---|---|")
    for name, times in samples.items():
        median = statistics.median(times)
        ratio = median / statistics.median(samples[base])     # the statistic of the GB/s beside it
        print(f"| {name} | {median * 1e3:.3f} | {nbytes / median / 1e9:.1f} | {min(times) * 1e3:.3f} | "
              f"{ratio:.3f} |")


def backward_case(n, rounds):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    g = rng.standard_normal(n, dtype=np.float32)
    x[::97] = 0.0                               # some zeros, where the conventions differ
    # PyTorch's and lrelu's default from the contender registry `lrelu bench` times.
    torch_backward, lrelu_backward = (bench.contender(name, "backward", x.dtype) for name in ("torch", "lrelu"))
    calls = {
        "lrelu": lambda i: lrelu.leaky_relu_backward(g, x, ALPHAS[i & 1], out=g, at_zero="alpha"),
        "torch": lambda i: torch_backward(x, g, ALPHAS[i & 1]),
        "lrelu, at_zero=\"one\"": lambda i: lrelu_backward(x, g, ALPHAS[i & 1]),
    }
    batch = max(2, int(2e8 // (12 * n)) & ~1)   # about 20 ms of memory traffic per batch
    report(f"backward, at_zero=\"alpha\", in place on grad, float32, n = {n:.0e}",
           alternate(calls, rounds, batch), 3 * x.nbytes)


def prelu_case(shape, rounds):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape, dtype=np.float32)
    g = rng.standard_normal(shape, dtype=np.float32)
    channels = shape[1]
    weight = rng.uniform(0.0, 0.5, channels).astype(np.float32)
    alpha = weight.reshape(channels, 1, 1)
    out = np.empty_like(x)

    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(weight).requires_grad_()
    ty = torch.nn.functional.prelu(tx, tw)
    tg = torch.from_numpy(g)
    tw4 = torch.from_numpy(weight).view(1, channels, 1, 1)
    tx_data = torch.from_numpy(x)

    def aten(i):
        grad_input, grad_weight = torch.ops.aten._prelu_kernel_backward(tg, tx_data, tw4)
        return grad_input, grad_weight.sum((0, 2, 3))

    # the two agree before anything is timed
    mine = lrelu.prelu_backward(g, x, alpha)
    theirs = torch.autograd.grad(ty, (tx, tw), tg, retain_graph=True)
    assert np.array_equal(mine[0], theirs[0].numpy())
    np.testing.assert_allclose(mine[1].ravel(), theirs[1].numpy(), rtol=1e-4, atol=1e-2)

    calls = {
        "lrelu": lambda i: lrelu.prelu_backward(g, x, alpha),
        "torch autograd": lambda i: torch.autograd.grad(ty, (tx, tw), tg, retain_graph=True),
        "torch aten + sum": aten,
        "lrelu, out=": lambda i: lrelu.prelu_backward(g, x, alpha, out=out),
    }
    report(f"prelu_backward, per-channel alpha {alpha.shape}, float32, {shape}",
           alternate(calls, rounds, 4), 3 * x.nbytes)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--case", choices=["backward", "prelu", "all"], default="all")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"lrelu {lrelu.__version__} up to {lrelu.get_num_threads()} threads "
          f"(planner decides per call), torch {torch.__version__} {torch.get_num_threads()} threads; "
          f"{args.rounds} rounds; {time.strftime('%Y-%m-%d')}")
    if args.case in ("backward", "all"):
        for n in (10**6, 10**8):
            backward_case(n, args.rounds)
    if args.case in ("prelu", "all"):
        prelu_case((32, 64, 56, 56), args.rounds)


if __name__ == "__main__":
    main()
