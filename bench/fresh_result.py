"""Where an out-of-place call's time goes for large float64 arrays: a fresh result (what
`leaky_relu(x)` must return), the same into a preallocated `out`, NumPy first-touching a fresh
array serially (np.ones), PyTorch's fresh result, and the document's listing. 11 alternating
rounds of single calls (lrelu.cli.timing), median ms.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/fresh_result.py > bench/results/fresh_result.log
"""

import statistics

import numpy as np

import lrelu
from lrelu import reference
from lrelu.cli import timing

try:
    import torch
    torch.set_num_threads(lrelu.get_num_threads())
except ImportError:
    torch = None

print("| n, dtype | lrelu fresh | lrelu out=buf | np.ones (fault + fill) | torch fresh | listing | listing / lrelu fresh | listing / lrelu out=buf |")
print("|---|---|---|---|---|---|---|---|")
for n in (10_000_000, 100_000_000):
    for dtype in ("float32", "float64"):
        x = np.random.default_rng(0).standard_normal(n).astype(dtype)
        buf = np.ones_like(x)
        calls = {"fresh": lambda i: lrelu.leaky_relu(x), "out": lambda i: lrelu.leaky_relu(x, out=buf),
                 "ones": lambda i: np.ones(n, dtype), "listing": lambda i: reference.lrelu(x)}
        if torch is not None:
            tx = torch.from_numpy(x)
            calls["torch"] = lambda i: torch.nn.functional.leaky_relu(tx)
        times = timing.measure(calls, rounds=11, batch=1)
        ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        print(f"| {n:.0e}, {dtype} | {ms['fresh']:.1f} | {ms['out']:.1f} | {ms['ones']:.1f} | "
              f"{ms.get('torch', float('nan')):.1f} | {ms['listing']:.1f} | "
              f"{ms['listing'] / ms['fresh']:.1f}× | {ms['listing'] / ms['out']:.1f}× |", flush=True)
